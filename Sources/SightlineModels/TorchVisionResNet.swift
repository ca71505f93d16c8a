import SightlineNN

/// torchvision's ResNet18/34/50/101/152 in Sightline's graph, named after torchvision's
/// modules so converted state dicts load by name (`pretrained/convert_torchvision.py`).
///
/// torchvision differs from Keras's ResNet v1: the downsampling stride sits on the 3×3
/// convolution ("ResNet v1.5"), convolutions have no bias, BatchNorm epsilon is 1e-5, and
/// padding is symmetric (written as explicit `ZeroPadding2D` layers so the graph stays Keras-
/// expressible). ResNet18/34 use basic blocks (two 3×3), the others bottlenecks (1×1, 3×3, 1×1
/// ×4). Names: `conv1`, `bn1`, `relu`, `maxpool`, `layer{L}.{i}.conv{k}`, `.bn{k}`,
/// `.downsample.0` (1×1 conv), `.downsample.1` (BN), `.add`, `.out`, `avgpool`, `fc` (logits,
/// no softmax). Preprocessing is `torch`.
///
/// ResNeXt and Wide ResNet are the same network with a wider 3×3 convolution in each bottleneck
/// (`width = planes · widthPerGroup / 64 · groups`, torchvision's rule), grouped for ResNeXt:
/// `build(blocks:…)` takes `groups` and `widthScale = widthPerGroup · groups / 64`
/// (resnext50_32x4d: 32 and 2, wide_resnet50_2: 1 and 2).
public enum TorchVisionResNet {
    public enum Depth: String, Sendable, CaseIterable {
        case resnet18, resnet34, resnet50, resnet101, resnet152

        var blocks: [Int] {
            switch self {
            case .resnet18: return [2, 2, 2, 2]
            case .resnet34, .resnet50: return [3, 4, 6, 3]
            case .resnet101: return [3, 4, 23, 3]
            case .resnet152: return [3, 8, 36, 3]
            }
        }

        var bottleneck: Bool { self != .resnet18 && self != .resnet34 }
    }

    static let epsilon: Float = 1e-5

    /// Builds the network (`includeTop`: `avgpool` + `fc`; otherwise `avgpool` only when
    /// `pooling` is `.avg`). `widthDivisor` divides every width (tests use reduced models).
    public static func build(
        _ depth: Depth, includeTop: Bool = true, pooling: GlobalPooling = .none, classes: Int = 1000,
        inputShape: [Int] = [224, 224, 3],
        weights: InitialWeights = .random(seed: 0), widthDivisor: Int = 1
    ) throws(LayerError) -> Graph {
        try build(
            blocks: depth.blocks, bottleneck: depth.bottleneck, includeTop: includeTop, pooling: pooling,
            classes: classes, inputShape: inputShape, weights: weights, widthDivisor: widthDivisor)
    }

    /// Builds the network with `blocks` per stage (`build(_:)` for the parameters); bottleneck
    /// blocks have `groups` groups in their 3×3 convolution and `widthScale` times its width.
    public static func build(
        blocks: [Int], bottleneck: Bool, groups: Int = 1, widthScale: Int = 1, includeTop: Bool = true,
        pooling: GlobalPooling = .none, classes: Int = 1000, inputShape: [Int] = [224, 224, 3],
        weights: InitialWeights = .random(seed: 0), widthDivisor: Int = 1
    ) throws(LayerError) -> Graph {
        var b = try NetworkBuilder(inputShape: inputShape, weights: weights)
        var x = try b.add(ZeroPadding2D(name: "conv1.pad", padding: 3), "input_1")
        x = try b.conv("conv1", x, filters: 64 / widthDivisor, kernel: 7, strides: 2, useBias: false)
        x = try b.batchNorm("bn1", x, epsilon: epsilon)
        x = try b.activation("relu", x, .relu)
        // MaxPool2d(3, 2, padding=1) pads with −∞; after ReLU, zero padding is equivalent.
        x = try b.add(ZeroPadding2D(name: "maxpool.pad", padding: 1), x)
        x = try b.add(Pooling2D(name: "maxpool", kind: .max, poolSize: (3, 3), strides: (2, 2)), x)
        for (stage, count) in blocks.enumerated() {
            let planes = (64 << stage) / widthDivisor
            for index in 0..<count {
                let stride = index == 0 && stage > 0 ? 2 : 1
                x = try block(
                    &b, x, planes: planes, stride: stride, bottleneck: bottleneck, groups: groups,
                    widthScale: widthScale, name: "layer\(stage + 1).\(index)")
            }
        }
        if includeTop || pooling == .avg { x = try b.add(GlobalPooling2D(name: "avgpool", kind: .average), x) }
        if pooling == .max && !includeTop { x = try b.add(GlobalPooling2D(name: "maxpool_global", kind: .max), x) }
        if includeTop { x = try b.dense("fc", x, units: classes) }
        b.graph.outputNames = [x]
        return b.graph
    }

    /// torchvision's `BasicBlock` or `Bottleneck` (expansion 1 or 4), with the stride on the 3×3.
    static func block(
        _ b: inout NetworkBuilder, _ input: String, planes: Int, stride: Int, bottleneck: Bool, groups: Int,
        widthScale: Int, name: String
    ) throws(LayerError) -> String {
        let outputs = bottleneck ? 4 * planes : planes
        let width = bottleneck ? planes * widthScale : planes
        let inputs = b.graph.shape(of: input)?.last ?? 0
        var x = input
        var k = 1
        if bottleneck {
            x = try b.conv("\(name).conv1", x, filters: width, kernel: 1, useBias: false)
            x = try b.batchNorm("\(name).bn1", x, epsilon: epsilon)
            x = try b.activation("\(name).relu1", x, .relu)
            k = 2
        }
        x = try b.add(ZeroPadding2D(name: "\(name).conv\(k).pad", padding: 1), x)
        x = try b.conv(
            "\(name).conv\(k)", x, filters: width, kernel: 3, strides: stride, useBias: false,
            groups: bottleneck ? groups : 1)
        x = try b.batchNorm("\(name).bn\(k)", x, epsilon: epsilon)
        x = try b.activation("\(name).relu\(k)", x, .relu)
        k += 1
        if bottleneck {
            x = try b.conv("\(name).conv3", x, filters: outputs, kernel: 1, useBias: false)
            x = try b.batchNorm("\(name).bn3", x, epsilon: epsilon)
        } else {
            x = try b.add(ZeroPadding2D(name: "\(name).conv2.pad", padding: 1), x)
            x = try b.conv("\(name).conv2", x, filters: planes, kernel: 3, useBias: false)
            x = try b.batchNorm("\(name).bn2", x, epsilon: epsilon)
        }
        var shortcut = input
        if stride != 1 || inputs != outputs {
            shortcut = try b.conv(
                "\(name).downsample.0", input, filters: outputs, kernel: 1, strides: stride, useBias: false)
            shortcut = try b.batchNorm("\(name).downsample.1", shortcut, epsilon: epsilon)
        }
        x = try b.add(Merge(name: "\(name).add", .add), shortcut, x)
        return try b.activation("\(name).out", x, .relu)
    }
}

import SightlineNN

/// ResNet50, ResNet101 and ResNet152 (v1) in the Keras Applications topology and layer names.
///
/// "Deep Residual Learning for Image Recognition", K. He, X. Zhang, S. Ren and J. Sun, 2015
/// (arXiv:1512.03385). Keras's v1 variant: the stride of a downsampling block sits on its first
/// 1×1 convolution (`_1_conv`) and on the 1×1 shortcut (`_0_conv`); every convolution has a
/// bias; BatchNorm epsilon is 1.001e-5. Stem: `conv1_pad` (3), `conv1_conv` 7×7/2, `conv1_bn`,
/// `conv1_relu`, `pool1_pad` (1), `pool1_pool` 3×3/2. Stages `conv2` … `conv5` of bottleneck
/// blocks `conv{s}_block{i}_{0,1,2,3}_{conv,bn}`, `_add`, `_out`. Top: `avg_pool`,
/// `predictions` (softmax). Preprocessing for Keras weights is `caffe`.
public enum ResNet {
    /// The depth variant: bottleneck blocks per stage.
    public enum Depth: String, Sendable, CaseIterable {
        case resnet50, resnet101, resnet152

        var blocksPerStage: [Int] {
            switch self {
            case .resnet50: return [3, 4, 6, 3]
            case .resnet101: return [3, 4, 23, 3]
            case .resnet152: return [3, 8, 36, 3]
            }
        }
    }

    /// Keras ResNet's BatchNorm epsilon.
    public static let batchNormEpsilon: Float = 1.001e-5

    /// The Keras ≤ 2.2 name of a ResNet50 layer: `conv1_conv` → `conv1`, `conv1_bn` →
    /// `bn_conv1`, `conv{S}_block{n}_{1,2,3}_conv` → `res{S}{a,b,…}_branch2{a,b,c}` (and `bn…`),
    /// `_0_conv`/`_0_bn` → `res{S}a_branch1`/`bn{S}a_branch1`, `predictions` → `fc1000`. Layers
    /// without weights keep their names.
    public static func legacyName(_ name: String) -> String {
        switch name {
        case "conv1_conv": return "conv1"
        case "conv1_bn": return "bn_conv1"
        case "predictions": return "fc1000"
        default: break
        }
        let parts = name.split(separator: "_")
        guard parts.count == 4, parts[0].hasPrefix("conv"), parts[1].hasPrefix("block"),
            let stage = Int(parts[0].dropFirst(4)), let block = Int(parts[1].dropFirst(5)), block >= 1, block <= 26,
            let branch = Int(parts[2]), parts[3] == "conv" || parts[3] == "bn"
        else { return name }
        let letter = String(UnicodeScalar(UInt8(96 + block)))
        let suffix = branch == 0 ? "branch1" : "branch2" + ["a", "b", "c"][min(branch, 3) - 1]
        return "\(parts[3] == "conv" ? "res" : "bn")\(stage)\(letter)_\(suffix)"
    }

    /// Builds the network.
    /// - Parameters:
    ///   - inputShape: `[H, W, 3]` (Keras default `[224, 224, 3]`).
    ///   - includeTop: add `avg_pool` and `predictions`.
    ///   - pooling: without the top, `avg_pool` or `max_pool` after `conv5_block3_out`.
    ///   - classes: outputs of `predictions`.
    ///   - widthDivisor: divides every convolution's filters (1 for the real network; the tests
    ///     use 32 for small fixtures of the same topology).
    ///   - legacyNames: name the weighted layers as Keras ≤ 2.2 did (`legacyName(_:)`) and use
    ///     its BatchNorm epsilon 1e-3; ResNet50 only.
    public static func build(
        _ depth: Depth, includeTop: Bool = true, pooling: GlobalPooling = .none, classes: Int = 1000,
        inputShape: [Int] = [224, 224, 3], weights: InitialWeights = .random(seed: 0), widthDivisor: Int = 1,
        legacyNames: Bool = false
    ) throws(LayerError) -> Graph {
        var b = try NetworkBuilder(inputShape: inputShape, weights: weights)
        if legacyNames {
            b.rename = legacyName
            b.batchNormEpsilon = 1e-3
        }
        var x = try b.add(ZeroPadding2D(name: "conv1_pad", padding: 3), "input_1")
        x = try b.conv("conv1_conv", x, filters: 64 / widthDivisor, kernel: 7, strides: 2)
        x = try b.batchNorm("conv1_bn", x, epsilon: b.batchNormEpsilon ?? batchNormEpsilon)
        x = try b.activation("conv1_relu", x, .relu)
        x = try b.add(ZeroPadding2D(name: "pool1_pad", padding: 1), x)
        x = try b.add(Pooling2D(name: "pool1_pool", kind: .max, poolSize: (3, 3), strides: (2, 2)), x)
        for (stage, blocks) in depth.blocksPerStage.enumerated() {
            let filters = (64 << stage) / widthDivisor
            for block in 1...blocks {
                x = try bottleneck(
                    &b, x, filters: filters, stride: block == 1 && stage > 0 ? 2 : 1, convolutionShortcut: block == 1,
                    name: "conv\(stage + 2)_block\(block)")
            }
        }
        if includeTop {
            x = try b.add(GlobalPooling2D(name: "avg_pool", kind: .average), x)
            x = try b.dense("predictions", x, units: classes, activation: .softmax)
        } else {
            x = try b.pooled(x, pooling: pooling, avgName: "avg_pool", maxName: "max_pool")
        }
        b.graph.outputNames = [x]
        return b.graph
    }

    /// Keras's `block1`: 1×1 (stride), 3×3, 1×1 ×4 with BatchNorm, plus an identity or 1×1
    /// convolution shortcut, added and passed through ReLU. Nodes are added in the order of
    /// Keras's `model.layers` (`_1_…`, `_2_…`, `_0_conv`, `_3_conv`, `_0_bn`, `_3_bn`, `_add`,
    /// `_out`), so positional weight matching agrees with Keras.
    static func bottleneck(
        _ b: inout NetworkBuilder, _ input: String, filters: Int, stride: Int, convolutionShortcut: Bool, name: String
    ) throws(LayerError) -> String {
        let epsilon = b.batchNormEpsilon ?? batchNormEpsilon
        var x = try b.conv("\(name)_1_conv", input, filters: filters, kernel: 1, strides: stride)
        x = try b.batchNorm("\(name)_1_bn", x, epsilon: epsilon)
        x = try b.activation("\(name)_1_relu", x, .relu)
        x = try b.conv("\(name)_2_conv", x, filters: filters, kernel: 3, padding: .same)
        x = try b.batchNorm("\(name)_2_bn", x, epsilon: epsilon)
        x = try b.activation("\(name)_2_relu", x, .relu)
        var shortcut = input
        if convolutionShortcut {
            shortcut = try b.conv("\(name)_0_conv", input, filters: 4 * filters, kernel: 1, strides: stride)
        }
        x = try b.conv("\(name)_3_conv", x, filters: 4 * filters, kernel: 1)
        if convolutionShortcut {
            shortcut = try b.batchNorm("\(name)_0_bn", shortcut, epsilon: epsilon)
        }
        x = try b.batchNorm("\(name)_3_bn", x, epsilon: epsilon)
        x = try b.add(Merge(name: "\(name)_add", .add), shortcut, x)
        return try b.activation("\(name)_out", x, .relu)
    }
}

import SightlineNN

/// torchvision's DenseNet121/161/169/201 from their state dicts, named after torchvision's
/// modules (`features.conv0`, `features.denseblockB.denselayerL.norm1/conv1/norm2/conv2`,
/// `features.transitionB.norm/conv`, `features.norm5`, `classifier`). Growth rate, bottleneck
/// width, block sizes and initial features are read from the weights. Each dense layer is
/// BatchNorm–ReLU–1×1–BatchNorm–ReLU–3×3 and its output is concatenated to its input
/// (`….concat`); transitions halve the map by 2×2 average pooling. BatchNorm ε 1e-5.
/// Preprocessing `torch`; logits, no softmax.
public enum TorchVisionDenseNet {
    static func matches(_ s: StateDictShapes) -> Bool { s.has("features.denseblock1.denselayer1.conv1") }

    /// The network for the state dict `s`, input `[H, W, 3]`.
    public static func build(_ s: StateDictShapes, inputShape: [Int]) throws(LayerError) -> Graph {
        let epsilon: Float = 1e-5
        var b = try NetworkBuilder(inputShape: inputShape, weights: .zeros)
        var x = try b.torchConv("features.conv0", "input_1", s, stride: 2)
        x = try b.batchNorm("features.norm0", x, epsilon: epsilon)
        x = try b.activation("features.relu0", x, .relu)
        // MaxPool2d(3, 2, padding=1) pads with −∞; after ReLU, zero padding is equivalent.
        x = try b.add(ZeroPadding2D(name: "features.pool0.pad", padding: 1), x)
        x = try b.add(Pooling2D(name: "features.pool0", kind: .max, poolSize: (3, 3), strides: (2, 2)), x)
        var block = 1
        while s.hasChildren("features.denseblock\(block)") {
            var layer = 1
            while s.has("features.denseblock\(block).denselayer\(layer).conv1") {
                let name = "features.denseblock\(block).denselayer\(layer)"
                var y = try b.batchNorm("\(name).norm1", x, epsilon: epsilon)
                y = try b.activation("\(name).relu1", y, .relu)
                y = try b.torchConv("\(name).conv1", y, s)
                y = try b.batchNorm("\(name).norm2", y, epsilon: epsilon)
                y = try b.activation("\(name).relu2", y, .relu)
                y = try b.torchConv("\(name).conv2", y, s)
                x = try b.add(Merge(name: "\(name).concat", .concatenate), x, y)
                layer += 1
            }
            let transition = "features.transition\(block)"
            if s.has("\(transition).conv") {
                x = try b.batchNorm("\(transition).norm", x, epsilon: epsilon)
                x = try b.activation("\(transition).relu", x, .relu)
                x = try b.torchConv("\(transition).conv", x, s)
                x = try b.add(Pooling2D(name: "\(transition).pool", kind: .average), x)
            }
            block += 1
        }
        x = try b.batchNorm("features.norm5", x, epsilon: epsilon)
        x = try b.activation("features.relu5", x, .relu)
        b.graph.outputNames = [try b.torchHead(x, s, linears: ["classifier"])]
        return b.graph
    }
}

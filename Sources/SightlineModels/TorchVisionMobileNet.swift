import SightlineNN

/// torchvision's MobileNetV2 and MobileNetV3 (Large and Small) from their state dicts, named
/// after torchvision's modules (`features.N…`, `classifier.N`); widths, expansions, kernel sizes
/// and squeeze-excitation are read from the weights, the strides and activations (which a state
/// dict does not hold) from torchvision's block tables. Preprocessing `torch`; logits, no softmax.
///
/// - MobileNetV2 (`features.1.conv.0.0`): ReLU6, BatchNorm ε 1e-5, stride 2 on blocks 2, 4, 7
///   and 14 of 17, last 1×1 convolution `features.18`, `classifier.1`.
/// - MobileNetV3 (`features.1.block.0.0`): BatchNorm ε 1e-3, hardswish stem and head, ReLU or
///   hardswish per block, squeeze-excitation with ReLU and hardsigmoid; Large has 15 blocks
///   (stride 2 on 2, 4, 7, 13, hardswish from 7), Small 11 (stride 2 on 1, 2, 4, 9, hardswish
///   from 4); `classifier.0` (hardswish) and `classifier.3`.
public enum TorchVisionMobileNet {
    static func isV2(_ s: StateDictShapes) -> Bool { s.has("features.0.0") && s.has("features.1.conv.0.0") }
    static func isV3(_ s: StateDictShapes) -> Bool { s.has("features.0.0") && s.has("features.1.block.0.0") }

    /// MobileNetV2 for the state dict `s`, input `[H, W, 3]`.
    public static func buildV2(_ s: StateDictShapes, inputShape: [Int]) throws(LayerError) -> Graph {
        let features = s.count("features")
        guard features == 19 else {
            throw LayerError(
                layer: "features", "torchvision's MobileNetV2 has 19 feature modules, the state dict \(features)")
        }
        var b = try NetworkBuilder(inputShape: inputShape, weights: .zeros)
        let relu6 = ActivationFunction.relu(maxValue: 6)
        var x = try b.torchConvNorm("features.0", "input_1", s, stride: 2, epsilon: 1e-5, activation: relu6)
        for block in 1...17 {
            x = try b.torchInvertedResidual(
                "features.\(block).conv", x, s, stride: [2, 4, 7, 14].contains(block) ? 2 : 1, epsilon: 1e-5,
                activation: relu6, squeeze: (.relu, .sigmoid), residual: "features.\(block).add")
        }
        x = try b.torchConvNorm("features.18", x, s, epsilon: 1e-5, activation: relu6)
        b.graph.outputNames = [try b.torchHead(x, s, linears: ["classifier.1"])]
        return b.graph
    }

    /// MobileNetV3 Large or Small (by its block count) for the state dict `s`, input `[H, W, 3]`.
    public static func buildV3(_ s: StateDictShapes, inputShape: [Int]) throws(LayerError) -> Graph {
        let blocks = s.count("features") - 2
        let (strided, hardswishFrom): ([Int], Int)
        switch blocks {
        case 15: (strided, hardswishFrom) = ([2, 4, 7, 13], 7)
        case 11: (strided, hardswishFrom) = ([1, 2, 4, 9], 4)
        default:
            throw LayerError(
                layer: "features",
                "torchvision's MobileNetV3 has 15 blocks (Large) or 11 (Small), the state dict \(blocks)")
        }
        var b = try NetworkBuilder(inputShape: inputShape, weights: .zeros)
        var x = try b.torchConvNorm("features.0", "input_1", s, stride: 2, epsilon: 1e-3, activation: .hardSilu)
        for block in 1...blocks {
            x = try b.torchInvertedResidual(
                "features.\(block).block", x, s, stride: strided.contains(block) ? 2 : 1, epsilon: 1e-3,
                activation: block >= hardswishFrom ? .hardSilu : .relu, squeeze: (.relu, .hardSigmoid),
                residual: "features.\(block).add")
        }
        x = try b.torchConvNorm("features.\(blocks + 1)", x, s, epsilon: 1e-3, activation: .hardSilu)
        b.graph.outputNames = [try b.torchHead(x, s, linears: ["classifier.0", "classifier.3"], between: .hardSilu)]
        return b.graph
    }
}

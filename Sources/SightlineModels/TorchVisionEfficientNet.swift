import SightlineNN

/// torchvision's EfficientNet B0–B7 and EfficientNetV2 S/M/L from their state dicts, named after
/// torchvision's modules (`features.S.B.block.K`, `classifier.1`). Depths, widths, expansions,
/// kernel sizes and squeeze-excitation are read from the weights, so every variant (and a
/// narrower or shallower one) builds; the stage strides are torchvision's table (1, 2, 2, 2, 1, 2,
/// 1). SiLU throughout, squeeze-excitation gated by a sigmoid. BatchNorm ε is 1e-5 for B0–B4 and
/// 1e-3 for B5–B7 (told apart by the head's width, 2048 and more) and for V2 (told by its fused
/// first stage, a full 3×3 convolution); timm's EfficientNets (`TimmNames`) use 1e-5. Preprocessing `torch`; logits, no softmax.
public enum TorchVisionEfficientNet {
    static let stageStrides = [1, 2, 2, 2, 1, 2, 1]

    static func matches(_ s: StateDictShapes) -> Bool { s.has("features.0.0") && s.has("features.1.0.block.0.0") }

    /// The network for the state dict `s`, input `[H, W, 3]`.
    public static func build(_ s: StateDictShapes, inputShape: [Int]) throws(LayerError) -> Graph {
        let features = s.count("features")
        let stages = features - 2
        guard (1...stageStrides.count).contains(stages) else {
            throw LayerError(
                layer: "features", "torchvision's EfficientNets have 6 or 7 stages, the state dict \(stages)")
        }
        let fused = (s.shape("features.1.0.block.0.0")?[2] ?? 1) > 1
        let head = NetworkBuilder.outputs("features.\(features - 1).0", s)
        let epsilon: Float = !s.timm && (fused || head >= 2048) ? 1e-3 : 1e-5
        var b = try NetworkBuilder(inputShape: inputShape, weights: .zeros)
        var x = try b.torchConvNorm("features.0", "input_1", s, stride: 2, epsilon: epsilon, activation: .swish)
        for stage in 1...stages {
            for block in 0..<s.count("features.\(stage)") {
                let name = "features.\(stage).\(block)"
                x = try b.torchInvertedResidual(
                    "\(name).block", x, s, stride: block == 0 ? stageStrides[stage - 1] : 1, epsilon: epsilon,
                    activation: .swish, squeeze: (.swish, .sigmoid), residual: "\(name).add")
            }
        }
        x = try b.torchConvNorm("features.\(features - 1)", x, s, epsilon: epsilon, activation: .swish)
        b.graph.outputNames = [try b.torchHead(x, s, linears: ["classifier.1"])]
        return b.graph
    }
}

import SightlineCore
import SightlineNN

/// torchvision's ConvNeXt Tiny/Small/Base/Large from their state dicts, named after torchvision's
/// modules: the patchify stem `features.0.0` (4×4, stride 4) and `features.0.1` (LayerNorm over
/// channels), stages at odd `features.N` of blocks `features.N.B` (`block.0` 7×7 depthwise,
/// `block.2` LayerNorm, `block.3` linear ×4 with GELU, `block.5` linear back, the layer scale
/// `features.N.B.layer_scale`, added to the input), downsampling at even `features.N` (LayerNorm,
/// 2×2 stride-2 convolution), and `classifier.0` (LayerNorm) and `classifier.2` after global
/// average pooling. LayerNorm ε 1e-6, exact GELU. Widths and depths are read from the weights.
/// Preprocessing `torch`; logits, no softmax.
public enum TorchVisionConvNeXt {
    static func matches(_ s: StateDictShapes) -> Bool {
        s.has("features.0.0") && s.shape("features.1.0", "gamma") != nil
    }

    /// The network for the state dict `s`, input `[H, W, 3]`.
    public static func build(_ s: StateDictShapes, inputShape: [Int]) throws(LayerError) -> Graph {
        var b = try NetworkBuilder(inputShape: inputShape, weights: .zeros)
        var x = try b.torchConv("features.0.0", "input_1", s, stride: 4, padding: 0)
        x = try norm(&b, "features.0.1", x)
        for index in 1..<s.count("features") {
            let stage = "features.\(index)"
            if s.shape("\(stage).0", "gamma") == nil {
                x = try norm(&b, "\(stage).0", x)
                x = try b.torchConv("\(stage).1", x, s, stride: 2, padding: 0)
                continue
            }
            for block in 0..<s.count(stage) {
                let name = "\(stage).\(block)"
                var y = try b.torchConv("\(name).block.0", x, s)
                y = try norm(&b, "\(name).block.2", y)
                // timm's `conv_mlp` variants hold 1×1 convolutions: the same map on the channels.
                let gelu = ActivationFunction.gelu(approximate: false)
                if s.shape("\(name).block.3")?.count == 4 {
                    y = try b.torchConv("\(name).block.3", y, s, activation: gelu)
                    y = try b.torchConv("\(name).block.5", y, s)
                } else {
                    y = try b.torchLinear("\(name).block.3", y, s, activation: gelu)
                    y = try b.torchLinear("\(name).block.5", y, s)
                }
                let channels = b.graph.shape(of: y)?.last ?? 0
                y = try b.add(LayerScale(name: name, gamma: Tensor(zeros: [channels])), y)
                x = try b.add(Merge(name: "\(name).add", .add), x, y)
            }
        }
        x = try b.add(GlobalPooling2D(name: "avgpool", kind: .average), x)
        if s.has("classifier.0") { x = try norm(&b, "classifier.0", x) }
        if s.has("classifier.2") { x = try b.torchLinear("classifier.2", x, s) }
        b.graph.outputNames = [x]
        return b.graph
    }

    /// torchvision's `LayerNorm2d` or `LayerNorm` at `name`: over the channels, ε 1e-6.
    static func norm(_ b: inout NetworkBuilder, _ name: String, _ input: String) throws(LayerError) -> String {
        let channels = b.graph.shape(of: input)?.last ?? 0
        return try b.add(LayerNormalization(name: name, channels: channels, epsilon: 1e-6), input)
    }
}

import SightlineNN

/// torchvision's RegNetX and RegNetY from their state dicts, named after torchvision's modules:
/// the stem `stem.0`/`stem.1` (3×3 stride 2, ReLU), stages `trunk_output.blockS` of
/// `ResBottleneckBlock`s `trunk_output.blockS.blockS-B` (`f.a` 1×1, `f.b` grouped 3×3 carrying the
/// stage's stride 2 on its first block, `f.se` squeeze-excitation in RegNetY, `f.c` 1×1 without
/// activation, `proj` the projection shortcut, ReLU after the sum) and `fc` after global average
/// pooling. Widths, groups, depths and SE are read from the weights. BatchNorm ε 1e-5.
/// Preprocessing `torch`; logits, no softmax.
public enum TorchVisionRegNet {
    static func matches(_ s: StateDictShapes) -> Bool { s.has("stem.0") && s.has("trunk_output.block1.block1-0.f.a.0") }

    /// The network for the state dict `s`, input `[H, W, 3]`.
    public static func build(_ s: StateDictShapes, inputShape: [Int]) throws(LayerError) -> Graph {
        let epsilon: Float = 1e-5
        var b = try NetworkBuilder(inputShape: inputShape, weights: .zeros)
        var x = try b.torchConvNorm("stem", "input_1", s, stride: 2, epsilon: epsilon, activation: .relu)
        var stage = 1
        while s.hasChildren("trunk_output.block\(stage)") {
            var index = 0
            while s.has("trunk_output.block\(stage).block\(stage)-\(index).f.a.0") {
                let name = "trunk_output.block\(stage).block\(stage)-\(index)"
                let stride = index == 0 ? 2 : 1
                var y = try b.torchConvNorm("\(name).f.a", x, s, epsilon: epsilon, activation: .relu)
                y = try b.torchConvNorm("\(name).f.b", y, s, stride: stride, epsilon: epsilon, activation: .relu)
                if s.has("\(name).f.se.fc1") {
                    y = try b.torchSqueezeExcitation("\(name).f.se", y, s, activation: .relu, gate: .sigmoid)
                }
                y = try b.torchConvNorm("\(name).f.c", y, s, epsilon: epsilon, activation: .linear)
                var shortcut = x
                if s.has("\(name).proj.0") {
                    shortcut = try b.torchConvNorm(
                        "\(name).proj", x, s, stride: stride, epsilon: epsilon, activation: .linear)
                }
                x = try b.add(Merge(name: "\(name).add", .add), shortcut, y)
                x = try b.activation("\(name).activation", x, .relu)
                index += 1
            }
            stage += 1
        }
        b.graph.outputNames = [try b.torchHead(x, s, linears: ["fc"])]
        return b.graph
    }
}

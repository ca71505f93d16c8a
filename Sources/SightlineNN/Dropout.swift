import Foundation

/// Inverted dropout (Keras `Dropout`): in `.training`, each value is zeroed with probability
/// `rate` and the survivors are scaled by `1 / (1 − rate)`; in `.inference` it is the identity.
///
/// The mask comes from the layer's own `SeededGenerator`, so a seeded run is reproducible and
/// a checkpoint can restore `generator`. `saved` holds the mask (same shape as the input).
public final class Dropout: Layer {
    public let name: String
    public let rate: Float
    /// The mask generator; its state advances with every training forward pass.
    public var generator: SeededGenerator

    public init(name: String, rate: Float, seed: UInt64 = 0) {
        precondition(rate >= 0 && rate < 1, "Dropout '\(name)' rate must be in [0, 1), got \(rate)")
        self.name = name
        self.rate = rate
        self.generator = SeededGenerator(seed: seed)
    }

    public func outputShape(for inputShapes: [[Int]]) throws(LayerError) -> [Int] {
        try singleInputShape(inputShapes)
    }

    public func forward(_ inputs: [Tensor], mode: Mode) -> LayerOutput {
        let x = inputs[0]
        guard mode == .training, rate > 0 else { return LayerOutput(x) }
        let keep = 1 - rate, scale = 1 / keep
        let mask = Tensor(shape: x.shape) { m in
            for i in 0..<m.count { m[i] = generator.nextUnitFloat() < keep ? scale : 0 }
        }
        let y = Tensor(shape: x.shape) { out in
            for i in 0..<out.count { out[i] = x.scalars[i] * mask.scalars[i] }
        }
        return LayerOutput(y, saved: [mask])
    }

    public func backward(_ outputGradient: Tensor, inputs: [Tensor], forward: LayerOutput, mode: Mode, needs: GradientNeeds) -> [Tensor] {
        guard needs.contains(.input) else { return [] }
        guard let mask = forward.saved.first else { return [outputGradient] }
        return [Tensor(shape: mask.shape) { out in
            for i in 0..<out.count { out[i] = outputGradient.scalars[i] * mask.scalars[i] }
        }]
    }
}

extension Dropout: KerasLayer {
    public static let kerasClassNames = ["Dropout"]

    public static func make(_ config: KerasConfig, inputShapes: [[Int]]) throws(KerasConfigError) -> any Layer {
        Dropout(
            name: config.name, rate: try config.float("rate", 0, in: 0...1),
            seed: UInt64(truncatingIfNeeded: try config.int("seed", 0) & Int(Int32.max)))
    }

    public func kerasConfig() throws(KerasConfigError) -> [String: Any] { ["rate": Double(rate), "noise_shape": NSNull(), "seed": NSNull()] }

    public func flops(inputShapes: [[Int]], outputShape: [Int]) -> Int { 0 }
}

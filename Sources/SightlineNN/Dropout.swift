import Foundation
import SightlineCore

/// Inverted dropout (Keras `Dropout`): in `.training`, each value is zeroed with probability
/// `rate` and the survivors are scaled by `1 / (1 − rate)`; in `.inference` it is the identity.
///
/// The mask comes from the layer's own `SeededGenerator`, so a seeded run is reproducible and
/// a checkpoint can restore `generator`. `saved` holds the mask: the input's shape, or
/// `noiseShape` (Keras's `noise_shape`, batch axis included, 0 for "the input's size"), which
/// repeats one draw over the axes of size 1: `[0, 1, 1, 1]` drops whole samples, the stochastic
/// depth of EfficientNet (and ConvNeXt's `StochasticDepth`). `rate` 1 drops everything.
public final class Dropout: Layer {
    public let name: String
    public let rate: Float
    /// Keras's `noise_shape` with 0 for `None`, or nil for one draw per value.
    public let noiseShape: [Int]?
    /// The mask generator; its state advances with every training forward pass.
    public var generator: SeededGenerator
    /// Per-sample seeds for the next training passes, one per row of the batch: row `i`'s mask
    /// then comes from `SeededGenerator(seed: sampleSeeds[i], deriving: [layer seed])`, not from
    /// `generator`, so a sample gets the same mask whichever process or batch position computes
    /// it (data-parallel training, exact resume). Ignored when its count is not the batch size.
    public var sampleSeeds: [UInt64]?
    let seed: UInt64

    public init(name: String, rate: Float, seed: UInt64 = 0, noiseShape: [Int]? = nil) {
        precondition(rate >= 0 && rate <= 1, "Dropout '\(name)' rate must be in [0, 1], got \(rate)")
        self.name = name
        self.rate = rate
        self.noiseShape = noiseShape
        self.seed = seed
        self.generator = SeededGenerator(seed: seed)
    }

    public func outputShape(for inputShapes: [[Int]]) throws(LayerError) -> [Int] {
        let shape = try singleInputShape(inputShapes)
        if let noiseShape {
            guard noiseShape.count == shape.count + 1,
                zip(noiseShape.dropFirst(), shape).allSatisfy({ $0 == 0 || $0 == 1 || $0 == $1 })
            else {
                throw LayerError(
                    layer: name, "noise shape \(noiseShape) does not fit input \(["N"] + shape.map(String.init))")
            }
        }
        return shape
    }

    public func forward(_ inputs: [Tensor], mode: Mode) -> LayerOutput {
        let x = inputs[0]
        guard mode == .training, rate > 0 else { return LayerOutput(x) }
        let keep = 1 - rate
        let scale = keep > 0 ? 1 / keep : 0
        let maskShape = noiseShape.map { zip($0, x.shape).map { noise, size in noise == 0 ? size : noise } } ?? x.shape
        let mask: Tensor
        if let seeds = sampleSeeds, seeds.count == x.shape[0], maskShape[0] == x.shape[0] {
            let row = maskShape.dropFirst().reduce(1, *)
            let layerSeed = seed
            mask = Tensor(shape: maskShape) { m in
                for (sample, sampleSeed) in seeds.enumerated() {
                    var rowGenerator = SeededGenerator(seed: sampleSeed, deriving: [layerSeed])
                    for i in (sample * row)..<((sample + 1) * row) {
                        m[i] = rowGenerator.nextUnitFloat() < keep ? scale : 0
                    }
                }
            }
        } else {
            mask = Tensor(shape: maskShape) { m in
                for i in 0..<m.count { m[i] = generator.nextUnitFloat() < keep ? scale : 0 }
            }
        }
        return LayerOutput(Broadcast.apply(.multiply, x, mask), saved: [mask])
    }

    public func backward(
        _ outputGradient: Tensor, inputs: [Tensor], forward: LayerOutput, mode: Mode, needs: GradientNeeds
    ) -> [Tensor] {
        guard needs.contains(.input) else { return [] }
        guard let mask = forward.saved.first else { return [outputGradient] }
        return [Broadcast.apply(.multiply, outputGradient, mask)]
    }
}

extension Dropout: KerasLayer {
    /// `StochasticDepth` (ConvNeXt) is per-sample dropout of rate `drop_path_rate`.
    public static let kerasClassNames = ["Dropout", "StochasticDepth"]

    public static func make(_ config: KerasConfig, inputShapes: [[Int]]) throws(LayerError) -> any Layer {
        let seed = UInt64(truncatingIfNeeded: try config.int("seed", 0) & Int(Int32.max))
        let rank = (inputShapes.first?.count ?? 0) + 1
        if config.className == "StochasticDepth" {
            return Dropout(
                name: config.name, rate: try config.float("drop_path_rate", 0, in: 0...1), seed: seed,
                noiseShape: [0] + Array(repeating: 1, count: rank - 1))
        }
        var noiseShape: [Int]?
        if let list = config.values["noise_shape"] as? [Any] {
            noiseShape = try list.map { item throws(LayerError) -> Int in
                if item is NSNull { return 0 }
                guard let size = KerasConfig.integer(item), size >= 1 else {
                    throw config.error("must hold sizes of 1 or more, or null, got \(list)", field: "noise_shape")
                }
                return size
            }
            guard noiseShape?.count == rank else {
                throw config.error("has \(list.count) axes; the input has \(rank) with the batch", field: "noise_shape")
            }
        }
        return Dropout(
            name: config.name, rate: try config.float("rate", 0, in: 0...1), seed: seed, noiseShape: noiseShape)
    }

    public func kerasConfig() throws(LayerError) -> [String: Any] {
        let noise: Any = noiseShape.map { $0.map { $0 == 0 ? NSNull() : $0 as Any } } ?? NSNull()
        return ["rate": Double(rate), "noise_shape": noise, "seed": NSNull()]
    }

    public func flops(inputShapes: [[Int]], outputShape: [Int]) -> Int { 0 }
}

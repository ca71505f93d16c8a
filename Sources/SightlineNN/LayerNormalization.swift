import Foundation
import SightlineCore

/// Keras `LayerNormalization` over the last (channel) axis: for every position,
/// `y = (x − mean) / √(var + ε) · γ + β` with the mean and (biased) variance of its C values.
/// Input any shape `[…, C]`; `gamma`, `beta` `[C]`. Unlike BatchNormalization it has no
/// moving statistics and behaves the same in training and inference.
///
/// `saved` holds the normalised values x̂ and the per-position `1/√(var + ε)`.
public final class LayerNormalization: Layer {
    public let name: String
    public let gamma: Parameter?
    public let beta: Parameter?
    public let epsilon: Float
    let channels: Int

    public init(name: String, channels: Int, epsilon: Float = 1e-3, center: Bool = true, scale: Bool = true) {
        self.name = name
        self.channels = channels
        self.epsilon = epsilon
        gamma = scale ? Parameter(name: "gamma", value: Tensor(repeating: 1, shape: [channels])) : nil
        beta = center ? Parameter(name: "beta", value: Tensor(zeros: [channels])) : nil
    }

    public var parameters: [Parameter] { [gamma, beta].compactMap { $0 } }

    public func outputShape(for inputShapes: [[Int]]) throws(LayerError) -> [Int] {
        let shape = try singleInputShape(inputShapes)
        guard shape.last == channels else {
            throw LayerError(layer: name, "normalises \(channels) channels, the input has \(shape.last ?? 0)")
        }
        return shape
    }

    public func forward(_ inputs: [Tensor], mode: Mode) -> LayerOutput {
        let x = inputs[0]
        let c = channels
        let rows = x.count / max(c, 1)
        var inverse = Tensor(zeros: [rows])
        let gammaValues = gamma?.value.scalars
        let betaValues = beta?.value.scalars
        var normalised = Tensor(zeros: x.shape)
        let y = Tensor(shape: x.shape) { out in
            x.withUnsafeBufferPointer { p in
                normalised.withUnsafeMutableBufferPointer { h in
                    inverse.withUnsafeMutableBufferPointer { inv in
                        Parallel.forEachChunk(rows, costPerItem: 4 * c) { range in
                            for r in range {
                                let row = p.baseAddress! + r * c
                                var mean: Double = 0
                                for j in 0..<c { mean += Double(row[j]) }
                                mean /= Double(c)
                                var variance: Double = 0
                                for j in 0..<c {
                                    let d = Double(row[j]) - mean
                                    variance += d * d
                                }
                                let s = Float(1 / (variance / Double(c) + Double(epsilon)).squareRoot())
                                inv[r] = s
                                for j in 0..<c {
                                    let n = (row[j] - Float(mean)) * s
                                    h[r * c + j] = n
                                    out[r * c + j] = n * (gammaValues?[j] ?? 1) + (betaValues?[j] ?? 0)
                                }
                            }
                        }
                    }
                }
            }
        }
        return LayerOutput(y, saved: [normalised, inverse])
    }

    public func backward(
        _ outputGradient: Tensor, inputs: [Tensor], forward: LayerOutput, mode: Mode, needs: GradientNeeds
    ) -> [Tensor] {
        let normalised = forward.saved[0]
        let inverse = forward.saved[1]
        let c = channels
        let rows = normalised.count / max(c, 1)
        let g = outputGradient.scalars
        let h = normalised.scalars
        if let beta, needs.wants(beta) {
            var sums = [Float](repeating: 0, count: c)
            for r in 0..<rows { for j in 0..<c { sums[j] += g[r * c + j] } }
            beta.accumulateGradient(Tensor(shape: [c], scalars: sums))
        }
        if let gamma, needs.wants(gamma) {
            var sums = [Float](repeating: 0, count: c)
            for r in 0..<rows { for j in 0..<c { sums[j] += g[r * c + j] * h[r * c + j] } }
            gamma.accumulateGradient(Tensor(shape: [c], scalars: sums))
        }
        guard needs.contains(.input) else { return [] }
        let gammaValues = gamma?.value.scalars
        // dx = s/C · (C·dx̂ − Σdx̂ − x̂·Σ(dx̂·x̂)) with dx̂ = dy·γ.
        let dx = Tensor(shape: normalised.shape) { out in
            Parallel.forEachChunk(rows, costPerItem: 4 * c) { range in
                for r in range {
                    var sum: Float = 0
                    var dot: Float = 0
                    for j in 0..<c {
                        let d = g[r * c + j] * (gammaValues?[j] ?? 1)
                        sum += d
                        dot += d * h[r * c + j]
                    }
                    let s = inverse.scalars[r] / Float(c)
                    for j in 0..<c {
                        let d = g[r * c + j] * (gammaValues?[j] ?? 1)
                        out[r * c + j] = s * (Float(c) * d - sum - h[r * c + j] * dot)
                    }
                }
            }
        }
        return [dx]
    }
}

extension LayerNormalization: KerasLayer {
    public static let kerasClassNames = ["LayerNormalization"]

    public static func make(_ config: KerasConfig, inputShapes: [[Int]]) throws(LayerError) -> any Layer {
        let rank = inputShapes.first?.count ?? 0
        let axes = try config.ints("axis") ?? [-1]
        guard axes.count == 1, let axis = axes.first, axis == -1 || axis == rank else {
            throw config.error("normalises axes \(axes); only the channel (last) axis is supported", field: "axis")
        }
        guard try !config.bool("rms_scaling", false) else {
            throw config.error("RMS scaling is not supported", field: "rms_scaling")
        }
        return LayerNormalization(
            name: config.name, channels: try config.channels(inputShapes),
            epsilon: try config.float("epsilon", 1e-3, in: 0...1e10),
            center: try config.bool("center", true), scale: try config.bool("scale", true))
    }

    public func kerasConfig() throws(LayerError) -> [String: Any] {
        ["axis": -1, "epsilon": Double(epsilon), "center": beta != nil, "scale": gamma != nil]
    }

    public func flops(inputShapes: [[Int]], outputShape: [Int]) -> Int { 6 * outputShape.reduce(1, *) }
}

import Foundation
import SightlineCore

/// Batch normalization over the last (channel) axis (Keras `BatchNormalization(axis=-1)`).
///
/// Keras conventions: `momentum` is the fraction of the moving statistics *kept* at each
/// training step (0.99 by default); the batch variance is the biased one; `epsilon` is per layer
/// (1e-3 Keras default, 1.001e-5 in Keras ResNets, 1e-5 for torchvision weights).
///
/// Modes:
/// - `.inference`, or `isFrozen`: `y = (x − moving_mean) / sqrt(moving_variance + ε) · γ + β`;
///   the moving statistics are never updated.
/// - `.training` and not frozen: normalise with the batch's mean and variance and update the
///   moving statistics with `moving = moving · momentum + batch · (1 − momentum)`.
///
/// Setting `isTrainable = false` freezes the layer, as in Keras since TF 2: it then runs in
/// inference mode even during training. Parameters: `gamma`, `beta` (when `scale`/`center`),
/// `moving_mean`, `moving_variance`, each `[C]`.
public final class BatchNormalization: Layer {
    public let name: String
    public let gamma: Parameter?
    public let beta: Parameter?
    public let movingMean: Parameter
    public let movingVariance: Parameter
    public let epsilon: Float
    public let momentum: Float
    /// When true, moving statistics are used in every mode and never updated.
    public var isFrozen = false

    /// A layer with explicit weights; `gamma`/`beta` nil for `scale=False`/`center=False`.
    public init(
        name: String, gamma: Tensor?, beta: Tensor?, movingMean: Tensor, movingVariance: Tensor,
        epsilon: Float = 1e-3, momentum: Float = 0.99
    ) {
        let c = movingMean.count
        precondition(
            movingMean.shape == [c] && movingVariance.shape == [c],
            "BatchNormalization '\(name)' statistics must be [\(c)]")
        precondition(
            gamma.map { $0.shape == [c] } ?? true && beta.map { $0.shape == [c] } ?? true,
            "BatchNormalization '\(name)' gamma/beta must be [\(c)]")
        self.name = name
        self.gamma = gamma.map { Parameter(name: "gamma", value: $0) }
        self.beta = beta.map { Parameter(name: "beta", value: $0) }
        self.movingMean = Parameter(name: "moving_mean", value: movingMean, role: .state)
        self.movingVariance = Parameter(name: "moving_variance", value: movingVariance, role: .state)
        self.epsilon = epsilon
        self.momentum = momentum
    }

    /// A freshly initialised layer (γ = 1, β = 0, mean 0, variance 1) for `channels`.
    public convenience init(
        name: String, channels: Int, epsilon: Float = 1e-3, momentum: Float = 0.99, center: Bool = true,
        scale: Bool = true
    ) {
        self.init(
            name: name, gamma: scale ? Tensor(repeating: 1, shape: [channels]) : nil,
            beta: center ? Tensor(zeros: [channels]) : nil,
            movingMean: Tensor(zeros: [channels]), movingVariance: Tensor(repeating: 1, shape: [channels]),
            epsilon: epsilon, momentum: momentum)
    }

    public var parameters: [Parameter] { [gamma, beta].compactMap { $0 } + [movingMean, movingVariance] }

    public var isTrainable: Bool {
        get { !isFrozen && parameters.contains { $0.isTrainable } }
        set {
            isFrozen = !newValue
            gamma?.isTrainable = newValue
            beta?.isTrainable = newValue
        }
    }

    var channels: Int { movingMean.value.count }

    public func outputShape(for inputShapes: [[Int]]) throws(LayerError) -> [Int] {
        let shape = try singleInputShape(inputShapes)
        guard shape.last == channels else {
            throw LayerError(layer: name, "has \(channels) channels, input shape is \(shape)")
        }
        return shape
    }

    /// Per-channel `(scale, shift)` with `y = x · scale + shift` under the moving statistics:
    /// used for inference and for folding into a preceding convolution.
    public func inferenceAffine() -> (scale: [Float], shift: [Float]) {
        var scale = [Float](repeating: 0, count: channels)
        var shift = scale
        for c in 0..<channels {
            let inv = 1 / (movingVariance.value.scalars[c] + epsilon).squareRoot()
            scale[c] = (gamma?.value.scalars[c] ?? 1) * inv
            shift[c] = (beta?.value.scalars[c] ?? 0) - movingMean.value.scalars[c] * scale[c]
        }
        return (scale, shift)
    }

    /// True when this call normalises with the batch's statistics.
    private func usesBatchStatistics(_ mode: Mode) -> Bool { mode == .training && !isFrozen }

    /// Forward. In batch-statistics mode `saved` is `[mean, inverseStd]`, each `[C]`.
    public func forward(_ inputs: [Tensor], mode: Mode) -> LayerOutput {
        let x = inputs[0]
        guard usesBatchStatistics(mode) else {
            let (scale, shift) = inferenceAffine()
            return LayerOutput(affine(x, scale: scale, shift: shift))
        }
        let rows = x.count / channels
        let (mean, meanSquare) = x.withUnsafeBufferPointer { p in
            Self.channelSums(rows: rows, channels: channels) { range, first, second in
                for r in range {
                    let row = p.baseAddress! + r * channels
                    for c in 0..<channels {
                        let v = Double(row[c])
                        first[c] += v
                        second[c] += v * v
                    }
                }
            }
        }
        var batchMean = [Float](repeating: 0, count: channels)
        var batchVar = batchMean
        var inverseStd = batchMean
        for c in 0..<channels {
            let m = mean[c] / Double(rows)
            batchMean[c] = Float(m)
            batchVar[c] = Float(max(meanSquare[c] / Double(rows) - m * m, 0))
            inverseStd[c] = 1 / (batchVar[c] + epsilon).squareRoot()
        }
        var scale = inverseStd
        var shift = batchMean
        for c in 0..<channels {
            scale[c] = (gamma?.value.scalars[c] ?? 1) * inverseStd[c]
            shift[c] = (beta?.value.scalars[c] ?? 0) - batchMean[c] * scale[c]
        }
        let kept = momentum
        movingMean.value = Tensor(
            shape: [channels],
            scalars: (0..<channels).map { movingMean.value.scalars[$0] * kept + batchMean[$0] * (1 - kept) })
        movingVariance.value = Tensor(
            shape: [channels],
            scalars: (0..<channels).map { movingVariance.value.scalars[$0] * kept + batchVar[$0] * (1 - kept) })
        return LayerOutput(
            affine(x, scale: scale, shift: shift),
            saved: [Tensor(shape: [channels], scalars: batchMean), Tensor(shape: [channels], scalars: inverseStd)])
    }

    /// Two per-channel sums over `rows × channels` values, accumulated in Double: `body(rows,
    /// first, second)` adds a range of rows into the two `[channels]` accumulators. Rows are
    /// split into chunks across the cores, each with its own accumulators, combined in chunk
    /// order (so the result does not depend on scheduling).
    static func channelSums(
        rows: Int, channels: Int,
        _ body: (Range<Int>, UnsafeMutablePointer<Double>, UnsafeMutablePointer<Double>) -> Void
    ) -> ([Double], [Double]) {
        let chunks = max(1, min(Parallel.threadCount * 4, rows))
        var partial = [Double](repeating: 0, count: chunks * channels * 2)
        partial.withUnsafeMutableBufferPointer { sums in
            Parallel.forEachChunk(chunks, costPerItem: rows / chunks * channels) { range in
                for chunk in range {
                    let base = sums.baseAddress! + chunk * channels * 2
                    body((rows * chunk / chunks)..<(rows * (chunk + 1) / chunks), base, base + channels)
                }
            }
        }
        var first = [Double](repeating: 0, count: channels)
        var second = first
        for chunk in 0..<chunks {
            for c in 0..<channels {
                first[c] += partial[chunk * channels * 2 + c]
                second[c] += partial[chunk * channels * 2 + channels + c]
            }
        }
        return (first, second)
    }

    private func affine(_ x: Tensor, scale: [Float], shift: [Float]) -> Tensor {
        let c = channels
        return Tensor(shape: x.shape) { out in
            x.withUnsafeBufferPointer { p in
                Parallel.forEachChunk(x.count / c, costPerItem: c) { rows in
                    for r in rows { for j in 0..<c { out[r * c + j] = p[r * c + j] * scale[j] + shift[j] } }
                }
            }
        }
    }

    public func backward(
        _ outputGradient: Tensor, inputs: [Tensor], forward: LayerOutput, mode: Mode, needs: GradientNeeds
    ) -> [Tensor] {
        let x = inputs[0]
        let c = channels
        let rows = x.count / c
        let batchStatistics = usesBatchStatistics(mode) && forward.saved.count == 2
        let mean: [Float]
        let inverseStd: [Float]
        if batchStatistics {
            mean = forward.saved[0].scalars
            inverseStd = forward.saved[1].scalars
        } else {
            mean = movingMean.value.scalars
            inverseStd = movingVariance.value.scalars.map { 1 / ($0 + epsilon).squareRoot() }
        }
        // Σ dy and Σ dy·x̂ per channel: the β and γ gradients, and the batch-statistics terms.
        let (sumDy, sumDyXhat) = outputGradient.withUnsafeBufferPointer { dy in
            x.withUnsafeBufferPointer { p in
                mean.withUnsafeBufferPointer { m in
                    inverseStd.withUnsafeBufferPointer { s in
                        Self.channelSums(rows: rows, channels: c) { range, first, second in
                            for r in range {
                                let (g, v) = (dy.baseAddress! + r * c, p.baseAddress! + r * c)
                                for j in 0..<c {
                                    let gradient = Double(g[j])
                                    first[j] += gradient
                                    second[j] += gradient * Double((v[j] - m[j]) * s[j])
                                }
                            }
                        }
                    }
                }
            }
        }
        if let gamma, needs.wants(gamma) {
            gamma.accumulateGradient(Tensor(shape: [c], scalars: sumDyXhat.map { Float($0) }))
        }
        if let beta, needs.wants(beta) { beta.accumulateGradient(Tensor(shape: [c], scalars: sumDy.map { Float($0) })) }
        guard needs.contains(.input) else { return [] }
        let g = (0..<c).map { (gamma?.value.scalars[$0] ?? 1) * inverseStd[$0] }
        let dx = Tensor(shape: x.shape) { out in
            outputGradient.withUnsafeBufferPointer { dy in
                x.withUnsafeBufferPointer { p in
                    let n = Float(rows)
                    Parallel.forEachChunk(rows, costPerItem: c) { chunk in
                        for r in chunk {
                            for j in 0..<c {
                                let i = r * c + j
                                if batchStatistics {
                                    // dx = γ/σ · (dy − mean(dy) − x̂ · mean(dy·x̂))
                                    let xhat = (p[i] - mean[j]) * inverseStd[j]
                                    out[i] = g[j] * (dy[i] - Float(sumDy[j]) / n - xhat * Float(sumDyXhat[j]) / n)
                                } else {
                                    out[i] = g[j] * dy[i]
                                }
                            }
                        }
                    }
                }
            }
        }
        return [dx]
    }
}

extension BatchNormalization: KerasLayer {
    public static let kerasClassNames = ["BatchNormalization"]

    public static func make(_ config: KerasConfig, inputShapes: [[Int]]) throws(LayerError) -> any Layer {
        let rank = (inputShapes.first?.count ?? 0) + 1
        let axes = try config.ints("axis") ?? [-1]
        guard axes.count == 1, let axis = axes.first, axis == -1 || axis == rank - 1 else {
            throw config.error("normalises axis \(axes); only the channel (last) axis is supported", field: "axis")
        }
        return BatchNormalization(
            name: config.name, channels: try config.channels(inputShapes),
            epsilon: try config.float("epsilon", 1e-3, in: 0...1e10),
            momentum: try config.float("momentum", 0.99, in: 0...1), center: try config.bool("center", true),
            scale: try config.bool("scale", true))
    }

    public func kerasConfig() throws(LayerError) -> [String: Any] {
        [
            "axis": -1, "momentum": Double(momentum), "epsilon": Double(epsilon), "center": beta != nil,
            "scale": gamma != nil,
        ]
    }

    public func flops(inputShapes: [[Int]], outputShape: [Int]) -> Int { 2 * outputShape.reduce(1, *) }

    public var absorbsFollowingActivation: Bool { true }
}

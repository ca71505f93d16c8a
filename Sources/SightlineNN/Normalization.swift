import Foundation
import SightlineCore

/// Keras `Normalization` over the channel axis: `y = (x − mean) / max(√variance, ε)` with
/// `ε = 1e-7` (Keras's `backend.epsilon()`), or the inverse with `invert`. Any shape whose last
/// axis has C values; `mean`, `variance` `[C]` (or `[1]` for one value everywhere).
///
/// The statistics come from the config (`mean`, `variance` lists, as ConvNeXt and EfficientNetV2
/// write them) or from the weights `mean`, `variance`, `count` (an adapted layer, EfficientNet).
/// They are state, never trained.
public final class Normalization: Layer {
    public let name: String
    public let mean: Parameter
    public let variance: Parameter
    /// Keras's sample count of an adapted layer (kept so files round-trip; unused here).
    public let count: Parameter?
    public let invert: Bool
    static let epsilon: Float = 1e-7

    public init(name: String, mean: Tensor, variance: Tensor, count: Tensor? = Tensor(zeros: []), invert: Bool = false)
    {
        precondition(mean.shape == variance.shape, "Normalization '\(name)' mean and variance must have one shape")
        self.name = name
        self.mean = Parameter(name: "mean", value: mean, role: .state)
        self.variance = Parameter(name: "variance", value: variance, role: .state)
        self.count = count.map { Parameter(name: "count", value: $0, role: .state) }
        self.invert = invert
    }

    /// Stored in the file when the statistics are weights; empty when they are in the config.
    public var parameters: [Parameter] { count == nil ? [] : [mean, variance] + [count].compactMap { $0 } }

    public func outputShape(for inputShapes: [[Int]]) throws(LayerError) -> [Int] {
        let shape = try singleInputShape(inputShapes)
        guard mean.value.count == 1 || mean.value.count == shape.last else {
            throw LayerError(
                layer: name, "has \(mean.value.count) statistics, the input has \(shape.last ?? 0) channels")
        }
        return shape
    }

    /// Per-channel `(scale, shift)` with `y = x · scale + shift`.
    func affine() -> (scale: Tensor, shift: Tensor) {
        let shape = [mean.value.count]
        let std = variance.value.scalars.map { max($0.squareRoot(), Self.epsilon) }
        if invert {
            return (Tensor(shape: shape, scalars: std), mean.value.reshaped(shape))
        }
        return (
            Tensor(shape: shape, scalars: std.map { 1 / $0 }),
            Tensor(shape: shape, scalars: zip(mean.value.scalars, std).map { -$0 / $1 })
        )
    }

    public func forward(_ inputs: [Tensor], mode: Mode) -> LayerOutput {
        let (scale, shift) = affine()
        return LayerOutput(Broadcast.apply(.add, Broadcast.apply(.multiply, inputs[0], scale), shift))
    }

    public func backward(
        _ outputGradient: Tensor, inputs: [Tensor], forward: LayerOutput, mode: Mode, needs: GradientNeeds
    ) -> [Tensor] {
        needs.contains(.input) ? [Broadcast.apply(.multiply, outputGradient, affine().scale)] : []
    }
}

extension Normalization: KerasLayer {
    public static let kerasClassNames = ["Normalization"]

    public static func make(_ config: KerasConfig, inputShapes: [[Int]]) throws(LayerError) -> any Layer {
        let shape = inputShapes.first ?? []
        let axes = try config.ints("axis") ?? [-1]
        guard axes.count == 1, let axis = axes.first, axis == -1 || axis == shape.count else {
            throw config.error("normalises axes \(axes); only the channel (last) axis is supported", field: "axis")
        }
        let channels = try config.channels(inputShapes)
        let invert = try config.bool("invert", false)
        guard let given = try config.floats("mean") else {
            return Normalization(
                name: config.name, mean: Tensor(zeros: [channels]), variance: Tensor(repeating: 1, shape: [channels]),
                invert: invert)
        }
        guard let variance = try config.floats("variance"), variance.count == given.count,
            given.count == 1 || given.count == channels
        else {
            throw config.error(
                "mean and variance must both hold one value or one per channel (\(channels))", field: "variance")
        }
        guard variance.allSatisfy({ $0 >= 0 }) else { throw config.error("must not be negative", field: "variance") }
        return Normalization(
            name: config.name, mean: Tensor(shape: [given.count], scalars: given),
            variance: Tensor(shape: [given.count], scalars: variance),
            count: nil, invert: invert)
    }

    public func kerasConfig() throws(LayerError) -> [String: Any] {
        var config: [String: Any] = ["axis": [-1], "invert": invert, "mean": NSNull(), "variance": NSNull()]
        if count == nil {
            config["mean"] = mean.value.scalars.map(Double.init)
            config["variance"] = variance.value.scalars.map(Double.init)
        }
        return config
    }

    public func flops(inputShapes: [[Int]], outputShape: [Int]) -> Int { 2 * outputShape.reduce(1, *) }
}

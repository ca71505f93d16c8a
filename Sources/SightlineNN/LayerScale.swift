import SightlineCore

/// Per-channel learned scale `y = x · γ` (ConvNeXt's `LayerScale`, from Keras Applications).
/// Input any shape `[…, C]`; `gamma` `[C]` (the config's `projection_dim`).
public final class LayerScale: Layer {
    public let name: String
    public let gamma: Parameter

    public init(name: String, gamma: Tensor) {
        self.name = name
        self.gamma = Parameter(name: "gamma", value: gamma)
    }

    public var parameters: [Parameter] { [gamma] }

    public func outputShape(for inputShapes: [[Int]]) throws(LayerError) -> [Int] {
        let shape = try singleInputShape(inputShapes)
        guard shape.last == gamma.value.count else {
            throw LayerError(layer: name, "scales \(gamma.value.count) channels, the input has \(shape.last ?? 0)")
        }
        return shape
    }

    public func forward(_ inputs: [Tensor], mode: Mode) -> LayerOutput {
        LayerOutput(Broadcast.apply(.multiply, inputs[0], gamma.value))
    }

    public func backward(
        _ outputGradient: Tensor, inputs: [Tensor], forward: LayerOutput, mode: Mode, needs: GradientNeeds
    ) -> [Tensor] {
        if needs.wants(gamma) {
            gamma.accumulateGradient(
                Broadcast.reduce(Broadcast.apply(.multiply, outputGradient, inputs[0]), to: gamma.value.shape))
        }
        return needs.contains(.input) ? [Broadcast.apply(.multiply, outputGradient, gamma.value)] : []
    }
}

extension LayerScale: KerasLayer {
    public static let kerasClassNames = ["LayerScale"]
    public var kerasModule: String { "keras.src.applications.convnext" }

    public static func make(_ config: KerasConfig, inputShapes: [[Int]]) throws(LayerError) -> any Layer {
        let channels = try config.int("projection_dim", try config.channels(inputShapes), in: 1...Int.max)
        let initial = try config.float("init_values", 1e-6)
        return LayerScale(
            name: config.name, gamma: Tensor(repeating: initial, shape: try config.checkWeight([channels])))
    }

    public func kerasConfig() throws(LayerError) -> [String: Any] {
        ["init_values": Double(gamma.value.scalars.first ?? 0), "projection_dim": gamma.value.count]
    }
}

/// A standalone activation layer (Keras `Activation`, `ReLU`, `LeakyReLU`, `ELU`, `Softmax`).
/// Any shape in, the same shape out; softmax runs over the last axis.
public final class Activation: Layer {
    public let name: String
    public let function: ActivationFunction

    public init(name: String, _ function: ActivationFunction) {
        self.name = name
        self.function = function
    }

    public func outputShape(for inputShapes: [[Int]]) throws(LayerError) -> [Int] {
        try singleInputShape(inputShapes)
    }

    public func forward(_ inputs: [Tensor], mode: Mode) -> LayerOutput {
        LayerOutput(function.applied(to: inputs[0]))
    }

    public func backward(_ outputGradient: Tensor, inputs: [Tensor], forward: LayerOutput, mode: Mode, needs: GradientNeeds) -> [Tensor] {
        needs.contains(.input) ? [function.gradient(outputGradient, output: forward.output)] : []
    }
}

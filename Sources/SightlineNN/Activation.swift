import Foundation
import SightlineCore

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

    public func backward(
        _ outputGradient: Tensor, inputs: [Tensor], forward: LayerOutput, mode: Mode, needs: GradientNeeds
    ) -> [Tensor] {
        needs.contains(.input) ? [function.gradient(outputGradient, output: forward.output, input: inputs[0])] : []
    }
}

extension Activation: KerasLayer {
    public static let kerasClassNames =
        ["Activation", "ReLU", "LeakyReLU", "ELU", "Softmax"] + operatorNames.keys.sorted().map { "ops." + $0 }

    /// Keras 3 `keras.ops` activation nodes (`keras.ops.relu6(x)` in a functional model) and the
    /// activation each is.
    public static let operatorNames = [
        "Relu": "relu", "Relu6": "relu6", "Sigmoid": "sigmoid", "Silu": "silu", "Tanh": "tanh",
        "HardSigmoid": "hard_sigmoid",
        "HardSilu": "hard_silu",
    ]

    public static func make(_ config: KerasConfig, inputShapes: [[Int]]) throws(LayerError) -> any Layer {
        if config.className.hasPrefix("ops."), let name = operatorNames[String(config.className.dropFirst(4))],
            let function = ActivationFunction(kerasName: name)
        {
            guard config.arguments.count == 1 else {
                throw config.error("takes \(config.arguments.count) arguments; Sightline supports the tensor alone")
            }
            return Activation(name: config.name, function)
        }
        switch config.className {
        case "ReLU":
            guard try config.float("threshold", 0) == 0 else {
                throw config.error("a non-zero threshold is not supported", field: "threshold")
            }
            let maxValue = try config.optionalFloat("max_value", in: 0...Double.greatestFiniteMagnitude)
            return Activation(
                name: config.name,
                .relu(
                    maxValue: maxValue,
                    negativeSlope: try config.float("negative_slope", 0, in: 0...Double.greatestFiniteMagnitude)))
        case "LeakyReLU":
            let keras3 = try config.optionalFloat("negative_slope")
            let keras2 = try config.optionalFloat("alpha")
            let slope = keras3 ?? keras2 ?? 0.3
            return Activation(name: config.name, .leakyRelu(alpha: slope))
        case "ELU":
            return Activation(name: config.name, .elu(alpha: try config.float("alpha", 1)))
        case "Softmax":
            let axis = try config.ints("axis") ?? [-1]
            guard axis == [-1] || axis == [inputShapes.first?.count ?? -1] else {
                throw config.error("softmax over axis \(axis); only the last axis is supported", field: "axis")
            }
            return Activation(name: config.name, .softmax)
        default:
            return Activation(name: config.name, try config.activation())
        }
    }

    public var kerasClassName: String {
        switch function {
        case .relu(let maxValue, let slope) where maxValue != nil || slope != 0: return "ReLU"
        case .leakyRelu: return "LeakyReLU"
        case .elu(let alpha) where alpha != 1: return "ELU"
        default: return "Activation"
        }
    }

    public func kerasConfig() throws(LayerError) -> [String: Any] {
        switch function {
        case .relu(let maxValue, let slope) where maxValue != nil || slope != 0:
            return [
                "max_value": maxValue.map { Double($0) } ?? NSNull(), "negative_slope": Double(slope), "threshold": 0.0,
            ]
        case .leakyRelu(let alpha):
            return ["negative_slope": Double(alpha)]
        case .elu(let alpha) where alpha != 1:
            return ["alpha": Double(alpha)]
        default:
            return ["activation": try kerasActivationName(function)]
        }
    }
}

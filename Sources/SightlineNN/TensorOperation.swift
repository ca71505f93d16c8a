import Foundation
import SightlineCore

/// An element-wise operator node from a Keras functional model: `x + 3`, `x * (1/6)`,
/// `x / y`, written by Keras 3 as `keras.src.ops.numpy` nodes (`Add`, `Multiply`, `Subtract`,
/// `Divide`, `TrueDivide`) and by tf.keras as `TFOpLambda` (`__operators__.add`,
/// `math.multiply`, `math.truediv`, …). Operands are inputs or constants, broadcast as NumPy
/// does. The constants come from the node's call arguments in the file; no code from the file
/// is run.
public final class TensorOperation: Layer {
    /// One side of the operation.
    public enum Operand: Sendable, Equatable {
        /// The layer's input with this index.
        case input(Int)
        case constant(Float)
    }

    public let name: String
    public let operation: Broadcast.Operation
    public let left: Operand
    public let right: Operand

    public init(name: String, _ operation: Broadcast.Operation, _ left: Operand, _ right: Operand) {
        self.name = name
        self.operation = operation
        (self.left, self.right) = (left, right)
    }

    private func shape(_ operand: Operand, _ shapes: [[Int]]) -> [Int]? {
        switch operand {
        case .input(let index): return index < shapes.count ? shapes[index] : nil
        case .constant: return [1]
        }
    }

    public func outputShape(for inputShapes: [[Int]]) throws(LayerError) -> [Int] {
        guard let a = shape(left, inputShapes), let b = shape(right, inputShapes) else {
            throw LayerError(layer: name, "reads an input it was not given (\(inputShapes.count) inputs)")
        }
        // Broadcast with the batch axis in place so a constant aligns with the channels.
        guard let shape = Broadcast.shape(a, b), shape.count < Broadcast.maximumRank else {
            throw LayerError(layer: name, "cannot combine shapes \(a) and \(b)")
        }
        if case .constant = left, case .constant = right { throw LayerError(layer: name, "has no tensor operand") }
        return shape
    }

    private func tensor(_ operand: Operand, _ inputs: [Tensor]) -> Tensor {
        switch operand {
        case .input(let index): return inputs[index]
        case .constant(let value): return Tensor(repeating: value, shape: [1])
        }
    }

    public func forward(_ inputs: [Tensor], mode: Mode) -> LayerOutput {
        LayerOutput(Broadcast.apply(operation, tensor(left, inputs), tensor(right, inputs)))
    }

    public func backward(
        _ outputGradient: Tensor, inputs: [Tensor], forward: LayerOutput, mode: Mode, needs: GradientNeeds
    ) -> [Tensor] {
        guard needs.contains(.input) else { return [] }
        let (da, db) = Broadcast.gradients(operation, outputGradient, tensor(left, inputs), tensor(right, inputs))
        var result = inputs.map { Tensor(zeros: $0.shape) }
        for (operand, gradient) in [(left, da), (right, db)] {
            guard case .input(let index) = operand else { continue }
            result[index] = Broadcast.apply(.add, result[index], gradient)
        }
        return result
    }
}

extension TensorOperation: KerasLayer {
    /// Keras 3 operator nodes arrive as `ops.<Class>` (the importer prefixes their module).
    public static let kerasClassNames = [
        "TFOpLambda", "ops.Add", "ops.Subtract", "ops.Multiply", "ops.Divide", "ops.TrueDivide",
    ]

    /// tf.keras `TFOpLambda` functions Sightline imports, and what they are.
    static let functions: [String: Broadcast.Operation] = [
        "__operators__.add": .add, "math.add": .add, "__operators__.sub": .subtract, "math.subtract": .subtract,
        "__operators__.mul": .multiply, "math.multiply": .multiply, "__operators__.truediv": .divide,
        "math.truediv": .divide,
        "math.divide": .divide,
    ]

    /// tf.keras unary functions that are activations.
    static let activations: [String: ActivationFunction] = [
        "nn.relu": .relu, "nn.relu6": .relu(maxValue: 6), "math.sigmoid": .sigmoid, "nn.sigmoid": .sigmoid,
        "nn.silu": .swish,
        "nn.swish": .swish, "math.tanh": .tanh, "nn.gelu": .gelu(approximate: false), "nn.softmax": .softmax,
    ]

    public static func make(_ config: KerasConfig, inputShapes: [[Int]]) throws(LayerError) -> any Layer {
        var operation: Broadcast.Operation
        if config.className == "TFOpLambda" {
            let function = try config.string("function", "")
            // The spatial mean is global average pooling (the keepdims form is squeeze-excitation's).
            if function == "math.reduce_mean", let rank = inputShapes.first?.count, rank == 3 {
                let axes = (config.keywords["axis"] as? [Any] ?? []).compactMap { KerasConfig.integer($0) }.map {
                    $0 < 0 ? $0 + rank + 1 : $0
                }
                guard axes.sorted() == [1, 2] else {
                    throw config.error(
                        "reduce_mean over axes \(axes) is not supported; only the spatial axes [1, 2]", field: "axis")
                }
                return GlobalPooling2D(
                    name: config.name, kind: .average, keepDims: config.keywords["keepdims"] as? Bool ?? false)
            }
            if let activation = activations[function] {
                guard config.arguments.count == 1 else {
                    throw config.error("'\(function)' with extra arguments is not supported", field: "function")
                }
                return Activation(name: config.name, activation)
            }
            guard let known = functions[function] else {
                throw config.error(
                    "'\(function)' is not supported; Sightline imports \((functions.keys.sorted() + activations.keys.sorted()).joined(separator: ", "))",
                    field: "function")
            }
            operation = known
        } else {
            switch config.className {
            case "ops.Add": operation = .add
            case "ops.Subtract": operation = .subtract
            case "ops.Multiply": operation = .multiply
            default: operation = .divide
            }
        }
        guard config.arguments.count == 2 else {
            throw config.error(
                "takes \(config.arguments.count) arguments; Sightline supports two (a tensor and a tensor or a number)")
        }
        var inputIndex = 0
        let operands = config.arguments.map { argument -> Operand in
            switch argument {
            case .tensor:
                defer { inputIndex += 1 }
                return .input(inputIndex)
            case .number(let value): return .constant(Float(value))
            }
        }
        return TensorOperation(name: config.name, operation, operands[0], operands[1])
    }

    public var kerasClassName: String { "TFOpLambda" }

    /// Written as tf.keras writes it: `TFOpLambda` with the function name, the first operand as
    /// the node's tensor and the second in `kwargs["y"]`. tf.keras and Sightline read this back;
    /// Keras 3 cannot load `TFOpLambda` from a legacy `.h5`.
    public func kerasConfig() throws(LayerError) -> [String: Any] {
        guard case .input = left else {
            throw unwritable(
                "a constant on the left of '\(operation)' has no tf.keras form; write the model from Keras instead")
        }
        let function: String
        switch operation {
        case .add: function = "__operators__.add"
        case .subtract: function = "math.subtract"
        case .multiply: function = "math.multiply"
        case .divide: function = "math.truediv"
        }
        return ["function": function]
    }

    public func kerasInboundNode(inputs: [String]) -> Any? {
        let y: Any
        switch right {
        case .constant(let value): y = Double(value)
        case .input(let index): y = [index < inputs.count ? inputs[index] : "", 0, 0] as [Any]
        }
        guard case .input(let index) = left, index < inputs.count else { return nil }
        return [[inputs[index], 0, 0, ["y": y, "name": NSNull()] as [String: Any]] as [Any]]
    }
}

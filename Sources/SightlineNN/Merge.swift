import SightlineCore

/// Layers that join several inputs of the same batch: `Add`, `Multiply` (element-wise, with
/// NumPy broadcasting: `[h, w, c] × [1, 1, c]` is a squeeze-excitation gate) and `Concatenate`
/// (along the last axis), as in Keras.
public final class Merge: Layer {
    /// How the inputs are joined.
    public enum Operation: Sendable { case add, multiply, concatenate }

    public let name: String
    public let operation: Operation

    public init(name: String, _ operation: Operation) {
        self.name = name
        self.operation = operation
    }

    public func outputShape(for inputShapes: [[Int]]) throws(LayerError) -> [Int] {
        guard inputShapes.count >= 2, let first = inputShapes.first else {
            throw LayerError(layer: name, "needs at least 2 inputs, got \(inputShapes.count)")
        }
        switch operation {
        case .add, .multiply:
            var shape: [Int]? = first
            for other in inputShapes.dropFirst() { shape = shape.flatMap { Broadcast.shape($0, other) } }
            guard let shape, inputShapes.allSatisfy({ $0.count == first.count }), shape.count < Broadcast.maximumRank
            else {
                throw LayerError(
                    layer: name, "inputs must have equal shapes, or sizes of 1 where they differ, got \(inputShapes)")
            }
            return shape
        case .concatenate:
            guard inputShapes.allSatisfy({ $0.count == first.count && $0.dropLast() == first.dropLast() }) else {
                throw LayerError(layer: name, "inputs must agree on every axis but the last, got \(inputShapes)")
            }
            return first.dropLast() + [inputShapes.reduce(0) { $0 + ($1.last ?? 0) }]
        }
    }

    /// `activation(Σ inputs)` in one parallel pass over memory (reads each input once, writes
    /// once): the residual join of a ResNet block, `Add` then ReLU, at inference.
    public static func sum(_ inputs: [Tensor], activation: ActivationFunction = .linear) -> Tensor {
        let shape = inputs[0].shape
        let row = activation == .softmax ? (shape.last ?? 1) : 1
        return Tensor(shape: shape) { out in
            guard let base = out.baseAddress else { return }
            Parallel.forEachChunk(out.count / row, costPerItem: row * inputs.count) { rows in
                let range = (rows.lowerBound * row)..<(rows.upperBound * row)
                inputs[0].withUnsafeBufferPointer { first in
                    (base + range.lowerBound).update(from: first.baseAddress! + range.lowerBound, count: range.count)
                }
                for other in inputs.dropFirst() {
                    other.withUnsafeBufferPointer { p in for i in range { base[i] += p[i] } }
                }
                activation.apply(base + range.lowerBound, count: range.count, rowLength: row)
            }
        }
    }

    public func forward(_ inputs: [Tensor], mode: Mode) -> LayerOutput {
        let broadcasts = inputs.contains { $0.shape != inputs[0].shape }
        switch operation {
        case .add where !broadcasts:
            return LayerOutput(Self.sum(inputs))
        case .add, .multiply:
            let op: Broadcast.Operation = operation == .add ? .add : .multiply
            return LayerOutput(inputs.dropFirst().reduce(inputs[0]) { Broadcast.apply(op, $0, $1) })
        case .concatenate:
            let widths = inputs.map { $0.shape.last ?? 1 }
            let total = widths.reduce(0, +)
            let rows = inputs[0].count / widths[0]
            let y = Tensor(shape: inputs[0].shape.dropLast() + [total]) { out in
                var offset = 0
                for (input, width) in zip(inputs, widths) {
                    input.withUnsafeBufferPointer { p in
                        for r in 0..<rows {
                            (out.baseAddress! + r * total + offset).update(
                                from: p.baseAddress! + r * width, count: width)
                        }
                    }
                    offset += width
                }
            }
            return LayerOutput(y)
        }
    }

    public func backward(
        _ outputGradient: Tensor, inputs: [Tensor], forward: LayerOutput, mode: Mode, needs: GradientNeeds
    ) -> [Tensor] {
        guard needs.contains(.input) else { return [] }
        switch operation {
        case .add:
            return inputs.map { Broadcast.reduce(outputGradient, to: $0.shape) }
        case .multiply:
            // ∂/∂xᵢ of Π xⱼ is the product of the others, summed over the axes xᵢ was repeated on.
            return inputs.indices.map { i in
                // The last factor is multiplied in as the gradient is summed (no full-size product).
                let others = inputs.indices.filter { $0 != i }
                var g = outputGradient
                for j in others.dropLast() { g = Broadcast.apply(.multiply, g, inputs[j]) }
                return Broadcast.reduce(g, times: others.last.map { inputs[$0] }, to: inputs[i].shape)
            }
        case .concatenate:
            let widths = inputs.map { $0.shape.last ?? 1 }
            let total = widths.reduce(0, +)
            let rows = outputGradient.count / total
            var offset = 0
            return zip(inputs, widths).map { input, width in
                defer { offset += width }
                let start = offset
                return Tensor(shape: input.shape) { out in
                    outputGradient.withUnsafeBufferPointer { g in
                        for r in 0..<rows {
                            (out.baseAddress! + r * width).update(
                                from: g.baseAddress! + r * total + start, count: width)
                        }
                    }
                }
            }
        }
    }
}

extension Merge: KerasLayer {
    public static let kerasClassNames = ["Add", "Multiply", "Concatenate"]

    public static func make(_ config: KerasConfig, inputShapes: [[Int]]) throws(LayerError) -> any Layer {
        switch config.className {
        case "Add": return Merge(name: config.name, .add)
        case "Multiply": return Merge(name: config.name, .multiply)
        default:
            let axis = try config.int("axis", -1)
            guard axis == -1 || axis == inputShapes.first?.count else {
                throw config.error("concatenation over axis \(axis); only the last axis is supported", field: "axis")
            }
            return Merge(name: config.name, .concatenate)
        }
    }

    public var kerasClassName: String {
        switch operation {
        case .add: return "Add"
        case .multiply: return "Multiply"
        case .concatenate: return "Concatenate"
        }
    }

    public func kerasConfig() throws(LayerError) -> [String: Any] {
        operation == .concatenate ? ["axis": -1] : [:]
    }

    public var absorbsFollowingActivation: Bool { operation != .concatenate }

    public var kerasTakesTensorList: Bool { true }
}

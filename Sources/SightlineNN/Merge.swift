/// Layers that join several inputs of the same batch: `Add`, `Multiply` (element-wise, equal
/// shapes) and `Concatenate` (along the last axis), as in Keras.
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
            guard inputShapes.allSatisfy({ $0 == first }) else {
                throw LayerError(layer: name, "inputs must have equal shapes, got \(inputShapes)")
            }
            return first
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
        let shape = inputs[0].shape, row = activation == .softmax ? (shape.last ?? 1) : 1
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
        switch operation {
        case .add:
            return LayerOutput(Self.sum(inputs))
        case .multiply:
            var y = inputs[0]
            for other in inputs.dropFirst() {
                y.withUnsafeMutableBufferPointer { a in for i in 0..<a.count { a[i] *= other.scalars[i] } }
            }
            return LayerOutput(y)
        case .concatenate:
            let widths = inputs.map { $0.shape.last ?? 1 }, total = widths.reduce(0, +)
            let rows = inputs[0].count / widths[0]
            let y = Tensor(shape: inputs[0].shape.dropLast() + [total]) { out in
                var offset = 0
                for (input, width) in zip(inputs, widths) {
                    input.withUnsafeBufferPointer { p in
                        for r in 0..<rows { (out.baseAddress! + r * total + offset).update(from: p.baseAddress! + r * width, count: width) }
                    }
                    offset += width
                }
            }
            return LayerOutput(y)
        }
    }

    public func backward(_ outputGradient: Tensor, inputs: [Tensor], forward: LayerOutput, mode: Mode, needs: GradientNeeds) -> [Tensor] {
        guard needs.contains(.input) else { return [] }
        switch operation {
        case .add:
            return inputs.map { _ in outputGradient }
        case .multiply:
            // ∂/∂xᵢ of Π xⱼ is the product of the others.
            return inputs.indices.map { i in
                var g = outputGradient
                for (j, other) in inputs.enumerated() where j != i {
                    g.withUnsafeMutableBufferPointer { a in for k in 0..<a.count { a[k] *= other.scalars[k] } }
                }
                return g
            }
        case .concatenate:
            let widths = inputs.map { $0.shape.last ?? 1 }, total = widths.reduce(0, +)
            let rows = outputGradient.count / total
            var offset = 0
            return zip(inputs, widths).map { input, width in
                defer { offset += width }
                let start = offset
                return Tensor(shape: input.shape) { out in
                    outputGradient.withUnsafeBufferPointer { g in
                        for r in 0..<rows { (out.baseAddress! + r * width).update(from: g.baseAddress! + r * total + start, count: width) }
                    }
                }
            }
        }
    }
}

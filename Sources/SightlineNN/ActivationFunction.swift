import Foundation

/// An element-wise (or, for softmax, per-row) activation, as Keras defines it.
///
/// Every derivative here is computed from the activation's *output*, so a layer that fuses an
/// activation only needs to keep its output for the backward pass.
public enum ActivationFunction: Sendable, Equatable {
    case linear
    /// `max(x, 0)`, or `negativeSlope · x` below zero, clipped at `maxValue` when given
    /// (Keras `ReLU(max_value:negative_slope:)`; `relu6` is `maxValue: 6`).
    case relu(maxValue: Float? = nil, negativeSlope: Float = 0)
    /// `x` for `x > 0`, `alpha · x` otherwise (Keras `LeakyReLU`, default alpha 0.3).
    case leakyRelu(alpha: Float)
    /// `x` for `x > 0`, `alpha · (exp(x) − 1)` otherwise.
    case elu(alpha: Float)
    case sigmoid
    /// Keras 3's `hard_sigmoid`: `relu6(x + 3) / 6`, i.e. `clip(x/6 + 0.5, 0, 1)`.
    case hardSigmoid
    case tanh
    /// Softmax over the last axis.
    case softmax

    /// The plain ReLU.
    public static let relu = ActivationFunction.relu(maxValue: nil, negativeSlope: 0)

    /// Applies the activation in place to `count` values laid out as rows of `rowLength`
    /// (the last axis; only softmax uses rows).
    public func apply(_ x: UnsafeMutablePointer<Float>, count: Int, rowLength: Int) {
        switch self {
        case .linear:
            return
        case .relu(let maxValue, let slope):
            let top = maxValue ?? .infinity
            if slope == 0 {
                for i in 0..<count { x[i] = min(max(x[i], 0), top) }
            } else {
                for i in 0..<count { let v = x[i]; x[i] = v > 0 ? min(v, top) : slope * v }
            }
        case .leakyRelu(let alpha):
            for i in 0..<count { let v = x[i]; x[i] = v > 0 ? v : alpha * v }
        case .elu(let alpha):
            for i in 0..<count { let v = x[i]; x[i] = v > 0 ? v : alpha * (expf(v) - 1) }
        case .sigmoid:
            for i in 0..<count { x[i] = 1 / (1 + expf(-x[i])) }
        case .hardSigmoid:
            for i in 0..<count { x[i] = min(max(x[i] / 6 + 0.5, 0), 1) }
        case .tanh:
            for i in 0..<count { x[i] = tanhf(x[i]) }
        case .softmax:
            precondition(rowLength > 0 && count % rowLength == 0, "softmax rows of \(rowLength) do not tile \(count) values")
            for row in stride(from: 0, to: count, by: rowLength) {
                var peak = -Float.infinity
                for i in row..<(row + rowLength) { peak = max(peak, x[i]) }
                var sum: Float = 0
                for i in row..<(row + rowLength) { x[i] = expf(x[i] - peak); sum += x[i] }
                let scale = 1 / sum
                for i in row..<(row + rowLength) { x[i] *= scale }
            }
        }
    }

    /// Replaces `gradient` (∂L/∂y) by ∂L/∂x in place, given the activation's output `y`.
    public func backward(gradient g: UnsafeMutablePointer<Float>, output y: UnsafePointer<Float>, count: Int, rowLength: Int) {
        switch self {
        case .linear:
            return
        case .relu(let maxValue, let slope):
            let top = maxValue ?? .infinity
            for i in 0..<count {
                let v = y[i]
                g[i] *= v > 0 ? (v < top ? 1 : 0) : (slope == 0 ? 0 : slope)
            }
        case .leakyRelu(let alpha):
            for i in 0..<count { g[i] *= y[i] > 0 ? 1 : alpha }
        case .elu(let alpha):
            for i in 0..<count { g[i] *= y[i] > 0 ? 1 : y[i] + alpha }
        case .sigmoid:
            for i in 0..<count { g[i] *= y[i] * (1 - y[i]) }
        case .hardSigmoid:
            for i in 0..<count { g[i] *= (y[i] > 0 && y[i] < 1) ? 1.0 / 6.0 : 0 }
        case .tanh:
            for i in 0..<count { g[i] *= 1 - y[i] * y[i] }
        case .softmax:
            for row in stride(from: 0, to: count, by: rowLength) {
                var dot: Float = 0
                for i in row..<(row + rowLength) { dot += g[i] * y[i] }
                for i in row..<(row + rowLength) { g[i] = y[i] * (g[i] - dot) }
            }
        }
    }

    /// Applies the activation to a tensor (last axis as softmax rows).
    public func applied(to tensor: Tensor) -> Tensor {
        var result = tensor
        apply(inPlace: &result)
        return result
    }

    /// Applies the activation to a tensor in place (no copy when its storage is unshared).
    public func apply(inPlace tensor: inout Tensor) {
        if self == .linear { return }
        let row = tensor.shape.last ?? 1
        tensor.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            Parallel.forEachChunk(buffer.count / max(row, 1), costPerItem: row) { rows in
                apply(base + rows.lowerBound * row, count: rows.count * row, rowLength: row)
            }
        }
    }

    /// ∂L/∂x for a tensor, given ∂L/∂y and the output y.
    public func gradient(_ outputGradient: Tensor, output: Tensor) -> Tensor {
        if self == .linear { return outputGradient }
        var result = outputGradient
        let row = output.shape.last ?? 1
        result.withUnsafeMutableBufferPointer { g in
            output.withUnsafeBufferPointer { y in
                Parallel.forEachChunk(g.count / max(row, 1), costPerItem: row) { rows in
                    let offset = rows.lowerBound * row
                    backward(gradient: g.baseAddress! + offset, output: y.baseAddress! + offset, count: rows.count * row, rowLength: row)
                }
            }
        }
        return result
    }
}

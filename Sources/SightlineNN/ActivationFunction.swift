import Foundation
import SightlineCore

/// An element-wise (or, for softmax, per-row) activation, as Keras defines it.
///
/// Most derivatives here are computed from the activation's *output*; those of GELU, swish and
/// hard-silu need the *input* (`needsInput`), so a layer that fuses one of those keeps its
/// pre-activation in `LayerOutput.saved` (see `fusedForward`).
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
    /// Keras 2's (tf.keras) `hard_sigmoid`: `clip(0.2·x + 0.5, 0, 1)`.
    case hardSigmoidKeras2
    case tanh
    /// Softmax over the last axis.
    case softmax
    /// `log(1 + exp(x))`.
    case softplus
    /// Scaled ELU with Keras's constants.
    case selu
    /// `x · sigmoid(x)` (Keras `swish`, `silu`).
    case swish
    /// `x · relu6(x + 3) / 6` (Keras `hard_silu`, `hard_swish`).
    case hardSilu
    /// `x · Φ(x)` (exact, erf) or its tanh approximation (Keras `gelu`, `approximate`).
    case gelu(approximate: Bool)

    static let seluAlpha: Float = 1.6732632423543772848170429916717
    static let seluScale: Float = 1.0507009873554804934193349852946

    /// The activation Keras calls `name` (`relu`, `swish`, `gelu`, …); `hard_sigmoid` follows
    /// Keras 3 unless `kerasMajorVersion` is 2. Nil for names Sightline does not know.
    public init?(kerasName name: String, kerasMajorVersion: Int = 3) {
        switch name {
        case "linear", "None": self = .linear
        case "relu": self = .relu
        case "relu6": self = .relu(maxValue: 6)
        case "sigmoid": self = .sigmoid
        case "hard_sigmoid": self = kerasMajorVersion == 2 ? .hardSigmoidKeras2 : .hardSigmoid
        case "tanh": self = .tanh
        case "softmax": self = .softmax
        case "elu": self = .elu(alpha: 1)
        case "leaky_relu": self = .leakyRelu(alpha: 0.2)
        case "softplus": self = .softplus
        case "selu": self = .selu
        case "swish", "silu": self = .swish
        case "hard_silu", "hard_swish": self = .hardSilu
        case "gelu": self = .gelu(approximate: false)
        default: return nil
        }
    }

    /// The names `init(kerasName:)` accepts.
    public static let kerasNames = [
        "linear", "relu", "relu6", "sigmoid", "hard_sigmoid", "tanh", "softmax", "elu", "leaky_relu", "softplus",
        "selu",
        "swish", "silu", "hard_silu", "hard_swish", "gelu",
    ]

    /// The Keras name this activation is written as, or nil when Keras has no plain name for it.
    public var kerasName: String? {
        switch self {
        case .linear: return "linear"
        case .relu(nil, 0): return "relu"
        case .relu(6, 0): return "relu6"
        case .sigmoid: return "sigmoid"
        // Keras 3 reads "hard_sigmoid" as its own definition, so Keras 2's has no name to write.
        case .hardSigmoid: return "hard_sigmoid"
        case .tanh: return "tanh"
        case .softmax: return "softmax"
        case .elu(1): return "elu"
        case .softplus: return "softplus"
        case .selu: return "selu"
        case .swish: return "swish"
        case .hardSilu: return "hard_silu"
        case .gelu(false): return "gelu"
        default: return nil
        }
    }

    /// True when the derivative needs the input `x`, not only the output `y`.
    public var needsInput: Bool {
        switch self {
        case .swish, .hardSilu, .gelu: return true
        default: return false
        }
    }

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
                for i in 0..<count {
                    let v = x[i]
                    x[i] = v > 0 ? min(v, top) : slope * v
                }
            }
        case .leakyRelu(let alpha):
            for i in 0..<count {
                let v = x[i]
                x[i] = v > 0 ? v : alpha * v
            }
        case .elu(let alpha):
            for i in 0..<count {
                let v = x[i]
                x[i] = v > 0 ? v : alpha * (expf(v) - 1)
            }
        case .sigmoid:
            for i in 0..<count { x[i] = 1 / (1 + expf(-x[i])) }
        case .hardSigmoid:
            for i in 0..<count { x[i] = min(max(x[i] / 6 + 0.5, 0), 1) }
        case .hardSigmoidKeras2:
            for i in 0..<count { x[i] = min(max(0.2 * x[i] + 0.5, 0), 1) }
        case .tanh:
            for i in 0..<count { x[i] = tanhf(x[i]) }
        case .softplus:
            for i in 0..<count {
                let v = x[i]
                x[i] = max(v, 0) + log1pf(expf(-abs(v)))
            }
        case .selu:
            let (alpha, scale) = (Self.seluAlpha, Self.seluScale)
            for i in 0..<count {
                let v = x[i]
                x[i] = v > 0 ? scale * v : scale * alpha * (expf(v) - 1)
            }
        case .swish:
            for i in 0..<count {
                let v = x[i]
                x[i] = v / (1 + expf(-v))
            }
        case .hardSilu:
            for i in 0..<count {
                let v = x[i]
                x[i] = v * min(max(v + 3, 0), 6) / 6
            }
        case .gelu(let approximate):
            if approximate {
                for i in 0..<count {
                    let v = x[i]
                    x[i] = 0.5 * v * (1 + tanhf(Self.geluTanhScale * (v + 0.044715 * v * v * v)))
                }
            } else {
                for i in 0..<count {
                    let v = x[i]
                    x[i] = 0.5 * v * (1 + erff(v * Float(0.5).squareRoot()))
                }
            }
        case .softmax:
            precondition(
                rowLength > 0 && count % rowLength == 0, "softmax rows of \(rowLength) do not tile \(count) values")
            for row in stride(from: 0, to: count, by: rowLength) {
                var peak = -Float.infinity
                for i in row..<(row + rowLength) { peak = max(peak, x[i]) }
                var sum: Float = 0
                for i in row..<(row + rowLength) {
                    x[i] = expf(x[i] - peak)
                    sum += x[i]
                }
                let scale = 1 / sum
                for i in row..<(row + rowLength) { x[i] *= scale }
            }
        }
    }

    static let geluTanhScale: Float = (2 / Float.pi).squareRoot()

    /// Replaces `gradient` (∂L/∂y) by ∂L/∂x in place, given the activation's output `y` and, for
    /// activations that `needsInput`, its input `x` (ignored otherwise).
    public func backward(
        gradient g: UnsafeMutablePointer<Float>, output y: UnsafePointer<Float>, input x: UnsafePointer<Float>?,
        count: Int, rowLength: Int
    ) {
        switch self {
        case .linear:
            return
        case .relu(nil, 0):
            // Plain ReLU, the common case, in a loop the compiler vectorises (a multiply, not a
            // select, so a NaN gradient stays NaN).
            for i in 0..<count { g[i] *= y[i] > 0 ? 1 : 0 }
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
        case .hardSigmoidKeras2:
            for i in 0..<count { g[i] *= (y[i] > 0 && y[i] < 1) ? 0.2 : 0 }
        case .tanh:
            for i in 0..<count { g[i] *= 1 - y[i] * y[i] }
        case .softplus:
            // d/dx log(1 + eˣ) = sigmoid(x) = 1 − e^(−y).
            for i in 0..<count { g[i] *= -expm1f(-y[i]) }
        case .selu:
            let (alpha, scale) = (Self.seluAlpha, Self.seluScale)
            for i in 0..<count { g[i] *= y[i] > 0 ? scale : y[i] + scale * alpha }
        case .swish, .hardSilu, .gelu:
            guard let x else { preconditionFailure("\(self) needs its input for the backward pass") }
            inputDerivative(gradient: g, input: x, count: count)
        case .softmax:
            for row in stride(from: 0, to: count, by: rowLength) {
                var dot: Float = 0
                for i in row..<(row + rowLength) { dot += g[i] * y[i] }
                for i in row..<(row + rowLength) { g[i] = y[i] * (g[i] - dot) }
            }
        }
    }

    /// ∂L/∂x for the activations whose derivative needs the input.
    private func inputDerivative(gradient g: UnsafeMutablePointer<Float>, input x: UnsafePointer<Float>, count: Int) {
        switch self {
        case .swish:
            for i in 0..<count {
                let s = 1 / (1 + expf(-x[i]))
                g[i] *= s * (1 + x[i] * (1 - s))
            }
        case .hardSilu:
            for i in 0..<count {
                let v = x[i]
                g[i] *= v < -3 ? 0 : (v > 3 ? 1 : (2 * v + 3) / 6)
            }
        case .gelu(true):
            let c = Self.geluTanhScale
            for i in 0..<count {
                let v = x[i]
                let t = tanhf(c * (v + 0.044715 * v * v * v))
                g[i] *= 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * c * (1 + 3 * 0.044715 * v * v)
            }
        case .gelu(false):
            let density = 1 / (2 * Float.pi).squareRoot()
            for i in 0..<count {
                let v = x[i]
                g[i] *= 0.5 * (1 + erff(v * Float(0.5).squareRoot())) + v * density * expf(-0.5 * v * v)
            }
        default:
            return
        }
    }

    /// Applies the activation to a tensor (last axis as softmax rows).
    public func applied(to tensor: Tensor) -> Tensor {
        if eltwise != nil, tensor.count >= Self.eltwiseMinimum {
            var done = false
            let result = Tensor(shape: tensor.shape) { out in  // every value written, or not used
                tensor.withUnsafeBufferPointer {
                    done = eltwiseForward($0.baseAddress!, out.baseAddress!, count: $0.count)
                }
            }
            if done { return result }
        }
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
            if eltwiseForward(base, base, count: buffer.count) { return }
            Parallel.forEachChunk(buffer.count / max(row, 1), costPerItem: row) { rows in
                apply(base + rows.lowerBound * row, count: rows.count * row, rowLength: row)
            }
        }
    }

    /// ∂L/∂x for a tensor, given ∂L/∂y, the output y and, for activations that `needsInput`,
    /// the input x (the pre-activation that `fusedForward` saved).
    public func gradient(_ outputGradient: consuming Tensor, output: Tensor, input: Tensor? = nil) -> Tensor {
        gradient(consume outputGradient, adding: [], output: output, input: input)
    }

    /// `gradient(_:output:input:)` of the sum of `outputGradient` and `others` (the gradients an
    /// output received from several readers, summed in that order): for a plain ReLU in one
    /// pass, which spares the sum's own pass over memory (a ResNet block's input gets the
    /// shortcut's gradient and its first convolution's).
    public func gradient(_ outputGradient: consuming Tensor, adding others: [Tensor], output: Tensor, input: Tensor?)
        -> Tensor
    {
        var result = consume outputGradient
        if self == .relu(maxValue: nil, negativeSlope: 0), others.count == 1, others[0].shape == result.shape,
            output.count == result.count
        {
            result.withUnsafeMutableBufferPointer { g in
                others[0].withUnsafeBufferPointer { o in
                    output.withUnsafeBufferPointer { y in
                        guard let g = g.baseAddress, let o = o.baseAddress, let y = y.baseAddress else { return }
                        Parallel.forEachChunk(output.count) { range in
                            for i in range { g[i] = (g[i] + o[i]) * (y[i] > 0 ? 1 : 0) }
                        }
                    }
                }
            }
            return result
        }
        for other in others { result.add(other) }
        if self == .linear { return result }
        let row = output.shape.last ?? 1
        let x = needsInput ? input : nil
        if eltwise != nil, output.count == result.count, x == nil || x?.count == result.count {
            let done = result.withUnsafeMutableBufferPointer { g in
                output.withUnsafeBufferPointer { y in
                    x.withOptionalPointer { xBase in
                        eltwiseBackward(gradient: g.baseAddress!, output: y.baseAddress!, input: xBase, count: g.count)
                    }
                }
            }
            if done { return result }
        }
        result.withUnsafeMutableBufferPointer { g in
            output.withUnsafeBufferPointer { y in
                x.withOptionalPointer { xBase in
                    Parallel.forEachChunk(g.count / max(row, 1), costPerItem: row) { rows in
                        let offset = rows.lowerBound * row
                        backward(
                            gradient: g.baseAddress! + offset, output: y.baseAddress! + offset,
                            input: xBase.map { $0 + offset },
                            count: rows.count * row, rowLength: row)
                    }
                }
            }
        }
        return result
    }

    /// `(low, high)` when the derivative is 1 where `low < output < high` and 0 elsewhere (a ReLU,
    /// capped or not, without a negative slope), for kernels that apply it on the way; nil for
    /// every other function.
    public var clipBounds: (low: Float, high: Float)? {
        if case .relu(let maxValue, let slope) = self, slope == 0 { return (0, maxValue ?? .infinity) }
        return nil
    }

    /// Applies the activation to the pre-activation `z` of a layer that fuses it, and returns
    /// what that layer's backward needs in `LayerOutput.saved`: `[z]` when the derivative needs
    /// the input (the copy is made only then), else nothing.
    public func fusedForward(_ z: inout Tensor) -> [Tensor] {
        guard needsInput else {
            apply(inPlace: &z)
            return []
        }
        let input = z
        z = applied(to: input)  // written beside the input (one pass), not into a copy of it
        return [input]
    }
}

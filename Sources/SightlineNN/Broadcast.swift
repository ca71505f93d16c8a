import SightlineCore

/// NumPy-style broadcasting for element-wise binary operations, as Keras's `Add`, `Multiply`
/// and operator nodes (`x * se`, `x + 3`) apply it: shapes are aligned on the right, and an
/// axis of size 1 (or a missing leading axis) repeats to the other operand's size.
///
/// Shapes here include the batch axis. Ranks up to 4 plus the batch are supported (NHWC and
/// rank-5 for safety); every index is computed with per-operand strides that are 0 on
/// broadcast axes, and the last axis runs as an inner loop.
public enum Broadcast {
    /// The element-wise operations.
    public enum Operation: Sendable, Equatable {
        case add, subtract, multiply, divide

        func apply(_ a: Float, _ b: Float) -> Float {
            switch self {
            case .add: return a + b
            case .subtract: return a - b
            case .multiply: return a * b
            case .divide: return a / b
            }
        }
    }

    static let maximumRank = 5

    /// The broadcast shape of `a` and `b`, or nil when an axis differs and neither is 1.
    public static func shape(_ a: [Int], _ b: [Int]) -> [Int]? {
        let rank = max(a.count, b.count)
        let pa = Array(repeating: 1, count: rank - a.count) + a
        let pb = Array(repeating: 1, count: rank - b.count) + b
        var result: [Int] = []
        for (x, y) in zip(pa, pb) {
            guard x == y || x == 1 || y == 1 else { return nil }
            result.append(x == 1 ? y : x)
        }
        return result
    }

    /// Strides of a tensor of `shape` read as `output` (0 on broadcast axes), padded on the left
    /// to `maximumRank`.
    static func strides(of shape: [Int], in output: [Int]) -> [Int] {
        let padded = Array(repeating: 1, count: maximumRank - shape.count) + shape
        let outputPadded = Array(repeating: 1, count: maximumRank - output.count) + output
        var strides = Array(repeating: 0, count: maximumRank)
        var step = 1
        for axis in (0..<maximumRank).reversed() {
            strides[axis] = padded[axis] == 1 && outputPadded[axis] != 1 ? 0 : step
            step *= padded[axis]
        }
        return strides
    }

    /// Calls `body(outputOffset, aOffset, bOffset, count, aStride, bStride)` for every run of the
    /// last axis of `output`.
    static func forEachRow(_ output: [Int], _ sa: [Int], _ sb: [Int], _ body: (Int, Int, Int, Int, Int, Int) -> Void) {
        let dims = Array(repeating: 1, count: maximumRank - output.count) + output
        let inner = dims[maximumRank - 1]
        var offset = 0
        for i0 in 0..<dims[0] {
            for i1 in 0..<dims[1] {
                for i2 in 0..<dims[2] {
                    for i3 in 0..<dims[3] {
                        let a = i0 * sa[0] + i1 * sa[1] + i2 * sa[2] + i3 * sa[3]
                        let b = i0 * sb[0] + i1 * sb[1] + i2 * sb[2] + i3 * sb[3]
                        body(offset, a, b, inner, sa[4], sb[4])
                        offset += inner
                    }
                }
            }
        }
    }

    /// `a ⊕ b` with broadcasting; the shapes must broadcast (checked by `shape`).
    public static func apply(_ operation: Operation, _ a: Tensor, _ b: Tensor) -> Tensor {
        let output = shape(a.shape, b.shape) ?? a.shape
        let sa = strides(of: a.shape, in: output)
        let sb = strides(of: b.shape, in: output)
        return Tensor(shape: output) { out in
            a.withUnsafeBufferPointer { pa in
                b.withUnsafeBufferPointer { pb in
                    forEachRow(output, sa, sb) { o, ia, ib, count, da, db in
                        for j in 0..<count { out[o + j] = operation.apply(pa[ia + j * da], pb[ib + j * db]) }
                    }
                }
            }
        }
    }

    /// Sums `gradient` (of the broadcast shape) down to `shape`, the operand's own shape: the
    /// gradient of an operand that was repeated.
    public static func reduce(_ gradient: Tensor, to shape: [Int]) -> Tensor {
        if gradient.shape == shape { return gradient }
        let output = gradient.shape
        let target = strides(of: shape, in: output)
        let contiguous = strides(of: output, in: output)
        var result = Tensor(zeros: shape)
        result.withUnsafeMutableBufferPointer { r in
            gradient.withUnsafeBufferPointer { g in
                forEachRow(output, contiguous, target) { o, _, it, count, _, dt in
                    for j in 0..<count { r[it + j * dt] += g[o + j] }
                }
            }
        }
        return result
    }

    /// Gradients of `a ⊕ b` with respect to `a` and `b`, each summed to its operand's shape.
    public static func gradients(_ operation: Operation, _ gradient: Tensor, _ a: Tensor, _ b: Tensor) -> (
        Tensor, Tensor
    ) {
        switch operation {
        case .add:
            return (reduce(gradient, to: a.shape), reduce(gradient, to: b.shape))
        case .subtract:
            return (
                reduce(gradient, to: a.shape),
                reduce(apply(.multiply, gradient, Tensor(repeating: -1, shape: [1])), to: b.shape)
            )
        case .multiply:
            return (
                reduce(apply(.multiply, gradient, b), to: a.shape), reduce(apply(.multiply, gradient, a), to: b.shape)
            )
        case .divide:
            // d(a/b)/da = 1/b; d(a/b)/db = −a/b².
            let da = apply(.divide, gradient, b)
            let db = apply(.multiply, da, apply(.divide, a, b))
            return (
                reduce(da, to: a.shape), reduce(apply(.multiply, db, Tensor(repeating: -1, shape: [1])), to: b.shape)
            )
        }
    }
}

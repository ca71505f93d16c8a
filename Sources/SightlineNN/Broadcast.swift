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
    /// last axis of `output` among `rows` (row r is the r-th run in memory order; all of them
    /// when nil).
    static func forEachRow(
        _ output: [Int], _ sa: [Int], _ sb: [Int], rows: Range<Int>? = nil,
        _ body: (Int, Int, Int, Int, Int, Int) -> Void
    ) {
        let dims = Array(repeating: 1, count: maximumRank - output.count) + output
        let inner = dims[maximumRank - 1]
        for row in rows ?? 0..<(dims[0] * dims[1] * dims[2] * dims[3]) {
            let i3 = row % dims[3]
            let i2 = row / dims[3] % dims[2]
            let i1 = row / (dims[3] * dims[2]) % dims[1]
            let i0 = row / (dims[3] * dims[2] * dims[1])
            let a = i0 * sa[0] + i1 * sa[1] + i2 * sa[2] + i3 * sa[3]
            let b = i0 * sb[0] + i1 * sb[1] + i2 * sb[2] + i3 * sb[3]
            body(row * inner, a, b, inner, sa[4], sb[4])
        }
    }

    /// `a ⊕ b` with broadcasting; the shapes must broadcast (checked by `shape`). Rows of the
    /// last axis are shared out over the threads; where both operands run along that axis (or one
    /// repeats a single value) the inner loop is a plain vectorisable one.
    public static func apply(_ operation: Operation, _ a: Tensor, _ b: Tensor) -> Tensor {
        let output = shape(a.shape, b.shape) ?? a.shape
        let sa = strides(of: a.shape, in: output)
        let sb = strides(of: b.shape, in: output)
        let inner = output.last ?? 1
        return Tensor(shape: output) { out in
            guard let o = out.baseAddress else { return }
            a.withUnsafeBufferPointer { pa in
                b.withUnsafeBufferPointer { pb in
                    guard let pa = pa.baseAddress, let pb = pb.baseAddress else { return }
                    Parallel.forEachChunk(out.count / max(inner, 1), costPerItem: inner) { rows in
                        forEachRow(output, sa, sb, rows: rows) { start, ia, ib, count, da, db in
                            run(operation, o + start, pa + ia, da, pb + ib, db, count)
                        }
                    }
                }
            }
        }
    }

    /// `out[j] = a[j·da] ⊕ b[j·db]` for `count` values, strides 0 or 1.
    @inline(__always)
    private static func run(
        _ operation: Operation, _ out: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ da: Int,
        _ b: UnsafePointer<Float>, _ db: Int, _ count: Int
    ) {
        switch (operation, da, db) {
        case (.add, 1, 1): for j in 0..<count { out[j] = a[j] + b[j] }
        case (.multiply, 1, 1): for j in 0..<count { out[j] = a[j] * b[j] }
        case (.multiply, 1, 0):
            let v = b[0]
            for j in 0..<count { out[j] = a[j] * v }
        case (.multiply, 0, 1):
            let v = a[0]
            for j in 0..<count { out[j] = v * b[j] }
        default: for j in 0..<count { out[j] = operation.apply(a[j * da], b[j * db]) }
        }
    }

    /// Sums `gradient` (of the broadcast shape) down to `shape`, the operand's own shape: the
    /// gradient of an operand that was repeated. With `factor` (of the broadcast shape or
    /// broadcasting to it), each value is first multiplied by it: the gradient of a product's
    /// operand without a full-size product in between. Where the batch axis is not summed over
    /// (a squeeze-and-excite gate `[N, 1, 1, C]`), the images are shared out over the threads.
    public static func reduce(_ gradient: Tensor, times factor: Tensor? = nil, to shape: [Int]) -> Tensor {
        if gradient.shape == shape && factor == nil { return gradient }
        let output = gradient.shape
        let target = strides(of: shape, in: output)
        let scale = factor.map { strides(of: $0.shape, in: output) } ?? Array(repeating: 0, count: maximumRank)
        var result = Tensor(zeros: shape)
        let dims = Array(repeating: 1, count: maximumRank - output.count) + output
        // The batch axis (the first of `output`) and the runs of the last axis each image holds;
        // images write disjoint parts of the result when that axis is kept.
        let batchAxis = maximumRank - output.count
        let rowsPerImage = batchAxis < maximumRank - 1 ? dims[(batchAxis + 1)..<(maximumRank - 1)].reduce(1, *) : 1
        let byImage = batchAxis < maximumRank - 1 && target[batchAxis] != 0 && dims[batchAxis] > 1
        let one = Tensor(repeating: 1, shape: [1])
        result.withUnsafeMutableBufferPointer { r in
            gradient.withUnsafeBufferPointer { g in
                (factor ?? one).withUnsafeBufferPointer { f in
                    guard let r = r.baseAddress, let g = g.baseAddress, let f = f.baseAddress else { return }
                    /// Adds the runs `rows` of `gradient` (times the factor) into the result.
                    func sum(_ rows: Range<Int>) {
                        forEachRow(output, target, scale, rows: rows) { o, it, ifactor, count, dt, dfactor in
                            if factor == nil {
                                for j in 0..<count { r[it + j * dt] += g[o + j] }
                            } else if dt == 1 && dfactor == 1 {
                                for j in 0..<count { r[it + j] += g[o + j] * f[ifactor + j] }
                            } else {
                                for j in 0..<count { r[it + j * dt] += g[o + j] * f[ifactor + j * dfactor] }
                            }
                        }
                    }
                    if byImage {
                        Parallel.forEachChunk(dims[batchAxis], costPerItem: rowsPerImage * dims[maximumRank - 1]) {
                            sum(($0.lowerBound * rowsPerImage)..<($0.upperBound * rowsPerImage))
                        }
                    } else {
                        sum(0..<(gradient.count / max(dims[maximumRank - 1], 1)))
                    }
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
            return (reduce(gradient, times: b, to: a.shape), reduce(gradient, times: a, to: b.shape))
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

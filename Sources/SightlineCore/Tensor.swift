import Foundation
import Synchronization

/// A dense, contiguous Float32 tensor in row-major order (the last axis varies fastest).
///
/// Sightline's activations are NHWC: `[batch, height, width, channels]`. Convolution kernels
/// are HWIO `[kernelHeight, kernelWidth, inputChannels, outputChannels]` and dense kernels are
/// `[inputFeatures, outputFeatures]`, exactly as Keras stores them in HDF5.
///
/// Storage is a Swift array, so copies are copy-on-write and `reshaped(_:)` shares storage.
public struct Tensor: Sendable, Equatable {
    /// The extent of each axis. The product equals `scalars.count`.
    public private(set) var shape: [Int]
    /// The elements in row-major order.
    public var scalars: [Float]

    /// A tensor with the given shape and elements; `scalars.count` must equal the shape's product.
    public init(shape: [Int], scalars: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor shape \(shape) has a negative extent")
        precondition(
            shape.reduce(1, *) == scalars.count,
            "Tensor shape \(shape) holds \(shape.reduce(1, *)) elements, but \(scalars.count) were given")
        self.shape = shape
        self.scalars = scalars
    }

    /// A tensor of the given shape filled with `value`.
    public init(repeating value: Float, shape: [Int]) {
        self.init(shape: shape, scalars: Array(repeating: value, count: shape.reduce(1, *)))
    }

    /// A tensor of zeros with the given shape; large ones are zeroed on every thread (a
    /// gradient scattered into a VGG16 activation is 205 MB, which one core zeroes in 20 ms).
    public init(zeros shape: [Int]) {
        let count = shape.reduce(1, *)
        guard count >= 1 << 20 else {
            self.init(repeating: 0, shape: shape)
            return
        }
        self.init(
            shape: shape,
            unsafeUninitialized: { out in
                guard let base = out.baseAddress else { return }
                Parallel.forEachChunk(count) { range in
                    (base + range.lowerBound).initialize(repeating: 0, count: range.count)
                }
            })
    }

    /// A tensor whose elements are produced by `body` into uninitialised storage of `shape`'s size.
    /// `body` must write every element.
    public init(shape: [Int], unsafeUninitialized body: (UnsafeMutableBufferPointer<Float>) -> Void) {
        let count = shape.reduce(1, *)
        let scalars = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            body(buffer)
            initialized = count
        }
        self.init(shape: shape, scalars: scalars)
    }

    /// The number of elements.
    public var count: Int { scalars.count }
    /// The number of axes.
    public var rank: Int { shape.count }
    /// The first axis: the batch size for activations.
    public var batchSize: Int { shape.first ?? 1 }
    /// The product of every axis but the first: the elements of one batch item.
    public var itemCount: Int { shape.dropFirst().reduce(1, *) }

    /// The same elements under another shape with the same element count (shares storage).
    public func reshaped(_ newShape: [Int]) -> Tensor {
        Tensor(shape: newShape, scalars: scalars)
    }

    /// Items `range` of the first axis, as a new tensor.
    public func batch(_ range: Range<Int>) -> Tensor {
        precondition(
            range.lowerBound >= 0 && range.upperBound <= batchSize, "batch range \(range) outside 0..<\(batchSize)")
        let item = itemCount
        var newShape = shape
        newShape[0] = range.count
        return Tensor(shape: newShape, scalars: Array(scalars[(range.lowerBound * item)..<(range.upperBound * item)]))
    }

    /// Joins tensors along the first axis; all must agree on the other axes.
    public static func concatenatingBatches(_ parts: [Tensor]) -> Tensor {
        guard let first = parts.first else { return Tensor(zeros: [0]) }
        let tail = Array(first.shape.dropFirst())
        var scalars: [Float] = []
        scalars.reserveCapacity(parts.reduce(0) { $0 + $1.count })
        for part in parts {
            precondition(
                Array(part.shape.dropFirst()) == tail, "cannot join batches of shapes \(first.shape) and \(part.shape)")
            scalars += part.scalars
        }
        return Tensor(shape: [parts.reduce(0) { $0 + $1.batchSize }] + tail, scalars: scalars)
    }

    /// Calls `body` with a pointer to the elements.
    @inlinable
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try scalars.withUnsafeBufferPointer(body)
    }

    /// Calls `body` with a mutable pointer to the elements.
    @inlinable
    public mutating func withUnsafeMutableBufferPointer<R>(
        _ body: (inout UnsafeMutableBufferPointer<Float>) throws -> R
    ) rethrows -> R {
        try scalars.withUnsafeMutableBufferPointer(body)
    }

    /// Adds `other` element-wise; shapes must be equal.
    public mutating func add(_ other: Tensor) {
        precondition(shape == other.shape, "cannot add a tensor of shape \(other.shape) to one of shape \(shape)")
        scalars.withUnsafeMutableBufferPointer { dst in
            other.scalars.withUnsafeBufferPointer { src in
                guard let d = dst.baseAddress, let s = src.baseAddress else { return }
                // Each element is one addition, in any order: chunks give the same sums.
                Parallel.forEachChunk(dst.count) { range in
                    for i in range { d[i] += s[i] }
                }
            }
        }
    }

    /// A new tensor of the same shape: the elements, read as rows of `factors.count` (an HWIO
    /// kernel's output channels, or a depthwise kernel's trailing `C·M`), each times its
    /// column's factor. One pass; no copy of `self` first.
    public func scaledPerColumn(by factors: [Float]) -> Tensor {
        let channels = factors.count
        precondition(channels > 0 && count % channels == 0, "cannot scale \(count) elements by \(channels) factors")
        return scalars.withUnsafeBufferPointer { source in
            factors.withUnsafeBufferPointer { s in
                Tensor(shape: shape) { out in
                    guard let o = out.baseAddress, let x = source.baseAddress, let f = s.baseAddress else { return }
                    // Each element is one product: chunks of rows give the same values.
                    Parallel.forEachChunk(out.count / channels, costPerItem: channels) { rows in
                        for row in rows {
                            let base = row * channels
                            for c in 0..<channels { o[base + c] = x[base + c] * f[c] }
                        }
                    }
                }
            }
        }
    }

    /// Whether every element is finite (no NaN, no ±infinity): one parallel, vectorised pass,
    /// for checks that run on every weight and gradient after every training step.
    public var allFinite: Bool {
        let finite = Mutex(true)
        scalars.withUnsafeBufferPointer { values in
            guard let base = values.baseAddress else { return }
            let raw = UnsafeRawPointer(base)
            Parallel.forEachChunk(values.count) { range in
                // x · 0 is 0 for finite x and NaN for NaN and ±infinity; a NaN stays in the sum.
                var sum = SIMD16<Float>()
                var i = range.lowerBound
                while i + 16 <= range.upperBound {
                    sum += raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self) * 0
                    i += 16
                }
                var tail: Float = 0
                while i < range.upperBound {
                    tail += base[i] * 0
                    i += 1
                }
                if !(sum.sum() + tail).isFinite { finite.withLock { $0 = false } }
            }
        }
        return finite.withLock { $0 }
    }

    /// The largest absolute element-wise difference to `other` (shapes must be equal).
    public func maxAbsoluteDifference(_ other: Tensor) -> Float {
        precondition(shape == other.shape, "cannot compare shapes \(shape) and \(other.shape)")
        var result: Float = 0
        for i in 0..<count { result = Swift.max(result, abs(scalars[i] - other.scalars[i])) }
        return result
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let preview = scalars.prefix(6).map { String(format: "%.5g", Double($0)) }.joined(separator: ", ")
        return "Tensor(shape: \(shape), [\(preview)\(count > 6 ? ", …" : "")])"
    }
}

extension Tensor {
    /// For a `[rows, columns]` tensor, the column of each row's largest value (the first on ties).
    public func argmaxPerRow() -> [Int] {
        precondition(rank == 2, "argmaxPerRow needs a [rows, columns] tensor, got \(shape)")
        let columns = shape[1]
        return (0..<shape[0]).map { row in
            var best = 0
            for column in 1..<max(columns, 1) where scalars[row * columns + column] > scalars[row * columns + best] {
                best = column
            }
            return best
        }
    }
}

import Foundation
import SightlineCore

/// Convolution as GEMM over row tiles, forward and backward side by side.
///
/// The output `[N, OH, OW, F]` viewed as a matrix `[N·OH·OW, F]` is `patches · kernel`, where
/// `patches` is `[N·OH·OW, KH·KW·C]` (im2col) and the HWIO kernel is `[KH·KW·C, F]`. Rows are
/// processed in tiles of at most `tileRows(patch:)` so that the patch buffer is bounded (a few
/// MiB) whatever the batch and image size. A 1×1 stride-1 convolution skips im2col: the NHWC
/// input already is the `[N·H·W, C]` matrix. Bias and activation are applied to each output
/// tile right after its GEMM, while it is still in cache.
enum ConvolutionGEMM {
    /// Patch values per tile: 2^20 (4 MiB), small enough for the cache-sized working sets the
    /// GEMM blocks in, large enough that each GEMM call amortises its start.
    static let tileFloats = 1 << 20

    /// Rows per tile for a patch length: `tileFloats` values of patches, at least 256 rows.
    static func tileRows(patch: Int) -> Int {
        max(256, tileFloats / max(patch, 1))
    }

    /// Forward: `output = activation(patches(input) · kernel + bias)`.
    /// - Parameters:
    ///   - input: NHWC `[N, H, W, C]`.
    ///   - kernel: `[KH·KW·C, F]` (an HWIO kernel's storage).
    ///   - bias: `[F]` or nil.
    /// - Returns: `[N, OH, OW, F]`.
    static func forward(
        input: Tensor, geometry g: WindowGeometry, kernel: Tensor, bias: Tensor?, filters: Int,
        activation: ActivationFunction
    ) -> Tensor {
        var output = Tensor(shape: [input.shape[0], g.outputHeight, g.outputWidth, filters]) { _ in }
        forward(
            input: input, geometry: g, kernel: kernel, bias: bias, filters: filters, activation: activation,
            into: &output, accumulate: false)
        return output
    }

    /// Forward into `output` `[N, OH, OW, F]`; with `accumulate`, `output`'s contents are added
    /// before the activation (GEMM with `beta = 1` onto the shortcut).
    static func forward(
        input: Tensor, geometry g: WindowGeometry, kernel: Tensor, bias: Tensor?, filters: Int,
        activation: ActivationFunction,
        into output: inout Tensor, accumulate: Bool
    ) {
        let n = input.shape[0]
        let channels = input.shape[3]
        let rows = n * g.outputHeight * g.outputWidth
        let patch = g.kernelHeight * g.kernelWidth * channels
        precondition(
            kernel.count == patch * filters, "kernel holds \(kernel.count) values, expected \(patch)×\(filters)")
        precondition(output.count == rows * filters, "output holds \(output.count) values, expected \(rows)×\(filters)")
        let tile = min(rows, tileRows(patch: patch))
        var columns = g.isPointwise ? [] : [Float](repeating: 0, count: tile * patch)
        output.withUnsafeMutableBufferPointer { out in
            guard let outBase = out.baseAddress else { return }
            input.withUnsafeBufferPointer { x in
                kernel.withUnsafeBufferPointer { w in
                    columns.withUnsafeMutableBufferPointer { col in
                        for start in stride(from: 0, to: rows, by: max(tile, 1)) {
                            let count = min(tile, rows - start)
                            let a = patches(
                                x, channels: channels, geometry: g, rows: start..<(start + count), scratch: col)
                            let c = outBase + start * filters
                            GEMM.multiply(
                                m: count, n: filters, k: patch, a: a, lda: patch, b: w.baseAddress!, ldb: filters,
                                beta: accumulate ? 1 : 0, c: c, ldc: filters)
                            applyEpilogue(c, rows: count, filters: filters, bias: bias, activation: activation)
                        }
                    }
                }
            }
        }
    }

    /// The `[rows.count, KH·KW·C]` patch matrix of output rows `rows`: the input itself for a
    /// pointwise convolution, else gathered into `scratch`.
    static func patches(
        _ x: UnsafeBufferPointer<Float>, channels: Int, geometry g: WindowGeometry, rows: Range<Int>,
        scratch: UnsafeMutableBufferPointer<Float>
    ) -> UnsafePointer<Float> {
        if g.isPointwise { return x.baseAddress! + rows.lowerBound * channels }
        Im2Col.gather(input: x.baseAddress!, channels: channels, geometry: g, rows: rows, columns: scratch.baseAddress!)
        return UnsafePointer(scratch.baseAddress!)
    }

    /// Adds the bias to each row and applies the activation, in parallel over rows.
    static func applyEpilogue(
        _ c: UnsafeMutablePointer<Float>, rows: Int, filters: Int, bias: Tensor?, activation: ActivationFunction
    ) {
        if bias == nil && activation == .linear { return }
        Parallel.forEachChunk(rows, costPerItem: filters) { range in
            let start = c + range.lowerBound * filters
            if let bias {
                bias.withUnsafeBufferPointer { b in
                    for r in 0..<range.count {
                        let row = start + r * filters
                        for j in 0..<filters { row[j] += b[j] }
                    }
                }
            }
            activation.apply(start, count: range.count * filters, rowLength: filters)
        }
    }

    /// Backward, given ∂L/∂(pre-activation output) `gradient` `[N, OH, OW, F]`.
    ///
    /// Adds `patchesᵀ · gradient` into `kernelGradient` (`[KH·KW·C, F]`, when given) and
    /// returns ∂L/∂input `[N, H, W, C]` when `needsInputGradient` (`gradient · kernelᵀ`
    /// scattered back with col2im).
    static func backward(
        input: Tensor, geometry g: WindowGeometry, kernel: Tensor, filters: Int, gradient: Tensor,
        kernelGradient: UnsafeMutablePointer<Float>?, needsInputGradient: Bool
    ) -> Tensor? {
        let n = input.shape[0]
        let channels = input.shape[3]
        let rows = n * g.outputHeight * g.outputWidth
        let patch = g.kernelHeight * g.kernelWidth * channels
        let tile = min(rows, tileRows(patch: patch))
        var columns = [Float](repeating: 0, count: g.isPointwise ? 0 : tile * patch)
        var inputGradient = Tensor(zeros: needsInputGradient ? input.shape : [0])
        input.withUnsafeBufferPointer { x in
            kernel.withUnsafeBufferPointer { w in
                gradient.withUnsafeBufferPointer { dy in
                    columns.withUnsafeMutableBufferPointer { col in
                        for start in stride(from: 0, to: rows, by: max(tile, 1)) {
                            let count = min(tile, rows - start)
                            let dyTile = dy.baseAddress! + start * filters
                            if let kernelGradient {
                                let a = patches(
                                    x, channels: channels, geometry: g, rows: start..<(start + count), scratch: col)
                                GEMM.multiply(
                                    transposeA: true, m: patch, n: filters, k: count, a: a, lda: patch, b: dyTile,
                                    ldb: filters, beta: 1, c: kernelGradient, ldc: filters)
                            }
                            guard needsInputGradient else { continue }
                            inputGradient.withUnsafeMutableBufferPointer { dx in
                                if g.isPointwise {
                                    GEMM.multiply(
                                        transposeB: true, m: count, n: channels, k: filters, a: dyTile, lda: filters,
                                        b: w.baseAddress!, ldb: filters, c: dx.baseAddress! + start * channels,
                                        ldc: channels)
                                } else {
                                    GEMM.multiply(
                                        transposeB: true, m: count, n: patch, k: filters, a: dyTile, lda: filters,
                                        b: w.baseAddress!, ldb: filters, c: col.baseAddress!, ldc: patch)
                                    Im2Col.scatterAdd(
                                        columns: col.baseAddress!, channels: channels, geometry: g,
                                        rows: start..<(start + count), inputGradient: dx.baseAddress!)
                                }
                            }
                        }
                    }
                }
            }
        }
        return needsInputGradient ? inputGradient : nil
    }

    /// Column sums of a `[rows, F]` gradient: the bias gradient `[F]`.
    /// Rows are summed in parallel chunks (one partial sum per chunk), then the partials in order.
    static func biasGradient(_ gradient: Tensor, filters: Int) -> Tensor {
        let rows = gradient.count / max(filters, 1)
        let chunks = max(1, min(Parallel.threadCount, rows / 256))
        var partials = [Float](repeating: 0, count: chunks * filters)
        gradient.withUnsafeBufferPointer { g in
            partials.withUnsafeMutableBufferPointer { sums in
                Parallel.forEachChunk(chunks, costPerItem: rows / chunks * filters) { range in
                    for chunk in range {
                        let partial = sums.baseAddress! + chunk * filters
                        for r in (rows * chunk / chunks)..<(rows * (chunk + 1) / chunks) {
                            for j in 0..<filters { partial[j] += g[r * filters + j] }
                        }
                    }
                }
            }
        }
        var sums = [Float](repeating: 0, count: filters)
        for chunk in 0..<chunks { for j in 0..<filters { sums[j] += partials[chunk * filters + j] } }
        return Tensor(shape: [filters], scalars: sums)
    }
}

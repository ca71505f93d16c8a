/// Patch extraction for convolution as GEMM, on NHWC data.
///
/// Output rows are numbered across the batch: row `r` is image `r / (OH·OW)`, output pixel
/// `r % (OH·OW)`. A patch row holds `KH·KW·C` values in (kh, kw, c) order, which matches the
/// rows of an HWIO kernel viewed as a `[KH·KW·C, F]` matrix.
public enum Im2Col {
    /// Writes the patches of output rows `rows` into `columns` (`rows.count × KH·KW·C`).
    /// Out-of-image taps are zero.
    public static func gather(
        input: UnsafePointer<Float>, channels: Int, geometry g: WindowGeometry,
        rows: Range<Int>, columns: UnsafeMutablePointer<Float>
    ) {
        let patch = g.kernelHeight * g.kernelWidth * channels
        let pixels = g.outputHeight * g.outputWidth
        let imageSize = g.inputHeight * g.inputWidth * channels
        Parallel.forEachChunk(rows.count, costPerItem: patch) { chunk in
            for local in chunk {
                let row = rows.lowerBound + local
                let image = row / pixels
                let pixel = row % pixels
                let oy = pixel / g.outputWidth
                let ox = pixel % g.outputWidth
                var dst = columns + local * patch
                let src = input + image * imageSize
                for ky in 0..<g.kernelHeight {
                    let iy = oy * g.strideY - g.padTop + ky * g.dilationY
                    if iy < 0 || iy >= g.inputHeight {
                        dst.update(repeating: 0, count: g.kernelWidth * channels)
                        dst += g.kernelWidth * channels
                        continue
                    }
                    for kx in 0..<g.kernelWidth {
                        let ix = ox * g.strideX - g.padLeft + kx * g.dilationX
                        if ix < 0 || ix >= g.inputWidth {
                            dst.update(repeating: 0, count: channels)
                        } else {
                            dst.update(from: src + (iy * g.inputWidth + ix) * channels, count: channels)
                        }
                        dst += channels
                    }
                }
            }
        }
    }

    /// Adds the patch gradients of output rows `rows` (`rows.count × KH·KW·C`) back into the
    /// input gradient `inputGradient` (NHWC, same shape as the input): the adjoint of `gather`.
    /// Sequential, because overlapping windows add into the same pixels.
    public static func scatterAdd(
        columns: UnsafePointer<Float>, channels: Int, geometry g: WindowGeometry,
        rows: Range<Int>, inputGradient: UnsafeMutablePointer<Float>
    ) {
        let patch = g.kernelHeight * g.kernelWidth * channels
        let pixels = g.outputHeight * g.outputWidth
        let imageSize = g.inputHeight * g.inputWidth * channels
        for local in 0..<rows.count {
            let row = rows.lowerBound + local
            let image = row / pixels
            let pixel = row % pixels
            let oy = pixel / g.outputWidth
            let ox = pixel % g.outputWidth
            var src = columns + local * patch
            let dst = inputGradient + image * imageSize
            for ky in 0..<g.kernelHeight {
                let iy = oy * g.strideY - g.padTop + ky * g.dilationY
                for kx in 0..<g.kernelWidth {
                    let ix = ox * g.strideX - g.padLeft + kx * g.dilationX
                    if iy >= 0 && iy < g.inputHeight && ix >= 0 && ix < g.inputWidth {
                        let target = dst + (iy * g.inputWidth + ix) * channels
                        for c in 0..<channels { target[c] += src[c] }
                    }
                    src += channels
                }
            }
        }
    }
}

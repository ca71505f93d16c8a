internal import CKernels
import SightlineCore

/// The kernel gradient of a 3×3 stride-1 undilated convolution by Winograd F(4×4,3×3) or
/// F(2×2,3×3) transposed (`Sources/CKernels/winograd_weights.c`):
/// `∂L/∂g = Gᵀ [Σ (A dY Aᵀ) ⊙ (Bᵀ d B)] G` over every image and tile of the output gradient,
/// 36 products per channel pair and 4×4 tile (16 per 2×2 tile) where direct correlation takes
/// 144 (36). Channel counts must be multiples of 16 and the CPU must have AVX2+FMA or AVX-512.
///
/// Measured against oneDNN 2.6's backward-weights primitive (`bench/winograd_weights.c`, batch 16,
/// 2-core Xeon with AVX-512, minimum of 5–7 runs, ms, F(4×4) / F(2×2) / oneDNN): VGG16's
/// 224×224×64 110/132/259, 112×112×128 72/109/232, 56×56×256 65/102/205, 28×28×512 85/96/215,
/// 14×14×512 41/28/48; ResNet50's 56×56×64 6.6/8.6/15.1, 7×7×512 29/11/15. Errors against a
/// float64 correlation, of the largest value: F(4×4) 1e-6 to 9e-6, F(2×2) under 1e-6, oneDNN
/// 3e-7 to 3e-6. Each thread sums its own slice of tiles into (m+2)²·C·K transform-domain sums, a fixed cost per
/// thread that small maps do not repay: F(4×4) from 256 of its tiles per thread, F(2×2) from 128
/// of its tiles per thread (7×7×512 is level with oneDNN at batch 16 and loses at batch 4,
/// 5.2/4.6 ms), oneDNN below. Where the threads instead share the whole batch's transforms (the
/// points split, `split`: no per-thread sums), F(4×4) pays from 64 of its tiles per thread.
/// 2-core Zen 4 VM, same bench, min of 7–9 runs, ms, F(4×4) / F(2×2), points split: ResNet50's
/// 14×14×256 at batch 16 8.7/10.2, batch 8 4.8/5.1, batch 4 3.0/2.6; 7×7×512 at batch 16
/// 12.8/13.1 (64 tiles: F(2×2) kept), batch 8 9.7/7.9. (VGG16's 14×14×512 at batch 16, tiles
/// split, 35.0/40.9 there but 41/28 on the Xeon above: F(2×2) kept.)
enum WinogradKernelGradient {
    /// 4×4 tiles each thread needs for F(4×4,3×3) to pay for its per-thread sums.
    static let minimumLargeTilesPerThread = 256
    /// 4×4 tiles each thread needs for F(4×4,3×3) when the threads share the batch's transforms.
    static let minimumSharedLargeTilesPerThread = 64
    /// 2×2 tiles each thread needs for F(2×2,3×3).
    static let minimumTilesPerThread = 128

    /// The output tile side (4 or 2) a batch of `batch` inputs through geometry `g` takes on
    /// `threads` threads, or nil when this route does not fit or does not pay.
    static func tileSide(_ g: WindowGeometry, channels: Int, filters: Int, batch: Int, threads: Int) -> Int? {
        guard WinogradConvolution.fits(g, channels: channels, filters: filters) else { return nil }
        let threads = max(threads, 1)
        let large = WinogradConvolution.tiles(batch, g, side: 4)
        if large >= minimumLargeTilesPerThread * threads { return 4 }
        if large >= minimumSharedLargeTilesPerThread * threads,
            split(g, channels: channels, filters: filters, batch: batch, tileSide: 4, threads: threads) == .points
        {
            return 4
        }
        if WinogradConvolution.tiles(batch, g, side: 2) >= minimumTilesPerThread * threads { return 2 }
        return nil
    }

    /// How the threads share the transform-domain sums (`sl_wino_split`): `auto` picks from the
    /// shape and thread count (`Sources/CKernels/winograd_weights.c`); tests force each.
    enum Split: UInt32 {
        case auto = 0
        case tiles = 1
        case points = 2
    }

    /// The split `auto` takes for a batch of `batch` inputs through geometry `g` with output tiles
    /// of side `tileSide` on `threads` threads (`sl_winograd_kernel_gradient_split`).
    static func split(
        _ g: WindowGeometry, channels: Int, filters: Int, batch: Int, tileSide: Int, threads: Int = 2
    ) -> Split {
        let chosen = sl_winograd_kernel_gradient_split(
            Int32(batch), Int32(channels), Int32(filters), Int32(g.outputHeight), Int32(g.outputWidth),
            Int32(tileSide), Int32(clamping: threads))
        return Split(rawValue: chosen.rawValue) ?? .tiles
    }

    /// The HWIO kernel gradient `[3, 3, C, F]` and the bias gradient `[F]` of input `x`
    /// `[N, H, W, C]` and output gradient `dz` `[N, OH, OW, F]` through geometry `g` with output
    /// tiles of side `tileSide` on `threads` threads (the result depends on that number and the
    /// shape only), each multiplied per output channel by `columnScale` `[F]` when given (a
    /// folded BatchNorm's scale), or nil when the CPU or the memory declines. The bias gradient
    /// comes from the transformed output gradient (its (1, 1) point sums each tile), not from a
    /// second pass over `dz`.
    ///
    /// The threads either sum fixed slices of the tiles into sums of their own (`tiles`) or
    /// share the whole batch's transforms and split the transform-domain points (`points`: no
    /// per-thread sums to clear and add). Measured (`bench/winograd_weights.c`, batch 16, 2-core
    /// Xeon with AVX-512, minimum of 11 runs, ms, tiles / points): ResNet50's 7×7×512 F(2×2)
    /// 9.3/8.9, 14×14×256 F(2×2) 6.8/6.4, 28×28×128 4.8/5.0, 56×56×64 5.5/7.3 (tiles stays on the
    /// last two); VGG16's 28×28×512 84/64, 14×14×512 F(2×2) level. `auto` takes points
    /// where the transforms move no more bytes than the slices' sums and fit in 32 MiB (more
    /// scratch fragmented the heap in VGG16's step: its standalone gain was lost to page faults).
    static func run(
        input x: Tensor, gradient dz: Tensor, geometry g: WindowGeometry, filters: Int, tileSide: Int, threads: Int,
        split: Split = .auto, columnScale: [Float]? = nil
    ) -> (kernel: Tensor, bias: Tensor)? {
        let channels = x.shape[3]
        var failed: Int32 = 0
        var bias = Tensor(zeros: [filters])
        let dw = Tensor(shape: [3, 3, channels, filters]) { out in
            x.withUnsafeBufferPointer { p in
                dz.withUnsafeBufferPointer { dy in
                    bias.withUnsafeMutableBufferPointer { db in
                        columnScale.withOptionalPointer { scale in
                            failed = sl_winograd_kernel_gradient(
                                p.baseAddress, dy.baseAddress, Int32(x.shape[0]), Int32(channels), Int32(filters),
                                Int32(g.inputHeight), Int32(g.inputWidth), Int32(g.outputHeight),
                                Int32(g.outputWidth), Int32(g.padTop), Int32(g.padLeft), Int32(tileSide),
                                Int32(clamping: threads), sl_wino_split(split.rawValue), scale, out.baseAddress,
                                db.baseAddress, 0)
                        }
                    }
                }
            }
        }
        return failed == 0 ? (dw, bias) : nil
    }
}

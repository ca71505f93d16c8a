internal import CKernels
import SightlineCore

/// The kernel gradient of a 3×3 stride-1 undilated convolution by Winograd F(2×2,3×3)
/// transposed (`Sources/CKernels/winograd_weights.c`): `∂L/∂g = Gᵀ [Σ (A dY Aᵀ) ⊙ (Bᵀ d B)] G`
/// over every image and 2×2 tile of the output gradient, 16 products per channel pair and tile
/// where direct correlation takes 36. Channel counts must be multiples of 16 and the CPU must
/// have AVX2+FMA or AVX-512.
///
/// Measured against oneDNN 2.6's backward-weights primitive (`bench/winograd_weights.c`, batch 16,
/// 2-core Xeon with AVX-512, minimum of 7 runs, ms): VGG16's 224×224×64 133/259, 112×112×64→128
/// 60/125, 112×112×128 111/232, 56×56×128→256 68/109, 56×56×256 101/205, 28×28×256→512 53/110,
/// 28×28×512 93/215, 14×14×512 26/48; ResNet50's 56×56×64 9.9/15.1, 28×28×128 7.6/11.4,
/// 14×14×256 8.6/13.1, 7×7×512 13.7/15.4; every one within 1e-6 of a float64 correlation (of
/// the largest value). Each thread keeps its own 16·C·K transform-domain sums, so the route
/// pays a fixed cost per thread that small maps do not repay: at 7×7×512 it is level at batch 16
/// and loses at batch 4 (5.2/4.6 ms). `fits` asks for 128 tiles per thread.
enum WinogradKernelGradient {
    /// Tiles each thread needs for the route to pay for its per-thread sums.
    static let minimumTilesPerThread = 128

    /// Whether a batch of `batch` inputs through geometry `g` takes this route on `threads` threads.
    static func fits(_ g: WindowGeometry, channels: Int, filters: Int, batch: Int, threads: Int) -> Bool {
        WinogradConvolution.fits(g, channels: channels, filters: filters)
            && WinogradConvolution.tiles(batch, g, side: 2) >= minimumTilesPerThread * max(threads, 1)
    }

    /// The HWIO kernel gradient `[3, 3, C, F]` of input `x` `[N, H, W, C]` and output gradient
    /// `dz` `[N, OH, OW, F]` through geometry `g`, or nil when the CPU or the memory declines.
    static func run(input x: Tensor, gradient dz: Tensor, geometry g: WindowGeometry, filters: Int) -> Tensor? {
        let channels = x.shape[3]
        var failed: Int32 = 0
        let dw = Tensor(shape: [3, 3, channels, filters]) { out in
            x.withUnsafeBufferPointer { p in
                dz.withUnsafeBufferPointer { dy in
                    failed = sl_winograd_kernel_gradient(
                        p.baseAddress, dy.baseAddress, Int32(x.shape[0]), Int32(channels), Int32(filters),
                        Int32(g.inputHeight), Int32(g.inputWidth), Int32(g.outputHeight), Int32(g.outputWidth),
                        Int32(g.padTop), Int32(g.padLeft), out.baseAddress, 0)
                }
            }
        }
        return failed == 0 ? dw : nil
    }
}

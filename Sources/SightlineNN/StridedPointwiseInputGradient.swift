internal import CKernels
import SightlineCore

/// The input gradient of a 1×1 convolution with a stride above 1 and no padding (ResNet's
/// downsampling layers) as GEMMs over groups of output rows, scattered onto the input pixels the
/// outputs read, zeros elsewhere (`Sources/CKernels/pointwise_data.c`). No sum crosses threads;
/// a repeat on as many threads ends bitwise equal.
///
/// Measured against oneDNN 2.6's backward-data primitive (`bench/pointwise_weights.c 16 SIZE IN
/// OUT 2`, 2-core Xeon with AVX-512, best of 8, ms, this route / oneDNN, ResNet50's stride-2
/// layers): 56×56 256→512 13.8/15.0, 256→128 5.2/6.8, 28×28 512→1024 12.3/13.7, 512→256
/// 4.0/4.8, 14×14 1024→2048 12.1/18.9, 1024→512 3.3/3.8. On the 2-core Zen 4 VM, with the
/// groups evened out between the threads: 18.9/17.4, 5.6/6.5, 17.6/15.9, 4.7/4.8, 17.9/15.8,
/// 4.5/5.0 (oneDNN leads on the three widest by 1.5–2 ms there; one rule for both CPUs).
enum StridedPointwiseInputGradient {
    /// Whether geometry `g` takes this route: a 1×1 kernel, no padding, a stride above 1.
    static func fits(_ g: WindowGeometry) -> Bool {
        g.kernelHeight == 1 && g.kernelWidth == 1 && g.padTop == 0 && g.padLeft == 0
            && (g.strideY > 1 || g.strideX > 1) && (g.outputHeight - 1) * g.strideY < g.inputHeight
            && (g.outputWidth - 1) * g.strideX < g.inputWidth
    }

    /// `∂L/∂x` `[N, H, W, C]` from `dz` `[N, OH, OW, F]` and the HWIO kernel `[1, 1, C, F]` of a
    /// layer with geometry `g` (`fits`), on `threads` threads, or nil when scratch memory could
    /// not be allocated.
    static func run(gradient dz: Tensor, kernel: Tensor, input shape: [Int], geometry g: WindowGeometry, threads: Int)
        -> Tensor?
    {
        let (channels, filters) = (kernel.shape[2], kernel.shape[3])
        var failed: Int32 = 0
        let dx = Tensor(shape: shape) { out in
            dz.withUnsafeBufferPointer { dy in
                kernel.withUnsafeBufferPointer { w in
                    failed = sl_strided_pointwise_input_gradient(
                        dy.baseAddress, w.baseAddress, Int32(shape[0]), Int32(shape[1]), Int32(shape[2]),
                        Int32(channels), Int32(g.strideY), Int32(g.strideX), Int32(g.outputHeight),
                        Int32(g.outputWidth), Int32(filters), Int32(clamping: threads), out.baseAddress)
                }
            }
        }
        return failed == 0 ? dx : nil
    }
}

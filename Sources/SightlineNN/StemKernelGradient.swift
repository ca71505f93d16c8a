internal import CKernels
import SightlineCore

/// The kernel and bias gradients of a convolution over few input channels (a network's stem:
/// ResNet50's 7×7 stride-2 and VGG16's and MobileNetV2's 3×3 over RGB) as GEMMs over gathered
/// patches (`sl_patch_kernel_gradient`, `Sources/CKernels/pointwise_weights.c`): each chunk of
/// the `[N·OH·OW, KH·KW·C]` windows the outputs read is gathered (zeros outside the input), then
/// `∂L/∂kernel += patchesᵀ dz`, the long reduction split over the threads as in
/// `PointwiseKernelGradient` (partial sums added in order: the result depends on the thread count
/// only, so it repeats bitwise).
///
/// With three input channels oneDNN 2.6's backward-weights primitive leaves most of its vector
/// lanes idle. `bench/stem_weights.c`, 2-core Zen 4 VM, batch 16, 224×224, best of 8, ms, this
/// route / oneDNN: ResNet50's 7×7/2 3→64 25.0 / 27.3, VGG16's 3×3 3→64 32.3 / 48.9, MobileNetV2's
/// 3×3/2 3→32 5.6 / 7.2. The route also applies the layer's ReLU-like derivative chunk by chunk
/// (`run(…, derivative:)`), which saves the stem's separate pass over its largest gradient.
enum StemKernelGradient {
    /// Input channels above which the other routes keep a layer.
    static let maximumChannels = 4

    /// Whether geometry `g` with `channels` inputs takes this route: a window wider than 1×1,
    /// undilated, over at most `maximumChannels` channels.
    static func fits(_ g: WindowGeometry, channels: Int) -> Bool {
        channels <= maximumChannels && g.kernelHeight * g.kernelWidth > 1 && g.dilationY == 1 && g.dilationX == 1
    }

    /// The kernel gradient `[KH, KW, C, F]` and, when `bias`, the bias gradient `[F]` (else zeros)
    /// of input `x` `[N, H, W, C]` and output gradient `dz` `[N, OH, OW, F]` of a layer with
    /// geometry `g` (`fits`), summed over `threads` fixed ranges of rows, each multiplied per
    /// output channel by `columnScale` `[F]` when given (a folded BatchNorm's scale); nil when
    /// scratch memory could not be allocated.
    static func run(
        input x: Tensor, gradient dz: Tensor, geometry g: WindowGeometry, filters: Int, bias wantsBias: Bool,
        threads: Int, columnScale: [Float]?
    ) -> (kernel: Tensor, bias: Tensor)? {
        dz.withUnsafeBufferPointer { dy in
            gradients(
                input: x, gradient: dy.baseAddress, derivative: nil, geometry: g, filters: filters, bias: wantsBias,
                threads: threads, columnScale: columnScale
            ).result
        }
    }

    /// `run(…)` with the layer's ReLU-like derivative applied on the way: `gradient` (∂L/∂output)
    /// plus `other` (the other readers' summed gradient, or nil) becomes the pre-activation
    /// gradient `(gradient + other) · [low < output < high]` chunk by chunk before its GEMM, in
    /// place, or in scratch with `gradient` left as it was when `keepingGradient` (for callers
    /// with no use for the pre-activation gradient: the layer's largest gradient is then neither
    /// copied nor written back). Returns nil when scratch memory could not be allocated (an
    /// in-place `gradient` holds the pre-activation gradient then too) or the shape does not fit
    /// (`gradient` untouched: `applied` is false).
    static func run(
        input x: Tensor, gradient dz: inout Tensor, other: Tensor?, output: Tensor, bounds: (low: Float, high: Float),
        keepingGradient: Bool = false, geometry g: WindowGeometry, filters: Int, bias wantsBias: Bool, threads: Int,
        columnScale: [Float]?
    ) -> (result: (kernel: Tensor, bias: Tensor)?, applied: Bool) {
        // Kept, the gradient is only read: no copy of a buffer that the caller shares.
        func derivative(_ dy: UnsafePointer<Float>?) -> (result: (kernel: Tensor, bias: Tensor)?, applied: Bool) {
            output.withUnsafeBufferPointer { y in
                other.withOptionalPointer { o in
                    var derivative = sl_pointwise_derivative(
                        gradient: UnsafeMutablePointer(mutating: dy), other: o, output: y.baseAddress,
                        low: bounds.low, high: bounds.high, input_derivative: 0, input_low: 0, input_high: 0,
                        keep_gradient: keepingGradient ? 1 : 0)
                    return gradients(
                        input: x, gradient: dy, derivative: &derivative, geometry: g, filters: filters,
                        bias: wantsBias, threads: threads, columnScale: columnScale)
                }
            }
        }
        if keepingGradient { return dz.withUnsafeBufferPointer { derivative($0.baseAddress) } }
        return dz.withUnsafeMutableBufferPointer { derivative($0.baseAddress) }
    }

    /// `sl_patch_kernel_gradient` on `dy` (`[N, OH, OW, F]`); `applied` is false when it touched
    /// nothing (a shape that does not fit).
    private static func gradients(
        input x: Tensor, gradient dy: UnsafePointer<Float>?, derivative: UnsafePointer<sl_pointwise_derivative>?,
        geometry g: WindowGeometry, filters: Int, bias wantsBias: Bool, threads: Int, columnScale: [Float]?
    ) -> (result: (kernel: Tensor, bias: Tensor)?, applied: Bool) {
        let channels = x.shape[3]
        var failed: Int32 = 2
        var bias = Tensor(zeros: [filters])
        let dw = Tensor(shape: [g.kernelHeight, g.kernelWidth, channels, filters]) { out in
            x.withUnsafeBufferPointer { p in
                bias.withUnsafeMutableBufferPointer { db in
                    columnScale.withOptionalPointer { scale in
                        failed = sl_patch_kernel_gradient(
                            p.baseAddress, dy, Int32(x.shape[0]), Int32(x.shape[1]), Int32(x.shape[2]),
                            Int32(channels), Int32(g.kernelHeight), Int32(g.kernelWidth), Int32(g.strideY),
                            Int32(g.strideX), Int32(g.padTop), Int32(g.padLeft), Int32(g.outputHeight),
                            Int32(g.outputWidth), Int32(filters), Int32(clamping: threads), scale, out.baseAddress,
                            wantsBias ? db.baseAddress : nil, derivative)
                    }
                }
            }
        }
        return (failed == 0 ? (dw, bias) : nil, failed != 2)
    }
}

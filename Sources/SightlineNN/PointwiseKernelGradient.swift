internal import CKernels
import SightlineCore

/// The kernel and bias gradients of a 1×1 convolution without padding as plain GEMMs
/// (`Sources/CKernels/pointwise_weights.c`): the input pixels the outputs read as rows
/// `[N·OH·OW, C]` (the input itself at stride 1, gathered a chunk at a time otherwise),
/// `∂L/∂kernel = xᵀ dz` and `∂L/∂bias` the sum of `dz`'s rows, the long reduction split over the
/// threads (one fixed range of rows per thread, partial sums added in order: the result depends
/// on the thread count only, so it repeats bitwise).
///
/// Measured against oneDNN 2.6's backward-weights primitive (`bench/pointwise_weights.c`, 2-core
/// Xeon with AVX-512, batch 16, best of 8, ms, this route without / with bias sums / oneDNN):
/// MobileNetV2's 112×112 16→96 2.9/3.9/9.6, 56×56 24→144 1.5/2.1/3.3, 28×28 32→192 0.5/0.7/1.0,
/// 14×14 96→576 1.4/1.5/1.9; ResNet50's 56×56 64→256 5.3/6.1/9.1, 28×28 128→512 5.1/5.4/6.7,
/// 14×14 256→1024 6.4/7.1/7.5. Wide inputs gain little or lose (14×14 1024→256 7.7 against 6.8,
/// 7×7 960→320 level): `fits` takes stride-1 layers of at most 512 input channels. ResNet50's
/// stride-2 layers, rows gathered (`bench/pointwise_weights.c 16 SIZE IN OUT 2`, same machine,
/// ms, this route / oneDNN): 56×56 256→512 10.6/12.7, 256→128 3.0/3.2, 28×28 512→1024 11.7/12.1,
/// 512→256 2.8/3.1, 14×14 1024→2048 12.7/13.8, 1024→512 2.9/3.3: `fits` takes every strided 1×1
/// layer without padding.
enum PointwiseKernelGradient {
    /// Input channels above which oneDNN's primitive keeps a stride-1 layer.
    static let maximumChannels = 512

    /// Whether geometry `g` with `channels` inputs takes this route: the strided layers the
    /// input-gradient route takes (`StridedPointwiseInputGradient.fits`), and stride-1 ones.
    static func fits(_ g: WindowGeometry, channels: Int) -> Bool {
        guard g.strideY == 1 && g.strideX == 1 else { return StridedPointwiseInputGradient.fits(g) }
        return g.kernelHeight == 1 && g.kernelWidth == 1 && g.padTop == 0 && g.padLeft == 0
            && g.outputHeight == g.inputHeight && g.outputWidth == g.inputWidth && channels <= maximumChannels
    }

    /// Layers whose wider gradient (output or input) has at least this many values (16 MiB: beyond
    /// what the cache keeps between two passes) also get the input gradient from this route
    /// (`run(…, inputGradientOf:)`, stride 1). `bench/pointwise_weights.c`, 2-core Zen 4 VM, batch
    /// 16, best of 8, ms, one pass / oneDNN's backward-data primitive then the GEMMs: MobileNetV2's
    /// 112×112 16→96 10.3 / 12.6, 56×56 24→144 4.9 / 8.1, 144→24 5.3 / 5.7, 112×112 32→16 3.7 /
    /// 3.5; ResNet50's 56×56 64→256 17.9 / 18.7, 256→64 17.6 / 19.2, 28×28 512→128 15.4 / 15.7.
    /// Smaller ones are level or lose up to 0.2 ms (14×14 1024→256 16.1 / 15.9, 64→384 1.9 / 1.7).
    static let sharedPassValues = 1 << 22

    /// The kernel gradient `[1, 1, C, F]` and, when `bias`, the bias gradient `[F]` (else zeros,
    /// and no pass over `dz` for it) of input `x` `[N, H, W, C]` and output gradient `dz`
    /// `[N, OH, OW, F]` of a layer with geometry `g` (`fits`), summed over `threads` fixed ranges
    /// of rows, each multiplied per output channel by `columnScale` `[F]` when given (a folded
    /// BatchNorm's scale, applied as the ranges' sums are added), or nil when scratch memory could
    /// not be allocated.
    static func run(
        input x: Tensor, gradient dz: Tensor, geometry g: WindowGeometry, filters: Int, bias wantsBias: Bool,
        threads: Int, columnScale: [Float]? = nil
    ) -> (kernel: Tensor, bias: Tensor)? {
        run(
            input: x, gradient: dz, geometry: g, filters: filters, bias: wantsBias, threads: threads,
            columnScale: columnScale, inputGradientOf: nil
        ).map { ($0.kernel, $0.bias) }
    }

    /// The ReLU-like activations' derivatives that `run(…, derivative:)` applies on the way.
    struct Derivative {
        /// The layer's own, applied to the output gradient chunk by chunk before its GEMMs,
        /// `(gradient + other) · [low < output < high]`: the other readers' summed gradient (nil:
        /// none), the activation's output (the gradient's shape) and its `clipBounds`.
        var own: (other: Tensor?, output: Tensor, bounds: (low: Float, high: Float))?
        /// The previous layer's `clipBounds`, applied to the input gradient: `dx · [low < x < high]`
        /// (`x`, the layer's input, is that activation's output).
        var input: (low: Float, high: Float)?
    }

    /// `run(…)`, and with `kernel` (the layer's HWIO `[1, 1, C, F]`, stride 1) also the input
    /// gradient `dz · kernelᵀ` `[N, H, W, C]`, chunk by chunk right after the kernel gradient's
    /// GEMM on the same rows of `dz` (which then crosses memory once).
    /// With `inputDerivative` (the previous layer's `clipBounds`; needs `kernel`), the input
    /// gradient is multiplied by that derivative chunk by chunk (`Derivative.input`).
    static func run(
        input x: Tensor, gradient dz: Tensor, geometry g: WindowGeometry, filters: Int, bias wantsBias: Bool,
        threads: Int, columnScale: [Float]?, inputGradientOf kernel: Tensor?,
        inputDerivative: (low: Float, high: Float)? = nil
    ) -> (kernel: Tensor, bias: Tensor, input: Tensor?)? {
        var pending = sl_pointwise_derivative(
            gradient: nil, other: nil, output: nil, low: 0, high: 0, input_derivative: 1,
            input_low: inputDerivative?.low ?? 0, input_high: inputDerivative?.high ?? 0, keep_gradient: 0)
        return dz.withUnsafeBufferPointer { dy in
            withUnsafePointer(to: &pending) { derivative in
                gradients(
                    input: x, gradient: dy.baseAddress, derivative: inputDerivative == nil ? nil : derivative,
                    geometry: g, filters: filters, bias: wantsBias, threads: threads, columnScale: columnScale,
                    inputGradientOf: kernel
                ).result
            }
        }
    }

    /// `run(…, inputGradientOf: kernel)` with the activations' derivatives applied on the way
    /// (`derivative`): `gradient` becomes the pre-activation gradient in place when `own` is given,
    /// chunk by chunk before its GEMMs, so it crosses memory once for the derivative and both
    /// GEMMs. Returns nil when scratch memory could not be allocated (`gradient` holds the
    /// pre-activation gradient then too) or the shape does not fit (`gradient` untouched:
    /// `applied` is false).
    static func run(
        input x: Tensor, gradient dz: inout Tensor, derivative: Derivative, geometry g: WindowGeometry,
        filters: Int, bias wantsBias: Bool, threads: Int, columnScale: [Float]?, inputGradientOf kernel: Tensor
    ) -> (result: (kernel: Tensor, bias: Tensor, input: Tensor?)?, applied: Bool) {
        let own = derivative.own
        let output = own?.output ?? Tensor(zeros: [0])
        let others: Tensor? = own?.other ?? nil
        return dz.withUnsafeMutableBufferPointer { dy in
            output.withUnsafeBufferPointer { y in
                others.withOptionalPointer { other in
                    var pending = sl_pointwise_derivative(
                        gradient: own == nil ? nil : dy.baseAddress, other: other, output: y.baseAddress,
                        low: own?.bounds.low ?? 0, high: own?.bounds.high ?? 0,
                        input_derivative: derivative.input == nil ? 0 : 1, input_low: derivative.input?.low ?? 0,
                        input_high: derivative.input?.high ?? 0, keep_gradient: 0)
                    return gradients(
                        input: x, gradient: dy.baseAddress, derivative: &pending, geometry: g, filters: filters,
                        bias: wantsBias, threads: threads, columnScale: columnScale, inputGradientOf: kernel)
                }
            }
        }
    }

    /// `sl_pointwise_backward` on `dy` (`[N, OH, OW, F]`); `applied` is false when it touched
    /// nothing (a shape that does not fit).
    private static func gradients(
        input x: Tensor, gradient dy: UnsafePointer<Float>?, derivative: UnsafePointer<sl_pointwise_derivative>?,
        geometry g: WindowGeometry, filters: Int, bias wantsBias: Bool, threads: Int, columnScale: [Float]?,
        inputGradientOf kernel: Tensor?
    ) -> (result: (kernel: Tensor, bias: Tensor, input: Tensor?)?, applied: Bool) {
        let channels = x.shape[3]
        var failed: Int32 = 0
        var bias = Tensor(zeros: [filters])
        var dx = kernel.map { _ in Tensor(shape: x.shape) { _ in } }  // every value written, or failed
        let dw = Tensor(shape: [1, 1, channels, filters]) { out in
            x.withUnsafeBufferPointer { p in
                bias.withUnsafeMutableBufferPointer { db in
                    columnScale.withOptionalPointer { scale in
                        kernel.withOptionalPointer { k in
                            dx.withOptionalMutablePointer { di in
                                failed = sl_pointwise_backward(
                                    p.baseAddress, dy, k, Int32(x.shape[0]), Int32(x.shape[1]), Int32(x.shape[2]),
                                    Int32(channels), Int32(g.strideY), Int32(g.strideX), Int32(g.outputHeight),
                                    Int32(g.outputWidth), Int32(filters), Int32(clamping: threads), scale,
                                    out.baseAddress, wantsBias ? db.baseAddress : nil, di, derivative)
                            }
                        }
                    }
                }
            }
        }
        return (failed == 0 ? (dw, bias, dx) : nil, failed != 2)
    }
}

internal import CKernels
import SightlineCore

/// Winograd F(4×4,3×3) on NHWC (`Sources/CKernels/winograd.c`): 2.25× fewer multiplications
/// than direct convolution, for 3×3 stride-1 undilated layers with channel counts that are
/// multiples of 16, on CPUs with AVX2+FMA or AVX-512. The kernel is transformed once, in float64, when the
/// plan is built. Error against a float64 convolution: about 1e-5 of scale per layer.
final class WinogradConvolution: ConvolutionKernel {
    private let plan: OpaquePointer
    private let geometry: WindowGeometry
    private let fallback: ReferenceConvolution
    /// Runs batches with fewer than `minimumTiles` 4×4 output tiles (small maps at batch 1):
    /// there the 36 transformed kernel matrices, 4× the direct kernel's size, are read for too
    /// little work, and direct convolution is faster (study: at 7×7, 32 tiles still win 1.5×).
    private let small: (any ConvolutionKernel)?
    static let minimumTiles = 32

    /// Whether the geometry and channels suit this kernel (the CPU is checked on creation).
    static func fits(_ g: WindowGeometry, channels: Int, filters: Int) -> Bool {
        g.kernelHeight == 3 && g.kernelWidth == 3 && g.strideY == 1 && g.strideX == 1 && g.dilationY == 1
            && g.dilationX == 1
            && channels % 16 == 0 && filters % 16 == 0 && channels > 0 && filters > 0
    }

    /// Prepares `conv`; nil when the CPU lacks AVX2+FMA and AVX-512 or the shape does not fit.
    convenience init?(_ conv: Conv2D, geometry g: WindowGeometry, channels: Int, activation: FusedActivation) {
        self.init(
            kernel: conv.kernel.value, bias: conv.bias?.value, geometry: g, channels: channels, filters: conv.filters,
            activation: activation,
            small: OneDNNConvolution(conv, geometry: g, channels: channels, activation: activation))
    }

    /// Prepares an HWIO `[3, 3, channels, filters]` kernel for geometry `g`.
    init?(
        kernel: Tensor, bias: Tensor?, geometry g: WindowGeometry, channels: Int, filters: Int,
        activation: FusedActivation,
        small: (any ConvolutionKernel)? = nil
    ) {
        guard Self.fits(g, channels: channels, filters: filters) else { return nil }
        var message = [CChar](repeating: 0, count: 256)
        let made = kernel.withUnsafeBufferPointer { w in
            bias.withOptionalPointer { b in
                sl_winograd_create(
                    w.baseAddress, b, Int32(channels), Int32(filters), Int32(g.inputHeight), Int32(g.inputWidth),
                    Int32(g.outputHeight), Int32(g.outputWidth), Int32(g.padTop), Int32(g.padLeft), activation.kind,
                    activation.max, &message, message.count)
            }
        }
        guard let made else { return nil }
        plan = made
        geometry = g
        self.small = small
        fallback = ReferenceConvolution(
            kernel: kernel, bias: bias, filters: filters, geometry: g,
            activation: activation.function)
    }

    deinit { sl_winograd_destroy(plan) }

    var summary: String { "winograd F(4x4,3x3)" + (small == nil ? "" : ", onednn under \(Self.minimumTiles) tiles") }

    func run(_ input: Tensor, into output: inout Tensor, accumulate: Bool) {
        let tiles = input.shape[0] * ((geometry.outputHeight + 3) / 4) * ((geometry.outputWidth + 3) / 4)
        if tiles < Self.minimumTiles, let small {
            small.run(input, into: &output, accumulate: accumulate)
            return
        }
        let failed = input.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer { y in
                sl_winograd_run(plan, x.baseAddress, Int32(input.shape[0]), y.baseAddress, accumulate ? 1 : 0)
            }
        }
        // No scratch memory in any thread: the reference path needs far less.
        if failed != 0 { fallback.run(input, into: &output, accumulate: accumulate) }
    }
}

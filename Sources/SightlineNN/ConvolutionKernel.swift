internal import CKernels
import SightlineCore

/// A convolution algorithm prepared for one layer: weights transformed or reordered once, for
/// inputs of a fixed `[H, W, C]` and any batch size.
///
/// `run` computes `output = activation(conv(input) + bias [+ output])` on NHWC tensors:
/// input `[N, H, W, C]`, output `[N, OH, OW, F]`. With `accumulate`, `output` holds the tensor
/// to add (a ResNet shortcut) on entry; else its contents are ignored. The activation is the
/// one the kernel was made with (`ConvolutionKernels.make` says which it could fuse).
protocol ConvolutionKernel: AnyObject {
    /// What runs, for `inspect --kernels` and profiles: e.g. "winograd F(4x4,3x3)".
    var summary: String { get }
    /// Runs the convolution; `output` must have the output shape.
    func run(_ input: Tensor, into output: inout Tensor, accumulate: Bool)
    /// Runs the convolution with `residual` (the output's shape) added, leaving `residual`
    /// untouched: for a shortcut that backward still reads, which `accumulate` would have to copy.
    func run(_ input: Tensor, adding residual: Tensor, into output: inout Tensor)
}

extension ConvolutionKernel {
    /// The residual copied into `output`, then accumulated into: kernels that cannot read the
    /// residual from a tensor of its own.
    func run(_ input: Tensor, adding residual: Tensor, into output: inout Tensor) {
        output = residual
        run(input, into: &output, accumulate: true)
    }
}

/// The epilogue activations every kernel can fuse: none, or a ReLU clipped at `max` (relu6).
struct FusedActivation: Equatable {
    var kind: sl_activation
    var max: Float

    static let none = FusedActivation(kind: SL_ACT_NONE, max: .infinity)

    /// The fused form of `activation`, or nil when it must run as a separate pass.
    init?(_ activation: ActivationFunction) {
        switch activation {
        case .linear: self = .none
        case .relu(let maxValue, let slope) where slope == 0: self.init(kind: SL_ACT_RELU, max: maxValue ?? .infinity)
        default: return nil
        }
    }

    init(kind: sl_activation, max: Float) {
        self.kind = kind
        self.max = max
    }

    /// The same activation as an `ActivationFunction` (for the reference fallback).
    var function: ActivationFunction {
        kind == SL_ACT_RELU ? .relu(maxValue: max.isFinite ? max : nil) : .linear
    }
}

/// The choice of a kernel per layer, made when a plan is built.
enum ConvolutionKernels {
    /// A kernel for `conv` on inputs of `[height, width, channels]`, computing
    /// `activation(conv + bias [+ residual])`. Returns the kernel and the activation that is
    /// still to be applied (`.linear` when fused).
    ///
    /// The rule, from the measurements in `bench/conv-routes.md` (2-core EPYC, AVX-512 and AVX2):
    /// Winograd F(4×4,3×3) ran every 3×3 stride-1 layer of VGG16 and ResNet50 1.5–3× faster
    /// than oneDNN's direct convolution, down to 7×7 maps; oneDNN's direct convolution beat
    /// im2col+sgemm on every other shape (stem 2.5×); narrow 1×1 layers add a shortcut after
    /// chunked GEMMs instead (`PointwiseConvolution`). Winograd needs AVX2+FMA or AVX-512 and
    /// channel counts that are multiples of 16, and takes F(2×2,3×3) for batches with fewer than 32
    /// 4×4 output tiles and oneDNN below 32 2×2 tiles (`WinogradConvolution`); anything a kernel
    /// cannot prepare falls back to the next route. A precision other than fp32 sends every layer
    /// to oneDNN's direct convolution in that precision, except where native bf16 is slower than
    /// fp32 on this CPU (`EngineOptions.convolutionPrecision(_:channels:filters:)`).
    ///
    /// With `batch`, the kernel serves that batch size only (Winograd transforms the one tile
    /// side it runs with): for kernels rebuilt with every step's weights.
    static func make(
        _ conv: Conv2D, height: Int, width: Int, channels: Int, activation: ActivationFunction, options: EngineOptions,
        batch: Int? = nil
    ) -> (kernel: any ConvolutionKernel, remaining: ActivationFunction) {
        let g = conv.geometry(height: height, width: width)
        // Where native bf16 runs, and where fp32 Winograd keeps a layer under it: `BF16Hardware`.
        // Emulated bf16 keeps every layer in bf16 (it exists to show bf16's rounding on any CPU).
        let precision = options.convolutionPrecision(g, channels: channels, filters: conv.filters)
        if precision != .fp32, let fused = FusedActivation(activation) {
            return (
                OneDNNConvolution(
                    conv, geometry: g, channels: channels, activation: fused, precision: precision), .linear
            )
        }
        if precision != .fp32 {
            return (
                OneDNNConvolution(
                    conv, geometry: g, channels: channels, activation: .none, precision: precision), activation
            )
        }
        guard options.convolution != .reference, let fused = FusedActivation(activation) else {
            let fused = FusedActivation(activation) != nil
            return (
                ReferenceConvolution(conv, geometry: g, activation: fused ? activation : .linear),
                fused ? .linear : activation
            )
        }
        if options.convolution == .auto, WinogradConvolution.fits(g, channels: channels, filters: conv.filters),
            let kernel = WinogradConvolution(conv, geometry: g, channels: channels, activation: fused, batch: batch)
        {
            return (kernel, .linear)
        }
        if options.convolution == .auto, PointwiseConvolution.fits(g, channels: channels) {
            return (PointwiseConvolution(conv, geometry: g, channels: channels, activation: fused), .linear)
        }
        return (OneDNNConvolution(conv, geometry: g, channels: channels, activation: fused), .linear)
    }
}

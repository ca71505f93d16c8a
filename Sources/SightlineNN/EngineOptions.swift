internal import CKernels
import SightlineCore

/// Which algorithm runs a convolution.
public enum ConvolutionRoute: String, Sendable, CaseIterable {
    /// The per-layer rule of `ConvolutionKernels.make`: Winograd F(4×4,3×3) for 3×3 stride-1
    /// layers whose channel counts are multiples of 16, oneDNN direct convolution for the rest.
    case auto
    /// im2col + sgemm, the original implementation: the reference every other route is tested against.
    case reference
    /// oneDNN direct convolution for every layer (no Winograd).
    case direct
}

/// The arithmetic of the convolutions: their forward pass, and in training their backward pass
/// (input, kernel and output gradient rounded alike, gradients accumulated in float32).
///
/// Depthwise convolutions, dense layers, normalisation, pooling, the loss, the weights and the
/// optimizer's state stay float32 under every choice.
public enum Precision: String, Sendable, CaseIterable {
    /// Float32 everywhere: the default, and what every fidelity figure refers to.
    case fp32
    /// Convolution sources and weights rounded to bfloat16, products accumulated in float32
    /// (oneDNN's bf16 convolutions, direct route, no Winograd), where the CPU runs them faster
    /// than float32 (`BF16Hardware`): every convolution with AMX; on AMD's AVX512_BF16 all but
    /// the 3×3 layers that keep float32 Winograd; on Intel's AVX512_BF16 without AMX none (it
    /// computes as `fp32`, faster there); without either as `bf16Emulated` (the same rounding,
    /// float32 instructions), which the command line refuses (`effective`).
    case bf16
    /// The same rounding of sources and weights as `bf16`, computed with float32 instructions
    /// on any CPU: slower than `fp32`, for measuring what bf16 does to a model before running it
    /// on a CPU that has it. Products of two bfloat16 values are exact in float32, so this
    /// differs from `bf16` only in summation order.
    case bf16Emulated = "bf16-emulated"

    /// True when this CPU runs `.bf16` (AVX512_BF16 or AMX, as oneDNN detects it); asked once,
    /// since every convolution's backward pass reads it through `effective`.
    public static let bf16Available: Bool = sl_cpu_has_bf16() != 0

    /// True when oneDNN runs bf16 on AMX tiles here (where bf16 convolutions outrun fp32 Winograd).
    public static let amxAvailable: Bool = sl_cpu_has_amx() != 0

    /// The arithmetic convolutions run in on this CPU, forward and backward, when this precision
    /// is asked for: `bf16` computes as `bf16Emulated` on a CPU without bf16 instructions and as
    /// `fp32` on an Intel one without AMX, where oneDNN's bf16 convolutions lost to fp32 on every
    /// layer kind measured (`BF16Hardware`); the others as asked. Under `bf16` some layers may
    /// still run fp32 where that is faster (`EngineOptions.convolutionPrecision(_:channels:filters:)`).
    public var effective: Precision { BF16Hardware.current.effective(self) }
}

/// Engine settings, passed explicitly: a `Graph` holds them and hands them to each inference
/// plan and each recorded (training) pass it runs, and from there to the kernels. Layers do not
/// keep them, since graphs made by `prefix(through:)` share their layer objects.
public struct EngineOptions: Sendable, Hashable {
    /// How convolutions are computed.
    public var convolution: ConvolutionRoute
    /// The arithmetic of the convolutions (float32 by default).
    public var precision: Precision
    /// Threads in the team the engine's loops and oneDNN run on; nil: the process's default
    /// team (`OMP_NUM_THREADS`, else every core the process may use).
    public var threads: Int?

    public init(convolution: ConvolutionRoute = .auto, precision: Precision = .fp32, threads: Int? = nil) {
        self.convolution = convolution
        self.precision = precision
        self.threads = threads
    }

    /// Sizes the engine's thread team for a run under these options. The team is libgomp's,
    /// one per process (`Parallel`), so the count goes to it when a plan or a recorded pass
    /// starts, not when options are built; a run with `threads == nil` restores the default.
    func applyThreads() {
        Parallel.setThreadCount(threads ?? 0)
    }
}

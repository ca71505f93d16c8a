internal import CKernels
import SightlineCore

/// How this CPU runs oneDNN 2.6's bf16 convolutions against Sightline's float32 routes, which
/// decides where `--precision bf16` computes in bf16 (`Precision.effective`,
/// `EngineOptions.convolutionPrecision(_:channels:filters:)`).
///
/// Read once per process from the instruction sets oneDNN detects and the CPU's vendor. The
/// rule is fixed, never timed at run time, so that a run and its repeat compute alike. Figures:
/// `bench/bf16_backward.c` and `bench/winograd_layers.c … bf16`, batch 16, 2 threads, best of
/// several runs (docs/benchmarks.md).
public enum BF16Hardware: String, Sendable {
    /// Neither AVX512_BF16 nor AMX: `bf16` computes as `bf16Emulated`.
    case none
    /// AVX512_BF16 on an Intel CPU without AMX (Cooper Lake, or Sapphire Rapids with AMX not
    /// exposed, as on the project's 2-core Xeon VM). There VDPBF16PS does no more work per cycle
    /// than two FMA ports, and oneDNN's bf16 convolutions, conversions included, lost to float32
    /// on every layer kind: ResNet50 batch 8 on one core, all bf16 10.2 img/s, fp32 24.5. So
    /// `bf16` computes as `fp32`, never a slowdown.
    case slowerThanFP32
    /// AVX512_BF16 on AMD (Zen 4 and later), where a VDPBF16PS does twice the work of a float32
    /// FMA. On a 2-core EPYC (Zen 4) oneDNN's bf16 backward ran 1.2–1.9× its float32 backward on
    /// ResNet50's layers, and its bf16 forward and backward beat Sightline's float32 Winograd on
    /// 3×3 layers with 7×7 maps, tied at 14×14 and lost from 28×28 up. So `bf16` runs bf16 except
    /// on the 3×3 layers that keep float32 Winograd (`EngineOptions.convolutionPrecision(_:channels:filters:)`).
    case dotProducts
    /// AMX (Sapphire Rapids and later): oneDNN runs bf16 on its tiles, faster than float32
    /// Winograd on every layer kind (16-core Xeon: ResNet50 1.7–1.8× fp32). Every convolution
    /// runs bf16.
    case amx

    /// This CPU's class.
    public static let current: BF16Hardware = {
        if sl_cpu_has_amx() != 0 { return .amx }
        if sl_cpu_has_bf16() == 0 { return .none }
        return sl_cpu_is_amd() != 0 ? .dotProducts : .slowerThanFP32
    }()
}

extension BF16Hardware {
    /// What `asked` computes as on this class of CPU, model-wide (`Precision.effective`):
    /// `bf16` as `bf16Emulated` without the instructions, as `fp32` where oneDNN's bf16 is
    /// slower, else as asked.
    public func effective(_ asked: Precision) -> Precision {
        guard asked == .bf16 else { return asked }
        switch self {
        case .none: return .bf16Emulated
        case .slowerThanFP32: return .fp32
        case .dotProducts, .amx: return .bf16
        }
    }

    /// The arithmetic one convolution computes in, forward and backward, when `asked` runs on
    /// the `route` on this class of CPU: `effective(asked)`, except that on `dotProducts` CPUs a
    /// 3×3 layer that the `auto` route runs by float32 Winograd keeps it when its output has at
    /// least `winogradTiles` 4×4 tiles per image (maps of 13×13 and up). The rule depends on the
    /// layer's shape only, not on the batch, so that a layer computes alike in every batch,
    /// forward and backward.
    ///
    /// - Parameters:
    ///   - g: the layer's window geometry on its input.
    ///   - channels: input channels; `filters`: output channels.
    func precision(
        _ asked: Precision, route: ConvolutionRoute, convolution g: WindowGeometry, channels: Int, filters: Int
    ) -> Precision {
        let precision = effective(asked)
        guard precision == .bf16, self == .dotProducts, route == .auto,
            WinogradConvolution.fits(g, channels: channels, filters: filters)
        else { return precision }
        return WinogradConvolution.tiles(1, g, side: 4) >= Self.winogradTiles ? .fp32 : .bf16
    }

    /// 4×4 output tiles per image from which float32 Winograd outruns oneDNN's bf16 on
    /// `dotProducts` CPUs. Zen 4, batch 16, ms forward / input gradient / kernel gradient,
    /// Winograd against bf16: 56×56×64 8.1/8.3/8.2 against 9.3/9.8/12.7; 28×28×128 6.4/6.8/7.0
    /// against 8.8/8.4/9.2; 14×14×256 (16 tiles) 7.5/7.5/9.1 against 8.1/8.5/9.1; 7×7×512 (4
    /// tiles) 8.9/9.3/13.0 against 7.2/9.8/9.8.
    static let winogradTiles = 16
}

extension EngineOptions {
    /// The arithmetic a convolution of geometry `g` over `channels` inputs with `filters`
    /// outputs computes in under these options on this CPU (`BF16Hardware.precision`).
    func convolutionPrecision(_ g: WindowGeometry, channels: Int, filters: Int) -> Precision {
        BF16Hardware.current.precision(
            precision, route: convolution, convolution: g, channels: channels, filters: filters)
    }
}

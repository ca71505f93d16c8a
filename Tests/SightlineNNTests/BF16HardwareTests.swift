import SightlineCore
import Testing

@testable import SightlineNN

/// Where `--precision bf16` computes in bf16 (`BF16Hardware`): the rule for every class of CPU,
/// checked on any CPU, and the kernels and gradients this CPU's class actually gets.
struct BF16HardwareTests {
    typealias Case = ConvolutionKernelTests.Case

    /// ResNet50's layer kinds at batch 1 (the rule ignores the batch).
    static let layers: [(Case, winogradKept: Bool)] = [
        (Case(label: "3x3 64 @56", batch: 1, height: 56, width: 56, channels: 64, filters: 64, kernel: 3), true),
        (Case(label: "3x3 256 @14", batch: 1, height: 14, width: 14, channels: 256, filters: 256, kernel: 3), true),
        (Case(label: "3x3 512 @7", batch: 1, height: 7, width: 7, channels: 512, filters: 512, kernel: 3), false),
        (Case(label: "1x1 64->256 @56", batch: 1, height: 56, width: 56, channels: 64, filters: 256, kernel: 1), false),
        (
            Case(
                label: "stem 7x7/2 3->64", batch: 1, height: 32, width: 32, channels: 3, filters: 64, kernel: 7,
                stride: 2, padding: .valid), false
        ),
        (
            Case(
                label: "3x3/2 128", batch: 1, height: 28, width: 28, channels: 128, filters: 128, kernel: 3, stride: 2),
            false
        ),
    ]

    static func geometry(_ c: Case) throws -> (Conv2D, WindowGeometry) {
        let conv = try ConvolutionKernelTests.operands(c).0
        return (conv, conv.geometry(height: c.height, width: c.width))
    }

    @Test("bf16 runs where it is faster: every layer with AMX, none on Intel without AMX, emulated without bf16")
    func wholeModelClasses() throws {
        for (c, _) in Self.layers {
            let (conv, g) = try Self.geometry(c)
            func on(_ hardware: BF16Hardware, _ asked: Precision, route: ConvolutionRoute = .auto) -> Precision {
                hardware.precision(asked, route: route, convolution: g, channels: c.channels, filters: conv.filters)
            }
            #expect(on(.amx, .bf16) == .bf16, "\(c.label)")
            #expect(on(.slowerThanFP32, .bf16) == .fp32, "\(c.label)")
            #expect(on(.none, .bf16) == .bf16Emulated, "\(c.label)")
            for hardware in [BF16Hardware.none, .slowerThanFP32, .dotProducts, .amx] {
                #expect(on(hardware, .fp32) == .fp32 && on(hardware, .bf16Emulated) == .bf16Emulated, "\(c.label)")
            }
        }
        #expect(BF16Hardware.amx.effective(.bf16) == .bf16 && BF16Hardware.dotProducts.effective(.bf16) == .bf16)
        #expect(BF16Hardware.slowerThanFP32.effective(.bf16) == .fp32)
        #expect(BF16Hardware.none.effective(.bf16) == .bf16Emulated)
    }

    @Test("on AMD's AVX512_BF16, 3×3 layers on maps of 13×13 and up keep fp32 Winograd, the rest run bf16")
    func dotProductsKeepWinogradOnLargeMaps() throws {
        for (c, kept) in Self.layers {
            let (conv, g) = try Self.geometry(c)
            let auto = BF16Hardware.dotProducts.precision(
                .bf16, route: .auto, convolution: g, channels: c.channels, filters: conv.filters)
            #expect(auto == (kept ? .fp32 : .bf16), "\(c.label): \(auto)")
            // Without the Winograd route there is nothing faster to keep.
            let direct = BF16Hardware.dotProducts.precision(
                .bf16, route: .direct, convolution: g, channels: c.channels, filters: conv.filters)
            #expect(direct == .bf16, "\(c.label)")
        }
    }

    @Test("this CPU's kernels follow its class", .enabled(if: Precision.bf16Available))
    func kernelsFollowThisCPU() throws {
        for (c, kept) in Self.layers {
            let conv = try ConvolutionKernelTests.operands(c).0
            let made = ConvolutionKernels.make(
                conv, height: c.height, width: c.width, channels: c.channels, activation: .relu,
                options: EngineOptions(precision: .bf16))
            let summary = made.kernel.summary
            switch BF16Hardware.current {
            case .amx: #expect(summary.contains("bf16") && !summary.contains("emulated"), "\(c.label): \(summary)")
            case .slowerThanFP32: #expect(!summary.contains("bf16"), "\(c.label): \(summary)")
            case .dotProducts:
                #expect(kept ? made.kernel is WinogradConvolution : summary.contains("bf16"), "\(c.label): \(summary)")
            case .none: Issue.record("bf16Available on a CPU classed without bf16")
            }
        }
    }

    @Test(
        "on AMD's AVX512_BF16, a layer that keeps Winograd trains bitwise as fp32; a bf16 layer does not",
        .enabled(if: BF16Hardware.current == .dotProducts))
    func dotProductsGradients() throws {
        for c in [
            Case(label: "3x3 32 @13", batch: 2, height: 13, width: 13, channels: 32, filters: 32, kernel: 3),
            Case(label: "3x3 32 @8", batch: 2, height: 8, width: 8, channels: 32, filters: 32, kernel: 3),
        ] {
            let (conv, x, _) = try ConvolutionKernelTests.operands(c)
            let dz = ConvolutionKernelTests.random([c.batch, c.height, c.width, c.filters], seed: 9)
            let bf16 = BFloat16TrainingTests.gradients(conv, x, dz, options: EngineOptions(precision: .bf16))
            let fp32 = BFloat16TrainingTests.gradients(conv, x, dz, options: EngineOptions())
            let same = zip(bf16, fp32).allSatisfy { $0.scalars == $1.scalars }
            if c.height >= 13 {
                #expect(same, "\(c.label): the kept Winograd layer's gradients are the fp32 ones")
            } else {
                #expect(!same, "\(c.label): the bf16 layer's gradients carry bf16's rounding")
                for (got, want) in zip(bf16, fp32) {
                    #expect(BFloat16TrainingTests.relative(got, want) < 2e-2, "\(c.label): within bf16's deviation")
                }
            }
        }
    }
}

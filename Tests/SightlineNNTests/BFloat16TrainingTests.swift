import SightlineCore
import Testing

@testable import SightlineNN

/// bf16 training (`finetune --precision bf16|bf16-emulated`): a convolution's backward pass
/// rounds its input, output gradient and kernel to bfloat16 and accumulates in float32. The
/// emulation is checked against the float32 reference route run on rounded copies (products of
/// two bfloat16 values are exact in float32, so only summation order differs), its distance from
/// fp32 is that of bf16 rounding, and (only on a CPU with AVX512_BF16 or AMX) oneDNN's native
/// bf16 backward primitives agree with the emulation.
struct BFloat16TrainingTests {
    static let cases = [
        ConvolutionKernelTests.Case(
            label: "3x3 same 32->48", batch: 2, height: 9, width: 9, channels: 32, filters: 48, kernel: 3),
        ConvolutionKernelTests.Case(
            label: "3x3 stride 2 valid 16->32", batch: 2, height: 11, width: 11, channels: 16, filters: 32, kernel: 3,
            stride: 2, padding: .valid),
        ConvolutionKernelTests.Case(
            label: "1x1 64->16", batch: 3, height: 7, width: 7, channels: 64, filters: 16, kernel: 1),
    ]

    /// The input, kernel and bias gradients of one backward pass of `conv` under `options`.
    static func gradients(_ conv: Conv2D, _ x: Tensor, _ dz: Tensor, options: EngineOptions) -> [Tensor] {
        for parameter in conv.parameters { parameter.zeroGradient() }
        let forward = conv.forward([x], mode: .training, options: options)
        let dx = conv.backward(dz, inputs: [x], forward: forward, mode: .training, needs: .all, options: options)
        return dx + conv.parameters.compactMap(\.gradient)
    }

    static func relative(_ got: Tensor, _ want: Tensor) -> Double {
        let scale = want.scalars.map { Double(abs($0)) }.max() ?? 1
        return (zip(got.scalars, want.scalars).map { Double(abs($0 - $1)) }.max() ?? 0) / max(scale, 1e-30)
    }

    @Test("bf16-emulated gradients equal float32 gradients of the rounded operands", arguments: cases)
    func emulatedBackward(_ c: ConvolutionKernelTests.Case) throws {
        let (conv, x, _) = try ConvolutionKernelTests.operands(c)
        let g = conv.geometry(height: c.height, width: c.width)
        let dz = ConvolutionKernelTests.random([c.batch, g.outputHeight, g.outputWidth, c.filters], seed: 9)
        let emulated = Self.gradients(conv, x, dz, options: EngineOptions(precision: .bf16Emulated))
        let exact = Self.gradients(conv, x, dz, options: EngineOptions(convolution: .reference))
        let roundedConv = Conv2D(
            name: "rounded", kernel: conv.kernel.value.roundedToBFloat16(), bias: conv.bias?.value,
            strides: conv.strides, padding: conv.padding, dilation: conv.dilation)
        let reference = Self.gradients(
            roundedConv, x.roundedToBFloat16(), dz.roundedToBFloat16(), options: EngineOptions(convolution: .reference))
        #expect(emulated.count == 3 && reference.count == 3)
        for (index, name) in ["input", "kernel", "bias"].enumerated() {
            let toRounded = Self.relative(emulated[index], reference[index])
            let toExact = Self.relative(emulated[index], exact[index])
            #expect(toRounded < 1e-5, "\(c.label) \(name): \(toRounded) from float32 on rounded operands")
            #expect(toExact < 2e-2, "\(c.label) \(name): bf16 deviation \(toExact)")
            if name != "bias" {
                #expect(toExact > 1e-5, "\(c.label) \(name): the operands were rounded (\(toExact))")
            }
        }
    }

    @Test("oneDNN's native bf16 backward primitives agree with the emulation", arguments: cases)
    func nativeBackward(_ c: ConvolutionKernelTests.Case) throws {
        guard Precision.bf16Available else { return }  // oneDNN offers only its reference code there
        let (conv, x, _) = try ConvolutionKernelTests.operands(c)
        let g = conv.geometry(height: c.height, width: c.width)
        let dz = ConvolutionKernelTests.random([c.batch, g.outputHeight, g.outputWidth, c.filters], seed: 9)
        let shape = conv.backwardShape(g, channels: c.channels)
        let kernels = OneDNNConvolutionBackward()
        let dx = try #require(
            kernels.inputGradient(shape, kernel: conv.kernel.value, input: x.shape, gradient: dz, bf16: true))
        let (dw, db) = try #require(
            kernels.weightGradients(shape, kernelShape: conv.kernel.value.shape, input: x, gradient: dz, bf16: true))
        let emulated = Self.gradients(conv, x, dz, options: EngineOptions(precision: .bf16Emulated))
        for (name, native, want) in [
            ("input", dx, emulated[0]), ("kernel", dw, emulated[1]), ("bias", db, emulated[2]),
        ] {
            #expect(Self.relative(native, want) < 1e-4, "\(c.label) \(name): \(Self.relative(native, want))")
        }
        // Both passes on one bfloat16 copy of dz (what a training step runs): bitwise the same.
        let both = try #require(
            kernels.gradients(shape, kernel: conv.kernel.value, input: x, gradient: dz, bf16: true))
        let same = both.input.scalars == dx.scalars && both.kernel.scalars == dw.scalars
        #expect(same && both.bias.scalars == db.scalars)
    }

    @Test("bf16 trains as fp32 on Intel without AMX (faster there), as its emulation without bf16")
    func effectivePrecision() throws {
        let c = Self.cases[0]
        let (conv, x, _) = try ConvolutionKernelTests.operands(c)
        let dz = ConvolutionKernelTests.random([c.batch, c.height, c.width, c.filters], seed: 9)
        let asked = Self.gradients(conv, x, dz, options: EngineOptions(precision: .bf16))
        let expected: Precision =
            switch BF16Hardware.current {
            case .none: .bf16Emulated
            case .slowerThanFP32: .fp32
            case .dotProducts, .amx: .bf16
            }
        #expect(Precision.bf16.effective == expected && Precision.bf16Emulated.effective == .bf16Emulated)
        if expected != .bf16 {
            let same = Self.gradients(conv, x, dz, options: EngineOptions(precision: expected))
            #expect(zip(asked, same).allSatisfy { $0.scalars == $1.scalars }, "bitwise the \(expected) step")
        }
    }
}

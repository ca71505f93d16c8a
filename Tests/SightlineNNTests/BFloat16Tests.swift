import Foundation
import SightlineCore
import Testing

@testable import SightlineNN

/// `--precision bf16` and `bf16-emulated`: the rounding, the emulated convolution against a
/// float64 convolution of the rounded operands, its distance from fp32, and (only on a CPU with
/// AVX512_BF16 or AMX) oneDNN's native bf16 convolution against the emulation.
struct BFloat16Tests {
    @Test("rounding to bfloat16 is to nearest, ties to even; NaN and infinities are kept")
    func roundsToNearestEven() {
        let ulp: Float = 1.0 / 128  // bfloat16 keeps 7 fraction bits: spacing 2^-7 in [1, 2)
        var values = Tensor(
            shape: [8],
            scalars: [
                1, 1 + ulp / 2, 1 + 3 * ulp / 2, 1 + ulp / 2 + ulp / 16, -(1 + ulp / 4), .infinity, .nan, 3.1415927,
            ])
        values.roundToBFloat16()
        let s = values.scalars
        #expect(s[0] == 1)
        #expect(s[1] == 1, "a tie rounds to the even neighbour 1.0")
        #expect(s[2] == 1 + 2 * ulp, "a tie rounds to the even neighbour 1 + 2^-6")
        #expect(s[3] == 1 + ulp, "above the tie rounds up")
        #expect(s[4] == -1)
        #expect(s[5] == .infinity && s[6].isNaN)
        #expect(s[7] == 3.140625, "pi in bfloat16")
    }

    /// The cases of `ConvolutionKernelTests` that oneDNN runs (every shape).
    static let cases = ConvolutionKernelTests.cases

    @Test(
        "bf16-emulated equals a float64 convolution of the rounded operands, and stays within 1e-2 of fp32",
        arguments: cases)
    func emulatedConvolution(_ c: ConvolutionKernelTests.Case) throws {
        let (conv, x, residual) = try ConvolutionKernelTests.operands(c)
        let g = conv.geometry(height: c.height, width: c.width)
        let fused = try #require(FusedActivation(c.activation))
        let kernel = OneDNNConvolution(
            conv, geometry: g, channels: c.channels, activation: fused, precision: .bf16Emulated)
        #expect(kernel.summary.contains("bf16-emulated"))
        var output = c.residual ? residual : Tensor(repeating: .nan, shape: residual.shape)
        kernel.run(x, into: &output, accumulate: c.residual)

        var roundedKernel = conv.kernel.value
        var roundedInput = x
        roundedKernel.roundToBFloat16()
        roundedInput.roundToBFloat16()
        let rounded = Conv2D(
            name: "rounded", kernel: roundedKernel, bias: conv.bias?.value, strides: conv.strides,
            padding: conv.padding,
            dilation: conv.dilation)
        var toRounded = (worst: 0.0, scale: 1e-30)
        var toExact = (worst: 0.0, scale: 1e-30)
        for (n, oy, ox) in ConvolutionKernelTests.samplePixels(
            batch: c.batch, height: g.outputHeight, width: g.outputWidth)
        {
            let r = c.residual ? residual : nil
            let expectedRounded = ConvolutionKernelTests.reference(rounded, roundedInput, r, c, n: n, oy: oy, ox: ox)
            let expectedExact = ConvolutionKernelTests.reference(conv, x, r, c, n: n, oy: oy, ox: ox)
            let base = ((n * g.outputHeight + oy) * g.outputWidth + ox) * c.filters
            for f in 0..<c.filters {
                let got = Double(output.scalars[base + f])
                toRounded.worst = max(toRounded.worst, abs(got - expectedRounded[f]))
                toRounded.scale = max(toRounded.scale, abs(expectedRounded[f]))
                toExact.worst = max(toExact.worst, abs(got - expectedExact[f]))
                toExact.scale = max(toExact.scale, abs(expectedExact[f]))
            }
        }
        let emulationError = toRounded.worst / toRounded.scale
        let bf16Error = toExact.worst / toExact.scale
        #expect(emulationError < 1e-5, "products of bfloat16 values are exact in float32: only summation order differs")
        #expect(bf16Error < 1e-2, "bf16 deviation \(bf16Error)")
        #expect(bf16Error > 1e-5, "the operands were rounded (deviation \(bf16Error) is no larger than fp32's)")
    }

    @Test("a bf16 precision sends every convolution to oneDNN in that precision; fp32 keeps the rule")
    func precisionChoosesOneDNN() throws {
        let three = try ConvolutionKernelTests.operands(try ConvolutionKernelTests.case("r50 3x3 512 @7 +residual")).0
        let options = EngineOptions(convolution: .auto, precision: .bf16Emulated)
        let made = ConvolutionKernels.make(
            three, height: 7, width: 7, channels: 512, activation: .relu, options: options)
        #expect(made.kernel is OneDNNConvolution && made.remaining == .linear)
        let swish = ConvolutionKernels.make(
            three, height: 7, width: 7, channels: 512, activation: .swish, options: options)
        #expect(swish.kernel is OneDNNConvolution && swish.remaining == .swish)
        #expect(
            ConvolutionKernels.make(
                three, height: 7, width: 7, channels: 512, activation: .relu, options: EngineOptions()
            ).kernel is WinogradConvolution)
    }

    @Test("bf16 computes as its emulation on a CPU without the instructions")
    func bf16WithoutTheInstructions() throws {
        let stem = try ConvolutionKernelTests.operands(try ConvolutionKernelTests.case("r50 stem 7x7/2 3->64 valid")).0
        let made = ConvolutionKernels.make(
            stem, height: 21, width: 21, channels: 3, activation: .relu, options: EngineOptions(precision: .bf16))
        let summary = made.kernel.summary
        #expect(
            Precision.bf16Available ? !summary.contains("emulated") : summary.contains("bf16-emulated"), "\(summary)")
    }

    @Test(
        "native bf16 (oneDNN on AVX512_BF16/AMX) matches the emulation", .enabled(if: Precision.bf16Available),
        arguments: cases)
    func nativeMatchesEmulation(_ c: ConvolutionKernelTests.Case) throws {
        let (conv, x, residual) = try ConvolutionKernelTests.operands(c)
        let g = conv.geometry(height: c.height, width: c.width)
        let fused = try #require(FusedActivation(c.activation))
        func run(_ precision: Precision) -> Tensor {
            var output = c.residual ? residual : Tensor(repeating: .nan, shape: residual.shape)
            OneDNNConvolution(conv, geometry: g, channels: c.channels, activation: fused, precision: precision)
                .run(x, into: &output, accumulate: c.residual)
            return output
        }
        let native = run(.bf16)
        let emulated = run(.bf16Emulated)
        let scale = emulated.scalars.map(abs).max() ?? 1
        #expect(native.maxAbsoluteDifference(emulated) / max(scale, 1e-30) < 1e-5)
    }
}

import SightlineCore
import Testing

@testable import SightlineNN

/// The input gradient of strided 1×1 layers as scattered GEMMs (`StridedPointwiseInputGradient`)
/// against float64 sums computed here: every pixel an output read gets its row of dz times the
/// kernel's transpose, every other pixel exactly 0; and the same bits when repeated.
struct StridedPointwiseInputGradientTests {
    @Test(
        "strided 1x1 input gradients match float64 sums, zeros between",
        arguments: [
            (2, 14, 14, 64, 32, 2), (1, 9, 10, 24, 40, 2), (3, 7, 7, 8, 300, 3), (1, 5, 6, 16, 16, 4),
            (5, 28, 28, 16, 24, 2),  // four GEMM groups of 18, 18, 18 and 16 output rows, two per thread
        ])
    func matchesFloat64(_ shape: (Int, Int, Int, Int, Int, Int)) throws {
        let (batch, height, width, channels, filters, stride) = shape
        let g = WindowGeometry(
            inputHeight: height, inputWidth: width, kernel: (1, 1), strides: (stride, stride), padding: .valid)
        #expect(StridedPointwiseInputGradient.fits(g))
        let kernel = ConvolutionKernelTests.random([1, 1, channels, filters], seed: 3)
        let dz = ConvolutionKernelTests.random([batch, g.outputHeight, g.outputWidth, filters], seed: 4)
        let input = [batch, height, width, channels]
        let dx = try #require(
            StridedPointwiseInputGradient.run(gradient: dz, kernel: kernel, input: input, geometry: g, threads: 2))
        #expect(dx.shape == input)
        let (w, d, got) = (kernel.scalars, dz.scalars, dx.scalars)
        var worst = 0.0
        var scale = 0.0
        for n in 0..<batch {
            for y in 0..<height {
                for x in 0..<width {
                    let pixel = ((n * height + y) * width + x) * channels
                    let (oy, ox) = (y / stride, x / stride)
                    let read = y % stride == 0 && x % stride == 0 && oy < g.outputHeight && ox < g.outputWidth
                    for c in 0..<channels {
                        var sum = 0.0
                        if read {
                            let row = ((n * g.outputHeight + oy) * g.outputWidth + ox) * filters
                            for f in 0..<filters { sum += Double(d[row + f]) * Double(w[c * filters + f]) }
                        } else {
                            #expect(got[pixel + c].bitPattern == 0, "pixel (\(y), \(x)) is not read")
                        }
                        worst = max(worst, abs(Double(got[pixel + c]) - sum))
                        scale = max(scale, abs(sum))
                    }
                }
            }
        }
        #expect(worst / scale < 1e-5)
        let again = try #require(
            StridedPointwiseInputGradient.run(gradient: dz, kernel: kernel, input: input, geometry: g, threads: 2))
        #expect(again.scalars == dx.scalars)
    }

    @Test func paddedAndUnstridedLayersDoNotFit() {
        let unstrided = WindowGeometry(inputHeight: 8, inputWidth: 8, kernel: (1, 1), strides: (1, 1), padding: .valid)
        let wide = WindowGeometry(inputHeight: 8, inputWidth: 8, kernel: (3, 3), strides: (2, 2), padding: .valid)
        let padded = WindowGeometry(
            inputHeight: 8, inputWidth: 8, kernel: (1, 1), strides: (2, 2),
            padding: .explicit(top: 1, bottom: 0, left: 1, right: 0))
        #expect(!StridedPointwiseInputGradient.fits(unstrided))
        #expect(!StridedPointwiseInputGradient.fits(wide))
        #expect(!StridedPointwiseInputGradient.fits(padded))
    }
}

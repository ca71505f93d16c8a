import SightlineCore
import Testing

@testable import SightlineNN

/// The 1×1 kernel and bias gradients as row-split GEMMs (`PointwiseKernelGradient`) against
/// float64 sums computed here, over row counts that do not divide into the threads' chunks; and
/// the route as a training step of a 1×1 layer takes it.
struct PointwiseKernelGradientTests {
    @Test(
        "1x1 kernel and bias gradients match float64 sums and repeat bitwise",
        arguments: [(1, 7, 16, 48), (3, 23, 64, 256), (2, 5, 512, 8)])
    func matchesFloat64(_ shape: (Int, Int, Int, Int)) throws {
        let (batch, size, channels, filters) = shape
        let x = ConvolutionKernelTests.random([batch, size, size, channels], seed: 5)
        let dz = ConvolutionKernelTests.random([batch, size, size, filters], seed: 6)
        let (dw, db) = try #require(
            PointwiseKernelGradient.run(input: x, gradient: dz, filters: filters, bias: true, threads: 2))
        #expect(dw.shape == [1, 1, channels, filters] && db.shape == [filters])
        let rows = batch * size * size
        let (xs, ds) = (x.scalars, dz.scalars)
        var expected = [Double](repeating: 0, count: channels * filters)
        var expectedBias = [Double](repeating: 0, count: filters)
        for r in 0..<rows {
            for f in 0..<filters { expectedBias[f] += Double(ds[r * filters + f]) }
            for c in 0..<channels {
                let a = Double(xs[r * channels + c])
                for f in 0..<filters { expected[c * filters + f] += a * Double(ds[r * filters + f]) }
            }
        }
        func relative(_ got: [Float], _ want: [Double]) -> Double {
            let scale = want.map(abs).max() ?? 1
            return (zip(got, want).map { abs(Double($0) - $1) }.max() ?? 0) / scale
        }
        #expect(relative(dw.scalars, expected) < 1e-5)
        #expect(relative(db.scalars, expectedBias) < 1e-5)
        let again = try #require(
            PointwiseKernelGradient.run(input: x, gradient: dz, filters: filters, bias: true, threads: 2))
        #expect(again.kernel.scalars == dw.scalars && again.bias.scalars == db.scalars)
        // Without the bias sums the kernel gradient is the same.
        let kernelOnly = try #require(
            PointwiseKernelGradient.run(input: x, gradient: dz, filters: filters, bias: false, threads: 2))
        #expect(kernelOnly.kernel.scalars == dw.scalars)
    }

    @Test("a training step of a 1x1 layer takes the route; strided and wide layers do not")
    func layerTakesTheRoute() throws {
        let c = ConvolutionKernelTests.Case(
            label: "1x1 64->128", batch: 4, height: 9, width: 9, channels: 64, filters: 128, kernel: 1,
            padding: .valid)
        let (conv, x, upstream) = try ConvolutionKernelTests.operands(c)
        let g = conv.geometry(height: 9, width: 9)
        #expect(PointwiseKernelGradient.fits(g, channels: 64))
        #expect(!PointwiseKernelGradient.fits(g, channels: 1024))
        let strided = WindowGeometry(inputHeight: 8, inputWidth: 8, kernel: (1, 1), strides: (2, 2), padding: .valid)
        #expect(!PointwiseKernelGradient.fits(strided, channels: 64))
        let options = EngineOptions()
        for parameter in conv.parameters { parameter.zeroGradient() }
        let forward = conv.forward([x], mode: .training, options: options)
        _ = conv.backward(upstream, inputs: [x], forward: forward, mode: .training, needs: .all, options: options)
        // The route's result for the thread count the layer ran with (tests running alongside may
        // change the engine's count, so any of the counts they set will do).
        let routes = try (1...4).map { threads in
            try #require(
                PointwiseKernelGradient.run(input: x, gradient: upstream, filters: 128, bias: true, threads: threads))
        }
        #expect(
            routes.contains {
                $0.kernel.scalars == conv.kernel.gradient?.scalars && $0.bias.scalars == conv.bias?.gradient?.scalars
            })
    }
}

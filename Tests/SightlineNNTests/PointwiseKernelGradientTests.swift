import SightlineCore
import Testing

@testable import SightlineNN

/// The 1×1 kernel and bias gradients as row-split GEMMs (`PointwiseKernelGradient`) against
/// float64 sums computed here, over row counts that do not divide into the threads' chunks and
/// strides whose rows are gathered (odd sides leave a last row and column unread); and the route
/// as a training step of a 1×1 layer takes it.
struct PointwiseKernelGradientTests {
    @Test(
        "1x1 kernel and bias gradients match float64 sums and repeat bitwise",
        arguments: [
            (1, 7, 16, 48, 1), (3, 23, 64, 256, 1), (2, 5, 512, 8, 1), (3, 23, 64, 40, 2), (2, 14, 1024, 24, 2),
            (1, 9, 8, 16, 3), (1, 1, 16, 32, 1),
        ])
    func matchesFloat64(_ shape: (Int, Int, Int, Int, Int)) throws {
        let (batch, size, channels, filters, stride) = shape
        let g = WindowGeometry(
            inputHeight: size, inputWidth: size, kernel: (1, 1), strides: (stride, stride), padding: .valid)
        let x = ConvolutionKernelTests.random([batch, size, size, channels], seed: 5)
        let dz = ConvolutionKernelTests.random([batch, g.outputHeight, g.outputWidth, filters], seed: 6)
        #expect(PointwiseKernelGradient.fits(g, channels: channels))
        let (xs, ds) = (x.scalars, dz.scalars)
        var expected = [Double](repeating: 0, count: channels * filters)
        var expectedBias = [Double](repeating: 0, count: filters)
        for n in 0..<batch {
            for oy in 0..<g.outputHeight {
                for ox in 0..<g.outputWidth {
                    let r = (n * g.outputHeight + oy) * g.outputWidth + ox
                    let pixel = (n * size + oy * stride) * size + ox * stride
                    for f in 0..<filters { expectedBias[f] += Double(ds[r * filters + f]) }
                    for c in 0..<channels {
                        let a = Double(xs[pixel * channels + c])
                        for f in 0..<filters { expected[c * filters + f] += a * Double(ds[r * filters + f]) }
                    }
                }
            }
        }
        let dw = try Self.checkRoute(kernel: expected, bias: expectedBias) { columnScale in
            PointwiseKernelGradient.run(
                input: x, gradient: dz, geometry: g, filters: filters, bias: true, threads: 2, columnScale: columnScale)
        }
        #expect(dw.shape == [1, 1, channels, filters])
        // Without the bias sums the kernel gradient is the same.
        let kernelOnly = try #require(
            PointwiseKernelGradient.run(
                input: x, gradient: dz, geometry: g, filters: filters, bias: false, threads: 2))
        #expect(kernelOnly.kernel.scalars == dw.scalars)
    }

    /// What the row-split kernel-gradient routes (1×1 layers, stems) promise on one shape: the
    /// kernel and bias gradients within 1e-5 of float64 sums `kernel` and `bias`, a repeat
    /// bitwise equal, and a folded BatchNorm's scale, applied as the threads' sums are added,
    /// equal to the separate pass's (with one pixel on two threads, one range of rows is empty).
    /// `run` takes the column scale (nil: none). Returns the kernel gradient.
    static func checkRoute(
        kernel expected: [Double], bias expectedBias: [Double], _ run: ([Float]?) -> (kernel: Tensor, bias: Tensor)?
    ) throws -> Tensor {
        let (dw, db) = try #require(run(nil))
        #expect(dw.count == expected.count && db.count == expectedBias.count)
        func relative(_ got: [Float], _ want: [Double]) -> Double {
            let scale = want.map(abs).max() ?? 1
            return (zip(got, want).map { abs(Double($0) - $1) }.max() ?? 0) / scale
        }
        #expect(relative(dw.scalars, expected) < 1e-5)
        #expect(relative(db.scalars, expectedBias) < 1e-5)
        let again = try #require(run(nil))
        #expect(again.kernel.scalars == dw.scalars && again.bias.scalars == db.scalars)
        let columnScale = (0..<db.count).map { Float(0.5 + 0.03 * Double($0 % 31)) }
        let scaled = try #require(run(columnScale))
        let kernelEqual = scaled.kernel.scalars == dw.scalarsScaled(by: columnScale)
        let biasEqual = scaled.bias.scalars == db.scalarsScaled(by: columnScale)
        #expect(kernelEqual && biasEqual)
        return dw
    }

    @Test("a training step of a 1x1 layer takes the route; wide stride-1 and padded layers do not")
    func layerTakesTheRoute() throws {
        let c = ConvolutionKernelTests.Case(
            label: "1x1 64->128", batch: 4, height: 9, width: 9, channels: 64, filters: 128, kernel: 1,
            padding: .valid)
        let (conv, x, upstream) = try ConvolutionKernelTests.operands(c)
        let g = conv.geometry(height: 9, width: 9)
        #expect(PointwiseKernelGradient.fits(g, channels: 64))
        #expect(!PointwiseKernelGradient.fits(g, channels: 1024))
        let strided = WindowGeometry(inputHeight: 8, inputWidth: 8, kernel: (1, 1), strides: (2, 2), padding: .valid)
        #expect(PointwiseKernelGradient.fits(strided, channels: 1024))
        let padded = WindowGeometry(
            inputHeight: 8, inputWidth: 8, kernel: (1, 1), strides: (1, 1),
            padding: .explicit(top: 1, bottom: 1, left: 1, right: 1))
        #expect(!PointwiseKernelGradient.fits(padded, channels: 64))
        let options = EngineOptions()
        for parameter in conv.parameters { parameter.zeroGradient() }
        let forward = conv.forward([x], mode: .training, options: options)
        _ = conv.backward(upstream, inputs: [x], forward: forward, mode: .training, needs: .all, options: options)
        // The route's result for the thread count the layer ran with (tests running alongside may
        // change the engine's count, so any of the counts they set will do).
        let routes = try (1...4).map { threads in
            try #require(
                PointwiseKernelGradient.run(
                    input: x, gradient: upstream, geometry: g, filters: 128, bias: true, threads: threads))
        }
        #expect(
            routes.contains {
                $0.kernel.scalars == conv.kernel.gradient?.scalars && $0.bias.scalars == conv.bias?.gradient?.scalars
            })
    }

    @Test("a wide 1x1 stride-1 layer takes both gradients from one pass over its output gradient")
    func wideLayerSharesThePass() throws {
        // 2×128×128×128 output gradient values: at least `sharedPassValues`.
        let c = ConvolutionKernelTests.Case(
            label: "1x1 16->128", batch: 2, height: 128, width: 128, channels: 16, filters: 128, kernel: 1,
            padding: .valid)
        let (conv, x, upstream) = try ConvolutionKernelTests.operands(c)
        #expect(upstream.count >= PointwiseKernelGradient.sharedPassValues)
        let g = conv.geometry(height: 128, width: 128)
        func gradients(_ options: EngineOptions) -> (input: Tensor, kernel: Tensor?) {
            for parameter in conv.parameters { parameter.zeroGradient() }
            let forward = conv.forward([x], mode: .training, options: options)
            let dx = conv.backward(
                upstream, inputs: [x], forward: forward, mode: .training, needs: .all, options: options)
            return (dx[0], conv.kernel.gradient)
        }
        let shared = gradients(EngineOptions())
        // The shared pass gave both, for the thread count the layer ran with.
        let routes = try (1...4).map { threads in
            try #require(
                PointwiseKernelGradient.run(
                    input: x, gradient: upstream, geometry: g, filters: 128, bias: true, threads: threads,
                    columnScale: nil, inputGradientOf: conv.kernel.value))
        }
        let taken = routes.contains {
            $0.kernel.scalars == shared.kernel?.scalars && $0.input?.scalars == shared.input.scalars
        }
        #expect(taken)
        // Both equal the reference route's (im2col-free GEMMs against oneDNN's primitives).
        let reference = gradients(EngineOptions(convolution: .reference))
        let inputGap =
            shared.input.maxAbsoluteDifference(reference.input) / (reference.input.scalars.map(abs).max() ?? 1)
        #expect(inputGap < 1e-5)
        let kernelReference = try #require(reference.kernel)
        let kernelGap = try #require(shared.kernel).maxAbsoluteDifference(kernelReference)
        #expect(kernelGap / (kernelReference.scalars.map(abs).max() ?? 1) < 1e-5)
    }

    /// A layer with a ReLU (or ReLU6) whose output two readers use (a ResNet block output: the
    /// next block and its shortcut) gets the derivative of their summed gradients inside the
    /// shared pass: the same pre-activation gradient as the separate pass before the GEMMs, bit
    /// for bit, and so the same gradients.
    @Test(
        "a ReLU's derivative inside the shared pass equals the separate pass",
        arguments: [ActivationFunction.relu(), .relu(maxValue: 6)], [false, true])
    func derivativeInsideThePass(_ activation: ActivationFunction, withOther: Bool) throws {
        let c = ConvolutionKernelTests.Case(
            label: "1x1 16->128", batch: 2, height: 128, width: 128, channels: 16, filters: 128, kernel: 1,
            padding: .valid)
        let (plain, x, upstream) = try ConvolutionKernelTests.operands(c)
        let conv = Conv2D(
            name: "conv", kernel: plain.kernel.value, bias: plain.bias?.value, strides: (1, 1), padding: .valid,
            dilation: (1, 1), activation: activation)
        let g = conv.geometry(height: 128, width: 128)
        let forward = conv.forward([x], mode: .training, options: EngineOptions())
        let others = withOther ? [ConvolutionKernelTests.random(upstream.shape, seed: 9)] : []
        // Compared as a Bool: a failed comparison of millions of values would be slow to print.
        let same = { (a: Tensor, b: Tensor) in a.scalars.map(\.bitPattern) == b.scalars.map(\.bitPattern) }
        // The separate pass, then both gradients.
        let dz = activation.gradient(upstream, adding: others, output: forward.output, input: forward.saved.first)
        #expect(dz.scalars.contains(0) && dz.scalars.contains { $0 != 0 }, "the derivative masks some values")
        for parameter in conv.parameters { parameter.zeroGradient() }
        let separate = conv.backward(preActivation: dz, input: x, needs: .all, options: EngineOptions())
        let (kernel, bias) = (try #require(conv.kernel.gradient), try #require(conv.bias?.gradient))
        // The C route itself, with a NaN in the gradient: a multiply keeps it.
        var direct = upstream
        direct.withUnsafeMutableBufferPointer { $0[0] = .nan }
        let bounds = try #require(activation.clipBounds)
        let derivative = PointwiseKernelGradient.Derivative(own: (others.first, forward.output, bounds), input: nil)
        let (result, applied) = PointwiseKernelGradient.run(
            input: x, gradient: &direct, derivative: derivative, geometry: g, filters: 128, bias: true,
            threads: Parallel.threadCount, columnScale: nil, inputGradientOf: conv.kernel.value)
        #expect(applied && result != nil)
        #expect(direct.scalars[0].isNaN)
        let restSame = direct.scalars.dropFirst().map(\.bitPattern) == dz.scalars.dropFirst().map(\.bitPattern)
        #expect(restSame)
        // The layer's backward from the gradient reaching its output.
        for parameter in conv.parameters { parameter.zeroGradient() }
        let fused = conv.backward(
            outputGradient: upstream, adding: others, forward: forward, input: x, needs: .all, options: EngineOptions())
        #expect(same(fused.preActivation, dz))
        // The sums follow the thread count, which tests running beside this one may change
        // between the two passes: the GEMMs' results are compared to within rounding.
        let close = { (a: Tensor, b: Tensor) in
            a.maxAbsoluteDifference(b) <= 1e-6 * max(b.scalars.map(abs).max() ?? 1, 1e-30)
        }
        #expect(close(fused.inputGradients[0], separate[0]))
        #expect(close(try #require(conv.kernel.gradient), kernel))
        #expect(close(try #require(conv.bias?.gradient), bias))
        // The previous layer's derivative on the input gradient (x is that layer's output; here
        // unit-normal, so about half of it is masked), with and without the layer's own.
        let previous = ActivationFunction.relu(maxValue: 1)
        let masked = previous.gradient(separate[0], output: x)
        #expect(masked.scalars.contains(0) && masked.scalars.contains { $0 != 0 })
        let both = conv.backward(
            outputGradient: upstream, adding: others, forward: forward, input: x, needs: .all, options: EngineOptions(),
            inputActivation: previous)
        #expect(close(both.inputGradients[0], masked))
        let inputOnly = conv.backward(
            preActivation: dz, input: x, needs: .all, options: EngineOptions(), gradientScale: nil,
            inputActivation: previous)
        #expect(close(inputOnly[0], masked))
    }

}

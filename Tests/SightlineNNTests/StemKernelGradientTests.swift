import SightlineCore
import Testing

@testable import SightlineNN

/// The kernel and bias gradients of convolutions over few input channels as GEMMs over gathered
/// patches (`StemKernelGradient`) against float64 sums computed here: windows that leave the
/// input on every side, uneven padding (a `ZeroPadding2D` folded in), strides that leave a last
/// row unread, row counts that do not divide into the threads' chunks. Then a stem layer's
/// training backward with its ReLU derivative inside the pass against the separate pass.
struct StemKernelGradientTests {
    /// (batch, size, channels, filters, window, stride, padding).
    typealias Shape = (Int, Int, Int, Int, Int, Int, Padding)

    @Test(
        "stem kernel and bias gradients match float64 sums and repeat bitwise",
        arguments: [
            (2, 15, 3, 64, 7, 2, .same), (1, 9, 3, 32, 3, 2, .explicit(top: 0, bottom: 1, left: 0, right: 1)),
            (3, 8, 1, 16, 3, 1, .same), (1, 10, 4, 24, 5, 3, .valid), (1, 6, 3, 8, 7, 1, .same),
        ] as [Shape])
    func matchesFloat64(_ shape: Shape) throws {
        let (batch, size, channels, filters, window, stride, padding) = shape
        let g = WindowGeometry(
            inputHeight: size, inputWidth: size, kernel: (window, window), strides: (stride, stride), padding: padding)
        let x = ConvolutionKernelTests.random([batch, size, size, channels], seed: 5)
        let dz = ConvolutionKernelTests.random([batch, g.outputHeight, g.outputWidth, filters], seed: 6)
        #expect(StemKernelGradient.fits(g, channels: channels))
        let (xs, ds) = (x.scalars, dz.scalars)
        var expected = [Double](repeating: 0, count: window * window * channels * filters)
        var expectedBias = [Double](repeating: 0, count: filters)
        for n in 0..<batch {
            for oy in 0..<g.outputHeight {
                for ox in 0..<g.outputWidth {
                    let r = (n * g.outputHeight + oy) * g.outputWidth + ox
                    for f in 0..<filters { expectedBias[f] += Double(ds[r * filters + f]) }
                    for ky in 0..<window {
                        for kx in 0..<window {
                            let (iy, ix) = (oy * stride - g.padTop + ky, ox * stride - g.padLeft + kx)
                            guard iy >= 0 && iy < size && ix >= 0 && ix < size else { continue }
                            for c in 0..<channels {
                                let a = Double(xs[((n * size + iy) * size + ix) * channels + c])
                                let row = ((ky * window + kx) * channels + c) * filters
                                for f in 0..<filters { expected[row + f] += a * Double(ds[r * filters + f]) }
                            }
                        }
                    }
                }
            }
        }
        let dw = try PointwiseKernelGradientTests.checkRoute(kernel: expected, bias: expectedBias) { columnScale in
            StemKernelGradient.run(
                input: x, gradient: dz, geometry: g, filters: filters, bias: true, threads: 2, columnScale: columnScale)
        }
        #expect(dw.shape == [window, window, channels, filters])
    }

    @Test("1x1 windows, dilated windows and wide inputs are left to the other routes")
    func fitsOnlyStems() {
        let stem = WindowGeometry(inputHeight: 32, inputWidth: 32, kernel: (7, 7), strides: (2, 2), padding: .same)
        #expect(StemKernelGradient.fits(stem, channels: 3))
        #expect(!StemKernelGradient.fits(stem, channels: 16))
        let pointwise = WindowGeometry(inputHeight: 32, inputWidth: 32, kernel: (1, 1), padding: .valid)
        #expect(!StemKernelGradient.fits(pointwise, channels: 3))
        let dilated = WindowGeometry(
            inputHeight: 32, inputWidth: 32, kernel: (3, 3), dilation: (2, 2), padding: .same)
        #expect(!StemKernelGradient.fits(dilated, channels: 3))
    }

    /// A stem with a ReLU whose input needs no gradient (the image): the derivative is applied
    /// inside the kernel gradient's pass. The pre-activation gradient is the separate pass's bit
    /// for bit, and the parameters' gradients equal the reference engine's (oneDNN's primitives
    /// and im2col GEMMs) to rounding.
    @Test(
        "a stem's ReLU derivative inside its kernel-gradient pass equals the separate pass",
        arguments: [ActivationFunction.relu(), .relu(maxValue: 6)], [false, true])
    func derivativeInsideThePass(_ activation: ActivationFunction, withOther: Bool) throws {
        let c = ConvolutionKernelTests.Case(
            label: "7x7/2 3->64", batch: 2, height: 40, width: 38, channels: 3, filters: 64, kernel: 7, stride: 2)
        let (plain, x, upstream) = try ConvolutionKernelTests.operands(c)
        let conv = Conv2D(
            name: "conv1", kernel: plain.kernel.value, bias: plain.bias?.value, strides: (2, 2), padding: .same,
            dilation: (1, 1), activation: activation)
        let forward = conv.forward([x], mode: .training, options: EngineOptions())
        let others = withOther ? [ConvolutionKernelTests.random(upstream.shape, seed: 9)] : []
        let dz = activation.gradient(upstream, adding: others, output: forward.output, input: forward.saved.first)
        #expect(dz.scalars.contains(0) && dz.scalars.contains { $0 != 0 }, "the derivative masks some values")
        for parameter in conv.parameters { parameter.zeroGradient() }
        _ = conv.backward(
            preActivation: dz, input: x, needs: .parameters, options: EngineOptions(convolution: .reference))
        let (kernel, bias) = (try #require(conv.kernel.gradient), try #require(conv.bias?.gradient))
        for parameter in conv.parameters { parameter.zeroGradient() }
        let fused = conv.backward(
            outputGradient: upstream, adding: others, forward: forward, input: x, needs: .parameters,
            options: EngineOptions())
        #expect(fused.inputGradients.isEmpty)
        let preActivationSame = fused.preActivation.scalars.map(\.bitPattern) == dz.scalars.map(\.bitPattern)
        #expect(preActivationSame)
        let close = { (a: Tensor, b: Tensor) in
            a.maxAbsoluteDifference(b) <= 1e-5 * max(b.scalars.map(abs).max() ?? 1, 1e-30)
        }
        #expect(close(try #require(conv.kernel.gradient), kernel))
        #expect(close(try #require(conv.bias?.gradient), bias))
        // The route's own result for the thread count the layer ran with (tests running alongside
        // may change the engine's count: any of the counts they set will do).
        let g = conv.geometry(height: c.height, width: c.width)
        let routes = try (1...4).map { threads in
            try #require(
                StemKernelGradient.run(
                    input: x, gradient: dz, geometry: g, filters: 64, bias: true, threads: threads, columnScale: nil))
        }
        #expect(routes.contains { $0.kernel.scalars == conv.kernel.gradient?.scalars })
    }

    /// The layer's own backward (an unfused step: VGG16's first convolution with its ReLU) takes
    /// the same pass with the derivative in scratch: the gradient it was handed is left as it was,
    /// and the parameters' gradients equal the separate pass's.
    @Test("a stem's layer backward leaves its output gradient untouched")
    func layerBackwardKeepsTheGradient() throws {
        let c = ConvolutionKernelTests.Case(
            label: "3x3 3->64", batch: 2, height: 33, width: 30, channels: 3, filters: 64, kernel: 3)
        let (plain, x, upstream) = try ConvolutionKernelTests.operands(c)
        let conv = Conv2D(
            name: "block1_conv1", kernel: plain.kernel.value, bias: plain.bias?.value, strides: (1, 1),
            padding: .same, dilation: (1, 1), activation: .relu())
        let forward = conv.forward([x], mode: .training, options: EngineOptions())
        let before = upstream.scalars.map(\.bitPattern)  // a copy (scalars shares the storage)
        for parameter in conv.parameters { parameter.zeroGradient() }
        let inputs = conv.backward(
            upstream, inputs: [x], forward: forward, mode: .training, needs: .parameters, options: EngineOptions())
        #expect(inputs.isEmpty)
        let untouched = upstream.scalars.map(\.bitPattern) == before  // a Bool: quick to print
        #expect(untouched, "the gradient is only read")
        let (kernel, bias) = (try #require(conv.kernel.gradient), try #require(conv.bias?.gradient))
        // The separate pass: the derivative, then the reference engine's gradients.
        let dz = ActivationFunction.relu().gradient(upstream, output: forward.output)
        #expect(dz.scalars.contains(0) && dz.scalars.contains { $0 != 0 }, "the derivative masks some values")
        for parameter in conv.parameters { parameter.zeroGradient() }
        _ = conv.backward(
            preActivation: dz, input: x, needs: .parameters, options: EngineOptions(convolution: .reference))
        let close = { (a: Tensor, b: Tensor) in
            a.maxAbsoluteDifference(b) <= 1e-5 * max(b.scalars.map(abs).max() ?? 1, 1e-30)
        }
        #expect(close(kernel, try #require(conv.kernel.gradient)))
        #expect(close(bias, try #require(conv.bias?.gradient)))
    }
}

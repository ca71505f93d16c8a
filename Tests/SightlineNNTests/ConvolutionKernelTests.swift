import Foundation
import SightlineCore
import Testing

@testable import SightlineNN

/// Every convolution kernel (im2col+sgemm reference, oneDNN direct, Winograd F(4×4,3×3) and
/// F(2×2,3×3)) against a float64 direct convolution computed here, on the layer shapes of VGG16 and
/// ResNet50 (channel counts as in the models, maps reduced so the float64 loops stay quick),
/// odd map sizes, `same`/`valid`/explicit padding, strides, dilation, batch 1 and batches that
/// do not fill a Winograd tile block, with residual accumulation and fused ReLU/ReLU6.
/// The bar is the project's fidelity bar, 1e-4 of the output's scale; Winograd's error is about
/// 1e-5 (see `bench/conv-routes.md`).
struct ConvolutionKernelTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var label: String
        var batch: Int, height: Int, width: Int, channels: Int, filters: Int
        var kernel: Int, stride: Int = 1, dilation: Int = 1
        var padding: Padding = .same
        var activation: ActivationFunction = .linear
        var residual = false
        var testDescription: String { label }
    }

    static let cases: [Case] = [
        Case(
            label: "r50 stem 7x7/2 3->64 valid", batch: 2, height: 21, width: 21, channels: 3, filters: 64, kernel: 7,
            stride: 2, padding: .valid, activation: .relu),
        Case(
            label: "r50 1x1 64->256 +residual+relu", batch: 1, height: 14, width: 14, channels: 64, filters: 256,
            kernel: 1, padding: .valid, activation: .relu, residual: true),
        Case(
            label: "1x1 96->512 +residual, rows over two chunks", batch: 2, height: 15, width: 15, channels: 96,
            filters: 512, kernel: 1, padding: .valid, residual: true),
        Case(
            label: "1x1 32->48 +residual+relu6", batch: 3, height: 5, width: 7, channels: 32, filters: 48, kernel: 1,
            padding: .valid, activation: .relu(maxValue: 6), residual: true),
        Case(
            label: "r50 1x1/2 256->128", batch: 3, height: 14, width: 14, channels: 256, filters: 128, kernel: 1,
            stride: 2, padding: .valid),
        Case(
            label: "r50 3x3 64 odd map relu", batch: 3, height: 13, width: 11, channels: 64, filters: 64, kernel: 3,
            activation: .relu),
        Case(
            label: "r50 3x3 512 @7 +residual", batch: 1, height: 7, width: 7, channels: 512, filters: 512, kernel: 3,
            residual: true),
        Case(
            label: "r50 3x3/2 128 same", batch: 2, height: 15, width: 15, channels: 128, filters: 128, kernel: 3,
            stride: 2),
        Case(
            label: "vgg 3x3 3->64 relu", batch: 1, height: 17, width: 17, channels: 3, filters: 64, kernel: 3,
            activation: .relu),
        Case(
            label: "vgg 3x3 128->256 valid", batch: 2, height: 10, width: 9, channels: 128, filters: 256, kernel: 3,
            padding: .valid, activation: .relu),
        Case(
            label: "vgg 3x3 512->512 @14 batch 5", batch: 5, height: 14, width: 14, channels: 512, filters: 512,
            kernel: 3, activation: .relu),
        Case(
            label: "3x3 dilation 2", batch: 1, height: 12, width: 12, channels: 32, filters: 32, kernel: 3, dilation: 2),
        Case(
            label: "3x3 relu6 one tile", batch: 1, height: 3, width: 5, channels: 32, filters: 16, kernel: 3,
            activation: .relu(maxValue: 6)),
        Case(
            label: "3x3 explicit asymmetric padding", batch: 2, height: 8, width: 9, channels: 16, filters: 48,
            kernel: 3,
            padding: .explicit(top: 0, bottom: 1, left: 2, right: 0)),
    ]

    /// The case labelled `label`.
    static func `case`(_ label: String) throws -> Case { try #require(cases.first { $0.label == label }) }

    static func random(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
        var generator = SeededGenerator(seed: seed)
        return Tensor(shape: shape) { for i in 0..<$0.count { $0[i] = generator.nextNormal() * scale } }
    }

    /// The layer, input and residual of a case: He-scaled weights, unit-normal inputs.
    static func operands(_ c: Case) throws -> (Conv2D, Tensor, Tensor) {
        let fanIn = Float(c.kernel * c.kernel * c.channels)
        let conv = Conv2D(
            name: "conv",
            kernel: random([c.kernel, c.kernel, c.channels, c.filters], seed: 1, scale: (2 / fanIn).squareRoot()),
            bias: random([c.filters], seed: 2, scale: 0.1), strides: (c.stride, c.stride), padding: c.padding,
            dilation: (c.dilation, c.dilation))
        let outShape = try conv.outputShape(for: [[c.height, c.width, c.channels]])
        return (conv, random([c.batch, c.height, c.width, c.channels], seed: 3), random([c.batch] + outShape, seed: 4))
    }

    /// Output pixels to check: every corner and edge midpoint of every image, plus a spread.
    static func samplePixels(batch: Int, height: Int, width: Int) -> [(Int, Int, Int)] {
        var pixels: [(Int, Int, Int)] = []
        for n in 0..<batch {
            for y in [0, height / 2, height - 1] { for x in [0, width / 2, width - 1] { pixels.append((n, y, x)) } }
            pixels.append((n, (n * 5 + 1) % height, (n * 3 + 2) % width))
        }
        return pixels
    }

    /// The float64 value of every filter at output pixel (n, oy, ox).
    static func reference(_ conv: Conv2D, _ x: Tensor, _ residual: Tensor?, _ c: Case, n: Int, oy: Int, ox: Int)
        -> [Double]
    {
        let g = conv.geometry(height: c.height, width: c.width)
        let w = conv.kernel.value.scalars
        let b = conv.bias?.value.scalars ?? []
        var sums = (0..<c.filters).map { Double(b[$0]) }
        for ky in 0..<c.kernel {
            let iy = oy * c.stride - g.padTop + ky * c.dilation
            guard iy >= 0 && iy < c.height else { continue }
            for kx in 0..<c.kernel {
                let ix = ox * c.stride - g.padLeft + kx * c.dilation
                guard ix >= 0 && ix < c.width else { continue }
                for ch in 0..<c.channels {
                    let v = Double(x.scalars[((n * c.height + iy) * c.width + ix) * c.channels + ch])
                    let row = ((ky * c.kernel + kx) * c.channels + ch) * c.filters
                    for f in 0..<c.filters { sums[f] += v * Double(w[row + f]) }
                }
            }
        }
        let base = ((n * g.outputHeight + oy) * g.outputWidth + ox) * c.filters
        return sums.enumerated().map { f, s in
            var v = s + (residual.map { Double($0.scalars[base + f]) } ?? 0)
            if case .relu(let top, _) = c.activation { v = min(max(v, 0), Double(top ?? .infinity)) }
            return v
        }
    }

    /// Runs `kernel` and returns the largest error at the sampled pixels relative to the scale
    /// (largest magnitude) of the float64 outputs there. `keptResidual`: the residual is passed
    /// as a tensor of its own (a shortcut backward still reads), which must come back unchanged.
    static func relativeError(_ kernel: any ConvolutionKernel, _ c: Case, keptResidual: Bool = false) throws -> Double {
        let (conv, x, residual) = try operands(c)
        var output = c.residual && !keptResidual ? residual : Tensor(repeating: .nan, shape: residual.shape)
        if keptResidual {
            let before = residual.scalars.map { $0 }
            kernel.run(x, adding: residual, into: &output)
            #expect(residual.scalars == before, "\(kernel.summary) wrote into the kept residual")
        } else {
            kernel.run(x, into: &output, accumulate: c.residual)
        }
        let g = conv.geometry(height: c.height, width: c.width)
        var worst = 0.0
        var scale = 1e-30
        for (n, oy, ox) in samplePixels(batch: c.batch, height: g.outputHeight, width: g.outputWidth) {
            let expected = reference(conv, x, c.residual ? residual : nil, c, n: n, oy: oy, ox: ox)
            let base = ((n * g.outputHeight + oy) * g.outputWidth + ox) * c.filters
            for f in 0..<c.filters {
                let got = Double(output.scalars[base + f])
                worst = max(worst, got.isFinite ? abs(got - expected[f]) : .infinity)
                scale = max(scale, abs(expected[f]))
            }
        }
        return worst / scale
    }

    @Test("every route matches a float64 convolution", arguments: cases)
    func routesMatchFloat64(_ c: Case) throws {
        let (conv, _, _) = try Self.operands(c)
        let g = conv.geometry(height: c.height, width: c.width)
        let fused = try #require(FusedActivation(c.activation))
        let reference = ReferenceConvolution(conv, geometry: g, activation: c.activation)
        #expect(try Self.relativeError(reference, c) < 1e-5, "im2col+sgemm")
        let direct = OneDNNConvolution(conv, geometry: g, channels: c.channels, activation: fused)
        #expect(try Self.relativeError(direct, c) < 1e-5, "\(direct.summary)")
        if PointwiseConvolution.fits(g, channels: c.channels) {
            let chunked = PointwiseConvolution(conv, geometry: g, channels: c.channels, activation: fused)
            #expect(try Self.relativeError(chunked, c) < 1e-5, "\(chunked.summary)")
        }
        if WinogradConvolution.fits(g, channels: c.channels, filters: c.filters) {
            // One tile size at a time, with no oneDNN kernel: Winograd for every batch, however few tiles.
            for side in [4, 2] {
                let made = WinogradConvolution(
                    kernel: conv.kernel.value, bias: conv.bias?.value, geometry: g, channels: c.channels,
                    filters: c.filters, activation: fused, tileSides: [side])
                let winograd = try #require(made, "Winograd F(\(side)x\(side)) declined this shape")
                let error = try Self.relativeError(winograd, c)
                #expect(error < 1e-4, "Winograd F(\(side)x\(side)) error \(error)")
            }
        }
    }

    /// The input gradient's Winograd kernel reads the layer's kernel rotated, in place of a
    /// rotated copy: the transform sees the same values in the same order, so outputs are equal
    /// bit for bit (channels 32 → 48, so a swap of the two would show).
    @Test("a flipped Winograd kernel equals one made from the rotated copy, bit for bit")
    func flippedKernelEqualsRotatedCopy() throws {
        let kernel = Self.random([3, 3, 48, 32], seed: 11)
        let input = Self.random([2, 9, 9, 32], seed: 12)
        let g = Conv2D(
            name: "conv", kernel: Self.random([3, 3, 32, 48], seed: 1), bias: nil, strides: (1, 1), padding: .same,
            dilation: (1, 1)
        ).geometry(height: 9, width: 9)
        for side in [4, 2] {
            let flipped = try #require(
                WinogradConvolution(
                    kernel: kernel, flipped: true, bias: nil, geometry: g, channels: 32, filters: 48,
                    activation: .none, tileSides: [side]))
            let copied = try #require(
                WinogradConvolution(
                    kernel: WinogradConvolution.rotated(kernel), bias: nil, geometry: g, channels: 32, filters: 48,
                    activation: .none, tileSides: [side]))
            var a = Tensor(zeros: [2, 9, 9, 48])
            var b = Tensor(zeros: [2, 9, 9, 48])
            flipped.run(input, into: &a, accumulate: false)
            copied.run(input, into: &b, accumulate: false)
            #expect(a.scalars == b.scalars, "F(\(side)x\(side))")
            #expect(a.scalars.contains { $0 != 0 })
        }
    }

    /// A shortcut that backward still reads (an identity block's input) is added from its own
    /// tensor: oneDNN as a binary post-op, the other routes by copying it into the output first.
    @Test("a kept residual is read, not written, and gives the same sums", arguments: cases.filter(\.residual))
    func keptResidualIsReadInPlace(_ c: Case) throws {
        let (conv, _, _) = try Self.operands(c)
        let g = conv.geometry(height: c.height, width: c.width)
        let fused = try #require(FusedActivation(c.activation))
        let direct = OneDNNConvolution(conv, geometry: g, channels: c.channels, activation: fused)
        #expect(try Self.relativeError(direct, c, keptResidual: true) < 1e-5, "\(direct.summary)")
        if PointwiseConvolution.fits(g, channels: c.channels) {
            let chunked = PointwiseConvolution(conv, geometry: g, channels: c.channels, activation: fused)
            #expect(try Self.relativeError(chunked, c, keptResidual: true) < 1e-5, "\(chunked.summary)")
        }
        let reference = ReferenceConvolution(conv, geometry: g, activation: c.activation)
        #expect(try Self.relativeError(reference, c, keptResidual: true) < 1e-5, "im2col+sgemm")
    }

    @Test("the per-layer rule picks Winograd for 3x3 stride 1 and oneDNN for the rest; reference when asked")
    func ruleChoosesPerLayer() throws {
        let three = try Self.operands(try Self.case("r50 3x3 512 @7 +residual")).0
        let stem = try Self.operands(try Self.case("r50 stem 7x7/2 3->64 valid")).0
        let auto = EngineOptions(convolution: .auto)
        #expect(
            ConvolutionKernels.make(three, height: 7, width: 7, channels: 512, activation: .relu, options: auto).kernel
                is WinogradConvolution)
        #expect(
            ConvolutionKernels.make(stem, height: 21, width: 21, channels: 3, activation: .relu, options: auto).kernel
                is OneDNNConvolution)
        let narrow = try Self.operands(try Self.case("r50 1x1 64->256 +residual+relu")).0
        let strided = try Self.operands(try Self.case("r50 1x1/2 256->128")).0
        #expect(
            ConvolutionKernels.make(narrow, height: 14, width: 14, channels: 64, activation: .relu, options: auto)
                .kernel is PointwiseConvolution)
        #expect(
            ConvolutionKernels.make(strided, height: 14, width: 14, channels: 256, activation: .linear, options: auto)
                .kernel is OneDNNConvolution)
        let direct = ConvolutionKernels.make(
            three, height: 7, width: 7, channels: 512, activation: .relu, options: EngineOptions(convolution: .direct))
        #expect(direct.kernel is OneDNNConvolution)
        let reference = ConvolutionKernels.make(
            three, height: 7, width: 7, channels: 512, activation: .relu,
            options: EngineOptions(convolution: .reference))
        #expect(reference.kernel is ReferenceConvolution && reference.remaining == .linear)
        // An activation no kernel fuses is left for a separate pass.
        let sigmoid = ConvolutionKernels.make(
            three, height: 7, width: 7, channels: 512, activation: .sigmoid, options: auto)
        #expect(sigmoid.remaining == .sigmoid)
    }

    @Test("Winograd takes 4x4 tiles from 32 tiles, 2x2 tiles below that, oneDNN below 32 2x2 tiles")
    func tileSideFollowsTheBatch() throws {
        func kernel(_ size: Int, _ channels: Int) throws -> WinogradConvolution {
            let conv = Conv2D(
                name: "conv", kernel: Self.random([3, 3, channels, channels], seed: 1), bias: nil, strides: (1, 1),
                padding: .same, dilation: (1, 1))
            let g = conv.geometry(height: size, width: size)
            return try #require(WinogradConvolution(conv, geometry: g, channels: channels, activation: .none))
        }
        let r50Stage2 = try kernel(56, 64)  // 196 4x4 tiles per image
        #expect(r50Stage2.tileSide(batch: 1) == 4 && !r50Stage2.summary.contains("F(2x2)"))
        let r50Stage4 = try kernel(14, 256)  // 16 4x4 tiles, 49 2x2 tiles per image
        #expect(r50Stage4.tileSide(batch: 1) == 2 && r50Stage4.tileSide(batch: 2) == 4)
        #expect(!r50Stage4.summary.contains("onednn"))
        let r50Stage5 = try kernel(7, 512)  // 4 4x4 tiles, 16 2x2 tiles per image
        #expect(r50Stage5.tileSide(batch: 1) == nil && r50Stage5.tileSide(batch: 2) == 2)
        #expect(r50Stage5.tileSide(batch: 7) == 2 && r50Stage5.tileSide(batch: 8) == 4)
    }

    /// A training step rebuilds its kernels for every step's weights: a kernel made for one batch
    /// size transforms the one tile side that batch runs with (ResNet50's 7×7×512 layer at batch
    /// 16 transformed 37.7 MB for F(4×4) and 16.8 MB for F(2×2) per step, and prepared a oneDNN
    /// kernel, of which only F(4×4) ran), and a batch too small for Winograd gets oneDNN's.
    @Test("A kernel made for one batch size prepares only the tile side that batch runs with")
    func batchKernelsPrepareOneSide() throws {
        let conv = Conv2D(
            name: "conv", kernel: Self.random([3, 3, 32, 32], seed: 1), bias: nil, strides: (1, 1), padding: .same,
            dilation: (1, 1))
        let g = conv.geometry(height: 7, width: 7)  // 4 4x4 tiles, 16 2x2 tiles per image
        let sixteen = try #require(WinogradConvolution(conv, geometry: g, channels: 32, activation: .none, batch: 16))
        #expect(sixteen.tileSide(batch: 16) == 4 && sixteen.summary == "winograd F(4x4,3x3)")
        let two = try #require(WinogradConvolution(conv, geometry: g, channels: 32, activation: .none, batch: 2))
        #expect(two.tileSide(batch: 2) == 2)
        #expect(WinogradConvolution(conv, geometry: g, channels: 32, activation: .none, batch: 1) == nil)
        let one = ConvolutionKernels.make(
            conv, height: 7, width: 7, channels: 32, activation: .linear, options: EngineOptions(), batch: 1)
        #expect(one.kernel is OneDNNConvolution)
        // Each serves its batch with the values of the kernel made for every batch size.
        let every = try #require(WinogradConvolution(conv, geometry: g, channels: 32, activation: .none))
        for (batch, kernel) in [(16, sixteen as any ConvolutionKernel), (2, two), (1, one.kernel)] {
            let x = Self.random([batch, 7, 7, 32], seed: UInt64(batch))
            var expected = Tensor(zeros: [batch, 7, 7, 32])
            var got = Tensor(zeros: [batch, 7, 7, 32])
            every.run(x, into: &expected, accumulate: false)
            kernel.run(x, into: &got, accumulate: false)
            let reference = expected.scalars
            let worst = zip(got.scalars, reference).map { abs($0 - $1) }.max() ?? .infinity
            #expect(worst <= 1e-5 * (reference.map(abs).max() ?? 1), "batch \(batch)")
        }
    }

    /// Batches large enough (≥ 32 tiles) for the Winograd input gradient, on `same`, `valid` and
    /// asymmetric explicit padding (a 14×14 map at batch 1 takes 2×2 tiles), a strided 3×3 layer
    /// (GEMM backward), and strided 1×1 layers (gathered GEMMs for the kernel, scattered ones for
    /// the input): an even side whose last row and column no output reads, an odd side, stride 3.
    static let trainingCases: [Case] = [
        cases[2],
        Case(
            label: "1x1/2 valid 10x9 (last row unread)", batch: 3, height: 10, width: 9, channels: 48, filters: 96,
            kernel: 1, stride: 2, padding: .valid),
        Case(
            label: "1x1/3 same 11x11 relu", batch: 2, height: 11, width: 11, channels: 16, filters: 24, kernel: 1,
            stride: 3, activation: .relu),
        cases[3],
        Case(
            label: "3x3 14x14 batch 1 (2x2 tiles)", batch: 1, height: 14, width: 14, channels: 32, filters: 48,
            kernel: 3, activation: .relu),
        Case(
            label: "3x3 valid, batch 8", batch: 8, height: 10, width: 9, channels: 32, filters: 16, kernel: 3,
            padding: .valid, activation: .relu),
        Case(
            label: "3x3 explicit asymmetric, batch 8", batch: 8, height: 8, width: 9, channels: 16, filters: 48,
            kernel: 3,
            padding: .explicit(top: 0, bottom: 1, left: 2, right: 0)),
        cases[5],
    ]

    @Test(
        "training path: Conv2D forward and gradients with the fast kernels equal the reference route",
        arguments: trainingCases)
    func layerGradientsMatchReference(_ c: Case) throws {
        let (conv, x, upstream) = try Self.operands(c)
        func run(_ route: ConvolutionRoute) -> (y: Tensor, dx: Tensor, dw: Tensor, db: Tensor) {
            let options = EngineOptions(convolution: route)
            for parameter in conv.parameters { parameter.zeroGradient() }
            let forward = conv.forward([x], mode: .training, options: options)
            let dx = conv.backward(
                upstream, inputs: [x], forward: forward, mode: .training, needs: .all, options: options)
            return (
                forward.output, dx[0], conv.kernel.gradient ?? Tensor(zeros: [0]),
                conv.bias?.gradient ?? Tensor(zeros: [0])
            )
        }
        let fast = run(.auto)
        let reference = run(.reference)
        func relative(_ a: Tensor, _ b: Tensor) -> Float {
            a.maxAbsoluteDifference(b) / max(b.scalars.map(abs).max() ?? 1, 1e-30)
        }
        #expect(relative(fast.y, reference.y) < 1e-4)
        #expect(relative(fast.dx, reference.dx) < 1e-4)
        #expect(relative(fast.dw, reference.dw) < 1e-5)
        #expect(relative(fast.db, reference.db) < 1e-5)
        let g = conv.geometry(height: c.height, width: c.width)
        if WinogradConvolution.fits(g, channels: c.channels, filters: c.filters) {
            #expect(
                ConvolutionKernelCache().inputGradient(
                    conv, input: [c.height, c.width, c.channels], batch: c.batch, options: EngineOptions()) != nil)
        }
    }
}

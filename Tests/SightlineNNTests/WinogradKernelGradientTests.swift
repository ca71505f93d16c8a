import SightlineCore
import Testing

@testable import SightlineNN

/// The Winograd F(2×2,3×3) kernel gradient (`WinogradKernelGradient`) against a float64
/// correlation of the input with the output gradient computed here, on `same`, `valid` and
/// asymmetric explicit padding, odd maps (a last row and column of half-empty tiles) and
/// VGG16/ResNet50 channel counts; and the route as a training step takes it.
struct WinogradKernelGradientTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var label: String
        var batch: Int, height: Int, width: Int, channels: Int, filters: Int
        var padding: Padding = .same
        var testDescription: String { label }
    }

    static let cases: [Case] = [
        Case(label: "same 16->32, odd map", batch: 3, height: 13, width: 11, channels: 16, filters: 32),
        Case(label: "valid 32->16", batch: 2, height: 10, width: 9, channels: 32, filters: 16, padding: .valid),
        Case(
            label: "explicit asymmetric 16->48", batch: 2, height: 8, width: 9, channels: 16, filters: 48,
            padding: .explicit(top: 0, bottom: 1, left: 2, right: 0)),
        Case(label: "r50 stage 5 shape 512 @7", batch: 2, height: 7, width: 7, channels: 512, filters: 512),
        Case(label: "vgg 128->256 @12", batch: 4, height: 12, width: 12, channels: 128, filters: 256),
        Case(label: "one image, one tile", batch: 1, height: 2, width: 2, channels: 16, filters: 16),
    ]

    static func geometry(_ c: Case) -> WindowGeometry {
        WindowGeometry(inputHeight: c.height, inputWidth: c.width, kernel: (3, 3), padding: c.padding)
    }

    /// `dw[u][v][c][f] = Σ x[n][oy + u − top][ox + v − left][c] · dy[n][oy][ox][f]` in float64.
    static func reference(_ x: Tensor, _ dy: Tensor, _ g: WindowGeometry) -> [Double] {
        let (n, h, w, channels, filters) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3], dy.shape[3])
        let (xs, dys) = (x.scalars, dy.scalars)
        var dw = [Double](repeating: 0, count: 9 * channels * filters)
        for image in 0..<n {
            for oy in 0..<g.outputHeight {
                for ox in 0..<g.outputWidth {
                    let out = ((image * g.outputHeight + oy) * g.outputWidth + ox) * filters
                    for u in 0..<3 {
                        for v in 0..<3 {
                            let (iy, ix) = (oy + u - g.padTop, ox + v - g.padLeft)
                            guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                            let input = ((image * h + iy) * w + ix) * channels
                            for c in 0..<channels {
                                let a = Double(xs[input + c])
                                let row = ((u * 3 + v) * channels + c) * filters
                                for f in 0..<filters { dw[row + f] += a * Double(dys[out + f]) }
                            }
                        }
                    }
                }
            }
        }
        return dw
    }

    @Test("Winograd kernel gradient (4x4 and 2x2 tiles) matches a float64 correlation", arguments: cases)
    func matchesFloat64(_ c: Case) throws {
        let g = Self.geometry(c)
        let x = ConvolutionKernelTests.random([c.batch, c.height, c.width, c.channels], seed: 3)
        let dy = ConvolutionKernelTests.random([c.batch, g.outputHeight, g.outputWidth, c.filters], seed: 4)
        let expected = Self.reference(x, dy, g)
        let scale = expected.map(abs).max() ?? 1
        var expectedBias = [Double](repeating: 0, count: c.filters)
        for (i, value) in dy.scalars.enumerated() { expectedBias[i % c.filters] += Double(value) }
        let biasScale = expectedBias.map(abs).max() ?? 1
        for side in [4, 2] {
            for split in [WinogradKernelGradient.Split.tiles, .points] {
                let label = "F(\(side)x\(side)) split by \(split)"
                let (dw, db) = try #require(
                    WinogradKernelGradient.run(
                        input: x, gradient: dy, geometry: g, filters: c.filters, tileSide: side, threads: 2,
                        split: split))
                let biasError = zip(db.scalars, expectedBias).map { abs(Double($0) - $1) }.max() ?? 0
                #expect(biasError / biasScale < 1e-5, "\(label) bias: max error \(biasError / biasScale)")
                #expect(dw.shape == [3, 3, c.channels, c.filters])
                let worst = zip(dw.scalars, expected).map { abs(Double($0) - $1) }.max() ?? 0
                // The project's bar (1e-4 of scale); F(2×2)'s transforms hold only 0, ±1 and ±1/2.
                #expect(worst / scale < (side == 4 ? 1e-4 : 1e-5), "\(label): max error \(worst / scale) of scale")
                // The same inputs sum in the same order: a repeated (or resumed) run is bitwise
                // equal, and the points split does not depend on the thread count at all.
                let again = try #require(
                    WinogradKernelGradient.run(
                        input: x, gradient: dy, geometry: g, filters: c.filters, tileSide: side,
                        threads: split == .points ? 3 : 2, split: split))
                let repeated = again.kernel.scalars == dw.scalars && again.bias.scalars == db.scalars
                #expect(repeated, "\(label)")
                // A folded BatchNorm's scale, applied as the sums finish, is the separate pass's.
                let columnScale = (0..<c.filters).map { Float(0.25 + 0.01 * Double($0 % 97)) }
                let scaled = try #require(
                    WinogradKernelGradient.run(
                        input: x, gradient: dy, geometry: g, filters: c.filters, tileSide: side, threads: 2,
                        split: split, columnScale: columnScale))
                // (Compared as Bools: a failing array comparison would print millions of elements.)
                let kernelEqual = scaled.kernel.scalars == dw.scalarsScaled(by: columnScale)
                let biasEqual = scaled.bias.scalars == db.scalarsScaled(by: columnScale)
                #expect(kernelEqual && biasEqual, "\(label)")
            }
        }
    }

    @Test("the split rule takes points where the slices' sums would move more bytes")
    func splitRule() {
        func split(_ size: Int, _ channels: Int, side: Int) -> WinogradKernelGradient.Split {
            let g = WindowGeometry(inputHeight: size, inputWidth: size, kernel: (3, 3), padding: .same)
            return WinogradKernelGradient.split(g, channels: channels, filters: channels, batch: 16, tileSide: side)
        }
        // ResNet50's 3×3 layers at batch 16 on 2 threads, as `bench/winograd_weights.c` measured them.
        #expect(split(7, 512, side: 2) == .points)
        #expect(split(14, 256, side: 2) == .points)
        #expect(split(56, 64, side: 4) == .tiles)
        // VGG16's 28×28×512 would hold 116 MB of transforms: over the 32 MiB bound.
        #expect(split(28, 512, side: 4) == .tiles)
    }

    @Test("a training step of a 3x3 layer with enough tiles takes the route and equals the reference route")
    func layerTakesTheRoute() throws {
        let c = ConvolutionKernelTests.Case(
            label: "3x3 32x32 16->32 batch 8", batch: 8, height: 32, width: 32, channels: 16, filters: 32,
            kernel: 3)
        let (conv, x, upstream) = try ConvolutionKernelTests.operands(c)
        let g = conv.geometry(height: c.height, width: c.width)
        // 8 · 8 · 8 = 512 4×4 tiles: F(4×4) on 2 threads, F(2×2) (2,048 tiles) on 16; one image's
        // 256 2×2 tiles suffice for 2 threads, not 4.
        #expect(WinogradKernelGradient.tileSide(g, channels: 16, filters: 32, batch: 8, threads: 2) == 4)
        #expect(WinogradKernelGradient.tileSide(g, channels: 16, filters: 32, batch: 8, threads: 16) == 2)
        #expect(WinogradKernelGradient.tileSide(g, channels: 16, filters: 32, batch: 1, threads: 2) == 2)
        #expect(WinogradKernelGradient.tileSide(g, channels: 16, filters: 32, batch: 1, threads: 4) == nil)
        // ResNet50's 14×14 stage at batch 16 (256 4×4 tiles, the points split) takes F(4×4) on 2
        // threads, its 7×7 stage (64) F(2×2); VGG16's 14×14×512 layers (the tiles split) F(2×2).
        let r50Stage4 = WindowGeometry(inputHeight: 14, inputWidth: 14, kernel: (3, 3), padding: .same)
        let r50Stage5 = WindowGeometry(inputHeight: 7, inputWidth: 7, kernel: (3, 3), padding: .same)
        #expect(WinogradKernelGradient.tileSide(r50Stage4, channels: 256, filters: 256, batch: 16, threads: 2) == 4)
        #expect(WinogradKernelGradient.tileSide(r50Stage5, channels: 512, filters: 512, batch: 16, threads: 2) == 2)
        #expect(WinogradKernelGradient.tileSide(r50Stage4, channels: 512, filters: 512, batch: 16, threads: 2) == 2)
        func gradients(_ route: ConvolutionRoute) -> (kernel: Tensor, bias: Tensor) {
            let options = EngineOptions(convolution: route)
            for parameter in conv.parameters { parameter.zeroGradient() }
            let forward = conv.forward([x], mode: .training, options: options)
            _ = conv.backward(upstream, inputs: [x], forward: forward, mode: .training, needs: .all, options: options)
            return (conv.kernel.gradient ?? Tensor(zeros: [0]), conv.bias?.gradient ?? Tensor(zeros: [0]))
        }
        let fast = gradients(.auto)
        let reference = gradients(.reference)
        // No activation: the layer's output gradient is `upstream`, and the route's result for the
        // thread count the layer ran with is exactly what it accumulated. Tests running alongside
        // may change the engine's thread count, so any of the counts they set will do.
        let routes = try (1...4).map { threads in
            let side = try #require(
                WinogradKernelGradient.tileSide(g, channels: 16, filters: 32, batch: 8, threads: threads))
            return try #require(
                WinogradKernelGradient.run(
                    input: x, gradient: upstream, geometry: g, filters: 32, tileSide: side, threads: threads))
        }
        #expect(
            routes.contains { $0.kernel.scalars == fast.kernel.scalars && $0.bias.scalars == fast.bias.scalars })
        let scale = reference.kernel.scalars.map(abs).max() ?? 1
        #expect(fast.kernel.maxAbsoluteDifference(reference.kernel) / scale < 1e-5)
        let biasScale = reference.bias.scalars.map(abs).max() ?? 1
        #expect(fast.bias.maxAbsoluteDifference(reference.bias) / biasScale < 1e-5)
    }
}

extension Tensor {
    /// The elements, read as rows of `factors.count`, each times its column's factor in float:
    /// what a separate scaling pass computes.
    func scalarsScaled(by factors: [Float]) -> [Float] {
        scalars.enumerated().map { $0.element * factors[$0.offset % factors.count] }
    }
}

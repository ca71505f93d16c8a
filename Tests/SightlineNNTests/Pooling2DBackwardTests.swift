import SightlineCore
import Testing

@testable import SightlineNN

/// Max pooling's input gradient (`Pooling2D.backward`, with and without the ReLU derivative it
/// applies for the training plan) against the rule written out here: each output gradient to the
/// first tap, in row-major order, whose input equals the window's maximum. Inputs are rounded to
/// halves so that many windows hold ties; windows overlap (3×3 at stride 2 and 1), leave the
/// input (padding), or tile it (2×2 at stride 2: VGG's pools, a loop of their own).
struct Pooling2DBackwardTests {
    /// (batch, size, channels, window, stride, padding).
    typealias Shape = (Int, Int, Int, Int, Int, Padding)

    @Test(
        "max pooling's gradient goes to each window's first maximum",
        arguments: [
            (2, 11, 70, 3, 2, .explicit(top: 1, bottom: 1, left: 1, right: 1)), (1, 9, 130, 3, 1, .same),
            (3, 8, 16, 2, 2, .valid), (2, 7, 5, 3, 2, .valid),
        ] as [Shape], [false, true])
    func firstMaximumTakesTheGradient(_ shape: Shape, positiveOnly: Bool) {
        let (batch, size, channels, window, stride, padding) = shape
        let pool = Pooling2D(
            name: "pool", kind: .max, poolSize: (window, window), strides: (stride, stride), padding: padding)
        let g = pool.geometry(height: size, width: size)
        #expect(g.outputHeight > 0)
        var x = ConvolutionKernelTests.random([batch, size, size, channels], seed: 11)
        x = Tensor(shape: x.shape, scalars: x.scalars.map { ($0 * 2).rounded() / 2 })
        let forward = pool.forward([x], mode: .training)
        let y = forward.output
        var dy = ConvolutionKernelTests.random(y.shape, seed: 12)
        dy.withUnsafeMutableBufferPointer { $0[1] = .nan }
        let dx = pool.backward(dy, inputs: [x], forward: forward, needs: .all, positiveOnly: positiveOnly)[0]
        let (xs, ys, ds) = (x.scalars, y.scalars, dy.scalars)
        var expected = [Float](repeating: 0, count: x.count)
        for n in 0..<batch {
            for oy in 0..<g.outputHeight {
                for ox in 0..<g.outputWidth {
                    let o = ((n * g.outputHeight + oy) * g.outputWidth + ox) * channels
                    for c in 0..<channels {
                        let kept = positiveOnly ? ds[o + c] * (ys[o + c] > 0 ? 1 : 0) : ds[o + c]
                        search: for ky in 0..<window {
                            for kx in 0..<window {
                                let (iy, ix) = (oy * stride - g.padTop + ky, ox * stride - g.padLeft + kx)
                                guard iy >= 0 && iy < size && ix >= 0 && ix < size else { continue }
                                let at = ((n * size + iy) * size + ix) * channels + c
                                if xs[at] == ys[o + c] {
                                    expected[at] += kept
                                    break search
                                }
                            }
                        }
                    }
                }
            }
        }
        #expect(dx.shape == x.shape)
        // Exactly (NaN where the rule has it; a masked 0 may be −0): the same additions in the
        // same order. (Compared as a Bool: a failed comparison of the arrays would print every value.)
        let same = zip(dx.scalars, expected).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) }
        #expect(same)
        #expect(dx.scalars.contains { $0.isNaN }, "the NaN gradient reaches its tap")
    }
}

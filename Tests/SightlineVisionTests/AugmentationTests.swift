import CKernels
import Foundation
import SightlineCore
import Testing

@testable import SightlineVision

/// The default augmentation's warp (`sl_augment_warp`): shift, zoom and rotation about the centre,
/// mirror, reflected borders as Keras's `fill_mode="reflect"` (mirror padding without repeating
/// the edge pixel), bilinear sampling and brightness. Issue 21 moved the Swift loop to C, 8
/// pixels per AVX2 vector; every C path must equal that loop, kept here as the reference, bit
/// for bit.
struct AugmentationTests {
    /// Reflection in its general form, two remainders (0 on a one-pixel side, where the Swift
    /// loop read past the image).
    static func reflect(_ v: Float, _ size: Int) -> Float {
        guard size > 1 else { return 0 }
        let period = Float(2 * max(size - 1, 1))
        var m = (v.truncatingRemainder(dividingBy: period) + period).truncatingRemainder(dividingBy: period)
        if m > Float(size - 1) { m = period - m }
        return m
    }

    /// The Swift warp as it was before issue 21, per pixel and channel.
    static func reference(_ image: Tensor, _ t: sl_warp) -> Tensor {
        let (h, w, c) = (image.shape[0], image.shape[1], image.shape[2])
        let p = image.scalars
        return Tensor(shape: image.shape) { out in
            for y in 0..<h {
                for x in 0..<w {
                    var (u, v) = ((Float(x) - t.cx - t.dx) / t.scale, (Float(y) - t.cy - t.dy) / t.scale)
                    (u, v) = (t.cosine * u + t.sine * v, -t.sine * u + t.cosine * v)
                    var sx = u + t.cx
                    let sy = reflect(v + t.cy, h)
                    if t.flip != 0 { sx = Float(w - 1) - sx }
                    sx = reflect(sx, w)
                    let (x0, y0) = (Int(sx), Int(sy))
                    let (x1, y1) = (min(x0 + 1, w - 1), min(y0 + 1, h - 1))
                    let (fx, fy) = (sx - Float(x0), sy - Float(y0))
                    for k in 0..<c {
                        let top = p[(y0 * w + x0) * c + k] * (1 - fx) + p[(y0 * w + x1) * c + k] * fx
                        let bottom = p[(y1 * w + x0) * c + k] * (1 - fx) + p[(y1 * w + x1) * c + k] * fx
                        out[(y * w + x) * c + k] = min(max((top * (1 - fy) + bottom * fy) * t.gain, 0), 255)
                    }
                }
            }
        }
    }

    @Test func warpEqualsTheScalarLoopBitForBit() {
        var generator = SeededGenerator(seed: 21)
        func uniform(_ limit: Float) -> Float { (generator.nextUnitFloat() * 2 - 1) * limit }
        // Widths on and off the 8 lanes, one-pixel sides, gray and RGB; shifts up to 1.5 sides
        // reach the general reflection, beyond the first period on both sides.
        for (h, w, c) in [(224, 224, 3), (37, 53, 3), (1, 17, 3), (20, 1, 1), (33, 16, 1), (9, 300, 3)] {
            let image = Tensor(shape: [h, w, c]) { out in
                for i in 0..<out.count { out[i] = Float(generator.next() % 256) }
            }
            for draw in 0..<12 {
                let far: Float = draw < 6 ? 0.1 : 1.5
                let angle = uniform(draw % 3 == 0 ? 10 : 180) * .pi / 180
                var warp = sl_warp(
                    cx: Float(w - 1) / 2, cy: Float(h - 1) / 2, dx: uniform(far) * Float(w),
                    dy: uniform(far) * Float(h),
                    scale: 1 + uniform(0.5), cosine: cos(angle), sine: sin(angle), gain: 1 + uniform(0.3),
                    flip: draw % 2 == 0 ? 1 : 0)
                let expected = Self.reference(image, warp).scalars.map(\.bitPattern)
                for lanes in [8, 1] {
                    let warped = Augmentation.warped(image, warp: &warp, maxLanes: lanes)
                    #expect(
                        warped.scalars.map(\.bitPattern) == expected, "\(h)×\(w)×\(c), draw \(draw), \(lanes) lanes")
                }
            }
        }
    }

    @Test func bordersReflectWithoutRepeatingTheEdge() {
        // A shift of one pixel to the right: column 0 reads source column −1, reflected to 1.
        let row = Tensor(shape: [1, 5, 1], scalars: [10, 20, 30, 40, 50])
        var warp = sl_warp(cx: 2, cy: 0, dx: 1, dy: 0, scale: 1, cosine: 1, sine: 0, gain: 1, flip: 0)
        #expect(Augmentation.warped(row, warp: &warp, maxLanes: 0).scalars == [20, 10, 20, 30, 40])
        warp.dx = -1  // column 4 reads column 5, reflected to 3
        #expect(Augmentation.warped(row, warp: &warp, maxLanes: 0).scalars == [20, 30, 40, 50, 40])
    }
}

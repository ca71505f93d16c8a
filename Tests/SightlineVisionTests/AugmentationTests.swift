import Testing

@testable import SightlineVision

/// Keras-style augmentation's border rule: coordinates reflected into the image (mirror padding
/// without repeating the edge pixel, as Keras's `fill_mode="reflect"`).
struct AugmentationTests {
    /// The general form, with two remainders, that `Augmentation.reflect` skips for coordinates
    /// in its first period.
    static func generalReflect(_ v: Float, _ size: Int) -> Float {
        let period = Float(2 * max(size - 1, 1))
        var m = (v.truncatingRemainder(dividingBy: period) + period).truncatingRemainder(dividingBy: period)
        if m > Float(size - 1) { m = period - m }
        return m
    }

    @Test func reflectionEqualsTheGeneralFormBitForBit() {
        for size in [1, 2, 7, 32, 224, 299] {
            let period = Float(2 * max(size - 1, 1))
            var values: [Float] = [0, -0.0, period, -period, period.nextDown, period.nextUp, Float(0.5).nextDown]
            for step in stride(from: -3 * period, through: 3 * period, by: period / 97) {
                values += [step, step.nextUp, step.nextDown]
            }
            for v in values {
                #expect(
                    Augmentation.reflect(v, size).bitPattern == Self.generalReflect(v, size).bitPattern,
                    "size \(size), v \(v)")
            }
        }
        #expect(Augmentation.reflect(-1, 224) == 1 && Augmentation.reflect(224, 224) == 222)
        #expect(Augmentation.reflect(12.25, 224) == 12.25)
    }
}

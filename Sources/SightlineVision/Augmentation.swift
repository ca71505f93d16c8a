import Foundation
import SightlineCore

/// Training-time image augmentation, seeded: random horizontal flip, translation, rotation,
/// zoom and brightness, applied to `[H, W, C]` images in 0…255 before preprocessing, as Keras's
/// `RandomFlip`, `RandomTranslation`, `RandomRotation`, `RandomZoom` and `RandomBrightness`
/// layers do (reflected borders, bilinear sampling). Never used for validation.
public struct Augmentation: Sendable, Equatable {
    public var horizontalFlip = true
    /// Largest shift as a fraction of height and width.
    public var translation: Float = 0.1
    /// Largest rotation in degrees.
    public var rotationDegrees: Float = 10
    /// Largest zoom in or out as a fraction.
    public var zoom: Float = 0.1
    /// Largest brightness change as a fraction (pixels scaled by 1 ± this).
    public var brightness: Float = 0.1
    /// TrivialAugment (`TrivialAugment`, torchvision's `TrivialAugmentWide`) after the flip,
    /// instead of the translation, rotation, zoom and brightness: torchvision's training recipe.
    public var trivialAugment = false
    /// RandAugment (`RandAugment`) after the flip, instead of the translation, rotation, zoom and
    /// brightness (and of TrivialAugment).
    public var randAugment: RandAugment?

    public init() {}

    /// No augmentation at all.
    public static let none: Augmentation = {
        var value = Augmentation()
        (value.horizontalFlip, value.translation, value.rotationDegrees, value.zoom, value.brightness) = (
            false, 0, 0, 0, 0
        )
        return value
    }()

    /// `images` (`[H, W, C]` or `[N, H, W, C]`) mirrored left to right.
    public static func mirrored(_ images: Tensor) -> Tensor {
        let (width, channels) = (images.shape[images.rank - 2], images.shape[images.rank - 1])
        let rows = images.count / max(width * channels, 1)
        return Tensor(shape: images.shape) { out in
            images.withUnsafeBufferPointer { x in
                for row in 0..<rows {
                    let base = row * width * channels
                    for column in 0..<width {
                        let (to, from) = (base + column * channels, base + (width - 1 - column) * channels)
                        for k in 0..<channels { out[to + k] = x[from + k] }
                    }
                }
            }
        }
    }

    /// `v` reflected into `0...size − 1` (mirror padding without repeating the edge pixel).
    static func reflect(_ v: Float, _ size: Int) -> Float {
        let period = Float(2 * max(size - 1, 1))
        // For 0 ≤ v < period the remainders are exact and v + period < 2·period, so the general
        // form equals (v + period) − period, bit for bit, without two fmodf calls per coordinate
        // (most of the pixels of a small rotation or shift).
        var m =
            v >= 0 && v < period
            ? (v + period) - period
            : (v.truncatingRemainder(dividingBy: period) + period).truncatingRemainder(dividingBy: period)
        if m > Float(size - 1) { m = period - m }
        return m
    }

    /// A randomly transformed copy of `image`, drawing from `generator`.
    public func apply(to image: Tensor, generator: inout SeededGenerator) -> Tensor {
        let (h, w, c) = (image.shape[0], image.shape[1], image.shape[2])
        if trivialAugment || randAugment != nil {
            let flipped = horizontalFlip && generator.nextUnitFloat() < 0.5 ? Self.mirrored(image) : image
            if let randAugment { return randAugment.apply(to: flipped, generator: &generator) }
            return TrivialAugment.apply(to: flipped, generator: &generator)
        }
        func uniform(_ limit: Float) -> Float { (generator.nextUnitFloat() * 2 - 1) * limit }
        let flip = horizontalFlip && generator.nextUnitFloat() < 0.5
        let (dy, dx) = (uniform(translation) * Float(h), uniform(translation) * Float(w))
        let angle = uniform(rotationDegrees) * .pi / 180
        let scale = 1 + uniform(zoom)
        let gain = 1 + uniform(brightness)
        if !flip && dy == 0 && dx == 0 && angle == 0 && scale == 1 && gain == 1 { return image }
        let (cy, cx) = (Float(h - 1) / 2, Float(w - 1) / 2)
        let (cosine, sine) = (cos(angle), sin(angle))
        return Tensor(shape: image.shape) { out in
            image.withUnsafeBufferPointer { p in
                for y in 0..<h {
                    for x in 0..<w {
                        // Inverse map: output pixel → source position.
                        var (u, v) = ((Float(x) - cx - dx) / scale, (Float(y) - cy - dy) / scale)
                        (u, v) = (cosine * u + sine * v, -sine * u + cosine * v)
                        var sx = u + cx
                        let sy = Self.reflect(v + cy, h)
                        if flip { sx = Float(w - 1) - sx }
                        sx = Self.reflect(sx, w)
                        let (x0, y0) = (Int(sx), Int(sy))
                        let (x1, y1) = (min(x0 + 1, w - 1), min(y0 + 1, h - 1))
                        let (fx, fy) = (sx - Float(x0), sy - Float(y0))
                        for k in 0..<c {
                            let top = p[(y0 * w + x0) * c + k] * (1 - fx) + p[(y0 * w + x1) * c + k] * fx
                            let bottom = p[(y1 * w + x0) * c + k] * (1 - fx) + p[(y1 * w + x1) * c + k] * fx
                            out[(y * w + x) * c + k] = min(max((top * (1 - fy) + bottom * fy) * gain, 0), 255)
                        }
                    }
                }
            }
        }
    }
}

internal import CKernels
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

    /// A randomly transformed copy of `image`, drawing from `generator`.
    public func apply(to image: Tensor, generator: inout SeededGenerator) -> Tensor {
        let (h, w) = (image.shape[0], image.shape[1])
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
        var warp = sl_warp(
            cx: cx, cy: cy, dx: dx, dy: dy, scale: scale, cosine: cos(angle), sine: sin(angle), gain: gain,
            flip: flip ? 1 : 0)
        return Self.warped(image, warp: &warp, maxLanes: 0)
    }

    /// `image` `[H, W, C]` through `sl_augment_warp`: 8 pixels per vector where the CPU has AVX2
    /// (AVX-512 CPUs included), the same arithmetic one pixel at a time otherwise; `maxLanes` (8
    /// or 1; 0 the widest) caps the width, so that tests reach both paths.
    static func warped(_ image: Tensor, warp: inout sl_warp, maxLanes: Int) -> Tensor {
        let (h, w, c) = (image.shape[0], image.shape[1], image.shape[2])
        var failed: Int32 = 0
        let result = Tensor(shape: image.shape) { out in
            image.withUnsafeBufferPointer { p in
                failed = sl_augment_warp(
                    p.baseAddress, Int32(h), Int32(w), Int32(c), &warp, Int32(maxLanes), out.baseAddress)
            }
        }
        // Only an image past 2³¹ values fails: too large to augment, it passes unchanged.
        return failed == 0 ? result : image
    }
}

import Foundation
import SightlineCore
import SightlineNN

/// Mixup and CutMix as timm's `Mixup` does them in its default batch mode: each batch is mixed
/// with itself reversed (image i with image N−1−i) by one weight λ drawn per batch, and the
/// loss uses the same mixture of the two labels' (smoothed) targets.
///
/// With probability `probability` a batch is mixed at all; when both alphas are above 0, CutMix
/// is chosen with probability `switchProbability`, else mixup. Mixup: λ ~ Beta(α, α) and
/// `x ← λ·x + (1−λ)·reversed(x)`. CutMix: λ ~ Beta(α, α), a box of side `√(1−λ)` of the image's
/// centred on a uniformly drawn pixel (clipped at the edges) is pasted from the reversed batch,
/// and λ becomes the share of the image left unpasted (timm's `correct_lam`). The images are the
/// preprocessed batch, as timm mixes normalised tensors. An odd batch's middle image is mixed
/// with itself (unchanged); timm asks for even batches.
public struct Mixing: Sendable, Equatable {
    public var mixupAlpha: Float
    public var cutmixAlpha: Float
    public var probability: Float
    public var switchProbability: Float

    /// timm's `--mixup 0.8 --cutmix 1.0` recipe: mix every batch, half with CutMix.
    public init(
        mixupAlpha: Float = 0.8, cutmixAlpha: Float = 1.0, probability: Float = 1, switchProbability: Float = 0.5
    ) {
        (self.mixupAlpha, self.cutmixAlpha) = (mixupAlpha, cutmixAlpha)
        (self.probability, self.switchProbability) = (probability, switchProbability)
    }

    /// A CutMix box: rows `top..<bottom`, columns `left..<right`.
    public struct Box: Sendable, Equatable {
        public var top: Int, bottom: Int, left: Int, right: Int
    }

    /// Mixes `images` `[N, H, W, C]` in place as this batch draws from `generator`; returns the
    /// loss's targets, or nil when the batch is left unmixed.
    public func mix(_ images: inout Tensor, labels: [Int], generator: inout SeededGenerator)
        -> SoftmaxCrossEntropy.Mix?
    {
        guard generator.nextUnitFloat() < probability, mixupAlpha > 0 || cutmixAlpha > 0 else { return nil }
        let cutmix = mixupAlpha > 0 && cutmixAlpha > 0 ? generator.nextUnitFloat() < switchProbability : cutmixAlpha > 0
        var weight = Self.beta(cutmix ? cutmixAlpha : mixupAlpha, using: &generator)
        if cutmix {
            let (height, width) = (images.shape[1], images.shape[2])
            let centre = (Int(generator.next() % UInt64(height)), Int(generator.next() % UInt64(width)))
            let box = Self.box(height: height, width: width, weight: weight, centre: centre)
            Self.paste(box, into: &images)
            weight = 1 - Float((box.bottom - box.top) * (box.right - box.left)) / Float(height * width)
        } else {
            Self.blend(&images, weight: weight)
        }
        return SoftmaxCrossEntropy.Mix(partners: labels.reversed(), weight: weight)
    }

    /// timm's `rand_bbox`: sides `Int(H·√(1−λ))` and `Int(W·√(1−λ))`, centred on `centre`
    /// (row, column), half-sides rounded down, clipped to the image.
    public static func box(height: Int, width: Int, weight: Float, centre: (y: Int, x: Int)) -> Box {
        let ratio = (1 - Double(weight)).squareRoot()
        let (cutH, cutW) = (Int(Double(height) * ratio), Int(Double(width) * ratio))
        func clip(_ v: Int, _ limit: Int) -> Int { min(max(v, 0), limit) }
        return Box(
            top: clip(centre.y - cutH / 2, height), bottom: clip(centre.y + cutH / 2, height),
            left: clip(centre.x - cutW / 2, width), right: clip(centre.x + cutW / 2, width))
    }

    /// `x ← λ·x + (1−λ)·reversed(x)` over the batch axis.
    public static func blend(_ images: inout Tensor, weight: Float) {
        let original = images
        let (n, size) = (images.shape[0], images.count / max(images.shape[0], 1))
        images.withUnsafeMutableBufferPointer { x in
            original.withUnsafeBufferPointer { o in
                for i in 0..<n {
                    let (row, partner) = (i * size, (n - 1 - i) * size)
                    for j in 0..<size { x[row + j] = o[row + j] * weight + o[partner + j] * (1 - weight) }
                }
            }
        }
    }

    /// Pastes `box` of each image's partner (the reversed batch) into it.
    public static func paste(_ box: Box, into images: inout Tensor) {
        let original = images
        let (n, width, channels) = (images.shape[0], images.shape[2], images.shape[3])
        let size = images.count / max(n, 1)
        images.withUnsafeMutableBufferPointer { x in
            original.withUnsafeBufferPointer { o in
                for i in 0..<n {
                    let (row, partner) = (i * size, (n - 1 - i) * size)
                    for y in box.top..<box.bottom {
                        for c in ((y * width + box.left) * channels)..<((y * width + box.right) * channels) {
                            x[row + c] = o[partner + c]
                        }
                    }
                }
            }
        }
    }

    /// A Beta(α, α) sample, as X / (X + Y) of two Gamma(α) samples.
    static func beta(_ alpha: Float, using generator: inout SeededGenerator) -> Float {
        let x = gamma(Double(alpha), using: &generator)
        let y = gamma(Double(alpha), using: &generator)
        return x + y > 0 ? Float(x / (x + y)) : 0.5
    }

    /// A Gamma(α, 1) sample by Marsaglia and Tsang's method (α < 1 through Gamma(α + 1)·U^(1/α)).
    static func gamma(_ alpha: Double, using generator: inout SeededGenerator) -> Double {
        if alpha < 1 {
            let u = max(Double(generator.nextUnitFloat()), 1e-12)
            return gamma(alpha + 1, using: &generator) * pow(u, 1 / alpha)
        }
        let d = alpha - 1.0 / 3
        let c = 1 / (9 * d).squareRoot()
        while true {
            let z = Double(generator.nextNormal())
            let v = pow(1 + c * z, 3)
            guard v > 0 else { continue }
            let u = max(Double(generator.nextUnitFloat()), 1e-12)
            if log(u) < 0.5 * z * z + d - d * v + d * log(v) { return d * v }
        }
    }
}

import Foundation
import SightlineCore

/// The reference input Integrated Gradients integrates from and Occlusion fills its patch with
/// (Captum's `baselines`), in the preprocessed space the model reads.
public enum AttributionBaseline: Sendable, Equatable {
    /// Zero after preprocessing: the dataset mean for `caffe` and `torch` preprocessing, mid-grey
    /// for `tf` (Captum's default).
    case zero
    /// One preprocessed value per channel: a black or white image through the model's
    /// preprocessing (`gradcam --baseline black|white`).
    case channels([Float])
    /// The image itself blurred by a Gaussian of `sigma` pixels, each channel separately, as
    /// `scipy.ndimage.gaussian_filter(…, sigma, mode="nearest", truncate=3)` does (the blurred
    /// baseline of Sturmfels et al., "Visualizing the Impact of Feature Attribution Baselines").
    case blurred(sigma: Float)

    /// The baseline `[N, H, W, C]` for `images` `[N, H, W, C]`.
    public func tensor(for images: Tensor) -> Tensor {
        switch self {
        case .zero: return Tensor(zeros: images.shape)
        case .channels(let values):
            let c = images.shape[images.rank - 1]
            return Tensor(shape: images.shape) { out in
                for i in 0..<out.count { out[i] = values.isEmpty ? 0 : values[(i % c) % values.count] }
            }
        case .blurred(let sigma): return Self.gaussian(images, sigma: sigma)
        }
    }

    /// scipy's Gaussian: weights exp(−x²/2σ²) normalised over the radius `Int(3σ + 0.5)`, edges
    /// continued by their nearest pixel; separable, rows then columns.
    static func gaussian(_ images: Tensor, sigma: Float) -> Tensor {
        let radius = Int(3 * Double(sigma) + 0.5)
        guard radius > 0 else { return images }
        var weights = (-radius...radius).map { exp(-0.5 * Double($0 * $0) / Double(sigma * sigma)) }
        let sum = weights.reduce(0, +)
        weights = weights.map { $0 / sum }
        let (n, h, w, c) = (images.shape[0], images.shape[1], images.shape[2], images.shape[3])
        func pass(_ source: [Float], alongRows: Bool) -> [Float] {
            var out = [Float](repeating: 0, count: source.count)
            for image in 0..<n {
                for y in 0..<h {
                    for x in 0..<w {
                        for k in 0..<c {
                            var total = 0.0
                            for (offset, weight) in zip(-radius...radius, weights) {
                                let (yy, xx) =
                                    alongRows
                                    ? (min(max(y + offset, 0), h - 1), x) : (y, min(max(x + offset, 0), w - 1))
                                total += weight * Double(source[((image * h + yy) * w + xx) * c + k])
                            }
                            out[((image * h + y) * w + x) * c + k] = Float(total)
                        }
                    }
                }
            }
            return out
        }
        return Tensor(shape: images.shape, scalars: pass(pass(images.scalars, alongRows: true), alongRows: false))
    }
}

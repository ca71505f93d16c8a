import Foundation
import SightlineCore

/// Smoothing for the gradient pixel attributions (Saliency, Input × Gradient, Integrated
/// Gradients), as Captum's `NoiseTunnel` does it: the attribution is computed on `samples` noisy
/// copies of each image, `x + ε` with ε ~ N(0, σ²) per element, and combined:
/// - `smoothgrad`: the mean of the attributions (Smilkov et al.);
/// - `smoothgradSquared`: the mean of their squares;
/// - `vargrad`: their variance, the mean of squares minus the squared mean (Adebayo et al.).
///
/// σ is `sigma` times each image's value range (max − min of its preprocessed pixels), the
/// SmoothGrad paper's 10–20% noise level (Captum takes σ absolute). Draws are seeded.
public struct NoiseTunnel: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case smoothgrad
        case smoothgradSquared = "smoothgrad-sq"
        case vargrad
    }

    public var kind: Kind
    public var samples: Int
    /// The noise's standard deviation as a fraction of each image's value range.
    public var sigma: Float
    public var seed: UInt64

    public init(kind: Kind, samples: Int = 16, sigma: Float = 0.15, seed: UInt64 = 0) {
        (self.kind, self.samples, self.sigma, self.seed) = (kind, samples, sigma, seed)
    }

    /// Parses `KIND[:SAMPLES[:SIGMA]]` (`smoothgrad:32:0.2`); nil when malformed or out of range
    /// (samples 1 to 1024, σ above 0 and at most 1).
    public init?(argument: String) {
        let parts = argument.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard let kind = Kind(rawValue: parts[0]), parts.count <= 3 else { return nil }
        let samples = parts.count > 1 ? Int(parts[1]) : 16
        let sigma = parts.count > 2 ? Float(parts[2]) : 0.15
        guard let samples, let sigma, (1...1024).contains(samples), sigma > 0, sigma <= 1 else { return nil }
        self.init(kind: kind, samples: samples, sigma: sigma)
    }

    /// The smoothed attribution `[N, H, W, C]` of `method` for `images`.
    public func attribution(
        _ method: CAMMethod, _ cam: ClassActivationMaps, images: Tensor, classes: [Int],
        options: InputAttribution.Options = InputAttribution.Options()
    ) throws -> Tensor {
        var generator = SeededGenerator(seed: seed)
        let per = images.count / max(images.batchSize, 1)
        let deviations = (0..<images.batchSize).map { image -> Float in
            let values = images.scalars[(image * per)..<((image + 1) * per)]
            return sigma * ((values.max() ?? 0) - (values.min() ?? 0))
        }
        return try Self.attribution(
            method, cam, classes: classes, kind: kind,
            noisy: (0..<samples).lazy.map { _ in
                Tensor(shape: images.shape) { out in
                    for i in 0..<images.count {
                        out[i] = images.scalars[i] + deviations[i / per] * generator.nextNormal()
                    }
                }
            })
    }

    /// `kind`'s combination of `method`'s attributions over the noisy copies in `noisy` (each a
    /// batch shaped as the images), one sample at a time: memory does not grow with the samples.
    public static func attribution<Copies: Sequence<Tensor>>(
        _ method: CAMMethod, _ cam: ClassActivationMaps, classes: [Int], kind: Kind,
        options: InputAttribution.Options = InputAttribution.Options(), noisy: Copies
    ) throws -> Tensor {
        var (sum, squares, count): ([Double], [Double], Double) = ([], [], 0)
        var shape: [Int] = []
        for copy in noisy {
            let a = try InputAttribution.attribution(method, cam, images: copy, classes: classes, options: options)
            if sum.isEmpty {
                sum = [Double](repeating: 0, count: a.count)
                (squares, shape) = (sum, a.shape)
            }
            for i in 0..<a.count {
                let v = Double(a.scalars[i])
                sum[i] += v
                squares[i] += v * v
            }
            count += 1
        }
        guard count > 0 else { return Tensor(zeros: [0]) }
        return Tensor(
            shape: shape,
            scalars: (0..<sum.count).map { i in
                let (mean, meanSquare) = (sum[i] / count, squares[i] / count)
                switch kind {
                case .smoothgrad: return Float(mean)
                case .smoothgradSquared: return Float(meanSquare)
                case .vargrad: return Float(meanSquare - mean * mean)
                }
            })
    }
}

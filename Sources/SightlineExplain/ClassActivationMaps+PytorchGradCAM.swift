import Foundation
import SightlineCore
import SightlineNN
import SightlineVision

/// pytorch-grad-cam's versions of Grad-CAM++ and Score-CAM, which depart from the papers'
/// official code (Sightline's `gradcam++` and `scorecam` follow the official code):
/// - `gradcam++-pgc`: α = g² / (2g² + ΣA·g³ + 1e-6), 0 where g = 0, not normalised by its
///   spatial sum; w = Σ_ij ReLU(g)·α (pytorch-grad-cam's `GradCAMPlusPlus`).
/// - `scorecam-pgc`: each channel upsampled bilinearly with aligned corners (torch's
///   `UpsamplingBilinear2d`), scaled by (a − min) / (max − min + 1e-8), masks the input; the
///   weights are the softmax over the channels of the class logits of the masked inputs
///   (pytorch-grad-cam's `ScoreCAM`), where the official code weights each channel by the class's
///   softmax probability for its masked input.
extension ClassActivationMaps {
    static func gradCAMPlusPlusPGCWeights(_ gradient: Tensor, _ activations: Tensor) -> [[Float]] {
        let (n, pixels, channels) = (gradient.shape[0], gradient.shape[1] * gradient.shape[2], gradient.shape[3])
        return (0..<n).map { image in
            let sums = spatialSums(activations, image: image)
            var weights = [Double](repeating: 0, count: channels)
            for pixel in 0..<pixels {
                for k in 0..<channels {
                    let g = Double(gradient.scalars[(image * pixels + pixel) * channels + k])
                    guard g != 0 else { continue }
                    let alpha = g * g / (2 * g * g + sums[k] * g * g * g + 1e-6)
                    weights[k] += max(g, 0) * alpha
                }
            }
            return weights.map { Float($0) }
        }
    }

    func scoreCAMPGCWeights(
        _ images: Tensor, _ activations: Tensor, classes: [Int], batch: Int, maxChannels: Int?,
        progress: (Int, Int) -> Void
    ) throws -> [[Float]] {
        let (n, h, w, channels) = (
            activations.shape[0], activations.shape[1], activations.shape[2], activations.shape[3]
        )
        let (height, width, depth) = (images.shape[1], images.shape[2], images.shape[3])
        guard let input = logits.inputNames.first else { return [] }
        let kept = min(maxChannels ?? channels, channels)
        var done = 0
        return try (0..<n).map { image in
            let selected =
                kept == channels ? Array(0..<channels) : Self.mostVaried(activations, image: image, count: kept)
            var logitsByChannel: [Int: Double] = [:]
            for start in stride(from: 0, to: selected.count, by: batch) {
                let range = selected[start..<min(start + batch, selected.count)]
                let masked = range.map { k -> Tensor in
                    let channel = (0..<(h * w)).map { activations.scalars[(image * h * w + $0) * channels + k] }
                    let up = Self.alignedCorners(channel, h: h, w: w, height: height, width: width)
                    let (low, high) = (up.min() ?? 0, up.max() ?? 0)
                    let mask = up.map { ($0 - low) / (high - low + 1e-8) }
                    return Tensor(shape: [1, height, width, depth]) { out in
                        for pixel in 0..<(height * width) {
                            for c in 0..<depth {
                                let i = (image * height * width + pixel) * depth + c
                                out[pixel * depth + c] = images.scalars[i] * mask[pixel]
                            }
                        }
                    }
                }
                let scores =
                    try logits.forward([input: Tensor.concatenatingBatches(masked)], outputs: [scoreNode])[scoreNode]
                    ?? Tensor(zeros: [range.count, 1])
                for (offset, k) in range.enumerated() {
                    logitsByChannel[k] = Double(scores.scalars[offset * scores.shape[1] + classes[image]])
                }
                done += range.count
                progress(done, n * kept)
            }
            let top = logitsByChannel.values.max() ?? 0
            let total = logitsByChannel.values.reduce(0) { $0 + Foundation.exp($1 - top) }
            return (0..<channels).map { k in logitsByChannel[k].map { Float(Foundation.exp($0 - top) / total) } ?? 0 }
        }
    }

    /// Bilinear upsampling of a `[h, w]` map with aligned corners (torch's `UpsamplingBilinear2d`).
    static func alignedCorners(_ map: [Float], h: Int, w: Int, height: Int, width: Int) -> [Float] {
        func taps(_ i: Int, _ from: Int, _ to: Int) -> (Int, Int, Float) {
            let source = to > 1 ? Float(i) * Float(from - 1) / Float(to - 1) : 0
            let low = min(Int(source), from - 1)
            return (low, min(low + 1, from - 1), source - Float(low))
        }
        var out = [Float](repeating: 0, count: height * width)
        for y in 0..<height {
            let (y0, y1, fy) = taps(y, h, height)
            for x in 0..<width {
                let (x0, x1, fx) = taps(x, w, width)
                let top = map[y0 * w + x0] * (1 - fx) + map[y0 * w + x1] * fx
                let bottom = map[y1 * w + x0] * (1 - fx) + map[y1 * w + x1] * fx
                out[y * width + x] = top * (1 - fy) + bottom * fy
            }
        }
        return out
    }
}

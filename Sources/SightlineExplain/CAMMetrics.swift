import Foundation
import SightlineCore
import SightlineNN

/// Faithfulness metrics for one explained image.
public struct CAMMetrics: Sendable {
    /// Deletion AUC (RISE, Petsiuk et al. 2018): class probability as the most salient pixels are
    /// replaced by zeros (the dataset mean after preprocessing); lower is better.
    public var deletionAUC: Double
    /// Insertion AUC: class probability as the most salient pixels are restored onto a blurred
    /// copy (Gaussian, σ = 5, kernel 11, as RISE); higher is better.
    public var insertionAUC: Double
    /// The class probability of the whole image, and of the image multiplied by its map
    /// (Grad-CAM++'s explanation map), for Average Drop and Increase in Confidence.
    public var probability: Double
    public var explanationProbability: Double
    /// ROAD (remove and debias, pytorch-grad-cam's): logit changes removing the most or the least
    /// relevant pixels first, imputed from their neighbours; nil unless asked for (`road`).
    public var road: ROAD.Scores?

    /// Average Drop for this image: max(0, Y − O) / Y (in [0, 1]).
    public var drop: Double { probability > 0 ? max(0, probability - explanationProbability) / probability : 0 }
    /// Whether the explanation map raised the confidence (O > Y).
    public var increased: Bool { explanationProbability > probability }

    /// Computes the metrics for one preprocessed image `[1, H, W, C]`, its heatmap `[H, W]` in
    /// [0, 1] at input resolution, and class; `steps` deletion/insertion steps run as one batch;
    /// `road` adds ROAD (18 imputed images and their sparse solves: seconds per 224×224 image).
    public static func measure(
        _ cam: ClassActivationMaps, image: Tensor, heatmap: Tensor, classIndex: Int, steps: Int = 32,
        road includeROAD: Bool = false
    ) throws -> CAMMetrics {
        let (height, width, channels) = (image.shape[1], image.shape[2], image.shape[3])
        let pixels = height * width
        let order = heatmap.scalars.indices.sorted { heatmap.scalars[$0] > heatmap.scalars[$1] }
        let blurred = gaussianBlur(image.reshaped([height, width, channels]), sigma: 5, radius: 5)
        func series(start: Tensor, end: Tensor) -> Tensor {
            // Step s shows the first s·pixels/steps ordered pixels from `end`, the rest from `start`.
            Tensor.concatenatingBatches(
                (0...steps).map { step in
                    var frame = start
                    for index in order.prefix(pixels * step / steps) {
                        for c in 0..<channels {
                            frame.scalars[index * channels + c] = end.scalars[index * channels + c]
                        }
                    }
                    return frame.reshaped([1, height, width, channels])
                })
        }
        let original = image.reshaped([height, width, channels])
        let explanation = Tensor(shape: image.shape) { out in
            for index in 0..<pixels {
                for c in 0..<channels {
                    out[index * channels + c] = image.scalars[index * channels + c] * heatmap.scalars[index]
                }
            }
        }
        let deletion = try probabilities(cam, series(start: original, end: Tensor(zeros: original.shape)), classIndex)
        let insertion = try probabilities(cam, series(start: blurred, end: original), classIndex)
        let whole = try probabilities(cam, Tensor.concatenatingBatches([image, explanation]), classIndex)
        let road =
            includeROAD
            ? try ROAD.measure(cam, image: image, map: heatmap.reshaped([height, width]), classIndex: classIndex) : nil
        return CAMMetrics(
            deletionAUC: auc(deletion), insertionAUC: auc(insertion), probability: whole[0],
            explanationProbability: whole[1], road: road)
    }

    /// Class probabilities for a batch.
    static func probabilities(_ cam: ClassActivationMaps, _ batch: Tensor, _ classIndex: Int) throws -> [Double] {
        guard let input = cam.logits.inputNames.first,
            let scores = try cam.logits.forward([input: batch], outputs: [cam.scoreNode])[cam.scoreNode]
        else { return [] }
        let probabilities = ActivationFunction.softmax.applied(to: scores)
        let classes = scores.shape[1]
        return (0..<batch.batchSize).map { Double(probabilities.scalars[$0 * classes + classIndex]) }
    }

    /// RISE's `auc`: the trapezoid rule over scores at evenly spaced steps on [0, 1].
    static func auc(_ scores: [Double]) -> Double {
        guard scores.count > 1 else { return scores.first ?? 0 }
        return (scores.reduce(0, +) - scores[0] / 2 - scores[scores.count - 1] / 2) / Double(scores.count - 1)
    }

    /// A separable Gaussian blur of `[H, W, C]` (edges clamped).
    static func gaussianBlur(_ image: Tensor, sigma: Double, radius: Int) -> Tensor {
        let kernel = (-radius...radius).map { exp(-Double($0 * $0) / (2 * sigma * sigma)) }
        let total = kernel.reduce(0, +)
        let weights = kernel.map { Float($0 / total) }
        let (h, w, c) = (image.shape[0], image.shape[1], image.shape[2])
        func pass(_ source: Tensor, horizontal: Bool) -> Tensor {
            Tensor(shape: source.shape) { out in
                for y in 0..<h {
                    for x in 0..<w {
                        for k in 0..<c {
                            var sum: Float = 0
                            for (offset, weight) in weights.enumerated() {
                                let d = offset - radius
                                let (sy, sx) =
                                    horizontal ? (y, min(max(x + d, 0), w - 1)) : (min(max(y + d, 0), h - 1), x)
                                sum += weight * source.scalars[(sy * w + sx) * c + k]
                            }
                            out[(y * w + x) * c + k] = sum
                        }
                    }
                }
            }
        }
        return pass(pass(image, horizontal: true), horizontal: false)
    }
}

import Foundation
import SightlineCore
import SightlineData
import SightlineVision

/// The reason behind a classifier's mistakes made visible (`evaluate --report DIR --explain`):
/// for each misclassified image, the Grad-CAM map of the class it predicted and of its true
/// class, each drawn over the image. fastai's `plot_top_losses` shows the mistakes; this shows
/// where the model looked for each of the two answers.
public enum MistakeExplanations {
    /// One mistake, as `Evaluation.mistakes` lists it.
    public struct Mistake: Sendable {
        public var path: String
        public var predicted: Int
        public var trueClass: Int

        public init(path: String, predicted: Int, trueClass: Int) {
            (self.path, self.predicted, self.trueClass) = (path, predicted, trueClass)
        }
    }

    /// A mistake's two maps over the image (at the image's size).
    public struct Explained {
        public var mistake: Mistake
        /// The predicted class's map and the true class's, over the image.
        public var predicted: RGBImage
        public var truth: RGBImage
    }

    /// Grad-CAM maps at `cam`'s layer for every readable image of `mistakes` (unreadable ones are
    /// left out), `batchSize` images per pass, overlays blended with `alpha`.
    public static func explain(
        _ mistakes: [Mistake], cam: ClassActivationMaps, input: ModelInput, batchSize: Int = 8, alpha: Float = 0.4
    ) throws -> [Explained] {
        let byPath = Dictionary(mistakes.map { ($0.path, $0) }, uniquingKeysWith: { first, _ in first })
        var result: [Explained] = []
        let items = mistakes.map { ImageFolder.Item(path: $0.path, label: nil) }
        try BatchLoop(input: input, keepingOriginals: true).run(BatchLoop.plan(items, batchSize: batchSize)) {
            ready in
            guard let images = ready.images else { return true }
            let rows = ready.samples.compactMap { byPath[$0.path] }
            let predicted = try cam.compute(images, classes: rows.map(\.predicted), method: .gradcam)
            let truth = try cam.compute(images, classes: rows.map(\.trueClass), method: .gradcam)
            for (row, (mistake, original)) in zip(rows, ready.originals).enumerated() {
                func drawn(_ maps: Tensor) -> RGBImage {
                    let raw = maps.batch(row..<(row + 1)).reshaped(Array(maps.shape.dropFirst()))
                    let heat = CAMRendering.heatmap(raw, height: original.height, width: original.width)
                    return CAMRendering.overlay(original, heatmap: heat, alpha: alpha)
                }
                result.append(
                    Explained(mistake: mistake, predicted: drawn(predicted.maps), truth: drawn(truth.maps)))
            }
            return true
        }
        return result
    }
}

import SightlineCore
import SightlineNN

/// Attribution to the input pixels from gradients of the class score (pre-softmax, from
/// `cam.logits`) with respect to the preprocessed input: Saliency, Input × Gradient and
/// Integrated Gradients, as Captum computes them; and Occlusion (`PerturbationAttribution`),
/// which perturbs instead. Attributions are `[N, H, W, C]`; `map` reduces
/// them to `[N, H, W]` heatmaps (`CAMMethod` says how).
public enum InputAttribution {
    /// The pixel methods' settings (`gradcam --steps`, `--window`, `--stride`).
    public struct Options: Sendable, Equatable {
        /// Integrated Gradients' steps from the zero baseline to the image (Captum's `n_steps`).
        public var steps: Int
        /// Occlusion's patch side and step, in pixels; nil: 1/8 of the image's side (at least 2)
        /// and half the patch (Captum's `sliding_window_shapes` and `strides`).
        public var window: Int?
        public var stride: Int?

        /// Integrated Gradients' starting point and Occlusion's patch fill.
        public var baseline: AttributionBaseline

        public init(steps: Int = 16, window: Int? = nil, stride: Int? = nil, baseline: AttributionBaseline = .zero) {
            (self.steps, self.window, self.stride, self.baseline) = (steps, window, stride, baseline)
        }
    }

    /// ∂score_class/∂input `[N, H, W, C]` for each image's class.
    public static func gradient(_ cam: ClassActivationMaps, images: Tensor, classes: [Int]) throws -> Tensor {
        let graph = cam.logits
        guard let input = graph.inputNames.first else {
            throw ClassActivationMaps.CAMError(
                subject: "the model", "has no input node; explain a model that takes images")
        }
        let (outputs, tape) = try graph.record(
            [input: images], outputs: [cam.scoreNode], mode: .inference,
            request: GradientRequest(stopAt: [input], parameterGradients: false))
        guard let scores = outputs[cam.scoreNode] else {
            throw ClassActivationMaps.CAMError(
                subject: "score node '\(cam.scoreNode)'", "produced no scores; report it with `sightline inspect MODEL`"
            )
        }
        var seed = Tensor(zeros: scores.shape)
        for (image, chosen) in classes.enumerated() { seed.scalars[image * scores.shape[1] + chosen] = 1 }
        guard let gradient = graph.backward(tape, seeds: [cam.scoreNode: seed])[input] else {
            throw ClassActivationMaps.CAMError(
                subject: "the input", "received no gradient from the score; the score does not depend on the image")
        }
        return gradient
    }

    /// The per-channel attribution of `method` (a pixel-attribution `CAMMethod`). Integrated
    /// Gradients: (x − 0) · Σ_s w_s ∂score/∂x(α_s x), α_s = s/(steps − 1), trapezoid weights
    /// w = 1/(steps − 1) halved at both ends, the steps evaluated `batch` images at a time.
    public static func attribution(
        _ method: CAMMethod, _ cam: ClassActivationMaps, images: Tensor, classes: [Int], options: Options = Options(),
        batch: Int = 16
    ) throws -> Tensor {
        let steps = max(options.steps, 2)
        switch method {
        case .saliency:
            let g = try gradient(cam, images: images, classes: classes)
            return Tensor(shape: g.shape, scalars: g.scalars.map(abs))
        case .inputXGradient:
            let g = try gradient(cam, images: images, classes: classes)
            return Tensor(shape: g.shape, scalars: zip(images.scalars, g.scalars).map { $0 * $1 })
        case .integratedGradients:
            let n = images.batchSize
            let per = images.count / max(n, 1)
            var total = [Double](repeating: 0, count: images.count)
            let alphas = (0..<steps).map { Float($0) / Float(max(steps - 1, 1)) }
            let weights = (0..<steps).map { s in (s == 0 || s == steps - 1 ? 0.5 : 1) / Double(max(steps - 1, 1)) }
            let baselines = options.baseline.tensor(for: images)
            for image in 0..<n {
                let x = images.batch(image..<(image + 1))
                let b = baselines.batch(image..<(image + 1))
                for start in stride(from: 0, to: steps, by: batch) {
                    let chunk = Array(start..<min(start + batch, steps))
                    let scaled = Tensor.concatenatingBatches(
                        chunk.map { s in
                            Tensor(
                                shape: x.shape, scalars: zip(x.scalars, b.scalars).map { $1 + alphas[s] * ($0 - $1) })
                        })
                    let g = try gradient(
                        cam, images: scaled, classes: Array(repeating: classes[image], count: chunk.count))
                    for (row, s) in chunk.enumerated() {
                        for i in 0..<per { total[image * per + i] += weights[s] * Double(g.scalars[row * per + i]) }
                    }
                }
            }
            return Tensor(
                shape: images.shape,
                scalars: (0..<images.count).map { Float(total[$0]) * (images.scalars[$0] - baselines.scalars[$0]) })
        case .occlusion:
            let window = options.window ?? max(2, images.shape[1] / 8)
            return try PerturbationAttribution.occlusion(
                cam, images: images, classes: classes, window: window, stride: options.stride ?? max(1, window / 2),
                baseline: options.baseline.tensor(for: images))
        default:
            throw ClassActivationMaps.CAMError(
                subject: "method \(method.rawValue)", "is not a pixel attribution; use it through compute")
        }
    }

    /// `[N, H, W]`: Saliency takes the largest magnitude over channels (Simonyan et al.), the
    /// others the positive part of the channel sum.
    static func map(_ method: CAMMethod, _ attribution: Tensor) -> Tensor {
        let (n, h, w, c) = (attribution.shape[0], attribution.shape[1], attribution.shape[2], attribution.shape[3])
        return Tensor(shape: [n, h, w]) { out in
            for pixel in 0..<(n * h * w) {
                let values = attribution.scalars[(pixel * c)..<((pixel + 1) * c)]
                out[pixel] = method == .saliency ? (values.max() ?? 0) : max(values.reduce(0, +), 0)
            }
        }
    }
}

import SightlineCore
import SightlineNN

/// The attribution methods that perturb and re-run instead of differentiating: AblationCAM at the
/// layer (only the part of the network above it runs again) and Occlusion at the input. Scores
/// are pre-softmax class outputs, as pytorch-grad-cam's and Captum's targets take them.
enum PerturbationAttribution {
    /// AblationCAM (Desai & Ramaswamy, 2020) as pytorch-grad-cam computes it: channel k's weight is
    /// (score − score with channel k ablated) / score; ablating sets the channel to 0 when the
    /// image's activations have minimum 0 (after a ReLU), else to that minimum − 1e7. With
    /// `maxChannels`, only the channels whose maps vary most are ablated (the others weigh 0).
    /// `[N][C]` weights; `batch` ablations run per forward pass.
    static func ablationWeights(
        _ cam: ClassActivationMaps, activations: Tensor, classes: [Int], batch: Int, maxChannels: Int?,
        progress: (Int, Int) -> Void
    ) throws -> [[Float]] {
        guard let head = cam.head else {
            throw ClassActivationMaps.CAMError(
                subject: "layer '\(cam.layer)'",
                "the network above it cannot be run on its own (it reads other layers below); AblationCAM needs a layer that splits the network"
            )
        }
        let (n, h, w, channels) = (
            activations.shape[0], activations.shape[1], activations.shape[2], activations.shape[3]
        )
        let per = h * w * channels
        let kept = min(maxChannels ?? channels, channels)
        var done = 0
        func scores(_ batch: Tensor) throws -> Tensor {
            guard let scores = try head.forward([cam.layer: batch], outputs: [cam.scoreNode])[cam.scoreNode] else {
                throw ClassActivationMaps.CAMError(subject: "score node '\(cam.scoreNode)'", "produced no scores")
            }
            return scores
        }
        return try (0..<n).map { image in
            let values = Array(activations.scalars[(image * per)..<((image + 1) * per)])
            let minimum = values.min() ?? 0
            let ablated: Float = minimum == 0 ? 0 : minimum - 1e7
            let base = try scores(Tensor(shape: [1, h, w, channels], scalars: values))
            let classCount = base.shape[1]
            let original = base.scalars[classes[image]]
            var weights = [Float](repeating: 0, count: channels)
            let selected =
                kept == channels
                ? Array(0..<channels) : ClassActivationMaps.mostVaried(activations, image: image, count: kept)
            for start in stride(from: 0, to: selected.count, by: batch) {
                let range = Array(selected[start..<min(start + batch, selected.count)])
                let copies = Tensor(shape: [range.count, h, w, channels]) { out in
                    for (row, k) in range.enumerated() {
                        for i in 0..<per { out[row * per + i] = i % channels == k ? ablated : values[i] }
                    }
                }
                let result = try scores(copies)
                for (row, k) in range.enumerated() {
                    weights[k] = (original - result.scalars[row * classCount + classes[image]]) / original
                }
                done += range.count
                progress(done, n * kept)
            }
            return weights
        }
    }

    /// Occlusion (Zeiler & Fergus, 2014) as Captum's `Occlusion`: a `window` × `window` patch over
    /// every channel, moved by `stride` (the last patch clipped at the border), is set to the
    /// baseline's values there (0 without one); each pixel's attribution is the mean score drop over the patches
    /// covering it. `[N, H, W, C]` (the same value in every channel).
    static func occlusion(
        _ cam: ClassActivationMaps, images: Tensor, classes: [Int], window: Int, stride: Int, baseline: Tensor? = nil,
        batch: Int = 32
    ) throws -> Tensor {
        guard let input = cam.logits.inputNames.first, window >= 1, stride >= 1 else {
            return Tensor(zeros: images.shape)
        }
        let (n, height, width, depth) = (images.shape[0], images.shape[1], images.shape[2], images.shape[3])
        let per = height * width * depth
        func starts(_ size: Int) -> [Int] {
            let count = (max(size - window, 0) + stride - 1) / stride + 1
            return (0..<count).map { $0 * stride }
        }
        let patches = starts(height).flatMap { y in starts(width).map { x in (y, x) } }
        var result = [Float](repeating: 0, count: images.count)
        for image in 0..<n {
            let picture = Array(images.scalars[(image * per)..<((image + 1) * per)])
            let fill = baseline.map { Array($0.scalars[(image * per)..<((image + 1) * per)]) }
            func score(_ batch: [[Float]]) throws -> [Float] {
                let tensor = Tensor(shape: [batch.count, height, width, depth], scalars: batch.flatMap { $0 })
                guard let scores = try cam.logits.forward([input: tensor], outputs: [cam.scoreNode])[cam.scoreNode]
                else {
                    return []
                }
                return (0..<batch.count).map { scores.scalars[$0 * scores.shape[1] + classes[image]] }
            }
            let original = try score([picture])[0]
            var total = [Double](repeating: 0, count: height * width)
            var counts = [Double](repeating: 0, count: height * width)
            for first in Swift.stride(from: 0, to: patches.count, by: batch) {
                let chunk = patches[first..<min(first + batch, patches.count)]
                let occluded = chunk.map { y, x in
                    var copy = picture
                    for row in y..<min(y + window, height) {
                        for column in x..<min(x + window, width) {
                            for c in 0..<depth {
                                let i = (row * width + column) * depth + c
                                copy[i] = fill?[i] ?? 0
                            }
                        }
                    }
                    return copy
                }
                for ((y, x), value) in zip(chunk, try score(occluded)) {
                    for row in y..<min(y + window, height) {
                        for column in x..<min(x + window, width) {
                            total[row * width + column] += Double(original - value)
                            counts[row * width + column] += 1
                        }
                    }
                }
            }
            for pixel in 0..<(height * width) where counts[pixel] > 0 {
                for c in 0..<depth { result[image * per + pixel * depth + c] = Float(total[pixel] / counts[pixel]) }
            }
        }
        return Tensor(shape: images.shape, scalars: result)
    }
}

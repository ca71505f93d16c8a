import Foundation
import SightlineCore
import SightlineNN
import SightlineVision

/// Class activation maps for a classifier graph at one spatial layer.
///
/// The class score is the pre-softmax output: a final `Dense` with softmax (or a final softmax
/// `Activation`) is differentiated before the softmax. Gradient methods run backward from the
/// score down to the target layer only; nothing below it is kept or computed.
public struct ClassActivationMaps {
    /// The classifier with its final softmax removed (same weights, shared storage).
    public let logits: Graph
    /// The node giving class scores (pre-softmax).
    public let scoreNode: String
    /// The spatial layer whose activations are weighted (`[h, w, K]`).
    public let layer: String
    /// The part of `logits` above `layer`, with `layer` as its input, when everything above
    /// depends on the rest of the network only through `layer` (then the base runs fused and
    /// unrecorded, and only this head is recorded for backward); nil otherwise.
    public let head: Graph?

    /// Maps for a batch.
    public struct Result: Sendable {
        /// Raw maps `[N, h, w]` (after the ReLU, before any normalisation).
        public var maps: Tensor
        /// The explained class per image.
        public var classes: [Int]
        /// Each image's pre-softmax score for its class.
        public var scores: [Float]
        /// Softmax probabilities `[N, classes]`.
        public var probabilities: Tensor
    }

    /// - Parameter layer: default: the last node with a spatial output before global pooling or
    ///   flatten (VGG16 `block5_pool`'s input `block5_conv3`… see `defaultLayer(of:)`).
    /// `splitAtLayer: false` records the whole network (the fallback; for tests and comparisons).
    public init(graph: Graph, layer: String? = nil, splitAtLayer: Bool = true) throws {
        let output = graph.outputNames.first ?? graph.nodes.last?.name ?? ""
        guard let outputNode = graph.node(named: output), outputNode.shape.count == 1 else {
            throw CAMError(
                subject: "the model's output '\(output)'",
                "has shape \(graph.shape(of: output) ?? []), not a vector of class scores; explain a classifier (a model that ends in a Dense layer over its classes, or a backbone with its head: `sightline convert MODEL --head HEAD.h5`)"
            )
        }
        // The same layer objects, scoring logits: a final softmax Dense becomes a linear copy, a
        // final softmax Activation is dropped and its input scores.
        let logits = try graph.withLogitsOutput()
        let score = logits.outputNames.first ?? output
        let target = layer ?? Self.defaultLayer(of: graph)
        guard logits.node(named: target) != nil else { throw CAMError(graph.unknownLayerMessage(target)) }
        guard let shape = logits.shape(of: target), shape.count == 3 else {
            throw CAMError(
                subject: "layer '\(target)'",
                "has output \(logits.shape(of: target) ?? []), not a spatial map [h, w, channels]; choose a convolutional layer (`sightline inspect MODEL` lists them)"
            )
        }
        self.logits = logits
        self.scoreNode = score
        self.layer = target
        self.head = splitAtLayer ? try Self.headGraph(of: logits, above: target, output: score) : nil
    }

    /// The subgraph from `layer` (as input) to `output`, or nil when a node above `layer` also
    /// reads something below it that does not pass through `layer` (a skip connection around it).
    static func headGraph(of graph: Graph, above layer: String, output: String) throws -> Graph? {
        guard let start = graph.nodes.firstIndex(where: { $0.name == layer }), let shape = graph.shape(of: layer) else {
            return nil
        }
        var reachable: Set<String> = [layer]
        let head = Graph()
        head.engineOptions = graph.engineOptions
        try head.addInput(name: layer, shape: shape)
        for node in graph.nodes[(start + 1)...] where node.inputs.contains(where: reachable.contains) {
            guard node.inputs.allSatisfy(reachable.contains), let nodeLayer = node.layer else { return nil }
            try head.add(nodeLayer, inputs: node.inputs)
            reachable.insert(node.name)
        }
        guard reachable.contains(output) else { return nil }
        head.outputNames = [output]
        return head
    }

    /// The last node with a spatial `[h, w, c]` output larger than 1×1, skipping pooling and
    /// padding layers: the last convolutional activation Grad-CAM users choose (VGG16
    /// `block5_conv3`, ResNet50 `conv5_block3_out` at 224×224).
    public static func defaultLayer(of graph: Graph) -> String {
        // A 1×1 map says nothing about where (small inputs shrink the last maps to one pixel):
        // prefer the last layer whose map has more than one pixel.
        let all = graph.nodes.filter { $0.shape.count == 3 && $0.layer != nil }
        let wide = all.filter { $0.shape[0] * $0.shape[1] > 1 }
        let spatial = wide.isEmpty ? all : wide
        // Prefer the last layer that is not a pooling or padding step.
        let candidate = spatial.last {
            !($0.layer is Pooling2D) && !($0.layer is ZeroPadding2D) && !($0.layer is Dropout)
        }
        return candidate?.name ?? spatial.last?.name ?? ""
    }

    /// Maps for preprocessed images `[N, H, W, 3]`; `classes[i]` nil explains the top class.
    ///
    /// Score-CAM runs one masked forward pass per channel and image, in batches of `scoreBatch`;
    /// `maxChannels` keeps only the channels whose activation maps vary most (spatial standard
    /// deviation, tf-keras-vis's Faster-ScoreCAM `max_N`), giving the others weight 0.
    /// `progress` gets (masked passes done, total) after each batch. `noise` smooths the gradient
    /// pixel attributions (`NoiseTunnel`) and `pixel` sets their steps and window; the other
    /// methods ignore both.
    public func compute(
        _ images: Tensor, classes requested: [Int?], method: CAMMethod = .gradcam, scoreBatch: Int = 32,
        maxChannels: Int? = nil, noise: NoiseTunnel? = nil, rise: RISE? = nil,
        pixel: InputAttribution.Options = InputAttribution.Options(),
        progress: (Int, Int) -> Void = { _, _ in }
    ) throws -> Result {
        let n = images.batchSize
        guard requested.count == n else {
            throw CAMError(
                subject: "target classes",
                "\(requested.count) given for \(n) images; give one per image (nil explains the top class)")
        }
        guard let input = logits.inputNames.first else {
            throw CAMError(subject: "the model", "has no input node; explain a model that takes images")
        }
        // The base below the layer runs as fused inference; only the head is recorded.
        let graph: Graph
        let outputs: [String: Tensor]
        let tape: Tape
        if let head {
            guard let activations = try logits.forward([input: images], outputs: [layer])[layer] else {
                throw CAMError(
                    subject: "layer '\(layer)'",
                    "produced no activations; this is a Sightline bug: report it with `sightline inspect MODEL`")
            }
            graph = head
            (outputs, tape) = try head.record(
                [layer: activations], outputs: [scoreNode, layer], mode: .inference,
                request: GradientRequest(stopAt: [layer], parameterGradients: false))
        } else {
            graph = logits
            (outputs, tape) = try logits.record(
                [input: images], outputs: [scoreNode, layer], mode: .inference,
                request: GradientRequest(stopAt: [layer], parameterGradients: false))
        }
        guard let scores = outputs[scoreNode], let activations = outputs[layer] else {
            throw CAMError(
                subject: "score node '\(scoreNode)'",
                "the recorded pass produced no scores or no activations at layer '\(layer)'; this is a Sightline bug: report it with `sightline inspect MODEL`"
            )
        }
        let classCount = scores.shape[1]
        let top = scores.argmaxPerRow()
        let classes = try (0..<n).map { image -> Int in
            let chosen = requested[image] ?? top[image]
            guard chosen >= 0 && chosen < classCount else {
                throw CAMError(
                    subject: "class \(chosen)",
                    "the model has \(classCount) classes, numbered 0 to \(classCount - 1); choose one of those")
            }
            return chosen
        }
        let probabilities = ActivationFunction.softmax.applied(to: scores)
        // One backward pass for the whole batch: the seed is one-hot per image, and images do
        // not interact, so each image receives only its own class's gradient.
        func layerGradient() throws -> Tensor {
            var seed = Tensor(zeros: scores.shape)
            for (image, chosen) in classes.enumerated() { seed.scalars[image * classCount + chosen] = 1 }
            guard let gradient = graph.backward(tape, seeds: [scoreNode: seed])[layer] else {
                throw CAMError(
                    subject: "layer '\(layer)'",
                    "no gradient reached it from the score '\(scoreNode)' (the score does not depend on it); choose a layer on the path to the output"
                )
            }
            return gradient
        }
        let maps: Tensor
        switch method {
        case .gradcam, .guidedGradcam: maps = Self.weightedSum(activations, Self.gradCAMWeights(try layerGradient()))
        case .gradcamPlusPlus:
            maps = Self.weightedSum(activations, Self.gradCAMPlusPlusWeights(try layerGradient(), activations))
        case .gradcamPlusPlusPGC:
            maps = Self.weightedSum(activations, Self.gradCAMPlusPlusPGCWeights(try layerGradient(), activations))
        case .scorecamPGC:
            maps = Self.weightedSum(
                activations,
                try scoreCAMPGCWeights(
                    images, activations, classes: classes, batch: scoreBatch, maxChannels: maxChannels,
                    progress: progress))
        case .xgradcam:
            maps = Self.weightedSum(activations, LayerAttribution.xgradcamWeights(try layerGradient(), activations))
        case .hirescam, .gradcamElementwise, .layercam, .eigencam, .eigengradcam:
            let gradient = method == .eigencam ? nil : try layerGradient()
            let raw = LayerAttribution.rawMaps(method, activations: activations, gradient: gradient)
            maps = Tensor(shape: raw.shape, scalars: raw.scalars.map { max($0, 0) })
        case .ablationcam:
            maps = Self.weightedSum(
                activations,
                try PerturbationAttribution.ablationWeights(
                    self, activations: activations, classes: classes, batch: scoreBatch, maxChannels: maxChannels,
                    progress: progress))
        case .saliency, .inputXGradient, .integratedGradients, .occlusion:
            let attribution =
                try noise.map { try $0.attribution(method, self, images: images, classes: classes, options: pixel) }
                ?? InputAttribution.attribution(method, self, images: images, classes: classes, options: pixel)
            maps = InputAttribution.map(method, attribution)
        case .fullgrad:
            maps = try FullGrad.maps(self, images: images, classes: classes)
        case .rise:
            maps = try (rise ?? RISE()).maps(self, images: images, classes: classes, baseline: pixel.baseline)
        case .scorecam:
            maps = Self.weightedSum(
                activations,
                try scoreCAMWeights(
                    images, activations, classes: classes, batch: scoreBatch, maxChannels: maxChannels,
                    progress: progress))
        }
        return Result(
            maps: maps, classes: classes,
            scores: classes.enumerated().map { scores.scalars[$0.offset * classCount + $0.element] },
            probabilities: probabilities)
    }

    /// w_k = mean over (i, j) of ∂score/∂A_ijk, per image.
    static func gradCAMWeights(_ gradient: Tensor) -> [[Float]] {
        let (n, pixels, channels) = (gradient.shape[0], gradient.shape[1] * gradient.shape[2], gradient.shape[3])
        return (0..<n).map { image in
            var sums = [Double](repeating: 0, count: channels)
            for pixel in 0..<pixels {
                let base = (image * pixels + pixel) * channels
                for k in 0..<channels { sums[k] += Double(gradient.scalars[base + k]) }
            }
            return sums.map { Float($0 / Double(pixels)) }
        }
    }

    /// Σ_ij A_ijk per channel k of one image of `activations` `[N, h, w, C]` (Grad-CAM++'s ΣA).
    static func spatialSums(_ activations: Tensor, image: Int) -> [Double] {
        let (pixels, channels) = (activations.shape[1] * activations.shape[2], activations.shape[3])
        var sums = [Double](repeating: 0, count: channels)
        for pixel in 0..<pixels {
            for k in 0..<channels { sums[k] += Double(activations.scalars[(image * pixels + pixel) * channels + k]) }
        }
        return sums
    }

    /// Grad-CAM++ weights as adityac94/Grad_CAM_plus_plus `misc/utils.py` computes them.
    static func gradCAMPlusPlusWeights(_ gradient: Tensor, _ activations: Tensor) -> [[Float]] {
        let (n, pixels, channels) = (gradient.shape[0], gradient.shape[1] * gradient.shape[2], gradient.shape[3])
        return (0..<n).map { image in
            let activationSums = spatialSums(activations, image: image)
            var alphas = [Double](repeating: 0, count: pixels * channels)
            var alphaSums = [Double](repeating: 0, count: channels)
            for pixel in 0..<pixels {
                for k in 0..<channels {
                    let g = Double(gradient.scalars[(image * pixels + pixel) * channels + k])
                    let denominator = 2 * g * g + activationSums[k] * g * g * g
                    let alpha = denominator != 0 ? g * g / denominator : 0
                    alphas[pixel * channels + k] = alpha
                    alphaSums[k] += alpha
                }
            }
            var weights = [Double](repeating: 0, count: channels)
            for pixel in 0..<pixels {
                for k in 0..<channels {
                    let g = Double(gradient.scalars[(image * pixels + pixel) * channels + k])
                    let alpha = alphaSums[k] != 0 ? alphas[pixel * channels + k] / alphaSums[k] : 0
                    weights[k] += alpha * max(g, 0)
                }
            }
            return weights.map { Float($0) }
        }
    }

    /// Score-CAM weights: per channel, the class probability of the input masked by the channel's
    /// upsampled, min-max normalised activation; masked inputs run in batches of `batch`.
    func scoreCAMWeights(
        _ images: Tensor, _ activations: Tensor, classes: [Int], batch: Int, maxChannels: Int? = nil,
        progress: (Int, Int) -> Void = { _, _ in }
    ) throws -> [[Float]] {
        let (n, h, w, channels) = (
            activations.shape[0], activations.shape[1], activations.shape[2], activations.shape[3]
        )
        let (height, width) = (images.shape[1], images.shape[2])
        guard let input = logits.inputNames.first else { return [] }
        let kept = min(maxChannels ?? channels, channels)
        var done = 0
        return try (0..<n).map { image in
            let picture = images.batch(image..<(image + 1))
            var weights = [Float](repeating: 0, count: channels)
            let selected =
                kept == channels ? Array(0..<channels) : Self.mostVaried(activations, image: image, count: kept)
            for start in stride(from: 0, to: selected.count, by: batch) {
                let range = selected[start..<min(start + batch, selected.count)]
                var masked: [Tensor] = []
                for k in range {
                    let channel = Tensor(
                        shape: [h, w, 1],
                        scalars: (0..<(h * w)).map { activations.scalars[(image * h * w + $0) * channels + k] })
                    let mask = CAMRendering.normalised(Resize.bilinear(channel, height: height, width: width))
                    let depth = picture.shape[3]
                    masked.append(
                        Tensor(shape: [1, height, width, depth]) { out in
                            for pixel in 0..<(height * width) {
                                for c in 0..<depth {
                                    out[pixel * depth + c] = picture.scalars[pixel * depth + c] * mask.scalars[pixel]
                                }
                            }
                        })
                }
                let scores =
                    try logits.forward([input: Tensor.concatenatingBatches(masked)], outputs: [scoreNode])[scoreNode]
                    ?? Tensor(zeros: [range.count, 1])
                let probabilities = ActivationFunction.softmax.applied(to: scores)
                let classCount = scores.shape[1]
                for (offset, k) in range.enumerated() {
                    weights[k] = probabilities.scalars[offset * classCount + classes[image]]
                }
                done += range.count
                progress(done, n * kept)
            }
            return weights
        }
    }

    /// The `count` channels of `image` whose activation maps have the largest spatial standard
    /// deviation (a flat map masks nothing and tells nothing), in channel order.
    static func mostVaried(_ activations: Tensor, image: Int, count: Int) -> [Int] {
        let (h, w, channels) = (activations.shape[1], activations.shape[2], activations.shape[3])
        var sums = [Double](repeating: 0, count: channels)
        var squares = [Double](repeating: 0, count: channels)
        for pixel in 0..<(h * w) {
            let base = (image * h * w + pixel) * channels
            for k in 0..<channels {
                let v = Double(activations.scalars[base + k])
                sums[k] += v
                squares[k] += v * v
            }
        }
        let pixels = Double(h * w)
        let spread = (0..<channels).map { squares[$0] / pixels - (sums[$0] / pixels) * (sums[$0] / pixels) }
        return Array(
            (0..<channels).sorted { spread[$0] != spread[$1] ? spread[$0] > spread[$1] : $0 < $1 }.prefix(count)
        ).sorted()
    }

    /// ReLU(Σ_k w_k A_k) per image: `[N, h, w]`.
    static func weightedSum(_ activations: Tensor, _ weights: [[Float]]) -> Tensor {
        let (n, h, w, channels) = (
            activations.shape[0], activations.shape[1], activations.shape[2], activations.shape[3]
        )
        return Tensor(shape: [n, h, w]) { out in
            for image in 0..<n {
                for pixel in 0..<(h * w) {
                    let base = (image * h * w + pixel) * channels
                    var sum: Float = 0
                    for k in 0..<channels { sum += weights[image][k] * activations.scalars[base + k] }
                    out[image * h * w + pixel] = max(sum, 0)
                }
            }
        }
    }
}

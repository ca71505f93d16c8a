import SightlineCore
import SightlineNN
import SightlineVision

/// FullGrad (Srinivas & Fleuret, 2019) as pytorch-grad-cam's `FullGrad` computes it: the input
/// term |x · ∂score/∂x| and, for every layer with a per-channel bias (each BatchNorm, whose bias
/// is β − μ·γ/√(σ² + ε), and each convolution with a bias), |b_c · ∂score/∂out_c| at that
/// layer's output. Every channel map (the input's three, each bias layer's C) is scaled to
/// [0, 1] (`(m − min) / (1e-7 + max(m − min))`), upsampled bilinearly to the input's size and
/// summed; the sum is scaled the same way. Upsampling is linear, so each layer's channels are
/// summed first and upsampled once. The map is at the input's resolution and needs no target
/// layer.
///
/// A convolution with a fused ReLU or ReLU6 (Keras files) gets the gradient at its
/// pre-activation from its output's mask, as torch's hook on the convolution sees it; other
/// fused activations use the gradient at the output. Images are processed two at a time: the
/// gradients of every bias layer are held at once.
public enum FullGrad {
    /// A layer whose bias FullGrad uses.
    struct BiasLayer {
        var node: String
        var bias: [Float]
        /// The fused activation whose derivative the output's mask gives (ReLU, ReLU6), if any.
        var mask: ActivationFunction?
    }

    static func biasLayers(_ graph: Graph) -> [BiasLayer] {
        graph.layers.compactMap { layer -> BiasLayer? in
            let (bias, activation): ([Float]?, ActivationFunction)
            switch layer {
            case let bn as BatchNormalization:
                let c = bn.movingMean.value.count
                let gamma = bn.gamma?.value.scalars ?? Array(repeating: 1, count: c)
                let beta = bn.beta?.value.scalars ?? Array(repeating: 0, count: c)
                bias = (0..<c).map {
                    beta[$0] - bn.movingMean.value.scalars[$0] * gamma[$0]
                        / (bn.movingVariance.value.scalars[$0] + bn.epsilon).squareRoot()
                }
                activation = .linear
            case let conv as Conv2D: (bias, activation) = (conv.bias?.value.scalars, conv.activation)
            case let conv as DepthwiseConv2D: (bias, activation) = (conv.bias?.value.scalars, conv.activation)
            case let conv as GroupedConv2D: (bias, activation) = (conv.bias?.value.scalars, conv.activation)
            default: return nil
            }
            guard let bias else { return nil }
            let masked: ActivationFunction? =
                switch activation {
                case .relu(let maxValue, 0) where maxValue == nil || maxValue == 6: activation
                default: nil
                }
            return BiasLayer(node: layer.name, bias: bias, mask: masked)
        }
    }

    /// The maps `[N, H, W]` for preprocessed `images` `[N, H, W, C]` and each image's class.
    public static func maps(_ cam: ClassActivationMaps, images: Tensor, classes: [Int]) throws -> Tensor {
        let (n, height, width) = (images.shape[0], images.shape[1], images.shape[2])
        var scalars: [Float] = []
        scalars.reserveCapacity(n * height * width)
        for start in stride(from: 0, to: n, by: 2) {
            let end = min(start + 2, n)
            scalars += try chunk(cam, images: images.batch(start..<end), classes: Array(classes[start..<end])).scalars
        }
        return Tensor(shape: [n, height, width], scalars: scalars)
    }

    static func chunk(_ cam: ClassActivationMaps, images: Tensor, classes: [Int]) throws -> Tensor {
        let graph = cam.logits
        guard let input = graph.inputNames.first else {
            throw ClassActivationMaps.CAMError(
                subject: "the model", "has no input node; explain a model that takes images")
        }
        let layers = biasLayers(graph)
        let masked = layers.filter { $0.mask != nil }.map(\.node)
        let (outputs, tape) = try graph.record(
            [input: images], outputs: [cam.scoreNode] + masked, mode: .inference,
            request: GradientRequest(stopAt: Set(layers.map(\.node) + [input]), parameterGradients: false))
        guard let scores = outputs[cam.scoreNode] else {
            throw ClassActivationMaps.CAMError(
                subject: "score node '\(cam.scoreNode)'", "produced no scores; report it with `sightline inspect MODEL`"
            )
        }
        var seed = Tensor(zeros: scores.shape)
        for (image, chosen) in classes.enumerated() { seed.scalars[image * scores.shape[1] + chosen] = 1 }
        let gradients = graph.backward(tape, seeds: [cam.scoreNode: seed])
        guard let inputGradient = gradients[input] else {
            throw ClassActivationMaps.CAMError(
                subject: "the input", "received no gradient from the score; the score does not depend on the image")
        }
        let (n, height, width, channels) = (images.shape[0], images.shape[1], images.shape[2], images.shape[3])
        var total = [Float](repeating: 0, count: n * height * width)
        for image in 0..<n {
            let base = image * height * width
            let pixels = (0..<(height * width)).map { $0 }
            for c in 0..<channels {
                let term = pixels.map { p in
                    let i = (base + p) * channels + c
                    return abs(inputGradient.scalars[i] * images.scalars[i])
                }
                for (p, value) in CAMRendering.scaledAsPytorchGradCAM(term, relu: false).enumerated() {
                    total[base + p] += value
                }
            }
        }
        for layer in layers {
            guard let gradient = gradients[layer.node], gradient.rank == 4 else { continue }
            let (h, w, c) = (gradient.shape[1], gradient.shape[2], gradient.shape[3])
            let output = outputs[layer.node]
            let high: Float = layer.mask == .relu(maxValue: 6) ? 6 : .infinity
            for image in 0..<n {
                var summed = [Float](repeating: 0, count: h * w)
                for k in 0..<min(c, layer.bias.count) {
                    let channel = (0..<(h * w)).map { p -> Float in
                        let i = (image * h * w + p) * c + k
                        if let output, !(output.scalars[i] > 0 && output.scalars[i] < high) { return 0 }
                        return abs(layer.bias[k] * gradient.scalars[i])
                    }
                    for (p, value) in CAMRendering.scaledAsPytorchGradCAM(channel, relu: false).enumerated() {
                        summed[p] += value
                    }
                }
                let resized =
                    (h, w) == (height, width)
                    ? summed
                    : Resize.bilinear(Tensor(shape: [h, w, 1], scalars: summed), height: height, width: width).scalars
                for (p, value) in resized.enumerated() { total[image * height * width + p] += value }
            }
        }
        let maps = (0..<n).flatMap {
            CAMRendering.scaledAsPytorchGradCAM(
                Array(total[($0 * height * width)..<(($0 + 1) * height * width)]), relu: false)
        }
        return Tensor(shape: [n, height, width], scalars: maps)
    }
}

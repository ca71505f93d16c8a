import SightlineCore
import SightlineNN
import SightlineVision

/// Guided backpropagation (Springenberg et al., 2015) and guided Grad-CAM (Selvaraju et al.):
/// the input gradient of the class score where every activation passes back only positive
/// gradients, through its own derivative.
public enum GuidedBackprop {
    /// An activation whose backward pass is guided: `∂L/∂x = max(0, f′(x) · max(∂L/∂y, 0))`.
    /// For ReLU that is the paper's rule, `(x > 0) · max(∂L/∂y, 0)`; ReLU6 passes where 0 < x < 6;
    /// smooth activations (sigmoid, swish, GELU, …) scale the positive gradient by their slope,
    /// and where the slope is negative (swish below −1.28) nothing passes.
    final class GuidedActivation: Layer {
        let name: String
        let function: ActivationFunction
        init(name: String, _ function: ActivationFunction) { (self.name, self.function) = (name, function) }

        func outputShape(for inputShapes: [[Int]]) throws(LayerError) -> [Int] { inputShapes.first ?? [] }

        func forward(_ inputs: [Tensor], mode: Mode) -> LayerOutput { LayerOutput(function.applied(to: inputs[0])) }

        func backward(
            _ outputGradient: Tensor, inputs: [Tensor], forward: LayerOutput, mode: Mode, needs: GradientNeeds
        ) -> [Tensor] {
            guard needs.contains(.input) else { return [] }
            let positive = Tensor(shape: outputGradient.shape, scalars: outputGradient.scalars.map { max($0, 0) })
            let passed = function.gradient(positive, output: forward.output, input: inputs[0])
            return [Tensor(shape: passed.shape, scalars: passed.scalars.map { max($0, 0) })]
        }
    }

    /// `graph` with every activation guided: `Activation` nodes are replaced, and layers with a
    /// fused activation (convolutions of every kind, Dense) become a linear copy (same weights)
    /// followed by a guided activation under the original name, so downstream names are
    /// unchanged. Softmax (the class output) is not guided: the score is taken before it.
    static func guided(_ graph: Graph) throws -> Graph {
        try graph.rebuilt { node, layer in
            func split(_ linear: any Layer, _ function: ActivationFunction) -> Graph.Replacement {
                [(linear, node.inputs), (GuidedActivation(name: node.name, function), [node.name + "/linear"])]
            }
            let linearName = node.name + "/linear"
            switch layer {
            case let activation as Activation where activation.function != .linear && activation.function != .softmax:
                return [(GuidedActivation(name: node.name, activation.function), node.inputs)]
            case let conv as Conv2D where conv.activation != .linear:
                return split(
                    Conv2D(
                        name: linearName, kernel: conv.kernel.value, bias: conv.bias?.value, strides: conv.strides,
                        padding: conv.padding, dilation: conv.dilation), conv.activation)
            case let dense as Dense where dense.activation != .linear && dense.activation != .softmax:
                return split(
                    Dense(name: linearName, kernel: dense.kernel.value, bias: dense.bias?.value), dense.activation)
            case let depthwise as DepthwiseConv2D where depthwise.activation != .linear:
                // A grouped copy stores [kh, kw, 1, C·M]; the initialiser takes [kh, kw, C, M].
                let kernel = depthwise.kernel.value
                let channels = graph.shape(of: node.inputs.first ?? "")?.last ?? kernel.shape[2]
                let shape = [
                    kernel.shape[0], kernel.shape[1], channels,
                    kernel.count / (kernel.shape[0] * kernel.shape[1] * channels),
                ]
                return split(
                    DepthwiseConv2D(
                        name: linearName, kernel: kernel.reshaped(shape), bias: depthwise.bias?.value,
                        strides: depthwise.strides, padding: depthwise.padding, dilation: depthwise.dilation,
                        grouped: depthwise.grouped), depthwise.activation)
            case let grouped as GroupedConv2D where grouped.activation != .linear:
                return split(
                    GroupedConv2D(
                        name: linearName, kernel: grouped.kernel.value, bias: grouped.bias?.value,
                        groups: grouped.groups,
                        strides: grouped.strides, padding: grouped.padding, dilation: grouped.dilation),
                    grouped.activation)
            case let separable as SeparableConv2D where separable.activation != .linear:
                return split(
                    SeparableConv2D(
                        name: linearName, depthwiseKernel: separable.depthwise.kernel.value,
                        pointwiseKernel: separable.pointwise.kernel.value, bias: separable.pointwise.bias?.value,
                        strides: separable.strides, padding: separable.padding, dilation: separable.dilation),
                    separable.activation)
            default:
                return nil
            }
        }
    }

    /// Guided-backpropagation saliency `[N, H, W, C]` of each image's class score (pre-softmax,
    /// taken from `cam.logits`) with respect to the preprocessed input.
    public static func saliency(_ cam: ClassActivationMaps, images: Tensor, classes: [Int]) throws -> Tensor {
        let graph = try guided(cam.logits)
        guard let input = graph.inputNames.first else { return Tensor(zeros: images.shape) }
        let (outputs, tape) = try graph.record(
            [input: images], outputs: [cam.scoreNode], mode: .inference,
            request: GradientRequest(stopAt: [input], parameterGradients: false))
        guard let scores = outputs[cam.scoreNode] else { return Tensor(zeros: images.shape) }
        var seed = Tensor(zeros: scores.shape)
        for (image, chosen) in classes.enumerated() { seed.scalars[image * scores.shape[1] + chosen] = 1 }
        return graph.backward(tape, seeds: [cam.scoreNode: seed])[input] ?? Tensor(zeros: images.shape)
    }

    /// Guided Grad-CAM for one image: saliency `[H, W, C]` times the heatmap `[H, W]` in [0, 1],
    /// rendered as pytorch-grad-cam's `deprocess_image` does (standardise, × 0.1, + 0.5, clip).
    public static func guidedGradCAMImage(saliency: Tensor, heatmap: Tensor) -> RGBImage {
        let (h, w, c) = (saliency.shape[0], saliency.shape[1], saliency.shape[2])
        var values = [Float](repeating: 0, count: h * w * 3)
        for pixel in 0..<(h * w) {
            for k in 0..<3 {
                values[pixel * 3 + k] = saliency.scalars[pixel * c + min(k, c - 1)] * heatmap.scalars[pixel]
            }
        }
        let mean = values.reduce(0, +) / Float(values.count)
        let std = (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(values.count)).squareRoot()
        let pixels = values.map { v -> UInt8 in
            let x = std > 0 ? (v - mean) / (std + 1e-5) * 0.1 + 0.5 : 0.5
            return UInt8((min(max(x, 0), 1) * 255).rounded())
        }
        return RGBImage(width: w, height: h, pixels: pixels)
    }
}

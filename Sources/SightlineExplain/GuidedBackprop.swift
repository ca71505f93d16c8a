import SightlineCore
import SightlineNN
import SightlineVision

/// Guided backpropagation (Springenberg et al., 2015) and guided Grad-CAM (Selvaraju et al.):
/// the input gradient of the class score where every ReLU passes back only positive gradients
/// through positive activations.
public enum GuidedBackprop {
    /// ReLU whose backward pass is guided: `∂L/∂x = (y > 0) · max(∂L/∂y, 0)`.
    final class GuidedReLU: Layer {
        let name: String
        init(name: String) { self.name = name }

        func outputShape(for inputShapes: [[Int]]) throws(LayerError) -> [Int] { inputShapes.first ?? [] }

        func forward(_ inputs: [Tensor], mode: Mode) -> LayerOutput {
            LayerOutput(ActivationFunction.relu.applied(to: inputs[0]))
        }

        func backward(
            _ outputGradient: Tensor, inputs: [Tensor], forward: LayerOutput, mode: Mode, needs: GradientNeeds
        ) -> [Tensor] {
            guard needs.contains(.input) else { return [] }
            return [
                Tensor(
                    shape: outputGradient.shape,
                    scalars: zip(outputGradient.scalars, forward.output.scalars).map { $1 > 0 ? max($0, 0) : 0 })
            ]
        }
    }

    /// `graph` with every ReLU guided: `Activation(relu)` nodes are replaced, and layers with a
    /// fused ReLU become a linear copy (same weights) followed by a guided ReLU under the
    /// original name, so downstream names are unchanged.
    static func guided(_ graph: Graph) throws -> Graph {
        try graph.rebuilt { node, layer in
            switch layer {
            case let activation as Activation where activation.function == .relu:
                return [(GuidedReLU(name: node.name), node.inputs)]
            case let conv as Conv2D where conv.activation == .relu:
                let linear = Conv2D(
                    name: node.name + "/linear", kernel: conv.kernel.value, bias: conv.bias?.value,
                    strides: conv.strides,
                    padding: conv.padding, dilation: conv.dilation)
                return [(linear, node.inputs), (GuidedReLU(name: node.name), [node.name + "/linear"])]
            case let dense as Dense where dense.activation == .relu:
                let linear = Dense(name: node.name + "/linear", kernel: dense.kernel.value, bias: dense.bias?.value)
                return [(linear, node.inputs), (GuidedReLU(name: node.name), [node.name + "/linear"])]
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

import SightlineCore

/// InceptionResNetV2's residual join from Keras Applications (`CustomScaleLayer`):
/// `y = x₀ + x₁ · scale` for two inputs of one shape. tf.keras wrote the same join as a `Lambda`;
/// Keras 3 writes this class with `scale` in its config.
public final class CustomScaleLayer: Layer {
    public let name: String
    public let scale: Float

    public init(name: String, scale: Float) {
        self.name = name
        self.scale = scale
    }

    public func outputShape(for inputShapes: [[Int]]) throws(LayerError) -> [Int] {
        guard inputShapes.count == 2, inputShapes[0] == inputShapes[1] else {
            throw LayerError(layer: name, "needs two inputs of one shape, got \(inputShapes)")
        }
        return inputShapes[0]
    }

    public func forward(_ inputs: [Tensor], mode: Mode) -> LayerOutput {
        let (a, b) = (inputs[0], inputs[1])
        return LayerOutput(
            Tensor(shape: a.shape) { out in
                for i in 0..<out.count { out[i] = a.scalars[i] + b.scalars[i] * scale }
            })
    }

    public func backward(
        _ outputGradient: Tensor, inputs: [Tensor], forward: LayerOutput, mode: Mode, needs: GradientNeeds
    ) -> [Tensor] {
        guard needs.contains(.input) else { return [] }
        return [
            outputGradient, Tensor(shape: outputGradient.shape, scalars: outputGradient.scalars.map { $0 * scale }),
        ]
    }
}

extension CustomScaleLayer: KerasLayer {
    public static let kerasClassNames = ["CustomScaleLayer"]
    public var kerasModule: String { "keras.src.applications.inception_resnet_v2" }
    public var kerasTakesTensorList: Bool { true }

    public static func make(_ config: KerasConfig, inputShapes: [[Int]]) throws(LayerError) -> any Layer {
        CustomScaleLayer(name: config.name, scale: try config.float("scale", 1))
    }

    public func kerasConfig() throws(LayerError) -> [String: Any] { ["scale": Double(scale)] }

    public func flops(inputShapes: [[Int]], outputShape: [Int]) -> Int { 2 * outputShape.reduce(1, *) }
}

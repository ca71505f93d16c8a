/// `y = x · scale + offset` element-wise (Keras `Rescaling`), any shape.
public final class Rescaling: Layer {
    public let name: String
    public let scale: Float
    public let offset: Float

    public init(name: String, scale: Float, offset: Float = 0) {
        self.name = name
        self.scale = scale
        self.offset = offset
    }

    public func outputShape(for inputShapes: [[Int]]) throws(LayerError) -> [Int] {
        try singleInputShape(inputShapes)
    }

    public func forward(_ inputs: [Tensor], mode: Mode) -> LayerOutput {
        let x = inputs[0]
        return LayerOutput(Tensor(shape: x.shape, scalars: x.scalars.map { $0 * scale + offset }))
    }

    public func backward(_ outputGradient: Tensor, inputs: [Tensor], forward: LayerOutput, mode: Mode, needs: GradientNeeds) -> [Tensor] {
        needs.contains(.input) ? [Tensor(shape: outputGradient.shape, scalars: outputGradient.scalars.map { $0 * scale })] : []
    }
}

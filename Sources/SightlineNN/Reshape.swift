/// Changes the shape of each batch item without moving data (Keras `Flatten` and `Reshape`).
///
/// `Flatten` is `Reshape` to one axis: NHWC items flatten in H, W, C order, which is Keras's
/// channels-last order (a torchvision classifier's first dense rows need permuting from C, H, W).
public final class Reshape: Layer {
    public let name: String
    /// The target item shape; nil flattens to one axis.
    public let targetShape: [Int]?

    /// A reshape to `targetShape` (without batch axis); pass nil to flatten.
    public init(name: String, targetShape: [Int]?) {
        self.name = name
        self.targetShape = targetShape
    }

    /// Keras `Flatten`.
    public static func flatten(name: String) -> Reshape { Reshape(name: name, targetShape: nil) }

    public func outputShape(for inputShapes: [[Int]]) throws(LayerError) -> [Int] {
        let shape = try singleInputShape(inputShapes)
        let count = shape.reduce(1, *)
        guard let targetShape else { return [count] }
        guard targetShape.reduce(1, *) == count else {
            throw LayerError(layer: name, "cannot reshape \(shape) (\(count) values) to \(targetShape)")
        }
        return targetShape
    }

    public func forward(_ inputs: [Tensor], mode: Mode) -> LayerOutput {
        let x = inputs[0]
        return LayerOutput(x.reshaped([x.batchSize] + (targetShape ?? [x.itemCount])))
    }

    public func backward(_ outputGradient: Tensor, inputs: [Tensor], forward: LayerOutput, mode: Mode, needs: GradientNeeds) -> [Tensor] {
        needs.contains(.input) ? [outputGradient.reshaped(inputs[0].shape)] : []
    }
}

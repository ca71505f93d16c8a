import SightlineCore

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
        guard let resolved = resolvedShape(count: count) else {
            throw LayerError(layer: name, "cannot reshape \(shape) (\(count) values) to \(targetShape ?? [count])")
        }
        return resolved
    }

    /// The target shape for items of `count` values, with a `-1` entry filled in; nil when
    /// the count does not fit.
    func resolvedShape(count: Int) -> [Int]? {
        guard let targetShape else { return [count] }
        let known = targetShape.filter { $0 != -1 }.reduce(1, *)
        guard known > 0, count % known == 0 else { return nil }
        let resolved = targetShape.map { $0 == -1 ? count / known : $0 }
        return resolved.reduce(1, *) == count ? resolved : nil
    }

    public func forward(_ inputs: [Tensor], mode: Mode) -> LayerOutput {
        let x = inputs[0]
        return LayerOutput(x.reshaped([x.batchSize] + (resolvedShape(count: x.itemCount) ?? [x.itemCount])))
    }

    public func backward(
        _ outputGradient: Tensor, inputs: [Tensor], forward: LayerOutput, mode: Mode, needs: GradientNeeds
    ) -> [Tensor] {
        needs.contains(.input) ? [outputGradient.reshaped(inputs[0].shape)] : []
    }
}

extension Reshape: KerasLayer {
    public static let kerasClassNames = ["Reshape", "Flatten"]

    public static func make(_ config: KerasConfig, inputShapes: [[Int]]) throws(LayerError) -> any Layer {
        if config.className == "Flatten" {
            try config.requireChannelsLast()
            return Reshape.flatten(name: config.name)
        }
        guard let target = try config.ints("target_shape"), !target.isEmpty else {
            throw config.error("must be a list of integers", field: "target_shape")
        }
        guard target.allSatisfy({ $0 > 0 || $0 == -1 }), target.filter({ $0 == -1 }).count <= 1 else {
            throw config.error("must hold positive sizes and at most one -1, got \(target)", field: "target_shape")
        }
        return Reshape(name: config.name, targetShape: target)
    }

    public var kerasClassName: String { targetShape == nil ? "Flatten" : "Reshape" }

    public func kerasConfig() throws(LayerError) -> [String: Any] {
        if let targetShape { return ["target_shape": targetShape] }
        return ["data_format": "channels_last"]
    }

    public func flops(inputShapes: [[Int]], outputShape: [Int]) -> Int { 0 }

    public var receptiveWindow: ReceptiveWindow { .reset }
}

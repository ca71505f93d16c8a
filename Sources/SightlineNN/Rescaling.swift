import SightlineCore

/// `y = x · scale + offset` element-wise (Keras `Rescaling`), any shape. `scale` and `offset`
/// each hold one value for every element, or one per channel (last axis), as Keras allows
/// (EfficientNet divides by the ImageNet standard deviation per channel).
public final class Rescaling: Layer {
    public let name: String
    /// One value, or one per channel.
    public let scales: [Float]
    /// One value, or one per channel.
    public let offsets: [Float]

    public init(name: String, scales: [Float], offsets: [Float] = [0]) {
        precondition(!scales.isEmpty && !offsets.isEmpty, "Rescaling '\(name)' needs a scale and an offset")
        self.name = name
        self.scales = scales
        self.offsets = offsets
    }

    /// One scale and offset for every element.
    public convenience init(name: String, scale: Float, offset: Float = 0) {
        self.init(name: name, scales: [scale], offsets: [offset])
    }

    public func outputShape(for inputShapes: [[Int]]) throws(LayerError) -> [Int] {
        let shape = try singleInputShape(inputShapes)
        for values in [scales, offsets] where values.count != 1 && values.count != shape.last {
            throw LayerError(
                layer: name, "has \(values.count) per-channel values, the input has \(shape.last ?? 0) channels")
        }
        return shape
    }

    /// Calls `body(i, scale, offset)` for every element index with its channel's values.
    private func map(_ x: Tensor, _ body: (Float, Float, Float) -> Float) -> Tensor {
        let channels = x.shape.last ?? 1
        return Tensor(shape: x.shape) { out in
            x.withUnsafeBufferPointer { p in
                for i in 0..<out.count {
                    let c = i % channels
                    out[i] = body(p[i], scales[scales.count == 1 ? 0 : c], offsets[offsets.count == 1 ? 0 : c])
                }
            }
        }
    }

    public func forward(_ inputs: [Tensor], mode: Mode) -> LayerOutput {
        LayerOutput(map(inputs[0]) { x, scale, offset in x * scale + offset })
    }

    public func backward(
        _ outputGradient: Tensor, inputs: [Tensor], forward: LayerOutput, mode: Mode, needs: GradientNeeds
    ) -> [Tensor] {
        needs.contains(.input) ? [map(outputGradient) { g, scale, _ in g * scale }] : []
    }
}

extension Rescaling: KerasLayer {
    public static let kerasClassNames = ["Rescaling"]

    public static func make(_ config: KerasConfig, inputShapes: [[Int]]) throws(LayerError) -> any Layer {
        let channels = try config.channels(inputShapes)
        func values(_ key: String, _ fallback: Float) throws(LayerError) -> [Float] {
            if let list = config.values[key] as? [Any] {
                var result: [Float] = []
                for item in list {
                    guard let number = KerasConfig.double(item), number.isFinite else {
                        throw config.error("must be numbers, got \(list)", field: key)
                    }
                    result.append(Float(number))
                }
                guard result.count == 1 || result.count == channels else {
                    throw config.error(
                        "has \(result.count) values; give one, or one per channel (\(channels))", field: key)
                }
                return result
            }
            return [try config.float(key, fallback)]
        }
        return Rescaling(name: config.name, scales: try values("scale", 1), offsets: try values("offset", 0))
    }

    public func kerasConfig() throws(LayerError) -> [String: Any] {
        func value(_ values: [Float]) -> Any { values.count == 1 ? Double(values[0]) : values.map(Double.init) }
        return ["scale": value(scales), "offset": value(offsets)]
    }
}

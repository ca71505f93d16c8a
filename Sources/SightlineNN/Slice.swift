import Foundation
import SightlineCore

/// Basic slicing of the non-batch axes, as tf.keras's `SlicingOpLambda` and Keras 3's `GetItem`
/// operator node (`x[:, 1:, ::2, :8]`) write it: per axis a start, an end and a positive step (Python's semantics: negative
/// positions count from the end, out-of-range ones are clipped). Input `[N, d1, …]`, output
/// `[N, ⌈(end − start) / step⌉, …]`. Backward scatters the gradient into zeros.
public final class Slice: Layer {
    public let name: String
    /// Per non-batch axis, as written: start, stop, step (nil = Python's default).
    public let spec: [(start: Int?, stop: Int?, step: Int?)]

    public init(name: String, spec: [(start: Int?, stop: Int?, step: Int?)]) {
        self.name = name
        self.spec = spec
    }

    /// The selected positions of each axis of `shape` (without the batch axis).
    func positions(_ shape: [Int]) -> [[Int]] {
        shape.enumerated().map { axis, size in
            guard axis < spec.count else { return Array(0..<size) }
            let (start, stop, step) = spec[axis]
            func clip(_ value: Int?, _ fallback: Int) -> Int {
                guard let value else { return fallback }
                return min(max(value < 0 ? value + size : value, 0), size)
            }
            return Array(stride(from: clip(start, 0), to: clip(stop, size), by: max(step ?? 1, 1)))
        }
    }

    public func outputShape(for inputShapes: [[Int]]) throws(LayerError) -> [Int] {
        let shape = try singleInputShape(inputShapes)
        guard spec.count <= shape.count else {
            throw LayerError(layer: name, "slices \(spec.count) axes of an input with \(shape.count)")
        }
        guard spec.allSatisfy({ ($0.step ?? 1) >= 1 }) else {
            throw LayerError(layer: name, "only positive slice steps are supported")
        }
        let sizes = positions(shape).map(\.count)
        guard !sizes.contains(0) else { throw LayerError(layer: name, "selects nothing from an input of \(shape)") }
        return sizes
    }

    /// For every output element (batch excluded), its flat index in the input.
    func sourceIndices(_ shape: [Int]) -> [Int] {
        var indices = [0]
        for (axis, chosen) in positions(shape).enumerated() {
            let inner = shape[(axis + 1)...].reduce(1, *)
            indices = indices.flatMap { base in chosen.map { base + $0 * inner } }
        }
        return indices
    }

    public func forward(_ inputs: [Tensor], mode: Mode) -> LayerOutput {
        let x = inputs[0]
        let shape = Array(x.shape.dropFirst())
        let per = shape.reduce(1, *)
        let source = sourceIndices(shape)
        let n = x.shape[0]
        let y = Tensor(shape: [n] + positions(shape).map(\.count)) { out in
            for image in 0..<n {
                for (i, s) in source.enumerated() { out[image * source.count + i] = x.scalars[image * per + s] }
            }
        }
        return LayerOutput(y)
    }

    public func backward(
        _ outputGradient: Tensor, inputs: [Tensor], forward: LayerOutput, mode: Mode, needs: GradientNeeds
    ) -> [Tensor] {
        guard needs.contains(.input) else { return [] }
        let x = inputs[0]
        let shape = Array(x.shape.dropFirst())
        let per = shape.reduce(1, *)
        let source = sourceIndices(shape)
        let n = x.shape[0]
        return [
            Tensor(shape: x.shape) { dx in
                for i in 0..<dx.count { dx[i] = 0 }
                for image in 0..<n {
                    for (i, s) in source.enumerated() {
                        dx[image * per + s] += outputGradient.scalars[image * source.count + i]
                    }
                }
            }
        ]
    }
}

extension Slice: KerasLayer {
    /// Keras 3 operator nodes arrive as `ops.<Class>` (the importer prefixes their module).
    public static let kerasClassNames = ["SlicingOpLambda", "ops.GetItem"]

    public static func make(_ config: KerasConfig, inputShapes: [[Int]]) throws(LayerError) -> any Layer {
        var entries: [Any]?
        if config.className == "ops.GetItem" {
            // Keras 3: args [tensor, [{"class_name": "__slice__", "config": {start, stop, step}}, …]].
            entries = ((config.keywords["args"] as? [Any])?.dropFirst().first as? [Any])?.map { entry in
                guard let slice = entry as? [String: Any], slice["class_name"] as? String == "__slice__" else {
                    return entry
                }
                return slice["config"] ?? entry
            }
        } else {
            let function = try config.string("function", "")
            guard function == "__operators__.getitem" else {
                throw config.error(
                    "'\(function)' is not supported; Sightline imports __operators__.getitem", field: "function")
            }
            entries = config.keywords["slice_spec"] as? [Any]
        }
        guard let entries else {
            throw config.error(
                "has no slice_spec in its call; only basic slicing (x[:, a:b]) is supported", field: "slice_spec")
        }
        var spec: [(start: Int?, stop: Int?, step: Int?)] = []
        for entry in entries {
            guard let slice = entry as? [String: Any], slice["class_name"] == nil else {
                throw config.error(
                    "holds \(entry); only start:stop:step slices are supported (no indices, ellipsis or new axes)",
                    field: "slice_spec")
            }
            var values: [Int?] = []
            for key in ["start", "stop", "step"] {
                let value = slice[key]
                if value == nil || value is NSNull {
                    values.append(nil)
                    continue
                }
                guard let number = KerasConfig.integer(value as Any) else {
                    throw config.error("\(key) \(value ?? "") is not an integer", field: "slice_spec")
                }
                values.append(number)
            }
            spec.append((values[0], values[1], values[2]))
        }
        guard let batch = spec.first, batch.start == nil, batch.stop == nil, (batch.step ?? 1) == 1 else {
            throw config.error("slices the batch axis; only the other axes may be sliced", field: "slice_spec")
        }
        guard spec.allSatisfy({ ($0.step ?? 1) >= 1 }) else {
            throw config.error("has a step below 1; only positive steps are supported", field: "slice_spec")
        }
        return Slice(name: config.name, spec: Array(spec.dropFirst()))
    }

    public var kerasClassName: String { "SlicingOpLambda" }

    public func kerasConfig() throws(LayerError) -> [String: Any] { ["function": "__operators__.getitem"] }

    /// Per axis, batch first, start/stop/step with null for Python's defaults.
    public var kerasSlices: [[String: Any]] {
        let value: (Int?) -> Any = { $0.map { $0 as Any } ?? NSNull() }
        return [["start": NSNull(), "stop": NSNull(), "step": NSNull()]]
            + spec.map { ["start": value($0.start), "stop": value($0.stop), "step": value($0.step)] }
    }

    /// tf.keras's form: the tensor, with the slices (batch axis first) in `slice_spec`.
    public func kerasInboundNode(inputs: [String]) -> Any? {
        [[inputs.first ?? "", 0, 0, ["slice_spec": kerasSlices]] as [Any]]
    }
}

import Foundation
import SightlineModels
import SightlineNN

/// Builds a `Graph` from a Keras `model_config` JSON (the root attribute of a full-model `.h5`,
/// or `config.json` of a `.keras` archive). Weights start at zero; load them with `WeightLoader`.
///
/// Accepts `Functional` and `Sequential` models in the Keras 2 format (`inbound_nodes` as
/// nested lists, `batch_input_shape`) and the Keras 3 format (`inbound_nodes` with `args` of
/// `__keras_tensor__`, `batch_shape`). A nested model used as a layer is inlined: its layers
/// keep their names, so its weights match by sub-layer name. Layers are created in the config's
/// order, which is Keras's `model.layers` order. Each layer may be called once (shared layers
/// are not supported). An unsupported layer, activation or option is an error naming the layer
/// and its class.
public struct ModelConfigImporter {
    /// What the config describes that the graph cannot, or a value in it that is out of range.

    /// Spatial size used where the config leaves the input's height or width open (`None`).
    public var defaultImageSize = 224
    private let graph = Graph()
    /// Outer name → graph node producing it (a nested model's name maps to its output node).
    private var producer: [String: String] = [:]

    public init(defaultImageSize: Int = 224) {
        self.defaultImageSize = defaultImageSize
    }

    /// Parses `json` and builds the graph.
    public static func graph(fromJSON json: String, defaultImageSize: Int = 224) throws -> Graph {
        guard let data = json.data(using: .utf8),
            let root = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        else {
            throw LayerError(layer: "model", className: "?", reason: "model_config is not a JSON object")
        }
        var importer = ModelConfigImporter(defaultImageSize: defaultImageSize)
        let outputs = try importer.importModel(root, inputs: [])
        importer.graph.outputNames = outputs
        return importer.graph
    }

    /// Imports a Functional or Sequential model whose inputs, when nested, are `inputs`;
    /// returns its output node names.
    private mutating func importModel(_ model: [String: Any], inputs: [String]) throws -> [String] {
        let className = model["class_name"] as? String ?? ""
        let config = model["config"] as? [String: Any] ?? [:]
        // Keras ≤ 2.1 wrote a Sequential's config as the plain list of its layers.
        let layers = model["config"] as? [[String: Any]] ?? config["layers"] as? [[String: Any]] ?? []
        switch className {
        case "Sequential":
            var current = inputs.first
            for layer in layers {
                let isInput = layer["class_name"] as? String == "InputLayer"
                if current == nil {
                    // Keras 3 starts with an InputLayer; Keras 2 puts batch_input_shape on the first layer.
                    current = try addInput(layer, name: isInput ? Self.name(of: layer) : "input_1")
                }
                guard !isInput, let input = current else { continue }
                current = try addLayer(layer, inputs: [input])
            }
            return current.map { [$0] } ?? []
        case "Functional", "Model":
            var inputIndex = 0
            for layer in layers {
                let name = Self.name(of: layer)
                if layer["class_name"] as? String == "InputLayer" {
                    if inputIndex < inputs.count {
                        producer[name] = inputs[inputIndex]
                    } else {
                        producer[name] = try addInput(layer, name: name)
                    }
                    inputIndex += 1
                    continue
                }
                let sources = try inboundLayers(layer).map { source in
                    guard let node = producer[source] else {
                        throw LayerError(
                            layer: name, className: layer["class_name"] as? String ?? "?",
                            reason: "reads '\(source)', which is not defined before it")
                    }
                    return node
                }
                producer[name] = try addLayer(layer, inputs: sources)
            }
            return try Self.tensorNames(config["output_layers"]).map { name in
                guard let node = producer[name] else {
                    throw LayerError(layer: name, className: "output", reason: "is not a layer of the model")
                }
                return node
            }
        default:
            throw LayerError(
                layer: config["name"] as? String ?? "model", className: className,
                reason: "only Functional and Sequential models are supported")
        }
    }

    static func name(of layer: [String: Any]) -> String {
        (layer["name"] as? String) ?? ((layer["config"] as? [String: Any])?["name"] as? String) ?? "?"
    }

    /// Layer names in `input_layers`/`output_layers`: `[["a", 0, 0], …]` or Keras 3's `["a", 0, 0]`.
    static func tensorNames(_ value: Any?) throws -> [String] {
        guard let list = value as? [Any] else { return [] }
        if let name = list.first as? String { return [name] }
        return list.compactMap { ($0 as? [Any])?.first as? String }
    }

    /// The names of the layers a layer reads, from Keras 2 or Keras 3 `inbound_nodes`.
    func inboundLayers(_ layer: [String: Any]) throws -> [String] {
        try callArguments(layer).compactMap { argument in
            if case .tensor(let name) = argument { return name }
            return nil
        }
    }

    /// The arguments of a layer's call in order: tensors (by producing layer) and numbers.
    /// Keras 2 nodes are `[[layer, node, index, kwargs], …]` (tf.keras puts an operator's second
    /// operand in `kwargs["y"]`); Keras 3 nodes are `{"args": […], "kwargs": {…}}` with tensors
    /// as `__keras_tensor__` objects.
    func callArguments(_ layer: [String: Any]) throws -> [KerasConfig.CallArgument] {
        let nodes = layer["inbound_nodes"] as? [Any] ?? []
        guard nodes.count <= 1 else {
            throw LayerError(
                layer: Self.name(of: layer), className: layer["class_name"] as? String ?? "?",
                reason: "is called \(nodes.count) times; shared layers are not supported")
        }
        guard let node = nodes.first else { return [] }
        var arguments: [KerasConfig.CallArgument] = []
        func keywordValues(_ kwargs: Any?) -> [Any] {
            guard let kwargs = kwargs as? [String: Any] else { return [] }
            return kwargs.keys.sorted().filter { $0 != "name" }.compactMap { kwargs[$0] }
        }
        if var keras2 = node as? [Any] {
            // tf.keras writes an operator layer's node as one reference, not a list of them.
            if keras2.first is String { keras2 = [keras2] }
            func collect2(_ value: Any) {
                if let reference = value as? [Any], let name = reference.first as? String, reference.count >= 3 {
                    arguments.append(.tensor(name))
                    keywordValues(reference.count > 3 ? reference[3] : nil).forEach(collect2)
                } else if let number = KerasConfig.double(value) {
                    arguments.append(.number(number))
                }
            }
            keras2.forEach(collect2)
            return arguments
        }
        func collect(_ value: Any) {
            if let dict = value as? [String: Any] {
                if dict["class_name"] as? String == "__keras_tensor__",
                    let history = (dict["config"] as? [String: Any])?["keras_history"] as? [Any],
                    let name = history.first as? String
                {
                    arguments.append(.tensor(name))
                }
            } else if let list = value as? [Any] {
                list.forEach(collect)
            } else if let number = KerasConfig.double(value) {
                arguments.append(.number(number))
            }
        }
        let call = node as? [String: Any]
        collect(call?["args"] ?? [])
        keywordValues(call?["kwargs"]).forEach(collect)
        return arguments
    }

    private mutating func addInput(_ layer: [String: Any], name: String) throws -> String {
        let config = layer["config"] as? [String: Any] ?? [:]
        let shape = (config["batch_shape"] ?? config["batch_input_shape"]) as? [Any] ?? []
        let dims = shape.dropFirst().map { ($0 as? Int) ?? defaultImageSize }
        guard dims.count == 3 || dims.count == 1 else {
            throw LayerError(
                layer: name, className: "InputLayer",
                reason: "input shape \(shape) is not [batch, height, width, channels]")
        }
        try graph.addInput(name: name, shape: dims)
        return name
    }

    /// Keras 3 writes operator nodes into a legacy `.h5` config without their `module`: an
    /// `Add` whose call takes a tensor and a second argument (`x + 3`) rather than one list of
    /// tensors is the operator; `GetItem` and the activation ops (`Relu6`) are only ever ones.
    static func isModulelessOperator(_ layer: [String: Any]) -> Bool {
        guard layer["module"] == nil, let className = layer["class_name"] as? String else { return false }
        if className == "GetItem" || Activation.operatorNames[className] != nil { return true }
        guard ["Add", "Subtract", "Multiply", "Divide", "TrueDivide"].contains(className),
            let node = (layer["inbound_nodes"] as? [Any])?.first as? [String: Any], let args = node["args"] as? [Any]
        else { return false }
        return args.count == 2 && !(args[0] is [Any])
    }

    /// The keyword arguments of a layer's (single) call: Keras 2's fourth node entry, Keras 3's
    /// `kwargs` plus its positional `args` under the key `args` (Keras 3's `GetItem` keeps its
    /// slices there).
    func callKeywords(_ layer: [String: Any]) -> [String: Any] {
        guard let node = (layer["inbound_nodes"] as? [Any])?.first else { return [:] }
        if var keras2 = node as? [Any] {
            if keras2.first is String { keras2 = [keras2] }
            return ((keras2.first as? [Any]).flatMap { $0.count > 3 ? $0[3] : nil } as? [String: Any]) ?? [:]
        }
        var keywords = (node as? [String: Any])?["kwargs"] as? [String: Any] ?? [:]
        keywords["args"] = (node as? [String: Any])?["args"]
        return keywords
    }

    /// Creates the Sightline layer for one config entry, adds it and returns its node name.
    private mutating func addLayer(_ layer: [String: Any], inputs: [String]) throws -> String {
        let (className, config) = KerasLegacyConfig.upgraded(
            className: layer["class_name"] as? String ?? "?", config: layer["config"] as? [String: Any] ?? [:])
        let name = Self.name(of: layer)
        if className == "Functional" || className == "Sequential" || className == "Model" {
            let outputs = try importModel(layer, inputs: inputs)
            guard outputs.count == 1, let output = outputs.first else {
                throw LayerError(layer: name, className: className, reason: "nested models must have one output")
            }
            return output
        }
        let shapes = inputs.compactMap { graph.shape(of: $0) }
        // Keras 3 operator nodes (`x + 3`) share class names with layers (`Add`): tell them apart.
        let isOperator =
            (layer["module"] as? String)?.hasPrefix("keras.src.ops") == true || Self.isModulelessOperator(layer)
        let arguments = try callArguments(layer)
        var keras = KerasConfig(
            name: name, className: isOperator ? "ops." + className : className, values: config, arguments: arguments)
        keras.keywords = callKeywords(layer)
        let made = try KerasLayers.make(keras, inputShapes: shapes)
        if config["trainable"] as? Bool == false { made.isTrainable = false }
        do {
            try graph.add(made, inputs: inputs)
        } catch {
            throw LayerError(layer: name, className: className, reason: error.message)
        }
        return name
    }
}

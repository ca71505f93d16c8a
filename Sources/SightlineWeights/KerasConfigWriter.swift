import Foundation
import SightlineModels
import SightlineNN

/// Writes a graph as a Keras 2 (tf.keras) `model_config`: the format both tf.keras 2.x and
/// Keras 3 read from legacy `.h5` files (`inbound_nodes` as nested lists, `batch_input_shape`).
/// Options left out take Keras's defaults when the file is loaded.
enum KerasConfigWriter {
    static func config(of graph: Graph, name: String) throws -> [String: Any] {
        var layers: [[String: Any]] = []
        for node in graph.nodes {
            var entry: [String: Any] = ["name": node.name]
            if let layer = node.layer {
                let (className, config) = try layerConfig(layer)
                entry["class_name"] = className
                entry["config"] = config.merging([
                    "name": node.name, "trainable": layer.isTrainable || layer.parameters.isEmpty, "dtype": "float32",
                ]) { $1 }
                let custom = (layer as? any KerasLayer)?.kerasInboundNode(inputs: node.inputs)
                entry["inbound_nodes"] = custom ?? [node.inputs.map { [$0, 0, 0, [String: Any]()] as [Any] }]
            } else {
                entry["class_name"] = "InputLayer"
                entry["config"] =
                    [
                        "batch_input_shape": [NSNull()] + node.shape.map { $0 as Any }, "dtype": "float32",
                        "sparse": false, "ragged": false, "name": node.name,
                    ] as [String: Any]
                entry["inbound_nodes"] = [Any]()
            }
            layers.append(entry)
        }
        return [
            "class_name": "Functional",
            "config": [
                "name": name, "trainable": true, "layers": layers,
                "input_layers": graph.inputNames.map { [$0, 0, 0] as [Any] },
                "output_layers": graph.outputNames.map { [$0, 0, 0] as [Any] },
            ] as [String: Any],
            "keras_version": KerasWriter.kerasVersion, "backend": "tensorflow",
        ]
    }

    /// The error for a layer Keras has no class for (the caller sets the file).
    static func unwritable(_ layer: String, _ type: Any.Type) -> ModelFileError {
        ModelFileError(
            file: "", object: layer,
            "\(type) has no Keras counterpart, so the model cannot be saved in the Keras format; save the weights only (--weights-only)",
            kind: .unwritable)
    }

    static func layerConfig(_ layer: any Layer) throws -> (String, [String: Any]) {
        guard let layer = layer as? any KerasLayer else {
            throw unwritable(layer.name, type(of: layer))
        }
        var config = try layer.kerasConfig()
        // Layer configs use Keras 3's keys; tf.keras 2 names LeakyReLU's slope `alpha`.
        if layer.kerasClassName == "LeakyReLU", let slope = config.removeValue(forKey: "negative_slope") {
            config["alpha"] = slope
        }
        return (layer.kerasClassName, config)
    }
}

import Foundation
import SightlineModels
import SightlineNN

/// Writes a graph as a Keras 2 (tf.keras) `model_config`: the format both tf.keras 2.x and
/// Keras 3 read from legacy `.h5` files (`inbound_nodes` as nested lists, `batch_input_shape`).
/// Options left out take Keras's defaults when the file is loaded.
enum KerasConfigWriter {
    struct Unwritable: Error, CustomStringConvertible {
        var layer: String
        var reason: String
        var description: String { "layer '\(layer)' cannot be saved in the Keras format: \(reason)" }
    }

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

    static func layerConfig(_ layer: any Layer) throws -> (String, [String: Any]) {
        guard let layer = layer as? any KerasLayer else {
            throw Unwritable(layer: layer.name, reason: "\(type(of: layer)) has no Keras counterpart")
        }
        var config = try layer.kerasConfig()
        // Layer configs use Keras 3's keys; tf.keras 2 names LeakyReLU's slope `alpha`.
        if layer.kerasClassName == "LeakyReLU", let slope = config.removeValue(forKey: "negative_slope") {
            config["alpha"] = slope
        }
        return (layer.kerasClassName, config)
    }
}

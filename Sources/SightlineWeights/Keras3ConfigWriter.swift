import Foundation
import SightlineModels
import SightlineNN

/// Writes a graph as a Keras 3 functional `config.json` (the format of `.keras` archives):
/// each layer with its `module`, `class_name`, `config`, `build_config` and `inbound_nodes` whose
/// `args` hold `__keras_tensor__` references; operator layers (`x + 3`) as Keras 3 writes them,
/// `keras.src.ops.numpy` nodes with the constant in `args`. Layer configs come from each
/// layer's `KerasLayer.kerasConfig()`; options left out take Keras's defaults.
enum Keras3ConfigWriter {
    static func config(of graph: Graph, name: String) throws -> [String: Any] {
        var layers: [[String: Any]] = []
        func tensor(_ node: String) -> [String: Any] {
            [
                "class_name": "__keras_tensor__",
                "config": [
                    "shape": [NSNull()] + (graph.shape(of: node) ?? []).map { $0 as Any }, "dtype": "float32",
                    "keras_history": [node, 0, 0],
                ] as [String: Any],
            ]
        }
        for name in layerOrder(graph) {
            guard let node = graph.node(named: name) else { continue }
            guard let layer = node.layer else {
                layers.append([
                    "module": "keras.layers", "class_name": "InputLayer", "registered_name": NSNull(),
                    "name": node.name, "inbound_nodes": [Any](),
                    "config": [
                        "batch_shape": [NSNull()] + node.shape.map { $0 as Any }, "dtype": "float32", "sparse": false,
                        "name": node.name,
                    ] as [String: Any],
                ])
                continue
            }
            if let operation = layer as? TensorOperation {
                let operands: [Any] = [operation.left, operation.right].map { operand in
                    switch operand {
                    case .input(let index): return tensor(node.inputs[index])
                    case .constant(let value): return Double(value)
                    }
                }
                let className: String
                switch operation.operation {
                case .add: className = "Add"
                case .subtract: className = "Subtract"
                case .multiply: className = "Multiply"
                case .divide: className = "TrueDivide"
                }
                layers.append([
                    "module": "keras.src.ops.numpy", "class_name": className, "registered_name": className,
                    "name": node.name,
                    "config": ["name": node.name], "inbound_nodes": [["args": operands, "kwargs": [String: Any]()]],
                ])
                continue
            }
            if let slice = layer as? Slice {
                let slices: [Any] = slice.kerasSlices.map {
                    ["class_name": "__slice__", "config": $0] as [String: Any]
                }
                layers.append([
                    "module": "keras.src.ops.numpy", "class_name": "GetItem", "registered_name": "GetItem",
                    "name": node.name,
                    "config": ["name": node.name],
                    "inbound_nodes": [["args": [tensor(node.inputs[0]), slices] as [Any], "kwargs": [String: Any]()]],
                ])
                continue
            }
            guard let kerasLayer = layer as? any KerasLayer else {
                throw KerasConfigWriter.unwritable(node.name, type(of: layer))
            }
            var config = try kerasLayer.kerasConfig()
            config["name"] = node.name
            config["trainable"] = layer.isTrainable || layer.parameters.isEmpty
            config["dtype"] = "float32"
            let inputShapes = node.inputs.map { [NSNull()] + (graph.shape(of: $0) ?? []).map { $0 as Any } }
            let isMerge = kerasLayer.kerasTakesTensorList
            let tensors: [Any] = node.inputs.map(tensor)
            let args: [Any] = isMerge ? [tensors] : tensors
            layers.append([
                "module": kerasLayer.kerasModule, "class_name": kerasLayer.kerasClassName,
                "registered_name": kerasLayer.kerasModule == "keras.layers"
                    ? NSNull() : kerasLayer.kerasClassName as Any,
                "name": node.name, "config": config,
                "build_config": ["input_shape": isMerge ? inputShapes as Any : inputShapes.first as Any],
                "inbound_nodes": [["args": args, "kwargs": [String: Any]()]],
            ])
        }
        func references(_ names: [String]) -> Any {
            if names.count == 1 { return [names[0], 0, 0] as [Any] }
            return names.map { [$0, 0, 0] as [Any] } as [Any]
        }
        return [
            "module": "keras.src.models.functional", "class_name": "Functional", "registered_name": "Functional",
            "build_config": ["input_shape": NSNull()], "compile_config": NSNull(),
            "config": [
                "name": name, "trainable": true, "layers": layers,
                "input_layers": references(graph.inputNames), "output_layers": references(graph.outputNames),
            ] as [String: Any],
        ]
    }

    /// The nodes in Keras 3's `Functional.operations` order (`ops.function.map_graph`): a
    /// depth-first walk from the outputs numbers each node when first seen; nodes are then sorted
    /// by depth from the outputs, deepest first, ties by that number. Keras stores and finds
    /// layer weights by position in this order, so the archive lists layers the same way.
    static func layerOrder(_ graph: Graph) -> [String] {
        var index: [String: Int] = [:]
        var finished = Set<String>()
        var decreasingDepth: [String] = []
        func visit(_ name: String) {
            guard !finished.contains(name), let node = graph.node(named: name) else { return }
            if index[name] == nil { index[name] = index.count }
            for input in node.inputs { visit(input) }
            finished.insert(name)
            decreasingDepth.append(name)
        }
        graph.outputNames.forEach(visit)
        var depth: [String: Int] = [:]
        for name in decreasingDepth.reversed() {
            let own = depth[name, default: 0]
            depth[name] = own
            for input in graph.node(named: name)?.inputs ?? [] { depth[input] = max(own + 1, depth[input, default: 0]) }
        }
        // Unused inputs come first at depth 0, as Keras adds them.
        for input in graph.inputNames where depth[input] == nil { (depth[input], index[input]) = (0, -1) }
        return depth.keys.sorted { a, b in
            depth[a]! != depth[b]! ? depth[a]! > depth[b]! : index[a, default: 0] < index[b, default: 0]
        }
    }

    /// The key Keras 3 stores a layer's weights under in `model.weights.h5`: its class name in
    /// snake case (`naming.to_snake_case`), numbered from the second of a class (`conv2d_1`).
    static func snakeCase(_ className: String) -> String {
        var name = className.filter { $0.isLetter || $0.isNumber || $0 == "_" }
        name = name.replacingOccurrences(of: "(.)([A-Z][a-z]+)", with: "$1_$2", options: .regularExpression)
        name = name.replacingOccurrences(of: "([a-z])([A-Z])", with: "$1_$2", options: .regularExpression)
        return name.lowercased()
    }
}

import Foundation
internal import ONNXProto
import SightlineCore
import SightlineNN
internal import SwiftProtobuf

/// Writes a Sightline graph as an ONNX model (opset 17, IR version 8) that ONNX Runtime runs:
/// the image input is NCHW `[batch, C, H, W]`, as ONNX CNNs take it (transpose NHWC images
/// first), and the output is what the graph's output is (probabilities when it ends in a softmax).
/// Each layer becomes its operators (a fused activation its own node; `padding: same` explicit
/// pads; a Flatten of an H×W×C map a Transpose to NHWC first, so Dense weights keep Keras's
/// H,W,C row order). Weights are inline (models under 2 GB); `sightline_preprocessing` and the
/// source are metadata properties. A layer type without an ONNX counterpart here is an error
/// naming the layer.
enum ONNXWriter {
    /// 17: HardSwish (14) and LayerNormalization (17) are operators of their own.
    static let opset: Int64 = 17

    static func save(_ graph: Graph, to path: String, metadata: KerasWriter.Metadata) throws {
        var writer = Builder(graph: graph)
        let model = try writer.model(metadata: metadata)
        let data: Data = try model.serializedBytes()
        try AtomicFile.write(data, to: path)
    }

    /// The graph being written: ONNX nodes, initializers, and each graph node's ONNX value.
    struct Builder {
        let graph: Graph
        var nodes: [Onnx_NodeProto] = []
        var initializers: [Onnx_TensorProto] = []
        /// Graph node → ONNX value name.
        var values: [String: String] = [:]

        init(graph: Graph) { self.graph = graph }

        mutating func model(metadata: KerasWriter.Metadata) throws -> Onnx_ModelProto {
            guard let input = graph.inputNames.first, graph.inputNames.count == 1,
                let shape = graph.shape(of: input), shape.count == 3, let output = graph.outputNames.first
            else { throw unwritable("model", "only models with one image input [H, W, C] and one output are written") }
            values[input] = input
            for node in graph.nodes {
                guard let layer = node.layer else { continue }
                values[node.name] = try add(layer, name: node.name, inputs: node.inputs.map { values[$0] ?? $0 })
            }
            var onnx = Onnx_GraphProto()
            onnx.name = "sightline"
            onnx.node = nodes
            onnx.initializer = initializers
            onnx.input = [valueInfo(input, [nil, shape[2], shape[0], shape[1]])]
            let outputShape = graph.shape(of: output) ?? []
            let dims: [Int?] =
                outputShape.count == 3 ? [nil, outputShape[2], outputShape[0], outputShape[1]] : [nil] + outputShape
            var last = values[output] ?? output
            if last != output {  // name the graph output after Sightline's output node
                nodes.append(node("Identity", [last], output, name: output + ".output"))
                onnx.node = nodes
                last = output
            }
            onnx.output = [valueInfo(last, dims)]
            var model = Onnx_ModelProto()
            model.irVersion = 8
            model.producerName = "Sightline"
            model.producerVersion = metadata.sightlineVersion
            var opset = Onnx_OperatorSetIdProto()
            opset.version = ONNXWriter.opset
            model.opsetImport = [opset]
            model.metadataProps = [
                property("sightline_preprocessing", metadata.preprocessing.rawValue),
                property("sightline_source", metadata.source),
            ]
            model.graph = onnx
            return model
        }

        func unwritable(_ layer: String, _ message: String) -> ModelFileError {
            ModelFileError(file: "", object: layer, message, kind: .unwritable)
        }

        func property(_ key: String, _ value: String) -> Onnx_StringStringEntryProto {
            var entry = Onnx_StringStringEntryProto()
            (entry.key, entry.value) = (key, value)
            return entry
        }

        func valueInfo(_ name: String, _ dims: [Int?]) -> Onnx_ValueInfoProto {
            var info = Onnx_ValueInfoProto()
            info.name = name
            info.type.tensorType.elemType = 1
            info.type.tensorType.shape.dim = dims.map { size in
                var dim = Onnx_TensorShapeProto.Dimension()
                if let size { dim.dimValue = Int64(size) } else { dim.dimParam = "batch" }
                return dim
            }
            return info
        }

        func node(
            _ op: String, _ inputs: [String], _ output: String, name: String, _ attributes: [Onnx_AttributeProto] = []
        ) -> Onnx_NodeProto {
            var node = Onnx_NodeProto()
            (node.opType, node.input, node.output, node.name, node.attribute) = (op, inputs, [output], name, attributes)
            return node
        }

        func ints(_ name: String, _ values: [Int]) -> Onnx_AttributeProto {
            var attribute = Onnx_AttributeProto()
            (attribute.name, attribute.type, attribute.ints) = (name, .ints, values.map(Int64.init))
            return attribute
        }

        func int(_ name: String, _ value: Int) -> Onnx_AttributeProto {
            var attribute = Onnx_AttributeProto()
            (attribute.name, attribute.type, attribute.i) = (name, .int, Int64(value))
            return attribute
        }

        func float(_ name: String, _ value: Float) -> Onnx_AttributeProto {
            var attribute = Onnx_AttributeProto()
            (attribute.name, attribute.type, attribute.f) = (name, .float, value)
            return attribute
        }

        /// Adds `tensor` (values in row-major order of `shape`) as an initializer named `name`.
        mutating func constant(_ name: String, _ values: [Float], _ shape: [Int]) -> String {
            var tensor = Onnx_TensorProto()
            tensor.name = name
            tensor.dims = shape.map(Int64.init)
            tensor.dataType = 1
            tensor.rawData = values.withUnsafeBufferPointer { buffer in
                Data(buffer: UnsafeBufferPointer(start: buffer.baseAddress, count: buffer.count))
            }
            initializers.append(tensor)
            return name
        }

        mutating func integers(_ name: String, _ values: [Int]) -> String {
            var tensor = Onnx_TensorProto()
            tensor.name = name
            tensor.dims = [Int64(values.count)]
            tensor.dataType = 7
            tensor.int64Data = values.map(Int64.init)
            initializers.append(tensor)
            return name
        }
    }
}

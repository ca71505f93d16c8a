import Foundation
internal import ONNXProto
import SightlineCore
import SightlineNN

/// Builds a Sightline graph (NHWC, weights set) from an ONNX image classifier (NCHW), as
/// `torch.onnx` exports CNNs (opsets 9 and later): one layer per operator, named after the
/// node's module scope (`/layer1/layer1.0/conv1/Conv` → `layer1.0.conv1`).
///
/// Operators: Conv (plain, depthwise and grouped; explicit pads become `ZeroPadding2D`),
/// BatchNormalization, Relu, LeakyRelu, Sigmoid, Tanh, Clip (ReLU6), HardSigmoid, HardSwish,
/// Add, Mul and Concat of two activations, MaxPool/AveragePool, GlobalAveragePool/GlobalMaxPool,
/// Flatten and the equivalent Reshape, Gemm, Softmax, Dropout/Identity, Pad with zeros, and
/// ConvNeXt's channels-last blocks (LayerNormalization, MatMul with its bias, GELU, a per-channel
/// Mul as `LayerScale`; `ONNXImporter+Fusion`).
/// Activations keep their ONNX meaning in Sightline's layout: a Flatten of an H×W×C map feeds a
/// Gemm whose weight rows are reordered from ONNX's C,H,W to H,W,C. Anything else is an error
/// naming the node and the operator.
struct ONNXImporter {
    /// What an ONNX value is in the graph being built.
    enum Value {
        /// A graph node's output; `rank` is ONNX's (4 for NCHW maps, which are NHWC here).
        /// `flattened` is the `[H, W, C]` a flattened map came from.
        case node(String, rank: Int, flattened: [Int]?, nonNegative: Bool)
        /// An initializer or Constant, in ONNX's layout.
        case constant(Tensor)
    }

    let tensors: ONNXTensors
    let graph = Graph()
    var values: [String: Value] = [:]
    /// ONNX values that are a map transposed to NHWC (`Transpose` with perm 0,2,3,1): in
    /// Sightline's layout already, so a Flatten of one keeps its order. Only a Flatten, a
    /// Reshape, the inverse Transpose and the channel-wise operators (LayerNormalization, MatMul,
    /// GELU, a per-channel Mul) may read one.
    var channelsLast: Set<String> = []
    private var usedNames: Set<String> = []

    init(path: String) { tensors = ONNXTensors(path: path) }

    /// Imports `model`'s graph; `imageSize` fills an input whose height and width are open.
    mutating func importGraph(_ model: Onnx_ModelProto, imageSize: Int) throws(ModelFileError) -> Graph {
        for initializer in model.graph.initializer {
            values[initializer.name] = .constant(try tensors.value(initializer))
        }
        let inputs = model.graph.input.filter { values[$0.name] == nil }
        guard inputs.count == 1, let input = inputs.first else {
            throw error(
                "model",
                "has \(inputs.count) inputs (\(inputs.map(\.name).joined(separator: ", "))); Sightline runs models with one image input"
            )
        }
        let dims = input.type.tensorType.shape.dim.map { Int($0.dimValue) }  // 0 when open
        // tf2onnx keeps Keras's NHWC input and transposes it to NCHW first: Sightline's layout.
        let readers = model.graph.node.filter { $0.input.contains(input.name) }
        let nhwc =
            dims.count == 4 && [1, 3, 4].contains(dims[3]) && !readers.isEmpty
            && readers.allSatisfy { $0.opType == "Transpose" && ints($0, "perm", []) == [0, 3, 1, 2] }
        guard dims.count == 4, nhwc || [1, 3, 4].contains(dims[1]) else {
            throw error(
                input.name,
                "is \(dims), not an image batch [N, C, H, W] (or tf2onnx's [N, H, W, C]) of 1, 3 or 4 channels")
        }
        let (height, width, channels) = nhwc ? (dims[1], dims[2], dims[3]) : (dims[2], dims[3], dims[1])
        let name = unique(input.name.isEmpty ? "input" : input.name)
        do throws(LayerError) {
            try graph.addInput(
                name: name, shape: [height > 0 ? height : imageSize, width > 0 ? width : imageSize, channels])
        } catch { throw self.error(input.name, error.message) }
        values[input.name] = .node(name, rank: 4, flattened: nil, nonNegative: false)
        if nhwc { channelsLast.insert(input.name) }
        for node in try fused(model.graph.node) {
            do {
                try add(node)
            } catch let error as ModelFileError {
                throw error
            } catch let error as LayerError {
                throw self.error(node.name, "\(node.opType): \(error.message)")
            } catch {
                throw self.error(node.name, "\(node.opType): \(error)")
            }
        }
        guard let output = model.graph.output.first, case .node(let last, _, _, _)? = values[output.name] else {
            throw error("model", "its output is not computed by the graph")
        }
        graph.outputNames = [last]
        return graph
    }

    // MARK: - Helpers

    func error(_ object: String, _ message: String) -> ModelFileError {
        ModelFileError(file: tensors.path, object: object, message, kind: .layout)
    }

    /// The layer name for `node`: its module scope, or its output's name.
    mutating func layerName(_ node: Onnx_NodeProto) -> String {
        var parts = node.name.split(separator: "/").map(String.init)
        if parts.count > 1 { parts.removeLast() }  // the operator (`Conv`)
        let start = parts.lastIndex { $0.contains(".") } ?? max(parts.count - 1, 0)
        let base = parts.isEmpty ? (node.output.first ?? node.opType) : parts[start...].joined(separator: ".")
        return unique(base.isEmpty ? node.opType : base)
    }

    mutating func unique(_ base: String) -> String {
        var name = base.replacingOccurrences(of: "/", with: ".")
        var copy = 1
        while usedNames.contains(name) || graph.node(named: name) != nil {
            copy += 1
            name = "\(base)_\(copy)"
        }
        usedNames.insert(name)
        return name
    }

    func input(_ node: Onnx_NodeProto, _ index: Int) throws(ModelFileError) -> Value {
        guard index < node.input.count, let value = values[node.input[index]] else {
            throw error(
                node.name,
                "\(node.opType) reads '\(index < node.input.count ? node.input[index] : "?")', which is not defined before it"
            )
        }
        return value
    }

    func nodeInput(_ node: Onnx_NodeProto, _ index: Int = 0, channelsLastAllowed: Bool = false)
        throws(ModelFileError) -> (name: String, rank: Int, flattened: [Int]?, nonNegative: Bool)
    {
        if !channelsLastAllowed, index < node.input.count, channelsLast.contains(node.input[index]) {
            throw error(node.name, "\(node.opType) of a map transposed to NHWC is not supported")
        }
        guard case .node(let name, let rank, let flattened, let nonNegative) = try input(node, index) else {
            throw error(node.name, "\(node.opType) of a constant is not supported (fold it before exporting)")
        }
        return (name, rank, flattened, nonNegative)
    }

    func constantInput(_ node: Onnx_NodeProto, _ index: Int) throws(ModelFileError) -> Tensor? {
        guard index < node.input.count, !node.input[index].isEmpty else { return nil }
        guard case .constant(let tensor) = try input(node, index) else {
            throw error(node.name, "\(node.opType) needs input \(index) to be a constant (a weight)")
        }
        return tensor
    }

    func attribute(_ node: Onnx_NodeProto, _ name: String) -> Onnx_AttributeProto? {
        node.attribute.first { $0.name == name }
    }

    func ints(_ node: Onnx_NodeProto, _ name: String, _ fallback: [Int]) -> [Int] {
        attribute(node, name).map { $0.ints.map { Int($0) } } ?? fallback
    }

    func int(_ node: Onnx_NodeProto, _ name: String, _ fallback: Int) -> Int {
        attribute(node, name).map { Int($0.i) } ?? fallback
    }

    func float(_ node: Onnx_NodeProto, _ name: String, _ fallback: Float) -> Float {
        attribute(node, name).map(\.f) ?? fallback
    }

    /// Adds `layer` reading `inputs` and records the node's first output.
    mutating func record(
        _ node: Onnx_NodeProto, _ layer: any Layer, inputs: [String], rank: Int, flattened: [Int]? = nil,
        nonNegative: Bool = false
    ) throws -> String {
        let name = try graph.add(layer, inputs: inputs)
        if let output = node.output.first {
            values[output] = .node(name, rank: rank, flattened: flattened, nonNegative: nonNegative)
        }
        return name
    }

    /// `ZeroPadding2D` before a window when `pads` (ONNX order: top, left, bottom, right) are not zero.
    mutating func padded(_ input: String, _ pads: [Int], name: String) throws -> String {
        guard pads.isEmpty || pads.count == 4 else {
            throw error(name, "pads \(pads) are not [top, left, bottom, right]")
        }
        guard pads.contains(where: { $0 != 0 }) else { return input }
        guard pads.allSatisfy({ $0 >= 0 }) else { throw error(name, "negative pads \(pads)") }
        let layer = ZeroPadding2D(
            name: unique(name + ".pad"), top: pads[0], bottom: pads[2], left: pads[1], right: pads[3])
        return try graph.add(layer, inputs: [input])
    }
}

internal import ONNXProto
import SightlineCore
import SightlineNN

/// Operator chains that exporters write out and Sightline runs as one layer, joined before the
/// graph is built:
/// - GELU as torch.onnx writes it before opset 20, `x · ((erf(x / √2) + 1)) · 0.5` (Div, Erf, Add,
///   Mul, Mul), becomes one `Gelu` node (ONNX 20's operator);
/// - a `MatMul` by a constant weight whose only reader adds a constant vector becomes one `MatMul`
///   with that bias as its third input (a torch `Linear` on a map's channels, ConvNeXt's MLP).
extension ONNXImporter {
    func fused(_ nodes: [Onnx_NodeProto]) throws(ModelFileError) -> [Onnx_NodeProto] {
        var constants: [String: Tensor] = [:]
        for (name, value) in values { if case .constant(let tensor) = value { constants[name] = tensor } }
        for node in nodes {
            guard let output = node.output.first else { continue }
            if node.opType == "Constant", let value = attribute(node, "value"), value.hasT {
                constants[output] = try tensors.value(value.t)
            } else if node.opType == "Identity", let input = node.input.first, let value = constants[input] {
                constants[output] = value  // torch.onnx shares equal initializers through Identity
            }
        }
        var readers: [String: [Int]] = [:]
        for (index, node) in nodes.enumerated() {
            for input in node.input { readers[input, default: []].append(index) }
        }
        func scalar(_ name: String, _ expected: Float) -> Bool {
            guard let tensor = constants[name], tensor.count == 1 else { return false }
            return abs(tensor.scalars[0] - expected) <= 1e-4 * max(1, abs(expected))
        }
        /// The one node reading `value`, when it has `opType`.
        func onlyReader(_ value: String, _ opType: String) -> Int? {
            guard let list = readers[value], list.count == 1, nodes[list[0]].opType == opType else { return nil }
            return list[0]
        }
        func other(_ node: Onnx_NodeProto, than value: String) -> String? {
            node.input.count == 2 ? (node.input[0] == value ? node.input[1] : node.input[0]) : nil
        }
        var result = nodes
        var removed = Set<Int>()
        for (index, node) in nodes.enumerated() {
            if node.opType == "Div", node.input.count == 2, scalar(node.input[1], Float(2).squareRoot()),
                let erf = onlyReader(node.output[0], "Erf"), let add = onlyReader(nodes[erf].output[0], "Add"),
                let one = other(nodes[add], than: nodes[erf].output[0]), scalar(one, 1),
                let product = onlyReader(nodes[add].output[0], "Mul"),
                other(nodes[product], than: nodes[add].output[0]) == node.input[0],
                let half = onlyReader(nodes[product].output[0], "Mul"),
                let factor = other(nodes[half], than: nodes[product].output[0]), scalar(factor, 0.5)
            {
                var gelu = Onnx_NodeProto()
                (gelu.opType, gelu.name) = ("Gelu", nodes[half].name)
                (gelu.input, gelu.output) = ([node.input[0]], [nodes[half].output[0]])
                result[index] = gelu
                removed.formUnion([erf, add, product, half])
            } else if node.opType == "MatMul", node.input.count == 2, constants[node.input[1]]?.rank == 2,
                let add = onlyReader(node.output[0], "Add"), let bias = other(nodes[add], than: node.output[0]),
                let vector = constants[bias], vector.count == constants[node.input[1]]?.shape[1]
            {
                var linear = node
                linear.input.append(bias)
                linear.output = nodes[add].output
                result[index] = linear
                removed.insert(add)
            }
        }
        return result.enumerated().filter { !removed.contains($0.offset) }.map(\.element)
    }

    /// `LayerNormalization` over the last axis: of a map transposed to NHWC (torch's
    /// `LayerNorm2d`, ConvNeXt) or of a vector; the output keeps the input's layout.
    mutating func layerNormalization(_ node: Onnx_NodeProto) throws {
        let x = try nodeInput(node, channelsLastAllowed: true)
        let channels = graph.shape(of: x.name)?.last ?? 0
        let isChannelsLast = channelsLast.contains(node.input[0])
        guard int(node, "axis", -1) == -1 || int(node, "axis", -1) == x.rank - 1, isChannelsLast || x.rank == 2 else {
            throw error(
                node.name,
                "LayerNormalization is supported over the channels (the last axis of an NHWC map or a vector)")
        }
        guard let scale = try constantInput(node, 1), scale.count == channels else {
            throw error(node.name, "LayerNormalization needs a constant scale of [\(channels)]")
        }
        let bias = try constantInput(node, 2)
        guard bias.map({ $0.count == channels }) ?? true else {
            throw error(node.name, "LayerNormalization needs a constant bias of [\(channels)]")
        }
        let layer = LayerNormalization(
            name: layerName(node), channels: channels, epsilon: float(node, "epsilon", 1e-5), center: bias != nil)
        layer.gamma?.value = scale.reshaped([channels])
        if let bias { layer.beta?.value = bias.reshaped([channels]) }
        _ = try record(node, layer, inputs: [x.name], rank: x.rank)
        if isChannelsLast { channelsLast.insert(node.output[0]) }
    }

    /// `Mul` of a map by a constant per-channel vector (`[C]`, `[C, 1, 1]` or `[1, C, 1, 1]`, a
    /// layer scale, or a BatchNorm's scale as tf2onnx folds it) as `LayerScale`, and `Add` of one
    /// (the BatchNorm's offset) as `Rescaling`; nil when `node` is not that.
    mutating func channelScale(_ node: Onnx_NodeProto) throws -> String? {
        guard node.opType == "Mul" || node.opType == "Add", node.input.count == 2 else { return nil }
        let (first, second) = (values[node.input[0]], values[node.input[1]])
        let (input, constant): (Int, Tensor)
        switch (first, second) {
        case (.node?, .constant(let t)?): (input, constant) = (0, t)
        case (.constant(let t)?, .node?): (input, constant) = (1, t)
        default: return nil
        }
        let x = try nodeInput(node, input, channelsLastAllowed: true)
        let channels = graph.shape(of: x.name)?.last ?? 0
        let isChannelsLast = channelsLast.contains(node.input[input])
        let perChannel =
            isChannelsLast || x.rank == 2
            ? constant.shape.last == channels && constant.count == channels
            : constant.count == channels && constant.shape.suffix(2).allSatisfy { $0 == 1 }
        guard perChannel || constant.count == 1 else {
            throw error(
                node.name, "\(node.opType) of a constant of \(constant.shape) is supported per channel or by a scalar")
        }
        let values = constant.count == 1 ? [Float](repeating: constant.scalars[0], count: channels) : constant.scalars
        let layer: any Layer =
            node.opType == "Mul"
            ? LayerScale(name: layerName(node), gamma: Tensor(shape: [channels], scalars: values))
            : Rescaling(name: layerName(node), scales: [1], offsets: values)
        let name = try record(node, layer, inputs: [x.name], rank: x.rank)
        if isChannelsLast { channelsLast.insert(node.output[0]) }
        return name
    }
}

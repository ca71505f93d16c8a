internal import ONNXProto
import SightlineCore
import SightlineNN

/// One function per kind of ONNX operator `ONNXImporter` turns into Sightline layers.
extension ONNXImporter {
    static let operators = [
        "Conv", "BatchNormalization", "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Clip", "HardSigmoid", "HardSwish",
        "Softmax", "Add", "Mul", "Concat", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "Flatten",
        "Reshape", "Gemm", "MatMul", "Pad", "Dropout", "Identity", "Constant", "Sum", "Transpose", "LayerNormalization",
        "Gelu", "Squeeze",
    ]

    mutating func add(_ node: Onnx_NodeProto) throws {
        guard let output = node.output.first else { throw error(node.name, "\(node.opType) has no output") }
        switch node.opType {
        case "Identity", "Dropout": values[output] = try input(node, 0)
        case "Constant":
            guard let value = attribute(node, "value"), value.hasT else {
                throw error(node.name, "a Constant without a tensor value")
            }
            values[output] = .constant(try tensors.value(value.t))
        case "Conv": try convolution(node)
        case "BatchNormalization": try batchNormalization(node)
        case "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Clip", "HardSigmoid", "HardSwish", "Softmax": try activation(node)
        case "Add", "Sum", "Mul", "Concat": if try channelScale(node) == nil { try merge(node) }
        case "LayerNormalization": try layerNormalization(node)
        case "Gelu": try activation(node)
        case "Transpose":
            // Only to NHWC and back, around a Flatten (as Sightline's own ONNX writer does).
            let x = try nodeInput(node, channelsLastAllowed: true)
            let perm = ints(node, "perm", [])
            let isChannelsLast = channelsLast.contains(node.input[0])
            guard x.rank == 4, perm == (isChannelsLast ? [0, 3, 1, 2] : [0, 2, 3, 1]) else {
                throw error(node.name, "Transpose \(perm) is not supported (only to NHWC before a Flatten)")
            }
            values[output] = try input(node, 0)
            if !isChannelsLast { channelsLast.insert(output) }
        case "MaxPool", "AveragePool": try pool(node)
        case "GlobalAveragePool", "GlobalMaxPool":
            let x = try nodeInput(node)
            let kind: Pooling2D.Kind = node.opType == "GlobalMaxPool" ? .max : .average
            _ = try record(
                node, GlobalPooling2D(name: layerName(node), kind: kind, keepDims: true), inputs: [x.name], rank: 4,
                nonNegative: x.nonNegative)
        case "Flatten", "Reshape", "Squeeze": try flatten(node)
        case "Gemm", "MatMul": try dense(node)
        case "Pad": try pad(node)
        default:
            // torch.onnx writes LayerNorm out as ReduceMean, Sub, Pow, … before opset 17.
            let hint =
                node.opType == "ReduceMean"
                ? " (a LayerNorm exported before opset 17: export with opset_version=17)" : ""
            throw error(
                node.name,
                "operator '\(node.opType)' is not one Sightline runs\(hint); it runs \(Self.operators.joined(separator: ", "))"
            )
        }
    }

    mutating func convolution(_ node: Onnx_NodeProto) throws {
        let x = try nodeInput(node)
        guard x.rank == 4, let weight = try constantInput(node, 1), weight.rank == 4 else {
            throw error(node.name, "Conv needs a 4-D input and a constant OIHW weight")
        }
        let bias = try constantInput(node, 2)
        let (outputs, perGroup) = (weight.shape[0], weight.shape[1])
        let channels = graph.shape(of: x.name)?.last ?? 0
        let group = int(node, "group", 1)
        let strides = ints(node, "strides", [1, 1])
        let dilations = ints(node, "dilations", [1, 1])
        guard group >= 1, outputs % group == 0, perGroup * group == channels,
            bias.map({ $0.shape == [outputs] }) ?? true,
            strides.count == 2, dilations.count == 2, (strides + dilations).allSatisfy({ $0 >= 1 })
        else {
            throw error(
                node.name,
                "Conv weight \(weight.shape), bias \(bias?.shape ?? []), group \(group), strides \(strides) do not fit an input of \(channels) channels"
            )
        }
        let autoPad = attribute(node, "auto_pad").map { String(decoding: $0.s, as: UTF8.self) } ?? "NOTSET"
        guard ["NOTSET", "VALID", "SAME_UPPER"].contains(autoPad) else {
            throw error(node.name, "Conv auto_pad \(autoPad) is not supported; export with explicit pads")
        }
        let name = layerName(node)
        let source = try padded(x.name, autoPad == "NOTSET" ? ints(node, "pads", [0, 0, 0, 0]) : [], name: name)
        let kernel = TorchVisionLayers.permuted(weight, [2, 3, 1, 0])  // OIHW → HWIO
        let (stride, dilation) = ((strides[0], strides[1]), (dilations[0], dilations[1]))
        let padding: Padding = autoPad == "SAME_UPPER" ? .same : .valid
        let layer: any Layer
        if group == 1 {
            layer = Conv2D(
                name: name, kernel: kernel, bias: bias, strides: stride, padding: padding, dilation: dilation)
        } else if perGroup == 1 && group == channels {
            // Output channel c·M + m reads input channel c: HWIO [kh, kw, 1, C·M] is [kh, kw, C, M].
            layer = DepthwiseConv2D(
                name: name, kernel: kernel.reshaped([weight.shape[2], weight.shape[3], channels, outputs / channels]),
                bias: bias, strides: stride, padding: padding, dilation: dilation)
        } else {
            layer = GroupedConv2D(
                name: name, kernel: kernel, bias: bias, groups: group, strides: stride, padding: padding,
                dilation: dilation)
        }
        _ = try record(node, layer, inputs: [source], rank: 4)
    }

    mutating func batchNormalization(_ node: Onnx_NodeProto) throws {
        let x = try nodeInput(node)
        let channels = graph.shape(of: x.name)?.last ?? 0
        let parts = try (1...4).map { (index: Int) throws(ModelFileError) -> Tensor in
            guard let value = try constantInput(node, index), value.shape == [channels] else {
                throw error(
                    node.name, "BatchNormalization needs constant scale, bias, mean and variance of [\(channels)]")
            }
            return value
        }
        let layer = BatchNormalization(
            name: layerName(node), gamma: parts[0], beta: parts[1], movingMean: parts[2], movingVariance: parts[3],
            epsilon: float(node, "epsilon", 1e-5))
        _ = try record(node, layer, inputs: [x.name], rank: x.rank)
    }

    mutating func activation(_ node: Onnx_NodeProto) throws {
        let x = try nodeInput(node, channelsLastAllowed: node.opType == "Gelu")
        let function: ActivationFunction
        var nonNegative = false
        switch node.opType {
        case "Gelu":
            function = .gelu(
                approximate: attribute(node, "approximate").map { String(decoding: $0.s, as: UTF8.self) } == "tanh")
            if channelsLast.contains(node.input[0]) { channelsLast.insert(node.output[0]) }
        case "Relu": (function, nonNegative) = (.relu, true)
        case "LeakyRelu": function = .leakyRelu(alpha: float(node, "alpha", 0.01))
        case "Sigmoid": (function, nonNegative) = (.sigmoid, true)
        case "Tanh": function = .tanh
        case "HardSwish": function = .hardSilu
        case "HardSigmoid":
            let (alpha, beta) = (float(node, "alpha", 0.2), float(node, "beta", 0.5))
            guard beta == 0.5, abs(alpha - 0.2) < 1e-6 || abs(alpha - 1 / 6) < 1e-6 else {
                throw error(node.name, "HardSigmoid with alpha \(alpha), beta \(beta) is not supported")
            }
            (function, nonNegative) = (abs(alpha - 0.2) < 1e-6 ? .hardSigmoidKeras2 : .hardSigmoid, true)
        case "Softmax":
            let axis = int(node, "axis", -1)
            guard x.rank == 2, axis == 1 || axis == -1 else {
                throw error(node.name, "Softmax over axis \(axis) of a rank-\(x.rank) value is not supported")
            }
            (function, nonNegative) = (.softmax, true)
        default:  // Clip: bounds as attributes (opset < 11) or constant inputs
            let low = try constantInput(node, 1)?.scalars.first ?? attribute(node, "min").map(\.f)
            let high = try constantInput(node, 2)?.scalars.first ?? attribute(node, "max").map(\.f)
            guard low == 0, high == nil || high == 6 || high == .infinity else {
                throw error(
                    node.name,
                    "Clip to [\(low ?? -.infinity), \(high ?? .infinity)] is not supported (ReLU and ReLU6 are)")
            }
            (function, nonNegative) = (high == 6 ? .relu(maxValue: 6) : .relu, true)
        }
        _ = try record(
            node, Activation(name: layerName(node), function), inputs: [x.name], rank: x.rank, nonNegative: nonNegative)
    }

    mutating func merge(_ node: Onnx_NodeProto) throws {
        let inputs = try node.input.indices.map { (index: Int) throws(ModelFileError) in try nodeInput(node, index) }
        if node.opType == "Concat", inputs.count == 1, let only = node.input.first {
            values[node.output[0]] = values[only]  // torch.cat of a one-element list
            return
        }
        let shapes = inputs.map { graph.shape(of: $0.name) ?? [] }
        let operation: Merge.Operation
        switch node.opType {
        case "Add", "Sum": operation = .add
        case "Mul": operation = .multiply
        default:
            let axis = int(node, "axis", 1)
            guard axis == 1 || axis == -1 && inputs.first?.rank == 2 else {
                throw error(node.name, "Concat along axis \(axis) is not supported (channels are)")
            }
            operation = .concatenate
        }
        guard inputs.count >= 2, Set(inputs.map(\.rank)).count == 1 else {
            throw error(node.name, "\(node.opType) of values of different ranks (shapes \(shapes))")
        }
        _ = try record(
            node, Merge(name: layerName(node), operation), inputs: inputs.map(\.name), rank: inputs[0].rank,
            nonNegative: operation != .multiply && inputs.allSatisfy(\.nonNegative))
    }

    mutating func pool(_ node: Onnx_NodeProto) throws {
        let x = try nodeInput(node)
        let size = ints(node, "kernel_shape", [])
        let strides = ints(node, "strides", [1, 1])
        let pads = ints(node, "pads", [0, 0, 0, 0])
        let isMax = node.opType == "MaxPool"
        guard x.rank == 4, size.count == 2, strides.count == 2, (size + strides).allSatisfy({ $0 >= 1 }),
            int(node, "ceil_mode", 0) == 0, ints(node, "dilations", [1, 1]) == [1, 1]
        else { throw error(node.name, "\(node.opType) with these attributes is not supported (ceil_mode, dilations)") }
        if pads.contains(where: { $0 != 0 }) {
            // Sightline pads with zeros: MaxPool's −∞ padding only after a ReLU, AveragePool's only
            // when padding counts (count_include_pad).
            guard isMax ? x.nonNegative : int(node, "count_include_pad", 0) == 1 else {
                throw error(node.name, "\(node.opType) with padding here is not supported")
            }
        }
        let name = layerName(node)
        let source = try padded(x.name, pads, name: name)
        let layer = Pooling2D(
            name: name, kind: isMax ? .max : .average, poolSize: (size[0], size[1]), strides: (strides[0], strides[1]))
        _ = try record(node, layer, inputs: [source], rank: 4, nonNegative: x.nonNegative)
    }

    mutating func flatten(_ node: Onnx_NodeProto) throws {
        let x = try nodeInput(node, channelsLastAllowed: true)
        let isChannelsLast = channelsLast.contains(node.input[0])
        let shape = graph.shape(of: x.name) ?? []
        if node.opType == "Squeeze" {
            // tf2onnx's squeeze of a globally pooled [N, C, 1, 1] map (axes 2, 3: an input or, before
            // opset 13, an attribute) is a flatten.
            let axes = try constantInput(node, 1)?.scalars.map { Int($0) } ?? ints(node, "axes", [])
            guard x.rank == 4, shape.count == 3, shape[0] == 1, shape[1] == 1,
                Set(axes) == [2, 3] || Set(axes) == [-2, -1]
            else { throw error(node.name, "Squeeze of axes \(axes) is not supported (only of a 1×1 map's)") }
        } else if node.opType == "Reshape" {
            let target = try constantInput(node, 1)?.scalars.map { Int($0) } ?? []
            guard target.count == 2, target[0] <= 1, target[1] == -1 || target[1] == shape.reduce(1, *) else {
                throw error(node.name, "Reshape to \(target) is not supported (only flattening each image is)")
            }
        } else if int(node, "axis", 1) != 1 {
            throw error(node.name, "Flatten from axis \(int(node, "axis", 1)) is not supported")
        }
        guard x.rank == 4 else {
            values[node.output[0]] = .node(x.name, rank: 2, flattened: x.flattened, nonNegative: x.nonNegative)
            return
        }
        _ = try record(
            node, Reshape.flatten(name: layerName(node)), inputs: [x.name], rank: 2,
            flattened: shape.count == 3 && shape[0] * shape[1] > 1 && !isChannelsLast ? shape : nil,
            nonNegative: x.nonNegative)
    }

    mutating func dense(_ node: Onnx_NodeProto) throws {
        let x = try nodeInput(node, channelsLastAllowed: node.opType == "MatMul")
        let features = graph.shape(of: x.name)?.last ?? 0
        // A MatMul of a map transposed to NHWC (a torch Linear on the channels) is a Dense on them.
        let onChannels = channelsLast.contains(node.input[0]) && x.rank == 4
        guard x.rank == 2 || onChannels, var weight = try constantInput(node, 1), weight.rank == 2 else {
            throw error(node.name, "\(node.opType) needs a 2-D input and a constant 2-D weight")
        }
        var bias = try constantInput(node, 2)
        if node.opType == "Gemm" {
            guard int(node, "transA", 0) == 0 else { throw error(node.name, "Gemm with transA is not supported") }
            if int(node, "transB", 0) == 1 { weight = TorchVisionLayers.permuted(weight, [1, 0]) }
            let (alpha, beta) = (float(node, "alpha", 1), float(node, "beta", 1))
            if alpha != 1 { weight = Tensor(shape: weight.shape, scalars: weight.scalars.map { $0 * alpha }) }
            if let value = bias, beta != 1 {
                bias = Tensor(shape: value.shape, scalars: value.scalars.map { $0 * beta })
            }
        }
        let units = weight.shape[1]
        bias = bias.map { $0.reshaped([$0.count]) }
        guard weight.shape[0] == features, bias.map({ $0.count == units }) ?? true else {
            throw error(
                node.name, "weight \(weight.shape) and bias \(bias?.shape ?? []) do not fit \(features) features")
        }
        if let map = x.flattened { weight = Self.rowsFromChannelsFirst(weight, map: map) }
        _ = try record(node, Dense(name: layerName(node), kernel: weight, bias: bias), inputs: [x.name], rank: x.rank)
        if onChannels { channelsLast.insert(node.output[0]) }
    }

    /// A weight whose rows follow ONNX's C,H,W flatten order, reordered to Sightline's H,W,C.
    static func rowsFromChannelsFirst(_ weight: Tensor, map: [Int]) -> Tensor {
        let (pixels, channels, units) = (map[0] * map[1], map[2], weight.shape[1])
        return Tensor(shape: weight.shape) { values in
            for p in 0..<pixels {
                for c in 0..<channels {
                    let (to, from) = ((p * channels + c) * units, (c * pixels + p) * units)
                    for u in 0..<units { values[to + u] = weight.scalars[from + u] }
                }
            }
        }
    }

    mutating func pad(_ node: Onnx_NodeProto) throws {
        let x = try nodeInput(node)
        let mode = attribute(node, "mode").map { String(decoding: $0.s, as: UTF8.self) } ?? "constant"
        let pads = try constantInput(node, 1)?.scalars.map { Int($0) } ?? ints(node, "pads", [])
        let value = try constantInput(node, 2)?.scalars.first ?? float(node, "value", 0)
        guard x.rank == 4, mode == "constant", value == 0, pads.count == 8, pads[0] == 0, pads[1] == 0,
            pads[4] == 0, pads[5] == 0
        else { throw error(node.name, "Pad other than zeros around the image (mode \(mode), pads \(pads))") }
        guard pads.allSatisfy({ $0 >= 0 }) else { throw error(node.name, "negative pads \(pads)") }
        let name = layerName(node)
        let layer = ZeroPadding2D(name: name, top: pads[2], bottom: pads[6], left: pads[3], right: pads[7])
        _ = try record(node, layer, inputs: [x.name], rank: 4, nonNegative: x.nonNegative)
    }
}

internal import ONNXProto
import SightlineCore
import SightlineNN

/// Each Sightline layer as ONNX operators (NCHW values): one function per kind.
extension ONNXWriter.Builder {
    /// Adds `layer`'s operators reading `inputs` (ONNX value names); returns its output value.
    /// `inputShape` is the `[H, W, C]` the layer reads when it is not the graph node `name`'s
    /// input (the steps of a separable convolution).
    mutating func add(_ layer: any Layer, name: String, inputs: [String], inputShape: [Int]? = nil) throws -> String {
        let x = inputs.first ?? ""
        let shape = inputShape ?? graph.shape(of: graphInput(of: name)) ?? []
        switch layer {
        case let conv as Conv2D:
            let kernel = conv.kernel.value  // HWIO → OIHW
            let output = try convolution(
                name, x, weight: TorchVisionLayers.permuted(kernel, [3, 2, 0, 1]), bias: conv.bias?.value, groups: 1,
                strides: conv.strides, dilation: conv.dilation, padding: conv.padding, inputShape: shape,
                linear: conv.activation == .linear)
            return try activation(conv.activation, name, output)
        case let depthwise as DepthwiseConv2D:
            // [kh, kw, C, M] (or grouped [kh, kw, 1, C·M]) → [C·M, 1, kh, kw], one group per channel.
            let kernel = depthwise.kernel.value
            let (kh, kw) = (kernel.shape[0], kernel.shape[1])
            let outputs = kernel.count / (kh * kw)
            let channels = shape.last ?? outputs
            let weight = TorchVisionLayers.permuted(kernel.reshaped([kh, kw, 1, outputs]), [3, 2, 0, 1])
            let output = try convolution(
                name, x, weight: weight, bias: depthwise.bias?.value, groups: channels, strides: depthwise.strides,
                dilation: depthwise.dilation, padding: depthwise.padding, inputShape: shape,
                linear: depthwise.activation == .linear)
            return try activation(depthwise.activation, name, output)
        case let separable as SeparableConv2D:
            let middle = try add(separable.depthwise, name: name + ".depthwise", inputs: inputs, inputShape: shape)
            let output = graph.shape(of: name) ?? []
            let middleShape = output.dropLast() + [separable.pointwise.kernel.value.shape[2]]
            return try add(separable.pointwise, name: name, inputs: [middle], inputShape: Array(middleShape))
        case let grouped as GroupedConv2D:
            let output = try convolution(
                name, x, weight: TorchVisionLayers.permuted(grouped.kernel.value, [3, 2, 0, 1]),
                bias: grouped.bias?.value, groups: grouped.groups, strides: grouped.strides, dilation: grouped.dilation,
                padding: grouped.padding, inputShape: shape, linear: grouped.activation == .linear)
            return try activation(grouped.activation, name, output)
        case let bn as BatchNormalization:
            let c = bn.movingMean.value.count
            let parts = [
                constant(name + ".scale", bn.gamma?.value.scalars ?? Array(repeating: 1, count: c), [c]),
                constant(name + ".bias", bn.beta?.value.scalars ?? Array(repeating: 0, count: c), [c]),
                constant(name + ".mean", bn.movingMean.value.scalars, [c]),
                constant(name + ".var", bn.movingVariance.value.scalars, [c]),
            ]
            nodes.append(node("BatchNormalization", [x] + parts, name, name: name, [float("epsilon", bn.epsilon)]))
            return name
        case let act as Activation:
            return try activation(act.function, name, x, output: name)
        case let dense as Dense where shape.count == 3:
            // A Dense on a map's channels (ConvNeXt's MLP) is a 1×1 convolution of the NCHW map.
            let kernel = dense.kernel.value
            let weight = TorchVisionLayers.permuted(kernel, [1, 0]).reshaped([kernel.shape[1], kernel.shape[0], 1, 1])
            let output = try convolution(
                name, x, weight: weight, bias: dense.bias?.value, groups: 1, strides: (1, 1), dilation: (1, 1),
                padding: .valid, inputShape: shape, linear: dense.activation == .linear)
            return try activation(dense.activation, name, output)
        case let dense as Dense:
            let kernel = dense.kernel.value
            let weight = constant(name + ".kernel", kernel.scalars, kernel.shape)
            let bias = dense.bias.map { constant(name + ".bias", $0.value.scalars, $0.value.shape) }
            let gemm = dense.activation == .linear ? name : name + ".gemm"
            nodes.append(node("Gemm", [x, weight] + (bias.map { [$0] } ?? []), gemm, name: gemm))
            return try activation(dense.activation, name, gemm, output: name)
        case let pool as Pooling2D:
            let geometry = WindowGeometry(
                inputHeight: shape.first ?? 0, inputWidth: shape.dropFirst().first ?? 0, kernel: pool.poolSize,
                strides: pool.strides, padding: pool.padding)
            var attributes = [
                ints("kernel_shape", [pool.poolSize.0, pool.poolSize.1]),
                ints("strides", [pool.strides.0, pool.strides.1]), ints("pads", pads(geometry)),
            ]
            if pool.kind == .average { attributes.append(int("count_include_pad", 0)) }  // Keras excludes padding
            nodes.append(node(pool.kind == .max ? "MaxPool" : "AveragePool", [x], name, name: name, attributes))
            return name
        case let pool as GlobalPooling2D:
            let pooled = pool.keepDims ? name : name + ".pool"
            nodes.append(node(pool.kind == .max ? "GlobalMaxPool" : "GlobalAveragePool", [x], pooled, name: pooled))
            if !pool.keepDims { nodes.append(node("Flatten", [pooled], name, name: name, [int("axis", 1)])) }
            return name
        case let padding as ZeroPadding2D:
            let pads = integers(name + ".pads", [0, 0, padding.top, padding.left, 0, 0, padding.bottom, padding.right])
            nodes.append(node("Pad", [x, pads], name, name: name))
            return name
        case let merge as Merge:
            let (op, attributes): (String, [Onnx_AttributeProto]) =
                switch merge.operation {
                case .add: (inputs.count == 2 ? "Add" : "Sum", [])
                case .multiply: ("Mul", [])
                case .concatenate: ("Concat", [int("axis", 1)])
                }
            guard merge.operation != .multiply || inputs.count == 2 else {
                throw unwritable(name, "Multiply of more than two inputs is not written to ONNX")
            }
            nodes.append(node(op, inputs, name, name: name, attributes))
            return name
        case let norm as LayerNormalization:
            return layerNormalization(norm, name, x, map: shape.count == 3, channels: shape.last ?? 0)
        case let scale as LayerScale:
            let gamma = scale.gamma.value
            let factor = constant(
                name + ".gamma", gamma.scalars, shape.count == 3 ? [1, gamma.count, 1, 1] : [gamma.count])
            nodes.append(node("Mul", [x, factor], name, name: name))
            return name
        case let reshape as Reshape:
            return try flatten(reshape, name, x)
        case is Dropout:
            nodes.append(node("Identity", [x], name, name: name))
            return name
        case let rescaling as Rescaling:
            // One value for every channel, or one per channel of the NCHW map.
            func perChannel(_ values: [Float]) -> [Int] { values.count == 1 ? [1] : [1, values.count, 1, 1] }
            let scale = constant(name + ".scale", rescaling.scales, perChannel(rescaling.scales))
            let offset = constant(name + ".offset", rescaling.offsets, perChannel(rescaling.offsets))
            nodes.append(node("Mul", [x, scale], name + ".mul", name: name + ".mul"))
            nodes.append(node("Add", [name + ".mul", offset], name, name: name))
            return name
        default:
            throw unwritable(name, "\(type(of: layer)) has no ONNX counterpart in Sightline's writer")
        }
    }

    /// The graph node a layer reads (for shapes).
    func graphInput(of name: String) -> String { graph.node(named: name)?.inputs.first ?? "" }

    /// ONNX pads `[top, left, bottom, right]` of a resolved window.
    func pads(_ g: WindowGeometry) -> [Int] {
        let spanY = (g.kernelHeight - 1) * g.dilationY + 1
        let spanX = (g.kernelWidth - 1) * g.dilationX + 1
        let bottom = max((g.outputHeight - 1) * g.strideY + spanY - g.inputHeight - g.padTop, 0)
        let right = max((g.outputWidth - 1) * g.strideX + spanX - g.inputWidth - g.padLeft, 0)
        return [g.padTop, g.padLeft, bottom, right]
    }

    mutating func convolution(
        _ name: String, _ x: String, weight: Tensor, bias: Tensor?, groups: Int, strides: (Int, Int),
        dilation: (Int, Int), padding: Padding, inputShape shape: [Int], linear: Bool
    ) throws -> String {
        let output = linear ? name : name + ".conv"  // a following activation takes the layer's name
        let geometry = WindowGeometry(
            inputHeight: shape.first ?? 0, inputWidth: shape.dropFirst().first ?? 0,
            kernel: (weight.shape[2], weight.shape[3]), strides: strides, dilation: dilation, padding: padding)
        let w = constant(name + ".weight", weight.scalars, weight.shape)
        let b = bias.map { constant(name + ".bias", $0.scalars, [$0.count]) }
        nodes.append(
            node(
                "Conv", [x, w] + (b.map { [$0] } ?? []), output, name: output,
                [
                    ints("kernel_shape", [weight.shape[2], weight.shape[3]]), ints("strides", [strides.0, strides.1]),
                    ints("dilations", [dilation.0, dilation.1]), ints("pads", pads(geometry)), int("group", groups),
                ]))
        return output
    }

    /// `function` applied to `x` as its own node(s); `output` names the result (default: a new name).
    mutating func activation(_ function: ActivationFunction, _ name: String, _ x: String, output: String? = nil) throws
        -> String
    {
        let out = output ?? name
        switch function {
        case .linear where x == out: break  // a linear layer already wrote its output under its name
        case .linear: nodes.append(node("Identity", [x], out, name: out))
        case .relu(let maxValue, let slope):
            if let maxValue, slope == 0 {
                let low = constant(out + ".min", [0], [])
                let high = constant(out + ".max", [maxValue], [])
                nodes.append(node("Clip", [x, low, high], out, name: out))
            } else if maxValue == nil {
                nodes.append(
                    slope == 0
                        ? node("Relu", [x], out, name: out)
                        : node("LeakyRelu", [x], out, name: out, [float("alpha", slope)]))
            } else {
                throw unwritable(name, "ReLU with both a maximum and a negative slope is not written to ONNX")
            }
        case .leakyRelu(let alpha): nodes.append(node("LeakyRelu", [x], out, name: out, [float("alpha", alpha)]))
        case .elu(let alpha): nodes.append(node("Elu", [x], out, name: out, [float("alpha", alpha)]))
        case .sigmoid: nodes.append(node("Sigmoid", [x], out, name: out))
        case .tanh: nodes.append(node("Tanh", [x], out, name: out))
        case .softmax: nodes.append(node("Softmax", [x], out, name: out, [int("axis", -1)]))
        case .softplus: nodes.append(node("Softplus", [x], out, name: out))
        case .selu: nodes.append(node("Selu", [x], out, name: out))
        case .hardSilu: nodes.append(node("HardSwish", [x], out, name: out))
        case .hardSigmoid:
            nodes.append(node("HardSigmoid", [x], out, name: out, [float("alpha", 1 / 6), float("beta", 0.5)]))
        case .hardSigmoidKeras2:
            nodes.append(node("HardSigmoid", [x], out, name: out, [float("alpha", 0.2), float("beta", 0.5)]))
        case .gelu(approximate: false):  // x · ½(1 + erf(x/√2)); ONNX's Gelu needs opset 20
            let root = constant(out + ".sqrt2", [Float(2).squareRoot()], [])
            let (one, half) = (constant(out + ".one", [1], []), constant(out + ".half", [0.5], []))
            nodes.append(node("Div", [x, root], out + ".scaled", name: out + ".scaled"))
            nodes.append(node("Erf", [out + ".scaled"], out + ".erf", name: out + ".erf"))
            nodes.append(node("Add", [out + ".erf", one], out + ".gate", name: out + ".gate"))
            nodes.append(node("Mul", [x, out + ".gate"], out + ".product", name: out + ".product"))
            nodes.append(node("Mul", [out + ".product", half], out, name: out))
        case .swish:
            nodes.append(node("Sigmoid", [x], out + ".sigmoid", name: out + ".sigmoid"))
            nodes.append(node("Mul", [x, out + ".sigmoid"], out, name: out))
        default:
            throw unwritable(name, "activation \(function) is not written to ONNX")
        }
        return out
    }

    /// LayerNormalization over the channels: of an NCHW map through channels-last and back
    /// (ONNX's operator normalises from its axis to the end), of a vector directly.
    mutating func layerNormalization(
        _ norm: LayerNormalization, _ name: String, _ x: String, map: Bool, channels c: Int
    )
        -> String
    {
        let scale = constant(name + ".scale", norm.gamma?.value.scalars ?? Array(repeating: 1, count: c), [c])
        let bias = constant(name + ".bias", norm.beta?.value.scalars ?? Array(repeating: 0, count: c), [c])
        let attributes = [int("axis", -1), float("epsilon", norm.epsilon)]
        guard map else {
            nodes.append(node("LayerNormalization", [x, scale, bias], name, name: name, attributes))
            return name
        }
        nodes.append(node("Transpose", [x], name + ".nhwc", name: name + ".nhwc", [ints("perm", [0, 2, 3, 1])]))
        nodes.append(
            node("LayerNormalization", [name + ".nhwc", scale, bias], name + ".norm", name: name + ".norm", attributes))
        nodes.append(node("Transpose", [name + ".norm"], name, name: name, [ints("perm", [0, 3, 1, 2])]))
        return name
    }

    /// Keras's Flatten and Reshape work on NHWC items: transpose NCHW maps to NHWC first, and
    /// back to NCHW when the result is a map again.
    mutating func flatten(_ reshape: Reshape, _ name: String, _ x: String) throws -> String {
        let source = graph.shape(of: graphInput(of: name)) ?? []
        var value = x
        if source.count == 3 {
            nodes.append(node("Transpose", [x], name + ".nhwc", name: name + ".nhwc", [ints("perm", [0, 2, 3, 1])]))
            value = name + ".nhwc"
        }
        let target = graph.shape(of: name) ?? []
        let shape = integers(name + ".shape", [-1] + target)
        let reshaped = target.count == 3 ? name + ".reshape" : name
        nodes.append(node("Reshape", [value, shape], reshaped, name: reshaped))
        if target.count == 3 {
            nodes.append(node("Transpose", [reshaped], name, name: name, [ints("perm", [0, 3, 1, 2])]))
        } else if target.count != 1 {
            throw unwritable(name, "a Reshape to \(target) is not written to ONNX")
        }
        return name
    }
}

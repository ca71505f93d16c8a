import SightlineModels

/// One Keras layer's `config`, turned into a Sightline layer with zero weights of the right shapes.
struct KerasLayerConfig {
    let name: String
    let className: String
    let config: [String: Any]

    func unsupported(_ reason: String) -> ModelConfigImporter.Unsupported {
        ModelConfigImporter.Unsupported(layer: name, className: className, reason: reason)
    }

    func int(_ key: String, _ fallback: Int) -> Int { config[key] as? Int ?? fallback }
    func float(_ key: String, _ fallback: Float) -> Float { (config[key] as? Double).map(Float.init) ?? fallback }
    func bool(_ key: String, _ fallback: Bool) -> Bool { config[key] as? Bool ?? fallback }

    /// A Keras pair option (`kernel_size`, `strides`, …), given as `[a, b]` or `a`.
    func pair(_ key: String, _ fallback: (Int, Int)) -> (Int, Int) {
        if let list = config[key] as? [Int], list.count == 2 { return (list[0], list[1]) }
        if let value = config[key] as? Int { return (value, value) }
        return fallback
    }

    func padding() throws -> Padding {
        switch (config["padding"] as? String ?? "valid").lowercased() {
        case "valid": return .valid
        case "same": return .same
        case let other: throw unsupported("padding '\(other)' is not supported")
        }
    }

    func requireChannelsLast() throws {
        if let format = config["data_format"] as? String, format != "channels_last" {
            throw unsupported("data_format '\(format)' is not supported; Sightline runs channels_last (NHWC)")
        }
    }

    func activation(_ key: String = "activation") throws -> ActivationFunction {
        let value = config[key]
        let name = (value as? String) ?? ((value as? [String: Any])?["config"] as? [String: Any])?["name"] as? String ?? "linear"
        switch name {
        case "linear", "None": return .linear
        case "relu": return .relu
        case "relu6": return .relu(maxValue: 6)
        case "sigmoid": return .sigmoid
        case "hard_sigmoid": return .hardSigmoid
        case "tanh": return .tanh
        case "softmax": return .softmax
        case "elu": return .elu(alpha: 1)
        case "leaky_relu": return .leakyRelu(alpha: 0.2)
        default: throw unsupported("activation '\(name)' is not supported")
        }
    }

    func channels(_ shapes: [[Int]]) throws -> Int {
        guard let last = shapes.first?.last else { throw unsupported("has no input") }
        return last
    }

    /// The Sightline layer, with zero-filled weights shaped for `inputShapes`.
    func make(inputShapes shapes: [[Int]]) throws -> any Layer {
        switch className {
        case "Conv2D", "Convolution2D":
            try requireChannelsLast()
            guard int("groups", 1) == 1 else { throw unsupported("grouped convolutions are not supported") }
            let (kh, kw) = pair("kernel_size", (1, 1)), filters = int("filters", 0)
            return Conv2D(
                name: name, kernel: Tensor(zeros: [kh, kw, try channels(shapes), filters]),
                bias: bool("use_bias", true) ? Tensor(zeros: [filters]) : nil, strides: pair("strides", (1, 1)), padding: try padding(),
                dilation: pair("dilation_rate", (1, 1)), activation: try activation())
        case "DepthwiseConv2D":
            try requireChannelsLast()
            let (kh, kw) = pair("kernel_size", (1, 1)), c = try channels(shapes), m = int("depth_multiplier", 1)
            return DepthwiseConv2D(
                name: name, kernel: Tensor(zeros: [kh, kw, c, m]), bias: bool("use_bias", true) ? Tensor(zeros: [c * m]) : nil,
                strides: pair("strides", (1, 1)), padding: try padding(), dilation: pair("dilation_rate", (1, 1)), activation: try activation())
        case "SeparableConv2D":
            try requireChannelsLast()
            let (kh, kw) = pair("kernel_size", (1, 1)), c = try channels(shapes), m = int("depth_multiplier", 1), f = int("filters", 0)
            return SeparableConv2D(
                name: name, depthwiseKernel: Tensor(zeros: [kh, kw, c, m]), pointwiseKernel: Tensor(zeros: [1, 1, c * m, f]),
                bias: bool("use_bias", true) ? Tensor(zeros: [f]) : nil, strides: pair("strides", (1, 1)), padding: try padding(),
                dilation: pair("dilation_rate", (1, 1)), activation: try activation())
        case "Dense":
            let units = int("units", 0)
            return Dense(
                name: name, kernel: Tensor(zeros: [try channels(shapes), units]), bias: bool("use_bias", true) ? Tensor(zeros: [units]) : nil,
                activation: try activation())
        case "BatchNormalization":
            let rank = (shapes.first?.count ?? 0) + 1
            let axes = (config["axis"] as? [Int]) ?? [(config["axis"] as? Int) ?? -1]
            guard axes.count == 1, let axis = axes.first, axis == -1 || axis == rank - 1 else {
                throw unsupported("normalises axis \(axes); only the channel (last) axis is supported")
            }
            return BatchNormalization(
                name: name, channels: try channels(shapes), epsilon: float("epsilon", 1e-3), momentum: float("momentum", 0.99),
                center: bool("center", true), scale: bool("scale", true))
        case "Activation":
            return Activation(name: name, try activation())
        case "ReLU":
            guard float("threshold", 0) == 0 else { throw unsupported("a non-zero threshold is not supported") }
            let maxValue = (config["max_value"] as? Double).map(Float.init)
            return Activation(name: name, .relu(maxValue: maxValue, negativeSlope: float("negative_slope", 0)))
        case "LeakyReLU":
            return Activation(name: name, .leakyRelu(alpha: (config["negative_slope"] as? Double ?? config["alpha"] as? Double).map(Float.init) ?? 0.3))
        case "ELU":
            return Activation(name: name, .elu(alpha: float("alpha", 1)))
        case "Softmax":
            let axis = (config["axis"] as? Int) ?? ((config["axis"] as? [Int])?.first ?? -1)
            guard axis == -1 || axis == shapes.first?.count else { throw unsupported("softmax over axis \(axis); only the last axis is supported") }
            return Activation(name: name, .softmax)
        case "MaxPooling2D", "AveragePooling2D", "MaxPool2D", "AvgPool2D":
            try requireChannelsLast()
            let pool = pair("pool_size", (2, 2))
            return Pooling2D(
                name: name, kind: className.hasPrefix("Max") ? .max : .average, poolSize: pool, strides: pair("strides", pool), padding: try padding())
        case "GlobalAveragePooling2D", "GlobalMaxPooling2D", "GlobalAvgPool2D", "GlobalMaxPool2D":
            try requireChannelsLast()
            return GlobalPooling2D(name: name, kind: className.contains("Max") ? .max : .average, keepDims: bool("keepdims", false))
        case "ZeroPadding2D":
            try requireChannelsLast()
            if let value = config["padding"] as? Int { return ZeroPadding2D(name: name, padding: value) }
            if let pair = config["padding"] as? [Int], pair.count == 2 {
                return ZeroPadding2D(name: name, top: pair[0], bottom: pair[0], left: pair[1], right: pair[1])
            }
            if let nested = config["padding"] as? [[Int]], nested.count == 2, nested[0].count == 2, nested[1].count == 2 {
                return ZeroPadding2D(name: name, top: nested[0][0], bottom: nested[0][1], left: nested[1][0], right: nested[1][1])
            }
            throw unsupported("padding \(String(describing: config["padding"])) is not understood")
        case "Flatten":
            try requireChannelsLast()
            return Reshape.flatten(name: name)
        case "Reshape":
            guard let target = config["target_shape"] as? [Int] else { throw unsupported("target_shape must be a list of integers") }
            return Reshape(name: name, targetShape: target)
        case "Dropout":
            return Dropout(name: name, rate: float("rate", 0), seed: UInt64(int("seed", 0) & Int(Int32.max)))
        case "Add": return Merge(name: name, .add)
        case "Multiply": return Merge(name: name, .multiply)
        case "Concatenate":
            let axis = int("axis", -1)
            guard axis == -1 || axis == shapes.first?.count else { throw unsupported("concatenation over axis \(axis); only the last axis is supported") }
            return Merge(name: name, .concatenate)
        case "Rescaling":
            guard let scale = config["scale"] as? Double else { throw unsupported("per-channel scales are not supported") }
            return Rescaling(name: name, scale: Float(scale), offset: float("offset", 0))
        default:
            throw unsupported("this layer type is not supported by Sightline's engine")
        }
    }
}

import Foundation
import SightlineModels

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
                entry["config"] = config.merging(["name": node.name, "trainable": layer.isTrainable || layer.parameters.isEmpty, "dtype": "float32"]) { $1 }
                entry["inbound_nodes"] = [node.inputs.map { [$0, 0, 0, [String: Any]()] as [Any] }]
            } else {
                entry["class_name"] = "InputLayer"
                entry["config"] = ["batch_input_shape": [NSNull()] + node.shape.map { $0 as Any }, "dtype": "float32", "sparse": false, "ragged": false, "name": node.name] as [String: Any]
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

    static func activationName(_ function: ActivationFunction, layer: String) throws -> String {
        switch function {
        case .linear: return "linear"
        case .relu(nil, 0): return "relu"
        case .relu(6, 0): return "relu6"
        case .sigmoid: return "sigmoid"
        case .hardSigmoid: return "hard_sigmoid"
        case .tanh: return "tanh"
        case .softmax: return "softmax"
        case .elu(1): return "elu"
        default: throw Unwritable(layer: layer, reason: "the fused activation \(function) has no Keras name; use a separate activation layer")
        }
    }

    static func padding(_ padding: Padding, layer: String) throws -> String {
        switch padding {
        case .valid: return "valid"
        case .same: return "same"
        case .explicit: throw Unwritable(layer: layer, reason: "explicit padding has no Keras equivalent; use ZeroPadding2D")
        }
    }

    static func pair(_ value: (Int, Int)) -> [Int] { [value.0, value.1] }

    static func layerConfig(_ layer: any Layer) throws -> (String, [String: Any]) {
        let name = layer.name
        switch layer {
        case let conv as Conv2D:
            let k = conv.kernel.value.shape
            return ("Conv2D", [
                "filters": k[3], "kernel_size": [k[0], k[1]], "strides": pair(conv.strides), "padding": try padding(conv.padding, layer: name),
                "data_format": "channels_last", "dilation_rate": pair(conv.dilation), "groups": 1,
                "activation": try activationName(conv.activation, layer: name), "use_bias": conv.bias != nil,
            ])
        case let conv as DepthwiseConv2D:
            let k = conv.kernel.value.shape
            return ("DepthwiseConv2D", [
                "kernel_size": [k[0], k[1]], "strides": pair(conv.strides), "padding": try padding(conv.padding, layer: name),
                "depth_multiplier": k[3], "data_format": "channels_last", "dilation_rate": pair(conv.dilation),
                "activation": try activationName(conv.activation, layer: name), "use_bias": conv.bias != nil,
            ])
        case let conv as SeparableConv2D:
            let depthwise = conv.parameters[0].value.shape, pointwise = conv.parameters[1].value.shape
            return ("SeparableConv2D", [
                "filters": pointwise[3], "kernel_size": [depthwise[0], depthwise[1]], "strides": pair(conv.strides),
                "padding": try padding(conv.padding, layer: name), "depth_multiplier": depthwise[3], "data_format": "channels_last",
                "dilation_rate": pair(conv.dilation), "activation": try activationName(conv.activation, layer: name),
                "use_bias": conv.parameters.count == 3,
            ])
        case let dense as Dense:
            return ("Dense", ["units": dense.units, "activation": try activationName(dense.activation, layer: name), "use_bias": dense.bias != nil])
        case let bn as BatchNormalization:
            return ("BatchNormalization", [
                "axis": -1, "momentum": Double(bn.momentum), "epsilon": Double(bn.epsilon), "center": bn.beta != nil, "scale": bn.gamma != nil,
            ])
        case let activation as Activation:
            switch activation.function {
            case .relu(let maxValue, let slope) where maxValue != nil || slope != 0:
                return ("ReLU", ["max_value": maxValue.map { Double($0) } ?? NSNull(), "negative_slope": Double(slope), "threshold": 0.0])
            case .leakyRelu(let alpha):
                return ("LeakyReLU", ["alpha": Double(alpha)])
            case .elu(let alpha):
                return ("ELU", ["alpha": Double(alpha)])
            default:
                return ("Activation", ["activation": try activationName(activation.function, layer: name)])
            }
        case let pool as Pooling2D:
            return (pool.kind == .max ? "MaxPooling2D" : "AveragePooling2D", [
                "pool_size": pair(pool.poolSize), "strides": pair(pool.strides), "padding": try padding(pool.padding, layer: name),
                "data_format": "channels_last",
            ])
        case let pool as GlobalPooling2D:
            return (pool.kind == .max ? "GlobalMaxPooling2D" : "GlobalAveragePooling2D", ["data_format": "channels_last", "keepdims": pool.keepDims])
        case let pad as ZeroPadding2D:
            return ("ZeroPadding2D", ["padding": [[pad.top, pad.bottom], [pad.left, pad.right]], "data_format": "channels_last"])
        case let reshape as Reshape:
            if let target = reshape.targetShape { return ("Reshape", ["target_shape": target]) }
            return ("Flatten", ["data_format": "channels_last"])
        case let dropout as Dropout:
            return ("Dropout", ["rate": Double(dropout.rate), "noise_shape": NSNull(), "seed": NSNull()])
        case let merge as Merge:
            switch merge.operation {
            case .add: return ("Add", [:])
            case .multiply: return ("Multiply", [:])
            case .concatenate: return ("Concatenate", ["axis": -1])
            }
        case let rescaling as Rescaling:
            return ("Rescaling", ["scale": Double(rescaling.scale), "offset": Double(rescaling.offset)])
        default:
            throw Unwritable(layer: name, reason: "\(type(of: layer)) has no Keras counterpart")
        }
    }
}

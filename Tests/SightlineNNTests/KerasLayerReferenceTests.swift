import Foundation
import SightlineCore
import SightlineNN
import SightlineTestSupport
import Testing

/// Every layer's forward output, input gradients, weight gradients and (for BatchNorm in
/// training) moving-statistics update against real Keras 3.15 on TensorFlow 2.21.
/// Fixture: `Tests/Fixtures/keras_layers.json`, made by `Tests/Fixtures/make_keras_fixtures.py`
/// (`layers_fixture`): each case builds the Keras layer, runs it on seeded random inputs and
/// differentiates L = Σ output · upstream with `tf.GradientTape`.
struct KerasLayerReferenceTests {
    static func cases() -> [[String: Any]] {
        ((try? KerasFixture.load("keras_layers.json"))?["cases"] as? [[String: Any]]) ?? []
    }

    static var caseNames: [String] { cases().compactMap { $0["name"] as? String } }

    @Test func fixtureIsPresent() {
        #expect(Self.cases().count >= 35, "keras_layers.json should hold every layer case")
    }

    @Test(arguments: caseNames)
    func matchesKeras(_ name: String) throws {
        let fixture = try #require(Self.cases().first { $0["name"] as? String == name })
        let spec = try #require(fixture["layer"] as? [String: Any])
        // Keras 3 names DepthwiseConv2D's weight `kernel`; Keras 2 and legacy .h5 files (and
        // Sightline) call it `depthwise_kernel`.
        var weights = try KerasFixture.tensors(fixture["weights"])
        if spec["type"] as? String == "DepthwiseConv2D" { weights["depthwise_kernel"] = weights["kernel"] }
        let layer = try LayerFactory.make(name: name, spec: spec, weights: weights)
        let inputs = try (fixture["inputs"] as? [Any] ?? []).map { try KerasFixture.tensor($0) }
        let mode: Mode = fixture["mode"] as? String == "training" ? .training : .inference

        let forward = layer.forward(inputs, mode: mode)
        expectClose(forward.output, try KerasFixture.tensor(fixture["output"]), tolerance: 1e-5, "\(name) output")

        let upstream = try KerasFixture.tensor(fixture["upstream"])
        let inputGradients = layer.backward(upstream, inputs: inputs, forward: forward, mode: mode, needs: .all)
        let expectedInputGradients = try (fixture["input_gradients"] as? [Any] ?? []).map {
            try KerasFixture.tensor($0)
        }
        #expect(inputGradients.count == expectedInputGradients.count)
        for (index, (actual, expected)) in zip(inputGradients, expectedInputGradients).enumerated() {
            expectClose(actual, expected, tolerance: 1e-5, "\(name) input \(index) gradient")
        }
        var expectedWeightGradients = try KerasFixture.tensors(fixture["weight_gradients"])
        if spec["type"] as? String == "DepthwiseConv2D" {
            expectedWeightGradients["depthwise_kernel"] = expectedWeightGradients.removeValue(forKey: "kernel")
        }
        for parameter in layer.parameters where parameter.isTrainable {
            let expected = try #require(
                expectedWeightGradients[parameter.name], "Keras has no gradient for \(parameter.name)")
            let actual = try #require(parameter.gradient, "\(name) computed no gradient for \(parameter.name)")
            expectClose(actual, expected, tolerance: 1e-5, "\(name) \(parameter.name) gradient")
        }
        #expect(
            Set(expectedWeightGradients.keys) == Set(layer.parameters.filter(\.isTrainable).map(\.name)),
            "\(name): trainable weights differ from Keras's")
        for (weightName, expected) in try KerasFixture.tensors(fixture["weights_after"]) {
            let parameter = try #require(
                layer.parameter(named: weightName) ?? layer.parameter(named: "depthwise_\(weightName)"),
                "\(name) has no weight \(weightName)")
            expectClose(parameter.value, expected, tolerance: 1e-5, "\(name) \(weightName) after the step")
        }
    }
}

/// Builds a layer from a fixture's spec and Keras weights (the test-side stand-in for the
/// `model_config` importer).
enum LayerFactory {
    struct Unknown: Error, CustomStringConvertible {
        let what: String
        var description: String { "unknown \(what)" }
    }

    static func activation(_ spec: [String: Any]) throws -> ActivationFunction {
        let alpha = Float(spec["alpha"] as? Double ?? 1)
        switch spec["activation"] as? String ?? "linear" {
        case "linear": return .linear
        case "relu": return .relu(maxValue: nil, negativeSlope: Float(spec["negative_slope"] as? Double ?? 0))
        case "relu6": return .relu(maxValue: 6)
        case "leaky_relu": return .leakyRelu(alpha: alpha)
        case "elu": return .elu(alpha: alpha)
        case "sigmoid": return .sigmoid
        case "hard_sigmoid": return .hardSigmoid
        case "tanh": return .tanh
        case "softmax": return .softmax
        case let other: throw Unknown(what: "activation \(other)")
        }
    }

    static func pair(_ value: Any?) -> (Int, Int) {
        let list = value as? [Int] ?? [1, 1]
        return (list[0], list[1])
    }

    static func padding(_ value: Any?) -> Padding { value as? String == "same" ? .same : .valid }

    static func make(name: String, spec: [String: Any], weights w: [String: Tensor]) throws -> any Layer {
        let type = spec["type"] as? String ?? ""
        switch type {
        case "Conv2D":
            return Conv2D(
                name: name, kernel: try require(w, "kernel"), bias: w["bias"], strides: pair(spec["strides"]),
                padding: padding(spec["padding"]), dilation: pair(spec["dilation"]), activation: try activation(spec))
        case "DepthwiseConv2D":
            return DepthwiseConv2D(
                name: name, kernel: try require(w, "depthwise_kernel"), bias: w["bias"], strides: pair(spec["strides"]),
                padding: padding(spec["padding"]), dilation: pair(spec["dilation"]), activation: try activation(spec))
        case "SeparableConv2D":
            return SeparableConv2D(
                name: name, depthwiseKernel: try require(w, "depthwise_kernel"),
                pointwiseKernel: try require(w, "pointwise_kernel"),
                bias: w["bias"], strides: pair(spec["strides"]), padding: padding(spec["padding"]),
                dilation: pair(spec["dilation"]),
                activation: try activation(spec))
        case "Dense":
            return Dense(
                name: name, kernel: try require(w, "kernel"), bias: w["bias"], activation: try activation(spec))
        case "BatchNormalization":
            let layer = BatchNormalization(
                name: name, gamma: w["gamma"], beta: w["beta"], movingMean: try require(w, "moving_mean"),
                movingVariance: try require(w, "moving_variance"), epsilon: Float(spec["epsilon"] as? Double ?? 1e-3),
                momentum: Float(spec["momentum"] as? Double ?? 0.99))
            if spec["frozen"] as? Bool == true { layer.isTrainable = false }
            return layer
        case "Activation":
            return Activation(name: name, try activation(spec))
        case "MaxPooling2D", "AveragePooling2D":
            return Pooling2D(
                name: name, kind: type == "MaxPooling2D" ? .max : .average, poolSize: pair(spec["pool"]),
                strides: pair(spec["strides"]),
                padding: padding(spec["padding"]))
        case "GlobalAveragePooling2D": return GlobalPooling2D(name: name, kind: .average)
        case "GlobalMaxPooling2D": return GlobalPooling2D(name: name, kind: .max)
        case "ZeroPadding2D":
            let p = spec["padding"] as? [Int] ?? [0, 0, 0, 0]
            return ZeroPadding2D(name: name, top: p[0], bottom: p[1], left: p[2], right: p[3])
        case "Flatten": return Reshape.flatten(name: name)
        case "Add": return Merge(name: name, .add)
        case "Multiply": return Merge(name: name, .multiply)
        case "Concatenate": return Merge(name: name, .concatenate)
        case "Rescaling":
            return Rescaling(
                name: name, scale: Float(spec["scale"] as? Double ?? 1), offset: Float(spec["offset"] as? Double ?? 0))
        default:
            throw Unknown(what: "layer type \(type)")
        }
    }

    static func require(_ weights: [String: Tensor], _ name: String) throws -> Tensor {
        guard let tensor = weights[name] else { throw Unknown(what: "weight \(name)") }
        return tensor
    }
}

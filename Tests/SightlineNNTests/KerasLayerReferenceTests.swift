import Foundation
import SightlineCore
import SightlineNN
import SightlineTestSupport
import Testing

/// Every layer's forward output, input gradients, weight gradients and (for BatchNorm in
/// training) moving-statistics update against real Keras 3.15 on TensorFlow 2.21.
/// Fixture: `Tests/Fixtures/keras_layers.json`, made by `Tests/Fixtures/make_keras_fixtures.py`
/// (`layers_fixture`): each case builds the Keras layer, runs it on seeded random inputs and
/// differentiates L = Σ output · upstream with `tf.GradientTape`. The layer is made here from the
/// config Keras wrote (`get_config()`) by the importer's own registry (`KerasLayers.make`), so the
/// config import is tested along with the arithmetic.
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
        let keras = try #require(fixture["keras"] as? [String: Any])
        let className = try #require(keras["class_name"] as? String)
        let inputs = try (fixture["inputs"] as? [Any] ?? []).map { try KerasFixture.tensor($0) }
        let config = KerasConfig(name: name, className: className, values: keras["config"] as? [String: Any] ?? [:])
        let layer = try KerasLayers.make(config, inputShapes: inputs.map { Array($0.shape.dropFirst()) })
        if keras["trainable"] as? Bool == false { layer.isTrainable = false }
        // Keras 3 names DepthwiseConv2D's weight `kernel`; Keras 2 and legacy .h5 files (and
        // Sightline) call it `depthwise_kernel`.
        var weights = try KerasFixture.tensors(fixture["weights"])
        if className == "DepthwiseConv2D" { weights["depthwise_kernel"] = weights.removeValue(forKey: "kernel") }
        #expect(Set(weights.keys) == Set(layer.parameters.map(\.name)), "\(name): weights differ from Keras's")
        for parameter in layer.parameters {
            let value = try #require(weights[parameter.name], "\(name): Keras has no weight \(parameter.name)")
            #expect(value.shape == parameter.value.shape, "\(name) \(parameter.name)")
            parameter.value = value
        }
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
        if className == "DepthwiseConv2D" {
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

import Foundation
import SightlineCore
import SightlineTestSupport
import Testing

@testable import SightlineNN

/// A residual + concatenation graph against the same functional model in real Keras.
/// Fixture: `Tests/Fixtures/keras_graph.json` from `make_keras_fixtures.py` (`graph_fixture`):
/// Conv-BN-ReLU stem, a residual block (`res_add`), a 1×1 branch concatenated with a max-pool
/// branch, a strided ReLU convolution, global average pooling and a softmax head; BatchNorm
/// statistics randomised. Gradients are `tf.GradientTape` gradients of Σ predictions · upstream
/// in training mode.
struct KerasGraphTests {
    let fixture: [String: Any]

    init() throws {
        fixture = try KerasFixture.load("keras_graph.json")
    }

    /// The Keras model, rebuilt with the graph API and loaded with the fixture's weights.
    func makeGraph() throws -> Graph {
        let weights = try (fixture["weights"] as? [String: Any] ?? [:]).mapValues { try KerasFixture.tensors($0) }
        func w(_ layer: String, _ name: String) throws -> Tensor {
            try #require(weights[layer]?[name], "no weight \(layer)/\(name)")
        }
        func conv(_ name: String, strides: Int = 1, padding: Padding, activation: ActivationFunction = .linear) throws
            -> Conv2D
        {
            Conv2D(
                name: name, kernel: try w(name, "kernel"), bias: try w(name, "bias"), strides: (strides, strides),
                padding: padding, activation: activation)
        }
        func bn(_ name: String, epsilon: Float) throws -> BatchNormalization {
            BatchNormalization(
                name: name, gamma: try w(name, "gamma"), beta: try w(name, "beta"),
                movingMean: try w(name, "moving_mean"),
                movingVariance: try w(name, "moving_variance"), epsilon: epsilon)
        }
        let g = Graph()
        try g.addInput(name: "image", shape: [12, 10, 3])
        try g.add(try conv("stem_conv", padding: .same), inputs: ["image"])
        try g.add(try bn("stem_bn", epsilon: 1.001e-5), inputs: ["stem_conv"])
        try g.add(Activation(name: "stem_relu", .relu), inputs: ["stem_bn"])
        try g.add(try conv("res_conv", padding: .same), inputs: ["stem_relu"])
        try g.add(try bn("res_bn", epsilon: 1e-3), inputs: ["res_conv"])
        try g.add(Merge(name: "res_add", .add), inputs: ["stem_relu", "res_bn"])
        try g.add(Activation(name: "res_out", .relu), inputs: ["res_add"])
        try g.add(try conv("branch_a", padding: .valid), inputs: ["res_out"])
        try g.add(
            Pooling2D(name: "branch_b_pool", kind: .max, poolSize: (3, 3), strides: (1, 1), padding: .same),
            inputs: ["res_out"])
        try g.add(Merge(name: "concat", .concatenate), inputs: ["branch_a", "branch_b_pool"])
        try g.add(try conv("down_conv", strides: 2, padding: .same, activation: .relu), inputs: ["concat"])
        try g.add(GlobalPooling2D(name: "gap", kind: .average), inputs: ["down_conv"])
        try g.add(
            Dense(
                name: "predictions", kernel: try w("predictions", "kernel"), bias: try w("predictions", "bias"),
                activation: .softmax), inputs: ["gap"])
        return g
    }

    @Test func inferenceWithFoldedBatchNormMatchesKeras() throws {
        let graph = try makeGraph()
        let input = try KerasFixture.tensor(fixture["input"])
        let expected = try KerasFixture.tensor(fixture["inference_output"])
        expectClose(try graph(input), expected, tolerance: 1e-5, "fused inference output")
        // Asking for intermediate outputs disables the folding around them; same result.
        let unfused = try graph.forward(["image": input], outputs: ["stem_conv", "res_bn", "predictions"])
        expectClose(try #require(unfused["predictions"]), expected, tolerance: 1e-5, "unfused inference output")
        #expect(unfused["stem_conv"]?.shape == [3, 12, 10, 8])
    }

    @Test func trainingForwardAndBackwardMatchKeras() throws {
        let graph = try makeGraph()
        let input = try KerasFixture.tensor(fixture["input"])
        let (outputs, tape) = try graph.record(
            ["image": input], outputs: ["predictions"], mode: .training,
            request: GradientRequest(stopAt: ["image", "res_out"]))
        expectClose(
            try #require(outputs["predictions"]), try KerasFixture.tensor(fixture["training_output"]), tolerance: 1e-5,
            "training output")
        let gradients = graph.backward(tape, seeds: ["predictions": try KerasFixture.tensor(fixture["upstream"])])
        expectClose(
            try #require(gradients["image"]), try KerasFixture.tensor(fixture["input_gradient"]), tolerance: 1e-4,
            "input gradient")
        expectClose(
            try #require(gradients["res_out"]), try KerasFixture.tensor(fixture["res_out_gradient"]), tolerance: 1e-4,
            "res_out gradient")
        let expected = try KerasFixture.tensors(fixture["weight_gradients"])
        let slots = graph.trainableSlots
        #expect(Set(slots.map(\.key)) == Set(expected.keys), "trainable weights differ from Keras's")
        for slot in slots {
            let actual = try #require(slot.parameter.gradient, "no gradient for \(slot.key)")
            expectClose(actual, try #require(expected[slot.key]), tolerance: 1e-4, "\(slot.key) gradient")
        }
        for (layerName, stats) in fixture["moving_after_training"] as? [String: Any] ?? [:] {
            for (name, value) in try KerasFixture.tensors(stats) {
                let parameter = try #require(graph.layer(named: layerName)?.parameter(named: name))
                expectClose(parameter.value, value, tolerance: 1e-5, "\(layerName)/\(name) after one training step")
            }
        }
    }

    @Test func backwardStopsAtTheRequestedLayer() throws {
        let graph = try makeGraph()
        let input = try KerasFixture.tensor(fixture["input"])
        let (_, tape) = try graph.record(
            ["image": input], outputs: ["predictions"], mode: .training,
            request: GradientRequest(stopAt: ["res_out"], parameterGradients: false))
        // Nothing below res_out is kept for backward.
        for below in ["image", "stem_conv", "stem_bn", "stem_relu", "res_conv", "res_bn", "res_add"] {
            #expect(tape.values[below] == nil && tape.forwards[below] == nil, "\(below) was kept")
        }
        let gradients = graph.backward(tape, seeds: ["predictions": try KerasFixture.tensor(fixture["upstream"])])
        expectClose(
            try #require(gradients["res_out"]), try KerasFixture.tensor(fixture["res_out_gradient"]), tolerance: 1e-4,
            "res_out gradient")
        #expect(
            graph.layers.allSatisfy { $0.parameters.allSatisfy { $0.gradient == nil } },
            "no parameter gradient was requested")
    }

    @Test func frozenLayersGetNoGradientWork() throws {
        let graph = try makeGraph()
        try graph.setTrainable(true, from: "down_conv")
        #expect(
            graph.trainableSlots.map(\.key) == [
                "down_conv/kernel", "down_conv/bias", "predictions/kernel", "predictions/bias",
            ])
        let input = try KerasFixture.tensor(fixture["input"])
        let (_, tape) = try graph.record(
            ["image": input], outputs: ["predictions"], mode: .training, request: GradientRequest())
        #expect(
            tape.forwards.keys.sorted() == ["down_conv", "gap", "predictions"],
            "only layers above the frozen part run backward")
        #expect(tape.values["res_out"] == nil, "activations below the lowest trainable layer are not kept")
        _ = graph.backward(tape, seeds: ["predictions": try KerasFixture.tensor(fixture["upstream"])])
        #expect(graph.layer(named: "stem_conv")?.parameters.allSatisfy { $0.gradient == nil } == true)
        #expect(graph.layer(named: "down_conv")?.parameter(named: "kernel")?.gradient != nil)
        // Frozen BatchNorm uses and keeps its moving statistics in training mode.
        let before = try #require(graph.layer(named: "stem_bn")?.parameter(named: "moving_mean")?.value)
        _ = try graph.forward(["image": input], mode: .training)
        #expect(graph.layer(named: "stem_bn")?.parameter(named: "moving_mean")?.value == before)
    }

    @Test func badInputsAreReportedByName() throws {
        let graph = try makeGraph()
        #expect(throws: LayerError.self) { try graph(Tensor(zeros: [1, 12, 11, 3])) }
        #expect(throws: LayerError.self) {
            try graph.forward(["image": Tensor(zeros: [1, 12, 10, 3])], outputs: ["nope"])
        }
        #expect(throws: LayerError.self) { try graph.add(Activation(name: "x", .relu), inputs: ["missing"]) }
        #expect(throws: LayerError.self) {
            try graph.add(Merge(name: "bad_add", .add), inputs: ["branch_a", "down_conv"])
        }
        do {
            try graph.add(Dense(name: "head", kernel: Tensor(zeros: [7, 2]), bias: nil), inputs: ["gap"])
            Issue.record("a mis-shaped Dense was accepted")
        } catch {
            #expect(error.description.contains("head") && error.description.contains("6"), "\(error)")
        }
    }
}

import Foundation
import SightlineCore
import SightlineTestSupport
import Testing

@testable import SightlineNN

/// Two MobileNetV2 inverted residual blocks against the same model in real Keras, BatchNorm frozen
/// as `finetune` runs it. Fixture: `Tests/Fixtures/keras_inverted_residual.json` from
/// `make_inverted_residual_fixture.py`: a stride-1 block with its residual add (8 → 48 → 8
/// channels) and a stride-2 block with MobileNetV2's ZeroPadding2D (8 → 40 → 16: two blocks of 16
/// channels and a tail), pooling and 5 logits; every ReLU6 clips at 0 and at 6 on the fixture's
/// input. Gradients are `tf.GradientTape` gradients of Σ logits · upstream. The training pass under
/// test folds each BatchNorm, takes the padding into the depthwise layer, runs the depthwise
/// backward as one sweep and lets it apply the expansion's ReLU6 derivative.
struct KerasInvertedResidualTests {
    let fixture: [String: Any]

    init() throws {
        fixture = try KerasFixture.load("keras_inverted_residual.json")
    }

    /// The Keras model rebuilt with the graph API, loaded with the fixture's weights.
    func makeGraph() throws -> Graph {
        let weights = try (fixture["weights"] as? [String: Any] ?? [:]).mapValues { try KerasFixture.tensors($0) }
        func w(_ layer: String, _ name: String) throws -> Tensor {
            try #require(weights[layer]?[name], "no weight \(layer)/\(name)")
        }
        let g = Graph()
        func bn(_ name: String, after input: String) throws {
            let layer = BatchNormalization(
                name: name, gamma: try w(name, "gamma"), beta: try w(name, "beta"),
                movingMean: try w(name, "moving_mean"), movingVariance: try w(name, "moving_variance"), epsilon: 1e-3)
            layer.isTrainable = false
            try g.add(layer, inputs: [input])
        }
        /// One block reading `input`; returns the name of its output.
        func block(_ name: String, input: String, stride: Int, residual: Bool) throws -> String {
            try g.add(
                Conv2D(name: "\(name)_expand", kernel: try w("\(name)_expand", "kernel"), bias: nil), inputs: [input])
            try bn("\(name)_expand_BN", after: "\(name)_expand")
            try g.add(Activation(name: "\(name)_expand_relu", .relu(maxValue: 6)), inputs: ["\(name)_expand_BN"])
            var depthwiseInput = "\(name)_expand_relu"
            if stride == 2 {
                try g.add(
                    ZeroPadding2D(name: "\(name)_pad", top: 0, bottom: 1, left: 0, right: 1), inputs: [depthwiseInput])
                depthwiseInput = "\(name)_pad"
            }
            try g.add(
                DepthwiseConv2D(
                    name: "\(name)_depthwise", kernel: try w("\(name)_depthwise", "kernel"), bias: nil,
                    strides: (stride, stride), padding: stride == 1 ? .same : .valid), inputs: [depthwiseInput])
            try bn("\(name)_depthwise_BN", after: "\(name)_depthwise")
            try g.add(Activation(name: "\(name)_depthwise_relu", .relu(maxValue: 6)), inputs: ["\(name)_depthwise_BN"])
            try g.add(
                Conv2D(name: "\(name)_project", kernel: try w("\(name)_project", "kernel"), bias: nil),
                inputs: ["\(name)_depthwise_relu"])
            try bn("\(name)_project_BN", after: "\(name)_project")
            guard residual else { return "\(name)_project_BN" }
            try g.add(Merge(name: "\(name)_add", .add), inputs: [input, "\(name)_project_BN"])
            return "\(name)_add"
        }
        try g.addInput(name: "image", shape: [10, 9, 8])
        let a = try block("block_a", input: "image", stride: 1, residual: true)
        let b = try block("block_b", input: a, stride: 2, residual: false)
        try g.add(GlobalPooling2D(name: "gap", kind: .average), inputs: [b])
        try g.add(
            Dense(name: "logits", kernel: try w("logits", "kernel"), bias: try w("logits", "bias")), inputs: ["gap"])
        return g
    }

    @Test func frozenTrainingPassMatchesKeras() throws {
        let clipping = try #require(fixture["relu6_clipping"] as? [String: [Double]])
        #expect(clipping.values.allSatisfy { $0[0] > 0 && $0[1] > 0 }, "every ReLU6 clips at 0 and at 6")
        let graph = try makeGraph()
        let request = GradientRequest(stopAt: ["image"])
        let plan = TrainingPlan(
            graph: graph, mode: .training, flags: graph.gradientFlags(request), pinned: ["logits", "image"],
            parameterGradients: true)
        let readers = plan.steps.filter { $0.appliesReaderDerivative == .relu(maxValue: 6) }.map(\.name)
        #expect(readers == ["block_a_depthwise_relu", "block_b_depthwise_relu"])
        let input = try KerasFixture.tensor(fixture["input"])
        let (outputs, tape) = try graph.record(["image": input], outputs: ["logits"], mode: .training, request: request)
        expectClose(
            try #require(outputs["logits"]), try KerasFixture.tensor(fixture["training_output"]), tolerance: 1e-5,
            "logits")
        let gradients = graph.backward(tape, seeds: ["logits": try KerasFixture.tensor(fixture["upstream"])])
        expectClose(
            try #require(gradients["image"]), try KerasFixture.tensor(fixture["input_gradient"]), tolerance: 1e-4,
            "input gradient")
        let expected = try KerasFixture.tensors(fixture["kernel_gradients"])
        #expect(expected.count == 7)
        for (layer, gradient) in expected {
            let parameter = try #require(graph.layer(named: layer)?.parameters.first)
            let actual = try #require(parameter.gradient, "no gradient for \(layer)")
            expectClose(actual, gradient, tolerance: 1e-4, "\(layer) kernel gradient")
        }
    }
}

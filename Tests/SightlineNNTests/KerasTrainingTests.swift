import Foundation
import SightlineCore
import SightlineNN
import SightlineTestSupport
import Testing

/// Optimizers and the loss against real Keras 3.15. Fixture: `Tests/Fixtures/keras_training.json`
/// from `make_keras_fixtures.py` (`training_fixture`): a `[3, 4]` variable updated by each
/// Keras optimizer with the same three gradients (weights after every step recorded), and
/// `CategoricalCrossentropy(from_logits=True, label_smoothing=s)` with its logits gradient.
struct KerasTrainingTests {
    static let optimizerNames = [
        "sgd", "sgd_momentum", "sgd_nesterov", "adam", "adamw", "sgd_clipnorm", "sgd_global_clipnorm", "sgd_clipvalue",
    ]

    static func makeOptimizer(_ name: String) -> any Optimizer {
        switch name {
        case "sgd_momentum": return SGD(learningRate: 0.1, momentum: 0.9)
        case "sgd_nesterov": return SGD(learningRate: 0.1, momentum: 0.9, nesterov: true)
        case "adam": return Adam(learningRate: 0.01)
        case "adamw": return Adam.adamW(learningRate: 0.01, weightDecay: 0.1)
        case "sgd_clipnorm": return SGD(learningRate: 0.1, clipping: .norm(1))
        case "sgd_global_clipnorm": return SGD(learningRate: 0.1, clipping: .globalNorm(1))
        case "sgd_clipvalue": return SGD(learningRate: 0.1, clipping: .value(0.5))
        default: return SGD(learningRate: 0.1)
        }
    }

    @Test(arguments: optimizerNames)
    func optimizerFollowsKeras(_ name: String) throws {
        let fixture = try KerasFixture.load("keras_training.json")
        let parameter = Parameter(name: "kernel", value: try KerasFixture.tensor(fixture["initial"]))
        let gradients = try (fixture["gradients"] as? [Any] ?? []).map { try KerasFixture.tensor($0) }
        let expected = try ((fixture["trajectories"] as? [String: Any])?[name] as? [Any] ?? []).map {
            try KerasFixture.tensor($0)
        }
        #expect(expected.count == 3)
        let optimizer = Self.makeOptimizer(name)
        for (step, (gradient, target)) in zip(gradients, expected).enumerated() {
            parameter.gradient = gradient
            optimizer.step([ParameterSlot(key: "w", parameter: parameter)])
            expectClose(parameter.value, target, tolerance: 1e-5, "\(name) after step \(step + 1)")
        }
        #expect(optimizer.iterations == 3)
    }

    @Test(arguments: ["0.0", "0.1"])
    func crossEntropyMatchesKeras(_ smoothing: String) throws {
        let fixture = try KerasFixture.load("keras_training.json")
        let logits = try KerasFixture.tensor(fixture["logits"])
        let labels = try #require(fixture["labels"] as? [Int])
        let reference = try #require((fixture["cross_entropy"] as? [String: Any])?[smoothing] as? [String: Any])
        let loss = SoftmaxCrossEntropy(labelSmoothing: Float(smoothing) ?? 0)
        let (value, gradient) = loss(logits: logits, labels: labels)
        let expected = try #require(reference["loss"] as? Double)
        #expect(abs(Double(value) - expected) <= 1e-5 * max(1, abs(expected)), "loss \(value) != Keras \(expected)")
        expectClose(gradient, try KerasFixture.tensor(reference["gradient"]), tolerance: 1e-5, "logits gradient")
    }

    @Test func initializersHaveKerasStatistics() {
        var generator = SeededGenerator(seed: 7)
        let shape = [3, 3, 64, 128]
        let (fanIn, fanOut) = Initializer.fans(of: shape)
        #expect(fanIn == 576 && fanOut == 1152)
        let glorot = Initializer.glorotUniform.tensor(shape: shape, generator: &generator)
        let limit = Float((6.0 / Double(fanIn + fanOut)).squareRoot())
        #expect(glorot.scalars.allSatisfy { abs($0) <= limit })
        let variance = glorot.scalars.reduce(0) { $0 + Double($1) * Double($1) } / Double(glorot.count)
        #expect(
            abs(variance - 2.0 / Double(fanIn + fanOut)) < 0.03 * 2.0 / Double(fanIn + fanOut),
            "Glorot variance is 2/(fanIn+fanOut)")
        let he = Initializer.heNormal.tensor(shape: shape, generator: &generator)
        let heVariance = he.scalars.reduce(0) { $0 + Double($1) * Double($1) } / Double(he.count)
        #expect(abs(heVariance - 2.0 / Double(fanIn)) < 0.03 * 2.0 / Double(fanIn), "He-normal variance is 2/fanIn")
        // The same seed gives the same weights.
        var again = SeededGenerator(seed: 7)
        #expect(Initializer.glorotUniform.tensor(shape: shape, generator: &again) == glorot)
    }

    @Test func dropoutIsSeededScaledAndInferenceIdentity() {
        let x = Tensor(repeating: 2, shape: [4, 8, 8, 16])
        let a = Dropout(name: "d", rate: 0.25, seed: 3)
        let b = Dropout(name: "d", rate: 0.25, seed: 3)
        #expect(a.forward([x], mode: .inference).output == x)
        let ya = a.forward([x], mode: .training)
        let yb = b.forward([x], mode: .training)
        #expect(ya.output == yb.output, "the same seed gives the same mask")
        let dropped = ya.output.scalars.filter { $0 == 0 }.count
        #expect(abs(Double(dropped) / Double(x.count) - 0.25) < 0.03)
        #expect(
            ya.output.scalars.allSatisfy { $0 == 0 || abs($0 - 2 / 0.75) < 1e-6 }, "survivors are scaled by 1/(1-rate)")
        let g = a.backward(
            Tensor(repeating: 1, shape: x.shape), inputs: [x], forward: ya, mode: .training, needs: .input)[0]
        #expect(
            zip(g.scalars, ya.output.scalars).allSatisfy { ($0 == 0) == ($1 == 0) },
            "gradient flows through the kept units only")
    }
}

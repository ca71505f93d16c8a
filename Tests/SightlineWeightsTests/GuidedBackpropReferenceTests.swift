import Foundation
import SightlineCore
import SightlineNN
import SightlineTestSupport
import Testing

@testable import SightlineExplain
@testable import SightlineWeights

/// Guided backpropagation on MobileNetV2 (ReLU6 throughout, depthwise blocks) against a TensorFlow
/// reference: Keras 3's MobileNetV2 (alpha 0.35, 32×32) with `make_zoo_fixtures.py`'s formula
/// weights, whose ReLU6 layers TensorFlow guides by the rule Sightline documents,
/// ∂L/∂x = [0 < x < 6] · max(∂L/∂y, 0), through `tf.custom_gradient`; the input gradient of logit
/// 3. Fixture: `Tests/Fixtures/make_guided_fixtures.py` (here, not in SightlineExplainTests,
/// because the formula weights are `ZooFormula`'s).
struct GuidedBackpropReferenceTests {
    @Test func mobileNetV2MatchesTensorFlowsGuidedGradient() throws {
        let fixture = try KerasFixture.load(
            KerasFixture.directory.appendingPathComponent("guided_mobilenet_v2.json").path)
        let config = try JSONSerialization.data(withJSONObject: fixture["model_config"] as Any)
        let shape = try #require(fixture["input_shape"] as? [Int])
        let graph = try ModelConfigImporter.graph(
            fromJSON: String(decoding: config, as: UTF8.self), defaultImageSize: shape[1])
        try ZooFormula.setWeights(graph)
        let images = Tensor(shape: shape) { for i in 0..<$0.count { $0[i] = Float(sin(0.37 * Double(i))) } }
        let logits = try #require(fixture["logits"] as? [Double]).map { Float($0) }
        expectClose(try graph(images), Tensor(shape: [1, logits.count], scalars: logits), tolerance: 1e-4, "logits")
        let cam = try ClassActivationMaps(graph: graph)
        let guided = try GuidedBackprop.saliency(cam, images: images, classes: [3])
        let reference = try KerasFixture.tensor(fixture["guided_gradient"])
        expectClose(guided, reference, tolerance: 1e-4, "guided gradient")
        let plain = try InputAttribution.gradient(cam, images: images, classes: [3])
        let scale = reference.scalars.map(abs).max() ?? 0
        #expect(plain.maxAbsoluteDifference(reference) > 0.1 * scale, "guiding changes the gradient")
    }
}

import Foundation
import SightlineCore
import SightlineNN
import SightlineTestSupport
import SightlineWeights
import Testing

@testable import SightlineExplain

/// FullGrad against pytorch-grad-cam 1.5.4's `FullGrad` on the reduced torchvision ResNet18 that
/// Sightline reads from its `.pth` (class 5, first image's 64×64 map; the BatchNorm layers are the
/// bias layers). Fixture: `Tests/Fixtures/make_fullgrad_fixtures.py`.
struct FullGradTests {
    @Test func fullGradMatchesPytorchGradCAM() throws {
        let reference = try KerasFixture.load(
            KerasFixture.directory.appendingPathComponent("fullgrad_expected.json").path)
        let shape = try #require(reference["input_shape"] as? [Int])
        let model = try ModelLoader.load(
            path: KerasFixture.directory.appendingPathComponent("torchvision/resnet18_reduced.pth").path,
            inputSize: shape[1])
        let cam = try ClassActivationMaps(graph: model.graph)
        #expect(FullGrad.biasLayers(cam.logits).count == reference["layers"] as? Int, "every BatchNorm, no other")
        let images = Tensor(shape: shape) { for i in 0..<$0.count { $0[i] = Float(2 * sin(0.37 * Double(i))) } }
        let result = try cam.compute(images, classes: [5, 5], method: .fullgrad)
        #expect(result.maps.shape == [2, 64, 64])
        expectClose(
            result.maps.batch(0..<1).reshaped([64, 64]), try KerasFixture.tensor(reference["fullgrad"]),
            tolerance: 1e-4, "FullGrad map")
    }
}

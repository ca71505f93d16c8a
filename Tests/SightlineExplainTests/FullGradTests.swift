import Foundation
import SightlineCore
import SightlineNN
import SightlineTestSupport
import SightlineWeights
import Testing

@testable import SightlineExplain

/// FullGrad against pytorch-grad-cam 1.5.4's `FullGrad` on the reduced torchvision ResNet18 that
/// Sightline reads from its `.pth` (class 5, first image's 64×64 map; the BatchNorm layers are the
/// bias layers). Fixture: `Tests/Fixtures/make_pytorch_grad_cam_fixtures.py`.
struct FullGradTests {
    @Test func fullGradMatchesPytorchGradCAM() throws {
        let (cam, images, reference) = try ReducedResNet18.setup("fullgrad_expected.json")
        #expect(FullGrad.biasLayers(cam.logits).count == reference["layers"] as? Int, "every BatchNorm, no other")
        let result = try cam.compute(images, classes: [5, 5], method: .fullgrad)
        #expect(result.maps.shape == [2, 64, 64])
        expectClose(
            result.maps.batch(0..<1).reshaped([64, 64]), try KerasFixture.tensor(reference["fullgrad"]),
            tolerance: 1e-4, "FullGrad map")
    }
}

import Foundation
import SightlineCore
import SightlineNN
import SightlineTestSupport
import SightlineWeights
import Testing

@testable import SightlineExplain

/// `--smooth aug` against pytorch-grad-cam 1.5.4's `aug_smooth=True` (and its unsmoothed map, for
/// the scaling and resize alone): Grad-CAM on the reduced torchvision ResNet18 Sightline reads from
/// its `.pth`, layer `layer3` (a 4×4 map), class 5, first image's 64×64 map. Fixture:
/// `Tests/Fixtures/make_pytorch_grad_cam_fixtures.py`.
struct AugmentationSmoothingTests {
    static func setup() throws -> (cam: ClassActivationMaps, images: Tensor, reference: [String: Any]) {
        try ReducedResNet18.setup("aug_smooth_expected.json")
    }

    @Test func scaledMapsMatchPytorchGradCAM() throws {
        let (cam, images, reference) = try Self.setup()
        let raw = try cam.compute(images, classes: [5, 5]).maps
        let first = raw.batch(0..<1).reshaped(Array(raw.shape.dropFirst()))
        let scaled = AugmentationSmoothing.scaled(first, height: images.shape[1], width: images.shape[2])
        expectClose(scaled, try KerasFixture.tensor(reference["plain"]), tolerance: 1e-4, "scaled and resized map")
    }

    @Test func augmentationSmoothingMatchesPytorchGradCAM() throws {
        let (cam, images, reference) = try Self.setup()
        let smoothed = try AugmentationSmoothing.smoothed(images, classes: [5, 5]) { try cam.compute($0, classes: $1) }
        #expect(smoothed.maps.shape == [2, 64, 64] && smoothed.classes == [5, 5])
        let first = smoothed.maps.batch(0..<1).reshaped([64, 64])
        expectClose(first, try KerasFixture.tensor(reference["aug_smooth"]), tolerance: 1e-4, "aug_smooth map")
        let plain = AugmentationSmoothing.scaled(
            try cam.compute(images.batch(0..<1), classes: [5]).maps.reshaped([4, 4]), height: 64, width: 64)
        let change = zip(first.scalars, plain.scalars).map { abs($0 - $1) }.max() ?? 0
        #expect(change > 1e-2, "the augmented versions change the map (largest change \(change))")
    }

    /// pytorch-grad-cam's Grad-CAM++ (α not normalised) and Score-CAM (aligned-corner upsampling,
    /// softmax over the channels' logits), by name; the official versions differ from them.
    @Test(arguments: [("gradcam++-pgc", "gradcam++"), ("scorecam-pgc", "scorecam")])
    func pytorchGradCAMsVariantsMatchIt(_ name: String, _ official: String) throws {
        let (cam, images, reference) = try Self.setup()
        let expected = try KerasFixture.tensor(reference[name])
        func scaled(_ method: String) throws -> Tensor {
            let raw = try cam.compute(images, classes: [5, 5], method: try #require(CAMMethod(rawValue: method))).maps
            return AugmentationSmoothing.scaled(raw.batch(0..<1).reshaped([4, 4]), height: 64, width: 64)
        }
        expectClose(try scaled(name), expected, tolerance: 1e-4, name)
        let difference = try scaled(official).maxAbsoluteDifference(expected)
        print("\(official) (official code) against \(name): largest difference \(difference) of the [0, 1] map")
        #expect(difference > 1e-3, "\(official) is not \(name)")
    }

    /// LayerCAM at `layer2` (8×8) and `layer3` (4×4) fused as pytorch-grad-cam fuses several
    /// target layers (`gradcam --layer layer2.1.out,layer3.1.out`).
    @Test func severalLayersFuseAsPytorchGradCAM() throws {
        let (cam, images, reference) = try Self.setup()
        let second = try ReducedResNet18.cam(inputSize: 64, layer: "layer2.1.out")
        let fused = try MultiLayerMaps.fused([second, cam], images: images, classes: [5, 5]) {
            try $0.compute($1, classes: $2, method: .layercam)
        }
        #expect(fused.maps.shape == [2, 64, 64])
        expectClose(
            fused.maps.batch(0..<1).reshaped([64, 64]), try KerasFixture.tensor(reference["layercam-layer2-layer3"]),
            tolerance: 1e-4, "fused LayerCAM")
    }
}

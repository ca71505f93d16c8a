import Foundation
import SightlineCore
import SightlineModels
import SightlineNN
import SightlineTestSupport
import SightlineWeights
import Testing

@testable import SightlineExplain

/// `gradcam --baseline black|blur` against Captum 0.7 with the same baselines: Integrated
/// Gradients (8 steps) from a black image through torchvision's normalisation and from the image
/// blurred as scipy blurs it, and Occlusion (8×8, stride 4) filling its patches with the blurred
/// image, on the reduced torchvision ResNet18 Sightline reads from its `.pth`, class 3, 32×32.
/// Fixture: `Tests/Fixtures/make_baseline_fixtures.py`.
struct AttributionBaselineTests {
    static func setup() throws -> (cam: ClassActivationMaps, images: Tensor, reference: [String: Any]) {
        try ReducedResNet18.setup("baseline_expected.json")
    }

    /// Captum's trapezoid weights sum to (n − 1)/n, Sightline's to 1 (`AttributionMethodTests`).
    static func trapezoid(_ t: Tensor, steps: Float) -> Tensor {
        Tensor(shape: t.shape, scalars: t.scalars.map { $0 * steps / (steps - 1) })
    }

    @Test func aBlackBaselineThroughThePreprocessingMatchesCaptum() throws {
        let (cam, images, reference) = try Self.setup()
        let black = Preprocessing.torch.apply(to: Tensor(zeros: [1, 1, 1, 3])).scalars
        expectClose(
            Tensor(shape: [3], scalars: black),
            Tensor(shape: [3], scalars: try #require(reference["black"] as? [Double]).map { Float($0) }),
            tolerance: 1e-5, "black through torch's normalisation")
        let options = InputAttribution.Options(steps: 8, baseline: .channels(black))
        let ig = try InputAttribution.attribution(
            .integratedGradients, cam, images: images, classes: [3], options: options)
        expectClose(ig, Self.trapezoid(try KerasFixture.tensor(reference["ig_black"]), steps: 8), tolerance: 1e-4, "IG")
    }

    @Test func aBlurredBaselineMatchesScipyAndCaptum() throws {
        let (cam, images, reference) = try Self.setup()
        let baseline = AttributionBaseline.blurred(sigma: 2)
        expectClose(
            baseline.tensor(for: images), try KerasFixture.tensor(reference["blurred"]), tolerance: 1e-5, "blur")
        let ig = try InputAttribution.attribution(
            .integratedGradients, cam, images: images, classes: [3],
            options: InputAttribution.Options(steps: 8, baseline: baseline))
        expectClose(ig, Self.trapezoid(try KerasFixture.tensor(reference["ig_blur"]), steps: 8), tolerance: 1e-4, "IG")
        let occlusion = try InputAttribution.attribution(
            .occlusion, cam, images: images, classes: [3],
            options: InputAttribution.Options(window: 8, stride: 4, baseline: baseline))
        expectClose(occlusion, try KerasFixture.tensor(reference["occlusion_blur"]), tolerance: 1e-4, "occlusion")
    }
}

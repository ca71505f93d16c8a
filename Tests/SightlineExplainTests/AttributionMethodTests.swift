import Foundation
import SightlineCore
import SightlineNN
import SightlineTestSupport
import SightlineWeights
import Testing

@testable import SightlineExplain

/// The methods beyond Grad-CAM against the libraries users compare Sightline with: the raw maps of
/// pytorch-grad-cam 1.5.4's HiResCAM, GradCAMElementWise, XGradCAM, LayerCAM, EigenCAM,
/// EigenGradCAM and AblationCAM, and Captum 0.7's Saliency, InputXGradient, IntegratedGradients
/// and Occlusion attributions, on
/// the reduced torchvision ResNet18 Sightline reads from its `.pth` (target layer `layer4`, class 3).
/// Fixture: `Tests/Fixtures/make_attribution_fixtures.py`.
struct AttributionMethodTests {
    static func setup() throws -> (cam: ClassActivationMaps, images: Tensor, reference: [String: Any]) {
        try ReducedResNet18.setup("attribution_expected.json")
    }

    static func relu(_ t: Tensor) -> Tensor { Tensor(shape: t.shape, scalars: t.scalars.map { max($0, 0) }) }

    @Test(arguments: ["hirescam", "gradcam-elementwise", "xgradcam", "layercam", "ablationcam"])
    func layerMethodsMatchPytorchGradCAM(_ name: String) throws {
        let (cam, images, reference) = try Self.setup()
        let method = try #require(CAMMethod(rawValue: name))
        let result = try cam.compute(images, classes: [3, 3], method: method)
        expectClose(result.maps, Self.relu(try KerasFixture.tensor(reference[name])), tolerance: 1e-4, name)
    }

    /// The principal component's sign is the SVD's choice in pytorch-grad-cam; Sightline fixes it
    /// (positive correlation with the channel sum), so the map equals the reference or its negation.
    @Test(arguments: ["eigencam", "eigengradcam"])
    func eigenMethodsMatchUpToTheSign(_ name: String) throws {
        let (cam, images, reference) = try Self.setup()
        let method = try #require(CAMMethod(rawValue: name))
        let maps = try cam.compute(images, classes: [3, 3], method: method).maps
        let expected = try KerasFixture.tensor(reference[name])
        for image in 0..<2 {
            let ours = maps.batch(image..<(image + 1))
            let theirs = expected.batch(image..<(image + 1))
            let negated = Tensor(shape: theirs.shape, scalars: theirs.scalars.map { -$0 })
            let same = ours.maxAbsoluteDifference(Self.relu(theirs))
            let flipped = ours.maxAbsoluteDifference(Self.relu(negated))
            expectClose(ours, Self.relu(same <= flipped ? theirs : negated), tolerance: 1e-4, "\(name) image \(image)")
        }
    }

    @Test(arguments: ["saliency", "input-x-gradient", "integrated-gradients", "occlusion"])
    func pixelAttributionsMatchCaptum(_ name: String) throws {
        let (cam, images, reference) = try Self.setup()
        let method = try #require(CAMMethod(rawValue: name))
        let attribution = try InputAttribution.attribution(method, cam, images: images, classes: [3, 3])
        var expected = try KerasFixture.tensor(reference[name])
        if method == .integratedGradients {
            // Captum's trapezoid steps are 1/n (halved at both ends), so its weights sum to
            // (n − 1)/n; Sightline's are 1/(n − 1), a true trapezoid rule whose weights sum to 1
            // (completeness: the attributions add up to score(x) − score(baseline)).
            expected = Tensor(shape: expected.shape, scalars: expected.scalars.map { $0 * 16 / 15 })
        }
        expectClose(attribution.batch(0..<1), expected, tolerance: 1e-4, "\(name) attribution")
        let maps = try cam.compute(images, classes: [3, 3], method: method).maps
        #expect(maps.shape == [2, 64, 64] && maps.scalars.allSatisfy { $0 >= 0 }, "a heatmap at the input's size")
    }

    /// `gradcam --steps 8` and `--window 16 --stride 8` against Captum with the same settings.
    @Test func pixelMethodOptionsMatchCaptum() throws {
        let (cam, images, reference) = try Self.setup()
        let options = InputAttribution.Options(steps: 8, window: 16, stride: 8)
        let ig = try InputAttribution.attribution(
            .integratedGradients, cam, images: images, classes: [3, 3], options: options)
        let expected = try KerasFixture.tensor(reference["integrated-gradients-8"])
        // Captum's 8 trapezoid steps weigh 7/8 of Sightline's (see above).
        let scaled = Tensor(shape: expected.shape, scalars: expected.scalars.map { $0 * 8 / 7 })
        expectClose(ig.batch(0..<1), scaled, tolerance: 1e-4, "integrated gradients, 8 steps")
        let occlusion = try InputAttribution.attribution(
            .occlusion, cam, images: images, classes: [3, 3], options: options)
        expectClose(
            occlusion.batch(0..<1), try KerasFixture.tensor(reference["occlusion-16-8"]), tolerance: 1e-4,
            "occlusion, 16×16 moved by 8")
        // The setting takes effect: the default 16 steps are further from Captum's 8 than 8 are.
        let sixteen = try InputAttribution.attribution(.integratedGradients, cam, images: images, classes: [3, 3])
        #expect(
            sixteen.batch(0..<1).maxAbsoluteDifference(scaled) > 10 * ig.batch(0..<1).maxAbsoluteDifference(scaled))
    }
}

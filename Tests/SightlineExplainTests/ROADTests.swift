import Foundation
import SightlineCore
import SightlineNN
import SightlineTestSupport
import SightlineWeights
import Testing

@testable import SightlineExplain

/// ROAD against pytorch-grad-cam 1.5.4's `ROADMostRelevantFirstAverage`,
/// `ROADLeastRelevantFirstAverage` and `ROADCombined` (imputation noise 0 on both sides), and its
/// linear imputation of the image with the top half of the map removed, on the reduced torchvision
/// ResNet18 Sightline reads from its `.pth`, class 3, a fixed 32×32 map. Fixture:
/// `Tests/Fixtures/make_road_fixtures.py`.
struct ROADTests {
    @Test func roadMatchesPytorchGradCAM() throws {
        let reference = try ReducedResNet18.reference("road_expected.json")
        let shape = try #require(reference["input_shape"] as? [Int])
        let (cam, image) = (try ReducedResNet18.cam(inputSize: shape[1]), ReducedResNet18.input(shape))
        let map = try KerasFixture.tensor(reference["map"])

        let threshold = ROAD.percentile(map.scalars, 50)
        let imputed = ROAD.impute(
            image.scalars, keep: map.scalars.map { $0 < threshold }, height: shape[1], width: shape[2], channels: 3)
        expectClose(
            Tensor(shape: shape, scalars: imputed), try KerasFixture.tensor(reference["imputed_50"]), tolerance: 1e-5,
            "linear imputation")

        let scores = try ROAD.measure(cam, image: image, map: map, classIndex: 3, noise: 0)
        let logits = try cam.logits.forward([cam.logits.inputNames[0]: image], outputs: [cam.scoreNode])[cam.scoreNode]
        let scale = Double(try #require(logits).scalars.map(abs).max() ?? 1)
        for (mine, key) in [
            (scores.mostRelevantFirst, "most_relevant_first"), (scores.leastRelevantFirst, "least_relevant_first"),
            (scores.combined, "combined"),
        ] {
            let expected = try #require(reference[key] as? Double)
            #expect(abs(mine - expected) <= 1e-4 * scale, "\(key): \(mine) against \(expected)")
        }
    }
}

import Foundation
import SightlineCore
import SightlineNN
import SightlineTestSupport
import SightlineWeights
import Testing

@testable import SightlineExplain

/// RISE against its authors' code (eclique/RISE, run with its random draws replaced by a pattern
/// both sides replay): the masks (scikit-image's bilinear upsampling with mirrored edges, shifted
/// crops) and the class-3 saliency of the reduced torchvision ResNet18 Sightline reads from its
/// `.pth`, 24 masks on a 4×4 grid. Fixture: `Tests/Fixtures/make_rise_fixtures.py`.
struct RISETests {
    @Test func risematchesTheAuthorsCode() throws {
        let reference = try ReducedResNet18.reference("rise_expected.json")
        let shape = try #require(reference["input_shape"] as? [Int])
        let cells = try #require(reference["cells"] as? [[Double]])
        let shifts = try #require(reference["shifts"] as? [[Int]])
        let draws = zip(cells, shifts).map { RISE.Draw(cells: $0.map { Float($0) }, shift: ($1[0], $1[1])) }
        let rise = RISE(masks: draws.count, grid: try #require(reference["grid"] as? Int), probability: 0.5)
        let masks = try #require(reference["masks"] as? [Double]).map { Float($0) }
        let mine = draws.prefix(2).flatMap { rise.mask($0, height: shape[1], width: shape[2]) }
        expectClose(
            Tensor(shape: [mine.count], scalars: mine), Tensor(shape: [masks.count], scalars: masks), tolerance: 1e-6,
            "masks")
        let (cam, images) = (try ReducedResNet18.cam(inputSize: shape[1]), ReducedResNet18.input(shape))
        let map = try rise.maps(cam, images: images, classes: [3], draws: draws, batch: 7)
        expectClose(
            map.reshaped([32, 32]), try KerasFixture.tensor(reference["saliency"]), tolerance: 1e-4, "saliency")
    }

    /// The seeded masks keep about `probability` of the image and are reproducible.
    @Test func seededMasksAreReproducible() {
        let rise = RISE(masks: 200, grid: 7, probability: 0.5, seed: 9)
        let draws = rise.draws(height: 64, width: 64)
        #expect(draws == rise.draws(height: 64, width: 64))
        let kept = draws.map { rise.mask($0, height: 64, width: 64).reduce(0, +) / 4096 }.reduce(0, +) / 200
        #expect(abs(kept - 0.5) < 0.05, "mean mask value \(kept)")
    }
}

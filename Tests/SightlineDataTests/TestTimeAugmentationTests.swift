import Foundation
import SightlineCore
import Testing

@testable import SightlineData

/// `predict --tta flip` and `evaluate --tta flip`: each image's probabilities are the mean of the
/// model's on the image and on its mirror image.
struct TestTimeAugmentationTests {
    static let images = Tensor(shape: [2, 3, 4, 2], scalars: (0..<48).map { Float($0) })

    @Test func theMirrorImageReversesEachRow() {
        let mirrored = TestTimeAugmentation.mirrored(Self.images)
        // Image 1, row 2, column 0, channel 1 comes from column 3.
        let index = { (n: Int, y: Int, x: Int, c: Int) in ((n * 3 + y) * 4 + x) * 2 + c }
        #expect(mirrored.scalars[index(1, 2, 0, 1)] == Self.images.scalars[index(1, 2, 3, 1)])
        #expect(mirrored.scalars[index(0, 0, 1, 0)] == Self.images.scalars[index(0, 0, 2, 0)])
        #expect(TestTimeAugmentation.mirrored(mirrored) == Self.images)
    }

    @Test func flipAveragesTheImageAndItsMirror() throws {
        // A "model" that sees only the first and last columns' first pixel: left-right asymmetric.
        var calls = 0
        let model = { (x: Tensor) -> Tensor in
            calls += 1
            let (n, row) = (x.shape[0], x.count / x.shape[0])
            let scores = (0..<n).flatMap { [x.scalars[$0 * row], x.scalars[$0 * row + 6]] }
            return Tensor(shape: [n, 2], scalars: scores)
        }
        let plain = try TestTimeAugmentation.none.wrapping(model)(Self.images)
        let averaged = try TestTimeAugmentation.flip.wrapping(model)(Self.images)
        #expect(plain.scalars == [0, 6, 24, 30])
        #expect(averaged.scalars == [3, 3, 27, 27], "the mean of the image's scores and its mirror's")
        #expect(calls == 3, "one pass without augmentation, two with flip")
    }
}

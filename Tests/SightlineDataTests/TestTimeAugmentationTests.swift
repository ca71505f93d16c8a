import Foundation
import SightlineCore
import SightlineVision
import Testing

@testable import SightlineData

/// `predict --tta flip|crops` and `evaluate --tta flip|crops`: each image's probabilities are the
/// mean of the model's on the image and on its mirror image, or on torchvision's five crops of a
/// larger decode.
struct TestTimeAugmentationTests {
    static let images = Tensor(shape: [2, 3, 4, 2], scalars: (0..<48).map { Float($0) })

    @Test func theMirrorImageReversesEachRow() {
        let mirrored = Augmentation.mirrored(Self.images)
        // Image 1, row 2, column 0, channel 1 comes from column 3.
        let index = { (n: Int, y: Int, x: Int, c: Int) in ((n * 3 + y) * 4 + x) * 2 + c }
        #expect(mirrored.scalars[index(1, 2, 0, 1)] == Self.images.scalars[index(1, 2, 3, 1)])
        #expect(mirrored.scalars[index(0, 0, 1, 0)] == Self.images.scalars[index(0, 0, 2, 0)])
        #expect(Augmentation.mirrored(mirrored) == Self.images)
    }

    @Test func cropsAverageTorchvisionsFiveCrop() throws {
        // 256 → 224, as torchvision's Resize(256) + FiveCrop(224).
        let offsets = TestTimeAugmentation.fiveCrops(imageHeight: 256, imageWidth: 256, 224, 224)
        #expect(offsets.map { [$0.0, $0.1] } == [[0, 0], [0, 32], [32, 0], [32, 32], [16, 16]])
        // A 2×3 window of a 4×5 image: the values at those rows and columns.
        let image = Tensor(shape: [1, 4, 5, 1], scalars: (0..<20).map { Float($0) })
        #expect(
            TestTimeAugmentation.crop(image, top: 1, left: 2, height: 2, width: 3).scalars == [7, 8, 9, 12, 13, 14])
        // The mean over the five windows of a "model" that returns each window's top-left value.
        var calls = 0
        let model = { (x: Tensor) -> Tensor in
            calls += 1
            return Tensor(shape: [1, 1], scalars: [x.scalars[0]])
        }
        let averaged = try TestTimeAugmentation.crops.wrapping(model, height: 2, width: 3)(image)
        // Windows at (0,0) (0,2) (2,0) (2,2) and the centre (1,1): top-left values 0, 2, 10, 12, 6.
        #expect(averaged.scalars == [(0 + 2 + 10 + 12 + 6) / 5] && calls == 5)
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

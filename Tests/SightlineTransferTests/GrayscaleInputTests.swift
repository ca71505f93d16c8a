import Foundation
import SightlineCore
import SightlineData
import SightlineTestSupport
import SightlineTransfer
import SightlineWeights
import Testing

/// A model whose input has one channel takes photos converted as Keras users convert them
/// (PIL's `L`), through the same image preparation `predict`, `extract`, `gradcam` and
/// `finetune` use. Fixture: `Tests/Fixtures/make_grayscale_fixtures.py` (tf.keras 2.x model,
/// real scikit-image photos, Keras's probabilities).
struct GrayscaleInputTests {
    static let directory = KerasFixture.directory.appendingPathComponent("grayscale")

    @Test func grayscaleModelMatchesKerasOnPhotos() throws {
        let model = try ModelLoader.load(path: Self.directory.appendingPathComponent("model.h5").path)
        let extractor = try FeatureExtractor(model: model, layer: "predictions", pooling: .none)
        #expect(extractor.input.channels == 1)
        let expected = try KerasFixture.load(Self.directory.appendingPathComponent("expected.json").path)
        #expect(expected.count == 3)
        for (file, value) in expected {
            let probabilities = try #require(value as? [Double])
            let path = Self.directory.appendingPathComponent(file).path
            let batch = extractor.input.preparation().batch([ImageBatchStream.Sample(index: 0, path: path, label: nil)])
            let images = try #require(batch.images, "\(file) decodes")
            #expect(images.shape == [1, 48, 48, 1])
            let output = try extractor.features(ofPreprocessed: images)
            let reference = Tensor(shape: [1, probabilities.count], scalars: probabilities.map(Float.init))
            expectClose(output, reference, tolerance: 1e-5, "\(file) probabilities")
        }
    }

    @Test func rgbStatisticsOnGrayscaleAreRefusedWithTheFix() throws {
        let model = try ModelLoader.load(
            path: Self.directory.appendingPathComponent("model.h5").path, preprocessing: .caffe)
        #expect {
            _ = try FeatureExtractor(model: model, layer: "predictions", pooling: .none)
        } throws: { error in
            "\(error)".contains("preprocessing 'caffe' uses RGB statistics")
                && "\(error)".contains("--preprocessing tf or none")
        }
    }
}

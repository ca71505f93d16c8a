import Foundation
import SightlineCore
import SightlineModels
import SightlineNN
import SightlineVision

/// What a model takes and how an image file becomes it. The one place that checks the input is an
/// image of 1, 3 or 4 channels that the preprocessing fits, decodes and resizes a file to
/// `[H, W, C]` in 0…255 (the resize policy; grayscale as PIL's `L`), and applies the model's
/// preprocessing: `preparation` hands all of it to `ImageBatchStream`, whose workers apply the
/// preprocessing to each whole batch. Every job builds its batches from one.
public struct ModelInput: Sendable {
    /// The input `[H, W, C]`.
    public private(set) var shape: [Int]
    /// Applied to every batch after decoding, caching and augmentation.
    public let preprocessing: Preprocessing
    public var policy: ResizePolicy
    /// Larger images are refused (a decompression bomb guard).
    public var maxPixels: Int
    /// Decode JPEGs at 1/2, 1/4 or 1/8 scale when that still covers the input after the policy's
    /// resize (libjpeg's DCT scaling, as Pillow's `draft`): what `extract` does unless
    /// `--exact-decode`. False decodes at full size, as Keras's `load_img` does.
    public var scaledDecode: Bool

    public var height: Int { shape[0] }
    public var width: Int { shape[1] }
    public var channels: Int { shape[2] }

    /// The image input of `graph` (its first input), checked.
    public init(
        graph: Graph, preprocessing: Preprocessing, policy: ResizePolicy = .squash,
        maxPixels: Int = RGBImage.defaultMaxPixels, scaledDecode: Bool = false
    ) throws(DataError) {
        let name = graph.inputNames.first ?? ""
        guard let shape = graph.shape(of: name), shape.count == 3, ImageChannels.supported.contains(shape[2]) else {
            throw DataError(
                .model, subject: name,
                "the model's input \(graph.shape(of: name) ?? []) is not an image of 1, 3 or 4 channels; Sightline feeds images [height, width, channels] to models with one image input"
            )
        }
        if let problem = preprocessing.problem(channels: shape[2]) { throw DataError(.model, subject: name, problem) }
        (self.shape, self.preprocessing, self.policy) = (shape, preprocessing, policy)
        (self.maxPixels, self.scaledDecode) = (maxPixels, scaledDecode)
    }

    /// The same input decoded to `height × width` instead (larger, for test-time crops).
    public func decoding(height: Int, width: Int) -> ModelInput {
        var copy = self
        copy.shape = [height, width, channels]
        return copy
    }

    /// Decodes and resizes one file to `[H, W, C]` in 0…255, before preprocessing; safe to call
    /// from worker threads.
    public var decoder: @Sendable (String) throws -> Tensor {
        let (height, width, channels, policy, maxPixels) = (height, width, channels, policy, maxPixels)
        // The decoded image must still cover the input after the policy's resize: the crop policy
        // needs the shorter side at `shorter`, squash needs each side at the target.
        let side = policy.decodedSide(height: height, width: width)
        let atLeast: (Int, Int)? = scaledDecode ? (side, side) : nil
        return { path in
            try RGBImage(contentsOf: path, maxPixels: maxPixels, atLeast: atLeast).prepared(
                height: height, width: width, policy: policy, channels: channels)
        }
    }

    /// How the stream turns files into this model's batches: decode (through `cache` when
    /// given), augmentation (for samples with a seed), then the preprocessing. With
    /// `keepingOriginals`, each image is also kept at full size in `Batch.originals` (Grad-CAM
    /// draws on it).
    public func preparation(
        augmentation: Augmentation = .none, cache: DecodedImageCache? = nil, keepingOriginals: Bool = false
    ) -> ImageBatchStream.Preparation {
        var preparation = ImageBatchStream.Preparation(
            decode: cache.map { $0.wrapping(decoder) } ?? decoder, augmentation: augmentation,
            preprocessing: preprocessing)
        if keepingOriginals {
            let (height, width, channels, policy, maxPixels) = (height, width, channels, policy, maxPixels)
            preparation.originals = (
                { path in try RGBImage(contentsOf: path, maxPixels: maxPixels) },
                { image in image.prepared(height: height, width: width, policy: policy, channels: channels) }
            )
        }
        return preparation
    }
}

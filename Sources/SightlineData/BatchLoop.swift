import Foundation
import SightlineCore
import SightlineVision

/// The one loop from image files to a job's results, used by `predict`, `extract`, `evaluate`,
/// `gradcam` and fine-tuning (training epochs and validation): the samples are planned into
/// batches, decoded ahead on worker threads (`ImageBatchStream`, preprocessed as `ModelInput`
/// says), each batch's images go through the job's `forward`, and the batch and its output are
/// handed to the job in plan order. Jobs keep only what is theirs (what the forward pass is,
/// what to do with its output). Unreadable images are in `Batch.failed`; a batch with none
/// readable reaches the job with no output.
public struct BatchLoop: Sendable {
    public var preparation: ImageBatchStream.Preparation
    /// Threads decoding images ahead of the model.
    public var workers: Int
    /// Batches decoded or waiting at most (bounds memory).
    public var depth: Int

    public init(
        preparation: ImageBatchStream.Preparation, workers: Int = ImageBatchStream.defaultWorkers, depth: Int = 4
    ) {
        (self.preparation, self.workers, self.depth) = (preparation, workers, depth)
    }

    /// The loop for `input`'s model (see `ModelInput.preparation`).
    public init(
        input: ModelInput, augmentation: Augmentation = .none, cache: DecodedImageCache? = nil,
        keepingOriginals: Bool = false, workers: Int = ImageBatchStream.defaultWorkers, depth: Int = 4
    ) {
        self.init(
            preparation: input.preparation(
                augmentation: augmentation, cache: cache, keepingOriginals: keepingOriginals),
            workers: workers, depth: depth)
    }

    /// `items[first...]` in order, in batches of `batchSize`; each sample's index is its position in `items`.
    public static func plan(_ items: [ImageFolder.Item], batchSize: Int, from first: Int = 0)
        -> [[ImageBatchStream.Sample]]
    {
        let indices = Array(first..<max(first, items.count))
        let size = max(batchSize, 1)
        return plan(
            stride(from: 0, to: indices.count, by: size).map { indices[$0..<min($0 + size, indices.count)] },
            of: items)
    }

    /// The given batches of indices into `items`; `augmentationSeed(index)` seeds a sample's
    /// augmentation (nil for none).
    public static func plan(
        _ batches: [ArraySlice<Int>], of items: [ImageFolder.Item], augmentationSeed: (Int) -> UInt64? = { _ in nil }
    ) -> [[ImageBatchStream.Sample]] {
        batches.map { batch in
            batch.map { index in
                ImageBatchStream.Sample(
                    index: index, path: items[index].path, label: items[index].label,
                    augmentationSeed: augmentationSeed(index))
            }
        }
    }

    /// Streams `plan` and hands each batch to `body` in plan order, with `forward` of its images
    /// (nil when no image of the batch could be read); `body` returns false to stop early.
    /// Returns the seconds spent waiting for decoded batches (near 0 when compute is the
    /// bottleneck).
    @discardableResult
    public func run<Output>(
        _ plan: [[ImageBatchStream.Sample]], forward: (Tensor) throws -> Output,
        _ body: (ImageBatchStream.Batch, Output?) throws -> Bool
    ) throws -> Double {
        let stream = ImageBatchStream(plan: plan, preparation: preparation, workers: workers, depth: depth)
        while let batch = stream.next() {
            let output = try batch.images.map(forward)
            guard try body(batch, output) else { break }
        }
        return stream.waitSeconds
    }

    /// `run` for jobs whose passes are their own (a training step, Grad-CAM's forward and backward).
    @discardableResult
    public func run(_ plan: [[ImageBatchStream.Sample]], _ body: (ImageBatchStream.Batch) throws -> Bool) throws
        -> Double
    {
        let identity = { (images: Tensor) in images }
        return try run(plan, forward: identity) { batch, _ in try body(batch) }
    }
}

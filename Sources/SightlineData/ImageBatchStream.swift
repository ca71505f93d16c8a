import Foundation
import SightlineCore
import SightlineModels
import SightlineVision
import Synchronization

/// Batches of images decoded, resized, augmented and preprocessed on worker threads ahead of
/// the consumer: the stream under `BatchLoop`, the one way every job turns files into input
/// tensors (`ModelInput.preparation` says how).
///
/// The plan lists the batches in order; `next()` hands them out in that order whatever thread
/// finished first. At most `depth` batches are decoded or waiting at any time, so memory is
/// bounded by the queue, not by the dataset. Augmentation draws from a generator seeded by the
/// sample's own `seed` (derived from the run seed, phase, epoch and dataset index), so results
/// do not depend on thread timing. An image that cannot be read is left out of its batch and
/// reported in `Batch.failed`; it never stops the stream.
public final class ImageBatchStream {
    /// One image of the plan.
    public struct Sample: Sendable, Equatable {
        /// The image's index in its dataset (stable across epochs).
        public var index: Int
        public var path: String
        public var label: Int?
        /// Seeds the sample's augmentation; nil for none.
        public var augmentationSeed: UInt64?

        public init(index: Int, path: String, label: Int?, augmentationSeed: UInt64? = nil) {
            (self.index, self.path, self.label, self.augmentationSeed) = (index, path, label, augmentationSeed)
        }
    }

    /// A ready batch.
    public struct Batch: Sendable {
        /// `[n, H, W, C]` after augmentation and preprocessing; nil when no image could be read.
        public var images: Tensor?
        /// The samples in `images`, in row order.
        public var samples: [Sample]
        /// The samples that could not be read, with the reason.
        public var failed: [(sample: Sample, error: String)]
        /// The decoded images at full size, one per sample, when the preparation keeps them.
        public var originals: [RGBImage] = []
    }

    /// How images become tensors.
    public struct Preparation: Sendable {
        /// Decodes and resizes one file to `[H, W, C]` in 0…255.
        public var decode: @Sendable (String) throws -> Tensor
        public var augmentation: Augmentation
        public var preprocessing: Preprocessing
        /// When set, each file is loaded with `load`, kept in `Batch.originals` (Grad-CAM draws on
        /// it) and turned into the input with `prepare`, instead of `decode`.
        public var originals: (load: @Sendable (String) throws -> RGBImage, prepare: @Sendable (RGBImage) -> Tensor)?

        public init(
            decode: @escaping @Sendable (String) throws -> Tensor, augmentation: Augmentation = .none,
            preprocessing: Preprocessing
        ) {
            (self.decode, self.augmentation, self.preprocessing) = (decode, augmentation, preprocessing)
        }

        /// `samples` as one preprocessed batch, plus those that failed. With `parallel`, the
        /// samples are decoded on the engine's thread team (`Parallel`), each thread taking the
        /// next sample as it finishes one; the batch is the same either way.
        public func batch(_ samples: [Sample], parallel: Bool = false) -> Batch {
            var prepared = [Prepared?](repeating: nil, count: samples.count)
            if parallel && samples.count > 1 {
                let next = Mutex(0)
                prepared.withUnsafeMutableBufferPointer { slots in
                    nonisolated(unsafe) let slots = slots  // each index is written by one thread
                    Parallel.forEachChunk(Parallel.threadCount, costPerItem: 1 << 20) { threads in
                        for _ in threads {
                            while true {
                                let index = next.withLock { value in
                                    defer { value += 1 }
                                    return value
                                }
                                guard index < samples.count else { break }
                                slots[index] = prepare(samples[index])
                            }
                        }
                    }
                }
            } else {
                for index in samples.indices { prepared[index] = prepare(samples[index]) }
            }
            var images: [Tensor] = []
            var kept: [Sample] = []
            var failed: [(sample: Sample, error: String)] = []
            var full: [RGBImage] = []
            for (sample, made) in zip(samples, prepared) {
                guard let made, let image = made.image else {
                    failed.append((sample, made?.error ?? "not decoded"))
                    continue
                }
                images.append(image.reshaped([1] + image.shape))
                kept.append(sample)
                if let original = made.original { full.append(original) }
            }
            let tensor = images.isEmpty ? nil : preprocessing.apply(to: Tensor.concatenatingBatches(images))
            return Batch(images: tensor, samples: kept, failed: failed, originals: full)
        }

        /// One sample decoded and augmented, with its full-size original when kept; or why not.
        private struct Prepared {
            var image: Tensor?
            var original: RGBImage?
            var error = ""
        }

        private func prepare(_ sample: Sample) -> Prepared {
            do {
                var image: Tensor
                var original: RGBImage?
                if let originals {
                    let loaded = try originals.load(sample.path)
                    image = originals.prepare(loaded)
                    original = loaded
                } else {
                    image = try decode(sample.path)
                }
                if let seed = sample.augmentationSeed {
                    var generator = SeededGenerator(seed: seed)
                    image = augmentation.apply(to: image, generator: &generator)
                }
                return Prepared(image: image, original: original)
            } catch {
                return Prepared(error: (error as? ImageError)?.message ?? "\(error)")
            }
        }
    }

    /// Worker threads used when none are given: a quarter of the cores from 4 cores up (the rest
    /// compute); on 2 or 3 cores none, and each batch is decoded between steps on every core (a
    /// decoder beside the engine's team slowed a ResNet50 step by more than its own time there).
    /// Decoding a 224×224 JPEG costs about 1% of a ResNet50 training step per image.
    public static var defaultWorkers: Int { Parallel.availableCores >= 4 ? Parallel.availableCores / 4 : 0 }

    /// Engine threads to run beside `workers` decoding threads: on 4 or more cores the decoders
    /// get cores of their own (`cores − workers`), so the OpenMP team never shares a core with a
    /// busy decoder (a preempted team thread holds up every barrier); on 2 or 3 cores every core
    /// computes and decoding takes its share of them. 16-core Xeon, `extract` of 200 JPEGs
    /// (ResNet50, batch 8): 55–56 images/s with 16 engine threads beside 4 decoders, 59–61 with
    /// 12 on a slower machine (forward alone 181 and 149–158 images/s); at that size the command's
    /// start-up (model load, MD5, plan) is most of the rest.
    public static func computeThreads(workers: Int, cores: Int = Parallel.availableCores) -> Int {
        cores >= 4 ? max(1, cores - workers) : cores
    }

    private let queue: Queue
    /// Seconds `next()` spent waiting for a batch that was not ready yet.
    public private(set) var waitSeconds: Double = 0

    /// Starts `workers` threads decoding `plan` ahead, holding at most `depth` batches; with no
    /// workers, `next()` decodes each batch when asked, on the engine's threads.
    public init(
        plan: [[Sample]], preparation: Preparation, workers: Int = ImageBatchStream.defaultWorkers, depth: Int = 4
    ) {
        queue = Queue(plan: plan, preparation: preparation, depth: max(depth, 1), inline: workers <= 0)
        guard workers > 0 else { return }
        for _ in 0..<min(workers, plan.count) {
            let thread = Thread { [queue] in queue.work() }
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    deinit { queue.cancel() }

    /// The next batch in plan order, waiting for it if needed; nil after the last.
    public func next() -> Batch? {
        let start = DispatchTime.now().uptimeNanoseconds
        defer { waitSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
        return queue.take()
    }

    /// The shared state of the workers and the consumer.
    private final class Queue: @unchecked Sendable {  // every field is guarded by `condition`
        let plan: [[Sample]]
        let preparation: Preparation
        let depth: Int
        let condition = NSCondition()
        var ready: [Int: Batch] = [:]
        var claimed = 0
        var consumed = 0
        var cancelled = false
        /// No worker threads: `take` decodes.
        let inline: Bool

        init(plan: [[Sample]], preparation: Preparation, depth: Int, inline: Bool) {
            (self.plan, self.preparation, self.depth, self.inline) = (plan, preparation, depth, inline)
        }

        func work() {
            while true {
                condition.lock()
                while !cancelled && claimed < plan.count && claimed >= consumed + depth { condition.wait() }
                guard !cancelled && claimed < plan.count else {
                    condition.unlock()
                    return
                }
                let index = claimed
                claimed += 1
                condition.unlock()
                let batch = preparation.batch(plan[index])
                condition.lock()
                ready[index] = batch
                condition.broadcast()
                condition.unlock()
            }
        }

        func take() -> Batch? {
            condition.lock()
            defer { condition.unlock() }
            guard consumed < plan.count else { return nil }
            if claimed == consumed && inline {  // no workers: decode it here, on every core
                claimed += 1
                consumed += 1
                return preparation.batch(plan[consumed - 1], parallel: true)
            }
            while ready[consumed] == nil { condition.wait() }
            let batch = ready.removeValue(forKey: consumed)
            consumed += 1
            condition.broadcast()
            return batch
        }

        func cancel() {
            condition.lock()
            cancelled = true
            condition.broadcast()
            condition.unlock()
        }
    }
}

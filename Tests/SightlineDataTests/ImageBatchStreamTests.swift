import Foundation
import SightlineCore
import SightlineTestSupport
import SightlineVision
import Testing

@testable import SightlineData

/// The streaming image source: batches in plan order whatever the worker count, per-sample
/// seeded augmentation, unreadable files reported and left out, and the disk cache returning
/// what decoding returns.
struct ImageBatchStreamTests {
    static let images = KerasFixture.directory.appendingPathComponent("extract")

    func plan(seeded: Bool) throws -> [[ImageBatchStream.Sample]] {
        let items = try ImageFolder(inputs: [Self.images.path]).items
        var samples = items.enumerated().map {
            ImageBatchStream.Sample(
                index: $0, path: $1.path, label: $1.label, augmentationSeed: seeded ? UInt64($0) : nil)
        }
        // An unreadable file in the middle of the second batch.
        samples.insert(
            ImageBatchStream.Sample(
                index: 99, path: Self.images.appendingPathComponent("expected.json").path, label: 0), at: 4)
        return stride(from: 0, to: samples.count, by: 3).map { Array(samples[$0..<min($0 + 3, samples.count)]) }
    }

    /// Files squash-resized to `shape` `[H, W, C]`, as `ModelInput.decoder` does for a model of that input.
    static func squash(to shape: [Int]) -> @Sendable (String) throws -> Tensor {
        { path in
            try RGBImage(contentsOf: path).prepared(
                height: shape[0], width: shape[1], policy: .squash, channels: shape[2])
        }
    }

    func drain(_ stream: ImageBatchStream) -> [ImageBatchStream.Batch] {
        var batches: [ImageBatchStream.Batch] = []
        while let batch = stream.next() { batches.append(batch) }
        return batches
    }

    /// The core split between decoders and the engine's team (the README's thread policy): no
    /// core shared on 4 or more cores, every core computing on fewer, never zero engine threads.
    @Test func decodersKeepTheirCoresFromFourCores() {
        #expect(ImageBatchStream.computeThreads(workers: 4, cores: 16) == 12)
        #expect(ImageBatchStream.computeThreads(workers: 1, cores: 4) == 3)
        #expect(ImageBatchStream.computeThreads(workers: 1, cores: 2) == 2)
        #expect(ImageBatchStream.computeThreads(workers: 8, cores: 8) == 1)
        #expect(ImageBatchStream.computeThreads(workers: 0, cores: 2) == 2)
        #expect(ImageBatchStream.defaultWorkers == (Parallel.availableCores >= 4 ? Parallel.availableCores / 4 : 0))
    }

    @Test func batchesComeInPlanOrderAndDoNotDependOnThreads() throws {
        let preparation = ImageBatchStream.Preparation(
            decode: Self.squash(to: [32, 32, 3]), augmentation: Augmentation(),
            preprocessing: .caffe)
        let plan = try plan(seeded: true)
        let one = drain(ImageBatchStream(plan: plan, preparation: preparation, workers: 1, depth: 1))
        let four = drain(ImageBatchStream(plan: plan, preparation: preparation, workers: 4, depth: 2))
        // No workers: each batch decoded when asked for, its images shared out over the engine's threads.
        let inline = drain(ImageBatchStream(plan: plan, preparation: preparation, workers: 0))
        #expect(one.map { $0.samples.map(\.index) } == plan.map { $0.map(\.index).filter { $0 != 99 } })
        #expect(one.map { $0.samples.map(\.index) } == four.map { $0.samples.map(\.index) })
        #expect(one.map(\.images) == four.map(\.images), "augmentation is seeded per sample, not by thread timing")
        #expect(one.map { $0.samples.map(\.index) } == inline.map { $0.samples.map(\.index) })
        #expect(one.map(\.images) == inline.map(\.images), "decoding between steps gives the same batches")
        for batches in [one, inline] {
            #expect(
                batches[1].failed.map(\.sample.index) == [99] && batches.flatMap(\.failed).count == 1,
                "the unreadable file is reported once, in its batch")
        }
        #expect(inline[1].failed.map(\.error) == one[1].failed.map(\.error) && one[1].failed[0].error != "")
        let plain = drain(ImageBatchStream(plan: try self.plan(seeded: false), preparation: preparation, workers: 2))
        #expect(plain.map(\.images) != one.map(\.images), "augmentation changed the images")
    }

    @Test func theCacheReturnsWhatDecodingReturns() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "sightline-cache-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let decode = Self.squash(to: [24, 40, 3])
        let cache = try DecodedImageCache(directory: directory.path, shape: [24, 40, 3])
        let cached = cache.wrapping(decode)
        let path = Self.images.appendingPathComponent("apples/apples_0.png").path
        let first = try cached(path)
        let second = try cached(path)
        #expect(first == (try decode(path)) && second == first)
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".f32") }.count
                == 1)
        #expect(throws: (any Error).self, "an unreadable file is not cached as an image") {
            _ = try cached(Self.images.appendingPathComponent("expected.json").path)
        }
    }
}

import Foundation
import SightlineData
import SightlineTestSupport
import SightlineTransfer
import SightlineWeights
import Testing

/// Feature extraction end to end. References: `Tests/Fixtures/extract/expected.json`, the
/// `avg_pool` features real Keras 3 computes for those images with the committed reduced
/// ResNet50 (`make_extract_fixtures.py`); broken files from `make_image_fixtures.py`.
struct ExtractionTests {
    static let fixtures = KerasFixture.directory
    static let model = fixtures.appendingPathComponent("weights/resnet50_keras3.h5").path

    func scratch() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent(
            "sightline-extract-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    func job(_ inputs: [String], output: String, batch: Int = 2, shard: (Int, Int) = (0, 1), resume: Bool = false)
        throws -> ExtractionJob
    {
        let extractor = try FeatureExtractor(model: try ModelLoader.load(path: Self.model))
        return ExtractionJob(
            extractor: extractor, dataset: try ImageFolder(inputs: inputs), output: output, batchSize: batch,
            shard: shard, resume: resume, sightlineVersion: "test")
    }

    @Test func featuresEqualKeras() throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let output = directory.appendingPathComponent("features.h5").path
        let summary = try job([Self.fixtures.appendingPathComponent("extract").path], output: output, batch: 3).run()
        #expect(summary.failed.isEmpty && summary.processed == 7)
        let file = try FeatureFile(path: output)
        let expected = try KerasFixture.load("extract/expected.json")
        expectClose(file.features, try KerasFixture.tensor(expected["features"]), tolerance: 1e-4, "avg_pool features")
        #expect(file.paths.map { $0.components(separatedBy: "extract/").last ?? "" } == expected["paths"] as? [String])
        #expect(file.labels == [0, 0, 0, 0, 1, 1, 1] && file.classNames == ["apples", "pears"])
        #expect(
            file.attributes["layer"] == "avg_pool" && file.attributes["preprocessing"] == "caffe"
                && file.attributes["model_md5"]?.count == 32)
        #expect(!FileManager.default.fileExists(atPath: output + ".partial"), "the partial folder is removed")
    }

    @Test func brokenFilesAreReportedAndSkipped() throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let images = directory.appendingPathComponent("images")
        try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
        let decode = Self.fixtures.appendingPathComponent("decode")
        for name in [
            "baseline.jpg", "truncated.jpg", "progressive.jpg", "text.jpg", "exif6.jpg", "empty.jpg", "rgb16.png",
        ] {
            try FileManager.default.copyItem(
                at: decode.appendingPathComponent(name), to: images.appendingPathComponent(name))
        }
        let output = directory.appendingPathComponent("features.h5").path
        let summary = try job([images.path], output: output, batch: 3).run()
        #expect(
            Set(summary.failed.map { ($0.path as NSString).lastPathComponent }) == [
                "truncated.jpg", "text.jpg", "empty.jpg",
            ])
        let file = try FeatureFile(path: output)
        #expect(
            file.status == [0, 1, 0, 0, 0, 1, 1],
            "paths sort as baseline, empty, exif6, progressive, rgb16, text, truncated")
        #expect(
            file.errors[5] == "is not a JPEG or PNG image" && file.errors[1] == "is empty" && !file.errors[6].isEmpty)
        #expect(
            file.features.batch(1..<2).scalars.allSatisfy { $0 == 0 }
                && file.features.batch(0..<1).scalars.contains { $0 != 0 })
    }

    @Test func resumedRunEqualsAnUninterruptedOne() throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = [Self.fixtures.appendingPathComponent("extract").path]
        let single = directory.appendingPathComponent("single.h5").path
        let resumed = directory.appendingPathComponent("resumed.h5").path
        _ = try job(input, output: single).run()
        #expect(throws: TransferError.self) {
            _ = try job(input, output: resumed).run { done, _ in done < 4 }
        }
        #expect(
            FileManager.default.fileExists(atPath: resumed + ".partial")
                && !FileManager.default.fileExists(atPath: resumed))
        #expect(throws: TransferError.self, "a partial run is not overwritten without --resume") {
            _ = try job(input, output: resumed).run()
        }
        var extra = try job(input, output: resumed, resume: true)
        extra.batchSize = 3
        #expect(throws: TransferError.self, "other settings are refused") { _ = try extra.run() }
        let summary = try job(input, output: resumed, resume: true).run()
        #expect(summary.resumedBatches == 2)
        try expectSameFile(resumed, single)
    }

    @Test func shardsMergeIntoTheSingleRun() throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = [Self.fixtures.appendingPathComponent("extract").path]
        let single = directory.appendingPathComponent("single.h5").path
        _ = try job(input, output: single).run()
        var shards: [String] = []
        for index in [2, 0, 1] {
            let path = directory.appendingPathComponent("shard\(index).h5").path
            _ = try job(input, output: path, shard: (index, 3)).run()
            shards.append(path)
        }
        let merged = directory.appendingPathComponent("merged.h5").path
        try FeatureFileWriter.merge(shards, to: merged)
        try expectSameFile(merged, single)
        let incomplete = directory.appendingPathComponent("incomplete.h5").path
        #expect(throws: TransferError.self, "a missing shard is detected") {
            try FeatureFileWriter.merge(Array(shards.prefix(2)), to: incomplete)
        }
        var other = try FeatureFile(path: shards[0])
        other.attributes["layer"] = "conv5_block3_out"
        let otherPath = directory.appendingPathComponent("other.h5").path
        try other.write(to: otherPath)
        #expect(throws: TransferError.self, "shards of another layer are refused") {
            try FeatureFileWriter.merge([otherPath, shards[1], shards[2]], to: incomplete)
        }
        #expect(!FileManager.default.fileExists(atPath: incomplete), "a refused merge writes nothing")
    }

    /// Every dataset and attribute equal. (Not the bytes: rows are appended to growable
    /// datasets batch by batch, and HDF5 places chunks and string heaps in write order, which a
    /// resumed or merged run changes.)
    func expectSameFile(_ path: String, _ reference: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let a = try FeatureFile(path: path)
        let b = try FeatureFile(path: reference)
        #expect(
            a.features == b.features && a.paths == b.paths && a.status == b.status && a.errors == b.errors,
            sourceLocation: sourceLocation)
        #expect(
            a.labels == b.labels && a.classNames == b.classNames && a.attributes == b.attributes,
            sourceLocation: sourceLocation)
    }
}

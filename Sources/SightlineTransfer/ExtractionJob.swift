import Dispatch
import Foundation
import SightlineCore
import SightlineData
import SightlineWeights

/// A feature-extraction run over an `ImageFolder` (or one shard of it), written to HDF5.
///
/// Output file: `features` `[N] + featureShape` float32 (zeros on failed rows), `paths`,
/// `status` (0 ok, 1 failed), `error` (the message, "" when ok), and `labels`/`class_names`
/// for class-folder inputs; root attributes name the model file and its MD5, the layer, pooling,
/// preprocessing, image size, resize policy, Sightline's version and the shard.
///
/// Robustness and scale: every finished batch is appended to the working file `OUTPUT.partial`
/// (`FeatureFileWriter`, flushed per batch, with a fingerprint of the run), so memory does not
/// grow with the dataset; `resume` continues after the rows already written (refusing a run
/// with other settings). At the end the working file is renamed to OUTPUT. Images are decoded
/// by `BatchLoop` workers ahead of the forward passes.
public struct ExtractionJob {
    public var extractor: FeatureExtractor
    /// The whole dataset; `shard` selects the slice this run processes.
    public var dataset: ImageFolder
    public var shard: (index: Int, count: Int)
    public var batchSize: Int
    public var output: String
    public var resume: Bool
    public var sightlineVersion: String

    public init(
        extractor: FeatureExtractor, dataset: ImageFolder, output: String, batchSize: Int = 16,
        shard: (index: Int, count: Int) = (0, 1),
        resume: Bool = false, sightlineVersion: String
    ) {
        self.extractor = extractor
        self.dataset = dataset
        self.output = output
        self.batchSize = batchSize
        self.shard = shard
        self.resume = resume
        self.sightlineVersion = sightlineVersion
    }

    /// What a run did.
    public struct Summary: Sendable {
        public var processed: Int
        public var failed: [(path: String, error: String)]
        public var resumedBatches: Int
    }

    /// Threads decoding images ahead of the model (`BatchLoop`).
    public var dataWorkers = ImageBatchStream.defaultWorkers

    /// The settings that must match for batches to be reused and shards to be merged.
    func attributes(modelMD5: String, range: Range<Int>) -> [String: String] {
        let input = extractor.input
        return [
            "model": extractor.model.file.path, "model_md5": modelMD5, "layer": extractor.layer,
            "pooling": extractor.pooling.rawValue,
            "preprocessing": extractor.model.preprocessing.rawValue, "image_height": String(input.height),
            "image_width": String(input.width),
            "resize_policy": input.policy.describe(height: input.height, width: input.width),
            "sightline_version": sightlineVersion,
            "total_items": String(dataset.items.count), "shard_index": String(shard.index),
            "shard_count": String(shard.count),
            "first_item": String(range.lowerBound),
        ]
    }

    /// Runs the job; `progress` gets (images done, images in this shard) after each batch and
    /// returns false to stop (the working file is kept, so `resume` continues from there).
    public func run(progress: (Int, Int) -> Bool = { _, _ in true }) throws -> Summary {
        let (range, slice) = dataset.shard(shard.index, of: shard.count)
        let modelMD5 = try MD5.hexDigest(ofFile: extractor.model.file.path)
        let attributes = attributes(modelMD5: modelMD5, range: range)
        let fingerprint = try fingerprintJSON(attributes, items: slice.items)
        let labelled = slice.classNames != nil
        let writer: FeatureFileWriter
        if FeatureFileWriter.isInUse(output) {
            throw TransferError(
                .file, subject: FeatureFileWriter.workingPath(output),
                "is being written by another sightline that is still running; wait for it to finish, or write to another output"
            )
        }
        if let resumed = try FeatureFileWriter(resuming: output) {
            let working = FeatureFileWriter.workingPath(output)
            guard resume else {
                throw TransferError(
                    .file,
                    "\(working) holds an interrupted run; pass --resume to continue it, or delete it to start over")
            }
            guard resumed.fingerprint == fingerprint else {
                throw TransferError(
                    .file,
                    "\(working) was made with other settings or inputs (see \(working).json); delete both to start over"
                )
            }
            writer = resumed
        } else {
            do {
                writer = try FeatureFileWriter(
                    path: output, featureShape: extractor.featureShape, labelled: labelled, fingerprint: fingerprint)
            } catch {
                FeatureFileWriter.discard(output)  // nothing to resume from a file that could not be made
                throw error
            }
        }
        let resumedRows = writer.rows
        let total = slice.items.count
        _ = progress(resumedRows, total)
        var failed: [(path: String, error: String)] = []
        let loop = BatchLoop(input: extractor.input, workers: dataWorkers)
        try loop.run(
            BatchLoop.plan(slice.items, batchSize: batchSize, from: resumedRows),
            forward: extractor.features(ofPreprocessed:)
        ) { batch, features in
            do {
                try write(batch, features: features, to: writer, labelled: labelled)
            } catch let error as ModelFileError {
                writer.discard()  // a write that failed (a full disk) leaves no file to trust
                throw ModelFileError(file: output, "\(error.message); nothing was written", kind: error.kind)
            }
            failed += batch.failed.map { ($0.sample.path, $0.error) }
            if !progress(writer.rows, total) && writer.rows < total {
                throw TransferError(
                    .stopped, "stopped after \(writer.rows) of \(total) images; run again with --resume to continue")
            }
            return true
        }
        if resumedRows == 0, total > 0, failed.count == total, let first = failed.first {
            writer.discard()
            throw TransferError(
                .data,
                "none of the \(total) images could be read (the first: \(first.path): \(first.error)); no file was written"
            )
        }
        do {
            try writer.finish(classNames: slice.classNames, attributes: attributes)
        } catch let error as ModelFileError {
            writer.discard()
            throw ModelFileError(file: output, "\(error.message); nothing was written", kind: error.kind)
        }
        if resumedRows > 0 {
            // Failures in rows written before the interruption are in the file.
            let reader = try FeatureFileReader(path: output)
            failed =
                (0..<resumedRows).filter { reader.status[$0] != 0 }.map { (reader.paths[$0], reader.errors[$0]) }
                + failed
        }
        return Summary(processed: total, failed: failed, resumedBatches: resumedRows / max(batchSize, 1))
    }

    /// Appends a batch's feature rows (zeros for failed images) in dataset order.
    private func write(
        _ batch: ImageBatchStream.Batch, features: Tensor?, to writer: FeatureFileWriter, labelled: Bool
    ) throws {
        let featureCount = extractor.featureShape.reduce(1, *)
        let rowOf = Dictionary(uniqueKeysWithValues: batch.samples.enumerated().map { ($1.index, $0) })
        let errorOf = Dictionary(uniqueKeysWithValues: batch.failed.map { ($0.sample.index, $0.error) })
        let samples = (batch.samples + batch.failed.map(\.sample)).sorted { $0.index < $1.index }
        var rows = [Float](repeating: 0, count: samples.count * featureCount)
        for (position, sample) in samples.enumerated() {
            guard let row = rowOf[sample.index], let features else { continue }
            rows.replaceSubrange(
                (position * featureCount)..<((position + 1) * featureCount),
                with: features.scalars[(row * featureCount)..<((row + 1) * featureCount)])
        }
        try writer.append(
            features: rows, paths: samples.map(\.path), status: samples.map { errorOf[$0.index] == nil ? 0 : 1 },
            errors: samples.map { errorOf[$0.index] ?? "" }, labels: labelled ? samples.map { $0.label ?? -1 } : nil)
    }

    private func fingerprintJSON(_ attributes: [String: String], items: [ImageFolder.Item]) throws -> String {
        var object: [String: Any] = attributes
        object["batch_size"] = batchSize
        object["paths_md5"] = {
            var md5 = MD5()
            for item in items { md5.update(Array((item.path + "\n").utf8)) }
            return md5.finalize()
        }()
        return String(
            decoding: try JSONSerialization.data(
                withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self)
    }
}

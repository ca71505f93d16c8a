import Dispatch
import Foundation

/// A feature-extraction run over an `ImageFolder` (or one shard of it), written to HDF5.
///
/// Output file: `features` `[N] + featureShape` float32 (zeros on failed rows), `paths`,
/// `status` (0 ok, 1 failed), `error` (the message, "" when ok), and `labels`/`class_names`
/// for class-folder inputs; root attributes name the model file and its MD5, the layer, pooling,
/// preprocessing, image size, resize policy, Sightline's version and the shard.
///
/// Robustness: every finished batch is written to `OUTPUT.partial/batch-NNNNNN.h5` next to a
/// `run.json` fingerprint; `resume` skips finished batches (refusing a run with other settings).
/// The final file is assembled under a temporary name and renamed; the partial folder is then
/// removed. Decoding of the next batch overlaps the current batch's forward pass.
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
        extractor: FeatureExtractor, dataset: ImageFolder, output: String, batchSize: Int = 16, shard: (index: Int, count: Int) = (0, 1),
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

    public struct JobError: Error, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// What a run did.
    public struct Summary: Sendable {
        public var processed: Int
        public var failed: [(path: String, error: String)]
        public var resumedBatches: Int
    }

    var partialFolder: String { output + ".partial" }

    /// The settings that must match for batches to be reused and shards to be merged.
    func attributes(modelMD5: String, range: Range<Int>) -> [String: String] {
        let size = extractor.inputSize
        return [
            "model": extractor.model.file.path, "model_md5": modelMD5, "layer": extractor.layer, "pooling": extractor.pooling.rawValue,
            "preprocessing": extractor.model.preprocessing.rawValue, "image_height": String(size.height), "image_width": String(size.width),
            "resize_policy": extractor.policy.describe(height: size.height, width: size.width), "sightline_version": sightlineVersion,
            "total_items": String(dataset.items.count), "shard_index": String(shard.index), "shard_count": String(shard.count),
            "first_item": String(range.lowerBound),
        ]
    }

    /// Runs the job; `progress` gets (images done, images in this shard) after each batch and
    /// returns false to stop (the partial folder is kept, so `resume` continues from there).
    public func run(progress: (Int, Int) -> Bool = { _, _ in true }) throws -> Summary {
        let (range, slice) = dataset.shard(shard.index, of: shard.count)
        let modelMD5 = try MD5.hexDigest(ofFile: extractor.model.file.path)
        let attributes = attributes(modelMD5: modelMD5, range: range)
        let fingerprint = try fingerprintJSON(attributes, items: slice.items)
        try preparePartialFolder(fingerprint)
        let batches = stride(from: 0, to: slice.items.count, by: batchSize).map { $0..<min($0 + batchSize, slice.items.count) }
        var resumed = 0
        var pending: [(Int, Range<Int>)] = []
        for (index, batch) in batches.enumerated() {
            if FileManager.default.fileExists(atPath: batchPath(index)) { resumed += 1 } else { pending.append((index, batch)) }
        }
        var done = slice.items.count - pending.reduce(0) { $0 + $1.1.count }
        _ = progress(done, slice.items.count)
        // Decode batch k+1 on a background queue while batch k runs through the model.
        let decoder = DispatchQueue(label: "sightline.decode")
        var next = pending.first.map { decodeAsync(slice, $0.1, on: decoder) }
        for (position, (index, batch)) in pending.enumerated() {
            guard let current = next else { break }
            current.group.wait()
            next = position + 1 < pending.count ? decodeAsync(slice, pending[position + 1].1, on: decoder) : nil
            try writeBatch(index, decoded: current.box.value)
            done += batch.count
            if !progress(done, slice.items.count) && position + 1 < pending.count {
                next?.group.wait()
                throw JobError(message: "stopped after \(done) of \(slice.items.count) images; run again with --resume to continue")
            }
        }
        return try assemble(slice: slice, batches: batches.count, attributes: attributes, resumed: resumed)
    }

    /// Decoded images of a batch (nil entries carry the error).
    final class DecodedBatch: @unchecked Sendable {
        var value: [(path: String, image: Tensor?, error: String?)] = []
    }

    private func decodeAsync(_ slice: ImageFolder, _ batch: Range<Int>, on queue: DispatchQueue) -> (group: DispatchGroup, box: DecodedBatch) {
        let group = DispatchGroup(), box = DecodedBatch()
        let items = Array(slice.items[batch])
        let extractor = UncheckedBox(self.extractor)
        queue.async(group: group) {
            box.value = items.map { item in
                do {
                    return (item.path, try extractor.value.prepare(item.path), nil)
                } catch {
                    return (item.path, nil, (error as? ImageError)?.message ?? "\(error)")
                }
            }
        }
        return (group, box)
    }

    private func batchPath(_ index: Int) -> String {
        (partialFolder as NSString).appendingPathComponent(String(format: "batch-%06d.h5", index))
    }

    private func fingerprintJSON(_ attributes: [String: String], items: [ImageFolder.Item]) throws -> Data {
        var object: [String: Any] = attributes
        object["batch_size"] = batchSize
        object["paths_md5"] = { var md5 = MD5(); for item in items { md5.update(Array((item.path + "\n").utf8)) }; return md5.finalize() }()
        return try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])
    }

    private func preparePartialFolder(_ fingerprint: Data) throws {
        let fm = FileManager.default
        let runFile = (partialFolder as NSString).appendingPathComponent("run.json")
        if fm.fileExists(atPath: partialFolder) {
            guard resume else {
                throw JobError(message: "\(partialFolder) holds an interrupted run; pass --resume to continue it, or delete it to start over")
            }
            guard fm.contents(atPath: runFile) == fingerprint else {
                throw JobError(message: "\(partialFolder) was made with other settings or inputs (see its run.json); delete it to start over")
            }
            return
        }
        try fm.createDirectory(atPath: partialFolder, withIntermediateDirectories: true)
        try fingerprint.write(to: URL(fileURLWithPath: runFile))
    }

    /// Runs one decoded batch through the model and writes its batch file (atomically).
    private func writeBatch(_ index: Int, decoded: [(path: String, image: Tensor?, error: String?)]) throws {
        let good = decoded.compactMap(\.image)
        let featureCount = extractor.featureShape.reduce(1, *)
        var rows = [Float](repeating: 0, count: decoded.count * featureCount)
        if !good.isEmpty {
            let features = try extractor.features(of: Tensor.concatenatingBatches(good.map { $0.reshaped([1] + $0.shape) }))
            var source = 0
            for (row, entry) in decoded.enumerated() where entry.image != nil {
                rows.replaceSubrange((row * featureCount)..<((row + 1) * featureCount), with: features.scalars[(source * featureCount)..<((source + 1) * featureCount)])
                source += 1
            }
        }
        try AtomicFile.write(to: batchPath(index)) { temporary in
            let file = try HDF5File(creating: temporary)
            try file.write(Tensor(shape: [decoded.count] + extractor.featureShape, scalars: rows), to: "/features")
            try file.write(integers: decoded.map { $0.image == nil ? 1 : 0 }, to: "/status")
            try file.write(strings: decoded.map { $0.error ?? "" }, to: "/error")
        }
    }

    /// Joins the batch files into the output file (temporary name, then rename).
    private func assemble(slice: ImageFolder, batches: Int, attributes: [String: String], resumed: Int) throws -> Summary {
        var features: [Float] = [], status: [Int] = [], errors: [String] = []
        for index in 0..<batches {
            let file = try HDF5File(reading: batchPath(index))
            features += try file.readTensor("/features").scalars
            status += try file.readIntegers("/status")
            errors += try file.readStrings("/error")
        }
        let records = FeatureFile(
            features: Tensor(shape: [slice.items.count] + extractor.featureShape, scalars: features), paths: slice.items.map(\.path),
            status: status, errors: errors, labels: slice.classNames == nil ? nil : slice.items.map { $0.label ?? -1 },
            classNames: slice.classNames, attributes: attributes)
        try records.write(to: output)
        try? FileManager.default.removeItem(atPath: partialFolder)
        let failed = zip(slice.items, zip(status, errors)).filter { $0.1.0 != 0 }.map { (path: $0.0.path, error: $0.1.1) }
        return Summary(processed: slice.items.count, failed: failed, resumedBatches: resumed)
    }
}

/// Moves a value into a background closure; the job never touches it concurrently.
struct UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

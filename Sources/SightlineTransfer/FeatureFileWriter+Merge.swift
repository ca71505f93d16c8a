import Foundation
import SightlineCore

extension FeatureFileWriter {
    /// Joins the shard files at `paths` (one run's, in any order) into `output`, block by block
    /// (memory does not grow with the files): they must share the model, layer, pooling,
    /// preprocessing, image size, resize policy and dataset size, and together cover it without
    /// gaps or overlap. The result equals what a single unsharded run writes. Returns the rows.
    @discardableResult
    public static func merge(_ paths: [String], to output: String) throws -> Int {
        let shards = try paths.map { try FeatureFileReader(path: $0) }
        guard let first = shards.first else { throw TransferError(.file, "nothing to merge") }
        let shared = [
            "model_md5", "layer", "pooling", "preprocessing", "image_height", "image_width", "resize_policy",
            "total_items", "shard_count",
        ]
        for shard in shards {
            for key in shared where shard.attributes[key] != first.attributes[key] {
                throw TransferError(
                    .file,
                    "\(shard.path): \(key) is '\(shard.attributes[key] ?? "missing")', but \(first.path) has '\(first.attributes[key] ?? "missing")'"
                )
            }
            guard shard.classNames == first.classNames else {
                throw TransferError(.file, "\(shard.path): class names differ from \(first.path)'s")
            }
            guard shard.featureShape == first.featureShape else {
                throw TransferError(.file, "\(shard.path): features \(shard.featureShape) differ from \(first.path)'s")
            }
        }
        let ordered = shards.sorted {
            Int($0.attributes["first_item"] ?? "") ?? 0 < Int($1.attributes["first_item"] ?? "") ?? 0
        }
        var next = 0
        for shard in ordered {
            guard Int(shard.attributes["first_item"] ?? "") == next else {
                throw TransferError(
                    .file,
                    "\(shard.path) starts at item \(shard.attributes["first_item"] ?? "?"), expected \(next): a shard is missing or repeated"
                )
            }
            next += shard.rows
        }
        guard next == Int(first.attributes["total_items"] ?? "") else {
            throw TransferError(
                .file, "the shards cover \(next) of \(first.attributes["total_items"] ?? "?") items: a shard is missing"
            )
        }
        var attributes = first.attributes
        (attributes["shard_index"], attributes["shard_count"], attributes["first_item"]) = ("0", "1", "0")
        try? FileManager.default.removeItem(atPath: workingPath(output))
        // A merge that fails (a full disk) leaves no working file behind.
        do {
            try write(ordered, to: output, like: first, attributes: attributes, fingerprint: paths)
        } catch {
            discard(output)
            throw error
        }
        return next
    }

    /// Appends the shards' rows, in order, to a new working file and finishes it as `output`.
    private static func write(
        _ ordered: [FeatureFileReader], to output: String, like first: FeatureFileReader,
        attributes: [String: String], fingerprint paths: [String]
    ) throws {
        let writer = try FeatureFileWriter(
            path: output, featureShape: first.featureShape, labelled: first.labels != nil,
            fingerprint: "merge of \(paths.joined(separator: " "))")
        for shard in ordered {
            let block = shard.blockRows()
            for start in stride(from: 0, to: shard.rows, by: block) {
                let rows = start..<min(start + block, shard.rows)
                try writer.append(
                    features: try shard.features(rows).scalars, paths: Array(shard.paths[rows]),
                    status: Array(shard.status[rows]),
                    errors: Array(shard.errors[rows]), labels: shard.labels.map { Array($0[rows]) })
            }
        }
        try writer.finish(classNames: first.classNames, attributes: attributes)
    }
}

import Foundation
import SightlineCore
import SightlineWeights

/// The one writer of features files (`FeatureFileReader` is the one reader): writes a file a batch at a time, so that extraction
/// and `merge` never hold the whole matrix: rows are appended to growable datasets of a working
/// file `path + ".partial"`, flushed after every batch; `finish` adds the class names and
/// attributes and renames the working file into place. A run stopped between batches leaves
/// the working file readable, and `init(resuming:)` continues appending to it. The run's
/// fingerprint (what must match for a resume) is kept next to it in `path + ".partial.json"`.
public final class FeatureFileWriter {
    public let path: String
    let file: HDF5File
    /// Rows written so far (resumed ones included).
    public private(set) var rows: Int
    let labelled: Bool

    /// What identifies the run that writes the file (settings and inputs).
    public let fingerprint: String
    /// The lock held on the fingerprint file while this writer runs (-1: none).
    private var lockDescriptor: Int32 = -1

    /// The root string attributes of a features file (model, model_md5, layer, pooling, …).
    public static let attributeNames = [
        "model", "model_md5", "layer", "pooling", "preprocessing", "image_height", "image_width", "resize_policy",
        "sightline_version",
        "total_items", "shard_index", "shard_count", "first_item",
    ]

    /// The working file of an output path.
    public static func workingPath(_ path: String) -> String { path + ".partial" }
    static func fingerprintPath(_ path: String) -> String { path + ".partial.json" }

    /// Starts a new working file; `fingerprint` identifies the run for a later resume.
    public init(path: String, featureShape: [Int], labelled: Bool, fingerprint: String) throws {
        self.path = path
        self.labelled = labelled
        self.fingerprint = fingerprint
        try AtomicFile.write(Data(fingerprint.utf8), to: Self.fingerprintPath(path))
        lockDescriptor = try Self.lock(path) ?? -1
        let working = Self.workingPath(path)
        file = try HDF5File(creating: working)
        // About 4 MiB of features per chunk.
        let chunkRows = max(1, min(1024, (1 << 20) / max(featureShape.reduce(1, *), 1)))
        try file.createRows("/features", rowShape: featureShape, type: .float32, chunkRows: chunkRows)
        try file.createRows("/paths", type: .string)
        try file.createRows("/status", type: .int64)
        try file.createRows("/error", type: .string)
        if labelled { try file.createRows("/labels", type: .int64) }
        try file.flush()
        rows = 0
    }

    /// Reopens an interrupted run's working file; nil when there is none. The caller compares
    /// `fingerprint` with its own run's.
    public init?(resuming path: String) throws {
        let working = Self.workingPath(path)
        guard FileManager.default.fileExists(atPath: working) else { return nil }
        self.path = path
        lockDescriptor = try Self.lock(path) ?? -1
        fingerprint = (try? String(contentsOfFile: Self.fingerprintPath(path), encoding: .utf8)) ?? ""
        file = try HDF5File(appending: working)
        labelled = file.exists("/labels")
        // Datasets are appended in order; a batch cut short leaves /features longest: trust the last.
        rows = try file.datasetShape("/error").first ?? 0
    }

    /// Appends rows: `features` is `paths.count` rows of the feature shape (zeros for failures).
    public func append(features: [Float], paths: [String], status: [Int], errors: [String], labels: [Int]?) throws {
        if try file.datasetShape("/features").first != rows {
            throw ModelFileError(
                file: Self.workingPath(path), "is inconsistent (a write was cut short); delete it to start over")
        }
        try file.append(features, to: "/features")
        try file.append(strings: paths, to: "/paths")
        try file.append(integers: status, to: "/status")
        if labelled { try file.append(integers: labels ?? Array(repeating: -1, count: paths.count), to: "/labels") }
        try file.append(strings: errors, to: "/error")
        try file.flush()
        rows += paths.count
    }

    /// Adds the class names and root attributes and renames the working file to `path`.
    public func finish(classNames: [String]?, attributes: [String: String]) throws {
        if let classNames { try file.write(strings: classNames, to: "/class_names") }
        for name in Self.attributeNames {
            if let value = attributes[name] { try file.writeString(value, attribute: name) }
        }
        try file.close()
        guard rename(Self.workingPath(path), path) == 0 else {
            throw ModelFileError(file: path, "cannot move the finished file into place")
        }
        try? FileManager.default.removeItem(atPath: Self.fingerprintPath(path))
    }

    deinit {
        if lockDescriptor >= 0 { close(lockDescriptor) }
    }

    /// Removes the working file (a run that failed before its first row).
    public func discard() {
        try? file.close()
        Self.discard(path)
    }

    /// Removes the working file and fingerprint of `path` (a run that failed, even before its
    /// writer existed).
    public static func discard(_ path: String) {
        for name in [workingPath(path), fingerprintPath(path)] {
            try? FileManager.default.removeItem(atPath: name)
        }
    }
}

import Foundation
import SightlineCore
internal import ZIPFoundation

/// Reads a Keras 3 `.keras` archive: a zip holding `config.json` (the architecture),
/// `metadata.json` and `model.weights.h5` (the `.weights.h5` layout).
public enum KerasArchive {
    /// The start of the name of the weights a `.keras` file's archive is extracted to, in the
    /// temporary folder: `keras-archive.sightline-PID-UUID.weights.h5`.
    static let scratchPrefix = "keras-archive."
    /// Whether `path` starts with a zip signature (so `.keras` files are recognised whatever
    /// their name).
    public static func isArchive(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        let signature = (try? handle.read(upToCount: 4)) ?? Data()
        return signature == Data([0x50, 0x4B, 0x03, 0x04])
    }

    /// The archive's weights (via a temporary copy of `model.weights.h5`, which libhdf5 needs as
    /// a file) with `config.json` as the model configuration.
    public static func read(path: String) throws(ModelFileError) -> KerasWeightFile {
        let archive: Archive
        do {
            archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .read)
        } catch {
            throw ModelFileError(file: path, "not a readable .keras archive (\(error))", kind: .archive)
        }
        guard let weightsEntry = archive["model.weights.h5"] else {
            throw ModelFileError(file: path, "the .keras archive has no model.weights.h5", kind: .archive)
        }
        /// A member extracted within `cap` bytes and its declared size (a member whose data
        /// expands past what it declares is refused as it expands, before memory grows).
        func text(_ name: String, cap: UInt64) throws(ModelFileError) -> String? {
            guard let entry = archive[name] else { return nil }
            if let problem = ArchiveLimits.sizeProblem(declared: entry.uncompressedSize, cap: cap) {
                throw ModelFileError(file: path, object: name, problem, kind: .archive)
            }
            var data = Data()
            do {
                _ = try archive.extract(entry) { chunk in
                    guard UInt64(data.count + chunk.count) <= entry.uncompressedSize else {
                        throw ModelFileError(
                            file: path, object: name,
                            "expands past the \(entry.uncompressedSize) bytes it declares (a corrupt or hostile archive)",
                            kind: .archive)
                    }
                    data.append(chunk)
                }
            } catch let error as ModelFileError {
                throw error
            } catch {
                throw ModelFileError(file: path, object: name, "cannot be extracted (\(error))", kind: .archive)
            }
            let text = String(decoding: data, as: UTF8.self)
            if let problem = ArchiveLimits.depthProblem(text) {
                throw ModelFileError(file: path, object: name, problem, kind: .archive)
            }
            return text
        }
        let config = try text("config.json", cap: ArchiveLimits.configBytes)
        // metadata.json: {"keras_version": "3.15.1", "date_saved": …}.
        var metadata: [String: Any]?
        if let json = try text("metadata.json", cap: ArchiveLimits.metadataBytes) {
            guard let object = (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any] else {
                throw ModelFileError(
                    file: path, object: "metadata.json",
                    "is not a JSON object; re-save the model with Keras 3 (keras.saving.save_model)", kind: .archive)
            }
            metadata = object
        }
        let version = metadata?["keras_version"] as? String
        // Named after this process, so that a copy left by a killed run is removed by the next;
        // the prefix keeps that sweep off every other file in the folder (a user's
        // `sightline-1234…` among them).
        let scratch = FileManager.default.temporaryDirectory
        AtomicFile.removeStale(in: scratch.path, prefix: Self.scratchPrefix)
        let temporary = scratch.appendingPathComponent(
            "\(Self.scratchPrefix)sightline-\(getpid())-\(UUID().uuidString).weights.h5")
        let registration = TemporaryFiles.register(temporary.path)
        defer {
            try? FileManager.default.removeItem(at: temporary)
            TemporaryFiles.unregister(registration)
        }
        if let problem = ArchiveLimits.sizeProblem(
            declared: weightsEntry.uncompressedSize, cap: ArchiveLimits.weightsBytes)
        {
            throw ModelFileError(file: path, object: "model.weights.h5", problem, kind: .archive)
        }
        do {
            try AtomicFile.checkSpace(for: temporary.path, bytes: Int(weightsEntry.uncompressedSize))
        } catch {
            throw ModelFileError(
                file: path, object: "model.weights.h5", "cannot be extracted to \(scratch.path): \(error)",
                kind: .archive)
        }
        do {
            try extract(weightsEntry, of: archive, to: temporary)
        } catch let error as ModelFileError {
            throw ModelFileError(file: path, object: "model.weights.h5", error.message, kind: .archive)
        } catch {
            throw ModelFileError(
                file: path, object: "model.weights.h5", "cannot be extracted (\(error))", kind: .archive)
        }
        let file = try HDF5File(reading: temporary.path)
        return try KerasWeightFile(
            file: file, displayPath: path, format: .kerasArchive, modelConfig: config, kerasVersion: version)
    }

    /// Extracts `entry` to `url`, stopping as soon as the data passes the size it declares.
    private static func extract(_ entry: Entry, of archive: Archive, to url: URL) throws {
        guard FileManager.default.createFile(atPath: url.path, contents: nil),
            let handle = FileHandle(forWritingAtPath: url.path)
        else { throw ModelFileError(file: url.path, "cannot create the temporary copy") }
        defer { try? handle.close() }
        var written: UInt64 = 0
        _ = try archive.extract(entry) { chunk in
            written += UInt64(chunk.count)
            guard written <= entry.uncompressedSize else {
                throw ModelFileError(
                    file: url.path,
                    "expands past the \(entry.uncompressedSize) bytes it declares (a corrupt or hostile archive)")
            }
            try handle.write(contentsOf: chunk)
        }
    }

    /// Reads `path` as a `.keras` archive or as an HDF5 weights file, whichever it is.
    public static func readAny(path: String) throws(ModelFileError) -> KerasWeightFile {
        if TorchStateDict.recognises(path) { return try KerasWeightFile(torch: path) }
        return isArchive(path) ? try read(path: path) : try KerasWeightFile(path: path)
    }
}

import Foundation
import SightlineCore
internal import ZIPFoundation

/// Reads a Keras 3 `.keras` archive: a zip holding `config.json` (the architecture),
/// `metadata.json` and `model.weights.h5` (the `.weights.h5` layout).
public enum KerasArchive {
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
        func text(_ name: String) throws(ModelFileError) -> String? {
            guard let entry = archive[name] else { return nil }
            var data = Data()
            do {
                _ = try archive.extract(entry) { data.append($0) }
            } catch {
                throw ModelFileError(file: path, object: name, "cannot be extracted (\(error))", kind: .archive)
            }
            return String(decoding: data, as: UTF8.self)
        }
        let config = try text("config.json")
        // metadata.json: {"keras_version": "3.15.1", "date_saved": …}.
        var metadata: [String: Any]?
        if let json = try text("metadata.json") {
            guard let object = (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any] else {
                throw ModelFileError(
                    file: path, object: "metadata.json",
                    "is not a JSON object; re-save the model with Keras 3 (keras.saving.save_model)", kind: .archive)
            }
            metadata = object
        }
        let version = metadata?["keras_version"] as? String
        // Named after this process, so that a copy left by a killed run is removed by the next.
        let scratch = FileManager.default.temporaryDirectory
        AtomicFile.removeStale(in: scratch.path, prefix: "")
        let temporary = scratch.appendingPathComponent("sightline-\(getpid())-\(UUID().uuidString).weights.h5")
        let registration = TemporaryFiles.register(temporary.path)
        defer {
            try? FileManager.default.removeItem(at: temporary)
            TemporaryFiles.unregister(registration)
        }
        do {
            _ = try archive.extract(weightsEntry, to: temporary)
        } catch {
            throw ModelFileError(
                file: path, object: "model.weights.h5", "cannot be extracted (\(error))", kind: .archive)
        }
        let file = try HDF5File(reading: temporary.path)
        return try KerasWeightFile(
            file: file, displayPath: path, format: .kerasArchive, modelConfig: config, kerasVersion: version)
    }

    /// Reads `path` as a `.keras` archive or as an HDF5 weights file, whichever it is.
    public static func readAny(path: String) throws(ModelFileError) -> KerasWeightFile {
        isArchive(path) ? try read(path: path) : try KerasWeightFile(path: path)
    }
}

import Foundation
import SightlineCore
import SightlineModels
import SightlineNN
internal import ZIPFoundation

/// Writes Keras 3 `.keras` archives that `keras.saving.load_model` opens: a zip of
/// `config.json` (`Keras3ConfigWriter`), `metadata.json` and `model.weights.h5`, whose
/// `layers/<snake_case class>[_n]/vars/<i>` groups follow Keras's layer order (Keras finds
/// weights by that position; each `vars` group also carries the layer's `name`). Sightline's
/// provenance (`sightline_version`, `sightline_preprocessing`, `sightline_source`,
/// `class_names`) goes into the weights file's root attributes, where Sightline reads it back.
enum KerasArchiveWriter {
    /// The Keras release whose archive format this follows.
    static let kerasVersion = "3.15.1"

    static func save(_ graph: Graph, to path: String, metadata: KerasWriter.Metadata, modelName: String) throws {
        let config = try ModelFileError.naming(path) { try Keras3ConfigWriter.config(of: graph, name: modelName) }
        // The members are written next to the output (same disk, checked for space), in a folder
        // named after this process so that one left by a killed run is removed by the next.
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent()
        let prefix = ".\(URL(fileURLWithPath: path).lastPathComponent)."
        AtomicFile.removeStale(in: folder.path, prefix: prefix)
        let scratch = folder.appendingPathComponent("\(prefix)sightline-\(getpid())-\(UUID().uuidString).members")
        let registrations = ([""] + ["metadata.json", "config.json", "model.weights.h5"]).map {
            TemporaryFiles.register($0.isEmpty ? scratch.path : scratch.appendingPathComponent($0).path)
        }
        defer {
            try? FileManager.default.removeItem(at: scratch)
            registrations.forEach(TemporaryFiles.unregister)
        }
        do {
            try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
            try writeWeights(graph, metadata: metadata, to: scratch.appendingPathComponent("model.weights.h5").path)
            try AtomicFile.write(
                JSONSerialization.data(withJSONObject: config, options: [.sortedKeys]),
                to: scratch.appendingPathComponent("config.json").path)
        } catch {
            throw AtomicFile.WriteError(path: path, reason: Self.reason(error, scratch: scratch.path))
        }
        let date = ISO8601DateFormatter().string(from: Date())
        let info: [String: Any] = [
            "keras_version": kerasVersion, "date_saved": date, "sightline_version": metadata.sightlineVersion,
        ]
        try AtomicFile.write(
            JSONSerialization.data(withJSONObject: info, options: [.sortedKeys]),
            to: scratch.appendingPathComponent("metadata.json").path)
        try AtomicFile.write(to: path) { temporary in
            do {
                let archive = try Archive(url: URL(fileURLWithPath: temporary), accessMode: .create)
                for entry in ["metadata.json", "config.json", "model.weights.h5"] {
                    errno = 0
                    try archive.addEntry(with: entry, relativeTo: scratch, compressionMethod: .deflate)
                }
            } catch {
                // ZIPFoundation says only "unwritableFile"; the system's errno says why.
                let reason = errno == 0 ? "cannot write the archive (\(error))" : SystemError.describe(errno)
                throw AtomicFile.WriteError(path: path, reason: reason)
            }
        }
    }

    /// A member's failure said of the archive: the scratch folder's paths left out.
    private static func reason(_ error: any Error, scratch: String) -> String {
        var text = (error as? AtomicFile.WriteError)?.reason ?? "\(error)"
        for prefix in [scratch + "/model.weights.h5: ", scratch + "/"] {
            text = text.replacingOccurrences(of: prefix, with: "")
        }
        return text
    }

    private static func writeWeights(_ graph: Graph, metadata: KerasWriter.Metadata, to path: String) throws {
        let file = try HDF5File(creating: path)
        try metadata.write(to: file)
        try file.createGroup("/layers")
        try file.createGroup("/vars")
        var used: [String: Int] = [:]
        for name in Keras3ConfigWriter.layerOrder(graph) {
            guard let node = graph.node(named: name), !(node.layer is TensorOperation) else { continue }
            let base = Keras3ConfigWriter.snakeCase(node.layer.map(KerasLayers.className(of:)) ?? "InputLayer")
            let count = used[base, default: -1] + 1
            used[base] = count
            let group = "/layers/\(count == 0 ? base : "\(base)_\(count)")"
            try file.createGroup(group)
            try file.createGroup("\(group)/vars")
            try file.writeString(name, attribute: "name", on: "\(group)/vars")
            for (index, parameter) in (node.layer?.parameters ?? []).enumerated() {
                try file.write(parameter.value, to: "\(group)/vars/\(index)")
            }
        }
        try file.close()
    }
}

import Foundation
import SightlineCore
import SightlineModels
import SightlineNN

/// Writes models in the Keras legacy `.h5` layout, which real Keras loads
/// (`keras.models.load_model` for full models, `model.load_weights` for weights-only files):
///
/// - root (or `model_weights/` for a full model): `layer_names` (every layer, fixed-length
///   strings), `backend`, `keras_version`; per layer a group with `weight_names`
///   (`<layer>/<weight>:0`, or an empty float list) and the datasets at `<layer>/<layer>/<weight>:0`;
/// - full model: root `model_config` (Keras 2 format, see `KerasConfigWriter`), `keras_version`,
///   `backend`;
/// - Sightline's own root attributes: `sightline_version`, `sightline_preprocessing` and
///   `sightline_source` (the file the model was loaded from), so every file says what made it.
///
/// The file is written under a temporary name in the same folder and renamed when complete.
public enum KerasWriter {
    /// The `keras_version` written: the tf.keras release whose layout and config format the file
    /// follows (Keras reads it to decide which conversions to apply; 2.x means none).
    public static let kerasVersion = "2.15.0"

    /// Provenance recorded in every file Sightline writes.
    public struct Metadata: Sendable {
        public var sightlineVersion: String
        public var preprocessing: Preprocessing
        public var source: String
        /// Class names in output order, written as the `class_names` attribute.
        public var classNames: [String]?
        /// Further root string attributes (a head records the feature layer it was trained on).
        public var extra: [String: String]

        public init(
            sightlineVersion: String, preprocessing: Preprocessing, source: String, classNames: [String]? = nil,
            extra: [String: String] = [:]
        ) {
            (self.sightlineVersion, self.preprocessing, self.source) = (sightlineVersion, preprocessing, source)
            (self.classNames, self.extra) = (classNames, extra)
        }

        /// Writes these facts as root attributes of `file` (`sightline_version`,
        /// `sightline_preprocessing`, `sightline_source`, `class_names` and the extras).
        func write(to file: HDF5File) throws {
            try file.writeString(sightlineVersion, attribute: "sightline_version")
            try file.writeString(preprocessing.rawValue, attribute: "sightline_preprocessing")
            try file.writeString(source, attribute: "sightline_source")
            if let classNames { try file.writeStrings(classNames, attribute: "class_names") }
            for (name, value) in extra.sorted(by: { $0.key < $1.key }) { try file.writeString(value, attribute: name) }
        }
    }

    /// Writes `graph` to `path`: a full model (architecture + weights) or, with `weightsOnly`,
    /// the weights alone.
    ///
    /// The format follows the extension: `.h5` writes this legacy layout, `.keras` a Keras 3
    /// archive (`KerasArchiveWriter`; full models only); any other extension is refused before
    /// anything is written.
    public static func save(
        _ graph: Graph, to path: String, metadata: Metadata, weightsOnly: Bool = false, modelName: String = "model"
    ) throws {
        for node in graph.nodes {
            for parameter in node.layer?.parameters ?? []
            where !parameter.value.allFinite {
                throw ModelFileError(
                    file: path,
                    "\(node.name)/\(parameter.name) holds NaN or infinite values; nothing was written (the previous file, if any, is unchanged)",
                    kind: .unwritable
                )
            }
        }
        try AtomicFile.checkSpace(for: path, bytes: graph.parameterCount * MemoryLayout<Float>.size)
        switch URL(fileURLWithPath: path).pathExtension.lowercased() {
        case "h5", "hdf5":
            break
        case "onnx":
            guard !weightsOnly else {
                throw ModelFileError(
                    file: path, "an ONNX file holds a full model; write the weights only to a .h5 file",
                    kind: .unwritable)
            }
            try ModelFileError.naming(path) { try ONNXWriter.save(graph, to: path, metadata: metadata) }
            return
        case "keras":
            guard !weightsOnly else {
                throw ModelFileError(
                    file: path,
                    "a .keras archive holds a full model; write the weights only to a .weights.h5 or .h5 file",
                    kind: .unwritable)
            }
            try KerasArchiveWriter.save(graph, to: path, metadata: metadata, modelName: modelName)
            return
        default:
            throw ModelFileError(
                file: path,
                "Sightline writes .h5 (Keras legacy HDF5), .keras (Keras 3 archive) and .onnx; choose one of those extensions",
                kind: .unwritable
            )
        }
        // Check the architecture can be expressed before touching the disk.
        let config = try ModelFileError.naming(path) {
            weightsOnly ? nil : try KerasConfigWriter.config(of: graph, name: modelName)
        }
        try AtomicFile.write(to: path) { try write(graph, config: config, metadata: metadata, to: $0) }
    }

    private static func write(_ graph: Graph, config: [String: Any]?, metadata: Metadata, to path: String) throws {
        let file = try HDF5File(creating: path)
        let root = config == nil ? "/" : "/model_weights"
        try file.createGroup(root)
        if let config {
            let json = try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys])
            try file.writeString(String(decoding: json, as: UTF8.self), attribute: "model_config")
            try file.writeString(kerasVersion, attribute: "keras_version")
            try file.writeString("tensorflow", attribute: "backend")
        }
        try metadata.write(to: file)
        try file.writeStrings(graph.nodes.map(\.name), attribute: "layer_names", on: root)
        try file.writeString(kerasVersion, attribute: "keras_version", on: root)
        try file.writeString("tensorflow", attribute: "backend", on: root)
        for node in graph.nodes {
            let group = root == "/" ? "/\(node.name)" : "\(root)/\(node.name)"
            try file.createGroup(group)
            let parameters = node.layer?.parameters ?? []
            guard !parameters.isEmpty else {
                try file.writeEmptyList(attribute: "weight_names", on: group)
                continue
            }
            // Keras lists trainable weights before non-trainable ones within a layer; Sightline's
            // parameter order already is Keras's creation order, which matches for every layer here.
            let names = parameters.map { "\(node.name)/\($0.name):0" }
            try file.writeStrings(names, attribute: "weight_names", on: group)
            for (parameter, name) in zip(parameters, names) {
                try file.write(parameter.value, to: "\(group)/\(name)")
            }
        }
        try file.close()
    }
}

import SightlineCore

/// The output checks of every command (`OutputPath`), run after parsing and before any model is
/// loaded or any image read; a problem is a usage error (exit 2) naming the option and the fix.
enum Outputs {
    /// A model file: Keras `.h5` or a `.keras` archive.
    static let model = OutputPath.Kind.file(extensions: ["h5", "hdf5", "keras"])
    /// What `convert` writes: a model file, or an ONNX model.
    static let converted = OutputPath.Kind.file(extensions: ["h5", "hdf5", "keras", "onnx"])
    /// An HDF5 file (features, heads).
    static let hdf5 = OutputPath.Kind.file(extensions: ["h5", "hdf5"])

    /// Checks `path` against `inputs` (and `companions`, the files written next to it).
    static func check(
        _ path: String, option: String = "--output", kind: OutputPath.Kind, inputs: [String?],
        companions: [String] = []
    ) throws {
        do {
            try OutputPath.check(
                path, option: option, kind: kind, inputs: inputs.compactMap { $0 }, companions: companions)
        } catch {
            throw CommandError.usage(error.description)
        }
    }
}

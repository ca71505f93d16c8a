import ArgumentParser
import SightlineWeights

extension Architecture: ExpressibleByArgument {}
extension Preprocessing: ExpressibleByArgument {}

/// How every command that takes a `MODEL` reads it.
struct ModelOptions: ParsableArguments {
    @Argument(help: "A Keras model or weights file (.h5, .weights.h5, .keras).")
    var model: String

    @Option(help: "The architecture of a weights-only file (\(Architecture.allCases.map(\.rawValue).joined(separator: ", "))); recognised from layer names when omitted.")
    var arch: Architecture?

    @Option(help: "Override the preprocessing (\(Preprocessing.allCases.map(\.rawValue).joined(separator: ", "))).")
    var preprocessing: Preprocessing?

    @Option(help: "Image height and width for models that accept any size (default 224).")
    var inputSize: Int?

    @Flag(help: "Load even if some layers' shapes differ from the file (they keep random/zero weights and are reported).")
    var skipMismatch = false

    /// Loads the model, strictly unless `--skip-mismatch`.
    func load() throws -> LoadedModel {
        try ModelLoader.load(
            path: model, architecture: arch, preprocessing: preprocessing, inputSize: inputSize,
            options: WeightLoadOptions(skipMismatch: skipMismatch, allowPartial: skipMismatch))
    }
}

import ArgumentParser
import SightlineWeights

/// `sightline convert MODEL --output OUT.h5`: any supported model file to the Keras legacy
/// `.h5` layout that Keras loads, with Sightline's provenance attributes.
struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a model as a Keras .h5 file (full model, or weights only) that real Keras loads.")

    @OptionGroup var options: ModelOptions

    @Option(name: .shortAndLong, help: "The .h5 file to write (written under a temporary name, then renamed).")
    var output: String

    @Flag(help: "Write the weights only (for Keras's model.load_weights), without the architecture.")
    var weightsOnly = false

    func run() throws {
        let loaded = try options.load()
        let metadata = KerasWriter.Metadata(sightlineVersion: Sightline.version, preprocessing: loaded.preprocessing, source: loaded.file.path)
        try KerasWriter.save(loaded.graph, to: output, metadata: metadata, weightsOnly: weightsOnly, modelName: loaded.architecture?.rawValue ?? "model")
        print("wrote \(output) (\(weightsOnly ? "weights only" : "full model"), \(loaded.graph.parameterCount.formatted()) parameters, preprocessing \(loaded.preprocessing.rawValue))")
    }
}

import ArgumentParser
import SightlineTransfer
import SightlineWeights

/// `sightline convert MODEL --output OUT.keras|OUT.h5|OUT.onnx`: any supported model file to a
/// Keras 3 `.keras` archive or the legacy `.h5` layout, which Keras loads, or an ONNX model, which
/// ONNX Runtime runs, with Sightline's provenance.
struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Write a model as a Keras 3 .keras archive or a Keras .h5 file (full model, or weights only) that real Keras loads, or as an .onnx model (NCHW input) that ONNX Runtime runs."
    )

    @OptionGroup var options: ModelOptions

    @Option(
        name: .shortAndLong,
        help:
            "The .keras, .h5 or .onnx file to write (the extension picks the format; written under a temporary name, then renamed)."
    )
    var output: String

    @Flag(help: "Write the weights only (for Keras's model.load_weights), without the architecture.")
    var weightsOnly = false

    @Option(
        help:
            "A head from `sightline train-head`: writes MODEL up to the head's layer with the head on top, as one model with the head's class names."
    )
    var head: String?

    func run() throws {
        try Outputs.check(output, kind: Outputs.converted, inputs: [options.model, head])
        if let head { try options.checkBackbone(head: head) }
        let loaded = try options.load()
        let graph = try head.map { try HeadAttachment.stack(loaded, head: $0) } ?? loaded.graph
        // The head's class names, else the model's own (a fine-tuned model keeps its names).
        let classNames =
            try head.map { try HDF5File(reading: $0).stringsAttribute("class_names") } ?? loaded.file.classNames
        let metadata = KerasWriter.Metadata(
            sightlineVersion: Sightline.version, preprocessing: loaded.preprocessing, source: loaded.file.path,
            classNames: classNames)
        try KerasWriter.save(
            graph, to: output, metadata: metadata, weightsOnly: weightsOnly,
            modelName: head == nil ? loaded.architecture?.rawValue ?? "model" : "model_with_head")
        print(
            "wrote \(output) (\(weightsOnly ? "weights only" : "full model"), \(graph.parameterCount.formatted()) parameters, preprocessing \(loaded.preprocessing.rawValue))"
        )
    }
}

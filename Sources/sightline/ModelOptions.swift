import ArgumentParser
import SightlineCore
import SightlineData
import SightlineModels
import SightlineNN
import SightlineTransfer
import SightlineWeights

extension Architecture: ExpressibleByArgument {}
extension Preprocessing: ExpressibleByArgument {}

/// How every command that takes a `MODEL` reads it.
struct ModelOptions: ParsableArguments {
    @Argument(help: "A Keras model or weights file (.h5, .weights.h5, .keras).")
    var model: String

    @Option(
        help:
            "The architecture of a weights-only file: \(Architecture.allCases.map(\.rawValue).joined(separator: ", ")) or a Keras Applications family (efficientnetb0…b7, efficientnetv2b0…b3/s, mobilenet, mobilenetv2, mobilenetv3small/large, densenet121/169/201, inceptionv3, inceptionresnetv2, xception, resnet50v2/101v2/152v2, nasnetmobile, convnexttiny/small/base); recognised from layer names when omitted."
    )
    var arch: String?

    func validate() throws {
        if let arch, Architecture(rawValue: arch) == nil, !KerasApplications.families.contains(arch) {
            throw ValidationError(
                "--arch \(arch) is not a known architecture; choose from \((Architecture.allCases.map(\.rawValue) + KerasApplications.families).joined(separator: ", "))"
            )
        }
    }

    @Option(help: "Override the preprocessing (\(Preprocessing.allCases.map(\.rawValue).joined(separator: ", "))).")
    var preprocessing: Preprocessing?

    @Option(help: "Image height and width for models that accept any size (default 224).")
    var inputSize: Int?

    @Flag(
        help: "Load even if some layers' shapes differ from the file (they keep random/zero weights and are reported).")
    var skipMismatch = false

    /// Loads the model, strictly unless `--skip-mismatch`. Warns when no preprocessing is known
    /// and the model does not scale its own input (a Keras Applications MobileNet, say, run on
    /// 0…255 pixels gives confident nonsense). `engine` (from `EngineOptionGroup`) is set on the graph.
    func load(engine: EngineOptions? = nil) throws -> LoadedModel {
        let loaded = try ModelLoader.load(
            path: model, architecture: arch.flatMap(Architecture.init(rawValue:)),
            kerasApplication: arch.flatMap { Architecture(rawValue: $0) == nil ? $0 : nil },
            preprocessing: preprocessing, inputSize: inputSize,
            options: WeightLoadOptions(skipMismatch: skipMismatch, allowPartial: skipMismatch))
        if preprocessing == nil, loaded.preprocessing == .none, !Self.scalesItsInput(loaded.graph) {
            Report.warning(
                "\(model): no preprocessing is recorded and the model does not scale its input (no Rescaling or Normalization layer); pixels go in as 0…255. Pass --preprocessing tf (MobileNet, Inception, Xception, ResNetV2), caffe (VGG, ResNet) or torch if the weights expect it"
            )
        }
        loaded.graph.engineOptions = engine ?? EngineOptionGroup.defaults
        return loaded
    }

    /// A classifier for `predict` and `evaluate`: the model with `--head` stacked on it, its input
    /// (checked to be an image), output node and class count. `use` completes the error
    /// when the output is not a class vector.
    func loadClassifier(head: String?, engine: EngineOptions, use: String) throws -> Classifier {
        if let head { try checkBackbone(head: head) }
        let loaded = try load(engine: engine)
        let graph = try head.map { try HeadAttachment.stack(loaded, head: $0) } ?? loaded.graph
        let input = try ModelInput(graph: graph, preprocessing: loaded.preprocessing)
        guard let output = graph.outputNames.first, let classes = graph.shape(of: output)?.last,
            graph.shape(of: output)?.count == 1
        else {
            throw CommandError(message: "\(model): the output is not a class vector; \(use)")
        }
        return Classifier(model: loaded, graph: graph, input: input, output: output, classes: classes)
    }

    /// What `predict` and `evaluate` start with: the engine options (`engine`, leaving the
    /// image decoders their cores), the classifier (`loadClassifier`) and the class names the
    /// head or the model records.
    func classifier(head: String?, engine: EngineOptionGroup, use: String) throws -> Classifier {
        let engineOptions = try engine.make(decodeWorkers: ImageBatchStream.defaultWorkers)
        var classifier = try loadClassifier(head: head, engine: engineOptions, use: use)
        classifier.recordedClassNames = ImageInputs.recordedClassNames(head: head, model: classifier.model)
        return classifier
    }

    /// Refuses a head trained on another backbone's features: the head records the MD5 of the
    /// model file its features came from (`sightline_backbone_md5`), which must be `model`'s.
    /// Heads that record none are accepted.
    func checkBackbone(head: String) throws {
        guard let recorded = try HDF5File(reading: head).stringAttribute("sightline_backbone_md5"),
            !recorded.isEmpty
        else { return }
        let actual = try MD5.hexDigest(ofFile: model)
        guard actual == recorded else {
            throw CommandError.usage(
                "--head \(head) was trained on features of another backbone (MD5 \(recorded)), not \(model) (MD5 \(actual)); use the model the features were extracted with, or extract features from this one and train a head on them"
            )
        }
    }

    /// What `loadClassifier` returns.
    struct Classifier {
        var model: LoadedModel
        var graph: Graph
        /// The checked image input, its decode and preprocessing.
        var input: ModelInput
        var output: String
        var classes: Int
        /// The class names the head (or else the model) records, if any.
        var recordedClassNames: [String]? = nil
        /// True when the output is already probabilities (a final softmax).
        var outputsProbabilities: Bool { Predict.endsInSoftmax(graph.layer(named: output)) }
    }

    /// True when a layer right after the input rescales or normalises it.
    static func scalesItsInput(_ graph: Graph) -> Bool {
        graph.nodes.contains { node in
            guard let layer = node.layer, node.inputs.contains(where: graph.inputNames.contains) else { return false }
            return layer is Rescaling || layer is Normalization
        }
    }
}

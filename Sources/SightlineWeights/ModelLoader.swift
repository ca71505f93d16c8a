import Foundation
import SightlineModels
import SightlineNN

/// A model read from a file: the graph with its weights, its preprocessing, and where both
/// came from.
public struct LoadedModel {
    public let graph: Graph
    /// The preprocessing its weights expect.
    public let preprocessing: Preprocessing
    /// How the preprocessing was decided (for `inspect`).
    public let preprocessingSource: String
    /// What the file says about itself (path, format, versions, class names); not its weights,
    /// which live in `graph` alone once loaded, so a fine-tuning job does not hold them twice.
    public let file: ModelFileFacts
    /// How the architecture was obtained: `model_config`, recognised from layer names, or `--arch`.
    public let architectureSource: String
    /// The built-in architecture, when the model is one.
    public let architecture: Architecture?
}

/// The facts of a model file a loaded model keeps: everything `KerasWeightFile` reads except
/// the stored weights.
public struct ModelFileFacts: Sendable {
    public let path: String
    public let format: KerasFileFormat
    /// `keras_version`, nil for Keras 1 files (which have none).
    public let kerasVersion: String?
    public let backend: String?
    /// The `model_config` JSON of a full-model file.
    public let modelConfig: String?
    /// The preprocessing recorded by Sightline when it wrote the file.
    public let recordedPreprocessing: String?
    /// Class names recorded by Sightline (fine-tuned models, heads).
    public let classNames: [String]?

    /// A file that is not a Keras file (ONNX): what it is and where it is.
    init(path: String, format: KerasFileFormat) {
        self.path = path
        self.format = format
        (kerasVersion, backend, modelConfig, recordedPreprocessing, classNames) = (nil, nil, nil, nil, nil)
    }

    init(_ file: KerasWeightFile) {
        path = file.path
        format = file.format
        kerasVersion = file.kerasVersion
        backend = file.backend
        modelConfig = file.modelConfig
        recordedPreprocessing = file.recordedPreprocessing
        classNames = file.classNames
    }
}

/// What layer names and weight shapes say about a weights-only file.
public struct RecognisedArchitecture: Equatable, Sendable {
    public var architecture: Architecture
    public var includeTop: Bool
    public var classes: Int
    public var widthDivisor: Int
    /// Implied by VGG's `fc1` (its rows fix the input size); nil when any size works.
    public var inputSize: Int?
}

/// Reads any supported model file into a graph with its weights.
public enum ModelLoader {
    /// Loads `path` (legacy `.h5`, `.weights.h5` or `.keras`).
    /// - Parameters:
    ///   - architecture: overrides the architecture (required for weights-only files whose layer
    ///     names are not recognised).
    ///   - preprocessing: overrides the preprocessing.
    ///   - inputSize: image height and width for architectures that accept any size (default 224).
    ///   - options: how weights are matched (strict by default).
    public static func load(
        path: String, architecture: Architecture? = nil, kerasApplication: String? = nil,
        preprocessing: Preprocessing? = nil, inputSize: Int? = nil,
        options: WeightLoadOptions = WeightLoadOptions()
    ) throws -> LoadedModel {
        if ONNXModel.recognises(path) {
            let (graph, opset, recorded) = try ONNXModel.graph(path: path, imageSize: inputSize ?? 224)
            let written = recorded.flatMap(Preprocessing.init(rawValue:))
            return LoadedModel(
                graph: graph, preprocessing: preprocessing ?? written ?? .none,
                preprocessingSource: preprocessing != nil
                    ? "given"
                    : written != nil
                        ? "recorded in the file by Sightline"
                        : "not recorded in an ONNX file; pass --preprocessing (torch for torchvision exports)",
                file: ModelFileFacts(path: path, format: .onnx), architectureSource: "the ONNX graph (opset \(opset))",
                architecture: nil)
        }
        let file = try KerasArchive.readAny(path: path)
        let graph: Graph
        let source: String
        var builtIn = architecture
        var application: KerasApplications.Entry?
        var family: KerasApplications.Entry?
        if let family = kerasApplication {
            guard let entry = KerasApplications.entry(family: family, for: file) else {
                throw ModelFileError(
                    file: path,
                    "--arch \(family) is not a known architecture; choose from \((Architecture.allCases.map(\.rawValue) + KerasApplications.families).joined(separator: ", "))",
                    kind: .architecture
                )
            }
            graph = try KerasApplications.graph(entry, inputSize: inputSize)
            source = "--arch \(family)\(entry.includeTop ? "" : " without top") (the Keras Applications architecture)"
            application = entry
        } else if let architecture {
            let shape = recognise(file)
            graph = try architecture.build(
                includeTop: shape?.includeTop ?? true, classes: shape?.classes ?? 1000,
                inputShape: size(inputSize ?? shape?.inputSize),
                weights: .zeros, widthDivisor: shape?.widthDivisor ?? 1)
            source = "--arch \(architecture.rawValue)"
        } else if let config = file.modelConfig {
            if let problem = ArchiveLimits.depthProblem(config) {
                throw ModelFileError(file: path, object: "model_config", problem, kind: .layout)
            }
            do {
                graph = try ModelConfigImporter.graph(fromJSON: config, defaultImageSize: inputSize ?? 224)
            } catch let error as NSError where error.domain == NSCocoaErrorDomain {
                throw ModelFileError(
                    file: path, object: "model_config", "is not valid JSON (\(error.localizedDescription))",
                    kind: .layout)
            }
            if graph.inputNames.count > 1 {
                let inputs = graph.inputNames.map { "\($0) \(graph.shape(of: $0) ?? [])" }
                throw ModelFileError(
                    file: path, object: "model_config",
                    "the model has \(inputs.count) inputs (\(inputs.joined(separator: ", "))); Sightline runs models with one image input [height, width, channels]; save the image branch as a model of its own and use that",
                    kind: .layout)
            }
            source = "model_config in the file"
            builtIn = recognise(file)?.architecture
            // The preprocessing of a Keras Applications family whose weighted layers the file
            // has exactly (the weights still load by the config's names).
            family = builtIn == nil ? KerasApplications.recognise(file) : nil
        } else if let recognised = recognise(file) {
            graph = try recognised.architecture.build(
                includeTop: recognised.includeTop, classes: recognised.classes,
                inputShape: size(inputSize ?? recognised.inputSize),
                weights: .zeros, widthDivisor: recognised.widthDivisor)
            let evidence = file.namesAreKeras3Keys ? "its Keras 3 layer keys" : "its layer names"
            source =
                "recognised as \(recognised.architecture.rawValue)\(recognised.includeTop ? "" : " without top") from \(evidence)"
            builtIn = recognised.architecture
        } else if let entry = KerasApplications.recognise(file) {
            graph = try KerasApplications.graph(entry, inputSize: inputSize)
            source = "recognised as \(entry.family)\(entry.includeTop ? "" : " without top") from its layer names"
            application = entry
        } else if file.format.isPyTorch, let family = TorchVisionFamily.recognise(file.stateDictShapes) {
            do throws(LayerError) {
                graph = try family.build(file.stateDictShapes, inputShape: size(inputSize))
            } catch {
                throw ModelFileError(
                    file: path, object: error.layer,
                    "looks like torchvision's \(family.rawValue) but \(error.message); export the model to ONNX (torch.onnx.export), which carries its architecture",
                    kind: .architecture)
            }
            source =
                file.namesAreTimm
                ? "recognised as timm \(family.rawValue) from its module names (mapped to torchvision's)"
                : "recognised as torchvision \(family.rawValue) from its module names"
        } else if file.format.isPyTorch {
            let modules = Set(file.layers.prefix(4).map(\.name)).sorted().joined(separator: ", ")
            let families = (["VGG11–19 (with or without BatchNorm)"] + TorchVisionFamily.allCases.map(\.rawValue))
            throw ModelFileError(
                file: path,
                "a state dict of a network Sightline has no builder for (modules \(modules), …): Sightline builds torchvision's \(families.joined(separator: ", ")) from their state dicts; for another network export it to ONNX (torch.onnx.export), which carries its architecture",
                kind: .architecture)
        } else {
            throw ModelFileError(
                file: path,
                "a weights-only file whose layer names are not a known architecture; pass --arch (\((Architecture.allCases.map(\.rawValue) + KerasApplications.families).joined(separator: ", ")))",
                kind: .architecture
            )
        }
        var loadOptions = options
        if let application { loadOptions.matching = KerasApplications.matching(application, file) }
        try WeightLoader.load(file, into: graph, options: loadOptions)
        let mode: Preprocessing
        let modeSource: String
        if let preprocessing {
            (mode, modeSource) = (preprocessing, "given")
        } else if let recorded = file.recordedPreprocessing.flatMap(Preprocessing.init(rawValue:)) {
            (mode, modeSource) = (recorded, "recorded in the file by Sightline")
        } else if file.format.isPyTorch {
            (mode, modeSource) = (.torch, "PyTorch weights (torchvision's ImageNet normalisation)")
        } else if let builtIn {
            (mode, modeSource) = (builtIn.preprocessing, "Keras Applications \(builtIn.rawValue)")
        } else if let application = application ?? family {
            (mode, modeSource) = (
                application.preprocessing,
                "Keras Applications \(application.family)\(application.preprocessing == .none ? ", which scales its input itself" : "")"
            )
        } else {
            (mode, modeSource) = (.none, "not recorded in the file; pass --preprocessing if the model expects one")
        }
        return LoadedModel(
            graph: graph, preprocessing: mode, preprocessingSource: modeSource, file: ModelFileFacts(file),
            architectureSource: source, architecture: builtIn)
    }

    private static func size(_ side: Int?) -> [Int] { [side ?? 224, side ?? 224, 3] }

    /// Recognises Keras Applications VGG16/19 and ResNet50/101/152 (new and Keras ≤ 2.2 names)
    /// from a file's layer names, with classes and width read from the weight shapes.
    public static func recognise(_ file: KerasWeightFile) -> RecognisedArchitecture? {
        if file.namesAreKeras3Keys { return recogniseKeras3Keys(file) }
        var shapes: [String: [[Int]]] = [:]
        for layer in file.layers { shapes[layer.name] = layer.weights.map(\.value.shape) }
        func out(_ name: String) -> Int? { shapes[name]?.first?.last }
        func divisor(_ first: String) -> Int { out(first).map { max(64 / max($0, 1), 1) } ?? 1 }
        if shapes["block1_conv1"] != nil {
            let blocks = (1...5).map { b in (1...4).filter { shapes["block\(b)_conv\($0)"] != nil }.count }
            guard
                let architecture = Architecture.vgg(
                    convolutionsPerBlock: blocks, batchNorm: shapes["block1_conv1_bn"] != nil)
            else { return nil }  // not a VGG Sightline builds: no guess
            let width = divisor("block1_conv1")
            let top = shapes["predictions"] != nil
            var inputSize: Int?
            if top, let rows = shapes["fc1"]?.first?.first {
                let cells = Double(rows) / Double(512 / width)
                inputSize = Int((cells.squareRoot() * 32).rounded())
            }
            return RecognisedArchitecture(
                architecture: architecture, includeTop: top, classes: out("predictions") ?? 1000, widthDivisor: width,
                inputSize: inputSize)
        }
        // ResNet's bottleneck (`_3_conv`) and projection shortcut (`_0_conv`): DenseNet shares
        // `conv1_conv` and `convN_blockM_1_conv` but has neither, and its conv4 has 24 blocks.
        if shapes["conv1_conv"] != nil, shapes["conv2_block1_3_conv"] != nil, shapes["conv2_block1_0_conv"] != nil {
            let blocks = (1...40).filter { shapes["conv4_block\($0)_1_conv"] != nil }.count
            let architecture: Architecture
            switch blocks {
            case 6: architecture = .resnet50
            case 23: architecture = .resnet101
            case 36: architecture = .resnet152
            default: return nil  // not a Keras Applications ResNet: no guess
            }
            return RecognisedArchitecture(
                architecture: architecture, includeTop: shapes["predictions"] != nil,
                classes: out("predictions") ?? 1000,
                widthDivisor: divisor("conv1_conv"), inputSize: nil)
        }
        if shapes["layer1.0.conv1"] != nil {
            let bottleneck = shapes["layer1.0.conv3"] != nil
            // ResNeXt (grouped 3×3) and Wide ResNet (wider bottlenecks) are `TorchVisionFamily`'s.
            let conv2 = shapes["layer1.0.conv2"]?.first ?? []
            guard conv2.count == 4, conv2[2] == conv2[3], !bottleneck || out("layer1.0.conv1") == out("conv1") else {
                return nil
            }
            let blocks = (1...4).map { stage in (0..<64).filter { shapes["layer\(stage).\($0).conv1"] != nil }.count }
            let architecture: Architecture?
            switch (bottleneck, blocks) {
            case (false, [2, 2, 2, 2]): architecture = .torchvisionResnet18
            case (false, [3, 4, 6, 3]): architecture = .torchvisionResnet34
            case (true, [3, 4, 6, 3]): architecture = .torchvisionResnet50
            case (true, [3, 4, 23, 3]): architecture = .torchvisionResnet101
            case (true, [3, 8, 36, 3]): architecture = .torchvisionResnet152
            default: architecture = nil
            }
            guard let architecture else { return nil }
            return RecognisedArchitecture(
                architecture: architecture, includeTop: shapes["fc"] != nil, classes: out("fc") ?? 1000,
                widthDivisor: divisor("conv1"), inputSize: nil)
        }
        if shapes["res2a_branch2a"] != nil {
            return RecognisedArchitecture(
                architecture: .resnet50Legacy, includeTop: shapes["fc1000"] != nil, classes: out("fc1000") ?? 1000,
                widthDivisor: divisor("conv1"), inputSize: nil)
        }
        return nil
    }

    /// Files from Keras 3.0–3.5 name layers only by class and counter (`conv2d_12`); the
    /// counts per class still identify the application: VGG16 has 13 convolutions and no
    /// BatchNorm, VGG19 16; ResNet50/101/152 have 53/104/155 convolutions, each with a BatchNorm.
    static func recogniseKeras3Keys(_ file: KerasWeightFile) -> RecognisedArchitecture? {
        var shapes: [String: [[Int]]] = [:]
        for layer in file.layers { shapes[layer.name] = layer.weights.map(\.value.shape) }
        func count(_ base: String) -> Int {
            shapes.keys.filter { KerasWeightFile.stripUniquifier($0) == base || $0 == base }.count
        }
        let convolutions = count("conv2d")
        let norms = count("batch_normalization")
        let dense = count("dense")
        let architecture: Architecture
        switch (convolutions, norms) {
        case (13, 0): architecture = .vgg16
        case (16, 0): architecture = .vgg19
        case (53, 53): architecture = .resnet50
        case (104, 104): architecture = .resnet101
        case (155, 155): architecture = .resnet152
        default: return nil
        }
        let width = shapes["conv2d"]?.first?.last.map { max(64 / max($0, 1), 1) } ?? 1
        let last = dense > 1 ? "dense_\(dense - 1)" : "dense"
        var inputSize: Int?
        if architecture == .vgg16 || architecture == .vgg19, dense > 0, let rows = shapes["dense"]?.first?.first {
            inputSize = Int(((Double(rows) / Double(512 / width)).squareRoot() * 32).rounded())
        }
        return RecognisedArchitecture(
            architecture: architecture, includeTop: dense > 0, classes: shapes[last]?.first?.last ?? 1000,
            widthDivisor: width, inputSize: inputSize)
    }
}

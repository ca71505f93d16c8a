import Foundation
import SightlineCore
import SightlineModels
import SightlineNN
import SightlineTestSupport
import SightlineWeights
import Testing

/// Keras weight files in every layout, loaded into Sightline's builders, against Keras's own
/// outputs. Fixtures: `Tests/Fixtures/weights/` from `Tests/Fixtures/make_weight_fixtures.py`,
/// which builds VGG16 and ResNet50 with Keras Applications names at 1/32 width (32×32 input,
/// 10 classes), randomises every weight and BatchNorm statistic, saves with Keras 3.15 and
/// tf_keras 2.21 (plus a Keras 1 layout written with h5py) and records the outputs of
/// `block5_pool`/`avg_pool` and `predictions`. Set `SIGHTLINE_WEIGHT_FIXTURES` to a folder made
/// with `--full DIR` to run the same checks on full-size files.
struct KerasWeightFileTests {
    static let directory: URL = {
        if let custom = ProcessInfo.processInfo.environment["SIGHTLINE_WEIGHT_FIXTURES"] {
            return URL(fileURLWithPath: custom)
        }
        return KerasFixture.directory.appendingPathComponent("weights")
    }()

    static func manifest() -> [[String: Any]] {
        ((try? KerasFixture.load(directory.appendingPathComponent("manifest.json").path))?["files"] as? [[String: Any]])
            ?? []
    }

    static var files: [String] { manifest().compactMap { $0["file"] as? String } }

    /// The Sightline model matching a manifest entry, with zero weights to be loaded (nil for
    /// models that only their own model_config describes).
    static func model(for entry: [String: Any]) throws -> Graph? {
        let divisor = entry["width_divisor"] as? Int ?? 1
        let size = entry["input_size"] as? Int ?? 224
        let classes = entry["classes"] as? Int ?? 1000
        switch entry["arch"] as? String {
        case "vgg16":
            return try VGG.build(
                .vgg16, classes: classes, inputShape: [size, size, 3], weights: .zeros, widthDivisor: divisor)
        case "resnet50":
            return try ResNet.build(
                .resnet50, classes: classes, inputShape: [size, size, 3], weights: .zeros, widthDivisor: divisor)
        case "resnet50_legacy":
            return try Architecture.resnet50Legacy.build(
                classes: classes, inputShape: [size, size, 3], weights: .zeros, widthDivisor: divisor)
        case "sequential":
            return nil
        default:
            // The nested fixture: ResNet50 without top (avg pooling) under a Dense head.
            let graph = try ResNet.build(
                .resnet50, includeTop: false, pooling: .avg, inputShape: [size, size, 3], weights: .zeros,
                widthDivisor: divisor)
            try graph.add(
                Dense(
                    name: "head", kernel: Tensor(zeros: [2048 / divisor, classes]), bias: Tensor(zeros: [classes]),
                    activation: .softmax), inputs: ["avg_pool"])
            return graph
        }
    }

    static func expected(for entry: [String: Any]) throws -> [String: Any] {
        let arch = entry["arch"] as? String ?? ""
        return try KerasFixture.load(directory.appendingPathComponent("\(arch)_expected.json").path)
    }

    @Test func fixturesArePresent() {
        #expect(Self.files.count >= 15, "manifest.json lists every format for both models")
    }

    @Test(arguments: files)
    func loadsAndReproducesKeras(_ name: String) throws {
        let entry = try #require(Self.manifest().first { $0["file"] as? String == name })
        let file = try KerasArchive.readAny(path: Self.directory.appendingPathComponent(name).path)
        #expect(
            file.format.rawValue == KerasFileFormat(caseName: entry["format"] as? String ?? "")?.rawValue,
            "\(name) read as \(file.format)")
        guard let graph = try Self.model(for: entry) else { return }
        let report = try WeightLoader.load(file, into: graph)
        #expect(report.skipped.isEmpty)
        try expectKerasOutputs(graph, entry: entry, what: name)

        // Files that record model order also load positionally, as Keras's default load_weights.
        if file.format != .keras3Weights && file.format != .kerasArchive
            && entry["arch"] as? String != "resnet50_nested",
            let positional = try Self.model(for: entry)
        {
            try WeightLoader.load(file, into: positional, options: WeightLoadOptions(matching: .topological))
            try expectKerasOutputs(positional, entry: entry, what: "\(name) (topological)")
        }
    }

    /// The whole route a user takes: the file alone decides the architecture (its model_config,
    /// or its layer names for weights-only files) and the weights load strictly.
    @Test(arguments: files)
    func modelLoaderNeedsOnlyTheFile(_ name: String) throws {
        let entry = try #require(Self.manifest().first { $0["file"] as? String == name })
        let loaded = try ModelLoader.load(
            path: Self.directory.appendingPathComponent(name).path, inputSize: entry["input_size"] as? Int)
        try expectKerasOutputs(
            loaded.graph, entry: entry, what: "\(name) via ModelLoader (\(loaded.architectureSource))")
        let arch = entry["arch"] as? String ?? ""
        if arch == "vgg16" || arch.hasPrefix("resnet50") {
            #expect(loaded.preprocessing == .caffe, "Keras Applications weights expect caffe preprocessing")
        }
        if loaded.file.modelConfig == nil {
            #expect(
                loaded.architectureSource.hasPrefix(
                    "recognised as \(arch == "resnet50_legacy" ? "resnet50-legacy" : arch)"))
        }
    }

    @Test func unsupportedLayersAreNamedWithTheirClass() throws {
        let config = """
            {"class_name": "Sequential", "config": {"name": "s", "layers": [
              {"class_name": "InputLayer", "config": {"batch_shape": [null, 8, 8, 3], "name": "in"}},
              {"class_name": "Conv3D", "config": {"name": "volume", "filters": 2}}]}}
            """
        #expect(
            throws: LayerError(
                layer: "volume", className: "Conv3D", reason: "this layer type is not supported by Sightline's engine")
        ) {
            _ = try ModelConfigImporter.graph(fromJSON: config)
        }
        let channelsFirst = config.replacingOccurrences(
            of: "\"Conv3D\", \"config\": {",
            with: "\"Conv2D\", \"config\": {\"data_format\": \"channels_first\", \"kernel_size\": 3, ")
        do {
            _ = try ModelConfigImporter.graph(fromJSON: channelsFirst)
            Issue.record("channels_first was accepted")
        } catch {
            #expect("\(error)".contains("volume") && "\(error)".contains("channels_first"), "\(error)")
        }
    }

    func expectKerasOutputs(_ graph: Graph, entry: [String: Any], what: String) throws {
        let reference = try Self.expected(for: entry)
        let input = try KerasFixture.tensor(reference["input"])
        let names = entry["outputs"] as? [String] ?? []
        let outputs = try graph.forward([graph.inputNames[0]: input], outputs: names)
        let expected = reference["outputs"] as? [String: Any] ?? [:]
        for output in names {
            var value = try #require(outputs[output], "\(what): no \(output)")
            let reference = try KerasFixture.tensor(expected[output])
            value = value.reshaped(reference.shape)
            expectClose(value, reference, tolerance: 1e-4, "\(what) \(output)")
        }
    }

    @Test func keras1FileDetails() throws {
        let file = try KerasWeightFile(path: Self.directory.appendingPathComponent("vgg16_keras1.h5").path)
        #expect(file.kerasVersion == nil, "Keras 1 files have no keras_version")
        let first = try #require(file.layers.first)
        #expect(first.name == "block1_conv1" && first.weights.map(\.role) == ["kernel", "bias"])
        #expect(first.weights[0].path == "/block1_conv1/block1_conv1_W_1:0")
        let bn = try KerasWeightFile(path: Self.directory.appendingPathComponent("resnet50_keras1.h5").path).layers
            .first { $0.name == "conv1_bn" }
        #expect(
            bn?.weights.map(\.role) == ["gamma", "beta", "moving_mean", "moving_variance"],
            "running_std is the variance")
    }

    @Test func nestedModelWeightsAreSplitBySubLayer() throws {
        let file = try KerasWeightFile(path: Self.directory.appendingPathComponent("resnet50_nested_keras2.h5").path)
        let conv = try #require(file.layers.first { $0.name == "conv1_conv" })
        #expect(conv.parent == "resnet50")
        let bn = try #require(file.layers.first { $0.name == "conv5_block3_3_bn" })
        #expect(
            bn.weights.map(\.role) == ["gamma", "beta", "moving_mean", "moving_variance"],
            "trainable-first order regrouped by name")
        #expect(file.layers.last?.name == "head" && file.layers.last?.parent == nil)
        #expect(file.modelConfig?.contains("\"class_name\"") == true)
    }

    @Test func mismatchesAreAllListedByName() throws {
        let file = try KerasWeightFile(path: Self.directory.appendingPathComponent("resnet50_keras2.h5").path)
        let other = try ResNet.build(.resnet50, classes: 7, inputShape: [32, 32, 3], weights: .zeros, widthDivisor: 32)
        try other.add(Dense(name: "extra", kernel: Tensor(zeros: [7, 2]), bias: nil), inputs: ["predictions"])
        do {
            try WeightLoader.load(file, into: other)
            Issue.record("a mismatching file loaded")
        } catch {
            #expect(error.kind == .weights && error.description.contains("(3 problems)"), "\(error)")
            #expect(
                error.description.contains("'predictions/kernel' is [64, 7] in the model and [64, 10] in the file"),
                "\(error)")
            #expect(
                error.description.contains("'predictions/bias'")
                    && error.description.contains("missing: model layer 'extra'"), "\(error)")
        }
        // Nothing was assigned by the failed load.
        #expect(
            other.layer(named: "conv1_conv")?.parameters.allSatisfy { $0.value.scalars.allSatisfy { $0 == 0 } } == true)
        // Skip-mismatch loads the backbone and reports the head.
        let report = try WeightLoader.load(
            file, into: other, options: WeightLoadOptions(skipMismatch: true, allowPartial: true))
        #expect(report.skipped.count == 3 && report.loadedLayers.contains("conv5_block3_3_bn"))

        let vgg = try VGG.build(.vgg16, classes: 10, inputShape: [32, 32, 3], weights: .zeros, widthDivisor: 32)
        #expect(throws: ModelFileError.self) {
            try WeightLoader.load(file, into: vgg, options: WeightLoadOptions(matching: .topological))
        }
    }

    @Test func corruptTruncatedAndForeignFilesGiveOneLineErrors() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent(
            "sightline-bad-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let good = try Data(contentsOf: Self.directory.appendingPathComponent("vgg16_keras2.h5"))
        var cases: [(String, Data)] = [
            ("truncated.h5", good.prefix(good.count / 3)),
            ("header-only.h5", good.prefix(600)),
            ("text.h5", Data("hello, not HDF5".utf8)),
            ("empty.h5", Data()),
        ]
        var corrupted = good
        for offset in stride(from: 2048, to: min(corrupted.count, 40_000), by: 7) { corrupted[offset] ^= 0x5A }
        cases.append(("corrupted.h5", corrupted))
        for (name, data) in cases {
            let path = scratch.appendingPathComponent(name).path
            try data.write(to: URL(fileURLWithPath: path))
            do {
                _ = try KerasArchive.readAny(path: path)
                Issue.record("\(name) was accepted")
            } catch {
                #expect(error.description.hasPrefix(path) && !error.description.contains("\n"), "\(name): \(error)")
            }
        }
        // A valid HDF5 file that is not a Keras file.
        let foreign = scratch.appendingPathComponent("foreign.h5").path
        try HDF5File(creating: foreign).write(Tensor(zeros: [2, 2]), to: "/data/values")
        #expect(
            throws: ModelFileError(
                file: foreign,
                "not a Keras weights file: no layer_names attribute, no model_weights group and no layers/ or vars/ group",
                kind: .layout)
        ) {
            _ = try KerasWeightFile(path: foreign)
        }
        #expect(throws: ModelFileError.self) {
            _ = try KerasWeightFile(path: scratch.appendingPathComponent("missing.h5").path)
        }
    }
}

extension KerasFileFormat {
    /// The case named in the fixture manifest.
    init?(caseName: String) {
        switch caseName {
        case "legacyWeights": self = .legacyWeights
        case "legacyModel": self = .legacyModel
        case "keras3Weights": self = .keras3Weights
        case "kerasArchive": self = .kerasArchive
        default: return nil
        }
    }
}

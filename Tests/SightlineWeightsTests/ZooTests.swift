import Foundation
import SightlineCore
import SightlineExplain
import SightlineNN
import SightlineTestSupport
import SightlineTransfer
import SightlineWeights
import Testing

/// Keras Applications families imported from the configs real Keras writes, run with weights set
/// by a formula, against Keras's logits for the same weights and input.
///
/// Fixtures: `Tests/Fixtures/make_zoo_fixtures.py` (Keras 3.15 and tf.keras 2.21 through
/// `tf_keras`, 64×64 inputs, 10 classes, no classifier activation; see the script for the
/// weight and input formulas, reproduced in `ZooFormula` below). The reference is the same Keras
/// model built in float64. Sightline must be within 1e-4 of the logits' scale, or within twice
/// Keras's own float32 error where that is larger (ConvNeXt's LayerNorm with ε = 1e-6 makes
/// the formula model sensitive to rounding: Keras float32 is 2.3e-4 of scale off there).
/// Set `SIGHTLINE_ZOO_FIXTURES` to a directory the script wrote with `--full` to run the
/// full-size models.
struct ZooTests {
    static let directory: URL = {
        if let custom = ProcessInfo.processInfo.environment["SIGHTLINE_ZOO_FIXTURES"] {
            return URL(fileURLWithPath: custom)
        }
        return KerasFixture.directory.appendingPathComponent("zoo")
    }()

    static let names: [String] = {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return files.filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }.sorted()
    }()

    @Test func everyFamilyHasAFixture() {
        let expected = [
            "keras3_convnext_tiny", "keras3_densenet121", "keras3_efficientnet_b0", "keras3_efficientnet_v2_b0",
            "keras3_inception_resnet_v2",
            "keras3_mobilenet_v3_large", "keras3_mobilenet_v3_small", "keras3_nasnet_mobile", "keras3_resnet50_v2",
            "tfkeras_densenet121", "tfkeras_efficientnet_b0", "tfkeras_mobilenet_v3_small", "tfkeras_regnetx002",
            "tfkeras_regnety002",
        ]
        #expect(
            Set(expected).isSubset(of: Set(Self.names)), "missing: \(Set(expected).subtracting(Self.names).sorted())")
    }

    @Test(arguments: names)
    func familyMatchesKeras(_ name: String) throws {
        let (fixture, shape, graph) = try ZooFormula.model(name)
        let input = ZooFormula.input(
            shape: shape, scale: fixture["input_scale"] as? Double ?? 1, offset: fixture["input_offset"] as? Double ?? 0
        )
        let output = try #require(graph.outputNames.first)
        let logits = try graph.forward([try #require(graph.inputNames.first): input], outputs: [output])[output]
        let expected = try #require(fixture["expected"] as? [[Double]])
        let reference = Tensor(
            shape: [expected.count, expected[0].count], scalars: expected.flatMap { $0.map(Float.init) })
        let actual = try #require(logits).reshaped(reference.shape)
        let scale = reference.scalars.map(abs).max() ?? 1
        let kerasError = Float(fixture["keras_float32_error"] as? Double ?? 0)
        let error = zip(actual.scalars, reference.scalars).map { abs($0 - $1) }.max() ?? 0
        print("zoo \(name) \(shape): error \(error / scale) of scale; Keras float32 \(kerasError / scale)")
        expectClose(actual, reference, tolerance: max(1e-4, 2 * kerasError / scale), "\(name) logits")
        // The logits must tell classes apart, or the comparison proves little.
        #expect((reference.scalars.max() ?? 0) - (reference.scalars.min() ?? 0) > 0.1 * scale)
    }
}

/// The weight and input formulas of `make_zoo_fixtures.py`.
enum ZooFormula {
    struct NoFormula: Error { let key: String }

    /// A zoo fixture, its input shape and its graph with the formula weights.
    static func model(_ name: String) throws -> (fixture: [String: Any], inputShape: [Int], graph: Graph) {
        let fixture = try KerasFixture.load(ZooTests.directory.appendingPathComponent(name + ".json").path)
        let config = try JSONSerialization.data(withJSONObject: fixture["model_config"] as Any)
        let shape = try #require(fixture["input_shape"] as? [Int])
        let graph = try ModelConfigImporter.graph(
            fromJSON: String(decoding: config, as: UTF8.self), defaultImageSize: shape[1])
        try setWeights(graph)
        return (fixture, shape, graph)
    }

    /// Sets every parameter of `graph` by the formula.
    static func setWeights(_ graph: Graph) throws {
        for node in graph.nodes {
            for parameter in node.layer?.parameters ?? [] {
                parameter.value = try weight(layer: node.name, weight: parameter.name, shape: parameter.value.shape)
            }
        }
    }

    static func weight(layer: String, weight: String, shape: [Int]) throws -> Tensor {
        let key = "\(layer)/\(weight)"
        let phase = Double(key.utf8.reduce(0) { $0 + Int($1) } % 1000) / 1000 * 2 * Double.pi
        let count = shape.reduce(1, *)
        let base = (0..<count).map { sin(0.7 * Double($0) + phase) }
        let values: [Double]
        switch weight {
        case "kernel", "depthwise_kernel", "pointwise_kernel":
            let fanIn = weight == "depthwise_kernel" ? shape[0] * shape[1] : shape.dropLast().reduce(1, *)
            values = base.map { (6 / Double(fanIn)).squareRoot() * $0 }
        case "gamma": values = base.map { 1 + 0.2 * $0 }
        case "beta", "bias", "moving_mean", "mean": values = base.map { 0.1 * $0 }
        case "moving_variance", "variance": values = base.map { 1 + 0.25 * (1 + $0) }
        case "count": values = Array(repeating: 0, count: count)
        default: throw NoFormula(key: key)
        }
        return Tensor(shape: shape, scalars: values.map(Float.init))
    }

    static func input(shape: [Int], scale: Double, offset: Double) -> Tensor {
        Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { Float(offset + scale * sin(0.37 * Double($0))) })
    }
}

/// What users run on a model works on every zoo family (issue 11's "jobs on every family"): the
/// Grad-CAM default layer is a spatial layer and its map is finite and of its size, the feature
/// layer `extract` and `finetune` cut at is the pooled vector before the classifier, and a
/// training step (training mode, cross-entropy, backward) gives finite gradients to every
/// trainable weight. `predict`, `inspect` and `convert` are the forward pass and writer that
/// `ZooTests` and `KerasArchiveWriterTests` cover.
struct ZooJobTests {
    @Test(arguments: ZooTests.names)
    func gradCAMFeaturesAndATrainingStepWork(_ name: String) throws {
        let (fixture, shape, graph) = try ZooFormula.model(name)
        let input = ZooFormula.input(
            shape: [1] + shape.dropFirst(), scale: fixture["input_scale"] as? Double ?? 1,
            offset: fixture["input_offset"] as? Double ?? 0)
        let cam = try ClassActivationMaps(graph: graph)
        #expect((graph.shape(of: cam.layer)?.count ?? 0) == 3, "\(name): Grad-CAM layer \(cam.layer) is spatial")
        let maps = try cam.compute(input, classes: [nil]).maps
        // (Finite and of the layer's size; with formula weights a map may be blank, which
        // `gradcam` reports as such.)
        #expect(
            maps.scalars.allSatisfy(\.isFinite)
                && Array(maps.shape.dropFirst()) == Array((graph.shape(of: cam.layer) ?? []).prefix(2)),
            "\(name): map \(maps.shape) at \(cam.layer)")
        let feature = FeatureExtractor.defaultLayer(of: graph)
        #expect(
            graph.shape(of: feature)?.count == 1 || graph.shape(of: feature)?.count == 3,
            "\(name): feature layer \(feature)")
        let output = try #require(graph.outputNames.first)
        graph.zeroGradients()
        let (outputs, tape) = try graph.record(
            [graph.inputNames[0]: input], outputs: [output], mode: .training, request: GradientRequest())
        let logits = try #require(outputs[output])
        let (_, gradient) = SoftmaxCrossEntropy()(logits: logits.reshaped([1, logits.count]), labels: [0])
        _ = graph.backward(tape, seeds: [output: gradient.reshaped(logits.shape)])
        let slots = graph.trainableSlots
        #expect(
            slots.allSatisfy { $0.parameter.gradient?.scalars.allSatisfy(\.isFinite) ?? true },
            "\(name): finite gradients")
        #expect(
            slots.contains { $0.parameter.gradient?.scalars.contains { $0 != 0 } == true },
            "\(name): the step reaches the weights")
    }
}

/// `.keras` archives Sightline writes read back with the same layers, weights and outputs, for
/// families with operator nodes, custom Keras Applications layers and grouped convolutions.
/// (`scripts/check_keras_archive.py` checks the same archives in real Keras 3.)
struct KerasArchiveWriterTests {
    @Test(arguments: ["keras3_mobilenet_v3_small", "keras3_convnext_tiny", "keras3_efficientnet_b0"])
    func archivesRoundTrip(_ name: String) throws {
        let (fixture, shape, graph) = try ZooFormula.model(name)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sightline-\(UUID().uuidString).keras")
            .path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let metadata = KerasWriter.Metadata(
            sightlineVersion: "test", preprocessing: .tf, source: name, classNames: (0..<10).map { "c\($0)" })
        try KerasWriter.save(graph, to: path, metadata: metadata, modelName: name)
        #expect(KerasArchive.isArchive(path))
        let loaded = try ModelLoader.load(path: path)
        #expect(loaded.preprocessing == .tf, "the recorded preprocessing is read back from the archive")
        #expect(loaded.file.kerasVersion == "3.15.1", "the version comes from metadata.json, not 'Keras 1.x'")
        #expect(loaded.graph.nodes.map(\.name).sorted() == graph.nodes.map(\.name).sorted())
        let input = ZooFormula.input(
            shape: shape, scale: fixture["input_scale"] as? Double ?? 1, offset: fixture["input_offset"] as? Double ?? 0
        )
        let before = try graph.forward([graph.inputNames[0]: input])
        let after = try loaded.graph.forward([loaded.graph.inputNames[0]: input])
        let output = try #require(graph.outputNames.first)
        #expect(before[output] == after[output])
    }

    @Test func unknownExtensionsAndWeightsOnlyArchivesAreRefusedBeforeWriting() throws {
        let graph = Graph()
        try graph.addInput(name: "x", shape: [4])
        let metadata = KerasWriter.Metadata(sightlineVersion: "test", preprocessing: .none, source: "test")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sightline-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        for (file, weightsOnly, message) in [
            ("model.tflite", false, "Sightline writes .h5 (Keras legacy HDF5), .keras (Keras 3 archive) and .onnx"),
            ("model.onnx", true, "an ONNX file holds a full model"),
            ("model.keras", true, "a .keras archive holds a full model"),
        ] {
            let path = directory.appendingPathComponent(file).path
            #expect { try KerasWriter.save(graph, to: path, metadata: metadata, weightsOnly: weightsOnly) } throws: {
                "\($0)".contains(message)
            }
            #expect(!FileManager.default.fileExists(atPath: path))
        }
    }
}

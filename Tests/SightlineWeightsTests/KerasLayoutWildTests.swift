import Foundation
import SightlineCore
import SightlineTestSupport
import SightlineWeights
import Testing

/// Weight files from the wild that earlier versions refused: a Keras 3 subclassed model's
/// `.weights.h5` (attribute-named groups) and a tf.keras `.h5` whose layer names contain `/`.
/// Fixtures: `Tests/Fixtures/make_layout_fixtures.py` (real Keras 3 and tf.keras; outputs
/// for the input `x[i] = sin(0.37 i)`).
struct KerasLayoutWildTests {
    static let directory = KerasFixture.directory.appendingPathComponent("layouts")

    static func input(_ shape: [Int]) -> Tensor {
        Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { Float(sin(0.37 * Double($0))) })
    }

    static func expected(_ name: String) throws -> Tensor {
        let rows = try #require(
            try KerasFixture.load(directory.appendingPathComponent("expected.json").path)[name] as? [[Double]])
        return Tensor(shape: [rows.count, rows[0].count], scalars: rows.flatMap { $0.map(Float.init) })
    }

    @Test func subclassedModelWeightsLoadByLayerName() throws {
        let file = try KerasWeightFile(path: Self.directory.appendingPathComponent("keras3_subclassed.weights.h5").path)
        #expect(file.format == .keras3Weights)
        #expect(
            Set(file.layers.map(\.name)) == [
                "block1_conv1", "block1_conv2", "block2_conv1", "block2_conv2", "predictions",
            ])
        let twin = try String(
            contentsOf: Self.directory.appendingPathComponent("keras3_subclassed_twin.json"), encoding: .utf8)
        let graph = try ModelConfigImporter.graph(fromJSON: twin)
        let report = try WeightLoader.load(file, into: graph)
        #expect(report.loadedLayers.count == 5)
        let output = try graph.forward(["image": Self.input([2, 32, 32, 3])])
        expectClose(
            try #require(output["predictions"]), try Self.expected("keras3_subclassed"), tolerance: 1e-5,
            "subclassed model")
    }

    @Test func subclassedWeightsIntoABuilderReportWhatTheyLack() throws {
        let path = Self.directory.appendingPathComponent("keras3_subclassed.weights.h5").path
        // Strict by default: a VGG16 builder lacks most layers and the shapes differ; every problem is listed.
        #expect {
            _ = try ModelLoader.load(path: path, architecture: .vgg16)
        } throws: { error in
            let text = "\(error)"
            return text.contains("missing: model layer 'block3_conv1'")
                && text.contains("mis-shaped: 'predictions/kernel'")
        }
    }

    /// tf.keras operator nodes (`make_slicing_fixtures.py`): SlicingOpLambda with start, stop,
    /// step and negative positions, TFOpLambda arithmetic, and reduce_mean over the spatial
    /// axes with and without keepdims, against tf.keras's outputs.
    @Test func slicingAndOperatorNodesMatchTFKeras() throws {
        let directory = KerasFixture.directory.appendingPathComponent("layouts")
        let reference = try #require(
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: directory.appendingPathComponent("tfkeras_slicing.json"))) as? [String: Any])
        let input = Tensor(
            shape: try #require(reference["input_shape"] as? [Int]),
            scalars: try #require(reference["input"] as? [Double]).map(Float.init))
        let loaded = try ModelLoader.load(path: directory.appendingPathComponent("tfkeras_slicing.h5").path)
        let outputs = try loaded.graph.forward([loaded.graph.inputNames[0]: input], outputs: loaded.graph.outputNames)
        let expected = try #require(reference["outputs"] as? [String: [Double]])
        let shapes = try #require(reference["output_shapes"] as? [String: [Int]])
        #expect(Set(loaded.graph.outputNames) == Set(expected.keys))
        for (name, values) in expected {
            let output = try #require(outputs[name], "\(name)")
            #expect(output.shape == shapes[name], "\(name)")
            let error = zip(output.scalars, values).map { abs(Double($0) - $1) }.max() ?? .infinity
            #expect(error <= 1e-5, "\(name): largest difference \(error)")
        }
        // Written back as tf.keras (.h5: SlicingOpLambda) and Keras 3 (.keras: GetItem) write
        // them, and read again: the same outputs (Keras 3 loads the archive; see the note in
        // the README).
        for suffix in ["h5", "keras"] {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent(
                "sightline-slicing-\(UUID().uuidString).\(suffix)"
            ).path
            defer { try? FileManager.default.removeItem(atPath: path) }
            try KerasWriter.save(
                loaded.graph, to: path,
                metadata: KerasWriter.Metadata(sightlineVersion: "test", preprocessing: .none, source: "test"))
            let again = try ModelLoader.load(path: path)
            let reread = try again.graph.forward([again.graph.inputNames[0]: input], outputs: again.graph.outputNames)
            for name in loaded.graph.outputNames { #expect(reread[name] == outputs[name], "\(suffix): \(name)") }
        }
    }

    /// Keras 3 writing a legacy `.h5` (`make_keras3_legacy_fixtures.py`): operator nodes without
    /// their `module` (`x + 3`, `keras.ops.relu6`, `x[:, 1:]`) and a nested `Sequential` whose
    /// weights are scoped by its name (`stem/stem_conv/kernel`), as Keras 3's ConvNeXt and
    /// MobileNetV3 `.h5` files are; the output equals Keras's.
    @Test func keras3LegacyH5OperatorsAndNestedScopesLoad() throws {
        let directory = KerasFixture.directory.appendingPathComponent("layouts")
        let reference = try #require(
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: directory.appendingPathComponent("keras3_legacy_ops.json"))) as? [String: Any])
        let input = Tensor(
            shape: try #require(reference["input_shape"] as? [Int]),
            scalars: try #require(reference["input"] as? [Double]).map(Float.init))
        let loaded = try ModelLoader.load(path: directory.appendingPathComponent("keras3_legacy_ops.h5").path)
        let output = try #require(
            try loaded.graph.forward([loaded.graph.inputNames[0]: input])[loaded.graph.outputNames[0]])
        let expected = try #require(reference["output"] as? [Double])
        let error = zip(output.scalars, expected).map { abs(Double($0) - $1) }.max() ?? .infinity
        #expect(output.count == expected.count && error <= 1e-5, "largest difference \(error)")
    }

    @Test func layerNamesWithSlashesLoad() throws {
        let model = try ModelLoader.load(path: Self.directory.appendingPathComponent("tfkeras_slash_names.h5").path)
        #expect(model.graph.node(named: "conv1/conv") != nil)
        let output = try model.graph.forward(["input_1": Self.input([2, 16, 16, 3])])
        expectClose(
            try #require(output["predictions"]), try Self.expected("tfkeras_slash_names"), tolerance: 1e-5,
            "slash-named layers")
    }
}

import Foundation
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
        let rows = try #require(try KerasFixture.load(directory.appendingPathComponent("expected.json").path)[name] as? [[Double]])
        return Tensor(shape: [rows.count, rows[0].count], scalars: rows.flatMap { $0.map(Float.init) })
    }

    @Test func subclassedModelWeightsLoadByLayerName() throws {
        let file = try KerasWeightFile(path: Self.directory.appendingPathComponent("keras3_subclassed.weights.h5").path)
        #expect(file.format == .keras3Weights)
        #expect(Set(file.layers.map(\.name)) == ["block1_conv1", "block1_conv2", "block2_conv1", "block2_conv2", "predictions"])
        let twin = try String(contentsOf: Self.directory.appendingPathComponent("keras3_subclassed_twin.json"), encoding: .utf8)
        let graph = try ModelConfigImporter.graph(fromJSON: twin)
        let report = try WeightLoader.load(file, into: graph)
        #expect(report.loadedLayers.count == 5)
        let output = try graph.forward(["image": Self.input([2, 32, 32, 3])])
        expectClose(try #require(output["predictions"]), try Self.expected("keras3_subclassed"), tolerance: 1e-5, "subclassed model")
    }

    @Test func subclassedWeightsIntoABuilderReportWhatTheyLack() throws {
        let path = Self.directory.appendingPathComponent("keras3_subclassed.weights.h5").path
        // Strict by default: a VGG16 builder lacks most layers and the shapes differ; every problem is listed.
        #expect {
            _ = try ModelLoader.load(path: path, architecture: .vgg16)
        } throws: { error in
            let text = "\(error)"
            return text.contains("missing: model layer 'block3_conv1'") && text.contains("mis-shaped: 'predictions/kernel'")
        }
    }

    @Test func layerNamesWithSlashesLoad() throws {
        let model = try ModelLoader.load(path: Self.directory.appendingPathComponent("tfkeras_slash_names.h5").path)
        #expect(model.graph.node(named: "conv1/conv") != nil)
        let output = try model.graph.forward(["input_1": Self.input([2, 16, 16, 3])])
        expectClose(try #require(output["predictions"]), try Self.expected("tfkeras_slash_names"), tolerance: 1e-5, "slash-named layers")
    }
}

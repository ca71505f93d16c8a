import Foundation
import SightlineCore
import SightlineModels
import SightlineNN
import SightlineTestSupport
import Testing

@testable import SightlineWeights

/// ONNX files written by tf2onnx from Keras models (NHWC input transposed by the graph's first
/// node, BatchNorm folded or left as a per-channel Mul and Add, TensorFlow's asymmetric `same`
/// pads, ReLU6 as Clip, a squeezed global pool before MatMul and its bias Add) give Keras's own
/// outputs. Fixtures: `Tests/Fixtures/make_tf2onnx_fixtures.py` (Keras 3.15, TensorFlow 2.21,
/// tf2onnx 1.17; expected outputs are Keras's for x[i] = 2·sin(0.37·i), NHWC).
struct TF2ONNXTests {
    static let directory = KerasFixture.directory.appendingPathComponent("tf2onnx")

    static func check(_ path: String, _ expected: [String: Any], label: String) throws {
        let shape = try #require(expected["input_shape"] as? [Int])
        let loaded = try ModelLoader.load(path: path, preprocessing: Preprocessing.none)
        #expect(loaded.graph.shape(of: loaded.graph.inputNames[0]) == Array(shape.dropFirst()), "NHWC input kept")
        let output = try loaded.graph(TorchStateDictTests.input(shape))
        expectClose(output, try KerasFixture.tensor(expected["outputs"]), tolerance: 1e-5, label)
    }

    @Test func aSmallKerasModelExportedByTF2ONNXGivesKerassOutputs() throws {
        let expected = try KerasFixture.load(Self.directory.appendingPathComponent("small_cnn_expected.json").path)
        try Self.check(Self.directory.appendingPathComponent("small_cnn.onnx").path, expected, label: "small_cnn")
    }

    /// Keras Applications MobileNetV2, ResNet50 and DenseNet121 at 224×224 exported by tf2onnx
    /// (`make_tf2onnx_fixtures.py --full DIR`, then `SIGHTLINE_TF2ONNX_DIR=DIR`); skipped without.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["SIGHTLINE_TF2ONNX_DIR"] != nil))
    func kerasApplicationsExportedByTF2ONNX() throws {
        let directory = URL(fileURLWithPath: ProcessInfo.processInfo.environment["SIGHTLINE_TF2ONNX_DIR"] ?? "")
        let all = try KerasFixture.load(directory.appendingPathComponent("expected.json").path)
        for name in all.keys.sorted() {
            let expected = try #require(all[name] as? [String: Any])
            try Self.check(directory.appendingPathComponent("\(name).onnx").path, expected, label: name)
            print("\(name): tf2onnx export matches Keras")
        }
    }
}

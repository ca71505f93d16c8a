import Foundation
import SightlineCore
import SightlineModels
import SightlineNN
import SightlineTestSupport
import Testing

@testable import SightlineWeights

/// Keras files from the wild that Sightline refused or misread (issue 22 item 4): `Sequential`
/// models saved by Keras 1.2.1 and 2.0.6 (their `model_config` is a plain list of layers, Keras 1's
/// with Keras 1 layer configs), a model with two inputs, and a DenseNet whose layer names look like
/// a ResNet's. Fixtures: `Tests/Fixtures/make_old_keras_fixtures.py` (h5py in those Keras
/// layouts; outputs computed with numpy from the same weights for `x[i] = sin(0.37 i)`).
struct KerasOldLayoutTests {
    static let directory = KerasFixture.directory.appendingPathComponent("layouts")

    static func expected(_ name: String) throws -> Tensor {
        let file = directory.appendingPathComponent("old_keras_expected.json").path
        let rows = try #require(try KerasFixture.load(file)[name] as? [[Double]])
        return Tensor(shape: [rows.count, rows[0].count], scalars: rows.flatMap { $0.map(Float.init) })
    }

    @Test(arguments: ["keras121_sequential.h5", "keras206_sequential.h5"])
    func oldSequentialModelsLoadUnderTheirOwnNamesAndMatch(_ name: String) throws {
        let loaded = try ModelLoader.load(path: Self.directory.appendingPathComponent(name).path)
        let graph = loaded.graph
        #expect(graph.node(named: name.hasPrefix("keras121") ? "convolution2d_1" : "conv2d_1") != nil)
        let (input, outputName) = (graph.inputNames.first ?? "", graph.outputNames.first ?? "")
        let x = Tensor(shape: [2, 8, 8, 3], scalars: (0..<384).map { Float(sin(0.37 * Double($0))) })
        let output = try #require(try graph.forward([input: x])[outputName])
        expectClose(output, try Self.expected(name), tolerance: 1e-5, "\(name) softmax output")
    }

    @Test func keras1LayerConfigsBecomeKeras2Ones() throws {
        let (className, config) = KerasLegacyConfig.upgraded(
            className: "Convolution2D",
            config: [
                "name": "c", "nb_filter": 8, "nb_row": 3, "nb_col": 5, "border_mode": "valid", "subsample": [2, 2],
                "dim_ordering": "th", "bias": false,
            ])
        #expect(className == "Conv2D")
        #expect(config["filters"] as? Int == 8 && config["kernel_size"] as? [Int] == [3, 5])
        #expect(config["padding"] as? String == "valid" && config["strides"] as? [Int] == [2, 2])
        #expect(config["data_format"] as? String == "channels_first" && config["use_bias"] as? Bool == false)
        #expect(config["nb_row"] == nil && config["dim_ordering"] == nil)
    }

    @Test func aModelWithTwoInputsIsRefusedNamingThem() throws {
        #expect {
            _ = try ModelLoader.load(path: Self.directory.appendingPathComponent("two_inputs.h5").path)
        } throws: { error in
            let text = "\(error)"
            return text.contains("2 inputs (image [8, 8, 3], meta [4])") && text.contains("one image input")
                && !text.contains("weights")
        }
    }

    /// DenseNet shares `conv1_conv` and `convN_blockM_1_conv` with ResNet, and its conv4 has 24
    /// blocks: it must not be taken for ResNet101 (caffe preprocessing); its own family says torch.
    @Test func aDenseNetIsNotGuessedToBeAResNet() throws {
        let entry = try #require(KerasApplications.entries.first { $0.name == "densenet121_notop" })
        let graph = try KerasApplications.graph(entry, inputSize: 32)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("densenet-\(UUID().uuidString).h5")
            .path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try KerasWriter.save(
            graph, to: path, metadata: KerasWriter.Metadata(sightlineVersion: "test", preprocessing: .none, source: ""))
        let file = try KerasWeightFile(path: path)
        #expect(ModelLoader.recognise(file) == nil, "no ResNet is recognised from DenseNet's names")
        let loaded = try ModelLoader.load(path: path)
        #expect(loaded.architecture == nil && !loaded.preprocessingSource.contains("resnet"))
    }
}

import Foundation
import SightlineCore
import SightlineNN
import SightlineTestSupport
import SightlineWeights
import Testing

/// Saving in the Keras legacy layout. Real Keras loading these files is checked by
/// `scripts/check_keras_roundtrip.py` (Keras 3.15 and tf_keras 2.21: load_model and
/// load_weights reproduce the original outputs); here Sightline reads back what it wrote.
struct KerasWriterTests {
    static let fixtures = KerasFixture.directory.appendingPathComponent("weights")

    @Test(arguments: [
        "vgg16_keras1.h5", "resnet50_keras3.h5", "sequential_keras2_model.h5", "resnet50_nested_keras2.h5",
    ])
    func savedModelsReloadWithIdenticalOutputs(_ name: String) throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent(
            "sightline-writer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let original = try ModelLoader.load(
            path: Self.fixtures.appendingPathComponent(name).path, inputSize: name.hasPrefix("sequential") ? 12 : 32)
        let metadata = KerasWriter.Metadata(sightlineVersion: "test", preprocessing: .torch, source: name)
        let full = scratch.appendingPathComponent("full.h5").path
        let weights = scratch.appendingPathComponent("weights.h5").path
        try KerasWriter.save(original.graph, to: full, metadata: metadata)
        try KerasWriter.save(original.graph, to: weights, metadata: metadata, weightsOnly: true)
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: scratch.path).sorted() == ["full.h5", "weights.h5"],
            "no partial files left")

        let reloaded = try ModelLoader.load(path: full)
        #expect(reloaded.architectureSource == "model_config in the file")
        #expect(reloaded.preprocessing == .torch && reloaded.preprocessingSource == "recorded in the file by Sightline")
        #expect(reloaded.file.kerasVersion == KerasWriter.kerasVersion)
        // Weights-only: strict load into the reloaded architecture, by name and by position.
        let file = try KerasWeightFile(path: weights)
        #expect(file.modelConfig == nil && file.format == .legacyWeights)
        try WeightLoader.load(file, into: reloaded.graph)
        try WeightLoader.load(file, into: reloaded.graph, options: WeightLoadOptions(matching: .topological))

        var generator = SeededGenerator(seed: 3)
        let inputName = original.graph.inputNames[0]
        let shape = try #require(original.graph.shape(of: inputName))
        let input = Tensor(shape: [2] + shape) { for i in 0..<$0.count { $0[i] = generator.nextNormal() * 50 } }
        let before = try original.graph(input)
        let after = try reloaded.graph(input)
        #expect(before == after, "\(name): saved and reloaded model differs")
        #expect(reloaded.graph.nodes.map(\.name) == original.graph.nodes.map(\.name))
    }

    @Test func unsavableModelsFailBeforeWriting() throws {
        let graph = Graph()
        try graph.addInput(name: "x", shape: [4, 4, 1])
        try graph.add(
            Conv2D(
                name: "padded", kernel: Tensor(zeros: [3, 3, 1, 1]), bias: nil,
                padding: .explicit(top: 1, bottom: 0, left: 0, right: 0)), inputs: ["x"])
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sightline-\(UUID().uuidString).h5")
            .path
        do {
            try KerasWriter.save(
                graph, to: path,
                metadata: KerasWriter.Metadata(sightlineVersion: "test", preprocessing: .none, source: "test"))
            Issue.record("explicit padding was written")
        } catch {
            #expect("\(error)".contains("padded") && "\(error)".contains("ZeroPadding2D"), "\(error)")
        }
        #expect(!FileManager.default.fileExists(atPath: path))
        // Weights alone need no architecture.
        try KerasWriter.save(
            graph, to: path,
            metadata: KerasWriter.Metadata(sightlineVersion: "test", preprocessing: .none, source: "test"),
            weightsOnly: true)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try KerasWeightFile(path: path).layers.map(\.name) == ["padded"])
    }
}

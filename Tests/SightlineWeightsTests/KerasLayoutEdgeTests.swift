import Foundation
import SightlineModels
import SightlineTestSupport
import SightlineWeights
import Testing

/// Layout variants the Keras writers produce that the fixtures do not cover, built here with
/// Sightline's own HDF5 writer.
struct KerasLayoutEdgeTests {
    static let fixtures = KerasFixture.directory.appendingPathComponent("weights")

    func scratchFile() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("sightline-\(UUID().uuidString).h5").path
    }

    /// Keras splits `layer_names`/`weight_names` over 64 KiB into `layer_names0`, `layer_names1`, …
    @Test func chunkedNameAttributesAreJoined() throws {
        let source = try KerasWeightFile(path: Self.fixtures.appendingPathComponent("resnet50_keras2.h5").path)
        let path = scratchFile()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try HDF5File(creating: path)
        let names = source.layers.map(\.name)
        try file.writeStrings(Array(names[..<40]), attribute: "layer_names0")
        try file.writeStrings(Array(names[40..<90]), attribute: "layer_names1")
        try file.writeStrings(Array(names[90...]), attribute: "layer_names2")
        try file.writeString("2.15.0", attribute: "keras_version")
        for layer in source.layers {
            let weightNames = layer.weights.map { "\(layer.name)/\($0.role):0" }
            try file.createGroup("/\(layer.name)")
            // Split one layer's weight_names too.
            if weightNames.count == 4 {
                try file.writeStrings(Array(weightNames[..<2]), attribute: "weight_names0", on: "/\(layer.name)")
                try file.writeStrings(Array(weightNames[2...]), attribute: "weight_names1", on: "/\(layer.name)")
            } else {
                try file.writeStrings(weightNames, attribute: "weight_names", on: "/\(layer.name)")
            }
            for (weight, name) in zip(layer.weights, weightNames) {
                try file.write(weight.value, to: "/\(layer.name)/\(name)")
            }
        }
        let reread = try KerasWeightFile(path: path)
        #expect(reread.layers.map(\.name) == names)
        #expect(
            reread.layers.first { $0.name == "conv1_bn" }?.weights.map(\.role) == [
                "gamma", "beta", "moving_mean", "moving_variance",
            ])
        let graph = try ResNet.build(
            .resnet50, classes: 10, inputShape: [32, 32, 3], weights: .zeros, widthDivisor: 32)
        try WeightLoader.load(reread, into: graph)
    }

    /// A `*_notop` file is recognised as headless and loads strictly into the headless builder.
    @Test func notopFilesLoadIntoHeadlessModels() throws {
        let full = try ModelLoader.load(path: Self.fixtures.appendingPathComponent("vgg16_keras2.h5").path)
        let headless = try VGG.build(
            .vgg16, includeTop: false, inputShape: [32, 32, 3], weights: .zeros, widthDivisor: 32)
        try WeightLoader.load(
            try KerasWeightFile(path: full.file.path), into: headless, options: WeightLoadOptions(allowPartial: true))
        let path = scratchFile()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try KerasWriter.save(
            headless, to: path, metadata: .init(sightlineVersion: "test", preprocessing: .caffe, source: "test"),
            weightsOnly: true)
        let notop = try ModelLoader.load(path: path, inputSize: 32)
        #expect(notop.architectureSource == "recognised as vgg16 without top from its layer names")
        #expect(notop.graph.layer(named: "fc1") == nil && notop.graph.outputNames == ["block5_pool"])
        // The same convolution weights as the full file.
        #expect(
            notop.graph.layer(named: "block5_conv3")?.parameters[0].value
                == full.graph.layer(named: "block5_conv3")?.parameters[0].value)
    }
}

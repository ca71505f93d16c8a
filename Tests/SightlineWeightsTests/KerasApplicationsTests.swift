import Foundation
import SightlineTestSupport
import Testing

@testable import SightlineWeights

/// Weights-only files of the Keras Applications families beyond VGG/ResNet load into the
/// architectures real Keras wrote (`Resources/keras_applications.zip`), by `--arch` or
/// recognised from their layer names, with the preprocessing the official weights expect.
/// The weights-only files here are written in the legacy layout the official files use
/// (layer and weight names), with formula weights; `scripts/check_keras_applications.py`
/// checks files written by real tf.keras against Keras's predictions at full size.
struct KerasApplicationsTests {
    @Test func everyFamilyHasATopAndAHeadlessArchitecture() {
        let families = KerasApplications.families
        #expect(families.count >= 52, "28 Keras 3 families and 24 RegNets from tf.keras: \(families)")
        for family in [
            "efficientnetb0", "efficientnetv2s", "mobilenetv3small", "densenet121", "convnexttiny", "nasnetmobile",
            "inceptionresnetv2", "regnetx002", "regnety320",
        ] {
            let entries = KerasApplications.entries.filter { $0.family == family }
            #expect(Set(entries.map(\.includeTop)) == [true, false], "\(family)")
        }
        #expect(KerasApplications.entries.first { $0.name == "densenet121" }?.preprocessing == .torch)
        #expect(KerasApplications.entries.first { $0.name == "inceptionv3" }?.inputSize == 299)
    }

    @Test(arguments: ["mobilenetv3small_notop", "efficientnetb0_notop", "regnety002_notop"])
    func weightsOnlyFilesAreRecognisedAndLoadExactly(_ name: String) throws {
        let entry = try #require(KerasApplications.entries.first { $0.name == name })
        let graph = try KerasApplications.graph(entry, inputSize: 64)
        try ZooFormula.setWeights(graph)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent(
            "sightline-\(UUID().uuidString)_notop.h5"
        ).path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try KerasWriter.save(
            graph, to: path,
            metadata: KerasWriter.Metadata(sightlineVersion: "test", preprocessing: .none, source: name),
            weightsOnly: true)
        let input = ZooFormula.input(shape: [1, 64, 64, 3], scale: 127.5, offset: 127.5)
        let expected = try graph.forward([graph.inputNames[0]: input])
        for family in [nil, entry.family] {
            let loaded = try ModelLoader.load(path: path, kerasApplication: family, inputSize: 64)
            #expect(
                loaded.architectureSource.contains(entry.family) && loaded.architectureSource.contains("without top"),
                "\(loaded.architectureSource)")
            #expect(loaded.preprocessing == entry.preprocessing)
            let output = try loaded.graph.forward([loaded.graph.inputNames[0]: input])
            #expect(output[loaded.graph.outputNames[0]] == expected[graph.outputNames[0]], "\(family ?? "recognised")")
        }
    }

    /// The official MobileNetV3 files carry tf.keras's layer names (`expanded_conv_3/squeeze_excite/Conv_1`,
    /// `Conv/BatchNorm`), which Keras 3 renamed; mapped, they are exactly the architecture's, so
    /// the files are recognised without `--arch` (names from `make_mobilenet_v3_names.py`;
    /// `scripts/check_keras_applications.py` runs whole files written by tf.keras).
    @Test func tfKerasMobileNetV3NamesMapOntoTheArchitecture() throws {
        let url = KerasFixture.directory.appendingPathComponent("layouts/tfkeras_mobilenet_v3_names.json")
        let names = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: [String]])
        #expect(names.count == 4)
        for (entryName, layers) in names {
            let entry = try #require(KerasApplications.entries.first { $0.name == entryName })
            #expect(Set(layers.map(KerasApplications.lowercaseNormalised)) == entry.weightedLayers, "\(entryName)")
            #expect(Set(layers) != entry.weightedLayers, "the raw names differ: the mapping is what matches")
        }
    }

    @Test func aWrongArchitectureListsTheChoices() throws {
        let path = KerasFixture.directory.appendingPathComponent("weights/vgg16_keras1.h5").path
        #expect {
            _ = try ModelLoader.load(path: path, kerasApplication: "efficientnetb9")
        } throws: { "\($0)".contains("--arch efficientnetb9 is not a known architecture; choose from vgg16") }
    }
}

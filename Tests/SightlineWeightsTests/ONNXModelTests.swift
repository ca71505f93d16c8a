import Foundation
import SightlineCore
import SightlineExplain
import SightlineNN
import SightlineTestSupport
import Testing

@testable import SightlineWeights

/// ONNX models read natively (SwiftProtobuf over onnx.proto) give ONNX Runtime's outputs.
/// Fixtures: `Tests/Fixtures/make_onnx_fixtures.py` (torch 1.13's `torch.onnx.export` of the same
/// random torchvision models as the `.pth` fixtures at opsets 9 and 13, one with external data;
/// `onnx_expected.json` holds ONNX Runtime 1.18's logits for x[i] = 2·sin(0.37·i), which match
/// torch's within 1e-4), and torchvision's MobileNetV2, MobileNetV3-Small, EfficientNet-B0,
/// DenseNet, ResNeXt and Wide ResNet at small widths, exported the same way at opset 14.
struct ONNXModelTests {
    static let directory = KerasFixture.directory.appendingPathComponent("torchvision")

    @Test(arguments: [
        "resnet18_reduced_opset9.onnx", "resnet18_reduced_opset13.onnx", "resnet18_reduced_external.onnx",
        "vgg16_reduced.onnx", "family_mobilenet_v2.onnx", "family_mobilenet_v3_small.onnx",
        "family_efficientnet_b0.onnx", "family_densenet.onnx", "family_resnext.onnx", "family_wide_resnet.onnx",
    ])
    func onnxModelsGiveOnnxRuntimesOutputs(_ name: String) throws {
        let all = try KerasFixture.load(Self.directory.appendingPathComponent("onnx_expected.json").path)
        let expected = try #require(all[name] as? [String: Any])
        let shape = try #require(expected["input_shape"] as? [Int])
        let loaded = try ModelLoader.load(path: Self.directory.appendingPathComponent(name).path)
        #expect(
            loaded.file.format == .onnx
                && loaded.graph.shape(of: loaded.graph.inputNames[0]) == Array(shape.dropFirst()))
        let input = Tensor(shape: shape) { for i in 0..<$0.count { $0[i] = Float(2 * sin(0.37 * Double(i))) } }
        expectClose(try loaded.graph(input), try KerasFixture.tensor(expected["logits"]), tolerance: 1e-4, name)
    }

    /// Layer names come from the exporter's module scopes, so users see torchvision's names.
    @Test func layersAreNamedAfterTheModules() throws {
        let loaded = try ModelLoader.load(
            path: Self.directory.appendingPathComponent("resnet18_reduced_opset13.onnx").path)
        #expect(loaded.graph.node(named: "layer1.0.conv1") != nil && loaded.graph.node(named: "fc") != nil)
    }

    /// Grad-CAM needs gradients, which ONNX files do not hold: Sightline's own backward pass gives
    /// the same raw map from the `.onnx` export as from the `.pth` it came from.
    @Test func gradientsMatchThoseOfTheStateDict() throws {
        let onnx = try ModelLoader.load(
            path: Self.directory.appendingPathComponent("resnet18_reduced_opset13.onnx").path)
        let torch = try ModelLoader.load(
            path: Self.directory.appendingPathComponent("resnet18_reduced.pth").path, inputSize: 64)
        let input = Tensor(shape: [1, 64, 64, 3]) { for i in 0..<$0.count { $0[i] = Float(sin(0.11 * Double(i))) } }
        func inputGradient(_ graph: Graph) throws -> Tensor {
            let name = graph.inputNames[0]
            let output = try #require(graph.outputNames.first)
            let (outputs, tape) = try graph.record(
                [name: input], outputs: [output], mode: .inference,
                request: GradientRequest(stopAt: [name], parameterGradients: false))
            let logits = try #require(outputs[output])
            var seed = Tensor(zeros: logits.shape)
            seed.scalars[3] = 1
            return try #require(graph.backward(tape, seeds: [output: seed])[name])
        }
        expectClose(try inputGradient(onnx.graph), try inputGradient(torch.graph), tolerance: 1e-4, "∂logit₃/∂image")
    }

    /// The check: Grad-CAM on the ResNet from its `.pth` and from its `.onnx` export gives
    /// the same raw maps (the block output `layer4.1.out` is the export's `layer4.1.relu_1`).
    @Test func gradCAMMapsAgreeBetweenThePthAndItsExport() throws {
        let onnx = try ModelLoader.load(
            path: Self.directory.appendingPathComponent("resnet18_reduced_opset13.onnx").path)
        let torch = try ModelLoader.load(
            path: Self.directory.appendingPathComponent("resnet18_reduced.pth").path, inputSize: 64)
        let input = Tensor(shape: [2, 64, 64, 3]) { for i in 0..<$0.count { $0[i] = Float(sin(0.23 * Double(i))) } }
        func maps(_ graph: Graph, _ layer: String) throws -> Tensor {
            try ClassActivationMaps(graph: graph, layer: layer).compute(input, classes: [3, 7]).maps
        }
        expectClose(
            try maps(onnx.graph, "layer4.1.relu_1"), try maps(torch.graph, "layer4.1.out"), tolerance: 1e-4,
            "Grad-CAM raw maps")
    }

    @Test func unsupportedAndDamagedFilesGiveOneLine() throws {
        let original = try Data(contentsOf: Self.directory.appendingPathComponent("resnet18_reduced_opset13.onnx"))
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("onnx-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var generator = SeededGenerator(seed: 9)
        for trial in 0..<30 {
            var bytes = [UInt8](original)
            if trial % 2 == 0 {
                bytes = Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &generator)))
            } else {
                for _ in 0..<3 {
                    let at = Int.random(in: 0..<bytes.count, using: &generator)
                    bytes[at] ^= UInt8(1 << Int.random(in: 0..<8, using: &generator))
                }
            }
            let path = folder.appendingPathComponent("\(trial).onnx").path
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            do {
                _ = try ModelLoader.load(path: path)
            } catch let error as ModelFileError {
                #expect(error.file == path && !error.description.contains("\n"))
            }
        }
    }
}

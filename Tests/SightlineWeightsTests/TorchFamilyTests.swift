import Foundation
import SightlineCore
import SightlineModels
import SightlineNN
import SightlineTestSupport
import Testing

@testable import SightlineWeights

/// The torchvision families beyond ResNet and VGG, built from their state dicts' own shapes:
/// each `family_*.pth` (torchvision's own classes at small widths, random weights, BatchNorm and
/// LayerNorm weights and statistics and ConvNeXt's layer scales randomised, written by
/// `Tests/Fixtures/make_torch_family_fixtures.py` with torch 1.13) gives torch's logits for
/// x[i] = 2·sin(0.37·i) at 64×64 (`families_expected.json`) within 1e-4; `timm_*.pth` are the
/// same kind of models built by timm 0.9's classes under timm's module names (`TimmNames`).
struct TorchFamilyTests {
    static let directory = KerasFixture.directory.appendingPathComponent("torchvision")

    @Test(arguments: [
        ("mobilenet_v2", "MobileNetV2"), ("mobilenet_v3_small", "MobileNetV3"), ("mobilenet_v3_large", "MobileNetV3"),
        ("efficientnet_b0", "EfficientNet"), ("efficientnet_v2", "EfficientNet"), ("densenet", "DenseNet"),
        ("resnext", "ResNeXt"), ("wide_resnet", "Wide ResNet"), ("convnext", "ConvNeXt"), ("regnet", "RegNet"),
        ("timm_efficientnet_b0", "EfficientNet"), ("timm_convnext", "ConvNeXt"), ("timm_convnext_conv_mlp", "ConvNeXt"),
        ("timm_regnet", "RegNet"),
    ])
    func stateDictsGiveTorchsLogits(_ name: String, _ family: String) throws {
        let timm = name.hasPrefix("timm_")
        let expected = try #require(
            try KerasFixture.load(Self.directory.appendingPathComponent("families_expected.json").path)[name]
                as? [String: Any])
        let shape = try #require(expected["input_shape"] as? [Int])
        let loaded = try ModelLoader.load(
            path: Self.directory.appendingPathComponent(timm ? "\(name).pth" : "family_\(name).pth").path,
            inputSize: shape[1])
        #expect(
            loaded.architectureSource
                == (timm
                    ? "recognised as timm \(family) from its module names (mapped to torchvision's)"
                    : "recognised as torchvision \(family) from its module names"))
        #expect(loaded.preprocessing == .torch, "PyTorch weights expect torch's normalisation")
        let logits = try KerasFixture.tensor(expected["logits"])
        let output = try loaded.graph(TorchStateDictTests.input(shape))
        expectClose(output, logits, tolerance: 1e-4, "\(name) logits")
    }

    /// torch.onnx exports of the same models (`family_*.onnx`, written and checked against torch in
    /// ONNX Runtime by the same script; ConvNeXt at opset 17 with LayerNormalization, MatMul on the
    /// channels and GELU written out with Erf) give torch's logits, and so the `.pth`'s.
    @Test(arguments: ["mobilenet_v3_large", "efficientnet_v2", "convnext", "regnet"])
    func onnxExportsGiveTheSameLogits(_ name: String) throws {
        let expected = try #require(
            try KerasFixture.load(Self.directory.appendingPathComponent("families_expected.json").path)[name]
                as? [String: Any])
        let shape = try #require(expected["input_shape"] as? [Int])
        let loaded = try ModelLoader.load(path: Self.directory.appendingPathComponent("family_\(name).onnx").path)
        #expect(loaded.file.format == .onnx)
        let output = try loaded.graph(TorchStateDictTests.input(shape))
        expectClose(output, try KerasFixture.tensor(expected["logits"]), tolerance: 1e-4, "\(name).onnx logits")
    }

    /// State dicts whose shapes were tampered with (a dimension changed, a rank changed, a module
    /// dropped) build a network or give an error naming a layer; none crashes the builders.
    @Test(arguments: [
        "family_mobilenet_v3_small", "family_efficientnet_v2", "family_convnext", "family_densenet",
        "family_regnet", "family_resnext",
    ])
    func tamperedShapesGiveErrorsNotCrashes(_ name: String) throws {
        let file = try KerasWeightFile(torch: Self.directory.appendingPathComponent("\(name).pth").path)
        let layers = file.layers.map { ($0.name, $0.weights.map { ($0.role, $0.value.shape) }) }
        var generator = SeededGenerator(seed: 23)
        var (built, refused) = (0, 0)
        for trial in 0..<60 {
            var mutated = layers
            let index = Int.random(in: 0..<mutated.count, using: &generator)
            if trial % 5 == 4 {
                mutated.remove(at: index)
            } else if var weight = mutated[index].1.first {
                if trial % 5 == 3 {
                    weight.1 = Array(weight.1.dropLast())
                } else if !weight.1.isEmpty {
                    weight.1[Int.random(in: 0..<weight.1.count, using: &generator)] = Int.random(
                        in: 0...9, using: &generator)
                }
                mutated[index].1[0] = weight
            }
            let shapes = StateDictShapes(mutated)
            guard let family = TorchVisionFamily.recognise(shapes) else {
                refused += 1
                continue
            }
            do {
                _ = try family.build(shapes, inputShape: [64, 64, 3])
                built += 1
            } catch {
                #expect(!error.layer.isEmpty && !error.message.isEmpty)
                refused += 1
            }
        }
        #expect(built + refused == 60 && refused > 0, "\(name): \(built) built, \(refused) refused")
    }

    /// The published architectures at full size (`scripts/check_torch_families.py` writes them and
    /// torch's logits to `SIGHTLINE_TORCH_FULL_DIR` and runs this): each loads from its state dict
    /// and gives torch's logits within 1e-4 of scale. Skipped without that directory.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["SIGHTLINE_TORCH_FULL_DIR"] != nil))
    func fullSizeStateDicts() throws {
        let directory = URL(fileURLWithPath: ProcessInfo.processInfo.environment["SIGHTLINE_TORCH_FULL_DIR"] ?? "")
        let all = try KerasFixture.load(directory.appendingPathComponent("expected.json").path)
        for name in all.keys.sorted() {
            let expected = try #require(all[name] as? [String: Any])
            let shape = try #require(expected["input_shape"] as? [Int])
            let loaded = try ModelLoader.load(path: directory.appendingPathComponent("\(name).pth").path)
            let output = try loaded.graph(TorchStateDictTests.input(shape))
            let logits = try KerasFixture.tensor(expected["logits"])
            // Sightline's VGG ends in Keras's softmax `predictions`; torch returns logits.
            let reference = name.hasPrefix("vgg") ? ActivationFunction.softmax.applied(to: logits) : logits
            let scale = reference.scalars.map(abs).max() ?? 1
            let difference = zip(output.scalars, reference.scalars).map { abs($0 - $1) }.max() ?? .infinity
            print("\(name): \(loaded.architectureSource); largest difference \(difference) of scale \(scale)")
            #expect(difference <= 1e-4 * scale, "\(name)")
        }
    }
}

import Foundation
import SightlineCore
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
}

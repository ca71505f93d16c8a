import Foundation
import SightlineCore
import SightlineNN
import SightlineTestSupport
import SightlineWeights
import Testing

/// torchvision models converted by `pretrained/convert_torchvision.py` against torch's own
/// outputs. Fixtures: `Tests/Fixtures/torchvision/`, made with torch 1.13 / torchvision 0.14
/// (Debian) from torchvision's ResNet18 and ResNet50 (their own BasicBlock/Bottleneck classes at
/// 1/16 width, 64×64 input) and VGG16 (1/32 width, 224×224), random initialisation with
/// BatchNorm statistics randomised, 10 classes:
///
///     /usr/bin/python3 pretrained/convert_torchvision.py --arch resnet50 --reduced 16 --classes 10 \
///         --input-size 64 --output Tests/Fixtures/torchvision/resnet50_reduced.h5 \
///         --expected Tests/Fixtures/torchvision/resnet50_expected.json
///
/// The input is x[i] = 2·sin(0.37·i) over the flat NHWC index (recomputed here). Set
/// `SIGHTLINE_TORCHVISION_FIXTURES` to a folder converted the same way without `--reduced` to
/// check full-size models.
struct TorchVisionTests {
    static let directory =
        ProcessInfo.processInfo.environment["SIGHTLINE_TORCHVISION_FIXTURES"].map { URL(fileURLWithPath: $0) }
        ?? KerasFixture.directory.appendingPathComponent("torchvision")

    @Test(arguments: ["resnet18", "resnet50", "vgg16"])
    func convertedModelsMatchTorch(_ arch: String) throws {
        let expected = try KerasFixture.load(Self.directory.appendingPathComponent("\(arch)_expected.json").path)
        let shape = try #require(expected["input_shape"] as? [Int])
        let loaded = try ModelLoader.load(
            path: Self.directory.appendingPathComponent("\(arch)_reduced.h5").path, inputSize: shape[1])
        #expect(loaded.preprocessing == .torch, "converted files record torch preprocessing")
        let input = Tensor(shape: shape) { for i in 0..<$0.count { $0[i] = Float(2 * sin(0.37 * Double(i))) } }
        let logits = try KerasFixture.tensor(expected["logits"])
        let output = try loaded.graph(input)
        if arch == "vgg16" {
            // Sightline's VGG ends in Keras's softmax `predictions`; torch returns logits.
            expectClose(
                output, ActivationFunction.softmax.applied(to: logits), tolerance: 1e-4, "\(arch) probabilities")
            let features = try #require(
                try loaded.graph.forward([loaded.graph.inputNames[0]: input], outputs: ["fc2"])["fc2"])
            #expect(features.shape == [2, loaded.graph.shape(of: "fc2")?.first ?? 0])
        } else {
            #expect(loaded.architecture?.rawValue == "torchvision-\(arch)")
            expectClose(output, logits, tolerance: 1e-4, "\(arch) logits")
        }
    }
}

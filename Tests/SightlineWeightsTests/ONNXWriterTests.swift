import Foundation
import SightlineCore
import SightlineModels
import SightlineNN
import SightlineTestSupport
import Testing

@testable import SightlineWeights

/// `convert --output OUT.onnx` writes what Sightline computes: each model read back from its ONNX
/// file (through the ONNX reader, itself checked against ONNX Runtime) gives the original's
/// outputs. `scripts/check_onnx_export.py` runs the written files in ONNX Runtime against Keras.
struct ONNXWriterTests {
    static func roundTrip(_ graph: Graph, _ label: String, tolerance: Float = 1e-5) throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString).onnx")
            .path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try KerasWriter.save(
            graph, to: path,
            metadata: KerasWriter.Metadata(sightlineVersion: "test", preprocessing: .caffe, source: label))
        let shape = try #require(graph.shape(of: graph.inputNames[0]))
        let back = try ModelLoader.load(path: path, inputSize: shape[0])
        #expect(back.preprocessing == .caffe, "the preprocessing travels in the file's metadata")
        var generator = SeededGenerator(seed: 4)
        let input = Tensor(shape: [2] + shape) {
            for i in 0..<$0.count { $0[i] = Float.random(in: -2...2, using: &generator) }
        }
        expectClose(try back.graph(input), try graph(input), tolerance: tolerance, "\(label) through ONNX")
    }

    /// The shipped model: a Keras ResNet (ZeroPadding2D, `same` and strided convolutions,
    /// BatchNorm, max pooling, residual adds, global pooling, a softmax Dense).
    @Test func theShippedModelRoundTrips() throws {
        let root = KerasFixture.directory.deletingLastPathComponent().deletingLastPathComponent()
        let loaded = try ModelLoader.load(path: root.appendingPathComponent("pretrained/digits_resnet.h5").path)
        try Self.roundTrip(loaded.graph, "digits_resnet")
    }

    /// VGG16 at 1/32 width: a Flatten of a 7×7 map feeding Dense layers (NHWC row order kept).
    @Test func aFlattenedMapKeepsItsRowOrder() throws {
        try Self.roundTrip(
            try VGG.build(.vgg16, classes: 10, inputShape: [224, 224, 3], weights: .random(seed: 2), widthDivisor: 32),
            "vgg16")
    }

    /// MobileNetV2 (depthwise convolutions, ReLU6, `same` padding with stride 2) with random weights.
    @Test func depthwiseAndReLU6RoundTrip() throws {
        let entry = try #require(KerasApplications.entries.first { $0.name == "mobilenetv2_notop" })
        let graph = try KerasApplications.graph(entry, inputSize: 32)
        var generator = SeededGenerator(seed: 7)
        for layer in graph.layers {
            for parameter in layer.parameters {
                let isVariance = parameter.name == "moving_variance"
                parameter.value = Tensor(shape: parameter.value.shape) {
                    for i in 0..<$0.count {
                        $0[i] =
                            isVariance
                            ? Float.random(in: 0.5...1.5, using: &generator)
                            : Float.random(in: -0.3...0.3, using: &generator)
                    }
                }
            }
        }
        try Self.roundTrip(graph, "mobilenetv2", tolerance: 1e-4)
    }

    /// torchvision's families read from their state dicts (`TorchFamilyTests`' fixtures): ConvNeXt's
    /// LayerNormalization through channels-last transposes, its channel-wise Dense as 1×1
    /// convolutions, exact GELU and layer scale; RegNet's grouped convolutions and
    /// squeeze-excitation; MobileNetV3's hardswish (opset 17). ONNX Runtime runs the same files
    /// in `scripts/check_onnx_export.py`.
    @Test(arguments: ["family_convnext", "timm_convnext_conv_mlp", "family_regnet", "family_mobilenet_v3_large"])
    func torchFamiliesRoundTrip(_ name: String) throws {
        let directory = KerasFixture.directory.appendingPathComponent("torchvision")
        let loaded = try ModelLoader.load(path: directory.appendingPathComponent("\(name).pth").path, inputSize: 64)
        try Self.roundTrip(loaded.graph, name)
    }

    /// A separable convolution (Xception's) is written as its depthwise and pointwise steps.
    @Test func separableConvolutionsRoundTrip() throws {
        var generator = SeededGenerator(seed: 5)
        func random(_ shape: [Int]) -> Tensor {
            Tensor(shape: shape) { for i in 0..<$0.count { $0[i] = Float.random(in: -0.5...0.5, using: &generator) } }
        }
        let graph = Graph()
        try graph.addInput(name: "image", shape: [9, 9, 4])
        let layer = SeparableConv2D(
            name: "sep", depthwiseKernel: random([3, 3, 4, 2]), pointwiseKernel: random([1, 1, 8, 6]),
            bias: random([6]), strides: (2, 2), padding: .same, activation: .relu)
        graph.outputNames = [try graph.add(layer, inputs: ["image"])]
        try Self.roundTrip(graph, "separable")
    }

    @Test func aLayerWithoutACounterpartIsNamed() throws {
        let graph = Graph()
        try graph.addInput(name: "image", shape: [8, 8, 3])
        graph.outputNames = [try graph.add(UpSampling2D(name: "up", size: (2, 2)), inputs: ["image"])]
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("up-\(UUID().uuidString).onnx").path
        #expect {
            try KerasWriter.save(
                graph, to: path, metadata: KerasWriter.Metadata(sightlineVersion: "t", preprocessing: .none, source: "")
            )
        } throws: { error in
            "\(error)".contains(path) && "\(error)".contains("up") && "\(error)".contains("no ONNX counterpart")
        }
        #expect(!FileManager.default.fileExists(atPath: path), "nothing is left behind")
    }
}

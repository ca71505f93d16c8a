import SightlineCore
import Testing

@testable import SightlineNN

/// Rewrites of the inference plan that change which steps run, checked against the unfused
/// layer-by-layer path (`mode: .training` records every node as it is in the graph).
struct InferencePlanTests {
    /// input → Conv2D(activation) → ZeroPadding2D(1) → MaxPooling2D(3, stride 2): ResNet's stem end.
    static func stem(_ activation: ActivationFunction) throws -> Graph {
        let graph = Graph()
        try graph.addInput(name: "image", shape: [13, 11, 3])
        var generator = SeededGenerator(seed: 7)
        try graph.add(
            Conv2D(
                name: "conv", inputChannels: 3, filters: 16, kernelSize: (3, 3), strides: (2, 2), padding: .same,
                activation: activation, generator: &generator),
            inputs: ["image"])
        try graph.add(ZeroPadding2D(name: "pad", top: 1, bottom: 1, left: 1, right: 1), inputs: ["conv"])
        try graph.add(Pooling2D(name: "pool", kind: .max, poolSize: (3, 3), strides: (2, 2)), inputs: ["pad"])
        return graph
    }

    static func image() -> Tensor {
        var generator = SeededGenerator(seed: 8)
        return Tensor(shape: [2, 13, 11, 3]) { for i in 0..<$0.count { $0[i] = generator.nextNormal() } }
    }

    @Test func zeroPaddingAfterAReLUIsTheMaxPoolingsOwnPadding() throws {
        let graph = try Self.stem(.relu)
        #expect(try graph.inferenceSteps().map(\.name) == ["conv", "pool"], "the padded copy is not made")
        let fused = try graph.forward(["image": Self.image()], outputs: ["pool"])["pool"]
        let layered = try graph.forward(["image": Self.image()], outputs: ["pool"], mode: .training)["pool"]
        let a = try #require(fused)
        let b = try #require(layered)
        #expect(a.shape == b.shape && a.maxAbsoluteDifference(b) < 1e-6)
    }

    @Test func zeroPaddingOfValuesThatMayBeNegativeStays() throws {
        // Without the ReLU a zero can be a window's maximum: the padding must stay a step.
        let graph = try Self.stem(.linear)
        #expect(try graph.inferenceSteps().map(\.name) == ["conv", "pad", "pool"])
        let fused = try #require(try graph.forward(["image": Self.image()], outputs: ["pool"])["pool"])
        let layered = try #require(
            try graph.forward(["image": Self.image()], outputs: ["pool"], mode: .training)["pool"])
        #expect(fused.maxAbsoluteDifference(layered) < 1e-6)
    }

    /// MobileNetV2's strided block: ReLU6 → ZeroPadding2D (bottom and right) → depthwise 3×3
    /// stride 2 → BatchNorm → ReLU6. The padding becomes the depthwise layer's own, and the output
    /// equals the plan's with the padded copy kept (the padding requested as an output).
    @Test func zeroPaddingIsTheDepthwiseConvolutionsOwnPadding() throws {
        let graph = Graph()
        try graph.addInput(name: "image", shape: [12, 10, 3])
        var generator = SeededGenerator(seed: 9)
        try graph.add(
            Conv2D(
                name: "expand", inputChannels: 3, filters: 24, kernelSize: (1, 1), activation: .relu(maxValue: 6),
                generator: &generator), inputs: ["image"])
        try graph.add(ZeroPadding2D(name: "pad", top: 0, bottom: 1, left: 0, right: 1), inputs: ["expand"])
        let kernel = Tensor(shape: [3, 3, 24, 1]) { for i in 0..<$0.count { $0[i] = generator.nextNormal() } }
        try graph.add(
            DepthwiseConv2D(name: "dw", kernel: kernel, bias: nil, strides: (2, 2), padding: .valid), inputs: ["pad"])
        let bn = BatchNormalization(name: "bn", channels: 24, epsilon: 1e-3)
        bn.movingMean.value = Tensor(shape: [24]) { for i in 0..<$0.count { $0[i] = generator.nextNormal() } }
        try graph.add(bn, inputs: ["dw"])
        try graph.add(Activation(name: "relu", .relu(maxValue: 6)), inputs: ["bn"])
        #expect(try graph.inferenceSteps().map(\.name) == ["expand", "relu"], "no padded copy, no BatchNorm step")
        let image = Tensor(shape: [2, 12, 10, 3]) { for i in 0..<$0.count { $0[i] = generator.nextNormal() * 3 } }
        let fused = try #require(try graph.forward(["image": image], outputs: ["relu"])["relu"])
        let kept = try #require(try graph.forward(["image": image], outputs: ["pad", "relu"])["relu"])
        #expect(fused.shape == [2, 6, 5, 24] && kept.shape == fused.shape)
        #expect(fused.maxAbsoluteDifference(kept) < 1e-5)
        #expect(fused.scalars.contains(0) && fused.scalars.contains { $0 > 0 && $0 < 6 })
    }
}

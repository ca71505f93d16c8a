import Foundation
import SightlineCore
import SightlineNN
import Testing

@testable import SightlineExplain

struct GuidedBackpropTests {
    @Test func withoutReLUsItIsThePlainInputGradient() throws {
        var generator = SeededGenerator(seed: 4)
        let graph = Graph()
        try graph.addInput(name: "x", shape: [6, 6, 2])
        try graph.add(
            Conv2D(
                name: "conv", inputChannels: 2, filters: 3, kernelSize: (3, 3), padding: .same, activation: .tanh,
                generator: &generator), inputs: ["x"])
        try graph.add(GlobalPooling2D(name: "gap", kind: .average), inputs: ["conv"])
        try graph.add(Dense(name: "out", inputFeatures: 3, units: 2, generator: &generator), inputs: ["gap"])
        let cam = try ClassActivationMaps(graph: graph, layer: "conv")
        let x = Tensor(shape: [1, 6, 6, 2]) { for i in 0..<$0.count { $0[i] = generator.nextNormal() } }
        let guided = try GuidedBackprop.saliency(cam, images: x, classes: [1])
        let (_, tape) = try graph.record(
            ["x": x], outputs: ["out"], mode: .inference,
            request: GradientRequest(stopAt: ["x"], parameterGradients: false))
        let plain = try #require(graph.backward(tape, seeds: ["out": Tensor(shape: [1, 2], scalars: [0, 1])])["x"])
        #expect(guided.maxAbsoluteDifference(plain) < 1e-6)
    }

    @Test func guidedReLUPassesOnlyPositiveGradientsThroughActiveUnits() {
        let relu = GuidedBackprop.GuidedReLU(name: "r")
        let x = Tensor(shape: [4], scalars: [-1, 2, 3, 0.5])
        let forward = relu.forward([x], mode: .inference)
        let gradient = relu.backward(
            Tensor(shape: [4], scalars: [5, -1, 2, 3]), inputs: [x], forward: forward, mode: .inference, needs: .input)[
                0]
        #expect(gradient.scalars == [0, 0, 2, 3])
    }

    @Test func saliencyConcentratesOnTheSquareOfTheTrainedModel() throws {
        var (graph, generator) = try RandomisationCheckTests.trained()
        let (test, labels) = RandomisationCheckTests.batch(6, &generator)
        let cam = try ClassActivationMaps(graph: graph, layer: "conv2")
        let saliency = try GuidedBackprop.saliency(cam, images: test, classes: labels)
        var inside = 0.0
        var outside = 0.0
        for image in 0..<6 {
            for pixel in 0..<256 {
                let value = Double(abs(saliency.scalars[image * 256 + pixel]))
                if test.scalars[image * 256 + pixel] == 2 { inside += value / 16 } else { outside += value / 240 }
            }
        }
        #expect(inside > 2 * outside, "mean |saliency| on the square \(inside / 6) vs elsewhere \(outside / 6)")
    }
}

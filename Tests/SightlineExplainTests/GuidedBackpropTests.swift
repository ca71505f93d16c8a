import Foundation
import SightlineCore
import SightlineNN
import Testing

@testable import SightlineExplain

struct GuidedBackpropTests {
    @Test func withoutActivationsItIsThePlainInputGradient() throws {
        var generator = SeededGenerator(seed: 4)
        let graph = Graph()
        try graph.addInput(name: "x", shape: [6, 6, 2])
        try graph.add(
            Conv2D(
                name: "conv", inputChannels: 2, filters: 3, kernelSize: (3, 3), padding: .same, activation: .linear,
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
        let relu = GuidedBackprop.GuidedActivation(name: "r", .relu)
        let x = Tensor(shape: [4], scalars: [-1, 2, 3, 0.5])
        let forward = relu.forward([x], mode: .inference)
        let gradient = relu.backward(
            Tensor(shape: [4], scalars: [5, -1, 2, 3]), inputs: [x], forward: forward, mode: .inference, needs: .input)[
                0]
        #expect(gradient.scalars == [0, 0, 2, 3])
    }

    /// Every activation is guided by its own rule, fused or not: ReLU6 passes positive gradients
    /// where 0 < x < 6, swish scales them by its slope and blocks where the slope is negative. A
    /// Dense → activation → Dense chain, whose guided gradient is written out here by hand.
    @Test(arguments: [ActivationFunction.relu(maxValue: 6), .swish, .sigmoid])
    func everyActivationIsGuided(_ function: ActivationFunction) throws {
        var generator = SeededGenerator(seed: 8)
        func random(_ shape: [Int]) -> Tensor {
            Tensor(shape: shape) { for i in 0..<$0.count { $0[i] = Float.random(in: -3...3, using: &generator) } }
        }
        let (w1, w2) = (random([4, 6]), random([6, 3]))
        for fused in [false, true] {
            let graph = Graph()
            try graph.addInput(name: "x", shape: [4])
            if fused {
                try graph.add(Dense(name: "h", kernel: w1, bias: nil, activation: function), inputs: ["x"])
            } else {
                try graph.add(Dense(name: "z", kernel: w1, bias: nil), inputs: ["x"])
                try graph.add(Activation(name: "h", function), inputs: ["z"])
            }
            graph.outputNames = [try graph.add(Dense(name: "out", kernel: w2, bias: nil), inputs: ["h"])]
            let guided = try GuidedBackprop.guided(graph)
            let x = random([1, 4])
            let (_, tape) = try guided.record(
                ["x": x], outputs: ["out"], mode: .inference,
                request: GradientRequest(stopAt: ["x"], parameterGradients: false))
            let gradient = try #require(
                guided.backward(tape, seeds: ["out": Tensor(shape: [1, 3], scalars: [0, 1, 0])])["x"])
            // By hand: z = xW1; δ_h = max(W2[:, 1], 0); δ_z = max(0, f′(z)·δ_h); ∂x = W1 δ_z.
            let z = (0..<6).map { j in (0..<4).reduce(Float(0)) { $0 + x.scalars[$1] * w1.scalars[$1 * 6 + j] } }
            let slope = function.gradient(
                Tensor(repeating: 1, shape: [1, 6]), output: function.applied(to: Tensor(shape: [1, 6], scalars: z)),
                input: Tensor(shape: [1, 6], scalars: z))
            let delta = (0..<6).map { j in max(0, slope.scalars[j] * max(w2.scalars[j * 3 + 1], 0)) }
            let expected = (0..<4).map { i in (0..<6).reduce(Float(0)) { $0 + w1.scalars[i * 6 + $1] * delta[$1] } }
            #expect(
                gradient.maxAbsoluteDifference(Tensor(shape: [1, 4], scalars: expected)) < 1e-5,
                "\(function) \(fused ? "fused" : "as a layer")")
        }
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

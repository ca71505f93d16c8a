import Foundation
import SightlineCore
import SightlineNN
import SightlineTestSupport
import Testing

/// Every layer's backward against central finite differences of L = Σ output · upstream, on
/// seeded random inputs (float32 forward, loss summed in double). Inputs to layers with kinks
/// (ReLU, max) are spread so that no value lies within the step of a kink.
struct GradientCheckTests {
    /// Compares analytic input and parameter gradients with finite differences.
    static func check(
        _ layer: any Layer, inputs: [Tensor], mode: Mode = .inference, step: Float = 1e-2, tolerance: Double = 2e-2
    ) {
        var generator = SeededGenerator(seed: 99)
        let forward = layer.forward(inputs, mode: mode)
        let upstream = Tensor(shape: forward.output.shape) { for i in 0..<$0.count { $0[i] = generator.nextNormal() } }
        for parameter in layer.parameters { parameter.zeroGradient() }
        let analytic = layer.backward(upstream, inputs: inputs, forward: forward, mode: mode, needs: .all)
        func loss(_ candidate: [Tensor]) -> Double {
            weightedSum(layer.forward(candidate, mode: mode).output, upstream)
        }
        func numeric(_ perturb: (Float) -> Double) -> Double { (perturb(step) - perturb(-step)) / Double(2 * step) }

        for (index, input) in inputs.enumerated() {
            for element in sample(input.count) {
                let estimate = numeric { delta in
                    var moved = inputs
                    moved[index].scalars[element] += delta
                    return loss(moved)
                }
                let exact = Double(analytic[index].scalars[element])
                #expect(
                    abs(exact - estimate) <= tolerance * max(1, abs(estimate)),
                    "\(layer.name) input \(index)[\(element)]: \(exact) vs \(estimate)")
            }
        }
        for parameter in layer.parameters where parameter.isTrainable {
            guard let gradient = parameter.gradient else {
                Issue.record("\(layer.name).\(parameter.name) has no gradient")
                continue
            }
            let original = parameter.value
            for element in sample(original.count) {
                let estimate = numeric { delta in
                    var moved = original
                    moved.scalars[element] += delta
                    parameter.value = moved
                    defer { parameter.value = original }
                    return loss(inputs)
                }
                let exact = Double(gradient.scalars[element])
                #expect(
                    abs(exact - estimate) <= tolerance * max(1, abs(estimate)),
                    "\(layer.name).\(parameter.name)[\(element)]: \(exact) vs \(estimate)")
            }
        }
    }

    /// Up to 24 element indices spread over `count`.
    static func sample(_ count: Int) -> [Int] {
        count <= 24 ? Array(0..<count) : (0..<24).map { min($0 * count / 24 + ($0 % 3), count - 1) }
    }

    static func random(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
        var generator = SeededGenerator(seed: seed)
        return Tensor(shape: shape) { for i in 0..<$0.count { $0[i] = generator.nextNormal() * scale } }
    }

    /// Distinct values spaced 0.1 apart, shuffled, and kept away from zero: no kink within a step.
    static func spread(_ shape: [Int], seed: UInt64) -> Tensor {
        var generator = SeededGenerator(seed: seed)
        let count = shape.reduce(1, *)
        var values = (0..<count).map { Float($0 - count / 2) * 0.1 + 0.05 }
        values.shuffle(using: &generator)
        return Tensor(shape: shape, scalars: values)
    }

    @Test func convolutions() {
        var generator = SeededGenerator(seed: 1)
        let x = Self.random([2, 7, 6, 3], seed: 2)
        Self.check(
            Conv2D(
                name: "conv_same_s2", inputChannels: 3, filters: 4, kernelSize: (3, 3), strides: (2, 2), padding: .same,
                activation: .tanh, generator: &generator), inputs: [x])
        Self.check(
            Conv2D(
                name: "conv_dilated", inputChannels: 3, filters: 2, kernelSize: (2, 3), dilation: (2, 1),
                activation: .sigmoid, generator: &generator), inputs: [x])
        Self.check(
            Conv2D(
                name: "conv_pointwise", inputChannels: 3, filters: 5, kernelSize: (1, 1), useBias: false,
                activation: .elu(alpha: 1), generator: &generator), inputs: [x])
        Self.check(
            Conv2D(
                name: "conv_explicit_pad", inputChannels: 3, filters: 2, kernelSize: (3, 3),
                padding: .explicit(top: 1, bottom: 0, left: 2, right: 1), generator: &generator), inputs: [x])
        Self.check(
            DepthwiseConv2D(
                name: "depthwise", kernel: Self.random([3, 3, 3, 2], seed: 3), bias: Self.random([6], seed: 4),
                strides: (2, 1), padding: .same, activation: .tanh), inputs: [x])
        Self.check(
            SeparableConv2D(
                name: "separable", depthwiseKernel: Self.random([3, 3, 3, 2], seed: 5),
                pointwiseKernel: Self.random([1, 1, 6, 4], seed: 6), bias: Self.random([4], seed: 7), padding: .same,
                activation: .sigmoid),
            inputs: [x])
        Self.check(Slice(name: "slice", spec: [(1, nil, nil), (nil, nil, 2), (-4, nil, nil)]), inputs: [x])
        // RegNet's grouped convolution: 6 channels in 3 groups of 2, 6 filters (2 per group).
        let six = Self.random([2, 6, 5, 6], seed: 8)
        Self.check(
            GroupedConv2D(
                name: "grouped", kernel: Self.random([3, 3, 2, 6], seed: 9), bias: Self.random([6], seed: 10),
                groups: 3, strides: (2, 1), padding: .same, activation: .tanh),
            inputs: [six])
    }

    @Test func denseAndActivations() {
        var generator = SeededGenerator(seed: 8)
        Self.check(
            Dense(name: "dense", inputFeatures: 6, units: 4, activation: .softmax, generator: &generator),
            inputs: [Self.random([3, 6], seed: 9)])
        let x = Self.spread([2, 3, 4, 5], seed: 10)
        for function: ActivationFunction in [
            .relu, .relu(maxValue: 1.5, negativeSlope: 0.2), .leakyRelu(alpha: 0.3), .elu(alpha: 0.7), .sigmoid,
            .hardSigmoid, .tanh, .softmax,
        ] {
            Self.check(Activation(name: "\(function)", function), inputs: [x])
        }
    }

    @Test func batchNormalization() {
        let x = Self.random([4, 3, 2, 5], seed: 11, scale: 2)
        let make = {
            BatchNormalization(
                name: "bn", gamma: Self.random([5], seed: 12), beta: Self.random([5], seed: 13),
                movingMean: Self.random([5], seed: 14),
                movingVariance: Tensor(repeating: 1.5, shape: [5]), epsilon: 1e-3)
        }
        Self.check(make(), inputs: [x], mode: .inference)
        Self.check(make(), inputs: [x], mode: .training)
    }

    @Test func poolingPaddingAndShapes() {
        let x = Self.spread([2, 5, 6, 3], seed: 15)
        Self.check(
            Pooling2D(name: "max_same", kind: .max, poolSize: (3, 3), strides: (2, 2), padding: .same), inputs: [x])
        Self.check(
            Pooling2D(name: "avg_same", kind: .average, poolSize: (3, 3), strides: (2, 2), padding: .same), inputs: [x])
        // 2×2 windows at stride 2 tiling the map (VGG's pools) take their own write-once loop.
        let even = Self.spread([3, 4, 6, 2], seed: 19)  // sampled elements reach every tap
        Self.check(Pooling2D(name: "max_tiled", kind: .max, poolSize: (2, 2), strides: (2, 2)), inputs: [even])
        Self.check(GlobalPooling2D(name: "gmax", kind: .max), inputs: [x])
        Self.check(GlobalPooling2D(name: "gavg", kind: .average, keepDims: true), inputs: [x])
        Self.check(ZeroPadding2D(name: "pad", top: 1, bottom: 2, left: 0, right: 3), inputs: [x])
        Self.check(Reshape.flatten(name: "flatten"), inputs: [x])
        Self.check(Rescaling(name: "rescale", scale: 0.5, offset: -1), inputs: [x])
    }

    @Test func merges() {
        let a = Self.random([2, 3, 3, 4], seed: 16)
        let b = Self.random([2, 3, 3, 4], seed: 17)
        let c = Self.random([2, 3, 3, 2], seed: 18)
        Self.check(Merge(name: "add", .add), inputs: [a, b])
        Self.check(Merge(name: "multiply", .multiply), inputs: [a, b, a])
        Self.check(Merge(name: "concatenate", .concatenate), inputs: [a, c])
    }

    /// The activations whose derivative needs the input, standalone and fused into the layers
    /// that keep the pre-activation for it.
    @Test func inputDerivativeActivations() {
        var generator = SeededGenerator(seed: 30)
        let x = Self.spread([2, 3, 4, 5], seed: 31)
        let functions: [ActivationFunction] = [
            .swish, .hardSilu, .gelu(approximate: false), .gelu(approximate: true), .hardSigmoidKeras2, .softplus,
            .selu,
        ]
        for function in functions {
            Self.check(Activation(name: "\(function)", function), inputs: [x])
        }
        let image = Self.random([2, 5, 4, 3], seed: 32)
        Self.check(
            Conv2D(
                name: "conv_swish", inputChannels: 3, filters: 4, kernelSize: (3, 3), padding: .same,
                activation: .swish, generator: &generator), inputs: [image])
        Self.check(
            Dense(
                name: "dense_gelu", inputFeatures: 3, units: 4, activation: .gelu(approximate: false),
                generator: &generator), inputs: [image])
        Self.check(
            DepthwiseConv2D(
                name: "depthwise_hard_silu", kernel: Self.random([3, 3, 3, 1], seed: 33), bias: nil, padding: .same,
                activation: .hardSilu), inputs: [image])
        Self.check(
            SeparableConv2D(
                name: "separable_swish", depthwiseKernel: Self.random([3, 3, 3, 2], seed: 34),
                pointwiseKernel: Self.random([1, 1, 6, 4], seed: 35), bias: nil, padding: .same, activation: .swish),
            inputs: [image])
    }

    /// The layers Keras Applications families beyond VGG/ResNet need.
    @Test func zooLayers() {
        let x = Self.random([2, 5, 6, 4], seed: 40)
        let layerNorm = LayerNormalization(name: "layernorm", channels: 4, epsilon: 1e-3)
        layerNorm.gamma?.value = Self.random([4], seed: 41)
        layerNorm.beta?.value = Self.random([4], seed: 42)
        Self.check(layerNorm, inputs: [x], step: 1e-2, tolerance: 3e-2)
        Self.check(
            Normalization(
                name: "normalise", mean: Self.random([4], seed: 43), variance: Tensor(repeating: 2, shape: [4])),
            inputs: [x])
        Self.check(Cropping2D(name: "crop", top: 1, bottom: 0, left: 2, right: 1), inputs: [x])
        Self.check(UpSampling2D(name: "up", size: (2, 3)), inputs: [x])
        Self.check(LayerScale(name: "layer_scale", gamma: Self.random([4], seed: 44)), inputs: [x])
        Self.check(
            Rescaling(name: "rescale_per_channel", scales: [0.5, 1, 2, 3], offsets: [0, 1, -1, 0.5]), inputs: [x])
        Self.check(
            CustomScaleLayer(name: "scaled_sum", scale: 0.17), inputs: [x, Self.random([2, 5, 6, 4], seed: 45)])
        Self.check(TensorOperation(name: "plus_three", .add, .input(0), .constant(3)), inputs: [x])
        Self.check(
            TensorOperation(name: "divide", .divide, .input(0), .input(1)),
            inputs: [x, Tensor(repeating: 1.5, shape: [2, 1, 1, 4])])
        Self.check(TensorOperation(name: "constant_minus", .subtract, .constant(1), .input(0)), inputs: [x])
    }

    /// Keras `noise_shape=(None, 1, 1, 1)` (EfficientNet's stochastic depth): in training each
    /// sample is dropped or scaled by 1/(1 − rate) as a whole; in inference nothing changes.
    @Test func stochasticDepthDropsWholeSamples() {
        let x = Tensor(repeating: 1, shape: [64, 2, 2, 3])
        let layer = Dropout(name: "drop_path", rate: 0.5, seed: 3, noiseShape: [0, 1, 1, 1])
        let y = layer.forward([x], mode: .training).output
        var dropped = 0
        for sample in 0..<64 {
            let values = Set(y.scalars[(sample * 12)..<((sample + 1) * 12)])
            #expect(values == [0] || values == [2], "sample \(sample) is not dropped or kept whole: \(values)")
            if values == [0] { dropped += 1 }
        }
        #expect((16...48).contains(dropped), "dropped \(dropped) of 64 at rate 0.5")
        #expect(layer.forward([x], mode: .inference).output == x)
    }

    /// Squeeze-excitation: `[h, w, c] × [1, 1, c]`, and a broadcast sum.
    @Test func broadcastingMerges() {
        let x = Self.random([2, 3, 4, 5], seed: 46)
        let gate = Self.random([2, 1, 1, 5], seed: 47)
        Self.check(Merge(name: "gate", .multiply), inputs: [x, gate])
        Self.check(Merge(name: "broadcast_add", .add), inputs: [gate, x])
    }

    @Test func graphWithResidualBranch() throws {
        // Finite differences through a whole graph: conv → BN (training) → ReLU, residual add, concat, GAP, dense.
        var generator = SeededGenerator(seed: 19)
        let graph = Graph()
        try graph.addInput(name: "x", shape: [5, 5, 3])
        try graph.add(
            Conv2D(name: "c1", inputChannels: 3, filters: 3, kernelSize: (3, 3), padding: .same, generator: &generator),
            inputs: ["x"])
        try graph.add(BatchNormalization(name: "bn", channels: 3), inputs: ["c1"])
        try graph.add(Activation(name: "act", .tanh), inputs: ["bn"])
        try graph.add(Merge(name: "res", .add), inputs: ["x", "act"])
        try graph.add(Merge(name: "cat", .concatenate), inputs: ["res", "x"])
        try graph.add(GlobalPooling2D(name: "gap", kind: .average), inputs: ["cat"])
        try graph.add(Dense(name: "fc", inputFeatures: 6, units: 2, generator: &generator), inputs: ["gap"])
        let x = Self.random([3, 5, 5, 3], seed: 20)
        let upstream = Self.random([3, 2], seed: 21)
        func loss(_ input: Tensor) throws -> Double {
            // Frozen moving statistics are irrelevant here: training mode normalises by batch.
            weightedSum(try #require(try graph.forward(["x": input], mode: .training)["fc"]), upstream)
        }
        let (_, tape) = try graph.record(["x": x], mode: .training, request: GradientRequest(stopAt: ["x"]))
        let dx = try #require(graph.backward(tape, seeds: ["fc": upstream])["x"])
        for element in Self.sample(x.count) {
            var plus = x
            var minus = x
            plus.scalars[element] += 1e-2
            minus.scalars[element] -= 1e-2
            let estimate = (try loss(plus) - loss(minus)) / 2e-2
            #expect(
                abs(Double(dx.scalars[element]) - estimate) <= 2e-2 * max(1, abs(estimate)),
                "x[\(element)]: \(dx.scalars[element]) vs \(estimate)")
        }
    }
}

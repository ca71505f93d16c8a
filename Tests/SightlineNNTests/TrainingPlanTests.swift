import Foundation
import SightlineCore
import SightlineTestSupport
import Testing

@testable import SightlineNN

/// The recorded training pass (`TrainingPlan`): frozen BatchNorm folded into the convolution
/// before it, shortcut and activation fused, the frozen prefix run without a tape. Its gradients
/// are compared with the unfused pass of the same graph (every intermediate requested as an
/// output, which keeps each layer its own step, as before the plan) and with finite differences.
struct TrainingPlanTests {
    /// A small ResNet/MobileNet-style graph: conv → BN → ReLU, conv → BN → add → ReLU, depthwise →
    /// BN → ReLU6, 1×1 conv with bias → BN, average pooling, dense logits. BatchNorm frozen with
    /// non-trivial statistics (as `finetune` runs it), everything else trainable.
    static func residualGraph() throws -> Graph {
        var generator = SeededGenerator(seed: 7)
        let graph = Graph()
        try graph.addInput(name: "x", shape: [6, 6, 8])
        func bn(_ name: String, _ channels: Int, seed: UInt64) -> BatchNormalization {
            Self.frozenBatchNorm(name, channels, seed: seed)
        }
        try graph.add(
            Conv2D(
                name: "c1", inputChannels: 8, filters: 8, kernelSize: (3, 3), padding: .same, useBias: false,
                generator: &generator), inputs: ["x"])
        try graph.add(bn("bn1", 8, seed: 10), inputs: ["c1"])
        try graph.add(Activation(name: "r1", .relu), inputs: ["bn1"])
        try graph.add(
            Conv2D(
                name: "c2", inputChannels: 8, filters: 8, kernelSize: (3, 3), padding: .same, useBias: false,
                generator: &generator), inputs: ["r1"])
        try graph.add(bn("bn2", 8, seed: 20), inputs: ["c2"])
        try graph.add(Merge(name: "add", .add), inputs: ["x", "bn2"])
        try graph.add(Activation(name: "r2", .relu), inputs: ["add"])
        try graph.add(
            DepthwiseConv2D(
                name: "dw", kernel: GradientCheckTests.random([3, 3, 8, 1], seed: 30, scale: 0.3), bias: nil,
                strides: (2, 2), padding: .same), inputs: ["r2"])
        try graph.add(bn("bn3", 8, seed: 40), inputs: ["dw"])
        try graph.add(Activation(name: "r3", .relu(maxValue: 6)), inputs: ["bn3"])
        try graph.add(
            Conv2D(name: "c4", inputChannels: 8, filters: 16, kernelSize: (1, 1), generator: &generator),
            inputs: ["r3"])
        try graph.add(bn("bn4", 16, seed: 50), inputs: ["c4"])
        try graph.add(GlobalPooling2D(name: "gap", kind: .average), inputs: ["bn4"])
        try graph.add(Dense(name: "fc", inputFeatures: 16, units: 3, generator: &generator), inputs: ["gap"])
        return graph
    }

    /// A frozen BatchNorm with non-trivial statistics and scale.
    static func frozenBatchNorm(_ name: String, _ channels: Int, seed: UInt64) -> BatchNormalization {
        func values(_ offset: UInt64, _ scale: Float, _ transform: (Float) -> Float) -> Tensor {
            let random = GradientCheckTests.random([channels], seed: seed + offset, scale: scale)
            return Tensor(shape: [channels], scalars: random.scalars.map(transform))
        }
        let layer = BatchNormalization(
            name: name, gamma: values(0, 0.5) { $0 + 1 }, beta: values(1, 0.3) { $0 },
            movingMean: values(2, 0.2) { $0 }, movingVariance: values(3, 0.2) { $0 * $0 + 0.5 }, epsilon: 1e-3)
        layer.isTrainable = false
        return layer
    }

    /// Ends a test block of 8 channels: `add(shortcut, branch)`, ReLU `out`, average pooling
    /// `gap`, 3 logits `fc`; returns the graph's training plan (every parameter's gradient, `fc`
    /// pinned).
    static func finishResidualBlock(
        _ graph: Graph, shortcut: String, branch: String, generator: inout SeededGenerator
    ) throws -> TrainingPlan {
        try graph.add(Merge(name: "add", .add), inputs: [shortcut, branch])
        try graph.add(Activation(name: "out", .relu), inputs: ["add"])
        try graph.add(GlobalPooling2D(name: "gap", kind: .average), inputs: ["out"])
        try graph.add(Dense(name: "fc", inputFeatures: 8, units: 3, generator: &generator), inputs: ["gap"])
        return TrainingPlan(
            graph: graph, mode: .training, flags: graph.gradientFlags(GradientRequest()), pinned: ["fc"],
            parameterGradients: true)
    }

    /// Every parameter gradient of `Σ logits · upstream` (after one recorded pass in `.training`),
    /// by layer and weight name; `unfused` requests every node as an output.
    static func gradients(_ graph: Graph, _ x: Tensor, _ upstream: Tensor, unfused: Bool) throws -> [String: Tensor] {
        graph.zeroGradients()
        let outputs = unfused ? graph.nodes.map(\.name) : ["fc"]
        let (_, tape) = try graph.record(["x": x], outputs: outputs, mode: .training, request: GradientRequest())
        _ = graph.backward(tape, seeds: ["fc": upstream])
        var result: [String: Tensor] = [:]
        for layer in graph.layers {
            for parameter in layer.parameters {
                if let gradient = parameter.gradient { result["\(layer.name).\(parameter.name)"] = gradient }
            }
        }
        return result
    }

    /// Expects every gradient of the unfused pass from the fused one, within 1e-5 of its largest
    /// magnitude (or of 1).
    static func expectSameGradients(_ fused: [String: Tensor], _ unfused: [String: Tensor]) throws {
        for (name, gradient) in unfused {
            let other = try #require(fused[name])
            let scale = gradient.scalars.map(abs).max() ?? 1
            let difference = zip(gradient.scalars, other.scalars).map { abs($0 - $1) }.max() ?? 0
            #expect(difference <= 1e-5 * max(scale, 1), "\(name): largest difference \(difference) of \(scale)")
        }
    }

    @Test func foldedBatchNormGivesTheUnfoldedGradients() throws {
        let graph = try Self.residualGraph()
        let x = GradientCheckTests.random([2, 6, 6, 8], seed: 1)
        let upstream = GradientCheckTests.random([2, 3], seed: 2)
        let plan = TrainingPlan(
            graph: graph, mode: .training, flags: graph.gradientFlags(GradientRequest()), pinned: ["fc"],
            parameterGradients: true)
        // c1+bn1+r1, c2+bn2+add+r2, dw+bn3+r3, c4+bn4, gap, fc: no BatchNorm step remains.
        #expect(plan.steps.map(\.name) == ["r1", "r2", "r3", "bn4", "gap", "fc"])
        let folded = try Self.gradients(graph, x, upstream, unfused: false)
        let unfolded = try Self.gradients(graph, x, upstream, unfused: true)
        #expect(Set(folded.keys) == Set(unfolded.keys))
        #expect(
            Set(folded.keys) == [
                "c1.kernel", "c2.kernel", "dw.depthwise_kernel", "c4.kernel", "c4.bias", "fc.kernel", "fc.bias",
            ])
        try Self.expectSameGradients(folded, unfolded)
    }

    /// A ResNet block's last convolution (1×1, fused with its BatchNorm, the shortcut and the
    /// ReLU) reads the 3×3 layer's ReLU output alone: it applies that ReLU's derivative to the
    /// input gradient it computes, and the 3×3 step starts from what it receives. The gradients
    /// are the unfused pass's; dropping the reader's derivative makes them differ.
    @Test func aPointwiseReaderAppliesTheReLUsDerivative() throws {
        var generator = SeededGenerator(seed: 9)
        let graph = Graph()
        try graph.addInput(name: "x", shape: [6, 6, 8])
        try graph.add(
            Conv2D(
                name: "c0", inputChannels: 8, filters: 16, kernelSize: (3, 3), padding: .same, useBias: false,
                generator: &generator), inputs: ["x"])
        try graph.add(Self.frozenBatchNorm("bn0", 16, seed: 10), inputs: ["c0"])
        try graph.add(Activation(name: "r0", .relu), inputs: ["bn0"])
        try graph.add(
            Conv2D(
                name: "c1", inputChannels: 16, filters: 8, kernelSize: (1, 1), padding: .valid, useBias: false,
                generator: &generator), inputs: ["r0"])
        try graph.add(Self.frozenBatchNorm("bn1", 8, seed: 20), inputs: ["c1"])
        let plan = try Self.finishResidualBlock(graph, shortcut: "x", branch: "bn1", generator: &generator)
        let reader = try #require(plan.steps.first { $0.name == "out" })
        #expect(reader.appliesReaderDerivative == .relu() && reader.inputs == ["r0"])
        #expect(try #require(plan.steps.first { $0.name == "r0" }).derivativeByReader)
        let x = GradientCheckTests.random([2, 6, 6, 8], seed: 3)
        let upstream = GradientCheckTests.random([2, 3], seed: 4)
        let fused = try Self.gradients(graph, x, upstream, unfused: false)
        let unfused = try Self.gradients(graph, x, upstream, unfused: true)
        #expect(Set(fused.keys) == Set(unfused.keys) && fused.keys.contains("c0.kernel"))
        try Self.expectSameGradients(fused, unfused)
    }

    /// A ResNet identity block's input is a folded convolution's ReLU output read twice: by the
    /// block's first convolution and by its shortcut. The two gradients are summed in the pass
    /// that applies the ReLU's derivative; the result must be the unfused pass's.
    @Test func aReLUOutputReadTwiceSumsItsGradientsInTheDerivative() throws {
        var generator = SeededGenerator(seed: 8)
        let graph = Graph()
        try graph.addInput(name: "x", shape: [6, 6, 8])
        func conv(_ name: String, _ size: Int) -> Conv2D {
            Conv2D(
                name: name, inputChannels: 8, filters: 8, kernelSize: (size, size), padding: .same, useBias: false,
                generator: &generator)
        }
        for (index, (name, input)) in [("0", "x"), ("1", "r0"), ("2", "r1")].enumerated() {
            try graph.add(conv("c" + name, index == 1 ? 1 : 3), inputs: [input])
            try graph.add(Self.frozenBatchNorm("bn" + name, 8, seed: UInt64(10 * index + 10)), inputs: ["c" + name])
            if name != "2" { try graph.add(Activation(name: "r" + name, .relu), inputs: ["bn" + name]) }
        }
        let plan = try Self.finishResidualBlock(graph, shortcut: "r0", branch: "bn2", generator: &generator)
        #expect(plan.steps.map(\.name) == ["r0", "r1", "out", "gap", "fc"])
        let x = GradientCheckTests.random([2, 6, 6, 8], seed: 3)
        let upstream = GradientCheckTests.random([2, 3], seed: 4)
        let fused = try Self.gradients(graph, x, upstream, unfused: false)
        let unfused = try Self.gradients(graph, x, upstream, unfused: true)
        #expect(Set(fused.keys) == ["c0.kernel", "c1.kernel", "c2.kernel", "fc.kernel", "fc.bias"])
        try Self.expectSameGradients(fused, unfused)
    }

    @Test func foldedPathMatchesFiniteDifferences() throws {
        let graph = try Self.residualGraph()
        let x = GradientCheckTests.random([2, 6, 6, 8], seed: 3)
        let upstream = GradientCheckTests.random([2, 3], seed: 4)
        let analytic = try Self.gradients(graph, x, upstream, unfused: false)
        func loss() throws -> Double {
            weightedSum(try #require(try graph.forward(["x": x], mode: .training)["fc"]), upstream)
        }
        for (layer, weight) in [("c1", "kernel"), ("c2", "kernel"), ("dw", "depthwise_kernel"), ("c4", "bias")] {
            let parameter = try #require(graph.layer(named: layer)?.parameter(named: weight))
            let gradient = try #require(analytic["\(layer).\(weight)"])
            let original = parameter.value
            for element in GradientCheckTests.sample(original.count) {
                var estimate = 0.0
                // A small step: few ReLU inputs cross their kink (float32 forward, loss summed in double).
                for delta: Float in [1e-3, -1e-3] {
                    var moved = original
                    moved.scalars[element] += delta
                    parameter.value = moved
                    estimate += try loss() * (delta > 0 ? 1 : -1) / 2e-3
                }
                parameter.value = original
                let exact = Double(gradient.scalars[element])
                #expect(
                    abs(exact - estimate) <= 2e-2 * max(1, abs(estimate)),
                    "\(layer).\(weight)[\(element)]: \(exact) vs \(estimate)")
            }
        }
    }

    @Test func frozenBatchNormIsUntouchedByATrainingStep() throws {
        let graph = try Self.residualGraph()
        let before = graph.layers.compactMap { $0 as? BatchNormalization }.map { $0.parameters.map(\.value) }
        let kernel = try #require((graph.layer(named: "c1") as? Conv2D)?.kernel.value)
        try TrainingStep.run(
            graph, inputs: ["x": GradientCheckTests.random([2, 6, 6, 8], seed: 5)], output: "fc", labels: [0, 2],
            optimizer: SGD(learningRate: 0.1, momentum: 0.9))
        let after = graph.layers.compactMap { $0 as? BatchNormalization }.map { $0.parameters.map(\.value) }
        #expect(before == after)
        #expect((graph.layer(named: "c1") as? Conv2D)?.kernel.value != kernel)
    }

    @Test func frozenPrefixRunsWithoutATape() throws {
        let graph = try Self.residualGraph()
        try graph.setTrainable(true, from: "c4")
        (graph.layer(named: "bn4") as? BatchNormalization)?.isTrainable = false  // as `finetune` keeps it
        let x = GradientCheckTests.random([2, 6, 6, 8], seed: 6)
        let (_, tape) = try graph.record(["x": x], outputs: ["fc"], mode: .training, request: GradientRequest())
        #expect(tape.plan.prefixOutputs == ["r3"])
        #expect(tape.plan.steps.map(\.name) == ["bn4", "gap", "fc"])
        // Kept for backward: the prefix's output (c4's input) and the pooling's input; nothing below.
        #expect(Set(tape.values.keys) == ["r3", "bn4", "gap"])
        let upstream = GradientCheckTests.random([2, 3], seed: 7)
        let folded = try Self.gradients(graph, x, upstream, unfused: false)
        let unfolded = try Self.gradients(graph, x, upstream, unfused: true)
        #expect(Set(folded.keys) == ["c4.kernel", "c4.bias", "fc.kernel", "fc.bias"])
        for (name, gradient) in unfolded {
            let other = try #require(folded[name])
            let difference = zip(gradient.scalars, other.scalars).map { abs($0 - $1) }.max() ?? 0
            #expect(difference <= 1e-5 * max(gradient.scalars.map(abs).max() ?? 1, 1), "\(name): \(difference)")
        }
    }

    @Test func dropoutAndLiveBatchNormStayOnTheTape() throws {
        let graph = Graph()
        try graph.addInput(name: "x", shape: [4])
        try graph.add(Dropout(name: "drop", rate: 0.5, seed: 1), inputs: ["x"])
        var generator = SeededGenerator(seed: 2)
        try graph.add(Dense(name: "fc", inputFeatures: 4, units: 2, generator: &generator), inputs: ["drop"])
        let (_, tape) = try graph.record(
            ["x": GradientCheckTests.random([3, 4], seed: 1)], mode: .training, request: GradientRequest())
        // Dropout has no weights and gets no gradient, but drops only in training: it is a step.
        #expect(tape.plan.prefixOutputs.isEmpty)
        #expect(tape.plan.steps.map(\.name) == ["drop", "fc"])
    }

    /// MobileNet's strided block: ZeroPadding2D → DepthwiseConv2D (valid, stride 2) → frozen BN →
    /// ReLU6, then a padding → 3×3 conv: the paddings become the convolutions' own, and the
    /// gradients equal the unfused pass's.
    @Test func zeroPaddingIsTakenOverByTheConvolution() throws {
        var generator = SeededGenerator(seed: 9)
        let graph = Graph()
        try graph.addInput(name: "x", shape: [7, 7, 4])
        try graph.add(ZeroPadding2D(name: "pad", top: 0, bottom: 1, left: 0, right: 1), inputs: ["x"])
        try graph.add(
            DepthwiseConv2D(
                name: "dw", kernel: GradientCheckTests.random([3, 3, 4, 1], seed: 3, scale: 0.4), bias: nil,
                strides: (2, 2)), inputs: ["pad"])
        let bn = BatchNormalization(name: "bn", channels: 4, epsilon: 1e-3)
        bn.isTrainable = false
        try graph.add(bn, inputs: ["dw"])
        try graph.add(Activation(name: "r6", .relu(maxValue: 6)), inputs: ["bn"])
        try graph.add(ZeroPadding2D(name: "pad2", top: 1, bottom: 1, left: 1, right: 1), inputs: ["r6"])
        try graph.add(
            Conv2D(name: "c", inputChannels: 4, filters: 3, kernelSize: (3, 3), generator: &generator),
            inputs: ["pad2"])
        try graph.add(GlobalPooling2D(name: "gap", kind: .average), inputs: ["c"])
        try graph.add(Dense(name: "fc", inputFeatures: 3, units: 2, generator: &generator), inputs: ["gap"])
        let x = GradientCheckTests.random([2, 7, 7, 4], seed: 4)
        let (_, tape) = try graph.record(["x": x], outputs: ["fc"], mode: .training, request: GradientRequest())
        // The first padding reads the input, which gets no gradient: it runs in the inference prefix.
        #expect(tape.plan.prefixOutputs == ["pad"])
        #expect(tape.plan.steps.map(\.name) == ["r6", "c", "gap", "fc"])
        #expect(tape.plan.steps[1].padding == .explicit(top: 1, bottom: 1, left: 1, right: 1))
        // With a gradient wanted at the input, the first padding is the depthwise layer's own.
        let (_, all) = try graph.record(
            ["x": x], outputs: ["fc"], mode: .training, request: GradientRequest(stopAt: ["x"]))
        #expect(all.plan.steps.first?.padding == .explicit(top: 0, bottom: 1, left: 0, right: 1))
        let upstream = GradientCheckTests.random([2, 2], seed: 5)
        let fused = try Self.gradients(graph, x, upstream, unfused: false)
        let unfused = try Self.gradients(graph, x, upstream, unfused: true)
        #expect(Set(fused.keys) == ["dw.depthwise_kernel", "c.kernel", "c.bias", "fc.kernel", "fc.bias"])
        try Self.expectSameGradients(fused, unfused)
    }

    /// MobileNetV2's inverted residual block: 1×1 expansion → frozen BN → ReLU6 → ZeroPadding2D →
    /// strided depthwise → frozen BN → ReLU6 → 1×1 projection → frozen BN. The depthwise step
    /// applies the expansion's ReLU6 derivative as it writes its input gradient, so the expansion
    /// starts its backward from what it receives. Inputs are scaled so that the ReLU6s clip at both
    /// ends; the gradients equal the unfused pass's and finite differences of the loss.
    @Test func depthwiseAppliesTheExpansionsDerivative() throws {
        var generator = SeededGenerator(seed: 21)
        let graph = Graph()
        try graph.addInput(name: "x", shape: [8, 8, 4])
        try graph.add(
            Conv2D(
                name: "expand", inputChannels: 4, filters: 12, kernelSize: (1, 1), useBias: false,
                generator: &generator), inputs: ["x"])
        try graph.add(Self.frozenBatchNorm("expand_bn", 12, seed: 60), inputs: ["expand"])
        try graph.add(Activation(name: "expand_relu", .relu(maxValue: 6)), inputs: ["expand_bn"])
        try graph.add(ZeroPadding2D(name: "pad", top: 0, bottom: 1, left: 0, right: 1), inputs: ["expand_relu"])
        try graph.add(
            DepthwiseConv2D(
                name: "dw", kernel: GradientCheckTests.random([3, 3, 12, 1], seed: 61, scale: 0.6), bias: nil,
                strides: (2, 2)), inputs: ["pad"])
        try graph.add(Self.frozenBatchNorm("dw_bn", 12, seed: 62), inputs: ["dw"])
        try graph.add(Activation(name: "dw_relu", .relu(maxValue: 6)), inputs: ["dw_bn"])
        try graph.add(
            Conv2D(
                name: "project", inputChannels: 12, filters: 6, kernelSize: (1, 1), useBias: false,
                generator: &generator), inputs: ["dw_relu"])
        try graph.add(Self.frozenBatchNorm("project_bn", 6, seed: 63), inputs: ["project"])
        try graph.add(GlobalPooling2D(name: "gap", kind: .average), inputs: ["project_bn"])
        try graph.add(Dense(name: "fc", inputFeatures: 6, units: 3, generator: &generator), inputs: ["gap"])
        let plan = TrainingPlan(
            graph: graph, mode: .training, flags: graph.gradientFlags(GradientRequest()), pinned: ["fc"],
            parameterGradients: true)
        #expect(plan.steps.map(\.name) == ["expand_relu", "dw_relu", "project_bn", "gap", "fc"])
        #expect(plan.steps.map(\.derivativeByReader) == [true, false, false, false, false])
        #expect(plan.steps[1].appliesReaderDerivative == .relu(maxValue: 6))
        #expect(plan.steps[1].padding == .explicit(top: 0, bottom: 1, left: 0, right: 1))
        let x = GradientCheckTests.random([2, 8, 8, 4], seed: 64, scale: 6)
        let (outputs, _) = try graph.record(
            ["x": x], outputs: ["expand_relu", "fc"], mode: .training, request: GradientRequest())
        let expanded = try #require(outputs["expand_relu"]).scalars
        #expect(expanded.contains(0) && expanded.contains(6), "the expansion's ReLU6 clips at both ends")
        let upstream = GradientCheckTests.random([2, 3], seed: 65)
        let fused = try Self.gradients(graph, x, upstream, unfused: false)
        let unfused = try Self.gradients(graph, x, upstream, unfused: true)
        #expect(Set(fused.keys) == ["expand.kernel", "dw.depthwise_kernel", "project.kernel", "fc.kernel", "fc.bias"])
        try Self.expectSameGradients(fused, unfused)
        // Central differences of the loss Σ upstream · fc over a few expansion weights (float64
        // sums; steps small enough not to move any output across a ReLU6 bound).
        let expand = try #require(graph.layers.first { $0.name == "expand" } as? Conv2D)
        let analytic = try #require(fused["expand.kernel"]).scalars
        func loss() throws -> Double {
            let (out, _) = try graph.record(["x": x], outputs: ["fc"], mode: .inference, request: GradientRequest())
            return zip(try #require(out["fc"]).scalars, upstream.scalars).reduce(0) { $0 + Double($1.0 * $1.1) }
        }
        for index in [0, 7, 23, 40] {
            let saved = expand.kernel.value
            var plus = saved
            var minus = saved
            plus.scalars[index] += 1e-3
            minus.scalars[index] -= 1e-3
            expand.kernel.value = plus
            let up = try loss()
            expand.kernel.value = minus
            let down = try loss()
            expand.kernel.value = saved
            let numeric = (up - down) / 2e-3
            #expect(
                abs(numeric - Double(analytic[index])) <= 1e-2 * max(1, abs(numeric)),
                "weight \(index): \(numeric) against \(analytic[index])")
        }
    }

    /// VGG's blocks: a convolution with its own ReLU, then a 2×2 max pooling, which applies the
    /// ReLU's derivative as it scatters; the convolution's backward starts from what it gets.
    /// Gradients equal the unfused pass's, with a third of the first ReLU's outputs at 0 (windows
    /// whose maximum is 0). A ReLU read by anything else keeps its own derivative.
    @Test func maxPoolingAppliesTheReLUsDerivative() throws {
        var generator = SeededGenerator(seed: 12)
        let graph = Graph()
        try graph.addInput(name: "x", shape: [8, 8, 3])
        try graph.add(
            Conv2D(
                name: "c1", inputChannels: 3, filters: 8, kernelSize: (3, 3), padding: .same, activation: .relu,
                generator: &generator), inputs: ["x"])
        try graph.add(Pooling2D(name: "p1", kind: .max, poolSize: (2, 2), strides: (2, 2)), inputs: ["c1"])
        try graph.add(
            Conv2D(
                name: "c2", inputChannels: 8, filters: 8, kernelSize: (3, 3), padding: .same, activation: .relu,
                generator: &generator), inputs: ["p1"])
        try graph.add(Pooling2D(name: "p2", kind: .max, poolSize: (2, 2), strides: (2, 2)), inputs: ["c2"])
        try graph.add(GlobalPooling2D(name: "gap", kind: .average), inputs: ["c2"])
        try graph.add(Reshape(name: "flat", targetShape: [32]), inputs: ["p2"])
        try graph.add(Dense(name: "fc", inputFeatures: 32, units: 2, generator: &generator), inputs: ["flat"])
        let plan = TrainingPlan(
            graph: graph, mode: .training, flags: graph.gradientFlags(GradientRequest()), pinned: ["fc"],
            parameterGradients: true)
        let flags = plan.steps.map { ($0.name, $0.derivativeByReader, $0.appliesReaderDerivative != nil) }
        #expect(flags.first { $0.0 == "c1" }.map { $0.1 } == true)
        #expect(flags.first { $0.0 == "p1" }.map { $0.2 } == true)
        #expect(flags.first { $0.0 == "c2" }.map { $0.1 } == false, "c2 is read by p2 and gap")
        #expect(flags.first { $0.0 == "p2" }.map { $0.2 } == false)
        let x = GradientCheckTests.random([2, 8, 8, 3], seed: 8)
        let (outputs, _) = try graph.record(["x": x], outputs: ["c1"], mode: .training, request: GradientRequest())
        let relu = try #require(outputs["c1"])
        #expect(relu.scalars.filter { $0 == 0 }.count * 3 > relu.count, "the ReLU's zeros make zero maxima")
        let upstream = GradientCheckTests.random([2, 2], seed: 9)
        let fused = try Self.gradients(graph, x, upstream, unfused: false)
        let unfused = try Self.gradients(graph, x, upstream, unfused: true)
        #expect(Set(fused.keys) == ["c1.kernel", "c1.bias", "c2.kernel", "c2.bias", "fc.kernel", "fc.bias"])
        try Self.expectSameGradients(fused, unfused)
    }

    /// ResNet's stem: conv → frozen BN → ReLU → ZeroPadding2D → 3×3 max pooling, stride 2. The
    /// padding becomes the pooling's own (its input is a ReLU's, so no window's maximum changes);
    /// the gradients equal the unfused pass's, ties between padded and in-image zeros included
    /// (a third of this ReLU's outputs are 0). With a gradient wanted at the ReLU, the padding stays.
    @Test func zeroPaddingIsTakenOverByTheMaxPooling() throws {
        var generator = SeededGenerator(seed: 11)
        let graph = Graph()
        try graph.addInput(name: "x", shape: [9, 9, 3])
        try graph.add(
            Conv2D(name: "c", inputChannels: 3, filters: 8, kernelSize: (3, 3), generator: &generator), inputs: ["x"])
        let bn = BatchNormalization(name: "bn", channels: 8, epsilon: 1e-3)
        bn.isTrainable = false
        try graph.add(bn, inputs: ["c"])
        try graph.add(Activation(name: "r", .relu), inputs: ["bn"])
        try graph.add(ZeroPadding2D(name: "pad", top: 1, bottom: 1, left: 1, right: 1), inputs: ["r"])
        try graph.add(Pooling2D(name: "pool", kind: .max, poolSize: (3, 3), strides: (2, 2)), inputs: ["pad"])
        try graph.add(
            Conv2D(name: "c2", inputChannels: 8, filters: 4, kernelSize: (1, 1), generator: &generator),
            inputs: ["pool"])
        try graph.add(GlobalPooling2D(name: "gap", kind: .average), inputs: ["c2"])
        try graph.add(Dense(name: "fc", inputFeatures: 4, units: 2, generator: &generator), inputs: ["gap"])
        let x = GradientCheckTests.random([2, 9, 9, 3], seed: 6)
        let (outputs, tape) = try graph.record(
            ["x": x], outputs: ["fc", "r"], mode: .training, request: GradientRequest())
        let relu = try #require(outputs["r"])
        #expect(relu.scalars.filter { $0 == 0 }.count * 4 > relu.count, "the ReLU's zeros make ties")
        #expect(tape.plan.steps.map(\.name) == ["r", "pad", "pool", "c2", "gap", "fc"], "r is pinned here")
        let plan = TrainingPlan(
            graph: graph, mode: .training, flags: graph.gradientFlags(GradientRequest()), pinned: ["fc"],
            parameterGradients: true)
        #expect(plan.steps.map(\.name) == ["r", "pool", "c2", "gap", "fc"])
        #expect((plan.steps[1].layer as? Pooling2D)?.padding == .explicit(top: 1, bottom: 1, left: 1, right: 1))
        let upstream = GradientCheckTests.random([2, 2], seed: 7)
        let fused = try Self.gradients(graph, x, upstream, unfused: false)
        let unfused = try Self.gradients(graph, x, upstream, unfused: true)
        #expect(Set(fused.keys) == ["c.kernel", "c.bias", "c2.kernel", "c2.bias", "fc.kernel", "fc.bias"])
        try Self.expectSameGradients(fused, unfused)
    }
}

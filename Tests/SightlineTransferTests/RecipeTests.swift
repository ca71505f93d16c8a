import Foundation
import SightlineCore
import SightlineData
import SightlineNN
import SightlineTestSupport
import SightlineVision
import SightlineWeights
import Testing

@testable import SightlineTransfer

/// finetune's recipes against the libraries that define them. `recipes_expected.json` was made by
/// `Tests/Fixtures/make_recipe_fixtures.py` with PyTorch 1.13's `OneCycleLR` and timm 0.9.16's
/// `ModelEmaV2`.
struct RecipeTests {
    static let root = KerasFixture.directory.deletingLastPathComponent().deletingLastPathComponent()

    struct Expected: Decodable {
        struct Cycle: Decodable {
            var steps: Int
            var pctStart: Double
            var maxLr: Float
            var optimizer: String
            var rates: [Double]
            var momenta: [Double]
        }
        struct Average: Decodable {
            var decay: Float
            var initial: [Float]
            var weights: [[Float]]
            var averaged: [Float]
        }
        var oneCycle: [Cycle]
        var ema: Average
    }

    static func expected() throws -> Expected {
        let url = KerasFixture.directory.appendingPathComponent("recipes_expected.json")
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(Expected.self, from: Data(contentsOf: url))
    }

    static func tuner(_ configure: (inout FineTuner.Options) -> Void) throws -> FineTuner {
        var options = FineTuner.Options()
        (options.augmentation, options.dropout, options.batchSize) = (.none, 0, 16)
        configure(&options)
        return try FineTuner(
            backbone: try ModelLoader.load(path: root.appendingPathComponent("pretrained/digits_resnet.h5").path),
            data: try ImageFolder(inputs: [root.appendingPathComponent("pretrained/digits-mini").path]),
            options: options)
    }

    @Test func oneCycleMatchesPyTorch() throws {
        for case_ in try Self.expected().oneCycle {
            let cycle = OneCycle(peak: case_.maxLr, steps: case_.steps, warmupFraction: case_.pctStart)
            let optimizer: any Optimizer =
                case_.optimizer == "sgd" ? SGD(learningRate: 1, momentum: 0.9) : Adam(learningRate: 1)
            for step in 0..<case_.steps {
                cycle.apply(to: optimizer, step: step)
                let (rate, momentum) = (Double(optimizer.learningRate), Double(optimizer.cycledMomentum ?? 0))
                #expect(abs(rate - case_.rates[step]) <= 1e-6 * case_.rates[step], "\(case_.steps) step \(step)")
                #expect(abs(momentum - case_.momenta[step]) <= 1e-6, "\(case_.steps) step \(step)")
            }
        }
        // SGD without momentum has nothing to cycle (PyTorch refuses it; here the rate still cycles).
        let plain = SGD(learningRate: 1)
        OneCycle(peak: 1e-3, steps: 10, warmupFraction: 0.3).apply(to: plain, step: 0)
        #expect(plain.momentum == 0 && abs(plain.learningRate - 4e-5) < 1e-10)
    }

    @Test func recipesNameTheirLibrariesChoices() {
        // keras is Sightline's defaults.
        var keras = FineTuner.Options()
        Recipe.keras.apply(to: &keras)
        #expect(Recipe.summary(of: keras) == Recipe.summary(of: FineTuner.Options()) && keras.recipe == .keras)
        var fastai = FineTuner.Options()
        Recipe.fastai.apply(to: &fastai)
        #expect(
            Recipe.summary(of: fastai)
                == "--head-epochs 1 --head-lr 0.002 --lr 1e-05:0.001 --optimizer adamw --schedule one-cycle:0.3 --bn train --label-smoothing 0.0"
        )
        var timm = FineTuner.Options()
        Recipe.timm.apply(to: &timm)
        #expect(timm.mixing == Mixing() && timm.emaDecay == 0.999 && timm.labelSmoothing == 0.1)
        #expect(
            timm.augmentation.randAugment == RandAugment() && Recipe.summary(of: timm).hasSuffix("--rand-augment 2:9"))
        #expect(timm.schedule == .cosine(warmupEpochs: 1) && timm.optimizer == .adamw && timm.batchNorm == .train)
        // sightline is keras's with a longer head phase, the rate found by a sweep and cosine decay.
        var sightline = FineTuner.Options()
        Recipe.sightline.apply(to: &sightline)
        #expect(
            Recipe.summary(of: sightline)
                == "--head-epochs 10 --head-lr 0.003 --lr auto:edge --optimizer adam --schedule cosine:2 --bn frozen --label-smoothing 0.0"
        )
        #expect(sightline.findLearningRate && !keras.findLearningRate && sightline.augmentation == keras.augmentation)
        // Every schedule's spelling parses back to it.
        for schedule in [
            keras.schedule, fastai.schedule, timm.schedule, sightline.schedule, .step(every: 3, factor: 0.5),
        ] {
            #expect(LearningRateSchedule(argument: schedule.argument) == schedule)
        }
    }

    @Test func theWeightAverageMatchesTimm() throws {
        let expected = try Self.expected().ema
        let parameter = Parameter(name: "kernel", value: Tensor(shape: [3], scalars: expected.initial))
        let slots = [ParameterSlot(key: "dense/kernel", parameter: parameter)]
        let average = WeightAverage(decay: expected.decay)
        average.track(slots)
        for weights in expected.weights {
            parameter.value = Tensor(shape: [3], scalars: weights)  // what an optimizer step left
            average.update(slots)
        }
        let result = try #require(average.averages["dense/kernel"]).scalars
        for (a, b) in zip(result, expected.averaged) {
            #expect(abs(a - b) <= 1e-6, "\(result) vs \(expected.averaged)")
        }
        // Swapping puts the averages in the model and, swapped back, the trained weights bit for bit.
        let trained = parameter.value
        average.swap(slots)
        #expect(parameter.value.scalars == result)
        average.swap(slots)
        #expect(parameter.value == trained)
    }

    /// The reduced ResNet50 fixture on `Tests/Fixtures/extract`, as `FineTunerTests` trains it.
    static func smallTuner(_ configure: (inout FineTuner.Options) -> Void) throws -> FineTuner {
        var options = FineTuner.Options()
        (options.headEpochs, options.epochs, options.batchSize, options.validationFraction, options.seed) = (
            1, 2, 4, 0.3, 5
        )
        configure(&options)
        return try FineTuner(
            backbone: try ModelLoader.load(
                path: KerasFixture.directory.appendingPathComponent("weights/resnet50_keras3.h5").path),
            data: try ImageFolder(inputs: [KerasFixture.directory.appendingPathComponent("extract").path]),
            options: options)
    }

    @Test func aRunWithEveryRecipeResumesExactly() throws {
        let configure: (inout FineTuner.Options) -> Void = {
            ($0.learningRate, $0.lowestLearningRate, $0.optimizer) = (1e-3, 1e-5, .sgd)
            ($0.schedule, $0.emaDecay, $0.mixing) = (.oneCycle(warmupFraction: 0.3), 0.9, Mixing())
            ($0.balance, $0.gradualUnfreezing) = (.sampler, true)
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("recipes-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let full = try Self.smallTuner(configure)
        let history = try full.run(output: folder.appendingPathComponent("full.h5").path, sightlineVersion: "test")
        #expect(
            history.map { $0.averageValidationAccuracy != nil } == [false, true, true], "phase 2 validates the average")
        let state = try HDF5File(reading: folder.appendingPathComponent("full.h5.state.h5").path)
        // Gradual unfreezing reached conv5 only in two epochs: the others have no average.
        #expect(state.exists("/ema/head_predictions/kernel") && state.exists("/ema/conv5_block3_3_conv/kernel"))
        #expect(!state.exists("/ema/conv1_conv/kernel"))

        let interrupted = folder.appendingPathComponent("resumed.h5").path
        var calls = 0
        #expect(throws: TransferError.self) {
            _ = try Self.smallTuner(configure).run(
                output: interrupted, sightlineVersion: "test",
                report: { _ in
                    calls += 1
                    return calls < 2  // stop after phase 2's first epoch
                })
        }
        let resumed = try Self.smallTuner(configure)
        #expect(try resumed.run(output: interrupted, resume: true, sightlineVersion: "test") == history)
        let weights = { (graph: Graph) in graph.trainableSlots.map(\.parameter.value) }
        #expect(weights(resumed.graph) == weights(full.graph), "resuming ends with the same weights")
    }

    @Test func layerDecayLowersEachLayerByTheFactor() throws {
        let tuner = try Self.smallTuner { ($0.layerDecay, $0.batchNorm) = (0.9, .train) }
        try tuner.configure(phase: 2)
        let slots = tuner.trainingSlots(phase: 2)
        let backbone = tuner.graph.nodes.prefix { $0.name != tuner.featureLayer }
            .filter { !($0.layer?.parameters.isEmpty ?? true) && !($0.layer is BatchNormalization) }.map(\.name)
        #expect(backbone.count == 53, "ResNet50's convolutions")
        let scale = Dictionary(slots.map { ($0.layerName, $0.rateScale) }, uniquingKeysWith: { a, _ in a })
        let count = backbone.count
        #expect(abs((scale[backbone[0]] ?? 0) - powf(0.9, Float(count))) < 1e-6, "the first layer: 0.9^L")
        for (a, b) in zip(backbone, backbone.dropFirst()) {
            #expect(abs((scale[a] ?? 0) / (scale[b] ?? 1) - 0.9) < 1e-5, "\(a) → \(b)")
        }
        #expect(scale["head_predictions"] == 1)
        #expect(scale["conv1_bn"] == scale["conv1_conv"], "a BatchNorm trains at its convolution's rate")
    }

    @Test func gradualUnfreezingAddsOneStageAnEpoch() throws {
        let tuner = try Self.smallTuner { $0.gradualUnfreezing = true }
        let stages = DiscriminativeRates.stages(of: tuner.graph, lastBackboneNode: tuner.featureLayer)
        #expect(stages.count == 5, "ResNet50: conv1, conv2 … conv5")
        let head = Set(
            tuner.graph.nodes.drop { $0.name != tuner.featureLayer }.dropFirst()
                .filter { !($0.layer?.parameters.isEmpty ?? true) }.map(\.name))
        for epoch in 0..<7 {
            try tuner.configure(phase: 2, epoch: epoch)
            let trained = Set(tuner.graph.trainableSlots.map(\.layerName))
            let expected = Set(
                stages.suffix(min(epoch + 1, stages.count)).joined().filter { name in
                    !(tuner.graph.layer(named: name) is BatchNormalization)  // frozen BatchNorm stays frozen
                })
            #expect(trained.subtracting(head) == expected, "epoch \(epoch + 1)")
            #expect(head == ["head_predictions"] && head.isSubset(of: trained), "the head trains throughout")
        }
    }

    @Test func aOneCycleRunSetsTheRateBeforeEveryStep() throws {
        let tuner = try Self.tuner { ($0.headEpochs, $0.epochs, $0.schedule) = (0, 2, .oneCycle(warmupFraction: 0.3)) }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cycle-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let records = try tuner.run(output: folder.appendingPathComponent("m.h5").path, sightlineVersion: "test")
        let steps = tuner.stepsPerEpoch
        #expect(steps > 1 && records.count == 2)
        let cycle = OneCycle(peak: 1e-4, steps: 2 * steps, warmupFraction: 0.3)
        for (epoch, record) in records.enumerated() {
            // An epoch's record carries the rate of its last step.
            #expect(record.learningRate == cycle.values(at: (epoch + 1) * steps - 1).rate, "epoch \(epoch + 1)")
        }
        #expect(records[1].learningRate < 1e-7, "the cycle ends far below its peak")
    }

    @Test func discriminativeRatesRiseStageByStageToTheHead() throws {
        let tuner = try Self.tuner {
            ($0.learningRate, $0.lowestLearningRate) = (1e-3, 1e-5)
        }
        try tuner.configure(phase: 2)
        let slots = tuner.trainingSlots(phase: 2)
        let scales = slots.map(\.rateScale)
        #expect(abs(scales[0] - 1e-2) < 1e-6, "the first stage trains at the lowest rate")
        #expect(zip(scales, scales.dropFirst()).allSatisfy { $0 <= $1 }, "rates never fall towards the head")
        let headStart = try #require(tuner.graph.nodes.firstIndex { $0.name == tuner.featureLayer })
        let headLayers = Set(tuner.graph.nodes[(headStart + 1)...].map(\.name))
        for slot in slots where headLayers.contains(slot.layerName) { #expect(slot.rateScale == 1, "\(slot.key)") }
        // One rate per resolution: the stages are the runs of layers with weights at one spatial size.
        let stageCount = Set(
            tuner.graph.nodes[...headStart].filter { !($0.layer?.parameters.isEmpty ?? true) }.map {
                $0.shape.count == 3 ? $0.shape[0] * $0.shape[1] : 0
            }
        ).count
        #expect(Set(scales).count == stageCount + 1, "\(Set(scales).sorted())")
        // Each scaled slot steps as Adam at its own rate: compare with a lone Adam at rate · scale.
        let slot = slots[0]
        let before = slot.parameter.value
        slot.parameter.gradient = Tensor(shape: before.shape, scalars: (0..<before.count).map { Float($0 % 7) - 3 })
        let lone = Parameter(name: "copy", value: before)
        lone.gradient = slot.parameter.gradient
        Adam(learningRate: 1e-3).step([slot])
        Adam(learningRate: 1e-3 * slot.rateScale).step([ParameterSlot(key: "copy", parameter: lone)])
        #expect(slot.parameter.value.scalars == lone.value.scalars)
        #expect(slot.parameter.value.scalars != before.scalars)
        // Without a lowest rate every slot trains at the rate.
        let plain = try Self.tuner { _ in }
        try plain.configure(phase: 2)
        #expect(plain.trainingSlots(phase: 2).allSatisfy { $0.rateScale == 1 })
    }
}

import Foundation
import SightlineCore
import SightlineData
import SightlineNN
import SightlineTestSupport
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
        var oneCycle: [Cycle]
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

import Foundation
import SightlineCore
import SightlineData
import SightlineNN
import SightlineTestSupport
import SightlineWeights
import Testing

@testable import SightlineTransfer

/// Fine-tuning the reduced ResNet50 fixture (real Keras weights file, BatchNorm statistics
/// randomised) on the seven class-folder images of `Tests/Fixtures/extract`.
struct FineTunerTests {
    static let model = KerasFixture.directory.appendingPathComponent("weights/resnet50_keras3.h5").path
    static let data = KerasFixture.directory.appendingPathComponent("extract").path

    func tuner(_ configure: (inout FineTuner.Options) -> Void = { _ in }) throws -> FineTuner {
        var options = FineTuner.Options()
        (options.headEpochs, options.epochs, options.batchSize, options.validationFraction, options.seed) = (
            1, 2, 4, 0.3, 5
        )
        options.learningRate = 1e-3
        configure(&options)
        // A fresh load each time: the tuner trains the loaded model's layers in place.
        return try FineTuner(
            backbone: try ModelLoader.load(path: Self.model), data: try ImageFolder(inputs: [Self.data]),
            options: options)
    }

    func scratch() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent(
            "sightline-finetune-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    func snapshot(_ graph: Graph, _ filter: (any Layer) -> Bool = { _ in true }) -> [String: Tensor] {
        var values: [String: Tensor] = [:]
        for layer in graph.layers where filter(layer) {
            for p in layer.parameters { values["\(layer.name)/\(p.name)"] = p.value }
        }
        return values
    }

    @Test func frozenBatchNormIsBitwiseUnchanged() throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let tuner = try self.tuner()
        let batchNorm = snapshot(tuner.graph) { $0 is BatchNormalization }
        let convolution = try #require(tuner.graph.layer(named: "conv2_block1_1_conv")?.parameters[0].value)
        _ = try tuner.run(output: directory.appendingPathComponent("tuned.h5").path, sightlineVersion: "test")
        #expect(
            snapshot(tuner.graph) { $0 is BatchNormalization } == batchNorm,
            "moving statistics, gamma and beta are bitwise unchanged")
        #expect(
            tuner.graph.layer(named: "conv2_block1_1_conv")?.parameters[0].value != convolution,
            "phase 2 trained the backbone")
    }

    @Test func trainingAndInferenceModesAgree() throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let tuner = try self.tuner { $0.dropout = 0 }
        _ = try tuner.run(output: directory.appendingPathComponent("tuned.h5").path, sightlineVersion: "test")
        #expect(try tuner.trainingAccuracy(mode: .training) == tuner.trainingAccuracy(mode: .inference))
    }

    @Test func resumedRunEqualsUninterruptedRunAndSeedsReproduce() throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let full = try tuner()
        let again = try tuner()
        let history = try full.run(output: directory.appendingPathComponent("full.h5").path, sightlineVersion: "test")
        _ = try again.run(output: directory.appendingPathComponent("again.h5").path, sightlineVersion: "test")
        #expect(snapshot(full.graph) == snapshot(again.graph), "the same seed gives the same weights")
        #expect(history.count == 3 && history.map(\.phase) == [1, 2, 2])

        let interrupted = directory.appendingPathComponent("resumed.h5").path
        var calls = 0
        #expect(throws: TransferError.self) {
            _ = try self.tuner().run(
                output: interrupted, sightlineVersion: "test",
                report: { _ in
                    calls += 1
                    return calls < 2  // stop after phase 2's first epoch
                })
        }
        let resumed = try tuner()
        let resumedHistory = try resumed.run(output: interrupted, resume: true, sightlineVersion: "test")
        #expect(resumedHistory == history)
        #expect(snapshot(resumed.graph) == snapshot(full.graph), "resuming ends with the same weights")

        // Interrupted in the middle of an epoch (as SIGINT does): the last completed epoch's
        // state is kept, and resuming repeats the interrupted epoch to the same end.
        let midEpoch = directory.appendingPathComponent("mid.h5").path
        var steps = 0
        #expect {
            _ = try self.tuner().run(
                output: midEpoch, sightlineVersion: "test",
                step: { position in
                    steps += 1
                    return !(position.phase == 2 && position.batch == 2)
                })
        } throws: { error in
            "\(error)"
                == "interrupted at phase 2 epoch 1 batch 2; the last completed epoch is saved; rerun the same command with --resume"
        }
        let continued = try tuner()
        #expect(try continued.run(output: midEpoch, resume: true, sightlineVersion: "test") == history)
        #expect(continued.resumedAt?.phase == 2 && continued.resumedAt?.epoch == 1)
        #expect(snapshot(continued.graph) == snapshot(full.graph), "an interrupted epoch is repeated exactly")

        // The saved model: Keras layout, softmax head, class names and preprocessing recorded.
        let saved = try ModelLoader.load(path: interrupted)
        #expect(saved.preprocessing == .caffe && saved.graph.outputNames == ["head_predictions"])
        #expect(try HDF5File(reading: interrupted).stringsAttribute("class_names") == ["apples", "pears"])
        let csv = try String(contentsOfFile: interrupted + ".metrics.csv", encoding: .utf8)
        #expect(csv.split(separator: "\n").count == 4)
    }

    @Test func aFineTunedModelCanBeFineTunedAgain() throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = directory.appendingPathComponent("first.h5").path
        _ = try tuner { $0.epochs = 1 }.run(output: first, sightlineVersion: "test")
        let loaded = try ModelLoader.load(path: first)
        #expect(FeatureExtractor.defaultLayer(of: loaded.graph) == "avg_pool", "dropout before the head is skipped")
        var options = FineTuner.Options()
        (options.headEpochs, options.epochs, options.batchSize) = (1, 1, 4)
        let second = try FineTuner(backbone: loaded, data: try ImageFolder(inputs: [Self.data]), options: options)
        _ = try second.run(output: directory.appendingPathComponent("second.h5").path, sightlineVersion: "test")
        #expect(second.graph.outputNames == ["head_predictions"])
    }

    @Test func earlyStoppingRestoresTheBestWeights() throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let tuner = try self.tuner {
            ($0.epochs, $0.earlyStoppingPatience, $0.learningRate) = (6, 1, 3e-3)
        }
        var steps = 0
        let history = try tuner.run(
            output: directory.appendingPathComponent("early.h5").path, sightlineVersion: "test",
            step: { _ in
                steps += 1
                return true
            })
        let phase2 = history.filter { $0.phase == 2 }.compactMap(\.validationAccuracy)
        #expect(steps > 0, "per-step progress is reported")
        #expect(
            try tuner.accuracy(tuner.validation) == phase2.max(), "the best epoch's weights are restored: \(phase2)")
        #expect(phase2.count == Self.epochsBeforeStopping(phase2, patience: 1, epochs: 6), "\(phase2)")
    }

    /// The epochs early stopping runs for these validation accuracies: up to and including the
    /// `patience`-th epoch in a row that does not beat the best so far.
    static func epochsBeforeStopping(_ accuracies: [Double], patience: Int, epochs: Int) -> Int {
        var best = -Double.infinity
        var without = 0
        for (index, accuracy) in accuracies.enumerated() {
            if accuracy > best {
                (best, without) = (accuracy, 0)
            } else {
                without += 1
                if without >= patience { return index + 1 }
            }
        }
        return epochs
    }

    /// With phase 2's learning rate at 0 the validation accuracy never improves after its first
    /// epoch: patience 2 stops after the third of ten epochs, and training without patience
    /// runs all ten.
    @Test func earlyStoppingStopsAfterPatienceEpochsWithoutImprovement() throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        func phase2Epochs(_ patience: Int?) throws -> Int {
            let tuner = try self.tuner {
                ($0.headEpochs, $0.epochs, $0.earlyStoppingPatience, $0.learningRate) = (0, 10, patience, 0)
            }
            let output = directory.appendingPathComponent("flat\(patience ?? 0).h5").path
            return try tuner.run(output: output, sightlineVersion: "test").filter { $0.phase == 2 }.count
        }
        #expect(try phase2Epochs(2) == 3)
        #expect(try phase2Epochs(nil) == 10)
    }

    /// A loss stuck at ln(classes) from the second epoch is flagged (the CLI warns about it);
    /// a first epoch, or a loss that moved away, is not.
    @Test func lossAtChanceLevelIsFlagged() {
        func record(_ epoch: Int, _ loss: Float) -> FineTuner.EpochRecord {
            FineTuner.EpochRecord(phase: 2, epoch: epoch, learningRate: 1e-4, loss: loss, trainingAccuracy: 0.33)
        }
        #expect(record(3, 1.0986).isAtChance(classes: 3))
        #expect(!record(1, 1.0986).isAtChance(classes: 3))
        #expect(!record(3, 0.9).isAtChance(classes: 3))
        #expect(record(2, 2.30).isAtChance(classes: 10) && !record(2, 2.0).isAtChance(classes: 10))
    }
}

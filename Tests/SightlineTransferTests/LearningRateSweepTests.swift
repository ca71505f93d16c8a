import Foundation
import SightlineCore
import SightlineData
import SightlineNN
import SightlineTestSupport
import SightlineWeights
import Testing

@testable import SightlineTransfer

/// fastai's `lr_find`: the suggestions equal fastai 2.7.12's own `valley`, `steep` and `minimum`
/// on recorded sweeps (`Tests/Fixtures/make_lr_find_fixtures.py`), the schedule is fastai's, and a
/// real sweep leaves every weight as it was.
struct LearningRateSweepTests {
    @Test(arguments: ["dip", "noisy", "stopped"])
    func suggestionsAreFastais(_ name: String) throws {
        let fixture = try #require(
            try KerasFixture.load(KerasFixture.directory.appendingPathComponent("lr_find_expected.json").path)[name]
                as? [String: Any])
        let rates = try #require(fixture["rates"] as? [Double]).map(Float.init)
        let losses = try #require(fixture["losses"] as? [Double]).map(Float.init)
        let sweep = LearningRateSweep(rates: rates, losses: losses, steps: try #require(fixture["steps"] as? Int))
        let suggestions = try #require(sweep.suggestions)
        for (label, ours, theirs) in [
            ("valley", suggestions.valley, fixture["valley"]), ("steep", suggestions.steep, fixture["steep"]),
            ("minimum", suggestions.minimum, fixture["minimum"]), ("slide", suggestions.slide, fixture["slide"]),
        ] {
            let expected = Float(try #require(theirs as? Double))
            #expect(abs(ours - expected) <= 1e-6 * expected, "\(name) \(label): \(ours) vs fastai \(expected)")
        }
        // fastai's SchedExp: start · (end/start)^(i/steps).
        #expect(abs(LearningRateSweep.rate(50, start: 1e-7, end: 10, steps: 100) - rates[50]) <= 1e-6 * rates[50])
    }

    @Test func aSweepRestoresTheWeightsAndStopsWhenTheLossBlowsUp() throws {
        let root = KerasFixture.directory.deletingLastPathComponent().deletingLastPathComponent()
        var options = FineTuner.Options()
        options.batchSize = 8
        let tuner = try FineTuner(
            backbone: try ModelLoader.load(path: root.appendingPathComponent("pretrained/digits_resnet.h5").path),
            data: try ImageFolder(inputs: [root.appendingPathComponent("pretrained/digits-mini").path]),
            options: options)
        let before = tuner.graph.layers.flatMap(\.parameters).map(\.value)
        let sweep = try tuner.sweepLearningRate(phase: 2, start: 1e-6, end: 100, steps: 40)
        #expect(tuner.graph.layers.flatMap(\.parameters).map(\.value) == before, "every weight restored")
        #expect(sweep.rates.count >= 6 && sweep.rates.count <= 40 && sweep.rates == sweep.rates.sorted())
        if sweep.rates.count < 40 {
            #expect((sweep.losses.last ?? 0) > 4 * (sweep.losses.min() ?? 0), "stopped only on divergence")
        }
        #expect(sweep.svg().contains("<polyline") && !sweep.terminalPlot().isEmpty)
        // Interrupted (Ctrl-C during `finetune --lr auto`): a stop, with the weights restored.
        #expect {
            _ = try tuner.sweepLearningRate(phase: 2, steps: 40, step: { $0.done < 3 })
        } throws: { error in
            (error as? TransferError)?.kind == .stopped
        }
        #expect(tuner.graph.layers.flatMap(\.parameters).map(\.value) == before, "restored after a stop too")
    }

    /// `finetune --lr auto`: phase 2 runs at the rate a sweep found when it started, says so, and
    /// records it for a resumed run.
    @Test func autoLearningRateIsFoundSaidAndKept() throws {
        let root = KerasFixture.directory.deletingLastPathComponent().deletingLastPathComponent()
        var options = FineTuner.Options()
        (options.batchSize, options.headEpochs, options.epochs, options.findLearningRate) = (8, 1, 1, true)
        let tuner = try FineTuner(
            backbone: try ModelLoader.load(path: root.appendingPathComponent("pretrained/digits_resnet.h5").path),
            data: try ImageFolder(inputs: [root.appendingPathComponent("pretrained/digits-mini").path]),
            options: options)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lr-auto-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("tuned.h5").path
        var lines: [String] = []
        let history = try tuner.run(output: output, sightlineVersion: "test", announce: { lines.append($0) })
        let phase2 = try #require(history.last { $0.phase == 2 })
        #expect(lines.count == 1 && lines[0].contains("--lr auto"), "\(lines)")
        #expect(phase2.learningRate != options.learningRate, "the sweep's rate, not the default")
        #expect(
            lines[0].contains(String(format: "%.2e", Double(phase2.learningRate))), "\(lines) vs \(phase2.learningRate)"
        )
        let state = try HDF5File(reading: output + ".state.h5")
        #expect(try state.stringAttribute("found_learning_rate").flatMap(Float.init) == phase2.learningRate)
    }
}

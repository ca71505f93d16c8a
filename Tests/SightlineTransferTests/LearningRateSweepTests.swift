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

    /// `edge` (`finetune --lr auto`'s rule) on hand-made curves: the level is the median 1.2, the
    /// peak 3.0, so the threshold is 1.38, and the run above it that ends at the peak starts at
    /// 1.5 (index 5): half its rate. A spike above the threshold before the loss settles (1.6 at
    /// index 1, where a rule reading the first crossing after the lowest loss stops) does not
    /// move it.
    @Test func edgeIsHalfTheRateWhereTheLossStartsToDiverge() {
        let rates: [Float] = [1, 2, 4, 8, 16, 32, 64]
        #expect(LearningRateSweep.edge(rates, [1.3, 1.2, 1.1, 1.0, 1.1, 1.5, 3.0]) == 16)
        #expect(LearningRateSweep.edge(rates, [1.0, 1.6, 1.1, 1.1, 1.2, 1.5, 3.0]) == 16)
        // Never above its start (still falling at the end): half the last rate.
        #expect(LearningRateSweep.edge(rates, [7, 6, 5, 4, 3, 2, 1]) == 32)
        // A head that has not fit yet starts the curve high (3.2 at index 1 is its highest point,
        // where the rule read before stopped at the sweep's first rate, and phase 2 of the digits
        // check, seed 1, ended at 33%): the peak is the highest loss after the lowest (2.0), the
        // level the median from where the curve first comes down to halfway (1.45), 1.0, so the
        // run above 1.1 that ends at the peak starts at 1.4 (index 7).
        let longer: [Float] = rates + [128, 256]
        #expect(LearningRateSweep.edge(longer, [3.0, 3.2, 2.5, 1.5, 1.0, 0.9, 1.0, 1.4, 2.0]) == 64)
    }

    /// What `edge` is for: a fine-tuning sweep is flat, then diverges; batch-to-batch noise in the
    /// flat stretch (±0.05 here, as on the digits check's curves, docs/fine-tuning.md) must not
    /// move the suggestion. Over 20 noise draws `edge` stays within a factor 1.5 of the noiseless
    /// curve's (fastai's `slide` fails this test: it reads the noiseless curve's flat stretch).
    @Test func edgeIgnoresNoiseInTheFlatStretch() throws {
        var generator = SeededGenerator(seed: 7)
        let rates = (0..<100).map { LearningRateSweep.rate($0, start: 1e-7, end: 10, steps: 100) }
        func suggestion(noise: Float) throws -> Float {
            var smoother = LearningRateSweep.Smoother()
            let losses = rates.map { rate -> Float in
                let jitter = noise == 0 ? 0 : Float.random(in: -noise...noise, using: &generator)
                return smoother.add(0.8 + jitter + (rate > 3e-3 ? 1.5 * log10(rate / 3e-3) : 0))
            }
            return try #require(LearningRateSweep(rates: rates, losses: losses, steps: 100).suggestions).edge
        }
        let clean = try suggestion(noise: 0)
        #expect(clean > 3e-3 / 2 && clean < 3e-2, "near the divergence at 3e-3: \(clean)")
        for _ in 0..<20 {
            let noisy = try suggestion(noise: 0.05)
            #expect(noisy >= clean / 1.5 && noisy <= clean * 1.5, "edge \(noisy) against \(clean) without noise")
        }
    }
}

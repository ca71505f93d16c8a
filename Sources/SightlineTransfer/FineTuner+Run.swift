import Foundation
import SightlineCore
import SightlineNN
import SightlineWeights

extension FineTuner {
    /// Trains both phases, writing the model (Keras layout, softmax head) to `output` after every
    /// epoch and the resume state to `output + ".state.h5"`; metrics go to `output +
    /// ".metrics.csv"` and `".metrics.jsonl"`. `report` returns false to stop after an epoch (the
    /// state is kept; `resume` continues from it).
    /// Also writes `output + ".training.html"` (curves, learning rate; at the end the evaluation
    /// of the kept model on the validation part, also in `finalEvaluation`).
    /// `step` gets the position after every optimizer step (for a progress bar) and returns
    /// false to stop there: the run then throws `Interrupted`; the state of the last completed
    /// epoch stays on disk, so `resume` repeats the interrupted epoch exactly.
    /// `announce` gets a line when phase 2's rate is found by a sweep.
    public func run(
        output: String, resume: Bool = false, sightlineVersion: String, step: (StepProgress) -> Bool = { _ in true },
        announce: (String) -> Void = { _ in }, report: (EpochRecord) -> Bool = { _ in true }
    ) throws -> [EpochRecord] {
        let statePath = output + ".state.h5"
        var state = TrainingState()
        if resume {
            guard FileManager.default.fileExists(atPath: statePath) else {
                throw TransferError(.data, "no \(statePath) to resume from")
            }
            state = try TrainingState.load(statePath, into: self)
            let phaseEpochs = state.phase == 1 ? options.headEpochs : options.epochs
            resumedAt = state.phase == 1 && state.nextEpoch >= phaseEpochs ? (2, 1) : (state.phase, state.nextEpoch + 1)
        }
        let average = options.emaDecay.map(WeightAverage.init)
        average?.averages = state.averages
        for phase in [1, 2] where phase >= state.phase {
            let epochs = phase == 1 ? options.headEpochs : options.epochs
            guard epochs > 0 else { continue }
            if state.phase != phase { state = TrainingState(phase: phase, history: state.history) }
            var base = phase == 1 ? options.headLearningRate : options.learningRate
            if phase == 2 && options.findLearningRate {
                if let found = state.foundLearningRate {
                    base = found
                } else {
                    let sweep = try sweepLearningRate(phase: 2, step: step)
                    base = sweep.suggestions.map(options.learningRateRule.rate) ?? options.learningRate
                    state.foundLearningRate = base
                    announce(
                        sweep.suggestions == nil
                            ? String(
                                format: "--lr auto: the sweep suggested nothing; phase 2 runs at %.2e", Double(base))
                            : String(
                                format:
                                    "--lr auto: a learning-rate sweep of phase 2 suggests %.2e (%@; edge %.2e, slide %.2e, valley %.2e, steep %.2e, minimum %.2e); phase 2 runs at it",
                                Double(base), options.learningRateRule.rawValue, Double(sweep.suggestions?.edge ?? 0),
                                Double(sweep.suggestions?.slide ?? 0),
                                Double(sweep.suggestions?.valley ?? 0), Double(sweep.suggestions?.steep ?? 0),
                                Double(sweep.suggestions?.minimum ?? 0)))
                }
            }
            try configure(phase: phase)
            let optimizer = makeOptimizer(base)
            if phase == state.phase && state.optimizerIterations > 0 { state.restoreOptimizer(optimizer) }
            var epoch = state.nextEpoch
            // The schedule shapes phase 2; the head phase runs at its constant rate.
            let schedule = phase == 2 ? options.schedule : .constant
            let cycle = schedule.cycle(base: base, steps: epochs * stepsPerEpoch)
            while epoch < epochs {
                if phase == 2 && options.gradualUnfreezing { try configure(phase: 2, epoch: epoch) }
                // What this epoch trains (gradual unfreezing adds to it), its averages tracked.
                let slots = trainingSlots(phase: phase)
                average?.track(slots)
                optimizer.learningRate = schedule.rate(base: base, epoch: epoch, epochs: epochs) * state.plateauScale
                var (totals, throughput) = try trainEpoch(
                    phase: phase, epoch: epoch, epochs: epochs, optimizer: optimizer, cycle: cycle, average: average,
                    step: step)
                let measured = validation.isEmpty ? nil : try measure(validation)
                // Phase 2 also validates the moving average; the better of the two is observed
                // (and kept as the best weights when it is the best so far), then training
                // continues from the trained weights.
                var averaged: Double?
                if let average, let measured, phase == 2 {
                    average.swap(slots)
                    averaged = try measure(validation).accuracy
                    if (averaged ?? 0) <= measured.accuracy { average.swap(slots) }
                }
                let averageInGraph = averaged.map { $0 > (measured?.accuracy ?? 1) } ?? false
                throughput.peakResidentMiB = ResourceUsage.peakResidentMiB()
                let record = EpochRecord(
                    phase: phase, epoch: epoch + 1, learningRate: optimizer.learningRate, loss: totals.loss,
                    trainingAccuracy: totals.accuracy,
                    validationAccuracy: measured?.accuracy, validationLoss: measured?.loss,
                    averageValidationAccuracy: averaged, throughput: throughput)
                state.history.append(record)
                let improved = state.observe(
                    max(measured?.accuracy ?? record.trainingAccuracy, averaged ?? 0), epoch: epoch, graph: graph,
                    schedule: options.schedule, phase: phase)
                if averageInGraph { average?.swap(slots) }
                epoch += 1
                state.nextEpoch = epoch
                let stopEarly =
                    phase == 2 && !improved
                    && options.earlyStoppingPatience.map { state.epochsWithoutImprovement >= $0 } == true
                if options.keepBest && (stopEarly || (phase == 2 && epoch == epochs)) { state.restoreBest(into: graph) }
                if communicator.isRoot {
                    try saveModel(to: output, sightlineVersion: sightlineVersion)
                    try state.save(statePath, from: self, optimizer: optimizer, average: average)
                    try writeMetrics(state.history, output: output)
                    try AtomicFile.write(
                        Data(
                            TrainingReport.html(
                                state.history, evaluation: nil, model: backbone.file.path, data: nil,
                                recipe: recipeLine
                            )
                            .utf8), to: output + ".training.html")
                }
                if stopEarly { break }
                if !report(record) && !(phase == 2 && epoch == epochs) {
                    throw TransferError(
                        .stopped, "stopped after phase \(phase) epoch \(epoch); run again with --resume to continue")
                }
            }
            state.nextEpoch = epochs
        }
        // The finished page: curves plus the kept model evaluated on the validation part.
        finalEvaluation = try validationEvaluation()
        guard communicator.isRoot else { return state.history }
        try AtomicFile.write(
            Data(
                TrainingReport.html(
                    state.history, evaluation: finalEvaluation, model: backbone.file.path, data: nil,
                    recipe: recipeLine
                )
                .utf8), to: output + ".training.html")
        return state.history
    }

    /// The model as Keras loads it: the head's logits become a softmax `Dense` (same weights).
    public func exportedGraph() throws -> Graph {
        try graph.withSoftmaxOutput()
    }

    func saveModel(to path: String, sightlineVersion: String) throws {
        let metadata = KerasWriter.Metadata(
            sightlineVersion: sightlineVersion, preprocessing: backbone.preprocessing, source: backbone.file.path,
            classNames: classNames,
            extra: [
                "sightline_fine_tuned_from_layer": featureLayer, "sightline_batch_norm": options.batchNorm.rawValue,
            ])
        try KerasWriter.save(try exportedGraph(), to: path, metadata: metadata, modelName: "fine_tuned")
    }

    func writeMetrics(_ history: [EpochRecord], output: String) throws {
        var csv =
            "phase,epoch,learning_rate,loss,training_accuracy,validation_accuracy,validation_loss,images_per_second,data_wait_fraction,peak_resident_mib,recipe\n"
        var lines = ""
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        for record in history {
            csv +=
                "\(record.phase),\(record.epoch),\(record.learningRate),\(record.loss),\(record.trainingAccuracy),\(record.validationAccuracy.map { String($0) } ?? ""),\(record.validationLoss.map { String($0) } ?? ""),"
                + (record.throughput.map {
                    String(format: "%.2f,%.3f,%d", $0.imagesPerSecond, $0.dataWaitFraction, $0.peakResidentMiB)
                } ?? ",,") + ",\(options.recipe.rawValue)\n"
            // Each line: the epoch's figures and the recipe the run started from.
            var object = (try JSONSerialization.jsonObject(with: try encoder.encode(record)) as? [String: Any]) ?? [:]
            object["recipe"] = options.recipe.rawValue
            object["precision"] = graph.engineOptions.precision.effective.rawValue
            let line = try JSONSerialization.data(
                withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
            lines += String(decoding: line, as: UTF8.self) + "\n"
        }
        for (suffix, text) in [(".metrics.csv", csv), (".metrics.jsonl", lines)] {
            try AtomicFile.write(Data(text.utf8), to: output + suffix)
        }
    }

    /// The recipe and the choices it made, for the training page; the precision when not fp32
    /// (and what this CPU computed it as, `Precision.effective`).
    var recipeLine: String {
        let precision = graph.engineOptions.precision
        let computed =
            precision.effective == precision ? "" : " (computed as \(precision.effective.rawValue) on this CPU)"
        return "\(options.recipe.rawValue): \(Recipe.summary(of: options))"
            + (precision == .fp32 ? "" : " --precision \(precision.rawValue)\(computed)")
    }
}

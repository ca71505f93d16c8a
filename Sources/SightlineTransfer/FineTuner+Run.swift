import Foundation

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
    public func run(
        output: String, resume: Bool = false, sightlineVersion: String, step: (StepProgress) -> Bool = { _ in true },
        report: (EpochRecord) -> Bool = { _ in true }
    ) throws -> [EpochRecord] {
        let statePath = output + ".state.h5"
        var state = TrainingState()
        if resume {
            guard FileManager.default.fileExists(atPath: statePath) else { throw TrainingError(message: "no \(statePath) to resume from") }
            state = try TrainingState.load(statePath, into: self)
            let phaseEpochs = state.phase == 1 ? options.headEpochs : options.epochs
            resumedAt = state.phase == 1 && state.nextEpoch >= phaseEpochs ? (2, 1) : (state.phase, state.nextEpoch + 1)
        }
        guard let input = graph.inputNames.first, let output0 = graph.outputNames.first else { return [] }
        let loss = SoftmaxCrossEntropy()
        for phase in [1, 2] where phase >= state.phase {
            let epochs = phase == 1 ? options.headEpochs : options.epochs
            guard epochs > 0 else { continue }
            try configure(phase: phase)
            let base = phase == 1 ? options.headLearningRate : options.learningRate
            let optimizer = makeOptimizer(base)
            if phase == state.phase { state.restoreOptimizer(optimizer) }
            if state.phase != phase { state = TrainingState(phase: phase, history: state.history) }
            var epoch = state.nextEpoch
            while epoch < epochs {
                // The schedule shapes phase 2; the head phase runs at its constant rate.
                let schedule = phase == 2 ? options.schedule : .constant
                optimizer.learningRate = schedule.rate(base: base, epoch: epoch, epochs: epochs) * state.plateauScale
                var order = Array(training.indices)
                order.shuffle(using: &generator)
                var totalLoss: Float = 0, correct = 0
                for start in stride(from: 0, to: order.count, by: options.batchSize) {
                    let part = order[start..<min(start + options.batchSize, order.count)].map { training[$0] }
                    graph.zeroGradients()
                    let (outputs, tape) = try graph.record([input: batch(part[...], augment: true)], outputs: [output0], mode: .training, request: GradientRequest())
                    guard let logits = outputs[output0] else { continue }
                    let labels = part.map(\.1)
                    let (value, gradient) = loss(logits: logits, labels: labels)
                    totalLoss += value * Float(part.count)
                    correct += zip(logits.argmaxPerRow(), labels).filter { $0 == $1 }.count
                    _ = graph.backward(tape, seeds: [output0: gradient])
                    optimizer.step(graph.trainableSlots)
                    let done = min(start + options.batchSize, order.count)
                    let position = StepProgress(
                        phase: phase, epoch: epoch + 1, epochs: epochs, batch: start / options.batchSize + 1, done: done, total: order.count,
                        loss: totalLoss / Float(done))
                    if !step(position) { throw Interrupted(position: position) }
                }
                let measured = validation.isEmpty ? nil : try measure(validation)
                let validationAccuracy = measured?.accuracy
                let record = EpochRecord(
                    phase: phase, epoch: epoch + 1, learningRate: optimizer.learningRate, loss: totalLoss / Float(training.count),
                    trainingAccuracy: Double(correct) / Double(training.count), validationAccuracy: validationAccuracy, validationLoss: measured?.loss)
                state.history.append(record)
                let improved = state.observe(validationAccuracy ?? record.trainingAccuracy, epoch: epoch, graph: graph, schedule: options.schedule, phase: phase)
                epoch += 1
                state.nextEpoch = epoch
                let stopEarly = phase == 2 && !improved && options.earlyStoppingPatience.map { state.epochsWithoutImprovement >= $0 } == true
                if options.keepBest && (stopEarly || (phase == 2 && epoch == epochs)) { state.restoreBest(into: graph) }
                try saveModel(to: output, sightlineVersion: sightlineVersion)
                try state.save(statePath, from: self, optimizer: optimizer)
                try writeMetrics(state.history, output: output)
                try AtomicFile.write(Data(TrainingReport.html(state.history, evaluation: nil, model: backbone.file.path, data: nil).utf8), to: output + ".training.html")
                if stopEarly { break }
                if !report(record) && !(phase == 2 && epoch == epochs) {
                    throw TrainingError(message: "stopped after phase \(phase) epoch \(epoch); run again with --resume to continue")
                }
            }
            state.nextEpoch = epochs
        }
        // The finished page: curves plus the kept model evaluated on the validation part.
        finalEvaluation = try validationEvaluation()
        try AtomicFile.write(Data(TrainingReport.html(state.history, evaluation: finalEvaluation, model: backbone.file.path, data: nil).utf8), to: output + ".training.html")
        return state.history
    }

    /// The model as Keras loads it: the head's logits become a softmax `Dense` (same weights).
    public func exportedGraph() throws -> Graph {
        let exported = Graph()
        for node in graph.nodes {
            guard let layer = node.layer else {
                try exported.addInput(name: node.name, shape: node.shape)
                continue
            }
            if let dense = layer as? Dense, node.name == graph.outputNames.first {
                try exported.add(Dense(name: dense.name, kernel: dense.kernel.value, bias: dense.bias?.value, activation: .softmax), inputs: node.inputs)
            } else {
                try exported.add(layer, inputs: node.inputs)
            }
        }
        return exported
    }

    func saveModel(to path: String, sightlineVersion: String) throws {
        let metadata = KerasWriter.Metadata(
            sightlineVersion: sightlineVersion, preprocessing: backbone.preprocessing, source: backbone.file.path, classNames: classNames,
            extra: ["sightline_fine_tuned_from_layer": featureLayer, "sightline_batch_norm": options.batchNorm.rawValue])
        try KerasWriter.save(try exportedGraph(), to: path, metadata: metadata, modelName: "fine_tuned")
    }

    func writeMetrics(_ history: [EpochRecord], output: String) throws {
        var csv = "phase,epoch,learning_rate,loss,training_accuracy,validation_accuracy,validation_loss\n"
        var lines = ""
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        for record in history {
            csv += "\(record.phase),\(record.epoch),\(record.learningRate),\(record.loss),\(record.trainingAccuracy),\(record.validationAccuracy.map { String($0) } ?? ""),\(record.validationLoss.map { String($0) } ?? "")\n"
            lines += String(decoding: try encoder.encode(record), as: UTF8.self) + "\n"
        }
        for (suffix, text) in [(".metrics.csv", csv), (".metrics.jsonl", lines)] { try AtomicFile.write(Data(text.utf8), to: output + suffix) }
    }
}

import Foundation
import SightlineCore
import SightlineData
import SightlineNN

extension FineTuner {
    /// Trains one epoch on streamed batches: the epoch's order (`epochOrder`: a seeded shuffle of
    /// the training images, or the balanced sampler's draw) is cut into global batches of
    /// `options.batchSize`; this process takes its contiguous slice of each. Returns the epoch's mean loss and training accuracy over all
    /// processes, and rank 0's throughput (peak memory filled in by the caller). `cycle`, when
    /// given, sets the rate and momentum before every step (its step count runs over the phase);
    /// `average`, when given, is updated after every step.
    func trainEpoch(
        phase: Int, epoch: Int, epochs: Int, optimizer: any Optimizer, cycle: OneCycle? = nil,
        average: WeightAverage? = nil, step: (StepProgress) -> Bool
    ) throws -> (totals: (loss: Float, accuracy: Double), throughput: Throughput) {
        guard let input = graph.inputNames.first, let output = graph.outputNames.first else {
            throw TransferError(.model, "the model has no input or output")
        }
        let order = epochOrder(phase: phase, epoch: epoch)
        let classWeights = options.balance == .weights ? ClassBalance.weights(trainingClassCounts) : nil
        let slots = trainingSlots(phase: phase)  // what this epoch trains, at their rates
        let global = stride(from: 0, to: order.count, by: options.batchSize).map {
            order[$0..<min($0 + options.batchSize, order.count)]
        }
        let local = global.map { batch in
            let start = batch.count * communicator.rank / communicator.size
            let end = batch.count * (communicator.rank + 1) / communicator.size
            return batch[(batch.startIndex + start)..<(batch.startIndex + end)]
        }
        let started = DispatchTime.now().uptimeNanoseconds
        let dropouts = graph.layers.compactMap { $0 as? Dropout }
        defer { for dropout in dropouts { dropout.sampleSeeds = nil } }
        var total = TrainingStep.Figures()
        var number = 0
        let waitSeconds = try batchLoop().run(plan(local, of: training, augmentEpoch: (phase, epoch))) { batch in
            defer { number += 1 }
            noteFailures(batch)
            var figures = TrainingStep.Figures()
            if var images = batch.images {
                let labels = batch.samples.map { $0.label ?? 0 }
                // Mixed per batch from a seed of (run seed, phase, epoch, batch): resumable.
                var mixer = SeededGenerator(seed: sampleSeed(.mixing, (phase, epoch), number))
                let mix = options.mixing?.mix(&images, labels: labels, generator: &mixer)
                for dropout in dropouts {
                    dropout.sampleSeeds = batch.samples.map { sampleSeed(.dropout, (phase, epoch), $0.index) }
                }
                // Several processes: the gradient of the slice's summed loss; `combine` divides
                // the sum over processes by the global number of images.
                figures = try TrainingStep.gradients(
                    graph, inputs: [input: images], output: output, labels: labels,
                    loss: SoftmaxCrossEntropy(labelSmoothing: options.labelSmoothing), mix: mix,
                    weights: classWeights.map { w in labels.map { w[$0] } }, summed: communicator.size > 1)
            } else {
                graph.zeroGradients()  // nothing readable: this process adds zeros to the combine
            }
            try combine(&figures)
            if figures.count > 0 {
                let place = "phase \(phase) epoch \(epoch + 1) batch \(number + 1)"
                let fix =
                    "The files written so far keep the last finished epoch's weights; lower \(phase == 1 ? "--head-lr" : "--lr") (now \(optimizer.learningRate))."
                try Divergence.check(loss: figures.loss, slots: slots, at: place, fix: fix)
                cycle?.apply(to: optimizer, step: epoch * global.count + number)
                optimizer.step(slots)
                average?.update(slots)
                try Divergence.checkWeights(slots, at: place, fix: fix)
            }
            total = total + figures
            let position = StepProgress(
                phase: phase, epoch: epoch + 1, epochs: epochs, batch: number + 1,
                done: min((number + 1) * options.batchSize, order.count),
                total: order.count, loss: total.count > 0 ? total.loss / Float(total.count) : 0,
                batchLoss: figures.count > 0 ? figures.loss / Float(figures.count) : 0)
            var stop: [Float] = [step(position) ? 0 : 1]
            try communicator.sum(&stop)  // every process stops at the same step
            if stop[0] > 0 {
                throw TransferError(
                    .stopped,
                    "interrupted at phase \(phase) epoch \(epoch + 1) batch \(number + 1); the last completed epoch is saved; rerun the same command with --resume"
                )
            }
            return true
        }
        guard total.count > 0 else {
            throw TransferError(
                .data, "none of the \(training.count) training images could be read (see the skipped files above)")
        }
        let seconds = max(Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9, 1e-9)
        let throughput = Throughput(
            imagesPerSecond: Double(total.count) / seconds, dataWaitFraction: waitSeconds / seconds,
            peakResidentMiB: 0)
        return ((total.loss / Float(total.count), Double(total.correct) / Double(total.count)), throughput)
    }

    /// With several processes: sums every trainable gradient and the step's figures over them
    /// (one `MPI_Allreduce`), then divides the gradients by the global number of images. A
    /// parameter no process computed a gradient for keeps none, as in a single process.
    func combine(_ figures: inout TrainingStep.Figures) throws {
        guard communicator.size > 1 else { return }
        let slots = graph.trainableSlots
        var buffer: [Float] = []
        buffer.reserveCapacity(slots.reduce(3) { $0 + $1.parameter.value.count + 1 })
        for slot in slots {
            if let gradient = slot.parameter.gradient {
                buffer.append(contentsOf: gradient.scalars)
                buffer.append(1)
            } else {
                buffer.append(contentsOf: repeatElement(0, count: slot.parameter.value.count + 1))
            }
        }
        buffer += [figures.loss, Float(figures.correct), Float(figures.count)]
        try communicator.sum(&buffer)
        let count = buffer[buffer.count - 1]
        var offset = 0
        for slot in slots {
            let size = slot.parameter.value.count
            if buffer[offset + size] > 0 && count > 0 {
                slot.parameter.gradient = Tensor(
                    shape: slot.parameter.value.shape, scalars: buffer[offset..<(offset + size)].map { $0 / count })
            }
            offset += size + 1
        }
        figures = TrainingStep.Figures(
            loss: buffer[buffer.count - 3], correct: Int(buffer[buffer.count - 2]), count: Int(count))
    }
}

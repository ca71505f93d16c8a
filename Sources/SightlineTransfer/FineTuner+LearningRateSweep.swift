import Foundation
import SightlineNN

extension FineTuner {
    /// fastai's `lr_find` on this run's model and data: `steps` optimizer steps of `phase` (1: the
    /// head alone, as before fine-tuning; 2: what phase 2 trains), the rate growing exponentially
    /// from `start` to `end`, stopping when the smoothed loss passes 4 × its best or the loss
    /// diverges. Every weight (and the BatchNorm statistics) is restored afterwards, so the model is
    /// as it was. `step` gets the position after each sweep step (epoch 0, `done` of `total`
    /// steps, the smoothed loss) and returns false to stop: the sweep then throws
    /// `TransferError(.stopped)`, as an interrupted epoch does.
    public func sweepLearningRate(
        phase: Int = 1, start: Float = 1e-7, end: Float = 10, steps: Int = 100,
        step: (StepProgress) -> Bool = { _ in true }
    ) throws -> LearningRateSweep {
        let parameters = graph.layers.flatMap(\.parameters)
        let saved = parameters.map(\.value)
        defer {
            for (parameter, value) in zip(parameters, saved) { parameter.value = value }
            graph.zeroGradients()
        }
        try configure(phase: phase)
        let optimizer = makeOptimizer(LearningRateSweep.rate(0, start: start, end: end, steps: steps))
        var sweep = LearningRateSweep(rates: [], losses: [], steps: steps)
        var smoother = LearningRateSweep.Smoother()
        var best = Float.infinity
        var epoch = 0
        var interrupted = false
        sweeping: while sweep.rates.count < steps {
            do {
                _ = try trainEpoch(phase: phase, epoch: epoch, epochs: 1, optimizer: optimizer) { position in
                    let smoothed = smoother.add(position.batchLoss)
                    sweep.rates.append(optimizer.learningRate)
                    sweep.losses.append(smoothed)
                    best = min(best, smoothed)
                    let done = sweep.rates.count
                    guard
                        step(
                            StepProgress(
                                phase: phase, epoch: 0, epochs: 0, batch: done, done: done, total: steps,
                                loss: smoothed, batchLoss: position.batchLoss))
                    else {
                        interrupted = true
                        return false
                    }
                    optimizer.learningRate = LearningRateSweep.rate(
                        sweep.rates.count, start: start, end: end, steps: steps)
                    return sweep.rates.count < steps && smoothed <= 4 * best
                }
            } catch let error as TransferError where error.kind == .stopped || !sweep.rates.isEmpty {
                break sweeping  // stopped by the rule above, or diverged at a high rate: the sweep's end
            }
            epoch += 1
        }
        if interrupted {
            throw TransferError(
                .stopped,
                "interrupted during the learning-rate sweep (step \(sweep.rates.count) of \(steps)); the weights are restored; rerun the same command (with --resume when fine-tuning)"
            )
        }
        return sweep
    }
}

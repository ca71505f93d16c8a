import Foundation
import SightlineCore
import SightlineNN

extension FineTuner {
    /// Images per class in the training part.
    public var trainingClassCounts: [Int] {
        ClassBalance.counts(training.map { $0.label ?? 0 }, classes: classNames.count)
    }

    /// One epoch's order of training images (indices into `training`): a seeded shuffle, or
    /// with `balance: .sampler` a seeded draw with replacement by inverse class frequency.
    func epochOrder(phase: Int, epoch: Int) -> [Int] {
        var generator = SeededGenerator(seed: sampleSeed(.order, (phase, epoch), 0))
        if options.balance == .sampler {
            return ClassBalance.sample(
                training.map { $0.label ?? 0 }, classes: classNames.count, count: training.count, using: &generator)
        }
        var order = Array(training.indices)
        order.shuffle(using: &generator)
        return order
    }

    /// Optimizer steps in one epoch: the global batches of the training part.
    var stepsPerEpoch: Int { (training.count + options.batchSize - 1) / options.batchSize }

    /// The slots an optimizer step updates in `phase`, each at its discriminative rate in phase 2
    /// when `options.lowestLearningRate` or `layerDecay` is set (`DiscriminativeRates`), else all
    /// at the rate.
    func trainingSlots(phase: Int) -> [ParameterSlot] {
        let slots = graph.trainableSlots
        let scales: [String: Float]
        if phase == 2, let low = options.lowestLearningRate {
            scales = DiscriminativeRates.scales(
                of: graph, lastBackboneNode: featureLayer, low: low, high: options.learningRate)
        } else if phase == 2, let decay = options.layerDecay {
            scales = DiscriminativeRates.layerDecayScales(of: graph, lastBackboneNode: featureLayer, decay: decay)
        } else {
            return slots
        }
        return slots.map { slot in
            var scaled = slot
            scaled.rateScale = scales[slot.layerName] ?? 1
            return scaled
        }
    }
}

import Foundation
import SightlineNN

extension FineTuner {
    /// Optimizer steps in one epoch: the global batches of the training part.
    var stepsPerEpoch: Int { (training.count + options.batchSize - 1) / options.batchSize }

    /// The slots an optimizer step updates in `phase`, each at its discriminative rate in phase 2
    /// when `options.lowestLearningRate` is set (`DiscriminativeRates`), else all at the rate.
    func trainingSlots(phase: Int) -> [ParameterSlot] {
        let slots = graph.trainableSlots
        guard phase == 2, let low = options.lowestLearningRate else { return slots }
        let scales = DiscriminativeRates.scales(
            of: graph, lastBackboneNode: featureLayer, low: low, high: options.learningRate)
        return slots.map { slot in
            var scaled = slot
            scaled.rateScale = scales[slot.layerName] ?? 1
            return scaled
        }
    }
}

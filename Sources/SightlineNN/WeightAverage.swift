import SightlineCore

/// An exponential moving average of trained weights (timm's `ModelEmaV2`): after every
/// optimizer step each average becomes `decay · average + (1 − decay) · weight`. An average
/// starts from the weight as it was when first tracked (the pretrained value for a backbone
/// weight, the initial value for a new head's), as timm's starts from a copy of the model.
/// Keyed by `ParameterSlot.key`.
public final class WeightAverage {
    public let decay: Float
    /// The averages by slot key.
    public var averages: [String: Tensor] = [:]

    public init(decay: Float) { self.decay = decay }

    /// Starts averaging the slots not yet tracked, from their current values.
    public func track(_ slots: [ParameterSlot]) {
        for slot in slots where averages[slot.key] == nil { averages[slot.key] = slot.parameter.value }
    }

    /// Moves every tracked slot's average towards its current value (call after each step).
    public func update(_ slots: [ParameterSlot]) {
        let (decay, rest) = (self.decay, 1 - self.decay)
        for slot in slots {
            guard var average = averages.removeValue(forKey: slot.key) else { continue }
            average.withUnsafeMutableBufferPointer { a in
                slot.parameter.value.withUnsafeBufferPointer { w in
                    guard let a = a.baseAddress, let w = w.baseAddress else { return }
                    Parallel.forEachChunk(slot.parameter.value.count, costPerItem: 2) { range in
                        for i in range { a[i] = a[i] * decay + rest * w[i] }
                    }
                }
            }
            averages[slot.key] = average
        }
    }

    /// Exchanges each tracked slot's weights with its average: the model then holds the
    /// averages, and a second call puts the trained weights back, bit for bit.
    public func swap(_ slots: [ParameterSlot]) {
        for slot in slots {
            guard let average = averages[slot.key] else { continue }
            averages[slot.key] = slot.parameter.value
            slot.parameter.value = average
        }
    }
}

import SightlineNN

/// The guard around every optimizer step: a non-finite loss or gradient stops training before
/// the step, so the weights (and every file already written) keep their last finite values.
enum Divergence {
    /// Throws when the loss or a trainable gradient is NaN or infinite, naming where (`at`, such
    /// as "phase 2 epoch 1 batch 3"), the parameter, and the fix (`fix`, naming the option).
    static func check(loss: Float, slots: [ParameterSlot], at place: String, fix: String) throws(TransferError) {
        if !loss.isFinite {
            throw TransferError(
                .data, "\(place): the loss became \(loss.isNaN ? "NaN" : "\(loss)"); training diverged. \(fix)")
        }
        for slot in slots {
            guard let gradient = slot.parameter.gradient else { continue }
            if !gradient.allFinite {
                throw TransferError(
                    .data, "\(place): the gradient of \(slot.key) is not finite; training diverged. \(fix)")
            }
        }
    }

    /// Throws when a step left a trainable weight NaN or infinite (a rate so large the update
    /// overflows).
    static func checkWeights(_ slots: [ParameterSlot], at place: String, fix: String) throws(TransferError) {
        for slot in slots {
            if !slot.parameter.value.allFinite {
                throw TransferError(.data, "\(place): the step made \(slot.key) not finite; training diverged. \(fix)")
            }
        }
    }
}

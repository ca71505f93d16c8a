internal import CKernels
import SightlineCore

extension Tensor {
    /// Rounds every value to the nearest bfloat16 (ties to even), keeping float32 storage: what
    /// a bf16 convolution does to its source and weights (`Precision.bf16Emulated`).
    public mutating func roundToBFloat16() {
        withUnsafeMutableBufferPointer { values in
            if let base = values.baseAddress { sl_round_to_bf16(base, Int64(values.count)) }
        }
    }

    /// A copy with every value rounded to the nearest bfloat16 (`roundToBFloat16`).
    public func roundedToBFloat16() -> Tensor {
        var copy = self  // copy-on-write: rounding copies the storage
        copy.roundToBFloat16()
        return copy
    }
}

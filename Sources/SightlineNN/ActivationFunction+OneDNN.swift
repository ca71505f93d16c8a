internal import CKernels
import SightlineCore

/// The activations oneDNN's eltwise primitives compute (`Sources/CKernels/onednn_eltwise.c`):
/// JIT code with vectorised exp, tanh and erf where the loops of `ActivationFunction.apply` call
/// libm's scalar `expf` per value. Swish on 19.3 M values (EfficientNetB0's block 2 expansion at
/// batch 16), 2-core Zen 4 VM: 38 ms in the loops, 7 ms forward and 11 ms backward here.
/// Against float64, largest difference over the largest value: 1e-8 to 5e-8 (GELU's, the
/// largest, 3.8e-7 absolute on values up to 8); ELU and GELU run oneDNN's polynomial
/// approximations, so small values differ by up to 1.7e-5 of themselves.
extension ActivationFunction {
    /// Tensors of at least this many values go through oneDNN; smaller ones (a squeeze-and-excite
    /// gate) through the loops, which beat fetching a primitive.
    static let eltwiseMinimum = 1 << 16

    /// oneDNN's function and its parameter for this activation, or nil where the loops run.
    var eltwise: (function: sl_eltwise, alpha: Float)? {
        switch self {
        case .swish: (SL_ELTWISE_SWISH, 1)
        case .hardSilu: (SL_ELTWISE_HARDSWISH, 0)
        case .sigmoid: (SL_ELTWISE_LOGISTIC, 0)
        case .tanh: (SL_ELTWISE_TANH, 0)
        case .elu(let alpha): (SL_ELTWISE_ELU, alpha)
        case .gelu(let approximate): (approximate ? SL_ELTWISE_GELU_TANH : SL_ELTWISE_GELU_ERF, 0)
        default: nil
        }
    }

    /// Writes the activation of `count` values at `source` to `destination` (which may be
    /// `source`) through oneDNN; false where it does not run (too few values, a function it lacks,
    /// a failure), and the caller's loops then do.
    func eltwiseForward(_ source: UnsafePointer<Float>, _ destination: UnsafeMutablePointer<Float>, count: Int)
        -> Bool
    {
        guard count >= Self.eltwiseMinimum, let (function, alpha) = eltwise else { return false }
        return sl_dnnl_eltwise_forward(function, alpha, source, destination, Int64(count)) == 0
    }

    /// Replaces ∂L/∂y at `gradient` by ∂L/∂x in place through oneDNN, from the input `input`
    /// (swish, hard swish, GELU) or the output `output` (sigmoid, tanh, ELU); false as
    /// `eltwiseForward`.
    func eltwiseBackward(
        gradient: UnsafeMutablePointer<Float>, output: UnsafePointer<Float>, input: UnsafePointer<Float>?, count: Int
    ) -> Bool {
        guard count >= Self.eltwiseMinimum, let (function, alpha) = eltwise, let data = needsInput ? input : output
        else { return false }
        return sl_dnnl_eltwise_backward(function, alpha, data, gradient, gradient, Int64(count)) == 0
    }
}

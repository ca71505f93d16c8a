internal import CKernels
import Foundation
import SightlineCore

/// oneDNN's backward convolution primitives for one `Conv2D` or `DepthwiseConv2D`
/// (`Sources/CKernels/onednn_backward.c`):
/// the input gradient (backward data) and the kernel and bias gradients (backward weights) on
/// NHWC tensors and HWIO kernels, as oneDNN's JIT kernels compute them for this CPU (brgconv or
/// jit:avx512_core on AVX-512) instead of im2col + GEMM tiles. Primitives are specific to an
/// input shape and batch size and made once for each seen; the current kernel is passed at each
/// call, so they survive optimizer steps and are shared by the layer and the folded copies a
/// training pass makes of it (`FoldedConvolution`). When oneDNN declines a shape, the calls
/// return nil and the layer keeps its GEMM route. With `bf16` (AVX512_BF16 or AMX CPUs only) the
/// input, the output gradient and the kernel are rounded to bfloat16 and the products accumulate
/// in float32; the gradients come out in float32.
final class OneDNNConvolutionBackward {
    private struct Key: Hashable {
        var shape: [Int]
        var batch: Int
        var data: Bool
        var bf16: Bool

        init(_ shape: Shape, batch: Int, data: Bool, bf16: Bool) {
            self.shape = [shape.geometry.inputHeight, shape.geometry.inputWidth, shape.channels]
            (self.batch, self.data, self.bf16) = (batch, data, bf16)
        }
    }

    private let lock = NSLock()
    private var primitives: [Key: OpaquePointer?] = [:]

    /// What oneDNN needs to know of a convolution: its window, channels in and out, groups.
    struct Shape {
        var geometry: WindowGeometry
        var channels: Int
        var filters: Int
        var groups: Int = 1
    }

    private func primitive(_ shape: Shape, batch: Int, data: Bool, bf16: Bool) -> OpaquePointer? {
        lock.withLock {
            let g = shape.geometry
            let key = Key(shape, batch: batch, data: data, bf16: bf16)
            if let cached = primitives[key] { return cached }
            var impl = [CChar](repeating: 0, count: 256)
            var message = [CChar](repeating: 0, count: 256)
            let made = sl_dnnl_conv_bwd_create(
                Int32(batch), Int32(g.inputHeight), Int32(g.inputWidth), Int32(shape.channels), Int32(shape.filters),
                Int32(shape.groups), Int32(g.kernelHeight), Int32(g.kernelWidth), Int32(g.strideY), Int32(g.strideX),
                Int32(g.dilationY), Int32(g.dilationX), Int32(g.padTop), Int32(g.padLeft), Int32(g.outputHeight),
                Int32(g.outputWidth), data ? 1 : 0, data ? 0 : 1, bf16 ? 1 : 0, &impl, impl.count, &message,
                message.count)
            primitives[key] = made
            return made
        }
    }

    /// ∂L/∂x `[N, H, W, C]` (`input`'s shape) from ∂L/∂(pre-activation output) `dz`
    /// `[N, OH, OW, F]` through `kernel` (Keras's layout), or nil when oneDNN declined the shape.
    func inputGradient(_ shape: Shape, kernel: Tensor, input: [Int], gradient dz: Tensor, bf16: Bool = false)
        -> Tensor?
    {
        guard let primitive = primitive(shape, batch: input[0], data: true, bf16: bf16) else { return nil }
        var failed: Int32 = 0
        let dx = Tensor(shape: input) { out in
            kernel.withUnsafeBufferPointer { w in
                dz.withUnsafeBufferPointer { dy in
                    failed = sl_dnnl_conv_bwd_data(primitive, w.baseAddress, dy.baseAddress, out.baseAddress)
                }
            }
        }
        return failed == 0 ? dx : nil
    }

    /// The kernel gradient (`kernelShape`, Keras's layout) and bias gradient `[F]` of input `x`
    /// `[N, H, W, C]` and `dz` `[N, OH, OW, F]`, or nil when oneDNN declined the shape.
    func weightGradients(
        _ shape: Shape, kernelShape: [Int], input x: Tensor, gradient dz: Tensor, bf16: Bool = false
    ) -> (kernel: Tensor, bias: Tensor)? {
        guard let primitive = primitive(shape, batch: x.shape[0], data: false, bf16: bf16) else { return nil }
        var failed: Int32 = 0
        var bias = Tensor(zeros: [shape.filters])
        let kernel = Tensor(shape: kernelShape) { dw in
            x.withUnsafeBufferPointer { p in
                dz.withUnsafeBufferPointer { dy in
                    bias.withUnsafeMutableBufferPointer { db in
                        failed = sl_dnnl_conv_bwd_weights(
                            primitive, p.baseAddress, dy.baseAddress, dw.baseAddress, db.baseAddress)
                    }
                }
            }
        }
        return failed == 0 ? (kernel, bias) : nil
    }

    /// The kernel, bias and input gradients together: `weightGradients` then `inputGradient`,
    /// with the output gradient converted to bfloat16 once for both passes under `bf16` (the
    /// pass each makes alone converts it again). Nil when oneDNN declined either primitive.
    func gradients(
        _ shape: Shape, kernel: Tensor, input x: Tensor, gradient dz: Tensor, bf16: Bool
    ) -> (input: Tensor, kernel: Tensor, bias: Tensor)? {
        guard let weights = primitive(shape, batch: x.shape[0], data: false, bf16: bf16),
            let data = primitive(shape, batch: x.shape[0], data: true, bf16: bf16)
        else { return nil }
        var failed: Int32 = 0
        var bias = Tensor(zeros: [shape.filters])
        var dw = Tensor(zeros: kernel.shape)
        let dx = Tensor(shape: x.shape) { out in
            kernel.withUnsafeBufferPointer { w in
                x.withUnsafeBufferPointer { p in
                    dz.withUnsafeBufferPointer { dy in
                        dw.withUnsafeMutableBufferPointer { dk in
                            bias.withUnsafeMutableBufferPointer { db in
                                failed = sl_dnnl_conv_bwd_both(
                                    weights, data, w.baseAddress, p.baseAddress, dy.baseAddress, dk.baseAddress,
                                    db.baseAddress, out.baseAddress)
                            }
                        }
                    }
                }
            }
        }
        return failed == 0 ? (dx, dw, bias) : nil
    }
}

internal import CKernels
import Foundation
import SightlineCore

/// oneDNN's direct convolution on NHWC (`Sources/CKernels/onednn.c`), weights reordered once
/// into the layout oneDNN picks for this CPU (brgconv on AVX-512), bias, residual (summed in
/// place, or read from its own tensor when it must stay unchanged) and ReLU as post-ops. oneDNN
/// primitives are specific to a batch size: one is made per batch size seen
/// (a job uses one or two). Falls back to the reference when oneDNN declines the shape.
///
/// Under `Precision.bf16` the primitive takes bfloat16 sources and weights (the input is
/// converted per run); under `.bf16Emulated` the weights are rounded to bfloat16 once and each
/// input before the float32 primitive runs, the same arithmetic on any CPU.
final class OneDNNConvolution: ConvolutionKernel {
    private let kernel: Tensor, bias: Tensor?, filters: Int, channels: Int
    private let geometry: WindowGeometry
    private let activation: FusedActivation
    private let precision: Precision
    private let fallback: ReferenceConvolution
    private let lock = NSLock()
    /// Primitives by (batch size, residual mode: 0 none, 1 summed in place, 2 read from its own
    /// tensor); nil where oneDNN declined.
    private var primitives: [Int: OpaquePointer?] = [:]
    private var implementation = ""

    init(
        _ conv: Conv2D, geometry: WindowGeometry, channels: Int, activation: FusedActivation,
        precision: Precision = .fp32
    ) {
        var weights = conv.kernel.value
        if precision == .bf16Emulated { weights.roundToBFloat16() }
        kernel = weights
        bias = conv.bias?.value
        filters = conv.filters
        self.channels = channels
        self.geometry = geometry
        self.activation = activation
        self.precision = precision
        fallback = ReferenceConvolution(
            kernel: weights, bias: bias, filters: filters, geometry: geometry, activation: activation.function)
    }

    deinit { for case let primitive? in primitives.values { sl_dnnl_conv_destroy(primitive) } }

    /// oneDNN's implementation name (e.g. `onednn brgconv:avx512_core`), or the fallback and
    /// oneDNN's reason when it declined the shape.
    var summary: String {
        lock.withLock { implementation.isEmpty ? "onednn direct\(precisionSuffix)" : implementation }
    }

    /// `" bf16"` or `" bf16-emulated"` after the kernel's name; empty for fp32.
    private var precisionSuffix: String { precision == .fp32 ? "" : " \(precision.rawValue)" }

    private func primitive(batch: Int, residual: Int32) -> OpaquePointer? {
        lock.withLock {
            let key = batch * 3 + Int(residual)
            if let cached = primitives[key] { return cached }
            var impl = [CChar](repeating: 0, count: 128)
            var message = [CChar](repeating: 0, count: 256)
            let g = geometry
            let made = kernel.withUnsafeBufferPointer { w in
                bias.withOptionalPointer { b in
                    sl_dnnl_conv_create(
                        Int32(batch), Int32(g.inputHeight), Int32(g.inputWidth), Int32(channels), Int32(filters),
                        Int32(g.kernelHeight), Int32(g.kernelWidth), Int32(g.strideY), Int32(g.strideX),
                        Int32(g.dilationY),
                        Int32(g.dilationX), Int32(g.padTop), Int32(g.padLeft), Int32(g.outputHeight),
                        Int32(g.outputWidth),
                        w.baseAddress, b, activation.kind, activation.max, residual,
                        precision == .bf16 ? 1 : 0,
                        &impl, impl.count, &message,
                        message.count)
                }
            }
            let suffix = precisionSuffix
            implementation =
                made != nil
                ? "onednn \(Self.text(impl))\(suffix)"
                : "im2col+sgemm\(suffix) (oneDNN declined: \(Self.text(message)))"
            primitives[key] = made
            return made
        }
    }

    /// A NUL-terminated C buffer as a string.
    static func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    func run(_ input: Tensor, into output: inout Tensor, accumulate: Bool) {
        var input = input
        if precision == .bf16Emulated { input.roundToBFloat16() }
        guard let primitive = primitive(batch: input.shape[0], residual: accumulate ? 1 : 0) else {
            fallback.run(input, into: &output, accumulate: accumulate)
            return
        }
        let failed = input.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer { y in sl_dnnl_conv_run(primitive, x.baseAddress, y.baseAddress) }
        }
        if failed != 0 { fallback.run(input, into: &output, accumulate: accumulate) }
    }

    func run(_ input: Tensor, adding residual: Tensor, into output: inout Tensor) {
        var input = input
        if precision == .bf16Emulated { input.roundToBFloat16() }
        let failed =
            primitive(batch: input.shape[0], residual: 2).map { primitive in
                input.withUnsafeBufferPointer { x in
                    residual.withUnsafeBufferPointer { r in
                        output.withUnsafeMutableBufferPointer { y in
                            sl_dnnl_conv_run_adding(primitive, x.baseAddress, r.baseAddress, y.baseAddress)
                        }
                    }
                }
            } ?? 1
        guard failed != 0 else { return }
        output = residual
        fallback.run(input, into: &output, accumulate: true)
    }
}

internal import CKernels
import Foundation
import SightlineCore

/// oneDNN's depthwise convolution for a `DepthwiseConv2D` (a grouped convolution with one group
/// per input channel, `sl_dnnl_grouped_conv_create`): NHWC in and out, the kernel reordered
/// once into oneDNN's layout, bias and a ReLU/ReLU6 as post-ops. Primitives are made per input
/// shape, batch size and weights version (an optimizer step makes new ones, a frozen layer keeps
/// its own); `run` returns nil where oneDNN declines, and the layer keeps its own loops.
final class OneDNNDepthwiseConvolution {
    private struct Key: Hashable {
        var shape: [Int]
        var batch: Int
        var version: Int
        var activation: Float
    }

    private let lock = NSLock()
    private var primitives: [Key: OpaquePointer?] = [:]

    init() {}

    deinit { for case let primitive? in primitives.values { sl_dnnl_conv_destroy(primitive) } }

    /// `activation(depthwise(x) + bias)` `[N, OH, OW, C·M]` for `x` `[N, H, W, C]`, or nil when
    /// oneDNN declined the shape.
    func run(_ layer: DepthwiseConv2D, input x: Tensor, activation: FusedActivation) -> Tensor? {
        let g = layer.geometry(height: x.shape[1], width: x.shape[2])
        let filters = layer.channels * layer.multiplier
        let version = layer.parameters.reduce(0) { $0 &+ $1.version }
        let key = Key(
            shape: Array(x.shape.dropFirst()), batch: x.shape[0], version: version,
            activation: activation.kind == SL_ACT_RELU ? activation.max : -1)
        let primitive: OpaquePointer? = lock.withLock {
            if let cached = primitives[key] { return cached }
            for (old, made) in primitives where old.version != version {
                if let made { sl_dnnl_conv_destroy(made) }
                primitives[old] = nil
            }
            var impl = [CChar](repeating: 0, count: 128)
            var message = [CChar](repeating: 0, count: 256)
            let made = layer.kernel.value.withUnsafeBufferPointer { w in
                layer.bias?.value.withUnsafeBufferPointer { b in
                    create(
                        g, x.shape, filters, layer.channels, w.baseAddress, b.baseAddress, activation, &impl, &message)
                } ?? create(g, x.shape, filters, layer.channels, w.baseAddress, nil, activation, &impl, &message)
            }
            primitives[key] = made
            return made
        }
        guard let primitive else { return nil }
        var failed: Int32 = 0
        let y = Tensor(shape: [x.shape[0], g.outputHeight, g.outputWidth, filters]) { out in
            x.withUnsafeBufferPointer { p in failed = sl_dnnl_conv_run(primitive, p.baseAddress, out.baseAddress) }
        }
        return failed == 0 ? y : nil
    }

    private func create(
        _ g: WindowGeometry, _ shape: [Int], _ filters: Int, _ groups: Int, _ kernel: UnsafePointer<Float>?,
        _ bias: UnsafePointer<Float>?, _ activation: FusedActivation, _ impl: inout [CChar], _ message: inout [CChar]
    ) -> OpaquePointer? {
        sl_dnnl_grouped_conv_create(
            Int32(shape[0]), Int32(g.inputHeight), Int32(g.inputWidth), Int32(shape[3]), Int32(filters), Int32(groups),
            Int32(g.kernelHeight), Int32(g.kernelWidth), Int32(g.strideY), Int32(g.strideX), Int32(g.dilationY),
            Int32(g.dilationX), Int32(g.padTop), Int32(g.padLeft), Int32(g.outputHeight), Int32(g.outputWidth), kernel,
            bias, activation.kind, activation.max, 0, 0, &impl, impl.count, &message, message.count)
    }
}

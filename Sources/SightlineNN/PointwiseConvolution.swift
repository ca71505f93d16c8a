internal import CKernels
import SightlineCore

/// A 1×1 stride-1 unpadded convolution of at most `maximumChannels` inputs, float32: oneDNN's
/// direct convolution for plain runs, and for runs that add a ResNet shortcut
/// (`Sources/CKernels/pointwise_forward.c`) GEMMs over chunks of rows with the bias, the shortcut
/// and the activation added to each chunk while it is in cache. oneDNN 2.6 takes a shortcut read
/// from its own tensor (a binary post-op) only on its older jit_1x1 kernel.
///
/// `bench/pointwise_forward.c`, batch 16, 2-core EPYC Zen 4, best of 12, ms, shortcut read from
/// its own tensor (oneDNN / chunks) and summed in place (oneDNN's sum post-op / chunks):
/// ResNet50's 56×56 64→256 14.5 / 10.6 and 11.3 / 9.3, 28×28 128→512 10.0 / 9.2 and 9.5 / 8.8;
/// wider inputs are level or lose up to 0.4 ms (14×14 256→1024 8.6 / 8.7 and 8.2 / 8.3, 7×7
/// 512→2048 8.1 / 8.3 and 7.7 / 8.1), so they stay with oneDNN.
final class PointwiseConvolution: ConvolutionKernel {
    static let maximumChannels = 128

    private let direct: OneDNNConvolution
    private let kernel: Tensor, bias: Tensor?
    private let filters: Int, channels: Int
    private let activation: FusedActivation

    /// Whether `conv` on inputs of `channels` channels, geometry `g`, takes this kernel.
    static func fits(_ g: WindowGeometry, channels: Int) -> Bool {
        g.isPointwise && g.dilationY == 1 && g.dilationX == 1 && channels <= maximumChannels
    }

    init(_ conv: Conv2D, geometry: WindowGeometry, channels: Int, activation: FusedActivation) {
        direct = OneDNNConvolution(conv, geometry: geometry, channels: channels, activation: activation)
        kernel = conv.kernel.value
        bias = conv.bias?.value
        filters = conv.filters
        self.channels = channels
        self.activation = activation
    }

    var summary: String { direct.summary + ", chunked sgemm with a shortcut" }

    func run(_ input: Tensor, into output: inout Tensor, accumulate: Bool) {
        guard accumulate else { return direct.run(input, into: &output, accumulate: false) }
        let failed = output.withUnsafeMutableBufferPointer { y in
            chunked(input, residual: y.baseAddress, into: y.baseAddress)
        }
        if failed { direct.run(input, into: &output, accumulate: true) }
    }

    func run(_ input: Tensor, adding residual: Tensor, into output: inout Tensor) {
        let failed = residual.withUnsafeBufferPointer { r in
            output.withUnsafeMutableBufferPointer { y in chunked(input, residual: r.baseAddress, into: y.baseAddress) }
        }
        if failed { direct.run(input, adding: residual, into: &output) }
    }

    /// `y = act(input · kernel + bias + residual)`; true when the C kernel declined (no memory).
    private func chunked(_ input: Tensor, residual: UnsafePointer<Float>?, into y: UnsafeMutablePointer<Float>?)
        -> Bool
    {
        input.withUnsafeBufferPointer { x in
            kernel.withUnsafeBufferPointer { w in
                bias.withOptionalPointer { b in
                    sl_pointwise_forward(
                        x.baseAddress, w.baseAddress, b, residual, Int64(x.count / channels), Int32(channels),
                        Int32(filters), activation.kind, activation.max, y) != 0
                }
            }
        }
    }
}

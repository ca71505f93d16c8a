import SightlineCore

/// im2col + sgemm (`ConvolutionGEMM`): the original route, the fallback, and the reference the
/// faster kernels are tested against (`SIGHTLINE_CONV=reference`).
final class ReferenceConvolution: ConvolutionKernel {
    let kernel: Tensor, bias: Tensor?, filters: Int
    let geometry: WindowGeometry
    let activation: ActivationFunction

    convenience init(_ conv: Conv2D, geometry: WindowGeometry, activation: ActivationFunction) {
        self.init(
            kernel: conv.kernel.value, bias: conv.bias?.value, filters: conv.filters, geometry: geometry,
            activation: activation)
    }

    /// An HWIO `[KH, KW, C, filters]` kernel with optional bias `[filters]`.
    init(kernel: Tensor, bias: Tensor?, filters: Int, geometry: WindowGeometry, activation: ActivationFunction) {
        self.kernel = kernel
        self.bias = bias
        self.filters = filters
        self.geometry = geometry
        self.activation = activation
    }

    var summary: String { "im2col+sgemm" }

    func run(_ input: Tensor, into output: inout Tensor, accumulate: Bool) {
        ConvolutionGEMM.forward(
            input: input, geometry: geometry, kernel: kernel, bias: bias, filters: filters, activation: activation,
            into: &output, accumulate: accumulate)
    }
}

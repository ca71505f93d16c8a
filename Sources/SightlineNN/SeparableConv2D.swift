/// A depthwise-separable convolution (Keras `SeparableConv2D`): a depthwise convolution with
/// depth multiplier M, then a 1×1 pointwise convolution, then bias and activation.
///
/// Input `[N, H, W, C]`; `depthwise_kernel` `[KH, KW, C, M]`, `pointwise_kernel`
/// `[1, 1, C·M, F]`, `bias` `[F]`; output `[N, OH, OW, F]`.
public final class SeparableConv2D: Layer {
    public let name: String
    private let depthwise: DepthwiseConv2D
    private let pointwise: Conv2D

    public init(
        name: String, depthwiseKernel: Tensor, pointwiseKernel: Tensor, bias: Tensor?, strides: (Int, Int) = (1, 1),
        padding: Padding = .valid, dilation: (Int, Int) = (1, 1), activation: ActivationFunction = .linear
    ) {
        precondition(pointwiseKernel.rank == 4 && pointwiseKernel.shape[0] == 1 && pointwiseKernel.shape[1] == 1, "SeparableConv2D '\(name)' pointwise kernel must be [1, 1, C·M, F]")
        depthwise = DepthwiseConv2D(name: name, kernel: depthwiseKernel, bias: nil, strides: strides, padding: padding, dilation: dilation)
        pointwise = Conv2D(name: name, kernel: pointwiseKernel, bias: bias, activation: activation, kernelName: "pointwise_kernel")
        self.name = name
    }

    /// The depthwise step's strides.
    public var strides: (Int, Int) { depthwise.strides }
    /// The depthwise step's dilation.
    public var dilation: (Int, Int) { depthwise.dilation }
    /// The depthwise step's padding.
    public var padding: Padding { depthwise.padding }
    /// The activation applied after the pointwise step.
    public var activation: ActivationFunction { pointwise.activation }

    /// `depthwise_kernel`, `pointwise_kernel`, then `bias`, as Keras orders them.
    public var parameters: [Parameter] { [depthwise.kernel] + pointwise.parameters }

    public func outputShape(for inputShapes: [[Int]]) throws(LayerError) -> [Int] {
        try pointwise.outputShape(for: [try depthwise.outputShape(for: inputShapes)])
    }

    /// `saved` holds the depthwise output.
    public func forward(_ inputs: [Tensor], mode: Mode) -> LayerOutput {
        let middle = depthwise.forward(inputs, mode: mode).output
        return LayerOutput(pointwise.forward([middle], mode: mode).output, saved: [middle])
    }

    public func backward(_ outputGradient: Tensor, inputs: [Tensor], forward: LayerOutput, mode: Mode, needs: GradientNeeds) -> [Tensor] {
        let middle = forward.saved[0]
        var middleNeeds = needs.subtracting(.input)
        if needs.contains(.input) || needs.wants(depthwise.kernel) { middleNeeds.insert(.input) }
        let dMiddle = pointwise.backward(outputGradient, inputs: [middle], forward: LayerOutput(forward.output), mode: mode, needs: middleNeeds)
        guard let first = dMiddle.first else { return [] }
        return depthwise.backward(first, inputs: inputs, forward: LayerOutput(middle), mode: mode, needs: needs)
    }
}

import SightlineCore

/// A depthwise-separable convolution (Keras `SeparableConv2D`): a depthwise convolution with
/// depth multiplier M, then a 1×1 pointwise convolution, then bias and activation.
///
/// Input `[N, H, W, C]`; `depthwise_kernel` `[KH, KW, C, M]`, `pointwise_kernel`
/// `[1, 1, C·M, F]`, `bias` `[F]`; output `[N, OH, OW, F]`.
public final class SeparableConv2D: EngineSettingsLayer {
    public let name: String
    /// The depthwise step (no bias, linear) and the 1×1 pointwise step (bias and activation).
    public let depthwise: DepthwiseConv2D
    public let pointwise: Conv2D

    public init(
        name: String, depthwiseKernel: Tensor, pointwiseKernel: Tensor, bias: Tensor?, strides: (Int, Int) = (1, 1),
        padding: Padding = .valid, dilation: (Int, Int) = (1, 1), activation: ActivationFunction = .linear
    ) {
        precondition(
            pointwiseKernel.rank == 4 && pointwiseKernel.shape[0] == 1 && pointwiseKernel.shape[1] == 1,
            "SeparableConv2D '\(name)' pointwise kernel must be [1, 1, C·M, F]")
        depthwise = DepthwiseConv2D(
            name: name, kernel: depthwiseKernel, bias: nil, strides: strides, padding: padding, dilation: dilation)
        pointwise = Conv2D(
            name: name, kernel: pointwiseKernel, bias: bias, activation: activation, kernelName: "pointwise_kernel")
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

    /// `saved` holds the depthwise output, then what the pointwise step saved.
    public func forward(_ inputs: [Tensor], mode: Mode, options: EngineOptions) -> LayerOutput {
        let middle = depthwise.forward(inputs, mode: mode, options: options).output
        let result = pointwise.forward([middle], mode: mode, options: options)
        return LayerOutput(result.output, saved: [middle] + result.saved)
    }

    public func backward(
        _ outputGradient: Tensor, inputs: [Tensor], forward: LayerOutput, mode: Mode, needs: GradientNeeds,
        options: EngineOptions
    ) -> [Tensor] {
        let middle = forward.saved[0]
        var middleNeeds = needs.subtracting(.input)
        if needs.contains(.input) || needs.wants(depthwise.kernel) { middleNeeds.insert(.input) }
        let dMiddle = pointwise.backward(
            outputGradient, inputs: [middle],
            forward: LayerOutput(forward.output, saved: Array(forward.saved.dropFirst())), mode: mode,
            needs: middleNeeds, options: options)
        guard let first = dMiddle.first else { return [] }
        return depthwise.backward(
            first, inputs: inputs, forward: LayerOutput(middle), mode: mode, needs: needs, options: options)
    }
}

extension SeparableConv2D: KerasLayer {
    public static let kerasClassNames = ["SeparableConv2D", "SeparableConvolution2D"]

    public static func make(_ config: KerasConfig, inputShapes: [[Int]]) throws(LayerError) -> any Layer {
        try config.requireChannelsLast()
        let (kh, kw) = try config.pair("kernel_size", (1, 1))
        let c = try config.channels(inputShapes)
        let m = try config.int("depth_multiplier", 1, in: 1...Int.max)
        let f = try config.int("filters", 0, in: 1...Int.max)
        return SeparableConv2D(
            name: config.name, depthwiseKernel: Tensor(zeros: try config.checkWeight([kh, kw, c, m])),
            pointwiseKernel: Tensor(zeros: try config.checkWeight([1, 1, c * m, f])),
            bias: try config.bool("use_bias", true) ? Tensor(zeros: [f]) : nil,
            strides: try config.pair("strides", (1, 1)), padding: try config.padding(),
            dilation: try config.pair("dilation_rate", (1, 1)),
            activation: try config.activation())
    }

    public func kerasConfig() throws(LayerError) -> [String: Any] {
        let depthwise = parameters[0].value.shape
        let pointwise = parameters[1].value.shape
        return [
            "filters": pointwise[3], "kernel_size": [depthwise[0], depthwise[1]], "strides": [strides.0, strides.1],
            "padding": try kerasPadding(padding), "depth_multiplier": depthwise[3], "data_format": "channels_last",
            "dilation_rate": [dilation.0, dilation.1], "activation": try kerasActivationName(activation),
            "use_bias": parameters.count == 3,
        ]
    }

    public func flops(inputShapes: [[Int]], outputShape: [Int]) -> Int {
        let depthwise = parameters[0].value.shape
        let pointwise = parameters[1].value.shape
        let spatial = outputShape.dropLast().reduce(1, *)
        return 2 * spatial * (depthwise[0] * depthwise[1] * depthwise[2] * depthwise[3] + pointwise[2] * pointwise[3])
    }

    public var receptiveWindow: ReceptiveWindow {
        let depthwise = parameters[0].value.shape
        return .window(kernel: (depthwise[0], depthwise[1]), stride: strides, dilation: dilation)
    }
}

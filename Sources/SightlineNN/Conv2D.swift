import SightlineCore

/// A 2-D convolution over NHWC input (Keras `Conv2D`, channels-last).
///
/// - Input `[N, H, W, C]`, kernel HWIO `[KH, KW, C, F]`, bias `[F]`, output `[N, OH, OW, F]`
///   with `OH`, `OW` as in `WindowGeometry` (`valid`, `same` or explicit padding; strides;
///   dilation).
/// - The activation is fused into the GEMM epilogue; its derivative is taken from the output,
///   or from the pre-activation kept in `saved` for activations that `needsInput`.
public final class Conv2D: EngineSettingsLayer {
    public let name: String
    /// `[KH, KW, C, F]`.
    public let kernel: Parameter
    /// `[F]`, or nil for `use_bias=False`.
    public let bias: Parameter?
    public let strides: (Int, Int)
    public let padding: Padding
    public let dilation: (Int, Int)
    public let activation: ActivationFunction
    let kernels = ConvolutionKernelCache()
    /// oneDNN's backward primitives for this layer's geometry; shared with the folded copies a
    /// training pass makes of it (they do not depend on the weights).
    var backwardKernels = OneDNNConvolutionBackward()

    /// A convolution with explicit weights (what loaders and reference tests use). `kernelName`
    /// is the kernel's Keras weight name (`pointwise_kernel` inside a separable convolution).
    public init(
        name: String, kernel: Tensor, bias: Tensor?, strides: (Int, Int) = (1, 1), padding: Padding = .valid,
        dilation: (Int, Int) = (1, 1), activation: ActivationFunction = .linear, kernelName: String = "kernel"
    ) {
        precondition(kernel.rank == 4, "Conv2D '\(name)' needs an HWIO kernel of rank 4, got \(kernel.shape)")
        precondition(
            bias == nil || bias?.shape == [kernel.shape[3]], "Conv2D '\(name)' bias must be [\(kernel.shape[3])]")
        self.name = name
        self.kernel = Parameter(name: kernelName, value: kernel)
        self.bias = bias.map { Parameter(name: "bias", value: $0) }
        self.strides = strides
        self.padding = padding
        self.dilation = dilation
        self.activation = activation
    }

    /// A convolution with Glorot-uniform kernel and zero bias (Keras's defaults).
    public convenience init(
        name: String, inputChannels: Int, filters: Int, kernelSize: (Int, Int), strides: (Int, Int) = (1, 1),
        padding: Padding = .valid, dilation: (Int, Int) = (1, 1), useBias: Bool = true,
        activation: ActivationFunction = .linear, initializer: Initializer = .glorotUniform,
        generator: inout SeededGenerator
    ) {
        let shape = [kernelSize.0, kernelSize.1, inputChannels, filters]
        self.init(
            name: name, kernel: initializer.tensor(shape: shape, generator: &generator),
            bias: useBias ? Tensor(zeros: [filters]) : nil, strides: strides, padding: padding, dilation: dilation,
            activation: activation)
    }

    public var parameters: [Parameter] { bias.map { [kernel, $0] } ?? [kernel] }
    /// The number of output channels `F`.
    public var filters: Int { kernel.value.shape[3] }

    /// The window geometry for an input of `height × width`.
    public func geometry(height: Int, width: Int) -> WindowGeometry {
        WindowGeometry(
            inputHeight: height, inputWidth: width, kernel: (kernel.value.shape[0], kernel.value.shape[1]),
            strides: strides, dilation: dilation, padding: padding)
    }

    public func outputShape(for inputShapes: [[Int]]) throws(LayerError) -> [Int] {
        let shape = try singleInputShape(inputShapes, rank: 3)
        guard shape[2] == kernel.value.shape[2] else {
            throw LayerError(
                layer: name,
                "kernel \(kernel.value.shape) expects \(kernel.value.shape[2]) input channels, input has \(shape[2])")
        }
        let g = geometry(height: shape[0], width: shape[1])
        guard g.outputHeight > 0, g.outputWidth > 0 else {
            throw LayerError(layer: name, "input \(shape[0])×\(shape[1]) is smaller than the kernel window")
        }
        return [g.outputHeight, g.outputWidth, filters]
    }

    /// Forward through the kernel `ConvolutionKernels.make` picks for this layer, input and
    /// the calling graph's `options`.
    public func forward(_ inputs: [Tensor], mode: Mode, options: EngineOptions) -> LayerOutput {
        forward(inputs[0], adding: nil, options: options)
    }

    /// Forward with `residual` (the output's shape `[N, OH, OW, F]`, a ResNet shortcut) added
    /// before the activation. When the caller keeps the residual (`residualKept`: backward still
    /// reads it), the kernel reads it from its own storage and writes a new tensor; else it
    /// writes into the residual's storage (the caller gives up its reference, so no copy).
    func forward(
        _ x: Tensor, adding residual: consuming Tensor?, residualKept: Bool = false, options: EngineOptions
    ) -> LayerOutput {
        let g = geometry(height: x.shape[1], width: x.shape[2])
        let (convolution, remaining) = kernels.forward(
            self, input: Array(x.shape.dropFirst()), batch: x.shape[0], options: options)
        let fresh = { Tensor(shape: [x.shape[0], g.outputHeight, g.outputWidth, self.filters]) { _ in } }
        var y: Tensor
        if residualKept, let kept = residual {
            y = fresh()
            convolution.run(x, adding: kept, into: &y)
        } else {
            let accumulate = residual != nil
            y = residual.take() ?? fresh()
            convolution.run(x, into: &y, accumulate: accumulate)
        }
        let saved = remaining.fusedForward(&y)
        return LayerOutput(y, saved: saved)
    }

    public func backward(
        _ outputGradient: Tensor, inputs: [Tensor], forward: LayerOutput, mode: Mode, needs: GradientNeeds,
        options: EngineOptions
    ) -> [Tensor] {
        backward(consuming: outputGradient, forward: forward, input: inputs[0], needs: needs, options: options)
    }

    /// Frees the forward kernels prepared for the current weights (see `ConvolutionKernelCache`).
    func dropForwardKernels() { kernels.dropForwardKernels() }
}

extension Optional where Wrapped == Tensor {
    /// Calls `body` with a pointer to the tensor's elements, or nil when there is none.
    func withOptionalPointer<R>(_ body: (UnsafePointer<Float>?) -> R) -> R {
        guard let tensor = self else { return body(nil) }
        return tensor.withUnsafeBufferPointer { body($0.baseAddress) }
    }

    /// Calls `body` with a pointer into the tensor's storage, or nil when there is none.
    mutating func withOptionalMutablePointer<R>(_ body: (UnsafeMutablePointer<Float>?) -> R) -> R {
        guard case .some(var tensor) = self else { return body(nil) }
        self = nil  // keep the storage uniquely referenced while it is written
        defer { self = tensor }
        return tensor.withUnsafeMutableBufferPointer { body($0.baseAddress) }
    }
}

extension Optional where Wrapped == [Float] {
    /// Calls `body` with a pointer to the array's elements, or nil when there is none.
    func withOptionalPointer<R>(_ body: (UnsafePointer<Float>?) -> R) -> R {
        guard let array = self else { return body(nil) }
        return array.withUnsafeBufferPointer { body($0.baseAddress) }
    }
}

extension Conv2D: KerasLayer {
    public static let kerasClassNames = ["Conv2D", "Convolution2D"]

    public static func make(_ config: KerasConfig, inputShapes: [[Int]]) throws(LayerError) -> any Layer {
        try config.requireChannelsLast()
        let (kh, kw) = try config.pair("kernel_size", (1, 1))
        let filters = try config.int("filters", 0, in: 1...Int.max)
        let dilation = try config.pair("dilation_rate", (1, 1))
        let strides = try config.pair("strides", (1, 1))
        guard strides == (1, 1) || dilation == (1, 1) else {
            throw config.error(
                "strides above 1 with dilation above 1 is not allowed (Keras refuses it too)", field: "strides")
        }
        let groups = try config.int("groups", 1, in: 1...Int.max)
        let channels = try config.channels(inputShapes)
        if groups > 1 {
            guard channels % groups == 0, filters % groups == 0 else {
                throw config.error(
                    "\(groups) groups must divide the \(channels) input channels and the \(filters) filters",
                    field: "groups")
            }
            // Several channels per group (RegNet): one convolution per group.
            guard groups == channels else {
                return GroupedConv2D(
                    name: config.name,
                    kernel: Tensor(zeros: try config.checkWeight([kh, kw, channels / groups, filters])),
                    bias: try config.bool("use_bias", true) ? Tensor(zeros: [filters]) : nil, groups: groups,
                    strides: strides,
                    padding: try config.padding(), dilation: dilation, activation: try config.activation())
            }
            // One group per input channel is a depthwise convolution (ConvNeXt).
            return DepthwiseConv2D(
                name: config.name, kernel: Tensor(zeros: try config.checkWeight([kh, kw, channels, filters / groups])),
                bias: try config.bool("use_bias", true) ? Tensor(zeros: [filters]) : nil, strides: strides,
                padding: try config.padding(),
                dilation: dilation, activation: try config.activation(), grouped: true)
        }
        return Conv2D(
            name: config.name,
            kernel: Tensor(zeros: try config.checkWeight([kh, kw, try config.channels(inputShapes), filters])),
            bias: try config.bool("use_bias", true) ? Tensor(zeros: [filters]) : nil, strides: strides,
            padding: try config.padding(),
            dilation: dilation, activation: try config.activation())
    }

    public func kerasConfig() throws(LayerError) -> [String: Any] {
        try convolutionConfig(
            kernel: kernel.value.shape, strides: strides, padding: padding, dilation: dilation, groups: 1,
            activation: activation, useBias: bias != nil)
    }

    public func flops(inputShapes: [[Int]], outputShape: [Int]) -> Int {
        Self.convolutionFlops(kernel: kernel.value.shape, outputShape: outputShape, hasBias: bias != nil)
    }

    public var receptiveWindow: ReceptiveWindow {
        .window(kernel: (kernel.value.shape[0], kernel.value.shape[1]), stride: strides, dilation: dilation)
    }

    /// Multiply-adds of a convolution with HWIO `kernel` (axis 2: input channels per group) that
    /// produces `outputShape`, plus the bias additions.
    static func convolutionFlops(kernel k: [Int], outputShape: [Int], hasBias: Bool) -> Int {
        let count = outputShape.reduce(1, *)
        return 2 * (count / max(k[3], 1)) * k[0] * k[1] * k[2] * k[3] + (hasBias ? count : 0)
    }

    public var absorbsFollowingActivation: Bool { activation == .linear }
}

extension KerasLayer {
    /// Keras's `Conv2D` config for an HWIO `kernel` (shared by `Conv2D` and `GroupedConv2D`).
    func convolutionConfig(
        kernel k: [Int], strides: (Int, Int), padding: Padding, dilation: (Int, Int), groups: Int,
        activation: ActivationFunction, useBias: Bool
    ) throws(LayerError) -> [String: Any] {
        [
            "filters": k[3], "kernel_size": [k[0], k[1]], "strides": [strides.0, strides.1],
            "padding": try kerasPadding(padding),
            "data_format": "channels_last", "dilation_rate": [dilation.0, dilation.1], "groups": groups,
            "activation": try kerasActivationName(activation), "use_bias": useBias,
        ]
    }
}

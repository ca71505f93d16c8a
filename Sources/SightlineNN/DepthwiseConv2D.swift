internal import CKernels
import SightlineCore

/// A depthwise 2-D convolution over NHWC input (Keras `DepthwiseConv2D`).
///
/// Input `[N, H, W, C]`, kernel `[KH, KW, C, M]` (M = depth multiplier), bias `[C·M]`, output
/// `[N, OH, OW, C·M]` where output channel `c·M + m` is input channel `c` filtered by `[:, :, c, m]`.
/// Direct loops: each output pixel gathers its window once, vectorised over channels.
///
/// A Keras `Conv2D` with `groups` equal to its input channels (ConvNeXt's 7×7 convolutions) is
/// the same operation: `grouped` layers keep that file's kernel `[KH, KW, 1, C·M]` named
/// `kernel` (the same values in the same order) and are written back as such a `Conv2D`.
public final class DepthwiseConv2D: EngineSettingsLayer {
    public let name: String
    /// `[KH, KW, C, M]` (Keras name `depthwise_kernel`), or `[KH, KW, 1, C·M]` named `kernel`
    /// when `grouped`.
    public let kernel: Parameter
    /// True when imported from a grouped `Conv2D`.
    public let grouped: Bool
    let channels: Int
    let multiplier: Int
    public let bias: Parameter?
    public let strides: (Int, Int)
    public let padding: Padding
    public let dilation: (Int, Int)
    public let activation: ActivationFunction
    /// oneDNN's forward primitives for this layer's weights.
    private let onednn = OneDNNDepthwiseConvolution()
    /// oneDNN's backward primitives for this layer's geometry; shared with the folded copies a
    /// training pass makes of it (they do not depend on the weights).
    var backwardKernels = OneDNNConvolutionBackward()

    public init(
        name: String, kernel: Tensor, bias: Tensor?, strides: (Int, Int) = (1, 1), padding: Padding = .valid,
        dilation: (Int, Int) = (1, 1), activation: ActivationFunction = .linear, grouped: Bool = false
    ) {
        precondition(kernel.rank == 4, "DepthwiseConv2D '\(name)' needs a kernel [KH, KW, C, M], got \(kernel.shape)")
        precondition(
            bias == nil || bias?.count == kernel.shape[2] * kernel.shape[3],
            "DepthwiseConv2D '\(name)' bias must be [C·M]")
        self.name = name
        (channels, multiplier, self.grouped) = (kernel.shape[2], kernel.shape[3], grouped)
        self.kernel = Parameter(
            name: grouped ? "kernel" : "depthwise_kernel",
            value: grouped ? kernel.reshaped([kernel.shape[0], kernel.shape[1], 1, channels * multiplier]) : kernel)
        self.bias = bias.map { Parameter(name: "bias", value: $0) }
        self.strides = strides
        self.padding = padding
        self.dilation = dilation
        self.activation = activation
    }

    public var parameters: [Parameter] { bias.map { [kernel, $0] } ?? [kernel] }

    func geometry(height: Int, width: Int) -> WindowGeometry {
        WindowGeometry(
            inputHeight: height, inputWidth: width, kernel: (kernel.value.shape[0], kernel.value.shape[1]),
            strides: strides, dilation: dilation, padding: padding)
    }

    public func outputShape(for inputShapes: [[Int]]) throws(LayerError) -> [Int] {
        let shape = try singleInputShape(inputShapes, rank: 3)
        guard shape[2] == channels else {
            throw LayerError(
                layer: name, "kernel \(kernel.value.shape) expects \(channels) channels, input has \(shape[2])")
        }
        let g = geometry(height: shape[0], width: shape[1])
        guard g.outputHeight > 0, g.outputWidth > 0 else {
            throw LayerError(layer: name, "input \(shape[0])×\(shape[1]) is smaller than the kernel window")
        }
        return [g.outputHeight, g.outputWidth, channels * multiplier]
    }

    /// Calls `body(outputOffset, inputOffset, kernelOffset)` for every in-image tap of every
    /// output pixel in output rows `range` (of `N·OH`); offsets are pixel bases (× channels).
    private func forEachTap(_ g: WindowGeometry, rows range: Range<Int>, _ body: (Int, Int, Int) -> Void) {
        let c = channels
        let cm = channels * multiplier
        for row in range {
            let image = row / g.outputHeight
            let oy = row % g.outputHeight
            for ox in 0..<g.outputWidth {
                let o = ((image * g.outputHeight + oy) * g.outputWidth + ox) * cm
                for ky in 0..<g.kernelHeight {
                    let iy = oy * g.strideY - g.padTop + ky * g.dilationY
                    guard iy >= 0 && iy < g.inputHeight else { continue }
                    for kx in 0..<g.kernelWidth {
                        let ix = ox * g.strideX - g.padLeft + kx * g.dilationX
                        guard ix >= 0 && ix < g.inputWidth else { continue }
                        body(o, ((image * g.inputHeight + iy) * g.inputWidth + ix) * c, (ky * g.kernelWidth + kx) * cm)
                    }
                }
            }
        }
    }

    /// Forward through oneDNN's depthwise kernel on the `auto` route (the activation fused
    /// when it is a ReLU or ReLU6), else through the loops below.
    public func forward(_ inputs: [Tensor], mode: Mode, options: EngineOptions) -> LayerOutput {
        let x = inputs[0]
        if Self.usesOneDNN(options), !activation.needsInput {
            let fused = FusedActivation(activation)
            if var y = onednn.run(self, input: x, activation: fused ?? .none) {
                if fused == nil { activation.apply(inPlace: &y) }
                return LayerOutput(y)
            }
        }
        return loopForward(x)
    }

    /// True when `options` send this layer to oneDNN: on the `auto` route under every precision,
    /// since depthwise layers compute in float32 under each.
    static func usesOneDNN(_ options: EngineOptions) -> Bool {
        options.convolution == .auto
    }

    /// The forward pass as direct loops, vectorised over channels.
    private func loopForward(_ x: Tensor) -> LayerOutput {
        let n = x.shape[0]
        let m = multiplier
        let c = channels
        let g = geometry(height: x.shape[1], width: x.shape[2])
        var y = Tensor(zeros: [n, g.outputHeight, g.outputWidth, c * m])
        let epilogue: ActivationFunction = activation.needsInput ? .linear : activation
        y.withUnsafeMutableBufferPointer { out in
            x.withUnsafeBufferPointer { p in
                kernel.value.withUnsafeBufferPointer { w in
                    Parallel.forEachChunk(
                        n * g.outputHeight, costPerItem: g.outputWidth * c * m * g.kernelHeight * g.kernelWidth
                    ) { rows in
                        forEachTap(g, rows: rows) { o, i, k in
                            for ch in 0..<c { for j in 0..<m { out[o + ch * m + j] += p[i + ch] * w[k + ch * m + j] } }
                        }
                        let start = rows.lowerBound * g.outputWidth * c * m
                        ConvolutionGEMM.applyEpilogue(
                            out.baseAddress! + start, rows: rows.count * g.outputWidth, filters: c * m,
                            bias: bias?.value, activation: epilogue)
                    }
                }
            }
        }
        let saved = activation.needsInput ? activation.fusedForward(&y) : []
        return LayerOutput(y, saved: saved)
    }

    /// Backward through oneDNN's backward-data and backward-weights primitives on the `auto`
    /// route (float32 under every precision), else (or where oneDNN declines) through the loops.
    public func backward(
        _ outputGradient: Tensor, inputs: [Tensor], forward: LayerOutput, mode: Mode, needs: GradientNeeds,
        options: EngineOptions
    ) -> [Tensor] {
        backward(
            outputGradient: outputGradient, forward: forward, input: inputs[0], inputActivation: nil, needs: needs,
            options: options)
    }

    /// Backward from ∂L/∂(this layer's output) `gradient` `[N, OH, OW, C·multiplier]` of input `x`
    /// `[N, H, W, C]`: adds the kernel and bias gradients as `needs` asks and returns `[∂L/∂x]` when
    /// it asks for the input's. With `inputActivation` (the training plan's
    /// `appliesReaderDerivative`: the activation whose output `x` is), ∂L/∂x is multiplied by its
    /// derivative, so the layer before starts its backward from its pre-activation gradient.
    ///
    /// On the `auto` route, with depth multiplier 1, one sweep (`sl_depthwise_backward`) replaces
    /// oneDNN's backward-data and backward-weights primitives, applying a ReLU-like derivative of
    /// this layer's (any other is applied in a pass before) and of `inputActivation` on the way.
    /// `bench/depthwise_backward.c`, 2-core Zen 4 VM, batch 16, best of 8, ms, sweep against the
    /// passes it replaces. ReLU6 on both sides (four passes): MobileNetV2's 112×112 C32 7.1 / 9.7,
    /// 112×112 C96 stride 2 11.6 / 20.1, 56×56 C144 9.5 / 16.4, stride 2 4.8 / 7.2, 28×28 C192 3.1 /
    /// 4.5, 14×14 C576 2.0 / 2.4, 7×7 C960 0.7 / 0.7. Without derivatives (the two primitives):
    /// 112×112 C32 9.4 / 9.4, 56×56 C144 13.9 / 18.7, EfficientNet's 5×5 layers 28×28 C240 12.3 /
    /// 21.6, 14×14 C672 7.7 / 16.9, 7×7 C1152 3.2 / 9.5; ConvNeXt's 7×7 on 56×56 C128 33.9 / 81.7.
    func backward(
        outputGradient gradient: Tensor, forward: LayerOutput, input x: Tensor, inputActivation: ActivationFunction?,
        needs: GradientNeeds, options: EngineOptions
    ) -> [Tensor] {
        // The sweep applies a ReLU-like derivative itself; any other (swish, …) is applied first.
        let own = activation.clipBounds
        let applied = own != nil || activation == .linear
        let dy = applied ? gradient : activation.gradient(gradient, output: forward.output, input: forward.saved.first)
        if let result = sweepBackward(
            dy, output: forward.output, clip: own, input: x, inputActivation: inputActivation, needs: needs,
            options: options)
        {
            return result
        }
        let dz = own == nil ? dy : activation.gradient(dy, output: forward.output, input: forward.saved.first)
        var result = backward(preActivation: dz, input: x, needs: needs, options: options)
        if let inputActivation, !result.isEmpty { result[0] = inputActivation.gradient(result[0], output: x) }
        return result
    }

    /// `backward(outputGradient:…)` in one sweep from `gradient`, multiplied by the derivative of a
    /// ReLU-like clip of the output `output` when `clip` gives its bounds; nil where the sweep does
    /// not apply (another route, a depth multiplier above 1, an input activation that is not a
    /// ReLU-like clip) or its scratch memory could not be allocated.
    private func sweepBackward(
        _ gradient: Tensor, output: Tensor, clip own: (low: Float, high: Float)?, input x: Tensor,
        inputActivation: ActivationFunction?, needs: GradientNeeds, options: EngineOptions
    ) -> [Tensor]? {
        let before = inputActivation?.clipBounds
        guard Self.usesOneDNN(options), multiplier == 1, before != nil || inputActivation == nil,
            gradient.shape.count == 4
        else { return nil }
        let g = geometry(height: x.shape[1], width: x.shape[2])
        let (wantsKernel, wantsBias) = (needs.wants(kernel), needs.wants(bias))
        var dw = Tensor(zeros: wantsKernel ? kernel.value.shape : [0])
        var db = Tensor(zeros: wantsBias ? [channels] : [0])
        var failed: Int32 = 0
        /// Runs the sweep with `dx` (nil when the input's gradient is not wanted).
        func sweep(_ dx: UnsafeMutablePointer<Float>?) {
            x.withUnsafeBufferPointer { input in
                kernel.value.withUnsafeBufferPointer { k in
                    gradient.withUnsafeBufferPointer { dy in
                        output.withUnsafeBufferPointer { y in
                            dw.withUnsafeMutableBufferPointer { dk in
                                db.withUnsafeMutableBufferPointer { dBias in
                                    var args = sl_depthwise_backward_args(
                                        N: Int32(x.shape[0]), H: Int32(g.inputHeight), W: Int32(g.inputWidth),
                                        C: Int32(channels), KH: Int32(g.kernelHeight), KW: Int32(g.kernelWidth),
                                        stride_y: Int32(g.strideY), stride_x: Int32(g.strideX),
                                        dilation_y: Int32(g.dilationY), dilation_x: Int32(g.dilationX),
                                        pad_top: Int32(g.padTop), pad_left: Int32(g.padLeft),
                                        OH: Int32(g.outputHeight), OW: Int32(g.outputWidth), input: input.baseAddress,
                                        kernel: k.baseAddress, diff_dst: dy.baseAddress,
                                        output: own == nil ? nil : y.baseAddress, output_low: own?.low ?? 0,
                                        output_high: own?.high ?? 0, input_derivative: before == nil ? 0 : 1,
                                        input_low: before?.low ?? 0, input_high: before?.high ?? 0, diff_src: dx,
                                        diff_kernel: wantsKernel ? dk.baseAddress : nil,
                                        diff_bias: wantsBias ? dBias.baseAddress : nil,
                                        slices: Int32(clamping: Parallel.threadCount))
                                    failed = sl_depthwise_backward(&args)
                                }
                            }
                        }
                    }
                }
            }
        }
        var dx: Tensor?
        if needs.contains(.input) {
            dx = Tensor(shape: x.shape, unsafeUninitialized: { sweep($0.baseAddress) })  // all written, or failed
        } else {
            sweep(nil)
        }
        guard failed == 0 else { return nil }
        if wantsKernel { kernel.accumulateGradient(dw) }
        if let bias, wantsBias { bias.accumulateGradient(db) }
        return dx.map { [$0] } ?? []
    }

    /// Backward from ∂L/∂(pre-activation output) `dz` `[N, OH, OW, C·multiplier]` of input `x`
    /// `[N, H, W, C]`: adds the kernel and bias gradients as `needs` asks and returns `[∂L/∂x]`
    /// when it asks for the input's. (The training tape applies the activation's derivative in
    /// the gradient's own storage and calls this, sparing a copy of the gradient.)
    func backward(preActivation dz: Tensor, input x: Tensor, needs: GradientNeeds, options: EngineOptions) -> [Tensor] {
        guard Self.usesOneDNN(options) else { return loopBackward(dz, input: x, needs: needs) }
        let g = geometry(height: x.shape[1], width: x.shape[2])
        let shape = OneDNNConvolutionBackward.Shape(
            geometry: g, channels: channels, filters: channels * multiplier, groups: channels)
        var dx: Tensor?
        if needs.contains(.input) {
            guard
                let computed = backwardKernels.inputGradient(shape, kernel: kernel.value, input: x.shape, gradient: dz)
            else { return loopBackward(dz, input: x, needs: needs) }
            dx = computed
        }
        if needs.wants(kernel) || needs.wants(bias) {
            guard
                let (dw, db) = backwardKernels.weightGradients(
                    shape, kernelShape: kernel.value.shape, input: x, gradient: dz)
            else { return loopBackward(dz, input: x, needs: needs.subtracting(.input)) + (dx.map { [$0] } ?? []) }
            if needs.wants(kernel) { kernel.accumulateGradient(dw) }
            if let bias, needs.wants(bias) { bias.accumulateGradient(db) }
        }
        return dx.map { [$0] } ?? []
    }

    /// Backward from the pre-activation gradient `dz` as direct loops.
    private func loopBackward(_ dz: Tensor, input x: Tensor, needs: GradientNeeds) -> [Tensor] {
        let n = x.shape[0]
        let m = multiplier
        let c = channels
        let g = geometry(height: x.shape[1], width: x.shape[2])
        if let bias, needs.wants(bias) { bias.accumulateGradient(ConvolutionGEMM.biasGradient(dz, filters: c * m)) }
        var dw = Tensor(zeros: kernel.value.shape)
        var dx = Tensor(zeros: needs.contains(.input) ? x.shape : [0])
        let wantsKernel = needs.wants(kernel)
        dw.withUnsafeMutableBufferPointer { dk in
            dx.withUnsafeMutableBufferPointer { di in
                x.withUnsafeBufferPointer { p in
                    kernel.value.withUnsafeBufferPointer { w in
                        dz.withUnsafeBufferPointer { dy in
                            forEachTap(g, rows: 0..<(n * g.outputHeight)) { o, i, k in
                                for ch in 0..<c {
                                    for j in 0..<m {
                                        let grad = dy[o + ch * m + j]
                                        if wantsKernel { dk[k + ch * m + j] += grad * p[i + ch] }
                                        if needs.contains(.input) { di[i + ch] += grad * w[k + ch * m + j] }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        if wantsKernel { kernel.accumulateGradient(dw) }
        return needs.contains(.input) ? [dx] : []
    }
}

extension DepthwiseConv2D: KerasLayer {
    public static let kerasClassNames = ["DepthwiseConv2D"]

    public var kerasClassName: String { grouped ? "Conv2D" : "DepthwiseConv2D" }

    public var absorbsFollowingActivation: Bool { activation == .linear }

    public static func make(_ config: KerasConfig, inputShapes: [[Int]]) throws(LayerError) -> any Layer {
        try config.requireChannelsLast()
        let (kh, kw) = try config.pair("kernel_size", (1, 1))
        let c = try config.channels(inputShapes)
        let m = try config.int("depth_multiplier", 1, in: 1...Int.max)
        let dilation = try config.pair("dilation_rate", (1, 1))
        let strides = try config.pair("strides", (1, 1))
        return DepthwiseConv2D(
            name: config.name, kernel: Tensor(zeros: try config.checkWeight([kh, kw, c, m])),
            bias: try config.bool("use_bias", true) ? Tensor(zeros: [c * m]) : nil, strides: strides,
            padding: try config.padding(),
            dilation: dilation, activation: try config.activation())
    }

    public func kerasConfig() throws(LayerError) -> [String: Any] {
        let k = kernel.value.shape
        if grouped {
            return [
                "filters": channels * multiplier, "kernel_size": [k[0], k[1]], "strides": [strides.0, strides.1],
                "padding": try kerasPadding(padding),
                "data_format": "channels_last", "dilation_rate": [dilation.0, dilation.1], "groups": channels,
                "activation": try kerasActivationName(activation), "use_bias": bias != nil,
            ]
        }
        return [
            "kernel_size": [k[0], k[1]], "strides": [strides.0, strides.1], "padding": try kerasPadding(padding),
            "depth_multiplier": multiplier, "data_format": "channels_last", "dilation_rate": [dilation.0, dilation.1],
            "activation": try kerasActivationName(activation), "use_bias": bias != nil,
        ]
    }

    public func flops(inputShapes: [[Int]], outputShape: [Int]) -> Int {
        let k = kernel.value.shape
        return 2 * outputShape.reduce(1, *) * k[0] * k[1]
    }

    public var receptiveWindow: ReceptiveWindow {
        .window(kernel: (kernel.value.shape[0], kernel.value.shape[1]), stride: strides, dilation: dilation)
    }
}

import Dispatch
import SightlineCore

/// The inference-time form of a `Graph`: the same computation with fewer passes over memory.
///
/// Rewrites, applied only where the intermediate result is not a requested output and has no
/// other reader:
/// - `ZeroPadding2D → Conv2D` (or `DepthwiseConv2D`) becomes one convolution with explicit
///   padding (no padded copy).
/// - `ZeroPadding2D → MaxPooling2D` becomes one pooling with explicit padding when the padded
///   input comes out of a ReLU (ResNet's `pool1_pad`): on values ≥ 0 a window's maximum over
///   its in-image taps equals the maximum with the zeros, as long as every window keeps a tap
///   in the image.
/// - `Conv2D → BatchNormalization` becomes one convolution with the statistics folded in:
///   `kernel' = kernel · γ/σ` per output channel, `bias' = (bias − mean) · γ/σ + β`.
/// - A convolution whose only reader is a two-input `Add` whose other operand is already
///   computed writes the sum itself (the ResNet shortcut is the convolution's output buffer on
///   entry, added by the kernel's epilogue), so the `Add` disappears.
/// - A linear-activation layer (`Conv2D`, `Dense`, folded convolutions, `Add`…) followed by an
///   `Activation` applies the activation in place in the same step (in the kernel's epilogue
///   for convolutions).
/// Each convolution gets a kernel chosen per layer (`ConvolutionKernels.make`), prepared once
/// here. Every activation is released as soon as its last reader has run.
struct InferencePlan {
    struct Step {
        /// The name of the node whose output this step produces.
        let name: String
        let layer: any Layer
        let inputs: [String]
        /// An activation applied to the layer's output.
        var activation: ActivationFunction
        /// For a convolution fused with an `Add`: the other operand, added by the kernel.
        var residual: String?
        /// For convolutions: the prepared kernel and the activation it could not fuse.
        var kernel: (any ConvolutionKernel)?
        var remaining: ActivationFunction = .linear

        /// Every node name this step reads.
        var reads: [String] { inputs + (residual.map { [$0] } ?? []) }

        /// The layer type and, for convolutions, the kernel and fusions (for profiles).
        var kind: String {
            var text = "\(type(of: layer))"
            if let kernel { text += " [\(kernel.summary)]" }
            if residual != nil { text += "+add" }
            if activation != .linear { text += "+activation" }
            return text
        }
    }

    let steps: [Step]
    let inputNames: [String]
    let outputs: [String]
    /// The settings the plan's kernels were chosen with; `run` sizes the thread team by them.
    let options: EngineOptions

    init(graph: Graph, outputs: [String], options: EngineOptions = EngineOptions()) {
        self.options = options
        options.applyThreads()  // preparing kernels runs parallel loops too
        var readers: [String: [String]] = [:]
        for node in graph.nodes { for input in node.inputs { readers[input, default: []].append(node.name) } }
        let pinned = Set(outputs)
        /// The sole reader of `name`, when `name` may be fused into it.
        func soleReader(_ name: String) -> Graph.Node? {
            guard !pinned.contains(name), let list = readers[name], list.count == 1 else { return nil }
            return graph.node(named: list[0])
        }
        var steps: [Step] = []
        var absorbed: Set<String> = []
        var produced = Set(graph.inputNames)
        /// Convolutions and poolings that take over the zero padding before them: the layer with
        /// the padding, and the padding's input.
        var padded: [String: (layer: any Layer, input: String)] = [:]
        /// True when the step producing `name` ends in a plain ReLU (its outputs are ≥ 0).
        func nonNegative(_ name: String) -> Bool {
            guard let step = steps.last(where: { $0.name == name }) else { return false }
            let activation =
                (step.layer as? Conv2D).map { $0.activation == .linear ? step.activation : $0.activation }
                ?? step.activation
            if case .relu(_, let slope) = activation { return slope == 0 }
            return false
        }
        for node in graph.nodes {
            guard let layer = node.layer, !absorbed.contains(node.name) else { continue }
            if let pad = layer as? ZeroPadding2D, let next = soleReader(node.name), let conv = next.layer as? Conv2D,
                let merged = Self.absorbing(pad, into: conv)
            {
                padded[next.name] = (merged, node.inputs[0])
                continue
            }
            if let pad = layer as? ZeroPadding2D, let next = soleReader(node.name),
                let conv = next.layer as? DepthwiseConv2D, let merged = Self.absorbing(pad, into: conv)
            {
                padded[next.name] = (merged, node.inputs[0])
                continue
            }
            if let pad = layer as? ZeroPadding2D, let next = soleReader(node.name), let pool = next.layer as? Pooling2D,
                nonNegative(node.inputs[0]), let merged = Self.absorbing(pad, into: pool)
            {
                padded[next.name] = (merged, node.inputs[0])
                continue
            }
            var step = Step(name: node.name, layer: layer, inputs: node.inputs, activation: .linear)
            if let (replacement, input) = padded[node.name] {
                step = Step(name: node.name, layer: replacement, inputs: [input], activation: .linear)
            }
            if let conv = step.layer as? Conv2D, conv.activation == .linear,
                let next = soleReader(node.name), let bn = next.layer as? BatchNormalization
            {
                step = Step(name: next.name, layer: Self.fold(conv, bn), inputs: step.inputs, activation: .linear)
                absorbed.insert(next.name)
            }
            if let conv = step.layer as? DepthwiseConv2D, conv.activation == .linear,
                let next = soleReader(node.name), let bn = next.layer as? BatchNormalization
            {
                step = Step(name: next.name, layer: Self.fold(conv, bn), inputs: step.inputs, activation: .linear)
                absorbed.insert(next.name)
            }
            if let conv = step.layer as? Conv2D, conv.activation == .linear, let add = soleReader(step.name),
                let merge = add.layer as? Merge, merge.operation == .add, add.inputs.count == 2,
                let other = add.inputs.first(where: { $0 != step.name }), produced.contains(other),
                add.inputs.filter({ $0 == step.name }).count == 1, graph.shape(of: other) == graph.shape(of: step.name)
            {
                step = Step(name: add.name, layer: conv, inputs: step.inputs, activation: .linear, residual: other)
                absorbed.insert(add.name)
            }
            if Self.isLinear(step.layer), let next = soleReader(step.name), let activation = next.layer as? Activation {
                step = Step(
                    name: next.name, layer: step.layer, inputs: step.inputs, activation: activation.function,
                    residual: step.residual)
                absorbed.insert(next.name)
            }
            steps.append(step)
            produced.insert(step.name)
        }
        // Keep only the steps the requested outputs depend on (extracting an early layer
        // does not run the rest of the network), and prepare their kernels.
        var needed = Set(outputs)
        var kept: [Step] = []
        for var step in steps.reversed() where needed.contains(step.name) {
            needed.formUnion(step.reads)
            if let conv = step.layer as? Conv2D, let shape = graph.shape(of: step.inputs[0]), shape.count == 3 {
                // A convolution with its own activation never had an Activation fused into it.
                let activation = conv.activation == .linear ? step.activation : conv.activation
                let made = ConvolutionKernels.make(
                    conv, height: shape[0], width: shape[1], channels: shape[2], activation: activation,
                    options: options)
                step.kernel = made.kernel
                step.remaining = made.remaining
            }
            kept.append(step)
        }
        self.steps = kept.reversed()
        self.inputNames = graph.inputNames
        self.outputs = outputs
    }

    /// Layers whose output is linear in the sense that applying an activation afterwards is the
    /// same as the graph's separate Activation node.
    private static func isLinear(_ layer: any Layer) -> Bool {
        (layer as? any KerasLayer)?.absorbsFollowingActivation ?? false
    }

    /// A convolution computing `conv(pad(x))` with the zeros as its own padding (ResNet's
    /// `conv1_pad` → `conv1_conv`), or nil when `conv` pads `same` (left as two steps).
    static func absorbing(_ pad: ZeroPadding2D, into conv: Conv2D) -> Conv2D? {
        guard let padding = pad.absorbed(into: conv.padding) else { return nil }
        return Conv2D(
            name: conv.name, kernel: conv.kernel.value, bias: conv.bias?.value, strides: conv.strides,
            padding: padding, dilation: conv.dilation, activation: conv.activation)
    }

    /// A depthwise convolution computing `conv(pad(x))` with the zeros as its own padding
    /// (MobileNet's strided blocks: a padded copy of the widest activation saved), or nil when
    /// `conv` pads `same`.
    static func absorbing(_ pad: ZeroPadding2D, into conv: DepthwiseConv2D) -> DepthwiseConv2D? {
        guard let padding = pad.absorbed(into: conv.padding) else { return nil }
        let k = conv.kernel.value.shape
        return DepthwiseConv2D(
            name: conv.name, kernel: conv.kernel.value.reshaped([k[0], k[1], conv.channels, conv.multiplier]),
            bias: conv.bias?.value, strides: conv.strides, padding: padding, dilation: conv.dilation,
            activation: conv.activation)
    }

    /// A max pooling computing `pool(pad(x))` for inputs ≥ 0 with the zeros as its own padding,
    /// or nil when it is not a max pooling without padding of its own, or a window could fall
    /// entirely in the padding.
    static func absorbing(_ pad: ZeroPadding2D, into pool: Pooling2D) -> Pooling2D? {
        guard pool.kind == .max, pool.padding == .valid, max(pad.top, pad.bottom) < pool.poolSize.0,
            max(pad.left, pad.right) < pool.poolSize.1
        else { return nil }
        return Pooling2D(
            name: pool.name, kind: .max, poolSize: pool.poolSize, strides: pool.strides,
            padding: .explicit(top: pad.top, bottom: pad.bottom, left: pad.left, right: pad.right))
    }

    /// A convolution computing `bn(conv(x))` with BatchNorm's moving statistics.
    static func fold(_ conv: Conv2D, _ bn: BatchNormalization) -> Conv2D {
        let (scale, shift) = bn.inferenceAffine()
        let filters = conv.filters
        let kernel = conv.kernel.value.scaledPerColumn(by: scale)
        let bias = (0..<filters).map { f in (conv.bias?.value.scalars[f] ?? 0) * scale[f] + shift[f] }
        return Conv2D(
            name: bn.name, kernel: kernel, bias: Tensor(shape: [filters], scalars: bias), strides: conv.strides,
            padding: conv.padding, dilation: conv.dilation)
    }

    /// A depthwise convolution computing `bn(depthwise(x))`: output channel `c·M + j` scaled
    /// and shifted by its BatchNorm channel (MobileNet, EfficientNet).
    static func fold(_ conv: DepthwiseConv2D, _ bn: BatchNormalization) -> DepthwiseConv2D {
        let (scale, shift) = bn.inferenceAffine()
        let outputs = conv.channels * conv.multiplier
        let kernel = conv.kernel.value.scaledPerColumn(by: scale)
        let shape = kernel.shape
        let bias = (0..<outputs).map { f in (conv.bias?.value.scalars[f] ?? 0) * scale[f] + shift[f] }
        return DepthwiseConv2D(
            name: bn.name, kernel: kernel.reshaped([shape[0], shape[1], conv.channels, conv.multiplier]),
            bias: Tensor(shape: [outputs], scalars: bias),
            strides: conv.strides, padding: conv.padding, dilation: conv.dilation)
    }

    /// Runs the plan; `inputs` were validated by the graph. `profile`, when given, receives
    /// each step's name, kind (`Step.kind`) and wall time in seconds.
    func run(_ inputs: [String: Tensor], profile: ((String, String, Double) -> Void)? = nil) -> [String: Tensor] {
        options.applyThreads()
        var remainingReaders: [String: Int] = [:]
        for step in steps { for input in step.reads { remainingReaders[input, default: 0] += 1 } }
        var live = inputs
        var results: [String: Tensor] = [:]
        for name in inputNames where outputs.contains(name) { results[name] = inputs[name] }
        for step in steps {
            let started = profile == nil ? 0 : DispatchTime.now().uptimeNanoseconds
            defer { profile?(step.name, step.kind, Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9) }
            let stepInputs = step.inputs.map { live[$0] ?? Tensor(zeros: [0]) }
            // The shortcut becomes the output buffer: taken over when this is its last reader
            // (no copy), copied otherwise.
            var residual: Tensor?
            if let name = step.residual {
                remainingReaders[name, default: 0] -= 1
                residual = remainingReaders[name] == 0 ? live.removeValue(forKey: name) : live[name]
            }
            for input in step.inputs {
                remainingReaders[input, default: 0] -= 1
                if remainingReaders[input] == 0 { live[input] = nil }
            }
            var output: Tensor
            if let kernel = step.kernel, let conv = step.layer as? Conv2D {
                let x = stepInputs[0]
                let g = conv.geometry(height: x.shape[1], width: x.shape[2])
                output = residual ?? Tensor(shape: [x.shape[0], g.outputHeight, g.outputWidth, conv.filters]) { _ in }
                residual = nil
                kernel.run(x, into: &output, accumulate: step.residual != nil)
                step.remaining.apply(inPlace: &output)
            } else if let merge = step.layer as? Merge, merge.operation == .add,
                stepInputs.allSatisfy({ $0.shape == stepInputs[0].shape })
            {
                output = Merge.sum(stepInputs, activation: step.activation)
            } else {
                output = step.layer.forward(stepInputs, mode: .inference, options: options).output
                step.activation.apply(inPlace: &output)
            }
            if outputs.contains(step.name) { results[step.name] = output }
            if remainingReaders[step.name, default: 0] > 0 { live[step.name] = output }
        }
        return results
    }
}

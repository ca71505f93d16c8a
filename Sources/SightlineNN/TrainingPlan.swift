import SightlineCore

/// The recorded (training or gradient) form of a `Graph` for one `GradientRequest`: what
/// `Graph.record` runs and `Graph.backward` walks back.
///
/// - **Prefix without a tape.** Nodes that no gradient reaches (a frozen backbone below
///   `--unfreeze-from`, the whole backbone while a head trains, the layers below Grad-CAM's
///   target) run through the fused `InferencePlan`; nothing of them is kept for backward.
///   A node whose training-mode forward differs from inference (dropout, BatchNorm that is not
///   frozen) stays out of the prefix when recording in `.training`.
/// - **Fused convolution steps.** `Conv2D` (or `DepthwiseConv2D`) → frozen `BatchNormalization`
///   → (for `Conv2D`) a two-input `Add` → an `Activation` becomes one step
///   (`FoldedConvolution`): the BatchNorm folded into the kernel, the shortcut added and the
///   activation applied by the convolution's kernel. Its tape keeps only the step's output
///   (which the activation's derivative reads, and the next layer reads as its input) instead
///   of the convolution's, BatchNorm's, the sum's and the activation's outputs.
/// - **Padding taken over.** A `ZeroPadding2D` before a convolution becomes the convolution's
///   own padding, and one before a max pooling of a ReLU's output (ResNet's `pool1_pad`)
///   the pooling's, as in `InferencePlan` (no padded copy forward, no cropping backward). The
///   gradients are the same: where a window's maximum is a padded zero tied with an in-image
///   zero, the in-image zero's gradient goes on to the ReLU, whose derivative there is 0.
/// - Everything else is one step per node, as the graph has it.
///
/// Nodes that are requested outputs or `stopAt` nodes are never fused away, nor is a pooling
/// whose input is one (the tie above would show in that input's gradient).
struct TrainingPlan {
    struct Step {
        /// The graph node whose output this step produces.
        let name: String
        /// The graph's layer (for a fused convolution, the convolution).
        let layer: any Layer
        let inputs: [String]
        /// A frozen BatchNorm folded into the convolution.
        var batchNorm: BatchNormalization?
        /// For a convolution fused with an `Add`: the other operand.
        var residual: String?
        /// An activation fused into the convolution.
        var activation: ActivationFunction = .linear
        /// The padding of a `ZeroPadding2D` before the convolution, taken over as its own
        /// (MobileNet's strided depthwise layers, ResNet's stem): no padded copy is made.
        var padding: Padding?
        /// For a convolution ending in a ReLU-like activation whose one reader applies its
        /// derivative (a max pooling of a plain ReLU, a depthwise convolution): this step's
        /// backward starts from the pre-activation gradient it receives.
        var derivativeByReader = false
        /// For that reader: the activation whose derivative it applies to its input gradient
        /// (`Pooling2D.backward(…, positiveOnly:)`,
        /// `DepthwiseConv2D.backward(outputGradient:…, inputActivation:…)`).
        var appliesReaderDerivative: ActivationFunction?

        /// Whether this step runs as a `FoldedConvolution`.
        var isFused: Bool { batchNorm != nil || residual != nil || activation != .linear || padding != nil }
        /// Every node this step reads.
        var reads: [String] { inputs + (residual.map { [$0] } ?? []) }

        /// The layer type and what is fused into it, for profiles: `Conv2D+bn+add+activation`.
        var kind: String {
            var text = "\(type(of: layer))"
            if padding != nil { text = "pad+" + text }
            if batchNorm != nil { text += "+bn" }
            if residual != nil { text += "+add" }
            if activation != .linear { text += "+activation" }
            return text
        }
    }

    /// Nodes computed by the inference plan, that later steps or the caller read.
    let prefixOutputs: [String]
    let steps: [Step]

    /// - Parameters:
    ///   - flags: per node, whether gradient flows into its output (`Graph.gradientFlags`).
    ///   - pinned: nodes that must keep their own output (requested outputs, `stopAt`).
    init(graph: Graph, mode: Mode, flags: [String: Bool], pinned: Set<String>, parameterGradients: Bool) {
        var readers: [String: [String]] = [:]
        for node in graph.nodes { for input in node.inputs { readers[input, default: []].append(node.name) } }
        func soleReader(_ name: String) -> Graph.Node? {
            guard !pinned.contains(name), let list = readers[name], list.count == 1 else { return nil }
            return graph.node(named: list[0])
        }
        // The prefix: nodes without gradient whose inputs are all in it and whose forward is
        // the same in inference.
        var prefix = Set(graph.inputNames)
        for node in graph.nodes where node.layer != nil && flags[node.name] != true {
            if let layer = node.layer, node.inputs.allSatisfy(prefix.contains),
                mode == .inference || Self.sameInInference(layer)
            {
                prefix.insert(node.name)
            }
        }
        var steps: [Step] = []
        var absorbed: Set<String> = []
        var produced = prefix
        /// Convolutions that take over the zero padding before them: the padding and its input.
        var padded: [String: (padding: Padding, input: String)] = [:]
        /// Max poolings that take over the zero padding before them: the pooling and its input.
        var pooled: [String: (pool: Pooling2D, input: String)] = [:]
        for node in graph.nodes {
            guard let layer = node.layer, !prefix.contains(node.name), !absorbed.contains(node.name) else { continue }
            if let pad = layer as? ZeroPadding2D, let next = soleReader(node.name), let conv = next.layer,
                FoldedConvolution.takes(conv), let padding = Self.padding(of: conv, after: pad)
            {
                padded[next.name] = (padding, node.inputs[0])
                continue
            }
            if let pad = layer as? ZeroPadding2D, let next = soleReader(node.name), let pool = next.layer as? Pooling2D,
                !pinned.contains(node.inputs[0]), Self.nonNegative(node.inputs[0], steps),
                let merged = InferencePlan.absorbing(pad, into: pool)
            {
                pooled[next.name] = (merged, node.inputs[0])
                continue
            }
            var step = Step(name: node.name, layer: layer, inputs: node.inputs)
            if let (padding, input) = padded[node.name] {
                step = Step(name: node.name, layer: layer, inputs: [input], padding: padding)
            }
            if let (pool, input) = pooled[node.name] { step = Step(name: node.name, layer: pool, inputs: [input]) }
            if FoldedConvolution.takes(layer) {
                if let next = soleReader(step.name), let bn = next.layer as? BatchNormalization,
                    mode == .inference || bn.isFrozen,
                    !parameterGradients || !(bn.gamma?.isTrainable ?? false || bn.beta?.isTrainable ?? false)
                {
                    step = Step(
                        name: next.name, layer: layer, inputs: step.inputs, batchNorm: bn, padding: step.padding)
                    absorbed.insert(next.name)
                }
                if layer is Conv2D, let add = soleReader(step.name), let merge = add.layer as? Merge,
                    merge.operation == .add, add.inputs.count == 2,
                    let other = add.inputs.first(where: { $0 != step.name }), produced.contains(other),
                    add.inputs.filter({ $0 == step.name }).count == 1,
                    graph.shape(of: other) == graph.shape(of: step.name)
                {
                    step = Step(
                        name: add.name, layer: layer, inputs: step.inputs, batchNorm: step.batchNorm, residual: other,
                        padding: step.padding)
                    absorbed.insert(add.name)
                }
                if let next = soleReader(step.name), let activation = next.layer as? Activation,
                    !activation.function.needsInput
                {
                    step = Step(
                        name: next.name, layer: layer, inputs: step.inputs, batchNorm: step.batchNorm,
                        residual: step.residual, activation: activation.function, padding: step.padding)
                    absorbed.insert(next.name)
                }
            }
            steps.append(step)
            produced.insert(step.name)
        }
        // A max pooling of a ReLU's output passes its gradient only to window maxima, where the
        // ReLU's derivative is 1 when the maximum is positive and 0 otherwise: the pooling
        // applies it while it scatters (VGG16's pools skip a pass over their 4× larger input).
        // (A fused step's convolution has no activation of its own; an unfused one may.)
        // A depthwise convolution of a ReLU or ReLU6 output multiplies the input gradient it
        // writes by that derivative (MobileNet's expansion layers skip a pass over their gradients,
        // the largest of the step), and so does a fused (folded) 1×1 stride-1 convolution, inside
        // its shared pass where it takes one (ResNet's 3×3 outputs), else in a pass after.
        for index in steps.indices {
            guard let input = steps[index].inputs.first, !pinned.contains(input),
                let source = steps.firstIndex(where: { $0.name == input }), let conv = steps[source].layer as? Conv2D,
                readers[input]?.count == 1  // or the padding taken over
            else { continue }
            let activation = steps[source].isFused ? steps[source].activation : conv.activation
            if let pool = steps[index].layer as? Pooling2D, pool.kind == .max, activation == .relu() {
                steps[index].appliesReaderDerivative = activation
            } else if steps[index].layer is DepthwiseConv2D, activation.clipBounds != nil {
                steps[index].appliesReaderDerivative = activation
            } else if let reader = steps[index].layer as? Conv2D, steps[index].isFused, FoldedConvolution.takes(reader),
                steps[index].padding == nil, reader.kernel.value.shape.prefix(2) == [1, 1], reader.strides == (1, 1),
                activation.clipBounds != nil
            {
                steps[index].appliesReaderDerivative = activation
            } else {
                continue
            }
            steps[source].derivativeByReader = true
        }
        // The prefix nodes that steps read or the caller asked for.
        let read = Set(steps.flatMap(\.reads)).union(pinned)
        prefixOutputs = graph.nodes.map(\.name).filter {
            prefix.contains($0) && read.contains($0) && !graph.inputNames.contains($0)
        }
        self.steps = steps
    }

    /// The explicit padding of `conv` computing `conv(pad(x))`, or nil when `conv` pads `same`
    /// (left as two steps).
    private static func padding(of conv: any Layer, after pad: ZeroPadding2D) -> Padding? {
        switch conv {
        case let conv as Conv2D: pad.absorbed(into: conv.padding)
        case let conv as DepthwiseConv2D: pad.absorbed(into: conv.padding)
        default: nil
        }
    }

    /// True when the step of `steps` producing `name` ends in a ReLU (its output is ≥ 0).
    private static func nonNegative(_ name: String, _ steps: [Step]) -> Bool {
        guard let step = steps.last(where: { $0.name == name }) else { return false }
        let activation: ActivationFunction
        switch step.layer {
        case let conv as Conv2D: activation = conv.activation == .linear ? step.activation : conv.activation
        case let layer as Activation: activation = layer.function
        default: activation = step.activation
        }
        if case .relu(_, let slope) = activation { return slope == 0 }
        return false
    }

    /// True when the layer's `.training` forward equals its `.inference` one.
    private static func sameInInference(_ layer: any Layer) -> Bool {
        switch layer {
        case is Dropout: return false
        case let bn as BatchNormalization: return bn.isFrozen
        default: return true
        }
    }
}

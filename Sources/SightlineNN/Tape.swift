import Dispatch
import SightlineCore

/// Which gradients a backward pass must produce.
public struct GradientRequest: Sendable {
    /// Nodes whose output gradient is wanted; backward stops below them (Grad-CAM asks for its
    /// target layer only).
    public var stopAt: Set<String>
    /// Whether trainable parameters receive gradients.
    public var parameterGradients: Bool

    public init(stopAt: Set<String> = [], parameterGradients: Bool = true) {
        self.stopAt = stopAt
        self.parameterGradients = parameterGradients
    }
}

/// What a recorded forward pass kept for its backward pass: the plan it ran, the `LayerOutput`
/// of each step that backward will visit, the outputs of the nodes those read, and the
/// working layers of fused convolutions. Nothing else is kept; `backward` releases each
/// step's values as soon as it has passed the step.
public struct Tape {
    let mode: Mode
    let request: GradientRequest
    /// Per node: whether gradient flows into its output (it is, or lies above, a requested
    /// node or a trainable layer).
    let needsGradient: [String: Bool]
    let plan: TrainingPlan
    var values: [String: Tensor] = [:]
    var forwards: [String: LayerOutput] = [:]
    var folded: [String: FoldedConvolution] = [:]
}

extension Graph {
    /// Per node: true when the backward of `request` must deliver a gradient to its output.
    func gradientFlags(_ request: GradientRequest) -> [String: Bool] {
        var flags: [String: Bool] = [:]
        for node in nodes {
            let trainable = request.parameterGradients && (node.layer?.parameters.contains { $0.isTrainable } ?? false)
            flags[node.name] =
                request.stopAt.contains(node.name) || trainable || node.inputs.contains { flags[$0] == true }
        }
        return flags
    }

    /// Whether `step` runs during backward: gradient reaches its output, and a node it reads
    /// or (when requested) one of its trainable parameters wants a gradient.
    func runsBackward(_ step: TrainingPlan.Step, _ tape: Tape) -> Bool {
        guard tape.needsGradient[step.name] == true else { return false }
        return step.reads.contains { tape.needsGradient[$0] == true }
            || (tape.request.parameterGradients && step.layer.parameters.contains { $0.isTrainable })
    }

    /// The forward pass for backpropagation in `mode` (a `TrainingPlan`: the part no gradient
    /// reaches runs as fused inference, frozen BatchNorm is folded into the convolution before
    /// it). Returns the requested outputs and the tape that `backward(_:seeds:)` needs.
    /// `profile`, when given, receives each step's node name, kind (`TrainingPlan.Step.kind`, or
    /// "inference prefix") and wall time in seconds.
    public func record(
        _ inputs: [String: Tensor], outputs: [String]? = nil, mode: Mode, request: GradientRequest,
        profile: ((String, String, Double) -> Void)? = nil
    ) throws(LayerError) -> (outputs: [String: Tensor], tape: Tape) {
        let requested = try validate(inputs, outputs: outputs)
        for name in request.stopAt where node(named: name) == nil {
            throw LayerError(layer: name, "is not in the graph")
        }
        engineOptions.applyThreads()
        let flags = gradientFlags(request)
        let plan = TrainingPlan(
            graph: self, mode: mode, flags: flags, pinned: Set(requested).union(request.stopAt),
            parameterGradients: request.parameterGradients)
        var tape = Tape(mode: mode, request: request, needsGradient: flags, plan: plan)
        // A step runs backward when gradient flows into its output and what it reads or its
        // parameters want one; it then needs its inputs' values and its own LayerOutput.
        var keep: Set<String> = []
        for step in plan.steps where runsBackward(step, tape) { keep.formUnion(step.inputs) }
        var remainingReaders: [String: Int] = [:]
        for step in plan.steps { for input in step.reads { remainingReaders[input, default: 0] += 1 } }
        for name in requested { remainingReaders[name, default: 0] += 1 }
        var live = inputs
        if !plan.prefixOutputs.isEmpty {
            let started = DispatchTime.now().uptimeNanoseconds
            live.merge(inferencePlan(outputs: plan.prefixOutputs).run(inputs)) { $1 }
            profile?("prefix", "inference prefix", Self.seconds(since: started))
        }
        /// Drops a value no later step reads, keeping it on the tape when backward needs it.
        func release(_ name: String) {
            remainingReaders[name, default: 0] -= 1
            guard remainingReaders[name] == 0 else { return }
            if keep.contains(name) { tape.values[name] = live[name] }
            live[name] = nil
        }
        for step in plan.steps {
            let started = profile == nil ? 0 : DispatchTime.now().uptimeNanoseconds
            defer { profile?(step.name, step.kind, Self.seconds(since: started)) }
            let stepInputs = step.inputs.map { live[$0] ?? Tensor(zeros: [0]) }
            var output: LayerOutput
            // The plan fuses only layers `FoldedConvolution.takes`.
            if step.isFused,
                let folded = FoldedConvolution(
                    step.layer, batchNorm: step.batchNorm, activation: step.activation, padding: step.padding,
                    name: step.name)
            {
                var residual: Tensor?
                var residualKept = false
                if let name = step.residual {
                    // The shortcut becomes the output buffer when this is its last reader; one that
                    // backward or a later step still reads is read in place, not copied.
                    residualKept = remainingReaders[name] != 1 || keep.contains(name)
                    residual = residualKept ? live[name] : live.removeValue(forKey: name)
                    release(name)
                }
                if let conv = folded.working as? Conv2D {
                    output = conv.forward(
                        stepInputs[0], adding: residual.take(), residualKept: residualKept, options: engineOptions)
                    conv.dropForwardKernels()  // the copy lives until backward; its forward kernel need not
                } else {
                    output = folded.working.forward(stepInputs, mode: mode, options: engineOptions)
                }
                if runsBackward(step, tape) { tape.folded[step.name] = folded }
            } else {
                output = step.layer.forward(stepInputs, mode: mode, options: engineOptions)
            }
            live[step.name] = output.output
            if runsBackward(step, tape) {
                // A fused convolution with no activation does not read its output in backward (a
                // projection shortcut): the tape does not hold it, so the next step may write into it.
                if let conv = tape.folded[step.name]?.working as? Conv2D, conv.activation == .linear {
                    output.output = Tensor(zeros: [0])
                }
                tape.forwards[step.name] = output
            }
            for input in step.inputs { release(input) }
            if remainingReaders[step.name, default: 0] == 0 && !keep.contains(step.name) { live[step.name] = nil }
        }
        // Requested outputs stay live to the end; keep those backward reads too.
        for name in keep where tape.values[name] == nil { tape.values[name] = live[name] }
        var results: [String: Tensor] = [:]
        for name in requested { results[name] = live[name] ?? tape.values[name] }
        return (results, tape)
    }

    /// Back-propagates `seeds` (∂L/∂output of some nodes, shapes as the outputs) through the
    /// recorded pass, releasing each step's kept values once it is passed. Parameter gradients
    /// are added into `Parameter.gradient` when requested; returns the gradient at each node
    /// of `request.stopAt` that received one. `profile` receives each step as in `record`.
    public func backward(
        _ tape: consuming Tape, seeds: [String: Tensor], profile: ((String, String, Double) -> Void)? = nil
    ) -> [String: Tensor] {
        engineOptions.applyThreads()
        var gradients: [String: Tensor] = seeds
        // Gradients a folded convolution's output received after its first, summed when that
        // step applies its activation's derivative (`ActivationFunction.gradient(_:adding:…)`:
        // for a ReLU, in the same pass).
        var later: [String: [Tensor]] = [:]
        var results: [String: Tensor] = [:]
        let parameters: GradientNeeds = tape.request.parameterGradients ? .parameters : []
        /// Adds `gradient` into the one `name` receives, when it wants one.
        func pass(_ gradient: Tensor, to name: String) {
            guard tape.needsGradient[name] == true else { return }
            if gradients[name] == nil {
                gradients[name] = gradient
            } else if tape.folded[name]?.working is Conv2D {
                later[name, default: []].append(gradient)
            } else {
                gradients[name]?.add(gradient)
            }
        }
        /// The whole gradient `name` received.
        func summed(_ name: String) -> Tensor? {
            guard var gradient = gradients[name] else { return nil }
            for other in later[name] ?? [] { gradient.add(other) }
            return gradient
        }
        for step in tape.plan.steps.reversed() {
            if tape.request.stopAt.contains(step.name), let whole = summed(step.name) { results[step.name] = whole }
            guard var gradient = gradients.removeValue(forKey: step.name) else { continue }
            let others = later.removeValue(forKey: step.name) ?? []
            guard let forward = tape.forwards.removeValue(forKey: step.name) else { continue }
            let started = profile == nil ? 0 : DispatchTime.now().uptimeNanoseconds
            defer { profile?(step.name, step.kind, Self.seconds(since: started)) }
            tape.values[step.name] = nil  // its readers have all run backward
            var needs = parameters
            if step.inputs.contains(where: { tape.needsGradient[$0] == true }) { needs.insert(.input) }
            let inputs = step.inputs.map { tape.values[$0] ?? Tensor(zeros: [0]) }
            let inputGradients: [Tensor]
            if let folded = tape.folded.removeValue(forKey: step.name) {
                if let conv = folded.working as? Conv2D {
                    // The gradient is this step's alone (taken from `gradients`), so the
                    // activation's derivative is applied in its storage, not in a copy.
                    if step.derivativeByReader && others.isEmpty {
                        if let residual = step.residual { pass(gradient, to: residual) }
                        inputGradients = folded.backward(
                            conv, preActivation: gradient, input: inputs[0], needs: needs, options: engineOptions,
                            inputActivation: step.appliesReaderDerivative)
                    } else {
                        let (dz, computed) = folded.backward(
                            conv, outputGradient: consume gradient, adding: others, forward: forward, input: inputs[0],
                            needs: needs, options: engineOptions, inputActivation: step.appliesReaderDerivative)
                        if let residual = step.residual { pass(dz, to: residual) }
                        inputGradients = computed
                    }
                } else if let depthwise = folded.working as? DepthwiseConv2D {
                    for other in others { gradient.add(other) }
                    inputGradients = depthwise.backward(
                        outputGradient: gradient, forward: forward, input: inputs[0],
                        inputActivation: step.appliesReaderDerivative, needs: needs, options: engineOptions)
                    folded.mapGradients()
                } else {
                    for other in others { gradient.add(other) }
                    inputGradients = folded.working.backward(
                        gradient, inputs: inputs, forward: forward, mode: tape.mode, needs: needs,
                        options: engineOptions)
                    folded.mapGradients()
                }
            } else if step.derivativeByReader, let conv = step.layer as? Conv2D {
                inputGradients = conv.backward(
                    preActivation: gradient, input: inputs[0], needs: needs, options: engineOptions)
            } else if step.appliesReaderDerivative != nil, let pool = step.layer as? Pooling2D {
                inputGradients = pool.backward(
                    gradient, inputs: inputs, forward: forward, needs: needs, positiveOnly: true)
            } else if let conv = step.layer as? Conv2D {
                // The gradient is this step's alone (an unfused step has no later ones): the
                // activation's derivative is applied in its storage, not in a copy.
                inputGradients = conv.backward(
                    consuming: consume gradient, forward: forward, input: inputs[0], needs: needs,
                    options: engineOptions)
            } else if let depthwise = step.layer as? DepthwiseConv2D {
                inputGradients = depthwise.backward(
                    outputGradient: gradient, forward: forward, input: inputs[0],
                    inputActivation: step.appliesReaderDerivative, needs: needs, options: engineOptions)
            } else {
                inputGradients = step.layer.backward(
                    gradient, inputs: inputs, forward: forward, mode: tape.mode, needs: needs, options: engineOptions)
            }
            for (input, inputGradient) in zip(step.inputs, inputGradients) { pass(inputGradient, to: input) }
        }
        for name in tape.request.stopAt where results[name] == nil { results[name] = summed(name) }
        return results
    }

    static func seconds(since start: UInt64) -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
}

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

/// What a recorded forward pass kept for its backward pass: the `LayerOutput` of each node that
/// backward will visit and the outputs of the nodes those read. Nothing else is kept.
public struct Tape {
    let mode: Mode
    let request: GradientRequest
    /// Per node: whether gradient flows into its output (it is, or lies above, a requested
    /// node or a trainable layer).
    let needsGradient: [String: Bool]
    var values: [String: Tensor] = [:]
    var forwards: [String: LayerOutput] = [:]
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

    /// Whether `node`'s layer runs during backward: gradient reaches its output, and an input
    /// or (when requested) one of its trainable parameters wants a gradient.
    func runsBackward(_ node: Node, _ tape: Tape) -> Bool {
        guard let layer = node.layer, tape.needsGradient[node.name] == true else { return false }
        return node.inputs.contains { tape.needsGradient[$0] == true }
            || (tape.request.parameterGradients && layer.parameters.contains { $0.isTrainable })
    }

    /// The forward pass for backpropagation, unfused, in `mode`. Returns the requested outputs
    /// and the tape that `backward(_:seeds:)` needs.
    public func record(_ inputs: [String: Tensor], outputs: [String]? = nil, mode: Mode, request: GradientRequest)
        throws(LayerError) -> (outputs: [String: Tensor], tape: Tape)
    {
        let requested = Set(try validate(inputs, outputs: outputs))
        for name in request.stopAt where node(named: name) == nil {
            throw LayerError(layer: name, "is not in the graph")
        }
        engineOptions.applyThreads()
        var tape = Tape(mode: mode, request: request, needsGradient: gradientFlags(request))
        // A node runs backward when gradient flows into its output and its inputs or its
        // parameters want one; it then needs its inputs' values and its own LayerOutput.
        var keep: Set<String> = []
        for node in nodes where runsBackward(node, tape) { keep.formUnion(node.inputs) }
        var remainingReaders: [String: Int] = [:]
        for node in nodes { for input in node.inputs { remainingReaders[input, default: 0] += 1 } }
        var live: [String: Tensor] = inputs
        var results: [String: Tensor] = [:]
        for node in nodes {
            if let layer = node.layer {
                let output = layer.forward(
                    node.inputs.map { live[$0] ?? Tensor(zeros: [0]) }, mode: mode, options: engineOptions)
                live[node.name] = output.output
                if runsBackward(node, tape) { tape.forwards[node.name] = output }
                for input in node.inputs {
                    remainingReaders[input, default: 0] -= 1
                    if remainingReaders[input] == 0 {
                        if keep.contains(input) { tape.values[input] = live[input] }
                        live[input] = nil
                    }
                }
            }
            if requested.contains(node.name) { results[node.name] = live[node.name] }
            if remainingReaders[node.name, default: 0] == 0 && !keep.contains(node.name) { live[node.name] = nil }
        }
        return (results, tape)
    }

    /// Back-propagates `seeds` (∂L/∂output of some nodes, shapes as the outputs) through the
    /// recorded pass. Parameter gradients are added into `Parameter.gradient` when requested;
    /// returns the gradient at each node of `request.stopAt` that received one.
    public func backward(_ tape: Tape, seeds: [String: Tensor]) -> [String: Tensor] {
        engineOptions.applyThreads()
        var gradients: [String: Tensor] = seeds
        var results: [String: Tensor] = [:]
        for node in nodes.reversed() {
            guard let gradient = gradients.removeValue(forKey: node.name) else { continue }
            if tape.request.stopAt.contains(node.name) { results[node.name] = gradient }
            guard let layer = node.layer, let forward = tape.forwards[node.name] else { continue }
            var needs: GradientNeeds = tape.request.parameterGradients ? .parameters : []
            if node.inputs.contains(where: { tape.needsGradient[$0] == true }) { needs.insert(.input) }
            let inputs = node.inputs.map { tape.values[$0] ?? Tensor(zeros: [0]) }
            let inputGradients = layer.backward(
                gradient, inputs: inputs, forward: forward, mode: tape.mode, needs: needs, options: engineOptions)
            for (input, inputGradient) in zip(node.inputs, inputGradients) where tape.needsGradient[input] == true {
                if gradients[input] == nil {
                    gradients[input] = inputGradient
                } else {
                    gradients[input]?.add(inputGradient)
                }
            }
        }
        return results
    }
}

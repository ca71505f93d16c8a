import SightlineCore

extension Graph {
    /// What replaces one node in `rebuilt(replacing:)`: layers added in order, each reading the
    /// named inputs; the last carries the node's name so downstream readers find it. An empty list
    /// drops the node (its readers must not need it, or it must be the output, see `withLogitsOutput`).
    public typealias Replacement = [(layer: any Layer, inputs: [String])]

    /// A new graph with this graph's nodes in order, sharing their layer objects (and so their
    /// weights), except where `replace` returns a replacement. Inputs, outputs (a dropped output
    /// becomes its first input) and engine options are kept.
    public func rebuilt(replacing replace: (Node, any Layer) throws -> Replacement?) throws -> Graph {
        let result = Graph()
        result.engineOptions = engineOptions
        var outputs = outputNames
        for node in nodes {
            guard let layer = node.layer else {
                try result.addInput(name: node.name, shape: node.shape)
                continue
            }
            guard let replacement = try replace(node, layer) else {
                try result.add(layer, inputs: node.inputs)
                continue
            }
            for (added, inputs) in replacement { try result.add(added, inputs: inputs) }
            if replacement.isEmpty, let input = node.inputs.first {
                outputs = outputs.map { $0 == node.name ? input : $0 }
            }
        }
        result.outputNames = outputs
        return result
    }

    /// This graph scoring logits, the class scores before softmax (Grad-CAM's score, the training
    /// loss's input): a final `Dense` with softmax becomes a linear `Dense` of the same name and
    /// weights; a final softmax `Activation` is dropped and its input is the output. Other layers
    /// are shared. A graph that ends otherwise comes back unchanged. `outputName` renames a final
    /// `Dense` (softmax or linear), for a head attached where its own name is taken.
    public func withLogitsOutput(outputName: String? = nil) throws -> Graph {
        let output = outputNames.first
        var renamed: String?
        let result = try rebuilt { node, layer in
            guard node.name == output else { return nil }
            if let dense = layer as? Dense,
                dense.activation == .softmax || (outputName != nil && dense.activation == .linear)
            {
                let name = outputName ?? dense.name
                renamed = name
                return [(Dense(name: name, kernel: dense.kernel.value, bias: dense.bias?.value), node.inputs)]
            }
            if let activation = layer as? Activation, activation.function == .softmax { return [] }
            return nil
        }
        // A renamed classifier is the output under its new name.
        if let renamed { result.outputNames = [renamed] }
        return result
    }

    /// The reverse of `withLogitsOutput` for a final linear `Dense`: the same weights with softmax,
    /// the form Keras models keep (what `finetune` and `train-head` save).
    public func withSoftmaxOutput() throws -> Graph {
        let output = outputNames.first
        return try rebuilt { node, layer in
            guard node.name == output, let dense = layer as? Dense, dense.activation == .linear else { return nil }
            return [
                (
                    Dense(name: dense.name, kernel: dense.kernel.value, bias: dense.bias?.value, activation: .softmax),
                    node.inputs
                )
            ]
        }
    }
}

extension Graph {
    /// Appends `head`'s layers (sharing the objects) after this graph's node `last`: the head's
    /// input reads `last`. Returns the head's output node, which becomes this graph's output.
    @discardableResult
    public func append(_ head: Graph, after last: String) throws -> String {
        for node in head.nodes {
            guard let layer = node.layer else { continue }
            try add(layer, inputs: node.inputs.map { head.inputNames.contains($0) ? last : $0 })
        }
        let output = head.outputNames.first ?? last
        outputNames = [output]
        return output
    }
}

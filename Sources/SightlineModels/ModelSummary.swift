import SightlineNN

/// Per-layer facts about a graph for one image: output shape, parameters, floating-point
/// operations and receptive field (what `sightline inspect` prints).
public struct ModelSummary: Sendable {
    /// One node of the graph.
    public struct Row: Sendable {
        public var name: String
        /// Keras class name (`InputLayer` for inputs).
        public var className: String
        /// Output shape without the batch axis.
        public var outputShape: [Int]
        public var parameters: Int
        public var trainableParameters: Int
        /// Floating-point operations for one image (a multiply-add counts 2).
        public var flops: Int
        /// The side, in input pixels, of the window one output value sees (nil once spatial
        /// structure is gone: after global pooling, flatten or dense, it is the whole image).
        public var receptiveField: Int?
        /// The distance in input pixels between neighbouring outputs.
        public var stride: Int?
    }

    public var rows: [Row]
    public var totalParameters: Int { rows.reduce(0) { $0 + $1.parameters } }
    public var trainableParameters: Int { rows.reduce(0) { $0 + $1.trainableParameters } }
    public var totalFlops: Int { rows.reduce(0) { $0 + $1.flops } }

    /// Summarises `graph`.
    ///
    /// FLOPs: convolutions `2·OH·OW·KH·KW·C·F` (+ bias), dense `2·in·out`, depthwise
    /// `2·OH·OW·KH·KW·C·M`, BatchNorm 2 per value, other layers one per output value (pooling
    /// one per window tap). Receptive field: `r_out = r_in + (k_eff − 1)·j_in`, `j_out = j_in·s`
    /// with `k_eff = (k − 1)·d + 1`; merges take the largest input field.
    public init(graph: Graph) {
        var fields: [String: (size: Int, jump: Int)] = [:]
        var rows: [Row] = []
        for node in graph.nodes {
            let outputCount = node.shape.reduce(1, *)
            let inputFields = node.inputs.compactMap { fields[$0] }
            var field = inputFields.max { $0.size < $1.size }
            var flops = outputCount
            if let layer = node.layer as? any KerasLayer {
                let inputShapes = node.inputs.compactMap { graph.shape(of: $0) }
                flops = layer.flops(inputShapes: inputShapes, outputShape: node.shape)
                switch layer.receptiveWindow {
                case .keep: break
                case .reset: field = nil
                case .window(let kernel, let stride, let dilation):
                    field = Self.grow(field, kernel: kernel, stride: stride, dilation: dilation)
                }
            } else if node.layer != nil {
                flops = outputCount
            } else {
                flops = 0
                field = (1, 1)
            }
            fields[node.name] = field
            let parameters = node.layer?.parameters ?? []
            rows.append(
                Row(
                    name: node.name, className: node.layer.map(KerasLayers.className(of:)) ?? "InputLayer",
                    outputShape: node.shape,
                    parameters: parameters.reduce(0) { $0 + $1.value.count },
                    trainableParameters: parameters.filter(\.isTrainable).reduce(0) { $0 + $1.value.count },
                    flops: flops, receptiveField: field?.size, stride: field?.jump))
        }
        self.rows = rows
    }

    private static func grow(
        _ field: (size: Int, jump: Int)?, kernel: (Int, Int), stride: (Int, Int), dilation: (Int, Int)
    ) -> (size: Int, jump: Int)? {
        guard let field else { return nil }
        let effective = (max(kernel.0, kernel.1) - 1) * max(dilation.0, dilation.1) + 1
        return (field.size + (effective - 1) * field.jump, field.jump * max(stride.0, stride.1))
    }
}

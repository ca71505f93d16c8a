import SightlineCore

/// A directed acyclic graph of named layers, in the Keras functional style.
///
/// Nodes are added in topological order: each names the nodes it reads. Input nodes hold no
/// layer. Shapes are inferred (and checked) as nodes are added; they leave out the batch axis.
///
/// - `forward(_:outputs:mode:)` runs the graph and returns any named intermediate activations.
///   In `.inference` it runs an `InferencePlan` (BatchNorm folded into convolutions, activations
///   fused) and releases each activation as soon as its last reader is done.
/// - `record(_:outputs:mode:request:)` is the forward pass for backpropagation: it keeps only
///   what the backward pass of `request` needs, and `backward(_:seeds:)` goes from gradients at
///   any nodes down to the requested nodes, skipping everything below them and below the
///   lowest trainable layer.
public final class Graph {
    /// One node: an input placeholder (`layer == nil`) or a layer applied to earlier nodes.
    public struct Node {
        public let name: String
        public let layer: (any Layer)?
        /// Names of the nodes this node reads, in the layer's input order.
        public let inputs: [String]
        /// The output shape without the batch axis.
        public let shape: [Int]
    }

    /// Nodes in topological order.
    public private(set) var nodes: [Node] = []
    private var indexByName: [String: Int] = [:]
    /// Names of the input nodes, in the order they were added.
    public private(set) var inputNames: [String] = []
    /// The nodes `forward` returns by default: the last node added unless set.
    public var outputNames: [String] = []
    private var planCache: (key: String, plan: InferencePlan)?
    /// Engine settings for this graph's runs (kernel route, precision, threads); the defaults
    /// unless set (the command line sets them from its options and environment). They are
    /// handed to each inference plan and recorded pass when it runs, never stored in the layers:
    /// graphs made by `prefix(through:)` or `rebuilt` share layer objects, and setting one
    /// graph's options must not change how another graph runs them.
    public var engineOptions = EngineOptions() {
        didSet { planCache = nil }
    }

    public init() {}

    /// Adds an input placeholder whose items have `shape` (e.g. `[224, 224, 3]`).
    public func addInput(name: String, shape: [Int]) throws(LayerError) {
        guard indexByName[name] == nil else { throw LayerError(layer: name, "a node with this name already exists") }
        append(Node(name: name, layer: nil, inputs: [], shape: shape))
        inputNames.append(name)
    }

    /// Adds `layer` reading `inputs`, checks the shapes and returns the new node's name
    /// (the layer's name).
    @discardableResult
    public func add(_ layer: any Layer, inputs: [String]) throws(LayerError) -> String {
        guard indexByName[layer.name] == nil else {
            throw LayerError(layer: layer.name, "a node with this name already exists")
        }
        var shapes: [[Int]] = []
        for input in inputs {
            guard let shape = shape(of: input) else {
                throw LayerError(layer: layer.name, "reads '\(input)', which is not in the graph")
            }
            shapes.append(shape)
        }
        append(Node(name: layer.name, layer: layer, inputs: inputs, shape: try layer.outputShape(for: shapes)))
        outputNames = [layer.name]
        return layer.name
    }

    private func append(_ node: Node) {
        indexByName[node.name] = nodes.count
        nodes.append(node)
        planCache = nil
    }

    /// The node with this name.
    public func node(named name: String) -> Node? { indexByName[name].map { nodes[$0] } }
    /// The output shape (without batch) of a node.
    public func shape(of name: String) -> [Int]? { node(named: name)?.shape }
    /// Every layer in topological order.
    public var layers: [any Layer] { nodes.compactMap(\.layer) }
    /// The layer of a node.
    public func layer(named name: String) -> (any Layer)? { node(named: name)?.layer }
    /// The number of scalars in all parameters (Keras's `count_params`).
    public var parameterCount: Int { layers.reduce(0) { $0 + $1.parameterCount } }
    /// The number of scalars in trainable parameters.
    public var trainableParameterCount: Int {
        layers.reduce(0) { $0 + $1.parameters.filter(\.isTrainable).reduce(0) { $0 + $1.value.count } }
    }

    /// Sets `isTrainable` on every layer, or on the layers from node `start` onwards (in
    /// topological order) when given, and the opposite on those before it.
    public func setTrainable(_ trainable: Bool, from start: String? = nil) throws(LayerError) {
        var first = 0
        if let start {
            guard let index = indexByName[start] else { throw LayerError(layer: start, "is not in the graph") }
            first = index
        }
        for (index, node) in nodes.enumerated() { node.layer?.isTrainable = index >= first ? trainable : !trainable }
    }

    /// A new graph with this graph's nodes up to and including `name`, in order, sharing the
    /// same layer objects (and so the same weights); its output is `name`.
    public func prefix(through name: String) throws(LayerError) -> Graph {
        guard let end = indexByName[name] else { throw LayerError(layer: name, "is not in the graph") }
        let result = Graph()
        result.engineOptions = engineOptions
        for node in nodes[...end] {
            if let layer = node.layer {
                try result.add(layer, inputs: node.inputs)
            } else {
                try result.addInput(name: node.name, shape: node.shape)
            }
        }
        result.outputNames = [name]
        return result
    }

    /// Clears every parameter's accumulated gradient.
    public func zeroGradients() {
        for layer in layers { for parameter in layer.parameters { parameter.zeroGradient() } }
    }

    /// Checks fed inputs and requested outputs; returns the requested output names.
    func validate(_ inputs: [String: Tensor], outputs: [String]?) throws(LayerError) -> [String] {
        for name in inputNames {
            guard let tensor = inputs[name] else { throw LayerError(layer: name, "input was not given") }
            guard tensor.rank >= 1, Array(tensor.shape.dropFirst()) == shape(of: name) else {
                throw LayerError(
                    layer: name,
                    "expects items of shape \(shape(of: name) ?? []), got a tensor of shape \(tensor.shape)")
            }
            guard tensor.batchSize > 0 else { throw LayerError(layer: name, "was given an empty batch") }
        }
        let requested = outputs ?? (outputNames.isEmpty ? nodes.last.map { [$0.name] } ?? [] : outputNames)
        for name in requested where indexByName[name] == nil { throw LayerError(layer: name, "is not in the graph") }
        return requested
    }

    /// Runs the graph on one input tensor per input node and returns the requested outputs
    /// (default `outputNames`). Inference uses the fused plan; training mode updates BatchNorm
    /// statistics and applies dropout, but keeps nothing for backward (use `record`).
    public func forward(_ inputs: [String: Tensor], outputs: [String]? = nil, mode: Mode = .inference)
        throws(LayerError) -> [String: Tensor]
    {
        let requested = try validate(inputs, outputs: outputs)
        if mode == .inference {
            return inferencePlan(outputs: requested).run(inputs)
        }
        return try record(
            inputs, outputs: requested, mode: mode, request: GradientRequest(stopAt: [], parameterGradients: false)
        ).outputs
    }

    /// Inference like `forward`, reporting each executed step (node name, layer type with
    /// `+activation` when an activation was fused, seconds) to `profile`.
    public func profiledInference(
        _ inputs: [String: Tensor], outputs: [String]? = nil, profile: (String, String, Double) -> Void
    ) throws(LayerError) -> [String: Tensor] {
        let requested = try validate(inputs, outputs: outputs)
        return withoutActuallyEscaping(profile) { inferencePlan(outputs: requested).run(inputs, profile: $0) }
    }

    /// The steps of the inference plan for `outputs` (default `outputNames`): each step's node
    /// name and kind, the layer type with the convolution kernel chosen for it and the layers
    /// fused into it (`Conv2D [winograd F(4x4,3x3)]+add+activation`). Builds (and caches) the
    /// plan, preparing its kernels; oneDNN names its implementation once it has run.
    public func inferenceSteps(outputs: [String]? = nil) throws(LayerError) -> [(name: String, kind: String)] {
        let requested = outputs ?? (outputNames.isEmpty ? nodes.last.map { [$0.name] } ?? [] : outputNames)
        for name in requested where indexByName[name] == nil { throw LayerError(layer: name, "is not in the graph") }
        return inferencePlan(outputs: requested).steps.map { ($0.name, $0.kind) }
    }

    /// `forward` for a graph with one input, returning the single requested output (default:
    /// the graph's output).
    public func callAsFunction(_ input: Tensor, output: String? = nil, mode: Mode = .inference) throws(LayerError)
        -> Tensor
    {
        guard inputNames.count == 1 else {
            throw LayerError(layer: "graph", "has \(inputNames.count) inputs; use forward(_:outputs:mode:)")
        }
        let name = output ?? outputNames.first ?? nodes.last?.name ?? ""
        let results = try forward([inputNames[0]: input], outputs: [name], mode: mode)
        guard let result = results[name] else { throw LayerError(layer: name, "produced no output") }
        return result
    }

    /// The cached inference plan for these outputs, rebuilt when the graph or a weight of a layer
    /// they depend on changed (a frozen prefix keeps its plan while the layers above it train).
    func inferencePlan(outputs: [String]) -> InferencePlan {
        var needed = Set(outputs)
        var versions = 0
        for node in nodes.reversed() where needed.contains(node.name) {
            needed.formUnion(node.inputs)
            versions = node.layer?.parameters.reduce(versions) { $0 &+ $1.version } ?? versions
        }
        let key = outputs.joined(separator: "\u{1}") + "#\(versions)"
        if let planCache, planCache.key == key { return planCache.plan }
        let plan = InferencePlan(graph: self, outputs: outputs, options: engineOptions)
        planCache = (key, plan)
        return plan
    }
}

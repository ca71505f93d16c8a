import SightlineCore
import SightlineNN

/// How a builder fills the weights of a new network.
public enum InitialWeights: Sendable, Equatable {
    /// Keras's default initialisers (Glorot-uniform kernels, zero biases, γ = 1, β = 0,
    /// moving mean 0 and variance 1) drawn from a generator seeded with `seed`.
    case random(seed: UInt64)
    /// All kernels zero: fast, for shape checks and for networks whose weights are loaded next.
    case zeros
}

/// The global pooling applied to a headless network's last feature map (Keras's `pooling`).
public enum GlobalPooling: String, Sendable, CaseIterable {
    /// Keep the 4-D feature map.
    case none
    /// `GlobalAveragePooling2D`.
    case avg
    /// `GlobalMaxPooling2D`.
    case max
}

/// Builds a `Graph` in the functional style: each method adds one layer reading the given node,
/// takes its input channels from the graph's inferred shapes, and returns the new node's name.
struct NetworkBuilder {
    let graph = Graph()
    private var generator: SeededGenerator
    private let initializer: Initializer
    /// Maps each layer's canonical name to the name it gets (legacy naming schemes).
    var rename: (String) -> String = { $0 }
    /// Overrides the architecture's BatchNorm epsilon.
    var batchNormEpsilon: Float?

    init(inputShape: [Int], weights: InitialWeights, inputName: String = "input_1") throws(LayerError) {
        switch weights {
        case .random(let seed):
            generator = SeededGenerator(seed: seed)
            initializer = .glorotUniform
        case .zeros:
            generator = SeededGenerator(seed: 0)
            initializer = .zeros
        }
        try graph.addInput(name: inputName, shape: inputShape)
    }

    private func channels(of node: String) -> Int { graph.shape(of: node)?.last ?? 0 }

    @discardableResult
    mutating func conv(
        _ name: String, _ input: String, filters: Int, kernel: Int, strides: Int = 1, padding: Padding = .valid,
        activation: ActivationFunction = .linear, useBias: Bool = true, groups: Int = 1
    ) throws(LayerError) -> String {
        if groups > 1 {
            let kernel = initializer.tensor(
                shape: [kernel, kernel, channels(of: input) / groups, filters], generator: &generator)
            let layer = GroupedConv2D(
                name: rename(name), kernel: kernel, bias: useBias ? Tensor(zeros: [filters]) : nil, groups: groups,
                strides: (strides, strides), padding: padding, activation: activation)
            return try graph.add(layer, inputs: [input])
        }
        let layer = Conv2D(
            name: rename(name), inputChannels: channels(of: input), filters: filters, kernelSize: (kernel, kernel),
            strides: (strides, strides),
            padding: padding, useBias: useBias, activation: activation, initializer: initializer, generator: &generator)
        return try graph.add(layer, inputs: [input])
    }

    mutating func dense(_ name: String, _ input: String, units: Int, activation: ActivationFunction = .linear)
        throws(LayerError) -> String
    {
        let layer = Dense(
            name: rename(name), inputFeatures: channels(of: input), units: units, activation: activation,
            initializer: initializer, generator: &generator)
        return try graph.add(layer, inputs: [input])
    }

    func batchNorm(_ name: String, _ input: String, epsilon: Float) throws(LayerError) -> String {
        try graph.add(
            BatchNormalization(name: rename(name), channels: channels(of: input), epsilon: epsilon), inputs: [input])
    }

    func activation(_ name: String, _ input: String, _ function: ActivationFunction) throws(LayerError) -> String {
        try graph.add(Activation(name: name, function), inputs: [input])
    }

    func add(_ layer: any Layer, _ inputs: String...) throws(LayerError) -> String {
        try graph.add(layer, inputs: inputs)
    }

    /// Keras Applications' classifier or pooling tail: with `includeTop`, whatever `top` adds;
    /// otherwise the requested global pooling named as in Keras (`avgName`, `maxName`).
    func pooled(_ input: String, pooling: GlobalPooling, avgName: String, maxName: String) throws(LayerError) -> String
    {
        switch pooling {
        case .none: return input
        case .avg: return try add(GlobalPooling2D(name: avgName, kind: .average), input)
        case .max: return try add(GlobalPooling2D(name: maxName, kind: .max), input)
        }
    }
}

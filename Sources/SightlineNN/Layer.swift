import SightlineCore

/// Whether a forward pass is for inference or for training. Always passed explicitly; there is
/// no global learning phase. In `.training`, BatchNormalization uses batch statistics (unless
/// frozen) and Dropout drops; in `.inference` both are identities over their stored state.
public enum Mode: Sendable, Equatable {
    case inference
    case training
}

/// The result of a layer's forward pass: the output and whatever the backward pass needs
/// besides the inputs and the output (a dropout mask, batch statistics), as tensors.
public struct LayerOutput: Sendable {
    /// The layer's output.
    public var output: Tensor
    /// Values the backward pass needs; their meaning is documented per layer. Empty for most.
    public var saved: [Tensor]

    public init(_ output: Tensor, saved: [Tensor] = []) {
        self.output = output
        self.saved = saved
    }
}

/// What a backward call must compute.
public struct GradientNeeds: OptionSet, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    /// The gradient with respect to each input.
    public static let input = GradientNeeds(rawValue: 1)
    /// Gradients of the trainable parameters, added into `Parameter.gradient`.
    public static let parameters = GradientNeeds(rawValue: 2)
    public static let all: GradientNeeds = [.input, .parameters]

    /// True when `parameter` exists, is trainable, and parameter gradients are wanted.
    public func wants(_ parameter: Parameter?) -> Bool {
        contains(.parameters) && parameter?.isTrainable == true
    }
}

/// Every failure of SightlineNN: a layer shape mismatch, an invalid configuration, or a Keras
/// config Sightline cannot turn into a layer, naming the layer and, for configs, its Keras class
/// and the field at fault.
public struct LayerError: Error, CustomStringConvertible, Equatable {
    public var layer: String
    /// The Keras class of a config that cannot be imported or written (`Conv2D`), else nil.
    public var className: String?
    /// The config key at fault (`strides`, `rate`, …), or nil when the layer as a whole is.
    public var field: String?
    /// What is wrong, and the fix where there is one.
    public var message: String

    public init(layer: String, _ message: String) {
        self.layer = layer
        self.message = message
    }

    /// A Keras config problem: the layer, its class and the field at fault.
    public init(layer: String, className: String, field: String? = nil, reason: String) {
        (self.layer, self.className, self.field, self.message) = (layer, className, field, reason)
    }

    public var description: String {
        guard let className else { return "layer '\(layer)': \(message)" }
        return "layer '\(layer)' (\(className)): " + (field.map { "'\($0)' " } ?? "") + message
    }
}

/// A layer of a CNN, with a hand-written forward and backward pass side by side.
///
/// Conventions (for every layer):
/// - Activations are NHWC Float32 `[batch, height, width, channels]`; shapes passed to
///   `outputShape(for:)` leave out the batch axis.
/// - `parameters` lists the weights in Keras's order and with Keras's names (`kernel`, `bias`,
///   `gamma`, `beta`, `moving_mean`, `moving_variance`, …), in Keras layouts (HWIO, `(in, out)`).
/// - `backward` receives the gradient of the loss with respect to the output, the inputs and
///   the `LayerOutput` of the same forward call. It adds parameter gradients into
///   `Parameter.gradient` for trainable parameters when `needs` contains `.parameters`, and
///   returns one input gradient per input when it contains `.input` (else an empty array,
///   skipping that work).
public protocol Layer: AnyObject {
    /// The layer's name, unique within its graph (Keras's layer name).
    var name: String { get }
    /// The layer's weights and state, in Keras's order.
    var parameters: [Parameter] { get }
    /// Whether the layer trains (Keras's `layer.trainable`). Setting it sets every weight's
    /// `isTrainable`; state such as moving statistics never trains.
    var isTrainable: Bool { get set }
    /// The output shape (without batch axis) for the given input shapes, or an error naming
    /// the layer when they do not fit.
    func outputShape(for inputShapes: [[Int]]) throws(LayerError) -> [Int]
    /// Computes the output for `inputs` (one tensor for most layers; several for merges).
    func forward(_ inputs: [Tensor], mode: Mode) -> LayerOutput
    /// Back-propagates `outputGradient` (same shape as the output); see the protocol notes.
    func backward(_ outputGradient: Tensor, inputs: [Tensor], forward: LayerOutput, mode: Mode, needs: GradientNeeds)
        -> [Tensor]
    /// `forward(_:mode:)` under a graph's engine settings (kernel route, precision): what a
    /// graph calls, so the settings travel with each run instead of living in layer objects
    /// that several graphs share. Layers whose arithmetic ignores them keep the default.
    func forward(_ inputs: [Tensor], mode: Mode, options: EngineOptions) -> LayerOutput
    /// `backward(_:inputs:forward:mode:needs:)` under a graph's engine settings.
    func backward(
        _ outputGradient: Tensor, inputs: [Tensor], forward: LayerOutput, mode: Mode, needs: GradientNeeds,
        options: EngineOptions
    ) -> [Tensor]
}

/// A layer whose arithmetic depends on the engine settings (the convolutions: kernel route,
/// precision, threads). It implements the `options:` forms; the plain forms run them under the
/// default settings.
public protocol EngineSettingsLayer: Layer {}

extension EngineSettingsLayer {
    public func forward(_ inputs: [Tensor], mode: Mode) -> LayerOutput {
        forward(inputs, mode: mode, options: EngineOptions())
    }

    public func backward(
        _ outputGradient: Tensor, inputs: [Tensor], forward: LayerOutput, mode: Mode, needs: GradientNeeds
    ) -> [Tensor] {
        backward(outputGradient, inputs: inputs, forward: forward, mode: mode, needs: needs, options: EngineOptions())
    }
}

extension Layer {
    public var parameters: [Parameter] { [] }

    public func forward(_ inputs: [Tensor], mode: Mode, options: EngineOptions) -> LayerOutput {
        forward(inputs, mode: mode)
    }

    public func backward(
        _ outputGradient: Tensor, inputs: [Tensor], forward: LayerOutput, mode: Mode, needs: GradientNeeds,
        options: EngineOptions
    ) -> [Tensor] {
        backward(outputGradient, inputs: inputs, forward: forward, mode: mode, needs: needs)
    }

    public var isTrainable: Bool {
        get { parameters.contains { $0.isTrainable } }
        set { for parameter in parameters where parameter.role == .weight { parameter.isTrainable = newValue } }
    }

    /// The number of scalars in all parameters, trainable or not (Keras's `count_params`).
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.value.count } }

    /// The parameter with the given Keras weight name.
    public func parameter(named name: String) -> Parameter? {
        parameters.first { $0.name == name }
    }

    /// Checks the number of inputs and returns the single input's shape.
    func singleInputShape(_ shapes: [[Int]], rank: Int? = nil) throws(LayerError) -> [Int] {
        guard shapes.count == 1 else { throw LayerError(layer: name, "expects 1 input, got \(shapes.count)") }
        if let rank, shapes[0].count != rank {
            throw LayerError(
                layer: name,
                "expects an input of rank \(rank + 1) including the batch axis, got shape \(["N"] + shapes[0].map(String.init))"
            )
        }
        return shapes[0]
    }
}

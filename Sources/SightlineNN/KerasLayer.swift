import SightlineCore

/// Everything Sightline knows about a layer type's Keras counterpart, declared in the layer's
/// own file: the Keras class names it imports, a validating factory from a Keras `config`, the
/// config it writes, its arithmetic cost, how it grows a receptive field, and whether the
/// inference plan may fold a following activation into it.
///
/// Adding a layer type is its file (the layer plus this conformance) and one entry in
/// `KerasLayers.types`. The types themselves are `SendableMetatype`: the registry of them is a
/// constant any thread may read.
public protocol KerasLayer: Layer, SendableMetatype {
    /// Keras class names read as this type, the usual one first (`MaxPooling2D`, `MaxPool2D`).
    static var kerasClassNames: [String] { get }
    /// The layer for one Keras config, for inputs of `inputShapes` (without the batch axis),
    /// with zero weights of the right shapes. Every config value is validated: a value that is
    /// out of range or of the wrong type is a `LayerError` naming the field.
    static func make(_ config: KerasConfig, inputShapes: [[Int]]) throws(LayerError) -> any Layer
    /// The Keras class this layer is written as (defaults to the first of `kerasClassNames`).
    var kerasClassName: String { get }
    /// The Keras config to write (name, trainable and dtype are added by the writer); options
    /// left out take Keras's defaults. Throws when the layer has no Keras form.
    func kerasConfig() throws(LayerError) -> [String: Any]
    /// Floating-point operations of one forward pass over one image (multiply-add = 2).
    /// Defaults to one per output value.
    func flops(inputShapes: [[Int]], outputShape: [Int]) -> Int
    /// How the layer changes the receptive field of its output (defaults to `.keep`).
    var receptiveWindow: ReceptiveWindow { get }
    /// True when the inference plan may apply a following activation layer in this layer's
    /// output pass (its own activation is linear). Defaults to false.
    var absorbsFollowingActivation: Bool { get }
    /// The Keras 2 `inbound_nodes` entry for a call on `inputs`, when the layer needs more
    /// than tensor references (an operator's constant); nil for the usual form.
    func kerasInboundNode(inputs: [String]) -> Any?
    /// True when Keras calls the layer on a list of tensors (`Add()([a, b])`), so Keras 3's
    /// `inbound_nodes` hold them as one list argument. Defaults to false.
    var kerasTakesTensorList: Bool { get }
    /// The Python module Keras 3 imports the class from (`keras.layers` unless the class lives
    /// in Keras Applications, as ConvNeXt's `LayerScale`).
    var kerasModule: String { get }
}

/// How a layer changes the receptive field of the values it produces.
public enum ReceptiveWindow: Sendable {
    /// Element-wise or channel-wise: the field of the (widest) input.
    case keep
    /// Every output sees the whole input (dense, global pooling): no spatial field.
    case reset
    /// A sliding window.
    case window(kernel: (Int, Int), stride: (Int, Int), dilation: (Int, Int))
}

extension KerasLayer {
    public var kerasClassName: String { Self.kerasClassNames[0] }
    public func flops(inputShapes: [[Int]], outputShape: [Int]) -> Int { outputShape.reduce(1, *) }
    public var receptiveWindow: ReceptiveWindow { .keep }
    public var absorbsFollowingActivation: Bool { false }
    public func kerasInboundNode(inputs: [String]) -> Any? { nil }
    public var kerasModule: String { "keras.layers" }
    public var kerasTakesTensorList: Bool { false }

    /// An error about this layer's config when it is written.
    func unwritable(_ reason: String, field: String? = nil) -> LayerError {
        LayerError(
            layer: name, className: kerasClassName, field: field,
            reason: "cannot be saved in the Keras format: " + reason)
    }

    /// The Keras name of `function`, or an error saying to use a separate activation layer.
    func kerasActivationName(_ function: ActivationFunction) throws(LayerError) -> String {
        guard let name = function.kerasName else {
            throw unwritable(
                "the fused activation \(function) has no Keras name; use a separate activation layer",
                field: "activation")
        }
        return name
    }

    /// Keras's name for `padding`; explicit padding has none.
    func kerasPadding(_ padding: Padding) throws(LayerError) -> String {
        switch padding {
        case .valid: return "valid"
        case .same: return "same"
        case .explicit:
            throw unwritable("explicit padding has no Keras equivalent; use ZeroPadding2D", field: "padding")
        }
    }
}

/// The registry of layer types Sightline imports from and writes to Keras configs.
public enum KerasLayers {
    /// Every Keras-backed layer type. Add a new layer type here.
    public static let types: [any KerasLayer.Type] = [
        Conv2D.self, DepthwiseConv2D.self, SeparableConv2D.self, Dense.self, BatchNormalization.self, Activation.self,
        Pooling2D.self, GlobalPooling2D.self, ZeroPadding2D.self, Reshape.self, Dropout.self, Merge.self,
        Rescaling.self,
        Normalization.self, LayerNormalization.self, Cropping2D.self, UpSampling2D.self, LayerScale.self,
        TensorOperation.self,
        CustomScaleLayer.self, Slice.self,
    ]

    /// Class name → type.
    static let byClassName: [String: any KerasLayer.Type] = {
        var table: [String: any KerasLayer.Type] = [:]
        for type in types { for name in type.kerasClassNames { table[name] = type } }
        return table
    }()

    /// Every class name Sightline imports.
    public static var classNames: [String] { byClassName.keys.sorted() }

    /// The layer for one Keras config entry; unknown classes are an error naming the layer and class.
    public static func make(_ config: KerasConfig, inputShapes: [[Int]]) throws(LayerError) -> any Layer {
        guard let type = byClassName[config.className] else {
            if config.className == "Lambda" {
                throw config.error(
                    "runs Python code stored in the file, and Sightline never executes code from a file; rebuild the model with built-in layers"
                )
            }
            throw config.error("this layer type is not supported by Sightline's engine")
        }
        return try type.make(config, inputShapes: inputShapes)
    }

    /// The Keras class name of `layer` (its Swift type name when it has no Keras form).
    public static func className(of layer: any Layer) -> String {
        (layer as? any KerasLayer)?.kerasClassName ?? String(describing: type(of: layer))
    }
}

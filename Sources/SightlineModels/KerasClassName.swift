extension Layer {
    /// The Keras class this layer corresponds to (`Conv2D`, `BatchNormalization`, …).
    public var kerasClassName: String {
        switch self {
        case is Conv2D: return "Conv2D"
        case is DepthwiseConv2D: return "DepthwiseConv2D"
        case is SeparableConv2D: return "SeparableConv2D"
        case is Dense: return "Dense"
        case is BatchNormalization: return "BatchNormalization"
        case is Activation: return "Activation"
        case let pool as Pooling2D: return pool.kind == .max ? "MaxPooling2D" : "AveragePooling2D"
        case let pool as GlobalPooling2D: return pool.kind == .max ? "GlobalMaxPooling2D" : "GlobalAveragePooling2D"
        case is ZeroPadding2D: return "ZeroPadding2D"
        case let reshape as Reshape: return reshape.targetShape == nil ? "Flatten" : "Reshape"
        case is Dropout: return "Dropout"
        case let merge as Merge:
            switch merge.operation {
            case .add: return "Add"
            case .multiply: return "Multiply"
            case .concatenate: return "Concatenate"
            }
        case is Rescaling: return "Rescaling"
        default: return String(describing: type(of: self))
        }
    }
}

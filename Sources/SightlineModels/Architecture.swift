import SightlineNN

/// The built-in architectures, by their Keras Applications names.
public enum Architecture: String, Sendable, CaseIterable {
    case vgg16, vgg19, resnet50, resnet101, resnet152
    /// ResNet50 with the layer names of Keras ≤ 2.2 (`conv1`, `bn_conv1`, `res2a_branch2a`, …,
    /// `fc1000`) and BatchNorm epsilon 1e-3, as in the old `resnet50_weights_tf_dim_ordering`
    /// file (v0.2 release).
    case resnet50Legacy = "resnet50-legacy"
    /// torchvision's ResNets (v1.5, see `TorchVisionResNet`), from `pretrained/convert_torchvision.py`.
    case torchvisionResnet18 = "torchvision-resnet18"
    case torchvisionResnet34 = "torchvision-resnet34"
    case torchvisionResnet50 = "torchvision-resnet50"
    case torchvisionResnet101 = "torchvision-resnet101"
    case torchvisionResnet152 = "torchvision-resnet152"
    /// torchvision's other VGGs, with Keras's layer names (`VGG`): VGG11 and VGG13, and the four
    /// with BatchNorm after every convolution. Only torchvision publishes weights for these.
    case vgg11, vgg13
    case vgg11BatchNorm = "vgg11-bn"
    case vgg13BatchNorm = "vgg13-bn"
    case vgg16BatchNorm = "vgg16-bn"
    case vgg19BatchNorm = "vgg19-bn"

    /// The preprocessing the published weights for this architecture expect: `caffe` for Keras
    /// Applications, `torch` for torchvision.
    public var preprocessing: Preprocessing {
        torchvisionDepth == nil && vggVariant == nil ? .caffe : .torch
    }

    /// The torchvision-only VGGs: depth and BatchNorm.
    var vggVariant: (depth: VGG.Depth, batchNorm: Bool)? {
        switch self {
        case .vgg11: return (.vgg11, false)
        case .vgg13: return (.vgg13, false)
        case .vgg11BatchNorm: return (.vgg11, true)
        case .vgg13BatchNorm: return (.vgg13, true)
        case .vgg16BatchNorm: return (.vgg16, true)
        case .vgg19BatchNorm: return (.vgg19, true)
        default: return nil
        }
    }

    /// The VGG architecture with `blocks` convolutions per block, with or without BatchNorm.
    public static func vgg(convolutionsPerBlock blocks: [Int], batchNorm: Bool) -> Architecture? {
        guard let depth = VGG.Depth(convolutionsPerBlock: blocks) else { return nil }
        switch (depth, batchNorm) {
        case (.vgg16, false): return .vgg16
        case (.vgg19, false): return .vgg19
        default: return allCases.first { $0.vggVariant.map { ($0.depth, $0.batchNorm) == (depth, batchNorm) } ?? false }
        }
    }

    /// The torchvision depth, for the torchvision architectures.
    var torchvisionDepth: TorchVisionResNet.Depth? {
        guard rawValue.hasPrefix("torchvision-") else { return nil }
        return TorchVisionResNet.Depth(rawValue: String(rawValue.dropFirst("torchvision-".count)))
    }

    /// Builds the network; see `VGG.build` and `ResNet.build` for the parameters.
    public func build(
        includeTop: Bool = true, pooling: GlobalPooling = .none, classes: Int = 1000,
        inputShape: [Int] = [224, 224, 3],
        weights: InitialWeights, widthDivisor: Int = 1
    ) throws(LayerError) -> Graph {
        switch self {
        case .vgg16, .vgg19:
            return try VGG.build(
                self == .vgg16 ? .vgg16 : .vgg19, includeTop: includeTop, pooling: pooling, classes: classes,
                inputShape: inputShape,
                weights: weights, widthDivisor: widthDivisor)
        case .vgg11, .vgg13, .vgg11BatchNorm, .vgg13BatchNorm, .vgg16BatchNorm, .vgg19BatchNorm:
            let variant = vggVariant ?? (.vgg16, false)
            return try VGG.build(
                variant.depth, includeTop: includeTop, pooling: pooling, classes: classes, inputShape: inputShape,
                weights: weights, widthDivisor: widthDivisor, batchNorm: variant.batchNorm)
        case .torchvisionResnet18, .torchvisionResnet34, .torchvisionResnet50, .torchvisionResnet101,
            .torchvisionResnet152:
            return try TorchVisionResNet.build(
                torchvisionDepth ?? .resnet50, includeTop: includeTop, pooling: pooling, classes: classes,
                inputShape: inputShape,
                weights: weights, widthDivisor: widthDivisor)
        case .resnet50, .resnet101, .resnet152, .resnet50Legacy:
            let depth: ResNet.Depth = self == .resnet101 ? .resnet101 : self == .resnet152 ? .resnet152 : .resnet50
            return try ResNet.build(
                depth, includeTop: includeTop, pooling: pooling, classes: classes, inputShape: inputShape,
                weights: weights,
                widthDivisor: widthDivisor, legacyNames: self == .resnet50Legacy)
        }
    }
}

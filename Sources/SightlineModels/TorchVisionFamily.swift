import SightlineNN

/// The torchvision families Sightline builds from a state dict's own shapes: the network's
/// widths, depths, kernel sizes and groups are read from the weights, so every published size
/// of a family (and a narrower or shallower one) builds from its file without `--arch`.
public enum TorchVisionFamily: String, Sendable, CaseIterable {
    case resnet = "ResNet"
    case resnext = "ResNeXt"
    case wideResnet = "Wide ResNet"
    case mobilenetV2 = "MobileNetV2"
    case mobilenetV3 = "MobileNetV3"
    case efficientnet = "EfficientNet"
    case densenet = "DenseNet"
    case convnext = "ConvNeXt"
    case regnet = "RegNet"

    /// The family whose module names `s` has, or nil.
    public static func recognise(_ s: StateDictShapes) -> TorchVisionFamily? {
        if s.has("conv1"), s.has("layer1.0.conv1") {
            guard let resnet = ResNetShape(s) else { return .resnet }
            return resnet.groups > 1 ? .resnext : resnet.widthScale > 1 ? .wideResnet : .resnet
        }
        if TorchVisionMobileNet.isV2(s) { return .mobilenetV2 }
        if TorchVisionMobileNet.isV3(s) { return .mobilenetV3 }
        if TorchVisionEfficientNet.matches(s) { return .efficientnet }
        if TorchVisionDenseNet.matches(s) { return .densenet }
        if TorchVisionConvNeXt.matches(s) { return .convnext }
        if TorchVisionRegNet.matches(s) { return .regnet }
        return nil
    }

    /// The family's network for the state dict `s` (zero weights; load `s`'s file next), input
    /// `[H, W, 3]`; with the classifier when `s` has one, else ending in global average pooling.
    public func build(_ s: StateDictShapes, inputShape: [Int]) throws(LayerError) -> Graph {
        switch self {
        case .resnet, .resnext, .wideResnet:
            guard let r = ResNetShape(s) else {
                throw LayerError(layer: "layer1", "not torchvision's ResNet layout (conv1, bn1, layer1–4, fc)")
            }
            return try TorchVisionResNet.build(
                blocks: r.blocks, bottleneck: r.bottleneck, groups: r.groups, widthScale: r.widthScale,
                includeTop: r.classes != nil, pooling: .avg, classes: r.classes ?? 0, inputShape: inputShape,
                weights: .zeros, widthDivisor: r.widthDivisor)
        case .mobilenetV2: return try TorchVisionMobileNet.buildV2(s, inputShape: inputShape)
        case .mobilenetV3: return try TorchVisionMobileNet.buildV3(s, inputShape: inputShape)
        case .efficientnet: return try TorchVisionEfficientNet.build(s, inputShape: inputShape)
        case .densenet: return try TorchVisionDenseNet.build(s, inputShape: inputShape)
        case .convnext: return try TorchVisionConvNeXt.build(s, inputShape: inputShape)
        case .regnet: return try TorchVisionRegNet.build(s, inputShape: inputShape)
        }
    }

    /// A torchvision ResNet's configuration as its weights give it.
    struct ResNetShape {
        var blocks: [Int], bottleneck: Bool, groups: Int, widthScale: Int, widthDivisor: Int, classes: Int?

        init?(_ s: StateDictShapes) {
            guard let stem = s.shape("conv1")?.last, stem > 0, 64 % stem == 0,
                let conv2 = s.shape("layer1.0.conv2"), let width = s.shape("layer1.0.conv1")?.last
            else { return nil }
            blocks = (1...4).map { stage in (0..<64).prefix { s.has("layer\(stage).\($0).conv1") }.count }
            bottleneck = s.has("layer1.0.conv3")
            widthDivisor = 64 / stem
            let planes = stem
            guard conv2[2] > 0, width % conv2[2] == 0, width % planes == 0 else { return nil }
            groups = bottleneck ? width / conv2[2] : 1
            widthScale = bottleneck ? width / planes : 1
            classes = s.shape("fc")?.last
        }
    }
}

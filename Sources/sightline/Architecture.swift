import ArgumentParser
import SightlineModels

/// The built-in architectures, by their Keras Applications names.
enum Architecture: String, CaseIterable, ExpressibleByArgument {
    case vgg16, vgg19, resnet50, resnet101, resnet152

    /// Builds the network with the given top and initial weights.
    func build(includeTop: Bool = true, pooling: GlobalPooling = .none, inputShape: [Int] = [224, 224, 3], weights: InitialWeights) throws -> Graph {
        switch self {
        case .vgg16: return try VGG.build(.vgg16, includeTop: includeTop, pooling: pooling, inputShape: inputShape, weights: weights)
        case .vgg19: return try VGG.build(.vgg19, includeTop: includeTop, pooling: pooling, inputShape: inputShape, weights: weights)
        case .resnet50: return try ResNet.build(.resnet50, includeTop: includeTop, pooling: pooling, inputShape: inputShape, weights: weights)
        case .resnet101: return try ResNet.build(.resnet101, includeTop: includeTop, pooling: pooling, inputShape: inputShape, weights: weights)
        case .resnet152: return try ResNet.build(.resnet152, includeTop: includeTop, pooling: pooling, inputShape: inputShape, weights: weights)
        }
    }
}

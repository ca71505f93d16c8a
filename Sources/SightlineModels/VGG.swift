import SightlineNN

/// VGG in the Keras Applications topology and layer names.
///
/// "Very Deep Convolutional Networks for Large-Scale Image Recognition", K. Simonyan and
/// A. Zisserman, 2014 (arXiv:1409.1556). Configurations A (11), B (13), D (16) and E (19): five
/// blocks of 3×3 `same` convolutions with ReLU (`block{b}_conv{i}`), each closed by 2×2 max
/// pooling (`block{b}_pool`); the top is `flatten`, `fc1`, `fc2` (4096, ReLU) and `predictions`
/// (softmax). Preprocessing for Keras weights (VGG16 and VGG19) is `caffe`. With `batchNorm`,
/// torchvision's `vgg*_bn`: each convolution (with bias) is followed by `block{b}_conv{i}_bn`
/// (BatchNorm, ε 1e-5) and `block{b}_conv{i}_relu`.
public enum VGG {
    /// The depth variant: convolutions per block.
    public enum Depth: String, Sendable, CaseIterable {
        case vgg11, vgg13, vgg16, vgg19

        var convolutionsPerBlock: [Int] {
            switch self {
            case .vgg11: return [1, 1, 2, 2, 2]
            case .vgg13: return [2, 2, 2, 2, 2]
            case .vgg16: return [2, 2, 3, 3, 3]
            case .vgg19: return [2, 2, 4, 4, 4]
            }
        }

        /// The variant with these convolutions per block.
        public init?(convolutionsPerBlock blocks: [Int]) {
            guard let depth = Self.allCases.first(where: { $0.convolutionsPerBlock == blocks }) else { return nil }
            self = depth
        }
    }

    static let filtersPerBlock = [64, 128, 256, 512, 512]

    /// Builds the network.
    /// - Parameters:
    ///   - inputShape: `[H, W, 3]`; the classifier top expects `[224, 224, 3]`, as in Keras.
    ///   - includeTop: add `flatten`, `fc1`, `fc2` and `predictions`.
    ///   - pooling: without the top, global pooling after `block5_pool`.
    ///   - classes: outputs of `predictions`.
    ///   - widthDivisor: divides every convolution's filters and the `fc` units (1 for the real
    ///     network; the tests use 32 for small fixtures of the same topology).
    ///   - batchNorm: torchvision's `_bn` variant (BatchNorm after each convolution).
    public static func build(
        _ depth: Depth, includeTop: Bool = true, pooling: GlobalPooling = .none, classes: Int = 1000,
        inputShape: [Int] = [224, 224, 3], weights: InitialWeights = .random(seed: 0), widthDivisor: Int = 1,
        batchNorm: Bool = false
    ) throws(LayerError) -> Graph {
        var b = try NetworkBuilder(inputShape: inputShape, weights: weights)
        var x = "input_1"
        for (block, count) in depth.convolutionsPerBlock.enumerated() {
            for i in 1...count {
                let name = "block\(block + 1)_conv\(i)"
                x = try b.conv(
                    name, x, filters: filtersPerBlock[block] / widthDivisor, kernel: 3, padding: .same,
                    activation: batchNorm ? .linear : .relu)
                if batchNorm {
                    x = try b.batchNorm(name + "_bn", x, epsilon: 1e-5)
                    x = try b.activation(name + "_relu", x, .relu)
                }
            }
            x = try b.add(Pooling2D(name: "block\(block + 1)_pool", kind: .max), x)
        }
        if includeTop {
            x = try b.add(Reshape.flatten(name: "flatten"), x)
            x = try b.dense("fc1", x, units: 4096 / widthDivisor, activation: .relu)
            x = try b.dense("fc2", x, units: 4096 / widthDivisor, activation: .relu)
            x = try b.dense("predictions", x, units: classes, activation: .softmax)
        } else {
            x = try b.pooled(x, pooling: pooling, avgName: "global_average_pooling2d", maxName: "global_max_pooling2d")
        }
        b.graph.outputNames = [x]
        return b.graph
    }
}

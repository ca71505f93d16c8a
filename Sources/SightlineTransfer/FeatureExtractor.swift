import Foundation
import SightlineCore
import SightlineModels
import SightlineNN
import SightlineVision
import SightlineWeights

/// Runs images through a model up to one layer and returns per-image features.
public struct FeatureExtractor {
    public let model: LoadedModel
    /// The node whose output is extracted.
    public let layer: String
    /// Global pooling applied to a 4-D layer output.
    public let pooling: GlobalPooling
    public let policy: ResizePolicy
    public let maxPixels: Int
    /// Decode JPEGs at full size even when a reduced DCT-scaled decode would cover the input.
    public var exactDecode = false
    /// The model's input height and width.
    public let inputSize: (height: Int, width: Int)
    /// The model's input channels (1, 3 or 4); images are converted to it.
    public let channels: Int

    /// - Parameters:
    ///   - layer: a node name; default `defaultLayer(of:)`.
    ///   - pooling: for 4-D outputs; default `.avg`.
    public init(
        model: LoadedModel, layer: String? = nil, pooling: GlobalPooling = .avg, policy: ResizePolicy = .squash,
        maxPixels: Int = RGBImage.defaultMaxPixels
    ) throws {
        let graph = model.graph
        let name = layer ?? Self.defaultLayer(of: graph)
        guard graph.node(named: name) != nil else {
            throw TransferError(.option, subject: "--layer", graph.unknownLayerMessage(name))
        }
        guard let input = graph.inputNames.first, let shape = graph.shape(of: input), shape.count == 3,
            ImageChannels.supported.contains(shape[2])
        else {
            throw TransferError(
                .model,
                "the model's input \(graph.inputNames.first.flatMap(graph.shape(of:)) ?? []) is not an image of 1, 3 or 4 channels"
            )
        }
        if let problem = model.preprocessing.problem(channels: shape[2]) { throw TransferError(.model, problem) }
        self.model = model
        self.layer = name
        self.pooling = pooling
        self.policy = policy
        self.maxPixels = maxPixels
        self.inputSize = (shape[0], shape[1])
        self.channels = shape[2]
    }

    /// The layer that feeds the classifier head: the input of the last `Dense` on the path to
    /// the output, before any dropout (VGG16's `fc2`, ResNet50's `avg_pool`, a fine-tuned
    /// model's `head_pool`), or the output of a headless model.
    public static func defaultLayer(of graph: Graph) -> String {
        var name = graph.outputNames.first ?? graph.nodes.last?.name ?? ""
        while let node = graph.node(named: name), node.inputs.count == 1 {
            if node.layer is Dense {
                // Dropout before the head is the identity at inference: take what it reads.
                var feature = node.inputs[0]
                while let previous = graph.node(named: feature), previous.layer is Dropout,
                    let input = previous.inputs.first
                { feature = input }
                return feature
            }
            guard node.layer is Activation || node.layer is Dropout else { break }
            name = node.inputs[0]
        }
        return graph.outputNames.first ?? name
    }

    /// The per-image feature shape (after pooling).
    public var featureShape: [Int] {
        let shape = model.graph.shape(of: layer) ?? []
        return shape.count == 3 && pooling != .none ? [shape[2]] : shape
    }

    /// Decodes and prepares one image as `[H, W, C]` in 0…255 (before preprocessing), C the
    /// model's input channels (grayscale as PIL's `L`).
    public func prepare(_ path: String) throws -> Tensor { try decoder(path) }

    /// `prepare` as a function that worker threads may call.
    public var decoder: @Sendable (String) throws -> Tensor {
        let (size, policy, maxPixels, channels) = (inputSize, self.policy, self.maxPixels, self.channels)
        // The decoded image must still cover the input after the policy's resize; the crop
        // policy needs the shorter side at `shorter`, squash needs each side at the target.
        let needed = policy.decodedSide(height: size.height, width: size.width)
        let atLeast: (Int, Int)? = exactDecode ? nil : (needed, needed)
        return { path in
            try RGBImage(contentsOf: path, maxPixels: maxPixels, atLeast: atLeast).prepared(
                height: size.height, width: size.width, policy: policy, channels: channels)
        }
    }

    /// Features for prepared images `[N, H, W, C]`: `[N] + featureShape`.
    public func features(of images: Tensor) throws -> Tensor {
        let graph = model.graph
        guard let input = graph.inputNames.first else { throw TransferError(.model, "the model has no input") }
        let output = try graph.forward([input: model.preprocessing.apply(to: images)], outputs: [layer])
        guard var value = output[layer] else { throw TransferError(.model, "layer '\(layer)' produced no output") }
        if value.rank == 4 && pooling != .none {
            value =
                GlobalPooling2D(name: "pool", kind: pooling == .max ? .max : .average).forward(
                    [value], mode: .inference
                ).output
        }
        return value
    }
}

import Foundation
import SightlineCore
import SightlineData
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
    /// The model's input: size, channels (images are converted to them), resize policy, decode
    /// and preprocessing. JPEGs decode DCT-scaled when that still covers the input unless
    /// `input.scaledDecode` is turned off (`--exact-decode`).
    public var input: ModelInput

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
        self.model = model
        self.layer = name
        self.pooling = pooling
        input = try ModelInput(
            graph: graph, preprocessing: model.preprocessing, policy: policy, maxPixels: maxPixels, scaledDecode: true)
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

    /// Features for a batch from `input`'s preparation (decoded and preprocessed) `[N, H, W, C]`:
    /// `[N] + featureShape`.
    public func features(ofPreprocessed images: Tensor) throws -> Tensor {
        let graph = model.graph
        guard let input = graph.inputNames.first else { throw TransferError(.model, "the model has no input") }
        let output = try graph.forward([input: images], outputs: [layer])
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

import SightlineModels
import SightlineNN
import SightlineWeights

/// A head written by `HeadTrainer` (`train-head`) and the features it was trained on: the one
/// way `predict --head`, `evaluate --head`, `convert --head` and `finetune --head` put a head
/// back on its backbone.
///
/// The head reads the backbone's node `featureLayer` (the file's `sightline_head_layer`) after
/// the global pooling of `pooling` (`sightline_head_pooling`) when that node is spatial, as
/// `extract` computed the features it was trained on.
public struct HeadAttachment {
    /// The head file.
    public let path: String
    /// The backbone node whose output the head was trained on.
    public let featureLayer: String
    /// The global pooling of a spatial feature layer (`.none` keeps the map).
    public let pooling: GlobalPooling
    /// The head's own layers: input `features`, the classifier as output.
    public let head: LoadedModel

    /// Reads the head at `path`: its recorded feature layer and pooling, and its layers.
    public init(path: String) throws {
        let file = try HDF5File(reading: path)
        guard let layer = try file.stringAttribute("sightline_head_layer"), !layer.isEmpty,
            let recorded = try file.stringAttribute("sightline_head_pooling")
        else {
            throw TransferError(
                .option, subject: "--head",
                "\(path) is not a head written by `sightline train-head` (no sightline_head_layer attribute); train one with `sightline extract` then `sightline train-head`"
            )
        }
        guard let pooling = GlobalPooling(rawValue: recorded) else {
            throw TransferError(
                .option, subject: "--head",
                "\(path) records pooling '\(recorded)', not one of \(GlobalPooling.allCases.map(\.rawValue)); train the head again with `sightline train-head`"
            )
        }
        self.path = path
        featureLayer = layer
        self.pooling = pooling
        head = try ModelLoader.load(path: path)
    }

    /// The backbone's nodes through `layer` (sharing its layer objects), then a global pooling
    /// named `poolingName` (made unique) when `layer` is spatial and `pooling` is not `.none`:
    /// the features a head reads. Returns the graph and its last node.
    public static func features(
        of backbone: Graph, layer: String, pooling: GlobalPooling, poolingName: String
    ) throws -> (graph: Graph, last: String) {
        let graph = try backbone.prefix(through: layer)
        guard graph.shape(of: layer)?.count == 3, pooling != .none else { return (graph, layer) }
        let last = try graph.add(
            GlobalPooling2D(name: unique(poolingName, in: graph), kind: pooling == .max ? .max : .average),
            inputs: [layer])
        return (graph, last)
    }

    /// `base`, or `base_2`, `base_3`… when `graph` already has a node of that name.
    public static func unique(_ base: String, in graph: Graph) -> String {
        var name = base
        var index = 1
        while graph.node(named: name) != nil {
            index += 1
            name = "\(base)_\(index)"
        }
        return name
    }

    /// Checks that `backbone` has the head's feature layer.
    public func checkFeatureLayer(in backbone: Graph) throws {
        guard backbone.node(named: featureLayer) != nil else {
            throw TransferError(
                .model,
                "the backbone has no layer '\(featureLayer)', which the head \(path) was trained on; use the model the features were extracted from"
            )
        }
    }

    /// The backbone up to the head's features, then the head's layers (shared objects); the
    /// result's output is the head's.
    public static func stack(_ backbone: LoadedModel, head path: String) throws -> Graph {
        let attachment = try HeadAttachment(path: path)
        try attachment.checkFeatureLayer(in: backbone.graph)
        let (graph, last) = try features(
            of: backbone.graph, layer: attachment.featureLayer, pooling: attachment.pooling, poolingName: "head_pooling"
        )
        try graph.append(attachment.head.graph, after: last)
        return graph
    }

    /// Appends the head to `graph` after node `last`, scoring logits (a softmax classifier
    /// becomes linear, same weights) under the name `outputName`; returns that node. Throws
    /// when the head does not score `classes` classes.
    public func appendLogits(to graph: Graph, after last: String, outputName: String, classes: Int) throws -> String {
        let output = try graph.append(try head.graph.withLogitsOutput(outputName: outputName), after: last)
        guard graph.shape(of: output) == [classes] else {
            throw TransferError(
                .data, subject: "--head",
                "the head \(path) scores \(graph.shape(of: output)?.last ?? 0) classes and the data has \(classes) class folders; train a head on features of these classes"
            )
        }
        return output
    }
}

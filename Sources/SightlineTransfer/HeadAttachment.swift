import SightlineNN
import SightlineWeights

/// A head written by `HeadTrainer` (`train-head`) put back on its backbone: the one way
/// `predict --head`, `evaluate --head` and `convert --head` build backbone + head.
public enum HeadAttachment {
    /// The backbone's nodes up to the head's feature layer (the file's `sightline_head_layer`),
    /// its global pooling (`sightline_head_pooling`) for a spatial layer, then the head's layers.
    /// The backbone's layer objects are shared; the result's output is the head's.
    public static func stack(_ backbone: LoadedModel, head path: String) throws -> Graph {
        let file = try HDF5File(reading: path)
        guard let layer = try file.stringAttribute("sightline_head_layer"),
            let pooling = try file.stringAttribute("sightline_head_pooling")
        else {
            throw TransferError(
                .option, subject: "--head",
                "\(path) is not a head written by `sightline train-head` (no sightline_head_layer attribute)")
        }
        let head = try ModelLoader.load(path: path)
        guard backbone.graph.node(named: layer) != nil else {
            throw TransferError(.model, "the backbone has no layer '\(layer)', which the head \(path) was trained on")
        }
        let graph = try backbone.graph.prefix(through: layer)
        var last = layer
        if graph.shape(of: layer)?.count == 3 && pooling != "none" {
            last = try graph.add(
                GlobalPooling2D(name: "head_pooling", kind: pooling == "max" ? .max : .average), inputs: [layer])
        }
        try graph.append(head.graph, after: last)
        return graph
    }
}

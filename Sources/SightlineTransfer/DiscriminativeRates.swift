import Foundation
import SightlineNN

/// Discriminative learning rates (fastai's `slice(low, high)`): the backbone's stages train at
/// rates spread geometrically from `low` (the first stage) towards `high`, the head at `high`.
///
/// A stage is the run of layers with weights that work at one spatial resolution (their
/// output's): every downsampling starts the next one, so ResNet50's stages are `conv1`,
/// `conv2_*` … `conv5_*` and VGG16's its five blocks, whatever the layers are called. Backbone layers without spatial axes (VGG's `fc1`
/// and `fc2` when they are kept) form the last backbone stage. With S stages, stage i trains at
/// `low · (high/low)^(i/S)` and the head at `high`, as fastai's `even_mults` over S + 1 groups.
public enum DiscriminativeRates {
    /// Each layer's rate as a multiple of `high`, by layer name: the layers of `graph` up to and
    /// including `lastBackboneNode` are the backbone, those after it the head (scale 1).
    public static func scales(of graph: Graph, lastBackboneNode: String, low: Float, high: Float) -> [String: Float] {
        guard let end = graph.nodes.firstIndex(where: { $0.name == lastBackboneNode }), low > 0, high > low else {
            return [:]
        }
        let stages = self.stages(of: graph, lastBackboneNode: lastBackboneNode)
        var result: [String: Float] = [:]
        for (stage, names) in stages.enumerated() {
            let exponent = 1 - Double(stage) / Double(stages.count)
            for name in names { result[name] = Float(pow(Double(low) / Double(high), exponent)) }
        }
        for node in graph.nodes[(end + 1)...] where node.layer != nil { result[node.name] = 1 }
        return result
    }

    /// Layer-wise learning-rate decay (timm's `layer_decay`, by layer here, not by block): of the
    /// backbone's L layers with weights other than BatchNorm, the i-th (from 0, in topological
    /// order) trains at `decay^(L − i)` times the rate, a BatchNorm at its convolution's, the head
    /// at the rate.
    public static func layerDecayScales(of graph: Graph, lastBackboneNode: String, decay: Float) -> [String: Float] {
        guard let end = graph.nodes.firstIndex(where: { $0.name == lastBackboneNode }) else { return [:] }
        let weighted = graph.nodes[...end].filter { !($0.layer?.parameters.isEmpty ?? true) }
        let count = weighted.filter { !($0.layer is BatchNormalization) }.count
        var result: [String: Float] = [:]
        var (index, scale) = (0, Float(pow(Double(decay), Double(count))))
        for node in weighted {
            if !(node.layer is BatchNormalization) {
                scale = Float(pow(Double(decay), Double(count - index)))
                index += 1
            }
            result[node.name] = scale
        }
        for node in graph.nodes[(end + 1)...] where node.layer != nil { result[node.name] = 1 }
        return result
    }

    /// The backbone's stages, first to last: the names of its layers with weights in each, in
    /// topological order.
    public static func stages(of graph: Graph, lastBackboneNode: String) -> [[String]] {
        guard let end = graph.nodes.firstIndex(where: { $0.name == lastBackboneNode }) else { return [] }
        // Layers with weights only: a padding layer's larger output is no stage of its own.
        let backbone = graph.nodes[...end].filter { !($0.layer?.parameters.isEmpty ?? true) }
        // Spatial size of each backbone node's output, 0 for outputs without spatial axes.
        func area(_ node: Graph.Node) -> Int { node.shape.count == 3 ? node.shape[0] * node.shape[1] : 0 }
        let sizes = Set(backbone.map(area)).sorted(by: >)
        var stages = [[String]](repeating: [], count: sizes.count)
        for node in backbone {
            if let stage = sizes.firstIndex(of: area(node)) { stages[stage].append(node.name) }
        }
        return stages
    }
}

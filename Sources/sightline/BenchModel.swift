import SightlineCore
import SightlineModels
import SightlineNN
import SightlineWeights

/// The networks `sightline bench` times: a built-in architecture (`resnet50`, `vgg16`, …) or a
/// Keras Applications family (`mobilenetv2`, `efficientnetb0`, …, as Keras 3 writes it), with
/// random weights drawn once from a fixed seed.
enum BenchModel {
    /// Every name `--arch` accepts.
    static var names: [String] { Architecture.allCases.map(\.rawValue) + KerasApplications.families }

    /// The network `name` for `size`×`size` RGB inputs (a with-top Keras Applications family
    /// keeps its own input size when it has one).
    static func build(_ name: String, size: Int) throws -> Graph {
        if let architecture = Architecture(rawValue: name) {
            return try architecture.build(inputShape: [size, size, 3], weights: .random(seed: 0))
        }
        guard let entry = KerasApplications.entries.first(where: { $0.family == name && $0.includeTop }) else {
            throw CommandError.usage("unknown architecture '\(name)'; choose from \(names.joined(separator: ", "))")
        }
        let graph = try KerasApplications.graph(entry, inputSize: size)
        // Keras's initialisers for what trains: Glorot-uniform kernels; biases, γ and β as loaded.
        var generator = SeededGenerator(seed: 0)
        for layer in graph.layers {
            for parameter in layer.parameters where parameter.role == .weight && parameter.value.rank >= 2 {
                parameter.value = Initializer.glorotUniform.tensor(shape: parameter.value.shape, generator: &generator)
            }
        }
        return graph
    }
}

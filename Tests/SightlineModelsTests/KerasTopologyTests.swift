import Foundation
import SightlineCore
import SightlineModels
import SightlineNN
import Testing

/// The builders against Keras Applications 3.15: every layer's name, output shape and parameter
/// count, in order, and the model's total. Fixture: `Tests/Fixtures/keras_topology.json`, from
/// `make_keras_fixtures.py` (`topology_fixture`), which builds `keras.applications.VGG16(weights=None)`
/// etc. with and without the top and lists `model.layers`.
struct KerasTopologyTests {
    static let fixtureURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/keras_topology.json")

    static let keys = [
        "vgg16_top", "vgg16_notop_avg", "vgg19_top", "vgg19_notop_avg", "resnet50_top", "resnet50_notop_avg",
        "resnet101_top", "resnet101_notop_avg", "resnet152_top", "resnet152_notop_avg",
    ]

    static func build(_ key: String) throws -> Graph {
        let top = key.hasSuffix("_top")
        let pooling: GlobalPooling = top ? .none : .avg
        switch key.split(separator: "_").first ?? "" {
        case "vgg16": return try VGG.build(.vgg16, includeTop: top, pooling: pooling, weights: .zeros)
        case "vgg19": return try VGG.build(.vgg19, includeTop: top, pooling: pooling, weights: .zeros)
        case "resnet50": return try ResNet.build(.resnet50, includeTop: top, pooling: pooling, weights: .zeros)
        case "resnet101": return try ResNet.build(.resnet101, includeTop: top, pooling: pooling, weights: .zeros)
        default: return try ResNet.build(.resnet152, includeTop: top, pooling: pooling, weights: .zeros)
        }
    }

    @Test(arguments: keys)
    func layersMatchKerasApplications(_ key: String) throws {
        let data = try Data(contentsOf: Self.fixtureURL)
        let models = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let reference = try #require(models[key] as? [String: Any])
        let layers = try #require(reference["layers"] as? [[Any]])
        let graph = try Self.build(key)
        let ours = graph.nodes.filter { $0.layer != nil }
        #expect(
            ours.map(\.name) == layers.compactMap { $0[0] as? String }, "\(key): layer names or order differ from Keras"
        )
        for (node, entry) in zip(ours, layers) {
            let shape = entry[1] as? [Int] ?? []
            let count = entry[2] as? Int ?? -1
            #expect(node.shape == shape, "\(key) \(node.name): shape \(node.shape) vs Keras \(shape)")
            #expect(
                node.layer?.parameterCount == count,
                "\(key) \(node.name): \(node.layer?.parameterCount ?? 0) parameters vs Keras \(count)")
        }
        #expect(graph.parameterCount == reference["parameters"] as? Int)
    }

    @Test func publishedParameterCounts() throws {
        #expect(try VGG.build(.vgg16, weights: .zeros).parameterCount == 138_357_544)
        #expect(try ResNet.build(.resnet50, weights: .zeros).parameterCount == 25_636_712)
    }

    @Test func foldedInferenceEqualsTheUnfusedGraphOnResNet50() throws {
        // Random weights with randomised BatchNorm statistics; a small image keeps it quick.
        let graph = try ResNet.build(.resnet50, inputShape: [64, 64, 3], weights: .random(seed: 5))
        var generator = SeededGenerator(seed: 6)
        for layer in graph.layers {
            guard let bn = layer as? BatchNormalization else { continue }
            let c = bn.movingMean.value.count
            bn.movingMean.value = Tensor(shape: [c]) { for i in 0..<c { $0[i] = generator.nextNormal() * 0.1 } }
            bn.movingVariance.value = Tensor(shape: [c]) { for i in 0..<c { $0[i] = 0.5 + generator.nextUnitFloat() } }
            bn.gamma?.value = Tensor(shape: [c]) { for i in 0..<c { $0[i] = 0.5 + generator.nextUnitFloat() } }
        }
        let input = Tensor(shape: [2, 64, 64, 3]) {
            for i in 0..<$0.count { $0[i] = generator.nextUnitFloat() * 255 - 128 }
        }
        let fused = try graph(input, output: "avg_pool")
        // Requesting every BatchNorm output disables folding and activation fusion.
        let names = graph.nodes.map(\.name)
        let unfused = try #require(try graph.forward(["input_1": input], outputs: names)["avg_pool"])
        let scale = unfused.scalars.reduce(0) { max($0, abs($1)) }
        #expect(fused.maxAbsoluteDifference(unfused) <= 1e-4 * scale, "folded BatchNorm changed the features")
        let probabilities = try graph(input)
        #expect(probabilities.shape == [2, 1000])
        for row in 0..<2 {
            let sum = probabilities.scalars[(row * 1000)..<((row + 1) * 1000)].reduce(0, +)
            #expect(abs(sum - 1) < 1e-4)
        }
    }
}

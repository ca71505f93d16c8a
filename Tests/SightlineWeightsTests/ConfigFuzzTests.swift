import Foundation
import SightlineCore
import SightlineNN
import SightlineTestSupport
import SightlineWeights
import Testing

/// Every value in a Keras `model_config` replaced, one at a time, by values a damaged or hostile
/// file could hold: the import either works or throws an error naming the layer, and whatever
/// imports also runs. A crash (precondition, trap, huge allocation) fails the whole test run.
///
/// The model is `Tests/Fixtures/fuzz_model.json`, written by real Keras 3 through
/// `make_zoo_fixtures.py --fuzz-model`: one of every layer type Sightline imports.
struct ConfigFuzzTests {
    static var mutations: [Any] {
        [
            0, -1, -7, 1_000_000_000, 2.5, Double.greatestFiniteMagnitude, true, "x", NSNull(), [Any](), [0, 0],
            [-1, 3], [[-1, 2], [3, 4]], ["a": 1],
        ]
    }

    /// Paths to every scalar or list value under each layer's `config`, as (layer index, key).
    static func targets(_ root: [String: Any]) -> [(Int, String)] {
        let layers = (root["config"] as? [String: Any])?["layers"] as? [[String: Any]] ?? []
        return layers.enumerated().flatMap { index, layer in
            ((layer["config"] as? [String: Any]) ?? [:]).keys.filter { $0 != "name" && $0 != "dtype" }.sorted().map {
                (index, $0)
            }
        }
    }

    static func mutated(_ root: [String: Any], layer: Int, key: String, value: Any) -> String {
        var root = root
        var config = root["config"] as! [String: Any]
        var layers = config["layers"] as! [[String: Any]]
        var entry = layers[layer]
        var layerConfig = entry["config"] as! [String: Any]
        layerConfig[key] = value
        entry["config"] = layerConfig
        layers[layer] = entry
        config["layers"] = layers
        root["config"] = config
        let data = try! JSONSerialization.data(withJSONObject: root)
        return String(decoding: data, as: UTF8.self)
    }

    @Test func mutatedConfigsImportOrFailWithANamedError() throws {
        let root = try KerasFixture.load("fuzz_model.json")
        let targets = Self.targets(root)
        #expect(targets.count > 60, "the fuzz model should expose many config values, found \(targets.count)")
        var imported = 0
        var refused = 0
        for (layer, key) in targets {
            for value in Self.mutations {
                let json = Self.mutated(root, layer: layer, key: key, value: value)
                do {
                    let graph = try ModelConfigImporter.graph(fromJSON: json)
                    imported += 1
                    // Run what imported, when its activations are small enough for a test.
                    let sizes = graph.nodes.map { $0.shape.reduce(1, *) }
                    guard sizes.allSatisfy({ $0 > 0 && $0 < 1 << 20 }), let input = graph.inputNames.first,
                        let shape = graph.shape(of: input)
                    else { continue }
                    _ = try graph.forward([input: Tensor(repeating: 0.5, shape: [2] + shape)])
                } catch let error as LayerError {
                    refused += 1
                    #expect(!error.layer.isEmpty && !error.message.isEmpty)
                    #expect(!error.description.contains("\n"), "one line: \(error)")
                } catch {
                    refused += 1
                    #expect(!"\(error)".contains("\n"), "one line: \(error)")
                }
            }
        }
        // Both outcomes occur: the mutations are not all harmless, and not all fatal.
        #expect(imported > 100 && refused > 100, "imported \(imported), refused \(refused)")
    }

    @Test func namedExamplesGiveTheFieldAndTheFix() throws {
        let root = try KerasFixture.load("fuzz_model.json")
        let layers = ((root["config"] as? [String: Any])?["layers"] as? [[String: Any]]) ?? []
        func index(_ name: String) throws -> Int {
            try #require(layers.firstIndex { ($0["config"] as? [String: Any])?["name"] as? String == name })
        }
        let cases: [(String, String, Any, String)] = [
            ("dropout", "rate", 1.5, "layer 'dropout' (Dropout): 'rate' must be between 0.0 and 1.0, got 1.5"),
            ("conv", "strides", [0, 1], "layer 'conv' (Conv2D): 'strides' must be in 1...65536, got [0, 1]"),
            (
                "pad", "padding", [[-1, 0], [1, 0]],
                "layer 'pad' (ZeroPadding2D): 'padding' must be between 0 and 65536, got"
            ),
            (
                "conv", "activation", "mish",
                "layer 'conv' (Conv2D): 'activation' 'mish' is not supported; Sightline knows linear, relu"
            ),
            (
                "conv", "filters", 1_000_000_000,
                "layer 'conv' (Conv2D): gives a weight of shape [3, 3, 3, 1000000000], over 2^30 values"
            ),
        ]
        for (layer, key, value, message) in cases {
            let json = Self.mutated(root, layer: try index(layer), key: key, value: value)
            #expect {
                _ = try ModelConfigImporter.graph(fromJSON: json)
            } throws: { error in
                "\(error)".hasPrefix(message)
            }
        }
        // Rate 1 is valid in Keras: the layer drops everything in training and is the identity in inference.
        let json = Self.mutated(root, layer: try index("dropout"), key: "rate", value: 1.0)
        let graph = try ModelConfigImporter.graph(fromJSON: json)
        #expect(graph.nodes.count > 10)
    }
}

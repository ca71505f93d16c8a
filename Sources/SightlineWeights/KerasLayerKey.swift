import SightlineModels
import SightlineNN

/// Keras's class names for Sightline's layers, and the Keras 3 `.weights.h5` keys built from them.
public enum KerasLayerKey {
    /// The Keras class a Sightline layer corresponds to (`Conv2D`, `BatchNormalization`, …).
    public static func className(of layer: any Layer) -> String { KerasLayers.className(of: layer) }

    /// Keras's `to_snake_case`: `BatchNormalization` → `batch_normalization`, `Conv2D` → `conv2d`.
    public static func snakeCase(_ name: String) -> String {
        let characters = Array(name)
        var result = ""
        for (index, character) in characters.enumerated() {
            if character.isUppercase && index > 0 {
                let previous = characters[index - 1]
                let next = index + 1 < characters.count ? characters[index + 1] : nil
                // "(.)([A-Z][a-z]+)" and "([a-z])([A-Z])" from Keras, as one pass.
                if (next?.isLowercase ?? false) || previous.isLowercase { result.append("_") }
            }
            result.append(character)
        }
        return result.lowercased()
    }

    /// The `layers/<key>` names Keras 3 gives a graph's layers: the snake-cased class with a
    /// per-class counter in model order (`conv2d`, `conv2d_1`, …), keyed by layer name.
    public static func keras3Keys(for graph: Graph) -> [String: String] {
        var counters: [String: Int] = [:]
        var keys: [String: String] = [:]
        for layer in graph.layers {
            let base = snakeCase(className(of: layer))
            let count = counters[base, default: 0]
            counters[base] = count + 1
            keys[layer.name] = count == 0 ? base : "\(base)_\(count)"
        }
        return keys
    }
}

import SightlineCore

/// A torchvision state dict as Sightline's stored layers: the mapping is this data and the one
/// function `layers(_:)`.
///
/// - ResNet keeps torchvision's module names (`conv1`, `layer1.0.conv1`, `layer1.0.downsample.0`,
///   `fc`), which Sightline's torchvision ResNet builders use.
/// - VGG's `features.N` convolutions take Keras's names in order (`block1_conv1` …), a BatchNorm
///   after one (the `_bn` variants) that name + `_bn`, and `classifier.0/3/6` become `fc1`,
///   `fc2`, `predictions`; fc1's rows go from torch's C,H,W
///   flatten order to Keras's H,W,C (a 7×7 map, as torchvision's adaptive pooling gives).
/// - Layouts: convolution kernels OIHW → HWIO (a depthwise `[C, 1, kh, kw]` becomes `[kh, kw, 1, C]`,
///   the kernel of a grouped `DepthwiseConv2D`), linear weights `(out, in)` → `(in, out)`, ConvNeXt's
///   `layer_scale` `[C, 1, 1]` → `gamma` `[C]`, LayerNorm `weight`/`bias` by position, BatchNorm
///   `weight`, `bias`, `running_mean`, `running_var` → `gamma`, `beta`, `moving_mean`,
///   `moving_variance`; `num_batches_tracked` is not a weight.
///
/// `pretrained/convert_torchvision.py` applies the same mapping in Python.
enum TorchVisionLayers {
    /// BatchNorm tensor names → Sightline roles.
    static let batchNormRoles = [
        "weight": "gamma", "bias": "beta", "running_mean": "moving_mean", "running_var": "moving_variance",
    ]
    /// VGG11/13/16/19 convolutions per block, by their number.
    static let vggBlocks = [8: [1, 1, 2, 2, 2], 10: [2, 2, 2, 2, 2], 13: [2, 2, 3, 3, 3], 16: [2, 2, 4, 4, 4]]
    /// torchvision VGG classifier indices → Keras layer names.
    static let vggClassifier = ["classifier.0": "fc1", "classifier.3": "fc2", "classifier.6": "predictions"]

    /// The stored layers of `tensors` (torch layouts), in the state dict's order.
    static func layers(_ tensors: [(key: String, value: Tensor)], file: String) -> [StoredLayer] {
        var names: [String: String] = [:]  // torch module → layer name
        let modules = Set(tensors.map(\.key))
        let weights = tensors.filter { $0.key.hasPrefix("features.") && $0.key.hasSuffix(".weight") }
        let convolutions = weights.filter { $0.value.rank == 4 }
        if let blocks = vggBlocks[convolutions.count] {
            let keras = blocks.enumerated().flatMap { block, count in (1...count).map { "block\(block + 1)_conv\($0)" }
            }
            // Convolutions take Keras's names in order; a BatchNorm after one (`vgg*_bn`) its name + `_bn`.
            var (index, previous) = (0, "")
            for weight in weights {
                let module = String(weight.key.dropLast(7))
                if weight.value.rank == 4, index < keras.count {
                    (names[module], previous) = (keras[index], keras[index])
                    index += 1
                } else if modules.contains(module + ".running_mean"), !previous.isEmpty {
                    names[module] = previous + "_bn"
                }
            }
            names.merge(vggClassifier) { $1 }
        }
        var layers: [StoredLayer] = []
        for (key, value) in tensors {
            guard let dot = key.lastIndex(of: ".") else { continue }
            let module = String(key[..<dot])
            let kind = String(key[key.index(after: dot)...])
            guard kind != "num_batches_tracked" else { continue }
            let name = names[module] ?? module
            let isBatchNorm = tensors.contains { $0.key == module + ".running_mean" }
            let role: String
            var converted = value
            if isBatchNorm, let bnRole = batchNormRoles[kind] {
                role = bnRole
            } else if kind == "layer_scale" {
                // ConvNeXt's layer scale `[C, 1, 1]`: Sightline's `LayerScale` γ `[C]`.
                (role, converted) = ("gamma", value.reshaped([value.count]))
            } else if kind == "weight" && value.rank == 4 {
                (role, converted) = ("kernel", permuted(value, [2, 3, 1, 0]))
            } else if kind == "weight" && value.rank == 2 {
                role = "kernel"
                converted = name == "fc1" && names["classifier.0"] == "fc1" ? vggFC1(value) : permuted(value, [1, 0])
            } else {
                role = kind == "bias" ? "bias" : kind
            }
            let weight = StoredWeight(role: role, path: "\(file): \(key)", value: converted)
            if layers.last?.name == name {
                layers[layers.count - 1].weights.append(weight)
            } else {
                layers.append(StoredLayer(name: name, parent: nil, weights: [weight]))
            }
        }
        return layers
    }

    /// `tensor` with its axes permuted: axis `i` of the result is axis `order[i]` of `tensor`.
    static func permuted(_ tensor: Tensor, _ order: [Int]) -> Tensor {
        let shape = order.map { tensor.shape[$0] }
        let sourceStrides = tensor.shape.indices.map { tensor.shape[($0 + 1)...].reduce(1, *) }
        let strides = order.map { sourceStrides[$0] }
        return Tensor(shape: shape) { values in
            var index = [Int](repeating: 0, count: shape.count)
            for i in 0..<values.count {
                values[i] = tensor.scalars[zip(index, strides).reduce(0) { $0 + $1.0 * $1.1 }]
                var axis = shape.count - 1
                while axis >= 0 {
                    index[axis] += 1
                    if index[axis] < shape[axis] { break }
                    index[axis] = 0
                    axis -= 1
                }
            }
        }
    }

    /// torch's fc1 `(out, C·7·7)` (C,H,W order) as Keras's `(7·7·C, out)` (H,W,C order).
    static func vggFC1(_ weight: Tensor) -> Tensor {
        let (out, inputs) = (weight.shape[0], weight.shape[1])
        let channels = inputs / 49
        return Tensor(shape: [inputs, out]) { values in
            for o in 0..<out {
                for c in 0..<channels {
                    for p in 0..<49 { values[(p * channels + c) * out + o] = weight.scalars[o * inputs + c * 49 + p] }
                }
            }
        }
    }
}

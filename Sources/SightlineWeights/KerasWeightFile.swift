import Foundation
import SightlineCore
import SightlineModels

/// One weight array as stored in a Keras file.
public struct StoredWeight: Sendable {
    /// The weight's role, normalised across Keras versions (`kernel`, `bias`, `gamma`, `beta`,
    /// `moving_mean`, `moving_variance`, `depthwise_kernel`, `pointwise_kernel`, …), or "" when the
    /// file names weights by position only (Keras 3 `.weights.h5`).
    public var role: String
    /// Where it lives in the file, for messages.
    public var path: String
    public var value: Tensor
}

/// One layer's weights as stored in a Keras file, in the file's order.
public struct StoredLayer: Sendable {
    /// The layer name (for a Keras 3 `.weights.h5` written before Keras 3.6: the class/counter
    /// key such as `conv2d_3`, see `KerasWeightFile.namesAreKeras3Keys`).
    public var name: String
    /// The enclosing nested model's layer name, when the layer came from one (`vgg16`).
    public var parent: String?
    public var weights: [StoredWeight]
}

/// The layouts of Keras weight files Sightline reads.
public enum KerasFileFormat: String, Sendable {
    case legacyWeights = "Keras legacy weights-only .h5"
    case legacyModel = "Keras full-model .h5"
    case keras3Weights = "Keras 3 .weights.h5"
    case kerasArchive = "Keras 3 .keras archive"
    case pytorch = "PyTorch state dict (.pth/.pt)"
    case safetensors = "safetensors state dict"
    case onnx = "ONNX model"

    /// A PyTorch or safetensors file: torch layouts mapped by `TorchVisionLayers`.
    public var isPyTorch: Bool { self == .pytorch || self == .safetensors }
    /// A file Keras wrote (or could have): it has a Keras version.
    public var isKeras: Bool { !isPyTorch && self != .onnx }
}

/// The weights of a Keras HDF5 file, read into memory in model order.
///
/// Supported (README, "Commands", lists the files; the fixtures of `Tests/Fixtures/make_weight_fixtures.py`
/// and `make_layout_fixtures.py` are real Keras files of each layout): legacy weights-only `.h5` from Keras 1
/// (`block1_conv1_W_1:0`, no version attributes), Keras 2/tf.keras (`…/kernel:0`) and Keras 3
/// (no `:0`); full-model `.h5` (weights under `model_weights`, architecture in `model_config`);
/// nested models (a group whose `weight_names` are `<sublayer>/<var>`); Keras 3 `.weights.h5`
/// (`layers/<key>/vars/<i>`, with the layer name in the `name` attribute since Keras 3.6).
/// Model order comes from `layer_names` and `weight_names`, never from HDF5's listing order.
public struct KerasWeightFile: Sendable {
    public let path: String
    public let format: KerasFileFormat
    /// `keras_version`, nil for Keras 1 files (which have none).
    public let kerasVersion: String?
    public let backend: String?
    /// The `model_config` JSON of a full-model file.
    public let modelConfig: String?
    /// Layers with weights, in model order.
    public let layers: [StoredLayer]
    /// True when `layers` are named by Keras 3 class/counter keys rather than layer names.
    public let namesAreKeras3Keys: Bool
    /// The preprocessing recorded by Sightline when it wrote the file (`sightline_preprocessing`).
    public private(set) var recordedPreprocessing: String?
    /// Class names recorded by Sightline (`class_names`: fine-tuned models, heads), in a legacy
    /// `.h5` or inside a `.keras` archive's weights.
    public private(set) var classNames: [String]?

    /// Reads every weight of the file at `path`.
    public init(path: String) throws(ModelFileError) {
        let file = try HDF5File(reading: path)
        try self.init(file: file, displayPath: path, format: nil, modelConfig: nil)
    }

    init(
        file: HDF5File, displayPath: String, format forced: KerasFileFormat?, modelConfig forcedConfig: String?,
        kerasVersion forcedVersion: String? = nil
    ) throws(ModelFileError) {
        path = displayPath
        if file.hasAttribute("layer_names") || file.hasAttribute("layer_names0") {
            format = forced ?? .legacyWeights
            kerasVersion = try file.stringAttribute("keras_version")
            backend = try file.stringAttribute("backend")
            modelConfig = try Self.firstString(forcedConfig, file, "model_config", on: "/")
            layers = try Self.readLegacy(file, group: "/")
            namesAreKeras3Keys = false
        } else if file.isGroup("/model_weights") {
            format = forced ?? .legacyModel
            kerasVersion = try Self.firstString(
                file.stringAttribute("keras_version", on: "/model_weights"), file, "keras_version", on: "/")
            backend = try Self.firstString(
                file.stringAttribute("backend", on: "/model_weights"), file, "backend", on: "/")
            modelConfig = try Self.firstString(forcedConfig, file, "model_config", on: "/")
            layers = try Self.readLegacy(file, group: "/model_weights")
            namesAreKeras3Keys = false
        } else if file.isGroup("/layers") || file.isGroup("/vars") {
            // A functional model's file has `layers/`; a subclassed model's has one group per
            // attribute (`block1/layers/…/vars`) next to the model's own `vars`.
            format = forced ?? .keras3Weights
            kerasVersion = forcedVersion
            backend = nil
            modelConfig = forcedConfig
            var named = true
            layers = try Self.readKeras3(
                file, group: file.isGroup("/layers") ? "/layers" : "", parent: nil, named: &named)
            namesAreKeras3Keys = !named
        } else if file.hasAttribute("nb_layers") {
            throw ModelFileError(
                file: displayPath,
                "a Keras 0.x weights file (nb_layers/param_k layout) is not supported; re-save it with Keras 2 or later",
                kind: .layout
            )
        } else {
            throw ModelFileError(
                file: displayPath,
                "not a Keras weights file: no layer_names attribute, no model_weights group and no layers/ or vars/ group",
                kind: .layout
            )
        }
        recordedPreprocessing = try file.stringAttribute("sightline_preprocessing")
        classNames = try file.stringsAttribute("class_names")
    }

    /// The layers' weight shapes by module, for the torchvision builders (`TorchVisionFamily`).
    public var stateDictShapes: StateDictShapes {
        StateDictShapes(layers.map { ($0.name, $0.weights.map { ($0.role, $0.value.shape) }) }, timm: namesAreTimm)
    }

    /// True for a timm state dict whose keys were renamed to torchvision's (`TimmNames`).
    public private(set) var namesAreTimm = false

    /// A PyTorch state dict (`.pth`, `.pt`, `.safetensors`) as stored layers (`TorchVisionLayers`),
    /// timm's keys renamed to torchvision's first.
    init(torch path: String) throws(ModelFileError) {
        let dict = try TorchStateDict.read(path: path)
        self.path = path
        format = dict.container == "safetensors" ? .safetensors : .pytorch
        (kerasVersion, backend, modelConfig, namesAreKeras3Keys) = (nil, nil, nil, false)
        var tensors = dict.tensors
        if let renamed = TimmNames.torchvisionKeys(tensors.map(\.key)) {
            tensors = zip(renamed, tensors).map { ($0, $1.value) }
            namesAreTimm = true
        }
        layers = TorchVisionLayers.layers(tensors, file: path)
    }

    /// `value` when given, else the string attribute `name` on `object`.
    static func firstString(_ value: String?, _ file: HDF5File, _ name: String, on object: String)
        throws(ModelFileError)
        -> String?
    {
        if let value { return value }
        return try file.stringAttribute(name, on: object)
    }

    // MARK: Legacy .h5

    /// Reads `layer_names` and each layer's `weight_names` below `group`.
    static func readLegacy(_ file: HDF5File, group: String) throws(ModelFileError) -> [StoredLayer] {
        let base = group == "/" ? "" : group
        var result: [StoredLayer] = []
        for layerName in try chunkedStrings(file, "layer_names", on: group) {
            let layerGroup = "\(base)/\(layerName)"
            guard file.isGroup(layerGroup) else {
                throw ModelFileError(
                    file: file.path, object: layerGroup, "listed in layer_names but missing from the file")
            }
            let names = try chunkedStrings(file, "weight_names", on: layerGroup)
            var stored: [StoredLayer] = []
            for weightName in names {
                let path = try resolve(file, layerGroup: layerGroup, weightName: weightName)
                let (sublayer, role) = split(weightName, layer: layerName)
                let weight = StoredWeight(role: role, path: path, value: try file.readTensor(path))
                let owner = sublayer ?? layerName
                if let index = stored.firstIndex(where: { $0.name == owner }) {
                    stored[index].weights.append(weight)
                } else {
                    stored.append(
                        StoredLayer(name: owner, parent: sublayer == nil ? nil : layerName, weights: [weight]))
                }
            }
            result += stored
        }
        return result
    }

    /// An attribute that Keras may have split into `name0`, `name1`, … (when over 64 KiB).
    static func chunkedStrings(_ file: HDF5File, _ name: String, on object: String) throws(ModelFileError) -> [String] {
        if let values = try file.stringsAttribute(name, on: object) { return values }
        var values: [String] = []
        var index = 0
        while let chunk = try file.stringsAttribute("\(name)\(index)", on: object) {
            values += chunk
            index += 1
        }
        guard index > 0 || name == "weight_names" else {
            throw ModelFileError(file: file.path, object: object, "has no '\(name)' attribute")
        }
        return values
    }

    /// The dataset path of a weight name: relative to the layer group, `:0` optional.
    static func resolve(_ file: HDF5File, layerGroup: String, weightName: String) throws(ModelFileError) -> String {
        let candidates = [
            weightName, weightName + ":0", weightName.hasSuffix(":0") ? String(weightName.dropLast(2)) : nil,
        ]
        for candidate in candidates.compactMap({ $0 }) {
            let path = "\(layerGroup)/\(candidate)"
            if file.exists(path) { return path }
        }
        throw ModelFileError(
            file: file.path, object: "\(layerGroup)/\(weightName)", "listed in weight_names but missing from the file")
    }

    /// Splits a weight name into the nested sub-layer (when it names another layer) and the role.
    ///
    /// `block1_conv1/kernel:0` under group `block1_conv1` is the layer's own weight; under group
    /// `vgg16` it belongs to sub-layer `block1_conv1`. A TF1 uniquifier (`block1_conv1_1/…`) on
    /// the layer's own name is tolerated.
    ///
    /// The owner is everything before the last `/`, so layer names that contain `/` (tf.keras
    /// DenseNet's `conv1/conv`, whose weights are `conv1/conv/kernel:0`) stay whole, inside a
    /// nested model too; a scoped owner that ends in `/<layer>` is the layer itself. Keras 3
    /// writes a nested model's weights into a legacy `.h5` scoped by the nested model's name
    /// (`convnext_tiny_stem/convnext_tiny_stem_conv/kernel` in group `convnext_tiny_stem`): that
    /// scope is dropped.
    static func split(_ weightName: String, layer: String) -> (sublayer: String?, role: String) {
        let parts = weightName.split(separator: "/").map(String.init)
        let role = canonicalRole(parts.last ?? weightName, layer: parts.count > 1 ? parts[parts.count - 2] : layer)
        guard parts.count > 1 else { return (nil, role) }
        var owner = parts.dropLast().joined(separator: "/")
        if owner.hasPrefix(layer + "/") { owner = String(owner.dropFirst(layer.count + 1)) }
        if owner == layer || stripUniquifier(owner) == layer || owner.hasSuffix("/" + layer) { return (nil, role) }
        return (owner, role)
    }

    /// `kernel:0` → `kernel`; Keras 1 `block1_conv1_W_1:0` → `kernel`; `running_std` → `moving_variance`.
    static func canonicalRole(_ raw: String, layer: String) -> String {
        var name = raw
        if let colon = name.lastIndex(of: ":") { name = String(name[..<colon]) }
        if name.hasPrefix(layer + "_") { name = String(name.dropFirst(layer.count + 1)) }
        let aliases = [
            "W": "kernel", "b": "bias", "running_mean": "moving_mean", "running_std": "moving_variance",
            "running_var": "moving_variance",
        ]
        if let alias = aliases[name] { return alias }
        let stripped = stripUniquifier(name)
        return aliases[stripped] ?? stripped
    }

    /// Removes a trailing `_<digits>` (Keras/TF name uniquifier).
    static func stripUniquifier(_ name: String) -> String {
        guard let underscore = name.lastIndex(of: "_"), name.index(after: underscore) < name.endIndex,
            name[name.index(after: underscore)...].allSatisfy(\.isNumber)
        else { return name }
        return String(name[..<underscore])
    }

    // MARK: Keras 3 .weights.h5

    /// Reads `layers/<key>/vars/<i>` in model order (Keras writes keys in model order; HDF5
    /// lists them alphabetically, so the order is rebuilt from the class counters), recursing into
    /// nested models. A subclassed model's file nests the same way under attribute names
    /// (`block1/convs/layers/conv2d/vars`): every group below `group` is walked, `vars` groups
    /// holding a layer's weights (named by their `name` attribute, or the key) and any other
    /// subgroup holding more layers. `group` "" is the file's root.
    static func readKeras3(_ file: HDF5File, group: String, parent: String?, named: inout Bool) throws(ModelFileError)
        -> [StoredLayer]
    {
        var result: [StoredLayer] = []
        for key in try file.children(of: group.isEmpty ? "/" : group).sorted(by: keras3KeyOrder) where key != "vars" {
            let layerGroup = "\(group)/\(key)"
            guard file.isGroup(layerGroup) else { continue }
            if key == "layers" {
                result += try readKeras3(file, group: layerGroup, parent: parent, named: &named)
                continue
            }
            let varsGroup = "\(layerGroup)/vars"
            let name = file.isGroup(varsGroup) ? try file.stringAttribute("name", on: varsGroup) : nil
            let indices =
                file.isGroup(varsGroup) ? try file.children(of: varsGroup).compactMap { Int($0) }.sorted() : []
            if !indices.isEmpty {
                var weights: [StoredWeight] = []
                for index in indices {
                    let path = "\(varsGroup)/\(index)"
                    weights.append(StoredWeight(role: "", path: path, value: try file.readTensor(path)))
                }
                if name == nil { named = false }
                result.append(StoredLayer(name: name ?? key, parent: parent, weights: weights))
            }
            result += try readKeras3(file, group: layerGroup, parent: name ?? key, named: &named)
        }
        return result
    }

    /// Orders `conv2d`, `conv2d_1`, …, `conv2d_10` by class then counter. Model order across
    /// classes cannot be recovered from keys alone; loaders match Keras 3 files by name or key.
    static func keras3KeyOrder(_ a: String, _ b: String) -> Bool {
        func parts(_ key: String) -> (String, Int) {
            let base = stripUniquifier(key)
            return (base, base == key ? 0 : Int(key.dropFirst(base.count + 1)) ?? 0)
        }
        let (pa, pb) = (parts(a), parts(b))
        return pa.0 != pb.0 ? pa.0 < pb.0 : pa.1 < pb.1
    }
}

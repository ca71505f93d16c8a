import SightlineCore
import SightlineModels
import SightlineNN

/// How a weights file is matched to a model.
public struct WeightLoadOptions: Sendable {
    /// How file layers are paired with model layers.
    public enum Matching: Sendable {
        /// By exact layer name (Keras `by_name=True`; Keras 3 `.weights.h5` by `name` or key).
        case byName
        /// Weighted layers paired in order (Keras's default `load_weights`); names are ignored.
        case topological
    }

    public var matching: Matching
    /// Skip and report weights whose shapes differ (a classifier head with other classes).
    public var skipMismatch: Bool
    /// Report, instead of failing on, model layers missing from the file and file layers the
    /// model does not have (a `*_notop` file into a model with a new head, a backbone into a
    /// bigger model).
    public var allowPartial: Bool

    public init(matching: Matching = .byName, skipMismatch: Bool = false, allowPartial: Bool = false) {
        self.matching = matching
        self.skipMismatch = skipMismatch
        self.allowPartial = allowPartial
    }
}

/// What a load did.
public struct WeightLoadReport: Sendable {
    /// Layers whose weights were all assigned.
    public var loadedLayers: [String] = []
    /// Weights left untouched, each with the reason (skip-mismatch or partial loads).
    public var skipped: [String] = []
}

extension ModelFileError {
    /// A weights file that does not fit the model: every problem, by layer and weight name.
    static func weights(file: String, problems: [String]) -> ModelFileError {
        ModelFileError(
            file: file,
            "weights do not match the model (\(problems.count) problem\(problems.count == 1 ? "" : "s")):\n"
                + problems.map { "  - \($0)" }.joined(separator: "\n"), kind: .weights)
    }
}

/// Assigns the weights of a `KerasWeightFile` to a graph, verifying strictly.
public enum WeightLoader {
    /// Loads `file` into `graph`. Without skip options, nothing is assigned unless every
    /// weighted layer of the model finds its weights with the same count and shapes and every
    /// file layer is used; the error then lists every missing, unused and mis-shaped weight.
    @discardableResult
    public static func load(
        _ file: KerasWeightFile, into graph: Graph, options: WeightLoadOptions = WeightLoadOptions()
    ) throws(ModelFileError) -> WeightLoadReport {
        let modelLayers = graph.layers.filter { !$0.parameters.isEmpty }
        var pairs: [(any Layer, StoredLayer)] = []
        var problems: [String] = []
        var report = WeightLoadReport()

        switch options.matching {
        case .topological:
            if modelLayers.count != file.layers.count {
                problems.append("the model has \(modelLayers.count) layers with weights, the file \(file.layers.count)")
            }
            pairs = Array(zip(modelLayers, file.layers))
        case .byName:
            let keys = file.namesAreKeras3Keys ? KerasLayerKey.keras3Keys(for: graph) : [:]
            var byName: [String: StoredLayer] = [:]
            for stored in file.layers { byName[stored.name] = stored }
            var used: Set<String> = []
            for layer in modelLayers {
                let key = keys[layer.name] ?? layer.name
                if let stored = byName[key] {
                    pairs.append((layer, stored))
                    used.insert(key)
                } else if options.allowPartial {
                    report.skipped.append("\(layer.name): not in the file")
                } else {
                    problems.append(
                        "missing: model layer '\(layer.name)' (\(KerasLayerKey.className(of: layer))) has no weights in the file"
                    )
                }
            }
            for stored in file.layers where !used.contains(stored.name) {
                let what =
                    "unused: file layer '\(stored.name)'\(stored.parent.map { " (inside '\($0)')" } ?? "") is not in the model"
                if options.allowPartial { report.skipped.append(what) } else { problems.append(what) }
            }
        }

        var assignments: [(Parameter, Tensor)] = []
        for (layer, stored) in pairs {
            let parameters = layer.parameters
            guard parameters.count == stored.weights.count else {
                problems.append(
                    "layer '\(layer.name)': the model has \(parameters.count) weights (\(parameters.map(\.name).joined(separator: ", "))), the file's '\(stored.name)' has \(stored.weights.count)"
                )
                continue
            }
            var complete = true
            for (parameter, weight) in zip(parameters, ordered(stored.weights, like: parameters)) {
                if parameter.value.shape == weight.value.shape {
                    assignments.append((parameter, weight.value))
                } else if options.skipMismatch {
                    report.skipped.append(
                        "\(layer.name)/\(parameter.name): file shape \(weight.value.shape), model shape \(parameter.value.shape)"
                    )
                    complete = false
                } else {
                    problems.append(
                        "mis-shaped: '\(layer.name)/\(parameter.name)' is \(parameter.value.shape) in the model and \(weight.value.shape) in the file (\(weight.path))"
                    )
                }
            }
            if complete { report.loadedLayers.append(layer.name) }
        }
        guard problems.isEmpty else { throw ModelFileError.weights(file: file.path, problems: problems) }
        for (parameter, value) in assignments { parameter.value = value }
        return report
    }

    /// The stored weights in the order of `parameters`: by role where the file names roles that
    /// cover the layer's weights, else by position (Keras's own rule).
    static func ordered(_ weights: [StoredWeight], like parameters: [Parameter]) -> [StoredWeight] {
        let aliases = ["depthwise_kernel": "kernel"]
        var byRole: [String: StoredWeight] = [:]
        for weight in weights where !weight.role.isEmpty { byRole[weight.role] = weight }
        let matched = parameters.compactMap { byRole[$0.name] ?? aliases[$0.name].flatMap { byRole[$0] } }
        return matched.count == parameters.count ? matched : weights
    }
}

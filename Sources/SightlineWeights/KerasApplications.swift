import Foundation
import SightlineModels
import SightlineNN
internal import ZIPFoundation

/// The Keras Applications families beyond VGG and ResNet, as real Keras 3 writes their
/// architectures (`Resources/keras_applications.zip`, made by
/// `scripts/make_keras_applications.py`): their official weights-only files load with
/// `--arch NAME` or are recognised from their layer names, and get the preprocessing those
/// weights expect. Each family has a with-top entry (1000 classes, the family's input size) and
/// a `_notop` entry (any input size).
public enum KerasApplications {
    /// One architecture in the archive.
    public struct Entry: Sendable {
        public var name: String
        public var family: String
        public var includeTop: Bool
        public var preprocessing: Preprocessing
        public var inputSize: Int?
        public var weightedLayers: Set<String>
    }

    static let archiveURL = Bundle.module.url(forResource: "keras_applications", withExtension: "zip")

    static func text(_ name: String) throws -> String {
        guard let url = archiveURL, let archive = try? Archive(url: url, accessMode: .read, pathEncoding: nil),
            let entry = archive[name]
        else {
            throw ModelFileError(
                file: "keras_applications.zip", object: name,
                "the Keras Applications architectures are missing from this build; rebuild Sightline (swift build -c release) from a complete checkout",
                kind: .archive)
        }
        var data = Data()
        _ = try archive.extract(entry) { data.append($0) }
        return String(decoding: data, as: UTF8.self)
    }

    /// Every entry, from `index.json`.
    public static let entries: [Entry] = {
        guard let json = try? text("index.json"),
            let index = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: [String: Any]]
        else {
            return []
        }
        return index.keys.sorted().compactMap { name in
            guard let item = index[name], let family = item["family"] as? String else { return nil }
            return Entry(
                name: name, family: family, includeTop: item["include_top"] as? Bool ?? true,
                preprocessing: Preprocessing(rawValue: item["preprocessing"] as? String ?? "") ?? .none,
                inputSize: (item["input_size"] as? [Int])?.first,
                weightedLayers: Set(item["weighted_layers"] as? [String] ?? []))
        }
    }()

    /// The family names `--arch` accepts (`efficientnetb0`, `mobilenetv3small`, …).
    public static var families: [String] { Array(Set(entries.map(\.family))).sorted() }

    /// The entry of `family` whose layers match `file` (with or without the top), or the
    /// with-top entry when the file says nothing.
    static func entry(family: String, for file: KerasWeightFile) -> Entry? {
        let candidates = entries.filter { $0.family == family }
        let names = Set(file.layers.map(\.name))
        if let exact = candidates.first(where: {
            $0.weightedLayers == names || $0.weightedLayers == Set(names.map(normalised))
        }) {
            return exact
        }
        // Files written before Keras 3 renamed some layers (MobileNetV3's `Conv/BatchNorm` is
        // `conv_bn` now): the same number of weighted layers, loaded in order as Keras does.
        if let sameCount = candidates.first(where: { $0.weightedLayers.count == file.layers.count }) {
            return sameCount
        }
        // A file without the top's layers goes into the headless architecture; strict loading
        // then lists whatever else differs.
        if let notop = candidates.first(where: { !$0.includeTop }), names.isSubset(of: notop.weightedLayers) {
            return notop
        }
        return candidates.first { $0.includeTop }
    }

    /// The entry whose weighted layer names are the file's, exactly, once tf.keras's `/` is
    /// Keras 3's `_` (DenseNet's `conv1/conv`), or once tf.keras's MobileNetV3 names are Keras
    /// 3's (`expanded_conv_3/squeeze_excite/Conv_1` → `expanded_conv_3_squeeze_excite_conv_1`,
    /// `Conv/BatchNorm` → `conv_bn`). Keras 3 key-named files need `--arch`.
    public static func recognise(_ file: KerasWeightFile) -> Entry? {
        guard !file.namesAreKeras3Keys else { return nil }
        let names = Set(file.layers.map(\.name))
        return entries.first { $0.weightedLayers == names } ?? entries.first {
            $0.weightedLayers == Set(names.map(normalised))
        }
            ?? entries.first { $0.weightedLayers == Set(names.map(lowercaseNormalised)) }
    }

    /// tf.keras's `conv1/conv` as Keras 3 names it, `conv1_conv`.
    static func normalised(_ name: String) -> String { name.replacingOccurrences(of: "/", with: "_") }

    /// tf.keras's MobileNetV3 names as Keras 3 renamed them: `/BatchNorm` is `_bn`, `/` is `_`,
    /// all lower case.
    static func lowercaseNormalised(_ name: String) -> String {
        normalised(name.replacingOccurrences(of: "/BatchNorm", with: "_bn")).lowercased()
    }

    /// How `file`'s weights pair with `entry`'s layers: by name when the names are Keras 3's,
    /// else in order (Keras's own default for legacy weights-only files), shapes checked.
    static func matching(_ entry: Entry, _ file: KerasWeightFile) -> WeightLoadOptions.Matching {
        Set(file.layers.map(\.name)) == entry.weightedLayers ? .byName : .topological
    }

    /// The graph of `entry` with zero weights; `inputSize` applies to `_notop` entries.
    public static func graph(_ entry: Entry, inputSize: Int?) throws -> Graph {
        try ModelConfigImporter.graph(
            fromJSON: try text(entry.name + ".json"), defaultImageSize: inputSize ?? entry.inputSize ?? 224)
    }
}

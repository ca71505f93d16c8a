import Foundation
import SightlineCore

/// A list of images with optional class labels, in a deterministic order.
///
/// Inputs may be folders, files, glob patterns or list files (`.txt`/`.lst`, one path per line,
/// relative to the list file). A folder whose subfolders hold images is a class-folder dataset:
/// class names are the sorted subfolder names and give the label indices, as Keras
/// `image_dataset_from_directory` does; images are found recursively and sorted by path.
public struct ImageFolder: Sendable {
    /// One image.
    public struct Item: Sendable, Equatable {
        public var path: String
        /// The class index, for class-folder inputs.
        public var label: Int?

        public init(path: String, label: Int?) {
            self.path = path
            self.label = label
        }
    }

    public var items: [Item]
    /// Class names in label order, when the input has class folders.
    public var classNames: [String]?

    /// Extensions accepted by default (case-insensitive).
    public static let defaultExtensions: Set<String> = ["jpg", "jpeg", "png"]

    /// Lists the images of `inputs`.
    public init(inputs: [String], extensions: Set<String> = ImageFolder.defaultExtensions) throws(DataError) {
        let fm = FileManager.default
        var items: [Item] = []
        var classNames: [String]?
        func accepted(_ path: String) -> Bool { extensions.contains((path as NSString).pathExtension.lowercased()) }
        for input in inputs {
            var isDirectory: ObjCBool = false
            if fm.fileExists(atPath: input, isDirectory: &isDirectory), isDirectory.boolValue {
                let entries = ((try? fm.contentsOfDirectory(atPath: input)) ?? []).filter { !$0.hasPrefix(".") }
                    .sorted()
                let folders = entries.filter { name in
                    var nested: ObjCBool = false
                    return fm.fileExists(atPath: (input as NSString).appendingPathComponent(name), isDirectory: &nested)
                        && nested.boolValue
                }
                if !folders.isEmpty {
                    guard classNames == nil || classNames == folders else {
                        throw DataError(
                            .input, subject: input,
                            "its class folders \(folders) differ from an earlier input's \(classNames ?? [])")
                    }
                    classNames = folders
                    for (label, folder) in folders.enumerated() {
                        let root = (input as NSString).appendingPathComponent(folder)
                        let files = (fm.subpathsOfDirectory(atPath: root, fallback: [])).filter(accepted).sorted()
                        items += files.map { Item(path: (root as NSString).appendingPathComponent($0), label: label) }
                    }
                } else {
                    items += entries.filter(accepted).map {
                        Item(path: (input as NSString).appendingPathComponent($0), label: nil)
                    }
                }
            } else if ["txt", "lst"].contains((input as NSString).pathExtension.lowercased()) {
                guard let text = try? String(contentsOfFile: input, encoding: .utf8) else {
                    throw DataError(
                        .input, subject: input,
                        "cannot be read as a list file; give a UTF-8 text file with one image path per line")
                }
                let base = (input as NSString).deletingLastPathComponent
                for line in text.split(whereSeparator: \.isNewline) {
                    let entry = line.trimmingCharacters(in: .whitespaces)
                    guard !entry.isEmpty, !entry.hasPrefix("#") else { continue }
                    items.append(
                        Item(
                            path: entry.hasPrefix("/") ? entry : (base as NSString).appendingPathComponent(entry),
                            label: nil))
                }
            } else if input.contains(where: { "*?[".contains($0) }) {
                items += Self.glob(input).filter(accepted).map { Item(path: $0, label: nil) }
            } else if fm.fileExists(atPath: input) {
                items.append(Item(path: input, label: nil))
            } else {
                throw DataError(
                    .input, subject: input,
                    "no such file, folder or matching pattern; check the path, and quote glob patterns so the shell leaves them to Sightline"
                )
            }
        }
        if classNames != nil && items.contains(where: { $0.label == nil }) {
            throw DataError(
                .input, subject: inputs.joined(separator: " "),
                "mixes class folders with unlabelled images; give either one folder of class subfolders or plain images"
            )
        }
        self.items = items
        self.classNames = classNames
    }

    public init(items: [Item], classNames: [String]?) {
        self.items = items
        self.classNames = classNames
    }

    static func glob(_ pattern: String) -> [String] {
        var result = glob_t()
        defer { globfree(&result) }
        guard Glibc.glob(pattern, 0, nil, &result) == 0 else { return [] }
        return (0..<Int(result.gl_pathc)).compactMap { result.gl_pathv[$0].map { String(cString: $0) } }.sorted()
    }

    /// A seeded, stratified split: from each class (or the whole list when unlabelled),
    /// `round(fraction · count)` items go to validation, chosen by `SeededGenerator(seed:)`.
    /// Both parts keep the dataset order.
    public func split(validationFraction fraction: Double, seed: UInt64) -> (
        training: ImageFolder, validation: ImageFolder
    ) {
        var generator = SeededGenerator(seed: seed)
        var validation = Set<Int>()
        let groups = Dictionary(grouping: items.indices) { items[$0].label ?? -1 }
        for key in groups.keys.sorted() {
            var indices = groups[key] ?? []
            indices.shuffle(using: &generator)
            validation.formUnion(indices.prefix(Int((Double(indices.count) * fraction).rounded())))
        }
        let training = items.indices.filter { !validation.contains($0) }.map { items[$0] }
        let held = items.indices.filter { validation.contains($0) }.map { items[$0] }
        return (ImageFolder(items: training, classNames: classNames), ImageFolder(items: held, classNames: classNames))
    }

    /// The contiguous slice `index` of `count` shards: items `n·index/count ..< n·(index+1)/count`.
    public func shard(_ index: Int, of count: Int) -> (range: Range<Int>, folder: ImageFolder) {
        let range = (items.count * index / count)..<(items.count * (index + 1) / count)
        return (range, ImageFolder(items: Array(items[range]), classNames: classNames))
    }
}

extension FileManager {
    func subpathsOfDirectory(atPath path: String, fallback: [String]) -> [String] {
        (try? subpathsOfDirectory(atPath: path)) ?? fallback
    }
}

import Foundation
import SightlineModels
import SightlineNN
import SightlineTransfer
import SightlineVision
import SightlineWeights

/// The one input policy of `predict`, `gradcam`, `extract` and `evaluate`: image files,
/// folders (searched recursively; class folders give labels), glob patterns (quoted) and list
/// files (`.txt`/`.lst`, one path per line), as `ImageFolder` reads them. An input that does
/// not exist is a usage error naming it, before any work.
enum ImageInputs {
    static let help =
        "Image files (JPEG, PNG), folders (searched recursively), quoted glob patterns or list files (.txt/.lst)."

    static func folder(_ inputs: [String]) throws -> ImageFolder {
        let folder: ImageFolder
        do {
            folder = try ImageFolder(inputs: inputs)
        } catch {
            throw CommandError.usage(error.description)
        }
        guard !folder.items.isEmpty else {
            throw CommandError.usage("no JPEG or PNG images in \(inputs.joined(separator: " "))")
        }
        return folder
    }

    static func paths(_ inputs: [String]) throws -> [String] { try folder(inputs).items.map(\.path) }

    /// The image input `[H, W, C]` of `graph`, checked: 1, 3 or 4 channels, and a preprocessing
    /// that fits them.
    static func inputShape(of graph: Graph, preprocessing: Preprocessing) throws -> [Int] {
        guard let input = graph.inputNames.first, let shape = graph.shape(of: input), shape.count == 3,
            ImageChannels.supported.contains(shape[2])
        else {
            throw CommandError(
                message:
                    "the model's input \(graph.inputNames.first.flatMap(graph.shape(of:)) ?? []) is not an image of 1, 3 or 4 channels"
            )
        }
        if let problem = preprocessing.problem(channels: shape[2]) { throw CommandError(message: problem) }
        return shape
    }

    /// Class names Sightline recorded (finetune, train-head, convert --head): the head's when
    /// one is stacked, else the model file's.
    static func recordedClassNames(head: String?, model: LoadedModel) -> [String]? {
        guard let head else { return model.file.classNames }
        return (try? HDF5File(reading: head).stringsAttribute("class_names")) ?? nil
    }
}

/// JSON written by every command: snake_case keys, sorted, paths without escaped slashes.
enum JSONOutput {
    static func text(_ object: Any) throws -> String {
        String(
            decoding: try JSONSerialization.data(
                withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]), as: UTF8.self)
    }
}

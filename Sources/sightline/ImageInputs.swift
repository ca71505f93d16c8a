import Foundation
import SightlineData
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

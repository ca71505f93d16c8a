import Foundation
import SightlineTransfer

/// The one input policy of `predict`, `gradcam`, `extract` and `evaluate`: image files,
/// folders (searched recursively; class folders give labels), glob patterns (quoted) and list
/// files (`.txt`/`.lst`, one path per line), as `ImageFolder` reads them. An input that does
/// not exist is a usage error naming it, before any work.
enum ImageInputs {
    static let help = "Image files (JPEG, PNG), folders (searched recursively), quoted glob patterns or list files (.txt/.lst)."

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
}

/// JSON written by every command: snake_case keys, sorted, paths without escaped slashes.
enum JSONOutput {
    static func text(_ object: Any) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]), as: UTF8.self)
    }
}

/// Every failure of SightlineData: an image input that cannot be listed, or a model whose input
/// is not an image Sightline can feed, naming what it concerns and the fix. The command line maps
/// `kind` to its exit statuses.
public struct DataError: Error, CustomStringConvertible, Equatable {
    public enum Kind: Sendable, Equatable {
        /// An input (file, folder, glob, list file) that cannot be used; `subject` is the input.
        case input
        /// The model's input is not an image of 1, 3 or 4 channels, or its preprocessing does not
        /// fit the channels; `subject` is the model's input layer.
        case model
    }

    public var kind: Kind
    /// The input path or layer it concerns, or empty.
    public var subject: String
    /// What went wrong, and the fix.
    public var message: String

    public init(_ kind: Kind, subject: String = "", _ message: String) {
        (self.kind, self.subject, self.message) = (kind, subject, message)
    }

    public var description: String { subject.isEmpty ? message : "\(subject): \(message)" }
}

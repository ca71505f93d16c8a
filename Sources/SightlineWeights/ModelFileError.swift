/// Every failure of SightlineWeights: a model, weights or HDF5 file that cannot be used as
/// asked, naming the file, the object or layer inside it, and what to do.
public struct ModelFileError: Error, CustomStringConvertible, Equatable {
    /// What kind of problem it is (the command line maps kinds to exit statuses).
    public enum Kind: Sendable, Equatable {
        /// libhdf5 could not open, read or write an object, or it is not what Keras writes there.
        case hdf5
        /// A `.keras` archive is not a readable zip or lacks a member.
        case archive
        /// The file is not a layout Keras writes (or one Sightline cannot read).
        case layout
        /// The architecture cannot be decided: a weights-only file needs `--arch`, or `--arch` is unknown.
        case architecture
        /// The weights do not fit the model: every missing, unused and mis-shaped weight is listed.
        case weights
        /// The file cannot be read at all (missing, a folder, no permission).
        case unreadable
        /// The model cannot be written as asked: an extension Sightline does not write, NaN or
        /// infinite weights, a layer with no Keras counterpart.
        case unwritable
    }

    public var kind: Kind
    /// The file's path (for an error found before the file is known, empty until a caller sets it).
    public var file: String
    /// The object path inside the file (`/` for the root), or empty when not applicable.
    public var object: String
    /// What went wrong, and the fix where there is one.
    public var message: String

    public init(file: String, object: String = "", _ message: String, kind: Kind = .hdf5) {
        self.kind = kind
        self.file = file
        self.object = object
        self.message = message
    }

    /// Runs `body`; an error of it that names no file yet is given `path` (errors found before
    /// the file is known, as a layer that cannot be written).
    static func naming<T>(_ path: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch var error as ModelFileError where error.file.isEmpty {
            error.file = path
            throw error
        }
    }

    public var description: String { ([file, object].filter { !$0.isEmpty } + [message]).joined(separator: ": ") }
}

/// An HDF5 failure, naming the file and the object inside it.
public struct HDF5Error: Error, CustomStringConvertible, Equatable {
    /// The file's path.
    public var file: String
    /// The object path inside the file (`/` for the root), or empty when not applicable.
    public var object: String
    /// What went wrong.
    public var message: String

    public init(file: String, object: String = "", _ message: String) {
        self.file = file
        self.object = object
        self.message = message
    }

    public var description: String {
        object.isEmpty ? "\(file): \(message)" : "\(file): \(object): \(message)"
    }
}

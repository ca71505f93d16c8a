/// Every failure of SightlineTransfer: what it concerns (an input path, an option, a layer, a
/// file) and the fix. The command line maps `kind` to its exit statuses.
public struct TransferError: Error, CustomStringConvertible, Equatable {
    public enum Kind: Sendable, Equatable {
        /// An input (file, folder, glob, list file) that cannot be used; `subject` is the input.
        case input
        /// An option's value cannot be used with this model or data; `subject` names the option.
        case option
        /// The data cannot be used as asked (no class folders, nothing readable, classes that differ).
        case data
        /// The model cannot be used as asked (input not an image, a layer without output).
        case model
        /// A file the job reads or writes conflicts with it (a partial run, other settings, shards that differ).
        case file
        /// The job stopped when asked to; rerun with `--resume`.
        case stopped
        /// The MPI library failed.
        case mpi
    }

    public var kind: Kind
    /// The input path or option it concerns (`--unfreeze-from`), or empty.
    public var subject: String
    /// What went wrong, and the fix where there is one.
    public var message: String

    public init(_ kind: Kind, subject: String = "", _ message: String) {
        self.kind = kind
        self.subject = subject
        self.message = message
    }

    public var description: String { subject.isEmpty ? message : "\(subject): \(message)" }
}

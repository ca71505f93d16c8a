import Foundation

/// The checks every output path passes before a command does any work: the right extension, not
/// an existing folder (or, for a folder output, not an existing file), a folder that exists or
/// can be created and is writable, and never the same file as one of the command's inputs
/// (compared after resolving symbolic links, `.` and `..`, and by device and inode for hard
/// links), so that no input is ever overwritten and no job fails only at the end.
public enum OutputPath {
    /// Why an output path cannot be used, naming the option, the path and the fix.
    public struct Problem: Error, CustomStringConvertible, Equatable {
        public var description: String
        public init(_ description: String) { self.description = description }
    }

    /// What the command writes at the path.
    public enum Kind: Sendable, Equatable {
        /// One file whose extension (lowercased, without the dot) must be one of these.
        case file(extensions: [String])
        /// A folder of files, created if needed.
        case folder
    }

    /// `path` made absolute, with `.` and `..` removed and the symbolic links of its existing
    /// part resolved (the missing rest is appended as given).
    public static func resolved(_ path: String) -> String {
        let absolute =
            path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        let standard = (absolute as NSString).standardizingPath
        if let real = realpath(standard, nil) {
            defer { free(real) }
            return String(cString: real)
        }
        let parent = (standard as NSString).deletingLastPathComponent
        guard parent != standard, !parent.isEmpty else { return standard }
        return (resolved(parent) as NSString).appendingPathComponent((standard as NSString).lastPathComponent)
    }

    /// Whether `a` and `b` name the same file: the same resolved path, or the same device and
    /// inode when both exist (hard links).
    public static func sameFile(_ a: String, _ b: String) -> Bool {
        if resolved(a) == resolved(b) { return true }
        var first = stat()
        var second = stat()
        guard stat(a, &first) == 0, stat(b, &second) == 0 else { return false }
        return first.st_dev == second.st_dev && first.st_ino == second.st_ino
    }

    /// Checks `path` (given as `option`) as an output of `kind` written by a command that reads
    /// `inputs`; `companions` are further files written next to it (`OUT.h5.state.h5`), which
    /// must not be inputs either. Throws the first problem found; creates nothing.
    public static func check(
        _ path: String, option: String = "--output", kind: Kind, inputs: [String], companions: [String] = []
    ) throws(Problem) {
        let shown = "\(option) \(path)"
        guard !path.isEmpty else { throw Problem("\(option) is empty; give a file name") }
        var isFolder: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isFolder)
        switch kind {
        case .file(let extensions):
            let ext = (path as NSString).pathExtension.lowercased()
            if exists, isFolder.boolValue {
                let example = (path as NSString).appendingPathComponent("output.\(extensions.first ?? "h5")")
                throw Problem("\(shown) is an existing folder; give a file name inside it, such as \(example)")
            }
            guard extensions.contains(ext) else {
                let listed = extensions.map { "." + $0 }.joined(separator: " or ")
                throw Problem(
                    "\(shown): the file written is \(listed), not \(ext.isEmpty ? "a file without extension" : "." + ext); name it with \(listed)"
                )
            }
        case .folder:
            if exists, !isFolder.boolValue {
                throw Problem("\(shown) is an existing file, not a folder; give a folder name (created if needed)")
            }
        }
        for written in [path] + companions {
            if let input = inputs.first(where: { sameFile($0, written) }) {
                let through = written == path ? "" : " (through \(written))"
                throw Problem(
                    "\(shown) is the input \(input)\(through): writing it would destroy the input; choose another output name"
                )
            }
        }
        if case .folder = kind, exists {
            try writable(folder: path, shown: shown)
        } else {
            try writable(folder: resolved((path as NSString).deletingLastPathComponent), shown: shown)
        }
    }

    /// Checks that the nearest existing folder on the way to `folder` is a writable folder.
    private static func writable(folder: String, shown: String) throws(Problem) {
        var existing = folder.isEmpty ? "/" : folder
        var isFolder: ObjCBool = false
        while !FileManager.default.fileExists(atPath: existing, isDirectory: &isFolder) {
            existing = (existing as NSString).deletingLastPathComponent
        }
        guard isFolder.boolValue else {
            throw Problem("\(shown): \(existing) is a file, so no folder can be made there; choose another path")
        }
        if access(existing, W_OK | X_OK) != 0 {
            let reason = errno == EROFS ? "is on a read-only file system" : "is not writable (permission denied)"
            throw Problem("\(shown): the folder \(existing) \(reason); choose a writable folder")
        }
    }
}

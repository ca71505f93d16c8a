import Foundation

/// Files written so that readers never see a partial one: the content goes to a temporary name
/// in the same folder, which is then renamed over the destination (`rename(2)` is atomic).
public enum AtomicFile {
    /// A failed write, naming the destination.
    public struct WriteError: Error, CustomStringConvertible {
        public var path: String
        public var description: String { "\(path): cannot write the finished file into place" }
    }

    /// Calls `write` with a temporary path next to `path`, then renames it to `path`. On any
    /// error the temporary file is removed and `path` is left as it was. Missing folders on the
    /// way to `path` are created (a job's output never fails at the end for want of a folder).
    public static func write(to path: String, _ write: (String) throws -> Void) throws {
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let temporary = url.deletingLastPathComponent().appendingPathComponent(
            ".\(url.lastPathComponent).\(UUID().uuidString).partial"
        ).path
        do {
            try write(temporary)
            guard rename(temporary, path) == 0 else { throw WriteError(path: path) }
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw error
        }
    }

    /// Writes `data` to `path` atomically.
    public static func write(_ data: Data, to path: String) throws {
        try write(to: path) { try data.write(to: URL(fileURLWithPath: $0)) }
    }
}

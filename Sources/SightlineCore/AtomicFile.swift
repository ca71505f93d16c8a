import Foundation

/// Files written so that readers never see a partial one: the content goes to a temporary name
/// in the same folder, is flushed to the disk (`fsync`, checked), and only then renamed over the
/// destination (`rename(2)` is atomic). A write that fails for any reason (a full disk included)
/// removes the temporary file and leaves the destination as it was. Temporary names carry the
/// writing process's id, so files left by killed runs are recognised and removed by later writes.
public enum AtomicFile {
    /// A failed write, naming the destination and the reason.
    public struct WriteError: Error, CustomStringConvertible {
        public var path: String
        public var reason: String
        public init(path: String, reason: String) { (self.path, self.reason) = (path, reason) }
        public var description: String { "\(path): \(reason); the previous file (if any) is unchanged" }
    }

    /// The marker in temporary names: `.NAME.sightline-PID-UUID.partial`.
    static let marker = "sightline-"

    /// Calls `write` with a temporary path next to `path`, then flushes and renames it to
    /// `path`. On any error the temporary file is removed and `path` is left as it was; errors
    /// that name the temporary file are rethrown as `WriteError` naming `path`. Missing folders
    /// on the way to `path` are created (a job's output never fails at the end for want of one).
    public static func write(to path: String, _ write: (String) throws -> Void) throws {
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw WriteError(path: path, reason: "cannot create the folder \(folder.path)")
        }
        removeStale(in: folder.path, prefix: ".\(url.lastPathComponent).")
        let temporary = folder.appendingPathComponent(
            ".\(url.lastPathComponent).\(marker)\(getpid())-\(UUID().uuidString).partial"
        ).path
        let registration = TemporaryFiles.register(temporary)
        defer { TemporaryFiles.unregister(registration) }
        do {
            try write(temporary)
            try synchronize(temporary, naming: path)
            guard rename(temporary, path) == 0 else {
                throw WriteError(
                    path: path, reason: "cannot move the finished file into place: \(SystemError.describe(errno))")
            }
            _ = synchronizeFolder(folder.path)
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            let text = "\(error)"
            guard text.contains(temporary) else { throw error }
            throw WriteError(
                path: path,
                reason: text.replacingOccurrences(of: "\(temporary): ", with: "").replacingOccurrences(
                    of: temporary, with: path))
        }
    }

    /// Writes `data` to `path` atomically, every `write(2)` checked.
    public static func write(_ data: Data, to path: String) throws {
        try write(to: path) { temporary in
            let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard descriptor >= 0 else {
                throw WriteError(path: temporary, reason: "cannot create the file: \(SystemError.describe(errno))")
            }
            defer { close(descriptor) }
            try data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
                guard let base = bytes.baseAddress else { return }
                var offset = 0
                while offset < bytes.count {
                    let written = Foundation.write(descriptor, base + offset, bytes.count - offset)
                    if written < 0 && errno == EINTR { continue }
                    guard written > 0 else {
                        throw WriteError(path: temporary, reason: SystemError.describe(written < 0 ? errno : ENOSPC))
                    }
                    offset += written
                }
            }
        }
    }

    /// Throws when the folder of `path` has less than `bytes` (plus 1 MiB) free, before a
    /// write of a known size starts.
    public static func checkSpace(for path: String, bytes: Int) throws {
        var folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        while !FileManager.default.fileExists(atPath: folder), folder != "/" {
            folder = (folder as NSString).deletingLastPathComponent
        }
        var info = statvfs()
        guard statvfs(folder, &info) == 0 else { return }
        let free = Int(info.f_bavail) &* Int(info.f_frsize)
        guard free < bytes + (1 << 20) else { return }
        throw WriteError(
            path: path,
            reason:
                "no space left on device: needs about \(size(bytes)), \(size(free)) free in \(folder); free some space or write to another disk"
        )
    }

    /// A byte count for people: KiB below 1 MiB, else MiB.
    static func size(_ bytes: Int) -> String {
        bytes < 1 << 20 ? "\((bytes + 1023) >> 10) KiB" : "\((bytes + (1 << 20) - 1) >> 20) MiB"
    }

    /// `fsync`s the file at `temporary`, reporting failure as a write error of `path`.
    private static func synchronize(_ temporary: String, naming path: String) throws {
        let descriptor = open(temporary, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw WriteError(path: path, reason: "the written file vanished: \(SystemError.describe(errno))")
        }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else {
            throw WriteError(path: path, reason: "cannot flush it to disk: \(SystemError.describe(errno))")
        }
    }

    /// `fsync`s a folder, so that a rename survives a crash; false where the system refuses.
    private static func synchronizeFolder(_ folder: String) -> Bool {
        let descriptor = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        return fsync(descriptor) == 0
    }

    /// Removes entries of `folder` named `PREFIX sightline-PID-…` whose process no longer runs
    /// (left by a run that was killed), and returns their names. PID is digits followed by `-`.
    @discardableResult
    public static func removeStale(in folder: String, prefix: String) -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return [] }
        var removed: [String] = []
        for name in names where name.hasPrefix(prefix + marker) {
            let rest = name.dropFirst(prefix.count + marker.count)
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            guard rest.dropFirst(digits.count).first == "-", let pid = Int32(digits), pid != getpid() else { continue }
            if kill(pid, 0) == 0 || errno == EPERM { continue }  // still running
            if (try? FileManager.default.removeItem(atPath: (folder as NSString).appendingPathComponent(name))) != nil {
                removed.append(name)
            }
        }
        return removed
    }
}

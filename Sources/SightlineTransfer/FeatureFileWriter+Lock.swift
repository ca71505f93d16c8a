import Foundation

/// A working file in use: the writer holds an exclusive `flock` on its fingerprint file
/// (`OUT.partial.json`) while it runs, so a second run on the same output is told that another
/// process is writing it, instead of finding a file it cannot open. The kernel drops the lock
/// when the process ends, however it ends.
extension FeatureFileWriter {
    /// Locks the fingerprint file of `path`; nil when there is none to lock. Throws when another
    /// running process holds it.
    static func lock(_ path: String) throws -> Int32? {
        let descriptor = open(fingerprintPath(path), O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            close(descriptor)
            throw TransferError(
                .file, subject: workingPath(path),
                "is being written by another sightline that is still running; wait for it to finish, or write to another output"
            )
        }
        return descriptor
    }

    /// Whether another running process is writing `path`'s working file.
    public static func isInUse(_ path: String) -> Bool {
        do {
            if let descriptor = try lock(path) { close(descriptor) }
            return false
        } catch {
            return true
        }
    }
}

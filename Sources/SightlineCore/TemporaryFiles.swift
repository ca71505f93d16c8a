internal import CRuntime
import Foundation

/// Temporary files and folders that must not outlive an interrupted process: registered while
/// they exist, removed by `Interrupts` when a signal ends the process (a fixed C table, walked
/// without allocating in the signal handler).
public enum TemporaryFiles {
    /// A registration, handed back to `unregister` once the path is renamed or removed.
    public struct Registration: Sendable {
        let slot: Int32
    }

    /// Registers `path` for removal if a signal ends the process.
    public static func register(_ path: String) -> Registration {
        Registration(slot: sl_cleanup_register(path))
    }

    /// Forgets a registration.
    public static func unregister(_ registration: Registration) {
        sl_cleanup_unregister(registration.slot)
    }

    /// Runs `body` with `path` registered.
    public static func registered<R>(_ path: String, _ body: () throws -> R) rethrows -> R {
        let registration = register(path)
        defer { unregister(registration) }
        return try body()
    }
}

extension TemporaryFiles {
    /// From a signal handler: removes every registered path, writes `message` (a literal, so no
    /// allocation) to standard error and ends the process with `status`.
    public static func removeAllAndExit(_ message: StaticString, status: Int32) -> Never {
        sl_cleanup_and_exit(UnsafeRawPointer(message.utf8Start).assumingMemoryBound(to: CChar.self), status)
        _exit(status)
    }
}

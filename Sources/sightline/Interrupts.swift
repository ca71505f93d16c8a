import Foundation
import Synchronization

/// SIGINT and SIGTERM during long jobs: the handler only records the signal; jobs check
/// `Interrupts.requested` after each step, finish it, keep what can be resumed and exit with
/// status 130 saying how to continue. A second signal ends the process at once.
enum Interrupts {
    private static let flag = Atomic<Bool>(false)

    static var requested: Bool { flag.load(ordering: .relaxed) }

    static func install() {
        let handler: @convention(c) (Int32) -> Void = { signal in
            if Interrupts.flag.exchange(true, ordering: .relaxed) { _exit(128 + signal) }
        }
        signal(SIGINT, handler)
        signal(SIGTERM, handler)
        // A launcher may have started us with these signals blocked (the mask is inherited):
        // unblock them on this thread, from which later threads inherit.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    /// Ends the command: a fresh line after any progress bar, `message`, exit status 130.
    static func stop(_ message: String) -> CommandError {
        if isatty(STDERR_FILENO) == 1 { FileHandle.standardError.write(Data("\n".utf8)) }
        return CommandError(message: message, status: .interrupted)
    }
}

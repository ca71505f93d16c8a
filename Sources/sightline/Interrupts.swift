import Foundation
import SightlineCore
import Synchronization

/// SIGINT and SIGTERM in every command. From the start (model loading included) a signal ends
/// the command at once with status 130, after removing every temporary file registered with
/// `TemporaryFiles` (outputs are renamed into place only when complete, so no final file is
/// ever half-written). Long jobs that can stop cleanly call `cooperate()`: the first signal then
/// only records the request, the job checks `Interrupts.requested` after each step, finishes
/// it, keeps what can be resumed and exits with status 130 saying how to continue. A second
/// signal ends the process at once.
enum Interrupts {
    private static let flag = Atomic<Bool>(false)
    private static let cooperative = Atomic<Bool>(false)

    static var requested: Bool { flag.load(ordering: .relaxed) }

    /// Installs the handlers (called once by `runMapped`, before any command runs).
    static func install() {
        let handler: @convention(c) (Int32) -> Void = { _ in
            let again = Interrupts.flag.exchange(true, ordering: .relaxed)
            if !again && Interrupts.cooperative.load(ordering: .relaxed) { return }
            TemporaryFiles.removeAllAndExit(
                "\nerror: interrupted; stopped before finishing (temporary files removed, earlier outputs unchanged)\n",
                status: ExitStatus.interrupted.rawValue)
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

    /// From here on the first signal only sets `requested`: the job stops at its next step.
    /// Reinstalls the handlers (an MPI runtime initialised since may have replaced them).
    static func cooperate() {
        cooperative.store(true, ordering: .relaxed)
        install()
    }

    /// Ends the command: a fresh line after any progress bar, `message`, exit status 130.
    static func stop(_ message: String) -> CommandError {
        if isatty(STDERR_FILENO) == 1 { FileHandle.standardError.write(Data("\n".utf8)) }
        return CommandError(message: message, status: .interrupted)
    }
}

import ArgumentParser
import Foundation
import SightlineCore
import SightlineData
import SightlineTransfer
import SightlineWeights

/// The exit statuses of every command (listed in `sightline --help` and the README).
enum ExitStatus: Int32 {
    /// Everything asked for was done.
    case ok = 0
    /// Done, but some inputs were skipped; each was reported on standard error.
    case someSkipped = 1
    /// The command line is wrong: an unknown option, a bad value, a missing input file.
    case usage = 2
    /// Nothing could be done: the model or data cannot be used as asked.
    case failed = 3
    /// Interrupted by SIGINT or SIGTERM after saving what can be resumed.
    case interrupted = 130

    /// The status of a library failure: a wrong input path, option value or missing `--arch` is
    /// a usage error (2); a job asked to stop is 130; everything else is 3.
    static func of(_ error: TransferError) -> ExitStatus {
        switch error.kind {
        case .input, .option: return .usage
        case .stopped: return .interrupted
        case .data, .model, .file, .mpi: return .failed
        }
    }

    /// See `of(_: TransferError)`: an input that cannot be listed is a usage error (2), a model
    /// whose input is not an image 3.
    static func of(_ error: DataError) -> ExitStatus { error.kind == .input ? .usage : .failed }

    /// See `of(_: TransferError)`: a missing `--arch` and a missing or unreadable input file
    /// (the model, like an image) are usage errors (2).
    static func of(_ error: ModelFileError) -> ExitStatus {
        error.kind == .architecture || error.kind == .unreadable ? .usage : .failed
    }

    /// The table as `--help` shows it.
    static let help =
        "Exit status: 0 all done; 1 done, some inputs skipped (listed on standard error); 2 usage error; 3 nothing could be done; 130 interrupted (rerun with --resume where the command has it)."
}

/// A failure that stops a command, as one line naming the file, layer or option and the fix.
struct CommandError: Error, CustomStringConvertible {
    var message: String
    var status: ExitStatus = .failed
    var description: String { message }

    /// A problem with the command line (exit 2).
    static func usage(_ message: String) -> CommandError { CommandError(message: message, status: .usage) }
}

/// The one style for what commands say on standard error.
enum Report {
    static func write(_ line: String) { FileHandle.standardError.write(Data((line + "\n").utf8)) }
    /// `skipped: PATH: REASON` for an input left out of an otherwise completed job.
    static func skipped(_ path: String, _ reason: String) { write("skipped: \(path): \(reason)") }
    static func warning(_ text: String) { write("warning: \(text)") }
    static func error(_ text: String) { write("error: \(text)") }

    /// Throws exit status 1 when `count` inputs were skipped.
    static func finish(skipped count: Int) throws {
        if count > 0 { throw ExitCode(ExitStatus.someSkipped.rawValue) }
    }
}

extension Sightline {
    /// Runs the command and maps every failure to the exit-status table, printing
    /// `error: …` (ArgumentParser's usage text after a usage error).
    static func runMapped() -> Never {
        Interrupts.install()
        do {
            var command = try parseAsRoot()
            try command.run()
            Foundation.exit(ExitStatus.ok.rawValue)
        } catch let error as CommandError {
            Report.error(error.message)
            Foundation.exit(error.status.rawValue)
        } catch let error as TransferError {
            Report.error(indented(error))
            Foundation.exit(ExitStatus.of(error).rawValue)
        } catch let error as ModelFileError {
            Report.error(indented(error))
            Foundation.exit(ExitStatus.of(error).rawValue)
        } catch let error as DataError {
            Report.error(indented(error))
            Foundation.exit(ExitStatus.of(error).rawValue)
        } catch let code as ExitCode {
            Foundation.exit(code.rawValue)
        } catch {
            let parserCode = exitCode(for: error)
            if parserCode == .success { exit(withError: error) }  // --help, --version
            if parserCode == .validationFailure {
                var text = fullMessage(for: error)
                if text.hasPrefix("Error: ") { text = "error: " + text.dropFirst(7) }
                if let negative = OptionChecks.negativeValue(text, arguments: CommandLine.arguments) { text = negative }
                Report.write(text)
                Foundation.exit(ExitStatus.usage.rawValue)
            }
            Report.error(indented(error))
            Foundation.exit(ExitStatus.failed.rawValue)
        }
    }

    /// An error's text with its continuation lines indented under `error: `.
    private static func indented(_ error: any Error) -> String {
        "\(error)".split(separator: "\n").joined(separator: "\n  ")
    }
}

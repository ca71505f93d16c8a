import Foundation
import Testing

/// Issue 26: SIGINT and SIGTERM end every command with status 130, during model loading too,
/// leaving no temporary file; temporary files of killed runs are removed by the next run.
struct InterruptTests {
    let cli = CLITests()
    static let model = CLITests.fixtures.appendingPathComponent("resnet50_keras3.h5").path
    static let images = CLITests.fixtures.deletingLastPathComponent().appendingPathComponent("extract")

    func scratch() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("sightline-int-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Starts `sightline arguments`, sends `signal` after `delay` seconds, returns status and stderr.
    func interrupted(_ arguments: [String], after delay: Double, terminate: Bool = false) throws -> (
        status: Int32, err: String
    ) {
        let process = Process()
        process.executableURL = try cli.executable()
        process.arguments = arguments
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        Thread.sleep(forTimeInterval: delay)
        if terminate { process.terminate() } else { process.interrupt() }
        let data = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// A list file naming the fixture images `times` times (a run of several seconds).
    func longList(in root: URL, times: Int = 400) throws -> String {
        let paths = try FileManager.default.subpathsOfDirectory(atPath: Self.images.path).filter {
            $0.hasSuffix(".png")
        }
        let list = root.appendingPathComponent("list.txt")
        let lines = (0..<times).flatMap { _ in paths.map { Self.images.appendingPathComponent($0).path } }
        try lines.joined(separator: "\n").write(to: list, atomically: true, encoding: .utf8)
        return list.path
    }

    @Test func commandsThatDoNotResumeStopAt130() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(at: root) }
        let list = try longList(in: root)
        for (command, terminate) in [
            (["predict", Self.model, list], false),
            (["gradcam", Self.model, list, "-o", root.appendingPathComponent("cam").path], true),
        ] {
            let result = try interrupted(command, after: 0.5, terminate: terminate)
            #expect(result.status == 130, "\(command[0]): \(result.status) \(result.err)")
            #expect(result.err.contains("error: interrupted"), "\(result.err)")
        }
        let cam = (try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("cam").path)) ?? []
        #expect(!cam.contains { $0.hasSuffix(".partial") }, "\(cam)")
    }

    /// Whenever the signal comes (loading, writing, or after the end), the run either finished
    /// or stopped with 130, and no temporary file is left next to the output or the model.
    @Test func anInterruptAnywhereLeavesNoTemporaryFile() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(at: root) }
        let output = root.appendingPathComponent("x.keras").path
        for delay in [0.0, 0.02, 0.05, 0.1, 0.2] {
            let result = try interrupted(["convert", Self.model, "-o", output], after: delay, terminate: delay > 0.05)
            #expect(result.status == 0 || result.status == 130, "\(delay): \(result.status) \(result.err)")
            let left = try FileManager.default.contentsOfDirectory(atPath: root.path)
            #expect(left.allSatisfy { $0 == "x.keras" }, "\(delay): \(left)")
        }
    }

    @Test func temporaryFilesOfKilledRunsAreRemoved() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(at: root) }
        let finished = Process()
        finished.executableURL = URL(fileURLWithPath: "/bin/true")
        try finished.run()
        finished.waitUntilExit()
        let stale = root.appendingPathComponent(".x.h5.sightline-\(finished.processIdentifier)-0000.partial")
        try Data("half a model".utf8).write(to: stale)
        let live = root.appendingPathComponent(".x.h5.sightline-1-0000.partial")  // pid 1 runs
        try Data("another run's".utf8).write(to: live)
        let result = try cli.run(["convert", Self.model, "-o", root.appendingPathComponent("x.h5").path])
        #expect(result.status == 0, "\(result.err)")
        #expect(!FileManager.default.fileExists(atPath: stale.path), "the killed run's file is removed")
        #expect(FileManager.default.fileExists(atPath: live.path), "a running process's file is kept")
    }

    /// A second `extract` on an output another run is writing is told so (it was called
    /// "corrupt or truncated: delete it"); the first run then stops and resumes as usual.
    @Test func aSecondRunOnTheSameOutputIsToldItIsInUse() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(at: root) }
        let output = root.appendingPathComponent("f.h5").path
        let arguments = ["extract", Self.model, try longList(in: root, times: 150), "-o", output]
        let first = Process()
        first.executableURL = try cli.executable()
        first.arguments = arguments
        first.standardOutput = FileHandle.nullDevice
        first.standardError = FileHandle.nullDevice
        try first.run()
        let deadline = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: output + ".partial"), Date() < deadline {
            Thread.sleep(forTimeInterval: 0.02)
        }
        for extra in [[], ["--resume"]] {
            let second = try cli.run(arguments + extra)
            #expect(second.status == 3, "\(extra): \(second.err)")
            #expect(second.err.contains("is being written by another sightline that is still running"), "\(second.err)")
        }
        first.interrupt()
        first.waitUntilExit()
        #expect(first.terminationStatus == 130)
        let resumed = try cli.run(arguments + ["--resume"])
        #expect(resumed.status == 0 && FileManager.default.fileExists(atPath: output), "\(resumed.err)")
    }
}

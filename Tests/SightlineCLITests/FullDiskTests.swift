import Foundation
import Testing

/// Issue 26: a write that fails part-way (a full disk, here a file size limit, `ulimit -f`,
/// which needs no root) ends with a clear error naming the output, exit status 3, the previous
/// file intact and no temporary file left; never a crash and never a broken file in place.
struct FullDiskTests {
    let cli = CLITests()
    static let model = CLITests.fixtures.appendingPathComponent("resnet50_keras3.h5").path
    static let images = CLITests.fixtures.deletingLastPathComponent().appendingPathComponent("extract").path

    /// Runs `sightline arguments` under a file size limit of `kib` KiB (SIGXFSZ ignored, so a
    /// write past it fails with EFBIG as a write to a full disk fails with ENOSPC).
    func limited(_ kib: Int, _ arguments: [String]) throws -> (status: Int32, err: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        let quoted = arguments.map { "'\($0)'" }.joined(separator: " ")
        process.arguments = ["-c", "trap '' XFSZ; ulimit -f \(kib); exec '\(try cli.executable().path)' \(quoted)"]
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let data = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    func scratch() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("sightline-disk-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func aFailedModelWriteKeepsThePreviousFile() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(at: root) }
        for name in ["x.h5", "x.keras"] {
            let output = root.appendingPathComponent(name).path
            let first = try cli.run(["convert", Self.model, "-o", output])
            #expect(first.status == 0, "\(first.err)")
            let before = try Data(contentsOf: URL(fileURLWithPath: output))
            let result = try limited(100, ["convert", Self.model, "-o", output])
            #expect(result.status == 3, "\(name): exit \(result.status) \(result.err)")
            #expect(
                result.err.hasPrefix("error: \(output): file too large") && result.err.contains("unchanged"),
                "\(result.err)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: output)) == before, "\(name) is intact")
        }
        let left = try FileManager.default.contentsOfDirectory(atPath: root.path).sorted()
        #expect(left == ["x.h5", "x.keras"], "no temporary file is left: \(left)")
    }

    @Test func failedExtractionAndTrainingLeaveNoFiles() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(at: root) }
        let features = root.appendingPathComponent("f.h5").path
        let extract = try limited(100, ["extract", Self.model, Self.images, "-o", features])
        #expect(extract.status == 3 && extract.err.contains("\(features): "), "\(extract.err)")
        #expect(extract.err.contains("file too large") && extract.err.contains("nothing was written"))
        let tuned = root.appendingPathComponent("t.h5").path
        let tune = try limited(
            300, ["finetune", Self.model, "--data", Self.images, "-o", tuned, "--head-epochs", "1", "--epochs", "0"])
        #expect(tune.status == 3 && tune.err.contains("file too large"), "\(tune.err)")
        #expect(try cli.run(["extract", Self.model, Self.images, "-o", features]).status == 0)
        let merged = root.appendingPathComponent("merged.h5").path
        let merge = try limited(100, ["merge", features, "-o", merged])
        #expect(merge.status == 3 && merge.err.contains("file too large"), "\(merge.err)")
        let left = try FileManager.default.contentsOfDirectory(atPath: root.path)
        #expect(left == ["f.h5"], "no partial, model or merged file is left: \(left)")
    }
}

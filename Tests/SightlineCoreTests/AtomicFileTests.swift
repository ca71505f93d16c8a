import Foundation
import SightlineCore
import Testing

/// Outputs are written under a temporary name and renamed when complete, into folders that may
/// not exist yet (`finetune -o runs/today/model.h5` must not fail after training for want of one).
struct AtomicFileTests {
    @Test func writesIntoMissingFoldersAndLeavesNoTemporaryFile() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent(
            "sightline-atomic-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let path = root.appendingPathComponent("runs/today/model.txt").path
        try AtomicFile.write(Data("done".utf8), to: path)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "done")
        let left = try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("runs/today").path)
        #expect(left == ["model.txt"])
    }

    @Test func aFailedWriteKeepsThePreviousFile() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent(
            "sightline-atomic-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let path = root.appendingPathComponent("model.txt").path
        try AtomicFile.write(Data("first".utf8), to: path)
        struct Stop: Error {}
        #expect(throws: Stop.self) {
            try AtomicFile.write(to: path) { temporary in
                try Data("half".utf8).write(to: URL(fileURLWithPath: temporary))
                throw Stop()
            }
        }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "first")
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.path) == ["model.txt"])
    }

    /// A killed run's temporary files are removed by the next run, and nothing else: a user's
    /// file whose name merely starts with `sightline-` and digits stays (a `.keras` load swept the
    /// temporary folder with an empty prefix and took such files for leftovers).
    @Test func theSweepRemovesOnlyADeadRunsTemporaries() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent(
            "sightline-atomic-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let dead = Int32.max  // no process has this id
        let names = [
            ".model.h5.sightline-\(dead)-0F1E.partial",  // a killed run's: removed
            ".model.h5.sightline-\(getpid())-0F1E.partial",  // this process's: kept
            "sightline-713903B4-55AA_notop.h5",  // a user's file: kept
            ".model.h5.sightline-\(dead)x.partial",  // no dash after the id: kept
        ]
        for name in names { try Data("x".utf8).write(to: root.appendingPathComponent(name)) }
        let removed = AtomicFile.removeStale(in: root.path, prefix: ".model.h5.")
        #expect(removed == [names[0]])
        #expect(AtomicFile.removeStale(in: root.path, prefix: "").isEmpty)
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: root.path))
        #expect(left == Set(names.dropFirst()))
    }
}

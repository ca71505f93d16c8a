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
}

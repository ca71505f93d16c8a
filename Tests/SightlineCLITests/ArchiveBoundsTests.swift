import Foundation
import SightlineWeights
import Testing

/// Issue 26: `.keras` archives and model configurations are read within bounds, with errors
/// that name the file and the member: a member that declares more than the cap, JSON nested
/// deeper than any Keras config (a raw `NSCocoaErrorDomain` error, or a crash, before).
struct ArchiveBoundsTests {
    let cli = CLITests()
    static let zip = ["/usr/bin/zip", "/bin/zip"].first { FileManager.default.isExecutableFile(atPath: $0) }

    func scratch() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("sightline-zip-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Zips `members` (name → content) of `folder` into `archive` with the `zip` tool.
    func archive(_ archive: URL, _ members: [String: Data], in folder: URL) throws {
        for (name, data) in members { try data.write(to: folder.appendingPathComponent(name)) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try #require(Self.zip))
        process.currentDirectoryURL = folder
        process.arguments = ["-q", archive.path] + members.keys.sorted()
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
    }

    @Test(.enabled(if: zip != nil, "needs the zip tool"))
    func oversizedAndDeeplyNestedMembersAreRefusedNamingTheFile() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(at: root) }
        let weights = try Data(
            contentsOf: CLITests.fixtures.appendingPathComponent("resnet50_keras3.weights.h5"))
        let big = root.appendingPathComponent("big.keras")
        var huge = Data(repeating: UInt8(ascii: " "), count: Int(ArchiveLimits.configBytes) + 1024)
        huge.replaceSubrange(0..<2, with: Data("{}".utf8))
        try archive(big, ["config.json": huge, "model.weights.h5": weights], in: root)
        let refused = try cli.run(["inspect", big.path])
        #expect(refused.status == 3, "\(refused.err)")
        #expect(
            refused.err.hasPrefix(
                "error: \(big.path): config.json: declares 64 MiB decompressed, more than the 64 MiB"),
            "\(refused.err)")
        let deep = root.appendingPathComponent("deep.keras")
        let nested = Data((String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)).utf8)
        try archive(deep, ["config.json": nested, "model.weights.h5": weights], in: root)
        let tooDeep = try cli.run(["inspect", deep.path])
        #expect(tooDeep.status == 3, "\(tooDeep.err)")
        #expect(
            tooDeep.err.hasPrefix("error: \(deep.path): config.json: nests JSON deeper than 256 levels"),
            "\(tooDeep.err)")
    }

    /// The same depth bound for the `model_config` of an `.h5` file.
    @Test func aDeeplyNestedModelConfigIsRefusedNamingTheFile() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(at: root) }
        let path = root.appendingPathComponent("deep.h5").path
        try FileManager.default.copyItem(
            atPath: CLITests.fixtures.appendingPathComponent("resnet50_keras2_model.h5").path, toPath: path)
        do {
            let file = try HDF5File(appending: path)
            try file.writeString(
                String(repeating: "{\"a\":", count: 5000) + "1" + String(repeating: "}", count: 5000),
                attribute: "model_config")
            try file.close()
        }
        let result = try cli.run(["inspect", path])
        #expect(result.status == 3, "\(result.err)")
        #expect(
            result.err.hasPrefix("error: \(path): model_config: nests JSON deeper than 256 levels"), "\(result.err)")
    }
}

import Foundation
import Testing

/// Every ```sh block of every walkthrough in `notebooks-md/` runs, in order, from the
/// repository root with the built `sightline` on PATH, and succeeds; so the walkthroughs
/// cannot rot. (Their text output was pasted from real runs; numbers from training may differ
/// slightly on other CPUs, so only success and non-empty output are checked.)
struct WalkthroughTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static var walkthroughs: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("notebooks-md").path)) ?? [])
            .filter { $0.hasSuffix(".md") }.sorted()
    }

    /// The ```sh blocks of a Markdown file, in order.
    static func shellBlocks(_ text: String) -> [String] {
        var blocks: [String] = []
        var current: [String]?
        for line in text.components(separatedBy: "\n") {
            if current == nil, line.trimmingCharacters(in: .whitespaces) == "```sh" {
                current = []
            } else if current != nil, line.trimmingCharacters(in: .whitespaces) == "```" {
                blocks.append((current ?? []).joined(separator: "\n"))
                current = nil
            } else if current != nil {
                current?.append(line)
            }
        }
        return blocks
    }

    @Test func thereAreWalkthroughs() {
        #expect(Self.walkthroughs.count >= 4)
    }

    @Test(arguments: walkthroughs)
    func everyCommandBlockRuns(_ name: String) throws {
        let text = try String(contentsOf: Self.root.appendingPathComponent("notebooks-md/\(name)"), encoding: .utf8)
        let blocks = Self.shellBlocks(text)
        #expect(!blocks.isEmpty, "\(name) has no ```sh blocks")
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let directories = [binary, binary.deletingLastPathComponent()].filter {
            FileManager.default.isExecutableFile(atPath: $0.appendingPathComponent("sightline").path)
        }
        let bin = try #require(directories.first, "sightline is built next to the tests").path
        try FileManager.default.createDirectory(
            at: Self.root.appendingPathComponent("walkthrough-output"), withIntermediateDirectories: true)
        for block in blocks {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/bash")
            // No pipefail: `sightline … | head` ends with SIGPIPE by design.
            process.arguments = ["-eu", "-c", block]
            process.currentDirectoryURL = Self.root
            var environment = ProcessInfo.processInfo.environment
            environment["PATH"] = bin + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
            process.environment = environment
            let output = Pipe()
            process.standardOutput = output
            process.standardError = output
            try process.run()
            let data = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            #expect(
                process.terminationStatus == 0, "\(name): `\(block)` failed:\n\(String(decoding: data, as: UTF8.self))")
        }
    }
}

import Foundation
import Testing

/// Every ```sh block of every walkthrough in `notebooks-md/` runs, in order, from the
/// repository root with the built `sightline` on PATH, and succeeds; and where a ```text block
/// follows it, the block's standard output says what the document says (`Expected`): the same
/// lines, in order, the same words, and numbers within `Expected.tolerance` (training runs on
/// another CPU sum in another order), so the walkthroughs cannot drift from the commands.
struct WalkthroughTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static var walkthroughs: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("notebooks-md").path)) ?? [])
            .filter { $0.hasSuffix(".md") }.sorted()
    }

    /// A ```sh block and the ```text block right after it, if any (the output it shows).
    struct Block {
        var command: String
        var expected: String?
    }

    /// The ```sh blocks of a Markdown file, in order, each with the ```text block that follows it
    /// (only blank lines between).
    static func shellBlocks(_ text: String) -> [Block] {
        var blocks: [Block] = []
        var current: [String]?
        var kind = ""
        var sinceBlock = 0
        for line in text.components(separatedBy: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if current == nil, trimmed == "```sh" || (trimmed == "```text" && sinceBlock == 0 && !blocks.isEmpty) {
                (current, kind) = ([], trimmed)
            } else if current != nil, trimmed == "```" {
                let body = (current ?? []).joined(separator: "\n")
                if kind == "```sh" {
                    blocks.append(Block(command: body))
                } else {
                    blocks[blocks.count - 1].expected = body
                }
                (current, sinceBlock) = (nil, 0)
            } else if current != nil {
                current?.append(line)
            } else if !trimmed.isEmpty {
                sinceBlock += 1
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
            process.arguments = ["-eu", "-c", block.command]
            process.currentDirectoryURL = Self.root
            var environment = ProcessInfo.processInfo.environment
            environment["PATH"] = bin + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
            process.environment = environment
            let output = Pipe()
            let errors = Pipe()
            process.standardOutput = output
            process.standardError = errors
            try process.run()
            let data = output.fileHandleForReading.readDataToEndOfFile()
            let messages = errors.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            let printed = String(decoding: data, as: UTF8.self)
            #expect(
                process.terminationStatus == 0,
                "\(name): `\(block.command)` failed:\n\(printed)\(String(decoding: messages, as: UTF8.self))")
            if let expected = block.expected, let problem = Expected.mismatch(expected, printed) {
                Issue.record("\(name): `\(block.command)` printed what the document does not show: \(problem)")
            }
        }
    }
}

/// The comparison of a walkthrough's ```text block with what its command printed.
enum Expected {
    /// Numbers match when within 2% of the document's value or 0.06 of it (one image of 20 in an
    /// accuracy), or for counts within one (that image): training sums in another order on
    /// another CPU. A probability drifting from 99.86% to 80.66% fails.
    static func close(_ printed: Double, _ documented: Double) -> Bool {
        let counts = printed.rounded() == printed && documented.rounded() == documented
        return abs(printed - documented) <= max(0.02 * abs(documented), 0.06, counts ? 1 : 0)
    }

    /// Nil when `printed` holds the document's lines in order (other lines may come between:
    /// progress or warnings), each with the same words and close numbers; else what differs.
    static func mismatch(_ expected: String, _ printed: String) -> String? {
        let lines = printed.components(separatedBy: "\n")
        var next = 0
        for line in expected.components(separatedBy: "\n") where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            guard let found = lines[next...].firstIndex(where: { matches($0, line) }) else {
                return "no line like '\(line)' (after line \(next + 1) of:\n\(printed))"
            }
            next = found + 1
        }
        return nil
    }

    /// True when both lines have the same tokens, numbers (with `%`, `,` or `×` around them)
    /// compared with `close`.
    static func matches(_ printed: String, _ documented: String) -> Bool {
        let a = printed.split(whereSeparator: \.isWhitespace)
        let b = documented.split(whereSeparator: \.isWhitespace)
        guard a.count == b.count else { return false }
        for (index, (x, y)) in zip(a, b).enumerated() where x != y {
            guard let u = number(x), let v = number(y) else { return false }
            if isMeasurement(b, at: index) { continue }
            guard close(u, v) else { return false }
        }
        return true
    }

    /// True for a figure of the machine rather than of the result: a rate, a memory size, a
    /// duration or a data-wait share (`936.9 img/s`, `peak 71 MiB`, `data wait 10%`).
    static func isMeasurement(_ tokens: [Substring], at index: Int) -> Bool {
        let unit = index + 1 < tokens.count ? tokens[index + 1].filter { !"()".contains($0) } : ""
        return ["MiB", "GiB", "img/s", "images/s", "s", "ms"].contains(unit)
            || (index > 0 && tokens[index - 1] == "wait")
    }

    private static func number(_ token: Substring) -> Double? {
        Double(token.filter { !"%,×()".contains($0) })
    }
}

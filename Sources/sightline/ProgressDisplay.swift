import Foundation

/// Progress on standard error: a redrawn bar on a terminal, a plain line every 10% otherwise.
/// The rate and time left appear once a second has passed (an early rate is noise).
final class ProgressDisplay {
    private let label: String
    private let unit: String
    private let isTerminal = isatty(STDERR_FILENO) == 1
    private let start = Date()
    private var lastDecile = -1

    init(label: String, unit: String = "images") {
        self.label = label
        self.unit = unit
    }

    /// Shows `done` of `total`, with `detail` (the running loss) after the counts.
    func update(done: Int, total: Int, detail: String = "") {
        let fraction = total == 0 ? 1 : Double(done) / Double(total)
        let elapsed = Date().timeIntervalSince(start)
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let remaining = rate > 0 ? Double(total - done) / rate : 0
        let speed = elapsed >= 1 ? String(format: ", %.1f %@/s, %@ left", rate, unit, Self.duration(remaining)) : ""
        let text = "\(label) \(done)/\(total) \(unit)\(detail.isEmpty ? "" : ", " + detail)\(speed)"
        if isTerminal {
            let width = 30
            let filled = Int(fraction * Double(width))
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            FileHandle.standardError.write(Data("\r\(bar) \(text)\u{1B}[K".utf8))
            if done == total { FileHandle.standardError.write(Data("\n".utf8)) }
        } else {
            let decile = Int(fraction * 10)
            guard decile != lastDecile else { return }
            lastDecile = decile
            FileHandle.standardError.write(Data("\(text)\n".utf8))
        }
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? "\(s / 3600)h\(s % 3600 / 60)m" : s >= 60 ? "\(s / 60)m\(s % 60)s" : "\(s)s"
    }
}

import Foundation

/// The bounds `.keras` archives and model configurations are read within, so a small hostile
/// file cannot expand into gigabytes of memory or disk or exhaust the stack: each member's
/// decompressed size against the size it declares and a sane cap, and JSON nesting depth.
public enum ArchiveLimits {
    /// The largest `config.json` read (the largest Keras Applications config is under 2 MiB).
    public static let configBytes: UInt64 = 64 << 20
    /// The largest `metadata.json` read.
    public static let metadataBytes: UInt64 = 1 << 20
    /// The largest `model.weights.h5` extracted (the largest Keras Applications model is about
    /// 1 GiB of float32 weights).
    public static let weightsBytes: UInt64 = 16 << 30
    /// The deepest JSON nesting accepted (real Keras configs nest under 30 levels).
    public static let jsonDepth = 256

    /// Why `json` is refused (nested deeper than `jsonDepth`), or nil. Brackets inside strings
    /// are skipped.
    public static func depthProblem(_ json: String) -> String? {
        var (depth, deepest, inString, escaped) = (0, 0, false, false)
        for byte in json.utf8 {
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                deepest = max(deepest, depth)
                if deepest > jsonDepth {
                    return "nests JSON deeper than \(jsonDepth) levels; not a Keras model configuration"
                }
            case UInt8(ascii: "]"), UInt8(ascii: "}"): depth -= 1
            default: break
            }
        }
        return nil
    }

    /// Why a member that declares `declared` bytes is refused under `cap`, or nil.
    static func sizeProblem(declared: UInt64, cap: UInt64) -> String? {
        declared > cap
            ? "declares \(declared >> 20) MiB decompressed, more than the \(cap >> 20) MiB read at most" : nil
    }
}

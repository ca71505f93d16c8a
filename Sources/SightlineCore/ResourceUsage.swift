import Foundation

/// Process resource figures for progress lines and benchmarks.
public enum ResourceUsage {
    /// The process's peak resident set size in MiB so far: `VmHWM` of `/proc/self/status`, the
    /// high-water mark of this program's own address space. Not `getrusage`'s `ru_maxrss`: Linux
    /// carries that across `exec`, so a process started by a large parent (a test runner, a
    /// notebook kernel) would report the parent's size at the fork. Falls back to `ru_maxrss`
    /// where `/proc` is not mounted.
    public static func peakResidentMiB() -> Int {
        if let kib = kibibytes("VmHWM:", in: "/proc/self/status") { return kib / 1024 }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss / 1024
    }

    /// The process's resident memory held in transparent huge pages now, in MiB
    /// (`AnonHugePages` of `/proc/self/smaps_rollup`), or nil where the kernel does not say.
    /// The `sightline` command advises them for its heap (`Allocator.keepFreedMemoryForReuse`).
    public static func hugePagesMiB() -> Int? {
        kibibytes("AnonHugePages:", in: "/proc/self/smaps_rollup").map { $0 / 1024 }
    }

    /// The kB figure of the line starting with `key` in a `/proc` file (`VmHWM:   1234 kB`).
    private static func kibibytes(_ key: String, in path: String) -> Int? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix(key) })
        else { return nil }
        return Int(line.dropFirst(key.count).trimmingCharacters(in: .whitespaces).prefix { $0.isNumber })
    }
}

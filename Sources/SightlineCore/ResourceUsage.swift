import Foundation

/// Process resource figures for progress lines and benchmarks.
public enum ResourceUsage {
    /// The process's peak resident set size in MiB so far: `VmHWM` of `/proc/self/status`, the
    /// high-water mark of this program's own address space. Not `getrusage`'s `ru_maxrss`: Linux
    /// carries that across `exec`, so a process started by a large parent (a test runner, a
    /// notebook kernel) would report the parent's size at the fork. Falls back to `ru_maxrss`
    /// where `/proc` is not mounted.
    public static func peakResidentMiB() -> Int {
        if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
            let kib = Int(line.dropFirst("VmHWM:".count).trimmingCharacters(in: .whitespaces).prefix { $0.isNumber })
        {
            return kib / 1024
        }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss / 1024
    }

    /// The process's resident memory held in transparent huge pages now, in MiB
    /// (`AnonHugePages` of `/proc/self/smaps_rollup`), or nil where the kernel does not say.
    /// The `sightline` command advises them for its heap (`Allocator.keepFreedMemoryForReuse`).
    public static func hugePagesMiB() -> Int? {
        guard let rollup = try? String(contentsOfFile: "/proc/self/smaps_rollup", encoding: .utf8),
            let line = rollup.split(separator: "\n").first(where: { $0.hasPrefix("AnonHugePages:") }),
            let kib = Int(
                line.dropFirst("AnonHugePages:".count).trimmingCharacters(in: .whitespaces).prefix { $0.isNumber })
        else { return nil }
        return kib / 1024
    }
}

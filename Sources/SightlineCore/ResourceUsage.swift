import Foundation

/// Process resource figures for progress lines and benchmarks.
public enum ResourceUsage {
    /// The process's peak resident set size in MiB so far (`getrusage`; Linux reports KiB).
    public static func peakResidentMiB() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss / 1024
    }
}

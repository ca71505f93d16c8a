import Dispatch
import Foundation

/// Data-parallel loops over the machine's cores.
///
/// GEMM threads itself (oneDNN's OpenMP team, or OpenBLAS's pool); Sightline's own loops
/// (im2col, pooling, element-wise work) use this helper between GEMM calls, never during one,
/// so the two never oversubscribe the cores.
public enum Parallel {
    /// Worker count: `SIGHTLINE_THREADS` if set, else the number of active processors.
    public static let threadCount: Int = {
        if let text = ProcessInfo.processInfo.environment["SIGHTLINE_THREADS"], let value = Int(text), value > 0 {
            return value
        }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }()

    /// Calls `body` with disjoint ranges that together cover `0..<count`, in parallel when the
    /// work (`count * costPerItem`, in rough element operations) is large enough to pay for it.
    public static func forEachChunk(_ count: Int, costPerItem: Int = 1, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let chunks = min(threadCount, count)
        if chunks <= 1 || count * costPerItem < 32_768 {
            body(0..<count)
            return
        }
        withoutActuallyEscaping(body) { escapable in
            let work = UncheckedSendable(escapable)
            DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                let start = count * chunk / chunks
                let end = count * (chunk + 1) / chunks
                if start < end { work.value(start..<end) }
            }
        }
    }
}

/// Carries a non-Sendable closure into `concurrentPerform`. Safe here because every chunk
/// works on a disjoint range and `forEachChunk` returns only after all chunks have finished.
private struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

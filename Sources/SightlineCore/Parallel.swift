import CKernels
import Foundation

/// Data-parallel loops over the machine's cores, on the one thread pool Sightline uses.
///
/// That pool is libgomp's OpenMP team, the one oneDNN (Debian's build uses OpenMP) runs its
/// primitives and sgemm on: Sightline's own loops (im2col, element-wise work, Winograd tile
/// blocks) enter it through `sl_parallel_for`, so no two pools ever compete for the cores, and
/// a oneDNN call made inside a Sightline loop runs single-threaded on its worker.
/// `OMP_NUM_THREADS` or `SIGHTLINE_THREADS` set the team size (default: every active core).
public enum Parallel {
    /// Worker count: `SIGHTLINE_THREADS` if set (applied to the OpenMP team), else the team's size.
    public static let threadCount: Int = {
        if let text = ProcessInfo.processInfo.environment["SIGHTLINE_THREADS"], let value = Int(text), value > 0 {
            sl_set_thread_count(Int32(value))
            return value
        }
        return Int(sl_thread_count())
    }()

    /// Calls `body` with disjoint ranges that together cover `0..<count`, in parallel when the
    /// work (`count * costPerItem`, in rough element operations) is large enough to pay for it.
    public static func forEachChunk(_ count: Int, costPerItem: Int = 1, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        if min(threadCount, count) <= 1 || count * costPerItem < 32_768 {
            body(0..<count)
            return
        }
        withoutActuallyEscaping(body) { escapable in
            var closure = escapable
            withUnsafeMutablePointer(to: &closure) { pointer in
                sl_parallel_for(Int64(count), pointer) { context, start, end in
                    guard let context else { return }
                    let body = context.assumingMemoryBound(to: ((Range<Int>) -> Void).self).pointee
                    body(Int(start)..<Int(end))
                }
            }
        }
    }
}

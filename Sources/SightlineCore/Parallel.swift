internal import CKernels
import Foundation

/// Data-parallel loops over the machine's cores, on the one thread pool Sightline uses.
///
/// That pool is libgomp's OpenMP team, the one oneDNN (Debian's build uses OpenMP) runs its
/// primitives and sgemm on: Sightline's own loops (im2col, element-wise work, Winograd tile
/// blocks) enter it through `sl_parallel_for`, so no two pools ever compete for the cores, and
/// a oneDNN call made inside a Sightline loop runs single-threaded on its worker.
/// The team size is set from the running graph's `EngineOptions.threads` when a plan or a
/// recorded pass starts (the command line fills it from `--threads`, else `SIGHTLINE_THREADS`);
/// without one it is libgomp's default, `OMP_NUM_THREADS`, else every active core.
public enum Parallel {
    /// Threads in the team the engine's loops and oneDNN run on.
    public static var threadCount: Int { Int(sl_thread_count()) }

    /// The cores this process may run on (its CPU affinity: `taskset`, a container's cpuset).
    public static var availableCores: Int { max(1, Int(sl_available_cores())) }

    /// Sets the team size for every later parallel loop and oneDNN primitive; 0 restores
    /// libgomp's default. The OpenMP team is one per process: the engine calls this from the
    /// running graph's `EngineOptions` when a run starts.
    public static func setThreadCount(_ count: Int) {
        sl_set_thread_count(Int32(clamping: max(count, 0)))
    }

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

internal import CRuntime

/// Process-wide allocator settings for tensor workloads.
public enum Allocator {
    /// Keeps freed tensor memory in the process for reuse instead of returning it to the kernel.
    ///
    /// glibc serves blocks above its mmap threshold (128 KiB, raised dynamically up to 32 MiB)
    /// with `mmap` and unmaps them on `free`, so every
    /// new activation of a batch-8 forward pass is fresh memory: the kernel zeroes it page by
    /// page on first touch. Measured on ResNet50 at batch 8 (2 cores): 17.4 → 20.6 images/s, the
    /// same peak memory. It also advises transparent huge pages for the heap
    /// (`sl_advise_huge_pages` in `Sources/CRuntime/runtime.c`: fewer TLB misses over large
    /// tensors; a ResNet50 training step 3.8% faster on average over eight alternating pairs of
    /// runs on the Zen 4 VM, where THP is `madvise`), reserving half the physical memory (at most
    /// 16 GiB) of address space, none of it touched; not with THP `never` or strict overcommit.
    /// Call once at start-up; the `sightline` command does. It changes the whole process, so a
    /// library leaves the choice to its application.
    public static func keepFreedMemoryForReuse() {
        sl_keep_freed_memory_for_reuse()
    }
}

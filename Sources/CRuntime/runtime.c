#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "CRuntime.h"

// glibc refuses an M_MMAP_THRESHOLD above 32 MiB (HEAP_MAX_SIZE / 2 on 64-bit): larger blocks
// (VGG16's batch-8 activations are 103 MB, its fc1 gradient 411 MB) were still mapped fresh and
// unmapped on free, for the kernel to zero again. Measured on a VGG16 batch-8 training run:
// peak resident 4.29 -> 3.89 GB, the same speed. M_MMAP_MAX = 0 serves every main-arena block from the heap
// (another thread's arena still maps what its 64 MiB heaps cannot hold, and the main heap falls
// back to mmap when brk cannot grow); a trim threshold of -1 (SIZE_MAX) never hands the freed
// heap back (INT_MAX trimmed whenever more than 2 GiB lay free at the top).
void sl_keep_freed_memory_for_reuse(void) {
    mallopt(M_MMAP_MAX, 0);               // serve tensors from the heap, not fresh mmap regions
    mallopt(M_TRIM_THRESHOLD, -1);        // never hand freed heap back to the kernel
    mallopt(M_TOP_PAD, 256 << 20);        // grow the heap in large steps
    sl_advise_huge_pages();
}

// Transparent huge pages for the heap the tensors come from. With THP in `madvise` mode (the
// default of many distributions, and of the Zen 4 VM measured) the heap got 4 KiB pages: a
// ResNet50 training step streams through some 3 GB of tensors, a TLB miss every 4 KiB, each a
// two-level walk under a hypervisor. glibc advises huge pages only under its
// glibc.malloc.hugetlb tunable, read from the environment before main, so the heap is grown here
// once by half the physical memory (at most 16 GiB: address space, not memory; nothing is
// touched, and the trim threshold above keeps it), that range is advised, and the block is freed
// back to the heap's top, from which later tensors are carved. The first step pays for it on a VM
// whose host reclaims freed guest memory (0.2-0.8 s more for ResNet50 there). ResNet50 batch
// 16 training steps on the Zen 4 VM, eight alternating pairs of runs of the same build with THP
// refused to the process (prctl PR_SET_THP_DISABLE) and not: 1.705 -> 1.641 s on average (3.8%),
// faster in 7 of 8; VGG16 and MobileNetV2 level, the same peak memory. Systems with THP `always`
// have it already.
//
// Skipped where it would not help or could hurt: THP `never` (or no THP), and strict overcommit
// (vm.overcommit_memory 2), where the reserved range would count against the commit limit.
static int file_starts_or_contains(const char *path, const char *text, int anywhere) {
    char buffer[256] = {0};
    FILE *file = fopen(path, "r");
    if (!file) return -1;
    size_t read = fread(buffer, 1, sizeof buffer - 1, file);
    fclose(file);
    buffer[read] = 0;
    return anywhere ? strstr(buffer, text) != NULL : strncmp(buffer, text, strlen(text)) == 0;
}

void sl_advise_huge_pages(void) {
    if (file_starts_or_contains("/sys/kernel/mm/transparent_hugepage/enabled", "[never]", 1) != 0) return;
    if (file_starts_or_contains("/proc/sys/vm/overcommit_memory", "2", 0) != 0) return;
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0) return;
    size_t reserve = (size_t)pages * (size_t)page / 2;
    if (reserve > ((size_t)16 << 30)) reserve = (size_t)16 << 30;
    char *block = malloc(reserve);  // from the heap (M_MMAP_MAX is 0): sbrk, untouched
    if (!block) return;             // an address-space limit: the heap keeps small pages
    const uintptr_t huge = (uintptr_t)2 << 20;
    uintptr_t start = ((uintptr_t)block + huge - 1) & ~(huge - 1);
    uintptr_t end = (uintptr_t)sbrk(0) & ~(huge - 1);
    if (end > start) madvise((void *)start, end - start, MADV_HUGEPAGE);
    free(block);
}

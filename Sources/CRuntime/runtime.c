#include <malloc.h>
#include <limits.h>
#include "CRuntime.h"

void sl_keep_freed_memory_for_reuse(void) {
    mallopt(M_MMAP_THRESHOLD, 1 << 30);   // serve tensors from the heap, not fresh mmap regions
    mallopt(M_TRIM_THRESHOLD, INT_MAX);   // never hand freed heap back to the kernel
    mallopt(M_TOP_PAD, 256 << 20);        // grow the heap in large steps
}

// Process-level helpers Swift cannot reach through Glibc's module (malloc.h's mallopt).
#pragma once

/// Raises glibc's mmap and trim thresholds so freed large blocks are kept for reuse.
void sl_keep_freed_memory_for_reuse(void);

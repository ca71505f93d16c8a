// Process-level helpers Swift cannot reach through Glibc's module (malloc.h's mallopt).
#pragma once

/// Serves large blocks from the heap and never trims it, so freed tensors are reused.
void sl_keep_freed_memory_for_reuse(void);

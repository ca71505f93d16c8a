// Process-level helpers Swift cannot reach through Glibc's module (malloc.h's mallopt).
#pragma once

/// Serves large blocks from the heap and never trims it, so freed tensors are reused.
void sl_keep_freed_memory_for_reuse(void);
/// Advises transparent huge pages for the heap, grown once by half the physical memory (at most
/// 16 GiB of address space, untouched); called by sl_keep_freed_memory_for_reuse.
void sl_advise_huge_pages(void);

/// Temporary files to remove if the process is ended by a signal. Registers `path` (copied)
/// and returns its slot, or -1 when all 256 slots are taken.
int sl_cleanup_register(const char *path);
/// Forgets a slot (the file was renamed into place or removed).
void sl_cleanup_unregister(int slot);
/// Removes every registered path (files, then empty folders), newest first. Async-signal-safe.
void sl_cleanup_remove_all(void);
/// From a signal handler: removes the registered paths, writes `message` to standard error and
/// ends the process with `status` at once. Async-signal-safe.
void sl_cleanup_and_exit(const char *message, int status);

// The temporary files a signal must not leave behind: a fixed table a signal handler can walk
// without allocating (unlink, rmdir, write and _exit are async-signal-safe).
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "CRuntime.h"

enum { SLOTS = 256, FREE = 0, BUSY = 1, READY = 2 };
static char *paths[SLOTS];
static atomic_int states[SLOTS];

int sl_cleanup_register(const char *path) {
    for (int slot = 0; slot < SLOTS; slot++) {
        int expected = FREE;
        if (atomic_compare_exchange_strong(&states[slot], &expected, BUSY)) {
            paths[slot] = strdup(path);
            atomic_store(&states[slot], paths[slot] ? READY : FREE);
            return paths[slot] ? slot : -1;
        }
    }
    return -1;
}

void sl_cleanup_unregister(int slot) {
    if (slot < 0 || slot >= SLOTS) return;
    int expected = READY;
    if (!atomic_compare_exchange_strong(&states[slot], &expected, BUSY)) return;
    free(paths[slot]);
    paths[slot] = NULL;
    atomic_store(&states[slot], FREE);
}

void sl_cleanup_remove_all(void) {
    for (int slot = SLOTS - 1; slot >= 0; slot--) {
        if (atomic_load(&states[slot]) == READY && paths[slot]) unlink(paths[slot]);
    }
    for (int slot = SLOTS - 1; slot >= 0; slot--) {
        if (atomic_load(&states[slot]) == READY && paths[slot]) rmdir(paths[slot]);
    }
}

void sl_cleanup_and_exit(const char *message, int status) {
    sl_cleanup_remove_all();
    if (message) {
        ssize_t ignored = write(STDERR_FILENO, message, strlen(message));
        (void)ignored;
    }
    _exit(status);
}

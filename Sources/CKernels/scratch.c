// Scratch buffers reused across calls: bf16 copies of a layer's operands (onednn.c) and oneDNN's
// scratchpads (sl_dnnl_run_primitive). Requests of 1 MiB and more take the smallest free buffer
// that holds them, else the largest free one, grown; a plain allocation when all are taken.
//
// Why kept and not freed: sightline never trims its heap (runtime.c), and Debian's oneDNN
// (DNNL_ENABLE_CONCURRENT_EXEC) allocates each primitive's scratchpad per execution. Freed per
// call, VGG16's 103 MB bf16 gradient copy of block1_conv1 and its scratchpad left holes that
// the next step's tensors split, and block1_pool's 205 MB gradient then faulted in fresh pages:
// its backward took 190-310 ms instead of 34 (bf16 training step, batch 16, 2-core EPYC).
// Mapping the large copies apart from the heap cost as much in page faults (block1_conv1's
// backward 64 -> 160-200 ms). The buffers are held until the process ends: at most
// SL_SCRATCH_SLOTS times the largest request, one layer's bf16 operand or scratchpad.
#include <pthread.h>
#include <stdlib.h>
#include "onednn_internal.h"

enum { SL_SCRATCH_SLOTS = 4, SL_SCRATCH_POOLED = 1 << 20 };

static struct {
    void *data;
    size_t capacity;
    int busy;
} slots[SL_SCRATCH_SLOTS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

void *sl_scratch_acquire(size_t bytes) {
    if (bytes < SL_SCRATCH_POOLED) return malloc(bytes ? bytes : 1);
    pthread_mutex_lock(&lock);
    int best = -1;
    for (int i = 0; i < SL_SCRATCH_SLOTS; i++)
        if (!slots[i].busy && slots[i].capacity >= bytes && (best < 0 || slots[i].capacity < slots[best].capacity))
            best = i;
    if (best < 0)
        for (int i = 0; i < SL_SCRATCH_SLOTS; i++)
            if (!slots[i].busy && (best < 0 || slots[i].capacity > slots[best].capacity)) best = i;
    void *data = NULL;
    if (best >= 0) {
        if (slots[best].capacity < bytes) {
            free(slots[best].data);
            slots[best].data = malloc(bytes);
            slots[best].capacity = slots[best].data ? bytes : 0;
        }
        data = slots[best].data;
        slots[best].busy = data != NULL;
    }
    pthread_mutex_unlock(&lock);
    return data ? data : malloc(bytes);
}

void sl_scratch_release(void *buffer) {
    if (!buffer) return;
    pthread_mutex_lock(&lock);
    for (int i = 0; i < SL_SCRATCH_SLOTS; i++) {
        if (slots[i].data == buffer) {
            slots[i].busy = 0;
            pthread_mutex_unlock(&lock);
            return;
        }
    }
    pthread_mutex_unlock(&lock);
    free(buffer);
}

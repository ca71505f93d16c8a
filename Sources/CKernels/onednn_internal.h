// What onednn.c shares with the other oneDNN sources of this target (not part of CKernels.h).
#ifndef SL_ONEDNN_INTERNAL_H
#define SL_ONEDNN_INTERNAL_H
#include <stddef.h>
#include <stdint.h>
#include <oneapi/dnnl/dnnl.h>

/// The CPU engine, valid once sl_dnnl_ready returned 1.
extern dnnl_engine_t sl_dnnl_engine;
/// Creates the engine once; 0 with a message in error when it is unavailable.
int sl_dnnl_ready(char *error, size_t length);
/// A convolution's weights as oneDNN sees them: OIHW dims (GOIHW with G groups) and the tag of
/// Keras's layout, HWIO [KH, KW, C/G, K] (with groups: hwigo, output channel g·K/G + o).
typedef struct {
    int rank;
    dnnl_dims_t dims;
    dnnl_format_tag_t user;
} sl_dnnl_weights_dims;
sl_dnnl_weights_dims sl_dnnl_weights(int C, int K, int G, int KH, int KW);
/// oneDNN's right/bottom padding for Keras geometry (what makes the output size come out).
int sl_dnnl_far_pad(int in, int out, int k, int stride, int dilation, int near);
/// Executes p on this thread's stream with the configured threads and waits; 0 on success.
/// A primitive made with sl_dnnl_attr gets its scratchpad from sl_scratch_acquire. At most
/// SL_DNNL_MAX_ARGS arguments (more fail).
int sl_dnnl_run_primitive(dnnl_primitive_t p, int count, dnnl_exec_arg_t *args);
enum { SL_DNNL_MAX_ARGS = 8 };
/// New primitive attributes with the user scratchpad mode (sl_dnnl_run_primitive passes the
/// scratchpad); NULL when out of memory. The caller destroys them.
dnnl_primitive_attr_t sl_dnnl_attr(void);

/// A buffer of at least `bytes` for the duration of one call: from 1 MiB up, one of a few
/// buffers kept for the process and reused (scratch.c); NULL when out of memory.
void *sl_scratch_acquire(size_t bytes);
/// Returns a buffer from sl_scratch_acquire (NULL is ignored).
void sl_scratch_release(void *buffer);

/// A bfloat16 copy of values (round to nearest even, on the engine's threads), from buffers
/// reused across calls for large copies; NULL when out of memory. The caller releases it with
/// sl_bf16_free.
uint16_t *sl_bf16_copy(const float *values, size_t count);
/// Releases a copy made by sl_bf16_copy (NULL is ignored).
void sl_bf16_free(uint16_t *copy);

#define SL_TRY(call, what)                                                                 \
    do {                                                                                   \
        dnnl_status_t status_ = (call);                                                    \
        if (status_ != dnnl_success) {                                                     \
            snprintf(error, error_length, "oneDNN %s failed (status %d)", what, (int)status_); \
            goto fail;                                                                     \
        }                                                                                  \
    } while (0)

#endif

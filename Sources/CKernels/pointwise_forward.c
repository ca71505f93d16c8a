// The forward pass of a 1x1 stride-1 convolution without padding on NHWC with a ResNet shortcut
// added before the activation, as GEMMs over chunks of rows with the epilogue run on each chunk
// while it is in cache: y [R][K] = act(x [R][C] · kernel [C][K] + bias + residual). oneDNN 2.6
// runs this shape with a binary post-op only through its older jit_1x1 kernel, not brgconv:
// ResNet50's conv2 block outputs (64 -> 256, 56x56, batch 16) took 14.5 ms there against 8.5 for
// the bare sgemm and 10.6 here (2-core EPYC Zen 4, bench/pointwise_forward.c); summed in place,
// 9.3 here against 11.3 for brgconv's sum post-op. Each chunk is one
// single-thread sgemm (the chunks are split between the threads, no sum across them: a repeat
// ends bitwise equal), its rows then get the bias, the residual and the activation. The residual
// may be y itself (summed in place: the sgemm accumulates onto it).
#include <math.h>
#include <stdlib.h>
#include <oneapi/dnnl/dnnl.h>
#include "CKernels.h"

extern void GOMP_parallel(void (*fn)(void *), void *data, unsigned num_threads, unsigned flags);
extern int omp_in_parallel(void);
extern int omp_get_thread_num(void);
extern int omp_get_num_threads(void);
extern int omp_get_max_threads(void);

// Rows per chunk: its output (rows · K floats) within half of a 1 MiB L2, at least 64 rows. Chunks
// of 16K to 512K floats ran within 0.5 ms of each other on the shapes above.
enum { CHUNK_FLOATS = 1 << 17, MIN_ROWS = 64 };

typedef struct {
    const float *x, *kernel, *bias, *residual;
    float *y;
    int64_t rows, chunk;
    int C, K;
    sl_activation activation;
    float relu_max;
    int64_t next;  // next chunk to take (atomic)
} forward_state;

// Rows of y: + bias (zeros when absent), + residual when given, then the ReLU when relu; one pass
// per row, specialised by its callers' constant arguments. A NaN stays NaN only without the ReLU,
// as in the other kernels.
static inline __attribute__((always_inline)) void epilogue(float *y, int64_t rows, int K, const float *bias,
                                                           const float *residual, int relu, float high) {
    for (int64_t i = 0; i < rows; i++) {
        float *row = y + i * K;
        const float *add = residual ? residual + i * K : NULL;
        for (int k = 0; k < K; k++) {
            float v = row[k] + bias[k];
            if (residual) v += add[k];
            row[k] = relu ? fminf(fmaxf(v, 0.f), high) : v;
        }
    }
}

static inline __attribute__((always_inline)) void forward_body(void *data) {
    forward_state *s = data;
    const int C = s->C, K = s->K;
    const int in_place = s->residual == s->y;
    const int relu = s->activation == SL_ACT_RELU;
    const float high = s->relu_max;
    int64_t chunks = (s->rows + s->chunk - 1) / s->chunk;
    for (;;) {
        int64_t c = __atomic_fetch_add(&s->next, 1, __ATOMIC_RELAXED);
        if (c >= chunks) break;
        int64_t r0 = c * s->chunk, r1 = r0 + s->chunk < s->rows ? r0 + s->chunk : s->rows;
        float *y = s->y + r0 * K;
        dnnl_sgemm('N', 'N', r1 - r0, K, C, 1.f, s->x + r0 * C, C, s->kernel, K, in_place ? 1.f : 0.f, y, K);
        const float *residual = s->residual && !in_place ? s->residual + r0 * K : NULL;
        if (residual && relu) epilogue(y, r1 - r0, K, s->bias, residual, 1, high);
        else if (residual) epilogue(y, r1 - r0, K, s->bias, residual, 0, high);
        else if (relu) epilogue(y, r1 - r0, K, s->bias, NULL, 1, high);
        else epilogue(y, r1 - r0, K, s->bias, NULL, 0, high);
    }
}

#if defined(__x86_64__)
__attribute__((target("avx512f,avx512dq,fma"))) static void forward_avx512(void *data) { forward_body(data); }
__attribute__((target("avx2,fma"))) static void forward_avx2(void *data) { forward_body(data); }
#endif
static void forward_baseline(void *data) { forward_body(data); }

int sl_pointwise_forward(const float *x, const float *kernel, const float *bias, const float *residual, int64_t rows,
                         int C, int K, sl_activation activation, float relu_max, float *y) {
    if (rows <= 0 || C <= 0 || K <= 0 || (activation != SL_ACT_NONE && activation != SL_ACT_RELU)) return 1;
    int64_t chunk = CHUNK_FLOATS / K;
    if (chunk < MIN_ROWS) chunk = MIN_ROWS;
    float *zeros = bias ? NULL : calloc((size_t)K, sizeof(float));
    if (!bias && !zeros) return 1;
    forward_state s = {x, kernel, bias ? bias : zeros, residual, y, rows, chunk, C, K, activation, relu_max, 0};
    void (*body)(void *) = forward_baseline;
#if defined(__x86_64__)
    if (sl_cpu_has_avx512()) body = forward_avx512;
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) body = forward_avx2;
#endif
    sl_use_configured_threads();
    int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
    if (threads < 2) body(&s);
    else GOMP_parallel(body, &s, (unsigned)threads, 0);
    free(zeros);
    return 0;
}

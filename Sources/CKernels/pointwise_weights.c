// The kernel and bias gradients of a 1x1 convolution without padding on NHWC as plain GEMMs,
// without im2col: with x as rows [R = N·OH·OW][C] (the input pixels the outputs read) and dy as
// [R][K], dW [C][K] = xᵀ dy and db [K] = the sum of dy's rows. With stride 1 those rows are the
// input itself; with a larger stride each chunk's rows are first gathered into scratch. oneDNN
// 2.6's backward-weights primitive runs these shapes at 110-260 GFLOP/s on a
// 2-core AVX-512 Xeon; splitting the long reduction over rows between the threads lets each run a
// single-thread sgemm at close to the machine's peak. The rows are cut into the caller's number of
// slices, one per thread, each a fixed, contiguous range taken in chunks of CHUNK rows (sgemm into
// the slice's partial sums, written by the first chunk and added to by the next, then the chunk's
// bias sums while its dy rows are still in cache), and the partials are added in slice order, on
// every thread: the summation order depends on the slice count alone, so a run and its repeat end
// bitwise equal.
//
// A larger window over few input channels (a network's stem: 7x7 or 3x3 over RGB) takes the same
// road with each chunk's patches gathered (im2col a chunk at a time, zeros where the window leaves
// the input): dW [KH·KW·C][K] = patchesᵀ dy. oneDNN's primitive runs these at 45-140 GFLOP/s
// (three input channels leave its vector lanes idle); the chunked GEMM at 65-165
// (bench/stem_weights.c). Gathered rows end in a 1 when the bias is wanted, so that the same GEMM
// sums the bias as one more row (ResNet50's stem 23.7 -> 23.1 ms against a pass of its own).
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <oneapi/dnnl/dnnl.h>
#include "CKernels.h"

extern void GOMP_parallel(void (*fn)(void *), void *data, unsigned num_threads, unsigned flags);
extern int omp_in_parallel(void);
extern int omp_get_thread_num(void);
extern int omp_get_num_threads(void);

enum { CHUNK = 512, MAX_THREADS = 256 };

typedef struct {
    const float *x, *dy;
    int64_t rows;
    int C, K;
    int H, W, sy, sx, OH, OW;     // the geometry, for gathering strided rows
    int KH, KW, pt, pl, P;        // the window, its padding and its patch length KH·KW·C
    float *partial[MAX_THREADS];  // each slice's [P][K] then [K]
    int bias;                     // whether to take the bias sums
    const float *kernel;          // [C][K], with dx: stride 1 only
    float *dx;                    // [R][C] = dy · kernelᵀ per chunk, or NULL
    const sl_pointwise_derivative *derivative;  // applied to each chunk of dy first, or NULL
    int slices, failed;
} pointwise_state;

// Rows [r0, r1) of the derivative's gradient, (gradient + other) · [low < output < high], into
// `to` (the gradient's own rows, or scratch when it is kept): a multiply as
// ActivationFunction.backward does (a NaN gradient stays NaN); no upper bound when high is
// infinite.
static inline __attribute__((always_inline)) void apply_derivative(const sl_pointwise_derivative *d, int64_t r0,
                                                                   int64_t r1, int K, float *to) {
    const float *g = d->gradient + r0 * K;
    float *restrict out = to;
    const float *restrict y = d->output + r0 * K;
    const float *restrict o = d->other ? d->other + r0 * K : NULL;
    const int64_t count = (r1 - r0) * K;
    const float low = d->low, high = d->high;
    if (o && isinf(high))
        for (int64_t i = 0; i < count; i++) out[i] = (g[i] + o[i]) * (y[i] > low ? 1.f : 0.f);
    else if (o)
        for (int64_t i = 0; i < count; i++) out[i] = (g[i] + o[i]) * (y[i] > low && y[i] < high ? 1.f : 0.f);
    else if (isinf(high))
        for (int64_t i = 0; i < count; i++) out[i] = g[i] * (y[i] > low ? 1.f : 0.f);
    else
        for (int64_t i = 0; i < count; i++) out[i] = g[i] * (y[i] > low && y[i] < high ? 1.f : 0.f);
}

// dx *= [input_low < x < input_high] for `count` values of a chunk, x the layer's input (the
// output of the previous layer's ReLU-like activation), still in cache from the chunk's GEMMs.
static inline __attribute__((always_inline)) void apply_input_derivative(const sl_pointwise_derivative *d,
                                                                         float *restrict dx,
                                                                         const float *restrict x, int64_t count) {
    const float low = d->input_low, high = d->input_high;
    if (isinf(high))
        for (int64_t i = 0; i < count; i++) dx[i] *= x[i] > low ? 1.f : 0.f;
    else
        for (int64_t i = 0; i < count; i++) dx[i] *= x[i] > low && x[i] < high ? 1.f : 0.f;
}

// Rows [r0, r1) of the patches the outputs read, into rows [r1 - r0][stride]: the input pixel (1x1
// window) or the KH×KW×C window, zeros where it leaves the input, then a 1 when stride is P + 1
// (the GEMM then takes the bias sums as the row after the kernel gradient's, at no extra pass).
static inline __attribute__((always_inline)) void gather(const pointwise_state *s, int64_t r0, int64_t r1,
                                                         int stride, float *restrict rows) {
    const int C = s->C, KW = s->KW, run = KW * C;
    const int64_t plane = (int64_t)s->OH * s->OW;
    for (int64_t i = r0; i < r1; i++) {
        int64_t n = i / plane, at = i % plane;
        int y0 = (int)(at / s->OW) * s->sy - s->pt, x0 = (int)(at % s->OW) * s->sx - s->pl;
        float *to = rows + (i - r0) * stride;
        if (stride > s->P) to[s->P] = 1.f;
        for (int kh = 0; kh < s->KH; kh++, to += run) {
            int y = y0 + kh;
            if (y < 0 || y >= s->H) {
                memset(to, 0, sizeof(float) * run);
                continue;
            }
            const float *line = s->x + (n * s->H + y) * s->W * C;
            if (x0 >= 0 && x0 + KW <= s->W) memcpy(to, line + (int64_t)x0 * C, sizeof(float) * run);
            else
                for (int kw = 0; kw < KW; kw++) {
                    int inside = x0 + kw >= 0 && x0 + kw < s->W;
                    for (int c = 0; c < C; c++) to[kw * C + c] = inside ? line[(int64_t)(x0 + kw) * C + c] : 0.f;
                }
        }
    }
}

static inline __attribute__((always_inline)) void pointwise_body(pointwise_state *s) {
    int id = omp_in_parallel() ? omp_get_thread_num() : 0, team = omp_in_parallel() ? omp_get_num_threads() : 1;
    const int C = s->C, K = s->K, P = s->P;
    for (int slice = id; slice < s->slices; slice += team) {
        int64_t r0 = s->rows * slice / s->slices, r1 = s->rows * (slice + 1) / s->slices;
        float *sums = malloc(((size_t)P * K + K) * sizeof(float));
        s->partial[slice] = sums;
        int gathers = s->sy > 1 || s->sx > 1 || P > C;
        // Gathered rows carry a column of ones for the bias sums: M = P + 1 rows of sums.
        const int M = gathers && s->bias ? P + 1 : P;
        float *gathered = gathers && sums ? malloc(sizeof(float) * CHUNK * M) : NULL;
        const sl_pointwise_derivative *d = s->derivative && s->derivative->gradient ? s->derivative : NULL;
        float *pre = d && d->keep_gradient && sums ? malloc(sizeof(float) * CHUNK * K) : NULL;
        if (!sums || (gathers && !gathered) || (d && d->keep_gradient && !pre)) {
            // An in-place derivative is applied to every row even so: the caller's fallback then
            // starts from the pre-activation gradient.
            if (d && !d->keep_gradient) apply_derivative(d, r0, r1, K, d->gradient + r0 * K);
            free(gathered);
            free(pre);
            __atomic_store_n(&s->failed, 1, __ATOMIC_RELAXED);
            continue;
        }
        float *bias = sums + (size_t)P * K;
        if (r0 == r1) memset(sums, 0, ((size_t)P * K + K) * sizeof(float));
        for (int k = 0; k < K; k++) bias[k] = 0;
        for (int64_t r = r0; r < r1; r += CHUNK) {
            int64_t end = r + CHUNK < r1 ? r + CHUNK : r1;
            const float *rows = s->x + r * C;
            if (gathers) {
                gather(s, r, end, M, gathered);
                rows = gathered;
            }
            const float *g = s->dy + r * K;  // the chunk's pre-activation gradient
            if (d) {
                float *to = d->keep_gradient ? pre : d->gradient + r * K;
                apply_derivative(d, r, end, K, to);
                g = to;
            }
            dnnl_sgemm('T', 'N', M, K, end - r, 1.f, rows, M, g, K, r == r0 ? 0.f : 1.f, sums, K);
            // The input gradient of the same rows while their dy is in cache: dy is then read once.
            if (s->dx) dnnl_sgemm('N', 'T', end - r, C, K, 1.f, g, K, s->kernel, K, 0.f, s->dx + r * C, C);
            if (s->dx && s->derivative && s->derivative->input_derivative)
                apply_input_derivative(s->derivative, s->dx + r * C, s->x + r * C, (end - r) * C);
            if (s->bias && M == P)
                for (int64_t i = 0; i < end - r; i++) {
                    const float *row = g + i * K;
                    for (int k = 0; k < K; k++) bias[k] += row[k];
                }
        }
        free(gathered);
        free(pre);
    }
}

typedef struct {
    const pointwise_state *s;
    const float *scale;  // per output channel, or NULL
    float *dw;
} combine_state;

// Rows [c0, c1) of dw: the slices' partial sums added in slice order, then scaled.
static inline __attribute__((always_inline)) void combine_body(void *data, int64_t c0, int64_t c1) {
    const combine_state *o = data;
    const int K = o->s->K;
    for (int64_t c = c0; c < c1; c++) {
        float *to = o->dw + c * K;
        memcpy(to, o->s->partial[0] + c * K, sizeof(float) * K);
        for (int t = 1; t < o->s->slices; t++) {
            const float *from = o->s->partial[t] + c * K;
            for (int k = 0; k < K; k++) to[k] += from[k];
        }
        if (o->scale)
            for (int k = 0; k < K; k++) to[k] *= o->scale[k];
    }
}

// The body compiled for each vector unit (the baseline build vectorises the bias sums with SSE2).
#if defined(__x86_64__)
__attribute__((target("avx512f,avx512dq,fma"))) static void pointwise_avx512(void *data) { pointwise_body(data); }
__attribute__((target("avx2,fma"))) static void pointwise_avx2(void *data) { pointwise_body(data); }
__attribute__((target("avx512f,avx512dq,fma"))) static void combine_avx512(void *data, int64_t c0, int64_t c1) {
    combine_body(data, c0, c1);
}
__attribute__((target("avx2,fma"))) static void combine_avx2(void *data, int64_t c0, int64_t c1) {
    combine_body(data, c0, c1);
}
#endif
static void pointwise_baseline(void *data) { pointwise_body(data); }
static void combine_baseline(void *data, int64_t c0, int64_t c1) { combine_body(data, c0, c1); }

int sl_pointwise_kernel_gradient(const float *x, const float *dy, int N, int H, int W, int C, int sy, int sx, int OH,
                                 int OW, int K, int slices, const float *column_scale, float *dw, float *db) {
    return sl_pointwise_backward(x, dy, NULL, N, H, W, C, sy, sx, OH, OW, K, slices, column_scale, dw, db, NULL, NULL);
}

// Runs `s` over its slices, then adds the slices' partial sums into dw [P][K] and db [K].
static int run(pointwise_state *s, const float *column_scale, float *dw, float *db) {
    void (*body)(void *) = pointwise_baseline;
    void (*combine)(void *, int64_t, int64_t) = combine_baseline;
#if defined(__x86_64__)
    if (sl_cpu_has_avx512()) body = pointwise_avx512, combine = combine_avx512;
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) body = pointwise_avx2, combine = combine_avx2;
#endif
    const int slices = s->slices, P = s->P, K = s->K;
    sl_use_configured_threads();
    if (slices < 2 || omp_in_parallel()) body(s);
    else GOMP_parallel(body, s, (unsigned)slices, 0);
    int failed = s->failed;
    for (int t = 0; t < slices; t++) failed |= s->partial[t] == NULL;
    if (!failed) {
        combine_state o = {s, column_scale, dw};
        // Small layers (MobileNet's) are added on this thread: a parallel region costs more.
        if ((int64_t)P * K * slices < (1 << 15)) combine(&o, 0, P);
        else sl_parallel_for(P, &o, combine);
        if (db) {
            size_t count = (size_t)P * K;
            for (int k = 0; k < K; k++) {
                float sum = s->partial[0][count + k];
                for (int t = 1; t < slices; t++) sum += s->partial[t][count + k];
                db[k] = column_scale ? sum * column_scale[k] : sum;
            }
        }
    }
    for (int t = 0; t < MAX_THREADS; t++) free(s->partial[t]);
    return failed;
}

int sl_pointwise_backward(const float *x, const float *dy, const float *kernel, int N, int H, int W, int C, int sy,
                          int sx, int OH, int OW, int K, int slices, const float *column_scale, float *dw, float *db,
                          float *dx, const sl_pointwise_derivative *derivative) {
    int64_t rows = (int64_t)N * OH * OW;
    if (rows <= 0 || C <= 0 || K <= 0 || sy < 1 || sx < 1 || (OH - 1) * sy >= H || (OW - 1) * sx >= W) return 2;
    if (sy == 1 && sx == 1 && (OH != H || OW != W)) return 2;
    if (dx && (sy != 1 || sx != 1 || !kernel)) return 2;
    if (derivative && derivative->gradient && (derivative->gradient != dy || !derivative->output)) return 2;
    if (derivative && derivative->input_derivative && !dx) return 2;
    if (slices < 1) slices = 1;
    if (slices > MAX_THREADS) slices = MAX_THREADS;
    pointwise_state s = {x, dy, rows, C, K, H, W, sy, sx, OH, OW, 1, 1, 0, 0, C, {NULL}, db != NULL, kernel, dx,
                         derivative, slices, 0};
    return run(&s, column_scale, dw, db);
}

int sl_patch_kernel_gradient(const float *x, const float *dy, int N, int H, int W, int C, int KH, int KW, int sy,
                             int sx, int pad_top, int pad_left, int OH, int OW, int K, int slices,
                             const float *column_scale, float *dw, float *db,
                             const sl_pointwise_derivative *derivative) {
    int64_t rows = (int64_t)N * OH * OW;
    if (rows <= 0 || C <= 0 || K <= 0 || KH < 1 || KW < 1 || sy < 1 || sx < 1 || pad_top < 0 || pad_left < 0 ||
        (OH - 1) * sy - pad_top >= H || (OW - 1) * sx - pad_left >= W)
        return 2;
    if (derivative && (derivative->input_derivative || !derivative->gradient || derivative->gradient != dy ||
                       !derivative->output))
        return 2;
    if (slices < 1) slices = 1;
    if (slices > MAX_THREADS) slices = MAX_THREADS;
    pointwise_state s = {x, dy, rows, C, K, H, W, sy, sx, OH, OW, KH, KW, pad_top, pad_left, KH * KW * C, {NULL},
                         db != NULL, NULL, NULL, derivative, slices, 0};
    return run(&s, column_scale, dw, db);
}

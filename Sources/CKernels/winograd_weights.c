// The kernel gradient of a 3x3, stride-1, undilated convolution on NHWC by Winograd F(MxM,3x3)
// transposed (M = 4 or 2): ∂L/∂g = Gᵀ [Σ over images and MxM output tiles (A dY Aᵀ) ⊙ (Bᵀ d B)]
// G, (M+2)² transform-domain products per channel pair and tile where direct correlation takes
// 9·M² (4x and 2.25x less arithmetic). The tiles are cut into the caller's number of slices, one
// per thread, each a fixed, contiguous range with its own sums (so the summation order depends on
// the slice count alone, not on which threads run: a run and its repeat end bitwise equal).
// Each slice's thread transforms blocks of its tiles into
// V [(M+2)²][TB][C] and D [(M+2)²][TB][K] (the input transform is the forward kernel's), and
// accumulates the products M_ξ [C][K] += V_ξᵀ D_ξ with single-thread sgemms into the slice's sums;
// the slices' sums are added in slice order and Gᵀ M G (in float64) gives the HWIO gradient.
#include <stdlib.h>
#include <string.h>
#include "winograd_internal.h"
#include "winograd_variants.h"

typedef void (*sl_weights_block)(const sl_winograd *, const float *, const float *, int64_t, int64_t, size_t, float *,
                                 float *, float *);

enum { SL_MAX_THREADS = 256 };

typedef struct {
    const sl_winograd *w;
    const float *x, *dy;
    int64_t tiles, block;
    sl_weights_block run;
    int slices;
    float *M[SL_MAX_THREADS];  // each slice's [points][C][K] and [K] (bias)
    int failed;                // a slice could not allocate its scratch (atomic)
} weights_state;

static void weights_thread(void *data) {
    weights_state *s = data;
    const sl_winograd *w = s->w;
    int id = omp_in_parallel() ? omp_get_thread_num() : 0, team = omp_in_parallel() ? omp_get_num_threads() : 1;
    size_t TB = (size_t)s->block, P = (size_t)w->points;
    float *V = aligned_alloc(64, sizeof(float) * P * TB * w->C);
    float *D = aligned_alloc(64, sizeof(float) * P * TB * w->K);
    for (int slice = id; slice < s->slices; slice += team) {
        // the products' sums, then the bias gradient's
        float *M = calloc(P * w->C * w->K + w->K, sizeof(float));
        s->M[slice] = M;
        if (!V || !D || !M) {
            __atomic_store_n(&s->failed, 1, __ATOMIC_RELAXED);
            continue;
        }
        int64_t t0 = s->tiles * slice / s->slices, t1 = s->tiles * (slice + 1) / s->slices;
        for (int64_t b = t0; b < t1; b += s->block)
            s->run(w, s->x, s->dy, b, b + s->block < t1 ? b + s->block : t1, TB, V, D, M);
    }
    free(V);
    free(D);
}

typedef struct {
    const weights_state *s;
    float *dw;
    int accumulate;
} output_state;

/// 8 doubles.
typedef double vd __attribute__((vector_size(64), aligned(8)));

// Gᵀ m for ALPHA = m + 2 vectors: the three kernel taps along one axis (G as in winograd.c).
static inline __attribute__((always_inline)) void gt(int m, const vd *v, vd *out) {
    if (m == 2) {
        out[0] = v[0] + 0.5 * (v[1] + v[2]);
        out[1] = 0.5 * (v[1] - v[2]);
        out[2] = 0.5 * (v[1] + v[2]) + v[3];
    } else {
        out[0] = v[0] / 4 - (v[1] + v[2]) / 6 + (v[3] + v[4]) / 24;
        out[1] = (v[2] - v[1]) / 6 + (v[3] - v[4]) / 12;
        out[2] = (v[3] + v[4] - v[1] - v[2]) / 6 + v[5];
    }
}

// Input channels [c0, c1), 8 output channels at a time: the slices' sums added in slice order
// (in float, as the sgemms left them), then Gᵀ M G in float64 into dw.
static inline __attribute__((always_inline)) void weights_output_body(void *data, int64_t c0, int64_t c1) {
    const output_state *o = data;
    const weights_state *s = o->s;
    const int C = s->w->C, K = s->w->K, m = s->w->m, alpha = m + 2;
    const size_t plane = (size_t)C * K;
    for (int64_t c = c0; c < c1; c++)
        for (int k = 0; k < K; k += 8) {
            vd v[6][6], r[6][3], col[6], out[3];
            for (int xi = 0; xi < alpha * alpha; xi++) {
                size_t at = xi * plane + (size_t)c * K + k;
                float sum[8];
                for (int j = 0; j < 8; j++) sum[j] = s->M[0][at + j];
                for (int t = 1; t < s->slices; t++)
                    for (int j = 0; j < 8; j++) sum[j] += s->M[t][at + j];
                for (int j = 0; j < 8; j++) v[xi / alpha][xi % alpha][j] = sum[j];
            }
            for (int a = 0; a < alpha; a++) gt(m, v[a], r[a]);
            for (int q = 0; q < 3; q++) {
                for (int a = 0; a < alpha; a++) col[a] = r[a][q];
                gt(m, col, out);
                for (int u = 0; u < 3; u++) {
                    float *to = o->dw + ((size_t)(u * 3 + q) * C + c) * K + k;
                    for (int j = 0; j < 8; j++) to[j] = (float)(o->accumulate ? to[j] + out[u][j] : out[u][j]);
                }
            }
        }
}

#if defined(__x86_64__)
__attribute__((target("avx512f,avx512dq,fma"))) static void weights_output_avx512(void *data, int64_t c0, int64_t c1) {
    weights_output_body(data, c0, c1);
}
__attribute__((target("avx2,fma"))) static void weights_output_avx2(void *data, int64_t c0, int64_t c1) {
    weights_output_body(data, c0, c1);
}
#endif

int sl_winograd_kernel_gradient(const float *x, const float *dy, int N, int C, int K, int H, int W, int OH, int OW,
                                int pad_top, int pad_left, int m, int slices, float *dw, float *db, int accumulate) {
#if defined(__x86_64__)
    int avx512 = sl_cpu_has_avx512(), avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    int avx512 = 0, avx2 = 0;
#endif
    if (!avx512 && !avx2) return 2;
    if (C % 16 || K % 16 || C <= 0 || K <= 0 || N <= 0 || OH <= 0 || OW <= 0 || (m != 2 && m != 4)) return 2;
    if (slices < 1) slices = 1;
    if (slices > SL_MAX_THREADS) slices = SL_MAX_THREADS;
    sl_winograd w = {C, K, H, W, OH, OW, pad_top, pad_left, (OH + m - 1) / m, (OW + m - 1) / m, SL_ACT_NONE, 0, m,
                     (m + 2) * (m + 2), NULL, NULL, NULL, NULL, NULL};
    // Blocks of 128 tiles per sgemm: a reduction long enough that each product's sums (C·K
    // floats, from L2 or L3) are read and written once per 128 tiles. Not tuned further.
    weights_state s = {&w, x, dy, (int64_t)N * w.th * w.tw, 128, NULL, slices, {NULL}, 0};
#if defined(__x86_64__)
    if (m == 4) s.run = avx512 ? weights_block_avx512_4 : weights_block_avx2_4;
    else s.run = avx512 ? weights_block_avx512_2 : weights_block_avx2_2;
#endif
    sl_use_configured_threads();
    if (slices < 2 || omp_in_parallel()) weights_thread(&s);
    else GOMP_parallel(weights_thread, &s, (unsigned)slices, 0);
    int failed = s.failed;
    for (int t = 0; t < slices; t++) failed |= s.M[t] == NULL;
    if (!failed) {
        if (db) {  // the slices' bias sums, added in slice order
            size_t at = (size_t)w.points * C * K;
            for (int k = 0; k < K; k++) {
                float sum = s.M[0][at + k];
                for (int t = 1; t < slices; t++) sum += s.M[t][at + k];
                db[k] = accumulate ? db[k] + sum : sum;
            }
        }
        output_state o = {&s, dw, accumulate};
#if defined(__x86_64__)
        sl_parallel_for(C, &o, avx512 ? weights_output_avx512 : weights_output_avx2);
#endif
    }
    for (int t = 0; t < SL_MAX_THREADS; t++) free(s.M[t]);
    return failed ? 1 : 0;
}

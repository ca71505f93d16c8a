// The kernel gradient of a 3x3, stride-1, undilated convolution on NHWC by Winograd F(MxM,3x3)
// transposed (M = 4 or 2): ∂L/∂g = Gᵀ [Σ over images and MxM output tiles (A dY Aᵀ) ⊙ (Bᵀ d B)]
// G, (M+2)² transform-domain products per channel pair and tile where direct correlation takes
// 9·M² (4x and 2.25x less arithmetic). The sums M_ξ = Σ V_ξᵀ D_ξ, with V [(M+2)²][tiles][C] the
// input transform (the forward kernel's) and D [(M+2)²][tiles][K] the output gradient's, are
// split between the threads in one of two ways, both fixed by the shape and the caller's slice
// count (the thread count), so a run and its repeat end bitwise equal:
// - tile slices: the tiles are cut into `slices` contiguous ranges, one per thread, each with its
//   own (M+2)²·C·K sums, accumulated a block of tiles at a time with single-thread sgemms and
//   added in slice order at the end. Transformed data stays a block at a time in cache.
// - points: every thread transforms its share of all the tiles into one shared V and D; after a
//   barrier each computes whole sums M_ξ over all the tiles for its share of the points, one sgemm
//   per point, written once. No per-thread sums to clear, re-read and add, at the cost of holding
//   the whole batch's transforms: it wins where those are smaller than the sums' traffic.
// Gᵀ M G (in float64) then gives the HWIO gradient.
#include <stdlib.h>
#include <string.h>
#include "winograd_internal.h"
#include "winograd_variants.h"

typedef void (*sl_weights_block)(const sl_winograd *, const float *, const float *, int64_t, int64_t, size_t, float *,
                                 float *, float *, int);
typedef void (*sl_weights_transform)(const sl_winograd *, const float *, const float *, int64_t, int64_t, int64_t,
                                     float *, float *);
extern void GOMP_barrier(void);

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
        float *M = malloc(sizeof(float) * (P * w->C * w->K + w->K));
        s->M[slice] = M;
        if (!V || !D || !M) {
            __atomic_store_n(&s->failed, 1, __ATOMIC_RELAXED);
            continue;
        }
        int64_t t0 = s->tiles * slice / s->slices, t1 = s->tiles * (slice + 1) / s->slices;
        if (t0 == t1) memset(M, 0, sizeof(float) * (P * w->C * w->K + w->K));
        for (int64_t b = t0; b < t1; b += s->block)
            s->run(w, s->x, s->dy, b, b + s->block < t1 ? b + s->block : t1, TB, V, D, M, b == t0);
    }
    free(V);
    free(D);
}

typedef struct {
    const sl_winograd *w;
    const float *x, *dy;
    int64_t tiles;
    sl_weights_transform transform;
    float *V, *D, *M;  // [points][tiles][C], [points][tiles][K], [points][C][K] and [K]
} points_state;

static void points_thread(void *data) {
    points_state *s = data;
    const sl_winograd *w = s->w;
    int id = omp_in_parallel() ? omp_get_thread_num() : 0, team = omp_in_parallel() ? omp_get_num_threads() : 1;
    s->transform(w, s->x, s->dy, s->tiles * id / team, s->tiles * (id + 1) / team, s->tiles, s->V, s->D);
    if (team > 1) GOMP_barrier();
    size_t P = (size_t)w->points, T = (size_t)s->tiles;
    for (size_t xi = P * id / team; xi < P * (id + 1) / team; xi++)
        dnnl_sgemm('T', 'N', w->C, w->K, (dnnl_dim_t)T, 1.f, s->V + xi * T * w->C, w->C, s->D + xi * T * w->K, w->K,
                   0.f, s->M + xi * w->C * w->K, w->K);
}

// The sums M over all the tiles split by points into p->M; 0, or 1 when memory ran out.
static int points_sums(points_state *p, int threads) {
    const sl_winograd *w = p->w;
    size_t P = (size_t)w->points, T = (size_t)p->tiles, C = (size_t)w->C, K = (size_t)w->K;
    p->V = aligned_alloc(64, sizeof(float) * P * T * C);
    p->D = aligned_alloc(64, sizeof(float) * P * T * K);
    p->M = malloc(sizeof(float) * (P * C * K + K));
    int failed = !p->V || !p->D || !p->M;
    if (!failed) {
        if (threads < 2 || omp_in_parallel()) points_thread(p);
        else GOMP_parallel(points_thread, p, (unsigned)threads, 0);
        // The bias gradient: the (1, 1) point of a tile's transformed gradient sums the tile.
        float *bias = p->M + P * C * K;
        const float *sums = p->D + (size_t)(w->m + 3) * T * K;
        for (size_t k = 0; k < K; k++) bias[k] = 0;
        for (size_t t = 0; t < T; t++)
            for (size_t k = 0; k < K; k++) bias[k] += sums[t * K + k];
    }
    free(p->V);
    free(p->D);
    return failed;
}

typedef struct {
    const weights_state *s;
    float *dw;
    const float *scale;  // per output channel, or NULL
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
                    if (o->scale) {  // rounded to float, then scaled in float (as a separate pass would)
                        for (int j = 0; j < 8; j++) {
                            float value = (float)out[u][j] * o->scale[k + j];
                            to[j] = o->accumulate ? to[j] + value : value;
                        }
                    } else
                        for (int j = 0; j < 8; j++)
                            to[j] = (float)(o->accumulate ? to[j] + out[u][j] : out[u][j]);
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
                                int pad_top, int pad_left, int m, int slices, sl_wino_split split,
                                const float *column_scale, float *dw, float *db, int accumulate) {
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
    if (split == SL_WINO_SPLIT_AUTO) split = sl_winograd_kernel_gradient_split(N, C, K, OH, OW, m, slices);
    sl_use_configured_threads();
    int failed = 0;
    if (split == SL_WINO_SPLIT_POINTS) {
        points_state p = {&w, x, dy, s.tiles, NULL, NULL, NULL, NULL};
#if defined(__x86_64__)
        if (m == 4) p.transform = avx512 ? weights_transform_avx512_4 : weights_transform_avx2_4;
        else p.transform = avx512 ? weights_transform_avx512_2 : weights_transform_avx2_2;
#endif
        failed = points_sums(&p, slices);
        s.M[0] = p.M;  // one set of sums, which the output stage reads as a single slice
        s.slices = slices = 1;
    } else {
#if defined(__x86_64__)
        if (m == 4) s.run = avx512 ? weights_block_avx512_4 : weights_block_avx2_4;
        else s.run = avx512 ? weights_block_avx512_2 : weights_block_avx2_2;
#endif
        if (slices < 2 || omp_in_parallel()) weights_thread(&s);
        else GOMP_parallel(weights_thread, &s, (unsigned)slices, 0);
        failed = s.failed;
    }
    for (int t = 0; t < slices; t++) failed |= s.M[t] == NULL;
    if (!failed) {
        if (db) {  // the slices' bias sums, added in slice order
            size_t at = (size_t)w.points * C * K;
            for (int k = 0; k < K; k++) {
                float sum = s.M[0][at + k];
                for (int t = 1; t < slices; t++) sum += s.M[t][at + k];
                if (column_scale) sum *= column_scale[k];
                db[k] = accumulate ? db[k] + sum : sum;
            }
        }
        output_state o = {&s, dw, column_scale, accumulate};
#if defined(__x86_64__)
        sl_parallel_for(C, &o, avx512 ? weights_output_avx512 : weights_output_avx2);
#endif
    }
    for (int t = 0; t < SL_MAX_THREADS; t++) free(s.M[t]);
    return failed ? 1 : 0;
}

sl_wino_split sl_winograd_kernel_gradient_split(int N, int C, int K, int OH, int OW, int m, int slices) {
    if (slices < 1) slices = 1;
    int64_t tiles = (int64_t)N * ((OH + m - 1) / m) * ((OW + m - 1) / m), points = (m + 2) * (m + 2);
    int64_t blocks = (tiles / slices + 127) / 128;  // of 128 tiles per slice
    // Bytes: the whole batch's transforms, written and read once, against the slices' sums,
    // read and written once per block. Larger scratch than 32 MiB cost more than it saved in a
    // training step: VGG16's 28x28x512 layers (116 MB of transforms, 84 -> 64 ms standalone)
    // left the heap too fragmented for the first pooling layer's 205 MB gradient, whose backward
    // then faulted in fresh pages (41 -> 212 ms), and the step's peak memory grew by 60-170 MiB.
    int64_t transformed = 4 * tiles * points * (C + K), sums = 4 * slices * blocks * points * C * K;
    return transformed <= sums && transformed <= ((int64_t)32 << 20) ? SL_WINO_SPLIT_POINTS : SL_WINO_SPLIT_TILES;
}

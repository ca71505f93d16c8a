// Winograd F(4x4, 3x3) and F(2x2, 3x3) convolution on NHWC float32 (Lavin & Gray 2016), as in
// the study in ../shared/bench/conv-routes (wino_nhwc.h, "mywino4_fused"): each thread takes
// blocks of TB output tiles, transforms their 6x6 (4x4) input patches (V = Bᵀ d B), multiplies in
// the transform domain with 36 (16) single-thread sgemms [TB x C] x [C x K] against U = G g Gᵀ
// (computed once in float64), and writes y = act(Aᵀ M A + bias [+ y]). 4x4 outputs cost 36
// products per channel pair instead of 144, 2x2 outputs 16 instead of 36: 4x and 2.25x less
// arithmetic than direct convolution. F(2x2) has four times as many tiles on the same map and a
// transformed kernel 16/36 the size, which is what small maps at small batches need. Measured
// error on VGG16/ResNet50 shapes: 6e-6 to 1.2e-5 of scale per layer for F(4x4) (study); F(2x2)'s
// transforms hold only 0, ±1 and ±1/2, so it rounds less. Both are tested against float64 at 1e-4.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "winograd_internal.h"

static const double G4[6][3] = {{1.0 / 4, 0, 0}, {-1.0 / 6, -1.0 / 6, -1.0 / 6}, {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                {1.0 / 24, 1.0 / 12, 1.0 / 6}, {1.0 / 24, -1.0 / 12, 1.0 / 6}, {0, 0, 1}};
static const double G2[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};

#include "winograd_variants.h"

typedef struct {
    sl_winograd *w;
    const float *kernel;  // HWIO [3][3][C][K], or with flipped [3][3][K][C] read rotated
    int flipped;
    int stream;  // U is larger than the last-level cache: written with non-temporal stores
    int failed;  // set (atomically) when a thread found no memory for its rotated channels
} transform_state;

// U of at least this many bytes is written past the caches: larger than the 32 MiB L3 of the
// machines measured, it would only evict what the next layer reads, and each line written
// through the cache is first read from memory. ResNet50's 512-channel U (37.7 MB), 2-core Zen 4,
// caches flushed before each run (best of 15): 2.7 -> 1.6-2.5 ms, flipped 4.4 -> 3.1-3.9 ms.
enum { SL_STREAMED_U = 32 << 20 };

// U = G g Gᵀ in float64 for input channels [16·b0, 16·b1), 16 output channels at a time: every
// read and write runs along the output channels, contiguous in HWIO and in U, so the loops
// vectorise (training transforms the kernels after every step; C and K are multiples of 16). A
// flipped kernel's 16 input channels are first gathered into HWIO order (`rotated`, reading the
// other layer's rows 16 floats at a time), which spares the input gradient a rotated copy of
// every kernel; the arithmetic is the same.
static inline __attribute__((always_inline)) void transform_kernel_body(void *data, int64_t b0, int64_t b1) {
#pragma clang fp contract(off)  // the same roundings on every vector unit: no fused multiply-adds
    enum { B = 16 };
    transform_state *s = data;
    sl_winograd *w = s->w;
    const int C = w->C, K = w->K, alpha = w->m + 2;
    const double(*G)[3] = w->m == 4 ? G4 : G2;
    float *rotated = s->flipped ? malloc(sizeof(float) * 9 * B * (size_t)K) : NULL;  // [3][3][B][K]
    if (s->flipped && !rotated) {
        __atomic_store_n(&s->failed, 1, __ATOMIC_RELAXED);  // sl_winograd_create reports it
        return;
    }
    for (int64_t block = b0; block < b1; block++) {
        const float *source = s->kernel + block * B * K;
        size_t stride = (size_t)C * K;  // between kernel positions
        if (rotated) {
            for (int p = 0; p < 9; p++)
                for (int k0 = 0; k0 < K; k0 += B) {  // a 16 x 16 tile, transposed
                    const float *rows = s->kernel + ((size_t)(8 - p) * K + k0) * C + block * B;
                    float *to = rotated + (size_t)p * B * K + k0;
                    for (int a = 0; a < B; a++)
                        for (int b = 0; b < B; b++) to[(size_t)a * K + b] = rows[(size_t)b * C + a];
                }
            source = rotated;
            stride = (size_t)B * K;
        }
        for (int a = 0; a < B; a++) {
            const int64_t c = block * B + a;
            for (int k0 = 0; k0 < K; k0 += B) {
                double g[3][3][B], t[6][3][B];
                for (int i = 0; i < 3; i++)
                    for (int j = 0; j < 3; j++) {
                        const float *from = source + (size_t)(i * 3 + j) * stride + (size_t)a * K + k0;
                        for (int b = 0; b < B; b++) g[i][j][b] = from[b];
                    }
                for (int i = 0; i < alpha; i++)
                    for (int j = 0; j < 3; j++)
                        for (int b = 0; b < B; b++)
                            t[i][j][b] = G[i][0] * g[0][j][b] + G[i][1] * g[1][j][b] + G[i][2] * g[2][j][b];
                for (int i = 0; i < alpha; i++)
                    for (int j = 0; j < alpha; j++) {
                        float *to = w->U + ((size_t)(i * alpha + j) * C + c) * K + k0;
                        if (!s->stream) {
                            for (int b = 0; b < B; b++)
                                to[b] = (float)(t[i][0][b] * G[j][0] + t[i][1][b] * G[j][1] + t[i][2][b] * G[j][2]);
                            continue;
                        }
                        typedef float line __attribute__((vector_size(64), aligned(64)));  // U is 64-byte aligned
                        line v;
                        for (int b = 0; b < B; b++)
                            v[b] = (float)(t[i][0][b] * G[j][0] + t[i][1][b] * G[j][1] + t[i][2][b] * G[j][2]);
                        __builtin_nontemporal_store(v, (line *)to);
                    }
            }
        }
    }
#if defined(__x86_64__)
    if (s->stream) __builtin_ia32_sfence();  // the streamed lines are visible before the barrier
#endif
    free(rotated);
}

// The body compiled for each vector unit (the baseline build has only SSE2, whose two-double
// vectors made this transform 3% of a ResNet50 training step).
#if defined(__x86_64__)
__attribute__((target("avx512f,avx512dq,fma"))) static void transform_kernel_avx512(void *data, int64_t c0,
                                                                                   int64_t c1) {
    transform_kernel_body(data, c0, c1);
}
__attribute__((target("avx2,fma"))) static void transform_kernel_avx2(void *data, int64_t c0, int64_t c1) {
    transform_kernel_body(data, c0, c1);
}
#endif
static void transform_kernel(void *data, int64_t c0, int64_t c1) { transform_kernel_body(data, c0, c1); }

sl_winograd *sl_winograd_create(const float *kernel, int flipped, const float *bias, int C, int K, int H, int W,
                                int OH, int OW, int pad_top, int pad_left, sl_activation activation, float relu_max,
                                int m, char *error, size_t error_length) {
#if defined(__x86_64__)
    int avx512 = sl_cpu_has_avx512(), avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    int avx512 = 0, avx2 = 0;  // the tile transforms are written for x86 vector units
#endif
    if (!avx512 && !avx2) {
        snprintf(error, error_length, "Winograd kernel needs AVX2 and FMA or AVX-512, which this CPU lacks");
        return NULL;
    }
    if (m != 4 && m != 2) {
        snprintf(error, error_length, "Winograd output tiles are 4x4 or 2x2 (got %dx%d)", m, m);
        return NULL;
    }
    if (C % 16 || K % 16 || C <= 0 || K <= 0 || OH <= 0 || OW <= 0) {
        snprintf(error, error_length, "Winograd kernel needs channel counts that are multiples of 16 (got %d -> %d)", C, K);
        return NULL;
    }
    sl_winograd *w = calloc(1, sizeof *w);
    if (!w) { snprintf(error, error_length, "out of memory"); return NULL; }
    *w = (sl_winograd){C, K, H, W, OH, OW, pad_top, pad_left, (OH + m - 1) / m, (OW + m - 1) / m, activation, relu_max,
                       m, (m + 2) * (m + 2), NULL, NULL, NULL, NULL, NULL};
#if defined(__x86_64__)
    if (avx512 && m == 4) w->block = block_avx512_4, w->transform_input = transform_input_avx512_4, w->transform_output = transform_output_avx512_4;
    else if (avx512) w->block = block_avx512_2, w->transform_input = transform_input_avx512_2, w->transform_output = transform_output_avx512_2;
    else if (m == 4) w->block = block_avx2_4, w->transform_input = transform_input_avx2_4, w->transform_output = transform_output_avx2_4;
    else w->block = block_avx2_2, w->transform_input = transform_input_avx2_2, w->transform_output = transform_output_avx2_2;
#endif
    w->U = aligned_alloc(64, sizeof(float) * w->points * (size_t)C * K);
    w->bias = aligned_alloc(64, sizeof(float) * (size_t)K);
    if (!w->U || !w->bias) {
        sl_winograd_destroy(w);
        snprintf(error, error_length, "out of memory for the transformed kernel");
        return NULL;
    }
    for (int k = 0; k < K; k++) w->bias[k] = bias ? bias[k] : 0;
    transform_state state = {w, kernel, flipped != 0, sizeof(float) * w->points * (size_t)C * K >= SL_STREAMED_U, 0};
    void (*transform)(void *, int64_t, int64_t) = transform_kernel;
#if defined(__x86_64__)
    transform = avx512 ? transform_kernel_avx512 : transform_kernel_avx2;
#endif
    sl_parallel_for(C / 16, &state, transform);  // training re-transforms after every step
    if (state.failed) {
        sl_winograd_destroy(w);
        snprintf(error, error_length, "out of memory for the rotated kernel");
        return NULL;
    }
    return w;
}

void sl_winograd_destroy(sl_winograd *w) {
    if (!w) return;
    free(w->U);
    free(w->bias);
    free(w);
}

typedef struct {
    const sl_winograd *w;
    const float *x;
    float *y;
    int64_t tiles, block;
    int accumulate;
    int64_t next;  // next block to take (atomic)
    int64_t done;  // tiles written (atomic)
} run_state;

static void run_blocks(void *data) {
    run_state *s = data;
    const sl_winograd *w = s->w;
    size_t TB = (size_t)s->block;
    float *V = aligned_alloc(64, sizeof(float) * w->points * TB * w->C);
    float *M = aligned_alloc(64, sizeof(float) * w->points * TB * w->K);
    if (V && M) {  // a thread without scratch takes no blocks; the others do its share
        int64_t blocks = (s->tiles + s->block - 1) / s->block;
        for (;;) {
            int64_t b = __atomic_fetch_add(&s->next, 1, __ATOMIC_RELAXED);
            if (b >= blocks) break;
            int64_t t0 = b * s->block, t1 = t0 + s->block < s->tiles ? t0 + s->block : s->tiles;
            w->block(w, s->x, s->y, t0, t1, TB, V, M, s->accumulate);
            __atomic_fetch_add(&s->done, t1 - t0, __ATOMIC_RELAXED);
        }
    }
    free(V);
    free(M);
}

// The unfused driver, for wide layers on few tiles (VGG16's and ResNet50's 512-channel layers):
// the fused driver reads all 36 transformed kernel matrices U (36·C·K floats: 38 MB at
// 512→512, more than the L3) once per block of tiles, so a 14×14 layer at batch 8 streams U
// from memory eight times. Here every tile is transformed first (V [points][T][C]), each thread
// then takes whole transform-domain products V_ξ·U_ξ (each U_ξ read once), and the inverse
// transform runs last. Phase 0: input transform, 1: products, 2: output transform.
typedef struct {
    const sl_winograd *w;
    const float *x;
    float *y, *V, *M;
    int64_t tiles;
    int accumulate, phase;
    int64_t next;  // next product ξ to take (atomic)
} unfused_state;

static void unfused_phase(void *data) {
    unfused_state *s = data;
    const sl_winograd *w = s->w;
    const int64_t T = s->tiles;
    if (s->phase == 1) {
        for (;;) {
            int64_t xi = __atomic_fetch_add(&s->next, 1, __ATOMIC_RELAXED);
            if (xi >= w->points) break;
            dnnl_sgemm('N', 'N', T, w->K, w->C, 1.f, s->V + xi * T * w->C, w->C, w->U + xi * w->C * w->K, w->K, 0.f,
                       s->M + xi * T * w->K, w->K);
        }
        return;
    }
    int64_t id = omp_in_parallel() ? omp_get_thread_num() : 0, team = omp_in_parallel() ? omp_get_num_threads() : 1;
    int64_t t0 = T * id / team, t1 = T * (id + 1) / team;
    if (t0 >= t1) return;
    if (s->phase == 0) w->transform_input(w, s->x, t0, t1, s->V + t0 * w->C, (size_t)T * w->C);
    else w->transform_output(w, s->M + t0 * w->K, (size_t)T * w->K, t0, t1, s->y, s->accumulate);
}

// Runs the unfused driver; returns 1 when its whole-batch buffers cannot be allocated.
static int run_unfused(const sl_winograd *w, const float *x, int64_t tiles, float *y, int accumulate, int threads) {
    unfused_state state = {w, x, y, NULL, NULL, tiles, accumulate, 0, 0};
    state.V = aligned_alloc(64, sizeof(float) * w->points * (size_t)tiles * w->C);
    state.M = aligned_alloc(64, sizeof(float) * w->points * (size_t)tiles * w->K);
    int failed = !state.V || !state.M;
    for (int phase = 0; phase < 3 && !failed; phase++) {
        state.phase = phase;
        if (threads < 2) unfused_phase(&state);
        else GOMP_parallel(unfused_phase, &state, (unsigned)threads, 0);
    }
    free(state.V);
    free(state.M);
    return failed;
}

int sl_winograd_run(const sl_winograd *w, const float *x, int N, float *y, int accumulate) {
    int64_t tiles = (int64_t)N * w->th * w->tw;
    sl_use_configured_threads();
    int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
    // Blocks of tiles per thread step: at most 64 (a sweep on this 2-core EPYC, AVX2, 1 MiB L2:
    // 48-96 tiles beat 128-256 by up to 1.5x on VGG16/ResNet50 shapes, as V and M for larger
    // blocks outgrow the caches), at least 16 (smaller GEMMs lose more than balance gains), and
    // small enough that each thread takes about four blocks (dynamic balance at batch 1).
    int64_t block = (tiles + 4 * threads - 1) / (4 * threads);
    if (block > 64) block = 64;
    if (block < 16) block = 16;
    // Unfused when streaming U once per block costs clearly more than writing and reading V and
    // M once: blocks · C·K > 8 · T · (C + K) floats per transform-domain point. The factor 8 is
    // measured (2-core EPYC, AVX2): unfused won at 512 channels on 7×7 and 14×14 maps at batch 8
    // (17.4 → 12.9 ms, 39.0 → 31.5 ms) and 28×28 at batch 1 (21.6 → 14.1 ms), and lost where
    // this rule keeps the fused driver: 28×28×512 at batch 8 (81 → 98 ms), 56×56×256 (9.6 → 16.2
    // ms at batch 1, 81 → 145 at batch 8), 14×14×256 at batch 4 (4.7 → 5.4 ms).
    int64_t blocks = (tiles + block - 1) / block;
    int unfused = blocks * w->C * w->K > 8 * tiles * (int64_t)(w->C + w->K);
    if (unfused && run_unfused(w, x, tiles, y, accumulate, threads) == 0)
        return 0;
    run_state state = {w, x, y, tiles, block, accumulate, 0, 0};
    if (threads < 2) {
        run_blocks(&state);
    } else {
        GOMP_parallel(run_blocks, &state, (unsigned)threads, 0);
    }
    return state.done == tiles ? 0 : 1;  // 1: no thread could allocate its scratch
}

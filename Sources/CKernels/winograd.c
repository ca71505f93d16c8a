// Winograd F(4x4, 3x3) convolution on NHWC float32 (Lavin & Gray 2016), as in the study in
// ../shared/bench/conv-routes (wino_nhwc.h, "mywino4_fused"): each thread takes blocks of TB
// output tiles, transforms their 6x6 input patches (V = Bᵀ d B), multiplies in the transform
// domain with 36 single-thread sgemms [TB x C] x [C x K] against U = G g Gᵀ (computed once in
// float64), and writes y = act(Aᵀ M A + bias [+ y]). 4x4 outputs cost 36 products per
// channel pair instead of 144: 2.25x less arithmetic than direct convolution. Measured error on
// VGG16/ResNet50 shapes: 6e-6 to 1.2e-5 of scale per layer (study), within the 1e-4 bar.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <oneapi/dnnl/dnnl.h>
#include "CKernels.h"

/// 16 floats, loaded and stored at any 4-byte alignment.
typedef float vf __attribute__((vector_size(64), aligned(4)));

extern void GOMP_parallel(void (*fn)(void *), void *data, unsigned num_threads, unsigned flags);
extern int omp_get_max_threads(void);
extern int omp_in_parallel(void);

struct sl_winograd {
    int C, K, H, W, OH, OW, pad_top, pad_left, th, tw;
    sl_activation activation;
    float relu_max;
    int avx512;   // which compiled variant runs: AVX-512 or AVX2+FMA
    float *U;     // [36][C][K]
    float *bias;  // [K]
};

static const double G4[6][3] = {{1.0 / 4, 0, 0}, {-1.0 / 6, -1.0 / 6, -1.0 / 6}, {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                {1.0 / 24, 1.0 / 12, 1.0 / 6}, {1.0 / 24, -1.0 / 12, 1.0 / 6}, {0, 0, 1}};


#if defined(__x86_64__)
#define SL_TARGET "avx512f,avx512dq,fma"
#define SL_SUFFIX avx512
#include "winograd_tiles.h"
#undef SL_TARGET
#undef SL_SUFFIX
#define SL_TARGET "avx2,fma"
#define SL_SUFFIX avx2
#include "winograd_tiles.h"
#undef SL_TARGET
#undef SL_SUFFIX

#endif

sl_winograd *sl_winograd_create(const float *kernel, const float *bias, int C, int K, int H, int W, int OH, int OW,
                                int pad_top, int pad_left, sl_activation activation, float relu_max, char *error,
                                size_t error_length) {
#if defined(__x86_64__)
    int avx512 = sl_cpu_has_avx512(), avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    int avx512 = 0, avx2 = 0;  // the tile transforms are written for x86 vector units
#endif
    if (!avx512 && !avx2) {
        snprintf(error, error_length, "Winograd kernel needs AVX2 and FMA or AVX-512, which this CPU lacks");
        return NULL;
    }
    if (C % 16 || K % 16 || C <= 0 || K <= 0 || OH <= 0 || OW <= 0) {
        snprintf(error, error_length, "Winograd kernel needs channel counts that are multiples of 16 (got %d -> %d)", C, K);
        return NULL;
    }
    sl_winograd *w = calloc(1, sizeof *w);
    if (!w) { snprintf(error, error_length, "out of memory"); return NULL; }
    *w = (sl_winograd){C, K, H, W, OH, OW, pad_top, pad_left, (OH + 3) / 4, (OW + 3) / 4, activation, relu_max, avx512, NULL, NULL};
    w->U = aligned_alloc(64, sizeof(float) * 36 * (size_t)C * K);
    w->bias = aligned_alloc(64, sizeof(float) * (size_t)K);
    if (!w->U || !w->bias) {
        sl_winograd_destroy(w);
        snprintf(error, error_length, "out of memory for the transformed kernel");
        return NULL;
    }
    for (int k = 0; k < K; k++) w->bias[k] = bias ? bias[k] : 0;
    for (int c = 0; c < C; c++)
        for (int k = 0; k < K; k++) {
            double g[3][3], t[6][3];
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 3; j++) g[i][j] = kernel[((size_t)(i * 3 + j) * C + c) * K + k];
            for (int i = 0; i < 6; i++)
                for (int j = 0; j < 3; j++) t[i][j] = G4[i][0] * g[0][j] + G4[i][1] * g[1][j] + G4[i][2] * g[2][j];
            for (int i = 0; i < 6; i++)
                for (int j = 0; j < 6; j++)
                    w->U[((size_t)(i * 6 + j) * C + c) * K + k] =
                        (float)(t[i][0] * G4[j][0] + t[i][1] * G4[j][1] + t[i][2] * G4[j][2]);
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
    float *V = aligned_alloc(64, sizeof(float) * 36 * TB * w->C);
    float *M = aligned_alloc(64, sizeof(float) * 36 * TB * w->K);
    if (V && M) {  // a thread without scratch takes no blocks; the others do its share
        int64_t blocks = (s->tiles + s->block - 1) / s->block;
        for (;;) {
            int64_t b = __atomic_fetch_add(&s->next, 1, __ATOMIC_RELAXED);
            if (b >= blocks) break;
            int64_t t0 = b * s->block, t1 = t0 + s->block < s->tiles ? t0 + s->block : s->tiles;
#if defined(__x86_64__)
            if (w->avx512) block_avx512(w, s->x, s->y, t0, t1, TB, V, M, s->accumulate);
            else block_avx2(w, s->x, s->y, t0, t1, TB, V, M, s->accumulate);
#endif
            __atomic_fetch_add(&s->done, t1 - t0, __ATOMIC_RELAXED);
        }
    }
    free(V);
    free(M);
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
    run_state state = {w, x, y, tiles, block, accumulate, 0, 0};
    if (threads < 2) {
        run_blocks(&state);
    } else {
        GOMP_parallel(run_blocks, &state, (unsigned)threads, 0);
    }
    return state.done == tiles ? 0 : 1;  // 1: no thread could allocate its scratch
}

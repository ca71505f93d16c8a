// The kernel gradient of one 3x3 stride-1 `same` convolution layer through Sightline's Winograd
// F(4x4,3x3) or F(2x2,3x3) weight gradient (Sources/CKernels/winograd_weights.c) and through oneDNN's
// backward-weights primitive, alternating, RUNS runs each: the figures behind the route rule in
// Sources/SightlineNN/Conv2D+Backward.swift, and behind the split rule in
// Sources/CKernels/winograd_weights.c (SPLIT: tiles or points; default, the rule's own choice,
// printed). Random input and output gradient. Prints the
// minimum and the median of each (on a shared VM the minimum is the figure that repeats) and the
// largest difference of each from a float64 correlation over sampled taps, relative to the
// largest gradient value.
// Build: clang -O3 -I Sources/CKernels/include bench/winograd_weights.c Sources/CKernels/*.c -ldnnl -lgomp -lm -o /tmp/winograd_weights
// Run:   /tmp/winograd_weights BATCH SIZE IN_CHANNELS OUT_CHANNELS [TILE 4|2] [RUNS] [SPLIT]    e.g. 16 56 256 256 4 7 points
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "CKernels.h"

#include "bench_common.h"
static float uniform(void) { return (float)rand() / (float)RAND_MAX - 0.5f; }
static int ascending(const void *a, const void *b) { double d = *(const double *)a - *(const double *)b; return (d > 0) - (d < 0); }

// The largest |dw - float64 reference| over 64 sampled (tap, c, k), over the largest |reference|.
static double error(const float *x, const float *dy, const float *dw, int N, int H, int C, int K) {
    double worst = 0, scale = 0;
    for (int s = 0; s < 64; s++) {
        int u = s % 3, v = (s / 3) % 3, c = (s * 7919) % C, k = (s * 104729) % K;
        double sum = 0;
        for (int n = 0; n < N; n++)
            for (int oy = 0; oy < H; oy++)
                for (int ox = 0; ox < H; ox++) {
                    int iy = oy + u - 1, ix = ox + v - 1;
                    if (iy < 0 || iy >= H || ix < 0 || ix >= H) continue;
                    sum += (double)x[(((long)n * H + iy) * H + ix) * C + c] * dy[(((long)n * H + oy) * H + ox) * K + k];
                }
        double got = dw[((long)(u * 3 + v) * C + c) * K + k];
        if (fabs(got - sum) > worst) worst = fabs(got - sum);
        if (fabs(sum) > scale) scale = fabs(sum);
    }
    return worst / scale;
}

int main(int argc, char **argv) {
    if (argc < 5 || argc > 8) { fprintf(stderr, "usage: %s BATCH SIZE IN_CHANNELS OUT_CHANNELS [TILE 4|2] [RUNS] [SPLIT tiles|points]\n", argv[0]); return 2; }
    int N = atoi(argv[1]), H = atoi(argv[2]), C = atoi(argv[3]), K = atoi(argv[4]);
    int m = argc >= 6 ? atoi(argv[5]) : 4, runs = argc >= 7 ? atoi(argv[6]) : 7;
    sl_wino_split split = argc == 8 ? (argv[7][0] == 'p' ? SL_WINO_SPLIT_POINTS : SL_WINO_SPLIT_TILES)
                                    : sl_winograd_kernel_gradient_split(N, C, K, H, H, m, sl_thread_count());
    // The heap settings sightline runs with (Sources/CRuntime/runtime.c).
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, -1);
    mallopt(M_TOP_PAD, 256 << 20);
    char error_text[256], impl[256];
    float *x = malloc(4L * N * H * H * C), *dy = malloc(4L * N * H * H * K);
    float *dw_wino = malloc(4L * 9 * C * K), *dw_dnnl = malloc(4L * 9 * C * K), *db = malloc(4L * K), *db_wino = malloc(4L * K);
    for (long i = 0; i < (long)N * H * H * C; i++) x[i] = uniform();
    for (long i = 0; i < (long)N * H * H * K; i++) dy[i] = uniform();
    sl_dnnl_conv_bwd *dnnl = sl_dnnl_conv_bwd_create(N, H, H, C, K, 1, 3, 3, 1, 1, 1, 1, 1, 1, H, H, 0, 1, 0, impl,
                                                     sizeof impl, error_text, sizeof error_text);
    if (!dnnl) { fprintf(stderr, "%s\n", error_text); return 1; }
    double gflop = 2.0 * N * H * H * C * K * 9 / 1e9, *tw = malloc(sizeof(double) * runs), *td = malloc(sizeof(double) * runs);
    if (sl_winograd_kernel_gradient(x, dy, N, C, K, H, H, H, H, 1, 1, m, sl_thread_count(), split, NULL, dw_wino, db_wino, 0)) { fprintf(stderr, "winograd failed\n"); return 1; }
    sl_dnnl_conv_bwd_weights(dnnl, x, dy, dw_dnnl, db);
    for (int i = 0; i < runs; i++) {
        double t0 = now();
        sl_winograd_kernel_gradient(x, dy, N, C, K, H, H, H, H, 1, 1, m, sl_thread_count(), split, NULL, dw_wino, db_wino, 0);
        tw[i] = now() - t0;
        t0 = now();
        sl_dnnl_conv_bwd_weights(dnnl, x, dy, dw_dnnl, db);
        td[i] = now() - t0;
    }
    double bias_error = 0, bias_scale = 0;  // against oneDNN's bias gradient
    for (int k = 0; k < K; k++) {
        if (fabs(db_wino[k] - db[k]) > bias_error) bias_error = fabs(db_wino[k] - db[k]);
        if (fabs(db[k]) > bias_scale) bias_scale = fabs(db[k]);
    }
    printf("bias gradient: largest difference from oneDNN's %.1e of its largest value\n", bias_error / bias_scale);
    qsort(tw, runs, sizeof *tw, ascending);
    qsort(td, runs, sizeof *td, ascending);
    printf("N%d %dx%d %d->%d kernel gradient: winograd F(%dx%d) split by %s min %.1f ms (%.0f GFLOP/s direct-equivalent), median %.1f,"
           " error %.1e | %s min %.1f ms (%.0f), median %.1f, error %.1e\n",
           N, H, H, C, K, m, m, split == SL_WINO_SPLIT_POINTS ? "points" : "tiles", tw[0] * 1e3, gflop / tw[0], tw[runs / 2] * 1e3, error(x, dy, dw_wino, N, H, C, K), impl,
           td[0] * 1e3, gflop / td[0], td[runs / 2] * 1e3, error(x, dy, dw_dnnl, N, H, C, K));
    return 0;
}

// One convolution layer through Sightline's Winograd kernel (F(4x4,3x3) or F(2x2,3x3)) and
// through oneDNN's direct convolution (Sources/CKernels), alternating, 25 runs each: the
// figures behind the tile-size, block-size, unfused-driver and minimum-tile rules in
// Sources/CKernels/winograd.c and Sources/SightlineNN/WinogradConvolution.swift
// (bench/conv-routes.md). Random input, ReLU epilogue, 3x3 stride 1, `same` padding. Prints the
// minimum and the median of each: on a shared VM the minimum is the figure that repeats.
// Build: clang -O3 -I Sources/CKernels/include bench/winograd_layers.c Sources/CKernels/*.c -ldnnl -lgomp -lm -o /tmp/winograd_layers
// With a sixth argument bf16, the direct convolution is oneDNN's bf16 one (source rounded per run,
// needs AVX512_BF16 or AMX): the figures behind `Precision.bf16Layers`.
// Run:   /tmp/winograd_layers BATCH SIZE IN_CHANNELS OUT_CHANNELS [TILE] [bf16]    e.g. 8 28 512 512 4
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "CKernels.h"

enum { RUNS = 25 };

#include "bench_common.h"
static float uniform(void) { return (float)rand() / (float)RAND_MAX; }
static int ascending(const void *a, const void *b) { double d = *(const double *)a - *(const double *)b; return (d > 0) - (d < 0); }

int main(int argc, char **argv) {
    if (argc < 5 || argc > 7) { fprintf(stderr, "usage: %s BATCH SIZE IN_CHANNELS OUT_CHANNELS [TILE 4|2] [bf16]\n", argv[0]); return 2; }
    int N = atoi(argv[1]), H = atoi(argv[2]), C = atoi(argv[3]), K = atoi(argv[4]), m = argc >= 6 ? atoi(argv[5]) : 4;
    int bf16 = argc == 7 && strcmp(argv[6], "bf16") == 0;
    char error[256], impl[128];
    float *x = malloc(4L * N * H * H * C), *w = malloc(4L * 9 * C * K), *b = calloc(K, 4), *y = malloc(4L * N * H * H * K);
    for (long i = 0; i < (long)N * H * H * C; i++) x[i] = uniform();
    for (long i = 0; i < 9L * C * K; i++) w[i] = uniform() - 0.5f;
    sl_winograd *wino = sl_winograd_create(w, 0, b, C, K, H, H, H, H, 1, 1, SL_ACT_RELU, INFINITY, m, error, sizeof error);
    sl_dnnl_conv *direct = sl_dnnl_conv_create(N, H, H, C, K, 3, 3, 1, 1, 1, 1, 1, 1, H, H, w, b, SL_ACT_RELU, INFINITY, 0, bf16,
                                               impl, sizeof impl, error, sizeof error);
    if (!wino || !direct) { fprintf(stderr, "%s\n", error); return 1; }
    double gflop = 2.0 * N * H * H * C * K * 9 / 1e9, tw[RUNS], td[RUNS];
    sl_winograd_run(wino, x, N, y, 0);
    sl_dnnl_conv_run(direct, x, y);
    for (int i = 0; i < RUNS; i++) {
        double t0 = now();
        sl_winograd_run(wino, x, N, y, 0);
        tw[i] = now() - t0;
        t0 = now();
        sl_dnnl_conv_run(direct, x, y);
        td[i] = now() - t0;
    }
    qsort(tw, RUNS, sizeof *tw, ascending);
    qsort(td, RUNS, sizeof *td, ascending);
    printf("N%d %dx%d %d->%d winograd F(%dx%d) min %.2f ms (%.0f GFLOP/s direct-equivalent), median %.2f | %s min %.2f ms (%.0f), median %.2f\n",
           N, H, H, C, K, m, m, tw[0] * 1e3, gflop / tw[0], tw[RUNS / 2] * 1e3, impl, td[0] * 1e3, gflop / td[0], td[RUNS / 2] * 1e3);
    return 0;
}

// One convolution layer through Sightline's Winograd kernel and through oneDNN's direct
// convolution (Sources/CKernels), alternating, 2 rounds of 3 runs each: the figures behind the
// block-size, unfused-driver and minimum-tile rules in Sources/CKernels/winograd.c
// (bench/conv-routes.md). Random input, ReLU epilogue, 3x3 stride 1, `same` padding.
// Build: clang -O3 -I Sources/CKernels/include bench/winograd_layers.c Sources/CKernels/*.c -ldnnl -lgomp -lm -o /tmp/winograd_layers
// Run:   /tmp/winograd_layers BATCH SIZE IN_CHANNELS OUT_CHANNELS      e.g. 8 28 512 512
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "CKernels.h"

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static float uniform(void) { return (float)rand() / (float)RAND_MAX; }

int main(int argc, char **argv) {
    if (argc != 5) { fprintf(stderr, "usage: %s BATCH SIZE IN_CHANNELS OUT_CHANNELS\n", argv[0]); return 2; }
    int N = atoi(argv[1]), H = atoi(argv[2]), C = atoi(argv[3]), K = atoi(argv[4]);
    char error[256], impl[128];
    float *x = malloc(4L * N * H * H * C), *w = malloc(4L * 9 * C * K), *b = calloc(K, 4), *y = malloc(4L * N * H * H * K);
    for (long i = 0; i < (long)N * H * H * C; i++) x[i] = uniform();
    for (long i = 0; i < 9L * C * K; i++) w[i] = uniform() - 0.5f;
    sl_winograd *wino = sl_winograd_create(w, b, C, K, H, H, H, H, 1, 1, SL_ACT_RELU, INFINITY, error, sizeof error);
    sl_dnnl_conv *direct = sl_dnnl_conv_create(N, H, H, C, K, 3, 3, 1, 1, 1, 1, 1, 1, H, H, w, b, SL_ACT_RELU, INFINITY, 0, 0,
                                               impl, sizeof impl, error, sizeof error);
    if (!wino || !direct) { fprintf(stderr, "%s\n", error); return 1; }
    double gflop = 2.0 * N * H * H * C * K * 9 / 1e9;
    for (int round = 0; round < 2; round++) {
        double t0 = now();
        for (int i = 0; i < 3; i++) sl_winograd_run(wino, x, N, y, 0);
        double tw = (now() - t0) / 3;
        t0 = now();
        for (int i = 0; i < 3; i++) sl_dnnl_conv_run(direct, x, y);
        double td = (now() - t0) / 3;
        printf("N%d %dx%d %d->%d winograd %.2f ms (%.0f GFLOP/s direct-equivalent)  %s %.2f ms (%.0f)\n", N, H, H, C, K,
               tw * 1e3, gflop / tw, impl, td * 1e3, gflop / td);
    }
    return 0;
}

// The forward pass of one 1x1 stride-1 convolution with a ResNet shortcut added before a ReLU:
// oneDNN's primitive with the shortcut as a binary post-op (read from its own tensor) and as a
// sum post-op (summed in place), against Sightline's chunked GEMMs (Sources/CKernels/
// pointwise_forward.c) in both forms, alternating, 12 runs each: the figures behind the rule in
// Sources/SightlineNN/PointwiseConvolution.swift. Random input, kernel and shortcut. Prints the
// best of each and the largest difference of the chunked result from oneDNN's, relative to the
// largest value.
// Build: clang -O3 -I Sources/CKernels/include bench/pointwise_forward.c Sources/CKernels/*.c -ldnnl -lgomp -lm -o /tmp/pointwise_forward
// Run:   /tmp/pointwise_forward BATCH SIZE IN_CHANNELS OUT_CHANNELS    e.g. 16 56 64 256
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "CKernels.h"

#include "bench_common.h"

enum { RUNS = 12 };

static float uniform(void) { return (float)rand() / (float)RAND_MAX - 0.5f; }

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s BATCH SIZE IN_CHANNELS OUT_CHANNELS\n", argv[0]);
        return 2;
    }
    // The heap settings sightline runs with (Sources/CRuntime/runtime.c).
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, -1);
    int N = atoi(argv[1]), H = atoi(argv[2]), C = atoi(argv[3]), K = atoi(argv[4]);
    int64_t rows = (int64_t)N * H * H;
    char error[256], impl[128];
    float *x = malloc(sizeof(float) * rows * C), *w = malloc(sizeof(float) * C * K), *b = malloc(sizeof(float) * K);
    float *r = malloc(sizeof(float) * rows * K), *y = malloc(sizeof(float) * rows * K);
    float *mine = malloc(sizeof(float) * rows * K);
    for (int64_t i = 0; i < rows * C; i++) x[i] = uniform();
    for (int64_t i = 0; i < (int64_t)C * K; i++) w[i] = uniform();
    for (int k = 0; k < K; k++) b[k] = 0.1f * uniform();
    for (int64_t i = 0; i < rows * K; i++) r[i] = uniform();
    sl_dnnl_conv *binary = sl_dnnl_conv_create(N, H, H, C, K, 1, 1, 1, 1, 1, 1, 0, 0, H, H, w, b, SL_ACT_RELU, INFINITY,
                                               2, 0, impl, sizeof impl, error, sizeof error);
    char sum_impl[128];
    sl_dnnl_conv *sum = sl_dnnl_conv_create(N, H, H, C, K, 1, 1, 1, 1, 1, 1, 0, 0, H, H, w, b, SL_ACT_RELU, INFINITY, 1,
                                            0, sum_impl, sizeof sum_impl, error, sizeof error);
    if (!binary || !sum) { fprintf(stderr, "%s\n", error); return 1; }
    double best[4] = {1e9, 1e9, 1e9, 1e9};
    for (int run = 0; run < RUNS; run++) {
        double t = now();
        sl_dnnl_conv_run_adding(binary, x, r, y);
        best[0] = fmin(best[0], now() - t);
        t = now();
        sl_pointwise_forward(x, w, b, r, rows, C, K, SL_ACT_RELU, INFINITY, mine);
        best[1] = fmin(best[1], now() - t);
        for (int64_t i = 0; i < rows * K; i++) y[i] = r[i];
        t = now();
        sl_dnnl_conv_run(sum, x, y);
        best[2] = fmin(best[2], now() - t);
        for (int64_t i = 0; i < rows * K; i++) mine[i] = r[i];
        t = now();
        sl_pointwise_forward(x, w, b, mine, rows, C, K, SL_ACT_RELU, INFINITY, mine);
        best[3] = fmin(best[3], now() - t);
    }
    sl_dnnl_conv_run_adding(binary, x, r, y);
    double gflop = 2.0 * rows * C * K / 1e9;
    printf("N%d %dx%d %d->%d shortcut read: %s %.2f ms (%.0f GFLOP/s) | chunks %.2f ms (%.0f); summed in place: "
           "%s %.2f ms | chunks %.2f ms; difference %.1e\n",
           N, H, H, C, K, impl, best[0] * 1e3, gflop / best[0], best[1] * 1e3, gflop / best[1], sum_impl,
           best[2] * 1e3, best[3] * 1e3, difference(mine, y, rows * K));
    return 0;
}

// The kernel gradient of one 1x1 stride-1 convolution layer through Sightline's row-split GEMMs
// (Sources/CKernels/pointwise_weights.c), without and with the bias sums, and through oneDNN's
// backward-weights primitive (kernel and bias), alternating, 8 runs each: the figures behind the
// route rule in Sources/SightlineNN/PointwiseKernelGradient.swift. Prints the best of each and
// the largest difference of the GEMM route's kernel gradient from oneDNN's, relative to the
// largest value.
// Build: clang -O3 -I Sources/CKernels/include bench/pointwise_weights.c Sources/CKernels/*.c -ldnnl -lgomp -lm -o /tmp/pointwise_weights
// Run:   /tmp/pointwise_weights BATCH SIZE IN_CHANNELS OUT_CHANNELS    e.g. 16 112 16 96
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "CKernels.h"

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }

int main(int argc, char **argv) {
    if (argc != 5) { fprintf(stderr, "usage: %s BATCH SIZE IN_CHANNELS OUT_CHANNELS\n", argv[0]); return 2; }
    // The heap settings sightline runs with (Sources/CRuntime/runtime.c).
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, -1);
    int N = atoi(argv[1]), H = atoi(argv[2]), C = atoi(argv[3]), K = atoi(argv[4]);
    long R = (long)N * H * H;
    float *x = malloc(4 * R * C), *dy = malloc(4 * R * K), *dw = malloc(4L * C * K), *db = malloc(4L * K);
    float *dw_gemm = malloc(4L * C * K), *db_gemm = malloc(4L * K);
    for (long i = 0; i < R * C; i++) x[i] = rand() / (float)RAND_MAX - 0.5f;
    for (long i = 0; i < R * K; i++) dy[i] = rand() / (float)RAND_MAX - 0.5f;
    char impl[256], error[256];
    sl_dnnl_conv_bwd *conv = sl_dnnl_conv_bwd_create(N, H, H, C, K, 1, 1, 1, 1, 1, 1, 1, 0, 0, H, H, 0, 1, 0, impl,
                                                     sizeof impl, error, sizeof error);
    if (!conv) { fprintf(stderr, "%s\n", error); return 1; }
    double best[3] = {1e9, 1e9, 1e9};
    for (int i = 0; i < 9; i++) {  // the first round warms up and is not counted
        double t0 = now(), t;
        sl_dnnl_conv_bwd_weights(conv, x, dy, dw, db);
        t = now() - t0; if (i && t < best[0]) best[0] = t;
        t0 = now(); sl_pointwise_kernel_gradient(x, dy, R, C, K, sl_thread_count(), dw_gemm, NULL);
        t = now() - t0; if (i && t < best[1]) best[1] = t;
        t0 = now(); sl_pointwise_kernel_gradient(x, dy, R, C, K, sl_thread_count(), dw_gemm, db_gemm);
        t = now() - t0; if (i && t < best[2]) best[2] = t;
    }
    double worst = 0, scale = 0;
    for (long i = 0; i < (long)C * K; i++) {
        if (fabs(dw_gemm[i] - dw[i]) > worst) worst = fabs(dw_gemm[i] - dw[i]);
        if (fabs(dw[i]) > scale) scale = fabs(dw[i]);
    }
    double gflop = 2.0 * R * C * K / 1e9;
    printf("N%d %dx%d %d->%d 1x1 kernel gradient: GEMMs %.2f ms (%.0f GFLOP/s), with bias %.2f | %s %.2f ms (%.0f);"
           " difference %.1e\n", N, H, H, C, K, best[1] * 1e3, gflop / best[1], best[2] * 1e3, impl, best[0] * 1e3,
           gflop / best[0], worst / scale);
    return 0;
}

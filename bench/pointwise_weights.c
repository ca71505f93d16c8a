// The gradients of one 1x1 convolution layer without padding through Sightline's GEMM routes and
// through oneDNN's backward primitives, alternating, 8 runs each: the figures behind the route
// rules in Sources/SightlineNN/PointwiseKernelGradient.swift and StridedPointwiseInputGradient.swift.
// The kernel gradient: row-split GEMMs (Sources/CKernels/pointwise_weights.c; strided rows
// gathered) without and with the bias sums, against oneDNN's backward-weights primitive. With
// stride 1, also both gradients: oneDNN's backward-data primitive followed by the GEMMs, against
// one pass that runs each chunk's input-gradient GEMM after its kernel-gradient one. With a
// stride above 1, also the input gradient: scattered GEMMs (Sources/CKernels/pointwise_data.c)
// against oneDNN's backward-data primitive. Prints the best of each and the largest difference of
// each GEMM route's result from oneDNN's, relative to the largest value.
// Build: clang -O3 -I Sources/CKernels/include bench/pointwise_weights.c Sources/CKernels/*.c -ldnnl -lgomp -lm -o /tmp/pointwise_weights
// Run:   /tmp/pointwise_weights BATCH SIZE IN_CHANNELS OUT_CHANNELS [STRIDE]    e.g. 16 56 256 512 2
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "CKernels.h"

#include "bench_common.h"

int main(int argc, char **argv) {
    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: %s BATCH SIZE IN_CHANNELS OUT_CHANNELS [STRIDE]\n", argv[0]);
        return 2;
    }
    // The heap settings sightline runs with (Sources/CRuntime/runtime.c).
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, -1);
    int N = atoi(argv[1]), H = atoi(argv[2]), C = atoi(argv[3]), K = atoi(argv[4]), S = argc == 6 ? atoi(argv[5]) : 1;
    int OH = (H - 1) / S + 1;
    long R = (long)N * OH * OH, RI = (long)N * H * H;
    float *x = malloc(4 * RI * C), *dy = malloc(4 * R * K), *dw = malloc(4L * C * K), *db = malloc(4L * K);
    float *dw_gemm = malloc(4L * C * K), *db_gemm = malloc(4L * K), *w = malloc(4L * C * K);
    float *dx = malloc(4 * RI * C), *dx_gemm = malloc(4 * RI * C);
    for (long i = 0; i < RI * C; i++) x[i] = rand() / (float)RAND_MAX - 0.5f;
    for (long i = 0; i < R * K; i++) dy[i] = rand() / (float)RAND_MAX - 0.5f;
    for (long i = 0; i < (long)C * K; i++) w[i] = rand() / (float)RAND_MAX - 0.5f;
    char impl[256], error[256];
    sl_dnnl_conv_bwd *conv = sl_dnnl_conv_bwd_create(N, H, H, C, K, 1, 1, 1, S, S, 1, 1, 0, 0, OH, OH, 1, 1, 0,
                                                     impl, sizeof impl, error, sizeof error);
    if (!conv) { fprintf(stderr, "%s\n", error); return 1; }
    double best[7] = {1e9, 1e9, 1e9, 1e9, 1e9, 1e9, 1e9};
    for (int i = 0; i < 9; i++) {  // the first round warms up and is not counted
        double t0 = now(), t;
        sl_dnnl_conv_bwd_weights(conv, x, dy, dw, db);
        t = now() - t0; if (i && t < best[0]) best[0] = t;
        t0 = now(); sl_pointwise_kernel_gradient(x, dy, N, H, H, C, S, S, OH, OH, K, sl_thread_count(), NULL, dw_gemm, NULL);
        t = now() - t0; if (i && t < best[1]) best[1] = t;
        t0 = now(); sl_pointwise_kernel_gradient(x, dy, N, H, H, C, S, S, OH, OH, K, sl_thread_count(), NULL, dw_gemm, db_gemm);
        t = now() - t0; if (i && t < best[2]) best[2] = t;
        if (S == 1) {  // both gradients: oneDNN's backward data then the GEMMs, against one pass over dy
            t0 = now(); sl_dnnl_conv_bwd_data(conv, w, dy, dx);
            sl_pointwise_kernel_gradient(x, dy, N, H, H, C, S, S, OH, OH, K, sl_thread_count(), NULL, dw_gemm, db_gemm);
            t = now() - t0; if (i && t < best[5]) best[5] = t;
            t0 = now(); sl_pointwise_backward(x, dy, w, N, H, H, C, S, S, OH, OH, K, sl_thread_count(), NULL, dw_gemm,
                                              db_gemm, dx_gemm, NULL);
            t = now() - t0; if (i && t < best[6]) best[6] = t;
        }
        if (S > 1) {
            t0 = now(); sl_dnnl_conv_bwd_data(conv, w, dy, dx);
            t = now() - t0; if (i && t < best[3]) best[3] = t;
            t0 = now(); sl_strided_pointwise_input_gradient(dy, w, N, H, H, C, S, S, OH, OH, K, sl_thread_count(), dx_gemm);
            t = now() - t0; if (i && t < best[4]) best[4] = t;
        }
    }
    double gflop = 2.0 * R * C * K / 1e9;
    printf("N%d %dx%d %d->%d 1x1/%d kernel gradient: GEMMs %.2f ms (%.0f GFLOP/s), with bias %.2f | %s %.2f ms (%.0f);"
           " difference %.1e\n", N, H, H, C, K, S, best[1] * 1e3, gflop / best[1], best[2] * 1e3, impl, best[0] * 1e3,
           gflop / best[0], difference(dw_gemm, dw, (long)C * K));
    if (S == 1)
        printf("N%d %dx%d %d->%d 1x1/1 both gradients: one pass over dy %.2f ms | oneDNN's backward data, then the GEMMs"
               " %.2f ms; input gradient difference %.1e\n", N, H, H, C, K, best[6] * 1e3, best[5] * 1e3,
               difference(dx_gemm, dx, RI * C));
    if (S > 1)
        printf("N%d %dx%d %d->%d 1x1/%d input gradient: scattered GEMMs %.2f ms (%.0f GFLOP/s) | oneDNN %.2f ms (%.0f);"
               " difference %.1e\n", N, H, H, C, K, S, best[4] * 1e3, gflop / best[4], best[3] * 1e3, gflop / best[3],
               difference(dx_gemm, dx, RI * C));
    return 0;
}

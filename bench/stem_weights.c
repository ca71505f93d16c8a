// The kernel gradient of a convolution over few input channels (a network's stem) through
// Sightline's route, GEMMs over gathered patches (sl_patch_kernel_gradient,
// Sources/CKernels/pointwise_weights.c), against oneDNN's backward-weights primitive, alternating,
// 8 runs each after a warm-up: the figures behind StemKernelGradient's rule. Prints the best of
// each, the route with its ReLU derivative applied on the way, and the largest difference of the
// route's kernel gradient from oneDNN's, relative to the largest value.
// Build: clang -O3 -I Sources/CKernels/include bench/stem_weights.c Sources/CKernels/*.c -ldnnl -lgomp -lm -o /tmp/stem_weights
// Run:   /tmp/stem_weights BATCH SIZE IN_CHANNELS OUT_CHANNELS WINDOW STRIDE PAD
//        e.g. 16 224 3 64 7 2 3 (ResNet50), 16 224 3 64 3 1 1 (VGG16), 16 224 3 32 3 2 1 (MobileNetV2)
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "CKernels.h"

#include "bench_common.h"

int main(int argc, char **argv) {
    if (argc != 8) {
        fprintf(stderr, "usage: %s BATCH SIZE IN_CHANNELS OUT_CHANNELS WINDOW STRIDE PAD\n", argv[0]);
        return 2;
    }
    // The heap settings sightline runs with (Sources/CRuntime/runtime.c).
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, -1);
    int N = atoi(argv[1]), H = atoi(argv[2]), C = atoi(argv[3]), K = atoi(argv[4]), R = atoi(argv[5]);
    int S = atoi(argv[6]), pad = atoi(argv[7]), OH = (H + 2 * pad - R) / S + 1;
    long rows = (long)N * OH * OH, P = (long)R * R * C;
    float *x = malloc(4L * N * H * H * C), *dy = malloc(4 * rows * K), *y = malloc(4 * rows * K);
    float *dw = malloc(4 * P * K), *db = malloc(4L * K), *dw_gemm = malloc(4 * P * K), *db_gemm = malloc(4L * K);
    for (long i = 0; i < (long)N * H * H * C; i++) x[i] = rand() / (float)RAND_MAX - 0.5f;
    for (long i = 0; i < rows * K; i++) dy[i] = rand() / (float)RAND_MAX - 0.5f, y[i] = rand() / (float)RAND_MAX;
    char impl[256], error[256];
    sl_dnnl_conv_bwd *conv = sl_dnnl_conv_bwd_create(N, H, H, C, K, 1, R, R, S, S, 1, 1, pad, pad, OH, OH, 0, 1, 0,
                                                     impl, sizeof impl, error, sizeof error);
    if (!conv) { fprintf(stderr, "%s\n", error); return 1; }
    // The ReLU derivative of y = rand() in [0, 1) keeps every value: the runs stay comparable.
    sl_pointwise_derivative relu = {dy, NULL, y, 0.f, INFINITY, 0, 0.f, 0.f};
    double best[3] = {1e9, 1e9, 1e9};
    for (int i = 0; i < 9; i++) {  // the first round warms up and is not counted
        double t0 = now(), t;
        sl_dnnl_conv_bwd_weights(conv, x, dy, dw, db);
        t = now() - t0; if (i && t < best[0]) best[0] = t;
        t0 = now(); sl_patch_kernel_gradient(x, dy, N, H, H, C, R, R, S, S, pad, pad, OH, OH, K, sl_thread_count(), NULL,
                                             dw_gemm, db_gemm, NULL);
        t = now() - t0; if (i && t < best[1]) best[1] = t;
        t0 = now(); sl_patch_kernel_gradient(x, dy, N, H, H, C, R, R, S, S, pad, pad, OH, OH, K, sl_thread_count(), NULL,
                                             dw_gemm, db_gemm, &relu);
        t = now() - t0; if (i && t < best[2]) best[2] = t;
    }
    double flops = 2.0 * rows * K * P;
    printf("%s, %d threads, N=%d %dx%d C=%d K=%d %dx%d stride %d pad %d\n", impl, sl_thread_count(), N, H, H, C, K, R,
           R, S, pad);
    printf("oneDNN backward weights   %7.2f ms  %4.0f GFLOP/s\n", best[0] * 1e3, flops / best[0] / 1e9);
    printf("gathered patches + sgemm  %7.2f ms  %4.0f GFLOP/s  (difference %.1e, bias %.1e)\n", best[1] * 1e3,
           flops / best[1] / 1e9, difference(dw_gemm, dw, P * K), difference(db_gemm, db, K));
    printf("  with the ReLU derivative %6.2f ms\n", best[2] * 1e3);
    return 0;
}

// One convolution layer's backward pass through oneDNN's primitives in float32 and in bf16
// (source, output gradient and kernel rounded to bfloat16, float32 accumulation and gradients;
// Sources/CKernels/onednn_backward.c), alternating, 6 runs each after a warm-up: the figures
// behind `Precision.effective` (bf16 trains as fp32 on a CPU without AMX). Prints the best times
// of backward data and backward weights for each, oneDNN's implementation names, and the largest
// difference of the bf16 input gradient from the float32 one, relative to the largest value.
// Build: clang -O3 -I Sources/CKernels/include bench/bf16_backward.c Sources/CKernels/*.c -ldnnl -lgomp -lm -o /tmp/bf16_backward
// Run:   /tmp/bf16_backward BATCH SIZE IN_CHANNELS OUT_CHANNELS KERNEL STRIDE    e.g. 16 56 64 64 3 1
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "CKernels.h"

#include "bench_common.h"

int main(int argc, char **argv) {
    if (argc != 7) { fprintf(stderr, "usage: %s BATCH SIZE IN_CHANNELS OUT_CHANNELS KERNEL STRIDE\n", argv[0]); return 2; }
    if (!sl_cpu_has_bf16()) { fprintf(stderr, "this CPU has neither AVX512_BF16 nor AMX\n"); return 1; }
    mallopt(M_MMAP_MAX, 0);  // the heap settings sightline runs with (Sources/CRuntime/runtime.c)
    mallopt(M_TRIM_THRESHOLD, -1);
    int N = atoi(argv[1]), H = atoi(argv[2]), C = atoi(argv[3]), K = atoi(argv[4]), k = atoi(argv[5]), s = atoi(argv[6]);
    int pad = (k - 1) / 2, O = (H + 2 * pad - k) / s + 1;
    long in = (long)N * H * H * C, out = (long)N * O * O * K, w = (long)k * k * C * K;
    float *x = malloc(4 * in), *dy = malloc(4 * out), *kernel = malloc(4 * w), *dx[2], *dw = malloc(4 * w),
          *db = malloc(4L * K);
    dx[0] = malloc(4 * in), dx[1] = malloc(4 * in);
    for (long i = 0; i < in; i++) x[i] = rand() / (float)RAND_MAX - 0.5f;
    for (long i = 0; i < out; i++) dy[i] = rand() / (float)RAND_MAX - 0.5f;
    for (long i = 0; i < w; i++) kernel[i] = rand() / (float)RAND_MAX - 0.5f;
    char impl[2][2][256], error[256];
    sl_dnnl_conv_bwd *conv[2][2];  // [bf16][weights]
    for (int b = 0; b < 2; b++)
        for (int which = 0; which < 2; which++) {
            conv[b][which] = sl_dnnl_conv_bwd_create(N, H, H, C, K, 1, k, k, s, s, 1, 1, pad, pad, O, O, !which,
                                                     which, b, impl[b][which], 256, error, sizeof error);
            if (!conv[b][which]) { fprintf(stderr, "%s\n", error); return 1; }
        }
    double best[2][2] = {{1e9, 1e9}, {1e9, 1e9}};
    for (int i = 0; i < 7; i++)
        for (int b = 0; b < 2; b++) {
            double t0 = now();
            sl_dnnl_conv_bwd_data(conv[b][0], kernel, dy, dx[b]);
            double t = now() - t0;
            if (i && t < best[b][0]) best[b][0] = t;
            t0 = now();
            sl_dnnl_conv_bwd_weights(conv[b][1], x, dy, dw, db);
            t = now() - t0;
            if (i && t < best[b][1]) best[b][1] = t;
        }
    double worst = 0, scale = 0;
    for (long i = 0; i < in; i++) {
        if (fabs(dx[1][i] - dx[0][i]) > worst) worst = fabs(dx[1][i] - dx[0][i]);
        if (fabs(dx[0][i]) > scale) scale = fabs(dx[0][i]);
    }
    printf("N%d %dx%d %d->%d %dx%d/%d, %d threads: f32 data %.1f ms, weights %.1f ms (%s; %s) | bf16 data %.1f ms, "
           "weights %.1f ms (%s; %s); bf16 input-gradient difference %.1e\n",
           N, H, H, C, K, k, k, s, sl_thread_count(), best[0][0] * 1e3, best[0][1] * 1e3, impl[0][0], impl[0][1],
           best[1][0] * 1e3, best[1][1] * 1e3, impl[1][0], impl[1][1], worst / scale);
    return 0;
}

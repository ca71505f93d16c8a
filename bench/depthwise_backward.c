// The backward pass of one depthwise layer (multiplier 1, ReLU6 on both sides, as in MobileNetV2)
// through Sightline's one-sweep kernel (Sources/CKernels/depthwise_backward.c) and through what
// it replaces: the ReLU6 derivative pass over dy, oneDNN 2.6's backward-data and backward-weights
// primitives, and the previous layer's ReLU6 derivative pass over dx. Alternating, 8 runs each
// after one warm-up; prints the best of each and the largest differences, relative to the largest
// value: the figures in the doc of DepthwiseConv2D.backward(outputGradient:…) (Sources/SightlineNN/DepthwiseConv2D.swift).
// Stride 1 pads the kernel's half on every side; stride 2 pads only the bottom and right, as
// Keras's MobileNetV2 does with its ZeroPadding2D before each strided depthwise layer.
// Build: clang -O3 -I Sources/CKernels/include bench/depthwise_backward.c Sources/CKernels/*.c -ldnnl -lgomp -lm -o /tmp/depthwise_backward
// Run:   /tmp/depthwise_backward BATCH SIZE CHANNELS STRIDE [KERNEL]    e.g. 16 112 96 2
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "CKernels.h"

#include "bench_common.h"

typedef struct {
    float *gradient;
    const float *values;
    long width;
} clip_pass;

// gradient *= (0 < values < 6) over rows [r0, r1) of `width` floats, as the Swift side does.
static void clip_rows(void *data, int64_t r0, int64_t r1) {
    const clip_pass *p = data;
    for (long i = r0 * p->width; i < r1 * p->width; i++)
        p->gradient[i] *= p->values[i] > 0 && p->values[i] < 6 ? 1.f : 0.f;
}

static float *random_values(long count, float low, float high) {
    float *v = malloc(4 * count);
    for (long i = 0; i < count; i++) v[i] = low + (high - low) * (rand() / (float)RAND_MAX);
    return v;
}

int main(int argc, char **argv) {
    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: %s BATCH SIZE CHANNELS STRIDE [KERNEL]\n", argv[0]);
        return 2;
    }
    // The heap settings sightline runs with (Sources/CRuntime/runtime.c).
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, -1);
    int N = atoi(argv[1]), H = atoi(argv[2]), C = atoi(argv[3]), S = atoi(argv[4]), K = argc == 6 ? atoi(argv[5]) : 3;
    int pad = S == 1 ? (K - 1) / 2 : 0;
    int OH = S == 1 ? H : (H + (K - 1) / 2 - K) / S + 1;
    long in = (long)N * H * H * C, out = (long)N * OH * OH * C;
    float *x = random_values(in, -1, 7), *y = random_values(out, -1, 7), *dy = random_values(out, -1, 1);
    float *w = random_values((long)K * K * C, -1, 1), *dz = malloc(4 * out);
    float *dx = malloc(4 * in), *dw = malloc(4L * K * K * C), *db = malloc(4L * C);
    float *dx1 = malloc(4 * in), *dw1 = malloc(4L * K * K * C), *db1 = malloc(4L * C);
    char impl[256], error[256];
    sl_dnnl_conv_bwd *conv = sl_dnnl_conv_bwd_create(N, H, H, C, C, C, K, K, S, S, 1, 1, pad, pad, OH, OH, 1, 1, 0,
                                                     impl, sizeof impl, error, sizeof error);
    if (!conv) { fprintf(stderr, "%s\n", error); return 1; }
    sl_depthwise_backward_args args = {N, H, H, C, K, K, S, S, 1, 1, pad, pad, OH, OH, x, w, dy, y, 0, 6, 1, 0, 6,
                                       dx1, dw1, db1, sl_thread_count()};
    double best[2] = {1e9, 1e9};
    for (int i = 0; i < 9; i++) {  // the first round warms up and is not counted
        double t0 = now(), t;
        for (long j = 0; j < out; j++) dz[j] = dy[j];  // the tape's gradient is its own; not timed below
        t0 = now();
        clip_pass own = {dz, y, (long)OH * C};
        sl_parallel_for((int64_t)N * OH, &own, clip_rows);
        sl_dnnl_conv_bwd_data(conv, w, dz, dx);
        sl_dnnl_conv_bwd_weights(conv, x, dz, dw, db);
        clip_pass before = {dx, x, (long)H * C};
        sl_parallel_for((int64_t)N * H, &before, clip_rows);
        t = now() - t0; if (i && t < best[0]) best[0] = t;
        t0 = now();
        if (sl_depthwise_backward(&args)) { fprintf(stderr, "one-sweep kernel failed\n"); return 1; }
        t = now() - t0; if (i && t < best[1]) best[1] = t;
    }
    printf("N%d %dx%d C%d %dx%d/%d: one sweep %.2f ms | derivative passes + %s %.2f ms; difference dx %.1e dw %.1e"
           " db %.1e\n", N, H, H, C, K, K, S, best[1] * 1e3, impl, best[0] * 1e3, difference(dx1, dx, in),
           difference(dw1, dw, (long)K * K * C), difference(db1, db, C));
    return 0;
}

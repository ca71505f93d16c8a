// Compares OpenBLAS cblas_sgemm with oneDNN dnnl_sgemm on the GEMM shapes that
// ResNet50/VGG16 convolutions produce in Sightline (im2col rows x K x Cout, row-major).
// Build: cc -O2 gemm_backends.c -o /tmp/gemm_backends $(pkg-config --cflags --libs openblas) -ldnnl
// Run:   /tmp/gemm_backends            (prints one line per shape: GFLOP/s for each backend)
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <cblas.h>
#include <oneapi/dnnl/dnnl.h>

#include "bench_common.h"

int main(void) {
    // {M, K, N, label}: M is the row tile Sightline uses (or the whole map when smaller).
    struct { int m, k, n; const char *label; } shapes[] = {
        {25088, 147, 64, "resnet50 conv1 7x7/2, b8 (M tile 25088)"},
        {25088, 64, 256, "resnet50 conv2 1x1 64->256, b8"},
        {25088, 256, 64, "resnet50 conv2 1x1 256->64, b8"},
        {4096, 576, 64, "resnet50 conv2 3x3 64, tile 4096"},
        {6272, 1152, 128, "resnet50 conv3 3x3 128, b8"},
        {6272, 512, 128, "resnet50 conv3 1x1 512->128, b8"},
        {1568, 2304, 256, "resnet50 conv4 3x3 256, b8"},
        {1568, 1024, 256, "resnet50 conv4 1x1 1024->256, b8"},
        {392, 4608, 512, "resnet50 conv5 3x3 512, b8"},
        {392, 512, 2048, "resnet50 conv5 1x1 512->2048, b8"},
        {49, 4608, 512, "resnet50 conv5 3x3 512, b1"},
        {4096, 576, 64, "vgg16 block1_conv2 3x3 64, tile 4096"},
        {4096, 2304, 256, "vgg16 block3 3x3 256, tile 4096"},
        {8, 25088, 4096, "vgg16 fc1, b8"},
    };
    int count = sizeof(shapes) / sizeof(shapes[0]);
    for (int s = 0; s < count; s++) {
        int m = shapes[s].m, k = shapes[s].k, n = shapes[s].n;
        float *a = malloc(sizeof(float) * (size_t)m * k), *b = malloc(sizeof(float) * (size_t)k * n), *c = malloc(sizeof(float) * (size_t)m * n);
        for (size_t i = 0; i < (size_t)m * k; i++) a[i] = (float)(i % 7) * 0.1f;
        for (size_t i = 0; i < (size_t)k * n; i++) b[i] = (float)(i % 5) * 0.1f;
        double flop = 2.0 * m * k * n, best[2] = {1e9, 1e9};
        int reps = (int)(2e10 / flop); if (reps < 3) reps = 3; if (reps > 50) reps = 50;
        for (int backend = 0; backend < 2; backend++) {
            for (int r = 0; r < reps + 1; r++) {
                double t0 = now();
                if (backend == 0) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1, a, k, b, n, 0, c, n);
                else dnnl_sgemm('N', 'N', m, n, k, 1, a, k, b, n, 0, c, n);
                double t = now() - t0; if (r > 0 && t < best[backend]) best[backend] = t;
            }
        }
        printf("%-42s M=%5d K=%5d N=%4d  openblas %6.1f GFLOP/s  onednn %6.1f GFLOP/s\n", shapes[s].label, m, k, n, flop / best[0] * 1e-9, flop / best[1] * 1e-9);
        free(a); free(b); free(c);
    }
    return 0;
}

// The input gradient of a strided 1x1 convolution without padding on NHWC (ResNet's stride-2
// 1x1 layers): each output pixel's gradient row dy [K] times the kernel's transpose lands on the
// one input pixel it read, (oy·sy, ox·sx), and every other input pixel gets 0. A group of output
// rows is one GEMM into scratch (dnnl_sgemm, single-threaded inside the team), then scattered
// into its input rows with the zeros between, in groups evened out between the threads. oneDNN 2.6's backward-data primitive ran these
// layers at 100-250 GFLOP/s on a 2-core AVX-512 Xeon; this route at the GEMM's rate plus one
// write of dx. Each thread owns whole groups and the input rows under them, so no value is summed
// across threads; the groups are cut from row 0 whatever the thread count, but a GEMM may block
// its work by how many threads run it, so a repeat with the same count is what ends bitwise equal.
#include <stdlib.h>
#include <string.h>
#include <oneapi/dnnl/dnnl.h>
#include "CKernels.h"

extern void GOMP_parallel(void (*fn)(void *), void *data, unsigned num_threads, unsigned flags);
extern int omp_in_parallel(void);
extern int omp_get_thread_num(void);
extern int omp_get_num_threads(void);

enum { GROUP_PIXELS = 256 };

typedef struct {
    const float *dy, *kernel;
    float *dx;
    int N, H, W, C, sy, sx, OH, OW, K, slices, failed;
} strided_state;

/// Input rows y0..<y1 of image n, for output row oy: row oy·sy gets the scattered gradients of
/// `values` (OW rows of C), the others zeros.
static void scatter_rows(const strided_state *s, int64_t n, int oy, const float *values) {
    const int C = s->C, W = s->W;
    int y0 = oy * s->sy, y1 = oy == s->OH - 1 ? s->H : y0 + s->sy;
    for (int y = y0; y < y1; y++) {
        float *row = s->dx + ((n * s->H + y) * W) * (int64_t)C;
        if (y != y0) {
            memset(row, 0, sizeof(float) * (size_t)W * C);
            continue;
        }
        for (int x = 0; x < W; x++) {
            int ox = x / s->sx;
            if (x % s->sx == 0 && ox < s->OW) memcpy(row + (int64_t)x * C, values + (int64_t)ox * C, sizeof(float) * C);
            else memset(row + (int64_t)x * C, 0, sizeof(float) * C);
        }
    }
}

static void strided_body(void *data) {
    strided_state *s = data;
    int id = omp_in_parallel() ? omp_get_thread_num() : 0, team = omp_in_parallel() ? omp_get_num_threads() : 1;
    const int C = s->C, K = s->K, OW = s->OW;
    // Output rows per GEMM: about GROUP_PIXELS pixels, evened out so that every slice gets as
    // many groups of as many rows (ResNet50's 7x7 outputs at batch 16 came in groups of 37, 37,
    // 37 and 1 rows, two for one thread and the rest for the other: 22.6 ms, 15.6 balanced).
    int64_t rows = (int64_t)s->N * s->OH, wanted = (GROUP_PIXELS + OW - 1) / OW;
    int64_t groups = s->slices * ((rows + (int64_t)s->slices * wanted - 1) / ((int64_t)s->slices * wanted));
    int64_t group = (rows + groups - 1) / groups;
    for (int slice = id; slice < s->slices; slice += team) {
        int64_t r0 = groups * slice / s->slices * group, r1 = groups * (slice + 1) / s->slices * group;
        if (r1 > rows) r1 = rows;
        if (r0 >= r1) continue;
        float *values = malloc(sizeof(float) * (size_t)group * OW * C);
        if (!values) {
            __atomic_store_n(&s->failed, 1, __ATOMIC_RELAXED);
            continue;
        }
        for (int64_t r = r0; r < r1; r += group) {
            int64_t end = r + group < r1 ? r + group : r1;
            // [rows·OW][K] · [C][K]ᵀ: the kernel is HWIO, C rows of K.
            dnnl_sgemm('N', 'T', (end - r) * OW, C, K, 1.f, s->dy + r * OW * K, K, s->kernel, K, 0.f, values, C);
            for (int64_t q = r; q < end; q++)
                scatter_rows(s, q / s->OH, (int)(q % s->OH), values + (q - r) * OW * (int64_t)C);
        }
        free(values);
    }
}

int sl_strided_pointwise_input_gradient(const float *dy, const float *kernel, int N, int H, int W, int C, int sy,
                                        int sx, int OH, int OW, int K, int slices, float *dx) {
    if (N <= 0 || C <= 0 || K <= 0 || OH <= 0 || OW <= 0 || sy < 1 || sx < 1) return 1;
    if ((OH - 1) * sy >= H || (OW - 1) * sx >= W) return 1;
    if (slices < 1) slices = 1;
    strided_state s = {dy, kernel, dx, N, H, W, C, sy, sx, OH, OW, K, slices, 0};
    sl_use_configured_threads();
    if (slices < 2 || omp_in_parallel()) strided_body(&s);
    else GOMP_parallel(strided_body, &s, (unsigned)slices, 0);
    return s.failed;
}

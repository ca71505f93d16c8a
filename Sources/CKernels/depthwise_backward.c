// The backward pass of a depthwise convolution with depth multiplier 1 on NHWC (MobileNet's,
// EfficientNet's, ConvNeXt's), in one sweep over the output rows instead of oneDNN's two
// primitives and the activation passes around them. For each output row, in order:
//   1. its pre-activation gradient dz = dy · f'(y), when the layer's own activation is a ReLU or
//      ReLU6 (y its output), into a ring of the last few rows (dy itself is left unchanged);
//   2. the kernel and bias sums of that row (dW[ky][kx] += dz · x at the tap's input pixel);
//   3. the input rows no later output row reads: dx gathered from the dz rows that read each
//      pixel, then multiplied by g'(x) when the layer before ends in a ReLU or ReLU6 whose output
//      x is (the derivative that layer's backward would apply; here it costs no pass of its own).
// Every x, dy, y and dx row crosses memory once; oneDNN 2.6 reads dz and x in two primitives and
// the activations' derivatives take two more passes. Threads take fixed ranges of output rows;
// each sums its own kernel gradient, and the ranges' sums are added in order, so the result
// depends on the thread count only. Loops over channels are innermost and contiguous, compiled
// for AVX-512 and AVX2 with a baseline fallback.
#include <stdlib.h>
#include <string.h>
#include "CKernels.h"

extern void GOMP_parallel(void (*fn)(void *), void *data, unsigned num_threads, unsigned flags);
extern int omp_in_parallel(void);
extern int omp_get_thread_num(void);
extern int omp_get_num_threads(void);

enum { MAX_SLICES = 256, MAX_TAPS = 256 };

typedef struct {
    sl_depthwise_backward_args a;
    int span;                    // dz rows one band of input rows reads
    const int *input_column;     // [KW][OW]: the input column tap kx of output column ox reads, or -1
    const int *output_column;    // [KW][W]: the output column whose tap kx reads input column ix, or -1
    int sums_first, sums_last;   // the output columns whose taps all read input columns
    int data_first, data_last;   // with stride 1, the input columns every tap's output column reads
    float *partial[MAX_SLICES];  // each slice's [KH][KW][C] kernel sums, then [C] bias sums
    int failed;
} dw_state;

static inline int clamp_int(int v, int low, int high) { return v < low ? low : v > high ? high : v; }

// The first input row whose gradient is complete once output row oy of an image is passed.
static inline int band_start(const sl_depthwise_backward_args *a, int oy) {
    return oy >= a->OH ? a->H : clamp_int(oy * a->stride_y - a->pad_top, 0, a->H);
}

// Sixteen channels as one value (one AVX-512 register, two AVX2 ones), loaded from any float.
typedef float v16 __attribute__((vector_size(64), aligned(4)));
typedef int v16i __attribute__((vector_size(64)));

// The per-channel-block loops, written once for a block of 16 channels (T = v16) and once for
// single channels (T = float, the channels past the last full block). KH and KW are constants
// where the caller passes constants (3×3 layers: the accumulators stay in registers).
#define DEFINE_BLOCK_LOOPS(T, SUFFIX, MASK)                                                                            \
    /* One output row's kernel and bias sums of channels [c, c + width). */                                           \
    static inline __attribute__((always_inline)) void sums_##SUFFIX(                                                 \
        const dw_state *s, const float *dz, const float *const *xrows, int KH, int KW, int c, float *sums,             \
        float *bias) {                                                                                                 \
        const int C = s->a.C, OW = s->a.OW;                                                                            \
        T acc[KH * KW];                                                                                                \
        T b = (T){0};                                                                                                  \
        for (int t = 0; t < KH * KW; t++) acc[t] = (T){0};                                                             \
        for (int ox = 0; ox < OW; ox++) {                                                                              \
            T g = *(const T *)(dz + (size_t)ox * C + c);                                                               \
            b += g;                                                                                                    \
            /* Inside [first, last) every tap is in the image: no table. */                                            \
            int inside = ox >= s->sums_first && ox < s->sums_last;                                                     \
            for (int ky = 0; ky < KH; ky++) {                                                                          \
                if (!xrows[ky]) continue;                                                                              \
                for (int kx = 0; kx < KW; kx++) {                                                                      \
                    int ix = inside ? ox * s->a.stride_x - s->a.pad_left + kx * s->a.dilation_x                        \
                                    : s->input_column[kx * OW + ox];                                                   \
                    if (ix >= 0) acc[ky * KW + kx] += g * *(const T *)(xrows[ky] + (size_t)ix * C + c);                \
                }                                                                                                      \
            }                                                                                                          \
        }                                                                                                              \
        if (sums)                                                                                                      \
            for (int t = 0; t < KH * KW; t++) *(T *)(sums + (size_t)t * C + c) += acc[t];                              \
        if (bias) *(T *)(bias + c) += b;                                                                               \
    }                                                                                                                  \
    /* One input row's gradient of channels [c, c + width), the input derivative applied. */                         \
    static inline __attribute__((always_inline)) void data_##SUFFIX(const dw_state *s, const float *const *dzrows,     \
                                                                    const float *xrow, float *out, int KH, int KW,     \
                                                                    int c) {                                           \
        const sl_depthwise_backward_args *a = &s->a;                                                                   \
        const int C = a->C, W = a->W;                                                                                  \
        T w[KH * KW];                                                                                                  \
        for (int t = 0; t < KH * KW; t++) w[t] = *(const T *)(a->kernel + (size_t)t * C + c);                         \
        for (int ix = 0; ix < W; ix++) {                                                                               \
            /* One sum per kernel row, added at the end: three short chains of dependent FMAs. */                      \
            T acc = (T){0};                                                                                            \
            int inside = ix >= s->data_first && ix < s->data_last; /* every tap reads dz, stride 1 */                  \
            for (int ky = 0; ky < KH; ky++) {                                                                          \
                if (!dzrows[ky]) continue;                                                                             \
                T part = (T){0};                                                                                       \
                for (int kx = 0; kx < KW; kx++) {                                                                      \
                    int ox = inside ? ix + a->pad_left - kx * a->dilation_x : s->output_column[kx * W + ix];          \
                    if (ox >= 0) part += *(const T *)(dzrows[ky] + (size_t)ox * C + c) * w[ky * KW + kx];              \
                }                                                                                                      \
                acc += part;                                                                                           \
            }                                                                                                          \
            if (a->input_derivative) {                                                                                 \
                T x = *(const T *)(xrow + (size_t)ix * C + c);                                                         \
                acc *= MASK(x, a->input_low, a->input_high);                                                           \
            }                                                                                                          \
            *(T *)(out + (size_t)ix * C + c) = acc;                                                                    \
        }                                                                                                              \
    }

// 1 where low < x < high, else 0 (multiplied in, so a NaN gradient stays NaN).
#define MASK16(x, low, high) __builtin_convertvector(-(((x) > (low)) & ((x) < (high))), v16)
#define MASK1(x, low, high) ((x) > (low) && (x) < (high) ? 1.f : 0.f)
DEFINE_BLOCK_LOOPS(v16, block, MASK16)
DEFINE_BLOCK_LOOPS(float, single, MASK1)

// Both loops over every channel: blocks of 16, then single channels.
static inline __attribute__((always_inline)) void row_sums(const dw_state *s, const float *dz,
                                                           const float *const *xrows, int KH, int KW, float *sums,
                                                           float *bias) {
    int c = 0;
    for (; c + 16 <= s->a.C; c += 16) sums_block(s, dz, xrows, KH, KW, c, sums, bias);
    for (; c < s->a.C; c++) sums_single(s, dz, xrows, KH, KW, c, sums, bias);
}

static inline __attribute__((always_inline)) void row_data(const dw_state *s, const float *const *dzrows,
                                                           const float *xrow, float *out, int KH, int KW) {
    int c = 0;
    for (; c + 16 <= s->a.C; c += 16) data_block(s, dzrows, xrow, out, KH, KW, c);
    for (; c < s->a.C; c++) data_single(s, dzrows, xrow, out, KH, KW, c);
}

static inline __attribute__((always_inline)) void dw_body(dw_state *s) {
    const sl_depthwise_backward_args *a = &s->a;
    int id = omp_in_parallel() ? omp_get_thread_num() : 0, team = omp_in_parallel() ? omp_get_num_threads() : 1;
    const int C = a->C, W = a->W, H = a->H, OW = a->OW, OH = a->OH, KH = a->KH, KW = a->KW;
    const int sy = a->stride_y, dly = a->dilation_y;
    const int three = KH == 3 && KW == 3;
    const size_t row = (size_t)OW * C;
    const int sums_wanted = a->diff_kernel || a->diff_bias;
    for (int slice = id; slice < a->slices; slice += team) {
        float *sums = sums_wanted ? calloc((size_t)(KH * KW + 1) * C, sizeof(float)) : NULL;
        float *ring = a->output ? malloc(sizeof(float) * row * s->span) : NULL;
        s->partial[slice] = sums;
        if ((sums_wanted && !sums) || (a->output && !ring)) {
            __atomic_store_n(&s->failed, 1, __ATOMIC_RELAXED);
            free(ring);
            continue;
        }
        float *kernel_sums = a->diff_kernel ? sums : NULL;
        float *bias = a->diff_bias ? sums + (size_t)KH * KW * C : NULL;
        int64_t total = (int64_t)a->N * OH;
        int64_t r0 = total * slice / a->slices, r1 = total * (slice + 1) / a->slices;
        int image = -1, ready = 0;  // rows [.., ready) of `image` are in the ring
        int fetched_image = -1, fetched_row = -1;  // the last input row prefetched
        const float *rows[MAX_TAPS];
        for (int64_t r = r0; r < r1; r++) {
            int n = (int)(r / OH), oy = (int)(r % OH);
            if (n != image) image = n, ready = 0;
            const float *base = a->diff_dst + (size_t)n * OH * row;
            // 1. The pre-activation gradient of the rows this band reads.
            if (ring) {
                int first = oy - s->span + 1 > ready ? oy - s->span + 1 : ready;
                for (int q = first < 0 ? 0 : first; q <= oy; q++) {
                    const float *restrict g = base + q * row, *restrict y = a->output + ((size_t)n * OH + q) * row;
                    float *restrict to = ring + (size_t)(q % s->span) * row;
                    const float low = a->output_low, high = a->output_high;
                    for (size_t i = 0; i < row; i++) to[i] = g[i] * (y[i] > low && y[i] < high ? 1.f : 0.f);
                }
                ready = oy + 1;
            }
#define DZ_ROW(q) (ring ? ring + (size_t)((q) % s->span) * row : base + (size_t)(q) * row)
            // 2. The kernel and bias sums of this output row.
            if (sums_wanted) {
                for (int ky = 0; ky < KH; ky++) {
                    int iy = oy * sy - a->pad_top + ky * dly;
                    rows[ky] = iy >= 0 && iy < H && kernel_sums ? a->input + ((size_t)n * H + iy) * W * C : NULL;
                    // The loops below read a row a channel block at a time (a stride of C floats);
                    // a row not read before is fetched in order first, as the prefetcher would.
                    if (rows[ky] && (n != fetched_image || iy > fetched_row)) {
                        for (size_t i = 0; i < (size_t)W * C; i += 16) __builtin_prefetch(rows[ky] + i);
                        fetched_image = n, fetched_row = iy;
                    }
                }
                if (three) row_sums(s, DZ_ROW(oy), rows, 3, 3, kernel_sums, bias);
                else row_sums(s, DZ_ROW(oy), rows, KH, KW, kernel_sums, bias);
            }
            // 3. The input rows complete after this output row.
            if (!a->diff_src) continue;
            int i1 = oy + 1 == OH ? H : band_start(a, oy + 1);
            for (int iy = band_start(a, oy); iy < i1; iy++) {
                for (int ky = 0; ky < KH; ky++) {
                    int t = iy + a->pad_top - ky * dly;
                    rows[ky] = t >= 0 && t % sy == 0 && t / sy < OH ? DZ_ROW(t / sy) : NULL;
                }
                const float *xrow = a->input ? a->input + ((size_t)n * H + iy) * W * C : NULL;
                float *out = a->diff_src + ((size_t)n * H + iy) * W * C;
                memset(out, 0, sizeof(float) * W * C);  // into cache in order before the strided stores
                if (three) row_data(s, rows, xrow, out, 3, 3);
                else row_data(s, rows, xrow, out, KH, KW);
            }
#undef DZ_ROW
        }
        free(ring);
    }
}

#if defined(__x86_64__)
__attribute__((target("avx512f,avx512dq,fma"))) static void dw_avx512(void *data) { dw_body(data); }
__attribute__((target("avx2,fma"))) static void dw_avx2(void *data) { dw_body(data); }
#endif
static void dw_baseline(void *data) { dw_body(data); }

int sl_depthwise_backward(const sl_depthwise_backward_args *args) {
    const sl_depthwise_backward_args *a = args;
    if (a->N < 1 || a->H < 1 || a->W < 1 || a->C < 1 || a->KH < 1 || a->KW < 1 || a->stride_y < 1 ||
        a->stride_x < 1 || a->dilation_y < 1 || a->dilation_x < 1 || a->OH < 1 || a->OW < 1 || !a->diff_dst ||
        (a->diff_kernel && !a->input) || (a->input_derivative && !a->input) || (a->diff_src && !a->kernel))
        return 1;
    if (a->KH * a->KW > MAX_TAPS) return 1;
    int *columns = malloc(sizeof(int) * (size_t)a->KW * (a->OW + a->W));
    if (!columns) return 1;
    for (int kx = 0; kx < a->KW; kx++) {
        int shift = a->pad_left - kx * a->dilation_x;  // input column = ox·sx − shift
        for (int ox = 0; ox < a->OW; ox++) {
            int ix = ox * a->stride_x - shift;
            columns[kx * a->OW + ox] = ix >= 0 && ix < a->W ? ix : -1;
        }
        for (int ix = 0; ix < a->W; ix++) {
            int u = ix + shift;
            columns[a->KW * a->OW + kx * a->W + ix] = u >= 0 && u % a->stride_x == 0 && u / a->stride_x < a->OW
                                                          ? u / a->stride_x : -1;
        }
    }
    dw_state s = {*a, 0, columns, columns + (size_t)a->KW * a->OW, a->OW, 0, a->W, 0, {NULL}, 0};
    for (int ox = a->OW - 1; ox >= 0; ox--) {
        int all = 1;
        for (int kx = 0; kx < a->KW; kx++) all &= s.input_column[kx * a->OW + ox] >= 0;
        if (all) s.sums_first = ox, s.sums_last = s.sums_last ? s.sums_last : ox + 1;
        else if (s.sums_last) break;
    }
    for (int ix = a->W - 1; ix >= 0 && a->stride_x == 1; ix--) {
        int all = 1;
        for (int kx = 0; kx < a->KW; kx++) all &= s.output_column[kx * a->W + ix] >= 0;
        if (all) s.data_first = ix, s.data_last = s.data_last ? s.data_last : ix + 1;
        else if (s.data_last) break;
    }
    if (s.a.slices < 1) s.a.slices = 1;
    if (s.a.slices > MAX_SLICES) s.a.slices = MAX_SLICES;
    s.span = ((a->KH - 1) * a->dilation_y + a->stride_y - 1) / a->stride_y + 1;
    if (s.span > a->OH) s.span = a->OH;
    void (*body)(void *) = dw_baseline;
#if defined(__x86_64__)
    if (sl_cpu_has_avx512()) body = dw_avx512;
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) body = dw_avx2;
#endif
    sl_use_configured_threads();
    if (s.a.slices < 2 || omp_in_parallel()) body(&s);
    else GOMP_parallel(body, &s, (unsigned)s.a.slices, 0);
    int failed = s.failed;
    int sums_wanted = a->diff_kernel || a->diff_bias;
    for (int t = 0; t < s.a.slices && sums_wanted; t++) failed |= s.partial[t] == NULL;
    if (!failed && sums_wanted) {
        size_t taps = (size_t)a->KH * a->KW * a->C;
        float *first = s.partial[0];
        for (int t = 1; t < s.a.slices; t++)
            for (size_t i = 0; i < taps + (size_t)a->C; i++) first[i] += s.partial[t][i];
        if (a->diff_kernel) memcpy(a->diff_kernel, first, sizeof(float) * taps);
        if (a->diff_bias) memcpy(a->diff_bias, first + taps, sizeof(float) * a->C);
    }
    for (int t = 0; t < s.a.slices; t++) free(s.partial[t]);
    free(columns);
    return failed;
}

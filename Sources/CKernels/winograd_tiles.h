// Winograd F(MxM,3x3) tile transforms (M = 4 or 2, ALPHA = M + 2 input points per side),
// compiled once per instruction set and tile size by winograd.c: it defines SL_TARGET (a target
// attribute string), SL_SUFFIX and SL_M before including this file.
// Vectors are 16 floats (Clang vector extensions and __builtin_elementwise_*; SwiftPM builds C
// with Clang): one zmm register with AVX-512, two ymm registers with AVX2, so one source serves
// both and channels stay multiples of 16.
#define SL_CAT2(a, b) a##b
#define SL_CAT(a, b) SL_CAT2(a, b)
#define SL_FN(name) SL_CAT(SL_CAT(name, SL_SUFFIX), SL_M)
// unused: winograd_weights.c includes this file for the transforms it shares, not for all of it.
#define SL_ATTR __attribute__((target(SL_TARGET), unused))
#define SL_ALPHA (SL_M + 2)

#if SL_M == 4

// Bᵀ d for one column of six vectors (Lavin's F(4,3) input transform).
SL_ATTR static inline void SL_FN(bt_)(const vf *d, vf *t) {
    t[0] = 4.f * d[0] - 5.f * d[2] + d[4];
    t[1] = -4.f * (d[1] + d[2]) + d[3] + d[4];
    t[2] = 4.f * (d[1] - d[2]) - d[3] + d[4];
    t[3] = 2.f * (d[3] - d[1]) - d[2] + d[4];
    t[4] = -2.f * (d[3] - d[1]) - d[2] + d[4];
    t[5] = 4.f * d[1] - 5.f * d[3] + d[5];
}

// Aᵀ m: six transform-domain values to four outputs.
SL_ATTR static inline void SL_FN(at_)(const vf *m, vf *y) {
    vf s12 = m[1] + m[2], d12 = m[1] - m[2], s34 = m[3] + m[4], d34 = m[3] - m[4];
    y[0] = m[0] + s12 + s34;
    y[1] = 2.f * d34 + d12;
    y[2] = 4.f * s34 + s12;
    y[3] = 8.f * d34 + d12 + m[5];
}
#else
// Bᵀ d for one column of four vectors (Lavin's F(2,3) input transform).
SL_ATTR static inline void SL_FN(bt_)(const vf *d, vf *t) {
    t[0] = d[0] - d[2];
    t[1] = d[1] + d[2];
    t[2] = d[2] - d[1];
    t[3] = d[1] - d[3];
}

// Aᵀ m: four transform-domain values to two outputs.
SL_ATTR static inline void SL_FN(at_)(const vf *m, vf *y) {
    y[0] = m[0] + m[1] + m[2];
    y[1] = m[1] - m[2] - m[3];
}
#endif

// Input transform of tiles [t0, t1) into V [ALPHA²][TB][C] (row t - t0).
SL_ATTR static void SL_FN(transform_input_)(const sl_winograd *w, const float *x, int64_t t0, int64_t t1, float *V,
                                            size_t plane) {
    const int C = w->C, H = w->H, W = w->W, per_image = w->th * w->tw;
    const vf zero = {0};
    for (int64_t t = t0; t < t1; t++) {
        int n = (int)(t / per_image), r = (int)(t % per_image), ty = r / w->tw, tx = r % w->tw;
        int y0 = ty * SL_M - w->pad_top, x0 = tx * SL_M - w->pad_left;
        const float *src[SL_ALPHA][SL_ALPHA];
        for (int i = 0; i < SL_ALPHA; i++)
            for (int j = 0; j < SL_ALPHA; j++) {
                int iy = y0 + i, ix = x0 + j;
                src[i][j] = (iy >= 0 && iy < H && ix >= 0 && ix < W) ? x + (((size_t)n * H + iy) * W + ix) * C : NULL;
            }
        float *dst = V + (size_t)(t - t0) * C;
        for (int c = 0; c < C; c += 16) {
            vf d[SL_ALPHA][SL_ALPHA], tt[SL_ALPHA][SL_ALPHA], col[SL_ALPHA], out[SL_ALPHA];
            for (int i = 0; i < SL_ALPHA; i++)
                for (int j = 0; j < SL_ALPHA; j++) d[i][j] = src[i][j] ? *(const vf *)(src[i][j] + c) : zero;
            for (int j = 0; j < SL_ALPHA; j++) {
                for (int i = 0; i < SL_ALPHA; i++) col[i] = d[i][j];
                SL_FN(bt_)(col, out);
                for (int i = 0; i < SL_ALPHA; i++) tt[i][j] = out[i];
            }
            for (int i = 0; i < SL_ALPHA; i++) {
                SL_FN(bt_)(tt[i], out);
                for (int j = 0; j < SL_ALPHA; j++) *(vf *)(dst + (size_t)(i * SL_ALPHA + j) * plane + c) = out[j];
            }
        }
    }
}

// Output transform of tiles [t0, t1) from M [ALPHA²][TB][K], with bias, residual and activation.
SL_ATTR static void SL_FN(transform_output_)(const sl_winograd *w, const float *M, size_t plane, int64_t t0, int64_t t1,
                                             float *y, int accumulate) {
    const int K = w->K, OH = w->OH, OW = w->OW, per_image = w->th * w->tw;
    const vf zero = {0}, top = zero + w->relu_max;
    for (int64_t t = t0; t < t1; t++) {
        int n = (int)(t / per_image), r = (int)(t % per_image), ty = r / w->tw, tx = r % w->tw;
        const float *src = M + (size_t)(t - t0) * K;
        for (int k = 0; k < K; k += 16) {
            vf m[SL_ALPHA][SL_ALPHA], tt[SL_M][SL_ALPHA], col[SL_ALPHA], out[SL_M];
            const vf b = *(const vf *)(w->bias + k);
            for (int i = 0; i < SL_ALPHA; i++)
                for (int j = 0; j < SL_ALPHA; j++) m[i][j] = *(const vf *)(src + (size_t)(i * SL_ALPHA + j) * plane + k);
            for (int j = 0; j < SL_ALPHA; j++) {
                for (int i = 0; i < SL_ALPHA; i++) col[i] = m[i][j];
                SL_FN(at_)(col, out);
                for (int i = 0; i < SL_M; i++) tt[i][j] = out[i];
            }
            for (int i = 0; i < SL_M; i++) {
                int oy = ty * SL_M + i;
                if (oy >= OH) break;
                SL_FN(at_)(tt[i], out);
                for (int j = 0; j < SL_M; j++) {
                    int ox = tx * SL_M + j;
                    if (ox >= OW) break;
                    vf *p = (vf *)(y + (((size_t)n * OH + oy) * OW + ox) * K + k);
                    vf v = out[j] + b;
                    if (accumulate) v += *p;
                    if (w->activation == SL_ACT_RELU) v = __builtin_elementwise_min(__builtin_elementwise_max(v, zero), top);
                    *p = v;
                }
            }
        }
    }
}

// Tiles [t0, t1): transform, ALPHA² single-thread sgemms, inverse transform.
SL_ATTR static void SL_FN(block_)(const sl_winograd *w, const float *x, float *y, int64_t t0, int64_t t1, size_t TB,
                                  float *V, float *M, int accumulate) {
    SL_FN(transform_input_)(w, x, t0, t1, V, TB * w->C);
    for (int xi = 0; xi < SL_ALPHA * SL_ALPHA; xi++)
        dnnl_sgemm('N', 'N', t1 - t0, w->K, w->C, 1.f, V + (size_t)xi * TB * w->C, w->C, w->U + (size_t)xi * w->C * w->K,
                   w->K, 0.f, M + (size_t)xi * TB * w->K, w->K);
    SL_FN(transform_output_)(w, M, TB * w->K, t0, t1, y, accumulate);
}

// The kernel gradient of a 3×3 stride-1 convolution by F(M×M,3×3) transposed (winograd_weights.c):
// ∂L/∂g = Gᵀ [Σ over tiles and images (A dY Aᵀ) ⊙ (Bᵀ d B)] G, where d is a tile's input
// patch (the forward input transform) and dY its M×M block of output gradient.
#if SL_M == 4
// A g for one column of four vectors: four output-gradient values to six transform-domain ones
// (Aᵀ's columns: 1, 1, 1, 1, 1, 0 / 0, 1, −1, 2, −2, 0 / 0, 1, 1, 4, 4, 0 / 0, 1, −1, 8, −8, 1).
SL_ATTR static inline void SL_FN(a_)(const vf *g, vf *t) {
    vf s02 = g[0] + g[2], s13 = g[1] + g[3], e = g[0] + 4.f * g[2], o = 2.f * g[1] + 8.f * g[3];
    t[0] = g[0];
    t[1] = s02 + s13;
    t[2] = s02 - s13;
    t[3] = e + o;
    t[4] = e - o;
    t[5] = g[3];
}
#else
// A g for one column of two vectors: two output-gradient values to four transform-domain ones.
SL_ATTR static inline void SL_FN(a_)(const vf *g, vf *t) {
    t[0] = g[0];
    t[1] = g[0] + g[1];
    t[2] = g[0] - g[1];
    t[3] = -g[1];
}
#endif

// Output-gradient transform of tiles [t0, t1) of dy [N][OH][OW][K] into D [ALPHA²][TB][K] (row
// t - t0); outputs past the map's edge count as zero.
SL_ATTR static void SL_FN(transform_gradient_)(const sl_winograd *w, const float *dy, int64_t t0, int64_t t1,
                                               float *D, size_t plane) {
    const int K = w->K, OH = w->OH, OW = w->OW, per_image = w->th * w->tw;
    const vf zero = {0};
    for (int64_t t = t0; t < t1; t++) {
        int n = (int)(t / per_image), r = (int)(t % per_image), ty = r / w->tw, tx = r % w->tw;
        const float *src[SL_M][SL_M];
        for (int a = 0; a < SL_M; a++)
            for (int b = 0; b < SL_M; b++) {
                int oy = ty * SL_M + a, ox = tx * SL_M + b;
                src[a][b] = oy < OH && ox < OW ? dy + (((size_t)n * OH + oy) * OW + ox) * K : NULL;
            }
        float *dst = D + (size_t)(t - t0) * K;
        for (int k = 0; k < K; k += 16) {
            vf g[SL_M][SL_M], tt[SL_ALPHA][SL_M], col[SL_M], out[SL_ALPHA];
            for (int a = 0; a < SL_M; a++)
                for (int b = 0; b < SL_M; b++) g[a][b] = src[a][b] ? *(const vf *)(src[a][b] + k) : zero;
            for (int b = 0; b < SL_M; b++) {
                for (int a = 0; a < SL_M; a++) col[a] = g[a][b];
                SL_FN(a_)(col, out);
                for (int i = 0; i < SL_ALPHA; i++) tt[i][b] = out[i];
            }
            for (int i = 0; i < SL_ALPHA; i++) {
                SL_FN(a_)(tt[i], out);
                for (int j = 0; j < SL_ALPHA; j++) *(vf *)(dst + (size_t)(i * SL_ALPHA + j) * plane + k) = out[j];
            }
        }
    }
}

// Tiles [t0, t1): both transforms, then M_ξ [C][K] (= when `first`, else +=) V_ξᵀ D_ξ for the
// ALPHA² points ξ (single-thread sgemms reducing over the block's tiles), and the bias gradient's
// sums M[ALPHA²·C·K + k] (=, +=) D_ξ at ξ = (1, 1), whose transform adds up the tile's outputs
// (A's second column is all ones).
SL_ATTR static void SL_FN(weights_block_)(const sl_winograd *w, const float *x, const float *dy, int64_t t0,
                                          int64_t t1, size_t TB, float *V, float *D, float *M, int first) {
    SL_FN(transform_input_)(w, x, t0, t1, V, TB * w->C);
    SL_FN(transform_gradient_)(w, dy, t0, t1, D, TB * w->K);
    const float *sums = D + (size_t)(SL_ALPHA + 1) * TB * w->K;
    float *bias = M + (size_t)SL_ALPHA * SL_ALPHA * w->C * w->K;
    if (first)
        for (int k = 0; k < w->K; k += 16) *(vf *)(bias + k) = (vf){0};
    for (int64_t t = 0; t < t1 - t0; t++)
        for (int k = 0; k < w->K; k += 16) *(vf *)(bias + k) += *(const vf *)(sums + t * w->K + k);
    for (int xi = 0; xi < SL_ALPHA * SL_ALPHA; xi++)
        dnnl_sgemm('T', 'N', w->C, w->K, t1 - t0, 1.f, V + (size_t)xi * TB * w->C, w->C, D + (size_t)xi * TB * w->K,
                   w->K, first ? 0.f : 1.f, M + (size_t)xi * w->C * w->K, w->K);
}

// Tiles [t0, t1) of all `tiles` transformed into rows t of V [ALPHA²][tiles][C] and D
// [ALPHA²][tiles][K]: the whole batch's transforms, shared by the threads that then split the
// points (winograd_weights.c).
SL_ATTR static void SL_FN(weights_transform_)(const sl_winograd *w, const float *x, const float *dy, int64_t t0,
                                              int64_t t1, int64_t tiles, float *V, float *D) {
    SL_FN(transform_input_)(w, x, t0, t1, V + t0 * w->C, (size_t)tiles * w->C);
    SL_FN(transform_gradient_)(w, dy, t0, t1, D + t0 * w->K, (size_t)tiles * w->K);
}

#undef SL_FN
#undef SL_ATTR
#undef SL_ALPHA
#undef SL_CAT
#undef SL_CAT2

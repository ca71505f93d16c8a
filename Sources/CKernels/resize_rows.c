// The horizontal pass of Sightline's Pillow-style bilinear resize (Sources/SightlineVision/Resize.swift)
// on 8-bit RGB rows, sixteen (AVX-512) or eight (AVX2) output pixels at a time. Each output
// pixel x sums its taps in ascending source order exactly as the scalar Swift loop does:
// sum = sum + weight * pixel, a rounded multiply then a rounded add (no fused multiply-add,
// hence FP_CONTRACT OFF), starting from +0. Lanes with fewer taps than the block's longest are
// padded with weight 0 on their last tap: every pixel and weight is non-negative, so those
// steps add +0 and leave the sum bit for bit unchanged.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "CKernels.h"
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#pragma STDC FP_CONTRACT OFF

typedef struct {
    const uint8_t *src;
    int h, w, width, taps, padded;  // padded: width rounded up to the lane count
    const int32_t *index;           // [taps][padded]: 3 × the source pixel of tap t of output x
    const float *weight;            // [taps][padded], 0 past an output's own taps
    float *out;                     // [h][width][3]
} resize_rows;

/// The source row as floats (a byte converts exactly).
static void row_to_floats(const uint8_t *row, int count, float *values) {
    for (int i = 0; i < count; i++) values[i] = (float)row[i];
}

#if defined(__x86_64__)
__attribute__((target("avx512f"))) static void rows_avx512(const resize_rows *r, float *values) {
    float lanes[3][16];
    for (int y = 0; y < r->h; y++) {
        row_to_floats(r->src + (size_t)y * r->w * 3, r->w * 3, values);
        float *out = r->out + (size_t)y * r->width * 3;
        for (int x = 0; x < r->padded; x += 16) {
            __m512 red = _mm512_setzero_ps(), green = red, blue = red;
            for (int t = 0; t < r->taps; t++) {
                __m512i at = _mm512_loadu_si512(r->index + (size_t)t * r->padded + x);
                __m512 weight = _mm512_loadu_ps(r->weight + (size_t)t * r->padded + x);
                red = _mm512_add_ps(red, _mm512_mul_ps(weight, _mm512_i32gather_ps(at, values, 4)));
                green = _mm512_add_ps(green, _mm512_mul_ps(weight, _mm512_i32gather_ps(at, values + 1, 4)));
                blue = _mm512_add_ps(blue, _mm512_mul_ps(weight, _mm512_i32gather_ps(at, values + 2, 4)));
            }
            _mm512_storeu_ps(lanes[0], red);
            _mm512_storeu_ps(lanes[1], green);
            _mm512_storeu_ps(lanes[2], blue);
            int count = r->width - x < 16 ? r->width - x : 16;
            for (int i = 0; i < count; i++) {
                float *o = out + (size_t)(x + i) * 3;
                o[0] = lanes[0][i], o[1] = lanes[1][i], o[2] = lanes[2][i];
            }
        }
    }
}

__attribute__((target("avx2"))) static void rows_avx2(const resize_rows *r, float *values) {
    float lanes[3][8];
    for (int y = 0; y < r->h; y++) {
        row_to_floats(r->src + (size_t)y * r->w * 3, r->w * 3, values);
        float *out = r->out + (size_t)y * r->width * 3;
        for (int x = 0; x < r->padded; x += 8) {
            __m256 red = _mm256_setzero_ps(), green = red, blue = red;
            for (int t = 0; t < r->taps; t++) {
                __m256i at = _mm256_loadu_si256((const __m256i *)(r->index + (size_t)t * r->padded + x));
                __m256 weight = _mm256_loadu_ps(r->weight + (size_t)t * r->padded + x);
                red = _mm256_add_ps(red, _mm256_mul_ps(weight, _mm256_i32gather_ps(values, at, 4)));
                green = _mm256_add_ps(green, _mm256_mul_ps(weight, _mm256_i32gather_ps(values + 1, at, 4)));
                blue = _mm256_add_ps(blue, _mm256_mul_ps(weight, _mm256_i32gather_ps(values + 2, at, 4)));
            }
            _mm256_storeu_ps(lanes[0], red);
            _mm256_storeu_ps(lanes[1], green);
            _mm256_storeu_ps(lanes[2], blue);
            int count = r->width - x < 8 ? r->width - x : 8;
            for (int i = 0; i < count; i++) {
                float *o = out + (size_t)(x + i) * 3;
                o[0] = lanes[0][i], o[1] = lanes[1][i], o[2] = lanes[2][i];
            }
        }
    }
}
#endif

static void rows_scalar(const resize_rows *r, float *values) {
    for (int y = 0; y < r->h; y++) {
        row_to_floats(r->src + (size_t)y * r->w * 3, r->w * 3, values);
        float *out = r->out + (size_t)y * r->width * 3;
        for (int x = 0; x < r->width; x++) {
            float red = 0, green = 0, blue = 0;
            for (int t = 0; t < r->taps; t++) {
                const float *s = values + r->index[(size_t)t * r->padded + x];
                float weight = r->weight[(size_t)t * r->padded + x];
                red = red + weight * s[0];
                green = green + weight * s[1];
                blue = blue + weight * s[2];
            }
            out[(size_t)x * 3] = red, out[(size_t)x * 3 + 1] = green, out[(size_t)x * 3 + 2] = blue;
        }
    }
}

int sl_resize_rows_rgb8(const uint8_t *src, int h, int w, int width, const int32_t *first, const int32_t *count,
                        const float *weights, int taps, int max_lanes, float *out) {
    if (h <= 0 || w <= 0 || width <= 0 || taps <= 0) return 1;
    int lanes = 1;
    void (*body)(const resize_rows *, float *) = rows_scalar;
#if defined(__x86_64__)
    int limit = max_lanes > 0 ? max_lanes : 16;
    if (limit >= 16 && __builtin_cpu_supports("avx512f")) body = rows_avx512, lanes = 16;
    else if (limit >= 8 && __builtin_cpu_supports("avx2")) body = rows_avx2, lanes = 8;
#endif
    int padded = (width + lanes - 1) / lanes * lanes;
    int32_t *index = malloc(sizeof(int32_t) * (size_t)taps * padded);
    float *weight = malloc(sizeof(float) * (size_t)taps * padded);
    float *values = malloc(sizeof(float) * (size_t)w * 3);
    int failed = !index || !weight || !values;
    if (!failed) {
        // Transposed, padded tap tables: lane x of tap t reads its own tap t, or repeats its last
        // tap with weight 0; lanes past the width read pixel 0 with weight 0 and are not stored.
        for (int t = 0; t < taps; t++) {
            for (int x = 0; x < padded; x++) {
                int own = x < width ? count[x] : 0;
                int source = own == 0 ? 0 : first[x] + (t < own ? t : own - 1);
                index[(size_t)t * padded + x] = source * 3;
                weight[(size_t)t * padded + x] = t < own ? weights[(size_t)x * taps + t] : 0.f;
            }
        }
        resize_rows r = {src, h, w, width, taps, padded, index, weight, out};
        body(&r, values);
    }
    free(index);
    free(weight);
    free(values);
    return failed;
}

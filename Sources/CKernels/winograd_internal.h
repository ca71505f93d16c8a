// What winograd.c and winograd_weights.c share: the plan's fields, the 16-float vector type and
// the libgomp entry points (called directly, without -fopenmp; see parallel.c).
#pragma once
#include <oneapi/dnnl/dnnl.h>
#include "CKernels.h"

/// 16 floats, loaded and stored at any 4-byte alignment.
typedef float vf __attribute__((vector_size(64), aligned(4)));

extern void GOMP_parallel(void (*fn)(void *), void *data, unsigned num_threads, unsigned flags);
extern int omp_get_max_threads(void);
extern int omp_in_parallel(void);
extern int omp_get_thread_num(void);
extern int omp_get_num_threads(void);

typedef void (*sl_wino_block)(const sl_winograd *, const float *, float *, int64_t, int64_t, size_t, float *, float *,
                              int);
typedef void (*sl_wino_input)(const sl_winograd *, const float *, int64_t, int64_t, float *, size_t);
typedef void (*sl_wino_output)(const sl_winograd *, const float *, size_t, int64_t, int64_t, float *, int);

struct sl_winograd {
    int C, K, H, W, OH, OW, pad_top, pad_left, th, tw;
    sl_activation activation;
    float relu_max;
    int m, points;  // output tile side (4 or 2) and transform-domain points ((m + 2)²)
    float *U;       // [points][C][K]
    float *bias;    // [K]
    // The compiled variant for this CPU (AVX-512 or AVX2+FMA) and tile size.
    sl_wino_block block;
    sl_wino_input transform_input;
    sl_wino_output transform_output;
};

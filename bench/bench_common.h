// What the C benchmarks in bench/ share: a monotonic clock and the error measure they print.
#ifndef SL_BENCH_COMMON_H
#define SL_BENCH_COMMON_H
#include <math.h>
#include <time.h>

/// Seconds on the monotonic clock.
static inline double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/// The largest |got − want| over the largest |want|.
static inline double difference(const float *got, const float *want, long count) {
    double worst = 0, scale = 0;
    for (long i = 0; i < count; i++) {
        if (fabs(got[i] - want[i]) > worst) worst = fabs(got[i] - want[i]);
        if (fabs(want[i]) > scale) scale = fabs(want[i]);
    }
    return worst / scale;
}
#endif

// One thread pool for Sightline: libgomp's OpenMP team, the one oneDNN (built with OpenMP in
// Debian) already runs its primitives and sgemm on. Calling GOMP_parallel directly keeps this
// file free of -fopenmp (which Swift's clang would need libomp headers for); a oneDNN call made
// inside a region sees omp_in_parallel() and runs on the calling thread, so work never
// oversubscribes the cores.
#include "CKernels.h"

extern void GOMP_parallel(void (*fn)(void *), void *data, unsigned num_threads, unsigned flags);
extern int omp_get_thread_num(void);
extern int omp_get_num_threads(void);
extern int omp_get_max_threads(void);
extern int omp_in_parallel(void);
extern void omp_set_num_threads(int);
extern int omp_get_num_procs(void);

typedef struct {
    int64_t count;
    void *context;
    void (*body)(void *, int64_t, int64_t);
} sl_region;

static void sl_region_body(void *data) {
    const sl_region *r = data;
    int64_t id = omp_get_thread_num(), team = omp_get_num_threads();
    int64_t start = r->count * id / team, end = r->count * (id + 1) / team;
    if (start < end) r->body(r->context, start, end);
}

// The team size set by sl_set_thread_count (0: libgomp's default, OMP_NUM_THREADS or all cores,
// as read before the first change). omp_set_num_threads only changes the calling thread's
// setting, so every entry point applies it to whichever thread calls into the engine.
static int configured_threads = 0;
static int default_threads = 0;

void sl_use_configured_threads(void) {
    int wanted = __atomic_load_n(&configured_threads, __ATOMIC_RELAXED);
    if (wanted <= 0) wanted = __atomic_load_n(&default_threads, __ATOMIC_RELAXED);
    if (wanted > 0 && !omp_in_parallel() && omp_get_max_threads() != wanted) omp_set_num_threads(wanted);
}

void sl_parallel_for(int64_t count, void *context, void (*body)(void *, int64_t, int64_t)) {
    if (count <= 0) return;
    sl_use_configured_threads();
    int threads = omp_get_max_threads();
    if (count < 2 || threads < 2 || omp_in_parallel()) {
        body(context, 0, count);
        return;
    }
    sl_region region = {count, context, body};
    GOMP_parallel(sl_region_body, &region, (unsigned)(count < threads ? count : threads), 0);
}

int sl_thread_count(void) {
    sl_use_configured_threads();
    return omp_get_max_threads();
}

int sl_available_cores(void) { return omp_get_num_procs(); }

void sl_set_thread_count(int threads) {
    int unset = 0;
    if (!omp_in_parallel()) {
        int initial = omp_get_max_threads();
        __atomic_compare_exchange_n(&default_threads, &unset, initial, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    }
    __atomic_store_n(&configured_threads, threads > 0 ? threads : 0, __ATOMIC_RELAXED);
    sl_use_configured_threads();
}
#if defined(__x86_64__)
int sl_cpu_has_avx512(void) { return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq"); }
#else
int sl_cpu_has_avx512(void) { return 0; }
#endif

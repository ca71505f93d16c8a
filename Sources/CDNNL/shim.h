// oneDNN (libdnnl-dev): Sightline uses its sgemm, the fastest GEMM measured here
// (see bench/gemm_backends.c and docs/benchmarks.md).
#pragma once
#include <oneapi/dnnl/dnnl.h>

// winograd_tiles.h compiled for each vector unit (AVX-512; AVX2 with FMA) and output tile side
// (4, 2): the functions <name>_avx512_4, <name>_avx512_2, <name>_avx2_4 and <name>_avx2_2 that
// winograd.c and winograd_weights.c choose from at run time. Include once per file, after
// winograd_internal.h.
#if defined(__x86_64__)
#define SL_TARGET "avx512f,avx512dq,fma"
#define SL_SUFFIX avx512_
#define SL_M 4
#include "winograd_tiles.h"
#undef SL_M
#define SL_M 2
#include "winograd_tiles.h"
#undef SL_M
#undef SL_TARGET
#undef SL_SUFFIX
#define SL_TARGET "avx2,fma"
#define SL_SUFFIX avx2_
#define SL_M 4
#include "winograd_tiles.h"
#undef SL_M
#define SL_M 2
#include "winograd_tiles.h"
#undef SL_M
#undef SL_TARGET
#undef SL_SUFFIX
#endif

// Element-wise activations through oneDNN 2.6's eltwise primitives: JIT code with vectorised
// exp, tanh and erf, on the engine's threads. Swift's loops call libm's scalar expf per value,
// which made swish and sigmoid 42% of an EfficientNetB0 training step. Each call makes its
// primitive for a flat tensor of `count` values (oneDNN's primitive cache makes that cheap after
// the first call of a size) and runs it; forward may run in place (dst == src), backward too
// (diff_src == diff_dst).
#include <stdio.h>
#include "CKernels.h"
#include "onednn_internal.h"

// oneDNN's algorithm for each function; backward of the *_use_dst kinds reads the forward's output.
static int algorithm(sl_eltwise function, int backward, dnnl_alg_kind_t *alg, int *uses_dst) {
    *uses_dst = 0;
    switch (function) {
    case SL_ELTWISE_SWISH: *alg = dnnl_eltwise_swish; return 1;
    case SL_ELTWISE_HARDSWISH: *alg = dnnl_eltwise_hardswish; return 1;
    case SL_ELTWISE_GELU_TANH: *alg = dnnl_eltwise_gelu_tanh; return 1;
    case SL_ELTWISE_GELU_ERF: *alg = dnnl_eltwise_gelu_erf; return 1;
    case SL_ELTWISE_LOGISTIC:
        *alg = backward ? dnnl_eltwise_logistic_use_dst_for_bwd : dnnl_eltwise_logistic;
        *uses_dst = backward;
        return 1;
    case SL_ELTWISE_TANH:
        *alg = backward ? dnnl_eltwise_tanh_use_dst_for_bwd : dnnl_eltwise_tanh;
        *uses_dst = backward;
        return 1;
    case SL_ELTWISE_ELU:
        *alg = backward ? dnnl_eltwise_elu_use_dst_for_bwd : dnnl_eltwise_elu;
        *uses_dst = backward;
        return 1;
    }
    return 0;
}

// Wraps the buffers as flat memories and runs p; 0 on success.
static int run(dnnl_primitive_t p, const dnnl_memory_desc_t *md, int count, const int *roles, void *const *buffers) {
    dnnl_memory_t memories[3] = {NULL, NULL, NULL};
    dnnl_exec_arg_t args[3];
    int failed = 0;
    for (int i = 0; i < count && !failed; i++) {
        failed = dnnl_memory_create(&memories[i], md, sl_dnnl_engine, buffers[i]) != dnnl_success;
        args[i] = (dnnl_exec_arg_t){roles[i], memories[i]};
    }
    if (!failed) failed = sl_dnnl_run_primitive(p, count, args);
    for (int i = 0; i < count; i++)
        if (memories[i]) dnnl_memory_destroy(memories[i]);
    return failed;
}

// The forward primitive descriptor (also the backward's hint); NULL on failure.
static dnnl_primitive_desc_t forward_desc(dnnl_alg_kind_t alg, float alpha, const dnnl_memory_desc_t *md) {
    dnnl_eltwise_desc_t desc;
    dnnl_primitive_desc_t pd = NULL;
    if (dnnl_eltwise_forward_desc_init(&desc, dnnl_forward_training, alg, md, alpha, 0) != dnnl_success) return NULL;
    if (dnnl_primitive_desc_create(&pd, &desc, NULL, sl_dnnl_engine, NULL) != dnnl_success) return NULL;
    return pd;
}

// The algorithm for one direction and a flat descriptor of `count` values; 0 when both are ready.
static int prepare(sl_eltwise function, int backward, int64_t count, dnnl_alg_kind_t *alg, int *uses_dst,
                   dnnl_memory_desc_t *md) {
    char error[128];
    dnnl_dims_t dims = {count};
    if (count < 1 || !sl_dnnl_ready(error, sizeof error) || !algorithm(function, backward, alg, uses_dst)) return 1;
    return dnnl_memory_desc_init_by_tag(md, 1, dims, dnnl_f32, dnnl_a) != dnnl_success;
}

int sl_dnnl_eltwise_forward(sl_eltwise function, float alpha, const float *src, float *dst, int64_t count) {
    dnnl_alg_kind_t alg;
    int uses_dst;
    dnnl_memory_desc_t md;
    if (prepare(function, 0, count, &alg, &uses_dst, &md)) return 1;
    dnnl_primitive_desc_t pd = forward_desc(alg, alpha, &md);
    dnnl_primitive_t p = NULL;
    int failed = !pd || dnnl_primitive_create(&p, pd) != dnnl_success;
    int roles[2] = {DNNL_ARG_SRC, DNNL_ARG_DST};
    void *buffers[2] = {(void *)src, dst};
    if (!failed) failed = run(p, &md, 2, roles, buffers);
    if (p) dnnl_primitive_destroy(p);
    if (pd) dnnl_primitive_desc_destroy(pd);
    return failed;
}

int sl_dnnl_eltwise_backward(sl_eltwise function, float alpha, const float *data, const float *diff_dst,
                             float *diff_src, int64_t count) {
    dnnl_alg_kind_t alg;
    int uses_dst;
    dnnl_memory_desc_t md;
    if (prepare(function, 1, count, &alg, &uses_dst, &md)) return 1;
    // The hint must be the forward of the same algorithm (the *_use_dst kinds included).
    dnnl_primitive_desc_t hint = forward_desc(alg, alpha, &md), pd = NULL;
    dnnl_eltwise_desc_t desc;
    dnnl_primitive_t p = NULL;
    int failed = !hint || dnnl_eltwise_backward_desc_init(&desc, alg, &md, &md, alpha, 0) != dnnl_success ||
                 dnnl_primitive_desc_create(&pd, &desc, NULL, sl_dnnl_engine, hint) != dnnl_success ||
                 dnnl_primitive_create(&p, pd) != dnnl_success;
    int roles[3] = {uses_dst ? DNNL_ARG_DST : DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_SRC};
    void *buffers[3] = {(void *)data, (void *)diff_dst, diff_src};
    if (!failed) failed = run(p, &md, 3, roles, buffers);
    if (p) dnnl_primitive_destroy(p);
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (hint) dnnl_primitive_desc_destroy(hint);
    return failed;
}

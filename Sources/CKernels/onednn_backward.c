// oneDNN 2.6 convolution backward primitives on NHWC tensors (plain, grouped or depthwise): the input gradient (backward
// data) and the kernel and bias gradients (backward weights), prepared once per layer geometry
// and batch size. Kernels stay in Keras's HWIO layout on the Swift side; each call reorders the
// current kernel into the layout the backward-data primitive picked, and the kernel gradient
// from the layout the backward-weights primitive picked, so weights may change between calls
// (an optimizer step) without preparing again. With bf16, the source, the output gradient and
// the kernel are rounded to bfloat16 (converted at each call) and the products accumulate in
// float32; the input, kernel and bias gradients come out in float32.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "CKernels.h"
#include "onednn_internal.h"

struct sl_dnnl_conv_bwd {
    dnnl_primitive_t data, weights;
    dnnl_primitive_t kernel_in, gradient_out;  // reorders HWIO -> data's weights, weights' diff -> HWIO
    dnnl_memory_desc_t src_md, dst_md, user_md, bias_md;
    dnnl_memory_desc_t diff_src_md;  // float32 [N,H,W,C], also with bf16
    size_t src_count, dst_count;
    int bf16;
    dnnl_memory_t data_kernel, diff_kernel;  // in the primitives' chosen layouts
};

static int make_reorder(dnnl_primitive_t *reorder, const dnnl_memory_desc_t *from, const dnnl_memory_desc_t *to) {
    dnnl_primitive_desc_t pd;
    if (dnnl_reorder_primitive_desc_create(&pd, from, sl_dnnl_engine, to, sl_dnnl_engine, NULL) != dnnl_success)
        return 1;
    dnnl_status_t made = dnnl_primitive_create(reorder, pd);
    dnnl_primitive_desc_destroy(pd);
    return made != dnnl_success;
}

sl_dnnl_conv_bwd *sl_dnnl_conv_bwd_create(int N, int H, int W, int C, int K, int G, int KH, int KW, int sy, int sx, int dy,
                                          int dx, int pad_top, int pad_left, int OH, int OW, int want_data,
                                          int want_weights, int bf16, char *impl, size_t impl_length, char *error,
                                          size_t error_length) {
    if (!sl_dnnl_ready(error, error_length)) return NULL;
    sl_dnnl_conv_bwd *c = calloc(1, sizeof *c);
    dnnl_primitive_desc_t forward = NULL, data = NULL, weights = NULL;
    dnnl_primitive_attr_t attr = sl_dnnl_attr();  // scratchpads from scratch.c
    if (!c || !attr) {
        snprintf(error, error_length, "out of memory");
        free(c);
        if (attr) dnnl_primitive_attr_destroy(attr);
        return NULL;
    }
    dnnl_dims_t src = {N, C, H, W}, bia = {K}, dst = {N, K, OH, OW};
    sl_dnnl_weights_dims wei = sl_dnnl_weights(C, K, G, KH, KW);
    dnnl_dims_t strides = {sy, sx}, dilates = {dy - 1, dx - 1}, pad_l = {pad_top, pad_left};
    dnnl_dims_t pad_r = {sl_dnnl_far_pad(H, OH, KH, sy, dy, pad_top), sl_dnnl_far_pad(W, OW, KW, sx, dx, pad_left)};
    dnnl_memory_desc_t wei_any, diff_wei_any;
    dnnl_data_type_t type = bf16 ? dnnl_bf16 : dnnl_f32;
    c->bf16 = bf16;
    c->src_count = (size_t)N * H * W * C;
    c->dst_count = (size_t)N * OH * OW * K;
    SL_TRY(dnnl_memory_desc_init_by_tag(&c->src_md, 4, src, type, dnnl_nhwc), "source descriptor");
    SL_TRY(dnnl_memory_desc_init_by_tag(&c->diff_src_md, 4, src, dnnl_f32, dnnl_nhwc), "source descriptor");
    SL_TRY(dnnl_memory_desc_init_by_tag(&c->dst_md, 4, dst, type, dnnl_nhwc), "destination descriptor");
    SL_TRY(dnnl_memory_desc_init_by_tag(&wei_any, wei.rank, wei.dims, type, dnnl_format_tag_any),
           "weights descriptor");
    SL_TRY(dnnl_memory_desc_init_by_tag(&diff_wei_any, wei.rank, wei.dims, dnnl_f32, dnnl_format_tag_any),
           "weights descriptor");
    SL_TRY(dnnl_memory_desc_init_by_tag(&c->user_md, wei.rank, wei.dims, dnnl_f32, wei.user), "weights descriptor");
    SL_TRY(dnnl_memory_desc_init_by_tag(&c->bias_md, 1, bia, dnnl_f32, dnnl_x), "bias descriptor");
    dnnl_convolution_desc_t fd, dd, wd;
    SL_TRY(dnnl_dilated_convolution_forward_desc_init(&fd, dnnl_forward_training, dnnl_convolution_direct, &c->src_md,
                                                      &wei_any, &c->bias_md, &c->dst_md, strides, dilates, pad_l,
                                                      pad_r),
           "convolution descriptor");
    SL_TRY(dnnl_primitive_desc_create(&forward, &fd, NULL, sl_dnnl_engine, NULL), "convolution primitive");
    impl[0] = 0;
    if (want_data) {
        SL_TRY(dnnl_dilated_convolution_backward_data_desc_init(&dd, dnnl_convolution_direct, &c->diff_src_md, &wei_any,
                                                                &c->dst_md, strides, dilates, pad_l, pad_r),
               "backward-data descriptor");
        SL_TRY(dnnl_primitive_desc_create(&data, &dd, attr, sl_dnnl_engine, forward), "backward-data primitive");
        const dnnl_memory_desc_t *chosen = dnnl_primitive_desc_query_md(data, dnnl_query_weights_md, 0);
        SL_TRY(dnnl_memory_create(&c->data_kernel, chosen, sl_dnnl_engine, DNNL_MEMORY_ALLOCATE), "weights memory");
        SL_TRY(make_reorder(&c->kernel_in, &c->user_md, chosen) ? dnnl_runtime_error : dnnl_success, "weights reorder");
        SL_TRY(dnnl_primitive_create(&c->data, data), "backward-data primitive");
        const char *name = NULL;
        if (dnnl_primitive_desc_query(data, dnnl_query_impl_info_str, 0, &name) == dnnl_success && name)
            snprintf(impl, impl_length, "data %s", name);
    }
    if (want_weights) {
        SL_TRY(dnnl_dilated_convolution_backward_weights_desc_init(&wd, dnnl_convolution_direct, &c->src_md,
                                                                   &diff_wei_any,
                                                                   &c->bias_md, &c->dst_md, strides, dilates, pad_l,
                                                                   pad_r),
               "backward-weights descriptor");
        SL_TRY(dnnl_primitive_desc_create(&weights, &wd, attr, sl_dnnl_engine, forward), "backward-weights primitive");
        const dnnl_memory_desc_t *chosen = dnnl_primitive_desc_query_md(weights, dnnl_query_diff_weights_md, 0);
        SL_TRY(dnnl_memory_create(&c->diff_kernel, chosen, sl_dnnl_engine, DNNL_MEMORY_ALLOCATE), "gradient memory");
        SL_TRY(make_reorder(&c->gradient_out, chosen, &c->user_md) ? dnnl_runtime_error : dnnl_success,
               "gradient reorder");
        SL_TRY(dnnl_primitive_create(&c->weights, weights), "backward-weights primitive");
        const char *name = NULL;
        if (dnnl_primitive_desc_query(weights, dnnl_query_impl_info_str, 0, &name) == dnnl_success && name) {
            size_t used = strlen(impl);
            snprintf(impl + used, impl_length - used, "%sweights %s", used ? ", " : "", name);
        }
    }
    dnnl_primitive_desc_destroy(forward);
    if (data) dnnl_primitive_desc_destroy(data);
    if (weights) dnnl_primitive_desc_destroy(weights);
    dnnl_primitive_attr_destroy(attr);
    return c;
fail:
    if (forward) dnnl_primitive_desc_destroy(forward);
    if (data) dnnl_primitive_desc_destroy(data);
    if (weights) dnnl_primitive_desc_destroy(weights);
    dnnl_primitive_attr_destroy(attr);
    sl_dnnl_conv_bwd_destroy(c);
    return NULL;
}

// Wraps caller buffers as memories and runs; 0 on success.
static int run_wrapped(dnnl_primitive_t p, int count, const int *roles, const dnnl_memory_desc_t **mds,
                       void *const *buffers, int prepared_count, const dnnl_exec_arg_t *prepared) {
    dnnl_memory_t wrapped[4] = {NULL, NULL, NULL, NULL};
    dnnl_exec_arg_t args[6];
    int failed = 0, n = 0;
    for (int i = 0; i < count && !failed; i++) {
        failed = dnnl_memory_create(&wrapped[i], mds[i], sl_dnnl_engine, buffers[i]) != dnnl_success;
        args[n++] = (dnnl_exec_arg_t){roles[i], wrapped[i]};
    }
    for (int i = 0; i < prepared_count; i++) args[n++] = prepared[i];
    if (!failed) failed = sl_dnnl_run_primitive(p, n, args);
    for (int i = 0; i < count; i++)
        if (wrapped[i]) dnnl_memory_destroy(wrapped[i]);
    return failed;
}

// The backward-data pass with the output gradient already in the primitive's type (`diff_dst`
// float32, or bfloat16 with bf16).
static int run_data(const sl_dnnl_conv_bwd *c, const float *kernel, const void *diff_dst, float *diff_src) {
    if (!c->data) return 1;
    int from[1] = {DNNL_ARG_FROM};
    const dnnl_memory_desc_t *user[1] = {&c->user_md};
    void *weights[1] = {(void *)kernel};
    dnnl_exec_arg_t to = {DNNL_ARG_TO, c->data_kernel};
    if (run_wrapped(c->kernel_in, 1, from, user, weights, 1, &to)) return 1;
    int roles[2] = {DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_SRC};
    const dnnl_memory_desc_t *mds[2] = {&c->dst_md, &c->diff_src_md};
    void *buffers[2] = {(void *)diff_dst, diff_src};
    dnnl_exec_arg_t prepared = {DNNL_ARG_WEIGHTS, c->data_kernel};
    return run_wrapped(c->data, 2, roles, mds, buffers, 1, &prepared);
}

// The backward-weights pass, likewise.
static int run_weights(const sl_dnnl_conv_bwd *c, const float *src, const void *diff_dst, float *diff_kernel,
                       float *diff_bias) {
    if (!c->weights) return 1;
    float *scratch_bias = diff_bias ? NULL : malloc(sizeof(float) * (size_t)c->bias_md.dims[0]);
    uint16_t *src16 = c->bf16 ? sl_bf16_copy(src, c->src_count) : NULL;
    int failed = (!diff_bias && !scratch_bias) || (c->bf16 && !src16);
    int roles[3] = {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_BIAS};
    const dnnl_memory_desc_t *mds[3] = {&c->src_md, &c->dst_md, &c->bias_md};
    void *buffers[3] = {src16 ? (void *)src16 : (void *)src, (void *)diff_dst, diff_bias ? diff_bias : scratch_bias};
    dnnl_exec_arg_t prepared = {DNNL_ARG_DIFF_WEIGHTS, c->diff_kernel};
    if (!failed) failed = run_wrapped(c->weights, 3, roles, mds, buffers, 1, &prepared);
    free(scratch_bias);
    sl_bf16_free(src16);
    if (failed) return 1;
    int from[1] = {DNNL_ARG_TO};
    const dnnl_memory_desc_t *user[1] = {&c->user_md};
    void *out[1] = {diff_kernel};
    dnnl_exec_arg_t in = {DNNL_ARG_FROM, c->diff_kernel};
    return run_wrapped(c->gradient_out, 1, from, user, out, 1, &in);
}

int sl_dnnl_conv_bwd_data(const sl_dnnl_conv_bwd *c, const float *kernel, const float *diff_dst, float *diff_src) {
    if (!c->data) return 1;
    uint16_t *converted = c->bf16 ? sl_bf16_copy(diff_dst, c->dst_count) : NULL;
    if (c->bf16 && !converted) return 1;
    int failed = run_data(c, kernel, converted ? (const void *)converted : diff_dst, diff_src);
    sl_bf16_free(converted);
    return failed;
}

int sl_dnnl_conv_bwd_weights(const sl_dnnl_conv_bwd *c, const float *src, const float *diff_dst, float *diff_kernel,
                             float *diff_bias) {
    if (!c->weights) return 1;
    uint16_t *converted = c->bf16 ? sl_bf16_copy(diff_dst, c->dst_count) : NULL;
    if (c->bf16 && !converted) return 1;
    int failed = run_weights(c, src, converted ? (const void *)converted : diff_dst, diff_kernel, diff_bias);
    sl_bf16_free(converted);
    return failed;
}

int sl_dnnl_conv_bwd_both(const sl_dnnl_conv_bwd *weights, const sl_dnnl_conv_bwd *data, const float *kernel,
                          const float *src, const float *diff_dst, float *diff_kernel, float *diff_bias,
                          float *diff_src) {
    if (!weights->weights || !data->data || weights->bf16 != data->bf16 || weights->dst_count != data->dst_count)
        return 1;
    uint16_t *converted = data->bf16 ? sl_bf16_copy(diff_dst, data->dst_count) : NULL;
    if (data->bf16 && !converted) return 1;
    const void *gradient = converted ? (const void *)converted : diff_dst;
    int failed = run_weights(weights, src, gradient, diff_kernel, diff_bias) || run_data(data, kernel, gradient, diff_src);
    sl_bf16_free(converted);
    return failed;
}

void sl_dnnl_conv_bwd_destroy(sl_dnnl_conv_bwd *c) {
    if (!c) return;
    if (c->data) dnnl_primitive_destroy(c->data);
    if (c->weights) dnnl_primitive_destroy(c->weights);
    if (c->kernel_in) dnnl_primitive_destroy(c->kernel_in);
    if (c->gradient_out) dnnl_primitive_destroy(c->gradient_out);
    if (c->data_kernel) dnnl_memory_destroy(c->data_kernel);
    if (c->diff_kernel) dnnl_memory_destroy(c->diff_kernel);
    free(c);
}

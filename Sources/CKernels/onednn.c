// oneDNN 2.6 convolution and pooling primitives on NHWC tensors (the layout Sightline keeps),
// prepared once per layer and batch size. The study in ../shared/bench/conv-routes measured
// oneDNN's brgconv on NHWC with weights in the layout it picks at 500-590 GFLOP/s on this
// CPU, against 350-470 for im2col+sgemm; its pooling runs the whole of VGG16's in under 1 ms.
#if defined(__x86_64__)
#include <cpuid.h>
#endif
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <oneapi/dnnl/dnnl.h>
#include "CKernels.h"
#include "onednn_internal.h"

dnnl_engine_t sl_dnnl_engine;
// One stream per calling thread: oneDNN streams are not meant to be shared between threads
// executing at once (two graphs may run on two threads); each lives as long as its thread.
static __thread dnnl_stream_t stream;
static dnnl_status_t engine_status = dnnl_runtime_error;
static pthread_once_t engine_once = PTHREAD_ONCE_INIT;

static void make_engine(void) {
    engine_status = dnnl_engine_create(&sl_dnnl_engine, dnnl_cpu, 0);
}

int sl_dnnl_ready(char *error, size_t length) {
    pthread_once(&engine_once, make_engine);
    if (engine_status != dnnl_success) snprintf(error, length, "oneDNN CPU engine unavailable (status %d)", (int)engine_status);
    return engine_status == dnnl_success;
}

#define TRY(call, what) SL_TRY(call, what)

struct sl_dnnl_conv {
    dnnl_primitive_t primitive;
    dnnl_memory_desc_t src_md, dst_md;
    dnnl_memory_t weights, bias;
    int bf16;
    size_t src_count;
};

int sl_cpu_has_amx(void) {
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    return (isa & dnnl_cpu_isa_avx512_core_amx) == dnnl_cpu_isa_avx512_core_amx;
}

int sl_cpu_has_bf16(void) {
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    return (isa & dnnl_cpu_isa_avx512_core_bf16) == dnnl_cpu_isa_avx512_core_bf16;
}

int sl_cpu_is_amd(void) {
#if defined(__x86_64__)
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(0, &eax, &ebx, &ecx, &edx)) return 0;
    char vendor[13];
    memcpy(vendor, &ebx, 4), memcpy(vendor + 4, &edx, 4), memcpy(vendor + 8, &ecx, 4);
    vendor[12] = 0;
    return strcmp(vendor, "AuthenticAMD") == 0;
#else
    return 0;
#endif
}

// Round to nearest even on the upper 16 bits; NaN stays NaN (quiet), infinities stay.
static inline uint16_t bf16_bits(float value) {
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    if ((bits & 0x7f800000u) == 0x7f800000u) return (uint16_t)((bits >> 16) | ((bits & 0xffffu) ? 0x40u : 0u));
    bits += 0x7fffu + ((bits >> 16) & 1u);
    return (uint16_t)(bits >> 16);
}

typedef struct {
    const float *from;
    uint16_t *to;
    float *in_place;
} bf16_job;

static void bf16_chunk(void *context, int64_t start, int64_t end) {
    const bf16_job *job = context;
    if (job->in_place) {
        for (int64_t i = start; i < end; i++) {
            uint32_t bits = (uint32_t)bf16_bits(job->in_place[i]) << 16;
            memcpy(&job->in_place[i], &bits, sizeof bits);
        }
    } else {
        for (int64_t i = start; i < end; i++) job->to[i] = bf16_bits(job->from[i]);
    }
}

uint16_t *sl_bf16_copy(const float *values, size_t count) {
    uint16_t *converted = sl_scratch_acquire(sizeof(uint16_t) * (count ? count : 1));
    if (!converted) return NULL;
    bf16_job job = {values, converted, NULL};
    sl_parallel_for((int64_t)count, &job, bf16_chunk);
    return converted;
}

void sl_bf16_free(uint16_t *copy) { sl_scratch_release(copy); }

void sl_round_to_bf16(float *values, int64_t count) {
    bf16_job job = {NULL, NULL, values};
    sl_parallel_for(count, &job, bf16_chunk);
}

// oneDNN's right/bottom padding for Keras geometry: whatever makes the output size come out,
// never negative (oneDNN's size formula floors like TensorFlow's).
sl_dnnl_weights_dims sl_dnnl_weights(int C, int K, int G, int KH, int KW) {
    sl_dnnl_weights_dims w = {4, {K, C, KH, KW}, dnnl_hwio};
    if (G > 1) w = (sl_dnnl_weights_dims){5, {G, K / G, C / G, KH, KW}, dnnl_decab};  // hwigo: Keras's [KH,KW,C/G,K]
    return w;
}

int sl_dnnl_far_pad(int in, int out, int k, int stride, int dilation, int near) {
    int pad = (out - 1) * stride + (k - 1) * dilation + 1 - in - near;
    return pad > 0 ? pad : 0;
}

int sl_dnnl_run_primitive(dnnl_primitive_t p, int count, dnnl_exec_arg_t *args) {
    sl_use_configured_threads();
    if (!stream && dnnl_stream_create(&stream, sl_dnnl_engine, dnnl_stream_default_flags) != dnnl_success) {
        stream = NULL;
        return 1;
    }
    if (count > SL_DNNL_MAX_ARGS) return 1;
    // A primitive made with sl_dnnl_attr takes its scratchpad from the reused buffers (scratch.c).
    const_dnnl_primitive_desc_t pd = NULL;
    const dnnl_memory_desc_t *scratch_md = NULL;
    if (dnnl_primitive_get_primitive_desc(p, &pd) == dnnl_success)
        scratch_md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    size_t bytes = scratch_md ? dnnl_memory_desc_get_size(scratch_md) : 0;
    if (bytes == 0) {
        if (dnnl_primitive_execute(p, stream, count, args) != dnnl_success) return 1;
        return dnnl_stream_wait(stream) != dnnl_success;
    }
    void *buffer = sl_scratch_acquire(bytes);
    dnnl_memory_t scratch = NULL;
    int failed = !buffer || dnnl_memory_create(&scratch, scratch_md, sl_dnnl_engine, buffer) != dnnl_success;
    if (!failed) {
        dnnl_exec_arg_t all[SL_DNNL_MAX_ARGS + 1];
        memcpy(all, args, sizeof *args * (size_t)count);
        all[count] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, scratch};
        failed = dnnl_primitive_execute(p, stream, count + 1, all) != dnnl_success
              || dnnl_stream_wait(stream) != dnnl_success;
    }
    if (scratch) dnnl_memory_destroy(scratch);
    sl_scratch_release(buffer);
    return failed;
}

dnnl_primitive_attr_t sl_dnnl_attr(void) {
    dnnl_primitive_attr_t attr = NULL;
    if (dnnl_primitive_attr_create(&attr) != dnnl_success) return NULL;
    if (dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user) != dnnl_success) {
        dnnl_primitive_attr_destroy(attr);
        return NULL;
    }
    return attr;
}

// Runs p on the caller's NHWC buffers src and dst (wrapped without copies) plus `count` more
// prepared arguments (weights, bias); returns 0 on success.
static int run_on_buffers(dnnl_primitive_t p, const dnnl_memory_desc_t *src_md, const void *src,
                          const dnnl_memory_desc_t *dst_md, float *dst, int count, const dnnl_exec_arg_t *more) {
    dnnl_memory_t s = NULL, d = NULL;
    int failed = dnnl_memory_create(&s, src_md, sl_dnnl_engine, (void *)src) != dnnl_success
              || dnnl_memory_create(&d, dst_md, sl_dnnl_engine, dst) != dnnl_success;
    if (!failed) {
        dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, s}, {DNNL_ARG_DST, d}};
        for (int i = 0; i < count && i < 3; i++) args[2 + i] = more[i];
        failed = sl_dnnl_run_primitive(p, 2 + (count < 3 ? count : 3), args);
    }
    if (s) dnnl_memory_destroy(s);
    if (d) dnnl_memory_destroy(d);
    return failed;
}

sl_dnnl_conv *sl_dnnl_conv_create(int N, int H, int W, int C, int K, int KH, int KW, int sy, int sx, int dy, int dx,
                                  int pad_top, int pad_left, int OH, int OW, const float *kernel, const float *bias,
                                  sl_activation activation, float relu_max, int accumulate, int bf16, char *impl,
                                  size_t impl_length, char *error, size_t error_length) {
    return sl_dnnl_grouped_conv_create(N, H, W, C, K, 1, KH, KW, sy, sx, dy, dx, pad_top, pad_left, OH, OW, kernel,
                                       bias, activation, relu_max, accumulate, bf16, impl, impl_length, error,
                                       error_length);
}

sl_dnnl_conv *sl_dnnl_grouped_conv_create(int N, int H, int W, int C, int K, int G, int KH, int KW, int sy, int sx,
                                          int dy, int dx, int pad_top, int pad_left, int OH, int OW,
                                          const float *kernel, const float *bias, sl_activation activation,
                                          float relu_max, int accumulate, int bf16, char *impl, size_t impl_length,
                                          char *error, size_t error_length) {
    if (!sl_dnnl_ready(error, error_length)) return NULL;
    sl_dnnl_conv *c = calloc(1, sizeof *c);
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t ops = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_memory_t user_weights = NULL;
    if (!c) { snprintf(error, error_length, "out of memory"); return NULL; }
    dnnl_dims_t src = {N, C, H, W}, bia = {K}, dst = {N, K, OH, OW};
    sl_dnnl_weights_dims wei = sl_dnnl_weights(C, K, G, KH, KW);
    dnnl_dims_t strides = {sy, sx}, dilates = {dy - 1, dx - 1}, pad_l = {pad_top, pad_left};
    dnnl_dims_t pad_r = {sl_dnnl_far_pad(H, OH, KH, sy, dy, pad_top), sl_dnnl_far_pad(W, OW, KW, sx, dx, pad_left)};
    dnnl_memory_desc_t wei_any, wei_user, bias_md;
    dnnl_data_type_t type = bf16 ? dnnl_bf16 : dnnl_f32;
    c->bf16 = bf16;
    c->src_count = (size_t)N * H * W * C;
    TRY(dnnl_memory_desc_init_by_tag(&c->src_md, 4, src, type, dnnl_nhwc), "source descriptor");
    TRY(dnnl_memory_desc_init_by_tag(&c->dst_md, 4, dst, dnnl_f32, dnnl_nhwc), "destination descriptor");
    TRY(dnnl_memory_desc_init_by_tag(&wei_any, wei.rank, wei.dims, type, dnnl_format_tag_any), "weights descriptor");
    TRY(dnnl_memory_desc_init_by_tag(&wei_user, wei.rank, wei.dims, dnnl_f32, wei.user), "weights descriptor");
    TRY(dnnl_memory_desc_init_by_tag(&bias_md, 1, bia, dnnl_f32, dnnl_x), "bias descriptor");
    dnnl_convolution_desc_t desc;
    TRY(dnnl_dilated_convolution_forward_desc_init(&desc, dnnl_forward_inference, dnnl_convolution_direct, &c->src_md,
                                                   &wei_any, &bias_md, &c->dst_md, strides, dilates, pad_l, pad_r),
        "convolution descriptor");
    attr = sl_dnnl_attr();
    TRY(attr ? dnnl_success : dnnl_out_of_memory, "attributes");
    TRY(dnnl_post_ops_create(&ops), "post-ops");
    if (accumulate == 1) TRY(dnnl_post_ops_append_sum(ops, 1.0f), "sum post-op");
    if (accumulate == 2) TRY(dnnl_post_ops_append_binary(ops, dnnl_binary_add, &c->dst_md), "residual post-op");
    if (activation == SL_ACT_RELU) {
        if (isinf(relu_max)) TRY(dnnl_post_ops_append_eltwise(ops, 1.0f, dnnl_eltwise_relu, 0.f, 0.f), "ReLU post-op");
        else TRY(dnnl_post_ops_append_eltwise(ops, 1.0f, dnnl_eltwise_clip_v2, 0.f, relu_max), "clip post-op");
    }
    TRY(dnnl_primitive_attr_set_post_ops(attr, ops), "post-ops");
    TRY(dnnl_primitive_desc_create(&pd, &desc, attr, sl_dnnl_engine, NULL), "convolution primitive");
    const char *name = NULL;
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &name) == dnnl_success && name)
        snprintf(impl, impl_length, "%s", name);
    const dnnl_memory_desc_t *chosen = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    TRY(dnnl_memory_create(&c->weights, chosen, sl_dnnl_engine, DNNL_MEMORY_ALLOCATE), "weights memory");
    TRY(dnnl_memory_create(&user_weights, &wei_user, sl_dnnl_engine, (void *)kernel), "weights memory");
    {
        dnnl_primitive_desc_t rpd;
        dnnl_primitive_t reorder;
        TRY(dnnl_reorder_primitive_desc_create(&rpd, &wei_user, sl_dnnl_engine, chosen, sl_dnnl_engine, NULL), "weights reorder");
        dnnl_status_t made = dnnl_primitive_create(&reorder, rpd);
        dnnl_primitive_desc_destroy(rpd);
        TRY(made, "weights reorder");
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, user_weights}, {DNNL_ARG_TO, c->weights}};
        int failed = sl_dnnl_run_primitive(reorder, 2, args);
        dnnl_primitive_destroy(reorder);
        TRY(failed ? dnnl_runtime_error : dnnl_success, "weights reorder");
    }
    TRY(dnnl_memory_create(&c->bias, &bias_md, sl_dnnl_engine, DNNL_MEMORY_ALLOCATE), "bias memory");
    {
        void *handle = NULL;
        TRY(dnnl_memory_get_data_handle(c->bias, &handle), "bias memory");
        if (bias) memcpy(handle, bias, sizeof(float) * K); else memset(handle, 0, sizeof(float) * K);
    }
    TRY(dnnl_primitive_create(&c->primitive, pd), "convolution primitive");
    dnnl_memory_destroy(user_weights);
    dnnl_primitive_desc_destroy(pd);
    dnnl_post_ops_destroy(ops);
    dnnl_primitive_attr_destroy(attr);
    return c;
fail:
    if (user_weights) dnnl_memory_destroy(user_weights);
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (ops) dnnl_post_ops_destroy(ops);
    if (attr) dnnl_primitive_attr_destroy(attr);
    sl_dnnl_conv_destroy(c);
    return NULL;
}

int sl_dnnl_conv_run(const sl_dnnl_conv *c, const float *src, float *dst) {
    return sl_dnnl_conv_run_adding(c, src, NULL, dst);
}

int sl_dnnl_conv_run_adding(const sl_dnnl_conv *c, const float *src, const float *residual, float *dst) {
    dnnl_memory_t added = NULL;
    if (residual && dnnl_memory_create(&added, &c->dst_md, sl_dnnl_engine, (void *)residual) != dnnl_success) return 1;
    dnnl_exec_arg_t more[3] = {
        {DNNL_ARG_WEIGHTS, c->weights}, {DNNL_ARG_BIAS, c->bias},
        {DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1, added}};
    int count = residual ? 3 : 2, failed = 1;
    if (!c->bf16) {
        failed = run_on_buffers(c->primitive, &c->src_md, src, &c->dst_md, dst, count, more);
    } else {
        uint16_t *converted = sl_bf16_copy(src, c->src_count);
        if (converted) failed = run_on_buffers(c->primitive, &c->src_md, converted, &c->dst_md, dst, count, more);
        sl_bf16_free(converted);
    }
    if (added) dnnl_memory_destroy(added);
    return failed;
}

void sl_dnnl_conv_destroy(sl_dnnl_conv *c) {
    if (!c) return;
    if (c->primitive) dnnl_primitive_destroy(c->primitive);
    if (c->weights) dnnl_memory_destroy(c->weights);
    if (c->bias) dnnl_memory_destroy(c->bias);
    free(c);
}

struct sl_dnnl_pool {
    dnnl_primitive_t primitive;
    dnnl_memory_desc_t src_md, dst_md;
};

sl_dnnl_pool *sl_dnnl_pool_create(int N, int H, int W, int C, int KH, int KW, int sy, int sx, int pad_top, int pad_left,
                                  int OH, int OW, int average, char *error, size_t error_length) {
    if (!sl_dnnl_ready(error, error_length)) return NULL;
    sl_dnnl_pool *p = calloc(1, sizeof *p);
    dnnl_primitive_desc_t pd = NULL;
    if (!p) { snprintf(error, error_length, "out of memory"); return NULL; }
    dnnl_dims_t src = {N, C, H, W}, dst = {N, C, OH, OW}, strides = {sy, sx}, kernel = {KH, KW}, dilation = {0, 0};
    dnnl_dims_t pad_l = {pad_top, pad_left}, pad_r = {sl_dnnl_far_pad(H, OH, KH, sy, 1, pad_top), sl_dnnl_far_pad(W, OW, KW, sx, 1, pad_left)};
    TRY(dnnl_memory_desc_init_by_tag(&p->src_md, 4, src, dnnl_f32, dnnl_nhwc), "source descriptor");
    TRY(dnnl_memory_desc_init_by_tag(&p->dst_md, 4, dst, dnnl_f32, dnnl_nhwc), "destination descriptor");
    dnnl_pooling_v2_desc_t desc;
    TRY(dnnl_pooling_v2_forward_desc_init(&desc, dnnl_forward_inference,
                                          average ? dnnl_pooling_avg_exclude_padding : dnnl_pooling_max, &p->src_md,
                                          &p->dst_md, strides, kernel, dilation, pad_l, pad_r),
        "pooling descriptor");
    TRY(dnnl_primitive_desc_create(&pd, &desc, NULL, sl_dnnl_engine, NULL), "pooling primitive");
    TRY(dnnl_primitive_create(&p->primitive, pd), "pooling primitive");
    dnnl_primitive_desc_destroy(pd);
    return p;
fail:
    if (pd) dnnl_primitive_desc_destroy(pd);
    sl_dnnl_pool_destroy(p);
    return NULL;
}

int sl_dnnl_pool_run(const sl_dnnl_pool *p, const float *src, float *dst) {
    return run_on_buffers(p->primitive, &p->src_md, src, &p->dst_md, dst, 0, NULL);
}

void sl_dnnl_pool_destroy(sl_dnnl_pool *p) {
    if (!p) return;
    if (p->primitive) dnnl_primitive_destroy(p->primitive);
    free(p);
}

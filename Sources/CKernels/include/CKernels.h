// Sightline's compute kernels in C: one thread pool (the OpenMP team oneDNN already uses),
// Winograd F(4x4,3x3) convolution on NHWC and its kernel gradient, 1x1 kernel gradients as
// GEMMs, and oneDNN convolution and pooling primitives.
// Every function that can fail returns NULL or a non-zero status and writes a message; none
// aborts the process.
#pragma once
#include <stddef.h>
#include <stdint.h>

// ---- threads (parallel.c)

/// Calls body(context, start, end) on disjoint ranges covering [0, count), one per thread of
/// the OpenMP team (libgomp, shared with oneDNN), and returns when all are done. Runs inline
/// when count < 2 or when already inside a parallel region.
void sl_parallel_for(int64_t count, void *context, void (*body)(void *context, int64_t start, int64_t end));
/// Threads in the team used by sl_parallel_for and oneDNN.
int sl_thread_count(void);
/// Sets the team size for this thread's future parallel regions (and oneDNN's).
void sl_set_thread_count(int threads);
/// The cores this process may run on (its CPU affinity mask, as libgomp reads it).
int sl_available_cores(void);
/// Applies the team size set by sl_set_thread_count to the calling thread (oneDNN reads it per
/// thread); every kernel entry point calls it.
void sl_use_configured_threads(void);
/// 1 when the CPU has AVX-512F and DQ (the Winograd kernel uses them when present), else 0.
int sl_cpu_has_avx512(void);

// ---- Winograd F(4x4, 3x3) and F(2x2, 3x3) (winograd.c, winograd_weights.c)

typedef struct sl_winograd sl_winograd;

/// Epilogue activations the kernels apply while the output is in registers.
typedef enum { SL_ACT_NONE = 0, SL_ACT_RELU = 1 } sl_activation;

/// Prepares a 3x3, stride-1 convolution of C input and K output channels (both multiples of 16)
/// for input maps H x W giving OH x OW outputs with pad_top/pad_left zeros before the image:
/// transforms the HWIO kernel [3][3][C][K] once (in float64) into U [(m+2)²][C][K], m the
/// output tile side: 4 (F(4x4,3x3), 36 points) or 2 (F(2x2,3x3), 16 points). With flipped, the
/// kernel is another layer's HWIO [3][3][K][C], used rotated by 180° with its channels swapped
/// (the convolution that gives that layer's input gradient).
/// relu_max: upper clip of the ReLU (INFINITY for a plain ReLU). bias may be NULL.
/// Returns NULL (message in error) when the CPU lacks AVX2+FMA and AVX-512 or the shape does not fit.
sl_winograd *sl_winograd_create(const float *kernel_hwio, int flipped, const float *bias, int C, int K, int H, int W,
                                int OH, int OW, int pad_top, int pad_left, sl_activation activation, float relu_max,
                                int m, char *error, size_t error_length);
/// y[N][OH][OW][K] = act(conv(x) + bias (+ y when accumulate)); x is [N][H][W][C].
/// Returns 0, or 1 when no scratch memory could be allocated (y is then incomplete).
int sl_winograd_run(const sl_winograd *plan, const float *x, int N, float *y, int accumulate);
void sl_winograd_destroy(sl_winograd *plan);
/// How sl_winograd_kernel_gradient shares its sums between threads (winograd_weights.c): AUTO
/// picks by sl_winograd_kernel_gradient_split; TILES gives each thread a fixed slice of the tiles
/// and sums of its own; POINTS transforms the whole batch, then gives each thread whole sums of
/// some transform-domain points.
typedef enum { SL_WINO_SPLIT_AUTO = 0, SL_WINO_SPLIT_TILES = 1, SL_WINO_SPLIT_POINTS = 2 } sl_wino_split;
/// The kernel gradient of the same kind of convolution (3x3, stride 1, C and K multiples of 16)
/// by F(m x m,3x3) transposed, m = 4 or 2 (winograd_weights.c): dw HWIO [3][3][C][K] = (or +=
/// when accumulate) the correlation of x [N][H][W][C] with dy [N][OH][OW][K], pad_top/pad_left
/// zeros before the image, and, when db is not NULL, the bias gradient db [K] = (or +=) the sum
/// of dy over images and positions; with column_scale [K] (else NULL) both are multiplied by it
/// per output channel after rounding to float (a frozen BatchNorm folded into the layer). With
/// the tile split the tiles are summed in `slices` fixed ranges, one thread each (the thread
/// count); the split is chosen from the shape and `slices`: the result depends on them only, so
/// it repeats bitwise. Returns 0; 1 when scratch memory could not be allocated, 2 when the CPU
/// lacks AVX2+FMA or the shape does not fit (dw and db are then untouched).
int sl_winograd_kernel_gradient(const float *x, const float *dy, int N, int C, int K, int H, int W, int OH, int OW,
                                int pad_top, int pad_left, int m, int slices, sl_wino_split split,
                                const float *column_scale, float *dw, float *db, int accumulate);
/// The split SL_WINO_SPLIT_AUTO takes: POINTS when the whole batch's transforms (4·tiles·(m+2)²·(C+K)
/// bytes) are at most 32 MiB and no more than the tile slices' sums move (4·(m+2)²·C·K bytes per
/// slice and block of 128 tiles), else TILES.
sl_wino_split sl_winograd_kernel_gradient_split(int N, int C, int K, int OH, int OW, int m, int slices);

/// The kernel and bias gradients of a 1x1 convolution without padding as GEMMs split over rows
/// (pointwise_weights.c): x [N][H][W][C] and dy [N][OH][OW][K] give dw [C][K] = xᵀ dy over the
/// input pixels (oy·sy, ox·sx) the outputs read (the HWIO kernel [1][1][C][K]) and, when db is
/// not NULL, db [K] = the sum of dy's rows; both overwritten, and multiplied per output channel by
/// column_scale [K] when it is not NULL (after rounding to float: a frozen BatchNorm folded into
/// the layer). With stride 1, OH = H and OW = W. The rows are summed in `slices` fixed ranges, one
/// thread each (the thread count): the result depends on that number only. Returns 0; 1 when
/// scratch memory could not be allocated, 2 when the geometry is inconsistent (dw and db untouched).
int sl_pointwise_kernel_gradient(const float *x, const float *dy, int N, int H, int W, int C, int sy, int sx, int OH,
                                 int OW, int K, int slices, const float *column_scale, float *dw, float *db);
/// Derivatives of ReLU-like activations (1 where low < value < high, else 0; no upper bound when
/// high is INFINITY) that `sl_pointwise_backward` applies chunk by chunk, as multiplies (a NaN
/// gradient stays NaN). The layer's own, when gradient is not NULL: before the chunk's GEMMs,
/// gradient [R][K] (the same storage as dy, rewritten in place) becomes (gradient + other) ·
/// [low < output < high]; other [R][K] (the sum of the other readers' gradients) may be NULL;
/// output [R][K] is the activation's output. The previous layer's, when input_derivative is
/// nonzero: after the chunk's input-gradient GEMM, dx ·= [input_low < x < input_high], x the
/// layer's input (that activation's output). With keep_gradient nonzero the layer's own derivative
/// goes to scratch a chunk at a time and gradient is left as it was (for callers that have no use
/// for the pre-activation gradient: no write-back of the layer's largest gradient).
typedef struct {
    float *gradient;
    const float *other, *output;
    float low, high;
    int input_derivative;
    float input_low, input_high;
    int keep_gradient;
} sl_pointwise_derivative;
/// `sl_pointwise_kernel_gradient`, and with stride 1 and dx not NULL also the input gradient
/// dx [N][H][W][C] = dy · kernelᵀ (kernel the HWIO [1][1][C][K], overwritten), each chunk's GEMM
/// run right after its kernel-gradient GEMM while that chunk of dy is in cache: the layer's
/// widest gradient crosses memory once instead of twice. With derivative (NULL: none), dy is
/// first turned into the pre-activation gradient in place, chunk by chunk (its gradient must be
/// dy), and dx multiplied by the previous layer's derivative. Returns 0; 1 when scratch memory
/// could not be allocated (the layer's own derivative is applied to all of dy even then, dx is
/// incomplete); 2, touching nothing, when the geometry is inconsistent, dx is asked for with a
/// stride above 1 or not at all with an input derivative, or derivative does not name dy.
int sl_pointwise_backward(const float *x, const float *dy, const float *kernel, int N, int H, int W, int C, int sy,
                          int sx, int OH, int OW, int K, int slices, const float *column_scale, float *dw, float *db,
                          float *dx, const sl_pointwise_derivative *derivative);
/// The kernel and bias gradients of a KH×KW convolution with stride (sy, sx) and zero padding
/// (pad_top, pad_left) as GEMMs over gathered patches (pointwise_weights.c; meant for few input
/// channels, a stem): dw [KH][KW][C][K] (HWIO) = patchesᵀ dy, patches the [N·OH·OW][KH·KW·C]
/// windows the outputs read (zeros outside x), db [K] as in sl_pointwise_kernel_gradient. With
/// derivative (NULL: none; only the layer's own, `gradient` being dy), dy first becomes the
/// pre-activation gradient chunk by chunk, in place unless keep_gradient. Sums in `slices` fixed
/// ranges as sl_pointwise_kernel_gradient. Returns 0; 1 when scratch memory could not be
/// allocated (an in-place derivative is applied to all of dy even then); 2, touching nothing, when
/// the geometry is inconsistent or the derivative asks for an input derivative or does not name dy.
int sl_patch_kernel_gradient(const float *x, const float *dy, int N, int H, int W, int C, int KH, int KW, int sy,
                             int sx, int pad_top, int pad_left, int OH, int OW, int K, int slices,
                             const float *column_scale, float *dw, float *db,
                             const sl_pointwise_derivative *derivative);

/// The forward pass of a 1x1 stride-1 convolution without padding with a residual added
/// (pointwise_forward.c): y [rows][K] = act(x [rows][C] · kernel [C][K] + bias [K] + residual
/// [rows][K]), kernel the HWIO [1][1][C][K], bias may be NULL, residual may be NULL or y itself
/// (summed in place), else it must not overlap y; act as in sl_winograd_create. Chunks of rows
/// split between the threads, no sum across them: a repeat ends bitwise equal. Returns 0, or 1
/// when the shape is empty, the activation unknown or memory short (y untouched).
int sl_pointwise_forward(const float *x, const float *kernel, const float *bias, const float *residual, int64_t rows,
                         int C, int K, sl_activation activation, float relu_max, float *y);

/// The element-wise functions oneDNN's eltwise primitives compute (onednn_eltwise.c): swish
/// x·sigmoid(αx), hard swish x·relu6(x + 3)/6, GELU (tanh approximation or exact erf), sigmoid,
/// tanh, ELU (α(eˣ − 1) below 0).
typedef enum {
    SL_ELTWISE_SWISH,
    SL_ELTWISE_HARDSWISH,
    SL_ELTWISE_GELU_TANH,
    SL_ELTWISE_GELU_ERF,
    SL_ELTWISE_LOGISTIC,
    SL_ELTWISE_TANH,
    SL_ELTWISE_ELU,
} sl_eltwise;
/// dst[i] = f(src[i]) for `count` values (α: swish's and ELU's parameter); dst may be src.
/// Returns 0, or 1 when oneDNN is unavailable or declined.
int sl_dnnl_eltwise_forward(sl_eltwise function, float alpha, const float *src, float *dst, int64_t count);
/// diff_src[i] = diff_dst[i] · f′ at value i, where `data` is the forward's source for swish, hard
/// swish and GELU, and its output for sigmoid, tanh and ELU; diff_src may be diff_dst. Returns 0,
/// or 1 as the forward does.
int sl_dnnl_eltwise_backward(sl_eltwise function, float alpha, const float *data, const float *diff_dst,
                             float *diff_src, int64_t count);

/// The arguments of `sl_depthwise_backward`. Tensors are NHWC float32: input x [N][H][W][C], the
/// output gradient diff_dst [N][OH][OW][C], the layer's output y [N][OH][OW][C], the kernel
/// [KH][KW][C] (HWIO with one output per channel). Output pixel (oy, ox) reads input pixel
/// (oy·stride_y − pad_top + ky·dilation_y, ox·stride_x − pad_left + kx·dilation_x) for each tap.
typedef struct {
    int N, H, W, C, KH, KW, stride_y, stride_x, dilation_y, dilation_x, pad_top, pad_left, OH, OW;
    const float *input;     // x; needed for diff_kernel and input_derivative
    const float *kernel;    // needed for diff_src
    const float *diff_dst;  // ∂L/∂y, left unchanged
    /// When not NULL, the layer's activation is a ReLU-like clip and diff_dst is multiplied by 1
    /// where output_low < y < output_high, else 0 (a multiply: a NaN gradient stays NaN).
    const float *output;
    float output_low, output_high;
    /// When nonzero, diff_src is multiplied by 1 where input_low < x < input_high, else 0: the
    /// derivative of the previous layer's ReLU-like activation, whose output x is.
    int input_derivative;
    float input_low, input_high;
    float *diff_src;     // [N][H][W][C], overwritten; NULL when not wanted
    float *diff_kernel;  // [KH][KW][C], overwritten; NULL when not wanted
    float *diff_bias;    // [C], overwritten; NULL when not wanted
    int slices;          // threads; the kernel and bias sums depend on this number only
} sl_depthwise_backward_args;

/// The backward pass of a depthwise convolution with depth multiplier 1 (depthwise_backward.c):
/// the input, kernel and bias gradients from one sweep over the output rows, with the layer's own
/// activation derivative and the previous layer's applied on the way. Returns 0, or 1 when the
/// arguments are inconsistent or scratch memory could not be allocated (outputs then undefined).
int sl_depthwise_backward(const sl_depthwise_backward_args *args);

/// The input gradient of a 1x1 convolution without padding and with a stride above 1
/// (pointwise_data.c): dx [N][H][W][C] = dy [N][OH][OW][K] · kernelᵀ (the HWIO kernel [1][1][C][K])
/// at the pixels (oy·sy, ox·sx) the outputs read, and 0 at every other pixel; dx overwritten.
/// GEMMs over groups of output rows into scratch, scattered; the groups split over `slices`
/// threads, no sum across threads: a repeat with the same count ends bitwise equal. Returns 0, or 1 when
/// the geometry is inconsistent or scratch memory could not be allocated.
int sl_strided_pointwise_input_gradient(const float *dy, const float *kernel, int N, int H, int W, int C, int sy,
                                        int sx, int OH, int OW, int K, int slices, float *dx);

/// The horizontal pass of a separable resize of 8-bit RGB rows (resize_rows.c): src [h][w][3]
/// bytes to out [h][width][3] floats, where output x sums, in ascending order, taps
/// first[x] + t for t < count[x] with weights[x * taps + t] (each row of weights padded to
/// `taps`, the longest count). Every sum is weight × pixel added in tap order from +0, no fused
/// multiply-add: bit for bit the scalar loop. `max_lanes` caps the vector width (16 AVX-512,
/// 8 AVX2, 1 scalar; 0 takes the widest the CPU has), for tests of every variant. Returns 0, or
/// 1 when the shape is empty or scratch memory could not be allocated (out untouched).
int sl_resize_rows_rgb8(const uint8_t *src, int h, int w, int width, const int32_t *first, const int32_t *count,
                        const float *weights, int taps, int max_lanes, float *out);

/// One draw of the default augmentation's geometry (augment_warp.c): output pixel (x, y) reads
/// the source at the inverse map ((x − cx − dx) / scale, (y − cy − dy) / scale) rotated by the
/// angle whose cosine and sine are given, shifted back by (cx, cy), mirrored when `flip`, with
/// reflected borders; `gain` scales the bilinear sample, clamped to 0…255.
typedef struct {
    float cx, cy, dx, dy, scale, cosine, sine, gain;
    int flip;
} sl_warp;

/// The augmentation warp of src [h][w][c] floats into out [h][w][c] (augment_warp.c): every
/// operation rounded on its own in the order of the scalar loop, so the AVX2 and scalar paths
/// agree bit for bit. `max_lanes` caps the vector width (8 or more: AVX2 where the CPU has it;
/// 1: scalar; 0 the widest the CPU has), for tests of every path. Returns 0, or 1 when the shape is empty or too large for 32-bit
/// indices (out untouched).
int sl_augment_warp(const float *src, int h, int w, int c, const sl_warp *warp, int max_lanes, float *out);

// ---- oneDNN primitives on NHWC (onednn.c)

typedef struct sl_dnnl_conv sl_dnnl_conv;

/// A oneDNN forward-inference convolution for batch N: src [N][H][W][C], HWIO kernel
/// [KH][KW][C][K], dst [N][OH][OW][K]; weights reordered once into the layout oneDNN picks.
/// Post-ops: accumulate 1 adds the prior dst (a residual, in place), 2 adds a separate residual
/// tensor of dst's shape (sl_dnnl_conv_run_adding; the residual is only read), then the
/// activation (relu_max as in sl_winograd_create). impl receives oneDNN's implementation name.
/// NULL on failure.
/// bf16: source and weights in bfloat16 (weights converted once, the source per run with
/// round-to-nearest-even), products accumulated and written in float32; the caller checks
/// sl_cpu_has_bf16 first (elsewhere oneDNN offers only its slow reference implementation).
sl_dnnl_conv *sl_dnnl_conv_create(int N, int H, int W, int C, int K, int KH, int KW, int stride_y, int stride_x,
                                  int dilation_y, int dilation_x, int pad_top, int pad_left, int OH, int OW,
                                  const float *kernel_hwio, const float *bias, sl_activation activation,
                                  float relu_max, int accumulate, int bf16, char *impl, size_t impl_length, char *error,
                                  size_t error_length);
/// sl_dnnl_conv_create in `groups` groups (K and C multiples of groups): the kernel is Keras's
/// [KH, KW, C/groups, K], output channel g·K/groups + o reading input channels of group g
/// (a depthwise convolution with multiplier M: groups = C, K = C·M, kernel [KH, KW, C, M]).
sl_dnnl_conv *sl_dnnl_grouped_conv_create(int N, int H, int W, int C, int K, int groups, int KH, int KW, int stride_y,
                                          int stride_x, int dilation_y, int dilation_x, int pad_top, int pad_left,
                                          int OH, int OW, const float *kernel, const float *bias,
                                          sl_activation activation, float relu_max, int accumulate, int bf16,
                                          char *impl, size_t impl_length, char *error, size_t error_length);
/// Runs the convolution; returns 0 on success.
int sl_dnnl_conv_run(const sl_dnnl_conv *conv, const float *src, float *dst);
/// Runs a convolution made with accumulate 2: dst = activation(conv(src) + bias + residual),
/// residual [N][OH][OW][K] unchanged (dst must not alias it); returns 0 on success.
int sl_dnnl_conv_run_adding(const sl_dnnl_conv *conv, const float *src, const float *residual, float *dst);
void sl_dnnl_conv_destroy(sl_dnnl_conv *conv);

/// 1 when oneDNN runs on AVX512_BF16 (or AMX) instructions here, else 0.
int sl_cpu_has_bf16(void);
/// 1 when oneDNN runs AMX tile instructions on this CPU (Sapphire Rapids and later).
int sl_cpu_has_amx(void);
/// 1 when the CPU's vendor string (cpuid leaf 0) is AuthenticAMD, else 0.
int sl_cpu_is_amd(void);
/// Rounds each value to the nearest bfloat16 (ties to even; NaN and infinities kept), in place:
/// the rounding a bf16 convolution applies to its source and weights.
void sl_round_to_bf16(float *values, int64_t count);

typedef struct sl_dnnl_pool sl_dnnl_pool;

/// A oneDNN forward-inference pooling for batch N on NHWC: max, or average over the in-image
/// taps only (TensorFlow's `same`). NULL on failure.
sl_dnnl_pool *sl_dnnl_pool_create(int N, int H, int W, int C, int KH, int KW, int stride_y, int stride_x,
                                  int pad_top, int pad_left, int OH, int OW, int average, char *error,
                                  size_t error_length);
int sl_dnnl_pool_run(const sl_dnnl_pool *pool, const float *src, float *dst);
void sl_dnnl_pool_destroy(sl_dnnl_pool *pool);

// ---- oneDNN convolution backward (onednn_backward.c)
typedef struct sl_dnnl_conv_bwd sl_dnnl_conv_bwd;
/// Backward primitives of an NHWC convolution with an HWIO kernel, in `groups` groups (geometry
/// and kernel layout as sl_dnnl_grouped_conv_create): backward data when want_data, backward weights (kernel and bias
/// gradients) when want_weights. bf16: the source, output gradient and kernel rounded to
/// bfloat16 (converted per call; needs AVX512_BF16 or AMX, see sl_cpu_has_bf16), products
/// accumulated in float32, every gradient returned in float32. impl receives the
/// implementations' names. NULL on failure.
sl_dnnl_conv_bwd *sl_dnnl_conv_bwd_create(int N, int H, int W, int C, int K, int groups, int KH, int KW, int stride_y,
                                          int stride_x, int dilation_y, int dilation_x, int pad_top, int pad_left,
                                          int OH, int OW, int want_data, int want_weights, int bf16, char *impl,
                                          size_t impl_length, char *error, size_t error_length);
/// diff_src [N,H,W,C] = the input gradient of diff_dst [N,OH,OW,K] through the HWIO kernel.
int sl_dnnl_conv_bwd_data(const sl_dnnl_conv_bwd *conv, const float *kernel, const float *diff_dst, float *diff_src);
/// diff_kernel (HWIO) and diff_bias [K] (may be NULL) of src [N,H,W,C] and diff_dst; overwrites both.
int sl_dnnl_conv_bwd_weights(const sl_dnnl_conv_bwd *conv, const float *src, const float *diff_dst,
                             float *diff_kernel, float *diff_bias);
/// Both passes of one layer: `weights` (made with want_weights) then `data` (made with
/// want_data, the same geometry and type), the output gradient converted to bfloat16 once for
/// both when they are bf16 (instead of once per pass). Returns 0, or 1 when either fails.
int sl_dnnl_conv_bwd_both(const sl_dnnl_conv_bwd *weights, const sl_dnnl_conv_bwd *data, const float *kernel,
                          const float *src, const float *diff_dst, float *diff_kernel, float *diff_bias,
                          float *diff_src);
void sl_dnnl_conv_bwd_destroy(sl_dnnl_conv_bwd *conv);

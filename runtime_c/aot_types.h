/* SPDX-License-Identifier: Apache-2.0 */
/*
 * aot runtime: shared types, error codes and kernel parameter blocks.
 *
 * Every kernel takes a pointer to a const parameter block first. The compiler
 * fills these blocks at compile time ("Prepare") and emits them as const data,
 * so the kernels only compute ("Eval"). All tensors are dense, row-major, in
 * the layout named by each kernel's documentation in aot_kernels.h.
 */
#ifndef AOT_TYPES_H
#define AOT_TYPES_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One aot release ships one runtime; generated model headers check this. */
#define AOT_RUNTIME_VERSION 1

/* Return codes of <name>_run. */
#define AOT_OK 0
#define AOT_E_NULL (-1)       /* a required pointer was NULL */
#define AOT_E_ALIGN (-2)      /* the arena is not aligned to <NAME>_ARENA_ALIGN */
#define AOT_E_RANGE (-3)      /* a run-time index was out of range */

/* Tensors of up to this many dimensions are handled by the strided kernels. */
#define AOT_MAX_DIMS 6

/* Special float constants for generated constant data (no <math.h>). */
#if defined(__GNUC__) || defined(__clang__)
#define AOT_INFINITY (__builtin_inff())
#define AOT_NAN (__builtin_nanf(""))
#else
#define AOT_INFINITY (1e30f * 1e30f)
#define AOT_NAN (AOT_INFINITY - AOT_INFINITY)
#endif

/* Piecewise-linear activations that can be fused into a producing kernel. */
typedef enum {
    AOT_ACT_NONE = 0,
    AOT_ACT_RELU = 1,         /* max(x, 0) */
    AOT_ACT_CLIP = 2,         /* min(max(x, lo), hi) */
    AOT_ACT_LEAKY_RELU = 3,   /* x >= 0 ? x : alpha * x */
    AOT_ACT_HARD_SIGMOID = 4, /* max(0, min(1, alpha * x + beta)) */
    AOT_ACT_HARD_SWISH = 5    /* x * max(0, min(1, x / 6 + 1 / 2)) */
} aot_act_kind;

typedef struct {
    int32_t kind;  /* aot_act_kind */
    float alpha;
    float beta;
    float lo;
    float hi;
} aot_act_f32;

static inline float aot_act_apply_f32(const aot_act_f32 *act, float x)
{
    float t;
    switch (act->kind) {
    case AOT_ACT_RELU:
        return x < 0.0f ? 0.0f : x;
    case AOT_ACT_CLIP:
        if (x < act->lo) {
            x = act->lo;
        }
        return x > act->hi ? act->hi : x;
    case AOT_ACT_LEAKY_RELU:
        return x < 0.0f ? act->alpha * x : x;
    case AOT_ACT_HARD_SIGMOID:
        t = act->alpha * x + act->beta;
        t = t < 0.0f ? 0.0f : t;
        return t > 1.0f ? 1.0f : t;
    case AOT_ACT_HARD_SWISH:
        t = x * (1.0f / 6.0f) + 0.5f;
        t = t < 0.0f ? 0.0f : t;
        t = t > 1.0f ? 1.0f : t;
        return x * t;
    default:
        return x;
    }
}

/* 2-D convolution, NCHW; also 1-D (in_h = out_h = kernel_h = 1). */
typedef struct {
    int32_t batch;
    int32_t in_c, in_h, in_w;
    int32_t out_c, out_h, out_w;
    int32_t kernel_h, kernel_w;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_top, pad_left;  /* bottom/right padding is implied by out_h/out_w */
    int32_t groups;
    aot_act_f32 act;
} aot_conv2d_params;

/* A float convolution whose input and/or output is channel-blocked ("c16"): a tensor
 * [N][C][H][W] held as [N][C / 16][H][W][16] (C a multiple of 16), so that 16
 * channels of a pixel are one vector; the other side, where the flag is 0, is NCHW. */
typedef struct {
    aot_conv2d_params conv;
    int32_t input_c16;
    int32_t output_c16;
} aot_conv2d_c16_params;

/* A depthwise convolution run in place (aot_depthwise_conv2d_inplace_f32 and
 * _s8): the convolution, and how many output rows the scratch ring holds
 * (the lowering rule computes it, see targets/rules_inplace.py). */
typedef struct {
    aot_conv2d_params conv;
    int32_t ring_rows;
} aot_depthwise_conv2d_inplace_params;

/*
 * Batched matrix product Y[b] = act(alpha * A[b] x B[b] + beta * bias).
 * Element (i, k) of A[b] is a[a_offsets[b] + i * a_row_stride + k * a_k_stride];
 * element (k, j) of B[b] is b[b_offsets[b] + k * b_k_stride + j * b_col_stride].
 * Y is dense [batch][m][n]. bias (optional) element (i, j) is
 * bias[i * bias_row_stride + j * bias_col_stride] (strides 0 broadcast).
 */
typedef struct {
    int32_t batch;
    int32_t m, n, k;
    int32_t a_row_stride, a_k_stride;
    int32_t b_k_stride, b_col_stride;
    int32_t bias_row_stride, bias_col_stride;
    float alpha, beta;
    const int32_t *a_offsets;  /* [batch], or NULL meaning all 0 */
    const int32_t *b_offsets;  /* [batch], or NULL meaning all 0 */
    aot_act_f32 act;
} aot_matmul_params;

/*
 * Broadcasting elementwise binary op over `ndim` collapsed output dims.
 * Strides are in elements; a stride of 0 broadcasts that operand.
 * ndim == 0 means all three tensors are dense with `size` elements.
 */
typedef struct {
    int32_t size;
    int32_t ndim;
    int32_t dims[AOT_MAX_DIMS];
    int32_t a_strides[AOT_MAX_DIMS];
    int32_t b_strides[AOT_MAX_DIMS];
    aot_act_f32 act;
} aot_binary_params;

/* Elementwise unary op over `size` dense elements. */
typedef struct {
    int32_t size;
    aot_act_f32 act;  /* used by aot_activation_f32 only */
} aot_unary_params;

/* Softmax over the middle axis of a dense [outer][axis][inner] tensor. */
typedef struct {
    int32_t outer, axis, inner;
} aot_softmax_params;

/* Reduction over the middle axis of a dense [outer][reduce][inner] tensor. */
typedef struct {
    int32_t outer, reduce, inner;
} aot_reduce_params;

/* 2-D pooling, NCHW with batch and channels merged into `planes`. */
typedef struct {
    int32_t planes;
    int32_t in_h, in_w;
    int32_t out_h, out_w;
    int32_t kernel_h, kernel_w;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_top, pad_left, pad_bottom, pad_right;
    int32_t count_include_pad;  /* average pooling only */
} aot_pool2d_params;

/* Transpose: out[i0..in] = in[sum(i_d * in_strides[d])] over out dims. */
typedef struct {
    int32_t ndim;
    int32_t out_dims[AOT_MAX_DIMS];
    int32_t in_strides[AOT_MAX_DIMS];  /* input stride of each output dim */
} aot_transpose_params;

/* Copies `rows` rows of `row_bytes` bytes between strided buffers. */
typedef struct {
    int32_t rows;
    int32_t row_bytes;
    int32_t src_stride;  /* bytes */
    int32_t dst_stride;  /* bytes */
} aot_copy2d_params;

/* In-place transpose of `batch` matrices [rows][cols] of elem_bytes-byte
 * elements into [cols][rows] (aot_transpose2d_inplace). */
typedef struct {
    int32_t batch;
    int32_t rows, cols;
    int32_t elem_bytes;
} aot_transpose2d_inplace_params;

typedef enum {
    AOT_PAD_CONSTANT = 0,
    AOT_PAD_REFLECT = 1,
    AOT_PAD_EDGE = 2,
    AOT_PAD_WRAP = 3
} aot_pad_mode;

/* N-d padding; pads_begin may be negative (cropping). */
typedef struct {
    int32_t ndim;
    int32_t in_dims[AOT_MAX_DIMS];
    int32_t out_dims[AOT_MAX_DIMS];
    int32_t pads_begin[AOT_MAX_DIMS];
    int32_t mode;  /* aot_pad_mode */
    float value;
} aot_pad_params;

/* y[o][c][i] = x[o][c][i] * scale[c] + shift[c] over a dense [outer][channels][inner]. */
typedef struct {
    int32_t outer, channels, inner;
} aot_scale_shift_params;

/* Resize of the last two axes of a dense [planes][in_h][in_w] tensor into
 * [planes][out_h][out_w] (aot_resize_nearest_f32, aot_resize_separable_f32). */
typedef struct {
    int32_t planes;
    int32_t in_h, in_w;
    int32_t out_h, out_w;
    int32_t taps_h, taps_w;     /* separable only: taps per output row / column */
    float extrapolation_value;  /* where a table index is -1 (tf_crop_and_resize) */
} aot_resize_params;

/* int8 resize (aot_resize_nearest_s8, aot_resize_separable_s8): as aot_resize_params,
 * with the extrapolation value as an int8 code of the tensor's parameters. */
typedef struct {
    int32_t planes;
    int32_t in_h, in_w;
    int32_t out_h, out_w;
    int32_t taps_h, taps_w;
    int32_t extrapolation_code;
} aot_resize_s8_params;


/*
 * ---- int8 (TFLite int8 scheme) ----
 * Requantization: y = MultiplyByQuantizedMultiplier(acc, multiplier, shift),
 * with TFLite's double rounding (saturating rounding doubling high multiply,
 * then rounding divide by 2^-shift for shift < 0; left shift of the input for
 * shift > 0). Zero points are stored as offsets as TFLite does:
 * input_offset = -input_zero_point, output_offset = output_zero_point.
 */

/* Convolution, NCHW int8 in/out, int8 weights [out_c][in_c/groups][kh][kw]
 * (per-channel scale), int32 bias [out_c] or NULL.
 * weights_offsets: [out_c] minus each output channel's weight zero point,
 * read by aot_conv2d_asym_s8 and aot_conv2d_s8_s32 (NULL: all 0);
 * aot_conv2d_s8 (TFLite: symmetric weights) ignores it.
 * aot_conv2d_s8_s32 (ConvInteger) takes the same block and writes the int32
 * sums; it ignores output_offset, act_min/act_max, multipliers and shifts. */
typedef struct {
    int32_t batch;
    int32_t in_c, in_h, in_w;
    int32_t out_c, out_h, out_w;
    int32_t kernel_h, kernel_w;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_top, pad_left;
    int32_t groups;
    int32_t input_offset;
    int32_t output_offset;
    int32_t act_min, act_max;          /* output clamp, in int8 codes */
    const int32_t *multipliers;        /* [out_c] */
    const int32_t *shifts;             /* [out_c] */
    const int32_t *weights_offsets;    /* [out_c], or NULL: all 0 */
} aot_conv2d_s8_params;

/* aot_depthwise_conv2d_inplace_s8: as aot_depthwise_conv2d_inplace_params. */
typedef struct {
    aot_conv2d_s8_params conv;
    int32_t ring_rows;
} aot_depthwise_conv2d_inplace_s8_params;

/* Fully connected: y[m][n] = requant_n(sum_k (x[m][k] + input_offset) *
 * (w[n][k] + weights_offset_n) + bias[n]); weights are [n][k] (row per output).
 * Per tensor (TFLite's FullyConnected): multipliers == shifts == NULL, and
 * multiplier/shift apply to every output. Per channel (FullyConnectedPerChannel):
 * multipliers/shifts are [n]. weights_offsets, when not NULL, is [n] and
 * replaces weights_offset (a per-column zero point, e.g. ONNX MatMulInteger).
 * aot_fully_connected_s8_s32 (MatMulInteger) takes the same block and writes
 * the int32 sums; it ignores output_offset, act_min/act_max and the multipliers. */
typedef struct {
    int32_t m, n, k;
    int32_t input_offset;
    int32_t weights_offset;
    int32_t output_offset;
    int32_t act_min, act_max;
    int32_t multiplier, shift;
    const int32_t *multipliers;        /* [n], or NULL: multiplier for all */
    const int32_t *shifts;             /* [n], or NULL: shift for all */
    const int32_t *weights_offsets;    /* [n], or NULL: weights_offset for all */
} aot_fully_connected_s8_params;

/* Elementwise add with broadcasting (see aot_binary_params for dims/strides),
 * TFLite's quantized add: both inputs rescaled to a common scale with
 * left_shift bits of headroom, summed, then rescaled to the output. */
typedef struct {
    int32_t size;
    int32_t ndim;
    int32_t dims[AOT_MAX_DIMS];
    int32_t a_strides[AOT_MAX_DIMS];
    int32_t b_strides[AOT_MAX_DIMS];
    int32_t a_offset, a_multiplier, a_shift;
    int32_t b_offset, b_multiplier, b_shift;
    int32_t left_shift;
    int32_t output_offset, output_multiplier, output_shift;
    int32_t act_min, act_max;
} aot_add_s8_params;

/* int8 pooling: aot_pool2d_params geometry plus the output clamp. Average
 * pooling divides the int32 sum by the number of counted taps, rounding
 * half away from zero (TFLite; input and output share scale and zero point)
 * -- unless count_multipliers is not NULL: then input and output parameters
 * differ and y = MultiplyByQuantizedMultiplier(sum (x + input_offset),
 * count_multipliers[count - 1], count_shifts[count - 1]) + output_offset, one
 * rounding of sum * input_scale / (output_scale * count) (the per-count
 * multipliers folded as TFLite Micro's MEAN folds them). Max pooling uses
 * only the geometry and the clamp. */
typedef struct {
    aot_pool2d_params pool;
    int32_t act_min, act_max;
    int32_t input_offset, output_offset;
    const int32_t *count_multipliers;  /* [kernel_h * kernel_w], or NULL */
    const int32_t *count_shifts;       /* [kernel_h * kernel_w], or NULL */
} aot_pool2d_s8_params;

/* TFLite int8 softmax over the last axis of [outer][depth]; output scale
 * 1/256, zero point -128. input_multiplier/input_left_shift and diff_min come
 * from TFLite's PreprocessSoftmaxScaling / CalculateInputRadius (beta = 1). */
typedef struct {
    int32_t outer, depth;
    int32_t input_multiplier;
    int32_t input_left_shift;
    int32_t diff_min;
} aot_softmax_s8_params;

/* Requantization of int8 codes from one (scale, zero point) to another, as
 * TFLite's int8 -> int8 QUANTIZE: y = clamp(MultiplyByQuantizedMultiplier(
 * x + input_offset, multiplier, shift) + output_offset, act_min, act_max),
 * multiplier/shift from input_scale / output_scale (double). */
typedef struct {
    int32_t size;
    int32_t input_offset;
    int32_t output_offset;
    int32_t multiplier, shift;
    int32_t act_min, act_max;
} aot_requantize_s8_params;

/* Mean over the middle axis of a dense int8 [outer][reduce][inner], as TFLite
 * Micro's int8 MEAN (reference_ops::QuantizedMeanOrSum): y = clamp(
 * MultiplyByQuantizedMultiplier(sum (x + input_offset), multiplier, shift)
 * + output_offset, act_min, act_max), where multiplier/shift represent
 * input_scale / output_scale / reduce, folded the way TFLM folds them. */
typedef struct {
    int32_t outer, reduce, inner;
    int32_t input_offset;
    int32_t output_offset;
    int32_t multiplier, shift;
    int32_t act_min, act_max;
} aot_mean_s8_params;

/* Elementwise clamp of int8 codes (a standalone quantized ReLU / Clip). */
typedef struct {
    int32_t size;
    int32_t act_min, act_max;
} aot_clamp_s8_params;

/* Elementwise multiply with broadcasting (dims/strides as aot_add_s8_params),
 * TFLite's quantized Mul: y = clamp(MultiplyByQuantizedMultiplier(
 * (a + a_offset) * (b + b_offset), output_multiplier, output_shift)
 * + output_offset, act_min, act_max), the multiplier representing
 * a_scale * b_scale / output_scale. */
typedef struct {
    int32_t size;
    int32_t ndim;
    int32_t dims[AOT_MAX_DIMS];
    int32_t a_strides[AOT_MAX_DIMS];
    int32_t b_strides[AOT_MAX_DIMS];
    int32_t a_offset, b_offset;
    int32_t output_offset, output_multiplier, output_shift;
    int32_t act_min, act_max;
} aot_mul_s8_params;

/* int8 N-d pad: aot_pad_params' geometry and mode, the constant as an int8 code. */
typedef struct {
    int32_t ndim;
    int32_t in_dims[AOT_MAX_DIMS];
    int32_t out_dims[AOT_MAX_DIMS];
    int32_t pads_begin[AOT_MAX_DIMS];
    int32_t mode;   /* aot_pad_mode */
    int32_t value;  /* in [-128, 127] */
} aot_pad_s8_params;

/* A plain element count (conversions between uint8 and int8 codes). */
typedef struct {
    int32_t size;
} aot_size_params;

/* Float <-> int8 at the model's edges: q = clamp(round_half_even(x / scale) + zp);
 * x = (q - zp) * scale. */
typedef struct {
    int32_t size;
    float scale;
    int32_t zero_point;
} aot_quantize_params;

/* Transformer ops (targets/rules_transformer.py). */

/* Layer normalization of `outer` rows of `inner` elements each. */
typedef struct {
    int32_t outer;
    int32_t inner;
    float epsilon;
} aot_layer_norm_params;

/* Y[m][n] = scale[n] * sum_k X[m][k] * W[k][n] + bias[n], W int8 (weight-only int8). */
typedef struct {
    int32_t m, n, k;
} aot_matmul_w8_params;

/* Softmax of `rows` rows of `cols` elements after adding bias row (r % bias_rows);
 * with replace_nan, NaN results become nan_value. */
typedef struct {
    int32_t rows, cols, bias_rows;
    int32_t replace_nan;
    float nan_value;
} aot_softmax_rows_params;

/*
 * Gather along one axis with run-time indices: data is [outer][axis_dim][inner]
 * (inner counted in bytes), indices has `count` entries, output is
 * [outer][count][inner]. An index i is valid in [-axis_dim, axis_dim).
 */
typedef struct {
    int32_t outer;
    int32_t axis_dim;
    int32_t count;
    int32_t inner_bytes;
} aot_gather_params;

/*
 * Embedding lookup in an int8 table [rows][cols] with float scales: output row r
 * is q[i][c] * scale[i * scale_row_stride + c * scale_col_stride], i = indices[r].
 */
typedef struct {
    int32_t rows, cols;
    int32_t count;
    int32_t scale_row_stride, scale_col_stride;
} aot_gather_w8_params;

/* Row r of the output (row_bytes bytes) is the bytes at src + offsets[r]:
 * gathers with indices known at compile time (Gather, GatherND). */
typedef struct {
    int32_t rows;
    int32_t row_bytes;
    const int32_t *offsets;
} aot_gather_rows_params;

/* Broadcasting Where(cond, x, y) over `ndim` dims (strides in elements, 0
 * broadcasts); ndim == 0: all dense with `size` elements. */
typedef struct {
    int32_t size;
    int32_t ndim;
    int32_t dims[AOT_MAX_DIMS];
    int32_t c_strides[AOT_MAX_DIMS];
    int32_t x_strides[AOT_MAX_DIMS];
    int32_t y_strides[AOT_MAX_DIMS];
    int32_t elem_bytes;  /* of x, y and out: 1, 2, 4 or 8 (aot_where; 4 for aot_where_f32) */
} aot_where_params;

/* Element types, numbered as ONNX's TensorProto.DataType. */
typedef enum {
    AOT_DT_FLOAT = 1,
    AOT_DT_UINT8 = 2,
    AOT_DT_INT8 = 3,
    AOT_DT_UINT16 = 4,
    AOT_DT_INT16 = 5,
    AOT_DT_INT32 = 6,
    AOT_DT_INT64 = 7,
    AOT_DT_BOOL = 9,    /* one byte, 0 or 1 */
    AOT_DT_DOUBLE = 11,
    AOT_DT_UINT32 = 12,
    AOT_DT_UINT64 = 13
} aot_dtype;

/* Elementwise type conversion of `size` elements from `from` to `to` (aot_dtype). */
typedef struct {
    int32_t size;
    int32_t from;
    int32_t to;
} aot_cast_params;

/* Mask construction and run-time shape ops (targets/rules_mask.py). */

/*
 * A strided copy (Expand, Slice): the output is dense [dims[0]]...[dims[ndim-1]]
 * of elem_bytes-byte elements; output element (i_0, ..., i_{ndim-1}) is read
 * at byte src_offset + sum_d i_d * src_strides[d] of the source. A stride is
 * 0 where the source is broadcast and negative where a slice runs backwards.
 * 1 <= ndim <= AOT_MAX_DIMS.
 */
typedef struct {
    int32_t ndim;
    int32_t elem_bytes;
    int32_t src_offset;
    int32_t dims[AOT_MAX_DIMS];
    int32_t src_strides[AOT_MAX_DIMS];
} aot_strided_copy_params;

/* Comparison of aot_compare_params.op, y = a OP b. */
typedef enum {
    AOT_CMP_EQUAL = 0,
    AOT_CMP_LESS = 1,
    AOT_CMP_LESS_EQUAL = 2,
    AOT_CMP_GREATER = 3,
    AOT_CMP_GREATER_EQUAL = 4
} aot_compare_op;

/* Broadcasting comparison: broadcast fields as aot_binary_params, op an aot_compare_op. */
typedef struct {
    int32_t size;
    int32_t ndim;
    int32_t dims[AOT_MAX_DIMS];
    int32_t a_strides[AOT_MAX_DIMS];
    int32_t b_strides[AOT_MAX_DIMS];
    int32_t op;
} aot_compare_params;

/*
 * GatherND with run-time indices: data is [batch][...][row_bytes], indices
 * [batch][count][depth]; index tuple (j_0, ..., j_{depth-1}) of batch entry b
 * selects the row at byte b * batch_bytes + sum_d j_d * strides[d], where
 * j_d is valid in [-dims[d], dims[d]). Output: [batch][count][row_bytes].
 */
typedef struct {
    int32_t batch;
    int32_t count;
    int32_t depth;
    int32_t row_bytes;
    int32_t batch_bytes;
    int32_t dims[AOT_MAX_DIMS];
    int32_t strides[AOT_MAX_DIMS];
} aot_gather_nd_params;

/* Range with run-time start / limit / delta: `count` elements, the length the
 * model was compiled for. */
typedef struct {
    int32_t count;
} aot_range_params;

/* Element-wise float32 function of aot_unary_math_params.op (aot_unary_f32);
 * alpha, beta, gamma are the ONNX attributes each one names. */
typedef enum {
    AOT_UNARY_NEG = 0,
    AOT_UNARY_ABS = 1,
    AOT_UNARY_SQRT = 2,
    AOT_UNARY_RECIPROCAL = 3,
    AOT_UNARY_EXP = 4,
    AOT_UNARY_LOG = 5,
    AOT_UNARY_FLOOR = 6,
    AOT_UNARY_CEIL = 7,
    AOT_UNARY_ROUND = 8,            /* half to even */
    AOT_UNARY_SIGN = 9,
    AOT_UNARY_POW = 10,             /* x^alpha */
    AOT_UNARY_SQUARE = 11,
    AOT_UNARY_CUBE = 12,
    AOT_UNARY_SOFTPLUS = 13,
    AOT_UNARY_SOFTSIGN = 14,
    AOT_UNARY_ELU = 15,             /* alpha */
    AOT_UNARY_SELU = 16,            /* alpha, gamma */
    AOT_UNARY_CELU = 17,            /* alpha */
    AOT_UNARY_MISH = 18,
    AOT_UNARY_THRESHOLDED_RELU = 19, /* alpha */
    AOT_UNARY_SHRINK = 20,          /* bias = alpha, lambd = beta */
    AOT_UNARY_COPY = 21,
    AOT_UNARY_SIN = 22,
    AOT_UNARY_COS = 23
} aot_unary_op;

/* Element-wise function `op` (an aot_unary_op) over `size` dense elements. */
typedef struct {
    int32_t size;
    int32_t op;
    float alpha, beta, gamma;
} aot_unary_math_params;

/* Reduction of aot_reduce_op_params.op (aot_reduce_f32). */
typedef enum {
    AOT_REDUCE_SUM = 0,
    AOT_REDUCE_MAX = 1,
    AOT_REDUCE_MIN = 2,
    AOT_REDUCE_PROD = 3,
    AOT_REDUCE_SUM_SQUARE = 4,
    AOT_REDUCE_L1 = 5,
    AOT_REDUCE_L2 = 6,
    AOT_REDUCE_LOG_SUM_EXP = 7,
    AOT_REDUCE_LOG_SUM = 8,
    AOT_REDUCE_L1_DIVISOR = 9,  /* L1, but 1 where it is 0 (LpNormalization) */
    AOT_REDUCE_L2_DIVISOR = 10  /* L2, but 1 where it is 0 */
} aot_reduce_op;

/* Reduction `op` (an aot_reduce_op) over the middle axis of [outer][reduce][inner]. */
typedef struct {
    int32_t outer, reduce, inner;
    int32_t op;
} aot_reduce_op_params;

/* ArgMax / ArgMin over the middle axis of [outer][reduce][inner]. */
typedef struct {
    int32_t outer, reduce, inner;
    int32_t is_min;        /* 0: ArgMax, 1: ArgMin */
    int32_t select_last;   /* ties: 0 the first index, 1 the last */
} aot_arg_reduce_params;

#ifdef __cplusplus
}
#endif

#endif /* AOT_TYPES_H */

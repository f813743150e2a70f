/* SPDX-License-Identifier: Apache-2.0 */
/*
 * aot runtime: kernel contracts.
 *
 * Naming follows aot_<op>[_<variant>]_<dtype>; one function per file, file
 * name = function name. Argument order is always: parameter block, inputs,
 * constant operands (weights, bias, tables), outputs, scratch.
 * Kernels never allocate, never call libc, and may assume that an output does
 * not alias an input unless the kernel's comment says otherwise.
 */
#ifndef AOT_KERNELS_H
#define AOT_KERNELS_H

#include "aot_types.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Convolution, NCHW. input [batch][in_c][in_h][in_w];
 * weights [out_c][in_c / groups][kernel_h][kernel_w]; bias [out_c] or NULL;
 * output [batch][out_c][out_h][out_w]. Positions outside the input read as 0.
 */
void aot_conv2d_f32(const aot_conv2d_params *params, const float *input,
                    const float *weights, const float *bias, float *output);

/**
 * In-place convolutions (TinyEngine's idea): `output` may be the very address
 * of `input` (their first elements coincide), or a buffer not overlapping it
 * at all; any other overlap is undefined. Same results, bit for bit, as
 * aot_conv2d_f32 / aot_conv2d_s8 on the same parameters. Scratch: bytes the
 * lowering rule computes (targets/rules_inplace.py), aligned for the data type.
 *
 * Depthwise (groups == in_c == out_c, out_h * out_w <= in_h * in_w): plane by
 * plane, output rows go into a ring of params->ring_rows rows in scratch
 * ([ring_rows][out_w] elements) and are copied out once no input still to be
 * read lies under them.
 */
void aot_depthwise_conv2d_inplace_f32(const aot_depthwise_conv2d_inplace_params *params,
                                      const float *input, const float *weights,
                                      const float *bias, float *output, void *scratch);
/**
 * Pointwise (1x1 kernel, stride 1, no padding, groups 1; batch 1 or
 * out_c <= in_c): pixel by pixel, the pixel's in_c inputs are gathered into
 * scratch ([in_c] elements), then its out_c outputs written. An output larger
 * than the input (out_c > in_c) runs on past the input's end.
 */
void aot_pointwise_conv2d_inplace_f32(const aot_conv2d_params *params, const float *input,
                                      const float *weights, const float *bias, float *output,
                                      void *scratch);

/** Batched matrix product with optional bias, see aot_matmul_params. */
void aot_matmul_f32(const aot_matmul_params *params, const float *a,
                    const float *b, const float *bias, float *y);

/** Broadcasting y = act(a op b), see aot_binary_params. */
void aot_add_f32(const aot_binary_params *params, const float *a,
                 const float *b, float *y);
void aot_sub_f32(const aot_binary_params *params, const float *a,
                 const float *b, float *y);
void aot_mul_f32(const aot_binary_params *params, const float *a,
                 const float *b, float *y);
void aot_div_f32(const aot_binary_params *params, const float *a,
                 const float *b, float *y);

/** y = act(x) for a piecewise-linear activation (params->act). In place allowed. */
void aot_activation_f32(const aot_unary_params *params, const float *x, float *y);
/** y = 1 / (1 + exp(-x)). In place allowed. */
void aot_sigmoid_f32(const aot_unary_params *params, const float *x, float *y);
/** y = tanh(x). In place allowed. */
void aot_tanh_f32(const aot_unary_params *params, const float *x, float *y);

/** Softmax over the middle axis (max-subtracted, so large inputs do not overflow). */
void aot_softmax_f32(const aot_softmax_params *params, const float *x, float *y);

/** Mean / max over the middle axis of [outer][reduce][inner]. */
void aot_reduce_mean_f32(const aot_reduce_params *params, const float *x, float *y);
void aot_reduce_max_f32(const aot_reduce_params *params, const float *x, float *y);

/**
 * Pooling over [planes][in_h][in_w] into [planes][out_h][out_w]. Max pooling
 * ignores padded positions; average pooling divides by the number of
 * in-bounds positions, or with count_include_pad by the number of positions
 * inside the padded input (positions past pad_bottom/pad_right never count).
 */
void aot_maxpool2d_f32(const aot_pool2d_params *params, const float *x, float *y);
void aot_avgpool2d_f32(const aot_pool2d_params *params, const float *x, float *y);

/** Dense N-d transpose of 4-byte elements. */
void aot_transpose_f32(const aot_transpose_params *params, const float *x, float *y);

/** Strided 2-D byte copy (concatenation, slicing). Buffers must not overlap. */
void aot_copy2d(const aot_copy2d_params *params, const void *src, void *dst);

/**
 * Transpose [batch][rows][cols] -> [batch][cols][rows] that may run in place:
 * y is x, or a buffer not overlapping it (x is then copied to y first).
 * Each matrix's permutation is followed cycle by cycle, a bit per element in
 * scratch marking the elements already moved: scratch holds
 * (rows * cols + 7) / 8 bytes.
 */
void aot_transpose2d_inplace(const aot_transpose2d_inplace_params *params, const void *x,
                             void *y, void *scratch);

/** N-d pad (constant, reflect, edge or wrap). */
void aot_pad_f32(const aot_pad_params *params, const float *x, float *y);

/** Per-channel y = x * scale[c] + shift[c]. In place allowed. */
void aot_scale_shift_f32(const aot_scale_shift_params *params, const float *x,
                         const float *scale, const float *shift, float *y);

/* ---- int8 ---- */

/** int8 convolution (also depthwise: groups == in_c), see aot_conv2d_s8_params;
 *  aot_conv2d_asym_s8 takes weights with a zero point per output channel. */
void aot_conv2d_s8(const aot_conv2d_s8_params *params, const int8_t *input,
                   const int8_t *weights, const int32_t *bias, int8_t *output);
void aot_conv2d_asym_s8(const aot_conv2d_s8_params *params, const int8_t *input,
                        const int8_t *weights, const int32_t *bias, int8_t *output);

/** int8 in-place depthwise and pointwise convolution: see the float ones above. */
void aot_depthwise_conv2d_inplace_s8(const aot_depthwise_conv2d_inplace_s8_params *params,
                                     const int8_t *input, const int8_t *weights,
                                     const int32_t *bias, int8_t *output, void *scratch);
void aot_pointwise_conv2d_inplace_s8(const aot_conv2d_s8_params *params, const int8_t *input,
                                     const int8_t *weights, const int32_t *bias,
                                     int8_t *output, void *scratch);

/** int8 fully connected, see aot_fully_connected_s8_params. bias may be NULL. */
void aot_fully_connected_s8(const aot_fully_connected_s8_params *params, const int8_t *input,
                            const int8_t *weights, const int32_t *bias, int8_t *output);

/**
 * Integer convolution and matrix product with int32 results and no
 * requantization (ONNX ConvInteger / MatMulInteger): output [batch][out_c][out_h][out_w]
 * resp. [m][n] holds the wrapped int32 sums of (x + input_offset) * (w + weight offset),
 * plus bias when not NULL.
 */
void aot_conv2d_s8_s32(const aot_conv2d_s8_params *params, const int8_t *input,
                       const int8_t *weights, const int32_t *bias, int32_t *output);
void aot_fully_connected_s8_s32(const aot_fully_connected_s8_params *params,
                                const int8_t *input, const int8_t *weights,
                                const int32_t *bias, int32_t *output);

/** int8 -> int8 requantization (see aot_requantize_s8_params). In place allowed. */
void aot_requantize_s8(const aot_requantize_s8_params *params, const int8_t *x, int8_t *y);

/** int8 mean over the middle axis of [outer][reduce][inner] (TFLite integer Mean). */
void aot_mean_s8(const aot_mean_s8_params *params, const int8_t *x, int8_t *y);

/** int8 broadcasting add (TFLite semantics). */
void aot_add_s8(const aot_add_s8_params *params, const int8_t *a, const int8_t *b,
                int8_t *y);

/** int8 pooling over [planes][in_h][in_w]. */
void aot_maxpool2d_s8(const aot_pool2d_s8_params *params, const int8_t *x, int8_t *y);
void aot_avgpool2d_s8(const aot_pool2d_s8_params *params, const int8_t *x, int8_t *y);

/** int8 softmax (TFLite reference semantics, bit-exact). */
void aot_softmax_s8(const aot_softmax_s8_params *params, const int8_t *x, int8_t *y);

/** Dense N-d transpose of 1-byte elements. */
void aot_transpose_s8(const aot_transpose_params *params, const int8_t *x, int8_t *y);

/** Elementwise y = clamp(x, lo, hi) on int8 codes (a standalone ReLU/Clip); in place allowed. */
void aot_clamp_s8(const aot_clamp_s8_params *params, const int8_t *x, int8_t *y);

/**
 * uint8 <-> int8 codes at the model's edges: y = x ^ 0x80, i.e. the code moves
 * by 128 and so does the zero point, leaving real values unchanged.
 * In place allowed.
 */
void aot_convert_u8_s8(const aot_size_params *params, const uint8_t *x, int8_t *y);
void aot_convert_s8_u8(const aot_size_params *params, const int8_t *x, uint8_t *y);

/** float -> int8 and int8 -> float at the model's edges. */
void aot_quantize_f32_s8(const aot_quantize_params *params, const float *x, int8_t *y);
void aot_dequantize_s8_f32(const aot_quantize_params *params, const int8_t *x, float *y);

#ifdef __cplusplus
}
#endif

#endif /* AOT_KERNELS_H */

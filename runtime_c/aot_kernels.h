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

/**
 * Resize [planes][in_h][in_w] -> [planes][out_h][out_w] from compile-time tables.
 * Nearest: y[p][oy][ox] = x[p][index_h[oy]][index_w[ox]].
 * Separable: index_h/coeff_h are [out_h][taps_h], index_w/coeff_w [out_w][taps_w]
 * (indices in [0, in_h) / [0, in_w)); y = sum_i coeff_h[i] * sum_j coeff_w[j] * x[ih_i][iw_j].
 * An index of -1 (the first tap, for separable) gives extrapolation_value.
 */
void aot_resize_nearest_f32(const aot_resize_params *params, const float *x,
                            const int32_t *index_h, const int32_t *index_w, float *y);
void aot_resize_separable_f32(const aot_resize_params *params, const float *x,
                              const int32_t *index_h, const float *coeff_h,
                              const int32_t *index_w, const float *coeff_w, float *y);

/**
 * Transposed convolution, NCHW: input [batch][in_c][in_h][in_w]; weights as ONNX
 * has them, [in_c][out_c / groups][kernel_h][kernel_w]; bias [out_c] or NULL;
 * output [batch][out_c][out_h][out_w]. Input (iy, ix) tap (ky, kx) adds to output
 * (iy * stride_h - pad_top + ky * dilation_h, ix * stride_w - pad_left + kx * dilation_w);
 * outputs no tap reaches hold the bias (output_padding). Scratch: in_h * in_w floats.
 */
void aot_conv_transpose2d_f32(const aot_conv2d_params *params, const float *input,
                              const float *weights, const float *bias, float *output,
                              void *scratch);

/* ---- int8 ---- */

/** int8 convolution (also depthwise: groups == in_c), see aot_conv2d_s8_params;
 *  aot_conv2d_asym_s8 takes weights with a zero point per output channel. */
void aot_conv2d_s8(const aot_conv2d_s8_params *params, const int8_t *input,
                   const int8_t *weights, const int32_t *bias, int8_t *output);
void aot_conv2d_asym_s8(const aot_conv2d_s8_params *params, const int8_t *input,
                        const int8_t *weights, const int32_t *bias, int8_t *output);

/**
 * int8 transposed convolution (TFLite's TRANSPOSE_CONV, per-channel), NCHW:
 * input [batch][in_c][in_h][in_w]; weights as ONNX has them,
 * [in_c][out_c / groups][kernel_h][kernel_w], symmetric (weights_offsets ignored);
 * bias [out_c] int32 or NULL; output [batch][out_c][out_h][out_w]; geometry as
 * aot_conv_transpose2d_f32. Scratch: stride_w * ceil(out_w / stride_w) int32.
 */
void aot_conv_transpose2d_s8(const aot_conv2d_s8_params *params, const int8_t *input,
                             const int8_t *weights, const int32_t *bias, int8_t *output,
                             void *scratch);

/**
 * int8 resize [planes][in_h][in_w] -> [planes][out_h][out_w], input and output
 * with one scale and zero point; tables as aot_resize_nearest_f32 /
 * aot_resize_separable_f32, separable weights Q10 (1024 = 1.0, each row and
 * column of taps summing to 1024), result rounded half away from zero from Q20
 * and clamped to int8 (TFLite's ResizeBilinearInteger). An index of -1 gives
 * params->extrapolation_code.
 */
void aot_resize_nearest_s8(const aot_resize_s8_params *params, const int8_t *x,
                           const int32_t *index_h, const int32_t *index_w, int8_t *y);
void aot_resize_separable_s8(const aot_resize_s8_params *params, const int8_t *x,
                             const int32_t *index_h, const int32_t *coeff_h,
                             const int32_t *index_w, const int32_t *coeff_w, int8_t *y);

/** int8 in-place depthwise and pointwise convolution: see the float ones above. */
void aot_depthwise_conv2d_inplace_s8(const aot_depthwise_conv2d_inplace_s8_params *params,
                                     const int8_t *input, const int8_t *weights,
                                     const int32_t *bias, int8_t *output, void *scratch);
void aot_pointwise_conv2d_inplace_s8(const aot_conv2d_s8_params *params, const int8_t *input,
                                     const int8_t *weights, const int32_t *bias,
                                     int8_t *output, void *scratch);

/**
 * Cortex-M DSP-extension variants (SMLAD/SXTB16; targets/rules_dsp.py), bit-exact
 * with aot_conv2d_s8 / aot_fully_connected_s8. NCHW as those. Common to all:
 * bias [out_c] (always present) has input_offset * sum(channel's weights)
 * folded in (int32 wrap); multipliers/shifts are [out_c] tables, each
 * multiplier stored doubled (2 * m wrapped to int32, one SMMULR: see
 * aot_dsp_impl.h; aot_add_dsp_s8 excepted); weights symmetric
 * (weights_offsets unused). Scratch: bytes the rule computes.
 *
 * aot_conv2d_dsp_s8: groups 1, any kernel/stride/dilation/padding; weights
 * [out_c][k4] (k4 = in_c * kernel_h * kernel_w rounded up to 4) in the pair
 * layout: [out_c / 2][k4 / 4][2 rows][4 bytes], an odd last row paired with a
 * zero row, each 4-byte group stored (0, 2, 1, 3); scratch 8 * k4. In place (output at
 * input's address) as aot_pointwise_conv2d_inplace_s8 when 1x1, stride 1, no pad.
 * aot_pointwise_conv2d_dsp_s8: the same for 1x1, stride 1, no padding (in place
 * likewise); k4 = in_c rounded up to 4; scratch 4 * (k4 + 10); weights in the wide
 * quad layout: int32 words [out_c4 / 4][k4 / 2][4 rows] (out_c4 = out_c rounded
 * up to 4, zero rows), each the int16 pair (k even low, k odd high); bias
 * [out_c4] (zero-padded); multipliers the requantization table [out_c][3]
 * {m2, right, c} of aot_dsp_gemm_impl.h (shifts then unused).
 * aot_depthwise_conv2d_3x3_dsp_s8: groups == in_c == out_c, 3x3, dilation 1,
 * stride_w 1 or 2; weights as aot_conv2d_s8's; bias doubled (2 * the folded
 * bias) and multipliers NOT doubled (TFLite's), for |folded bias| + 128 *
 * sum |w| < 2^29 per channel (aot_dsp_dw_impl.h); scratch hp * wp + 4 rounded
 * up to 4, then 4 * rows * (out_w + 1), rows = AOT_DSP_DW3_ROWS(out_h, out_w)
 * (aot_dsp_dw_impl.h), with hp = (out_h - 1) * stride_h + 3, wp = (out_w - 1) *
 * stride_w + 3.
 * aot_depthwise_conv2d_dsp_s8: groups == in_c, out_c = in_c * multiplier, any
 * kernel/stride/dilation/padding; weights [out_c][kernel_h][kw4] (rows
 * zero-padded to a multiple of 4); scratch hp * wp + 4 (hp, wp: the padded
 * extent read). Both depthwise ones run in place when multiplier is 1 and
 * out_h * out_w <= in_h * in_w.
 * aot_fully_connected_dsp_s8: weights in the quad layout [n4 / 4][k4 / 4][4 rows]
 * [4 bytes] (n, k rounded up to 4, zero-padded, natural byte order),
 * weights_offset 0, multipliers/shifts [n] or NULL (per tensor); no scratch.
 */
void aot_conv2d_dsp_s8(const aot_conv2d_s8_params *params, const int8_t *input,
                       const int8_t *weights, const int32_t *bias, int8_t *output,
                       void *scratch);
void aot_pointwise_conv2d_dsp_s8(const aot_conv2d_s8_params *params, const int8_t *input,
                                 const int32_t *weights, const int32_t *bias, int8_t *output,
                                 void *scratch);
/** aot_conv2d_dsp_s8 with weights, bias and multipliers as aot_pointwise_conv2d_dsp_s8's
 * (k4 = in_c * kernel_h * kernel_w rounded up to 4; the taps in the channel-pair
 * order where aot_dsp_channel_pairs says so); scratch 4 * (2 * k4 + 10). */
void aot_conv2d_wide_dsp_s8(const aot_conv2d_s8_params *params, const int8_t *input,
                            const int32_t *weights, const int32_t *bias, int8_t *output,
                            void *scratch);
void aot_depthwise_conv2d_3x3_dsp_s8(const aot_conv2d_s8_params *params,
                                     const int8_t *input, const int8_t *weights,
                                     const int32_t *bias, int8_t *output, void *scratch);
void aot_depthwise_conv2d_dsp_s8(const aot_conv2d_s8_params *params, const int8_t *input,
                                 const int8_t *weights, const int32_t *bias, int8_t *output,
                                 void *scratch);
void aot_fully_connected_dsp_s8(const aot_fully_connected_s8_params *params,
                                const int8_t *input, const int8_t *weights,
                                const int32_t *bias, int8_t *output);
/** aot_fully_connected_dsp_s8 with widened weights: int32 words [n4 / 4][k4 / 4][4 rows][2],
 * each row's group of 4 as the int16 pairs (w0, w2), (w1, w3); bias [n4]; multipliers
 * the requantization table [n][3] of aot_dsp_gemm_impl.h or NULL (per tensor:
 * multiplier doubled, shift); no scratch. */
void aot_fully_connected_wide_dsp_s8(const aot_fully_connected_s8_params *params,
                                     const int8_t *input, const int32_t *weights,
                                     const int32_t *bias, int8_t *output);
/** DSP-variant int8 average pooling, as aot_avgpool2d_s8 for count_multipliers NULL and
 * dilation_w 1 (TFLite's AVERAGE_POOL_2D). */
void aot_avgpool2d_dsp_s8(const aot_pool2d_s8_params *params, const int8_t *x, int8_t *y);
/** DSP-variant int8 add of same-shape tensors (ndim == 0; shifts <= 0), as aot_add_s8. */
void aot_add_dsp_s8(const aot_add_s8_params *params, const int8_t *a, const int8_t *b,
                    int8_t *y);
/** The same with both inputs' rescalings tabulated at compile time: tables [2][256]
 * (twice a's, then twice b's, indexed by the int8 code & 0xFF; |a| + |b| < 2^29);
 * output_multiplier TFLite's. */
void aot_add_lut_dsp_s8(const aot_add_s8_params *params, const int8_t *a, const int8_t *b,
                        const int32_t *tables, int8_t *y);

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

/** int8 broadcasting multiply (TFLite semantics), see aot_mul_s8_params. */
void aot_mul_s8(const aot_mul_s8_params *params, const int8_t *a, const int8_t *b,
                int8_t *y);

/** int8 table lookup y[i] = table[x[i] + 128] over params->size codes: every int8
 *  unary op (sigmoid, tanh, hard-swish, leaky ReLU, hard sigmoid), its table
 *  computed at compile time. table has 256 entries. In place allowed. */
void aot_lut_s8(const aot_size_params *params, const int8_t *x, const int8_t *table,
                int8_t *y);

/** int8 N-d pad (constant, reflect, edge or wrap), see aot_pad_s8_params. */
void aot_pad_s8(const aot_pad_s8_params *params, const int8_t *x, int8_t *y);

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

/*
 * AArch64 NEON (Armv8.0) and DotProd (Armv8.2 SDOT) variants (targets/rules_neon.py),
 * bit-exact with the portable kernels on the same parameters. Built only where the
 * compiler targets AArch64 with NEON (DotProd for *_dotprod_*). The lowering folds
 * input_offset * sum(w) into `bias` (never NULL here) and re-lays weights out:
 * aot_conv2d_neon_s8: groups 1, any kernel/stride/dilation/padding; weights
 *   [ceil(out_c/8)][K][8], K = in_c * kernel_h * kernel_w, zero padded; scratch K * 8 bytes.
 * aot_conv2d_dotprod_s8: the same with weights [ceil(out_c/4)][ceil(K/4)][4][4];
 *   scratch ceil(K/4) * 64 bytes. Both run in place when pointwise (1x1, stride 1, no pad).
 * aot_depthwise_conv2d_neon_s8: groups == in_c == out_c; weights [C][kh][kw]; scratch:
 *   a padded input plane and more (rules_neon.depthwise_s8_scratch bytes). Runs in place.
 * aot_fully_connected_{neon,dotprod}_s8: weights [n][k], symmetric (weights offset 0).
 * aot_add_neon_s8: same-shape operands only (ndim 0); y may alias a or b.
 */
void aot_conv2d_neon_s8(const aot_conv2d_s8_params *params, const int8_t *input,
                        const int8_t *weights, const int32_t *bias, int8_t *output,
                        void *scratch);
void aot_conv2d_dotprod_s8(const aot_conv2d_s8_params *params, const int8_t *input,
                           const int8_t *weights, const int32_t *bias, int8_t *output,
                           void *scratch);
void aot_depthwise_conv2d_neon_s8(const aot_conv2d_s8_params *params, const int8_t *input,
                                  const int8_t *weights, const int32_t *bias, int8_t *output,
                                  void *scratch);
void aot_fully_connected_neon_s8(const aot_fully_connected_s8_params *params,
                                 const int8_t *input, const int8_t *weights,
                                 const int32_t *bias, int8_t *output);
void aot_fully_connected_dotprod_s8(const aot_fully_connected_s8_params *params,
                                    const int8_t *input, const int8_t *weights,
                                    const int32_t *bias, int8_t *output);
void aot_add_neon_s8(const aot_add_s8_params *params, const int8_t *a, const int8_t *b,
                     int8_t *y);
/*
 * float32 NEON variants: same layouts and parameters as aot_conv2d_f32 /
 * aot_matmul_f32 but fused multiply-adds (within float tolerance of the portable
 * kernels, not bit-equal). aot_conv2d_neon_f32: groups 1, weights [ceil(out_c/8)][K][8],
 * scratch K * 8 floats; in place when pointwise. aot_depthwise_conv2d_neon_f32:
 * groups == in_c == out_c, weights [C][kh][kw], scratch rules_neon.depthwise_f32_scratch
 * bytes; in place. aot_matmul_neon_f32: b_col_stride == 1 only.
 */
void aot_conv2d_neon_f32(const aot_conv2d_params *params, const float *input,
                         const float *weights, const float *bias, float *output, void *scratch);
void aot_depthwise_conv2d_neon_f32(const aot_conv2d_params *params, const float *input,
                                   const float *weights, const float *bias, float *output,
                                   void *scratch);
void aot_matmul_neon_f32(const aot_matmul_params *params, const float *a, const float *b,
                         const float *bias, float *y);

/* ---- x86 variants (AVX2 + FMA, AVX-512 VNNI); empty objects on other CPUs ---- */

/**
 * Same results as the portable kernel of the same op, int8 bit for bit; float
 * within FMA rounding (products fused with the sum). Layouts, set by
 * targets/rules_x86.py (scratch: tap table + input phase planes -- depthwise: one
 * channel's, plus a row-run table -- see aot_conv2d_x86_impl.h and
 * rules_x86.phase_scratch; stride_w <= 16):
 * aot_conv2d_avx2_f32: groups == 1, weights as aot_conv2d_f32.
 * aot_depthwise_conv2d_avx2_f32: groups == in_c, out_c = in_c * multiplier.
 * aot_depthwise_conv2d_avx2_s8: the same on int8; weights as float [out_c][kh][kw]
 *   with sum |w| * 255 < 2^24 per channel (float sums exact); symmetric weights.
 * aot_conv2d_avx2_s8: groups == 1, symmetric weights packed as int16 pairs in int32
 *   [out_c][ceil(in_c / 2)][kh * kw] (low half: even channel); bias may be NULL.
 * aot_conv2d_avx512_s8: groups == 1, weights packed as int8 quads in int32
 *   [out_c][ceil(in_c / 4)][kh * kw] (one input channel: quads of taps; small output
 *   planes, rules_x86.conv_s8_oc_lanes: [ceil(out_c / 16) + 1][ceil(in_c / 4)][kh * kw][16]);
 *   bias [out_c] folded: bias + (input_offset - 128) * sum w.
 * aot_fully_connected_{avx2,avx512}_s8: weights without zero point, [n][k] (avx2), blocks
 *   [ceil(n / 16)][ceil(k / 64)][16][64] zero padded (avx512); bias [n] folded:
 *   bias + input_offset * sum w (avx2), bias + (input_offset - 128) * sum w (avx512).
 * aot_matmul_avx2_f32: b_col_stride == 1, bias_col_stride 0 or 1.
 */
void aot_conv2d_avx2_f32(const aot_conv2d_params *params, const float *input,
                         const float *weights, const float *bias, float *output, void *scratch);
void aot_depthwise_conv2d_avx2_f32(const aot_conv2d_params *params, const float *input,
                                   const float *weights, const float *bias, float *output,
                                   void *scratch);
void aot_depthwise_conv2d_avx2_s8(const aot_conv2d_s8_params *params, const int8_t *input,
                                  const float *weights, const int32_t *bias, int8_t *output,
                                  void *scratch);
void aot_conv2d_avx2_s8(const aot_conv2d_s8_params *params, const int8_t *input,
                        const int32_t *weights, const int32_t *bias, int8_t *output,
                        void *scratch);
void aot_conv2d_avx512_s8(const aot_conv2d_s8_params *params, const int8_t *input,
                          const int32_t *weights, const int32_t *bias, int8_t *output,
                          void *scratch);
/**
 * aot_conv2d_avx512_s8 with output channels in lanes (rules_x86.conv_s8_lanes; one
 * block of 16 at stride 1: pixels in lanes from the same data):
 * groups == 1, in_c >= 2, every shift in [-22, -1], |output_offset| <= 256. Weights:
 * int8 quads in int32 [ceil(out_c / 16)][kh][ceil(in_c / 4)][kw][16] (byte j: input
 * channel 4 q + j; zero padded); table: 144 int32 per block of 16 output channels
 * (rules_x86.lanes_table: folded bias + (input_offset - 128) * sum w, multipliers,
 * 64-bit rounding constants and shifts); scratch rules_x86.lanes_scratch bytes.
 */
void aot_conv2d_lanes_avx512_s8(const aot_conv2d_s8_params *params, const int8_t *input,
                                const int32_t *weights, const int32_t *table, int8_t *output,
                                void *scratch);
void aot_fully_connected_avx2_s8(const aot_fully_connected_s8_params *params,
                                 const int8_t *input, const int8_t *weights,
                                 const int32_t *bias, int8_t *output);
void aot_fully_connected_avx512_s8(const aot_fully_connected_s8_params *params,
                                   const int8_t *input, const int8_t *weights,
                                   const int32_t *bias, int8_t *output);
void aot_matmul_avx2_f32(const aot_matmul_params *params, const float *a, const float *b,
                         const float *bias, float *y);
/** AVX-512 twins of the avx2 float and depthwise kernels (same contracts), except:
 * aot_conv2d_avx512_f32 takes weights packed [ceil(out_c / 16)][in_c * kh * kw][16]
 * (zero padded); scratch: rules_x86.phase_scratch (row masks and tap pairs only on
 * rows of more than 16 pixels, rules_x86.conv_f32_direct). */
void aot_conv2d_avx512_f32(const aot_conv2d_params *params, const float *input,
                           const float *weights, const float *bias, float *output,
                           void *scratch);
void aot_matmul_avx512_f32(const aot_matmul_params *params, const float *a, const float *b,
                           const float *bias, float *y);
/** aot_depthwise_conv2d_avx512_f32 reads the NCHW input in place (no phase planes):
 * scratch holds lane-mask tables, or at stride 1 zero-bordered channel planes (flat
 * ones for 8 channels at a time on rows not a multiple of 16, else one plane for
 * square 3x3 / 5x5 kernels; see its file and rules_x86.phase_scratch). */
void aot_depthwise_conv2d_avx512_f32(const aot_conv2d_params *params, const float *input,
                                     const float *weights, const float *bias, float *output,
                                     void *scratch);
/** aot_depthwise_conv2d_avx512_f32 with 16 channels per vector, for small planes (the
 * portable weight layout; scratch: rules_x86.dw_f32_lanes_scratch). */
void aot_depthwise_conv2d_lanes_avx512_f32(const aot_conv2d_params *params, const float *input,
                                           const float *weights, const float *bias,
                                           float *output, void *scratch);
/** Depthwise (multiplier 1) float convolution on c16 activations (aot_conv2d_c16_params:
 * input and/or output channel-blocked, the other NCHW), the shapes
 * rules_x86.dw_f32_lanes takes; channels a multiple of 16; portable weight layout;
 * scratch: rules_x86.dw_f32_c16_scratch. */
void aot_depthwise_conv2d_c16_avx512_f32(const aot_conv2d_c16_params *params,
                                         const float *input, const float *weights,
                                         const float *bias, float *output, void *scratch);
/** Pointwise (1x1, stride 1, unpadded, groups 1) float convolution on c16 activations,
 * output channels in lanes; weights packed [ceil(out_c / 16)][in_c][16] (zero padded);
 * c16 input needs in_c % 16 == 0, c16 output out_c % 16 == 0; the output must not
 * overlap the input; scratch: rules_x86.pw_f32_c16_scratch (none). */
void aot_pointwise_conv2d_c16_avx512_f32(const aot_conv2d_c16_params *params,
                                         const float *input, const float *weights,
                                         const float *bias, float *output, void *scratch);
void aot_depthwise_conv2d_avx512_s8(const aot_conv2d_s8_params *params, const int8_t *input,
                                    const float *weights, const int32_t *bias, int8_t *output,
                                    void *scratch);
/** Depthwise int8, stride 1, out_w == in_w, kernel_w <= 4 (AVX-512 VNNI): weights as one
 * int8 quad per kernel row, int32 [out_c][kernel_h] (byte kx: w[oc][ky][kx], 0 past
 * kernel_w); bias [out_c] folded: bias + (input_offset - 128) * sum w; scratch: the rule's. */
void aot_depthwise_conv2d_rows_avx512_s8(const aot_conv2d_s8_params *params,
                                         const int8_t *input, const int32_t *weights,
                                         const int32_t *bias, int8_t *output, void *scratch);
/** Depthwise int8, stride_w 2, dilation_w 1, kernel_w <= 4 (AVX-512 VNNI): weights and
 * bias as aot_depthwise_conv2d_rows_avx512_s8; scratch: round_up(kernel_h, 16) int32, then
 * stride_h (out plane <= 64 pixels: 2 * stride_h) planes of round_up((out_h + q_max - q_min) * out_w + 16, 16) int32, q = floor((ky *
 * dilation_h - pad_top) / stride_h) over ky (targets/rules_x86.py `dw_rows_s2_scratch`). */
void aot_depthwise_conv2d_rows_s2_avx512_s8(const aot_conv2d_s8_params *params,
                                            const int8_t *input, const int32_t *weights,
                                            const int32_t *bias, int8_t *output, void *scratch);
/** Depthwise int8 on planes (input and output) of at most 128 pixels, kernel_w <= 4, any
 * stride / dilation / padding, every channel's shift in [-22, -1] (AVX-512 VNNI, quads
 * built in registers): weights and bias as aot_depthwise_conv2d_rows_avx512_s8; tables
 * int32 computed at compile time: [ceil(out plane / 16)][kernel_h][34] shuffles, then
 * [out_c][8] requantization constants (targets/rules_x86.py `dw_regs_tables`). */
void aot_depthwise_conv2d_regs_avx512_s8(const aot_conv2d_s8_params *params,
                                         const int8_t *input, const int32_t *weights,
                                         const int32_t *bias, const int32_t *tables,
                                         int8_t *output);
/** aot_add_s8 for same-shape operands (ndim 0); y may alias a or b. */
void aot_add_avx2_s8(const aot_add_s8_params *params, const int8_t *a, const int8_t *b,
                     int8_t *y);
void aot_add_avx512_s8(const aot_add_s8_params *params, const int8_t *a, const int8_t *b,
                       int8_t *y);
/** The same as two table lookups: tables int16 [2][256] F then G (indexed by the int8
 * code & 0xFF), then k (0..8): y = clamp(sat8(floor(sat16(F[a] + G[b]) / 2^k)), act_min,
 * act_max), where the compiler has checked that equal to aot_add_s8 on every code pair.
 * Only params->size, act_min and act_max are read. */
void aot_add_lut_avx512_s8(const aot_add_s8_params *params, const int8_t *a, const int8_t *b,
                           const int16_t *tables, int8_t *y);
/** aot_avgpool2d_s8 where each window is a whole plane (out 1x1, kernel = input, no
 * padding) and input and output parameters are equal (count_multipliers NULL). */
void aot_avgpool2d_avx512_s8(const aot_pool2d_s8_params *params, const int8_t *x, int8_t *y);
/** aot_{add,sub,mul,div}_f32 on AVX2 / AVX-512, any broadcast (fields as aot_add_f32): rows
 * with contiguous or repeated-element operands in vectors, bit for bit the portable results
 * (built with -ffp-contract=off). y may alias an operand of y's shape. */
void aot_add_avx2_f32(const aot_binary_params *params, const float *a, const float *b,
                      float *y);
void aot_sub_avx2_f32(const aot_binary_params *params, const float *a, const float *b,
                      float *y);
void aot_mul_avx2_f32(const aot_binary_params *params, const float *a, const float *b,
                      float *y);
void aot_div_avx2_f32(const aot_binary_params *params, const float *a, const float *b,
                      float *y);
void aot_add_avx512_f32(const aot_binary_params *params, const float *a, const float *b,
                        float *y);
void aot_sub_avx512_f32(const aot_binary_params *params, const float *a, const float *b,
                        float *y);
void aot_mul_avx512_f32(const aot_binary_params *params, const float *a, const float *b,
                        float *y);
void aot_div_avx512_f32(const aot_binary_params *params, const float *a, const float *b,
                        float *y);
/** aot_avgpool2d_f32 on AVX2 / AVX-512 (same windows and divisors): each kernel row's
 * taps, or a window of whole input rows, summed in lanes, so rounding differs. */
void aot_avgpool2d_avx2_f32(const aot_pool2d_params *params, const float *x, float *y);
void aot_avgpool2d_avx512_f32(const aot_pool2d_params *params, const float *x, float *y);
/** Largest cols of aot_transpose2d_{avx2,avx512}_s8 (targets/rules_x86.py keeps to it). */
#define AOT_TRANSPOSE2D_X86_MAX_COLS 8
/**
 * Out-of-place aot_transpose2d_inplace of bytes (elem_bytes 1) with
 * 2 <= cols <= AOT_TRANSPOSE2D_X86_MAX_COLS (NHWC -> NCHW of few channels):
 * y[b][c][r] = x[b][r][c]; x and y must not overlap. shuffles: int8
 * [cols][cols][64], entry [k][v] the vpshufb indices taking output column k's
 * bytes from the v-th 16-byte chunk of 16 rows (cols * i + k - 16 v where that
 * lies in 0..15, else -128), repeated in each 16-byte lane.
 */
void aot_transpose2d_avx2_s8(const aot_transpose2d_inplace_params *params, const int8_t *x,
                             const int8_t *shuffles, int8_t *y);
void aot_transpose2d_avx512_s8(const aot_transpose2d_inplace_params *params, const int8_t *x,
                               const int8_t *shuffles, int8_t *y);
/**
 * The same transpose of floats (elem_bytes 4), 2 <= cols <= AOT_TRANSPOSE2D_X86_MAX_COLS;
 * x and y must not overlap. perms: int32 permute indices from
 * rules_x86.transpose_perms_f32; avx512 [cols][(cols + 1) / 2][16], entry [k][j]
 * lane i = cols * i + k - 32 j where that lies in 0..31 (vpermt2ps of the vectors
 * 2 j, 2 j + 1 of 16 rows), else -1; avx2 [cols][cols][8], entry [k][v] lane i =
 * cols * i + k - 8 v where that lies in 0..7 (vpermps of vector v of 8 rows), else -1.
 */
void aot_transpose2d_avx2_f32(const aot_transpose2d_inplace_params *params, const float *x,
                              const int32_t *perms, float *y);
void aot_transpose2d_avx512_f32(const aot_transpose2d_inplace_params *params, const float *x,
                                const int32_t *perms, float *y);

/* ---- transformer ops (targets/rules_transformer.py) ---- */

/**
 * Layer normalization of each of params->outer rows of params->inner floats:
 * y = (x - mean) / sqrt(var + epsilon) * scale + bias (biased variance).
 * scale [inner]; bias [inner] or NULL; mean_out, inv_std_out [outer] (the row's
 * mean and 1 / sqrt(var + epsilon)) or NULL. y may be x (in place).
 */
void aot_layer_norm_f32(const aot_layer_norm_params *params, const float *x,
                        const float *scale, const float *bias, float *y, float *mean_out,
                        float *inv_std_out);
/** aot_layer_norm_f32 with AVX-512: mean and variance summed in 16 lanes (rounding). */
void aot_layer_norm_avx512_f32(const aot_layer_norm_params *params, const float *x,
                               const float *scale, const float *bias, float *y,
                               float *mean_out, float *inv_std_out);

/**
 * Weight-only int8 matrix product: x [m][k] float, w [k][n] int8 (any value),
 * scale [n] float (the per-output-column dequantization scale), bias [n] or
 * NULL, y [m][n]: y = scale * (x . w) + bias. Needs k >= 1.
 */
void aot_matmul_w8_f32(const aot_matmul_w8_params *params, const float *x,
                       const int8_t *w, const float *scale, const float *bias, float *y);
/** aot_matmul_w8_f32 with AVX2 + FMA (x86-64): fused multiply-adds, so results
 * differ from the portable kernel by rounding; w re-laid out in panels of 16
 * columns: [ceil(n / 16)][k][16], zero padded. */
void aot_matmul_w8_avx2_f32(const aot_matmul_w8_params *params, const float *x,
                            const int8_t *w, const float *scale, const float *bias, float *y);
/** aot_matmul_w8_f32 with AVX-512 (x86-64-avx512), fused multiply-adds as the AVX2 one;
 *  w re-laid out in panels of 32 columns: [ceil(n / 32)][k][32], zero padded. */
void aot_matmul_w8_avx512_f32(const aot_matmul_w8_params *params, const float *x,
                              const int8_t *w, const float *scale, const float *bias, float *y);
/** aot_matmul_w8_f32 with AArch64 NEON: FMLA fuses, so results differ from the
 * portable kernel by rounding; w re-laid out in panels of 8 columns:
 * [ceil(n / 8)][k][8], zero padded. */
void aot_matmul_w8_neon_f32(const aot_matmul_w8_params *params, const float *x,
                            const int8_t *w, const float *scale, const float *bias, float *y);

/** y = erf(x) (aot_erff). In place allowed. */
void aot_erf_f32(const aot_unary_params *params, const float *x, float *y);
/** Exact GELU, y = x * 0.5 * (1 + erf(x / sqrt 2)). In place allowed. */
void aot_gelu_f32(const aot_unary_params *params, const float *x, float *y);
/**
 * aot_matmul_f32 with AVX-512 for any operand strides and batch offsets; bias
 * must be NULL and act none. scratch: k * (n rounded up to 32) floats (one
 * batch of B, packed). Fused multiply-adds: results differ by rounding.
 */
void aot_matmul_strided_avx512_f32(const aot_matmul_params *params, const float *a,
                                   const float *b, const float *bias, float *y,
                                   void *scratch);
/**
 * aot_matmul_avx2_f32 / aot_matmul_neon_f32 for any B strides (bias NULL): B is
 * used in place when b_col_stride == 1 (scratch may be NULL), else each batch of
 * B is first copied to scratch (k * n floats) as a dense [k][n] matrix.
 */
void aot_matmul_strided_avx2_f32(const aot_matmul_params *params, const float *a,
                                 const float *b, const float *bias, float *y, void *scratch);
void aot_matmul_strided_neon_f32(const aot_matmul_params *params, const float *a,
                                 const float *b, const float *bias, float *y, void *scratch);
/** aot_gelu_f32 with AVX-512 (x86-64-avx512): bit for bit the same results. */
void aot_gelu_avx512_f32(const aot_unary_params *params, const float *x, float *y);
/**
 * Softmax over each row of x [rows][cols] plus bias [bias_rows][cols] (row r adds
 * bias row r % bias_rows; bias may be NULL): max subtracted, a NaN or an all -inf
 * row gives NaN, which replace_nan turns into nan_value. y may be x (in place).
 */
void aot_softmax_rows_f32(const aot_softmax_rows_params *params, const float *x,
                          const float *bias, float *y);
/** aot_gelu_f32 with AVX2 (x86-64-avx2): bit for bit the same results. */
void aot_gelu_avx2_f32(const aot_unary_params *params, const float *x, float *y);
/** aot_softmax_rows_f32 with AVX2: the same exponentials, the row sum in 8 lanes. */
void aot_softmax_rows_avx2_f32(const aot_softmax_rows_params *params, const float *x,
                               const float *bias, float *y);
/** aot_gelu_f32 with AArch64 NEON: bit for bit the same results. */
void aot_gelu_neon_f32(const aot_unary_params *params, const float *x, float *y);
/** aot_softmax_rows_f32 with NEON: the same exponentials, the row sum in 4 lanes. */
void aot_softmax_rows_neon_f32(const aot_softmax_rows_params *params, const float *x,
                               const float *bias, float *y);
/** aot_softmax_rows_f32 with AVX-512: the same exponentials, the row sum in 16 lanes. */
void aot_softmax_rows_avx512_f32(const aot_softmax_rows_params *params, const float *x,
                                 const float *bias, float *y);
/** tanh-approximated GELU, 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))). In place allowed. */
void aot_gelu_tanh_f32(const aot_unary_params *params, const float *x, float *y);
/** y = 1 where x is NaN, else 0 (bool bytes). */
void aot_isnan_f32(const aot_unary_params *params, const float *x, uint8_t *y);
/** Broadcasting logical and of bool bytes (any nonzero byte is true); y is 0 or 1. */
void aot_and_bool(const aot_binary_params *params, const uint8_t *a, const uint8_t *b,
                  uint8_t *y);
/** Broadcasting out = cond ? x : y, cond bool bytes; see aot_where_params. */
void aot_where_f32(const aot_where_params *params, const uint8_t *cond, const float *x,
                   const float *y, float *out);
/** Elementwise type conversion, see aot_cast_params (src and dst do not overlap). */
void aot_cast(const aot_cast_params *params, const void *src, void *dst);

/**
 * Gather with run-time int64 indices (ONNX Gather): data [outer][axis_dim][inner
 * bytes] -> output [outer][count][inner bytes]. Returns AOT_E_RANGE, writing
 * nothing, if an index lies outside [-axis_dim, axis_dim); else AOT_OK.
 */
int aot_gather(const aot_gather_params *params, const void *data, const int64_t *indices,
               void *output);
/**
 * Embedding lookup in an int8 table (weight-only int8): output [count][cols] float,
 * row r = table[i] * scale (see aot_gather_w8_params), i = indices[r]. Returns
 * AOT_E_RANGE, writing nothing, if an index lies outside [-rows, rows); else AOT_OK.
 */
int aot_gather_w8_f32(const aot_gather_w8_params *params, const int64_t *indices,
                      const int8_t *table, const float *scale, float *output);
/** Rows of bytes copied from compile-time offsets, see aot_gather_rows_params. */
void aot_gather_rows(const aot_gather_rows_params *params, const void *src, void *dst);

/* Mask construction and run-time shape ops (targets/rules_mask.py). */

/** Expand: broadcast copy of any element type, see aot_strided_copy_params
 * (broadcast dims have source stride 0). input and output do not overlap. */
void aot_expand(const aot_strided_copy_params *params, const void *input, void *output);
/** Slice: strided copy of any element type (any axes, steps of either sign),
 * see aot_strided_copy_params. input and output do not overlap. */
void aot_slice(const aot_strided_copy_params *params, const void *input, void *output);
/** Broadcasting y = a OP b (OP: params->op, an aot_compare_op) of float32; y bool
 * bytes 0 or 1. NaN compares false (Equal too). */
void aot_compare_f32(const aot_compare_params *params, const float *a, const float *b, uint8_t *y);
/** aot_compare_f32 for the other element types (u8 also compares bool bytes). */
void aot_compare_s8(const aot_compare_params *params, const int8_t *a, const int8_t *b, uint8_t *y);
void aot_compare_u8(const aot_compare_params *params, const uint8_t *a, const uint8_t *b,
                    uint8_t *y);
void aot_compare_s16(const aot_compare_params *params, const int16_t *a, const int16_t *b,
                     uint8_t *y);
void aot_compare_u16(const aot_compare_params *params, const uint16_t *a, const uint16_t *b,
                     uint8_t *y);
void aot_compare_s32(const aot_compare_params *params, const int32_t *a, const int32_t *b,
                     uint8_t *y);
void aot_compare_u32(const aot_compare_params *params, const uint32_t *a, const uint32_t *b,
                     uint8_t *y);
void aot_compare_s64(const aot_compare_params *params, const int64_t *a, const int64_t *b,
                     uint8_t *y);
void aot_compare_u64(const aot_compare_params *params, const uint64_t *a, const uint64_t *b,
                     uint8_t *y);
void aot_compare_f64(const aot_compare_params *params, const double *a, const double *b,
                     uint8_t *y);
/** Broadcasting logical or of bool bytes (nonzero is true); y is 0 or 1. */
void aot_or_bool(const aot_binary_params *params, const uint8_t *a, const uint8_t *b,
                 uint8_t *y);
/** Broadcasting logical exclusive or of bool bytes (nonzero is true); y is 0 or 1. */
void aot_xor_bool(const aot_binary_params *params, const uint8_t *a, const uint8_t *b,
                  uint8_t *y);
/** y = 1 where x is 0, else 0 (bool bytes). */
void aot_not_bool(const aot_unary_params *params, const uint8_t *x, uint8_t *y);
/**
 * Broadcasting elementwise maximum / minimum of two float32 tensors (params->act
 * is ignored); NaN in either operand gives NaN. y may be a itself when a is not
 * broadcast (Max / Min of three or more inputs accumulates in y).
 */
void aot_max_f32(const aot_binary_params *params, const float *a, const float *b, float *y);
void aot_min_f32(const aot_binary_params *params, const float *a, const float *b, float *y);
/** aot_max_f32 / aot_min_f32 for the other element types. */
void aot_max_s8(const aot_binary_params *params, const int8_t *a, const int8_t *b, int8_t *y);
void aot_min_s8(const aot_binary_params *params, const int8_t *a, const int8_t *b, int8_t *y);
void aot_max_u8(const aot_binary_params *params, const uint8_t *a, const uint8_t *b, uint8_t *y);
void aot_min_u8(const aot_binary_params *params, const uint8_t *a, const uint8_t *b, uint8_t *y);
void aot_max_s16(const aot_binary_params *params, const int16_t *a, const int16_t *b, int16_t *y);
void aot_min_s16(const aot_binary_params *params, const int16_t *a, const int16_t *b, int16_t *y);
void aot_max_u16(const aot_binary_params *params, const uint16_t *a, const uint16_t *b,
                 uint16_t *y);
void aot_min_u16(const aot_binary_params *params, const uint16_t *a, const uint16_t *b,
                 uint16_t *y);
void aot_max_s32(const aot_binary_params *params, const int32_t *a, const int32_t *b, int32_t *y);
void aot_min_s32(const aot_binary_params *params, const int32_t *a, const int32_t *b, int32_t *y);
void aot_max_u32(const aot_binary_params *params, const uint32_t *a, const uint32_t *b,
                 uint32_t *y);
void aot_min_u32(const aot_binary_params *params, const uint32_t *a, const uint32_t *b,
                 uint32_t *y);
void aot_max_s64(const aot_binary_params *params, const int64_t *a, const int64_t *b, int64_t *y);
void aot_min_s64(const aot_binary_params *params, const int64_t *a, const int64_t *b, int64_t *y);
void aot_max_u64(const aot_binary_params *params, const uint64_t *a, const uint64_t *b,
                 uint64_t *y);
void aot_min_u64(const aot_binary_params *params, const uint64_t *a, const uint64_t *b,
                 uint64_t *y);
void aot_max_f64(const aot_binary_params *params, const double *a, const double *b, double *y);
void aot_min_f64(const aot_binary_params *params, const double *a, const double *b, double *y);
/** aot_where_f32 for elements of any type of params->elem_bytes (1, 2, 4 or 8) bytes. */
void aot_where(const aot_where_params *params, const uint8_t *cond, const void *x,
               const void *y, void *out);
/**
 * GatherND with run-time int64 indices, see aot_gather_nd_params. Returns
 * AOT_E_RANGE, writing nothing, if an index lies outside [-dims[d], dims[d]);
 * else AOT_OK.
 */
int aot_gather_nd(const aot_gather_nd_params *params, const void *data,
                  const int64_t *indices, void *output);
/**
 * Range with run-time scalars: output[i] = start + i * delta for i < params->count.
 * Returns AOT_E_RANGE, writing nothing, if max(ceil((limit - start) / delta), 0)
 * is not params->count (the compiled length) or delta is 0; else AOT_OK.
 */
int aot_range_f32(const aot_range_params *params, const float *start, const float *limit,
                  const float *delta, float *output);
/** aot_range_f32 for int32 (the length computed exactly, in int64). */
int aot_range_s32(const aot_range_params *params, const int32_t *start, const int32_t *limit,
                  const int32_t *delta, int32_t *output);
/** aot_range_f32 for int64 (the length computed exactly, in unsigned 64-bit arithmetic). */
int aot_range_s64(const aot_range_params *params, const int64_t *start, const int64_t *limit,
                  const int64_t *delta, int64_t *output);

/**
 * Element-wise float32 function params->op (an aot_unary_op: Neg, Abs, Sqrt,
 * Exp, Log, Floor, Round, Softplus, Elu, Sin, ...) over params->size elements,
 * any float values (NaN and inf as the ONNX/numpy definition gives). y may be x.
 */
void aot_unary_f32(const aot_unary_math_params *params, const float *x, float *y);
/** Broadcasting x^y (aot_powf), fields as aot_add_f32. */
void aot_pow_f32(const aot_binary_params *params, const float *a, const float *b, float *y);
/** Broadcasting PRelu: y = a < 0 ? a * slope : a, slope b; fields as aot_add_f32. */
void aot_prelu_f32(const aot_binary_params *params, const float *a, const float *b, float *y);
/**
 * Sum / Max / Min / Prod / SumSquare / L1 / L2 / LogSumExp / LogSum (params->op,
 * an aot_reduce_op) over the middle axis of [outer][reduce][inner] into [outer][inner];
 * reduce >= 1.
 */
void aot_reduce_f32(const aot_reduce_op_params *params, const float *x, float *y);
/** ArgMax / ArgMin over the middle axis of [outer][reduce][inner]: int64 indices [outer][inner]. */
void aot_arg_reduce_f32(const aot_arg_reduce_params *params, const float *x, int64_t *y);
/** LogSoftmax over the middle axis of [outer][axis][inner]; y may be x. */
void aot_log_softmax_f32(const aot_softmax_params *params, const float *x, float *y);
/** Hardmax over the middle axis of [outer][axis][inner]: 1 at the first max, else 0; y may be x. */
void aot_hardmax_f32(const aot_softmax_params *params, const float *x, float *y);

#ifdef __cplusplus
}
#endif

#endif /* AOT_KERNELS_H */

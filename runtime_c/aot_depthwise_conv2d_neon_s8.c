/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"
#include "aot_requant_neon_impl.h"

#if defined(__aarch64__) && defined(__ARM_NEON)

/* Row width of one column phase of the padded plane (see below): output
 * columns rounded up to whole vectors in row mode, exact in flat mode. */
static int32_t aot_dw_row_width(const aot_conv2d_s8_params *p, int32_t flat)
{
    const int32_t cols = flat ? p->out_w : (p->out_w + 15) & ~15;
    return cols + (p->kernel_w - 1) * p->dilation_w / p->stride_w;
}

/* Flat mode: vectors run over the padded plane's rows back to back (an
 * output row every `span` bytes), which wastes fewer lanes than a vector
 * per output row when that span is under one vector. */
static int32_t aot_dw_span(const aot_conv2d_s8_params *p, int32_t flat)
{
    return p->stride_h * p->stride_w * aot_dw_row_width(p, flat);
}

static int32_t aot_dw_flat(const aot_conv2d_s8_params *p)
{
    return p->out_w <= 16 && aot_dw_span(p, 1) < 16;
}

/* Input row iy zero-point padded: dst[j] = x[iy][j - pad_left], j < length.
 * Copied by whole vectors where the load stays inside the plane; a store
 * running past `length` stays within `room` bytes (bytes written later, or
 * slack), and the padding is written last. */
AOT_NEON_INLINE void aot_dw_padded_row(const aot_conv2d_s8_params *p, const int8_t *x,
                                       int32_t iy, int8_t *dst, int32_t length, int32_t room)
{
    const int8_t zp = (int8_t)(-p->input_offset);
    const int32_t in_plane = p->in_h * p->in_w, src = iy * p->in_w;
    const int32_t left = p->pad_left < length ? p->pad_left : length;
    int32_t count = length - left < p->in_w ? length - left : p->in_w;
    int32_t j;

    count = count > 0 ? count : 0;
    for (j = 0; j + 16 <= count; j += 16) {
        vst1q_s8(dst + left + j, vld1q_s8(x + src + j));
    }
    if (j < count && src + j + 16 <= in_plane && left + j + 16 <= room) {
        vst1q_s8(dst + left + j, vld1q_s8(x + src + j));
    } else {
        for (; j < count; ++j) {
            dst[left + j] = x[src + j];
        }
    }
    for (j = 0; j < left; ++j) {
        dst[j] = zp;
    }
    for (j = left + count; j < length; ++j) {
        dst[j] = zp;
    }
}

/* One input plane, zero-point padded, its columns split into stride_w phases:
 * plane[r][s][j] = x[r - pad_top][j * stride_w + s - pad_left], in `limit`
 * bytes of scratch. Stride 2 pads each row into `row_tmp` (2 * width + 16
 * bytes) and splits it with LD2; larger strides go byte by byte. */
static void aot_dw_pad_plane(const aot_conv2d_s8_params *p, const int8_t *x, int8_t *plane,
                             int32_t rows, int32_t width, int32_t limit, int8_t *row_tmp)
{
    const int8_t zp = (int8_t)(-p->input_offset);
    const int32_t sw = p->stride_w;
    int32_t r, s, j;

    for (r = 0; r < rows; ++r) {
        const int32_t iy = r - p->pad_top;
        int8_t *dst = plane + r * sw * width;
        if (iy < 0 || iy >= p->in_h) {
            for (j = 0; j < sw * width; ++j) {
                dst[j] = zp;
            }
        } else if (sw == 1) {
            aot_dw_padded_row(p, x, iy, dst, width, limit - r * width);
        } else if (sw == 2) {
            aot_dw_padded_row(p, x, iy, row_tmp, 2 * width, 2 * width + 16);
            for (j = 0; j + 16 <= width; j += 16) {
                const int8x16x2_t v = vld2q_s8(row_tmp + 2 * j);
                vst1q_s8(dst + j, v.val[0]);
                vst1q_s8(dst + width + j, v.val[1]);
            }
            for (; j < width; ++j) {
                dst[j] = row_tmp[2 * j];
                dst[width + j] = row_tmp[2 * j + 1];
            }
        } else {
            for (s = 0; s < sw; ++s) {
                for (j = 0; j < width; ++j) {
                    const int32_t ix = j * sw + s - p->pad_left;
                    dst[s * width + j] = ix >= 0 && ix < p->in_w ? x[iy * p->in_w + ix] : zp;
                }
            }
        }
    }
}

/* 16 sums of taps at base + tap_offset[t] (+ bias), requantized. */
static inline int8x16_t aot_dw_vector(const int8_t *base, const int32_t *tap_offset,
                                      int32_t taps, const int8_t *w, int32x4_t b,
                                      int32x4_t mult, int32x4_t left, int32x4_t right,
                                      int32x4_t offset, int8x16_t lo, int8x16_t hi)
{
    int32x4_t a0 = b, a1 = b, a2 = b, a3 = b;
    int32_t t;
    for (t = 0; t < taps; ++t) {
        const int8x16_t xv = vld1q_s8(base + tap_offset[t]);
        const int8x16_t wv = vld1q_dup_s8(w + t);
        const int16x8_t lo16 = vmull_s8(vget_low_s8(xv), vget_low_s8(wv));
        const int16x8_t hi16 = vmull_high_s8(xv, wv);
        a0 = vaddw_s16(a0, vget_low_s16(lo16));
        a1 = vaddw_high_s16(a1, lo16);
        a2 = vaddw_s16(a2, vget_low_s16(hi16));
        a3 = vaddw_high_s16(a3, hi16);
    }
    return aot_neon_requant16(a0, a1, a2, a3, mult, left, right, offset, lo, hi);
}

/*
 * int8 depthwise convolution (groups == in_c == out_c), bit-exact with
 * aot_conv2d_s8. Plane by plane: the input plane is copied into scratch with
 * its padding (the input zero point; the lowering folds input_offset * sum(w)
 * into the bias) and its columns split by stride phase, so every tap of 16
 * consecutive output pixels is one contiguous 16-byte load; products are
 * SMULL'd to int16 and widened into 4 int32x4 sums. Row mode: vectors along
 * each output row. Flat mode (narrow planes, see aot_dw_flat): vectors along
 * the padded plane, results staged in scratch and copied out row by row.
 * Weights [C][kh][kw]; scratch (sizes: targets/rules_neon.py): padded plane
 * with slack, the flat-mode staging rows, kh * kw int32 tap offsets, and
 * with stride_w 2 one padded input row (2 * width + 16 bytes).
 * Runs in place (output == input) too: a plane is copied before any of its
 * output is written, output plane c lies within input planes 0..c, and
 * nothing is written past an output plane's end.
 */
void aot_depthwise_conv2d_neon_s8(const aot_conv2d_s8_params *params, const int8_t *input,
                                  const int8_t *weights, const int32_t *bias, int8_t *output,
                                  void *scratch)
{
    const aot_conv2d_s8_params *p = params;
    const int32_t flat = aot_dw_flat(p);
    const int32_t taps = p->kernel_h * p->kernel_w;
    const int32_t rows = (p->out_h - 1) * p->stride_h + (p->kernel_h - 1) * p->dilation_h + 1;
    const int32_t width = aot_dw_row_width(p, flat);
    const int32_t row_step = p->stride_w * width;
    const int32_t span = aot_dw_span(p, flat);
    const int32_t plane_bytes = (rows * row_step + span + 16 + 15) & ~15;
    const int32_t stage_bytes = flat ? (p->out_h * span + 16 + 15) & ~15 : 0;
    const int32_t in_plane = p->in_h * p->in_w, out_plane = p->out_h * p->out_w;
    const int32x4_t offset = vdupq_n_s32(p->output_offset);
    const int8x16_t lo = vdupq_n_s8((int8_t)p->act_min);
    const int8x16_t hi = vdupq_n_s8((int8_t)p->act_max);
    int8_t *plane = (int8_t *)scratch;
    int8_t *stage = plane + plane_bytes;
    int32_t *tap_offset = (int32_t *)(void *)(stage + stage_bytes);
    int8_t *row_tmp = (int8_t *)(tap_offset + taps);
    int32_t t, ky, kx, n, c, oy, ox, q;

    for (ky = 0; ky < p->kernel_h; ++ky) {
        for (kx = 0; kx < p->kernel_w; ++kx) {
            const int32_t col = kx * p->dilation_w;
            tap_offset[ky * p->kernel_w + kx] = ky * p->dilation_h * row_step +
                                                (col % p->stride_w) * width + col / p->stride_w;
        }
    }
    for (t = rows * row_step; t < plane_bytes; ++t) {
        plane[t] = 0;   /* slack read by lanes whose results are dropped */
    }
    for (n = 0; n < p->batch; ++n) {
        for (c = 0; c < p->out_c; ++c) {
            const int32_t plane_index = n * p->out_c + c;
            const int8_t *w = weights + c * taps;
            const int32x4_t b = vdupq_n_s32(bias[c]);
            const int32x4_t mult = vdupq_n_s32(p->multipliers[c]);
            const int32x4_t sh = vdupq_n_s32(p->shifts[c]);
            const int32x4_t left = aot_neon_left_shift(sh), right = aot_neon_right_shift(sh);
            int8_t *y = output + plane_index * out_plane;

            aot_dw_pad_plane(p, input + plane_index * in_plane, plane, rows, width, plane_bytes,
                             row_tmp);
            if (flat) {
                for (q = 0; q < p->out_h * span; q += 16) {
                    vst1q_s8(stage + q, aot_dw_vector(plane + q, tap_offset, taps, w, b, mult,
                                                      left, right, offset, lo, hi));
                }
                /* Whole-vector stores run into the next rows, rewritten next;
                 * rows whose vector would pass the plane's end are stored exactly. */
                for (oy = 0; oy < p->out_h; ++oy) {
                    const int8x16_t v = vld1q_s8(stage + oy * span);
                    if (oy * p->out_w + 16 <= out_plane) {
                        vst1q_s8(y + oy * p->out_w, v);
                    } else {
                        aot_neon_store_s8(y + oy * p->out_w, v, p->out_w);
                    }
                }
                continue;
            }
            for (oy = 0; oy < p->out_h; ++oy) {
                const int8_t *row = plane + oy * p->stride_h * row_step;
                for (ox = 0; ox < p->out_w; ox += 16) {
                    const int32_t count = p->out_w - ox < 16 ? p->out_w - ox : 16;
                    aot_neon_store_s8(y + oy * p->out_w + ox,
                                      aot_dw_vector(row + ox, tap_offset, taps, w, b, mult, left,
                                                    right, offset, lo, hi),
                                      count);
                }
            }
        }
    }
}

#else
/* Built for a CPU without NEON: this kernel is not available there. */
typedef int aot_depthwise_conv2d_neon_s8_unavailable;
#endif

/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"
#include "aot_requant_neon_impl.h"

#if defined(__aarch64__) && defined(__ARM_NEON)

/* Row width of one column phase of the padded plane (see below). */
static int32_t aot_dw_row_width(const aot_conv2d_s8_params *p)
{
    return ((p->out_w + 15) & ~15) + (p->kernel_w - 1) * p->dilation_w / p->stride_w;
}

/* One input plane, zero-point padded, its columns split into stride_w phases:
 * plane[r][s][j] = x[r - pad_top][j * stride_w + s - pad_left]. */
static void aot_dw_pad_plane(const aot_conv2d_s8_params *p, const int8_t *x, int8_t *plane,
                             int32_t rows, int32_t width)
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
            continue;
        }
        if (sw == 1) {
            const int8_t *src = x + iy * p->in_w;
            const int32_t left = p->pad_left < width ? p->pad_left : width;
            int32_t end = p->pad_left + p->in_w;   /* first right-padding column */
            end = end < width ? end : width;
            for (j = 0; j < left; ++j) {
                dst[j] = zp;
            }
            for (; j + 16 <= end; j += 16) {
                vst1q_s8(dst + j, vld1q_s8(src + j - p->pad_left));
            }
            for (; j < end; ++j) {
                dst[j] = src[j - p->pad_left];
            }
            for (; j < width; ++j) {
                dst[j] = zp;
            }
            continue;
        }
        for (s = 0; s < sw; ++s) {
            for (j = 0; j < width; ++j) {
                const int32_t ix = j * sw + s - p->pad_left;
                dst[s * width + j] = ix >= 0 && ix < p->in_w ? x[iy * p->in_w + ix] : zp;
            }
        }
    }
}

/*
 * int8 depthwise convolution (groups == in_c == out_c), bit-exact with
 * aot_conv2d_s8. Plane by plane: the input plane is copied into scratch with
 * its padding (the input zero point; the lowering folds input_offset * sum(w)
 * into the bias) and its columns split by stride phase, so every tap of 16
 * consecutive output pixels is one contiguous 16-byte load; products are
 * SMULL'd to int16 and widened into 4 int32x4 sums. Weights [C][kh][kw];
 * scratch: rows * stride_w * width bytes of padded plane, then kh * kw int32
 * tap offsets (sizes: targets/rules_neon.py). Runs in place (output == input)
 * too: a plane is copied before any output is written, and output plane c
 * lies within input planes 0..c.
 */
void aot_depthwise_conv2d_neon_s8(const aot_conv2d_s8_params *params, const int8_t *input,
                                  const int8_t *weights, const int32_t *bias, int8_t *output,
                                  void *scratch)
{
    const aot_conv2d_s8_params *p = params;
    const int32_t taps = p->kernel_h * p->kernel_w;
    const int32_t rows = (p->out_h - 1) * p->stride_h + (p->kernel_h - 1) * p->dilation_h + 1;
    const int32_t width = aot_dw_row_width(p);
    const int32_t row_step = p->stride_w * width;
    const int32_t plane_bytes = (rows * row_step + 15) & ~15;
    const int32_t in_plane = p->in_h * p->in_w, out_plane = p->out_h * p->out_w;
    const int32x4_t offset = vdupq_n_s32(p->output_offset);
    const int8x16_t lo = vdupq_n_s8((int8_t)p->act_min);
    const int8x16_t hi = vdupq_n_s8((int8_t)p->act_max);
    int8_t *plane = (int8_t *)scratch;
    int32_t *tap_offset = (int32_t *)(void *)(plane + plane_bytes);
    int32_t t, ky, kx, n, c, oy, ox;

    for (ky = 0; ky < p->kernel_h; ++ky) {
        for (kx = 0; kx < p->kernel_w; ++kx) {
            const int32_t col = kx * p->dilation_w;
            tap_offset[ky * p->kernel_w + kx] = ky * p->dilation_h * row_step +
                                                (col % p->stride_w) * width + col / p->stride_w;
        }
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

            aot_dw_pad_plane(p, input + plane_index * in_plane, plane, rows, width);
            for (oy = 0; oy < p->out_h; ++oy) {
                const int8_t *row = plane + oy * p->stride_h * row_step;
                for (ox = 0; ox < p->out_w; ox += 16) {
                    const int8_t *base = row + ox;
                    int32x4_t a0 = b, a1 = b, a2 = b, a3 = b;
                    int32_t count = p->out_w - ox < 16 ? p->out_w - ox : 16;
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
                    aot_neon_store_s8(y + oy * p->out_w + ox,
                                      aot_neon_requant16(a0, a1, a2, a3, mult, left, right,
                                                         offset, lo, hi),
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

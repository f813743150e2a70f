/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_act_neon_impl.h"
#include "aot_kernels.h"

#if defined(__aarch64__) && defined(__ARM_NEON)

/* Row width (floats) of one column phase of the padded plane. */
static int32_t aot_dw_f32_row_width(const aot_conv2d_params *p)
{
    return ((p->out_w + 7) & ~7) + (p->kernel_w - 1) * p->dilation_w / p->stride_w;
}

/* One input plane, zero padded, its columns split into stride_w phases:
 * plane[r][s][j] = x[r - pad_top][j * stride_w + s - pad_left]. */
static void aot_dw_f32_pad_plane(const aot_conv2d_params *p, const float *x, float *plane,
                                 int32_t rows, int32_t width)
{
    const int32_t sw = p->stride_w;
    int32_t r, s, j;

    for (r = 0; r < rows; ++r) {
        const int32_t iy = r - p->pad_top;
        float *dst = plane + r * sw * width;
        if (iy < 0 || iy >= p->in_h) {
            for (j = 0; j < sw * width; ++j) {
                dst[j] = 0.0f;
            }
            continue;
        }
        if (sw == 1) {
            const float *src = x + iy * p->in_w;
            const int32_t left = p->pad_left < width ? p->pad_left : width;
            int32_t end = p->pad_left + p->in_w;
            end = end < width ? end : width;
            for (j = 0; j < left; ++j) {
                dst[j] = 0.0f;
            }
            for (; j + 4 <= end; j += 4) {
                vst1q_f32(dst + j, vld1q_f32(src + j - p->pad_left));
            }
            for (; j < end; ++j) {
                dst[j] = src[j - p->pad_left];
            }
            for (; j < width; ++j) {
                dst[j] = 0.0f;
            }
            continue;
        }
        for (s = 0; s < sw; ++s) {
            for (j = 0; j < width; ++j) {
                const int32_t ix = j * sw + s - p->pad_left;
                dst[s * width + j] = ix >= 0 && ix < p->in_w ? x[iy * p->in_w + ix] : 0.0f;
            }
        }
    }
}

/*
 * float depthwise convolution (groups == in_c == out_c). Plane by plane: the
 * input plane is copied into scratch with its zero padding, columns split by
 * stride phase, so each tap of 8 consecutive output pixels is two contiguous
 * loads and two FMLAs; taps are summed in (ky, kx) order from 0, bias added
 * last, then the activation (fused multiply-adds: rounding differs from
 * aot_conv2d_f32 only). Weights [C][kh][kw]. Scratch: the padded plane
 * (rows * stride_w * width floats, rounded up to 4) then kh * kw int32 tap
 * offsets (targets/rules_neon.py sizes it). Runs in place (output == input):
 * a plane is copied before any of its output is written, and output plane c
 * lies within input planes 0..c.
 */
void aot_depthwise_conv2d_neon_f32(const aot_conv2d_params *params, const float *input,
                                   const float *weights, const float *bias, float *output,
                                   void *scratch)
{
    const aot_conv2d_params *p = params;
    const int32_t taps = p->kernel_h * p->kernel_w;
    const int32_t rows = (p->out_h - 1) * p->stride_h + (p->kernel_h - 1) * p->dilation_h + 1;
    const int32_t width = aot_dw_f32_row_width(p);
    const int32_t row_step = p->stride_w * width;
    const int32_t plane_floats = (rows * row_step + 3) & ~3;
    const int32_t in_plane = p->in_h * p->in_w, out_plane = p->out_h * p->out_w;
    float *plane = (float *)scratch;
    int32_t *tap_offset = (int32_t *)(void *)(plane + plane_floats);
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
            const float *w = weights + c * taps;
            const float32x4_t b = vdupq_n_f32(bias != NULL ? bias[c] : 0.0f);
            float *y = output + plane_index * out_plane;

            aot_dw_f32_pad_plane(p, input + plane_index * in_plane, plane, rows, width);
            for (oy = 0; oy < p->out_h; ++oy) {
                const float *row = plane + oy * p->stride_h * row_step;
                for (ox = 0; ox < p->out_w; ox += 8) {
                    const float *base = row + ox;
                    const int32_t count = p->out_w - ox < 8 ? p->out_w - ox : 8;
                    float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0, r0, r1;
                    for (t = 0; t < taps; ++t) {
                        const float *src = base + tap_offset[t];
                        a0 = vfmaq_n_f32(a0, vld1q_f32(src), w[t]);
                        a1 = vfmaq_n_f32(a1, vld1q_f32(src + 4), w[t]);
                    }
                    r0 = aot_neon_act_f32(&p->act, vaddq_f32(a0, b));
                    r1 = aot_neon_act_f32(&p->act, vaddq_f32(a1, b));
                    if (count == 8) {
                        vst1q_f32(y + oy * p->out_w + ox, r0);
                        vst1q_f32(y + oy * p->out_w + ox + 4, r1);
                    } else {
                        aot_neon_store_f32(y + oy * p->out_w + ox, r0, count < 4 ? count : 4);
                        aot_neon_store_f32(y + oy * p->out_w + ox + 4, r1,
                                           count < 4 ? 0 : count - 4);
                    }
                }
            }
        }
    }
}

#else
/* Built for a CPU without NEON: this kernel is not available there. */
typedef int aot_depthwise_conv2d_neon_f32_unavailable;
#endif

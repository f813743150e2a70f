/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_dsp_impl.h"

/*
 * int8 convolution (groups 1, any kernel, stride, dilation, padding) with
 * SMLAD, bit-exact with aot_conv2d_s8: im2col of two output pixels at a time
 * into scratch (an int16 pixel pair of k4 = in_c * kernel_h * kernel_w
 * rounded up to 4 values, the tail zero; aot_dsp_impl.h), then
 * aot_dsp_gemm_pixels over all output channels.
 * weights: pair weights [out_c][k4] (aot_dsp_impl.h); bias has the input
 * offset folded in (always present), so a padded tap holds the input zero
 * point. A 1x1 convolution with stride 1 and no padding only ever writes
 * outputs over the two pixels just gathered, so it may run in place (the
 * conditions of aot_pointwise_conv2d_inplace_s8).
 */
/* Whether output pixel (oy, ox)'s whole window lies inside the input. */
static int32_t inside(const aot_conv2d_s8_params *p, int32_t oy, int32_t ox)
{
    const int32_t iy0 = oy * p->stride_h - p->pad_top, ix0 = ox * p->stride_w - p->pad_left;
    return iy0 >= 0 && ix0 >= 0 && iy0 + (p->kernel_h - 1) * p->dilation_h < p->in_h
           && ix0 + (p->kernel_w - 1) * p->dilation_w < p->in_w;
}

/* The windows of output pixels a = (oya, oxa) and b = (oyb, oxb) into the pixel
 * pair; taps outside the input hold the input zero point. offsets: each of the
 * k4 taps' offset from the window's first input byte (those past k: 0, a byte
 * the zero weights past k ignore). */
static void gather(const aot_conv2d_s8_params *p, const int8_t *x_n, int32_t oya,
                   int32_t oxa, int32_t oyb, int32_t oxb, const int32_t *offsets, int32_t k4,
                   int16_t *pair)
{
    const int32_t in_h = p->in_h, in_w = p->in_w, in_plane = in_h * in_w;
    const int32_t kh = p->kernel_h, kw = p->kernel_w, dh = p->dilation_h, dw = p->dilation_w;
    const int32_t iya = oya * p->stride_h - p->pad_top, ixa = oxa * p->stride_w - p->pad_left;
    const int32_t iyb = oyb * p->stride_h - p->pad_top, ixb = oxb * p->stride_w - p->pad_left;
    const int16_t fill = (int16_t)(-p->input_offset);
    int16_t *d = pair;
    int32_t lane = 0, ic, ky, kx;

    if (inside(p, oya, oxa) && inside(p, oyb, oxb)) {
        const int8_t *a = x_n + iya * in_w + ixa, *b = x_n + iyb * in_w + ixb;
        const int32_t *o = offsets, *const end = offsets + k4;
        for (; o < end; o += 4, d += 8) {
            const int32_t o0 = o[0], o1 = o[1], o2 = o[2], o3 = o[3];
            d[0] = a[o0];
            d[1] = a[o1];
            d[2] = a[o2];
            d[3] = a[o3];
            d[4] = b[o0];
            d[5] = b[o1];
            d[6] = b[o2];
            d[7] = b[o3];
        }
        return;
    }
    for (ic = 0; ic < p->in_c; ++ic) {
        const int8_t *x_c = x_n + ic * in_plane;
        for (ky = 0; ky < kh; ++ky) {
            const int32_t ya = iya + ky * dh, yb = iyb + ky * dh;
            const int32_t in_a = ya >= 0 && ya < in_h, in_b = yb >= 0 && yb < in_h;
            for (kx = 0; kx < kw; ++kx) {
                const int32_t xa = ixa + kx * dw, xb = ixb + kx * dw;
                d[0] = in_a && xa >= 0 && xa < in_w ? (int16_t)x_c[ya * in_w + xa] : fill;
                d[4] = in_b && xb >= 0 && xb < in_w ? (int16_t)x_c[yb * in_w + xb] : fill;
                ++d;
                if (++lane == 4) {
                    lane = 0;
                    d += 4;
                }
            }
        }
    }
}

AOT_DSP_NO_LIBCALL
void aot_conv2d_dsp_s8(const aot_conv2d_s8_params *params, const int8_t *input,
                       const int8_t *weights, const int32_t *bias, int8_t *output,
                       void *scratch)
{
    const aot_conv2d_s8_params *p = params;
    const int32_t k = p->in_c * p->kernel_h * p->kernel_w, k4 = (k + 3) & ~3;
    const int32_t out_plane = p->out_h * p->out_w;
    const int32_t in_plane = p->in_h * p->in_w, kh = p->kernel_h, kw = p->kernel_w;
    int16_t *x = (int16_t *)scratch;
    int32_t *offsets = (int32_t *)(x + 2 * k4);
    int32_t n, pix, i, ic, ky, kx;

    for (i = 0; i < 2 * k4; ++i) {
        x[i] = 0;     /* past k: the zero weights there make any value add 0 */
    }
    i = 0;
    for (ic = 0; ic < p->in_c; ++ic) {
        for (ky = 0; ky < kh; ++ky) {
            for (kx = 0; kx < kw; ++kx) {
                offsets[i++] = ic * in_plane + ky * p->dilation_h * p->in_w + kx * p->dilation_w;
            }
        }
    }
    for (; i < k4; ++i) {
        offsets[i] = 0;
    }
    for (n = 0; n < p->batch; ++n) {
        const int8_t *x_n = input + n * p->in_c * p->in_h * p->in_w;
        int8_t *y_n = output + n * p->out_c * out_plane;

        for (pix = 0; pix < out_plane; pix += 2) {
            const int32_t two = pix + 1 < out_plane;
            gather(p, x_n, pix / p->out_w, pix % p->out_w, (pix + two) / p->out_w,
                   (pix + two) % p->out_w, offsets, k4, x);
            aot_dsp_gemm_pixels(weights, k4, bias, p->out_c, p->multipliers, p->shifts,
                                p->output_offset, p->act_min, p->act_max, x, y_n + pix,
                                two ? y_n + pix + 1 : NULL, out_plane);
        }
    }
}

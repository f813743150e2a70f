/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_dsp_dw_impl.h"

/*
 * int8 depthwise convolution (groups == in_c, out_c = in_c * multiplier, any
 * kernel, stride, dilation and padding) with SMLAD, bit-exact with
 * aot_conv2d_s8. Each input plane is copied into the padded plane in
 * scratch before its multiplier output planes are written, so with
 * multiplier 1 and out_h * out_w <= in_h * in_w it may run in place; the
 * padded plane's border (the input zero point) is filled once per call
 * (aot_dsp_dw_fill, aot_dsp_dw_copy_interior). bias has the input offset
 * folded in (always present).
 *
 * weights: [out_c][kernel_h][kw4] int8, each row zero-padded to kw4 (a
 * multiple of 4), so one word of weights and one word of a padded input
 * row, both SXTB16'd (and rotated by 8), make two SMLADs over 4 taps
 * (dilation_w 1). With dilation_w > 1 the taps are
 * multiplied one by one. Scratch: [hp][wp] padded plane + 4 bytes (a word
 * read may pass the row's last tap; its weight is 0).
 */
AOT_DSP_NO_LIBCALL
void aot_depthwise_conv2d_dsp_s8(const aot_conv2d_s8_params *params, const int8_t *input,
                                 const int8_t *weights, const int32_t *bias, int8_t *output,
                                 void *scratch)
{
    const aot_conv2d_s8_params *p = params;
    const int32_t in_plane = p->in_h * p->in_w;
    const int32_t kh = p->kernel_h, kw = p->kernel_w, kw4 = (kw + 3) & ~3;
    const int32_t out_w = p->out_w, out_plane = p->out_h * out_w;
    const int32_t dh = p->dilation_h, dw = p->dilation_w;
    const int32_t sh = p->stride_h, sw = p->stride_w;
    const int32_t hp = (p->out_h - 1) * sh + (kh - 1) * dh + 1;
    const int32_t wp = (out_w - 1) * sw + (kw - 1) * dw + 1;
    const int32_t mult_c = p->out_c / p->in_c;
    const int32_t planes = p->batch * p->in_c;
    const int32_t full_range = p->act_min == -128 && p->act_max == 127;
    int8_t *pad = (int8_t *)scratch;
    int32_t g, j, oy, ox, ky, kx;

    aot_dsp_dw_fill(pad, hp * wp + 4, (int8_t)(-p->input_offset));
    for (g = 0; g < planes; ++g) {
        aot_dsp_dw_copy_interior(input + g * in_plane, p->in_h, p->in_w, p->pad_top,
                                 p->pad_left, hp, wp, pad);
        for (j = 0; j < mult_c; ++j) {
            const int32_t oc = (g % p->in_c) * mult_c + j;
            const int8_t *w = weights + oc * kh * kw4;
            int8_t *y = output + (g * mult_c + j) * out_plane;
            const int32_t b = bias[oc], mult = p->multipliers[oc], shift = p->shifts[oc];
            const int32_t fast = shift <= -1 && shift >= -23 && full_range;
            const int32_t right = fast ? -shift : 1, half = (int32_t)1 << (right - 1);

            for (oy = 0; oy < p->out_h; ++oy) {
                const int8_t *r0 = pad + oy * sh * wp;
                for (ox = 0; ox < out_w; ++ox) {
                    const int8_t *r = r0 + ox * sw;
                    int32_t acc = b;
                    for (ky = 0; ky < kh; ++ky) {
                        const int8_t *wr = w + ky * kw4;
                        const int8_t *xr = r + ky * dh * wp;
                        if (dw == 1) {
                            for (kx = 0; kx < kw4; kx += 4) {
                                const int32_t wv = aot_dsp_load32(wr + kx);
                                const int32_t xv = aot_dsp_load32(xr + kx);
                                acc = aot_dsp_smlad(aot_dsp_sxtb16(wv), aot_dsp_sxtb16(xv),
                                                    acc);
                                acc = aot_dsp_smlad(aot_dsp_sxtb16_ror8(wv),
                                                    aot_dsp_sxtb16_ror8(xv), acc);
                            }
                        } else {
                            for (kx = 0; kx < kw; ++kx) {
                                acc = aot_wrap_add32(acc, wr[kx] * xr[kx * dw]);
                            }
                        }
                    }
                    y[oy * out_w + ox] =
                        fast ? aot_dsp_output_fast(acc, mult, right, half, p->output_offset)
                             : aot_dsp_output(acc, mult, shift, p->output_offset, p->act_min,
                                              p->act_max);
                }
            }
        }
    }
}

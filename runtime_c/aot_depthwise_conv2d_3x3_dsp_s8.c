/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_dsp_impl.h"

/*
 * int8 3x3 depthwise convolution (multiplier 1, dilation 1, stride 1 or 2
 * across) with SMLAD, bit-exact with aot_conv2d_s8; it may run in place
 * (out_h * out_w <= in_h * in_w): each input plane is first copied, padded,
 * into scratch (aot_dsp_pad_plane), so output plane g may then overwrite it.
 * bias has the input offset folded in (always present).
 *
 * One word of a padded row, SXTB16'd, gives e = (x0, x2) and o = (x1, x3);
 * with the row's weights packed as (w0, w2) and w1: stride 1 computes two
 * outputs, w0x0 + w1x1 + w2x2 = SMLAD((w0, w2), e) + SMLABB(w1, o) and
 * w0x1 + w1x2 + w2x3 = SMLAD((w0, w2), o) + SMLABT(w1, e); stride 2 one.
 */
#define AOT_DW3_ROW(r, w02, w1)                                  \
    do {                                                         \
        const int32_t v = aot_dsp_load32(r);                     \
        const int32_t e = aot_dsp_sxtb16(v);                     \
        const int32_t o = aot_dsp_sxtb16_ror8(v);                \
        a0 = aot_dsp_smlad(w02, e, a0);                          \
        a0 = aot_dsp_smlabb(w1, o, a0);                          \
        a1 = aot_dsp_smlad(w02, o, a1);                          \
        a1 = aot_dsp_smlabt(w1, e, a1);                          \
    } while (0)

#define AOT_DW3_ROW1(r, w02, w1)                                 \
    do {                                                         \
        const int32_t v = aot_dsp_load32(r);                     \
        a0 = aot_dsp_smlad(w02, aot_dsp_sxtb16(v), a0);          \
        a0 = aot_dsp_smlabb(w1, aot_dsp_sxtb16_ror8(v), a0);     \
    } while (0)

AOT_DSP_NO_LIBCALL
void aot_depthwise_conv2d_3x3_dsp_s8(const aot_conv2d_s8_params *params,
                                     const int8_t *input, const int8_t *weights,
                                     const int32_t *bias, int8_t *output, void *scratch)
{
    const aot_conv2d_s8_params *p = params;
    /* locals: the int8 stores below may alias any memory, so fields would be re-read */
    const int32_t in_h = p->in_h, in_w = p->in_w, in_plane = in_h * in_w, in_c = p->in_c;
    const int32_t out_h = p->out_h, out_w = p->out_w, out_plane = out_h * out_w;
    const int32_t stride_h = p->stride_h, stride_w = p->stride_w;
    const int32_t pad_top = p->pad_top, pad_left = p->pad_left;
    const int32_t hp = (out_h - 1) * stride_h + 3;
    const int32_t wp = (out_w - 1) * stride_w + 3;
    const int32_t planes = p->batch * in_c;
    const int32_t output_offset = p->output_offset, act_min = p->act_min, act_max = p->act_max;
    const int8_t fill = (int8_t)(-p->input_offset);
    const int32_t *multipliers = p->multipliers, *shifts = p->shifts;
    int8_t *pad = (int8_t *)scratch;
    int32_t g, oy, ox;

    for (g = 0; g < planes; ++g) {
        const int32_t c = g % in_c;
        const int8_t *w = weights + c * 9;
        int8_t *y = output + g * out_plane;
        const int32_t b = bias[c], mult = multipliers[c], shift = shifts[c];
        const int32_t w02_0 = aot_dsp_pack_lo(w[0], w[2]), w1_0 = w[1];
        const int32_t w02_1 = aot_dsp_pack_lo(w[3], w[5]), w1_1 = w[4];
        const int32_t w02_2 = aot_dsp_pack_lo(w[6], w[8]), w1_2 = w[7];

        aot_dsp_pad_plane(input + g * in_plane, in_h, in_w, pad_top, pad_left, hp, wp, fill,
                          pad);
        for (oy = 0; oy < out_h; ++oy) {
            const int8_t *r = pad + oy * stride_h * wp;
            ox = 0;
            if (stride_w == 1) {
                for (; ox + 1 < out_w; ox += 2) {
                    int32_t a0 = b, a1 = b;
                    AOT_DW3_ROW(r + ox, w02_0, w1_0);
                    AOT_DW3_ROW(r + wp + ox, w02_1, w1_1);
                    AOT_DW3_ROW(r + 2 * wp + ox, w02_2, w1_2);
                    y[ox] = aot_dsp_output(a0, mult, shift, output_offset, act_min, act_max);
                    y[ox + 1] = aot_dsp_output(a1, mult, shift, output_offset, act_min,
                                               act_max);
                }
            }
            for (; ox < out_w; ++ox) {
                const int8_t *rx = r + ox * stride_w;
                int32_t a0 = b;
                AOT_DW3_ROW1(rx, w02_0, w1_0);
                AOT_DW3_ROW1(rx + wp, w02_1, w1_1);
                AOT_DW3_ROW1(rx + 2 * wp, w02_2, w1_2);
                y[ox] = aot_dsp_output(a0, mult, shift, output_offset, act_min, act_max);
            }
            y += out_w;
        }
    }
}

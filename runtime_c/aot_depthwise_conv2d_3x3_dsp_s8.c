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
 *
 * Each output row is done in two passes: the sums into an int32 row in
 * scratch, then requantized. Fused, the nine weights, the pointers and the
 * requantization constants do not fit the registers and gcc spills inside
 * the inner loop (about twice the instructions per output, measured).
 */
/* The sums (bias not added) of output rows [oy0, oy1) into acc ([(oy1 - oy0) *
 * out_w + 1]; w02: (w0, w2) of each kernel row, w1_01: (w1 of row 0, of row 1),
 * w1_2: w1 of row 2. Stride 1 computes a last odd column paired with a junk
 * one, which the next row's sums overwrite (its window reads at most one byte
 * past the row: scratch has 4). One pointer walks the three input rows (the
 * other two at register offsets) so that all of it stays in registers. */
AOT_DSP_INLINE void dw3_sums(const int8_t *pad, int32_t wp, int32_t oy0, int32_t oy1,
                             int32_t out_w, int32_t stride_h, int32_t stride_w,
                             const int32_t w02[3], int32_t w1_01, int32_t w1_2, int32_t *acc)
{
    const int32_t w02_0 = w02[0], w02_1 = w02[1], w02_2 = w02[2];
    const int32_t wp2 = 2 * wp, row_step = stride_h * wp;
    const int8_t *row = pad + oy0 * row_step;
    int32_t oy, ox;

    for (oy = oy0; oy < oy1; ++oy, row += row_step, acc += out_w) {
        if (stride_w == 1) {
            const int8_t *r = row;
            int32_t *a = acc;
            int32_t *const end = acc + out_w;
            while (a < end) {
                int32_t v = aot_dsp_load32(r), o = aot_dsp_sxtb16_ror8(v), e = aot_dsp_sxtb16(v);
                int32_t a0 = aot_dsp_smlabb(w1_01, o, aot_dsp_smuad(w02_0, e));
                int32_t a1 = aot_dsp_smlabt(w1_01, e, aot_dsp_smuad(w02_0, o));
                v = aot_dsp_load32(r + wp);
                o = aot_dsp_sxtb16_ror8(v);
                e = aot_dsp_sxtb16(v);
                a0 = aot_dsp_smlatb(w1_01, o, aot_dsp_smlad(w02_1, e, a0));
                a1 = aot_dsp_smlatt(w1_01, e, aot_dsp_smlad(w02_1, o, a1));
                v = aot_dsp_load32(r + wp2);
                o = aot_dsp_sxtb16_ror8(v);
                e = aot_dsp_sxtb16(v);
                a[0] = aot_dsp_smlabb(w1_2, o, aot_dsp_smlad(w02_2, e, a0));
                a[1] = aot_dsp_smlabt(w1_2, e, aot_dsp_smlad(w02_2, o, a1));
                a += 2;
                r += 2;
            }
        } else {
            for (ox = 0; ox < out_w; ++ox) {
                const int8_t *r = row + ox * stride_w;
                const int32_t v0 = aot_dsp_load32(r), v1 = aot_dsp_load32(r + wp);
                const int32_t v2 = aot_dsp_load32(r + wp2);
                int32_t a0 = aot_dsp_smuad(w02_0, aot_dsp_sxtb16(v0));
                a0 = aot_dsp_smlabb(w1_01, aot_dsp_sxtb16_ror8(v0), a0);
                a0 = aot_dsp_smlad(w02_1, aot_dsp_sxtb16(v1), a0);
                a0 = aot_dsp_smlatb(w1_01, aot_dsp_sxtb16_ror8(v1), a0);
                a0 = aot_dsp_smlad(w02_2, aot_dsp_sxtb16(v2), a0);
                acc[ox] = aot_dsp_smlabb(w1_2, aot_dsp_sxtb16_ror8(v2), a0);
            }
        }
    }
}

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
    const int32_t chunk = AOT_DW3_DSP_CHUNK_ROWS(out_h, out_w);
    int8_t *pad = (int8_t *)scratch;
    int32_t *acc = (int32_t *)scratch + ((hp * wp + 4 + 3) >> 2);
    int32_t g, oy;

    for (g = 0; g < planes; ++g) {
        const int32_t c = g % in_c;
        const int8_t *w = weights + c * 9;
        int8_t *y = output + g * out_plane;
        const int32_t b = bias[c], mult = multipliers[c], shift = shifts[c];
        int32_t w02[3];
        w02[0] = aot_dsp_pack_lo(w[0], w[2]);
        w02[1] = aot_dsp_pack_lo(w[3], w[5]);
        w02[2] = aot_dsp_pack_lo(w[6], w[8]);

        aot_dsp_pad_plane(input + g * in_plane, in_h, in_w, pad_top, pad_left, hp, wp, fill,
                          pad);
        for (oy = 0; oy < out_h; oy += chunk) {
            const int32_t oy1 = oy + chunk < out_h ? oy + chunk : out_h;
            const int32_t n = (oy1 - oy) * out_w;
            dw3_sums(pad, wp, oy, oy1, out_w, stride_h, stride_w, w02,
                     aot_dsp_pack_lo(w[1], w[4]), w[7], acc);
            aot_dsp_output_run(acc, n, b, mult, shift, output_offset, act_min, act_max, y);
            y += n;
        }
    }
}

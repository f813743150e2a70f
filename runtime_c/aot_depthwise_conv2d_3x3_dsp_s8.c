/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_dsp_dw_impl.h"

/*
 * int8 3x3 depthwise convolution (multiplier 1, dilation 1, stride 1 or 2
 * across) with SMLAD, bit-exact with aot_conv2d_s8; it may run in place
 * (out_h * out_w <= in_h * in_w): each input plane is first copied into the
 * padded plane in scratch, so output plane g may then overwrite it. The
 * padded plane's border (the input zero point, which adds nothing once the
 * input offset is folded into the bias) is the same for every channel: it is
 * filled once per call, and only the input part is copied per channel.
 *
 * The sums are doubled (weights doubled as they are packed, bias doubled by
 * the compiler), which makes the requantization one SMMLAR with the output
 * offset and rounding folded in (aot_dsp_dw_impl.h).
 *
 * One word of a padded row, SXTB16'd, gives e = (x0, x2) and o = (x1, x3);
 * with the row's weights packed as (w0, w2) and w1: stride 1 computes two
 * outputs, w0x0 + w1x1 + w2x2 = SMLAD((w0, w2), e) + SMLABB(w1, o) and
 * w0x1 + w1x2 + w2x3 = SMLAD((w0, w2), o) + SMLABT(w1, e); stride 2 one.
 * Stride 1 (both ways) computes two output rows at once, so each of the
 * four input rows they read is loaded and unpacked once for both.
 *
 * Each chunk of output rows is done in two passes: the sums into an int32
 * buffer in scratch, then requantized. Fused, the nine weights, the pointers
 * and the requantization constants do not fit the registers and gcc spills
 * inside the inner loop.
 */

/* The doubled sums (bias b2 included) of output rows oy0 .. oy0 + 2 * pairs - 1,
 * stride 1, into acc: per row pair, per column pair (ox, ox + 1), the four
 * sums (oy, ox), (oy, ox + 1), (oy + 1, ox), (oy + 1, ox + 1); an odd last
 * column is paired with a junk one (its window reads at most one byte past the
 * row: scratch has 4; a separate single-column step made gcc spill more in the
 * loop, measured). w02: (w0, w2) of each kernel row, w1_01: (w1 of row 0, of
 * row 1), w1_2: w1 of row 2. */
AOT_DSP_INLINE void dw3_sums_pairs(const int8_t *pad, int32_t wp, int32_t oy0, int32_t pairs,
                                   int32_t out_w, const int32_t w02[3], int32_t w1_01,
                                   int32_t w1_2, int32_t b2, int32_t *acc)
{
    const int32_t w02_0 = w02[0], w02_1 = w02[1], w02_2 = w02[2];
    const int32_t cols4 = 4 * ((out_w + 1) >> 1);
    const int8_t *row = pad + oy0 * wp;
    int32_t q;

    for (q = 0; q < pairs; ++q, row += 2 * wp, acc += cols4) {
        const int8_t *r = row, *r2 = row + 2 * wp;
        int32_t *a = acc;
        int32_t *const end = acc + cols4;
        while (a < end) {
            int32_t v = aot_dsp_load32(r), o = aot_dsp_sxtb16_ror8(v), e = aot_dsp_sxtb16(v);
            int32_t a0 = aot_dsp_smlabb(w1_01, o, aot_dsp_smlad(w02_0, e, b2));
            int32_t a1 = aot_dsp_smlabt(w1_01, e, aot_dsp_smlad(w02_0, o, b2));
            int32_t b0, b1;
            v = aot_dsp_load32(r + wp);
            o = aot_dsp_sxtb16_ror8(v);
            e = aot_dsp_sxtb16(v);
            a0 = aot_dsp_smlatb(w1_01, o, aot_dsp_smlad(w02_1, e, a0));
            a1 = aot_dsp_smlatt(w1_01, e, aot_dsp_smlad(w02_1, o, a1));
            b0 = aot_dsp_smlabb(w1_01, o, aot_dsp_smlad(w02_0, e, b2));
            b1 = aot_dsp_smlabt(w1_01, e, aot_dsp_smlad(w02_0, o, b2));
            v = aot_dsp_load32(r2);
            o = aot_dsp_sxtb16_ror8(v);
            e = aot_dsp_sxtb16(v);
            a[0] = aot_dsp_smlabb(w1_2, o, aot_dsp_smlad(w02_2, e, a0));
            a[1] = aot_dsp_smlabt(w1_2, e, aot_dsp_smlad(w02_2, o, a1));
            b0 = aot_dsp_smlatb(w1_01, o, aot_dsp_smlad(w02_1, e, b0));
            b1 = aot_dsp_smlatt(w1_01, e, aot_dsp_smlad(w02_1, o, b1));
            v = aot_dsp_load32(r2 + wp);
            o = aot_dsp_sxtb16_ror8(v);
            e = aot_dsp_sxtb16(v);
            a[2] = aot_dsp_smlabb(w1_2, o, aot_dsp_smlad(w02_2, e, b0));
            a[3] = aot_dsp_smlabt(w1_2, e, aot_dsp_smlad(w02_2, o, b1));
            a += 4;
            r += 2;
            r2 += 2;
        }
    }
}

/* The doubled sums (bias b2 included) of output row oy into acc ([out_w + 1]):
 * stride_w 1 two outputs per step (an odd last column paired with a junk
 * one, as above), stride_w 2 one. */
AOT_DSP_INLINE void dw3_sums_row(const int8_t *pad, int32_t wp, int32_t oy, int32_t out_w,
                                 int32_t stride_h, int32_t stride_w, const int32_t w02[3],
                                 int32_t w1_01, int32_t w1_2, int32_t b2, int32_t *acc)
{
    const int32_t w02_0 = w02[0], w02_1 = w02[1], w02_2 = w02[2];
    const int8_t *r = pad + oy * stride_h * wp, *r2 = r + 2 * wp;
    int32_t *a = acc;
    int32_t *const end = acc + out_w;

    if (stride_w == 1) {
        while (a < end) {
            int32_t v = aot_dsp_load32(r), o = aot_dsp_sxtb16_ror8(v), e = aot_dsp_sxtb16(v);
            int32_t a0 = aot_dsp_smlabb(w1_01, o, aot_dsp_smlad(w02_0, e, b2));
            int32_t a1 = aot_dsp_smlabt(w1_01, e, aot_dsp_smlad(w02_0, o, b2));
            v = aot_dsp_load32(r + wp);
            o = aot_dsp_sxtb16_ror8(v);
            e = aot_dsp_sxtb16(v);
            a0 = aot_dsp_smlatb(w1_01, o, aot_dsp_smlad(w02_1, e, a0));
            a1 = aot_dsp_smlatt(w1_01, e, aot_dsp_smlad(w02_1, o, a1));
            v = aot_dsp_load32(r2);
            o = aot_dsp_sxtb16_ror8(v);
            e = aot_dsp_sxtb16(v);
            a[0] = aot_dsp_smlabb(w1_2, o, aot_dsp_smlad(w02_2, e, a0));
            a[1] = aot_dsp_smlabt(w1_2, e, aot_dsp_smlad(w02_2, o, a1));
            a += 2;
            r += 2;
            r2 += 2;
        }
        return;
    }
    /* stride_w 2: the constant step and an end pointer leave gcc no spill */
    while (a < end) {
        const int32_t v0 = aot_dsp_load32(r), v1 = aot_dsp_load32(r + wp);
        const int32_t v2 = aot_dsp_load32(r2);
        int32_t a0 = aot_dsp_smlad(w02_0, aot_dsp_sxtb16(v0), b2);
        a0 = aot_dsp_smlabb(w1_01, aot_dsp_sxtb16_ror8(v0), a0);
        a0 = aot_dsp_smlad(w02_1, aot_dsp_sxtb16(v1), a0);
        a0 = aot_dsp_smlatb(w1_01, aot_dsp_sxtb16_ror8(v1), a0);
        a0 = aot_dsp_smlad(w02_2, aot_dsp_sxtb16(v2), a0);
        *a++ = aot_dsp_smlabb(w1_2, aot_dsp_sxtb16_ror8(v2), a0);
        r += 2;
        r2 += 2;
    }
}

/* One output of doubled sum a2 (bias included): mode 0 the fast requantization
 * (right shift e in [1, 23], k as aot_dsp_dw_round's) with the full int8 range,
 * 1 the same with a narrower clamp, 2 the general one (a constant in each caller:
 * the function is inlined into one loop per mode). */
AOT_DSP_INLINE int8_t dw3_out(int32_t a2, int32_t m, int32_t k, int32_t e, int32_t shift,
                              int32_t output_offset, int32_t act_min, int32_t act_max,
                              int mode)
{
    int32_t v;
    if (mode == 0) {
        return (int8_t)aot_dsp_ssat8(aot_dsp_dw_round(a2, m, k, e));
    }
    if (mode == 1) {
        v = aot_dsp_dw_round(a2, m, k, e);
        v = v < act_min ? act_min : v;
        return (int8_t)(v > act_max ? act_max : v);
    }
    return aot_dsp_clamp(aot_dsp_requantize(a2 >> 1, m, shift), output_offset, act_min, act_max);
}

/* The outputs of dw3_sums_pairs' sums: rows 2 * pairs of out_w, from y on. */
AOT_DSP_INLINE void dw3_output_pairs(const int32_t *acc, int32_t pairs, int32_t out_w,
                                     int32_t b2, int32_t m, int32_t k, int32_t e,
                                     int32_t shift, int32_t output_offset, int32_t act_min,
                                     int32_t act_max, int8_t *y, int mode)
{
    const int32_t full = out_w >> 1;
    int32_t q, j;
    for (q = 0; q < pairs; ++q, y += 2 * out_w) {
        int8_t *ya = y, *yb = y + out_w;
        for (j = 0; j < full; ++j) {
            const int32_t s0 = acc[0] + b2, s1 = acc[1] + b2, s2 = acc[2] + b2;
            const int32_t s3 = acc[3] + b2;
            ya[0] = dw3_out(s0, m, k, e, shift, output_offset, act_min, act_max, mode);
            ya[1] = dw3_out(s1, m, k, e, shift, output_offset, act_min, act_max, mode);
            yb[0] = dw3_out(s2, m, k, e, shift, output_offset, act_min, act_max, mode);
            yb[1] = dw3_out(s3, m, k, e, shift, output_offset, act_min, act_max, mode);
            acc += 4;
            ya += 2;
            yb += 2;
        }
        if (out_w & 1) {
            const int32_t s0 = acc[0] + b2, s2 = acc[2] + b2;
            ya[0] = dw3_out(s0, m, k, e, shift, output_offset, act_min, act_max, mode);
            yb[0] = dw3_out(s2, m, k, e, shift, output_offset, act_min, act_max, mode);
            acc += 4;
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
    const int32_t *multipliers = p->multipliers, *shifts = p->shifts;
    const int32_t chunk = AOT_DSP_DW3_ROWS(out_h, out_w);
    /* below 4 rows the pair path's setup costs more than it saves (measured) */
    const int32_t two_rows = stride_h == 1 && stride_w == 1 && out_h >= 4;
    const int32_t full_range = act_min == -128 && act_max == 127;
    int8_t *pad = (int8_t *)scratch;
    int32_t *acc = (int32_t *)scratch + ((hp * wp + 4 + 3) >> 2);
    int32_t g, oy;

    aot_dsp_dw_fill(pad, hp * wp + 4, (int8_t)(-p->input_offset));
    for (g = 0; g < planes; ++g) {
        const int32_t c = g % in_c;
        const int8_t *w = weights + c * 9;
        int8_t *y = output + g * out_plane;
        const int32_t b2 = bias[c], mult = multipliers[c], shift = shifts[c];
        const int32_t fast = shift <= -1 && shift >= -23, e = fast ? -shift : 1;
        const int32_t k = (int32_t)((uint32_t)output_offset << e) + ((int32_t)1 << (e - 1));
        const int32_t w1_01 = aot_dsp_pack_lo(2 * w[1], 2 * w[4]), w1_2 = 2 * w[7];
        int32_t w02[3];
        w02[0] = aot_dsp_pack_lo(2 * w[0], 2 * w[2]);
        w02[1] = aot_dsp_pack_lo(2 * w[3], 2 * w[5]);
        w02[2] = aot_dsp_pack_lo(2 * w[6], 2 * w[8]);

        aot_dsp_dw_copy_interior(input + g * in_plane, in_h, in_w, pad_top, pad_left, hp, wp,
                                 pad);
        for (oy = 0; oy < out_h; oy += chunk) {
            const int32_t rows = out_h - oy < chunk ? out_h - oy : chunk;
            const int32_t pairs = two_rows ? rows >> 1 : 0;
            if (pairs > 0) {
                dw3_sums_pairs(pad, wp, oy, pairs, out_w, w02, w1_01, w1_2, b2, acc);
                if (fast && full_range) {
                    dw3_output_pairs(acc, pairs, out_w, 0, mult, k, e, shift, output_offset,
                                     act_min, act_max, y, 0);
                } else if (fast) {
                    dw3_output_pairs(acc, pairs, out_w, 0, mult, k, e, shift, output_offset,
                                     act_min, act_max, y, 1);
                } else {
                    dw3_output_pairs(acc, pairs, out_w, 0, mult, k, e, shift, output_offset,
                                     act_min, act_max, y, 2);
                }
                y += 2 * pairs * out_w;
            }
            if (2 * pairs < rows) {
                const int32_t n = (rows - 2 * pairs) * out_w;
                int32_t *a = acc, i;
                for (i = oy + 2 * pairs; i < oy + rows; ++i, a += out_w) {
                    dw3_sums_row(pad, wp, i, out_w, stride_h, stride_w, w02, w1_01, w1_2, b2,
                                 a);
                }
                aot_dsp_dw_output_run(acc, n, 0, mult, shift, output_offset, act_min, act_max, y);
                y += n;
            }
        }
    }
}

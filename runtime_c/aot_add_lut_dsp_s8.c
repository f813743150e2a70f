/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_dsp_dw_impl.h"

/*
 * int8 add of two same-shape tensors (params->ndim == 0), bit-exact with
 * aot_add_s8 (TFLite's AddFunc). Each input's rescaling is a function of its
 * int8 code alone, so the compiler tabulates it: tables[0][code & 0xFF] and
 * tables[1][code & 0xFF] are twice TFLite's rescaled a and b (with
 * left_shift), and only the sum's requantization runs here. The doubled sum
 * (below 2^30 in magnitude: the lowering rule checks) is what
 * aot_dsp_dw_output_run's requantization takes (aot_dsp_dw_impl.h): one SMMLAR
 * with the output offset and rounding folded in, for right shifts 1..23.
 * params->output_multiplier is TFLite's (in [2^30, 2^31)). y may alias a or
 * b (each element is read before it is written).
 */
AOT_DSP_NO_LIBCALL
void aot_add_lut_dsp_s8(const aot_add_s8_params *params, const int8_t *a, const int8_t *b,
                        const int32_t *tables, int8_t *y)
{
    const aot_add_s8_params *p = params;
    const int32_t size = p->size, m = p->output_multiplier, shift = p->output_shift;
    const int32_t output_offset = p->output_offset, act_min = p->act_min, act_max = p->act_max;
    const int32_t *ta = tables, *tb = tables + 256;
    const uint8_t *ua = (const uint8_t *)a, *ub = (const uint8_t *)b;
    int8_t *const end = y + size;

    if (shift <= -1 && shift >= -23) {
        const int32_t e = -shift;
        const int32_t k = (int32_t)((uint32_t)output_offset << e) + ((int32_t)1 << (e - 1));
        if (act_min == -128 && act_max == 127) {
            while (y < end) {
                const int32_t s2 = ta[*ua++] + tb[*ub++];
                *y++ = (int8_t)aot_dsp_ssat8(aot_dsp_dw_round(s2, m, k, e));
            }
            return;
        }
        while (y < end) {
            const int32_t s2 = ta[*ua++] + tb[*ub++];
            int32_t v = aot_dsp_dw_round(s2, m, k, e);
            v = v < act_min ? act_min : v;
            *y++ = (int8_t)(v > act_max ? act_max : v);
        }
        return;
    }
    while (y < end) {
        const int32_t sum = (ta[*ua++] + tb[*ub++]) >> 1;
        *y++ = aot_dsp_clamp(aot_dsp_requantize(sum, m, shift), output_offset, act_min,
                             act_max);
    }
}

/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_dsp_impl.h"

/*
 * int8 add of two same-shape tensors (params->ndim == 0), bit-exact with
 * aot_add_s8 (TFLite's AddFunc). Each input's rescaling is a function of its
 * int8 code alone, so the compiler tabulates it: tables[0][code & 0xFF] and
 * tables[1][code & 0xFF] are TFLite's rescaled a and b (with left_shift), and
 * only the sum's requantization runs here. params->output_multiplier holds
 * 2 * multiplier wrapped to int32 (aot_dsp_requantize_m2). y may alias a or b
 * (each element is read before it is written).
 */
AOT_DSP_NO_LIBCALL
void aot_add_lut_dsp_s8(const aot_add_s8_params *params, const int8_t *a, const int8_t *b,
                        const int32_t *tables, int8_t *y)
{
    const aot_add_s8_params *p = params;
    const int32_t size = p->size, m2 = p->output_multiplier, shift = p->output_shift;
    const int32_t output_offset = p->output_offset, act_min = p->act_min, act_max = p->act_max;
    const int32_t *ta = tables, *tb = tables + 256;
    int32_t j;

    if (shift <= -1 && shift >= -23 && act_min == -128 && act_max == 127) {
        const int32_t right = -shift, half = (int32_t)1 << (right - 1);
        for (j = 0; j < size; ++j) {
            const int32_t sum = aot_wrap_add32(ta[(uint8_t)a[j]], tb[(uint8_t)b[j]]);
            y[j] = aot_dsp_output_fast(sum, m2, right, half, output_offset);
        }
        return;
    }
    for (j = 0; j < size; ++j) {
        const int32_t sum = aot_wrap_add32(ta[(uint8_t)a[j]], tb[(uint8_t)b[j]]);
        y[j] = aot_dsp_output(sum, m2, shift, output_offset, act_min, act_max);
    }
}

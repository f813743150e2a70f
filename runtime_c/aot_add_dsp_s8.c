/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_dsp_impl.h"

/*
 * int8 add of two same-shape tensors (params->ndim == 0), bit-exact with
 * aot_add_s8 (TFLite's AddFunc): the three smaller-than-one rescalings go
 * through aot_dsp_requantize (one 64-bit multiply-accumulate each; all
 * three shifts are <= 0, TFLite's "Exp" shifts, which the lowering rule
 * checks) and the parameters stay in registers. y may alias a or b (each element is read
 * before it is written).
 */
AOT_DSP_NO_LIBCALL
void aot_add_dsp_s8(const aot_add_s8_params *params, const int8_t *a, const int8_t *b,
                    int8_t *y)
{
    const aot_add_s8_params *p = params;
    const int32_t size = p->size, left_shift = p->left_shift;
    const int32_t a_offset = p->a_offset, a_mult = p->a_multiplier, a_shift = p->a_shift;
    const int32_t b_offset = p->b_offset, b_mult = p->b_multiplier, b_shift = p->b_shift;
    const int32_t out_mult = p->output_multiplier, out_shift = p->output_shift;
    const int32_t output_offset = p->output_offset, act_min = p->act_min, act_max = p->act_max;
    int32_t j;

    for (j = 0; j < size; ++j) {
        const int32_t sa = aot_dsp_requantize(aot_wrap_shl32(a[j] + a_offset, left_shift),
                                              a_mult, a_shift);
        const int32_t sb = aot_dsp_requantize(aot_wrap_shl32(b[j] + b_offset, left_shift),
                                              b_mult, b_shift);
        y[j] = aot_dsp_clamp(aot_dsp_requantize(aot_wrap_add32(sa, sb), out_mult, out_shift),
                             output_offset, act_min, act_max);
    }
}

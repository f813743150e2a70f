/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_fixedpoint.h"
#include "aot_kernels.h"

/*
 * int8 fully connected, bit-exact with TFLite's reference
 * reference_integer_ops::FullyConnected (per-tensor multiplier) and
 * FullyConnectedPerChannel (multipliers/shifts per output):
 * acc = sum_k (w[n][k] + weights_offset) * (x[m][k] + input_offset) + bias[n]
 * (int32, wrapping as TFLite's accumulator would; computed in uint32 so the
 * wrap is defined), then MultiplyByQuantizedMultiplier, + output_offset,
 * clamp to [act_min, act_max]. Output y is [m][n].
 */
void aot_fully_connected_s8(const aot_fully_connected_s8_params *params, const int8_t *input,
                            const int8_t *weights, const int32_t *bias, int8_t *output)
{
    const aot_fully_connected_s8_params *p = params;
    const int32_t input_offset = p->input_offset;
    int32_t i, j, k;

    for (i = 0; i < p->m; ++i) {
        const int8_t *x = input + i * p->k;
        for (j = 0; j < p->n; ++j) {
            const int8_t *w = weights + j * p->k;
            const int32_t weights_offset =
                p->weights_offsets != NULL ? p->weights_offsets[j] : p->weights_offset;
            const int32_t multiplier = p->multipliers != NULL ? p->multipliers[j] : p->multiplier;
            const int32_t shift = p->shifts != NULL ? p->shifts[j] : p->shift;
            uint32_t sum = bias != NULL ? (uint32_t)bias[j] : 0u;
            int32_t acc;
            for (k = 0; k < p->k; ++k) {
                sum += (uint32_t)(((int32_t)w[k] + weights_offset) *
                                  ((int32_t)x[k] + input_offset));
            }
            acc = aot_mul_by_quantized_multiplier((int32_t)sum, multiplier, shift);
            acc = aot_wrap_add32(acc, p->output_offset);
            acc = acc < p->act_min ? p->act_min : acc;
            acc = acc > p->act_max ? p->act_max : acc;
            *output++ = (int8_t)acc;
        }
    }
}

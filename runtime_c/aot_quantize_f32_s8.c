/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

/*
 * float -> int8 at a model's input, as ONNX QuantizeLinear (and onnxruntime)
 * computes it: q = saturate(round_half_even(x / scale) + zero_point), with
 * the division done in float32. Clamping x / scale to the integer range
 * [-128 - zp, 127 - zp] before rounding gives the same result as rounding
 * first (rounding is monotonic and keeps integers) and keeps the value small
 * enough to convert to int32 exactly. NaN maps to the zero point.
 *
 * Rounding without libc: for |t| <= 256 the truncation toward zero is
 * exact and so is t - trunc(t), so ties are detected exactly.
 */
void aot_quantize_f32_s8(const aot_quantize_params *params, const float *x, int8_t *y)
{
    const float scale = params->scale;
    const int32_t zp = params->zero_point;
    const float lo = (float)(INT8_MIN - zp);
    const float hi = (float)(INT8_MAX - zp);
    int32_t i;

    for (i = 0; i < params->size; ++i) {
        float t = x[i] / scale;
        int32_t q;
        float frac;
        if (t != t) {
            t = 0.0f;
        }
        t = t < lo ? lo : t;
        t = t > hi ? hi : t;
        q = (int32_t)t; /* toward zero */
        frac = t - (float)q;
        if (frac > 0.5f || (frac == 0.5f && (q & 1) != 0)) {
            q += 1;
        } else if (frac < -0.5f || (frac == -0.5f && (q & 1) != 0)) {
            q -= 1;
        }
        q += zp;
        q = q < INT8_MIN ? INT8_MIN : q;
        q = q > INT8_MAX ? INT8_MAX : q;
        y[i] = (int8_t)q;
    }
}

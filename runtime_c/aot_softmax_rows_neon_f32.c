/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"
#include "aot_math.h"

#if defined(__aarch64__) && defined(__ARM_NEON)
#include <arm_neon.h>

#include "aot_vmath_neon_impl.h"

/*
 * aot_softmax_rows_f32 on 4 columns at a time (the last cols % 4 in scalar
 * code). The exponentials are aot_expf's bits; the row sum is taken in 4
 * lanes, then across them, then the tail, so it differs from the portable
 * kernel's index-order sum by rounding. A NaN anywhere, or a row of only
 * -inf, still makes the whole row NaN.
 */
void aot_softmax_rows_neon_f32(const aot_softmax_rows_params *params, const float *x,
                               const float *bias, float *y)
{
    const int32_t cols = params->cols, cols4 = cols - cols % 4;
    int32_t r, c;

    if (cols <= 0) {
        return;
    }
    for (r = 0; r < params->rows; ++r) {
        const float *xr = x + r * cols;
        const float *br = bias != NULL ? bias + (r % params->bias_rows) * cols : NULL;
        float *yr = y + r * cols;
        float32x4_t vmax = vdupq_n_f32(-AOT_INFINITY), vsum = vdupq_n_f32(0.0f), vm;
        float max_v, sum;

        for (c = 0; c < cols4; c += 4) {
            float32x4_t v = vld1q_f32(xr + c);
            if (br != NULL) {
                v = vaddq_f32(v, vld1q_f32(br + c));
            }
            vmax = vmaxq_f32(vmax, v);
        }
        max_v = vmaxvq_f32(vmax);
        for (; c < cols; ++c) {
            const float v = br != NULL ? xr[c] + br[c] : xr[c];
            max_v = v > max_v || v != v ? v : max_v;
        }
        vm = vdupq_n_f32(max_v);
        for (c = 0; c < cols4; c += 4) {
            float32x4_t v = vld1q_f32(xr + c), e;
            if (br != NULL) {
                v = vaddq_f32(v, vld1q_f32(br + c));
            }
            e = aot_v4_expf(vsubq_f32(v, vm));
            vst1q_f32(yr + c, e);
            vsum = vaddq_f32(vsum, e);
        }
        sum = vaddvq_f32(vsum);
        for (; c < cols; ++c) {
            const float e = aot_expf((br != NULL ? xr[c] + br[c] : xr[c]) - max_v);
            yr[c] = e;
            sum += e;
        }
        vm = vdupq_n_f32(sum);
        for (c = 0; c < cols4; c += 4) {
            float32x4_t v = vdivq_f32(vld1q_f32(yr + c), vm);
            if (params->replace_nan) {
                v = vbslq_f32(vceqq_f32(v, v), v, vdupq_n_f32(params->nan_value));
            }
            vst1q_f32(yr + c, v);
        }
        for (; c < cols; ++c) {
            const float v = yr[c] / sum;
            yr[c] = params->replace_nan && v != v ? params->nan_value : v;
        }
    }
}
#else
typedef int aot_softmax_rows_neon_f32_needs_neon;
#endif

/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"
#include "aot_math.h"

#if defined(__aarch64__) && defined(__ARM_NEON)
#include <arm_neon.h>

#include "aot_vmath_neon_impl.h"

/* aot_gelu_f32 on 4 lanes: the same expression and rounding per element
 * (aot_v4_erff is aot_erff lane by lane), so results are bit for bit the
 * portable kernel's. The tail runs the scalar expression. */
void aot_gelu_neon_f32(const aot_unary_params *params, const float *x, float *y)
{
    const int32_t size = params->size, size4 = size - size % 4;
    int32_t i;

    for (i = 0; i < size4; i += 4) {
        const float32x4_t v = vld1q_f32(x + i);
        const float32x4_t e = aot_v4_erff(vdivq_f32(v, vdupq_n_f32(1.41421356f)));
        vst1q_f32(y + i, vmulq_f32(v, vmulq_f32(vdupq_n_f32(0.5f),
                                               vaddq_f32(vdupq_n_f32(1.0f), e))));
    }
    for (; i < size; ++i) {
        const float v = x[i];
        y[i] = v * (0.5f * (1.0f + aot_erff(v / 1.41421356f)));
    }
}
#else
typedef int aot_gelu_neon_f32_needs_neon;
#endif

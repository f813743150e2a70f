/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to the runtime: aot_act_apply_f32 (aot_types.h) on 4 lanes, for the
 * float *_neon_f32 kernels (AArch64 only). Ship it with them. Same operations
 * in the same order as the scalar code (no fused multiply-add), so each lane
 * equals the scalar result, NaN included (FMAX/FMIN propagate it as the
 * scalar comparisons do).
 */
#ifndef AOT_ACT_NEON_IMPL_H
#define AOT_ACT_NEON_IMPL_H

#include "aot_types.h"

#if defined(__aarch64__) && defined(__ARM_NEON)
#include <arm_neon.h>

#if defined(__GNUC__) || defined(__clang__)
#define AOT_ACT_NEON_INLINE static inline __attribute__((always_inline))
#else
#define AOT_ACT_NEON_INLINE static inline
#endif

AOT_ACT_NEON_INLINE float32x4_t aot_neon_clamp01(float32x4_t t)
{
    return vminq_f32(vmaxq_f32(t, vdupq_n_f32(0.0f)), vdupq_n_f32(1.0f));
}

AOT_ACT_NEON_INLINE float32x4_t aot_neon_act_f32(const aot_act_f32 *act, float32x4_t x)
{
    switch (act->kind) {
    case AOT_ACT_RELU:
        return vmaxq_f32(x, vdupq_n_f32(0.0f));
    case AOT_ACT_CLIP:
        return vminq_f32(vmaxq_f32(x, vdupq_n_f32(act->lo)), vdupq_n_f32(act->hi));
    case AOT_ACT_LEAKY_RELU:
        return vbslq_f32(vcltq_f32(x, vdupq_n_f32(0.0f)), vmulq_n_f32(x, act->alpha), x);
    case AOT_ACT_HARD_SIGMOID:
        return aot_neon_clamp01(vaddq_f32(vmulq_n_f32(x, act->alpha), vdupq_n_f32(act->beta)));
    case AOT_ACT_HARD_SWISH:
        return vmulq_f32(x, aot_neon_clamp01(vaddq_f32(vmulq_n_f32(x, 1.0f / 6.0f),
                                                       vdupq_n_f32(0.5f))));
    default:
        return x;
    }
}

/* Stores the first n (<= 4) lanes of v. */
AOT_ACT_NEON_INLINE void aot_neon_store_f32(float *dst, float32x4_t v, int32_t n)
{
    float tmp[4];
    int32_t i;
    if (n == 4) {
        vst1q_f32(dst, v);
        return;
    }
    vst1q_f32(tmp, v);
    for (i = 0; i < 4; ++i) {   /* fixed trip count: never becomes a memcpy call */
        if (i < n) {
            dst[i] = tmp[i];
        }
    }
}

#endif /* __aarch64__ && __ARM_NEON */
#endif /* AOT_ACT_NEON_IMPL_H */

/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"
#include "aot_requant_neon_impl.h"

#if defined(__aarch64__) && defined(__ARM_NEON)

/* TFLite's AddFunc on 16 lanes; see aot_add_s8 (all shifts are <= 0). */
static inline int8x16_t aot_add_neon_16(const aot_add_s8_params *p, int8x16_t a, int8x16_t b)
{
    const int32x4_t left = vdupq_n_s32(p->left_shift);
    const int32x4_t a_off = vdupq_n_s32(p->a_offset), b_off = vdupq_n_s32(p->b_offset);
    const int32x4_t a_mult = vdupq_n_s32(p->a_multiplier);
    const int32x4_t b_mult = vdupq_n_s32(p->b_multiplier);
    const int32x4_t o_mult = vdupq_n_s32(p->output_multiplier);
    const int32x4_t a_sh = vdupq_n_s32(p->a_shift), b_sh = vdupq_n_s32(p->b_shift);
    const int32x4_t o_sh = vdupq_n_s32(p->output_shift);
    const int32x4_t offset = vdupq_n_s32(p->output_offset);
    const int16x8_t a16[2] = {vmovl_s8(vget_low_s8(a)), vmovl_high_s8(a)};
    const int16x8_t b16[2] = {vmovl_s8(vget_low_s8(b)), vmovl_high_s8(b)};
    int32x4_t r[4];
    int32_t i;

    for (i = 0; i < 4; ++i) {
        const int32x4_t av = (i & 1) ? vmovl_high_s16(a16[i >> 1])
                                     : vmovl_s16(vget_low_s16(a16[i >> 1]));
        const int32x4_t bv = (i & 1) ? vmovl_high_s16(b16[i >> 1])
                                     : vmovl_s16(vget_low_s16(b16[i >> 1]));
        const int32x4_t sa = aot_neon_rounding_divide_by_pot(
            vqrdmulhq_s32(vshlq_s32(vaddq_s32(av, a_off), left), a_mult), a_sh);
        const int32x4_t sb = aot_neon_rounding_divide_by_pot(
            vqrdmulhq_s32(vshlq_s32(vaddq_s32(bv, b_off), left), b_mult), b_sh);
        r[i] = aot_neon_rounding_divide_by_pot(vqrdmulhq_s32(vaddq_s32(sa, sb), o_mult), o_sh);
    }
    return aot_neon_pack16(r[0], r[1], r[2], r[3], offset, vdupq_n_s8((int8_t)p->act_min),
                           vdupq_n_s8((int8_t)p->act_max));
}

/*
 * int8 add of two dense tensors of the same shape (no broadcasting: the
 * lowering keeps the portable kernel for that), bit-exact with aot_add_s8,
 * 16 elements at a time. y may alias a or b.
 */
void aot_add_neon_s8(const aot_add_s8_params *params, const int8_t *a, const int8_t *b,
                     int8_t *y)
{
    int32_t j, t;
    for (j = 0; j + 16 <= params->size; j += 16) {
        vst1q_s8(y + j, aot_add_neon_16(params, vld1q_s8(a + j), vld1q_s8(b + j)));
    }
    if (j < params->size) {
        int8_t ta[16], tb[16];
        const int32_t count = params->size - j;
        for (t = 0; t < 16; ++t) {
            ta[t] = t < count ? a[j + t] : 0;
            tb[t] = t < count ? b[j + t] : 0;
        }
        aot_neon_store_s8(y + j, aot_add_neon_16(params, vld1q_s8(ta), vld1q_s8(tb)), count);
    }
}

#else
/* Built for a CPU without NEON: this kernel is not available there. */
typedef int aot_add_neon_s8_unavailable;
#endif

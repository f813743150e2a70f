/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to the runtime: TFLite's int8 requantization on NEON lanes, for the
 * *_neon_* and *_dotprod_* kernels (AArch64 only). Ship it with them.
 *
 * Bit-exact with aot_mul_by_quantized_multiplier (aot_fixedpoint.h), i.e.
 * TFLite's double-rounding MultiplyByQuantizedMultiplier:
 *  - the left shift wraps as TFLite's x * (1 << shift) does: SSHL, which
 *    does not saturate;
 *  - SQRDMULH is gemmlowp's SaturatingRoundingDoublingHighMul exactly (both
 *    round (2ab + 2^31) / 2^32 half up, and INT32_MIN * INT32_MIN saturates);
 *  - RoundingDivideByPOT rounds ties away from zero, SRSHL rounds them up:
 *    negative lanes first get -1 (gemmlowp's NEON fix-up; saturating, so
 *    INT32_MIN stays put, which SRSHL then shifts exactly).
 */
#ifndef AOT_REQUANT_NEON_IMPL_H
#define AOT_REQUANT_NEON_IMPL_H

#if defined(__aarch64__) && defined(__ARM_NEON)
#include <arm_neon.h>

#if defined(__GNUC__) || defined(__clang__)
#define AOT_NEON_INLINE static inline __attribute__((always_inline))
#else
#define AOT_NEON_INLINE static inline
#endif

/* Per-lane shift vectors of a TFLite shift (> 0: left, <= 0: rounding right). */
AOT_NEON_INLINE int32x4_t aot_neon_left_shift(int32x4_t shift)
{
    return vmaxq_s32(shift, vdupq_n_s32(0));
}

AOT_NEON_INLINE int32x4_t aot_neon_right_shift(int32x4_t shift)
{
    return vminq_s32(shift, vdupq_n_s32(0));   /* negative: SRSHL shifts right */
}

/* RoundingDivideByPOT(x, -neg_exponent), neg_exponent in [-31, 0]. */
AOT_NEON_INLINE int32x4_t aot_neon_rounding_divide_by_pot(int32x4_t x, int32x4_t neg_exponent)
{
    const int32x4_t fixup = vshrq_n_s32(vandq_s32(x, neg_exponent), 31);
    return vrshlq_s32(vqaddq_s32(x, fixup), neg_exponent);
}

/* MultiplyByQuantizedMultiplier(x, multiplier, shift) on 4 lanes, with
 * left = aot_neon_left_shift(shift), right = aot_neon_right_shift(shift). */
AOT_NEON_INLINE int32x4_t aot_neon_mul_by_qm(int32x4_t x, int32x4_t multiplier,
                                             int32x4_t left, int32x4_t right)
{
    return aot_neon_rounding_divide_by_pot(vqrdmulhq_s32(vshlq_s32(x, left), multiplier),
                                           right);
}

/* Offset, clamped int8 codes of 16 requantized int32 values. */
AOT_NEON_INLINE int8x16_t aot_neon_pack16(int32x4_t r0, int32x4_t r1, int32x4_t r2, int32x4_t r3,
                                          int32x4_t offset, int8x16_t lo, int8x16_t hi)
{
    const int16x8_t h0 = vcombine_s16(vqmovn_s32(vaddq_s32(r0, offset)),
                                      vqmovn_s32(vaddq_s32(r1, offset)));
    const int16x8_t h1 = vcombine_s16(vqmovn_s32(vaddq_s32(r2, offset)),
                                      vqmovn_s32(vaddq_s32(r3, offset)));
    const int8x16_t b = vcombine_s8(vqmovn_s16(h0), vqmovn_s16(h1));
    return vminq_s8(vmaxq_s8(b, lo), hi);
}

/* Requantized, offset, clamped int8 codes of 16 int32 sums. */
AOT_NEON_INLINE int8x16_t aot_neon_requant16(int32x4_t a0, int32x4_t a1, int32x4_t a2,
                                             int32x4_t a3, int32x4_t multiplier,
                                             int32x4_t left, int32x4_t right,
                                             int32x4_t offset, int8x16_t lo, int8x16_t hi)
{
    return aot_neon_pack16(aot_neon_mul_by_qm(a0, multiplier, left, right),
                           aot_neon_mul_by_qm(a1, multiplier, left, right),
                           aot_neon_mul_by_qm(a2, multiplier, left, right),
                           aot_neon_mul_by_qm(a3, multiplier, left, right), offset, lo, hi);
}

/* Requantized, offset, clamped int8 codes of 4 int32 sums (in the low 4 bytes). */
AOT_NEON_INLINE int8x8_t aot_neon_requant4(int32x4_t a, int32x4_t multiplier, int32x4_t left,
                                           int32x4_t right, int32x4_t offset, int8x8_t lo,
                                           int8x8_t hi)
{
    const int32x4_t r = vaddq_s32(aot_neon_mul_by_qm(a, multiplier, left, right), offset);
    const int16x4_t h = vqmovn_s32(r);
    const int8x8_t b = vqmovn_s16(vcombine_s16(h, h));
    return vmin_s8(vmax_s8(b, lo), hi);
}

/* Stores the first n (<= 16) bytes of v. */
AOT_NEON_INLINE void aot_neon_store_s8(int8_t *dst, int8x16_t v, int32_t n)
{
    int8_t tmp[16];
    int32_t i;
    if (n == 16) {
        vst1q_s8(dst, v);
        return;
    }
    vst1q_s8(tmp, v);
    for (i = 0; i < 16; ++i) {   /* fixed trip count: never becomes a memcpy call */
        if (i < n) {
            dst[i] = tmp[i];
        }
    }
}

#endif /* __aarch64__ && __ARM_NEON */
#endif /* AOT_REQUANT_NEON_IMPL_H */

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to the runtime: helpers of the Cortex-M DSP depthwise and
 * pooling kernels (aot_depthwise_conv2d_3x3_dsp_s8, aot_avgpool2d_dsp_s8),
 * beside the primitives of aot_dsp_impl.h. Ship it with them.
 *
 * Requantization of doubled sums (aot_dsp_dw_output): the kernel accumulates
 * a2 = 2 * acc (weights and bias doubled), which the lowering rule admits
 * only when |acc| < 2^29 for every input (bias + 128 * sum |w| per channel),
 * so a2 never wraps. Then, with TFLite's multiplier m in [0, 2^31) and right
 * shift e in [1, 23]:
 *   SMMULR(a2, m) = floor((2 acc m + 2^31) / 2^32) = floor((acc m + 2^30) / 2^31)
 * is the rounding doubling high multiply x (see aot_dsp_impl.h), and
 *   SMMLAR(a2, m, k) = x + k,  k = (output_offset << e) + 2^(e - 1),
 * folds the output offset and the rounding half into the same instruction:
 * rounding_divide_by_pot(x, e) + output_offset = (x + k - [x < 0]) >> e, an
 * exact identity because output_offset << e is a multiple of 2^e. [x < 0] may
 * be read as [a2 < 0]: x < 0 implies a2 < 0, and when a2 < 0 but x = 0 both
 * give output_offset (0 <= 2^(e-1) - 1 < 2^e). No overflow: |x| <= 2^28 + 1
 * and |k| <= 2^30 + 2^22.
 */
#ifndef AOT_DSP_DW_IMPL_H
#define AOT_DSP_DW_IMPL_H

#include <stdint.h>

#include "aot_dsp_impl.h"

/* Output rows per pass of aot_depthwise_conv2d_3x3_dsp_s8 (its int32 sums
 * buffer holds rows * (out_w + 1) of them): an even count of rows of at most
 * 64 outputs in all, at least 2 (two rows at once), at most out_h -- enough to
 * spread a pass's setup, little arena. targets/rules_dsp.py sizes the scratch
 * with the same formula. */
#define AOT_DSP_DW3_ROWS(out_h, out_w)                                             \
    (((64 / (out_w)) & ~1) < 2 ? ((out_h) < 2 ? (out_h) : 2)                         \
     : (((64 / (out_w)) & ~1) < (out_h) ? ((64 / (out_w)) & ~1) : (out_h)))

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
/* acc + round(a * b / 2^32) (SMMLAR), wrapping. */
AOT_DSP_INLINE int32_t aot_dsp_smmlar(int32_t a, int32_t b, int32_t acc)
{
    int32_t r;
    __asm__("smmlar %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
    return r;
}
#else
AOT_DSP_INLINE int32_t aot_dsp_smmlar(int32_t a, int32_t b, int32_t acc)
{
    const uint64_t p = ((uint64_t)(uint32_t)acc << 32) + (uint64_t)((int64_t)a * b)
                       + ((uint64_t)1 << 31);
    return (int32_t)(uint32_t)(p >> 32);
}
#endif

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
/* acc + (bytes 0 and 2 of x, sign-extended) as halfword lanes (SXTAB16), and
 * the same for bytes 1 and 3 (SXTAB16 ..., ROR #8); lanes wrap modulo 2^16. */
AOT_DSP_INLINE int32_t aot_dsp_sxtab16(int32_t acc, int32_t x)
{
    int32_t r;
    __asm__("sxtab16 %0, %1, %2" : "=r"(r) : "r"(acc), "r"(x));
    return r;
}

AOT_DSP_INLINE int32_t aot_dsp_sxtab16_ror8(int32_t acc, int32_t x)
{
    int32_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(acc), "r"(x));
    return r;
}
#else
AOT_DSP_INLINE int32_t aot_dsp_sxtab16(int32_t acc, int32_t x)
{
    const uint32_t a = (uint32_t)acc, e = (uint32_t)aot_dsp_sxtb16(x);
    return (int32_t)(((a + e) & 0xFFFFu) | (((a >> 16) + (e >> 16)) << 16));
}

AOT_DSP_INLINE int32_t aot_dsp_sxtab16_ror8(int32_t acc, int32_t x)
{
    return aot_dsp_sxtab16(acc, aot_dsp_ror8(x));
}
#endif

/* The sum of n int8 values at p (any alignment): four per word in two
 * halfword-lane accumulators (SXTAB16), emptied into the int32 sum every 256
 * words, before a lane can leave int16 (256 * -128 = -32768 at worst). */
AOT_DSP_INLINE int32_t aot_dsp_sum_s8(const int8_t *p, int32_t n)
{
    const int32_t ones = 0x00010001;
    int32_t sum = 0;
    while (n >= 4) {
        const int32_t words = n >> 2 < 256 ? n >> 2 : 256;
        const int8_t *const end = p + 4 * words;
        int32_t lanes02 = 0, lanes13 = 0;
        while (p != end) {
            const int32_t v = aot_dsp_load32(p);
            lanes02 = aot_dsp_sxtab16(lanes02, v);
            lanes13 = aot_dsp_sxtab16_ror8(lanes13, v);
            p += 4;
        }
        sum = aot_dsp_smlad(lanes02, ones, aot_dsp_smlad(lanes13, ones, sum));
        n -= 4 * words;
    }
    while (n-- > 0) {
        sum += *p++;
    }
    return sum;
}

/* One output from doubled sums a2 (see above), fast path: k = (output_offset
 * << e) + 2^(e - 1), e in [1, 23], before the clamp. */
AOT_DSP_INLINE int32_t aot_dsp_dw_round(int32_t a2, int32_t m, int32_t k, int32_t e)
{
    return (aot_dsp_smmlar(a2, m, k) + (a2 >> 31)) >> e;
}

/* n requantized outputs y[i] of the doubled sums acc[i] + b2 of one channel,
 * multiplier m (not doubled) and shift. */
AOT_DSP_INLINE void aot_dsp_dw_output_run(const int32_t *acc, int32_t n, int32_t b2, int32_t m,
                                          int32_t shift, int32_t output_offset,
                                          int32_t act_min, int32_t act_max, int8_t *y)
{
    int8_t *const end = y + n;
    if (shift <= -1 && shift >= -23) {
        const int32_t e = -shift;
        const int32_t k = (int32_t)((uint32_t)output_offset << e) + ((int32_t)1 << (e - 1));
        if (act_min == -128 && act_max == 127) {
            while (y + 2 <= end) {
                const int32_t a0 = acc[0] + b2, a1 = acc[1] + b2;
                y[0] = (int8_t)aot_dsp_ssat8(aot_dsp_dw_round(a0, m, k, e));
                y[1] = (int8_t)aot_dsp_ssat8(aot_dsp_dw_round(a1, m, k, e));
                acc += 2;
                y += 2;
            }
            if (y < end) {
                *y = (int8_t)aot_dsp_ssat8(aot_dsp_dw_round(*acc + b2, m, k, e));
            }
            return;
        }
        while (y < end) {
            int32_t v = aot_dsp_dw_round(*acc++ + b2, m, k, e);
            v = v < act_min ? act_min : v;
            *y++ = (int8_t)(v > act_max ? act_max : v);
        }
        return;
    }
    while (y < end) {
        /* a2 is even (no wrap, see above): acc itself is a2 >> 1 */
        *y++ = aot_dsp_clamp(aot_dsp_requantize((*acc++ + b2) >> 1, m, shift), output_offset,
                             act_min, act_max);
    }
}

/* dst[0 .. n) = fill (n bytes, any alignment). */
AOT_DSP_INLINE void aot_dsp_dw_fill(int8_t *dst, int32_t n, int8_t fill)
{
    const int32_t fill4 = (int32_t)(0x01010101u * (uint8_t)fill);
    int8_t *const end = dst + n;
    while (dst + 4 <= end) {
        aot_dsp_store32(dst, fill4);
        dst += 4;
    }
    while (dst < end) {
        *dst++ = fill;
    }
}

/*
 * The part of padded plane dst ([hp][wp], see aot_dsp_pad_plane) that comes
 * from input plane x ([in_h][in_w]): the rows and columns the padded extent
 * keeps, copied; the rest of dst, filled once per call (aot_dsp_dw_fill), is
 * the same for every channel and stays. pad_top, pad_left >= 0.
 */
AOT_DSP_INLINE void aot_dsp_dw_copy_interior(const int8_t *x, int32_t in_h, int32_t in_w,
                                             int32_t pad_top, int32_t pad_left, int32_t hp,
                                             int32_t wp, int8_t *dst)
{
    const int32_t rows = in_h < hp - pad_top ? in_h : hp - pad_top;
    const int32_t cols = in_w < wp - pad_left ? in_w : wp - pad_left;
    const int32_t words = cols >> 2, tail = cols & 3;
    const int8_t *s = x;
    int8_t *d = dst + pad_top * wp + pad_left;
    int32_t iy, i;
    if (cols <= 0) {
        return;
    }
    /* the tail without a loop: small planes copy short rows */
    for (iy = 0; iy < rows; ++iy, s += in_w - (cols & ~3), d += wp - (cols & ~3)) {
        for (i = 0; i < words; ++i) {
            aot_dsp_store32(d, aot_dsp_load32(s));
            d += 4;
            s += 4;
        }
        if (tail & 2) {
            d[0] = s[0];
            d[1] = s[1];
        }
        if (tail & 1) {
            d[tail - 1] = s[tail - 1];
        }
    }
}

#endif /* AOT_DSP_DW_IMPL_H */

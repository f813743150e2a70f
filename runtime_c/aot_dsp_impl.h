/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to the runtime: the Cortex-M DSP-extension primitives of the
 * aot_*_dsp_s8 kernels (Armv7E-M / Armv8-M Mainline with DSP: cortex-m4, -m7,
 * -m33), and the inner loops they share. Ship it with them.
 *
 * SXTB16 and SMLAD come from ACLE (<arm_acle.h>), which both clang (zig) and
 * arm-none-eabi-gcc provide freestanding. PKHBT/PKHTB and ROR are not ACLE
 * functions in gcc's header: they are written as the C expressions both
 * compilers turn into one instruction (checked in the disassembly). Without
 * __ARM_FEATURE_DSP (a host build, or a core without the extension) the same
 * functions are plain C with the instructions' exact semantics, so the
 * kernels also build and run anywhere, bit for bit the same -- which is how
 * they are tested on the host too. SMLAD's sum wraps modulo 2^32 like the
 * portable kernels' uint32 accumulators (the Q flag it sets is never read).
 *
 * Requantization: aot_dsp_requantize is aot_mul_by_quantized_multiplier
 * (TFLite's double rounding) for multipliers in [0, 2^31), with the rounding
 * high multiply done as one 64-bit multiply-accumulate: floor((a*m + 2^30) /
 * 2^31) equals gemmlowp's (a*m + nudge) / 2^31 truncated toward zero (nudge
 * 2^30 for a*m >= 0, 1 - 2^30 below), and the INT32_MIN * INT32_MIN
 * saturation cannot occur with m >= 0.
 */
#ifndef AOT_DSP_IMPL_H
#define AOT_DSP_IMPL_H

#include <stdint.h>

#include "aot_fixedpoint.h"
#include "aot_kernels.h"

#if defined(__GNUC__) || defined(__clang__)
#define AOT_DSP_INLINE static inline __attribute__((always_inline))
#else
#define AOT_DSP_INLINE static inline
#endif

/* On every kernel: gcc would turn the fill and zeroing loops into memset calls,
 * which a libc-free build does not have (as aot_memset.c). */
#if defined(__GNUC__) && !defined(__clang__)
#define AOT_DSP_NO_LIBCALL __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define AOT_DSP_NO_LIBCALL
#endif

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#include <arm_acle.h>

/* Bytes 0 and 2 of x, sign-extended, as the two halfwords of the result. */
AOT_DSP_INLINE int32_t aot_dsp_sxtb16(int32_t x) { return (int32_t)__sxtb16(x); }

/* acc + lo(a) * lo(b) + hi(a) * hi(b), the halfwords signed, wrapping. */
AOT_DSP_INLINE int32_t aot_dsp_smlad(int32_t a, int32_t b, int32_t acc)
{
    return (int32_t)__smlad(a, b, acc);
}

/* acc + lo(a) * lo(b), acc + lo(a) * hi(b) (SMLABB, SMLABT), wrapping. */
AOT_DSP_INLINE int32_t aot_dsp_smlabb(int32_t a, int32_t b, int32_t acc)
{
    return (int32_t)__smlabb(a, b, acc);
}

AOT_DSP_INLINE int32_t aot_dsp_smlabt(int32_t a, int32_t b, int32_t acc)
{
    return (int32_t)__smlabt(a, b, acc);
}

/* acc + hi(a) * lo(b), acc + hi(a) * hi(b) (SMLATB, SMLATT), wrapping. */
AOT_DSP_INLINE int32_t aot_dsp_smlatb(int32_t a, int32_t b, int32_t acc)
{
    return (int32_t)__smlatb(a, b, acc);
}

AOT_DSP_INLINE int32_t aot_dsp_smlatt(int32_t a, int32_t b, int32_t acc)
{
    return (int32_t)__smlatt(a, b, acc);
}

/* lo(a) * lo(b) + hi(a) * hi(b) (SMUAD), wrapping. */
AOT_DSP_INLINE int32_t aot_dsp_smuad(int32_t a, int32_t b) { return (int32_t)__smuad(a, b); }
#else
AOT_DSP_INLINE int32_t aot_dsp_smlatb(int32_t a, int32_t b, int32_t acc)
{
    const int32_t a1 = (int16_t)((uint32_t)a >> 16), b0 = (int16_t)((uint32_t)b & 0xFFFFu);
    return (int32_t)((uint32_t)acc + (uint32_t)(a1 * b0));
}

AOT_DSP_INLINE int32_t aot_dsp_smlatt(int32_t a, int32_t b, int32_t acc)
{
    const int32_t a1 = (int16_t)((uint32_t)a >> 16), b1 = (int16_t)((uint32_t)b >> 16);
    return (int32_t)((uint32_t)acc + (uint32_t)(a1 * b1));
}

AOT_DSP_INLINE int32_t aot_dsp_smlabb(int32_t a, int32_t b, int32_t acc)
{
    const int32_t a0 = (int16_t)((uint32_t)a & 0xFFFFu), b0 = (int16_t)((uint32_t)b & 0xFFFFu);
    return (int32_t)((uint32_t)acc + (uint32_t)(a0 * b0));
}

AOT_DSP_INLINE int32_t aot_dsp_smlabt(int32_t a, int32_t b, int32_t acc)
{
    const int32_t a0 = (int16_t)((uint32_t)a & 0xFFFFu), b1 = (int16_t)((uint32_t)b >> 16);
    return (int32_t)((uint32_t)acc + (uint32_t)(a0 * b1));
}

AOT_DSP_INLINE int32_t aot_dsp_sxtb16(int32_t x)
{
    const uint32_t u = (uint32_t)x;
    const uint32_t lo = (uint32_t)(int32_t)(int8_t)(u & 0xFFu) & 0xFFFFu;
    const uint32_t hi = (uint32_t)(int32_t)(int8_t)((u >> 16) & 0xFFu) & 0xFFFFu;
    return (int32_t)(lo | (hi << 16));
}

AOT_DSP_INLINE int32_t aot_dsp_smlad(int32_t a, int32_t b, int32_t acc)
{
    const int32_t a0 = (int16_t)((uint32_t)a & 0xFFFFu), a1 = (int16_t)((uint32_t)a >> 16);
    const int32_t b0 = (int16_t)((uint32_t)b & 0xFFFFu), b1 = (int16_t)((uint32_t)b >> 16);
    return (int32_t)((uint32_t)acc + (uint32_t)(a0 * b0) + (uint32_t)(a1 * b1));
}

AOT_DSP_INLINE int32_t aot_dsp_smuad(int32_t a, int32_t b) { return aot_dsp_smlad(a, b, 0); }
#endif

/* Rotate right by 8: SXTB16 of it takes bytes 1 and 3 (one "SXTB16 ..., ROR #8"). */
AOT_DSP_INLINE int32_t aot_dsp_ror8(int32_t x)
{
    const uint32_t u = (uint32_t)x;
    return (int32_t)((u >> 8) | (u << 24));
}

/* SXTB16 of x rotated right by 8: bytes 1 and 3 (gcc does not fold the rotation). */
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
AOT_DSP_INLINE int32_t aot_dsp_sxtb16_ror8(int32_t x)
{
    int32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
}
#else
AOT_DSP_INLINE int32_t aot_dsp_sxtb16_ror8(int32_t x) { return aot_dsp_sxtb16(aot_dsp_ror8(x)); }
#endif

/* (lo(a), lo(b)) and (hi(a), hi(b)) as halfword pairs: PKHBT a, b, LSL #16 / PKHTB. */
AOT_DSP_INLINE int32_t aot_dsp_pack_lo(int32_t a, int32_t b)
{
    return (int32_t)(((uint32_t)a & 0xFFFFu) | ((uint32_t)b << 16));
}

AOT_DSP_INLINE int32_t aot_dsp_pack_hi(int32_t a, int32_t b)
{
    return (int32_t)(((uint32_t)b & 0xFFFF0000u) | ((uint32_t)a >> 16));
}

/* A 32-bit load/store at any address: one LDR/STR where the core allows
 * unaligned words (the DSP cores do); byte by byte elsewhere (e.g. a host or
 * Armv6-M build of these files, where a memcpy call would need libc). */
#if defined(__ARM_FEATURE_UNALIGNED) || defined(__x86_64__) || defined(__i386__) \
    || defined(__aarch64__)
AOT_DSP_INLINE int32_t aot_dsp_load32(const void *p)
{
    int32_t v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
}

AOT_DSP_INLINE void aot_dsp_store32(void *p, int32_t v)
{
    __builtin_memcpy(p, &v, sizeof v);
}
#else
AOT_DSP_INLINE int32_t aot_dsp_load32(const void *p)
{
    const uint8_t *b = (const uint8_t *)p;
    return (int32_t)((uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16)
                     | ((uint32_t)b[3] << 24));
}

AOT_DSP_INLINE void aot_dsp_store32(void *p, int32_t v)
{
    uint8_t *b = (uint8_t *)p;
    b[0] = (uint8_t)((uint32_t)v & 0xFFu);
    b[1] = (uint8_t)(((uint32_t)v >> 8) & 0xFFu);
    b[2] = (uint8_t)(((uint32_t)v >> 16) & 0xFFu);
    b[3] = (uint8_t)((uint32_t)v >> 24);
}
#endif

/* lo, hi = the two int32 words at byte offset off (a constant) from p, which is
 * 4-byte aligned (LDRD faults otherwise: int32 weight arrays are): one LDRD,
 * which gcc does not form from two word loads (checked). */
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#define AOT_DSP_LDRD(lo, hi, p, off)                                                   \
    __asm__("ldrd %0, %1, [%2, #%c3]"                                                  \
            : "=r"(lo), "=r"(hi)                                                       \
            : "r"(p), "i"(off), "m"(*(const int32_t(*)[2])((const char *)(p) + (off))))
#else
#define AOT_DSP_LDRD(lo, hi, p, off)                                                   \
    do {                                                                              \
        (lo) = (p)[(off) / 4];                                                        \
        (hi) = (p)[(off) / 4 + 1];                                                    \
    } while (0)
#endif

/* aot_mul_by_quantized_multiplier for multiplier in [0, 2^31), see above. The
 * signed >> are arithmetic shifts (implementation-defined in C; arithmetic on
 * gcc and clang, the compilers aot supports), one ASR each where aot_asr32's
 * portable form costs gcc five instructions. */
AOT_DSP_INLINE int32_t aot_dsp_requantize(int32_t acc, int32_t multiplier, int32_t shift)
{
    const int32_t left = shift > 0 ? shift : 0;
    const int32_t right = shift > 0 ? 0 : -shift;
    const int64_t prod = (int64_t)aot_wrap_shl32(acc, left) * multiplier + ((int64_t)1 << 30);
    const int32_t high = (int32_t)(prod >> 31);
    /* aot_rounding_divide_by_pot(high, right): ties away from zero */
    const int32_t mask = (int32_t)(((uint32_t)1 << right) - 1u);
    const int32_t threshold = (mask >> 1) - (high >> 31);
    return (high >> right) + ((high & mask) > threshold ? 1 : 0);
}

/*
 * The same for the convolution and fully-connected kernels, whose multiplier
 * tables hold m2 = 2 * multiplier wrapped to int32 (made at compile time;
 * multiplier in [2^30, 2^31), so m2 = 2 * multiplier - 2^32): SMMULR(a, m2) =
 * floor((a * m2 + 2^31) / 2^32) = floor((a * multiplier + 2^30) / 2^31) - a,
 * so the rounding high multiply is SMMULR + ADD instead of a 64-bit
 * multiply-accumulate and its shifts.
 */
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
AOT_DSP_INLINE int32_t aot_dsp_smmulr(int32_t a, int32_t b)
{
    int32_t r;
    __asm__("smmulr %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
}
#else
AOT_DSP_INLINE int32_t aot_dsp_smmulr(int32_t a, int32_t b)
{
    return (int32_t)(((int64_t)a * b + ((int64_t)1 << 31)) >> 32);
}
#endif

AOT_DSP_INLINE int32_t aot_dsp_requantize_m2(int32_t acc, int32_t m2, int32_t shift)
{
    const int32_t left = shift > 0 ? shift : 0;
    const int32_t right = shift > 0 ? 0 : -shift;
    const int32_t a = aot_wrap_shl32(acc, left);
    const int32_t high = aot_wrap_add32(aot_dsp_smmulr(a, m2), a);
    const int32_t mask = (int32_t)(((uint32_t)1 << right) - 1u);
    const int32_t threshold = (mask >> 1) - (high >> 31);
    return (high >> right) + ((high & mask) > threshold ? 1 : 0);
}

/* Saturating a + b (QADD), and v clamped to [-128, 127] (SSAT #8). */
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
AOT_DSP_INLINE int32_t aot_dsp_qadd(int32_t a, int32_t b) { return __qadd(a, b); }

/* asm: gcc's __ssat macro trips -Wsign-conversion */
AOT_DSP_INLINE int32_t aot_dsp_ssat8(int32_t v)
{
    int32_t r;
    __asm__("ssat %0, #8, %1" : "=r"(r) : "r"(v));
    return r;
}
#else
AOT_DSP_INLINE int32_t aot_dsp_qadd(int32_t a, int32_t b)
{
    const int64_t s = (int64_t)a + b;
    return s > INT32_MAX ? INT32_MAX : s < INT32_MIN ? INT32_MIN : (int32_t)s;
}

AOT_DSP_INLINE int32_t aot_dsp_ssat8(int32_t v) { return v < -128 ? -128 : v > 127 ? 127 : v; }
#endif

/* + output_offset, clamp to [act_min, act_max]: one int8 output. */
AOT_DSP_INLINE int8_t aot_dsp_clamp(int32_t v, int32_t output_offset, int32_t act_min,
                                    int32_t act_max)
{
    v = aot_wrap_add32(v, output_offset);
    v = v < act_min ? act_min : v;
    v = v > act_max ? act_max : v;
    return (int8_t)v;
}

/* Requantize (doubled multiplier m2, see above), + output_offset, clamp. */
AOT_DSP_INLINE int8_t aot_dsp_output(int32_t acc, int32_t m2, int32_t shift,
                                     int32_t output_offset, int32_t act_min, int32_t act_max)
{
    return aot_dsp_clamp(aot_dsp_requantize_m2(acc, m2, shift), output_offset, act_min,
                         act_max);
}

/*
 * y[i] = aot_dsp_output(acc[i] + bias, m2, shift, ...) for i < n, one channel's sums:
 * the constants hoisted and, for a right shift e in [1, 23], the rounding
 * divide cheaper but the same after the clamp. TFLite's rounding_divide_by_pot
 * is q + (r > half - 1 + [x < 0]) with x = q * 2^e + r, half = 2^(e - 1); that
 * is (x + half - [x < 0]) >> e in exact arithmetic, one ADD (sign from ASR
 * #31), one QADD and one ASR. QADD saturates only when x + half >= 2^31 (x < 0
 * cannot go below INT32_MIN: half >= 1), where the exact quotient is at least
 * 2^(31 - e) >= 256 and the saturated one one less, >= 255: plus any int8
 * output offset (>= -128) both are >= 127 >= act_max, so the clamp makes them
 * equal. A full int8 range clamp is one SSAT.
 */
AOT_DSP_INLINE int32_t aot_dsp_round_fast(int32_t x, int32_t right, int32_t half)
{
    return aot_dsp_qadd(x, half + (x >> 31)) >> right;
}

/* aot_dsp_output for a right shift in [1, 23] (half = 2^(right - 1)) and the full
 * int8 range, as explained above. */
AOT_DSP_INLINE int8_t aot_dsp_output_fast(int32_t acc, int32_t m2, int32_t right,
                                          int32_t half, int32_t output_offset)
{
    const int32_t x = aot_wrap_add32(aot_dsp_smmulr(acc, m2), acc);
    return (int8_t)aot_dsp_ssat8(aot_dsp_round_fast(x, right, half) + output_offset);
}

/* aot_dsp_output for a right shift in [1, 23] (half = 2^(right - 1)) and any
 * clamp within int8 (the argument above holds for any act_max <= 127). */
AOT_DSP_INLINE int8_t aot_dsp_output_fast_clamp(int32_t acc, int32_t m2, int32_t right,
                                                int32_t half, int32_t output_offset,
                                                int32_t act_min, int32_t act_max)
{
    const int32_t x = aot_wrap_add32(aot_dsp_smmulr(acc, m2), acc);
    int32_t v = aot_dsp_round_fast(x, right, half) + output_offset;
    v = v < act_min ? act_min : v;
    return (int8_t)(v > act_max ? act_max : v);
}

AOT_DSP_INLINE void aot_dsp_output_run(const int32_t *acc, int32_t n, int32_t bias,
                                       int32_t m2,
                                       int32_t shift, int32_t output_offset, int32_t act_min,
                                       int32_t act_max, int8_t *y)
{
    const int32_t right = shift > 0 ? 0 : -shift;
    int32_t i;

    if (right >= 1 && right <= 23) {
        const int32_t half = (int32_t)1 << (right - 1);
        if (act_min == -128 && act_max == 127) {
            for (i = 0; i < n; ++i) {
                y[i] = aot_dsp_output_fast(aot_wrap_add32(acc[i], bias), m2, right, half,
                                           output_offset);
            }
        } else {
            for (i = 0; i < n; ++i) {
                const int32_t a = aot_wrap_add32(acc[i], bias);
                const int32_t x = aot_wrap_add32(aot_dsp_smmulr(a, m2), a);
                int32_t v = aot_dsp_round_fast(x, right, half) + output_offset;
                v = v < act_min ? act_min : v;
                y[i] = (int8_t)(v > act_max ? act_max : v);
            }
        }
        return;
    }
    for (i = 0; i < n; ++i) {
        y[i] = aot_dsp_output(aot_wrap_add32(acc[i], bias), m2, shift, output_offset, act_min,
                              act_max);
    }
}

/*
 * Matrix layouts (made at compile time by targets/rules_dsp.py):
 * - pair weights: rows padded to an even count (a zero row) and to k4 (a
 *   multiple of 4) columns, stored [rows / 2][k4 / 4][2 rows][4 bytes] with
 *   each 4-byte group in the order (0, 2, 1, 3), so SXTB16 of a word gives
 *   elements (0, 1) and SXTB16 of it rotated by 8 gives (2, 3);
 * - pair pixels (scratch): two int16 vectors of k4 values, stored
 *   [k4 / 4][2 pixels][4], so one pointer walks both (aot_dsp_pair_index).
 */
AOT_DSP_INLINE int32_t aot_dsp_pair_index(int32_t k, int32_t pixel)
{
    return ((k >> 2) << 3) + (pixel << 2) + (k & 3);
}

/* 8 bytes at an 8-byte aligned address: one LDRD (little-endian halves). */
AOT_DSP_INLINE uint64_t aot_dsp_load64(const int16_t *p)
{
    uint64_t v;
    __builtin_memcpy(&v, __builtin_assume_aligned(p, 8), sizeof v);
    return v;
}

/* acc[0..3] += w_a . x_a, w_a . x_b, w_b . x_a, w_b . x_b over k4 / 4 groups:
 * w one pair of weight rows, x one pair of pixels (layouts above; x 8-byte
 * aligned: scratch is, and a pixel-pair group is 16 bytes). */
AOT_DSP_INLINE void aot_dsp_dot_2x2(const int8_t *w, const int16_t *x, int32_t groups,
                                    int32_t acc[4])
{
    int32_t a00 = acc[0], a01 = acc[1], a10 = acc[2], a11 = acc[3];
#define AOT_DSP_DOT_2X2_GROUP                                                       \
    do {                                                                            \
        const int32_t wa = aot_dsp_load32(w), wb = aot_dsp_load32(w + 4);           \
        const uint64_t xa = aot_dsp_load64(x), xb = aot_dsp_load64(x + 4);         \
        const int32_t xa01 = (int32_t)(uint32_t)xa, xa23 = (int32_t)(xa >> 32);     \
        const int32_t xb01 = (int32_t)(uint32_t)xb, xb23 = (int32_t)(xb >> 32);     \
        int32_t lo = aot_dsp_sxtb16(wa), hi = aot_dsp_sxtb16_ror8(wa);              \
        a00 = aot_dsp_smlad(lo, xa01, a00);                                         \
        a01 = aot_dsp_smlad(lo, xb01, a01);                                         \
        a00 = aot_dsp_smlad(hi, xa23, a00);                                         \
        a01 = aot_dsp_smlad(hi, xb23, a01);                                         \
        lo = aot_dsp_sxtb16(wb);                                                    \
        hi = aot_dsp_sxtb16_ror8(wb);                                               \
        a10 = aot_dsp_smlad(lo, xa01, a10);                                         \
        a11 = aot_dsp_smlad(lo, xb01, a11);                                         \
        a10 = aot_dsp_smlad(hi, xa23, a10);                                         \
        a11 = aot_dsp_smlad(hi, xb23, a11);                                         \
        w += 8;                                                                     \
        x += 8;                                                                     \
    } while (0)
    /* not unrolled: with two groups per iteration gcc spills the accumulators */
    for (; groups > 0; --groups) {
        AOT_DSP_DOT_2X2_GROUP;
    }
#undef AOT_DSP_DOT_2X2_GROUP
    acc[0] = a00;
    acc[1] = a01;
    acc[2] = a10;
    acc[3] = a11;
}

/*
 * All out_c outputs of two pixels (x: a pixel pair, k4 values each):
 * ya[oc * y_stride] and, when yb is not NULL, yb[oc * y_stride] =
 * requantized bias[oc] + w_oc . x (w: pair weights; bias: [out_c] with the
 * input offset folded in). A missing second pixel is a copy of the first, so
 * its outputs equal the first's and are stored over them (no test per store).
 * A pair of channels whose right shifts are in [1, 23] takes
 * aot_dsp_output_fast (a layer clamped to the full int8 range) or
 * aot_dsp_output_fast_clamp.
 */
AOT_DSP_INLINE void aot_dsp_gemm_pixels(const int8_t *w, int32_t k4, const int32_t *bias,
                                        int32_t out_c, const int32_t *multipliers,
                                        const int32_t *shifts, int32_t output_offset,
                                        int32_t act_min, int32_t act_max, const int16_t *x,
                                        int8_t *ya, int8_t *yb, int32_t y_stride)
{
    const int32_t full = act_min == -128 && act_max == 127;
    int32_t oc;
    if (yb == NULL) {
        yb = ya;
    }
    for (oc = 0; oc < out_c; oc += 2) {
        /* read before the int8 stores, which may alias anything */
        const int32_t m0 = multipliers[oc], s0 = shifts[oc];
        int8_t *const y0a = ya + oc * y_stride, *const y0b = yb + oc * y_stride;
        int32_t acc[4];
        acc[0] = acc[1] = bias[oc];
        if (oc + 1 < out_c) {
            const int32_t m1 = multipliers[oc + 1], s1 = shifts[oc + 1];
            acc[2] = acc[3] = bias[oc + 1];
            aot_dsp_dot_2x2(w, x, k4 >> 2, acc);
            if (s0 <= -1 && s0 >= -23 && s1 <= -1 && s1 >= -23) {
                const int32_t h0 = (int32_t)1 << (-s0 - 1), h1 = (int32_t)1 << (-s1 - 1);
                if (full) {
                    y0a[0] = aot_dsp_output_fast(acc[0], m0, -s0, h0, output_offset);
                    y0b[0] = aot_dsp_output_fast(acc[1], m0, -s0, h0, output_offset);
                    y0a[y_stride] = aot_dsp_output_fast(acc[2], m1, -s1, h1, output_offset);
                    y0b[y_stride] = aot_dsp_output_fast(acc[3], m1, -s1, h1, output_offset);
                } else {
                    y0a[0] = aot_dsp_output_fast_clamp(acc[0], m0, -s0, h0, output_offset,
                                                       act_min, act_max);
                    y0b[0] = aot_dsp_output_fast_clamp(acc[1], m0, -s0, h0, output_offset,
                                                       act_min, act_max);
                    y0a[y_stride] = aot_dsp_output_fast_clamp(acc[2], m1, -s1, h1,
                                                              output_offset, act_min, act_max);
                    y0b[y_stride] = aot_dsp_output_fast_clamp(acc[3], m1, -s1, h1,
                                                              output_offset, act_min, act_max);
                }
            } else {
                y0a[0] = aot_dsp_output(acc[0], m0, s0, output_offset, act_min, act_max);
                y0b[0] = aot_dsp_output(acc[1], m0, s0, output_offset, act_min, act_max);
                y0a[y_stride] = aot_dsp_output(acc[2], m1, s1, output_offset, act_min, act_max);
                y0b[y_stride] = aot_dsp_output(acc[3], m1, s1, output_offset, act_min, act_max);
            }
        } else {
            acc[2] = acc[3] = 0;
            aot_dsp_dot_2x2(w, x, k4 >> 2, acc);     /* the second row is the zero one */
            y0a[0] = aot_dsp_output(acc[0], m0, s0, output_offset, act_min, act_max);
            y0b[0] = aot_dsp_output(acc[1], m0, s0, output_offset, act_min, act_max);
        }
        w += 2 * k4;
    }
}

/*
 * Copy input plane x ([in_h][in_w] int8) into scratch as the padded plane
 * the depthwise kernels read without bounds tests: [hp][wp] bytes, input
 * pixel (iy, ix) at (iy + pad_top, ix + pad_left), every other byte `fill`
 * (the input zero point, which adds nothing once the input offset is folded
 * into the bias: w * (zp - zp) = 0, TFLite's padded tap).
 */
AOT_DSP_INLINE void aot_dsp_pad_plane(const int8_t *x, int32_t in_h, int32_t in_w,
                                      int32_t pad_top, int32_t pad_left, int32_t hp,
                                      int32_t wp, int8_t fill, int8_t *dst)
{
    int32_t py, px;
    for (py = 0; py < hp; ++py) {
        const int32_t iy = py - pad_top;
        int8_t *row = dst + py * wp;
        if (iy < 0 || iy >= in_h) {
            const int32_t fill4 = (int32_t)(0x01010101u * (uint8_t)fill);
            for (px = 0; px + 4 <= wp; px += 4) {
                aot_dsp_store32(row + px, fill4);
            }
            for (; px < wp; ++px) {
                row[px] = fill;
            }
        } else {
            const int8_t *src = x + iy * in_w - pad_left;
            const int32_t begin = pad_left < wp ? pad_left : wp;
            const int32_t end = pad_left + in_w < wp ? pad_left + in_w : wp;
            for (px = 0; px < begin; ++px) {
                row[px] = fill;
            }
            for (; px + 4 <= end; px += 4) {
                aot_dsp_store32(row + px, aot_dsp_load32(src + px));
            }
            for (; px < end; ++px) {
                row[px] = src[px];
            }
            for (; px < wp; ++px) {
                row[px] = fill;
            }
        }
    }
}

/* Each of the k4 taps' offset from its window's first input byte, in
 * (channel, ky, kx) order; 0 past k (a byte the zero weights there ignore). */
AOT_DSP_INLINE void aot_dsp_im2col_offsets(const aot_conv2d_s8_params *p, int32_t k4,
                                           int32_t *offsets)
{
    const int32_t in_plane = p->in_h * p->in_w, kh = p->kernel_h, kw = p->kernel_w;
    int32_t i = 0, ic, ky, kx;
    for (ic = 0; ic < p->in_c; ++ic) {
        for (ky = 0; ky < kh; ++ky) {
            for (kx = 0; kx < kw; ++kx) {
                offsets[i++] = ic * in_plane + ky * p->dilation_h * p->in_w + kx * p->dilation_w;
            }
        }
    }
    for (; i < k4; ++i) {
        offsets[i] = 0;
    }
}

/* aot_conv2d_dsp_s8's scratch: the
 * pixel pair x (2 * k4 int16, zeroed: past k, the zero weights there make any
 * value add 0), then offsets, each of the k4 taps' offset from its window's
 * first input byte (0 past k). */
AOT_DSP_INLINE void aot_dsp_im2col_setup(const aot_conv2d_s8_params *p, int32_t k4, int16_t *x,
                                         int32_t *offsets)
{
    int32_t i;
    for (i = 0; i < 2 * k4; ++i) {
        x[i] = 0;
    }
    aot_dsp_im2col_offsets(p, k4, offsets);
}

/* Whether output pixel (oy, ox)'s whole window lies inside the input. */
AOT_DSP_INLINE int32_t aot_dsp_im2col_inside(const aot_conv2d_s8_params *p, int32_t oy,
                                              int32_t ox)
{
    const int32_t iy0 = oy * p->stride_h - p->pad_top, ix0 = ox * p->stride_w - p->pad_left;
    return iy0 >= 0 && ix0 >= 0 && iy0 + (p->kernel_h - 1) * p->dilation_h < p->in_h
           && ix0 + (p->kernel_w - 1) * p->dilation_w < p->in_w;
}

/* The windows of output pixels a = (oya, oxa) and b = (oyb, oxb) into the pixel
 * pair; taps outside the input hold the input zero point. offsets: each of the
 * k4 taps' offset from the window's first input byte (those past k: 0, a byte
 * the zero weights past k ignore). */
AOT_DSP_INLINE void aot_dsp_im2col_pair(const aot_conv2d_s8_params *p, const int8_t *x_n,
                                        int32_t oya, int32_t oxa, int32_t oyb, int32_t oxb,
                                        const int32_t *offsets, int32_t k4, int16_t *pair)
{
    const int32_t in_h = p->in_h, in_w = p->in_w, in_plane = in_h * in_w;
    const int32_t kh = p->kernel_h, kw = p->kernel_w, dh = p->dilation_h, dw = p->dilation_w;
    const int32_t iya = oya * p->stride_h - p->pad_top, ixa = oxa * p->stride_w - p->pad_left;
    const int32_t iyb = oyb * p->stride_h - p->pad_top, ixb = oxb * p->stride_w - p->pad_left;
    const int16_t fill = (int16_t)(-p->input_offset);
    int16_t *d = pair;
    int32_t lane = 0, ic, ky, kx;

    if (aot_dsp_im2col_inside(p, oya, oxa) && aot_dsp_im2col_inside(p, oyb, oxb)) {
        const int8_t *a = x_n + iya * in_w + ixa, *b = x_n + iyb * in_w + ixb;
        const int32_t *o = offsets, *const end = offsets + k4;
        for (; o < end; o += 4, d += 8) {
            const int32_t o0 = o[0], o1 = o[1], o2 = o[2], o3 = o[3];
            d[0] = a[o0];
            d[1] = a[o1];
            d[2] = a[o2];
            d[3] = a[o3];
            d[4] = b[o0];
            d[5] = b[o1];
            d[6] = b[o2];
            d[7] = b[o3];
        }
        return;
    }
    for (ic = 0; ic < p->in_c; ++ic) {
        const int8_t *x_c = x_n + ic * in_plane;
        for (ky = 0; ky < kh; ++ky) {
            const int32_t ya = iya + ky * dh, yb = iyb + ky * dh;
            const int32_t in_a = ya >= 0 && ya < in_h, in_b = yb >= 0 && yb < in_h;
            for (kx = 0; kx < kw; ++kx) {
                const int32_t xa = ixa + kx * dw, xb = ixb + kx * dw;
                d[0] = in_a && xa >= 0 && xa < in_w ? (int16_t)x_c[ya * in_w + xa] : fill;
                d[4] = in_b && xb >= 0 && xb < in_w ? (int16_t)x_c[yb * in_w + xb] : fill;
                ++d;
                if (++lane == 4) {
                    lane = 0;
                    d += 4;
                }
            }
        }
    }
}

#endif /* AOT_DSP_IMPL_H */

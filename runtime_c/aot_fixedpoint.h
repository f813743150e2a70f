/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to the runtime: the fixed-point arithmetic of the int8 kernels,
 * bit-exact with TensorFlow Lite (Micro)'s reference kernels, which take it
 * from gemmlowp's fixedpoint.h and TFLite's kernels/internal/common.h (the
 * double-rounding MultiplyByQuantizedMultiplier, i.e. TFLITE_SINGLE_ROUNDING
 * off, the TFLM default). Ship it with the *_s8 kernels.
 *
 * Every function here is integer-only and free of undefined behaviour:
 *  - where the TFLite code relies on int32 wrap-around (x * (1 << shift),
 *    fixed-point + and -), the same wrap is computed in uint32 and converted
 *    back (implementation-defined, two's complement on every compiler we
 *    support), so results equal what TFLite produces on real hardware;
 *  - signed right shifts go through aot_asr32 (portable arithmetic shift,
 *    which compilers turn into one ASR instruction);
 *  - the 64-bit "divide by 2^31, truncating" of the doubling high multiply
 *    is done with shifts, so Cortex-M0 needs no 64-bit division helper
 *    (only the 64-bit multiply one).
 *
 * Fixed-point values are plain int32 "raw" numbers; a Qm value has m integer
 * bits and 31 - m fractional bits (gemmlowp's FixedPoint<int32_t, m>).
 */
#ifndef AOT_FIXEDPOINT_H
#define AOT_FIXEDPOINT_H

#include <stdint.h>

/* ---- integer primitives ---------------------------------------------------- */

/* a + b and a - b with int32 wrap-around (gemmlowp's Add/Sub on int32). */
static inline int32_t aot_wrap_add32(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a + (uint32_t)b);
}

static inline int32_t aot_wrap_sub32(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a - (uint32_t)b);
}

/* x * 2^n with int32 wrap-around, n in [0, 31] (TFLite's x * (1 << n)). */
static inline int32_t aot_wrap_shl32(int32_t x, int32_t n)
{
    return (int32_t)((uint32_t)x << n);
}

/* floor(x / 2^n), n in [0, 31]: an arithmetic shift right. */
static inline int32_t aot_asr32(int32_t x, int32_t n)
{
    return x >= 0 ? (int32_t)((uint32_t)x >> n) : (int32_t)~(~(uint32_t)x >> n);
}

/* Number of leading zero bits of x (32 for 0), without a libgcc helper. */
static inline int32_t aot_clz32(uint32_t x)
{
    int32_t n = 0;
    if (x == 0u) {
        return 32;
    }
    if ((x & 0xFFFF0000u) == 0u) {
        n += 16;
        x <<= 16;
    }
    if ((x & 0xFF000000u) == 0u) {
        n += 8;
        x <<= 8;
    }
    if ((x & 0xF0000000u) == 0u) {
        n += 4;
        x <<= 4;
    }
    if ((x & 0xC0000000u) == 0u) {
        n += 2;
        x <<= 2;
    }
    if ((x & 0x80000000u) == 0u) {
        n += 1;
    }
    return n;
}

/* ---- gemmlowp primitives --------------------------------------------------- */

/*
 * SaturatingRoundingDoublingHighMul (ARM VQRDMULH): round(a * b / 2^31),
 * ties away from zero, with INT32_MIN * INT32_MIN saturating to INT32_MAX.
 * gemmlowp divides (a * b + nudge) by 2^31 truncating toward zero; that is
 * done here as a shift of the magnitude.
 */
static inline int32_t aot_sat_round_doubling_high_mul(int32_t a, int32_t b)
{
    int64_t ab, t;
    if (a == b && a == INT32_MIN) {
        return INT32_MAX;
    }
    ab = (int64_t)a * (int64_t)b;
    if (ab >= 0) {
        t = ab + ((int64_t)1 << 30);
        return (int32_t)(t >> 31);
    }
    /* ab < 0: the nudge is 1 - 2^30 and the sum stays negative. */
    t = ab + (1 - ((int64_t)1 << 30));
    return -(int32_t)((uint64_t)(-t) >> 31);
}

/*
 * RoundingDivideByPOT: x / 2^exponent rounded to nearest, ties away from
 * zero; exponent in [0, 31].
 */
static inline int32_t aot_rounding_divide_by_pot(int32_t x, int32_t exponent)
{
    const int32_t mask = (int32_t)(((uint32_t)1 << exponent) - 1u);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return aot_asr32(x, exponent) + (remainder > threshold ? 1 : 0);
}

/*
 * SaturatingRoundingMultiplyByPOT with a run-time exponent (gemmlowp's
 * compile-time template, TFLite's ...Param variant): exponent > 0 is a
 * saturating left shift, exponent < 0 a rounding right shift.
 * exponent in [-31, 30].
 */
static inline int32_t aot_sat_round_mul_by_pot(int32_t x, int32_t exponent)
{
    int32_t threshold;
    if (exponent == 0) {
        return x;
    }
    if (exponent < 0) {
        return aot_rounding_divide_by_pot(x, -exponent);
    }
    threshold = (int32_t)(((uint32_t)1 << (31 - exponent)) - 1u);
    if (x > threshold) {
        return INT32_MAX;
    }
    if (x < -threshold) {
        return INT32_MIN;
    }
    return aot_wrap_shl32(x, exponent);
}

/* RoundingHalfSum on int32: (a + b) / 2 rounded to nearest, ties away from 0. */
static inline int32_t aot_rounding_half_sum(int32_t a, int32_t b)
{
    const int64_t sum = (int64_t)a + (int64_t)b;
    const int64_t t = sum >= 0 ? sum + 1 : sum - 1;
    /* t / 2 truncating toward zero, without a 64-bit division. */
    return t >= 0 ? (int32_t)(t >> 1) : -(int32_t)((uint64_t)(-t) >> 1);
}

/* ---- TFLite requantization (double rounding) ------------------------------ */

/*
 * MultiplyByQuantizedMultiplier (int32 x): x * multiplier * 2^shift with
 * multiplier a Q0.31 value in [2^30, 2^31) (or 0); shift > 0 shifts x left
 * first (wrapping as TFLite does), shift <= 0 rounds the high product right.
 * shift in [-31, 30].
 */
static inline int32_t aot_mul_by_quantized_multiplier(int32_t x, int32_t multiplier,
                                                      int32_t shift)
{
    const int32_t left_shift = shift > 0 ? shift : 0;
    const int32_t right_shift = shift > 0 ? 0 : -shift;
    return aot_rounding_divide_by_pot(
        aot_sat_round_doubling_high_mul(aot_wrap_shl32(x, left_shift), multiplier),
        right_shift);
}

/* MultiplyByQuantizedMultiplierSmallerThanOneExp: left_shift in [-31, 0]. */
static inline int32_t aot_mul_by_quantized_multiplier_smaller_than_one_exp(
    int32_t x, int32_t multiplier, int32_t left_shift)
{
    return aot_rounding_divide_by_pot(aot_sat_round_doubling_high_mul(x, multiplier),
                                      -left_shift);
}

/* MultiplyByQuantizedMultiplierGreaterThanOne: left_shift in [0, 31]. */
static inline int32_t aot_mul_by_quantized_multiplier_greater_than_one(
    int32_t x, int32_t multiplier, int32_t left_shift)
{
    return aot_sat_round_doubling_high_mul(aot_wrap_shl32(x, left_shift), multiplier);
}

/* ---- gemmlowp FixedPoint arithmetic on raw int32 -------------------------- */

/* Product of a Qa and a Qb value, as a Q(a+b) value (FixedPoint operator*). */
static inline int32_t aot_fp_mul(int32_t a, int32_t b)
{
    return aot_sat_round_doubling_high_mul(a, b);
}

/* Rescale<dst_bits>(x) of a Q(src_bits) value. */
static inline int32_t aot_fp_rescale(int32_t x, int32_t src_bits, int32_t dst_bits)
{
    return aot_sat_round_mul_by_pot(x, src_bits - dst_bits);
}

/* FixedPoint<int32_t, integer_bits>::One(). */
static inline int32_t aot_fp_one(int32_t integer_bits)
{
    return integer_bits == 0 ? INT32_MAX : (int32_t)1 << (31 - integer_bits);
}

/* exp(a) for a Q0 value a in [-1/4, 0): a 4th-order Taylor expansion around
 * -1/8 (exp_on_interval_between_negative_one_quarter_and_0_excl). */
static inline int32_t aot_fp_exp_on_interval_between_negative_one_quarter_and_0_excl(
    int32_t a)
{
    const int32_t constant_term = 1895147668;     /* exp(-1/8) in Q0 */
    const int32_t constant_1_over_3 = 715827883;  /* 1/3 in Q0 */
    const int32_t x = aot_wrap_add32(a, (int32_t)1 << 28); /* a + 1/8 */
    const int32_t x2 = aot_fp_mul(x, x);
    const int32_t x3 = aot_fp_mul(x2, x);
    const int32_t x4 = aot_fp_mul(x2, x2);
    const int32_t x4_over_4 = aot_sat_round_mul_by_pot(x4, -2);
    const int32_t x4_over_24_plus_x3_over_6_plus_x2_over_2 = aot_sat_round_mul_by_pot(
        aot_wrap_add32(aot_fp_mul(aot_wrap_add32(x4_over_4, x3), constant_1_over_3), x2),
        -1);
    return aot_wrap_add32(
        constant_term,
        aot_fp_mul(constant_term, aot_wrap_add32(x, x4_over_24_plus_x3_over_6_plus_x2_over_2)));
}

/*
 * exp(a) for a Q(integer_bits) value a <= 0, as a Q0 value
 * (exp_on_negative_values): exp of a mod 1/4 by the Taylor series, times
 * exp(-2^k) for each set bit k of the remainder (the barrel shifter).
 * integer_bits in [0, 30]; the softmax uses 5.
 */
static inline int32_t aot_fp_exp_on_negative_values(int32_t a, int32_t integer_bits)
{
    /* exp(-2^k) in Q0 for k = -2 .. 4. */
    static const int32_t multipliers[7] = {
        1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242,
    };
    const int32_t fractional_bits = 31 - integer_bits;
    const int32_t one_quarter = (int32_t)1 << (fractional_bits - 2);
    const int32_t mask = one_quarter - 1;
    const int32_t a_mod_quarter_minus_one_quarter = (a & mask) - one_quarter;
    const int32_t remainder = aot_wrap_sub32(a_mod_quarter_minus_one_quarter, a);
    int32_t result = aot_fp_exp_on_interval_between_negative_one_quarter_and_0_excl(
        aot_fp_rescale(a_mod_quarter_minus_one_quarter, integer_bits, 0));
    int32_t k;

    for (k = -2; k <= 4; ++k) {
        if (integer_bits > k) {
            const int32_t shift = fractional_bits + k;
            if ((remainder & ((int32_t)1 << shift)) != 0) {
                result = aot_fp_mul(result, multipliers[k + 2]);
            }
        }
    }
    if (integer_bits > 5) {
        /* Below -32 the result is 0. */
        const int32_t clamp = -((int32_t)1 << (36 - integer_bits));
        if (a < clamp) {
            result = 0;
        }
    }
    if (a == 0) {
        result = INT32_MAX; /* One() in Q0 */
    }
    return result;
}

/* 1 / (1 + a) for a Q0 value a in [0, 1), as a Q0 value: Newton-Raphson
 * division (one_over_one_plus_x_for_x_in_0_1). */
static inline int32_t aot_fp_one_over_one_plus_x_for_x_in_0_1(int32_t a)
{
    const int32_t constant_48_over_17 = 1515870810;      /* Q2 */
    const int32_t constant_neg_32_over_17 = -1010580540; /* Q2 */
    const int32_t one_q2 = aot_fp_one(2);
    const int32_t half_denominator = aot_rounding_half_sum(a, INT32_MAX); /* Q0 */
    int32_t x = aot_wrap_add32(constant_48_over_17,
                               aot_fp_mul(half_denominator, constant_neg_32_over_17));
    int32_t i;

    for (i = 0; i < 3; ++i) {
        const int32_t half_denominator_times_x = aot_fp_mul(half_denominator, x); /* Q2 */
        const int32_t one_minus_half_denominator_times_x =
            aot_wrap_sub32(one_q2, half_denominator_times_x);                   /* Q2 */
        x = aot_wrap_add32(
            x, aot_fp_rescale(aot_fp_mul(x, one_minus_half_denominator_times_x), 4, 2));
    }
    /* ExactMulByPot<-1> turns the Q2 raw value into a Q1 one; then to Q0. */
    return aot_fp_rescale(x, 1, 0);
}

/*
 * GetReciprocal (TFLite common.h): for x > 0 a Q(x_integer_digits) value,
 * returns a Q0 value s and *num_bits_over_unit = n with 1/x ~= s * 2^-n.
 */
static inline int32_t aot_fp_get_reciprocal(int32_t x, int32_t x_integer_digits,
                                            int32_t *num_bits_over_unit)
{
    const int32_t headroom_plus_one = aot_clz32((uint32_t)x);
    int32_t shifted_sum_minus_one;
    *num_bits_over_unit = x_integer_digits - headroom_plus_one;
    if (headroom_plus_one >= 32) {
        /* x == 0: TFLite would shift by 32 (undefined); treat x as 1.0. */
        shifted_sum_minus_one = 0;
    } else {
        shifted_sum_minus_one =
            (int32_t)(((uint32_t)x << headroom_plus_one) - ((uint32_t)1 << 31));
    }
    return aot_fp_one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one);
}

#endif /* AOT_FIXEDPOINT_H */

/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "aot_conv2d_x86_impl.h"
#include "aot_requant_avx512_impl.h"

AOT_X86_INLINE AOT_AVX512 __m512i aot_add_avx512_scaled(__m512i x, int32_t offset,
                                                        int32_t left_shift, int32_t multiplier,
                                                        int32_t shift)
{
    x = _mm512_add_epi32(x, _mm512_set1_epi32(offset));
    x = _mm512_sll_epi32(x, _mm_cvtsi32_si128(left_shift));
    return aot_avx512_requant(x, multiplier, shift);
}

/*
 * One input's MultiplyByQuantizedMultiplierSmallerThanOneExp(v << L, m, -r)
 * for v = code + offset in [-256, 255], exact in 32-bit lanes. The doubling
 * high multiply of v * 2^L is floor((v * m + 2^(30 - L)) / 2^(31 - L)); with
 * m = mh * 2^(31 - L) + ml that is v * mh + floor((v * ml + 2^(30 - L)) /
 * 2^(31 - L)), both products below 2^30 for 9 <= L <= 22 (vpmulld, no
 * overflow). The rounding divide by 2^r (ties away from zero) of that hi is
 * floor((hi + 2^(r - 1) - [hi < 0]) / 2^r), and hi < 0 exactly when v < 0
 * (v <= -1 gives v * m + 2^(30 - L) < 0 for m > 2^(30 - L); a smaller m
 * gives hi = 0, whose result is 0 either way).
 */
AOT_X86_INLINE AOT_AVX512 __m512i aot_add_avx512_split(__m512i v, int32_t left_shift,
                                                       int32_t multiplier, int32_t shift)
{
    const int32_t q = 31 - left_shift, r = -shift;
    const __m512i lo = _mm512_srai_epi32(
        _mm512_add_epi32(_mm512_mullo_epi32(v, _mm512_set1_epi32(multiplier & ((1 << q) - 1))),
                         _mm512_set1_epi32(1 << (q - 1))),
        (unsigned int)q);
    const __m512i hi = _mm512_add_epi32(
        _mm512_mullo_epi32(v, _mm512_set1_epi32(multiplier >> q)), lo);
    if (r == 0) {
        return hi;
    }
    return _mm512_sra_epi32(_mm512_add_epi32(_mm512_add_epi32(hi, _mm512_set1_epi32(1 << (r - 1))),
                                             _mm512_srai_epi32(v, 31)),
                            _mm_cvtsi32_si128(r));
}

/* The ranges aot_add_avx512_split is exact on. */
AOT_X86_INLINE int aot_add_avx512_split_applies(const aot_add_s8_params *p)
{
    return p->left_shift >= 9 && p->left_shift <= 22 && p->a_multiplier >= 0 &&
           p->b_multiplier >= 0 && p->a_shift <= 0 && p->a_shift >= -31 && p->b_shift <= 0 &&
           p->b_shift >= -31 && p->a_offset >= -128 && p->a_offset <= 128 &&
           p->b_offset >= -128 && p->b_offset <= 128;
}

/*
 * One input's rescaling in the form of aot_add_avx512_split with K = q + r <= 15:
 * with the two roundings as one floor division (see aot_requant_avx512_impl.h) it is
 * v * Q + floor((v * R + 2^(q-1) + 2^(K-1) - 2^q [v < 0]) / 2^K) for m = Q 2^K + R
 * (the 2^(K-1) and 2^q terms only for r > 0). R < 2^15, so one vpdpwssd makes the
 * floor's numerator: the int32 lane v is the int16 pair (v, -[v < 0]) (|v| < 2^15,
 * its high half the sign), times the pair (R, 2^q), plus the constant.
 */
typedef struct {
    __m512i offset, pair, c, q_mul;
    __m128i k, half_shift;
} aot_add_avx512_scale;

/* The larger-scale input's rescaling (TFLite: multiplier 2^30, shift 0, "times one
 * half") is exact as a shift: floor((v 2^L 2^30 + 2^30) / 2^31) = v 2^(L-1). */
AOT_X86_INLINE int aot_add_avx512_half(int32_t multiplier, int32_t shift)
{
    return multiplier == (1 << 30) && shift == 0;
}

AOT_X86_INLINE int aot_add_avx512_dp_applies(const aot_add_s8_params *p, int32_t multiplier,
                                             int32_t shift)
{
    return aot_add_avx512_split_applies(p) &&
           (aot_add_avx512_half(multiplier, shift) || 31 - p->left_shift - shift <= 15);
}

AOT_X86_INLINE AOT_AVX512 void aot_add_avx512_input_init(aot_add_avx512_scale *in,
                                                         int32_t offset, int32_t left_shift,
                                                         int32_t multiplier, int32_t shift)
{
    const int32_t q = 31 - left_shift, r = -shift, k = q + r <= 15 ? q + r : 15;
    const int32_t rem = multiplier & ((1 << k) - 1);
    in->offset = _mm512_set1_epi32(offset);
    in->pair = _mm512_set1_epi32((int32_t)((uint32_t)rem | ((uint32_t)(r > 0 ? 1 << q : 0) << 16)));
    in->c = _mm512_set1_epi32((1 << (q - 1)) + (r > 0 ? 1 << (k - 1) : 0));
    in->q_mul = _mm512_set1_epi32(multiplier >> k);
    in->k = _mm_cvtsi32_si128(k);
    in->half_shift = _mm_cvtsi32_si128(left_shift - 1);
}

/* `half` (a constant): aot_add_avx512_half holds for this input. */
AOT_X86_INLINE AOT_AVX512 __m512i aot_add_avx512_input(const aot_add_avx512_scale *in,
                                                       __m128i codes, const int half)
{
    const __m512i v = _mm512_add_epi32(_mm512_cvtepi8_epi32(codes), in->offset);
    if (half) {
        return _mm512_sll_epi32(v, in->half_shift);
    }
    return _mm512_add_epi32(_mm512_mullo_epi32(v, in->q_mul),
                            _mm512_sra_epi32(_mm512_dpwssd_epi32(in->c, v, in->pair), in->k));
}

/* The vpdpwssd form's loop; `clamp` as in aot_rq_avx512_s8, `ha` / `hb` each input's
 * aot_add_avx512_half (constants). */
AOT_X86_INLINE AOT_AVX512 void aot_add_avx512_dp(const aot_add_s8_params *p, const int8_t *a,
                                                 const int8_t *b, int8_t *y, const int clamp,
                                                 const int ha, const int hb)
{
    const int32_t size = p->size;
    aot_add_avx512_scale ia, ib;
    aot_rq_avx512_consts rq;
    int32_t j;
    aot_add_avx512_input_init(&ia, p->a_offset, p->left_shift, p->a_multiplier, p->a_shift);
    aot_add_avx512_input_init(&ib, p->b_offset, p->left_shift, p->b_multiplier, p->b_shift);
    aot_rq_avx512_init(&rq, p->output_multiplier, p->output_shift, p->output_offset, p->act_min,
                       p->act_max);
    for (j = 0; j + 16 <= size; j += 16) {
        const __m512i s = _mm512_add_epi32(
            aot_add_avx512_input(&ia, _mm_loadu_si128((const __m128i *)(const void *)(a + j)), ha),
            aot_add_avx512_input(&ib, _mm_loadu_si128((const __m128i *)(const void *)(b + j)), hb));
        _mm_storeu_si128((__m128i *)(void *)(y + j), aot_rq_avx512_s8(&rq, s, 1, clamp));
    }
    if (j < size) {
        const __mmask16 k = (__mmask16)((1u << (size - j)) - 1u);
        const __m512i s = _mm512_add_epi32(
            aot_add_avx512_input(&ia, _mm_maskz_loadu_epi8(k, a + j), ha),
            aot_add_avx512_input(&ib, _mm_maskz_loadu_epi8(k, b + j), hb));
        _mm_mask_storeu_epi8(y + j, k, aot_rq_avx512_s8(&rq, s, 1, clamp));
    }
}

/*
 * aot_add_avx2_s8 on 16 lanes (the same arithmetic, TFLite's AddFunc,
 * bit-exact); the tail is masked: no read or write past the operands.
 * y may alias a or b. The parameters are read into locals first: the int8
 * stores could alias *params, which would otherwise be re-read every vector.
 */
AOT_AVX512 void aot_add_avx512_s8(const aot_add_s8_params *params, const int8_t *a,
                                  const int8_t *b, int8_t *y)
{
    const aot_add_s8_params pv = *params;
    const aot_add_s8_params *p = &pv;
    int32_t j;

    if (aot_rq_avx512_fast(p->output_shift, p->output_offset) &&
        aot_add_avx512_dp_applies(p, p->a_multiplier, p->a_shift) &&
        aot_add_avx512_dp_applies(p, p->b_multiplier, p->b_shift)) {
        const int clamp = p->act_min != -128 || p->act_max != 127;
        const int ha = aot_add_avx512_half(p->a_multiplier, p->a_shift);
        const int hb = aot_add_avx512_half(p->b_multiplier, p->b_shift);
        /* one loop per form: the flags are constants in each */
        switch (clamp * 4 + ha * 2 + hb) {
        case 0: aot_add_avx512_dp(p, a, b, y, 0, 0, 0); break;
        case 1: aot_add_avx512_dp(p, a, b, y, 0, 0, 1); break;
        case 2: aot_add_avx512_dp(p, a, b, y, 0, 1, 0); break;
        case 3: aot_add_avx512_dp(p, a, b, y, 0, 1, 1); break;
        case 4: aot_add_avx512_dp(p, a, b, y, 1, 0, 0); break;
        case 5: aot_add_avx512_dp(p, a, b, y, 1, 0, 1); break;
        case 6: aot_add_avx512_dp(p, a, b, y, 1, 1, 0); break;
        default: aot_add_avx512_dp(p, a, b, y, 1, 1, 1); break;
        }
        return;
    }
    if (aot_add_avx512_split_applies(p)) {   /* TFLite's add (left_shift 20): the cheap form */
        const __m512i ao = _mm512_set1_epi32(p->a_offset), bo = _mm512_set1_epi32(p->b_offset);
        for (j = 0; j < p->size; j += 16) {
            const int32_t n = p->size - j;
            const __mmask16 k = n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u);
            const __m512i sa = aot_add_avx512_split(
                _mm512_add_epi32(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k, a + j)), ao),
                p->left_shift, p->a_multiplier, p->a_shift);
            const __m512i sb = aot_add_avx512_split(
                _mm512_add_epi32(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k, b + j)), bo),
                p->left_shift, p->b_multiplier, p->b_shift);
            _mm_mask_storeu_epi8(y + j, k,
                                 aot_avx512_output_s8(_mm512_add_epi32(sa, sb),
                                                      p->output_multiplier, p->output_shift,
                                                      p->output_offset, p->act_min,
                                                      p->act_max));
        }
        return;
    }
    for (j = 0; j < p->size; j += 16) {
        const int32_t n = p->size - j;
        const __mmask16 k = n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u);
        const __m512i sa = aot_add_avx512_scaled(
            _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k, a + j)), p->a_offset, p->left_shift,
            p->a_multiplier, p->a_shift);
        const __m512i sb = aot_add_avx512_scaled(
            _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k, b + j)), p->b_offset, p->left_shift,
            p->b_multiplier, p->b_shift);
        _mm_mask_storeu_epi8(y + j, k,
                             aot_avx512_output_s8(_mm512_add_epi32(sa, sb), p->output_multiplier,
                                                  p->output_shift, p->output_offset, p->act_min,
                                                  p->act_max));
    }
}
#else
typedef int aot_add_avx512_s8_needs_x86;
#endif

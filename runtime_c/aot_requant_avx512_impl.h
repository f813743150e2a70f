/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to the runtime: TFLite's MultiplyByQuantizedMultiplier on 16 int32
 * lanes with one multiplier and shift, its constants prepared once per call
 * (or per channel) so the loop only computes. Include after <immintrin.h> and
 * aot_conv2d_x86_impl.h (AOT_AVX512, AOT_X86_INLINE).
 *
 * With x' = x << left (int32 wrap, as TFLite), P = x' * m (64-bit) and r the
 * right shift, TFLite's two roundings are one floor division:
 *   hi  = floor((P + 2^30) / 2^31)                 (SaturatingRoundingDoublingHighMul)
 *   out = floor((hi + 2^(r-1) - [hi < 0]) / 2^r)    (RoundingDivideByPOT, r >= 1)
 *       = floor((P + 2^30 + 2^(30+r) - 2^31 [P < 0]) / 2^(31+r)),
 * since floor((floor(a / b) + c) / d) = floor((a + c b) / (b d)) for integer c.
 * [hi < 0] may be taken as [P < 0]: they differ only for -2^30 <= P < 0, where
 * hi = 0 and both numerators lie in [0, 2^(31+r)), giving 0 either way. So one
 * 64-bit product per lane (vpmuldq on even and odd lanes), a constant picked by
 * the product's sign and one arithmetic shift. Exact for every int32 x and
 * multiplier except m = INT32_MIN (SaturatingRoundingDoublingHighMul's one
 * saturating case; TFLite's multipliers are in [0, 2^31)).
 */
#ifndef AOT_REQUANT_AVX512_IMPL_H
#define AOT_REQUANT_AVX512_IMPL_H

typedef struct {
    __m512i m;             /* the multiplier in every lane */
    __m512i c_pos, c_neg;  /* 64-bit rounding constants for P >= 0 and P < 0 */
    __m512i offset;        /* the output offset, unless folded into c_pos / c_neg */
    __m512i pick;          /* dword 2 i from the even products, 2 i + 1 from the odd */
    __m128i lo, hi;        /* activation clamp, int8 */
    __m128i left, right;   /* shift counts: left, 31 + r */
    __m128i right_odd;     /* r - 1: the odd products' shift, leaving the result high */
    int32_t folded;        /* 1: the output offset is in c_pos / c_neg (times 2^(31+r)) */
} aot_rq_avx512_consts;

/* Constants of aot_rq_avx512 / _s8. The output offset is folded into the rounding
 * constants where the 64-bit sum cannot overflow (|P| < 2^62, |offset| <= 256 and
 * r <= 22: below 2^63); act_min / act_max are within int8. */
AOT_X86_INLINE int aot_rq_avx512_folds(int32_t shift, int32_t output_offset)
{
    return shift >= -22 && output_offset >= -256 && output_offset <= 256;
}

AOT_X86_INLINE AOT_AVX512 void aot_rq_avx512_init(aot_rq_avx512_consts *q, int32_t multiplier,
                                                  int32_t shift, int32_t output_offset,
                                                  int32_t act_min, int32_t act_max)
{
    const int32_t left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
    const int fold = aot_rq_avx512_folds(shift, output_offset);
    int64_t c = ((int64_t)1 << 30) + (right > 0 ? (int64_t)1 << (30 + right) : 0);
    if (fold) {
        c += (int64_t)output_offset * ((int64_t)1 << (31 + right));
    }
    q->m = _mm512_set1_epi32(multiplier);
    q->c_pos = _mm512_set1_epi64(c);
    q->c_neg = _mm512_set1_epi64(right > 0 ? c - ((int64_t)1 << 31) : c);
    q->offset = _mm512_set1_epi32(fold ? 0 : output_offset);
    q->pick = _mm512_setr_epi32(0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30);
    q->lo = _mm_set1_epi8((char)act_min);
    q->hi = _mm_set1_epi8((char)act_max);
    q->left = _mm_cvtsi32_si128(left);
    q->right = _mm_cvtsi32_si128(31 + right);
    q->right_odd = _mm_cvtsi32_si128(right > 0 ? right - 1 : 0);
    q->folded = fold;
}

/* The fast form of aot_rq_avx512 / _s8 applies: no left shift, r >= 1 and the output
 * offset folded. */
AOT_X86_INLINE int aot_rq_avx512_fast(int32_t shift, int32_t output_offset)
{
    return shift <= -1 && aot_rq_avx512_folds(shift, output_offset);
}

/* MultiplyByQuantizedMultiplier(x, multiplier, shift) in every lane, plus the output
 * offset when folded. `fast` (a constant) where aot_rq_avx512_fast holds: no left
 * shift, and the odd products shifted by r - 1 instead of 31 + r leave their result
 * in the high dword, merged by a blend instead of a permute. */
AOT_X86_INLINE AOT_AVX512 __m512i aot_rq_avx512(const aot_rq_avx512_consts *q, __m512i x,
                                                const int fast)
{
    __m512i even, odd;
    if (!fast) {
        x = _mm512_sll_epi32(x, q->left);
    }
    even = _mm512_mul_epi32(x, q->m);
    odd = _mm512_mul_epi32(_mm512_srli_epi64(x, 32), q->m);
    even = _mm512_add_epi64(even, _mm512_mask_blend_epi64(_mm512_movepi64_mask(even), q->c_pos,
                                                          q->c_neg));
    odd = _mm512_add_epi64(odd, _mm512_mask_blend_epi64(_mm512_movepi64_mask(odd), q->c_pos,
                                                        q->c_neg));
    if (fast) {
        return _mm512_mask_blend_epi32((__mmask16)0xAAAA, _mm512_sra_epi64(even, q->right),
                                       _mm512_sra_epi64(odd, q->right_odd));
    }
    return _mm512_permutex2var_epi32(_mm512_sra_epi64(even, q->right), q->pick,
                                     _mm512_sra_epi64(odd, q->right));
}

/* Requantized, offset, clamped and narrowed: 16 int8. The flags are constants, so
 * that each form compiles to its own loop: `fast` as above, `clamp` 0 only for the
 * clamp [-128, 127] (saturating to int8 does it; saturating before a clamp to int8
 * bounds is the same as after it). */
AOT_X86_INLINE AOT_AVX512 __m128i aot_rq_avx512_s8(const aot_rq_avx512_consts *q, __m512i acc,
                                                   const int fast, const int clamp)
{
    __m512i v = aot_rq_avx512(q, acc, fast);
    __m128i y;
    if (!fast) {
        v = _mm512_add_epi32(v, q->offset);
    }
    y = _mm512_cvtsepi32_epi8(v);
    return clamp ? _mm_min_epi8(_mm_max_epi8(y, q->lo), q->hi) : y;
}

#endif /* AOT_REQUANT_AVX512_IMPL_H */

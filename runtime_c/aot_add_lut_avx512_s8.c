/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "aot_conv2d_x86_impl.h"

/* tab[code & 0xFF] for 32 zero-extended codes (words): four 64-entry vpermt2w
 * (index bits 0-5), the quarter picked by bits 6 and 7. */
AOT_X86_INLINE AOT_AVX512 __m512i aot_add_lut_avx512_look(const __m512i *tab, __m512i idx)
{
    const __mmask32 b6 = _mm512_test_epi16_mask(idx, _mm512_set1_epi16(0x40));
    const __mmask32 b7 = _mm512_test_epi16_mask(idx, _mm512_set1_epi16(0x80));
    const __m512i q01 = _mm512_mask_blend_epi16(b6, _mm512_permutex2var_epi16(tab[0], idx, tab[1]),
                                                _mm512_permutex2var_epi16(tab[2], idx, tab[3]));
    const __m512i q23 = _mm512_mask_blend_epi16(b6, _mm512_permutex2var_epi16(tab[4], idx, tab[5]),
                                                _mm512_permutex2var_epi16(tab[6], idx, tab[7]));
    return _mm512_mask_blend_epi16(b7, q01, q23);
}

/* 64 outputs: the words of each 128-bit lane's low and high 8 bytes, so that
 * vpacksswb puts the bytes back in order. `clamp` a constant (0: the clamp is
 * [-128, 127], which the pack's saturation does). */
AOT_X86_INLINE AOT_AVX512 __m512i aot_add_lut_avx512_block(const __m512i *ta, const __m512i *tb,
                                                           __m512i xa, __m512i xb, __m128i k,
                                                           __m512i lo, __m512i hi,
                                                           const int clamp)
{
    const __m512i zero = _mm512_setzero_si512();
    const __m512i s0 = _mm512_adds_epi16(
        aot_add_lut_avx512_look(ta, _mm512_unpacklo_epi8(xa, zero)),
        aot_add_lut_avx512_look(tb, _mm512_unpacklo_epi8(xb, zero)));
    const __m512i s1 = _mm512_adds_epi16(
        aot_add_lut_avx512_look(ta, _mm512_unpackhi_epi8(xa, zero)),
        aot_add_lut_avx512_look(tb, _mm512_unpackhi_epi8(xb, zero)));
    const __m512i v = _mm512_packs_epi16(_mm512_sra_epi16(s0, k), _mm512_sra_epi16(s1, k));
    return clamp ? _mm512_min_epi8(_mm512_max_epi8(v, lo), hi) : v;
}

AOT_X86_INLINE AOT_AVX512 void aot_add_lut_avx512_run(const aot_add_s8_params *p,
                                                      const int8_t *a, const int8_t *b,
                                                      const int16_t *tables, int8_t *y,
                                                      const int clamp)
{
    const int32_t size = p->size;
    const __m128i k = _mm_cvtsi32_si128(tables[512]);
    const __m512i lo = _mm512_set1_epi8((char)p->act_min), hi = _mm512_set1_epi8((char)p->act_max);
    __m512i ta[8], tb[8];
    int32_t i, j;
    for (i = 0; i < 8; ++i) {
        ta[i] = _mm512_loadu_si512((const void *)(tables + 32 * i));
        tb[i] = _mm512_loadu_si512((const void *)(tables + 256 + 32 * i));
    }
    for (j = 0; j + 64 <= size; j += 64) {
        const __m512i xa = _mm512_loadu_si512((const void *)(a + j));
        const __m512i xb = _mm512_loadu_si512((const void *)(b + j));
        _mm512_storeu_si512((void *)(y + j),
                            aot_add_lut_avx512_block(ta, tb, xa, xb, k, lo, hi, clamp));
    }
    if (j < size) {
        const __mmask64 m = ((__mmask64)1 << (size - j)) - 1u;
        _mm512_mask_storeu_epi8(y + j, m,
                                aot_add_lut_avx512_block(ta, tb, _mm512_maskz_loadu_epi8(m, a + j),
                                                         _mm512_maskz_loadu_epi8(m, b + j), k, lo,
                                                         hi, clamp));
    }
}

/*
 * aot_add_s8 for same-shape operands as two table lookups and one add: the
 * compiler (aot.targets.add_lut) found int16 tables F, G with
 * clamp(sat8(floor(sat16(F[x] + G[y]) / 2^k)), act_min, act_max) equal to TFLite's
 * AddFunc on all 65536 code pairs. 64 outputs per step, the tail masked (no read
 * or write past the operands); y may alias a or b (a block is read before it is
 * written).
 */
AOT_AVX512 void aot_add_lut_avx512_s8(const aot_add_s8_params *params, const int8_t *a,
                                      const int8_t *b, const int16_t *tables, int8_t *y)
{
    if (params->act_min != -128 || params->act_max != 127) {
        aot_add_lut_avx512_run(params, a, b, tables, y, 1);
    } else {
        aot_add_lut_avx512_run(params, a, b, tables, y, 0);
    }
}
#else
typedef int aot_add_lut_avx512_s8_needs_x86;
#endif

/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "aot_conv2d_x86_impl.h"

/*
 * aot_fully_connected_s8 for weights without a zero point, bit-exact: bias
 * comes folded at compile time as bias + input_offset * sum_k w[n][k], so the
 * products are the raw int8 x * w, two per int32 lane by vpmaddwd on
 * sign-extended int16 (no saturation: each at most 128 * 128), four output
 * rows at a time. The int32 sums wrap like the portable kernel's.
 */
static AOT_AVX2 int32_t hsum(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}

static AOT_AVX2 void finish(const aot_fully_connected_s8_params *p, const int32_t *bias,
                            int32_t j, uint32_t sum, int8_t *y)
{
    const int32_t multiplier = p->multipliers != NULL ? p->multipliers[j] : p->multiplier;
    const int32_t shift = p->shifts != NULL ? p->shifts[j] : p->shift;
    int32_t acc = aot_mul_by_quantized_multiplier((int32_t)(sum + (uint32_t)bias[j]),
                                                  multiplier, shift);
    acc = aot_wrap_add32(acc, p->output_offset);
    acc = acc < p->act_min ? p->act_min : acc;
    acc = acc > p->act_max ? p->act_max : acc;
    y[j] = (int8_t)acc;
}

AOT_AVX2 void aot_fully_connected_avx2_s8(const aot_fully_connected_s8_params *params,
                                          const int8_t *input, const int8_t *weights,
                                          const int32_t *bias, int8_t *output)
{
    const aot_fully_connected_s8_params *p = params;
    const int32_t kv = p->k / 16 * 16;
    int32_t i, j, r, k;

    for (i = 0; i < p->m; ++i) {
        const int8_t *x = input + i * p->k;
        int8_t *y = output + i * p->n;
        for (j = 0; j < p->n; j += 4) {
            const int32_t rows = p->n - j < 4 ? p->n - j : 4;
            __m256i acc[4];
            for (r = 0; r < 4; ++r) {
                acc[r] = _mm256_setzero_si256();
            }
            for (k = 0; k < kv; k += 16) {
                const __m256i xv =
                    _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(x + k)));
                for (r = 0; r < rows; ++r) {
                    const __m256i wv = _mm256_cvtepi8_epi16(_mm_loadu_si128(
                        (const __m128i *)(const void *)(weights + (j + r) * p->k + k)));
                    acc[r] = _mm256_add_epi32(acc[r], _mm256_madd_epi16(xv, wv));
                }
            }
            for (r = 0; r < rows; ++r) {
                const int8_t *w = weights + (j + r) * p->k;
                uint32_t sum = (uint32_t)hsum(acc[r]);
                for (k = kv; k < p->k; ++k) {
                    sum += (uint32_t)((int32_t)w[k] * (int32_t)x[k]);
                }
                finish(p, bias, j + r, sum, y);
            }
        }
    }
}
#else
typedef int aot_fully_connected_avx2_s8_needs_x86;
#endif

/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "aot_conv2d_x86_impl.h"

/*
 * aot_fully_connected_s8 for weights without a zero point, bit-exact, on
 * AVX-512 VNNI: vpdpbusd adds four (x + 128) as uint8 times w products into
 * each int32 lane, wrapping; bias comes folded at compile time as
 * bias + (input_offset - 128) * sum_k w[n][k]. The k tail is masked: masked
 * weights are 0, so the 128 a masked input byte becomes adds nothing.
 */
AOT_AVX512 void aot_fully_connected_avx512_s8(const aot_fully_connected_s8_params *params,
                                              const int8_t *input, const int8_t *weights,
                                              const int32_t *bias, int8_t *output)
{
    const aot_fully_connected_s8_params *p = params;
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    int32_t i, j, r, k;

    for (i = 0; i < p->m; ++i) {
        const int8_t *x = input + i * p->k;
        int8_t *y = output + i * p->n;
        for (j = 0; j < p->n; j += 4) {
            const int32_t rows = p->n - j < 4 ? p->n - j : 4;
            __m512i acc[4];
            for (r = 0; r < 4; ++r) {
                acc[r] = _mm512_setzero_si512();
            }
            for (k = 0; k < p->k; k += 64) {
                const int32_t left = p->k - k;
                const __mmask64 m = left >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << left) - 1u);
                const __m512i xu = _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, x + k), flip);
                for (r = 0; r < rows; ++r) {
                    acc[r] = _mm512_dpbusd_epi32(
                        acc[r], xu, _mm512_maskz_loadu_epi8(m, weights + (j + r) * p->k + k));
                }
            }
            for (r = 0; r < rows; ++r) {
                const int32_t jj = j + r;
                const int32_t multiplier =
                    p->multipliers != NULL ? p->multipliers[jj] : p->multiplier;
                const int32_t shift = p->shifts != NULL ? p->shifts[jj] : p->shift;
                const uint32_t sum = (uint32_t)_mm512_reduce_add_epi32(acc[r]) + (uint32_t)bias[jj];
                int32_t v = aot_mul_by_quantized_multiplier((int32_t)sum, multiplier, shift);
                v = aot_wrap_add32(v, p->output_offset);
                v = v < p->act_min ? p->act_min : v;
                v = v > p->act_max ? p->act_max : v;
                y[jj] = (int8_t)v;
            }
        }
    }
}
#else
typedef int aot_fully_connected_avx512_s8_needs_x86;
#endif

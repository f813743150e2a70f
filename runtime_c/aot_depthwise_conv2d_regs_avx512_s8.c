/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "aot_conv2d_x86_impl.h"
#include "aot_requant_avx512_impl.h"

/*
 * int8 depthwise convolution with kernel_w <= 4 and any stride, dilation and
 * padding whose output vectors each read within 128 bytes of the input plane
 * (small planes; rows up to about 48 pixels at stride 1), bit-exact with
 * aot_conv2d_s8, on AVX-512 VNNI: one vpdpbusd per kernel row and 16 output
 * pixels, as aot_depthwise_conv2d_rows_avx512_s8, but with the VNNI quads built
 * in registers instead of in scratch: 128 bytes of the plane are two registers
 * (flipped to x + 128) -- the whole plane, loaded once per channel, when it has
 * at most 128 pixels, else a window per output vector -- and the quads of output
 * pixels 16 v .. 16 v + 15 for kernel row ky are one vpermi2d (each 128-bit lane
 * takes the 4 dwords of the window its 4 pixels' taps lie in), one vpshufb (the
 * tap bytes out of them) and one masked move (the padding code 128 - input_offset
 * where a tap lies outside the input). No store and reload of quads, so small
 * planes do not wait on store forwarding; the requantization constants of every
 * channel come from the tables (aot_rq_avx512's fast form), so there is no
 * per-channel setup either.
 * tables (targets/rules_x86.py `dw_regs_tables`, computed at compile time):
 * [nv = ceil(out_plane / 16)][kernel_h] records of AOT_DW_REGS_RECORD int32: the
 * vpermi2d dword indices [16], the vpshufb byte indices [64 bytes], the byte mask
 * of taps inside the input [64 bits]; then each vector's window start [nv]; then
 * per output channel AOT_DW_REGS_CHANNEL int32: multiplier, 31 + r, r - 1, 0, then
 * the int64 rounding constants for P >= 0 and P < 0 (output offset folded), the
 * rule checking that every channel has aot_rq_avx512_fast's form. Weights:
 * [out_c][kernel_h] quads (bytes kx < kernel_w, the rest 0); bias folded:
 * bias + (input_offset - 128) * sum(w).
 */
#define AOT_DW_REGS_RECORD 34
#define AOT_DW_REGS_CHANNEL 8

/* the 64-bit halves of the tables (int32 data) */
typedef uint64_t aot_dw_regs_u64 __attribute__((may_alias, aligned(4)));

/* 128 bytes of the plane from byte `base` as (x + 128), in two registers. */
AOT_X86_INLINE AOT_AVX512 void dw_regs_window(const int8_t *x, int32_t base, int32_t in_plane,
                                              __m512i *lo, __m512i *hi)
{
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    const int32_t rest = in_plane - base;
    const __mmask64 k_lo = rest >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << rest) - 1u);
    /* bytes past the plane are never picked: their value does not matter */
    *lo = _mm512_xor_si512(_mm512_maskz_loadu_epi8(k_lo, x + base), flip);
    if (rest > 64) {
        const __mmask64 k_hi =
            rest >= 128 ? ~(__mmask64)0 : (((__mmask64)1 << (rest - 64)) - 1u);
        *hi = _mm512_xor_si512(_mm512_maskz_loadu_epi8(k_hi, x + base + 64), flip);
    } else {
        *hi = *lo;
    }
}

/*
 * n (1 to 4) vectors of 16 output pixels from vector v0 of output channel oc,
 * kernel_h rows (`kh3`, a constant: 3 rows, unrolled; else p->kernel_h); `windowed`
 * (a constant): each vector loads its window of x, else all read plane[0..1].
 */
AOT_X86_INLINE AOT_AVX512 void dw_regs_block(const int32_t n, const int kh3, const int windowed,
                                             const aot_conv2d_s8_params *p, const __m512i *plane,
                                             const int8_t *x, const int32_t *bases, __m512i pad,
                                             const int32_t *tables, const int32_t *wq,
                                             int32_t bias, int32_t v0, int32_t out_plane,
                                             int8_t *y_c, const aot_rq_avx512_consts *rq)
{
    const int32_t kh = kh3 ? 3 : p->kernel_h;
    __m512i acc[4], lo[4], hi[4];
    int32_t ky, v;
    AOT_X86_UNROLL
    for (v = 0; v < n; ++v) {
        acc[v] = _mm512_set1_epi32(bias);
        if (windowed) {
            dw_regs_window(x, bases[v0 + v], p->in_h * p->in_w, &lo[v], &hi[v]);
        } else {
            lo[v] = plane[0];
            hi[v] = plane[1];
        }
    }
    AOT_X86_UNROLL
    for (ky = 0; ky < kh; ++ky) {
        const __m512i w = _mm512_set1_epi32(wq[ky]);
        AOT_X86_UNROLL
        for (v = 0; v < n; ++v) {
            const int32_t *t = tables + ((v0 + v) * kh + ky) * AOT_DW_REGS_RECORD;
            const __m512i dwords = _mm512_permutex2var_epi32(
                lo[v], _mm512_loadu_si512((const void *)t), hi[v]);
            const __m512i q = _mm512_mask_mov_epi8(
                pad, _cvtu64_mask64(*(const aot_dw_regs_u64 *)(const void *)(t + 32)),
                _mm512_shuffle_epi8(dwords, _mm512_loadu_si512((const void *)(t + 16))));
            acc[v] = _mm512_dpbusd_epi32(acc[v], q, w);
        }
    }
    AOT_X86_UNROLL
    for (v = 0; v < n; ++v) {
        const int32_t rest = out_plane - 16 * (v0 + v);
        const __mmask16 k = rest >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << rest) - 1u);
        _mm_mask_storeu_epi8(y_c + 16 * (v0 + v), k, aot_rq_avx512_s8(rq, acc[v], 1, 1));
    }
}

AOT_X86_INLINE AOT_AVX512 void dw_regs_run(const int kh3, const int windowed,
                                           const aot_conv2d_s8_params *p, const int8_t *input,
                                           const int32_t *weights, const int32_t *bias,
                                           const int32_t *tables, int8_t *output)
{
    const int32_t in_plane = p->in_h * p->in_w, out_plane = p->out_h * p->out_w;
    const int32_t mult = p->out_c / p->in_c, nv = (out_plane + 15) / 16;
    const int32_t *bases = tables + nv * p->kernel_h * AOT_DW_REGS_RECORD;
    const int32_t *channels = bases + nv;
    const __m512i pad = _mm512_set1_epi8((char)(uint8_t)(128 - p->input_offset));
    aot_rq_avx512_consts rq;
    int32_t t, n = 0, c = 0, oc, v;
    /* the constants every channel shares; m, c_pos, c_neg and the shifts per channel */
    aot_rq_avx512_init(&rq, 0, -1, 0, p->act_min, p->act_max);
    for (t = 0; t < p->batch * p->in_c; ++t) {
        const int8_t *x = input + t * in_plane;
        __m512i plane[2];
        if (!windowed) {
            dw_regs_window(x, 0, in_plane, &plane[0], &plane[1]);
        }
        for (oc = c * mult; oc < (c + 1) * mult; ++oc) {
            int8_t *y_c = output + (n * p->out_c + oc) * out_plane;
            const int32_t *wq = weights + oc * p->kernel_h;
            const int32_t *ch = channels + oc * AOT_DW_REGS_CHANNEL;
            rq.m = _mm512_set1_epi32(ch[0]);
            rq.right = _mm_cvtsi32_si128(ch[1]);
            rq.right_odd = _mm_cvtsi32_si128(ch[2]);
            rq.c_pos = _mm512_set1_epi64((int64_t)*(const aot_dw_regs_u64 *)(const void *)(ch + 4));
            rq.c_neg = _mm512_set1_epi64((int64_t)*(const aot_dw_regs_u64 *)(const void *)(ch + 6));
            for (v = 0; v < nv; v += 4) {
                switch (nv - v < 4 ? nv - v : 4) {
                case 1:
                    dw_regs_block(1, kh3, windowed, p, plane, x, bases, pad, tables, wq,
                                  bias[oc], v, out_plane, y_c, &rq);
                    break;
                case 2:
                    dw_regs_block(2, kh3, windowed, p, plane, x, bases, pad, tables, wq,
                                  bias[oc], v, out_plane, y_c, &rq);
                    break;
                case 3:
                    dw_regs_block(3, kh3, windowed, p, plane, x, bases, pad, tables, wq,
                                  bias[oc], v, out_plane, y_c, &rq);
                    break;
                default:
                    dw_regs_block(4, kh3, windowed, p, plane, x, bases, pad, tables, wq,
                                  bias[oc], v, out_plane, y_c, &rq);
                    break;
                }
            }
        }
        if (++c == p->in_c) {   /* counters, not a division per channel */
            c = 0;
            ++n;
        }
    }
}

AOT_AVX512 void aot_depthwise_conv2d_regs_avx512_s8(const aot_conv2d_s8_params *params,
                                                    const int8_t *input, const int32_t *weights,
                                                    const int32_t *bias, const int32_t *tables,
                                                    int8_t *output)
{
    /* a copy: the int8 stores could alias *params, whose fields would be re-read */
    const aot_conv2d_s8_params pv = *params;
    const int windowed = pv.in_h * pv.in_w > 128;
    if (pv.kernel_h == 3) {   /* the common depthwise kernel, its rows unrolled */
        if (windowed) {
            dw_regs_run(1, 1, &pv, input, weights, bias, tables, output);
        } else {
            dw_regs_run(1, 0, &pv, input, weights, bias, tables, output);
        }
    } else {
        dw_regs_run(0, windowed, &pv, input, weights, bias, tables, output);
    }
}
#else
typedef int aot_depthwise_conv2d_regs_avx512_s8_needs_x86;
#endif

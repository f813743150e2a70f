/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "aot_conv2d_x86_impl.h"
#include "aot_gemm_avx512_f32_impl.h"

/*
 * Convolution with groups == 1 as one matrix product per image: weights
 * [out_c][in_c * kernel_h * kernel_w] times the input's phase planes (see
 * aot_conv2d_x86_impl.h), built in scratch after the tap table. A 1x1,
 * stride 1, unpadded convolution reads the input itself.
 */
AOT_AVX512 void aot_conv2d_avx512_f32(const aot_conv2d_params *params, const float *input,
                                  const float *weights, const float *bias, float *output,
                                  void *scratch)
{
    const aot_conv2d_params *p = params;
    const int32_t in_plane = p->in_h * p->in_w, out_plane = p->out_h * p->out_w;
    const int direct = p->kernel_h == 1 && p->kernel_w == 1 && p->stride_h == 1 &&
                       p->stride_w == 1 && p->pad_top == 0 && p->pad_left == 0 &&
                       p->out_h == p->in_h && p->out_w == p->in_w;
    int32_t *offs = (int32_t *)scratch;
    float *planes = (float *)((uint8_t *)scratch + aot_x86_table_bytes(p->kernel_h * p->kernel_w));
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                           28, 30);
    aot_x86_geom geom;
    aot_gemm_avx512_f32 g;
    int32_t n;

    aot_x86_geom_init(&geom, p->out_h, p->out_w, p->kernel_h, p->kernel_w, p->stride_h,
                      p->stride_w, p->dilation_h, p->dilation_w, AOT_GEMM_AVX512_NR);
    aot_x86_tap_offsets(&geom, p->kernel_w, p->stride_h, p->stride_w, p->dilation_h,
                        p->dilation_w, offs);
    g.m = p->out_c;
    g.nv = geom.nv;
    g.a = weights;
    g.a_rs = p->in_c * geom.taps;
    g.a_ks = 1;
    g.kgroups = p->in_c;
    g.taps = geom.taps;
    g.cs = direct ? in_plane : geom.cs;
    g.offs = offs;
    g.y_rs = out_plane;
    g.geom = geom.lw == p->out_w ? NULL : &geom;
    g.out_w = p->out_w;
    g.bias = bias;
    g.bias_rs = 1;
    g.bias_cs = 0;
    g.alpha = 1.0f;
    g.beta = 1.0f;
    g.act = &p->act;
    for (n = 0; n < p->batch; ++n) {
        const float *x = input + n * p->in_c * in_plane;
        if (direct) {
            g.b = x;
        } else {
            const int32_t total = p->in_c * geom.cs;
            int32_t c, iy, ix, run, runs, dst[AOT_X86_MAX_STRIDE], ix0[AOT_X86_MAX_STRIDE],
                cnt[AOT_X86_MAX_STRIDE];
            aot_avx2_fill32(planes, 0, total);
            for (iy = 0; iy < p->in_h; ++iy) {
                runs = aot_x86_row_runs(&geom, iy, p->in_w, p->kernel_h, p->kernel_w,
                                        p->stride_h, p->stride_w, p->dilation_h, p->dilation_w,
                                        p->pad_top, p->pad_left, dst, ix0, cnt);
                for (c = 0; c < p->in_c; ++c) {
                    const float *src = x + c * in_plane + iy * p->in_w;
                    float *plane = planes + c * geom.cs;
                    for (run = 0; run < runs; ++run) {
                        float *d = plane + dst[run];
                        const float *sp = src + ix0[run];
                        ix = 0;
                        if (p->stride_w == 1) {
                            for (; ix + 8 <= cnt[run]; ix += 8) {
                                _mm256_storeu_ps(d + ix, _mm256_loadu_ps(sp + ix));
                            }
                        } else if (p->stride_w == 2) {
                            /* every other element: two loads, one two-source permute */
                            for (; ix + 16 <= cnt[run]; ix += 16) {
                                const __m512 lo = _mm512_loadu_ps(sp + 2 * ix);
                                const __m512 hi = _mm512_maskz_loadu_ps((__mmask16)0x7FFF,
                                                                        sp + 2 * ix + 16);
                                _mm512_storeu_ps(d + ix, _mm512_permutex2var_ps(lo, even, hi));
                            }
                        }
                        for (; ix < cnt[run]; ++ix) {
                            d[ix] = sp[ix * p->stride_w];
                        }
                    }
                }
            }
            g.b = planes;
        }
        g.y = output + n * p->out_c * out_plane;
        aot_gemm_avx512_f32_run(&g);
    }
}
#else
typedef int aot_conv2d_avx512_f32_needs_x86;
#endif

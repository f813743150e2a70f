/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to the runtime: the depthwise convolution core of
 * aot_depthwise_conv2d_avx512_f32 and _s8 (aot_depthwise_avx2_impl.h with
 * 16-lane vectors and 64-pixel tiles) (groups == in_c, out_c = in_c *
 * multiplier, output channel oc reading input channel oc / multiplier).
 * Include after aot_conv2d_x86_impl.h.
 *
 * Channel by channel, the input channel is copied into float phase planes
 * (see aot_conv2d_x86_impl.h) in scratch after the tap table -- one channel's
 * worth, so it stays in cache -- and its output channels are computed 64
 * virtual pixels at a time: one broadcast weight and four unaligned loads per
 * tap, fused multiply-adds in tap order.
 *
 * The int8 kernel feeds (x + input_offset) as floats: every partial sum is
 * an integer of magnitude at most sum |w| * 255, which the lowering rule
 * checks is below 2^24 per channel, so the float sums are the exact integer
 * sums and the result is bit-exact with the integer kernel.
 */
#ifndef AOT_DEPTHWISE_AVX512_IMPL_H
#define AOT_DEPTHWISE_AVX512_IMPL_H

#define AOT_DW_AVX512_NR 64

/* The flat path (aot_depthwise_conv2d_avx512_s8): at most AOT_DW_FLAT_MAX_TAPS taps,
 * and either stride 1 with out_w == in_w ("direct": the virtual pixels are the
 * output's), or every output pixel's top-left stride multiple inside the input
 * (stride_h * (out_h - 1) < in_h, likewise w) on a plane of at most
 * AOT_DW_FLAT_MAX_PIXELS (subsampled: it computes up to stride_h * stride_w times
 * the pixels it keeps, which beats per-channel phase planes on small planes only;
 * measured on MobileNet planes: 12x12 and 6x6 gain, 24x24 is even, 48x48 loses).
 * targets/rules_x86.py (dw_flat, phase_scratch) follows the same rules and sizes. */
#define AOT_DW_FLAT_MAX_TAPS 64
#define AOT_DW_FLAT_MAX_PIXELS 512

AOT_X86_INLINE int aot_dw_flat_direct(int32_t stride_h, int32_t stride_w, int32_t in_w,
                                      int32_t out_w)
{
    return stride_h == 1 && stride_w == 1 && in_w == out_w;
}

AOT_X86_INLINE int aot_dw_flat_applies(int32_t in_h, int32_t in_w, int32_t out_h, int32_t out_w,
                                       int32_t taps, int32_t stride_h, int32_t stride_w)
{
    if (taps > AOT_DW_FLAT_MAX_TAPS) {
        return 0;
    }
    return aot_dw_flat_direct(stride_h, stride_w, in_w, out_w) ||
           (stride_h * (out_h - 1) < in_h && stride_w * (out_w - 1) < in_w &&
            in_h * in_w <= AOT_DW_FLAT_MAX_PIXELS);
}

/* Virtual rows computed: the output's (direct), else up to the last one picked. */
AOT_X86_INLINE int32_t aot_dw_flat_rows(int32_t stride_h, int32_t stride_w, int32_t in_w,
                                        int32_t out_h, int32_t out_w)
{
    return aot_dw_flat_direct(stride_h, stride_w, in_w, out_w) ? out_h
                                                              : stride_h * (out_h - 1) + 1;
}

/* Vectors of 16 virtual pixels computed: whole tiles of 4. */
AOT_X86_INLINE int32_t aot_dw_flat_vectors(int32_t pixels)
{
    return (pixels + 63) / 64 * 4;
}

AOT_X86_INLINE int32_t aot_dw_flat_mask_bytes(int32_t taps, int32_t nv)
{
    return (taps * nv * 2 + 63) / 64 * 64;
}

AOT_X86_INLINE int32_t aot_dw_flat_plane_floats(int32_t in_plane)
{
    return (in_plane + 15) / 16 * 16;
}

/* Geometry, tap table and row-run table (at *runs); returns where one
 * channel's planes go. */
AOT_X86_INLINE AOT_AVX512 float *aot_dw_avx512_prepare(
    aot_x86_geom *g, int32_t in_h, int32_t in_w, int32_t out_h, int32_t out_w, int32_t kernel_h,
    int32_t kernel_w, int32_t stride_h, int32_t stride_w, int32_t dilation_h,
    int32_t dilation_w, int32_t pad_top, int32_t pad_left, void *scratch, int32_t **runs)
{
    uint8_t *at = (uint8_t *)scratch;
    aot_x86_geom_init(g, out_h, out_w, kernel_h, kernel_w, stride_h, stride_w, dilation_h,
                      dilation_w, AOT_DW_AVX512_NR);
    aot_x86_tap_offsets(g, kernel_w, stride_h, stride_w, dilation_h, dilation_w,
                        (int32_t *)scratch);
    at += aot_x86_table_bytes(g->taps);
    *runs = (int32_t *)(void *)at;
    aot_x86_all_row_runs(g, in_h, in_w, kernel_h, kernel_w, stride_h, stride_w, dilation_h,
                         dilation_w, pad_top, pad_left, *runs);
    return (float *)(void *)(at + aot_x86_runs_bytes(in_h, stride_w));
}

AOT_X86_INLINE AOT_AVX512 void aot_dw_avx512_tile(const float *plane, const int32_t *offs,
                                                  int32_t taps, const float *w, int32_t j0,
                                                  __m512 *acc)
{
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int32_t t;
    for (t = 0; t < taps; ++t) {
        const __m512 wv = _mm512_set1_ps(w[t]);
        const float *bp = plane + offs[t] + j0;
        a0 = _mm512_fmadd_ps(wv, _mm512_loadu_ps(bp), a0);
        a1 = _mm512_fmadd_ps(wv, _mm512_loadu_ps(bp + 16), a1);
        a2 = _mm512_fmadd_ps(wv, _mm512_loadu_ps(bp + 32), a2);
        a3 = _mm512_fmadd_ps(wv, _mm512_loadu_ps(bp + 48), a3);
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

#endif /* AOT_DEPTHWISE_AVX512_IMPL_H */

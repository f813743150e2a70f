/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "aot_conv2d_x86_impl.h"
#include "aot_dw_f32_lanes_impl.h"

/*
 * Depthwise convolution with channels in lanes, for small planes (chosen by
 * rules_x86.dw_f32_lanes). A plane of a few dozen pixels leaves most of a
 * per-channel pass to its fixed costs (edge masks, short rows, a latency-bound
 * tail). Here 16 output
 * channels are one vector instead: their input is transposed once into a
 * zero-bordered [rows][cols][16] plane in scratch, so every tap of every
 * output pixel is one plain load, taps are full weight vectors, and a block
 * of up to 8 output pixels of a row keeps 8 independent accumulators; at
 * stride_w 1 or 2 with dilation_w 1 a tap row's inputs are loaded once for
 * the whole block (3x3 at stride 1 on rows of at most 8 pixels: two rows per
 * block, weights in registers, aot_dw_f32_lanes_s1_rows). Only the plane's
 * border is zeroed per call. The results ([pixel][16] in scratch) are transposed back
 * into the channel planes. Products are summed in the same tap order as
 * aot_depthwise_conv2d_avx512_f32 sums them; lanes of absent channels (a
 * partial group) compute on zeros and are not stored, so a thread's part of
 * the channels computes each channel as the whole call does. The compute is
 * shared with aot_depthwise_conv2d_c16_avx512_f32 (aot_dw_f32_lanes_impl.h).
 *
 * Scratch (aot_dw_f32_lanes_layout, rules_x86.dw_f32_lanes_scratch): the
 * weights [taps][16], the padded input [hp][wp][16], the output [out_plane][16],
 * each input pixel's vector index in the padded input (int32).
 */

typedef struct {
    int32_t hp, wp;                 /* padded input rows / columns kept */
    int32_t w_off, t_off, o_off;    /* scratch byte offsets of the buffers */
    int32_t x_off;                  /* ... and of the input pixels' vectors in the plane */
} aot_dw_f32_lanes_layout;

AOT_X86_INLINE aot_dw_f32_lanes_layout aot_dw_f32_lanes_layout_of(const aot_conv2d_params *p)
{
    aot_dw_f32_lanes_layout l;
    aot_dw_f32_lanes_padded(p, &l.hp, &l.wp);
    l.w_off = 0;
    l.t_off = p->kernel_h * p->kernel_w * 64;
    l.o_off = l.t_off + l.hp * l.wp * 64;
    l.x_off = l.o_off + p->out_h * p->out_w * 64;
    return l;
}

AOT_AVX512 void aot_depthwise_conv2d_lanes_avx512_f32(const aot_conv2d_params *params,
                                                  const float *input, const float *weights,
                                                  const float *bias, float *output,
                                                  void *scratch)
{
    const aot_conv2d_params *p = params;
    const aot_dw_f32_lanes_layout l = aot_dw_f32_lanes_layout_of(p);
    const int32_t in_plane = p->in_h * p->in_w, out_plane = p->out_h * p->out_w;
    const int32_t mult = p->out_c / p->in_c, taps = p->kernel_h * p->kernel_w;
    float *wv = (float *)(void *)((uint8_t *)scratch + l.w_off);
    float *t = (float *)(void *)((uint8_t *)scratch + l.t_off);
    float *o = (float *)(void *)((uint8_t *)scratch + l.o_off);
    int32_t *at = (int32_t *)(void *)((uint8_t *)scratch + l.x_off);
    const aot_dw_f32_lanes_plane_fn plane = aot_dw_f32_lanes_pick(p);
    const aot_dw_f32_lanes_geom g = aot_dw_f32_lanes_geom_of(p, l.wp);
    int32_t n, oc0;
    aot_dw_f32_lanes_border(p, l.hp, l.wp, t);
    aot_dw_f32_lanes_index(p, l.wp, at);
    for (n = 0; n < p->batch; ++n) {
        const float *x = input + n * p->in_c * in_plane;
        float *y = output + n * p->out_c * out_plane;
        for (oc0 = 0; oc0 < p->out_c; oc0 += 16) {
            const int32_t nc = p->out_c - oc0 < 16 ? p->out_c - oc0 : 16;
            const __mmask16 k = (__mmask16)((1u << nc) - 1u);
            const __m512 b = bias != NULL ? _mm512_maskz_loadu_ps(k, bias + oc0)
                                          : _mm512_setzero_ps();
            aot_dw_f32_lanes_in(weights, taps, 1, oc0, nc, taps, NULL, wv);
            aot_dw_f32_lanes_in(x, in_plane, mult, oc0, nc, in_plane, at, t);
            plane(g, t, wv, b, &p->act, o);
            aot_dw_f32_lanes_out(o, out_plane, oc0, nc, y, out_plane);
        }
    }
}
#else
typedef int aot_depthwise_conv2d_lanes_avx512_f32_needs_x86;
#endif

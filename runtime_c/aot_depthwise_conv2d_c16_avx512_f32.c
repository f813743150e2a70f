/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "aot_conv2d_x86_impl.h"
#include "aot_dw_f32_lanes_impl.h"

/*
 * Depthwise convolution (multiplier 1, channels a multiple of 16) on
 * channel-blocked activations: aot_depthwise_conv2d_lanes_avx512_f32's compute
 * (aot_dw_f32_lanes_impl.h) without its transposes on the c16 side. A c16 block
 * of 16 channels is already the lanes kernel's layout: the narrow path (3x3,
 * stride 1, rows of at most 8) reads it in place (rows and columns outside it as
 * zeros), other forms copy its pixels as whole vectors into the zero-bordered
 * plane (measured on KWS's 25x5, 64 channels: 0.66 us in place, 1.03 with the
 * copy); results are written straight into a c16 output block. An NCHW side
 * is transposed as the lanes kernel does it. Each block of 16 channels is computed alone (the same
 * sums in the same order in every layout), so a thread's part of the blocks
 * gives the bits the whole call gives.
 *
 * Scratch (aot_dw_f32_c16_layout, rules_x86.dw_f32_c16_scratch): the weights
 * [taps][16], the padded input [hp][wp][16], then only for an NCHW output the
 * results [out_plane][16], and only for an NCHW input each input pixel's vector
 * index in the padded input (int32).
 */

typedef struct {
    int32_t hp, wp;                 /* padded input rows / columns */
    int32_t w_off, t_off, o_off;    /* scratch byte offsets of the buffers */
    int32_t x_off;
} aot_dw_f32_c16_layout;

AOT_X86_INLINE aot_dw_f32_c16_layout aot_dw_f32_c16_layout_of(const aot_conv2d_params *p,
                                                             int output_c16)
{
    aot_dw_f32_c16_layout l;
    aot_dw_f32_lanes_padded(p, &l.hp, &l.wp);
    l.w_off = 0;
    l.t_off = p->kernel_h * p->kernel_w * 64;
    l.o_off = l.t_off + l.hp * l.wp * 64;
    l.x_off = l.o_off + (output_c16 ? 0 : p->out_h * p->out_w * 64);
    return l;
}

AOT_AVX512 void aot_depthwise_conv2d_c16_avx512_f32(const aot_conv2d_c16_params *params,
                                                    const float *input, const float *weights,
                                                    const float *bias, float *output,
                                                    void *scratch)
{
    const aot_conv2d_params *p = &params->conv;
    const int in_c16 = params->input_c16 != 0, out_c16 = params->output_c16 != 0;
    const aot_dw_f32_c16_layout l = aot_dw_f32_c16_layout_of(p, out_c16);
    const int32_t in_plane = p->in_h * p->in_w, out_plane = p->out_h * p->out_w;
    const int32_t taps = p->kernel_h * p->kernel_w;
    const aot_act_f32 act = p->act;   /* a local: the c16 output stores cannot alias it */
    float *wv = (float *)(void *)((uint8_t *)scratch + l.w_off);
    float *t = (float *)(void *)((uint8_t *)scratch + l.t_off);
    float *o = (float *)(void *)((uint8_t *)scratch + l.o_off);
    int32_t *at = (int32_t *)(void *)((uint8_t *)scratch + l.x_off);
    const aot_dw_f32_lanes_geom g = aot_dw_f32_lanes_geom_of(p, l.wp);
    aot_dw_f32_lanes_plane_fn plane = aot_dw_f32_lanes_pick(p);
    /* the narrow path reads a c16 input block as it is: no copy, no plane */
    const int direct = in_c16 && plane == aot_dw_f32_lanes_k3s1_narrow;
    int32_t n, c0, iy, ix;
    if (direct) {
        plane = aot_dw_f32_lanes_k3s1_narrow_direct;
    } else {
        aot_dw_f32_lanes_border(p, l.hp, l.wp, t);
    }
    if (!in_c16) {
        aot_dw_f32_lanes_index(p, l.wp, at);
    }
    for (n = 0; n < p->batch; ++n) {
        const float *x = input + n * p->in_c * in_plane;
        float *y = output + n * p->out_c * out_plane;
        for (c0 = 0; c0 < p->out_c; c0 += 16) {
            const __m512 b = bias != NULL ? _mm512_loadu_ps(bias + c0) : _mm512_setzero_ps();
            const float *src = t;
            aot_dw_f32_lanes_in(weights, taps, 1, c0, 16, taps, NULL, wv);
            if (direct) {
                src = x + c0 * in_plane;
            } else if (in_c16) {
                const float *xb = x + c0 * in_plane;
                for (iy = 0; iy < p->in_h; ++iy) {
                    const float *xr = xb + iy * p->in_w * 16;
                    float *dst = t + ((iy + p->pad_top) * l.wp + p->pad_left) * 16;
                    for (ix = 0; ix < p->in_w; ++ix) {
                        _mm512_storeu_ps(dst + ix * 16, _mm512_loadu_ps(xr + ix * 16));
                    }
                }
            } else {
                aot_dw_f32_lanes_in(x, in_plane, 1, c0, 16, in_plane, at, t);
            }
            if (out_c16) {
                plane(g, src, wv, b, &act, y + c0 * out_plane);
            } else {
                plane(g, src, wv, b, &act, o);
                aot_dw_f32_lanes_out(o, out_plane, c0, 16, y, out_plane);
            }
        }
    }
}
#else
typedef int aot_depthwise_conv2d_c16_avx512_f32_needs_x86;
#endif

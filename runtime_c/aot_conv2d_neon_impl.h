/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to the runtime: the im2col step of the int8 GEMM convolutions
 * aot_conv2d_neon_s8 and aot_conv2d_dotprod_s8 (AArch64 only). Ship it with them.
 *
 * A block of `np` <= P consecutive output pixels (flattened over out_h x out_w)
 * of one batch element becomes a column matrix in scratch, k = (ic, ky, kx) in
 * OIHW weight order, K = in_c * kernel_h * kernel_w taps:
 *  - plain layout (neon): col[k][P];
 *  - grouped layout (dotprod): col[k / 4][P][4], K padded to a multiple of 4
 *    with zeros, so one 16-byte load holds 4 taps of 4 pixels (SDOT's operand).
 * Padded taps hold the input zero point (-input_offset): the lowering folds
 * input_offset * sum(w) into the bias, so they add w * (zp - zp) = 0 there,
 * as in the portable kernel. Pixels np..P-1 are zero (their sums are dropped).
 * A 1x1, stride-1, unpadded convolution copies rows (and zips them into the
 * grouped layout) with vector loads; others of stride_w 1 or 2 fill each tap's
 * lanes as a row (vector loads inside the input; grouped: 4 such rows are
 * zipped). Every input byte a block needs is read before the block's outputs
 * are written, so a pointwise convolution may run
 * in place (see aot_kernels.h). Input positions are int32 offsets, so a row
 * outside the input never forms an out-of-range pointer.
 */
#ifndef AOT_CONV2D_NEON_IMPL_H
#define AOT_CONV2D_NEON_IMPL_H

#include "aot_requant_neon_impl.h"
#include "aot_types.h"

#if defined(__aarch64__) && defined(__ARM_NEON)

/* Index of tap k of pixel i in the column buffer. */
AOT_NEON_INLINE int32_t aot_col_index(int32_t k, int32_t i, int32_t P, int32_t grouped)
{
    return grouped ? ((k >> 2) * P + i) * 4 + (k & 3) : k * P + i;
}

AOT_NEON_INLINE int32_t aot_conv_is_pointwise(const aot_conv2d_s8_params *p)
{
    return p->kernel_h == 1 && p->kernel_w == 1 && p->stride_h == 1 && p->stride_w == 1 &&
           p->pad_top == 0 && p->pad_left == 0 && p->in_h == p->out_h && p->in_w == p->out_w;
}

/* Pointwise, full block of 16 pixels, grouped layout: 4 channel rows zipped
 * into [pixel][4 channels]. */
AOT_NEON_INLINE void aot_im2col_pointwise_grouped16(const int8_t *x, int32_t plane, int32_t in_c,
                                                    int8_t *col)
{
    int32_t ic;
    for (ic = 0; ic < in_c; ic += 4) {
        const int8x16_t zero = vdupq_n_s8(0);
        const int8x16_t r0 = vld1q_s8(x + ic * plane);
        const int8x16_t r1 = ic + 1 < in_c ? vld1q_s8(x + (ic + 1) * plane) : zero;
        const int8x16_t r2 = ic + 2 < in_c ? vld1q_s8(x + (ic + 2) * plane) : zero;
        const int8x16_t r3 = ic + 3 < in_c ? vld1q_s8(x + (ic + 3) * plane) : zero;
        const int16x8_t z01lo = vreinterpretq_s16_s8(vzip1q_s8(r0, r1));
        const int16x8_t z01hi = vreinterpretq_s16_s8(vzip2q_s8(r0, r1));
        const int16x8_t z23lo = vreinterpretq_s16_s8(vzip1q_s8(r2, r3));
        const int16x8_t z23hi = vreinterpretq_s16_s8(vzip2q_s8(r2, r3));
        int8_t *c = col + ic * 16;
        vst1q_s8(c, vreinterpretq_s8_s16(vzip1q_s16(z01lo, z23lo)));
        vst1q_s8(c + 16, vreinterpretq_s8_s16(vzip2q_s16(z01lo, z23lo)));
        vst1q_s8(c + 32, vreinterpretq_s8_s16(vzip1q_s16(z01hi, z23hi)));
        vst1q_s8(c + 48, vreinterpretq_s8_s16(vzip2q_s16(z01hi, z23hi)));
    }
}

/* A run of output pixels on one output row: block lanes i0 .. i0 + len - 1. */
typedef struct {
    int32_t i0, len, oy, ox;
} aot_im2col_run;

/* The runs of output pixels p0 .. p0 + np - 1; returns their number. */
AOT_NEON_INLINE int32_t aot_im2col_runs(int32_t out_w, int32_t p0, int32_t np,
                                        aot_im2col_run *runs)
{
    int32_t nruns = 0, i = 0, oy = p0 / out_w, ox = p0 - oy * out_w;
    while (i < np) {
        const int32_t len = out_w - ox < np - i ? out_w - ox : np - i;
        runs[nruns].i0 = i;
        runs[nruns].len = len;
        runs[nruns].oy = oy;
        runs[nruns].ox = ox;
        ++nruns;
        i += len;
        ox = 0;
        ++oy;
    }
    return nruns;
}

/* Plain layout for stride_w 1 or 2, 8 pixels: each tap's row of 8 lanes is
 * one vector load (stride 2: LD2's even lanes) where a run covers the block
 * inside the input, else filled byte by byte; lanes past np are 0. */
AOT_NEON_INLINE void aot_im2col_rows_plain8(const aot_conv2d_s8_params *p, const int8_t *x_n,
                                            int32_t p0, int32_t np, int8_t *col)
{
    const int8_t zp = (int8_t)(-p->input_offset);
    const int32_t in_plane = p->in_h * p->in_w, sw = p->stride_w;   /* 1 or 2 */
    aot_im2col_run runs[8];
    const int32_t nruns = aot_im2col_runs(p->out_w, p0, np, runs);
    int32_t ic, ky, kx, s, j;
    int8_t *row = col;

    for (ic = 0; ic < p->in_c; ++ic) {
        for (ky = 0; ky < p->kernel_h; ++ky) {
            for (kx = 0; kx < p->kernel_w; ++kx, row += 8) {
                vst1_s8(row, vdup_n_s8(0));
                for (s = 0; s < nruns; ++s) {
                    const aot_im2col_run *run = &runs[s];
                    const int32_t iy = run->oy * p->stride_h - p->pad_top + ky * p->dilation_h;
                    const int32_t ix0 = run->ox * sw - p->pad_left + kx * p->dilation_w;
                    const int32_t src = ic * in_plane + iy * p->in_w;
                    if (iy < 0 || iy >= p->in_h) {
                        for (j = 0; j < run->len; ++j) {
                            row[run->i0 + j] = zp;
                        }
                    } else if (run->len == 8 && ix0 >= 0 && ix0 + 8 * sw <= p->in_w) {
                        vst1_s8(row, sw == 1 ? vld1_s8(x_n + src + ix0)
                                             : vld2_s8(x_n + src + ix0).val[0]);
                    } else {
                        for (j = 0; j < run->len; ++j) {
                            const int32_t ix = ix0 + j * sw;
                            row[run->i0 + j] = ix >= 0 && ix < p->in_w ? x_n[src + ix] : zp;
                        }
                    }
                }
            }
        }
    }
}

/* Grouped layout for stride_w 1 or 2, 16 pixels: each tap's 16 lanes are
 * filled as a row (one vector load, stride 2: LD2's even lanes, where a run
 * covers the block inside the input; byte by byte at edges), then 4 tap rows
 * are zipped into [pixel][4 taps]. */
AOT_NEON_INLINE void aot_im2col_rows_grouped16(const aot_conv2d_s8_params *p, const int8_t *x_n,
                                               int32_t p0, int32_t np, int8_t *col)
{
    const int8_t zp = (int8_t)(-p->input_offset);
    const int32_t in_plane = p->in_h * p->in_w, sw = p->stride_w;   /* 1 or 2 */
    const int32_t K = p->in_c * p->kernel_h * p->kernel_w;
    int8_t rows[4][16];
    aot_im2col_run runs[16];
    const int32_t nruns = aot_im2col_runs(p->out_w, p0, np, runs);
    int32_t k, r, s, j, ic = 0, ky = 0, kx = 0;

    for (k = 0; k < K; k += 4) {
        for (r = 0; r < 4; ++r) {
            int8_t *row = rows[r];
            vst1q_s8(row, vdupq_n_s8(0));
            if (k + r >= K) {
                continue;
            }
            for (s = 0; s < nruns; ++s) {
                const aot_im2col_run *run = &runs[s];
                const int32_t iy = run->oy * p->stride_h - p->pad_top + ky * p->dilation_h;
                const int32_t ix0 = run->ox * sw - p->pad_left + kx * p->dilation_w;
                const int32_t src = ic * in_plane + iy * p->in_w;
                if (iy < 0 || iy >= p->in_h) {
                    for (j = 0; j < run->len; ++j) {
                        row[run->i0 + j] = zp;
                    }
                } else if (run->len == 16 && ix0 >= 0 && ix0 + 16 * sw <= p->in_w) {
                    vst1q_s8(row, sw == 1 ? vld1q_s8(x_n + src + ix0)
                                          : vld2q_s8(x_n + src + ix0).val[0]);
                } else {
                    for (j = 0; j < run->len; ++j) {
                        const int32_t ix = ix0 + j * sw;
                        row[run->i0 + j] = ix >= 0 && ix < p->in_w ? x_n[src + ix] : zp;
                    }
                }
            }
            if (++kx == p->kernel_w) {
                kx = 0;
                if (++ky == p->kernel_h) {
                    ky = 0;
                    ++ic;
                }
            }
        }
        {
            const int16x8_t z01lo = vreinterpretq_s16_s8(vzip1q_s8(vld1q_s8(rows[0]),
                                                                   vld1q_s8(rows[1])));
            const int16x8_t z01hi = vreinterpretq_s16_s8(vzip2q_s8(vld1q_s8(rows[0]),
                                                                   vld1q_s8(rows[1])));
            const int16x8_t z23lo = vreinterpretq_s16_s8(vzip1q_s8(vld1q_s8(rows[2]),
                                                                   vld1q_s8(rows[3])));
            const int16x8_t z23hi = vreinterpretq_s16_s8(vzip2q_s8(vld1q_s8(rows[2]),
                                                                   vld1q_s8(rows[3])));
            int8_t *c = col + k * 16;
            vst1q_s8(c, vreinterpretq_s8_s16(vzip1q_s16(z01lo, z23lo)));
            vst1q_s8(c + 16, vreinterpretq_s8_s16(vzip2q_s16(z01lo, z23lo)));
            vst1q_s8(c + 32, vreinterpretq_s8_s16(vzip1q_s16(z01hi, z23hi)));
            vst1q_s8(c + 48, vreinterpretq_s8_s16(vzip2q_s16(z01hi, z23hi)));
        }
    }
}

/* The column buffer of pixels p0 .. p0 + np - 1 of x_n (one batch element). */
AOT_NEON_INLINE void aot_im2col_s8(const aot_conv2d_s8_params *p, const int8_t *x_n, int32_t p0,
                                   int32_t np, int8_t *col, int32_t P, int32_t grouped)
{
    const int8_t zp = (int8_t)(-p->input_offset);
    const int32_t in_plane = p->in_h * p->in_w;
    const int32_t K = p->in_c * p->kernel_h * p->kernel_w;
    const int32_t k_end = grouped ? (K + 3) & ~3 : K;
    int32_t i, k, ic, ky, kx, oy, ox;

    if (aot_conv_is_pointwise(p) && np == P) {
        if (grouped && P == 16) {
            aot_im2col_pointwise_grouped16(x_n + p0, in_plane, p->in_c, col);
            return;
        }
        if (!grouped && P == 8) {
            for (k = 0; k < K; ++k) {
                vst1_s8(col + k * 8, vld1_s8(x_n + k * in_plane + p0));
            }
            return;
        }
    }
    if (grouped && P == 16 && p->stride_w <= 2) {
        aot_im2col_rows_grouped16(p, x_n, p0, np, col);
        return;
    }
    if (!grouped && P == 8 && p->stride_w <= 2) {
        aot_im2col_rows_plain8(p, x_n, p0, np, col);
        return;
    }
    oy = p0 / p->out_w;
    ox = p0 - oy * p->out_w;
    for (i = 0; i < P; ++i) {
        if (i >= np) {
            for (k = 0; k < k_end; ++k) {
                col[aot_col_index(k, i, P, grouped)] = 0;
            }
            continue;
        }
        {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            const int32_t ix0 = ox * p->stride_w - p->pad_left;
            k = 0;
            for (ic = 0; ic < p->in_c; ++ic) {
                const int8_t *x_c = x_n + ic * in_plane;
                for (ky = 0; ky < p->kernel_h; ++ky) {
                    const int32_t iy = iy0 + ky * p->dilation_h;
                    const int32_t row_in = iy >= 0 && iy < p->in_h;
                    for (kx = 0; kx < p->kernel_w; ++kx, ++k) {
                        const int32_t ix = ix0 + kx * p->dilation_w;
                        col[aot_col_index(k, i, P, grouped)] =
                            row_in && ix >= 0 && ix < p->in_w ? x_c[iy * p->in_w + ix] : zp;
                    }
                }
            }
            for (; k < k_end; ++k) {
                col[aot_col_index(k, i, P, grouped)] = 0;
            }
        }
        if (++ox == p->out_w) {
            ox = 0;
            ++oy;
        }
    }
}

#endif /* __aarch64__ && __ARM_NEON */
#endif /* AOT_CONV2D_NEON_IMPL_H */

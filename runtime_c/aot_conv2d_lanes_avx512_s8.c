/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "aot_conv2d_x86_impl.h"
#include "aot_requant_avx512_impl.h"

/*
 * int8 convolution, groups 1, output channels in lanes (targets/rules_x86.py,
 * conv_s8_lanes): bit-exact with aot_conv2d_s8 on AVX-512 VNNI.
 *
 * The input is copied once per call into a bordered buffer of u8 quads
 * [hp][ceil(in_c / 4)][wp] (x + 128, four input channels per int32, border = the
 * input zero point + 128), so a tap of a pixel is one quad at a fixed address:
 * stride and dilation are address arithmetic, and an axis with one tap (1x1,
 * 1xk, kx1) is subsampled while copying (sub_h, sub_w), its stride then 1; an
 * unpadded 1x1 convolution's (subsampled) plane is one row (lanes_strided_1x1). A tile
 * is P pixels of one output row times B blocks of 16 output channels: per
 * (ky, quad, kx) B weight vectors and P broadcast pixel quads feed P * B
 * vpdpbusd, P * B independent accumulators. (input_offset - 128) * sum(w) is in
 * the bias (table), so sum w * (x + 128) + it == bias + sum w * (x + input_offset).
 * The requantization runs with per-lane constants from the table (TFLite's
 * two roundings as one 64-bit floor division, aot_requant_avx512_impl.h's fast
 * form), four pixels' lanes narrow with two saturating packs and a 4x4 byte
 * transpose, and each channel's P pixels are stored as one row of the NCHW output.
 * One block of output channels at stride 1 puts pixels in lanes instead (px_pass),
 * from the same buffer and weights.
 */

/* Per block of 16 output channels, int32 words (lanes_table in targets/rules_x86.py). */
#define LT_BIAS 0
#define LT_M 16        /* multiplier of channel l in dword l (the even lanes' products) */
#define LT_M_ODD 32    /* multiplier of channel 2 i + 1 in dword 2 i */
#define LT_CP_EVEN 48  /* int64 [8]: rounding constants (output offset folded), P >= 0 */
#define LT_CN_EVEN 64  /* ... P < 0 */
#define LT_CP_ODD 80
#define LT_CN_ODD 96
#define LT_SH_EVEN 112 /* int64 [8]: 31 + r */
#define LT_SH_ODD 128  /* int64 [8]: r - 1 (the result left in the high dword) */
#define LT_WORDS 144   /* LANES_TABLE_WORDS in targets/rules_x86.py */

/* The widest pixel tile (tiles are 8 or 16 pixels of one output row). */
#define LP_MAX 16

typedef struct {
    int32_t kg;              /* quads per pixel: ceil(in_c / 4) */
    int32_t hp, wp;          /* buffer rows and columns */
    int32_t sub_h, sub_w;    /* input rows / columns per buffer row / column */
    int32_t sh, sw;          /* strides in the buffer */
} lanes_geom;

static void lanes_geom_init(lanes_geom *g, const aot_conv2d_s8_params *p)
{
    g->kg = (p->in_c + 3) / 4;
    g->sub_h = p->kernel_h == 1 ? p->stride_h : 1;
    g->sub_w = p->kernel_w == 1 ? p->stride_w : 1;
    g->sh = p->stride_h / g->sub_h;
    g->sw = p->stride_w / g->sub_w;
    g->hp = (p->out_h - 1) * g->sh + (p->kernel_h - 1) * p->dilation_h + 1;
    /* the columns the tiles read: round_up(out_w, 16) pixels (8 when out_w <= 8; tiles
     * of 8 never reach further), the pixels past out_w computed but not stored */
    g->wp = ((p->out_w <= 8 ? 8 : (p->out_w + LP_MAX - 1) / LP_MAX * LP_MAX) - 1) * g->sw +
            (p->kernel_w - 1) * p->dilation_w + 1;
}

/* n (up to 64) pixels src[0], src[step], ... of one channel row; step 1 or 2. */
AOT_X86_INLINE AOT_AVX512 __m512i load_row(const int8_t *src, const int step, int32_t n)
{
    if (step == 1) {
        const __mmask64 m = n >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << n) - 1u;
        return _mm512_maskz_loadu_epi8(m, src);
    }
    {   /* the even bytes of 2 n - 1, reading no byte past the last pixel */
        const int32_t bytes = 2 * n - 1;
        const __mmask64 m0 = bytes >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << bytes) - 1u;
        const __mmask64 m1 = bytes >= 128 ? ~(__mmask64)0
                             : bytes <= 64 ? 0 : ((__mmask64)1 << (bytes - 64)) - 1u;
        const __m256i lo = _mm512_cvtepi16_epi8(_mm512_maskz_loadu_epi8(m0, src));
        if (bytes <= 64) {   /* up to 32 pixels: one load */
            return _mm512_zextsi256_si512(lo);
        }
        return _mm512_inserti64x4(_mm512_castsi256_si512(lo),
                                  _mm512_cvtepi16_epi8(_mm512_maskz_loadu_epi8(m1, src + 64)), 1);
    }
}

/* c (1 to 64) pixels of nch (1 to 4) channel rows (channel stride `plane`, pixel step 1
 * or 2) as x + 128 quads, 16 in each of o[0..3]; the bytes of absent channels 0x80
 * (their weights are 0). */
AOT_X86_INLINE AOT_AVX512 void quads64(const int8_t *s, const int step, int32_t plane,
                                       int32_t c, int32_t nch, __m512i *o)
{
    const __m512i flip = _mm512_set1_epi8((char)0x80), zero = _mm512_setzero_si512();
    const __m512i a = load_row(s, step, c);
    const __m512i b = nch > 1 ? load_row(s + plane, step, c) : zero;
    const __m512i cc = nch > 2 ? load_row(s + 2 * plane, step, c) : zero;
    const __m512i d = nch > 3 ? load_row(s + 3 * plane, step, c) : zero;
    const __m512i ab0 = _mm512_unpacklo_epi8(a, b), ab1 = _mm512_unpackhi_epi8(a, b);
    const __m512i cd0 = _mm512_unpacklo_epi8(cc, d), cd1 = _mm512_unpackhi_epi8(cc, d);
    /* q_k, 128-bit lane L: pixels 16 L + 4 k .. 16 L + 4 k + 3 */
    const __m512i q0 = _mm512_unpacklo_epi16(ab0, cd0), q1 = _mm512_unpackhi_epi16(ab0, cd0);
    const __m512i q2 = _mm512_unpacklo_epi16(ab1, cd1), q3 = _mm512_unpackhi_epi16(ab1, cd1);
    const __m512i t0 = _mm512_shuffle_i32x4(q0, q1, 0x44), t1 = _mm512_shuffle_i32x4(q2, q3, 0x44);
    const __m512i t2 = _mm512_shuffle_i32x4(q0, q1, 0xEE), t3 = _mm512_shuffle_i32x4(q2, q3, 0xEE);
    o[0] = _mm512_xor_si512(_mm512_shuffle_i32x4(t0, t1, 0x88), flip);
    o[1] = _mm512_xor_si512(_mm512_shuffle_i32x4(t0, t1, 0xDD), flip);
    o[2] = _mm512_xor_si512(_mm512_shuffle_i32x4(t2, t3, 0x88), flip);
    o[3] = _mm512_xor_si512(_mm512_shuffle_i32x4(t2, t3, 0xDD), flip);
}

/* n (1 to 16) pixels of nch (1 to 4) channel rows (channel stride `plane`, pixel step
 * 1 or 2) as x + 128 quads, the bytes of absent channels 0x80: channel c's pixels in
 * 128-bit lane c, then a dword permute and a byte transpose in each lane -- a short row
 * without quads64's 64-pixel transpose. */
AOT_X86_INLINE AOT_AVX512 __m512i quads16(const int8_t *s, const int step, int32_t plane,
                                          int32_t n, int32_t nch)
{
    const __m512i idx = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    const __m512i tr = _mm512_set4_epi32(0x0F0B0703, 0x0E0A0602, 0x0D090501, 0x0C080400);
    __m512i v;
    if (step == 1) {
        const __mmask16 m = (__mmask16)((1u << n) - 1u);
        v = _mm512_castsi128_si512(_mm_maskz_loadu_epi8(m, s));
        v = _mm512_inserti32x4(v, _mm_maskz_loadu_epi8(nch > 1 ? m : 0, s + plane), 1);
        v = _mm512_inserti32x4(v, _mm_maskz_loadu_epi8(nch > 2 ? m : 0, s + 2 * plane), 2);
        v = _mm512_inserti32x4(v, _mm_maskz_loadu_epi8(nch > 3 ? m : 0, s + 3 * plane), 3);
    } else {   /* the even bytes of 2 n - 1: two channels per vpmovwb */
        const __mmask32 m = (__mmask32)((1u << (2 * n - 1)) - 1u);
        const __m512i ab = _mm512_inserti64x4(
            _mm512_castsi256_si512(_mm256_maskz_loadu_epi8(m, s)),
            _mm256_maskz_loadu_epi8(nch > 1 ? m : 0, s + plane), 1);
        const __m512i cd = _mm512_inserti64x4(
            _mm512_castsi256_si512(_mm256_maskz_loadu_epi8(nch > 2 ? m : 0, s + 2 * plane)),
            _mm256_maskz_loadu_epi8(nch > 3 ? m : 0, s + 3 * plane), 1);
        v = _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtepi16_epi8(ab)),
                               _mm512_cvtepi16_epi8(cd), 1);
    }
    /* lane L: dwords (pixels 4 L .. 4 L + 3) of channels 0..3, then byte 4 k + c from 4 c + k */
    v = _mm512_shuffle_epi8(_mm512_permutexvar_epi32(idx, v), tr);
    return _mm512_xor_si512(v, _mm512_set1_epi8((char)0x80));
}

/* n pixels of quads64's form at dst. */
AOT_X86_INLINE AOT_AVX512 void quads_run(int32_t *dst, const int8_t *src, const int step,
                                         int32_t plane, int32_t n, int32_t nch)
{
    int32_t i, k;
    for (i = 0; i < n; i += 64) {
        const int32_t c = n - i < 64 ? n - i : 64;
        __m512i o[4];
        quads64(src + step * i, step, plane, c, nch, o);
        AOT_X86_UNROLL   /* o[] in registers, not stored and reloaded */
        for (k = 0; k < 4; ++k) {
            const int32_t left = c - 16 * k;
            if (left >= 16) {
                _mm512_storeu_si512((void *)(dst + i + 16 * k), o[k]);
            } else if (left > 0) {
                _mm512_mask_storeu_epi32(dst + i + 16 * k, (__mmask16)((1u << left) - 1u), o[k]);
            }
        }
    }
}

AOT_X86_INLINE AOT_AVX512 void fill_quads(int32_t *dst, int32_t value, int32_t count)
{
    const __m512i v = _mm512_set1_epi32(value);
    int32_t i = 0;
    for (; i + 16 <= count; i += 16) {
        _mm512_storeu_si512((void *)(dst + i), v);
    }
    if (i < count) {
        _mm512_mask_storeu_epi32(dst + i, (__mmask16)((1u << (count - i)) - 1u), v);
    }
}

/*
 * The inside of the buffer when nothing is subsampled: each quad's channel planes are
 * interleaved 64 pixels at a time over the whole plane (not row by row: short rows
 * would leave most of each vector idle), and each vector's 16 quads go out as runs
 * cut at row ends (lanes moved down by a permute). Rows and columns the tiles never
 * read (past hp, past wp) are left out.
 */
static AOT_AVX512 void fill_flat(const aot_conv2d_s8_params *p, const lanes_geom *g,
                                 const int8_t *x, int32_t *buf, int32_t lo, int32_t cols)
{
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const int32_t in_w = p->in_w, in_plane = p->in_h * p->in_w, rstep = g->kg * g->wp;
    const int32_t rows = g->hp - p->pad_top < p->in_h ? g->hp - p->pad_top : p->in_h;
    const int32_t end = rows > 0 ? rows * in_w : 0;
    int32_t q, f0, k;
    for (q = 0; q < g->kg; ++q) {
        const int32_t nch = p->in_c - 4 * q < 4 ? p->in_c - 4 * q : 4;
        const int8_t *s = x + 4 * q * in_plane;
        int32_t *base = buf + p->pad_top * rstep + q * g->wp + lo;   /* input pixel (0, 0) */
        int32_t iy = 0, ix = 0;
        if (in_w % 16 == 0 && cols == in_w) {   /* every vector within one row */
            for (f0 = 0; f0 < end; f0 += 64) {
                __m512i o[4];
                quads64(s + f0, 1, in_plane, end - f0 < 64 ? end - f0 : 64, nch, o);
                AOT_X86_UNROLL
                for (k = 0; k < 4; ++k) {
                    if (f0 + 16 * k < end) {
                        _mm512_storeu_si512((void *)(base + ix), o[k]);
                        ix += 16;
                        if (ix == in_w) {
                            ix = 0;
                            base += rstep;
                        }
                    }
                }
            }
            continue;
        }
        if (16 % in_w == 0 && cols == in_w) {   /* whole rows in each vector */
            const __mmask16 row = (__mmask16)((1u << in_w) - 1u);
            for (f0 = 0; f0 < end; f0 += 64) {
                __m512i o[4];
                quads64(s + f0, 1, in_plane, end - f0 < 64 ? end - f0 : 64, nch, o);
                AOT_X86_UNROLL
                for (k = 0; k < 4; ++k) {
                    int32_t j;
                    for (j = 0; j < 16 && f0 + 16 * k + j < end; j += in_w) {
                        /* lanes j .. j + in_w - 1 at the row's start (j rows on: no
                         * address before the buffer) */
                        _mm512_mask_storeu_epi32(base - j, (__mmask16)(row << j), o[k]);
                        base += rstep;
                    }
                }
            }
            continue;
        }
        for (f0 = 0; f0 < end; f0 += 64) {
            const int32_t c = end - f0 < 64 ? end - f0 : 64;
            __m512i o[4];
            quads64(s + f0, 1, in_plane, c, nch, o);
            AOT_X86_UNROLL
            for (k = 0; k < 4; ++k) {
                const int32_t lanes = c - 16 * k < 16 ? c - 16 * k : 16;
                int32_t lane = 0;
                if (lanes == 16 && ix + 16 <= in_w && ix + 16 <= cols) {   /* one row's */
                    _mm512_storeu_si512((void *)(base + iy * rstep + ix), o[k]);
                    lane = 16;
                    ix += 16;
                    if (ix == in_w) {
                        ix = 0;
                        ++iy;
                    }
                }
                while (lane < lanes) {
                    const int32_t seg = lanes - lane < in_w - ix ? lanes - lane : in_w - ix;
                    if (ix < cols) {
                        const int32_t kept = seg < cols - ix ? seg : cols - ix;
                        const __m512i v = lane == 0 ? o[k]
                            : _mm512_permutexvar_epi32(_mm512_add_epi32(iota, _mm512_set1_epi32(lane)), o[k]);
                        _mm512_mask_storeu_epi32(base + iy * rstep + ix,
                                                 (__mmask16)((1u << kept) - 1u), v);
                    }
                    lane += seg;
                    ix += seg;
                    if (ix == in_w) {
                        ix = 0;
                        ++iy;
                    }
                }
            }
        }
    }
}

/* The bordered quad buffer of one image. */
static AOT_AVX512 void fill_buffer(const aot_conv2d_s8_params *p, const lanes_geom *g,
                                   const int8_t *x, int32_t *buf)
{
    const int32_t pad = (int32_t)((uint8_t)(128 - p->input_offset) * 0x01010101u);
    const int32_t in_plane = p->in_h * p->in_w, rstep = g->kg * g->wp;
    const int32_t lo_raw = (p->pad_left + g->sub_w - 1) / g->sub_w;
    const int32_t hi_raw = (p->in_w + p->pad_left + g->sub_w - 1) / g->sub_w;
    const int32_t lo = lo_raw < g->wp ? lo_raw : g->wp;
    const int32_t hi = hi_raw < g->wp ? hi_raw : g->wp;
    const int flat = g->sub_h == 1 && g->sub_w == 1;
    int32_t br, q, i, c;
    /* all pad, then the inside over it (whole vectors, no per-row edges) */
    fill_quads(buf, pad, g->hp * rstep);
    if (hi <= lo) {
        return;
    }
    if (flat) {
        fill_flat(p, g, x, buf, lo, hi - lo);
        return;
    }
    for (br = 0; br < g->hp; ++br) {
        const int32_t iy = br * g->sub_h - p->pad_top;
        int32_t *row = buf + br * rstep;
        if (iy < 0 || iy >= p->in_h) {
            continue;
        }
        for (q = 0; q < g->kg; ++q) {
            int32_t *d = row + q * g->wp;
            const int32_t nch = p->in_c - 4 * q < 4 ? p->in_c - 4 * q : 4;
            const int8_t *s = x + 4 * q * in_plane + iy * p->in_w + lo * g->sub_w - p->pad_left;
            if (hi - lo <= 16 && g->sub_w <= 2) {
                _mm512_mask_storeu_epi32(d + lo, (__mmask16)((1u << (hi - lo)) - 1u),
                                         g->sub_w == 1 ? quads16(s, 1, in_plane, hi - lo, nch)
                                                       : quads16(s, 2, in_plane, hi - lo, nch));
            } else if (g->sub_w == 1) {
                quads_run(d + lo, s, 1, in_plane, hi - lo, nch);
            } else if (g->sub_w == 2) {
                quads_run(d + lo, s, 2, in_plane, hi - lo, nch);
            } else {   /* a wider subsampling step: byte by byte */
                uint8_t *b = (uint8_t *)(void *)(d + lo);
                for (i = 0; i < hi - lo; ++i) {
                    for (c = 0; c < 4; ++c) {
                        b[4 * i + c] = c < nch
                            ? (uint8_t)((uint8_t)s[c * in_plane + i * g->sub_w] ^ 0x80u)
                            : (uint8_t)0x80u;
                    }
                }
            }
        }
    }
}

/*
 * A 1x1 convolution of stride above 1, unpadded, every output pixel inside the input
 * (lanes_strided_1x1): the buffer holds the subsampled plane as one row, each output
 * row's pixels read straight from their input row -- tiles of 16 pixels then span
 * output rows, and the stores are whole vectors.
 */
static int lanes_strided_1x1(const aot_conv2d_s8_params *p)
{
    return p->kernel_h == 1 && p->kernel_w == 1 && (p->stride_h > 1 || p->stride_w > 1) &&
           p->pad_top == 0 && p->pad_left == 0 && (p->out_h - 1) * p->stride_h < p->in_h &&
           (p->out_w - 1) * p->stride_w < p->in_w;
}

/* That buffer: g the flat geometry, sp the layer's parameters. */
static AOT_AVX512 void fill_strided_1x1(const aot_conv2d_s8_params *sp, const lanes_geom *g,
                                        const int8_t *x, int32_t *buf)
{
    const int32_t pad = (int32_t)((uint8_t)(128 - sp->input_offset) * 0x01010101u);
    const int32_t in_plane = sp->in_h * sp->in_w, out_w = sp->out_w;
    const int32_t plane = sp->out_h * out_w, sw = sp->stride_w;
    int32_t q, oy, i, c;
    for (q = 0; q < g->kg; ++q) {
        const int32_t nch = sp->in_c - 4 * q < 4 ? sp->in_c - 4 * q : 4;
        int32_t *d = buf + q * g->wp;
        fill_quads(d + plane, pad, g->wp - plane);   /* read by the last tile, not stored */
        for (oy = 0; oy < sp->out_h; ++oy, d += out_w) {
            const int8_t *s = x + 4 * q * in_plane + oy * sp->stride_h * sp->in_w;
            if (out_w <= 16 && sw <= 2) {
                _mm512_mask_storeu_epi32(d, (__mmask16)((1u << out_w) - 1u),
                                         sw == 1 ? quads16(s, 1, in_plane, out_w, nch)
                                                 : quads16(s, 2, in_plane, out_w, nch));
            } else if (sw == 1) {
                quads_run(d, s, 1, in_plane, out_w, nch);
            } else if (sw == 2) {
                quads_run(d, s, 2, in_plane, out_w, nch);
            } else {
                uint8_t *b = (uint8_t *)(void *)d;
                for (i = 0; i < out_w; ++i) {
                    for (c = 0; c < 4; ++c) {
                        b[4 * i + c] = c < nch
                            ? (uint8_t)((uint8_t)s[c * in_plane + i * sw] ^ 0x80u)
                            : (uint8_t)0x80u;
                    }
                }
            }
        }
    }
}

/* The sums of one tile: P pixels (buffer columns src[0], src[s], ... with s = sw, or
 * sw_rt when sw is 0) x B blocks of 16 output channels (weights w, w + wblock). */
AOT_X86_INLINE AOT_AVX512 void tile_sums(const int P, const int B, const int sw, int32_t sw_rt,
                                         const int32_t *src, const lanes_geom *g,
                                         int32_t kh, int32_t kw, int32_t dh, int32_t dw,
                                         const int32_t *w, int32_t wblock,
                                         __m512i (*acc)[LP_MAX])
{
    const int32_t s = sw ? sw : sw_rt, rstep = g->kg * g->wp, kg = g->kg, wp = g->wp;
    int32_t ky, q, kx, b, j;
    AOT_X86_UNROLL
    for (b = 0; b < B; ++b) {
        AOT_X86_UNROLL
        for (j = 0; j < P; ++j) {
            acc[b][j] = _mm512_setzero_si512();
        }
    }
    for (ky = 0; ky < kh; ++ky) {
        const int32_t *row = src + ky * dh * rstep;
        for (q = 0; q < kg; ++q) {
            const int32_t *qp = row + q * wp;
            for (kx = 0; kx < kw; ++kx) {
                __m512i wv[2];
                AOT_X86_UNROLL
                for (b = 0; b < B; ++b) {
                    wv[b] = _mm512_loadu_si512((const void *)(w + b * wblock));
                }
                AOT_X86_UNROLL
                for (j = 0; j < P; ++j) {
                    const __m512i px = _mm512_set1_epi32(qp[j * s]);
                    AOT_X86_UNROLL
                    for (b = 0; b < B; ++b) {
                        acc[b][j] = _mm512_dpbusd_epi32(acc[b][j], px, wv[b]);
                    }
                }
                w += 16;
                qp += dw;
            }
        }
    }
}

/* The sums of P pixels (one block of 16 channels, table t) requantized and stored as
 * the channels' rows y + ch * plane, kept pixels each, channels below nch. `floor0`
 * (see positive_form) drops the rounding constants' choice by sign. */
AOT_X86_INLINE AOT_AVX512 void store_block(const int P, const __m512i *acc, const int32_t *t,
                                           const __m512i lo8, const __m512i hi8, int clamp_lo,
                                           int clamp_hi, int floor0, int8_t *y, int32_t plane,
                                           int32_t nch, int32_t kept)
{
    const __m512i bias = _mm512_loadu_si512((const void *)(t + LT_BIAS));
    const __m512i m = _mm512_loadu_si512((const void *)(t + LT_M));
    const __m512i mo = _mm512_loadu_si512((const void *)(t + LT_M_ODD));
    const __m512i cpe = _mm512_loadu_si512((const void *)(t + LT_CP_EVEN));
    const __m512i cne = _mm512_loadu_si512((const void *)(t + LT_CN_EVEN));
    const __m512i cpo = _mm512_loadu_si512((const void *)(t + LT_CP_ODD));
    const __m512i cno = _mm512_loadu_si512((const void *)(t + LT_CN_ODD));
    const __m512i she = _mm512_loadu_si512((const void *)(t + LT_SH_EVEN));
    const __m512i sho = _mm512_loadu_si512((const void *)(t + LT_SH_ODD));
    /* in each 128-bit lane: byte 4 c + j from byte 4 j + c (a 4x4 transpose) */
    const __m512i tr = _mm512_set4_epi32(0x0F0B0703, 0x0E0A0602, 0x0D090501, 0x0C080400);
    const __mmask16 keep = (__mmask16)((1u << kept) - 1u);
    __m512i r[LP_MAX], z[4], t0, t1, t2, t3, rows[4];
    int32_t j, k, l;
    AOT_X86_UNROLL
    for (j = 0; j < LP_MAX; ++j) {
        if (j < P) {
            const __m512i x = _mm512_add_epi32(acc[j], bias);
            __m512i ev = _mm512_mul_epi32(x, m);
            __m512i od = _mm512_mul_epi32(_mm512_srli_epi64(x, 32), mo);
            if (floor0) {
                ev = _mm512_add_epi64(ev, cpe);
                od = _mm512_add_epi64(od, cpo);
            } else {
                ev = _mm512_add_epi64(ev, _mm512_mask_blend_epi64(_mm512_movepi64_mask(ev), cpe, cne));
                od = _mm512_add_epi64(od, _mm512_mask_blend_epi64(_mm512_movepi64_mask(od), cpo, cno));
            }
            r[j] = _mm512_mask_blend_epi32((__mmask16)0xAAAA, _mm512_srav_epi64(ev, she),
                                           _mm512_srav_epi64(od, sho));
        } else {
            r[j] = _mm512_setzero_si512();
        }
    }
    AOT_X86_UNROLL
    for (k = 0; k < 4; ++k) {
        if (4 * k < P) {   /* lane L: pixels 4 k .. 4 k + 3 of channels 4 L .. 4 L + 3 */
            __m512i v = _mm512_packs_epi16(_mm512_packs_epi32(r[4 * k], r[4 * k + 1]),
                                           _mm512_packs_epi32(r[4 * k + 2], r[4 * k + 3]));
            if (clamp_lo) {
                v = _mm512_max_epi8(v, lo8);
            }
            if (clamp_hi) {
                v = _mm512_min_epi8(v, hi8);
            }
            z[k] = _mm512_shuffle_epi8(v, tr);   /* dword c: channel 4 L + c, 4 pixels */
        } else {
            z[k] = _mm512_setzero_si512();
        }
    }
    t0 = _mm512_unpacklo_epi32(z[0], z[1]);
    t1 = _mm512_unpackhi_epi32(z[0], z[1]);
    t2 = _mm512_unpacklo_epi32(z[2], z[3]);
    t3 = _mm512_unpackhi_epi32(z[2], z[3]);
    rows[0] = _mm512_unpacklo_epi64(t0, t2);   /* lane L: channel 4 L + c, pixels 0..15 */
    rows[1] = _mm512_unpackhi_epi64(t0, t2);
    rows[2] = _mm512_unpacklo_epi64(t1, t3);
    rows[3] = _mm512_unpackhi_epi64(t1, t3);
    AOT_X86_UNROLL
    for (l = 0; l < 4; ++l) {
        AOT_X86_UNROLL
        for (k = 0; k < 4; ++k) {
            const int32_t ch = 4 * l + k;
            __m128i v;
            if (ch >= nch) {
                continue;
            }
            v = l == 0 ? _mm512_castsi512_si128(rows[k]) : l == 1 ? _mm512_extracti32x4_epi32(rows[k], 1)
                : l == 2 ? _mm512_extracti32x4_epi32(rows[k], 2)
                : _mm512_extracti32x4_epi32(rows[k], 3);
            if (kept == 16) {
                _mm_storeu_si128((__m128i *)(void *)(y + ch * plane), v);
            } else {
                _mm_mask_storeu_epi8(y + ch * plane, keep, v);
            }
        }
    }
}

/*
 * A clamp at or above the output zero point (a fused ReLU) with every multiplier 0 or
 * at least 2^30 (TFLite's are): a negative sum x then gives x * m <= -2^30, so
 * floor((x * m + 2^30 + 2^(30 + r)) / 2^(31 + r)) <= 0 with the P >= 0 constant too --
 * at most the zero point, as the exact result, and both clamp to act_min. The
 * constant's choice by the product's sign can go.
 */
static int positive_form(const aot_conv2d_s8_params *p)
{
    int32_t i;
    if (p->act_min < p->output_offset) {
        return 0;
    }
    for (i = 0; i < p->out_c; ++i) {
        if (p->multipliers[i] != 0 && p->multipliers[i] < (1 << 30)) {
            return 0;
        }
    }
    return 1;
}

/* Blocks ob .. ob + B - 1 of every output row of one image. */
AOT_X86_INLINE AOT_AVX512 void blocks_pass(const int P, const int B, const int sw,
                                           const aot_conv2d_s8_params *p, const lanes_geom *g,
                                           const int32_t *buf, const int32_t *weights,
                                           const int32_t *table, int32_t ob, int8_t *y)
{
    const int32_t kq = p->kernel_h * g->kg * p->kernel_w, wblock = 16 * kq;
    const int32_t plane = p->out_h * p->out_w, out_w = p->out_w, out_h = p->out_h;
    const int32_t rstep = g->kg * g->wp, sh = g->sh, sw_rt = g->sw;
    const int32_t kh = p->kernel_h, kw = p->kernel_w, dh = p->dilation_h, dw = p->dilation_w;
    const __m512i lo8 = _mm512_set1_epi8((char)p->act_min), hi8 = _mm512_set1_epi8((char)p->act_max);
    const int clamp_lo = p->act_min > -128, clamp_hi = p->act_max < 127;
    const int floor0 = positive_form(p);
    const int32_t *w = weights + ob * wblock;
    int32_t oy, x0, b;
    for (oy = 0; oy < out_h; ++oy) {
        for (x0 = 0; x0 < out_w; x0 += P) {
            const int32_t kept = out_w - x0 < P ? out_w - x0 : P;
            __m512i acc[2][LP_MAX];
            tile_sums(P, B, sw, sw_rt, buf + oy * sh * rstep + x0 * sw_rt, g, kh, kw, dh, dw,
                      w, wblock, acc);
            AOT_X86_UNROLL
            for (b = 0; b < B; ++b) {
                const int32_t oc = 16 * (ob + b);
                const int32_t nch = p->out_c - oc < 16 ? p->out_c - oc : 16;
                if (floor0) {   /* one loop each: the flag a constant inside */
                    store_block(P, acc[b], table + (ob + b) * LT_WORDS, lo8, hi8, clamp_lo,
                                clamp_hi, 1, y + oc * plane + oy * out_w + x0, plane, nch, kept);
                    continue;
                }
                store_block(P, acc[b], table + (ob + b) * LT_WORDS, lo8, hi8, clamp_lo,
                            clamp_hi, 0, y + oc * plane + oy * out_w + x0, plane, nch, kept);
            }
        }
    }
}

#define AOT_LANES_PASS(P, B, SW) \
    static __attribute__((noinline)) AOT_AVX512 void pass_##P##_##B##_##SW( \
        const aot_conv2d_s8_params *p, const lanes_geom *g, const int32_t *buf, \
        const int32_t *weights, const int32_t *table, int32_t ob, int8_t *y) \
    { \
        blocks_pass(P, B, SW, p, g, buf, weights, table, ob, y); \
    }
AOT_LANES_PASS(16, 1, 1) AOT_LANES_PASS(16, 1, 2) AOT_LANES_PASS(16, 1, 0)
AOT_LANES_PASS(8, 1, 1) AOT_LANES_PASS(8, 1, 2) AOT_LANES_PASS(8, 1, 0)
AOT_LANES_PASS(8, 2, 1) AOT_LANES_PASS(8, 2, 2) AOT_LANES_PASS(8, 2, 0)
#undef AOT_LANES_PASS

/*
 * Pixels in lanes instead, from the same buffer (stride 1 in it; few output channels,
 * px_preferred): PX_MR output channels x NV (1 or 2) vectors of 16 pixels of one output
 * row, per (ky, quad, kx) NV vector loads and PX_MR weight quads broadcast (from the
 * lanes weights: a channel's quad is one lane) -- fewer loads per vpdpbusd than 16
 * broadcast pixels against one weight vector, and each vector requantizes with its
 * channel's constants into 16 contiguous output bytes: no transpose.
 */
#define PX_MR 8

AOT_X86_INLINE AOT_AVX512 void px_sums(const int NV, const int32_t *src, const lanes_geom *g,
                                       int32_t kh, int32_t kw, int32_t dh, int32_t dw,
                                       const int32_t *w, const int32_t *bias,
                                       __m512i (*acc)[2])
{
    const int32_t rstep = g->kg * g->wp, kg = g->kg, wp = g->wp;
    int32_t ky, q, kx, r, v;
    AOT_X86_UNROLL
    for (r = 0; r < PX_MR; ++r) {
        AOT_X86_UNROLL
        for (v = 0; v < NV; ++v) {
            acc[r][v] = _mm512_set1_epi32(bias[r]);   /* no add per vector after */
        }
    }
    for (ky = 0; ky < kh; ++ky) {
        const int32_t *row = src + ky * dh * rstep;
        for (q = 0; q < kg; ++q) {
            const int32_t *qp = row + q * wp;
            for (kx = 0; kx < kw; ++kx) {
                __m512i b[2];
                AOT_X86_UNROLL
                for (v = 0; v < NV; ++v) {
                    b[v] = _mm512_loadu_si512((const void *)(qp + 16 * v));
                }
                AOT_X86_UNROLL
                for (r = 0; r < PX_MR; ++r) {
                    const __m512i wv = _mm512_set1_epi32(w[r]);
                    AOT_X86_UNROLL
                    for (v = 0; v < NV; ++v) {
                        acc[r][v] = _mm512_dpbusd_epi32(acc[r][v], b[v], wv);
                    }
                }
                w += 16;
                qp += dw;
            }
        }
    }
}

/* The requantized sums of one channel (constants q), output offset included, int32. */
AOT_X86_INLINE AOT_AVX512 __m512i px_rq(const int form, __m512i x,
                                        const aot_rq_avx512_consts *q)
{
    __m512i ev = _mm512_mul_epi32(x, q->m);
    __m512i od = _mm512_mul_epi32(_mm512_srli_epi64(x, 32), q->m);
    if (form) {   /* positive_form */
        ev = _mm512_add_epi64(ev, q->c_pos);
        od = _mm512_add_epi64(od, q->c_pos);
    } else {
        ev = _mm512_add_epi64(ev, _mm512_mask_blend_epi64(_mm512_movepi64_mask(ev), q->c_pos,
                                                          q->c_neg));
        od = _mm512_add_epi64(od, _mm512_mask_blend_epi64(_mm512_movepi64_mask(od), q->c_pos,
                                                          q->c_neg));
    }
    return _mm512_mask_blend_epi32((__mmask16)0xAAAA, _mm512_sra_epi64(ev, q->right),
                                   _mm512_sra_epi64(od, q->right_odd));
}

/*
 * A whole tile of 32 pixels (two vectors per channel), two channels at a time: their
 * four vectors narrow with three saturating packs (int32 -> int16 -> int8 saturates as
 * int32 -> int8 does) and one dword permute into the two channels' 32-byte rows -- fewer
 * operations than a vpmovsdb and a clamp per vector (measured on VWW's 1x1 8 -> 16,
 * whose time is mostly requantization; positive_form only: slower in the other form on
 * IC's 3x3 16 -> 16).
 */
AOT_X86_INLINE AOT_AVX512 void px_store_32(const int form, __m512i (*acc)[2],
                                           const aot_rq_avx512_consts *rq, int clamp_lo,
                                           int clamp_hi, int32_t nch, int8_t *y,
                                           int32_t plane)
{
    /* after the packs, 128-bit lane L holds pixels 4 L .. 4 L + 3 of a0, a1, b0, b1 */
    const __m512i idx = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    const __m512i lo = _mm512_broadcast_i32x4(rq[0].lo), hi = _mm512_broadcast_i32x4(rq[0].hi);
    int32_t r;
    AOT_X86_UNROLL
    for (r = 0; r < PX_MR; r += 2) {
        __m512i a, b, v;
        if (r >= nch) {
            break;
        }
        a = _mm512_packs_epi32(px_rq(form, acc[r][0], &rq[r]), px_rq(form, acc[r][1], &rq[r]));
        b = _mm512_packs_epi32(px_rq(form, acc[r + 1][0], &rq[r + 1]),
                               px_rq(form, acc[r + 1][1], &rq[r + 1]));
        v = _mm512_permutexvar_epi32(idx, _mm512_packs_epi16(a, b));
        if (clamp_lo) {
            v = _mm512_max_epi8(v, lo);
        }
        if (clamp_hi) {
            v = _mm512_min_epi8(v, hi);
        }
        _mm256_storeu_si256((__m256i *)(void *)(y + r * plane), _mm512_castsi512_si256(v));
        if (r + 1 < nch) {
            _mm256_storeu_si256((__m256i *)(void *)(y + (r + 1) * plane),
                                _mm512_extracti64x4_epi64(v, 1));
        }
    }
}

/* One tile's requantized rows: channel r at y + r * plane, `kept` pixels from x0. */
AOT_X86_INLINE AOT_AVX512 void px_store(const int NV, const int form, __m512i (*acc)[2],
                                        const aot_rq_avx512_consts *rq,
                                        int clamp_lo, int clamp_hi, int32_t nch, int8_t *y,
                                        int32_t plane, int32_t kept)
{
    int32_t r, v;
    AOT_X86_UNROLL
    for (r = 0; r < PX_MR; ++r) {
        if (r >= nch) {
            break;
        }
        AOT_X86_UNROLL
        for (v = 0; v < NV; ++v) {
            const int32_t n = kept - 16 * v < 16 ? kept - 16 * v : 16;
            __m128i o = _mm512_cvtsepi32_epi8(px_rq(form, acc[r][v], &rq[r]));
            if (clamp_lo) {
                o = _mm_max_epi8(o, rq[r].lo);
            }
            if (clamp_hi) {
                o = _mm_min_epi8(o, rq[r].hi);
            }
            if (n >= 16) {
                _mm_storeu_si128((__m128i *)(void *)(y + r * plane + 16 * v), o);
            } else if (n > 0) {
                _mm_mask_storeu_epi8(y + r * plane + 16 * v, (__mmask16)((1u << n) - 1u), o);
            }
        }
    }
}

/* Output channels oc0 .. oc0 + PX_MR - 1 (below out_c) of every output row. */
AOT_X86_INLINE AOT_AVX512 void px_pass(const int form, const aot_conv2d_s8_params *p,
                                       const lanes_geom *g, const int32_t *buf,
                                       const int32_t *weights, const int32_t *table,
                                       int32_t oc0, int8_t *y)
{
    const int32_t kq = p->kernel_h * g->kg * p->kernel_w, rstep = g->kg * g->wp;
    const int32_t plane = p->out_h * p->out_w, out_w = p->out_w, out_h = p->out_h;
    const int32_t span = (out_w + 15) / 16 * 16, nch = p->out_c - oc0 < PX_MR ? p->out_c - oc0
                                                                              : PX_MR;
    const int clamp_lo = p->act_min > -128, clamp_hi = p->act_max < 127;
    const int32_t *w = weights + (oc0 / 16) * 16 * kq + oc0 % 16;
    const int32_t *bias = table + (oc0 / 16) * LT_WORDS + LT_BIAS + oc0 % 16;
    aot_rq_avx512_consts rq[PX_MR];
    int32_t r, oy, x0;
    for (r = 0; r < PX_MR; ++r) {   /* channels past out_c: never stored */
        const int32_t oc = oc0 + r < p->out_c ? oc0 + r : oc0;
        aot_rq_avx512_init(&rq[r], p->multipliers[oc], p->shifts[oc], p->output_offset,
                           p->act_min, p->act_max);
    }
    for (oy = 0; oy < out_h; ++oy) {
        const int32_t *src = buf + oy * g->sh * rstep;
        int8_t *yr = y + oc0 * plane + oy * out_w;
        for (x0 = 0; x0 < out_w;) {
            __m512i acc[PX_MR][2];
            const int32_t kept = out_w - x0;
            if (x0 + 32 <= span) {
                px_sums(2, src + x0, g, p->kernel_h, p->kernel_w, p->dilation_h,
                        p->dilation_w, w, bias, acc);
                if (form && kept >= 32) {   /* measured slower in the other form */
                    px_store_32(form, acc, rq, clamp_lo, clamp_hi, nch, yr + x0, plane);
                } else {
                    px_store(2, form, acc, rq, clamp_lo, clamp_hi, nch, yr + x0, plane,
                             kept < 32 ? kept : 32);
                }
                x0 += 32;
            } else {
                px_sums(1, src + x0, g, p->kernel_h, p->kernel_w, p->dilation_h,
                        p->dilation_w, w, bias, acc);
                px_store(1, form, acc, rq, clamp_lo, clamp_hi, nch, yr + x0, plane,
                         kept < 16 ? kept : 16);
                x0 += 16;
            }
        }
    }
}

static __attribute__((noinline)) AOT_AVX512 void px_pass_0(
    const aot_conv2d_s8_params *p, const lanes_geom *g, const int32_t *buf,
    const int32_t *weights, const int32_t *table, int32_t oc0, int8_t *y)
{
    px_pass(0, p, g, buf, weights, table, oc0, y);
}

static __attribute__((noinline)) AOT_AVX512 void px_pass_1(
    const aot_conv2d_s8_params *p, const lanes_geom *g, const int32_t *buf,
    const int32_t *weights, const int32_t *table, int32_t oc0, int8_t *y)
{
    px_pass(1, p, g, buf, weights, table, oc0, y);
}

typedef void (*lanes_pass_fn)(const aot_conv2d_s8_params *, const lanes_geom *,
                              const int32_t *, const int32_t *, const int32_t *, int32_t,
                              int8_t *);

AOT_AVX512 void aot_conv2d_lanes_avx512_s8(const aot_conv2d_s8_params *params,
                                           const int8_t *input, const int32_t *weights,
                                           const int32_t *table, int8_t *output, void *scratch)
{
    const aot_conv2d_s8_params *p = params;
    const int32_t blocks = (p->out_c + 15) / 16, in_size = p->in_c * p->in_h * p->in_w;
    const int32_t out_size = p->out_c * p->out_h * p->out_w;
    int32_t *buf = (int32_t *)scratch;
    const int strided = lanes_strided_1x1(p);
    aot_conv2d_s8_params flat;
    lanes_geom g;
    lanes_pass_fn one, two;
    int pairs;
    int32_t n, ob;
    if (strided || (p->kernel_h == 1 && p->kernel_w == 1 && p->stride_h == 1 &&
                    p->stride_w == 1 && p->pad_top == 0 && p->pad_left == 0 &&
                    p->out_h == p->in_h && p->out_w == p->in_w)) {
        /* 1x1, unpadded: the (subsampled) plane as one row, so no tile straddles short
         * rows */
        flat = *p;
        flat.in_w = flat.out_w = p->out_h * p->out_w;
        flat.in_h = flat.out_h = 1;
        flat.stride_h = flat.stride_w = 1;
        p = &flat;
    }
    lanes_geom_init(&g, p);
    if ((p->out_w + 7) / 8 * 8 < (p->out_w + 15) / 16 * 16) {   /* fewer pixels computed */
        one = g.sw == 1 ? pass_8_1_1 : g.sw == 2 ? pass_8_1_2 : pass_8_1_0;
    } else {
        one = g.sw == 1 ? pass_16_1_1 : g.sw == 2 ? pass_16_1_2 : pass_16_1_0;
    }
    two = g.sw == 1 ? pass_8_2_1 : g.sw == 2 ? pass_8_2_2 : pass_8_2_0;
    /* few taps: the sums are short and the stores dominate -- 16-pixel rows do half
     * the store and transpose work of two 8-pixel tiles (measured on 1x1 stride 2) */
    pairs = p->kernel_h * p->kernel_w > 1 || one == pass_8_1_1 || one == pass_8_1_2 ||
            one == pass_8_1_0;
    /* one block, stride 1, rows mostly of 32-pixel tiles (a 16-pixel tile has only
     * PX_MR accumulators: measured slower than the lanes tiles) */
    if (g.sw == 1 && blocks == 1 && p->out_w >= 32 &&
        ((p->out_w + 15) / 16 % 2 == 0 || p->out_w >= 128)) {
        const int form = positive_form(p);
        for (n = 0; n < p->batch; ++n) {
            int8_t *y = output + n * out_size;
            if (strided) {
                fill_strided_1x1(params, &g, input + n * in_size, buf);
            } else {
                fill_buffer(p, &g, input + n * in_size, buf);
            }
            for (ob = 0; ob < p->out_c; ob += PX_MR) {
                (form ? px_pass_1 : px_pass_0)(p, &g, buf, weights, table, ob, y);
            }
        }
        return;
    }
    for (n = 0; n < p->batch; ++n) {
        int8_t *y = output + n * out_size;
        if (strided) {
            fill_strided_1x1(params, &g, input + n * in_size, buf);
        } else {
            fill_buffer(p, &g, input + n * in_size, buf);
        }
        for (ob = 0; pairs && ob + 2 <= blocks; ob += 2) {
            two(p, &g, buf, weights, table, ob, y);
        }
        for (; ob < blocks; ++ob) {
            one(p, &g, buf, weights, table, ob, y);
        }
    }
}
#else
typedef int aot_conv2d_lanes_avx512_s8_needs_x86;
#endif

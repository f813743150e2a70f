/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to the runtime: what the x86 (AVX2 / AVX-512) kernels share. Ship
 * it with aot_*_avx2_* / aot_*_avx512_*. Include it only on x86, after
 * <immintrin.h> (a compiler header, not libc): each such kernel file is
 * empty on other CPUs, so the whole runtime still builds everywhere.
 *
 * Phase planes. An NCHW convolution of any stride, dilation and padding
 * becomes a matrix product with contiguous operand rows once each input
 * channel is copied, padded, into stride_h * stride_w "phase planes": padded
 * position (r, c) goes to phase (r % stride_h, c % stride_w), element
 * (r / stride_h) * lw + c / stride_w. Output pixel (oy, ox) is then computed
 * at virtual index p = oy * lw + ox, and tap (ky, kx) reads element
 * p + tap_offset(ky, kx) of one phase plane, for every pixel alike -- so a
 * vector of consecutive p is one unaligned load per tap. Virtual pixels with
 * ox >= out_w (lw - out_w per row, at most (kernel_w - 1) * dilation_w /
 * stride_w) are computed and dropped. A 1x1, stride 1, unpadded convolution
 * has lw == out_w: nothing is dropped.
 *
 * The lowering rule (targets/rules_x86.py, `phase_scratch`) computes the
 * same sizes to reserve scratch: keep the two in step.
 */
#ifndef AOT_CONV2D_X86_IMPL_H
#define AOT_CONV2D_X86_IMPL_H

#include "aot_fixedpoint.h"
#include "aot_kernels.h"

/* Compiled for these ISAs whatever -march says, so the runtime builds under
 * any x86 flags; the lowering rule runs them only on targets that have them. */
#define AOT_AVX2 __attribute__((target("avx2,fma")))
#define AOT_AVX512 \
    __attribute__((target("avx2,fma,avx512f,avx512bw,avx512dq,avx512vl,avx512vnni")))
#define AOT_X86_INLINE static inline __attribute__((always_inline))
/* Full unrolling of the loops over a tile's rows, so the accumulators live in
 * registers (gcc -O2 does not peel them by itself). gcc and clang both read it. */
#define AOT_X86_UNROLL _Pragma("GCC unroll 16")
/* Around a gather / scatter: without optimization gcc's <immintrin.h> makes those
 * intrinsics macros that cast the (unsigned) __mmask16 to their builtin's signed
 * short, which -Wsign-conversion would flag in our code. */
#define AOT_X86_GATHER_BEGIN \
    _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wsign-conversion\"")
#define AOT_X86_GATHER_END _Pragma("GCC diagnostic pop")
/* The lowering rule keeps stride_w at most this (row runs per input row). */
#define AOT_X86_MAX_STRIDE 16

typedef struct {
    int32_t taps;        /* kernel_h * kernel_w */
    int32_t lw;          /* elements per phase row */
    int32_t rr;          /* rows per phase plane */
    int32_t nv;          /* virtual output pixels: out_h * lw */
    int32_t ps;          /* elements per phase plane (with read slack) */
    int32_t cs;          /* elements per channel (group): stride_h * stride_w * ps */
    int32_t rows, cols;  /* padded rows / columns kept: stride_h * rr, stride_w * lw */
} aot_x86_geom;

/* One float matrix product for the AVX2 and AVX-512 GEMM drivers
 * (aot_gemm_avx2_f32_impl.h, aot_gemm_avx512_f32_impl.h). */
typedef struct {
    int32_t m, nv;
    const float *a;
    int32_t a_rs, a_ks;
    const float *b;
    int32_t kgroups, taps, cs;
    const int32_t *offs;
    float *y;
    int32_t y_rs;              /* elements between output rows */
    const aot_x86_geom *geom;  /* non-NULL: scatter virtual pixels (conv with lw > out_w) */
    int32_t out_w;
    const float *bias;         /* NULL: none */
    int32_t bias_rs, bias_cs;
    float alpha, beta;
    const aot_act_f32 *act;
} aot_x86_gemm_f32;

/* The product of one aot_matmul_f32 batch; the caller sets a, b and y per batch. */
AOT_X86_INLINE void aot_x86_gemm_from_matmul(aot_x86_gemm_f32 *g, const aot_matmul_params *p,
                                             const int32_t *offs, const float *bias)
{
    g->m = p->m;
    g->nv = p->n;
    g->a_rs = p->a_row_stride;
    g->a_ks = p->a_k_stride;
    g->kgroups = p->k;
    g->taps = 1;
    g->cs = p->b_k_stride;
    g->offs = offs;
    g->y_rs = p->n;
    g->geom = NULL;
    g->out_w = p->n;
    g->bias = bias;
    g->bias_rs = p->bias_row_stride;
    g->bias_cs = p->bias_col_stride;
    g->alpha = p->alpha;
    g->beta = p->beta;
    g->act = &p->act;
}

static inline int32_t aot_x86_round_up(int32_t x, int32_t m)
{
    return (x + m - 1) / m * m;
}

/* nr: the kernel's pixel tile; reads reach round_up(nv, nr) + the largest tap offset. */
static inline void aot_x86_geom_init(aot_x86_geom *g, int32_t out_h, int32_t out_w,
                                     int32_t kernel_h, int32_t kernel_w, int32_t stride_h,
                                     int32_t stride_w, int32_t dilation_h, int32_t dilation_w,
                                     int32_t nr)
{
    const int32_t extra_rows = (kernel_h - 1) * dilation_h / stride_h;
    const int32_t extra_cols = (kernel_w - 1) * dilation_w / stride_w;
    g->taps = kernel_h * kernel_w;
    g->lw = out_w + extra_cols;
    g->rr = out_h + extra_rows;
    g->nv = out_h * g->lw;
    g->ps = aot_x86_round_up(g->nv, nr) + extra_rows * g->lw + extra_cols;
    g->cs = stride_h * stride_w * g->ps;
    g->rows = stride_h * g->rr;
    g->cols = stride_w * g->lw;
}

/* Bytes of the tap-offset table at the start of scratch (64-byte multiple). */
static inline int32_t aot_x86_table_bytes(int32_t taps)
{
    return aot_x86_round_up(taps * 4, 64);
}

static inline void aot_x86_tap_offsets(const aot_x86_geom *g, int32_t kernel_w,
                                       int32_t stride_h, int32_t stride_w, int32_t dilation_h,
                                       int32_t dilation_w, int32_t *offs)
{
    int32_t t;
    for (t = 0; t < g->taps; ++t) {
        const int32_t dy = (t / kernel_w) * dilation_h, dx = (t % kernel_w) * dilation_w;
        offs[t] = ((dy % stride_h) * stride_w + dx % stride_w) * g->ps + (dy / stride_h) * g->lw +
                  dx / stride_w;
    }
}

/* Where padded position (r, c) lives in a channel's phase planes. */
static inline int32_t aot_x86_phase_index(const aot_x86_geom *g, int32_t r, int32_t c,
                                          int32_t stride_h, int32_t stride_w)
{
    return ((r % stride_h) * stride_w + c % stride_w) * g->ps + (r / stride_h) * g->lw +
           c / stride_w;
}

/* The input columns [ix_begin, ix_end) that land inside the kept padded columns. */
static inline int32_t aot_x86_cols_end(const aot_x86_geom *g, int32_t in_w, int32_t pad_left)
{
    const int32_t end = g->cols - pad_left;
    return end < in_w ? end : in_w;
}

/* Whether some tap k in [0, kernel) reads stride phase q: (k * dilation) % stride == q. */
static inline int32_t aot_x86_phase_used(int32_t kernel, int32_t dilation, int32_t stride,
                                         int32_t q)
{
    int32_t k;
    for (k = 0; k < kernel && k < stride; ++k) {
        if ((k * dilation) % stride == q) {
            return 1;
        }
    }
    return 0;
}

/*
 * Where input row iy goes: up to stride_w runs, run s taking input columns
 * ix0[s], ix0[s] + stride_w, ... (below count[s] of them) to consecutive
 * elements from dst[s] of the channel's planes. Rows and column phases no
 * tap reads are skipped. Returns the number of runs.
 */
static inline int32_t aot_x86_row_runs(const aot_x86_geom *g, int32_t iy, int32_t in_w,
                                       int32_t kernel_h, int32_t kernel_w, int32_t stride_h,
                                       int32_t stride_w, int32_t dilation_h, int32_t dilation_w,
                                       int32_t pad_top, int32_t pad_left, int32_t *dst,
                                       int32_t *ix0, int32_t *count)
{
    const int32_t r = iy + pad_top;
    const int32_t ix_end = aot_x86_cols_end(g, in_w, pad_left);
    int32_t q, runs = 0;
    if (r >= g->rows || !aot_x86_phase_used(kernel_h, dilation_h, stride_h, r % stride_h)) {
        return 0;
    }
    for (q = 0; q < stride_w; ++q) {
        const int32_t first = ((q - pad_left) % stride_w + stride_w) % stride_w;
        if (!aot_x86_phase_used(kernel_w, dilation_w, stride_w, q) || first >= ix_end) {
            continue;
        }
        dst[runs] = ((r % stride_h) * stride_w + q) * g->ps + (r / stride_h) * g->lw +
                    (first + pad_left) / stride_w;
        ix0[runs] = first;
        count[runs] = (ix_end - first + stride_w - 1) / stride_w;
        ++runs;
    }
    return runs;
}

/* Bytes of a table of every input row's runs: [in_h][1 + 3 * stride_w] int32. */
static inline int32_t aot_x86_runs_bytes(int32_t in_h, int32_t stride_w)
{
    return aot_x86_round_up(in_h * (1 + 3 * stride_w) * 4, 64);
}

/* aot_x86_row_runs of every input row, computed once per call: row iy at
 * table + iy * (1 + 3 * stride_w): the run count, then the dst, ix0, count arrays. */
static inline void aot_x86_all_row_runs(const aot_x86_geom *g, int32_t in_h, int32_t in_w,
                                        int32_t kernel_h, int32_t kernel_w, int32_t stride_h,
                                        int32_t stride_w, int32_t dilation_h,
                                        int32_t dilation_w, int32_t pad_top, int32_t pad_left,
                                        int32_t *table)
{
    int32_t iy;
    for (iy = 0; iy < in_h; ++iy) {
        int32_t *row = table + iy * (1 + 3 * stride_w);
        row[0] = aot_x86_row_runs(g, iy, in_w, kernel_h, kernel_w, stride_h, stride_w,
                                  dilation_h, dilation_w, pad_top, pad_left, row + 1,
                                  row + 1 + stride_w, row + 1 + 2 * stride_w);
    }
}

/*
 * Store n int8 results of virtual pixels j0 .. j0 + n - 1 into an
 * [out_h][out_w] plane: contiguous when lw == out_w, else dropping the
 * virtual pixels past a row's end.
 */
AOT_X86_INLINE void aot_x86_store_s8(const aot_x86_geom *g, int32_t out_w, int32_t j0,
                                     int32_t n, const int8_t *vals, int8_t *plane)
{
    int32_t l = 0, oy = j0 / g->lw, ox = j0 - oy * g->lw;
    while (l < n) {
        const int32_t seg = g->lw - ox < n - l ? g->lw - ox : n - l;
        const int32_t keep = out_w - ox < seg ? out_w - ox : seg;
        int8_t *dst = plane + oy * out_w + ox;
        int32_t i;
        for (i = 0; i < keep; ++i) {
            dst[i] = vals[l + i];
        }
        l += seg;
        ox = 0;
        ++oy;
    }
}

AOT_X86_INLINE void aot_x86_store_f32(const aot_x86_geom *g, int32_t out_w, int32_t j0,
                                      int32_t n, const float *vals, float *plane)
{
    int32_t l = 0, oy = j0 / g->lw, ox = j0 - oy * g->lw;
    while (l < n) {
        const int32_t seg = g->lw - ox < n - l ? g->lw - ox : n - l;
        const int32_t keep = out_w - ox < seg ? out_w - ox : seg;
        float *dst = plane + oy * out_w + ox;
        int32_t i;
        for (i = 0; i < keep; ++i) {
            dst[i] = vals[l + i];
        }
        l += seg;
        ox = 0;
        ++oy;
    }
}

/* ---- AVX2 helpers ---------------------------------------------------------- */

/* Lanes [0, n) set, n in [0, 8]. */
AOT_X86_INLINE AOT_AVX2 __m256i aot_avx2_mask8(int32_t n)
{
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lanes);
}

/* y = act(x), the piecewise-linear activations of aot_act_apply_f32, the same
 * operations in the same order (no fused multiply-add). */
AOT_X86_INLINE AOT_AVX2 __m256 aot_avx2_act(const aot_act_f32 *act, __m256 x)
{
    const __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.0f);
    __m256 t;
    switch (act->kind) {
    case AOT_ACT_RELU:
        return _mm256_blendv_ps(x, zero, _mm256_cmp_ps(x, zero, _CMP_LT_OQ));
    case AOT_ACT_CLIP:
        x = _mm256_blendv_ps(x, _mm256_set1_ps(act->lo),
                             _mm256_cmp_ps(x, _mm256_set1_ps(act->lo), _CMP_LT_OQ));
        return _mm256_blendv_ps(x, _mm256_set1_ps(act->hi),
                                _mm256_cmp_ps(x, _mm256_set1_ps(act->hi), _CMP_GT_OQ));
    case AOT_ACT_LEAKY_RELU:
        return _mm256_blendv_ps(x, _mm256_mul_ps(_mm256_set1_ps(act->alpha), x),
                                _mm256_cmp_ps(x, zero, _CMP_LT_OQ));
    case AOT_ACT_HARD_SIGMOID:
        t = _mm256_add_ps(_mm256_mul_ps(_mm256_set1_ps(act->alpha), x),
                          _mm256_set1_ps(act->beta));
        t = _mm256_blendv_ps(t, zero, _mm256_cmp_ps(t, zero, _CMP_LT_OQ));
        return _mm256_blendv_ps(t, one, _mm256_cmp_ps(t, one, _CMP_GT_OQ));
    case AOT_ACT_HARD_SWISH:
        t = _mm256_add_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.0f / 6.0f)), _mm256_set1_ps(0.5f));
        t = _mm256_blendv_ps(t, zero, _mm256_cmp_ps(t, zero, _CMP_LT_OQ));
        t = _mm256_blendv_ps(t, one, _mm256_cmp_ps(t, one, _CMP_GT_OQ));
        return _mm256_mul_ps(x, t);
    default:
        return x;
    }
}

/*
 * aot_mul_by_quantized_multiplier on 8 lanes with one multiplier and shift.
 * The doubling high multiply is floor((a * b + 2^30) / 2^31): gemmlowp's
 * round-half-away-from-zero with its truncating division gives exactly that
 * for both signs (for a * b < 0 the nudge 1 - 2^30 plus truncation toward
 * zero equals +2^30 with flooring). Its one saturating case, a == b ==
 * INT32_MIN, needs a negative multiplier; TFLite's are in [0, 2^31).
 */
AOT_X86_INLINE AOT_AVX2 __m256i aot_avx2_requant(__m256i x, int32_t multiplier, int32_t shift)
{
    const __m256i m = _mm256_set1_epi32(multiplier);
    const __m256i nudge = _mm256_set1_epi64x((int64_t)1 << 30);
    const int32_t left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
    __m256i even, odd, hi, mask, rem, thr;
    x = _mm256_sll_epi32(x, _mm_cvtsi32_si128(left));
    even = _mm256_srli_epi64(_mm256_add_epi64(_mm256_mul_epi32(x, m), nudge), 31);
    odd = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(x, 32), m), nudge);
    odd = _mm256_slli_epi64(_mm256_srli_epi64(odd, 31), 32);
    hi = _mm256_blend_epi32(even, odd, 0xAA);
    /* rounding divide by 2^right, ties away from zero */
    mask = _mm256_set1_epi32((int32_t)(((uint32_t)1 << right) - 1u));
    rem = _mm256_and_si256(hi, mask);
    thr = _mm256_sub_epi32(_mm256_srai_epi32(mask, 1), _mm256_srai_epi32(hi, 31));
    return _mm256_sub_epi32(_mm256_sra_epi32(hi, _mm_cvtsi32_si128(right)),
                            _mm256_cmpgt_epi32(rem, thr));
}

/* count 4-byte words of value at dst. */
AOT_X86_INLINE AOT_AVX2 void aot_avx2_fill32(void *dst, int32_t value, int32_t count)
{
    const __m256i v = _mm256_set1_epi32(value);
    int32_t *d = (int32_t *)dst;
    int32_t i = 0;
    for (; i + 8 <= count; i += 8) {
        _mm256_storeu_si256((__m256i *)(void *)(d + i), v);
    }
    for (; i < count; ++i) {
        d[i] = value;
    }
}

/* requantize, add the output offset, clamp, narrow: 8 int8 in the low 8 bytes. */
AOT_X86_INLINE AOT_AVX2 __m128i aot_avx2_output_s8(__m256i acc, int32_t multiplier,
                                                   int32_t shift, int32_t output_offset,
                                                   int32_t act_min, int32_t act_max)
{
    __m256i v = aot_avx2_requant(acc, multiplier, shift);
    __m128i w;
    v = _mm256_add_epi32(v, _mm256_set1_epi32(output_offset));
    v = _mm256_max_epi32(v, _mm256_set1_epi32(act_min));
    v = _mm256_min_epi32(v, _mm256_set1_epi32(act_max));
    w = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    return _mm_packs_epi16(w, w);
}

/* ---- AVX-512 helpers ------------------------------------------------------- */

/* aot_x86_store_f32 / _s8 with masked vector copies of each row segment. */
AOT_X86_INLINE AOT_AVX512 void aot_avx512_store_f32(const aot_x86_geom *g, int32_t out_w,
                                                    int32_t j0, int32_t n, const float *vals,
                                                    float *plane)
{
    int32_t l = 0, oy = j0 / g->lw, ox = j0 - oy * g->lw;
    while (l < n) {
        const int32_t seg = g->lw - ox < n - l ? g->lw - ox : n - l;
        const int32_t keep = out_w - ox < seg ? out_w - ox : seg;
        float *dst = plane + oy * out_w + ox;
        int32_t i;
        for (i = 0; i < keep; i += 16) {
            const int32_t c = keep - i < 16 ? keep - i : 16;
            const __mmask16 k = (__mmask16)((1u << c) - 1u);
            _mm512_mask_storeu_ps(dst + i, k, _mm512_maskz_loadu_ps(k, vals + l + i));
        }
        l += seg;
        ox = 0;
        ++oy;
    }
}

AOT_X86_INLINE AOT_AVX512 void aot_avx512_store_s8(const aot_x86_geom *g, int32_t out_w,
                                                   int32_t j0, int32_t n, const int8_t *vals,
                                                   int8_t *plane)
{
    int32_t l = 0, oy = j0 / g->lw, ox = j0 - oy * g->lw;
    while (l < n) {
        const int32_t seg = g->lw - ox < n - l ? g->lw - ox : n - l;
        const int32_t keep = out_w - ox < seg ? out_w - ox : seg;
        int8_t *dst = plane + oy * out_w + ox;
        int32_t i;
        for (i = 0; i < keep; i += 16) {
            const int32_t c = keep - i < 16 ? keep - i : 16;
            const __mmask16 k = (__mmask16)((1u << c) - 1u);
            _mm_mask_storeu_epi8(dst + i, k, _mm_maskz_loadu_epi8(k, vals + l + i));
        }
        l += seg;
        ox = 0;
        ++oy;
    }
}

/* aot_avx2_act on 16 lanes. */
AOT_X86_INLINE AOT_AVX512 __m512 aot_avx512_act(const aot_act_f32 *act, __m512 x)
{
    const __m512 zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.0f);
    __m512 t;
    switch (act->kind) {
    case AOT_ACT_RELU:
        return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, zero, _CMP_LT_OQ), x, zero);
    case AOT_ACT_CLIP:
        x = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(act->lo), _CMP_LT_OQ), x,
                                 _mm512_set1_ps(act->lo));
        return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(act->hi), _CMP_GT_OQ),
                                    x, _mm512_set1_ps(act->hi));
    case AOT_ACT_LEAKY_RELU:
        return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, zero, _CMP_LT_OQ), x,
                                    _mm512_mul_ps(_mm512_set1_ps(act->alpha), x));
    case AOT_ACT_HARD_SIGMOID:
        t = _mm512_add_ps(_mm512_mul_ps(_mm512_set1_ps(act->alpha), x),
                          _mm512_set1_ps(act->beta));
        t = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(t, zero, _CMP_LT_OQ), t, zero);
        return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(t, one, _CMP_GT_OQ), t, one);
    case AOT_ACT_HARD_SWISH:
        t = _mm512_add_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.0f / 6.0f)), _mm512_set1_ps(0.5f));
        t = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(t, zero, _CMP_LT_OQ), t, zero);
        t = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(t, one, _CMP_GT_OQ), t, one);
        return _mm512_mul_ps(x, t);
    default:
        return x;
    }
}

/* aot_avx2_requant on 16 lanes (the same arithmetic, see there). */
AOT_X86_INLINE AOT_AVX512 __m512i aot_avx512_requant(__m512i x, int32_t multiplier,
                                                     int32_t shift)
{
    const __m512i m = _mm512_set1_epi32(multiplier);
    const __m512i nudge = _mm512_set1_epi64((int64_t)1 << 30);
    const int32_t left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
    __m512i even, odd, hi, mask, rem, thr;
    x = _mm512_sll_epi32(x, _mm_cvtsi32_si128(left));
    even = _mm512_srli_epi64(_mm512_add_epi64(_mm512_mul_epi32(x, m), nudge), 31);
    odd = _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(x, 32), m), nudge);
    odd = _mm512_slli_epi64(_mm512_srli_epi64(odd, 31), 32);
    hi = _mm512_mask_blend_epi32((__mmask16)0xAAAA, even, odd);
    mask = _mm512_set1_epi32((int32_t)(((uint32_t)1 << right) - 1u));
    rem = _mm512_and_si512(hi, mask);
    thr = _mm512_sub_epi32(_mm512_srai_epi32(mask, 1), _mm512_srai_epi32(hi, 31));
    hi = _mm512_sra_epi32(hi, _mm_cvtsi32_si128(right));
    return _mm512_mask_add_epi32(hi, _mm512_cmpgt_epi32_mask(rem, thr), hi,
                                 _mm512_set1_epi32(1));
}

/* aot_avx512_requant with a multiplier and a shift per lane (per-channel outputs in lanes). */
AOT_X86_INLINE AOT_AVX512 __m512i aot_avx512_requant_lanes(__m512i x, __m512i m, __m512i shift)
{
    const __m512i nudge = _mm512_set1_epi64((int64_t)1 << 30);
    const __m512i zero = _mm512_setzero_si512(), one = _mm512_set1_epi32(1);
    const __m512i left = _mm512_max_epi32(shift, zero);
    const __m512i right = _mm512_sub_epi32(left, shift);
    __m512i even, odd, hi, mask, rem, thr;
    x = _mm512_sllv_epi32(x, left);
    even = _mm512_srli_epi64(_mm512_add_epi64(_mm512_mul_epi32(x, m), nudge), 31);
    odd = _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(x, 32), _mm512_srli_epi64(m, 32)),
                           nudge);
    odd = _mm512_slli_epi64(_mm512_srli_epi64(odd, 31), 32);
    hi = _mm512_mask_blend_epi32((__mmask16)0xAAAA, even, odd);
    mask = _mm512_sub_epi32(_mm512_sllv_epi32(one, right), one);
    rem = _mm512_and_si512(hi, mask);
    thr = _mm512_sub_epi32(_mm512_srai_epi32(mask, 1), _mm512_srai_epi32(hi, 31));
    hi = _mm512_srav_epi32(hi, right);
    return _mm512_mask_add_epi32(hi, _mm512_cmpgt_epi32_mask(rem, thr), hi, one);
}

/* requantize, add the output offset, clamp, narrow: 16 int8. */
AOT_X86_INLINE AOT_AVX512 __m128i aot_avx512_output_s8(__m512i acc, int32_t multiplier,
                                                       int32_t shift, int32_t output_offset,
                                                       int32_t act_min, int32_t act_max)
{
    __m512i v = aot_avx512_requant(acc, multiplier, shift);
    v = _mm512_add_epi32(v, _mm512_set1_epi32(output_offset));
    v = _mm512_max_epi32(v, _mm512_set1_epi32(act_min));
    v = _mm512_min_epi32(v, _mm512_set1_epi32(act_max));
    return _mm512_cvtsepi32_epi8(v);
}

/* ---- AVX-512 float convolutions reading NCHW rows in place ---------------------
 * (aot_depthwise_conv2d_avx512_f32, the direct path of aot_conv2d_avx512_f32):
 * output lanes l = 16 pixels of a row read input columns start + l * stride_w;
 * lanes outside the row are masked, reading 0 (the padding). */

/* Lanes l of 16 with 0 <= start + l < n. */
AOT_X86_INLINE uint32_t aot_avx512_span(int32_t start, int32_t n)
{
    const int32_t lo = start < 0 ? -start : 0;
    const int32_t hi = n - start > 16 ? 16 : n - start;
    if (hi <= lo) {
        return 0u;
    }
    return (((uint32_t)1 << hi) - 1u) & ~(((uint32_t)1 << lo) - 1u);
}

/* Masks of output vector v, tap column kx at [v * kernel_w + kx]: stride_w 1 the
 * lanes of one load, 2 two loads (low half, high half: an even-lane permute
 * follows), larger the lanes of a gather. */
static inline void aot_avx512_row_masks(const aot_conv2d_params *p, uint32_t *masks)
{
    const int32_t sw = p->stride_w;
    int32_t v, kx, l;
    for (v = 0; v < (p->out_w + 15) / 16; ++v) {
        for (kx = 0; kx < p->kernel_w; ++kx) {
            const int32_t start = 16 * v * sw + kx * p->dilation_w - p->pad_left;
            uint32_t m = 0u;
            if (sw == 1) {
                m = aot_avx512_span(start, p->in_w);
            } else if (sw == 2) {
                m = aot_avx512_span(start, p->in_w) | aot_avx512_span(start + 16, p->in_w) << 16;
            } else {
                for (l = 0; l < 16; ++l) {
                    const int32_t col = start + l * sw;
                    if (16 * v + l < p->out_w && col >= 0 && col < p->in_w) {
                        m |= (uint32_t)1 << l;
                    }
                }
            }
            masks[v * p->kernel_w + kx] = m;
        }
    }
}

/* Input pixels (16 output lanes) at row[l * sw] under mask m; sw a literal. */
AOT_X86_INLINE AOT_AVX512 __m512 aot_avx512_lanes_load(const float *row, const int sw, uint32_t m)
{
    if (sw == 1) {
        return _mm512_maskz_loadu_ps((__mmask16)m, row);
    }
    if (sw == 2) {
        const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24,
                                               26, 28, 30);
        return _mm512_permutex2var_ps(_mm512_maskz_loadu_ps((__mmask16)m, row), even,
                                      _mm512_maskz_loadu_ps((__mmask16)(m >> 16), row + 16));
    }
    {
        __m512 v;
        AOT_X86_GATHER_BEGIN
        v = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), (__mmask16)m,
                                     _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6,
                                                                          7, 8, 9, 10, 11, 12,
                                                                          13, 14, 15),
                                                        _mm512_set1_epi32(sw)),
                                     row, 4);
        AOT_X86_GATHER_END
        return v;
    }
}

#endif /* AOT_CONV2D_X86_IMPL_H */

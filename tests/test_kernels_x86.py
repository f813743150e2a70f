"""x86-64 AVX2 and AVX-512 VNNI kernel variants (targets/rules_x86.py).

- The vector requantization helpers (runtime_c/aot_conv2d_x86_impl.h) equal
  the portable aot_mul_by_quantized_multiplier on extreme values and ties.
- int8: each variant forced (`--kernels avx2`, `--kernels avx512`) is bit-exact
  with the portable kernels on shapes that break fast paths (channels not a
  multiple of 2/4/8/16, odd widths, pixel counts not a multiple of a tile,
  stride 2, (2,1) and 3, padding, dilation, 5x5, depthwise multiplier 2, one
  output channel, fully connected with an odd k), and with TensorFlow Lite
  Micro on the MLPerf Tiny int8 models.
- float32: each variant is within 1e-5 (relative to the largest output) of
  onnxruntime (unoptimized, CPU provider) on the same shapes and on (batched)
  Gemm/MatMul; the variants use fused multiply-add, so they round differently
  from the portable build.
Everything runs on the host; AVX-512 VNNI needs a CPU that has it.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper, shape_inference

import aot
from conftest import need, need_import
from test_int8_tflm import PAIRS, SAMPLES, mismatches, seeded_int8, tflm_outputs

RUNTIME = Path(__file__).resolve().parent.parent / "runtime_c"
TARGET = "x86-64-avx512"
VARIANTS = ("avx2", "avx512")
X86_KERNELS = {"aot_conv2d_avx2_f32", "aot_conv2d_avx512_f32", "aot_depthwise_conv2d_avx2_f32",
               "aot_matmul_avx2_f32", "aot_matmul_avx512_f32",
               "aot_conv2d_avx2_s8", "aot_conv2d_avx512_s8", "aot_depthwise_conv2d_avx2_s8",
               "aot_fully_connected_avx2_s8", "aot_fully_connected_avx512_s8",
               "aot_add_avx2_s8", "aot_add_avx512_s8", "aot_add_lut_avx512_s8",
               "aot_depthwise_conv2d_avx512_f32",
               "aot_depthwise_conv2d_avx512_s8", "aot_depthwise_conv2d_rows_avx512_s8",
               "aot_depthwise_conv2d_rows_s2_avx512_s8", "aot_depthwise_conv2d_regs_avx512_s8",
               "aot_avgpool2d_avx512_s8", "aot_transpose2d_avx2_s8", "aot_transpose2d_avx512_s8",
               "aot_transpose2d_avx2_f32", "aot_transpose2d_avx512_f32",
               "aot_depthwise_conv2d_lanes_avx512_f32"}


def need_avx512():
    from aot.targets.hostcpu import missing_features
    from aot.targets.target import TARGETS

    missing = missing_features(TARGETS[TARGET])
    need(not missing, f"this CPU lacks {', '.join(missing)} ({TARGET})")


# ---- requantization helpers on extreme values ----------------------------------------------

HELPER_TEST_C = r"""
#include <immintrin.h>
#include "aot_conv2d_x86_impl.h"

AOT_AVX512 void check(const int32_t *x, const int32_t *mult, const int32_t *shift, int32_t n,
                      int32_t *avx2, int32_t *avx512, int32_t *ref, int32_t *lanes,
                      int32_t *lanes_ref)
{
    int32_t i, l;
    for (i = 0; i < n; i += 16) {
        /* a multiplier and shift per lane: straddle two vectors' values */
        const int32_t j = i + 24 <= n ? i + 8 : i;
        _mm512_storeu_si512((void *)(lanes + i), aot_avx512_requant_lanes(
            _mm512_loadu_si512((const void *)(x + i)), _mm512_loadu_si512((const void *)(mult + j)),
            _mm512_loadu_si512((const void *)(shift + j))));
        for (l = 0; l < 16; ++l) {
            lanes_ref[i + l] = aot_mul_by_quantized_multiplier(x[i + l], mult[j + l], shift[j + l]);
        }
    }
    for (i = 0; i < n; i += 16) {
        /* one multiplier and shift per vector, as the kernels use them */
        const __m512i v = _mm512_loadu_si512((const void *)(x + i));
        const __m256i lo = _mm256_loadu_si256((const __m256i *)(const void *)(x + i));
        const __m256i hi = _mm256_loadu_si256((const __m256i *)(const void *)(x + i + 8));
        _mm512_storeu_si512((void *)(avx512 + i), aot_avx512_requant(v, mult[i], shift[i]));
        _mm256_storeu_si256((__m256i *)(void *)(avx2 + i), aot_avx2_requant(lo, mult[i], shift[i]));
        _mm256_storeu_si256((__m256i *)(void *)(avx2 + i + 8),
                            aot_avx2_requant(hi, mult[i], shift[i]));
        for (l = 0; l < 16; ++l) {
            ref[i + l] = aot_mul_by_quantized_multiplier(x[i + l], mult[i], shift[i]);
        }
    }
}
"""


def _extreme_cases(n=16 * 2048):
    rng = np.random.default_rng(1)
    special = [-2**31, -2**31 + 1, -2**30, -2**30 - 1, -2**30 + 1, -1, 0, 1, 2**30 - 1, 2**30,
               2**31 - 1, -3 << 20, 3 << 20, -(1 << 15), (1 << 15) - 1, -5, 5, -6, 6]
    x = np.concatenate([np.resize(np.array(special, np.int64), n // 4),
                        rng.integers(-2**31, 2**31, n // 4),
                        rng.integers(-70000, 70000, n - n // 2)])
    vectors = n // 16
    mult = np.repeat(np.where(rng.random(vectors) < 0.3,
                              rng.choice([0, 2**30, 2**31 - 1, 2**30 + 1], vectors),
                              rng.integers(2**30, 2**31, vectors)), 16)
    shift = np.repeat(rng.integers(-31, 31, vectors), 16)
    # Ties of the rounding right shift: x * m / 2^31 an odd multiple of 2^(e-1).
    ties = np.arange(n // 8)
    e = 1 + (ties // 16) % 20
    x[-len(ties):] = ((2 * (ties % 7) + 1) << (e - 1)) * np.where(ties % 2, -1, 1)
    mult[-len(ties):] = 2**30          # times 1/2, then an exact doubling: x stays
    shift[-len(ties):] = 1 - e         # left 1 cancels the 1/2 when e = 1
    return x.astype(np.int32), mult.astype(np.int32), shift.astype(np.int32)


def test_requant_helpers_equal_the_portable_code_on_extremes(tmp_path):
    need_avx512()
    from aot.targets.toolchain import host_cc

    src = tmp_path / "t.c"
    src.write_text(HELPER_TEST_C)
    lib = tmp_path / "t.so"
    host_cc().shared_library([str(src)], str(lib), [str(RUNTIME)], ("-O2",))
    check = ctypes.CDLL(str(lib)).check
    x, mult, shift = _extreme_cases()
    outs = [np.zeros_like(x) for _ in range(5)]
    ptr = [a.ctypes.data_as(ctypes.c_void_p) for a in (x, mult, shift, *outs)]
    check(*ptr[:3], ctypes.c_int32(len(x)), *ptr[3:])
    avx2, avx512, ref, lanes, lanes_ref = outs
    assert ref.any() and len(np.unique(lanes_ref - ref)) > 1
    bad = np.flatnonzero(lanes != lanes_ref)
    assert bad.size == 0, f"per-lane requant: {bad.size} differ, first at {bad[0]}"
    for name, got in (("avx2", avx2), ("avx512", avx512)):
        bad = np.flatnonzero(got != ref)
        assert bad.size == 0, (f"{name}: {bad.size} differ, first at {bad[0]}: x={x[bad[0]]} "
                               f"mult={mult[bad[0]]} shift={shift[bad[0]]}")


RQ_TEST_C = r"""
#include <immintrin.h>
#include "aot_conv2d_x86_impl.h"
#include "aot_requant_avx512_impl.h"

AOT_AVX512 void check(const int32_t *x, const int32_t *mult, const int32_t *shift, int32_t n,
                      int32_t offset, int32_t lo, int32_t hi, int32_t *raw, int8_t *s8)
{
    int32_t i;
    for (i = 0; i < n; i += 16) {
        const __m512i v = _mm512_loadu_si512((const void *)(x + i));
        aot_rq_avx512_consts q, q0;
        aot_rq_avx512_init(&q0, mult[i], shift[i], 0, -128, 127);
        aot_rq_avx512_init(&q, mult[i], shift[i], offset, lo, hi);
        _mm512_storeu_si512((void *)(raw + i), aot_rq_avx512(&q0, v, 0));
        if (aot_rq_avx512_fast(shift[i], offset)) {   /* the kernels' fast form */
            _mm_storeu_si128((__m128i *)(void *)(s8 + i), aot_rq_avx512_s8(&q, v, 1, 1));
            if (aot_rq_avx512_fast(shift[i], 0)) {
                _mm512_storeu_si512((void *)(raw + i), aot_rq_avx512(&q0, v, 1));
            }
        } else {
            _mm_storeu_si128((__m128i *)(void *)(s8 + i), aot_rq_avx512_s8(&q, v, 0, 1));
        }
    }
}
"""


def test_requant_avx512_64bit_form_on_extremes(tmp_path):
    """aot_rq_avx512 (runtime_c/aot_requant_avx512_impl.h: one 64-bit product and one
    shift per lane) equals TFLite's MultiplyByQuantizedMultiplier (the portable
    aot_mul_by_quantized_multiplier, int64 numpy here) on extreme inputs, multipliers,
    shifts -31..30 and rounding ties; its int8 form with output offsets that fold
    (+-128, +-256) and that do not (300, or shifts below -22), clamped."""
    need_avx512()
    from aot.targets.toolchain import host_cc

    src = tmp_path / "t.c"
    src.write_text(RQ_TEST_C)
    lib = tmp_path / "t.so"
    host_cc().shared_library([str(src)], str(lib), [str(RUNTIME)], ("-O2",))
    check = ctypes.CDLL(str(lib)).check
    x, mult, shift = _extreme_cases()
    # the reference in int64: TFLite's SaturatingRoundingDoublingHighMul + RoundingDivideByPOT
    left = np.maximum(shift, 0).astype(np.int64)
    right = np.maximum(-shift, 0).astype(np.int64)
    xl = ((x.astype(np.int64) << left) + 2**31) % 2**32 - 2**31
    prod = xl * mult.astype(np.int64)
    nudge = np.where(prod >= 0, 1 << 30, 1 - (1 << 30))
    hi = (np.abs(prod + nudge) >> 31) * np.sign(prod + nudge)   # truncating division
    mask = (np.int64(1) << right) - 1
    rem = hi & mask
    thr = (mask >> 1) + (hi < 0)
    want = (hi >> right) + (rem > thr)
    for offset, lo, hi_ in ((0, -128, 127), (-128, -128, 127), (127, -100, 90), (256, 0, 127),
                            (-256, -128, 5), (300, -128, 127)):
        raw, s8 = np.zeros_like(x), np.zeros(len(x), np.int8)
        check(*[a.ctypes.data_as(ctypes.c_void_p) for a in (x, mult, shift)],
              ctypes.c_int32(len(x)), ctypes.c_int32(offset), ctypes.c_int32(lo),
              ctypes.c_int32(hi_), raw.ctypes.data_as(ctypes.c_void_p),
              s8.ctypes.data_as(ctypes.c_void_p))
        bad = np.flatnonzero(raw != want)
        assert bad.size == 0, (f"{bad.size} differ, first x={x[bad[0]]} mult={mult[bad[0]]} "
                               f"shift={shift[bad[0]]}: {raw[bad[0]]} vs {want[bad[0]]}")
        want8 = np.clip(((want + offset + 2**31) % 2**32) - 2**31, lo, hi_)
        bad = np.flatnonzero(s8 != want8)
        assert bad.size == 0, (f"offset {offset}: {bad.size} differ, first x={x[bad[0]]} "
                               f"mult={mult[bad[0]]} shift={shift[bad[0]]}")
    assert len(np.unique(want8)) > 100


# ---- awkward shapes -------------------------------------------------------------------------

def _conv(name, x, c_in, c_out, k, *, stride=(1, 1), pads=(0, 0, 0, 0), dil=(1, 1), group=1,
          relu=False, seed=0):
    """A Conv node (+ Relu) with seeded weights; returns (nodes, initializers, output)."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((c_out, c_in // group, *k)) / np.sqrt(c_in // group * k[0] * k[1])
    b = rng.standard_normal(c_out) * 0.1
    inits = [numpy_helper.from_array(w.astype(np.float32), f"{name}_w"),
             numpy_helper.from_array(b.astype(np.float32), f"{name}_b")]
    out = f"{name}_y"
    nodes = [helper.make_node("Conv", [x, f"{name}_w", f"{name}_b"],
                              [f"{name}_pre" if relu else out], name=name, kernel_shape=list(k),
                              strides=list(stride), pads=list(pads), dilations=list(dil),
                              group=group)]
    if relu:
        nodes.append(helper.make_node("Relu", [f"{name}_pre"], [out], name=f"{name}_relu"))
    return nodes, inits, out


def awkward_model(c=5, h=9, w=37, batch=1):
    """One input, a branch per awkward shape, every branch a graph output."""
    x = "x"
    parts = [
        _conv("pw7", x, c, 7, (1, 1)),                                  # in_c 5, 99 pixels
        _conv("one_out_s2", x, c, 1, (3, 3), stride=(2, 2), pads=(1, 1, 1, 1), seed=1),
        _conv("dil2", x, c, 9, (3, 3), pads=(2, 2, 2, 2), dil=(2, 2), seed=2),
        _conv("k3x2_s21", x, c, 17, (3, 2), stride=(2, 1), pads=(0, 1, 1, 0), seed=3),
        _conv("s3", x, c, 3, (2, 2), stride=(3, 3), seed=12),        # phases no tap reads
        _conv("dw3", x, c, c, (3, 3), pads=(1, 1, 1, 1), group=c, seed=4),
        _conv("dw5_s2", x, c, c, (5, 5), stride=(2, 2), pads=(2, 2, 2, 2), group=c, seed=5),
        _conv("dw3_s21_d2", x, c, c, (3, 3), stride=(2, 1), pads=(2, 2, 2, 2), dil=(2, 2),
              group=c, seed=6),
        _conv("dw_mult2", x, c, 2 * c, (3, 3), pads=(0, 1, 2, 1), group=c, seed=13),
        _conv("pw33_relu", x, c, 33, (1, 1), relu=True, seed=7),
    ]
    nodes, inits, outs = [], [], []
    for n, i, o in parts:
        nodes += n
        inits += i
        outs.append(o)
    # Wider channels, not a multiple of 4/8/16: 3x3 'same' 17 -> 19, then 1x1 19 -> 18.
    for n, i, o in (_conv("wide_pw", "pw33_relu_y", 33, 17, (1, 1), relu=True, seed=8),
                    _conv("wide3", "wide_pw_y", 17, 19, (3, 3), pads=(1, 1, 1, 1), relu=True,
                          seed=9),
                    _conv("wide_pw2", "wide3_y", 19, 18, (1, 1), seed=10)):
        nodes += n
        inits += i
    outs.append("wide_pw2_y")
    # Same-shape add of two branches; fully connected with k = 1665, n = 13. The width
    # (37) gives rows of two full vectors and a tail at stride 1, one and a tail at 2.
    n, i, _ = _conv("dw3_twin", x, c, c, (3, 3), pads=(1, 1, 1, 1), group=c, seed=11)
    n[0].output[0] = "dw3_y_twin"
    nodes += n
    inits += i
    nodes.append(helper.make_node("Add", ["dw3_y", "dw3_y_twin"], ["sum"], name="add"))
    outs.append("sum")
    rng = np.random.default_rng(12)
    inits += [numpy_helper.from_array(np.array([batch, -1], np.int64), "flat_shape"),
              numpy_helper.from_array((rng.standard_normal((c * h * w, 13)) / 20)
                                      .astype(np.float32), "fc_w"),
              numpy_helper.from_array(rng.standard_normal(13).astype(np.float32), "fc_b")]
    nodes += [helper.make_node("Reshape", [x, "flat_shape"], ["flat"], name="flatten"),
              helper.make_node("MatMul", ["flat", "fc_w"], ["fc_mm"], name="fc"),
              helper.make_node("Add", ["fc_mm", "fc_b"], ["fc_y"], name="fc_bias")]
    outs.append("fc_y")
    graph = helper.make_graph(
        nodes, "awkward", [helper.make_tensor_value_info(x, TensorProto.FLOAT, [batch, c, h, w])],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outs], inits)
    return shape_inference.infer_shapes(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))


def _kernels(compiled) -> set[str]:
    return {c.kernel for c in compiled.compilation.program.calls}


@pytest.mark.parametrize("batch", [1, pytest.param(2, marks=pytest.mark.slow)])
def test_int8_variants_bit_exact_with_portable(batch, tmp_path):
    need_avx512()
    model = awkward_model(batch=batch)
    shape = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    rng = np.random.default_rng(batch)
    calib = tmp_path / "calib.npz"
    np.savez(calib, x=rng.standard_normal((8, *shape)).astype(np.float32))
    feeds = [{"x": (rng.standard_normal(shape) * s).astype(np.float32)} for s in (1.0, 4.0)]
    results, kernels = {}, {}
    for kind in ("portable", *VARIANTS):
        compiled = aot.compile(model.SerializeToString(), TARGET, out_dir=str(tmp_path / kind),
                               options=aot.Options(name="awk", kernels=kind, quantize="int8",
                                                   calibration=str(calib)))
        kernels[kind] = _kernels(compiled)
        results[kind] = [compiled.run(f) for f in feeds]
    assert not kernels["portable"] & X86_KERNELS
    assert {"aot_conv2d_avx2_s8", "aot_depthwise_conv2d_avx2_s8", "aot_fully_connected_avx2_s8",
            "aot_add_avx2_s8"} <= kernels["avx2"]
    assert {"aot_conv2d_avx512_s8", "aot_depthwise_conv2d_avx512_s8",
            "aot_fully_connected_avx512_s8"} <= kernels["avx512"]
    assert kernels["avx512"] & {"aot_add_avx512_s8", "aot_add_lut_avx512_s8"}   # tables or not
    for kind in VARIANTS:
        for ref, got in zip(results["portable"], results[kind]):
            for name in ref:
                np.testing.assert_array_equal(got[name], ref[name], err_msg=f"{kind}: {name}")


def _portable_vs_avx512(parts, c, h, w, tmp_path, avoid, want=(), batch=1):
    """Outputs of a model of `parts` (each a _conv result reading "x" [batch, c, h, w]),
    quantized to int8, with the portable and the avx512 kernels: equal bit for bit;
    `avoid` (a portable kernel) must not be chosen under avx512, `want` must be."""
    nodes = [n for p_, _, _ in parts for n in p_]
    inits = [i for _, i_, _ in parts for i in i_]
    graph = helper.make_graph(
        nodes, "parts",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, c, h, w])],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for _, _, o in parts], inits)
    model = shape_inference.infer_shapes(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    rng = np.random.default_rng(5)
    calib = tmp_path / "calib.npz"
    np.savez(calib, x=rng.standard_normal((8, batch, c, h, w)).astype(np.float32))
    feed = {"x": (rng.standard_normal((batch, c, h, w)) * 2).astype(np.float32)}
    results = {}
    for kind in ("portable", "avx512"):
        compiled = aot.compile(model.SerializeToString(), TARGET, out_dir=str(tmp_path / kind),
                               options=aot.Options(name="parts", kernels=kind, quantize="int8",
                                                   calibration=str(calib)))
        if kind == "avx512":
            assert avoid not in _kernels(compiled)
            assert set(want) <= _kernels(compiled), sorted(_kernels(compiled))
        results[kind] = compiled.run(feed)
    for name, ref in results["portable"].items():
        assert ref.std() > 0
        np.testing.assert_array_equal(results["avx512"][name], ref, err_msg=name)


def test_int8_depthwise_narrow_planes_bit_exact(tmp_path):
    """Stride-1 depthwise on planes narrower than a vector (pixels of one vector span
    several rows): aot_depthwise_conv2d_rows_avx512_s8 (kernel_w <= 4: row quads,
    column edges, pad rows above/below, over-padding, dilation) and the flat path
    of aot_depthwise_conv2d_avx512_s8 (5x5)."""
    need_avx512()
    c = 6
    _portable_vs_avx512(
        [_conv("same3", "x", c, c, (3, 3), pads=(1, 1, 1, 1), group=c, seed=1),
         _conv("same5_d2", "x", c, c, (5, 5), pads=(4, 4, 4, 4), dil=(2, 2), group=c, seed=2),
         _conv("rows_valid", "x", c, 2 * c, (3, 3), pads=(0, 1, 0, 1), group=c, seed=3),
         _conv("k2x4", "x", c, c, (2, 4), pads=(1, 1, 0, 2), group=c, relu=True, seed=4),
         _conv("k3x4_d2", "x", c, c, (3, 4), pads=(3, 3, 1, 3), dil=(2, 2), group=c, seed=5),
         _conv("k1x3_tall", "x", c, c, (1, 3), pads=(2, 1, 3, 1), group=c, seed=6)],
        c, 71, 5, tmp_path, "aot_depthwise_conv2d_s8",
        want=("aot_depthwise_conv2d_rows_avx512_s8", "aot_depthwise_conv2d_avx512_s8"))


def test_int8_depthwise_small_strided_planes_bit_exact(tmp_path):
    """Stride-2 depthwise on small planes (the phase-plane path with tiles of 1 to 3
    vectors; planes zeroed once per call, so every channel must leave the padding
    as it found it): TF-'same' padding (bottom/right only), both sides, 5x5."""
    need_avx512()
    c = 21
    _portable_vs_avx512(
        [_conv("s2_same", "x", c, c, (3, 3), stride=(2, 2), pads=(0, 0, 1, 1), group=c,
               seed=1),
         _conv("s2_pad1", "x", c, c, (3, 3), stride=(2, 2), pads=(1, 1, 1, 1), group=c,
               relu=True, seed=2),
         _conv("s2_k5", "x", c, c, (5, 5), stride=(2, 2), pads=(2, 2, 2, 2), group=c, seed=3)],
        c, 6, 6, tmp_path, "aot_depthwise_conv2d_s8")


def test_int8_depthwise_subsampled_and_phase_plane_paths_bit_exact(tmp_path):
    """The flat path's subsampled form beyond stride 2 x 2 (stride (2, 1) with
    dilation, stride 1 without padding: out_w < in_w, stride 3), and planes
    above AOT_DW_FLAT_MAX_PIXELS, which keep the phase planes."""
    need_avx512()
    c = 3
    for h, w in ((11, 13), (23, 25)):
        (tmp_path / f"{h}x{w}").mkdir()
        _portable_vs_avx512(
            [_conv("valid", "x", c, c, (3, 3), group=c, seed=1),
             _conv("s21_d2", "x", c, 2 * c, (3, 3), stride=(2, 1), dil=(2, 2),
                   pads=(1, 2, 0, 1), group=c, seed=2),
             _conv("s3", "x", c, c, (3, 3), stride=(3, 3), pads=(1, 1, 1, 1), group=c,
                   relu=True, seed=3),
             _conv("s2", "x", c, c, (3, 3), stride=(2, 2), pads=(0, 0, 1, 1), group=c, seed=4)],
            c, h, w, tmp_path / f"{h}x{w}", "aot_depthwise_conv2d_s8")


def test_int8_one_input_channel_conv_bit_exact(tmp_path):
    """Convolutions of a single input channel (aot_conv2d_avx512_s8 packs four taps
    per VNNI quad): tap counts not a multiple of 4, strides, dilation, padding."""
    need_avx512()
    _portable_vs_avx512(
        [_conv("k10x4_s2", "x", 1, 11, (10, 4), stride=(2, 2), pads=(4, 1, 5, 1), seed=1),
         _conv("k3_same", "x", 1, 8, (3, 3), pads=(1, 1, 1, 1), relu=True, seed=2),
         _conv("k3x2_d2_s21", "x", 1, 5, (3, 2), stride=(2, 1), dil=(2, 2), seed=3),
         _conv("k1", "x", 1, 3, (1, 1), seed=4)],
        1, 17, 9, tmp_path, "aot_conv2d_s8")


@pytest.mark.parametrize("c,h,w", [(13, 3, 3), (6, 2, 7), (67, 6, 6),
                                   pytest.param(9, 1, 3, marks=pytest.mark.slow),
                                   pytest.param(7, 4, 4, marks=pytest.mark.slow),
                                   pytest.param(64, 5, 7, marks=pytest.mark.slow)])
def test_int8_pointwise_small_planes_bit_exact(c, h, w, tmp_path):
    """1x1 convolutions on planes of at most 16 pixels, or 36 with at least 64 input
    channels (aot_conv2d_avx512_s8 puts output channels in lanes, conv_s8_oc_lanes):
    in_c not a multiple of 4, out_c of 1, 16, 17 (an odd last block of 16) and 37,
    pixel tiles of 4 to 8 with a tail."""
    need_avx512()
    from aot.targets.rules_x86 import conv_s8_oc_lanes

    assert conv_s8_oc_lanes({"kernel_h": 1, "kernel_w": 1, "stride_h": 1, "stride_w": 1,
                             "pad_top": 0, "pad_left": 0, "in_h": h, "in_w": w,
                             "out_h": h, "out_w": w, "in_c": c})
    _portable_vs_avx512(
        [_conv("pw37", "x", c, 37, (1, 1), seed=1),
         _conv("pw17_relu", "x", c, 17, (1, 1), relu=True, seed=2),
         _conv("pw16", "x", c, 16, (1, 1), seed=3),
         _conv("pw1", "x", c, 1, (1, 1), seed=4)],
        c, h, w, tmp_path, "aot_conv2d_s8", want=("aot_conv2d_avx512_s8",))


def test_int8_small_output_planes_by_rows_bit_exact(tmp_path):
    """Kernels larger than 1x1 with at most 64 output pixels (output channels in lanes,
    tiles by output row from the phase planes: conv_s8_oc_lanes): rows of 9 (tiles of
    5 and 4), 8 and 6 pixels, strides 2 and 3 with padding, dilation, TF-'same'
    padding, out_c 1, 16, 17 and 37, in_c 6 (a partial quad); and a 9x8 output (72
    pixels) that stays on the pixel tiles."""
    need_avx512()
    from aot.targets.rules_x86 import conv_s8_oc_lanes

    c = 6
    geo = {"in_c": c, "pad_top": 1, "pad_left": 1, "in_h": 13, "in_w": 17}
    assert conv_s8_oc_lanes({**geo, "kernel_h": 3, "kernel_w": 3, "stride_h": 2,
                             "stride_w": 2, "out_h": 7, "out_w": 9})
    assert not conv_s8_oc_lanes({**geo, "kernel_h": 5, "kernel_w": 5, "stride_h": 1,
                                 "stride_w": 2, "out_h": 9, "out_w": 8})
    _portable_vs_avx512(
        [_conv("s2_37", "x", c, 37, (3, 3), stride=(2, 2), pads=(1, 1, 1, 1), relu=True,
               seed=1),
         _conv("s2_tf_16", "x", c, 16, (3, 3), stride=(2, 2), pads=(0, 0, 1, 1), seed=2),
         _conv("d2_1", "x", c, 1, (3, 2), stride=(2, 3), dil=(2, 2), pads=(1, 0, 1, 2),
               seed=3),
         _conv("k5_s3", "x", c, 17, (5, 5), stride=(3, 3), pads=(2, 2, 2, 2), seed=4),
         _conv("k5_9x9", "x", c, 9, (5, 5), stride=(1, 2), pads=(0, 1, 0, 1), seed=5)],
        c, 13, 17, tmp_path, "aot_conv2d_s8", want=("aot_conv2d_avx512_s8",))


def test_int8_conv_virtual_pixel_rows_bit_exact(tmp_path):
    """Kernels wider than 1 (virtual pixels past each row's end: results go to a
    buffer of virtual rows, narrowed afterwards) on odd widths, with stride 2 and
    padding, dilation, TF-'same' padding, and a 1x1 stride-2 shortcut; out_c 1, 9
    (a tail of the 8-channel tiles) and 20."""
    need_avx512()
    c = 11
    _portable_vs_avx512(
        [_conv("k3_same", "x", c, 20, (3, 3), pads=(1, 1, 1, 1), relu=True, seed=1),
         _conv("k3_s2", "x", c, 9, (3, 3), stride=(2, 2), pads=(1, 1, 1, 1), seed=2),
         _conv("k3_s2_tf", "x", c, 1, (3, 3), stride=(2, 2), pads=(0, 0, 1, 1), seed=3),
         _conv("k3_d2", "x", c, 9, (3, 3), pads=(2, 2, 2, 2), dil=(2, 2), seed=4),
         _conv("k1_s2", "x", c, 20, (1, 1), stride=(2, 2), seed=5),
         _conv("k5x2_s12", "x", c, 9, (5, 2), stride=(1, 2), pads=(2, 0, 2, 1), seed=6)],
        c, 13, 21, tmp_path, "aot_conv2d_s8", want=("aot_conv2d_avx512_s8",))


def matmul_model():
    """Gemm (transB, bias), a batched MatMul of two run-time operands (attention's
    Q x K^T form, with broadcasting), a 2-D MatMul with a constant B, and a batch-1
    fully connected with n = 300 (the one-row path: two 128-wide tiles and a tail)."""
    rng = np.random.default_rng(3)
    inits = [numpy_helper.from_array(rng.standard_normal((13, 37)).astype(np.float32), "gw"),
             numpy_helper.from_array(rng.standard_normal(13).astype(np.float32), "gb"),
             numpy_helper.from_array(rng.standard_normal((37, 29)).astype(np.float32), "mw"),
             numpy_helper.from_array(rng.standard_normal((37, 300)).astype(np.float32), "fw"),
             numpy_helper.from_array(rng.standard_normal(300).astype(np.float32), "fb")]
    nodes = [helper.make_node("Gemm", ["a", "gw", "gb"], ["gemm"], name="gemm", transB=1),
             helper.make_node("MatMul", ["q", "k"], ["scores"], name="qk"),
             helper.make_node("MatMul", ["a", "mw"], ["mm"], name="mm"),
             helper.make_node("Gemm", ["v", "fw", "fb"], ["fc"], name="fc")]
    graph = helper.make_graph(
        nodes, "mm", [helper.make_tensor_value_info("a", TensorProto.FLOAT, [7, 37]),
                      helper.make_tensor_value_info("q", TensorProto.FLOAT, [2, 3, 19, 24]),
                      helper.make_tensor_value_info("k", TensorProto.FLOAT, [1, 3, 24, 21]),
                      helper.make_tensor_value_info("v", TensorProto.FLOAT, [1, 37])],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None)
         for o in ("gemm", "scores", "mm", "fc")], inits)
    return shape_inference.infer_shapes(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))


@pytest.mark.parametrize("which", ["conv", "matmul"])
def test_float_variants_match_onnxruntime(which, tmp_path):
    need_avx512()
    ort = need_import("onnxruntime")
    model = awkward_model() if which == "conv" else matmul_model()
    rng = np.random.default_rng(7)
    feeds = {i.name: rng.standard_normal([d.dim_value for d in i.type.tensor_type.shape.dim])
             .astype(np.float32) for i in model.graph.input}
    # Unoptimized: ORT's Conv+Add fusion drops the conv output the graph also lists.
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(model.SerializeToString(), opts,
                                providers=["CPUExecutionProvider"])
    names = [o.name for o in model.graph.output]
    ref = dict(zip(names, sess.run(names, feeds)))
    for kind in VARIANTS:
        compiled = aot.compile(model.SerializeToString(), TARGET, out_dir=str(tmp_path / kind),
                               options=aot.Options(name="f", kernels=kind))
        used = _kernels(compiled)
        want = {f"aot_matmul_{kind}_f32"} if which == "matmul" else \
            {f"aot_conv2d_{kind}_f32", f"aot_depthwise_conv2d_{kind}_f32",
             f"aot_matmul_{kind}_f32"}
        assert want <= used, sorted(used)
        got = compiled.run(feeds)
        for name in names:
            scale = max(1.0, float(np.abs(ref[name]).max()))
            err = float(np.abs(got[name] - ref[name]).max()) / scale
            assert err <= 1e-5, f"{kind} {name}: max error {err:.2e} of the largest output"


# ---- MLPerf Tiny int8: bit-exact with TFLM with each variant forced -------------------------

_TFLM_CACHE: dict[str, list] = {}


# avx2 in the slow run: its kernels are also checked on awkward shapes above (and
# --kernels avx512 runs the avx2 add on these models too).
@pytest.mark.parametrize("kernels", ["avx512", pytest.param("avx2", marks=pytest.mark.slow)])
@pytest.mark.parametrize("key", sorted(PAIRS))
def test_mlperf_int8_bit_exact_with_tflm(key, kernels, mlperf_dir, tmp_path):
    need_avx512()
    onnx_file, tflite_file = PAIRS[key]
    model = aot.compile(str(mlperf_dir / onnx_file), TARGET, out_dir=str(tmp_path / key),
                        options=aot.Options(kernels=kernels))
    used = _kernels(model)
    assert used & X86_KERNELS, f"no {kernels} kernel chosen: {sorted(used)}"
    [inp] = model.manifest["inputs"]
    [out] = model.manifest["outputs"]
    xs = seeded_int8(inp["shape"], SAMPLES)
    ours = [model.run({inp["name"]: x})[out["name"]] for x in xs]
    if key not in _TFLM_CACHE:
        _TFLM_CACHE[key] = tflm_outputs(mlperf_dir / tflite_file, xs)
    ref = _TFLM_CACHE[key]
    count, worst = mismatches(ours, ref)
    total = sum(r.size for r in ref)
    print(f"{key} on {TARGET} --kernels {kernels}: {count}/{total} differ from TFLM")
    assert count == 0, f"{count} of {total} output elements differ from TFLM (max {worst} LSB)"


# ---- int8 average pooling over whole planes (aot_avgpool2d_avx512_s8) ----------------------

@pytest.mark.parametrize("c,h,w", [(21, 25, 5), (16, 8, 8), (3, 1, 1), (40, 9, 13)])
def test_int8_global_avgpool_bit_exact(c, h, w, tmp_path):
    """Planes not a multiple of 16, planes of 125 / 64 / 1 / 117 bytes (vector tails),
    and saturated inputs (every code -128 or 127 in some planes: the sums' extremes)."""
    need_avx512()
    pools = [helper.make_node("AveragePool", ["x"], ["whole"], name="whole",
                              kernel_shape=[h, w]),
             helper.make_node("Relu", ["x"], ["xr"], name="relu"),
             helper.make_node("AveragePool", ["xr"], ["whole_relu"], name="whole_relu",
                              kernel_shape=[h, w])]
    outs = ["whole", "whole_relu"]
    if h > 2 and w > 2:   # a window smaller than the plane: the portable kernel
        pools.append(helper.make_node("AveragePool", ["x"], ["part"], name="part",
                                      kernel_shape=[2, 2]))
        outs.append("part")
    graph = helper.make_graph(
        pools, "pool", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c, h, w])],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outs])
    model = shape_inference.infer_shapes(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    rng = np.random.default_rng(c)
    calib = tmp_path / "calib.npz"
    np.savez(calib, x=rng.standard_normal((8, 1, c, h, w)).astype(np.float32))
    x = rng.standard_normal((1, c, h, w)).astype(np.float32) * 2
    x[0, 0] = 1e3
    x[0, -1] = -1e3
    x[0, c // 2, :, ::2] = 1e3
    results, used = {}, {}
    for kind in ("portable", "avx512"):
        compiled = aot.compile(model.SerializeToString(), TARGET, out_dir=str(tmp_path / kind),
                               options=aot.Options(name="pool", kernels=kind, quantize="int8",
                                                   calibration=str(calib)))
        used[kind] = [c_.kernel for c_ in compiled.compilation.program.calls
                      if "avgpool" in c_.kernel]
        results[kind] = compiled.run({"x": x})
    assert "aot_avgpool2d_avx512_s8" not in used["portable"]
    assert used["avx512"].count("aot_avgpool2d_avx512_s8") == 2, used["avx512"]
    for name, ref in results["portable"].items():
        np.testing.assert_array_equal(results["avx512"][name], ref, err_msg=name)


# ---- int8 add: every pair of codes against the portable kernel ------------------------------

# The int8 add harnesses' parameter block from 12 int32 (the ADD_FIELDS order).
ADD_PARAMS_C = r"""
#include "aot_kernels.h"

static aot_add_s8_params params(const int32_t *prm, int32_t n)
{
    aot_add_s8_params p = {0};
    p.size = n;
    p.a_offset = prm[0]; p.a_multiplier = prm[1]; p.a_shift = prm[2];
    p.b_offset = prm[3]; p.b_multiplier = prm[4]; p.b_shift = prm[5];
    p.left_shift = prm[6];
    p.output_offset = prm[7]; p.output_multiplier = prm[8]; p.output_shift = prm[9];
    p.act_min = prm[10]; p.act_max = prm[11];
    return p;
}
"""

ADD_TEST_C = ADD_PARAMS_C + r"""
void check(const int32_t *prm, const int8_t *a, const int8_t *b, int32_t n, int8_t *fast,
           int8_t *ref)
{
    const aot_add_s8_params p = params(prm, n);
    aot_add_avx512_s8(&p, a, b, fast);
    aot_add_s8(&p, a, b, ref);
}
"""


def _add_params(rng, count):
    """TFLite-like add parameters, with the extremes of every field the fast form takes
    (left_shift 9..22, shifts 0..-31, offsets +-128, multipliers 0 / 2^30 / 2^31 - 1 /
    tiny) and some it does not (left_shift 8 and 23: the general form)."""
    rows = []
    for i in range(count):
        mults = rng.choice([0, 1, 2**21, 2**30, 2**31 - 1, int(rng.integers(2**30, 2**31))], 2)
        rows.append([
            int(rng.choice([-128, 128, int(rng.integers(-128, 129))])), int(mults[0]),
            -int(rng.choice([0, 31, int(rng.integers(0, 12))])),
            int(rng.choice([-128, 128, int(rng.integers(-128, 129))])), int(mults[1]),
            -int(rng.choice([0, 1, int(rng.integers(0, 12))])),
            [20, 9, 22, 8, 23, int(rng.integers(9, 23))][i % 6],
            int(rng.integers(-128, 128)), int(rng.integers(2**30, 2**31)),
            min(0, -[20, 9, 22, 8, 23, 15][i % 6] + int(rng.integers(-1, 4))), -128, 127])
    # Ties of the rounding divide: m = 2^30 makes hi = v * 2^(L - 1), a tie for r = L
    # (odd v) and r = L + 1 (v = 2 mod 4), on both inputs' signs.
    for left in (9, 20, 22):
        for r in (left, left + 1):
            rows.append([0, 2**30, -r, -1, 2**30, -r, left, 0, 2**30, -1, -128, 127])
    return np.array(rows, np.int32)


def _add_checker(tmp_path, source=None, kernel="aot_add_avx512_s8"):
    """The harness `source`'s `check` (default ADD_TEST_C), built with `kernel` beside
    the portable aot_add_s8."""
    from aot.targets.toolchain import host_cc

    src = tmp_path / f"{kernel}_check.c"
    src.write_text(ADD_TEST_C if source is None else source)
    lib = tmp_path / f"{kernel}_check.so"
    host_cc().shared_library([str(src), str(RUNTIME / f"{kernel}.c"),
                              str(RUNTIME / "aot_add_s8.c")], str(lib), [str(RUNTIME)], ("-O2",))
    return ctypes.CDLL(str(lib)).check


def test_int8_add_avx512_every_code_pair(tmp_path):
    """aot_add_avx512_s8 (its split-multiplier form and the general one) equals the
    portable aot_add_s8 on all 65536 pairs of int8 codes, for varied parameters."""
    need_avx512()
    check = _add_checker(tmp_path)
    codes = np.arange(-128, 128, dtype=np.int8)
    a = np.repeat(codes, 256)
    b = np.tile(codes, 256)
    n = a.size - 3   # a masked tail
    varied = 0
    params = _add_params(np.random.default_rng(4), 48)
    for prm in params:
        fast, ref = np.zeros_like(a), np.zeros_like(a)
        check(*[x.ctypes.data_as(ctypes.c_void_p) for x in (prm, a, b)], ctypes.c_int32(n),
              fast.ctypes.data_as(ctypes.c_void_p), ref.ctypes.data_as(ctypes.c_void_p))
        varied += len(np.unique(ref[:n])) > 50
        bad = np.flatnonzero(fast[:n] != ref[:n])
        assert bad.size == 0, (f"params {prm.tolist()}: {bad.size} differ, first a={a[bad[0]]} "
                               f"b={b[bad[0]]}: {fast[bad[0]]} vs {ref[bad[0]]}")
    assert varied >= len(params) // 5, f"only {varied} parameter sets give varied outputs"


def _add_dp_form(prm) -> bool:
    """aot_add_avx512_s8 takes its vpdpwssd form (aot_add_avx512_dp_applies for both
    inputs, the output offset folded: aot_rq_avx512_folds)."""
    a_off, a_m, a_sh, b_off, b_m, b_sh, left, o_off, _, o_sh = (int(v) for v in prm[:10])
    split = (9 <= left <= 22 and min(a_m, b_m) >= 0 and -31 <= min(a_sh, b_sh)
             and max(a_sh, b_sh) <= 0 and max(abs(a_off), abs(b_off)) <= 128)
    def dp(m, sh):   # aot_add_avx512_half (m 2^30, shift 0: a shift), else K <= 15
        return (m == 2**30 and sh == 0) or 31 - left - sh <= 15
    return (split and dp(a_m, a_sh) and dp(b_m, b_sh) and -22 <= o_sh <= -1
            and -256 <= o_off <= 256)


def test_int8_add_avx512_dp_form(tmp_path):
    """The vpdpwssd form of aot_add_avx512_s8 (input rescalings with q + r <= 15, the
    64-bit output requantization of runtime_c/aot_requant_avx512_impl.h) equals the
    portable aot_add_s8 on all 65536 code pairs: K = q + r from 9 to 15, r = 0 and
    r > 0, multipliers 0 / 1 / 2^30 / 2^31 - 1, offsets +-128, output shifts -1 to -22
    (the fold's edge), -23 (not folded) and 0 (the general form), output offsets +-256
    and 300, clamps to int8 and narrower, inputs of multiplier 2^30 and shift 0 (a shift
    by left_shift - 1, for left shifts 9 to 22), sizes below one vector and with a tail."""
    need_avx512()
    check = _add_checker(tmp_path)
    codes = np.arange(-128, 128, dtype=np.int8)
    a, b = np.repeat(codes, 256), np.tile(codes, 256)
    rng = np.random.default_rng(9)
    rows = []
    for i in range(40):
        left = [20, 18, 16, 20, 9][i % 5]
        q = 31 - left
        mults = rng.choice([0, 1, 2**30, 2**31 - 1, int(rng.integers(2**30, 2**31))], 2)
        r_a = int(rng.integers(0, 15 - q + 1)) if q <= 15 else 0
        r_b = [0, 15 - q, int(rng.integers(0, 15 - q + 1))][i % 3] if q <= 15 else 0
        o_sh = [0, -1, -17, -22, -23, -int(rng.integers(1, 23))][i % 6]
        o_off = [-128, 127, -256, 256, 300, int(rng.integers(-128, 128))][i % 6 - (i // 6) % 2]
        lo, hi = [(-128, 127), (-128, 127), (-100, 90), (0, 127), (-128, -1)][i % 5]
        rows.append([int(rng.choice([-128, 128, int(rng.integers(-128, 129))])), int(mults[0]),
                     -r_a, int(rng.choice([-128, 128, int(rng.integers(-128, 129))])),
                     int(mults[1]), -r_b, left, o_off, int(rng.integers(2**30, 2**31)), o_sh,
                     lo, hi])
    # the larger-scale input (multiplier 2^30, shift 0, TFLite's "times one half"): a
    # shift, for any left shift; one or both inputs, with the other's K above 15 or not
    for i, (left, a_m, a_sh) in enumerate([(20, 2**30, 0), (9, 2**30, 0), (20, 1717986918, -2),
                                           (22, 2**30, 0), (12, 2**30, 0)]):
        rows.append([[-128, 128, 17, -38, 0][i], a_m, a_sh, [128, -128, -4, 2, 100][i], 2**30,
                     0, left, [-128, 0, 127, -128, 5][i], int(rng.integers(2**30, 2**31)),
                     -[17, 9, 18, 20, 13][i], [-128, -128, -100, 0, -128][i], 127])
    params = np.array(rows, np.int32)
    assert sum(_add_dp_form(prm) for prm in params) >= 20
    for n in (a.size, a.size - 7, 5):
        for prm in params:
            fast, ref = np.zeros_like(a), np.zeros_like(a)
            check(*[x.ctypes.data_as(ctypes.c_void_p) for x in (prm, a, b)], ctypes.c_int32(n),
                  fast.ctypes.data_as(ctypes.c_void_p), ref.ctypes.data_as(ctypes.c_void_p))
            assert not fast[n:].any(), "wrote past the end"
            bad = np.flatnonzero(fast[:n] != ref[:n])
            assert bad.size == 0, (f"params {prm.tolist()} n={n}: {bad.size} differ, first "
                                   f"a={a[bad[0]]} b={b[bad[0]]}: {fast[bad[0]]} vs {ref[bad[0]]}")


# ---- int8 add as two int16 table lookups (aot_add_lut_avx512_s8, targets/add_lut.py) --------

ADD_LUT_TEST_C = ADD_PARAMS_C + r"""
/* alias: 0 out of place, 1 y == a, 2 y == b (fast holds a resp. b on entry) */
void check(const int32_t *prm, const int8_t *a, const int8_t *b, int32_t n,
           const int16_t *tables, int32_t alias, int8_t *fast, int8_t *ref)
{
    const aot_add_s8_params p = params(prm, n);
    aot_add_s8(&p, a, b, ref);
    aot_add_lut_avx512_s8(&p, alias == 1 ? fast : a, alias == 2 ? fast : b, tables, fast);
}
"""

# IC int8's three residual Add+Relu layers (ic_int8.onnx, as lowered by rules_int8).
IC_ADDS = [[128, 1623821475, -2, -4, 2**30, 0, 20, -128, 1098017566, -17, -128, 127],
           [17, 1699529983, -2, -4, 2**30, 0, 20, -128, 1140768826, -17, -128, 127],
           [-38, 1657902019, -2, 2, 2**30, 0, 20, -128, 1835721671, -18, -128, 127]]
ADD_FIELDS = ("a_offset", "a_multiplier", "a_shift", "b_offset", "b_multiplier", "b_shift",
              "left_shift", "output_offset", "output_multiplier", "output_shift", "act_min",
              "act_max")


def _add_fields(scales, zero_points, act=None) -> dict:
    """aot_add_s8_params fields of an int8 Add as TFLite prepares it."""
    from aot import quantmath as qm
    (sa, sb, so), (za, zb, zo) = scales, zero_points
    lo, hi = act if act is not None else (-128, 127)
    return {**qm.add_params(sa, sb, so), "a_offset": -za, "b_offset": -zb,
            "output_offset": zo, "act_min": lo, "act_max": hi}


def test_int8_add_lut_avx512_every_code_pair(tmp_path):
    """aot_add_lut_avx512_s8 with the tables add_lut_tables builds equals the portable
    aot_add_s8 on all 65536 code pairs (IC's three adds, TFLite-like scales with and
    without ReLU / ReLU6-like clamps, extreme zero points), on sizes 1, 15, 63, 64, 65,
    1000 (tails; nothing written past n) and with y aliasing a or b."""
    need_avx512()
    from aot.targets.add_lut import add_lut_tables

    check = _add_checker(tmp_path, ADD_LUT_TEST_C, "aot_add_lut_avx512_s8")
    codes = np.arange(-128, 128, dtype=np.int8)
    a_all, b_all = np.repeat(codes, 256), np.tile(codes, 256)
    rng = np.random.default_rng(11)
    sets = [dict(zip(ADD_FIELDS, row)) for row in IC_ADDS]
    for i in range(12):
        scales = np.exp(rng.uniform(-6, 0, 3))
        zps = [int(v) for v in rng.choice([-128, 127, int(rng.integers(-128, 128))], 3)]
        act = [None, (zps[2], 127), (max(zps[2], -100), min(127, zps[2] + 60))][i % 3]
        sets.append(_add_fields(scales, zps, act))
    found = 0
    for f in sets:
        got = add_lut_tables(f)
        if got is None:
            continue
        found += 1
        tables = np.concatenate([got[0].reshape(-1), [got[1]]]).astype(np.int16)
        prm = np.array([f[k] for k in ADD_FIELDS], np.int32)
        for n, alias in ((a_all.size, 0), (a_all.size, 1), (a_all.size - 1, 2), (1, 0),
                         (15, 1), (63, 0), (64, 2), (65, 0), (1000, 1)):
            start = int(rng.integers(0, a_all.size - n + 1))
            a, b = a_all[start:start + n].copy(), b_all[start:start + n].copy()
            fast = np.zeros(n + 64, np.int8)
            fast[:n] = (a, a, b)[alias]
            ref = np.zeros(n, np.int8)
            check(*[x.ctypes.data_as(ctypes.c_void_p) for x in (prm, a, b)], ctypes.c_int32(n),
                  tables.ctypes.data_as(ctypes.c_void_p), ctypes.c_int32(alias),
                  fast.ctypes.data_as(ctypes.c_void_p), ref.ctypes.data_as(ctypes.c_void_p))
            assert not fast[n:].any(), "wrote past the end"
            bad = np.flatnonzero(fast[:n] != ref)
            assert bad.size == 0, (f"{f} n={n} alias={alias}: {bad.size} differ, first "
                                   f"a={a[bad[0]]} b={b[bad[0]]}: {fast[bad[0]]} vs {ref[bad[0]]}")
    assert found >= 3 + 8, f"tables for only {found} of {len(sets)} parameter sets"


def _lut_fraction(count: int, seed: int) -> float:
    """add_lut_tables on `count` random TFLite-like (scales, zero points, ReLU or not):
    every table it returns equals tests/int8_reference.add_ref (an independent numpy
    port of TFLite's AddFunc) on all 65536 pairs; the fraction that got tables."""
    from int8_reference import add_ref
    from aot.targets.add_lut import add_lut_tables, lut_outputs

    rng = np.random.default_rng(seed)
    codes = np.arange(256, dtype=np.int64)
    x, y = (codes[:, None] ^ 0x80) - 0x80, (codes[None, :] ^ 0x80) - 0x80   # code & 0xFF order
    hits = 0
    for i in range(count):
        scales = np.exp(rng.uniform(-8, 0, 3))
        zps = [int(v) for v in rng.integers(-128, 128, 3)]
        f = _add_fields(scales, zps, (zps[2], 127) if i % 2 else None)
        got = add_lut_tables(f)
        if got is None:
            continue
        hits += 1
        np.testing.assert_array_equal(lut_outputs(got[0], got[1], f["act_min"], f["act_max"]),
                                      add_ref(x, y, f), err_msg=str(f))
    return hits / count


def test_int8_add_lut_tables_exact_and_found():
    """Tables are found for most TFLite-like adds and are exact where found (see
    _lut_fraction; the slow run takes 2000 combinations)."""
    fraction = _lut_fraction(24, 5)
    print(f"add_lut_tables found exact tables for {fraction:.0%} of 24 random adds")
    assert fraction >= 0.75


@pytest.mark.slow
def test_int8_add_lut_tables_fraction_on_many_params():
    fraction = _lut_fraction(2000, 6)
    print(f"add_lut_tables found exact tables for {fraction:.1%} of 2000 random adds")
    assert fraction >= 0.8


def test_int8_add_lut_lowering_and_fallback(tmp_path):
    """--kernels avx512 lowers a same-shape int8 Add whose tables exist to
    aot_add_lut_avx512_s8 and one whose tables do not (b's scale three times the
    output's, no clamp: the sums span more than int16 can hold) to aot_add_avx512_s8,
    both bit-exact with the portable build; a broadcasting Add keeps aot_add_s8."""
    need_avx512()
    from aot.targets.add_lut import add_lut_tables

    cases = {"lut": ((0.05, 0.04, 0.045), (3, -7, 1), (1, 3, 5, 67), (1, 3, 5, 67), False),
             "relu": ((0.07, 0.03, 0.09), (5, -9, -128), (1, 1000), (1, 1000), True),
             "wide": ((0.02, 0.05, 0.0169), (0, 0, 0), (1, 77), (1, 77), False),
             "bcast": ((0.07, 0.03, 0.09), (5, -9, 2), (1, 3, 5, 7), (1, 3, 1, 1), False)}
    assert add_lut_tables(_add_fields(*cases["wide"][:2])) is None
    nodes, inits, inputs, outputs, feeds = [], [], [], [], {}
    rng = np.random.default_rng(3)
    for name, (scales, zps, a_shape, b_shape, relu) in cases.items():
        for t, scale, zp in zip("aby", scales, zps):
            inits += [numpy_helper.from_array(np.array(scale, np.float32), f"{name}_s{t}"),
                      numpy_helper.from_array(np.array(zp, np.int8), f"{name}_z{t}")]
        for t, shape in (("a", a_shape), ("b", b_shape)):
            inputs.append(helper.make_tensor_value_info(f"{name}_{t}", TensorProto.INT8, shape))
            feeds[f"{name}_{t}"] = rng.integers(-128, 128, shape).astype(np.int8)
            nodes.append(helper.make_node("DequantizeLinear", [f"{name}_{t}", f"{name}_s{t}",
                                                               f"{name}_z{t}"], [f"{name}_{t}f"],
                                          name=f"{name}_dq{t}"))
        nodes.append(helper.make_node("Add", [f"{name}_af", f"{name}_bf"], [f"{name}_sum"],
                                      name=f"{name}_add"))
        if relu:
            nodes.append(helper.make_node("Relu", [f"{name}_sum"], [f"{name}_r"],
                                          name=f"{name}_relu"))
        nodes.append(helper.make_node("QuantizeLinear", [f"{name}_r" if relu else f"{name}_sum",
                                                         f"{name}_sy", f"{name}_zy"],
                                      [f"{name}_y"], name=f"{name}_q"))
        outputs.append(helper.make_tensor_value_info(f"{name}_y", TensorProto.INT8, None))
    graph = helper.make_graph(nodes, "adds", inputs, outputs, inits)
    model = shape_inference.infer_shapes(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    results, by_layer = {}, {}
    for kind in ("portable", "avx512"):
        compiled = aot.compile(model.SerializeToString(), TARGET, out_dir=str(tmp_path / kind),
                               options=aot.Options(name="adds", kernels=kind))
        by_layer[kind] = {c.layer.split("+")[0].split(";")[0]: c.kernel
                          for c in compiled.compilation.program.calls if "add" in c.kernel}
        results[kind] = compiled.run(feeds)
    kernels = sorted(by_layer["avx512"].values())
    assert kernels == ["aot_add_avx512_s8", "aot_add_lut_avx512_s8", "aot_add_lut_avx512_s8",
                       "aot_add_s8"], by_layer["avx512"]
    assert [k for layer, k in by_layer["avx512"].items() if "wide" in layer] \
        == ["aot_add_avx512_s8"], by_layer["avx512"]
    for name, ref in results["portable"].items():
        np.testing.assert_array_equal(results["avx512"][name], ref, err_msg=name)


# ---- float32 AVX-512 depthwise paths and 1-pixel convolutions vs onnxruntime --------------

def _float_parts_vs_ort(parts, c, h, w, tmp_path, want, batch=1):
    """A model of `parts` (each a _conv result reading "x" [batch, c, h, w]) with
    --kernels avx512: every kernel in `want` is chosen, and every output is within
    1e-5 (of the largest output) of onnxruntime, unoptimized."""
    ort = need_import("onnxruntime")
    nodes = [n for p_, _, _ in parts for n in p_]
    inits = [i for _, i_, _ in parts for i in i_]
    graph = helper.make_graph(
        nodes, "parts", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, c, h, w])],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for _, _, o in parts], inits)
    model = shape_inference.infer_shapes(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    feed = {"x": np.random.default_rng(c * h + w).standard_normal((batch, c, h, w))
            .astype(np.float32)}
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    names = [o for _, _, o in parts]
    ref = dict(zip(names, ort.InferenceSession(model.SerializeToString(), opts,
                                               providers=["CPUExecutionProvider"])
                   .run(names, feed)))
    compiled = aot.compile(model.SerializeToString(), TARGET, out_dir=str(tmp_path / f"{h}x{w}"),
                           options=aot.Options(name="parts", kernels="avx512"))
    assert want <= _kernels(compiled), sorted(_kernels(compiled))
    got = compiled.run(feed)
    for name in names:
        assert np.abs(ref[name]).max() > 0, name
        scale = max(1.0, float(np.abs(ref[name]).max()))
        err = float(np.abs(got[name] - ref[name]).max()) / scale
        assert err <= 1e-5, f"{name}: max error {err:.2e} of the largest output"
    return compiled


@pytest.mark.parametrize("h,w", [(11, 5), (7, 32), (33, 35),
                                 pytest.param(65, 64, marks=pytest.mark.slow),
                                 pytest.param(9, 37, marks=pytest.mark.slow),
                                 pytest.param(6, 48, marks=pytest.mark.slow)])
def test_float_depthwise_avx512_paths_match_onnxruntime(h, w, tmp_path):
    """aot_depthwise_conv2d_avx512_f32 on every path (5 channels: never the lanes
    kernel): padded planes (stride 1, square 5x5, and 3x3 on rows of 16 and more),
    padded flat planes (stride 1, rows not a multiple of 16; shifts for 3- and
    5-wide kernels, a load per tap with dilation or other widths), rows (widths a
    multiple of 16 slide; stride 2 and (2,1), stride 3 gathered, 'valid' and
    asymmetric padding, multiplier 2), an odd channel count."""
    need_avx512()
    c = 5
    dw = "aot_depthwise_conv2d_avx512_f32"
    _float_parts_vs_ort(
        [_conv("same3", "x", c, c, (3, 3), pads=(1, 1, 1, 1), group=c, relu=True, seed=1),
         _conv("same5", "x", c, c, (5, 5), pads=(2, 2, 2, 2), group=c, seed=2),
         _conv("same3_d2", "x", c, c, (3, 3), pads=(2, 2, 2, 2), dil=(2, 2), group=c, seed=3),
         _conv("k2x4", "x", c, c, (2, 4), pads=(1, 1, 0, 2), group=c, seed=4),
         _conv("k3x5", "x", c, c, (3, 5), pads=(1, 2, 1, 2), group=c, seed=11),
         _conv("s2", "x", c, c, (3, 3), stride=(2, 2), pads=(1, 1, 1, 1), group=c, seed=5),
         _conv("s2_k5", "x", c, c, (5, 5), stride=(2, 2), pads=(2, 2, 2, 2), group=c, seed=6),
         _conv("s21", "x", c, c, (3, 3), stride=(2, 1), pads=(1, 1, 1, 1), group=c, seed=7),
         _conv("s3", "x", c, c, (3, 3), stride=(3, 3), pads=(1, 1, 1, 1), group=c, seed=8),
         _conv("valid_mult2", "x", c, 2 * c, (3, 3), group=c, seed=9),
         _conv("asym5", "x", c, c, (5, 5), pads=(0, 3, 1, 1), group=c, relu=True, seed=10)],
        c, h, w, tmp_path, {dw})


@pytest.mark.parametrize("h,w,batch", [(25, 5, 1), (9, 11, 2),
                                         pytest.param(1, 37, 1, marks=pytest.mark.slow),
                                         pytest.param(3, 3, 1, marks=pytest.mark.slow)])
def test_float_depthwise_padded_flat_match_onnxruntime(h, w, batch, tmp_path):
    """The padded-flat path of aot_depthwise_conv2d_avx512_f32 (rules_x86.dw_f32_pflat:
    stride 1, rows not a whole number of vectors; 13 channels: a block of 8, then 5 one
    at a time): 3x3 (two shifts) with 'same', asymmetric and wider-than-needed padding
    (input rows shorter than the output's), 3x5 (five shifts), 1x3, dilation 2 and a
    2x4 kernel (a load per tap), multiplier 2, fused activations; KWS's 25x5, rows of
    11 (vectors spanning rows), 1x37, 3x3 (one vector)."""
    need_avx512()
    from aot.targets.rules_x86 import dw_f32_pflat

    c = 13
    parts = [
        _conv("p3", "x", c, c, (3, 3), pads=(1, 1, 1, 1), group=c, relu=True, seed=1),
        _conv("p3_asym", "x", c, c, (3, 3), pads=(0, 2, 2, 0), group=c, seed=2),
        _conv("p3_wide", "x", c, c, (3, 3), pads=(1, 2, 1, 3), group=c, seed=3),
        _dw_act(_conv("p3x5", "x", c, c, (3, 5), pads=(1, 2, 1, 2), group=c, seed=4),
                "HardSwish", 4),
        _conv("p1x3", "x", c, c, (1, 3), pads=(0, 1, 0, 1), group=c, seed=5),
        _dw_act(_conv("p3_d2", "x", c, c, (3, 3), pads=(2, 2, 2, 2), dil=(2, 2), group=c,
                      seed=6), "Clip", 6),
        _conv("p2x4", "x", c, c, (2, 4), pads=(1, 1, 0, 2), group=c, seed=7),
        _dw_act(_conv("p3_mult2", "x", c, 2 * c, (3, 3), pads=(1, 1, 1, 1), group=c, seed=8),
                "LeakyRelu", 8),
    ]
    geo = dict(stride_h=1, stride_w=1, in_w=w, out_w=w + 1, out_h=h, kernel_h=3, kernel_w=3,
               dilation_h=1, dilation_w=1)
    assert dw_f32_pflat({**geo, "out_w": w}) and dw_f32_pflat(geo)
    compiled = _float_parts_vs_ort(parts, c, h, w, tmp_path, {"aot_depthwise_conv2d_avx512_f32"},
                                   batch=batch)
    # 26 output channels on rows of at most 8 go to the lanes kernel (dw_f32_lanes)
    kernels = {l_["name"]: l_["kernel"] for l_ in compiled.manifest["layers"]
               if not l_["name"].startswith("p3_mult2")}
    assert set(kernels.values()) == {"aot_depthwise_conv2d_avx512_f32"}, kernels


DW_F32_CHECK_C = r"""
#include "aot_kernels.h"

void check(const int32_t *g, const float *x, const float *w, const float *b, float *y,
           void *scratch)
{
    aot_conv2d_params p = {0};
    p.batch = g[0]; p.in_c = g[1]; p.in_h = g[2]; p.in_w = g[3]; p.out_c = g[4];
    p.out_h = g[5]; p.out_w = g[6]; p.kernel_h = g[7]; p.kernel_w = g[8];
    p.stride_h = 1; p.stride_w = 1; p.dilation_h = g[9]; p.dilation_w = g[10];
    p.pad_top = g[11]; p.pad_left = g[12]; p.groups = g[1];
    aot_depthwise_conv2d_avx512_f32(&p, x, w, b, y, scratch);
}
"""


def test_float_depthwise_padded_flat_stays_in_bounds(tmp_path):
    """aot_depthwise_conv2d_avx512_f32 called directly on padded-flat shapes with
    exactly rules_x86.phase_scratch bytes of scratch, at every 4-byte misalignment of
    the scratch within a cache line, filled with NaN beforehand: nothing is written
    past the output or the scratch, no stale scratch reaches a result (numpy's direct
    convolution in float64, within 1e-5 of the largest output), for 1 to 17
    channels (partial and whole blocks of 8), batches of 1 and 2, planes of one vector
    to 4096 pixels, left padding beyond the kernel's reach."""
    need_avx512()
    from aot.targets.rules_x86 import dw_f32_pflat, phase_scratch
    from aot.targets.toolchain import host_cc

    src = tmp_path / "check.c"
    src.write_text(DW_F32_CHECK_C)
    lib = tmp_path / "check.so"
    host_cc().shared_library([str(src), str(RUNTIME / "aot_depthwise_conv2d_avx512_f32.c")],
                             str(lib), [str(RUNTIME)], ("-O2", "-march=x86-64-v4"))
    check = ctypes.CDLL(str(lib)).check
    ptr = ctypes.c_void_p
    rng = np.random.default_rng(17)
    # batch, channels, multiplier, in_h, in_w, kernel, dilation, pads (top, left, bottom, right)
    cases = [(1, 17, 1, 25, 5, (3, 3), 1, (1, 1, 1, 1)),
             (2, 8, 1, 3, 3, (3, 3), 1, (1, 1, 1, 1)),
             (1, 1, 1, 64, 63, (3, 3), 1, (1, 1, 1, 1)),
             (1, 9, 2, 7, 9, (3, 5), 1, (2, 2, 0, 2)),
             (1, 5, 1, 6, 4, (3, 3), 2, (2, 5, 2, 3)),
             (2, 3, 1, 11, 2, (1, 3), 1, (0, 19, 0, 1)),
             (1, 12, 1, 5, 13, (4, 2), 1, (1, 0, 2, 1))]
    for n, c, mult, h, w, (kh, kw), d, (pt, pl, pb, pr) in cases:
        oh, ow = h + pt + pb - (kh - 1) * d, w + pl + pr - (kw - 1) * d
        oc = c * mult
        p = dict(stride_h=1, stride_w=1, in_w=w, out_w=ow, out_h=oh, in_h=h, kernel_h=kh,
                 kernel_w=kw, dilation_h=d, dilation_w=d, pad_top=pt, pad_left=pl, out_c=oc,
                 in_c=c)
        assert dw_f32_pflat(p), p
        nbytes = phase_scratch(p, "aot_depthwise_conv2d_avx512_f32")
        x = rng.standard_normal((n, c, h, w)).astype(np.float32)
        wt = (rng.standard_normal((oc, kh, kw)) / 3).astype(np.float32)
        b = rng.standard_normal(oc).astype(np.float32)
        xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pt, pb), (pl, pr)))
        ref = np.zeros((n, oc, oh, ow)) + b[None, :, None, None]
        for ky in range(kh):
            for kx in range(kw):
                win = xp[:, np.arange(oc) // mult, ky * d:ky * d + oh, kx * d:kx * d + ow]
                ref += wt[None, :, ky, kx, None, None] * win
        g = np.array([n, c, h, w, oc, oh, ow, kh, kw, d, d, pt, pl], np.int32)
        for shift in range(0, 64, 4):
            y = np.full(ref.size + 16, 7.0, np.float32)
            raw = np.full(nbytes + shift + 128, 0xA5, np.uint8)
            base = -raw.ctypes.data % 64 + shift
            raw[base:base + nbytes].view(np.float32)[:] = np.nan
            check(g.ctypes.data_as(ptr), x.ctypes.data_as(ptr), wt.ctypes.data_as(ptr),
                  b.ctypes.data_as(ptr), y.ctypes.data_as(ptr),
                  ctypes.c_void_p(raw.ctypes.data + base))
            what = f"{(n, c, mult, h, w, kh, kw, d, pt, pl, pb, pr)} scratch +{shift}"
            assert (raw[base + nbytes:] == 0xA5).all(), f"{what}: wrote past the scratch"
            assert (raw[:base] == 0xA5).all(), f"{what}: wrote before the scratch"
            assert (y[ref.size:] == 7.0).all(), f"{what}: wrote past the output"
            err = np.abs(y[:ref.size].reshape(ref.shape) - ref).max() / max(1.0, np.abs(ref).max())
            assert err <= 1e-5, f"{what}: max error {err:.2e}"


@pytest.mark.parametrize("batch", [1, pytest.param(2, marks=pytest.mark.slow)])
def test_float_one_pixel_conv_as_matmul_matches_onnxruntime(batch, tmp_path):
    """Dense convolutions with one output pixel whose window is the whole input
    (1x1 after a global pool, and a 3x2 kernel over a 3x2 input) run as
    aot_matmul_avx512_f32 with transposed weights; one output channel too."""
    need_avx512()
    _float_parts_vs_ort(
        [_conv("pw", "x", 7, 33, (1, 1), relu=True, seed=1),
         _conv("pw_one_out", "x", 7, 1, (1, 1), seed=2)],
        7, 1, 1, tmp_path, {"aot_matmul_avx512_f32"}, batch=batch)
    _float_parts_vs_ort(
        [_conv("whole", "x", 3, 130, (3, 2), seed=3)],
        3, 3, 2, tmp_path / "whole", {"aot_matmul_avx512_f32"}, batch=batch)


@pytest.mark.parametrize("c_in", [1, 3])
def test_float_direct_conv_avx512_matches_onnxruntime(c_in, tmp_path):
    """The direct path of aot_conv2d_avx512_f32 (at most 4 input channels, weights
    packed in blocks of 16 output channels): out_c 1, 5, 20 and 33 (partial blocks,
    the 8-channel form), strides 2, (2,1) and 3 (rows of 12: the column-tap planes),
    padding, dilation, a 10x4 kernel."""
    need_avx512()
    _float_parts_vs_ort(
        [_conv("s2_33", "x", c_in, 33, (3, 3), stride=(2, 2), pads=(1, 1, 1, 1), relu=True,
               seed=1),
         _conv("same_5", "x", c_in, 5, (3, 3), pads=(1, 1, 1, 1), seed=2),
         _conv("k10x4_s2_20", "x", c_in, 20, (10, 4), stride=(2, 2), pads=(4, 1, 5, 1), seed=3),
         _conv("s21_d2_one", "x", c_in, 1, (3, 2), stride=(2, 1), dil=(2, 2), seed=4),
         _conv("s3_7", "x", c_in, 7, (2, 2), stride=(3, 3), seed=5)],
        c_in, 19, 37, tmp_path, {"aot_conv2d_avx512_f32"})


def test_float_direct_conv_avx512_fused_activations_match_onnxruntime(tmp_path):
    """Each fused activation on the direct path of aot_conv2d_avx512_f32 (applied to a
    tile's accumulators before its stores): out_c 13 (a tile of 8, then of 4 and 1),
    rows of 37 pixels (a partial last vector), 3x3 'same' and stride 2."""
    need_avx512()
    c = 3
    _float_parts_vs_ort(
        [_dw_act(_conv("clip", "x", c, 13, (3, 3), pads=(1, 1, 1, 1), seed=1), "Clip", 1),
         _dw_act(_conv("leaky", "x", c, 13, (3, 3), pads=(1, 1, 1, 1), seed=2), "LeakyRelu",
                 2),
         _dw_act(_conv("hsig", "x", c, 13, (3, 3), stride=(2, 2), pads=(1, 1, 1, 1), seed=3),
                 "HardSigmoid", 3),
         _dw_act(_conv("hswish", "x", c, 13, (3, 3), pads=(1, 1, 1, 1), seed=4), "HardSwish",
                 4),
         _conv("relu", "x", c, 13, (3, 3), stride=(2, 2), pads=(1, 1, 1, 1), relu=True,
               seed=5)],
        c, 19, 37, tmp_path, {"aot_conv2d_avx512_f32"})


# ---- int8 NHWC -> NCHW transpose of few channels (aot_transpose2d_{avx2,avx512}_s8) --------

TRANSPOSE_TEST_C = r"""
#include "aot_kernels.h"

void check(int32_t avx512, int32_t batch, int32_t rows, int32_t cols, const {T} *x,
           const {table} *table, {T} *y)
{{
    aot_transpose2d_inplace_params p = {{0}};
    p.batch = batch; p.rows = rows; p.cols = cols; p.elem_bytes = sizeof(*x);
    if (avx512) {{
        aot_transpose2d_avx512_{dt}(&p, x, table, y);
    }} else {{
        aot_transpose2d_avx2_{dt}(&p, x, table, y);
    }}
}}
"""


def _transpose_check(tmp_path, dt):
    """The check() of TRANSPOSE_TEST_C for the {avx2,avx512} transposes of dtype `dt`."""
    from aot.targets.toolchain import host_cc

    types = {"s8": ("int8_t", "int8_t"), "f32": ("float", "int32_t")}[dt]
    src = tmp_path / f"t_{dt}.c"
    src.write_text(TRANSPOSE_TEST_C.format(T=types[0], table=types[1], dt=dt))
    lib = tmp_path / f"t_{dt}.so"
    host_cc().shared_library([str(src), str(RUNTIME / f"aot_transpose2d_avx512_{dt}.c"),
                              str(RUNTIME / f"aot_transpose2d_avx2_{dt}.c")], str(lib),
                             [str(RUNTIME)], ("-O2",))
    return ctypes.CDLL(str(lib)).check


def test_int8_transpose_few_columns_equals_numpy(tmp_path):
    """Every column count the kernels take (2..8), rows around their 64/32/16-row
    steps and tails (1, 15, 16, 17, 31, 33, 63, 64, 65, 100, 9216 + 7), batches of 1
    and 3, codes covering -128..127: y equals numpy's transpose, and no byte past the
    output is written."""
    need_avx512()
    from aot.targets.rules_x86 import TRANSPOSE_MAX_COLS, transpose_shuffles

    check = _transpose_check(tmp_path, "s8")
    rng = np.random.default_rng(9)
    ptr = ctypes.c_void_p
    for cols in range(2, TRANSPOSE_MAX_COLS + 1):
        table = transpose_shuffles(cols)
        for rows in (1, 15, 16, 17, 31, 33, 63, 64, 65, 100, 9223):
            for batch in (1, 3):
                x = rng.integers(-128, 128, (batch, rows, cols), dtype=np.int8)
                x.reshape(-1)[:256] = np.arange(-128, 128)[:x.size]
                want = np.ascontiguousarray(x.transpose(0, 2, 1))
                for avx512 in (0, 1):
                    y = np.full(x.size + 64, 77, np.int8)
                    check(ctypes.c_int32(avx512), ctypes.c_int32(batch), ctypes.c_int32(rows),
                          ctypes.c_int32(cols), x.ctypes.data_as(ptr),
                          table.ctypes.data_as(ptr), y.ctypes.data_as(ptr))
                    np.testing.assert_array_equal(
                        y[:x.size].reshape(want.shape), want,
                        err_msg=f"avx512={avx512} batch={batch} rows={rows} cols={cols}")
                    assert (y[x.size:] == 77).all()


# ---- float element-wise binary ops and average pooling --------------------------------------

# (name, op, a shape, b shape, activation after it): same shapes of rank 1-5, a scalar on
# either side, per-channel, innermost broadcast, outer broadcast on both sides, rows that
# are whole vectors, tails and shorter than one vector.
BINARY_CASES = [
    ("same5_relu", "Add", [2, 3, 4, 5, 7], [2, 3, 4, 5, 7], "Relu"),
    ("same1", "Sub", [1003], [1003], None),
    ("scalar_b", "Sub", [2, 3, 4, 5, 7], [], None),
    ("scalar_a", "Div", [], [3, 37], None),
    ("one_a", "Mul", [1], [37], "HardSigmoid"),
    ("per_channel", "Mul", [1, 13, 5, 7], [1, 13, 1, 1], None),
    ("per_channel_wide", "Add", [2, 6, 9, 16], [1, 6, 1, 1], "LeakyRelu"),
    ("column", "Add", [1, 13, 5, 7], [1, 13, 5, 1], "HardSwish"),
    ("row", "Div", [1, 13, 5, 7], [7], None),
    ("outer_both", "Sub", [4, 1, 19], [1, 6, 19], "Relu"),
    ("outer_a", "Mul", [5, 1], [1, 35], None),
    ("mixed", "Add", [3, 1, 7], [1, 4, 1], None),
    ("wide3", "Mul", [3, 2, 150], [3, 1, 150], None),
]


def _binary_model():
    rng = np.random.default_rng(3)
    inputs, inits, nodes, outs = [], [], [], []
    for name, op, sa, sb, act in BINARY_CASES:
        a, b = f"{name}_a", f"{name}_b"
        inputs.append(helper.make_tensor_value_info(a, TensorProto.FLOAT, sa))
        # b a constant where it is small (the forms models have), else an input
        if int(np.prod(sb)) <= 16:
            value = rng.standard_normal(sb).astype(np.float32)
            if op == "Div":
                value = np.abs(value) + 0.5
            inits.append(numpy_helper.from_array(value, b))
        else:
            inputs.append(helper.make_tensor_value_info(b, TensorProto.FLOAT, sb))
        out = f"{name}_y"
        nodes.append(helper.make_node(op, [a, b], [f"{name}_pre" if act else out], name=name))
        if act:
            attrs = {"alpha": 0.3} if act == "LeakyRelu" else {}
            nodes.append(helper.make_node(act, [f"{name}_pre"], [out], name=f"{name}_act",
                                          **attrs))
        outs.append(out)
    graph = helper.make_graph(nodes, "binary", inputs,
                              [helper.make_tensor_value_info(o, TensorProto.FLOAT, None)
                               for o in outs], inits)
    return shape_inference.infer_shapes(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))


def _seeded_feeds(model, seed):
    rng = np.random.default_rng(seed)
    feeds = {}
    for i in model.graph.input:
        x = np.asarray(rng.standard_normal([d.dim_value for d in i.type.tensor_type.shape.dim]))
        # second operands kept from 0: some are divisors
        feeds[i.name] = np.array(np.abs(x) + 0.5 if i.name.endswith("_b") else x * 3,
                                 np.float32)
    return feeds


def _ort_reference(model, feeds, names):
    ort = need_import("onnxruntime")
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(model.SerializeToString(), opts,
                                providers=["CPUExecutionProvider"])
    return dict(zip(names, sess.run(names, feeds)))


def test_float_binary_variants_match_onnxruntime(tmp_path):
    """aot_{add,sub,mul,div}_{avx2,avx512}_f32 on every broadcast form (BINARY_CASES), fused
    activations included: within 1e-6 (of the largest output) of onnxruntime, unoptimized,
    and bit for bit the portable build's results (one IEEE operation per element)."""
    need_avx512()
    model = _binary_model()
    feeds = _seeded_feeds(model, 5)
    names = [o.name for o in model.graph.output]
    ref = _ort_reference(model, feeds, names)
    results = {}
    for kind in ("portable", *VARIANTS):
        compiled = aot.compile(model.SerializeToString(), TARGET, out_dir=str(tmp_path / kind),
                               options=aot.Options(name="bin", kernels=kind))
        used = _kernels(compiled)
        if kind != "portable":
            want = {f"aot_{op}_{kind}_f32" for op in ("add", "sub", "mul", "div")}
            assert want <= used, sorted(used)
            assert not used & {"aot_add_f32", "aot_sub_f32", "aot_mul_f32", "aot_div_f32"}
        results[kind] = compiled.run(feeds)
    for kind in VARIANTS:
        for name in names:
            np.testing.assert_array_equal(results[kind][name], results["portable"][name],
                                          err_msg=f"{kind}: {name}")
            scale = max(1.0, float(np.abs(ref[name]).max()))
            err = float(np.abs(results[kind][name] - ref[name]).max()) / scale
            assert err <= 1e-6, f"{kind} {name}: max error {err:.2e} of the largest output"


# (name, input [n, c, h, w], attributes): padding with and without count_include_pad,
# ceil_mode windows past the padded input, strides 2 and (2, 1) and 3, dilation (rows and
# columns), windows wider than a vector, whole planes (global) of odd and long sizes, 1-D.
AVGPOOL_CASES = [
    ("k3_pad", [1, 5, 9, 37], dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1])),
    ("k3_pad_incl", [1, 5, 9, 37], dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                                        count_include_pad=1)),
    ("k2_s2_ceil", [1, 5, 9, 37], dict(kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1)),
    ("k3_s2_ceil_incl", [2, 3, 10, 11], dict(kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1,
                                             pads=[1, 0, 0, 1], count_include_pad=1)),
    ("k5x2_s21", [1, 5, 9, 37], dict(kernel_shape=[5, 2], strides=[2, 1], pads=[2, 0, 2, 1])),
    ("k3_s3_dil", [1, 4, 19, 23], dict(kernel_shape=[3, 3], strides=[3, 3], dilations=[2, 2])),
    ("k2x3_dil_rows", [1, 4, 19, 23], dict(kernel_shape=[2, 3], dilations=[3, 1])),
    ("wide", [1, 3, 6, 70], dict(kernel_shape=[2, 35], strides=[1, 5], pads=[0, 3, 1, 3])),
    ("global_kws", [1, 21, 25, 5], dict(kernel_shape=[25, 5])),
    ("global_long", [1, 3, 32, 33], dict(kernel_shape=[32, 33])),
    # 16 planes per vector on avx512: several full groups and a partial one, batch 2
    ("global_groups", [2, 37, 7, 7], dict(kernel_shape=[7, 7])),
    ("global_1x1", [1, 17, 1, 1], dict(kernel_shape=[1, 1])),
    ("one_d", [1, 6, 1, 29], dict(kernel_shape=[1, 4], strides=[1, 3], pads=[0, 1, 0, 2])),
]


def _avgpool_model():
    inputs, nodes, outs = [], [], []
    for name, shape, attrs in AVGPOOL_CASES:
        x = f"{name}_x"
        inputs.append(helper.make_tensor_value_info(x, TensorProto.FLOAT, shape))
        nodes.append(helper.make_node("AveragePool", [x], [f"{name}_y"], name=name, **attrs))
        outs.append(f"{name}_y")
    graph = helper.make_graph(nodes, "avgpool", inputs,
                              [helper.make_tensor_value_info(o, TensorProto.FLOAT, None)
                               for o in outs])
    return shape_inference.infer_shapes(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)]))


def test_float_avgpool_variants_match_onnxruntime(tmp_path):
    """aot_avgpool2d_{avx2,avx512}_f32 on AVGPOOL_CASES: within 1e-6 (of the largest
    output) of onnxruntime, unoptimized (the lanes reorder the sums)."""
    need_avx512()
    model = _avgpool_model()
    feeds = _seeded_feeds(model, 9)
    names = [o.name for o in model.graph.output]
    ref = _ort_reference(model, feeds, names)
    for kind in VARIANTS:
        compiled = aot.compile(model.SerializeToString(), TARGET, out_dir=str(tmp_path / kind),
                               options=aot.Options(name="pool", kernels=kind))
        used = _kernels(compiled)
        assert f"aot_avgpool2d_{kind}_f32" in used and "aot_avgpool2d_f32" not in used, \
            sorted(used)
        got = compiled.run(feeds)
        for name in names:
            assert got[name].shape == ref[name].shape, name
            scale = max(1.0, float(np.abs(ref[name]).max()))
            err = float(np.abs(got[name] - ref[name]).max()) / scale
            assert err <= 1e-6, f"{kind} {name}: max error {err:.2e} of the largest output"


# ---- int8 fully connected on blocked weights (aot_fully_connected_avx512_s8) ----------------

def test_int8_fully_connected_blocks_bit_exact(tmp_path):
    """aot_fully_connected_avx512_s8 reads weights re-laid out as blocks of 16 outputs x
    64 inputs (rules_x86.fc_blocks): n 1, 13, 40, 150 and 390 (partial blocks), k 1, 8,
    100, 640, 700 and 1665 (partial 64-byte steps), a batch of 3; bit-exact with the
    portable kernel, and the same bits when the batch-1 layer is cut across 3 workers
    (16-column blocks of the re-laid weights)."""
    need_avx512()
    from aot.targets.rules_x86 import fc_blocks

    w = np.arange(13 * 70, dtype=np.int64).reshape(13, 70) % 251 - 125
    blocks = fc_blocks(w.astype(np.int8))
    assert blocks.shape == (1, 2, 16, 64) and not blocks[0, :, 13:].any()
    assert (blocks[0, 1, :13, :6] == w[:, 64:]).all() and not blocks[0, 1, :, 6:].any()

    rng = np.random.default_rng(11)
    shapes = [("n1", 100, 1), ("n13_k1665", 1665, 13), ("n40_k8", 8, 40),
              ("n150_k640", 640, 150), ("k1", 1, 40)]
    inputs, nodes, inits, outs = [], [], [], []
    for name, k, n in shapes:
        inputs.append(helper.make_tensor_value_info(f"{name}_x", TensorProto.FLOAT, [3, k]))
        inits += [numpy_helper.from_array((rng.standard_normal((n, k)) / np.sqrt(k))
                                          .astype(np.float32), f"{name}_w"),
                  numpy_helper.from_array(rng.standard_normal(n).astype(np.float32), f"{name}_b")]
        nodes.append(helper.make_node("Gemm", [f"{name}_x", f"{name}_w", f"{name}_b"],
                                      [f"{name}_y"], name=name, transB=1))
        outs.append(f"{name}_y")
    # one batch-1 layer too (the column split)
    inputs.append(helper.make_tensor_value_info("one_x", TensorProto.FLOAT, [1, 700]))
    inits += [numpy_helper.from_array((rng.standard_normal((390, 700)) / 25).astype(np.float32),
                                      "one_w")]
    nodes.append(helper.make_node("Gemm", ["one_x", "one_w"], ["one_y"], name="one", transB=1))
    outs.append("one_y")
    graph = helper.make_graph(nodes, "fc", inputs,
                              [helper.make_tensor_value_info(o, TensorProto.FLOAT, None)
                               for o in outs], inits)
    model = shape_inference.infer_shapes(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    shapes_of = {i.name: [d.dim_value for d in i.type.tensor_type.shape.dim] for i in inputs}
    calib = tmp_path / "calib.npz"
    np.savez(calib, **{x: rng.standard_normal((4, *s_)).astype(np.float32)
                       for x, s_ in shapes_of.items()})
    feed = {x: (rng.standard_normal(s_) * 2).astype(np.float32) for x, s_ in shapes_of.items()}
    results = {}
    for kind in ("portable", "avx512"):
        compiled = aot.compile(model.SerializeToString(), TARGET, out_dir=str(tmp_path / kind),
                               options=aot.Options(name="fc", kernels=kind, quantize="int8",
                                                   calibration=str(calib)))
        used = [c_.kernel for c_ in compiled.compilation.program.calls]
        if kind == "avx512":
            assert used.count("aot_fully_connected_avx512_s8") == len(outs), used
            split = {l_["name"]: l_["split"] for l_ in compiled.manifest["layers"]}
            assert split["one"] == "cols", split
        results[kind] = compiled.run(feed)
        if kind == "avx512":
            results["threads"] = compiled.run(feed, threads=3)
    for name, ref in results["portable"].items():
        assert ref.std() > 0, name
        np.testing.assert_array_equal(results["avx512"][name], ref, err_msg=name)
        np.testing.assert_array_equal(results["threads"][name], ref, err_msg=f"3 workers: {name}")


# ---- int8 depthwise on small planes, quads in registers (aot_depthwise_conv2d_regs_avx512_s8) -

REGS = "aot_depthwise_conv2d_regs_avx512_s8"


@pytest.mark.parametrize("c,h,w,batch", [
    (17, 3, 3, 1), (2, 6, 6, 2), (5, 25, 5, 1), (4, 1, 1, 1), (5, 12, 12, 2),
    *(pytest.param(*shape, marks=pytest.mark.slow) for shape in
      ((3, 8, 16, 1), (2, 2, 2, 1), (6, 11, 11, 1), (3, 1, 29, 1), (3, 23, 9, 1)))])
def test_int8_depthwise_small_planes_regs_bit_exact(c, h, w, batch, tmp_path):
    """Depthwise on planes of at most 128 pixels (1x1, 2x2, 3x3, 6x6, KWS's 25x5, 8x16 =
    128 exactly, 11x11, a 1-pixel-high row) and larger ones read through a window per
    output vector (12x12, 23x9: rows narrower than a vector, strides 2 and 3), 2 to 17
    channels (not multiples of 4 or 16; one channel is a dense conv), a batch of 2:
    'same' and asymmetric padding, padding past the kernel's reach, strides 2
    (TF-'same' and symmetric padding) and (3, 2), dilation, kernel_w 1 to 4,
    depthwise multiplier 2, ReLU; inputs beyond the calibrated range (saturated codes).
    aot_depthwise_conv2d_regs_avx512_s8 is chosen (for the convs `dw_regs_preferred` and
    `dw_regs_tables` give it), every output bit-exact with the portable kernel."""
    need_avx512()
    parts = [_conv("same3", "x", c, c, (3, 3), pads=(1, 1, 1, 1), group=c, relu=True, seed=1),
             _conv("s2_pad1", "x", c, 2 * c, (3, 3), stride=(2, 2), pads=(1, 1, 1, 1),
                   group=c, seed=3),
             _conv("k4_over", "x", c, c, (2, 4), pads=(2, 4, 1, 3), group=c, seed=4),
             _conv("k1x2_s32", "x", c, c, (1, 2), stride=(3, 2), pads=(0, 1, 0, 1), group=c,
                   seed=5),
             _conv("d2", "x", c, c, (3, 3), pads=(2, 2, 2, 2), dil=(2, 2), group=c, seed=6),
             _conv("k1", "x", c, c, (1, 1), group=c, seed=7)]
    if h >= 2 and w >= 2:
        parts.append(_conv("s2_same", "x", c, c, (3, 3), stride=(2, 2), pads=(0, 0, 1, 1),
                           group=c, seed=2))
    if h >= 3 and w >= 3:
        parts.append(_conv("valid", "x", c, c, (3, 3), group=c, seed=8))
    _portable_vs_avx512(parts, c, h, w, tmp_path, "aot_depthwise_conv2d_s8", want=(REGS,),
                        batch=batch)


def test_dw_regs_tables_cover_or_refuse():
    """dw_regs_channels: records only for aot_rq_avx512_fast's form; dw_regs_tables:
    None where an output vector reads more than 128 bytes (3x3 on rows of 64), for
    kernel_w 5, and where a lane's taps
    span more than 4 dwords (stride 4, kernel_w 4, pad_left 2: 16 bytes over 5 dwords); the
    record of 3x3 'same' on 3x3 picks each tap's byte and masks the padding."""
    from aot.program import ConstArray
    from aot.targets.rules_x86 import dw_regs_channels, dw_regs_tables

    # the per-channel requantization records: only where every channel has the fast
    # form (1 <= r <= 22, |output offset| <= 256); the rule keeps the rows kernels else
    def rq(shifts, offset=-128):
        return dw_regs_channels({"multipliers": ConstArray(np.full(len(shifts), 2**30 + 5)),
                                 "shifts": ConstArray(np.array(shifts)), "output_offset": offset})
    assert rq([-1, -22]) is not None
    assert rq([-1, 0]) is None and rq([-23]) is None and rq([2]) is None
    assert rq([-3], offset=257) is None
    rec = rq([-3], offset=-5)[0].astype(np.int64)
    assert list(rec[:3]) == [2**30 + 5, 34, 2]
    c_pos = rec[4] % 2**32 + (rec[5] << 32)
    assert c_pos == 2**30 + 2**33 - 5 * 2**34 and (rec[6] % 2**32 + (rec[7] << 32)) == c_pos - 2**31

    base = dict(kernel_h=3, kernel_w=3, stride_h=1, stride_w=1, dilation_h=1, dilation_w=1,
                pad_top=1, pad_left=1)
    assert dw_regs_tables({**base, "in_h": 12, "in_w": 64, "out_h": 12, "out_w": 64}) is None
    t = dw_regs_tables({**base, "in_h": 12, "in_w": 12, "out_h": 12, "out_w": 12})
    # window starts: each vector's first input byte read (row above, column left)
    assert t.size == 9 * 3 * 34 + 9 and list(t[-9:]) == [0, 3, 19, 36, 51, 67, 84, 99, 115]
    assert dw_regs_tables({**base, "kernel_w": 5, "in_h": 6, "in_w": 6, "out_h": 6,
                           "out_w": 6}) is None
    assert dw_regs_tables({**base, "kernel_w": 4, "stride_w": 4, "pad_left": 2, "in_h": 1,
                           "in_w": 64, "out_h": 1, "out_w": 16}) is None
    t = dw_regs_tables({**base, "in_h": 3, "in_w": 3, "out_h": 3, "out_w": 3})
    assert t.shape == (3 * 34 + 1,) and t[-1] == 0
    t = t[:-1].reshape(1, 3, 34)
    shuf = t[..., 16:32].view(np.uint8).reshape(3, 64)
    perm = t[..., :16]
    bits = t[..., 32].astype(np.int64) % 2**32 + (t[..., 33].astype(np.int64) % 2**32 << 32)
    for ky in range(3):
        for pix in range(9):
            lane, i = divmod(pix, 4)
            oy, ox = divmod(pix, 3)
            for kx in range(3):
                byte = 16 * lane + 4 * i + kx
                iy, ix = oy + ky - 1, ox + kx - 1
                inside = 0 <= iy < 3 and 0 <= ix < 3
                assert (int(bits[0, ky]) >> byte) & 1 == inside
                if inside:
                    s_ = shuf[ky, byte]
                    assert 4 * perm[0, ky, 4 * lane + s_ // 4] + s_ % 4 == iy * 3 + ix


# ---- int8 stride-2 depthwise from row quads (aot_depthwise_conv2d_rows_s2_avx512_s8) --------

@pytest.mark.parametrize("c,h,w,batch", [(3, 17, 37, 1), (2, 13, 37, 2), (2, 5, 70, 1)])
def test_int8_depthwise_stride2_rows_bit_exact(c, h, w, batch, tmp_path):
    """stride_w 2 depthwise on odd planes, rows of 1 to 3 vectors of quads (windows
    reaching past the row on either side), inputs saturated at -128/127: TF-'same'
    and symmetric padding, stride_h 1/2/3, dilation_h 2, kernel_w 1/2/4, a pad_left
    equal to the kernel width, depthwise multiplier 2, a batch of 2 (the channel built
    ahead crosses into the next batch element)."""
    need_avx512()
    _portable_vs_avx512(
        [_conv("s2_same", "x", c, c, (3, 3), stride=(2, 2), pads=(0, 0, 1, 1), group=c,
               seed=1),
         _conv("s2_pad1", "x", c, c, (3, 3), stride=(2, 2), pads=(1, 1, 1, 1), group=c,
               relu=True, seed=2),
         _conv("s2_k4", "x", c, c, (4, 4), stride=(2, 2), pads=(1, 2, 2, 1), group=c, seed=3),
         _conv("s32", "x", c, 2 * c, (3, 3), stride=(3, 2), pads=(1, 1, 1, 1), group=c, seed=4),
         _conv("s12_d2", "x", c, c, (3, 2), stride=(1, 2), dil=(2, 1), pads=(2, 0, 2, 3),
               group=c, seed=5),
         _conv("k1_s2", "x", c, c, (1, 1), stride=(2, 2), group=c, seed=6),
         _conv("wide_pad", "x", c, c, (2, 3), stride=(2, 2), pads=(0, 3, 1, 3), group=c,
               seed=7)],
        c, h, w, tmp_path, "aot_depthwise_conv2d_s8",
        want=("aot_depthwise_conv2d_rows_s2_avx512_s8",), batch=batch)


@pytest.mark.parametrize("c_in,h,w", [(32, 3, 3), (40, 6, 6), (33, 4, 5)])
def test_float_pointwise_few_pixels_avx512_matches_onnxruntime(c_in, h, w, tmp_path):
    """The output-channels-in-lanes path of aot_conv2d_avx512_f32 (1x1 on at most 24
    or 33..48 pixels, chunks of up to 12 pixels): out_c 1, 17 (a partial block), 40
    (two blocks and a partial one) and 64, with and without bias and activation."""
    need_avx512()
    parts = [_conv("one", "x", c_in, 1, (1, 1), seed=1),
             _conv("c17", "x", c_in, 17, (1, 1), relu=True, seed=2),
             _conv("c40", "x", c_in, 40, (1, 1), seed=3),
             _conv("c64", "x", c_in, 64, (1, 1), relu=True, seed=4)]
    del parts[2][1][1]                                 # c40 without bias
    parts[2][0][0].input.pop()
    _float_parts_vs_ort(parts, c_in, h, w, tmp_path, {"aot_conv2d_avx512_f32"})


@pytest.mark.parametrize("c,h,w,batch", [(3, 9, 17, 2), (2, 5, 70, 1)])
def test_int8_depthwise_stride1_wide_rows_bit_exact(c, h, w, batch, tmp_path):
    """aot_depthwise_conv2d_rows_avx512_s8 on rows of 16 pixels or more, whose quads
    are built a row at a time (dilation_w <= 4): rows of 1 to 5 vectors with tails,
    padding on either side up to the kernel's reach, kernel_w 1 to 4, dilation_w 2 and 4
    -- and dilation_w 5, which keeps the 16-pixel build; a batch of 2."""
    need_avx512()
    _portable_vs_avx512(
        [_conv("same3", "x", c, c, (3, 3), pads=(1, 1, 1, 1), group=c, relu=True, seed=1),
         _conv("k4_d2", "x", c, c, (2, 4), pads=(1, 3, 0, 3), dil=(1, 2), group=c, seed=2),
         _conv("k2_d4", "x", c, 2 * c, (3, 2), pads=(2, 2, 0, 2), dil=(1, 4), group=c,
               seed=3),
         _conv("k1", "x", c, c, (3, 1), pads=(1, 0, 1, 0), group=c, seed=4),
         _conv("k2_d5", "x", c, c, (1, 2), pads=(0, 5, 0, 0), dil=(1, 5), group=c, seed=5)],
        c, h, w, tmp_path, "aot_depthwise_conv2d_s8",
        want=("aot_depthwise_conv2d_rows_avx512_s8",), batch=batch)


@pytest.mark.parametrize("c_in", [1, 3])
def test_float_narrow_conv_avx512_matches_onnxruntime(c_in, tmp_path):
    """aot_conv2d_avx512_f32 on at most 4 input channels, a kernel above 1x1, output
    rows narrower than 16 (the column-tap planes): KWS's first layer (10x4, stride 2,
    asymmetric padding, 64 channels), out_c 1 and 20, stride (2,1) with dilation,
    stride 3 (48 pixels, the fewest the column-tap planes take)."""
    need_avx512()
    _float_parts_vs_ort(
        [_conv("kws", "x", c_in, 64, (10, 4), stride=(2, 2), pads=(4, 1, 5, 1), relu=True,
               seed=1),
         _conv("one", "x", c_in, 1, (3, 3), pads=(1, 1, 1, 1), seed=2),
         _conv("s21_d2_20", "x", c_in, 20, (3, 2), stride=(2, 1), dil=(2, 2), seed=3),
         _conv("s3_33", "x", c_in, 33, (2, 2), stride=(3, 3), relu=True, seed=4)],
        c_in, 49, 10, tmp_path, {"aot_conv2d_avx512_f32"})


@pytest.mark.parametrize("c,h,w", [(20, 13, 11), (6, 9, 7),
                                   pytest.param(9, 5, 3, marks=pytest.mark.slow)])
def test_float_packed_conv_avx512_matches_onnxruntime(c, h, w, tmp_path):
    """The matrix-product path of aot_conv2d_avx512_f32 (weights packed in blocks of
    16 channels, tiles of 8/4/2/1 channels x 1-3 pixel vectors): out_c 1, 2, 3, 21 and
    40 (partial tiles and blocks), pixel counts leaving 0-4 vectors after the columns
    of 3, 3x3 'same', stride 2 with asymmetric padding, stride (2,1), 1x1 stride 2,
    dilation 2, 5x5, each fused activation. 37 and 40 channels on rows of at most 16
    take the channels-in-lanes path, their 16-channel thread parts the matrix
    product: 1-3 workers give the same bits."""
    need_avx512()
    parts = [_dw_act(_conv("pw21", "x", c, 21, (1, 1), seed=1), "HardSwish", 1),
             _conv("pw3", "x", c, 3, (1, 1), relu=True, seed=2),
             _dw_act(_conv("pw2", "x", c, 2, (1, 1), seed=3), "Clip", 3),
             _dw_act(_conv("pw1", "x", c, 1, (1, 1), seed=4), "LeakyRelu", 4),
             _conv("k3_37", "x", c, 37, (3, 3), pads=(1, 1, 1, 1), relu=True, seed=5),
             _dw_act(_conv("k3s2_17", "x", c, 17, (3, 3), stride=(2, 2), pads=(0, 1, 1, 0),
                           seed=6), "HardSigmoid", 6),
             _conv("k32s21_9", "x", c, 9, (3, 2), stride=(2, 1), pads=(1, 0, 1, 1), seed=7),
             _conv("pws2_9", "x", c, 9, (1, 1), stride=(2, 2), seed=8),
             _conv("k3d2_6", "x", c, 6, (3, 3), pads=(2, 2, 2, 2), dil=(2, 2), seed=9),
             _conv("k5_40", "x", c, 40, (5, 5), pads=(2, 2, 2, 2), seed=10)]
    compiled = _float_parts_vs_ort(parts, c, h, w, tmp_path, {"aot_conv2d_avx512_f32"})
    feed = {"x": np.random.default_rng(3).standard_normal((1, c, h, w)).astype(np.float32)}
    one = compiled.run(feed)
    for n in (2, 3):
        many = compiled.run(feed, threads=n)
        assert all(np.array_equal(one[k], many[k]) for k in one), f"{n} workers"


def test_int8_depthwise_stride1_narrow_dilated_rows_bit_exact(tmp_path):
    """Rows narrower than 16 pixels (quads shuffled out of 64-byte plane windows that
    span rows, byte masks for the taps outside a row) with dilation_w 3 and 4, and 5
    (the tap-by-tap build), padding reaching past the kernel on either side; planes of
    at most 64 pixels (quads built a channel ahead) in a batch of 2."""
    need_avx512()
    c = 4
    _portable_vs_avx512(
        [_conv("k3_d3", "x", c, c, (2, 3), pads=(1, 3, 0, 3), dil=(1, 3), group=c, seed=1),
         _conv("k4_d4", "x", c, c, (3, 4), pads=(1, 6, 1, 6), dil=(2, 4), group=c, relu=True,
               seed=2),
         _conv("k2_d5", "x", c, 2 * c, (1, 2), pads=(0, 2, 0, 3), dil=(1, 5), group=c,
               seed=3)],
        c, 7, 9, tmp_path, "aot_depthwise_conv2d_s8",
        want=("aot_depthwise_conv2d_rows_avx512_s8",), batch=2)


# ---- float depthwise with channels in lanes, float few-column transposes -------------------

def _dw_act(parts, act, seed):
    """A depthwise _conv result followed by the activation `act` (an ONNX op name)."""
    nodes, inits, out = parts
    attrs = {"LeakyRelu": {"alpha": 0.1}, "Clip": {}}.get(act, {})
    extra = []
    if act == "Clip":
        for name, v in ((f"{out}_lo", 0.0), (f"{out}_hi", 6.0)):
            inits = [*inits, numpy_helper.from_array(np.array(v, np.float32), name)]
            extra.append(name)
    node = helper.make_node(act, [out, *extra], [f"{out}_{act}"], name=f"{out}_{act}", **attrs)
    return [*nodes, node], inits, f"{out}_{act}"


@pytest.mark.parametrize("c,h,w,batch", [(21, 7, 9, 1), (18, 1, 1, 2),
                                         pytest.param(19, 6, 6, 1, marks=pytest.mark.slow),
                                         pytest.param(16, 2, 3, 1, marks=pytest.mark.slow),
                                         pytest.param(37, 9, 8, 2, marks=pytest.mark.slow),
                                         pytest.param(17, 14, 14, 1, marks=pytest.mark.slow)])
def test_float_depthwise_avx512_lanes_match_onnxruntime(c, h, w, batch, tmp_path):
    """aot_depthwise_conv2d_lanes_avx512_f32 (16 channels per vector, input
    transposed into a zero-bordered plane in scratch; rules_x86.dw_f32_lanes): channel counts
    not a multiple of 16 (a partial last group), planes down to 1x1, 3x3 and 5x5 at
    stride 1 and 2 (the unrolled forms) with 'same', 'valid' and asymmetric padding,
    stride 3, (2,1) and dilation (the generic form), a 1x4 kernel, multiplier 2, and
    each fused activation (Relu, Clip, HardSwish, LeakyRelu, HardSigmoid)."""
    need_avx512()
    dw = "aot_depthwise_conv2d_lanes_avx512_f32"
    _float_parts_vs_ort(
        [_dw_act(_conv("l3", "x", c, c, (3, 3), pads=(1, 1, 1, 1), group=c, seed=1), "Relu", 1),
         _dw_act(_conv("l5", "x", c, c, (5, 5), pads=(2, 2, 2, 2), group=c, seed=2),
                 "HardSwish", 2),
         _conv("l3s2", "x", c, c, (3, 3), stride=(2, 2), pads=(0, 0, 2, 2), group=c, seed=3),
         _dw_act(_conv("l5s2", "x", c, c, (5, 5), stride=(2, 2), pads=(2, 2, 2, 2), group=c,
                       seed=4), "Clip", 4),
         _dw_act(_conv("l3d2", "x", c, c, (3, 3), pads=(2, 2, 2, 2), dil=(2, 2), group=c,
                       seed=5), "LeakyRelu", 5),
         _conv("l3s3", "x", c, c, (3, 3), stride=(3, 3), pads=(1, 1, 1, 1), group=c, seed=6),
         _dw_act(_conv("l3s21", "x", c, c, (3, 3), stride=(2, 1), pads=(1, 1, 1, 1), group=c,
                       seed=7), "HardSigmoid", 7),
         _conv("l14", "x", c, c, (1, 4), pads=(0, 1, 0, 2), group=c, seed=8),
         _conv("lmult2", "x", c, 2 * c, (3, 3), pads=(1, 1, 1, 1), group=c, seed=9),
         _conv("l5asym", "x", c, c, (5, 5), pads=(2, 3, 2, 1), group=c, relu=True, seed=10)],
        c, h, w, tmp_path, {dw}, batch=batch)


@pytest.mark.parametrize("c,h,w", [(21, 7, 6), pytest.param(17, 4, 8, marks=pytest.mark.slow)])
def test_float_depthwise_lanes_narrow_rows_match_onnxruntime(c, h, w, tmp_path):
    """The lanes kernel's 3x3 stride-1 path for rows of at most 8 pixels (weights in
    registers, two output rows per block): 'same', 'valid' and asymmetric padding (rows
    of w, w - 2, w - 1 pixels; an odd number of rows leaves a single-row block), a
    partial last group of channels, multiplier 2, fused Relu and Clip."""
    need_avx512()
    dw = "aot_depthwise_conv2d_lanes_avx512_f32"
    _float_parts_vs_ort(
        [_dw_act(_conv("n_same", "x", c, c, (3, 3), pads=(1, 1, 1, 1), group=c, seed=1),
                 "Relu", 1),
         _conv("n_valid", "x", c, c, (3, 3), group=c, seed=2),
         _conv("n_asym", "x", c, c, (3, 3), pads=(0, 1, 2, 0), group=c, seed=3),
         _dw_act(_conv("n_mult2", "x", c, 2 * c, (3, 3), pads=(1, 1, 1, 1), group=c, seed=4),
                 "Clip", 4)],
        c, h, w, tmp_path, {dw})


def test_float_depthwise_strided_large_planes_take_the_row_path(tmp_path):
    """3x3 stride 2 on 1024 input pixels and more, output rows ending in a vector at
    least half full: rules_x86.dw_f32_lanes leaves 16+ channels to the per-plane kernel
    (its stride-2 row path), and the result matches onnxruntime; a 5x5 kernel on the
    same plane stays in lanes."""
    need_avx512()
    from aot.targets.rules_x86 import dw_f32_lanes

    def p(c, h, w, k, out):
        return dict(out_c=c, in_h=h, in_w=w, out_h=out, out_w=out, kernel_h=k, kernel_w=k,
                    stride_h=2, stride_w=2, dilation_h=1, dilation_w=1)
    assert not dw_f32_lanes(p(16, 48, 48, 3, 24)) and not dw_f32_lanes(p(16, 32, 32, 3, 16))
    assert dw_f32_lanes(p(96, 40, 40, 3, 20)) and dw_f32_lanes(p(96, 40, 40, 5, 20))
    c = 17
    _float_parts_vs_ort(
        [_dw_act(_conv("s2", "x", c, c, (3, 3), stride=(2, 2), pads=(1, 1, 1, 1), group=c,
                       seed=1), "Relu", 1),
         _conv("s2v", "x", c, c, (3, 3), stride=(2, 2), pads=(0, 0, 1, 1), group=c, seed=2)],
        c, 32, 32, tmp_path, {"aot_depthwise_conv2d_avx512_f32"})


# ---- float convolutions on channel-blocked ("c16") activations -----------------------------

C16_CHECK_C = r"""
#include "aot_kernels.h"

void run(int32_t pointwise, const int32_t *g, const float *a, const float *x, const float *w,
         const float *b, float *y, void *scratch)
{
    aot_conv2d_c16_params p = {0};
    p.conv.batch = g[0]; p.conv.in_c = g[1]; p.conv.in_h = g[2]; p.conv.in_w = g[3];
    p.conv.out_c = g[4]; p.conv.out_h = g[5]; p.conv.out_w = g[6]; p.conv.kernel_h = g[7];
    p.conv.kernel_w = g[8]; p.conv.stride_h = g[9]; p.conv.stride_w = g[10];
    p.conv.dilation_h = g[11]; p.conv.dilation_w = g[12]; p.conv.pad_top = g[13];
    p.conv.pad_left = g[14]; p.conv.groups = g[15]; p.conv.act.kind = g[16];
    p.input_c16 = g[17]; p.output_c16 = g[18];
    p.conv.act.alpha = a[0]; p.conv.act.beta = a[1]; p.conv.act.lo = a[2]; p.conv.act.hi = a[3];
    if (pointwise) {
        aot_pointwise_conv2d_c16_avx512_f32(&p, x, w, b, y, scratch);
    } else {
        aot_depthwise_conv2d_c16_avx512_f32(&p, x, w, b, y, scratch);
    }
}
"""

C16_ACTS = {"none": (0, None), "relu": (1, (0.0, np.inf)), "relu6": (2, (0.0, 6.0))}


@pytest.fixture(scope="module")
def c16_lib(tmp_path_factory):
    need_avx512()
    from aot.targets.toolchain import host_cc

    d = tmp_path_factory.mktemp("c16")
    (d / "check.c").write_text(C16_CHECK_C)
    host_cc().shared_library(
        [str(d / "check.c"), str(RUNTIME / "aot_depthwise_conv2d_c16_avx512_f32.c"),
         str(RUNTIME / "aot_pointwise_conv2d_c16_avx512_f32.c")],
        str(d / "check.so"), [str(RUNTIME)], ("-O2", "-march=x86-64-v4"))
    return ctypes.CDLL(str(d / "check.so")).run


def _to_c16(a):
    """[C][H][W] -> [C / 16][H][W][16], flat."""
    c, h, w = a.shape
    return np.ascontiguousarray(a.reshape(c // 16, 16, h, w).transpose(0, 2, 3, 1)).reshape(-1)


def _from_c16(flat, c, h, w):
    return flat.reshape(c // 16, h, w, 16).transpose(0, 3, 1, 2).reshape(c, h, w)


def _c16_call(run, pointwise, p, act, in_c16, out_c16, x, wt, b, nbytes, shift=0):
    """One kernel call on the fields dict p with guard bytes after the output and
    around a NaN-filled scratch of exactly nbytes; returns the output (flat)."""
    ptr = ctypes.c_void_p
    kind, bounds = C16_ACTS[act]
    lo, hi = bounds if bounds else (0.0, 0.0)
    g = np.array([1, p["in_c"], p["in_h"], p["in_w"], p["out_c"], p["out_h"], p["out_w"],
                  p["kernel_h"], p["kernel_w"], p["stride_h"], p["stride_w"], p["dilation_h"],
                  p["dilation_w"], p["pad_top"], p["pad_left"], p["groups"], kind,
                  int(in_c16), int(out_c16)], np.int32)
    a = np.array([0.0, 0.0, lo, hi], np.float32)
    size = p["out_c"] * p["out_h"] * p["out_w"]
    y = np.full(size + 16, 7.0, np.float32)
    raw = np.full(nbytes + shift + 128, 0xA5, np.uint8)
    base = -raw.ctypes.data % 64 + shift
    raw[base:base + nbytes].view(np.float32)[:] = np.nan
    run(int(pointwise), g.ctypes.data_as(ptr), a.ctypes.data_as(ptr), x.ctypes.data_as(ptr),
        wt.ctypes.data_as(ptr), None if b is None else b.ctypes.data_as(ptr),
        y.ctypes.data_as(ptr), ctypes.c_void_p(raw.ctypes.data + base))
    assert (raw[base + nbytes:] == 0xA5).all() and (raw[:base] == 0xA5).all(), \
        "wrote outside the scratch"
    assert (y[size:] == 7.0).all(), "wrote past the output"
    return y[:size]


def _c16_check(run, pointwise, p, act, x, wt, b, ref, scratch_of, parts_of):
    """Every layout combination the channel counts allow: within 1e-5 (of the largest
    output) of ref, at two scratch alignments; and each split into thread parts
    (pointers advanced as the lowering advances them) bit-identical to the whole call."""
    kind, bounds = C16_ACTS[act]
    if bounds:
        ref = np.clip(ref, *bounds)
    c_in, c_out = x.shape[0], ref.shape[0]
    in_plane, out_plane = x[0].size, ref[0].size
    for in_c16 in (False, True) if c_in % 16 == 0 else (False,):
        for out_c16 in (False, True) if c_out % 16 == 0 else (False,):
            what = f"{p} {act} in_c16={in_c16} out_c16={out_c16}"
            xf = _to_c16(x) if in_c16 else np.ascontiguousarray(x).reshape(-1)
            nbytes = scratch_of(p, in_c16, out_c16)
            whole = None
            for shift in (0, 36):
                y = _c16_call(run, pointwise, p, act, in_c16, out_c16, xf, wt, b, nbytes, shift)
                got = _from_c16(y, c_out, *ref.shape[1:]) if out_c16 else y.reshape(ref.shape)
                err = np.abs(got - ref).max() / max(1.0, np.abs(ref).max())
                assert err <= 1e-5, f"{what}: max error {err:.2e}"
                assert whole is None or (y == whole).all(), f"{what}: depends on the scratch"
                whole = y
            for cuts in parts_of(c_out):
                y = np.empty_like(whole)
                for first, count in cuts:
                    q = dict(p, out_c=count)
                    if not pointwise:
                        q.update(in_c=count, groups=count)
                    xs = xf[first * in_plane:] if not pointwise else xf
                    ws = wt[first * (p["in_c"] if pointwise else p["kernel_h"] * p["kernel_w"]):]
                    bs = None if b is None else b[first:]
                    y[first * out_plane:(first + count) * out_plane] = _c16_call(
                        run, pointwise, q, act, in_c16, out_c16, np.ascontiguousarray(xs),
                        np.ascontiguousarray(ws), None if bs is None else
                        np.ascontiguousarray(bs), nbytes)
                assert (y == whole).all(), f"{what}: thread parts {cuts} differ from one call"


def _c16_parts(c):
    """Thread splits in whole blocks of 16: one part per block, and a first block
    apart from the rest."""
    blocks = [(f, min(16, c - f)) for f in range(0, c, 16)]
    return [blocks] + ([[(0, 16), (16, c - 16)]] if c > 32 else [])


@pytest.mark.parametrize("c,h,w,k,stride,dil,pads,bias,act", [
    (64, 25, 5, (3, 3), (1, 1), 1, (1, 1, 1, 1), True, "relu"),      # KWS
    (16, 7, 7, (3, 3), (1, 1), 1, (1, 1, 1, 1), False, "relu6"),
    (48, 7, 7, (3, 3), (1, 1), 1, (0, 1, 2, 0), False, "none"),      # narrow rows, asymmetric
    (16, 6, 8, (3, 3), (1, 1), 1, (0, 0, 0, 0), True, "relu6"),      # narrow rows, unpadded
    (32, 9, 5, (3, 3), (1, 1), 1, (1, 2, 1, 0), True, "relu"),       # narrow rows, pad_left 2
    (32, 14, 14, (3, 3), (2, 2), 1, (0, 0, 1, 1), True, "none"),
    (48, 14, 14, (5, 5), (1, 1), 1, (2, 2, 2, 2), True, "relu6"),
    (32, 7, 7, (3, 3), (1, 1), 2, (2, 2, 2, 2), True, "none"),       # dilation 2
    (16, 25, 5, (5, 5), (2, 2), 1, (2, 1, 1, 2), True, "relu"),
    (32, 14, 14, (3, 3), (2, 1), 1, (1, 1, 1, 1), False, "relu"),
    (16, 14, 14, (1, 4), (1, 1), 1, (0, 1, 0, 2), True, "none"),     # the generic form
    (16, 1, 1, (3, 3), (1, 1), 1, (1, 1, 1, 1), True, "relu"),
])
def test_float_depthwise_c16_matches_numpy(c16_lib, c, h, w, k, stride, dil, pads, bias, act):
    """aot_depthwise_conv2d_c16_avx512_f32 called directly, in all 4 layout
    combinations (c16 / NCHW input and output), with exactly
    rules_x86.dw_f32_c16_scratch bytes of NaN-filled scratch: numpy's direct
    convolution in float64 within 1e-5 of the largest output, nothing written past
    the output or the scratch, and thread parts of whole blocks bit-identical to one
    call. Shapes: KWS's (64 channels, 25x5, 3x3), 16 / 32 / 48 channels, 7x7 / 14x14 /
    1x1 planes, stride 2 and (2, 1), 5x5, dilation 2, asymmetric padding, a 1x4
    kernel, with and without bias, ReLU / ReLU6 / none."""
    from aot.targets.rules_x86 import dw_f32_c16_scratch, dw_f32_lanes

    (kh, kw), (sh, sw), (pt, pl, pb, pr) = k, stride, pads
    oh = (h + pt + pb - (kh - 1) * dil - 1) // sh + 1
    ow = (w + pl + pr - (kw - 1) * dil - 1) // sw + 1
    p = dict(in_c=c, in_h=h, in_w=w, out_c=c, out_h=oh, out_w=ow, kernel_h=kh, kernel_w=kw,
             stride_h=sh, stride_w=sw, dilation_h=dil, dilation_w=dil, pad_top=pt,
             pad_left=pl, groups=c)
    assert dw_f32_lanes(p), p
    rng = np.random.default_rng(c * h + w + kh)
    x = rng.standard_normal((c, h, w)).astype(np.float32)
    wt = (rng.standard_normal((c, kh, kw)) / 3).astype(np.float32)
    b = rng.standard_normal(c).astype(np.float32) if bias else None
    xp = np.pad(x.astype(np.float64), ((0, 0), (pt, pb), (pl, pr)))
    ref = np.zeros((c, oh, ow)) + (0.0 if b is None else b[:, None, None])
    for ky in range(kh):
        for kx in range(kw):
            ref += wt[:, ky, kx, None, None] * xp[:, ky * dil:ky * dil + (oh - 1) * sh + 1:sh,
                                                  kx * dil:kx * dil + (ow - 1) * sw + 1:sw]
    _c16_check(c16_lib, False, p, act, x, wt.reshape(-1), b, ref, dw_f32_c16_scratch,
               _c16_parts)


@pytest.mark.parametrize("c_in,c_out,h,w,bias,act", [
    (64, 64, 25, 5, True, "relu"),      # KWS: 125 pixels, a last tile of 8 overlapping
    (16, 32, 7, 7, False, "relu6"),
    (32, 48, 14, 14, True, "none"),     # 2 + 1 blocks, 196 pixels
    (48, 16, 1, 1, True, "relu"),
    (16, 16, 2, 5, True, "none"),       # a plane smaller than a tile: 8 + 2 pixels
    (64, 32, 11, 1, False, "relu"),     # 8 + an overlapping 4
    (20, 24, 3, 3, True, "relu6"),      # NCHW only: partial blocks
    (16, 17, 4, 4, True, "none"),
])
def test_float_pointwise_c16_matches_numpy(c16_lib, c_in, c_out, h, w, bias, act):
    """aot_pointwise_conv2d_c16_avx512_f32 called directly (weights packed by
    rules_x86._pack_direct) in every layout combination the channel counts allow
    (c16 needs a multiple of 16), with rules_x86.pw_f32_c16_scratch bytes of scratch:
    a float64 matrix product within 1e-5 of the largest output, nothing written past
    the output, and thread parts of whole output blocks bit-identical to one call
    (tiles of one and of two blocks)."""
    from aot.targets.rules_x86 import _pack_direct, pw_f32_c16_scratch

    p = dict(in_c=c_in, in_h=h, in_w=w, out_c=c_out, out_h=h, out_w=w, kernel_h=1,
             kernel_w=1, stride_h=1, stride_w=1, dilation_h=1, dilation_w=1, pad_top=0,
             pad_left=0, groups=1)
    rng = np.random.default_rng(c_in * c_out + h * w)
    x = rng.standard_normal((c_in, h, w)).astype(np.float32)
    wt = (rng.standard_normal((c_out, c_in)) / np.sqrt(c_in)).astype(np.float32)
    b = rng.standard_normal(c_out).astype(np.float32) if bias else None
    ref = (wt.astype(np.float64) @ x.reshape(c_in, -1).astype(np.float64)).reshape(c_out, h, w)
    ref += 0.0 if b is None else b[:, None, None]
    _c16_check(c16_lib, True, p, act, x, _pack_direct(wt).reshape(-1), b, ref,
               pw_f32_c16_scratch, _c16_parts)


@pytest.mark.parametrize("c,h,w,kernel,pad,seed,want", [
    (600, 7, 7, 3, 1, 6, "lanes_avx512"),   # the narrow-row path: enough work to split
    (37, 31, 17, 5, 2, 3, "lanes_avx512"),  # 3 workers' parts start inside a group of 16
    (163, 14, 14, 3, 1, 7, "avx512"),       # padded flat: parts start inside a block of 8
], ids=["narrow", "groups", "pflat"])
def test_float_depthwise_lanes_same_for_every_thread_count(tmp_path, c, h, w, kernel, pad, seed,
                                                           want):
    """A split aot_depthwise_conv2d_lanes_avx512_f32, or aot_depthwise_conv2d_avx512_f32 on
    its padded-flat path (8 channels per block: 3 workers' parts of 163 channels regroup
    them), gives the same bits for 1, 2 and 3 threads."""
    need_avx512()
    nodes, inits, out = _conv("l", "x", c, c, (kernel, kernel), pads=(pad,) * 4, group=c,
                              seed=seed)
    graph = helper.make_graph(
        nodes, "t", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c, h, w])],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)], inits)
    model = shape_inference.infer_shapes(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    compiled = aot.compile(model.SerializeToString(), TARGET, out_dir=str(tmp_path / "m"),
                           options=aot.Options(name="t", kernels="avx512"))
    [layer] = compiled.manifest["layers"]
    assert (layer["kernel"], layer["split"]) == (f"aot_depthwise_conv2d_{want}_f32", "groups")
    x = np.random.default_rng(seed + 1).standard_normal((1, c, h, w)).astype(np.float32)
    one = compiled.run({"x": x}, threads=1)[out]
    for threads in (2, 3):
        assert compiled.run({"x": x}, threads=threads)[out].tobytes() == one.tobytes()


def test_float_transpose_few_columns_equals_numpy(tmp_path):
    """aot_transpose2d_{avx2,avx512}_f32 on every column count they take (2..8), rows
    around their 16/8-row steps and tails, batches of 1 and 3: y equals numpy's
    transpose bit for bit, and nothing past the output is written; and a model's
    NHWC -> NCHW Transpose lowers to them."""
    need_avx512()
    from aot.targets.rules_x86 import TRANSPOSE_MAX_COLS, transpose_perms_f32

    check = _transpose_check(tmp_path, "f32")
    rng = np.random.default_rng(9)
    ptr = ctypes.c_void_p
    for cols in range(2, TRANSPOSE_MAX_COLS + 1):
        for avx512, variant in ((0, "avx2"), (1, "avx512")):
            table = transpose_perms_f32(cols, variant)
            for rows in (1, 7, 8, 9, 15, 16, 17, 33, 9223):
                for batch in (1, 3):
                    x = rng.standard_normal((batch, rows, cols)).astype(np.float32)
                    want = np.ascontiguousarray(x.transpose(0, 2, 1))
                    y = np.full(x.size + 16, 77.0, np.float32)
                    check(ctypes.c_int32(avx512), ctypes.c_int32(batch), ctypes.c_int32(rows),
                          ctypes.c_int32(cols), x.ctypes.data_as(ptr),
                          table.ctypes.data_as(ptr), y.ctypes.data_as(ptr))
                    np.testing.assert_array_equal(
                        y[:x.size].reshape(want.shape), want,
                        err_msg=f"{variant} batch={batch} rows={rows} cols={cols}")
                    assert (y[x.size:] == 77.0).all()
    graph = helper.make_graph(
        [helper.make_node("Transpose", ["x"], ["y"], perm=[0, 3, 1, 2], name="nchw")], "t",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 9, 11, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 9, 11])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    x = rng.standard_normal((1, 9, 11, 3)).astype(np.float32)
    compiled = aot.compile(model.SerializeToString(), TARGET, out_dir=str(tmp_path / "m"),
                           options=aot.Options(name="t", kernels="avx512"))
    assert "aot_transpose2d_avx512_f32" in _kernels(compiled)
    np.testing.assert_array_equal(compiled.run({"x": x})["y"], x.transpose(0, 3, 1, 2))


# ---- aot_conv2d_lanes_avx512_s8 (output channels in lanes) ------------------------------

_I32P = ctypes.POINTER(ctypes.c_int32)


class _ConvS8Params(ctypes.Structure):   # aot_conv2d_s8_params (aot_types.h)
    _fields_ = [(n, ctypes.c_int32) for n in (
        "batch", "in_c", "in_h", "in_w", "out_c", "out_h", "out_w", "kernel_h", "kernel_w",
        "stride_h", "stride_w", "dilation_h", "dilation_w", "pad_top", "pad_left", "groups",
        "input_offset", "output_offset", "act_min", "act_max")] + [
        ("multipliers", _I32P), ("shifts", _I32P), ("weights_offsets", _I32P)]


# (in_c, out_c, in_h, in_w, (kh, kw), (sh, sw), (pad_top, pad_left, pad_bottom, pad_right),
#  (dh, dw), batch): odd widths, padding, strides 2, (2, 1) and 3, dilation, in_c not a
# multiple of 4, out_c 1, 20, 29, 33 (a pair of blocks and one), 1x1 with and without a
# stride (the subsampled copy, padded too; the flattened plane), 1x3 (rows subsampled),
# rows wider than one 64-pixel copy.
LANES_CASES = [
    (3, 16, 32, 32, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1),
    (16, 32, 17, 23, (1, 1), (2, 2), (0, 0, 0, 0), (1, 1), 1),
    (6, 1, 13, 17, (3, 3), (2, 2), (1, 1, 1, 1), (1, 1), 1),
    (5, 29, 9, 37, (3, 2), (2, 1), (0, 1, 1, 0), (1, 1), 1),
    (7, 33, 11, 19, (3, 3), (1, 1), (2, 2, 2, 2), (2, 2), 1),
    (20, 64, 8, 8, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1),
    (9, 16, 12, 41, (1, 1), (1, 1), (0, 0, 0, 0), (1, 1), 2),
    (4, 20, 10, 10, (2, 2), (3, 3), (0, 0, 0, 0), (1, 1), 1),
    (8, 48, 7, 9, (1, 1), (3, 3), (0, 0, 0, 0), (1, 1), 1),
    (16, 16, 3, 150, (1, 1), (2, 2), (0, 0, 0, 0), (1, 1), 1),
    (2, 17, 6, 70, (3, 3), (2, 2), (0, 0, 1, 1), (1, 1), 2),
    (32, 64, 16, 16, (3, 3), (2, 2), (1, 1, 1, 1), (1, 1), 1),
    (6, 16, 9, 21, (1, 1), (2, 2), (1, 1, 1, 1), (1, 1), 1),
    (5, 16, 11, 13, (1, 3), (2, 2), (0, 1, 0, 1), (1, 1), 1),
    # pixels in lanes (one block, rows of 32-pixel tiles): out_c 13 and 11 (a partial
    # group of 8), a narrow clamp, none, a fused ReLU's
    (7, 13, 6, 64, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1),
    (4, 11, 5, 32, (3, 1), (1, 1), (1, 0, 1, 0), (2, 1), 1),
    (5, 16, 4, 40, (1, 1), (1, 1), (0, 0, 0, 0), (1, 1), 2),
    # unpadded strided 1x1 (the subsampled plane as one row, lanes_strided_1x1): stride
    # (1, 2) on 5 channels (a last quad of one), (2, 1) on rows of 40 (pixels in lanes);
    # a bottom pad row read keeps the bordered rows
    (5, 24, 10, 9, (1, 1), (1, 2), (0, 0, 0, 0), (1, 1), 2),
    (7, 16, 9, 40, (1, 1), (2, 1), (0, 0, 0, 0), (1, 1), 1),
    (6, 20, 8, 8, (1, 1), (2, 2), (0, 0, 1, 1), (1, 1), 1),
    # the buffer's fill: rows of 4 pixels (whole rows in each vector), of 33 (vectors
    # across row ends)
    (5, 20, 6, 4, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1),
    (6, 11, 5, 33, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1),
    # pixels in lanes with a fused ReLU's clamp (index 1 mod 3): whole 32-pixel tiles
    # stored two channels at a time, an odd last channel (13 = 8 + 5)
    (9, 13, 4, 64, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1),
]


def test_int8_lanes_conv_kernel_bit_exact_with_portable(tmp_path):
    """aot_conv2d_lanes_avx512_s8 on LANES_CASES, weights and table packed by
    targets/rules_x86.py, against the portable aot_conv2d_s8 on the same parameters:
    random int8 data, multipliers in [2^30, 2^31) (and a 0) with shifts -1 to -22 (both
    ends), input and output offsets across their ranges, no clamp, a fused ReLU's (the
    kernel's positive_form) and a narrow clamp; the bytes
    past the output and past lanes_scratch are left alone."""
    need_avx512()
    from aot.targets.rules_x86 import lanes_scratch, lanes_table, lanes_weights
    from aot.targets.toolchain import host_cc

    lib_path = tmp_path / "lanes.so"
    host_cc().shared_library([str(RUNTIME / "aot_conv2d_lanes_avx512_s8.c"),
                              str(RUNTIME / "aot_conv2d_s8.c")], str(lib_path),
                             [str(RUNTIME)], ("-O2",))
    lib = ctypes.CDLL(str(lib_path))
    rng = np.random.default_rng(9)

    def ptr(a, t=ctypes.c_int32):
        return a.ctypes.data_as(ctypes.POINTER(t))

    for n, (ci, co, ih, iw, (kh, kw), (sh, sw), pads, (dh, dw), batch) in enumerate(LANES_CASES):
        oh = (ih + pads[0] + pads[2] - dh * (kh - 1) - 1) // sh + 1
        ow = (iw + pads[1] + pads[3] - dw * (kw - 1) - 1) // sw + 1
        out_off = int(rng.integers(-128, 128))
        act = [(-128, 127), (out_off, 127),
               (max(out_off - 40, -128), min(out_off + 50, 127))][n % 3]
        fields = dict(batch=batch, in_c=ci, in_h=ih, in_w=iw, out_c=co, out_h=oh, out_w=ow,
                      kernel_h=kh, kernel_w=kw, stride_h=sh, stride_w=sw, dilation_h=dh,
                      dilation_w=dw, pad_top=pads[0], pad_left=pads[1], groups=1,
                      input_offset=int(rng.integers(-127, 129)), output_offset=out_off,
                      act_min=act[0], act_max=act[1])
        mults = rng.integers(2**30, 2**31, co).astype(np.int32)
        # mostly shifts that spread the outputs; with 3 or more channels, channel 0 at -1
        # (weights in [-1, 1]) and channel 1 at -22, the fast form's ends
        shifts = -(8 + int(np.log2(ci * kh * kw)) // 2 + rng.integers(0, 3, co)).astype(np.int32)
        w = rng.integers(-128, 128, (co, ci, kh, kw)).astype(np.int8)
        if co > 2:
            shifts[:2] = -1, -22
            w[0] = rng.integers(-1, 2, (ci, kh, kw))
            mults[2] = 0   # a channel of a zero scale: its output is the zero point
        bias = rng.integers(-2**14, 2**14, co).astype(np.int32)
        x = rng.integers(-128, 128, (batch, ci, ih, iw)).astype(np.int8)
        p = _ConvS8Params(**fields, multipliers=ptr(mults), shifts=ptr(shifts))
        size = batch * co * oh * ow
        ref = np.zeros(size, np.int8)
        lib.aot_conv2d_s8(ctypes.byref(p), ptr(x, ctypes.c_int8), ptr(w, ctypes.c_int8),
                          ptr(bias), ptr(ref, ctypes.c_int8))
        w3 = w.astype(np.int64).reshape(co, ci, kh * kw)
        folded = (bias.astype(np.int64) + (fields["input_offset"] - 128) * w3.sum(axis=(1, 2)))
        packed = lanes_weights(w3, kh, kw)
        table = lanes_table(folded, mults, shifts, out_off)
        scratch = np.full(lanes_scratch(fields) // 4 + 16, 0x7B7B7B7B, np.int32)
        got = np.full(size + 64, 0x5A, np.int8)
        lib.aot_conv2d_lanes_avx512_s8(ctypes.byref(p), ptr(x, ctypes.c_int8), ptr(packed),
                                       ptr(table), ptr(got, ctypes.c_int8), ptr(scratch))
        assert len(np.unique(ref)) > min(size, 40) // 4, f"case {n}: degenerate data"
        np.testing.assert_array_equal(got[:size], ref, err_msg=f"case {n}")
        assert np.all(got[size:] == 0x5A), f"case {n}: wrote past the output"
        assert np.all(scratch[-16:] == 0x7B7B7B7B), f"case {n}: wrote past the scratch"


def test_int8_lanes_conv_routing_bit_exact(tmp_path):
    """The avx512 rule routes dense convolutions of >= 2 input channels, most of whose
    output lanes are used, to aot_conv2d_lanes_avx512_s8 (conv_s8_lanes), and a model of
    them (odd width, TF-'same' stride 2, dilation, 1x1 stride 2, 1x1 stride 1 on an
    odd plane, out_c 13 and 40) is bit-exact with the portable build; out_c 8 keeps the
    pixel tiles."""
    need_avx512()
    c = 10
    _portable_vs_avx512(
        [_conv("k3_same", "x", c, 40, (3, 3), pads=(1, 1, 1, 1), relu=True, seed=1),
         _conv("k3_s2_tf", "x", c, 13, (3, 3), stride=(2, 2), pads=(0, 0, 1, 1), seed=2),
         _conv("k3_d2", "x", c, 16, (3, 3), pads=(2, 2, 2, 2), dil=(2, 2), seed=3),
         _conv("k1_s2", "x", c, 32, (1, 1), stride=(2, 2), seed=4),
         _conv("k1", "x", c, 16, (1, 1), relu=True, seed=5),
         _conv("k3_8", "x", c, 8, (3, 3), pads=(1, 1, 1, 1), seed=6)],
        c, 13, 21, tmp_path, "aot_conv2d_s8",
        want=("aot_conv2d_lanes_avx512_s8", "aot_conv2d_avx512_s8"))


def _conv_f32_avx512_path(node, c, h, w) -> str:
    """The aot_conv2d_avx512_f32 path (rules_x86 predicates) a _conv node on [c, h, w]
    takes: "direct", "coltaps" or "planes" (phase planes, or the pointwise input)."""
    from aot.targets import rules_x86
    a = {x.name: helper.get_attribute_value(x) for x in node.attribute}
    (kh, kw), (sh, sw), (dh, dw) = a["kernel_shape"], a["strides"], a["dilations"]
    pt, pl, pb, pr = a["pads"]
    p = {"groups": a["group"], "in_c": c, "in_h": h, "in_w": w, "kernel_h": kh, "kernel_w": kw,
         "stride_h": sh, "stride_w": sw, "pad_top": pt, "pad_left": pl, "dilation_h": dh,
         "dilation_w": dw, "out_h": (h + pt + pb - (kh - 1) * dh - 1) // sh + 1,
         "out_w": (w + pl + pr - (kw - 1) * dw - 1) // sw + 1}
    if rules_x86.conv_f32_direct(p):
        return "direct"
    return "coltaps" if rules_x86.conv_f32_coltaps(p) else "planes"


@pytest.mark.parametrize("c,h,w,paths", [
    (6, 20, 37, {"direct", "coltaps", "planes"}),
    pytest.param(9, 13, 32, {"direct", "coltaps"}, marks=pytest.mark.slow),
    pytest.param(17, 12, 13, {"coltaps", "planes"}, marks=pytest.mark.slow)])
def test_float_conv_avx512_in_place_paths_match_onnxruntime(c, h, w, paths, tmp_path):
    """aot_conv2d_avx512_f32 on more than 4 input channels: the direct path (rows of
    16 pixels or more read in place, tiles of 3 vectors spanning rows, padding rows
    read as no lanes), the column-tap planes (narrower rows, 48 pixels or more) and
    the phase planes: odd widths, 'same' 3x3, stride 2, (1,2), (2,1) and 3, asymmetric
    padding, dilation 2, 1x1 stride 2, 5x5, out_c 1, 2, 3, 9, 17, 21, 33 and 40 (every
    channel tile 8/4/2/1, partial blocks), each fused activation; 1-3 workers (parts of
    16 channels) give the same bits."""
    need_avx512()
    parts = [_conv("same3_21", "x", c, 21, (3, 3), pads=(1, 1, 1, 1), relu=True, seed=1),
             _conv("s2_9", "x", c, 9, (3, 3), stride=(2, 2), pads=(1, 1, 1, 1), seed=2),
             _conv("s12_40", "x", c, 40, (3, 3), stride=(1, 2), pads=(1, 0, 1, 2), seed=3),
             _dw_act(_conv("d2_3", "x", c, 3, (3, 3), pads=(2, 2, 2, 2), dil=(2, 2), seed=4),
                     "HardSwish", 4),
             _conv("pws2_1", "x", c, 1, (1, 1), stride=(2, 2), seed=5),
             _dw_act(_conv("k5_17", "x", c, 17, (5, 5), pads=(2, 2, 2, 2), seed=6), "Clip", 6),
             _dw_act(_conv("k2x4s21_2", "x", c, 2, (2, 4), stride=(2, 1), pads=(0, 1, 1, 2),
                           seed=7), "LeakyRelu", 7),
             _conv("s3_33", "x", c, 33, (3, 3), stride=(3, 3), pads=(1, 1, 1, 1), relu=True,
                   seed=8)]
    assert {_conv_f32_avx512_path(n[0][0], c, h, w) for n in parts} == paths
    compiled = _float_parts_vs_ort(parts, c, h, w, tmp_path, {"aot_conv2d_avx512_f32"})
    feed = {"x": np.random.default_rng(5).standard_normal((1, c, h, w)).astype(np.float32)}
    one = compiled.run(feed)
    for n in (2, 3):
        many = compiled.run(feed, threads=n)
        assert all(np.array_equal(one[k], many[k]) for k in one), f"{n} workers"

# SPDX-License-Identifier: Apache-2.0
"""Bit-exactness tests of the int8 C kernels (runtime_c/*_s8.c) through ctypes.

Three references, from the cheapest to the most authoritative:

1. A numpy / pure-Python implementation of TFLite's integer formulas
   (tests/int8_reference.py) written from the TFLite and gemmlowp sources (common.h MultiplyByQuantizedMultiplier
   with double rounding, reference/integer_ops/{conv,depthwise_conv,
   fully_connected,add,pooling}.h, reference/softmax.h, gemmlowp
   fixedpoint.h). The requantization primitives are written in a closed form
   (SaturatingRoundingDoublingHighMul = round-half-up of a*b / 2^31,
   RoundingDivideByPOT = round-half-away of x / 2^e) that is checked against
   a literal port of the gemmlowp code, so the C helpers are compared with an
   independent formulation. Random shapes, odd channel counts, padding,
   strides, dilation, depthwise multipliers, per-channel multipliers with
   positive and negative shifts, extreme weights and inputs.
2. TensorFlow Lite Micro (the `tflite-micro` package, reference kernels) on
   the MLPerf Tiny int8 models, layer by layer: every conv, depthwise conv,
   fully connected, average pool, add and softmax layer is fed the input
   TFLM computed for it and must reproduce TFLM's output bit for bit, with
   the parameters derived here the way TFLM's Prepare derives them.
3. TFLM on single-op models cut out of those files and edited (shapes,
   weights, scales, options), for what the real models do not exercise:
   max pooling, dilation, depthwise multipliers > 1, broadcasting add,
   softmax over wide and narrow input ranges.

Every kernel also runs in an UndefinedBehaviorSanitizer build (signed
overflow, bad shifts), and the sources must compile warning-free with the
strict flags under gcc and zig's clang for Cortex-M0+/M4, where the integer
kernels must not call float or 64-bit-division helpers.
"""

from __future__ import annotations

import ctypes
import math
import os
import shutil
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

from conftest import MODELS, need
from int8_reference import (act_range, add_params, add_ref, conv_ref, fc_multiplier_ref, fc_ref,
                            g_clz, g_exp_on_negative_values, g_half_sum, g_one_over_one_plus_x,
                            g_rdbpot, g_reciprocal, g_srdhm, g_srmpot, mbqm, mbqm_gt1, mbqm_lt1,
                            mean_multiplier_ref, mean_ref, pool_ref, quantize_multiplier, rdbpot,
                            requant_ref, softmax_params, softmax_ref, srdhm, tfl_out_and_pad)

RUNTIME = Path(__file__).resolve().parent.parent / "runtime_c"
MAX_DIMS = 6
I32_MIN, I32_MAX = -(2**31), 2**31 - 1

S8_KERNELS = [
    "aot_conv2d_s8", "aot_conv2d_asym_s8", "aot_conv2d_s8_s32", "aot_fully_connected_s8",
    "aot_fully_connected_s8_s32", "aot_add_s8", "aot_maxpool2d_s8", "aot_avgpool2d_s8",
    "aot_mean_s8", "aot_softmax_s8", "aot_transpose_s8", "aot_clamp_s8", "aot_requantize_s8",
    "aot_quantize_f32_s8", "aot_dequantize_s8_f32",
]
INTEGER_KERNELS = [k for k in S8_KERNELS if "f32" not in k]
STRICT = ["-std=c99", "-pedantic", "-Wall", "-Wextra", "-Wconversion", "-Wshadow", "-Werror"]

i32 = ctypes.c_int32
f32 = ctypes.c_float
Dims = i32 * MAX_DIMS
i32_p = ctypes.POINTER(ctypes.c_int32)


# --- mirrors of aot_types.h ---------------------------------------------------


def _ints(*names):
    return [(n, i32) for n in names]


class Conv2dS8Params(ctypes.Structure):
    _fields_ = _ints(
        "batch", "in_c", "in_h", "in_w", "out_c", "out_h", "out_w", "kernel_h", "kernel_w",
        "stride_h", "stride_w", "dilation_h", "dilation_w", "pad_top", "pad_left", "groups",
        "input_offset", "output_offset", "act_min", "act_max",
    ) + [("multipliers", i32_p), ("shifts", i32_p), ("weights_offsets", i32_p)]


class FullyConnectedS8Params(ctypes.Structure):
    _fields_ = _ints("m", "n", "k", "input_offset", "weights_offset", "output_offset",
                     "act_min", "act_max", "multiplier", "shift") + [
        ("multipliers", i32_p), ("shifts", i32_p), ("weights_offsets", i32_p)]


class RequantizeS8Params(ctypes.Structure):
    _fields_ = _ints("size", "input_offset", "output_offset", "multiplier", "shift",
                     "act_min", "act_max")


class MeanS8Params(ctypes.Structure):
    _fields_ = _ints("outer", "reduce", "inner", "input_offset", "output_offset",
                     "multiplier", "shift", "act_min", "act_max")


class AddS8Params(ctypes.Structure):
    _fields_ = _ints("size", "ndim") + [
        ("dims", Dims), ("a_strides", Dims), ("b_strides", Dims),
    ] + _ints("a_offset", "a_multiplier", "a_shift", "b_offset", "b_multiplier", "b_shift",
              "left_shift", "output_offset", "output_multiplier", "output_shift",
              "act_min", "act_max")


class Pool2dParams(ctypes.Structure):
    _fields_ = _ints(
        "planes", "in_h", "in_w", "out_h", "out_w", "kernel_h", "kernel_w", "stride_h",
        "stride_w", "dilation_h", "dilation_w", "pad_top", "pad_left", "pad_bottom",
        "pad_right", "count_include_pad",
    )


class Pool2dS8Params(ctypes.Structure):
    _fields_ = [("pool", Pool2dParams)] + _ints("act_min", "act_max", "input_offset",
                                                "output_offset") + [
        ("count_multipliers", i32_p), ("count_shifts", i32_p)]


class SoftmaxS8Params(ctypes.Structure):
    _fields_ = _ints("outer", "depth", "input_multiplier", "input_left_shift", "diff_min")


class TransposeParams(ctypes.Structure):
    _fields_ = [("ndim", i32), ("out_dims", Dims), ("in_strides", Dims)]


class ClampS8Params(ctypes.Structure):
    _fields_ = _ints("size", "act_min", "act_max")


class QuantizeParams(ctypes.Structure):
    _fields_ = [("size", i32), ("scale", f32), ("zero_point", i32)]


# (ctypes mirror, C type name, the last field, whose offset is checked too)
LAYOUTS = [
    (Conv2dS8Params, "aot_conv2d_s8_params", "weights_offsets"),
    (FullyConnectedS8Params, "aot_fully_connected_s8_params", "weights_offsets"),
    (RequantizeS8Params, "aot_requantize_s8_params", "act_max"),
    (MeanS8Params, "aot_mean_s8_params", "act_max"),
    (AddS8Params, "aot_add_s8_params", "act_max"),
    (Pool2dS8Params, "aot_pool2d_s8_params", "count_shifts"),
    (SoftmaxS8Params, "aot_softmax_s8_params", "diff_min"),
    (TransposeParams, "aot_transpose_params", "in_strides"),
    (ClampS8Params, "aot_clamp_s8_params", "act_max"),
    (QuantizeParams, "aot_quantize_params", "zero_point"),
]


def seed(*parts) -> int:
    """A stable RNG seed (str hashes are salted per process)."""
    return zlib.crc32(repr(parts).encode())


def dims(values) -> Dims:
    values = [int(v) for v in values]
    return Dims(*(values + [0] * (MAX_DIMS - len(values))))


# --- build --------------------------------------------------------------------

# Test-only exports of the static inline helpers of aot_fixedpoint.h, over arrays.
HELPERS_C = r"""
#include <stddef.h>
#include "aot_kernels.h"
#include "aot_fixedpoint.h"

#define MAP2(name, expr) \
    void name(const int32_t *a, const int32_t *b, int32_t *y, int32_t n); \
    void name(const int32_t *a, const int32_t *b, int32_t *y, int32_t n) \
    { int32_t i; for (i = 0; i < n; ++i) { y[i] = (expr); } }
#define MAP3(name, expr) \
    void name(const int32_t *a, const int32_t *b, const int32_t *c, int32_t *y, int32_t n); \
    void name(const int32_t *a, const int32_t *b, const int32_t *c, int32_t *y, int32_t n) \
    { int32_t i; for (i = 0; i < n; ++i) { y[i] = (expr); } }

MAP2(t_srdhm, aot_sat_round_doubling_high_mul(a[i], b[i]))
MAP2(t_rdbpot, aot_rounding_divide_by_pot(a[i], b[i]))
MAP2(t_srmpot, aot_sat_round_mul_by_pot(a[i], b[i]))
MAP2(t_half_sum, aot_rounding_half_sum(a[i], b[i]))
MAP2(t_exp_neg, aot_fp_exp_on_negative_values(a[i], b[i]))
MAP2(t_one_over, aot_fp_one_over_one_plus_x_for_x_in_0_1(a[i]) + 0 * b[i])
MAP2(t_clz, aot_clz32((uint32_t)a[i]) + 0 * b[i])
MAP3(t_mbqm, aot_mul_by_quantized_multiplier(a[i], b[i], c[i]))
MAP3(t_mbqm_lt1, aot_mul_by_quantized_multiplier_smaller_than_one_exp(a[i], b[i], c[i]))
MAP3(t_mbqm_gt1, aot_mul_by_quantized_multiplier_greater_than_one(a[i], b[i], c[i]))

void t_reciprocal(const int32_t *a, const int32_t *b, int32_t *y, int32_t *bits, int32_t n);
void t_reciprocal(const int32_t *a, const int32_t *b, int32_t *y, int32_t *bits, int32_t n)
{
    int32_t i;
    for (i = 0; i < n; ++i) {
        y[i] = aot_fp_get_reciprocal(a[i], b[i], &bits[i]);
    }
}
"""


def layout_c() -> str:
    rows = ",\n".join(f"    sizeof({c}), offsetof({c}, {field})" for _, c, field in LAYOUTS)
    return f"const size_t aot_test_layout[] = {{\n{rows}\n}};\n"


def build(out: Path, name: str, extra: list[str]) -> ctypes.CDLL:
    cc = shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler (cc) on PATH")
    helpers = out / "helpers.c"
    helpers.write_text(HELPERS_C + layout_c())
    so = out / f"lib{name}.so"
    sources = [str(RUNTIME / f"{k}.c") for k in S8_KERNELS]
    subprocess.run(
        [cc, "-shared", "-fPIC", *STRICT, *extra, "-I", str(RUNTIME), "-o", str(so),
         str(helpers), *sources],
        check=True,
    )
    return ctypes.CDLL(str(so))


class Lib:
    """A build of the kernels; the UBSan build fails the test on any report."""

    def __init__(self, cdll: ctypes.CDLL, ubsan_log: Path | None = None):
        self.cdll = cdll
        self.ubsan_log = ubsan_log

    def __getattr__(self, name):
        fn = getattr(self.cdll, name)
        if self.ubsan_log is None:
            return fn

        def checked(*args):
            result = fn(*args)
            reports = sorted(self.ubsan_log.parent.glob(self.ubsan_log.name + "*"))
            text = "".join(p.read_text() for p in reports)
            for p in reports:
                p.unlink()
            assert not text, f"UndefinedBehaviorSanitizer in {name}:\n{text}"
            return result

        return checked


@pytest.fixture(scope="module")
def lib(tmp_path_factory) -> Lib:
    return Lib(build(tmp_path_factory.mktemp("s8"), "aots8", ["-O2"]))


@pytest.fixture(scope="module")
def ubsan_lib(tmp_path_factory) -> Lib:
    out = tmp_path_factory.mktemp("s8ubsan")
    log = out / "ubsan"
    # The sanitizer runtime reads its options when the library is loaded.
    os.environ["UBSAN_OPTIONS"] = f"log_path={log}:print_stacktrace=1:halt_on_error=0"
    try:
        cdll = build(out, "aots8ubsan", ["-O1", "-g", "-fsanitize=undefined",
                                          "-fno-sanitize=alignment"])
    except subprocess.CalledProcessError:
        need(False, "the C compiler cannot build with -fsanitize=undefined")
    return Lib(cdll, log)


@pytest.fixture(scope="module", params=["O2", "ubsan"])
def anylib(request) -> Lib:
    return request.getfixturevalue("lib" if request.param == "O2" else "ubsan_lib")


def ptr(a: np.ndarray | None):
    if a is None:
        return None
    assert a.flags["C_CONTIGUOUS"]
    return ctypes.c_void_p(a.ctypes.data)


def call(lib: Lib, name: str, params, *arrays):
    getattr(lib, name)(ctypes.byref(params), *(ptr(a) for a in arrays))


def test_struct_layouts_match_the_c_headers(lib):
    n = 2 * len(LAYOUTS)
    c = (ctypes.c_size_t * n).in_dll(lib.cdll, "aot_test_layout")
    for i, (cls, cname, field) in enumerate(LAYOUTS):
        assert ctypes.sizeof(cls) == c[2 * i], f"sizeof({cname})"
        assert getattr(cls, field).offset == c[2 * i + 1], f"offsetof({cname}, {field})"


# --- helpers vs references --------------------------------------------------------


def edge_ints(rng, n):
    special = np.array([0, 1, -1, 2, -2, I32_MAX, I32_MIN, I32_MIN + 1, I32_MAX - 1,
                        1 << 30, -(1 << 30), (1 << 30) - 1, 1 << 15, -(1 << 15)], np.int64)
    parts = [
        special,
        rng.integers(I32_MIN, I32_MAX, n, endpoint=True),
        rng.integers(-(1 << 16), 1 << 16, n),
        (rng.integers(-1000, 1000, n) << rng.integers(0, 21, n)) + rng.integers(-1, 2, n),
    ]
    return np.concatenate(parts)


def run_map(lib, name, *cols):
    cols = [np.ascontiguousarray(c, np.int32) for c in cols]
    y = np.empty_like(cols[0])
    getattr(lib, name)(*(ptr(c) for c in cols), ptr(y), i32(len(y)))
    return y.astype(np.int64)


def test_closed_forms_equal_the_literal_gemmlowp_code():
    rng = np.random.default_rng(1)
    a = edge_ints(rng, 3000)
    b = np.concatenate([edge_ints(rng, 3000)[: len(a) - 14], a[:14][::-1]])
    for x, y in zip(a.tolist(), b.tolist()):
        assert int(srdhm(x, y)) == g_srdhm(x, y), (x, y)
    # Ties of RoundingDivideByPOT on both signs.
    for x in list(range(-70, 71)) + a[:500].tolist():
        for e in (0, 1, 2, 3, 5, 17, 30, 31):
            assert int(rdbpot(x, e)) == g_rdbpot(x, e), (x, e)


def test_requantization_helpers(anylib):
    rng = np.random.default_rng(2)
    a = edge_ints(rng, 4000)
    n = len(a)
    b = np.concatenate([a[::-1][: n // 2], rng.integers(I32_MIN, I32_MAX, n - n // 2)])
    np.testing.assert_array_equal(run_map(anylib, "t_srdhm", a, b), srdhm(a, b))
    np.testing.assert_array_equal(run_map(anylib, "t_srdhm", a, a), srdhm(a, a))

    e = rng.integers(0, 32, n)
    np.testing.assert_array_equal(run_map(anylib, "t_rdbpot", a, e), rdbpot(a, e))
    exps = rng.integers(-31, 31, n)
    want = [g_srmpot(x, k) for x, k in zip(a.tolist(), exps.tolist())]
    np.testing.assert_array_equal(run_map(anylib, "t_srmpot", a, exps), want)
    want = [g_half_sum(x, y) for x, y in zip(a.tolist(), b.tolist())]
    np.testing.assert_array_equal(run_map(anylib, "t_half_sum", a, b), want)
    want = [g_clz(x) for x in a.tolist()]
    np.testing.assert_array_equal(run_map(anylib, "t_clz", a, a), want)

    # Multipliers as QuantizeMultiplier makes them: [2^30, 2^31) or 0, plus extremes.
    m = np.concatenate([rng.integers(1 << 30, 1 << 31, n - 4), [0, 1 << 30, I32_MAX, I32_MAX]])
    s = rng.integers(-31, 31, n)
    np.testing.assert_array_equal(run_map(anylib, "t_mbqm", a, m, s), mbqm(a, m, s))
    s_neg = rng.integers(-31, 1, n)
    np.testing.assert_array_equal(run_map(anylib, "t_mbqm_lt1", a, m, s_neg),
                                  mbqm_lt1(a, m, s_neg))
    s_pos = rng.integers(0, 32, n)
    np.testing.assert_array_equal(run_map(anylib, "t_mbqm_gt1", a, m, s_pos),
                                  mbqm_gt1(a, m, s_pos))
    # MultiplyByQuantizedMultiplier agrees with the two special forms on their domains.
    np.testing.assert_array_equal(mbqm(a, m, s_neg), mbqm_lt1(a, m, s_neg))
    small = np.clip(a, -(1 << 16), 1 << 16)
    np.testing.assert_array_equal(mbqm(small, m, s_pos % 15), mbqm_gt1(small, m, s_pos % 15))


def test_fixedpoint_exp_and_reciprocal(anylib):
    rng = np.random.default_rng(3)
    # exp_on_negative_values over Q5.26 inputs (the softmax's) and other formats.
    for bits in (5, 0, 2, 7, 12):
        lo = I32_MIN
        a = np.concatenate([[0, -1, -(1 << 24), -(1 << 26), lo, lo + 1],
                            rng.integers(lo, 1, 3000),
                            -rng.integers(0, 1 << 27, 1000)])
        got = run_map(anylib, "t_exp_neg", a, np.full(len(a), bits))
        want = [g_exp_on_negative_values(x, bits) for x in a.tolist()]
        np.testing.assert_array_equal(got, want)
        # Sanity: the value is exp(a) to better than 2^-21 absolute.
        real = np.exp(a / 2.0 ** (31 - bits)) * 2.0**31
        assert np.max(np.abs(got - real)) < 2.0**31 * 2.0**-21, bits

    a = np.concatenate([[0, 1, I32_MAX, I32_MAX - 1, 1 << 30], rng.integers(0, I32_MAX, 3000)])
    got = run_map(anylib, "t_one_over", a, a)
    np.testing.assert_array_equal(got, [g_one_over_one_plus_x(x) for x in a.tolist()])
    assert np.max(np.abs(got - 2.0**31 / (1 + a / 2.0**31))) < 16

    x = np.concatenate([[1, 1 << 19, (1 << 19) + 1, I32_MAX, 12345],
                        rng.integers(1 << 19, 1 << 28, 2000), rng.integers(1, I32_MAX, 500)])
    digits = np.full(len(x), 12)
    y = np.empty(len(x), np.int32)
    bits = np.empty(len(x), np.int32)
    xc, dc = x.astype(np.int32), digits.astype(np.int32)
    anylib.t_reciprocal(ptr(xc), ptr(dc), ptr(y), ptr(bits), i32(len(x)))
    want = [g_reciprocal(v, 12) for v in x.tolist()]
    np.testing.assert_array_equal(y, [w[0] for w in want])
    np.testing.assert_array_equal(bits, [w[1] for w in want])


# --- kernel references (NCHW, int64) ------------------------------------------------


def i32_ptr(a):
    return None if a is None else a.ctypes.data_as(i32_p)


def run_conv(lib, x, w, bias, mult, shift, *, stride, dil, pads, groups, in_off, out_off,
             act, out_hw, w_off=None, raw=False):
    n, c, h, wd = x.shape
    m, cg, kh, kw = w.shape
    mult = None if mult is None else np.ascontiguousarray(mult, np.int32)
    shift = None if shift is None else np.ascontiguousarray(shift, np.int32)
    w_off = None if w_off is None else np.ascontiguousarray(w_off, np.int32)
    p = Conv2dS8Params(
        n, c, h, wd, m, out_hw[0], out_hw[1], kh, kw, stride[0], stride[1], dil[0], dil[1],
        pads[0], pads[1], groups, in_off, out_off, act[0], act[1],
        i32_ptr(mult), i32_ptr(shift), i32_ptr(w_off),
    )
    y = np.empty((n, m, *out_hw), np.int32 if raw else np.int8)
    kernel = "aot_conv2d_s8_s32" if raw else (
        "aot_conv2d_s8" if w_off is None else "aot_conv2d_asym_s8")
    call(lib, kernel, p, np.ascontiguousarray(x),
         np.ascontiguousarray(w), None if bias is None else np.ascontiguousarray(bias, np.int32),
         y)
    return y


def random_requant(rng, m, acc_scale, positive_shift_share=0.25):
    """Per-channel multipliers/shifts that map accumulators of about acc_scale onto
    int8, spread over a factor 2^+-3, with some channels given scales > 1."""
    mults, shifts = [], []
    for _ in range(m):
        real = 60.0 / acc_scale * 2.0 ** rng.uniform(-3, 3)
        if rng.random() < positive_shift_share:
            real = 2.0 ** rng.uniform(0.1, 6)
        mm, ss = quantize_multiplier(real)
        mults.append(mm)
        shifts.append(ss)
    return np.array(mults, np.int32), np.array(shifts, np.int32)


CONV_CASES = {
    # name: (N, C, H, W, M, groups, (kh, kw), stride, dilation, (top, left), bias)
    "3x3_pad1": (1, 3, 9, 8, 5, 1, (3, 3), (1, 1), (1, 1), (1, 1), True),
    "odd_channels_stride2": (2, 7, 11, 9, 13, 1, (3, 3), (2, 2), (1, 1), (1, 1), True),
    "asym_kernel_stride_dilation": (1, 4, 13, 10, 6, 1, (3, 2), (2, 1), (2, 3), (2, 1), True),
    "grouped": (1, 6, 8, 8, 9, 3, (3, 3), (1, 2), (1, 1), (1, 0), True),
    "pointwise_no_bias": (1, 17, 5, 6, 11, 1, (1, 1), (1, 1), (1, 1), (0, 0), False),
    "depthwise_3x3": (1, 8, 10, 7, 8, 8, (3, 3), (1, 1), (1, 1), (1, 1), True),
    "depthwise_mult3_stride2": (2, 5, 9, 9, 15, 5, (3, 3), (2, 2), (1, 1), (1, 1), True),
    "depthwise_mult2_dilated": (1, 3, 12, 11, 6, 3, (3, 3), (1, 1), (2, 2), (2, 2), True),
    "kws_first_layer_like": (1, 1, 49, 10, 8, 1, (10, 4), (2, 2), (1, 1), (4, 1), True),
    "big_padding": (1, 2, 4, 5, 3, 1, (5, 5), (1, 1), (1, 1), (4, 4), True),
    "1d": (1, 5, 1, 21, 4, 1, (1, 5), (1, 3), (1, 2), (0, 3), True),
}


@pytest.mark.parametrize("case", list(CONV_CASES))
def test_conv2d_s8_random(anylib, case):
    n, c, h, wd, m, groups, (kh, kw), stride, dil, pads, has_bias = CONV_CASES[case]
    rng = np.random.default_rng(seed(case))
    for trial in range(3):
        x = rng.integers(-128, 128, (n, c, h, wd), dtype=np.int64).astype(np.int8)
        w = rng.integers(-127, 128, (m, c // groups, kh, kw), dtype=np.int64).astype(np.int8)
        in_zp = int(rng.integers(-128, 128))
        out_zp = int(rng.integers(-128, 128))
        bias = rng.integers(-20000, 20000, m).astype(np.int32) if has_bias else None
        taps = (c // groups) * kh * kw
        mult, shift = random_requant(rng, m, 128 * 70 * math.sqrt(taps))
        act = [(-128, 127), (out_zp, 127), (max(-128, out_zp - 50), min(127, out_zp + 60))][trial]
        kw_args = dict(stride=stride, dil=dil, pads=pads, groups=groups, in_off=-in_zp,
                       out_off=out_zp, act=act)
        want, out_hw = conv_ref(x, w, bias, mult, shift, **kw_args)
        got = run_conv(anylib, x, w, bias, mult, shift, out_hw=out_hw, **kw_args)
        np.testing.assert_array_equal(got, want, err_msg=f"{case} trial {trial}")
        assert len(np.unique(got)) > 10 or act[1] - act[0] < 120  # not all saturated


@pytest.mark.parametrize("depthwise", [False, True])
def test_conv2d_s8_extremes(anylib, depthwise):
    """All -128 / 127 inputs and weights, extreme zero points and multipliers."""
    c, m = (4, 8) if depthwise else (5, 3)
    groups = c if depthwise else 1
    for xv, wv, in_zp in [(-128, -127, 127), (127, 127, -128), (-128, 127, -128), (127, -128, 127)]:
        x = np.full((1, c, 6, 5), xv, np.int8)
        w = np.full((m, c // groups, 3, 3), wv, np.int8)
        bias = np.array([I32_MAX // 4, -(I32_MAX // 4), 0, 7] * 2, np.int32)[:m]
        mult = np.array([I32_MAX, 1 << 30, 1234567890, 0, I32_MAX, 1 << 30, 1 << 30, 2**31 - 2],
                        np.int32)[:m]
        shift = np.array([-31, -20, 0, 3, -1, -8, 2, -15], np.int32)[:m]
        kw_args = dict(stride=(1, 1), dil=(1, 1), pads=(1, 1), groups=groups, in_off=-in_zp,
                       out_off=-128, act=(-128, 127))
        want, out_hw = conv_ref(x, w, bias, mult, shift, **kw_args)
        got = run_conv(anylib, x, w, bias, mult, shift, out_hw=out_hw, **kw_args)
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("case", ["3x3_pad1", "grouped", "depthwise_mult3_stride2", "1d",
                                  "big_padding"])
def test_conv2d_s8_weight_offsets_and_int32_output(anylib, case):
    """Asymmetric weights (a per-output-channel zero point, e.g. uint8 weights of a
    QLinearConv mapped to int8 codes) and the int32-output variant (ConvInteger)."""
    n, c, h, wd, m, groups, (kh, kw), stride, dil, pads, has_bias = CONV_CASES[case]
    rng = np.random.default_rng(seed(("woff", case)))
    for trial in range(3):
        x = rng.integers(-128, 128, (n, c, h, wd), dtype=np.int64).astype(np.int8)
        w = rng.integers(-128, 128, (m, c // groups, kh, kw), dtype=np.int64).astype(np.int8)
        w_zp = [rng.integers(-128, 128, m), np.full(m, 127), np.zeros(m, np.int64)][trial]
        w_off = -np.asarray(w_zp, np.int64)
        in_zp, out_zp = int(rng.integers(-128, 128)), int(rng.integers(-128, 128))
        bias = rng.integers(-20000, 20000, m).astype(np.int32) if has_bias else None
        taps = (c // groups) * kh * kw
        mult, shift = random_requant(rng, m, 128 * 200 * math.sqrt(taps))
        kw_args = dict(stride=stride, dil=dil, pads=pads, groups=groups, in_off=-in_zp,
                       out_off=out_zp, act=(-128, 127), w_off=w_off)
        want, out_hw = conv_ref(x, w, bias, mult, shift, **kw_args)
        got = run_conv(anylib, x, w, bias, mult, shift, out_hw=out_hw, **kw_args)
        np.testing.assert_array_equal(got, want, err_msg=f"{case} trial {trial}")
        want32, _ = conv_ref(x, w, bias, None, None, raw=True, **kw_args)
        got32 = run_conv(anylib, x, w, bias, None, None, out_hw=out_hw, raw=True, **kw_args)
        np.testing.assert_array_equal(got32, want32, err_msg=f"{case} trial {trial} int32")


def test_conv2d_s8_s32_wraps_like_int32(anylib):
    x = np.full((1, 64, 8, 8), -128, np.int8)
    w = np.full((2, 64, 8, 8), -128, np.int8)
    kw_args = dict(stride=(1, 1), dil=(1, 1), pads=(0, 0), groups=1, in_off=-127, out_off=0,
                   act=(-128, 127), w_off=np.array([-127, 127]))
    bias = np.array([I32_MAX, I32_MIN], np.int32)
    want, out_hw = conv_ref(x, w, bias, None, None, raw=True, **kw_args)
    got = run_conv(anylib, x, w, bias, None, None, out_hw=out_hw, raw=True, **kw_args)
    np.testing.assert_array_equal(got, want)


FC_ARRAYS = ("multipliers", "shifts", "weights_offsets")


def run_fc(lib, x, w, bias, p, raw=False):
    m, k = x.shape
    n = w.shape[0]
    arrays = {key: np.ascontiguousarray(p[key], np.int32) for key in FC_ARRAYS
              if p.get(key) is not None}
    scalars = {key: v for key, v in p.items() if key not in FC_ARRAYS}
    params = FullyConnectedS8Params(m=m, n=n, k=k, **scalars,
                                    **{key: i32_ptr(a) for key, a in arrays.items()})
    y = np.empty((m, n), np.int32 if raw else np.int8)
    call(lib, "aot_fully_connected_s8_s32" if raw else "aot_fully_connected_s8", params,
         np.ascontiguousarray(x), np.ascontiguousarray(w),
         None if bias is None else np.ascontiguousarray(bias, np.int32), y)
    return y


@pytest.mark.parametrize("m,n,k,w_zp,bias,scale", [
    (1, 12, 64, 0, True, None),
    (3, 7, 33, 0, True, None),
    (5, 1, 1, 0, False, None),
    (2, 9, 640, 0, True, None),
    (4, 6, 3, 5, True, 10.0),     # multiplier > 1: positive shift
    (2, 5, 2, -3, False, 40.0),   # asymmetric (legacy) weights, shift 6
])
def test_fully_connected_s8_random(anylib, m, n, k, w_zp, bias, scale):
    rng = np.random.default_rng(m * 1000 + n * 10 + k)
    for _ in range(4):
        x = rng.integers(-128, 128, (m, k), dtype=np.int64).astype(np.int8)
        w = rng.integers(-127, 128, (n, k), dtype=np.int64).astype(np.int8)
        if scale is not None:
            x = rng.integers(-3, 4, (m, k)).astype(np.int8)
            w = rng.integers(-2, 3, (n, k)).astype(np.int8)
        b = rng.integers(-5000, 5000, n).astype(np.int32) if bias else None
        real = scale if scale is not None else 60.0 / (128 * 70 * math.sqrt(k))
        mult, shift = quantize_multiplier(real * 2.0 ** rng.uniform(-1, 1))
        out_zp = int(rng.integers(-128, 128))
        p = dict(input_offset=int(rng.integers(-127, 129)) if scale is None else 0,
                 weights_offset=-w_zp, output_offset=out_zp, act_min=-128, act_max=127,
                 multiplier=mult, shift=shift)
        np.testing.assert_array_equal(run_fc(anylib, x, w, b, p), fc_ref(x, w, b, p))


def test_fully_connected_s8_extremes(anylib):
    for xv, wv, in_zp in [(-128, -127, 127), (127, 127, -128), (-128, 127, 127)]:
        x = np.full((2, 300), xv, np.int8)
        w = np.full((4, 300), wv, np.int8)
        for mult, shift in [(I32_MAX, -31), (1 << 30, -10), (I32_MAX, 0), (1 << 30, 5)]:
            p = dict(input_offset=-in_zp, weights_offset=0, output_offset=-128, act_min=-128,
                     act_max=127, multiplier=mult, shift=shift)
            b = np.array([0, I32_MAX // 2, -(I32_MAX // 2), 1], np.int32)
            np.testing.assert_array_equal(run_fc(anylib, x, w, b, p), fc_ref(x, w, b, p))


@pytest.mark.parametrize("m,n,k,bias", [(1, 12, 64, True), (3, 7, 33, False), (2, 9, 640, True),
                                       (5, 1, 1, True)])
def test_fully_connected_s8_per_channel(anylib, m, n, k, bias):
    """FullyConnectedPerChannel: one multiplier/shift per output; with per-output
    weight offsets too, and the int32-output variant (MatMulInteger)."""
    rng = np.random.default_rng(seed(("fc_pc", m, n, k)))
    for trial in range(4):
        x = rng.integers(-128, 128, (m, k), dtype=np.int64).astype(np.int8)
        w = rng.integers(-128, 128, (n, k), dtype=np.int64).astype(np.int8)
        b = rng.integers(-5000, 5000, n).astype(np.int32) if bias else None
        mults, shifts = random_requant(rng, n, 128 * 70 * math.sqrt(k) * (4 if trial else 1))
        w_offs = None if trial < 2 else -rng.integers(-128, 128, n)
        p = dict(input_offset=int(rng.integers(-127, 129)), weights_offset=0,
                 output_offset=int(rng.integers(-128, 128)), act_min=-128, act_max=127,
                 multiplier=0, shift=0, multipliers=mults, shifts=shifts,
                 weights_offsets=w_offs)
        np.testing.assert_array_equal(run_fc(anylib, x, w, b, p), fc_ref(x, w, b, p))
        p["weights_offset"] = int(rng.integers(-127, 129)) if trial == 1 else 0
        np.testing.assert_array_equal(run_fc(anylib, x, w, b, p, raw=True),
                                      fc_ref(x, w, b, p, raw=True))


def test_fully_connected_s8_arrays_null_is_per_tensor(anylib):
    """NULL multipliers/shifts/weights_offsets give exactly the per-tensor kernel."""
    rng = np.random.default_rng(5)
    x = rng.integers(-128, 128, (3, 40), dtype=np.int64).astype(np.int8)
    w = rng.integers(-127, 128, (6, 40), dtype=np.int64).astype(np.int8)
    mult, shift = quantize_multiplier(0.003)
    p = dict(input_offset=17, weights_offset=0, output_offset=-5, act_min=-128, act_max=127,
             multiplier=mult, shift=shift)
    per_tensor = run_fc(anylib, x, w, None, p)
    per_channel = run_fc(anylib, x, w, None, {**p, "multipliers": [mult] * 6,
                                             "shifts": [shift] * 6, "weights_offsets": [0] * 6,
                                             "multiplier": 1, "shift": 5})
    np.testing.assert_array_equal(per_tensor, per_channel)
    np.testing.assert_array_equal(per_tensor, fc_ref(x, w, None, p))


def run_requantize(lib, x, p, inplace=False):
    params = RequantizeS8Params(size=x.size, **p)
    x = np.ascontiguousarray(x).copy()
    y = x if inplace else np.empty_like(x)
    call(lib, "aot_requantize_s8", params, x, y)
    return y


@pytest.mark.parametrize("ratio", [1.0, 0.37, 1.93, 255 / 256, 256 / 255, 1e-3, 40.0, 3e-9])
def test_requantize_s8(anylib, ratio):
    rng = np.random.default_rng(seed(("requant", ratio)))
    x = np.arange(-128, 128, dtype=np.int8)
    for _ in range(3):
        mult, shift = quantize_multiplier(ratio)
        p = dict(input_offset=int(rng.integers(-127, 129)),
                 output_offset=int(rng.integers(-128, 128)), multiplier=mult, shift=shift,
                 act_min=int(rng.integers(-128, 0)), act_max=int(rng.integers(0, 128)))
        np.testing.assert_array_equal(run_requantize(anylib, x, p), requant_ref(x, p))
        np.testing.assert_array_equal(run_requantize(anylib, x, p, inplace=True),
                                      requant_ref(x, p))
    same = quantize_multiplier(1.0)
    assert same == (1 << 30, 1)
    p = dict(input_offset=0, output_offset=0, multiplier=same[0], shift=same[1], act_min=-128,
             act_max=127)
    np.testing.assert_array_equal(run_requantize(anylib, x, p), x)


def run_mean(lib, x, p):
    outer, reduce, inner = x.shape
    params = MeanS8Params(outer=outer, reduce=reduce, inner=inner, **p)
    y = np.empty((outer, inner), np.int8)
    call(lib, "aot_mean_s8", params, np.ascontiguousarray(x), y)
    return y


@pytest.mark.parametrize("shape", [(8, 49, 1), (2, 25, 3), (1, 6, 16), (3, 1, 5), (1, 2304, 1)])
@pytest.mark.parametrize("ratio", [1.0, 0.61, 1.7, 3e-3])
def test_mean_s8(anylib, shape, ratio):
    rng = np.random.default_rng(seed(("mean", shape, ratio)))
    for _ in range(3):
        x = rng.integers(-128, 128, shape, dtype=np.int64).astype(np.int8)
        mult, shift = mean_multiplier_ref(ratio, shape[1])
        p = dict(input_offset=int(rng.integers(-127, 129)),
                 output_offset=int(rng.integers(-128, 128)), multiplier=mult, shift=shift,
                 act_min=-128, act_max=int(rng.integers(0, 128)))
        np.testing.assert_array_equal(run_mean(anylib, x, p), mean_ref(x, p))
        from aot import quantmath as qm
        assert qm.mean_multiplier(0.25, 0.25 / ratio, shape[1]) == mean_multiplier_ref(
            float(np.float32(0.25)) / float(np.float32(0.25 / ratio)), shape[1])


def broadcast_strides(shape, out_shape):
    shape = (1,) * (len(out_shape) - len(shape)) + tuple(shape)
    strides, s = [], 1
    for d in reversed(shape):
        strides.append(s if d > 1 else 0)
        s *= d
    return strides[::-1]


def run_add(lib, a, b, p, dense=False):
    out_shape = np.broadcast_shapes(a.shape, b.shape)
    y = np.empty(out_shape, np.int8)
    if dense:
        assert a.shape == b.shape
        params = AddS8Params(size=a.size, ndim=0, **p)
    else:
        params = AddS8Params(size=y.size, ndim=len(out_shape), dims=dims(out_shape),
                             a_strides=dims(broadcast_strides(a.shape, out_shape)),
                             b_strides=dims(broadcast_strides(b.shape, out_shape)), **p)
    call(lib, "aot_add_s8", params, np.ascontiguousarray(a), np.ascontiguousarray(b), y)
    return y


def make_add_params(rng, s1, s2, so, act=(-128, 127)):
    (m1, sh1), (m2, sh2), (mo, sho) = add_params(s1, s2, so)
    return dict(a_offset=-int(rng.integers(-128, 128)), a_multiplier=m1, a_shift=sh1,
                b_offset=-int(rng.integers(-128, 128)), b_multiplier=m2, b_shift=sh2,
                left_shift=20, output_offset=int(rng.integers(-128, 128)),
                output_multiplier=mo, output_shift=sho, act_min=act[0], act_max=act[1])


@pytest.mark.parametrize("sa,sb,dense", [
    ((2, 3, 4, 5), (2, 3, 4, 5), True),
    ((2, 3, 4, 5), (2, 3, 4, 5), False),
    ((2, 3, 4, 5), (1, 3, 1, 5), False),
    ((1, 16, 1, 1), (1, 16, 7, 9), False),
    ((7,), (3, 5, 7), False),
    ((3, 1, 5, 1, 2), (1, 4, 1, 6, 2), False),
    ((1,), (2, 2, 3, 1, 2, 3), False),
])
def test_add_s8_broadcast(anylib, sa, sb, dense):
    rng = np.random.default_rng(len(sa) * 7 + len(sb))
    for s1, s2, so in [(0.05, 0.05, 0.1), (0.02, 0.3, 0.25), (1.7, 0.001, 0.5), (0.1, 0.1, 0.01)]:
        a = rng.integers(-128, 128, sa, dtype=np.int64).astype(np.int8)
        b = rng.integers(-128, 128, sb, dtype=np.int64).astype(np.int8)
        p = make_add_params(rng, s1, s2, so)
        np.testing.assert_array_equal(run_add(anylib, a, b, p, dense), add_ref(a, b, p))
    # Extremes and a fused ReLU.
    for va, vb in [(-128, -128), (127, 127), (-128, 127)]:
        a, b = np.full(sa, va, np.int8), np.full(sb, vb, np.int8)
        p = make_add_params(rng, 0.5, 0.25, 0.003, act=(-20, 127))
        p.update(a_offset=128 if va == -128 else -127, b_offset=-128)
        np.testing.assert_array_equal(run_add(anylib, a, b, p, dense), add_ref(a, b, p))


def run_pool(lib, kind, x, k, stride, dil, pads, out_hw, act, count_include_pad=False,
             rescale=None):
    planes, h, w = x.shape
    pool = Pool2dParams(planes, h, w, out_hw[0], out_hw[1], k[0], k[1], stride[0], stride[1],
                        dil[0], dil[1], *pads, int(count_include_pad))
    y = np.empty((planes, *out_hw), np.int8)
    if rescale is None:
        params = Pool2dS8Params(pool, act[0], act[1])
    else:
        in_off, out_off, mults, shifts = rescale
        mults = np.ascontiguousarray(mults, np.int32)
        shifts = np.ascontiguousarray(shifts, np.int32)
        params = Pool2dS8Params(pool, act[0], act[1], in_off, out_off, i32_ptr(mults),
                                i32_ptr(shifts))
    call(lib, f"aot_{kind}pool2d_s8", params, np.ascontiguousarray(x), y)
    return y


POOL_CASES = {
    # name: (planes, h, w, kernel, stride, dilation, (top, left, bottom, right))
    "global_25x5": (64, 25, 5, (25, 5), (1, 1), (1, 1), (0, 0, 0, 0)),
    "2x2_s2": (7, 8, 9, (2, 2), (2, 2), (1, 1), (0, 0, 0, 1)),
    "3x3_s2_same": (5, 9, 10, (3, 3), (2, 2), (1, 1), (1, 1, 1, 1)),
    "3x3_s1_pad": (3, 6, 7, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1)),
    "odd_pads": (4, 7, 5, (3, 2), (2, 1), (1, 1), (0, 1, 2, 0)),
    "dilated": (3, 11, 10, (3, 3), (1, 2), (2, 2), (1, 2, 1, 2)),
    "ceil_overhang": (2, 6, 6, (3, 3), (2, 2), (1, 1), (0, 0, 1, 1)),
}


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("case", list(POOL_CASES))
def test_pool2d_s8_random(anylib, kind, case):
    planes, h, w, k, stride, dil, pads = POOL_CASES[case]
    rng = np.random.default_rng(seed((kind, case)))
    oh = (h + pads[0] + pads[2] - dil[0] * (k[0] - 1) - 1) // stride[0] + 1
    ow = (w + pads[1] + pads[3] - dil[1] * (k[1] - 1) - 1) // stride[1] + 1
    for act in [(-128, 127), (-5, 127), (-100, 40)]:
        for x in [rng.integers(-128, 128, (planes, h, w), dtype=np.int64).astype(np.int8),
                  np.full((planes, h, w), -128, np.int8), np.full((planes, h, w), 127, np.int8),
                  rng.choice(np.array([-128, 127], np.int8), (planes, h, w))]:
            for cip in ([False, True] if kind == "avg" else [False]):
                want = pool_ref(x, kind, k, stride, dil, pads, (oh, ow), act, cip)
                got = run_pool(anylib, kind, x, k, stride, dil, pads, (oh, ow), act, cip)
                np.testing.assert_array_equal(got, want, err_msg=f"{act} cip={cip}")


@pytest.mark.parametrize("case", list(POOL_CASES))
@pytest.mark.parametrize("ratio", [1.0, 0.37, 2.6])
def test_avgpool2d_s8_with_rescale(anylib, case, ratio):
    """Average pooling into other output parameters (or with count_include_pad):
    one rounding per output with a multiplier per tap count."""
    from aot import quantmath as qm

    planes, h, w, k, stride, dil, pads = POOL_CASES[case]
    rng = np.random.default_rng(seed(("avg_rescale", case, ratio)))
    oh = (h + pads[0] + pads[2] - dil[0] * (k[0] - 1) - 1) // stride[0] + 1
    ow = (w + pads[1] + pads[3] - dil[1] * (k[1] - 1) - 1) // stride[1] + 1
    pairs = [qm.mean_multiplier(0.25, 0.25 / ratio, c) for c in range(1, k[0] * k[1] + 1)]
    for cip in (False, True):
        for _ in range(2):
            x = rng.integers(-128, 128, (planes, h, w), dtype=np.int64).astype(np.int8)
            rescale = (int(rng.integers(-127, 129)), int(rng.integers(-128, 128)),
                       [m for m, _ in pairs], [s_ for _, s_ in pairs])
            want = pool_ref(x, "avg", k, stride, dil, pads, (oh, ow), (-128, 127), cip, rescale)
            got = run_pool(anylib, "avg", x, k, stride, dil, pads, (oh, ow), (-128, 127), cip,
                           rescale)
            np.testing.assert_array_equal(got, want, err_msg=f"cip={cip}")


def test_avgpool2d_s8_rounds_half_away_from_zero(anylib):
    # 2 taps: sums of +-1 and +-3 are exact ties.
    x = np.array([[[1, 0, -1, 0, 3, 0, -3, 0, 2, 1, -2, -1]]], np.int8)
    got = run_pool(anylib, "avg", x, (1, 2), (1, 2), (1, 1), (0, 0, 0, 0), (1, 6), (-128, 127))
    np.testing.assert_array_equal(got.ravel(), [1, -1, 2, -2, 2, -2])


def run_softmax(lib, x, mult, left_shift, diff_min):
    y = np.empty_like(x)
    p = SoftmaxS8Params(x.size // x.shape[-1], x.shape[-1], mult, left_shift, diff_min)
    call(lib, "aot_softmax_s8", p, np.ascontiguousarray(x), y)
    return y


@pytest.mark.parametrize("scale", [1 / 256, 0.0195, 0.0625, 0.14469, 0.4, 1.0, 3.7, 1e-5])
@pytest.mark.parametrize("shape", [(1, 12), (3, 10), (4, 2), (2, 1), (1, 257), (2, 3, 33)])
def test_softmax_s8(anylib, scale, shape):
    rng = np.random.default_rng(int(scale * 1e6) + shape[-1])
    mult, left_shift, diff_min = softmax_params(scale)
    xs = [rng.integers(-128, 128, shape, dtype=np.int64).astype(np.int8),
          rng.integers(-10, 11, shape, dtype=np.int64).astype(np.int8),  # narrow
          np.full(shape, 127, np.int8), np.full(shape, -128, np.int8)]
    x = rng.integers(-128, 128, shape, dtype=np.int64)
    x[..., 0] = 127
    x[..., 1:] = np.minimum(x[..., 1:], 127 + diff_min + rng.integers(-2, 3, x[..., 1:].shape))
    xs.append(np.clip(x, -128, 127).astype(np.int8))  # diffs around diff_min
    for x in xs:
        got = run_softmax(anylib, x, mult, left_shift, diff_min)
        np.testing.assert_array_equal(got, softmax_ref(x, mult, left_shift, diff_min))


def test_softmax_s8_is_close_to_the_real_softmax(lib):
    rng = np.random.default_rng(9)
    for scale in (0.02, 0.1, 0.5):
        x = rng.integers(-128, 128, (20, 10), dtype=np.int64).astype(np.int8)
        got = (run_softmax(lib, x, *softmax_params(scale)).astype(np.float64) + 128) / 256
        xi = x.astype(np.int64)
        e = np.exp((xi - xi.max(axis=1, keepdims=True)) * scale)
        np.testing.assert_allclose(got, e / e.sum(axis=1, keepdims=True), atol=1.01 / 256)


@pytest.mark.parametrize("shape,perm", [
    ((2, 3, 4), (2, 0, 1)), ((1, 5, 7, 3), (0, 3, 1, 2)), ((4, 6), (1, 0)),
    ((2, 3, 2, 2, 3, 2), (5, 3, 1, 0, 2, 4)), ((9,), (0,)), ((), ()),
])
def test_transpose_s8(anylib, shape, perm):
    rng = np.random.default_rng(len(shape))
    x = rng.integers(-128, 128, shape, dtype=np.int64).astype(np.int8)
    want = np.ascontiguousarray(np.transpose(x, perm))
    in_strides = list(x.strides)  # int8: bytes == elements
    p = TransposeParams(len(shape), dims(want.shape), dims([in_strides[d] for d in perm]))
    y = np.empty(want.shape, np.int8)
    call(anylib, "aot_transpose_s8", p, x, y)
    np.testing.assert_array_equal(y, want)


def test_clamp_s8(anylib):
    x = np.arange(-128, 128, dtype=np.int8)
    for lo, hi in [(-128, 127), (0, 127), (-3, 40), (5, 5)]:
        y = np.empty_like(x)
        call(anylib, "aot_clamp_s8", ClampS8Params(x.size, lo, hi), x, y)
        np.testing.assert_array_equal(y, np.clip(x, lo, hi))
    y = x.copy()
    call(anylib, "aot_clamp_s8", ClampS8Params(y.size, -7, 9), y, y)  # in place
    np.testing.assert_array_equal(y, np.clip(x, -7, 9))


def quantize_cases(rng):
    for scale, zp in [(0.25, 0), (0.25, -128), (0.1, 3), (0.0078125, 127), (3e-3, -17)]:
        ties = (np.arange(-600, 600) + 0.5) * np.float32(scale)  # exact for power-of-2 scales
        x = np.concatenate([
            rng.standard_normal(2000) * 100 * scale, ties,
            [0.0, -0.0, np.inf, -np.inf, 1e30, -1e30, 3e38, -3e38, 1e-45, -1e-45],
        ]).astype(np.float32)
        yield scale, zp, x


def test_quantize_f32_s8(anylib):
    rng = np.random.default_rng(5)
    for scale, zp, x in quantize_cases(rng):
        y = np.empty(x.size, np.int8)
        call(anylib, "aot_quantize_f32_s8", QuantizeParams(x.size, scale, zp), x, y)
        with np.errstate(over="ignore"):
            t = x / np.float32(scale)
        want = np.clip(np.rint(t.astype(np.float64)) + zp, -128, 127).astype(np.int8)
        np.testing.assert_array_equal(y, want, err_msg=f"scale {scale} zp {zp}")
    # NaN maps to the zero point.
    x = np.array([np.nan, -np.nan], np.float32)
    y = np.empty(2, np.int8)
    call(anylib, "aot_quantize_f32_s8", QuantizeParams(2, 0.5, -7), x, y)
    np.testing.assert_array_equal(y, [-7, -7])


def test_quantize_f32_s8_matches_onnxruntime(lib):
    ort = pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(6)
    for scale, zp, x in quantize_cases(rng):
        x = x[np.isfinite(x)]
        node = helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"])
        graph = helper.make_graph(
            [node], "q", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [x.size])],
            [helper.make_tensor_value_info("y", TensorProto.INT8, [x.size])],
            [numpy_helper.from_array(np.array(scale, np.float32), "s"),
             numpy_helper.from_array(np.array(zp, np.int8), "z")])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
        sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        want = sess.run(None, {"x": x})[0]
        y = np.empty(x.size, np.int8)
        call(lib, "aot_quantize_f32_s8", QuantizeParams(x.size, scale, zp), x, y)
        np.testing.assert_array_equal(y, want, err_msg=f"scale {scale} zp {zp}")


def test_dequantize_s8_f32(anylib):
    q = np.arange(-128, 128, dtype=np.int8)
    for scale, zp in [(0.25, 0), (0.1, 3), (3e-3, -128), (1e-9, 127), (17.5, -1)]:
        y = np.empty(q.size, np.float32)
        call(anylib, "aot_dequantize_s8_f32", QuantizeParams(q.size, scale, zp), q, y)
        want = (q.astype(np.int32) - zp).astype(np.float32) * np.float32(scale)
        np.testing.assert_array_equal(y, want)


# --- TFLite Micro: real models, layer by layer --------------------------------------

ADD, AVERAGE_POOL_2D, CONV_2D, DEPTHWISE_CONV_2D = 0, 1, 3, 4
FULLY_CONNECTED, MAX_POOL_2D, RESHAPE, SOFTMAX = 9, 17, 22, 25
MEAN, QUANTIZE = 40, 114
TFLITE_MODELS = ["kws_ref_model.tflite", "vww_96_int8.tflite",
                 "pretrainedResnet_quant.tflite", "ad01_int8.tflite"]


def tflm_runtime():
    try:
        from tflite_micro.python.tflite_micro import runtime
    except ImportError:
        need(False, "python package 'tflite_micro' is not installed")
    return runtime


def tflm_model(path_or_bytes):
    runtime = tflm_runtime()
    data = path_or_bytes if isinstance(path_or_bytes, bytes) else Path(path_or_bytes).read_bytes()
    return runtime.convert_bytearray_to_object(bytearray(data))


def qparams(t):
    q = t.quantization
    return [float(s) for s in q.scale], [int(z) for z in q.zeroPoint]


def const_data(model, t, dtype):
    return np.frombuffer(bytes(model.buffers[t.buffer].data), dtype=dtype).reshape(list(t.shape))


def nchw(a):
    return np.ascontiguousarray(np.transpose(a, (0, 3, 1, 2)))


def nhwc(a):
    return np.ascontiguousarray(np.transpose(a, (0, 2, 3, 1)))


def run_tflite_op(lib, model, op, get):
    """Runs one TFLite op with our kernel; `get(tensor_index)` gives an activation.
    Returns our output, NHWC/TFLite layout, or None for ops without a kernel here."""
    sg = model.subgraphs[0]
    code = model.operatorCodes[op.opcodeIndex]
    code = max(code.builtinCode, code.deprecatedBuiltinCode)
    tin = [sg.tensors[i] if i >= 0 else None for i in op.inputs]
    tout = sg.tensors[op.outputs[0]]
    o_scale, o_zp = (v[0] for v in qparams(tout))
    opts = op.builtinOptions
    out_shape = tuple(int(d) for d in tout.shape)

    if code in (CONV_2D, DEPTHWISE_CONV_2D):
        x = get(op.inputs[0])
        (i_scale,), (i_zp,) = qparams(tin[0])
        w = const_data(model, tin[1], np.int8)
        w_scales, _ = qparams(tin[1])
        bias = const_data(model, tin[2], np.int32) if tin[2] is not None else None
        n, h, wd, c = x.shape
        if code == CONV_2D:
            w_nchw = nchw(w)  # OHWI -> [O][I][H][W]
            groups = c // w.shape[3]
        else:
            w_nchw = np.ascontiguousarray(np.transpose(w, (3, 0, 1, 2)))  # 1HWO -> [O][1][H][W]
            groups = c
            assert opts.depthMultiplier * c == w.shape[3]
        m, _, kh, kw = w_nchw.shape
        if len(w_scales) == 1:
            w_scales = w_scales * m
        mult, shift = zip(*(quantize_multiplier(float(np.float32(i_scale)) * float(np.float32(s))
                                                / float(np.float32(o_scale))) for s in w_scales))
        same = opts.padding == 0
        oh, pt = tfl_out_and_pad(h, kh, opts.strideH, opts.dilationHFactor, same)
        ow, pl = tfl_out_and_pad(wd, kw, opts.strideW, opts.dilationWFactor, same)
        assert (n, oh, ow, m) == out_shape
        y = run_conv(lib, nchw(x), w_nchw, bias, mult, shift,
                     stride=(opts.strideH, opts.strideW),
                     dil=(opts.dilationHFactor, opts.dilationWFactor), pads=(pt, pl),
                     groups=groups, in_off=-i_zp, out_off=o_zp,
                     act=act_range(opts.fusedActivationFunction, o_scale, o_zp), out_hw=(oh, ow))
        return nhwc(y)

    if code == FULLY_CONNECTED:
        (i_scale,), (i_zp,) = qparams(tin[0])
        w = const_data(model, tin[1], np.int8)
        w_scales, w_zps = qparams(tin[1])
        bias = const_data(model, tin[2], np.int32) if tin[2] is not None else None
        x = get(op.inputs[0]).reshape(-1, w.shape[1])
        lo, hi = act_range(opts.fusedActivationFunction, o_scale, o_zp)
        p = dict(input_offset=-i_zp, weights_offset=-w_zps[0], output_offset=o_zp, act_min=lo,
                 act_max=hi, multiplier=0, shift=0)
        if len(w_scales) == 1:   # CalculateOpDataFullyConnected, per tensor
            p["multiplier"], p["shift"] = fc_multiplier_ref(i_scale, w_scales[0], o_scale)
        else:                    # ... per channel: as the convolutions
            pairs = [quantize_multiplier(float(np.float32(i_scale)) * float(np.float32(s_))
                                         / float(np.float32(o_scale))) for s_ in w_scales]
            p["multipliers"], p["shifts"] = ([m_ for m_, _ in pairs], [s_ for _, s_ in pairs])
        return run_fc(lib, x, w, bias, p).reshape(out_shape)

    if code == QUANTIZE:   # int8 -> int8: requantize
        (i_scale,), (i_zp,) = qparams(tin[0])
        mult, shift = quantize_multiplier(float(np.float32(i_scale)) / float(np.float32(o_scale)))
        p = dict(input_offset=-i_zp, output_offset=o_zp, multiplier=mult, shift=shift,
                 act_min=-128, act_max=127)
        return run_requantize(lib, get(op.inputs[0]), p)

    if code == MEAN:   # over H and W of NHWC: QuantizedMeanOrSum
        x = get(op.inputs[0])
        (i_scale,), (i_zp,) = qparams(tin[0])
        assert list(const_data(model, tin[1], np.int32)) in ([1, 2], [2, 1])
        n, h, wd, c = x.shape
        mult, shift = mean_multiplier_ref(float(np.float32(i_scale)) / float(np.float32(o_scale)),
                                          h * wd)
        p = dict(input_offset=-i_zp, output_offset=o_zp, multiplier=mult, shift=shift,
                 act_min=-128, act_max=127)
        return run_mean(lib, x.reshape(n, h * wd, c), p).reshape(out_shape)

    if code in (AVERAGE_POOL_2D, MAX_POOL_2D):
        x = get(op.inputs[0])
        n, h, wd, c = x.shape
        same = opts.padding == 0
        oh, pt = tfl_out_and_pad(h, opts.filterHeight, opts.strideH, 1, same)
        ow, pl = tfl_out_and_pad(wd, opts.filterWidth, opts.strideW, 1, same)
        planes = nchw(x).reshape(n * c, h, wd)
        act = act_range(opts.fusedActivationFunction, o_scale, o_zp)
        y = run_pool(lib, "avg" if code == AVERAGE_POOL_2D else "max", planes,
                     (opts.filterHeight, opts.filterWidth), (opts.strideH, opts.strideW),
                     (1, 1), (pt, pl, 0, 0), (oh, ow), act)
        return nhwc(y.reshape(n, c, oh, ow))

    if code == ADD:
        a, b = get(op.inputs[0]), get(op.inputs[1])
        (s1,), (z1,) = qparams(tin[0])
        (s2,), (z2,) = qparams(tin[1])
        (m1, sh1), (m2, sh2), (mo, sho) = add_params(s1, s2, o_scale)
        lo, hi = act_range(opts.fusedActivationFunction, o_scale, o_zp)
        p = dict(a_offset=-z1, a_multiplier=m1, a_shift=sh1, b_offset=-z2, b_multiplier=m2,
                 b_shift=sh2, left_shift=20, output_offset=o_zp, output_multiplier=mo,
                 output_shift=sho, act_min=lo, act_max=hi)
        return run_add(lib, a, b, p)

    if code == SOFTMAX:
        (i_scale,), _ = qparams(tin[0])
        assert (o_scale, o_zp) == (1 / 256, -128)
        x = get(op.inputs[0])
        return run_softmax(lib, x, *softmax_params(i_scale, opts.beta))

    return None


def tflm_tensors(data: bytes, inputs: list[np.ndarray]):
    runtime = tflm_runtime()
    interp = runtime.Interpreter.from_bytes(
        data, intrepreter_config=runtime.InterpreterConfig.kPreserveAllTensors)
    for i, x in enumerate(inputs):
        interp.set_input(x, i)
    interp.invoke()
    return interp


@pytest.mark.parametrize("name", TFLITE_MODELS)
def test_layers_match_tflm(lib, name):
    path = MODELS / "mlperf_tiny" / name
    need(path.is_file(), f"{path} not found (the shared models live beside the checkout)")
    data = path.read_bytes()
    model = tflm_model(data)
    sg = model.subgraphs[0]
    in_t = sg.tensors[sg.inputs[0]]
    rng = np.random.default_rng(11)
    checked = {}
    # AD is all fully-connected layers and cheap: run more inputs there, since a
    # multiplier that is off in its last bits shows on only ~1 in 10^5 outputs.
    for sample in range(200 if name == "ad01_int8.tflite" else 2):
        x = rng.integers(-128, 128, list(in_t.shape), dtype=np.int64).astype(np.int8)
        interp = tflm_tensors(data, [x])

        def get(i, interp=interp):
            return np.asarray(interp.GetTensor(int(i), 0)["tensor_data"])

        for k, op in enumerate(sg.operators):
            ours = run_tflite_op(lib, model, op, get)
            if ours is None:
                continue
            want = get(op.outputs[0])
            assert ours.shape == want.shape
            bad = int(np.count_nonzero(ours != want))
            assert bad == 0, f"{name} op {k}: {bad}/{want.size} elements differ from TFLM"
            checked[k] = len(np.unique(want))
    assert checked, "no layer was checked"
    print(f"{name}: {len(checked)} layers bit-exact with TFLM")


@pytest.mark.parametrize("name", TFLITE_MODELS)
def test_compiler_prepare_matches_tflm_prepare(name):
    """aot.quantmath (what the lowering emits) derives the same multipliers and
    shifts as the TFLM Prepare formulas written out in this file, on every conv,
    depthwise conv and fully-connected layer of the MLPerf Tiny models."""
    from aot import quantmath as qm

    path = MODELS / "mlperf_tiny" / name
    need(path.is_file(), f"{path} not found (the shared models live beside the checkout)")
    model = tflm_model(path.read_bytes())
    sg = model.subgraphs[0]
    count = 0
    for op in sg.operators:
        code = model.operatorCodes[op.opcodeIndex]
        code = max(code.builtinCode, code.deprecatedBuiltinCode)
        if code not in (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED):
            continue
        (i_scale,), _ = qparams(sg.tensors[op.inputs[0]])
        w_scales, _ = qparams(sg.tensors[op.inputs[1]])
        (o_scale,), _ = qparams(sg.tensors[op.outputs[0]])
        if code == FULLY_CONNECTED:
            assert qm.fc_multiplier(i_scale, w_scales[0], o_scale) == \
                fc_multiplier_ref(i_scale, w_scales[0], o_scale)
        else:
            mults, shifts = qm.conv_multipliers(i_scale, w_scales, o_scale)
            want = [quantize_multiplier(float(np.float32(i_scale)) * float(np.float32(s))
                                        / float(np.float32(o_scale))) for s in w_scales]
            assert list(zip(mults.tolist(), shifts.tolist())) == want
        count += 1
    assert count > 0
    if name == "ad01_int8.tflite":
        # The last layer: a float32 input x filter product would give 1462485078,
        # which moves 1 of 64,000 outputs of test_int8_tflm's inputs by 1 LSB.
        op = sg.operators[9]
        (i_scale,), _ = qparams(sg.tensors[op.inputs[0]])
        (w_scale,), _ = qparams(sg.tensors[op.inputs[1]])
        (o_scale,), _ = qparams(sg.tensors[op.outputs[0]])
        assert qm.fc_multiplier(i_scale, w_scale, o_scale) == (1462485049, -9)


# --- TFLite Micro: edited single-op models ----------------------------------------------


def single_op(path: Path, op_index: int):
    """The model with only operator op_index left; returns (model, subgraph, op)."""
    need(path.is_file(), f"{path} not found (the shared models live beside the checkout)")
    model = tflm_model(path.read_bytes())
    sg = model.subgraphs[0]
    op = sg.operators[op_index]
    sg.operators = [op]
    return model, sg, op


def set_tensor(t, shape, scales, zps, qdim=0):
    t.shape = np.array(shape, np.int32)
    t.shapeSignature = None
    t.quantization.scale = np.array(scales, np.float32)
    t.quantization.zeroPoint = np.array(zps, np.int64)
    t.quantization.quantizedDimension = qdim
    t.quantization.min = t.quantization.max = None


def set_const(model, t, data, scales, zps, qdim=0):
    set_tensor(t, data.shape, scales, zps, qdim)
    model.buffers[t.buffer].data = np.frombuffer(data.tobytes(), np.uint8).copy()


def finish(model, sg, inputs, outputs) -> bytes:
    import flatbuffers

    sg.inputs = np.array(inputs, np.int32)
    sg.outputs = np.array(outputs, np.int32)
    builder = flatbuffers.Builder(1 << 16)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def check_single_op(lib, data: bytes, inputs: list[np.ndarray]):
    interp = tflm_tensors(data, inputs)
    want = np.asarray(interp.get_output(0))
    model = tflm_model(data)
    sg = model.subgraphs[0]
    feeds = dict(zip((int(i) for i in sg.inputs), inputs))
    ours = run_tflite_op(lib, model, sg.operators[0], lambda i: feeds[int(i)])
    assert ours.shape == want.shape
    np.testing.assert_array_equal(ours, want)
    return want


KWS = MODELS / "mlperf_tiny" / "kws_ref_model.tflite"
RESNET = MODELS / "mlperf_tiny" / "pretrainedResnet_quant.tflite"


@pytest.mark.parametrize("scale", [1 / 256, 0.01, 0.0625, 0.14469251, 0.5, 1.0, 4.0, 3e-6])
@pytest.mark.parametrize("shape", [(1, 12), (5, 3), (2, 100), (1, 1), (2, 3, 40)])
def test_softmax_s8_matches_tflm(lib, scale, shape):
    rng = np.random.default_rng(seed((scale, shape)))
    model, sg, op = single_op(KWS, 12)
    zp = int(rng.integers(-128, 128))
    set_tensor(sg.tensors[op.inputs[0]], shape, [scale], [zp])
    set_tensor(sg.tensors[op.outputs[0]], shape, [1 / 256], [-128])
    data = finish(model, sg, [op.inputs[0]], [op.outputs[0]])
    for x in [rng.integers(-128, 128, shape, dtype=np.int64),
              rng.integers(-6, 7, shape, dtype=np.int64) + zp]:
        check_single_op(lib, data, [np.clip(x, -128, 127).astype(np.int8)])


@pytest.mark.parametrize("sa,sb", [
    ((1, 8, 8, 16), (1, 8, 8, 16)),
    ((1, 5, 7, 16), (1, 1, 1, 16)),
    ((2, 1, 6, 3), (1, 4, 1, 3)),
    ((1, 1, 1, 1), (3, 5, 2, 7)),
])
@pytest.mark.parametrize("scales,act", [
    ((0.05, 0.05, 0.1), 0), ((0.02, 0.3, 0.25), 1), ((1.7, 0.001, 0.5), 0), ((0.1, 0.2, 0.01), 3),
])
def test_add_s8_matches_tflm(lib, sa, sb, scales, act):
    rng = np.random.default_rng(seed((sa, sb, scales)))
    model, sg, op = single_op(RESNET, 3)
    out_shape = np.broadcast_shapes(sa, sb)
    zps = [int(z) for z in rng.integers(-128, 128, 3)]
    set_tensor(sg.tensors[op.inputs[0]], sa, [scales[0]], [zps[0]])
    set_tensor(sg.tensors[op.inputs[1]], sb, [scales[1]], [zps[1]])
    set_tensor(sg.tensors[op.outputs[0]], out_shape, [scales[2]], [zps[2]])
    op.builtinOptions.fusedActivationFunction = act
    data = finish(model, sg, [op.inputs[0], op.inputs[1]], [op.outputs[0]])
    for _ in range(2):
        a = rng.integers(-128, 128, sa, dtype=np.int64).astype(np.int8)
        b = rng.integers(-128, 128, sb, dtype=np.int64).astype(np.int8)
        check_single_op(lib, data, [a, b])


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("shape,k,stride,same,act", [
    ((1, 9, 10, 5), (3, 3), (2, 2), True, 0),
    ((2, 8, 7, 3), (2, 2), (2, 2), False, 1),
    ((1, 7, 7, 4), (3, 2), (1, 2), True, 3),
    ((1, 25, 5, 6), (25, 5), (1, 1), False, 0),
])
def test_pool2d_s8_matches_tflm(lib, kind, shape, k, stride, same, act):
    rng = np.random.default_rng(seed((kind, shape)))
    model, sg, op = single_op(KWS, 9)  # AVERAGE_POOL_2D
    if kind == "max":
        code = model.operatorCodes[op.opcodeIndex]
        code.builtinCode = code.deprecatedBuiltinCode = MAX_POOL_2D
    n, h, w, c = shape
    oh, _ = tfl_out_and_pad(h, k[0], stride[0], 1, same)
    ow, _ = tfl_out_and_pad(w, k[1], stride[1], 1, same)
    scale, zp = 0.05, int(rng.integers(-128, 128))
    set_tensor(sg.tensors[op.inputs[0]], shape, [scale], [zp])
    set_tensor(sg.tensors[op.outputs[0]], (n, oh, ow, c), [scale], [zp])
    o = op.builtinOptions
    o.padding, o.strideH, o.strideW = (0 if same else 1), stride[0], stride[1]
    o.filterHeight, o.filterWidth, o.fusedActivationFunction = k[0], k[1], act
    data = finish(model, sg, [op.inputs[0]], [op.outputs[0]])
    for _ in range(3):
        check_single_op(lib, data, [rng.integers(-128, 128, shape, dtype=np.int64).astype(np.int8)])


@pytest.mark.parametrize("depthwise,shape,m,k,stride,dil,same,act", [
    (False, (1, 11, 9, 3), 5, (3, 3), (1, 1), (1, 1), True, 1),
    (False, (2, 12, 10, 7), 9, (3, 2), (2, 1), (1, 1), True, 0),
    (False, (1, 13, 12, 4), 6, (3, 3), (1, 1), (2, 3), True, 3),
    (False, (1, 9, 9, 5), 4, (2, 3), (2, 2), (1, 1), False, 0),
    (True, (1, 10, 9, 5), 15, (3, 3), (1, 1), (1, 1), True, 1),
    (True, (2, 9, 8, 3), 6, (3, 3), (2, 2), (1, 1), True, 3),
    (True, (1, 12, 11, 4), 4, (3, 3), (1, 1), (2, 2), True, 0),
    (True, (1, 8, 8, 2), 8, (2, 2), (2, 1), (1, 1), False, 0),
])
def test_conv2d_s8_matches_tflm(lib, depthwise, shape, m, k, stride, dil, same, act):
    rng = np.random.default_rng(seed((depthwise, shape, m)))
    model, sg, op = single_op(KWS, 1 if depthwise else 0)
    n, h, w, c = shape
    oh, _ = tfl_out_and_pad(h, k[0], stride[0], dil[0], same)
    ow, _ = tfl_out_and_pad(w, k[1], stride[1], dil[1], same)
    in_scale, in_zp = 0.03, int(rng.integers(-128, 128))
    w_scales = (2.0 ** rng.uniform(-9, -5, m)).astype(np.float32)
    taps = k[0] * k[1] * (1 if depthwise else c)
    out_scale = float(in_scale * float(w_scales.mean()) * 128 * 70 * math.sqrt(taps) / 60)
    out_zp = int(rng.integers(-100, 100))
    set_tensor(sg.tensors[op.inputs[0]], shape, [in_scale], [in_zp])
    set_tensor(sg.tensors[op.outputs[0]], (n, oh, ow, m), [out_scale], [out_zp])
    if depthwise:
        wt = rng.integers(-127, 128, (1, k[0], k[1], m), dtype=np.int64).astype(np.int8)
        set_const(model, sg.tensors[op.inputs[1]], wt, w_scales, [0] * m, qdim=3)
        op.builtinOptions.depthMultiplier = m // c
    else:
        wt = rng.integers(-127, 128, (m, k[0], k[1], c), dtype=np.int64).astype(np.int8)
        set_const(model, sg.tensors[op.inputs[1]], wt, w_scales, [0] * m, qdim=0)
    bias = rng.integers(-3000, 3000, m).astype(np.int32)
    set_const(model, sg.tensors[op.inputs[2]], bias, in_scale * w_scales, [0] * m)
    o = op.builtinOptions
    o.padding, o.strideH, o.strideW = (0 if same else 1), stride[0], stride[1]
    o.dilationHFactor, o.dilationWFactor, o.fusedActivationFunction = dil[0], dil[1], act
    data = finish(model, sg, [op.inputs[0]], [op.outputs[0]])
    for _ in range(2):
        x = rng.integers(-128, 128, shape, dtype=np.int64).astype(np.int8)
        want = check_single_op(lib, data, [x])
        assert len(np.unique(want)) > 8


@pytest.mark.parametrize("batch,k,n,act", [(1, 64, 12, 0), (3, 33, 7, 1), (2, 5, 9, 3)])
def test_fully_connected_s8_matches_tflm(lib, batch, k, n, act):
    rng = np.random.default_rng(batch * 100 + k + n)
    model, sg, op = single_op(KWS, 11)
    in_scale, in_zp = 0.07, int(rng.integers(-128, 128))
    w_scale = 0.004
    out_scale = in_scale * w_scale * 128 * 70 * math.sqrt(k) / 60
    set_tensor(sg.tensors[op.inputs[0]], (batch, k), [in_scale], [in_zp])
    set_tensor(sg.tensors[op.outputs[0]], (batch, n), [out_scale], [int(rng.integers(-50, 50))])
    wt = rng.integers(-127, 128, (n, k), dtype=np.int64).astype(np.int8)
    set_const(model, sg.tensors[op.inputs[1]], wt, [w_scale], [0])
    bias = rng.integers(-3000, 3000, n).astype(np.int32)
    set_const(model, sg.tensors[op.inputs[2]], bias, [in_scale * w_scale], [0])
    op.builtinOptions.fusedActivationFunction = act
    data = finish(model, sg, [op.inputs[0]], [op.outputs[0]])
    for _ in range(3):
        x = rng.integers(-128, 128, (batch, k), dtype=np.int64).astype(np.int8)
        check_single_op(lib, data, [x])


@pytest.mark.parametrize("batch,k,n,act", [(1, 64, 12, 0), (3, 33, 7, 1), (2, 5, 9, 3)])
def test_fully_connected_per_channel_s8_matches_tflm(lib, batch, k, n, act):
    """TFLM's per-channel fully connected (one weight scale per output)."""
    rng = np.random.default_rng(7 * batch + k + n)
    model, sg, op = single_op(KWS, 11)
    in_scale, in_zp = 0.07, int(rng.integers(-128, 128))
    w_scales = (0.004 * 2.0 ** rng.uniform(-2, 2, n)).astype(np.float32)
    out_scale = in_scale * 0.004 * 128 * 70 * math.sqrt(k) / 60
    set_tensor(sg.tensors[op.inputs[0]], (batch, k), [in_scale], [in_zp])
    set_tensor(sg.tensors[op.outputs[0]], (batch, n), [out_scale], [int(rng.integers(-50, 50))])
    wt = rng.integers(-127, 128, (n, k), dtype=np.int64).astype(np.int8)
    set_const(model, sg.tensors[op.inputs[1]], wt, w_scales, [0] * n, qdim=0)
    bias = rng.integers(-3000, 3000, n).astype(np.int32)
    set_const(model, sg.tensors[op.inputs[2]], bias, in_scale * w_scales, [0] * n)
    op.builtinOptions.fusedActivationFunction = act
    data = finish(model, sg, [op.inputs[0]], [op.outputs[0]])
    for _ in range(3):
        x = rng.integers(-128, 128, (batch, k), dtype=np.int64).astype(np.int8)
        check_single_op(lib, data, [x])


def as_op(model, op, code: int) -> None:
    """Turns op's operator code into `code`, without builtin options."""
    opcode = model.operatorCodes[op.opcodeIndex]
    opcode.builtinCode = opcode.deprecatedBuiltinCode = code
    op.builtinOptions, op.builtinOptionsType = None, 0


@pytest.mark.parametrize("in_q,out_q", [
    ((0.05, 3), (0.1, -7)), ((0.1, -128), (0.0392, 0)), ((0.02, 40), (0.02, -40)),
    ((1.0, 0), (1 / 255, -128)), ((0.003, -20), (0.5, 11)), ((1 / 256, -128), (1 / 255, -128)),
])
def test_requantize_s8_matches_tflm(lib, in_q, out_q):
    """TFLM's int8 -> int8 QUANTIZE (reference_ops::Requantize)."""
    model, sg, op = single_op(KWS, 9)
    as_op(model, op, QUANTIZE)
    op.inputs = np.array(op.inputs[:1], np.int32)
    shape = (1, 4, 8, 8)
    set_tensor(sg.tensors[op.inputs[0]], shape, [in_q[0]], [in_q[1]])
    set_tensor(sg.tensors[op.outputs[0]], shape, [out_q[0]], [out_q[1]])
    data = finish(model, sg, [op.inputs[0]], [op.outputs[0]])
    x = np.arange(-128, 128, dtype=np.int64).astype(np.int8).reshape(shape)
    check_single_op(lib, data, [x])


def add_const_tensor(model, sg, name: str, data: np.ndarray) -> int:
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

    buf = fb.BufferT()
    buf.data = np.frombuffer(data.tobytes(), np.uint8).copy()
    model.buffers.append(buf)
    t = fb.TensorT()
    t.shape = np.array(data.shape, np.int32)
    t.type = fb.TensorType.INT32
    t.buffer = len(model.buffers) - 1
    t.name = name.encode()
    sg.tensors.append(t)
    return len(sg.tensors) - 1


@pytest.mark.parametrize("shape", [(1, 7, 7, 16), (2, 5, 3, 4), (1, 1, 12, 3), (1, 25, 5, 64)])
@pytest.mark.parametrize("in_q,out_q", [((0.05, -128), (0.02, -128)), ((0.1, 5), (0.1, 5)),
                                        ((0.02, 30), (0.07, -90)), ((0.5, -3), (0.004, 0))])
def test_mean_s8_matches_tflm(lib, shape, in_q, out_q):
    """TFLM's int8 MEAN over H and W (reference_ops::QuantizedMeanOrSum), with and
    without keep_dims."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

    rng = np.random.default_rng(seed(("mean_tflm", shape, in_q, out_q)))
    model, sg, op = single_op(KWS, 9)
    as_op(model, op, MEAN)
    op.builtinOptionsType = fb.BuiltinOptions.ReducerOptions
    op.builtinOptions = fb.ReducerOptionsT()
    op.builtinOptions.keepDims = True
    axis = add_const_tensor(model, sg, "axis", np.array([1, 2], np.int32))
    op.inputs = np.array([op.inputs[0], axis], np.int32)
    n, h, w, c = shape
    keep = bool(sum(shape) % 2)
    op.builtinOptions.keepDims = keep
    set_tensor(sg.tensors[op.inputs[0]], shape, [in_q[0]], [in_q[1]])
    set_tensor(sg.tensors[op.outputs[0]], (n, 1, 1, c) if keep else (n, c), [out_q[0]],
               [out_q[1]])
    data = finish(model, sg, [op.inputs[0]], [op.outputs[0]])
    for x in [rng.integers(-128, 128, shape, dtype=np.int64),
              rng.integers(-3, 4, shape, dtype=np.int64) + in_q[1]]:
        check_single_op(lib, data, [np.clip(x, -128, 127).astype(np.int8)])


# --- the C sources themselves ------------------------------------------------------------


def compilers():
    out = []
    if shutil.which("gcc"):
        out.append(("gcc", ["gcc"]))
    try:
        import ziglang  # noqa: F401
        zig = [sys.executable, "-m", "ziglang", "cc"]
        out += [("zig-native", zig),
                ("zig-m0plus", zig + ["-target", "thumb-freestanding-eabi", "-mcpu=cortex_m0plus"]),
                ("zig-m4", zig + ["-target", "thumb-freestanding-eabihf", "-mcpu=cortex_m4"])]
    except ImportError:
        pass
    if shutil.which("arm-none-eabi-gcc"):
        out.append(("arm-none-eabi-gcc-m0plus",
                    ["arm-none-eabi-gcc", "-mcpu=cortex-m0plus", "-mthumb"]))
    return out


@pytest.mark.parametrize("name,cc", compilers(), ids=[c[0] for c in compilers()])
def test_sources_compile_warning_free(tmp_path, name, cc):
    for kernel in S8_KERNELS:
        src = RUNTIME / f"{kernel}.c"
        assert src.read_text().startswith("/* SPDX-License-Identifier: Apache-2.0 */\n")
        for opt in ("-O0", "-O2", "-Os"):
            obj = tmp_path / f"{kernel}{opt}.o"
            res = subprocess.run([*cc, *STRICT, opt, "-c", "-I", str(RUNTIME), str(src),
                                  "-o", str(obj)], capture_output=True, text=True)
            assert res.returncode == 0 and not res.stderr.strip(), f"{name} {kernel}:\n{res.stderr}"
            assert obj.stat().st_size > 0


def cross_compilers_m0():
    out = []
    try:
        import ziglang  # noqa: F401
        out.append(("zig", [sys.executable, "-m", "ziglang", "cc", "-target",
                            "thumb-freestanding-eabi", "-mcpu=cortex_m0plus",
                            "-fno-unwind-tables", "-fno-asynchronous-unwind-tables"]))
    except ImportError:
        pass
    if shutil.which("arm-none-eabi-gcc"):
        out.append(("arm-none-eabi-gcc", ["arm-none-eabi-gcc", "-mcpu=cortex-m0plus", "-mthumb"]))
    return out


def test_includes_only_freestanding_headers():
    for kernel in S8_KERNELS:
        for line in (RUNTIME / f"{kernel}.c").read_text().splitlines():
            if line.startswith("#include"):
                assert line.split()[1].strip('"') in ("aot_kernels.h", "aot_fixedpoint.h",
                                                      "aot_window_impl.h",
                                                      "aot_conv2d_s8_impl.h",
                                                      "aot_binary_impl.h",
                                                      "aot_transpose_impl.h"), line
    for line in (RUNTIME / "aot_fixedpoint.h").read_text().splitlines():
        if line.startswith("#include"):
            assert line.split()[1] == "<stdint.h>", line


@pytest.mark.parametrize("name,cc", cross_compilers_m0(), ids=[c[0] for c in cross_compilers_m0()])
def test_no_libc_and_integer_only_on_cortex_m0(tmp_path, name, cc):
    """On Cortex-M0+ the kernels call only compiler helpers (__aeabi_*), never libc
    (gcc turns some loops into memset/memcpy calls), and the integer kernels call no
    float, double or 64-bit division helper: only 64-bit multiply and 32-bit division."""
    nm = shutil.which("llvm-nm") or shutil.which("arm-none-eabi-nm") or shutil.which("nm")
    need(nm is not None, "no nm to list undefined symbols")
    allowed = {"__aeabi_lmul", "__aeabi_idiv", "__aeabi_uidiv", "__aeabi_idivmod",
               "__aeabi_uidivmod"}
    for kernel in S8_KERNELS:
        for opt in ("-O1", "-O2", "-Os", "-O3"):
            obj = tmp_path / f"{kernel}{opt}.o"
            subprocess.run([*cc, opt, *STRICT, "-c", "-I", str(RUNTIME),
                            str(RUNTIME / f"{kernel}.c"), "-o", str(obj)], check=True)
            res = subprocess.run([nm, "-u", str(obj)], capture_output=True, text=True,
                                 check=True)
            undefined = {line.split()[-1] for line in res.stdout.splitlines() if line.strip()}
            if kernel in INTEGER_KERNELS:
                assert undefined <= allowed, f"{kernel} {opt} needs {sorted(undefined - allowed)}"
            else:
                libc = sorted(u for u in undefined if not u.startswith("__aeabi_"))
                assert not libc, f"{kernel} {opt} needs {libc}"

# SPDX-License-Identifier: Apache-2.0
"""Accuracy of the libc-free math in runtime_c/ against float64 numpy.

aot_math.h states an error bound for aot_expf and aot_tanhf; these tests
parse that bound from the header and check it over a dense sample of every
float32 bit pattern in the interesting range (the bounds themselves were
measured exhaustively over all 2^32 inputs), plus the special cases the
header promises. aot_memcpy/aot_memset are checked at every small
alignment and length.
"""

from __future__ import annotations

import ctypes
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

RUNTIME = Path(__file__).resolve().parent.parent / "runtime_c"

# Applies the scalar functions over arrays, so a sample of tens of millions
# of inputs costs one ctypes call rather than one per value.
WRAPPER_C = r"""
#include <stddef.h>
#include "aot_math.h"

void apply_expf(const float *x, float *y, size_t n)
{
    size_t i;
    for (i = 0; i < n; ++i) {
        y[i] = aot_expf(x[i]);
    }
}

void apply_tanhf(const float *x, float *y, size_t n)
{
    size_t i;
    for (i = 0; i < n; ++i) {
        y[i] = aot_tanhf(x[i]);
    }
}
"""

FLT_MAX = float(np.finfo(np.float32).max)
TINY = 2.0**-149  # smallest subnormal float32


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    cc = shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler (cc) on PATH")
    out = tmp_path_factory.mktemp("aot_math")
    wrapper = out / "wrapper.c"
    wrapper.write_text(WRAPPER_C)
    so = out / "libaotmath.so"
    sources = [RUNTIME / f for f in ("aot_expf.c", "aot_tanhf.c", "aot_memcpy.c", "aot_memset.c")]
    subprocess.run(
        [cc, "-O2", "-shared", "-fPIC", "-std=c99", "-Wall", "-Wextra", "-Werror",
         "-I", str(RUNTIME), "-o", str(so), str(wrapper), *map(str, sources)],
        check=True,
    )
    dll = ctypes.CDLL(str(so))
    for name in ("aot_expf", "aot_tanhf"):
        fn = getattr(dll, name)
        fn.restype = ctypes.c_float
        fn.argtypes = [ctypes.c_float]
    fptr = ctypes.POINTER(ctypes.c_float)
    for name in ("apply_expf", "apply_tanhf"):
        fn = getattr(dll, name)
        fn.restype = None
        fn.argtypes = [fptr, fptr, ctypes.c_size_t]
    dll.aot_memcpy.restype = None
    dll.aot_memcpy.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
    dll.aot_memset.restype = None
    dll.aot_memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
    return dll


def header_bound(function: str) -> float:
    """The 'error at most N ulp' that aot_math.h states for `function`."""
    text = (RUNTIME / "aot_math.h").read_text()
    doc = re.search(r"/\*\*((?:(?!\*/).)*?)\*/\s*float\s+" + function + r"\(", text, re.S)
    assert doc, f"no doc comment for {function} in aot_math.h"
    bound = re.search(r"error at most ([0-9.]+) ulp", doc.group(1))
    assert bound, f"the doc comment of {function} states no error bound"
    return float(bound.group(1))


def apply(lib, name: str, x: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float32)
    y = np.empty_like(x)
    fptr = ctypes.POINTER(ctypes.c_float)
    getattr(lib, "apply_" + name)(x.ctypes.data_as(fptr), y.ctypes.data_as(fptr), x.size)
    return y


def floats_between(lo_bits: int, hi_bits: int, stride: int) -> np.ndarray:
    """Every stride-th float32 bit pattern in [lo_bits, hi_bits], and hi_bits."""
    bits = np.arange(lo_bits, hi_bits + 1, stride, dtype=np.uint32)
    bits = np.append(bits, np.uint32(hi_bits))
    return bits.view(np.float32)


def sample_chunks(ranges, stride: int, chunk: int = 1 << 20):
    """floats_between over each (lo_bits, hi_bits) range, in chunks of about
    `chunk` values: small arrays keep the sample fast (no page-fault storm)."""
    for lo_bits, hi_bits in ranges:
        step = stride * chunk
        for start in range(lo_bits, hi_bits + 1, step):
            yield floats_between(start, min(start + step - 1, hi_bits), stride)


def bits_of(v: float) -> int:
    return int(np.float32(v).view(np.uint32))


def ulp_error(got: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """|got - ref| in units of the float32 ulp at ref (subnormal ulp floor)."""
    _, e = np.frexp(np.abs(ref))  # |ref| = m * 2^e, m in [0.5, 1)
    ulp = np.ldexp(1.0, np.maximum(e - 1 - 23, -149))
    ulp = np.where(ref == 0.0, TINY, ulp)
    return np.abs(got.astype(np.float64) - ref) / ulp


def worst(err: np.ndarray, x: np.ndarray) -> str:
    i = int(np.argmax(err))
    return f"{err[i]:.4f} ulp at x = {float(x[i])!r} ({float(x[i]).hex()})"


# --- aot_expf -----------------------------------------------------------------


def test_expf_dense_sample_within_header_bound(lib):
    bound = header_bound("aot_expf")
    # All finite results: x in [-104, 89], both signs, every 61st bit pattern
    # (odd, so the sample walks through every mantissa residue).
    ranges = [(0, bits_of(89.0)), (0x80000000, bits_of(-104.0))]
    for x in sample_chunks(ranges, 61):
        got = apply(lib, "expf", x)
        ref = np.exp(x.astype(np.float64))
        # Values that round to +inf in float32 must come out as +inf.
        overflows = ref >= FLT_MAX * (1.0 + 2.0**-25)
        assert np.all(np.isposinf(got[overflows]))
        finite = ~overflows
        assert np.all(np.isfinite(got[finite]))
        err = ulp_error(got[finite], ref[finite])
        assert err.max() <= bound, worst(err, x[finite])


def test_expf_special_values(lib):
    expf = lib.aot_expf
    inf = float("inf")
    assert expf(0.0) == 1.0
    assert expf(-0.0) == 1.0
    assert expf(TINY) == 1.0 and expf(-TINY) == 1.0
    assert expf(inf) == inf
    assert expf(-inf) == 0.0
    assert np.isnan(expf(float("nan")))
    assert np.isnan(apply(lib, "expf", np.array([-np.nan], dtype=np.float32))[0])
    # Overflow threshold: 88.7228317 is the largest finite case.
    last_finite = np.float32(88.7228317)
    assert np.isfinite(expf(float(last_finite)))
    assert expf(float(np.nextafter(last_finite, np.float32(inf)))) == inf
    assert expf(1000.0) == inf
    # Underflow: the smallest x that still gives the smallest subnormal.
    first_nonzero = np.float32(-103.972076)
    assert expf(float(first_nonzero)) == TINY
    assert expf(float(np.nextafter(first_nonzero, np.float32(-inf)))) == 0.0
    assert expf(-1000.0) == 0.0


def test_expf_subnormal_results_within_header_bound(lib):
    bound = header_bound("aot_expf")
    # e^x < 2^-126 for x < -87.34: every float there, not a sample.
    x = floats_between(bits_of(-87.0), bits_of(-103.972076), 1)
    got = apply(lib, "expf", x)
    err = ulp_error(got, np.exp(x.astype(np.float64)))
    assert err.max() <= bound, worst(err, x)


# --- aot_tanhf ----------------------------------------------------------------


def test_tanhf_dense_sample_within_header_bound(lib):
    bound = header_bound("aot_tanhf")
    # Every 29th float from 0 to 10, both signs.
    for pos in sample_chunks([(0, bits_of(10.0))], 29):
        x = np.concatenate([pos, -pos])
        got = apply(lib, "tanhf", x)
        err = ulp_error(got, np.tanh(x.astype(np.float64)))
        assert err.max() <= bound, worst(err, x)


def test_tanhf_is_odd_bit_for_bit(lib):
    pos = floats_between(0, 0x7F800000, 997)
    a = apply(lib, "tanhf", pos).view(np.uint32)
    b = apply(lib, "tanhf", -pos).view(np.uint32)
    assert np.array_equal(a ^ np.uint32(0x80000000), b)


def test_tanhf_special_values(lib):
    tanhf = lib.aot_tanhf
    inf = float("inf")
    assert tanhf(0.0) == 0.0 and not np.signbit(tanhf(0.0))
    assert tanhf(-0.0) == 0.0 and np.signbit(tanhf(-0.0))
    assert tanhf(TINY) == TINY and tanhf(-TINY) == -TINY
    tiny_edge = float(np.nextafter(np.float32(2.0**-12), np.float32(0)))
    assert tanhf(tiny_edge) == tiny_edge
    assert tanhf(inf) == 1.0 and tanhf(-inf) == -1.0
    assert np.isnan(tanhf(float("nan")))
    # "exactly +-1 for |x| > 9.02"
    x = floats_between(bits_of(9.02) + 1, 0x7F7FFFFF, 4099)
    assert np.all(apply(lib, "tanhf", x) == 1.0)
    assert np.all(apply(lib, "tanhf", -x) == -1.0)


# --- aot_memcpy / aot_memset --------------------------------------------------


def test_memcpy_all_small_alignments_and_lengths(lib):
    src = bytes(range(1, 101))
    for s_off in range(8):
        for d_off in range(8):
            for n in range(0, 41):
                dst = ctypes.create_string_buffer(b"\xee" * 64, 64)
                buf = ctypes.create_string_buffer(src, len(src))
                lib.aot_memcpy(ctypes.addressof(dst) + d_off, ctypes.addressof(buf) + s_off, n)
                expect = b"\xee" * d_off + src[s_off:s_off + n] + b"\xee" * (64 - d_off - n)
                assert dst.raw == expect, (s_off, d_off, n)


def test_memset_all_small_alignments_and_lengths(lib):
    for off in range(8):
        for n in range(0, 41):
            dst = ctypes.create_string_buffer(b"\xee" * 64, 64)
            lib.aot_memset(ctypes.addressof(dst) + off, 0x1A5, n)  # only the low byte counts
            assert dst.raw == b"\xee" * off + b"\xa5" * n + b"\xee" * (64 - off - n), (off, n)

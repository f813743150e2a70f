# SPDX-License-Identifier: Apache-2.0
"""Transformer-encoder ops and patterns against onnxruntime (ORT, optimizations
off, one thread) on small graphs, plus aot_erff's stated error bound.

- fusions: the written-out LayerNormalization and exact GELU each become one
  node; weight-only int8 `Cast(int8) -> Mul(scale)` stays int8 into MatMul and
  Gather; what no W8 kernel takes is folded to float32 (and still matches).
- run-time Gather: an index out of range makes `<name>_run` return AOT_E_RANGE.
- mask construction (Cast, GatherND, And, Where, Softmax, IsNaN) on a padded
  attention mask, including a fully masked row (softmax of all -inf is NaN).
- shape subgraphs (Shape -> Slice -> Concat / Range) fold away.
- SIMD kernels: AVX-512 / NEON GELU bit for bit the portable kernel (their vector
  aot_expf / aot_erff bit for bit the scalar ones, AVX-512 over every 97th float);
  attention's masked softmax and strided Q.K^T / P.V products (fused, no Transpose
  left) on every x86 level and aarch64 (emulated); the weight-only int8 tiles, and
  the same bits on two threads.
Tolerance: |aot - ORT| <= 1e-5 * max|ORT| + 1e-6.
"""

from __future__ import annotations

import ctypes
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import aot
from aot.api import compile_graph
from aot.errors import ToolchainError
from aot.inspect import inspect_report
from aot.frontend import import_model
from aot.passes.pipeline import pipeline_for, run_pipeline
from conftest import need, need_import, ort_unoptimized

RUNTIME = Path(__file__).resolve().parent.parent / "runtime_c"
F = TensorProto.FLOAT
I64 = TensorProto.INT64


def _model(nodes, inputs, outputs, inits=(), opset=17):
    graph = helper.make_graph(nodes, "t", inputs, outputs, list(inits))
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def _ops_after_passes(model) -> list[str]:
    graph = run_pipeline(import_model(model), pipeline_for(None))
    return [n.op for n in graph.nodes]


def _check(model, feeds, tmp_path, target="x86-64"):
    want = ort_unoptimized(model, feeds)
    got = aot.compile(model, target, out_dir=str(tmp_path / "out")).run(feeds)
    for vi, ref in zip(model.graph.output, want):
        out = got[vi.name]
        assert out.shape == ref.shape and out.dtype == ref.dtype
        finite = np.isfinite(ref)
        assert np.array_equal(np.isnan(out), np.isnan(ref)), vi.name
        tol = 1e-5 * float(np.abs(ref[finite]).max(initial=0.0)) + 1e-6
        assert float(np.abs(out[finite] - ref[finite]).max(initial=0.0)) <= tol, vi.name
    return got


# ----------------------------------------------------------------- aot_erff

WRAPPER_C = r"""
#include <stddef.h>
#include "aot_math.h"
void apply_erff(const float *x, float *y, size_t n)
{
    size_t i;
    for (i = 0; i < n; ++i) {
        y[i] = aot_erff(x[i]);
    }
}
"""


@pytest.mark.parametrize("contract", ["off", "fast"])
def test_erff_error_bound(tmp_path, contract):
    """The bound aot_math.h states for aot_erff, over every 211th float of
    [0, 4.5] (both signs) and the special values; float64 scipy as reference."""
    need_import("scipy")
    from scipy import special
    cc = shutil.which("cc")
    need(cc is not None, "no C compiler (cc)")
    header = (RUNTIME / "aot_math.h").read_text()
    doc = header[:header.index("float aot_erff(float x);")].rsplit("/**", 1)[1]
    ulp_bound = float(re.search(r"at most ([0-9.]+) ulp", doc).group(1))
    abs_bound = float(re.search(r"and ([0-9.e-]+) absolute", doc).group(1))
    (tmp_path / "w.c").write_text(WRAPPER_C)
    so = tmp_path / "liberf.so"
    flags = ["-march=native"] if contract == "fast" else []
    subprocess.run([cc, "-O2", f"-ffp-contract={contract}", *flags, "-shared", "-fPIC",
                    f"-I{RUNTIME}", str(tmp_path / "w.c"), str(RUNTIME / "aot_erff.c"),
                    str(RUNTIME / "aot_expf.c"), "-o", str(so)], check=True)
    lib = ctypes.CDLL(str(so))
    lib.apply_erff.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
    bits = np.arange(0, 0x40900000, 211, dtype=np.uint32)
    x = np.concatenate([bits.view(np.float32), -bits.view(np.float32)])
    y = np.empty_like(x)
    lib.apply_erff(x.ctypes.data, y.ctypes.data, x.size)
    ref = special.erf(x.astype(np.float64))
    ulp = np.maximum(np.spacing(np.abs(ref).astype(np.float32)).astype(np.float64), 2.0**-149)
    err = np.abs(y - ref)
    assert float((err / ulp).max()) <= ulp_bound
    assert float(err.max()) <= abs_bound
    sp = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 3.93, -3.93, 1e30], np.float32)
    ys = np.empty_like(sp)
    lib.apply_erff(sp.ctypes.data, ys.ctypes.data, sp.size)
    assert ys[0] == 0.0 and np.signbit(ys[1]) and ys[1] == 0.0
    assert list(ys[2:4]) == [1.0, -1.0] and np.isnan(ys[4])
    assert list(ys[5:]) == [1.0, -1.0, 1.0]


# ----------------------------------------------------------------- fusions

def _decomposed_layer_norm(shape, axes):
    gamma = numpy_helper.from_array(np.linspace(0.5, 1.5, shape[-1]).astype(np.float32), "g")
    beta = numpy_helper.from_array(np.linspace(-1, 1, shape[-1]).astype(np.float32), "b")
    ax = numpy_helper.from_array(np.array(axes, np.int64), "axes")
    two = numpy_helper.from_array(np.array(2.0, np.float32), "two")
    eps = numpy_helper.from_array(np.array(1e-5, np.float32), "eps")
    nodes = [helper.make_node("ReduceMean", ["x", "axes"], ["mean"]),
             helper.make_node("Sub", ["x", "mean"], ["d"]),
             helper.make_node("Pow", ["d", "two"], ["d2"]),
             helper.make_node("ReduceMean", ["d2", "axes"], ["var"]),
             helper.make_node("Add", ["var", "eps"], ["ve"]),
             helper.make_node("Sqrt", ["ve"], ["std"]),
             helper.make_node("Div", ["d", "std"], ["n"]),
             helper.make_node("Mul", ["n", "g"], ["ng"]),
             helper.make_node("Add", ["ng", "b"], ["y"])]
    return _model(nodes, [helper.make_tensor_value_info("x", F, shape)],
                  [helper.make_tensor_value_info("y", F, shape)],
                  [gamma, beta, ax, two, eps], opset=18)


def test_decomposed_layer_norm_fuses_and_matches(tmp_path):
    model = _decomposed_layer_norm([2, 5, 16], [-1])
    assert _ops_after_passes(model) == ["LayerNormalization"]
    x = np.random.default_rng(1).normal(3.0, 2.0, (2, 5, 16)).astype(np.float32)
    _check(model, {"x": x}, tmp_path)


def test_layer_norm_over_two_axes(tmp_path):
    model = _decomposed_layer_norm([3, 4, 8], [-2, -1])
    ops = _ops_after_passes(model)
    # gamma/beta vary along the last axis only: they broadcast to [4, 8] and fuse too
    assert ops == ["LayerNormalization"], ops
    x = np.random.default_rng(2).normal(0.0, 1.0, (3, 4, 8)).astype(np.float32)
    _check(model, {"x": x}, tmp_path)


@pytest.mark.parametrize("form", ["div", "mul", "half_first"])
def test_exact_gelu_pattern_fuses_and_matches(tmp_path, form):
    c = {"sqrt2": np.float32(np.sqrt(2.0)), "rsqrt2": np.float32(np.sqrt(0.5)),
         "one": np.float32(1.0), "half": np.float32(0.5)}
    inits = [numpy_helper.from_array(np.array(v), k) for k, v in c.items()]
    scaled = (helper.make_node("Div", ["x", "sqrt2"], ["s"]) if form != "mul"
              else helper.make_node("Mul", ["x", "rsqrt2"], ["s"]))
    nodes = [scaled, helper.make_node("Erf", ["s"], ["e"]),
             helper.make_node("Add", ["e", "one"], ["a"])]
    if form == "half_first":
        nodes += [helper.make_node("Mul", ["x", "half"], ["h"]),
                  helper.make_node("Mul", ["h", "a"], ["y"])]
    else:
        nodes += [helper.make_node("Mul", ["half", "a"], ["h"]),
                  helper.make_node("Mul", ["x", "h"], ["y"])]
    model = _model(nodes, [helper.make_tensor_value_info("x", F, [4, 64])],
                   [helper.make_tensor_value_info("y", F, [4, 64])], inits)
    assert _ops_after_passes(model) == ["Gelu"]
    x = np.random.default_rng(3).normal(0.0, 3.0, (4, 64)).astype(np.float32)
    _check(model, {"x": x}, tmp_path)


# ----------------------------------------------------------------- weight-only int8

def _w8_model(k=48, n=40, vocab=100, row_scale=False):
    rng = np.random.default_rng(4)
    wq = rng.integers(-127, 128, (k, n), dtype=np.int8)
    ws = (rng.uniform(0.001, 0.02, (k, 1) if row_scale else (1, n))).astype(np.float32)
    eq = rng.integers(-127, 128, (vocab, k), dtype=np.int8)
    es = rng.uniform(0.001, 0.02, (vocab, 1)).astype(np.float32)
    bias = rng.normal(0, 1, n).astype(np.float32)
    inits = [numpy_helper.from_array(a, name) for a, name in
             ((wq, "wq"), (ws, "ws"), (eq, "eq"), (es, "es"), (bias, "bias"))]
    nodes = [helper.make_node("Cast", ["eq"], ["ef"], to=F),
             helper.make_node("Mul", ["ef", "es"], ["emb"]),
             helper.make_node("Gather", ["emb", "ids"], ["h"], axis=0),
             helper.make_node("Cast", ["wq"], ["wf"], to=F),
             helper.make_node("Mul", ["wf", "ws"], ["w"]),
             helper.make_node("MatMul", ["h", "w"], ["mm"]),
             helper.make_node("Add", ["mm", "bias"], ["y"])]
    return _model(nodes, [helper.make_tensor_value_info("ids", I64, [1, 6])],
                  [helper.make_tensor_value_info("y", F, [1, 6, n])], inits)


@pytest.mark.parametrize("target", ["x86-64", "x86-64-avx2", "native"])
def test_weight_only_int8_stays_int8_and_matches(tmp_path, target):
    """Also the AVX2 / AVX-512 kernels: 6 rows and 40 columns give full tiles and
    the scalar edges."""
    from aot.targets.hostcpu import missing_features
    from aot.targets.target import resolve

    if missing_features(resolve(target)):
        pytest.skip(f"this CPU cannot run {target}")
    model = _w8_model()
    ops = _ops_after_passes(model)
    assert ops == ["_GatherW8", "_MatMulW8"], ops
    ids = np.array([[0, 5, 99, -1, -100, 42]], np.int64)
    got = _check(model, {"ids": ids}, tmp_path, target)
    assert got["y"].shape == (1, 6, 40)
    comp, _ = compile_graph(model, "x86-64")
    by_dtype = inspect_report(comp)["weights_bytes_by_dtype"]
    # int8 table and weights; float: per-row table scales, per-column scales, bias
    assert by_dtype == {"int8": 100 * 48 + 48 * 40, "float32": 4 * (100 + 40 + 40)}, by_dtype


def test_scale_per_input_row_folds_to_float_and_matches(tmp_path):
    model = _w8_model(row_scale=True)
    ops = _ops_after_passes(model)
    assert "_GatherW8" in ops and "_MatMulW8" not in ops, ops
    _check(model, {"ids": np.array([[1, 2, 3, 4, 5, 6]], np.int64)}, tmp_path)


@pytest.mark.parametrize("bad", [100, -101, 2**40])
def test_out_of_range_index_returns_aot_e_range(tmp_path, bad):
    model = _w8_model()
    cm = aot.compile(model, "x86-64", out_dir=str(tmp_path / "out"))
    ids = np.array([[0, 1, bad, 3, 4, 5]], np.int64)
    with pytest.raises(ToolchainError, match=r"returned error -3\b"):
        cm.run({"ids": ids})
    header = next(p for p in (tmp_path / "out").glob("*.h"))
    assert "AOT_E_RANGE" in header.read_text()


def test_runtime_gather_of_float_data_checks_range(tmp_path):
    table = numpy_helper.from_array(np.arange(30, dtype=np.float32).reshape(10, 3), "t")
    model = _model([helper.make_node("Gather", ["t", "ids"], ["y"], axis=0)],
                   [helper.make_tensor_value_info("ids", I64, [4])],
                   [helper.make_tensor_value_info("y", F, [4, 3])], [table])
    _check(model, {"ids": np.array([9, 0, -1, -10], np.int64)}, tmp_path)
    cm = aot.CompiledModel.load(str(tmp_path / "out"))
    with pytest.raises(ToolchainError, match=r"returned error -3\b"):
        cm.run({"ids": np.array([0, 10, 1, 2], np.int64)})


# ----------------------------------------------------------------- attention mask

def _mask_model(seq=8, heads=2):
    """An exporter's attention-mask subgraph: bool mask, key positions picked with
    GatherND, And with a constant, Where to 0 / -inf, Softmax, NaN rows to 0."""
    keep = numpy_helper.from_array(np.ones((1, 1, seq, 1), bool), "keep")
    idx = np.zeros((1, 1, 1, seq, 2), np.int64)
    idx[..., 1] = np.arange(seq)
    inits = [keep, numpy_helper.from_array(idx, "idx"),
             numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
             numpy_helper.from_array(np.array(-np.inf, np.float32), "ninf")]
    nodes = [helper.make_node("Cast", ["mask"], ["mb"], to=TensorProto.BOOL),
             helper.make_node("GatherND", ["mb", "idx"], ["mk"]),
             helper.make_node("And", ["keep", "mk"], ["both"]),
             helper.make_node("Where", ["both", "zero", "ninf"], ["bias"]),
             helper.make_node("Add", ["scores", "bias"], ["s2"]),
             helper.make_node("Softmax", ["s2"], ["p"], axis=-1),
             helper.make_node("IsNaN", ["p"], ["nan"]),
             helper.make_node("Where", ["nan", "zero", "p"], ["y"]),
             helper.make_node("Cast", ["mask"], ["y_mask"], to=F)]
    return _model(nodes, [helper.make_tensor_value_info("scores", F, [1, heads, seq, seq]),
                          helper.make_tensor_value_info("mask", I64, [1, seq])],
                  [helper.make_tensor_value_info("y", F, [1, heads, seq, seq]),
                   helper.make_tensor_value_info("y_mask", F, [1, seq])], inits)


@pytest.mark.parametrize("valid", [8, 5, 0])
def test_mask_construction_matches(tmp_path, valid):
    """valid = 0: every key masked, softmax gives NaN rows, which Where zeroes."""
    scores = np.random.default_rng(5).normal(0, 2, (1, 2, 8, 8)).astype(np.float32)
    mask = np.zeros((1, 8), np.int64)
    mask[:, :valid] = 1
    got = _check(_mask_model(), {"scores": scores, "mask": mask}, tmp_path)
    if valid == 0:
        assert not np.any(got["y"])


# ----------------------------------------------------------------- shape subgraphs

def test_shape_subgraphs_fold_away():
    """Shape -> Slice -> Concat -> Reshape and Shape -> Gather -> Range -> Unsqueeze
    chains over static shapes leave no shape op after the passes."""
    c = {"s0": [0], "s1": [1], "m1": [-1], "zero": 0, "one": 1}
    inits = [numpy_helper.from_array(np.array(v, np.int64), k) for k, v in c.items()]
    nodes = [helper.make_node("Shape", ["x"], ["sh"]),
             helper.make_node("Slice", ["sh", "s0", "s1"], ["b"]),
             helper.make_node("Concat", ["b", "m1"], ["new_shape"], axis=0),
             helper.make_node("Reshape", ["x", "new_shape"], ["flat"]),
             helper.make_node("Gather", ["sh", "one"], ["n"], axis=0),
             helper.make_node("Range", ["zero", "n", "one"], ["pos"]),
             helper.make_node("Unsqueeze", ["pos", "s0"], ["pos2"]),
             helper.make_node("Cast", ["pos2"], ["posf"], to=F),
             helper.make_node("Add", ["x", "posf"], ["y"])]
    model = _model(nodes, [helper.make_tensor_value_info("x", F, ["b", "s"])],
                   [helper.make_tensor_value_info("flat", F, ["f0", "f1"]),
                    helper.make_tensor_value_info("y", F, ["y0", "y1"])], inits)
    graph = run_pipeline(import_model(model, {"x": (1, 6)}), pipeline_for(None))
    assert {n.op for n in graph.nodes} <= {"Reshape", "Add"}, \
        [n.op for n in graph.nodes]


# ----------------------------------------------------------------- SIMD kernels (AVX-512)

def _can_run(target: str) -> bool:
    from aot.targets.hostcpu import missing_features
    from aot.targets.target import resolve
    return not missing_features(resolve(target))


def _need_cpu(target: str) -> None:
    """Skip (also in CI: a CPU feature is no missing tool) where the host cannot run it."""
    if not _can_run(target):
        pytest.skip(f"this CPU cannot run {target}")


VMATH_C = r"""
#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>
#include "aot_math.h"
#include "aot_vmath_@ISA@_impl.h"

/* lanes of aot_v@W@_expf / aot_v@W@_erff that differ in any bit from the scalar
 * functions, over the bit patterns first, first + step, ... (n of them) */
@ATTR@ size_t vmath_mismatches(uint32_t first, uint32_t step, size_t n)
{
    size_t bad = 0, i;
    int lane;
    for (i = 0; i + @W@ <= n; i += @W@) {
        union { float f[@W@]; uint32_t u[@W@]; } x, e, r;
        for (lane = 0; lane < @W@; ++lane) {
            x.u[lane] = first + (uint32_t)(i + (size_t)lane) * step;
        }
        @MM@_storeu_ps(e.f, aot_v@W@_expf(@MM@_loadu_ps(x.f)));
        @MM@_storeu_ps(r.f, aot_v@W@_erff(@MM@_loadu_ps(x.f)));
        for (lane = 0; lane < @W@; ++lane) {
            union { float f; uint32_t u; } se, sr;
            se.f = aot_expf(x.f[lane]);
            sr.f = aot_erff(x.f[lane]);
            bad += (se.u != e.u[lane]) + (sr.u != r.u[lane]);
        }
    }
    return bad;
}
"""
VMATH_ISA = {"avx512": {"@ISA@": "avx512", "@W@": "16", "@MM@": "_mm512",
                        "@ATTR@": "AOT_VMATH_AVX512"},
             "avx2": {"@ISA@": "avx2", "@W@": "8", "@MM@": "_mm256", "@ATTR@": "AOT_VMATH_AVX2"}}


@pytest.mark.parametrize("isa", ["avx512", "avx2"])
def test_simd_expf_erff_are_the_scalar_functions_bit_for_bit(tmp_path, isa):
    """aot_v16_expf / aot_v16_erff (AVX-512) and aot_v8_* (AVX2), used by the GELU and
    softmax kernels, against aot_expf / aot_erff over every 97th float bit pattern
    (NaNs, infinities, subnormals, both signs) and a dense run around the branch
    points; built as the runtime is (-ffp-contract=off)."""
    _need_cpu(f"x86-64-{isa}")
    cc = shutil.which("cc")
    need(cc is not None, "no C compiler (cc)")
    text = VMATH_C
    for key, value in VMATH_ISA[isa].items():
        text = text.replace(key, value)
    (tmp_path / "v.c").write_text(text)
    so = tmp_path / "libvmath.so"
    subprocess.run([cc, "-O2", "-std=c99", "-ffp-contract=off", "-shared", "-fPIC",
                    f"-I{RUNTIME}", str(tmp_path / "v.c"), str(RUNTIME / "aot_erff.c"),
                    str(RUNTIME / "aot_expf.c"), "-o", str(so)], check=True)
    lib = ctypes.CDLL(str(so))
    lib.vmath_mismatches.restype = ctypes.c_size_t
    lib.vmath_mismatches.argtypes = [ctypes.c_uint32, ctypes.c_uint32, ctypes.c_size_t]
    assert lib.vmath_mismatches(0, 97, (1 << 32) // 97) == 0
    for x in (0.875, 3.92, -87.33655, -103.972076, 88.7228317, -126.0 * np.log(2)):
        start = int(np.array(x, np.float32).view(np.uint32)) - 4096
        assert lib.vmath_mismatches(start, 1, 8192) == 0, x


def _gelu_model(shape):
    half, one, sqrt2 = (numpy_helper.from_array(np.array(v, np.float32), k) for k, v in
                        (("half", 0.5), ("one", 1.0), ("sqrt2", np.sqrt(2.0))))
    nodes = [helper.make_node("Div", ["x", "sqrt2"], ["s"]), helper.make_node("Erf", ["s"], ["e"]),
             helper.make_node("Add", ["e", "one"], ["a"]),
             helper.make_node("Mul", ["x", "half"], ["h"]),
             helper.make_node("Mul", ["h", "a"], ["y"])]
    return _model(nodes, [helper.make_tensor_value_info("x", F, shape)],
                  [helper.make_tensor_value_info("y", F, shape)], [half, one, sqrt2])


@pytest.mark.parametrize("target,kernel", [("x86-64-avx512", "aot_gelu_avx512_f32"),
                                           ("x86-64-avx2", "aot_gelu_avx2_f32"),
                                           ("aarch64", "aot_gelu_neon_f32")])
def test_gelu_simd_is_the_portable_kernel_bit_for_bit(tmp_path, target, kernel):
    """A size that is no multiple of 16 (the scalar tail) with special values; the
    portable kernel built for the same target (aarch64: in the emulator)."""
    if target == "aarch64":
        need_import("unicorn")
    else:
        _need_cpu(target)
    x = np.random.default_rng(6).normal(0.0, 3.0, (7, 301)).astype(np.float32)
    x.flat[:8] = [np.nan, np.inf, -np.inf, -0.0, 1e-40, 0.875 * np.sqrt(2), -6.0, 40.0]
    model = _gelu_model([7, 301])
    portable = aot.compile(model, target, out_dir=str(tmp_path / "p"),
                           options=aot.Options(kernels="portable")).run({"x": x})["y"]
    fast = aot.compile(model, target, out_dir=str(tmp_path / "v"))
    assert f"aot_runtime/{kernel}.c" in fast.manifest["files"]
    got = fast.run({"x": x})["y"]
    assert np.array_equal(got.view(np.uint32), portable.view(np.uint32))


@pytest.mark.parametrize("target", ["x86-64", "x86-64-avx2", "native", "aarch64"])
def test_masked_softmax_fuses_and_matches(tmp_path, target):
    """Add of a mask repeating over heads, last-axis Softmax and NaN rows to 0 become
    one _SoftmaxRows; 37 columns leave a vector tail; one row fully masked."""
    if target == "aarch64":
        need_import("unicorn")
    else:
        _need_cpu(target)
    zero = numpy_helper.from_array(np.array(0.0, np.float32), "zero")
    nodes = [helper.make_node("Add", ["scores", "mask"], ["s2"]),
             helper.make_node("Softmax", ["s2"], ["p"], axis=-1),
             helper.make_node("IsNaN", ["p"], ["nan"]),
             helper.make_node("Where", ["nan", "zero", "p"], ["y"])]
    model = _model(nodes, [helper.make_tensor_value_info("scores", F, [1, 3, 5, 37]),
                           helper.make_tensor_value_info("mask", F, [1, 1, 5, 37])],
                   [helper.make_tensor_value_info("y", F, [1, 3, 5, 37])], [zero])
    assert _ops_after_passes(model) == ["_SoftmaxRows"]
    rng = np.random.default_rng(7)
    mask = np.where(rng.random((1, 1, 5, 37)) < 0.3, -np.inf, 0.0).astype(np.float32)
    mask[0, 0, 2] = -np.inf
    got = _check(model, {"scores": rng.normal(0, 4, (1, 3, 5, 37)).astype(np.float32),
                         "mask": mask}, tmp_path, target)
    assert not np.any(got["y"][0, :, 2])


def _attention_model(seq, heads, dim):
    """Q, K, V cut into heads by Reshape / Transpose (K^T through a 3-D
    Transpose, as torch exports it), each of Q and K scaled by a scalar."""
    d = heads * dim
    c = {"s4": [1, seq, heads, dim], "s3": [heads, seq, dim], "st": [1, heads, dim, seq]}
    inits = [numpy_helper.from_array(np.array(v, np.int64), k) for k, v in c.items()]
    inits.append(numpy_helper.from_array(np.array(dim ** -0.25, np.float32), "scale"))
    nodes = [helper.make_node("Reshape", ["q", "s4"], ["q4"]),
             helper.make_node("Transpose", ["q4"], ["qh"], perm=[0, 2, 1, 3]),
             helper.make_node("Mul", ["qh", "scale"], ["qs"]),
             helper.make_node("Reshape", ["k", "s4"], ["k4"]),
             helper.make_node("Transpose", ["k4"], ["kh"], perm=[0, 2, 1, 3]),
             helper.make_node("Reshape", ["kh", "s3"], ["k3"]),
             helper.make_node("Transpose", ["k3"], ["kt3"], perm=[0, 2, 1]),
             helper.make_node("Reshape", ["kt3", "st"], ["kt"]),
             helper.make_node("Mul", ["scale", "kt"], ["ks"]),
             helper.make_node("MatMul", ["qs", "ks"], ["scores"]),
             helper.make_node("Softmax", ["scores"], ["p"], axis=-1),
             helper.make_node("Reshape", ["v", "s4"], ["v4"]),
             helper.make_node("Transpose", ["v4"], ["vh"], perm=[0, 2, 1, 3]),
             helper.make_node("MatMul", ["p", "vh"], ["y"])]
    io = [helper.make_tensor_value_info(n, F, [1, seq, d]) for n in "qkv"]
    return _model(nodes, io, [helper.make_tensor_value_info("y", F, [1, heads, seq, dim])],
                  inits)


@pytest.mark.parametrize("target", ["x86-64", "x86-64-avx2", "native", "aarch64"])
def test_attention_layout_becomes_strided_matmuls(tmp_path, target):
    """No Transpose or Mul is left: both products read the heads in place (K^T
    packed per head on AVX2 / NEON). 21 rows (8-row tiles and single rows), 21 and
    40 columns (masked panels); aarch64 in the emulator."""
    if target == "aarch64":
        need_import("unicorn")
    else:
        _need_cpu(target)
    model = _attention_model(21, 3, 40)
    assert _ops_after_passes(model) == ["_MatMulStrided", "Softmax", "_MatMulStrided"]
    rng = np.random.default_rng(8)
    feeds = {n: rng.normal(0, 1, (1, 21, 120)).astype(np.float32) for n in "qkv"}
    _check(model, feeds, tmp_path, target)
    cm = aot.CompiledModel.load(str(tmp_path / "out"))
    assert np.array_equal(cm.run(feeds, threads=2)["y"], cm.run(feeds)["y"])


def test_reshape_strides_follow_numpy():
    """_reshape_strides agrees with numpy's no-copy reshape of transposed views."""
    from aot.passes.fuse_transformer import _reshape_strides

    base = np.zeros((2, 3, 4, 5), np.float32)
    for perm in ([0, 2, 1, 3], [0, 1, 3, 2], [3, 2, 1, 0]):
        view = base.transpose(perm)
        elem = [s // 4 for s in view.strides]
        for new in ([6, 4, 5], [2, 3, 20], [1, 2, 3, 4, 5], [120], [6, 20], [2, 3, 4, 5, 1]):
            try:
                want = np.reshape(view, new, copy=False).strides
            except (ValueError, AttributeError, TypeError):
                want = None
                if np.shares_memory(view.reshape(new), view):
                    want = view.reshape(new).strides
            got = _reshape_strides(list(view.shape), elem, new)
            if want is None:
                assert got is None, (perm, new)
            else:
                assert got is not None, (perm, new)
                assert [g for g, d in zip(got, new) if d != 1] == \
                    [w // 4 for w, d in zip(want, new) if d != 1], (perm, new)


@pytest.mark.parametrize("target", ["x86-64-avx2", "x86-64-avx512", "aarch64"])
def test_weight_only_int8_simd_tiles_and_threads(tmp_path, target):
    """30 rows (AVX-512: 12-row tiles, then 4 and 1; AVX2: 6 and 1; NEON: 8 and 1),
    70 columns (a padded panel) and k = 130 (NEON: a k % 4 tail), split by rows on
    two threads: the same bits as one thread (aarch64: parts run in the emulator)."""
    if target == "aarch64":
        need_import("unicorn")
    else:
        _need_cpu(target)
    rng = np.random.default_rng(9)
    wq = rng.integers(-127, 128, (130, 70), dtype=np.int8)
    ws = rng.uniform(0.001, 0.02, (1, 70)).astype(np.float32)
    bias = rng.normal(0, 1, 70).astype(np.float32)
    inits = [numpy_helper.from_array(a, n) for a, n in ((wq, "wq"), (ws, "ws"), (bias, "b"))]
    nodes = [helper.make_node("Cast", ["wq"], ["wf"], to=F),
             helper.make_node("Mul", ["wf", "ws"], ["w"]),
             helper.make_node("MatMul", ["x", "w"], ["mm"]),
             helper.make_node("Add", ["mm", "b"], ["y"])]
    model = _model(nodes, [helper.make_tensor_value_info("x", F, [30, 130])],
                   [helper.make_tensor_value_info("y", F, [30, 70])], inits)
    x = rng.normal(0, 1, (30, 130)).astype(np.float32)
    _check(model, {"x": x}, tmp_path, target)
    cm = aot.CompiledModel.load(str(tmp_path / "out"))
    kernel = {"x86-64-avx2": "aot_matmul_w8_avx2_f32", "x86-64-avx512": "aot_matmul_w8_avx512_f32",
              "aarch64": "aot_matmul_w8_neon_f32"}[target]
    assert [c["kernel"] for c in cm.manifest["layers"]] == [kernel]
    assert np.array_equal(cm.run({"x": x}, threads=2)["y"], cm.run({"x": x})["y"])

# SPDX-License-Identifier: Apache-2.0
"""The float32 ops of targets/rules_elementwise.py against onnxruntime (ORT,
optimizations off, one thread), and the libc-free math they need.

- aot_sqrtf is correctly rounded (every 389th positive float against numpy);
  aot_logf, aot_powf, aot_sinf and aot_cosf keep the error bounds aot_math.h
  states (float64 numpy as reference), and the special values of C99's
  log / pow / sin / cos.
- One model with every new op (element-wise functions with Sin / Cos, PRelu,
  Pow with constant and run-time exponents, Split, Sum / Mean, every Reduce*, ArgMax / ArgMin,
  LogSoftmax, Hardmax, DepthToSpace / SpaceToDepth, Tile, InstanceNormalization,
  LpNormalization) on x86-64, and emulated on cortex-m4 and aarch64.
- Its generated C builds with the strict flags; constant inputs fold away;
  an unsupported form is refused naming the node.
Tolerance: |aot - ORT| <= 1e-6 + 1e-5 * |ORT| (as the ONNX node cases);
ArgMax / ArgMin exactly.
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
from aot.errors import ModelError
from aot.frontend import import_model
from aot.passes.pipeline import pipeline_for, run_pipeline
from conftest import need, ort_unoptimized

RUNTIME = Path(__file__).resolve().parent.parent / "runtime_c"
F, I64 = TensorProto.FLOAT, TensorProto.INT64
STRICT = ["-std=c99", "-pedantic", "-Wall", "-Wextra", "-Wshadow", "-Wconversion", "-Werror"]

# ----------------------------------------------------------------- libc-free math

WRAPPER_C = r"""
#include <stddef.h>
#include "aot_math.h"

void apply_sqrtf(const float *x, float *y, size_t n)
{
    size_t i;
    for (i = 0; i < n; ++i) {
        y[i] = aot_sqrtf(x[i]);
    }
}

void apply_logf(const float *x, float *y, size_t n)
{
    size_t i;
    for (i = 0; i < n; ++i) {
        y[i] = aot_logf(x[i]);
    }
}

void apply_sinf(const float *x, float *y, size_t n)
{
    size_t i;
    for (i = 0; i < n; ++i) {
        y[i] = aot_sinf(x[i]);
    }
}

void apply_cosf(const float *x, float *y, size_t n)
{
    size_t i;
    for (i = 0; i < n; ++i) {
        y[i] = aot_cosf(x[i]);
    }
}

void apply_powf(const float *x, const float *e, float *y, size_t n)
{
    size_t i;
    for (i = 0; i < n; ++i) {
        y[i] = aot_powf(x[i], e[i]);
    }
}
"""


@pytest.fixture(scope="module")
def mathlib(tmp_path_factory):
    cc = shutil.which("cc")
    need(cc is not None, "no C compiler (cc)")
    out = tmp_path_factory.mktemp("more_math")
    (out / "w.c").write_text(WRAPPER_C)
    so = out / "libmore.so"
    subprocess.run([cc, "-O2", "-ffp-contract=off", "-shared", "-fPIC", "-std=c99", "-Wall",
                    "-Wextra", "-Werror", f"-I{RUNTIME}", str(out / "w.c"),
                    *(str(RUNTIME / f"aot_{f}.c")
                      for f in ("sqrtf", "logf", "powf", "expf", "sinf", "cosf")),
                    "-o", str(so)], check=True)
    return ctypes.CDLL(str(so))


def _apply(lib, name, *args):
    args = [np.ascontiguousarray(a, np.float32) for a in args]
    y = np.empty_like(args[0])
    getattr(lib, "apply_" + name)(*(a.ctypes.data_as(ctypes.c_void_p) for a in args),
                                  y.ctypes.data_as(ctypes.c_void_p), ctypes.c_size_t(y.size))
    return y


def _doc(function: str) -> str:
    text = (RUNTIME / "aot_math.h").read_text()
    return text[:text.index(f"float {function}(")].rsplit("/**", 1)[1]


def _ulps(got, want) -> np.ndarray:
    want = np.asarray(want, np.float64)
    ulp = np.spacing(np.abs(want).astype(np.float32)).astype(np.float64)
    return np.abs(got.astype(np.float64) - want) / ulp


def test_sqrtf_is_correctly_rounded(mathlib):
    x = np.arange(0, 0x7f800001, 389, dtype=np.uint32).view(np.float32)
    assert np.array_equal(_apply(mathlib, "sqrtf", x), np.sqrt(x))
    special = np.array([-0.0, -1.0, -np.inf, np.inf, np.nan, 2.0**-149], np.float32)
    y = _apply(mathlib, "sqrtf", special)
    assert y[0] == 0 and np.signbit(y[0]) and np.isnan(y[1:3]).all() and np.isnan(y[4])
    assert y[3] == np.inf and y[5] == np.float32(np.sqrt(2.0**-149))


def test_logf_error_bound(mathlib):
    bound = float(re.search(r"error at most ([0-9.]+) ulp", _doc("aot_logf")).group(1))
    x = np.arange(1, 0x7f800000, 251, dtype=np.uint32).view(np.float32)
    assert _ulps(_apply(mathlib, "logf", x), np.log(x.astype(np.float64))).max() <= bound
    y = _apply(mathlib, "logf", np.array([0.0, -0.0, -1.0, np.inf, np.nan, 1.0], np.float32))
    assert list(y[:2]) == [-np.inf, -np.inf] and np.isnan(y[2]) and y[3] == np.inf
    assert np.isnan(y[4]) and y[5] == 0.0


def test_powf_error_bound(mathlib):
    doc = _doc("aot_powf")
    assert "|y| * 2^-23" in doc and "(4 + |y log x|) * 2^-23" in doc
    rng = np.random.default_rng(0)
    x = np.exp(rng.uniform(-20, 20, 200_000)).astype(np.float32)
    e = np.concatenate([rng.uniform(-8, 8, 100_000),
                        rng.integers(-64, 65, 100_000)]).astype(np.float32)
    with np.errstate(over="ignore", under="ignore"):
        want = np.power(x.astype(np.float64), e.astype(np.float64))
    keep = (want > 2.0**-126) & (want < 3e38)      # normal float32 results
    got = _apply(mathlib, "powf", x, e).astype(np.float64)
    rel = np.abs(got[keep] - want[keep]) / want[keep]
    integer = (e == np.round(e)) & (np.abs(e) <= 64)
    bound = np.where(integer, np.abs(e) * 2.0**-23,
                     (4 + np.abs(e * np.log(x.astype(np.float64)))) * 2.0**-23)[keep]
    assert (rel <= np.maximum(bound, 2.0**-24)).all()
    sq = np.abs(rng.standard_normal(1000)).astype(np.float32)
    assert np.array_equal(_apply(mathlib, "powf", sq, np.full_like(sq, 0.5)), np.sqrt(sq))
    xs = np.array([-2, -2, -2, 0, -0.0, -0.0, 0, np.nan, 1, -np.inf, np.inf], np.float32)
    es = np.array([3, 2, 0.5, -1, 3, 2, 2, 0, np.nan, 3, -1], np.float32)
    with np.errstate(all="ignore"):
        want = np.power(xs, es)
    got = _apply(mathlib, "powf", xs, es)
    assert np.array_equal(got, want, equal_nan=True)
    number = ~np.isnan(want)      # (a NaN's sign bit means nothing)
    assert np.array_equal(np.signbit(got[number]), np.signbit(want[number]))


@pytest.mark.parametrize("name", ["sinf", "cosf"])
def test_sin_cos_error_bound(mathlib, name):
    """Over every 1031st float (huge arguments included: the reduction is
    exact) and the floats nearest multiples of pi/2, where it cancels most."""
    bound = float(re.search(r"error at most ([0-9.]+) ulp", _doc(f"aot_{name}")).group(1))
    ref = np.sin if name == "sinf" else np.cos
    x = np.arange(0, 0x7f800000, 1031, dtype=np.uint32).view(np.float32)
    x = np.concatenate([x, -x, (np.arange(1, 20000) * (np.pi / 2)).astype(np.float32)])
    want = ref(x.astype(np.float64))
    ulp = np.maximum(np.spacing(np.abs(want).astype(np.float32)).astype(np.float64), 2.0**-149)
    assert (np.abs(_apply(mathlib, name, x) - want) / ulp).max() <= bound
    y = _apply(mathlib, name, np.array([np.inf, -np.inf, np.nan, -0.0], np.float32))
    assert np.isnan(y[:3]).all()
    assert (y[3] == 0 and np.signbit(y[3])) if name == "sinf" else y[3] == 1


# ----------------------------------------------------------------- one model, every op

SHAPE = [1, 4, 6, 6]


def _const(name, value):
    return numpy_helper.from_array(np.asarray(value), name)


def _every_op_model() -> onnx.ModelProto:
    n = helper.make_node
    inits = [_const("slope", np.array([0.1, -0.2, 0.3, 2.0], np.float32).reshape(4, 1, 1)),
             _const("two", np.array(2.0, np.float32)), _const("three", np.array(3.0, np.float32)),
             _const("half", np.array(0.5, np.float32)),
             _const("e25", np.array(2.5, np.float32)),
             _const("ivec", np.array([1, 2, 3, 4], np.int64).reshape(4, 1, 1)),
             _const("split13", np.array([1, 3], np.int64)),
             _const("ax13", np.array([1, 3], np.int64)), _const("ax2", np.array([2], np.int64)),
             _const("ax1", np.array([1], np.int64)), _const("ax02", np.array([0, 2], np.int64)),
             _const("reps", np.array([1, 2, 1, 2], np.int64)),
             _const("gamma", np.array([0.5, 1.0, 1.5, -1.0], np.float32)),
             _const("beta", np.array([0.0, 0.1, -0.2, 0.3], np.float32))]
    unary = ["Neg", "Abs", "Floor", "Ceil", "Round", "Sign", "Softsign", "Softplus", "Exp",
             "Reciprocal", "Mish", "Sin", "Cos"]
    nodes = [n(op, ["x"], [op.lower()]) for op in unary]
    nodes += [n("Elu", ["x"], ["elu"], alpha=0.7), n("Selu", ["x"], ["selu"]),
              n("Celu", ["x"], ["celu"], alpha=1.3),
              n("ThresholdedRelu", ["x"], ["thresholdedrelu"], alpha=0.4),
              n("Shrink", ["x"], ["shrink"], bias=0.2, lambd=0.6),
              n("PRelu", ["x", "slope"], ["prelu"]),
              n("Sqrt", ["abs"], ["sqrt"]), n("Log", ["abs"], ["log"]),
              n("Pow", ["x", "two"], ["pow2"]), n("Pow", ["x", "three"], ["pow3"]),
              n("Pow", ["abs", "half"], ["pow_half"]), n("Pow", ["abs", "e25"], ["pow_25"]),
              n("Pow", ["x", "ivec"], ["pow_ivec"]), n("Pow", ["abs", "e"], ["pow_rt"]),
              n("Pow", ["x", "k"], ["pow_rt_int"]),
              n("Split", ["x", "split13"], ["split_a", "split_b"], axis=1),
              n("Split", ["x"], ["split_c", "split_d"], axis=3, num_outputs=2),
              n("Sum", ["x", "prelu", "slope"], ["sum"]), n("Mean", ["x", "elu"], ["mean"]),
              n("ReduceSum", ["x", "ax13"], ["reducesum"], keepdims=0),
              n("ReduceMax", ["x", "ax2"], ["reducemax"]),
              n("ReduceMin", ["x", "ax02"], ["reducemin"], keepdims=0),
              n("ReduceProd", ["x", "ax1"], ["reduceprod"]),
              n("ReduceSumSquare", ["x", "ax13"], ["reducesumsquare"]),
              n("ReduceL1", ["x", "ax2"], ["reducel1"]),
              n("ReduceL2", ["x", "ax02"], ["reducel2"]),
              n("ReduceLogSumExp", ["x", "ax1"], ["reducelogsumexp"]),
              n("ReduceLogSum", ["abs", "ax13"], ["reducelogsum"]),
              n("ReduceSum", ["x"], ["reducesum_all"]),
              n("ArgMax", ["x"], ["argmax"], axis=2),
              n("ArgMin", ["x"], ["argmin"], axis=1, keepdims=0, select_last_index=1),
              n("LogSoftmax", ["x"], ["logsoftmax"], axis=1),
              n("Hardmax", ["x"], ["hardmax"]),
              n("DepthToSpace", ["x"], ["d2s_dcr"], blocksize=2),
              n("DepthToSpace", ["x"], ["d2s_crd"], blocksize=2, mode="CRD"),
              n("SpaceToDepth", ["x"], ["s2d"], blocksize=2),
              n("Tile", ["x", "reps"], ["tile"]),
              n("InstanceNormalization", ["x", "gamma", "beta"], ["instancenorm"]),
              n("LpNormalization", ["x"], ["lp1"], axis=1, p=1),
              n("LpNormalization", ["x"], ["lp2"], axis=-1, p=2)]
    outputs = [o for node in nodes for o in node.output]
    ints = {"argmax", "argmin"}
    graph = helper.make_graph(
        nodes, "more_ops",
        [helper.make_tensor_value_info("x", F, SHAPE), helper.make_tensor_value_info("e", F, SHAPE),
         helper.make_tensor_value_info("k", I64, [4, 1, 1])],
        [helper.make_tensor_value_info(o, I64 if o in ints else F, None) for o in outputs],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    model = onnx.shape_inference.infer_shapes(model)
    onnx.checker.check_model(model, full_check=True)
    return model


def _feeds(seed=0):
    rng = np.random.default_rng(seed)
    return {"x": rng.uniform(-3, 3, SHAPE).astype(np.float32),
            "e": rng.uniform(-2, 2, SHAPE).astype(np.float32),
            "k": np.array([-2, 0, 3, 5], np.int64).reshape(4, 1, 1)}


def _check(model, feeds, got):
    want = dict(zip([o.name for o in model.graph.output], ort_unoptimized(model, feeds)))
    assert set(got) == set(want)
    for name, w in want.items():
        assert got[name].shape == w.shape and got[name].dtype == w.dtype, name
        if w.dtype == np.int64:
            assert np.array_equal(got[name], w), name
        else:
            np.testing.assert_allclose(got[name], w, rtol=1e-5, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("target", ["x86-64", "cortex-m4", "aarch64"])
def test_every_new_op_matches_onnxruntime(target, tmp_path):
    model = _every_op_model()
    feeds = _feeds()
    compiled = aot.compile(model, target, out_dir=str(tmp_path / "out"))
    _check(model, feeds, compiled.run(feeds))


@pytest.mark.parametrize("cc_name", ["gcc", pytest.param("clang", marks=pytest.mark.slow)])
def test_generated_c_builds_strict(tmp_path, cc_name):
    """Every file of the model using every new kernel, in one compiler run."""
    from aot.targets.toolchain import zig_cc

    need(cc_name != "gcc" or shutil.which("gcc") is not None, "gcc is not installed")
    cc = [shutil.which("gcc") or "gcc"] if cc_name == "gcc" else list(zig_cc().command)
    out = tmp_path / "out"
    aot.compile(_every_op_model(), "x86-64", out_dir=str(out))
    kernels = {p.stem for p in (out / "aot_runtime").glob("aot_*.c")}
    assert {"aot_unary_f32", "aot_pow_f32", "aot_prelu_f32", "aot_reduce_f32",
            "aot_arg_reduce_f32", "aot_log_softmax_f32", "aot_hardmax_f32", "aot_sqrtf",
            "aot_logf", "aot_powf", "aot_sinf", "aot_cosf", "aot_expand", "aot_copy2d",
            "aot_layer_norm_f32", "aot_scale_shift_f32", "aot_transpose_f32",
            "aot_cast"} <= kernels, kernels
    build = tmp_path / "objs"
    build.mkdir()
    proc = subprocess.run([*cc, *STRICT, "-O2", "-c", f"-I{out}",
                           *map(str, sorted(out.rglob("*.c")))],
                          cwd=build, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_constant_inputs_fold_away():
    n = helper.make_node
    nodes = [n("Neg", ["c"], ["nc"]), n("ReduceL2", ["nc", "ax"], ["r"]),
             n("Tile", ["r", "reps"], ["t"]), n("Add", ["x", "t"], ["y"])]
    graph = helper.make_graph(
        nodes, "fold", [helper.make_tensor_value_info("x", F, [2, 4])],
        [helper.make_tensor_value_info("y", F, [2, 4])],
        [_const("c", np.arange(8, dtype=np.float32).reshape(2, 4)),
         _const("ax", np.array([1], np.int64)), _const("reps", np.array([1, 4], np.int64))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    g = run_pipeline(import_model(model), pipeline_for("x86-64"))
    assert [node.op for node in g.nodes] == ["Add"]


def test_depth_to_space_becomes_reshape_transpose_reshape():
    model = helper.make_model(helper.make_graph(
        [helper.make_node("DepthToSpace", ["x"], ["y"], blocksize=2)], "d2s",
        [helper.make_tensor_value_info("x", F, SHAPE)],
        [helper.make_tensor_value_info("y", F, [1, 1, 12, 12])]),
        opset_imports=[helper.make_opsetid("", 18)])
    g = run_pipeline(import_model(model), pipeline_for("x86-64"))
    assert [node.op for node in g.nodes] == ["Reshape", "Transpose", "Reshape"]


def test_unsupported_form_names_the_node(tmp_path):
    model = helper.make_model(helper.make_graph(
        [helper.make_node("ReduceSum", ["x", "axes"], ["y"], name="sum_rt")], "rt",
        [helper.make_tensor_value_info("x", F, [2, 3]),
         helper.make_tensor_value_info("axes", I64, [1])],
        [helper.make_tensor_value_info("y", F, [2, 1])]),
        opset_imports=[helper.make_opsetid("", 18)])
    with pytest.raises(ModelError, match=r"ReduceSum \('sum_rt'\).*axes must be a constant"):
        aot.compile(model, "x86-64", out_dir=str(tmp_path / "out"))

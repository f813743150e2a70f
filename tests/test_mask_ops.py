# SPDX-License-Identifier: Apache-2.0
"""Mask construction at run time (targets/rules_mask.py) against onnxruntime
(optimizations off, one thread), on the subgraph a BERT export builds from its
`attention_mask` input:

    Unsqueeze -> Expand -> Cast -> Sub(1, m) -> Cast(bool) -> Where(b, min, 1 - m)
    (Hugging Face's inverted additive mask) and Mul(-10000) (BERT's), Slice
    with a negative step, Max / Min over masks, GreaterOrEqual / Equal / Not /
    Or / Xor with a causal mask that folds from Range and LessOrEqual at
    compile time, Add into the scores, Softmax, and GatherND of rows picked by
    run-time indices.

x86-64 runs the padded, unpadded and fully masked cases; aarch64 and
cortex-m4 (emulated) one each. Also: an out-of-range GatherND index and a
run-time Range of the wrong length make `<name>_run` return AOT_E_RANGE; a
Range whose length depends on run-time values is refused at import, naming
the node; int8 codes of different quantization are not copied as they are.
Tolerance: |aot - ORT| <= 1e-5 * max|ORT| + 1e-6; bool and integer
outputs exactly.
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import aot
from aot.errors import ModelError, ToolchainError
from aot.frontend import import_model
from aot.passes.pipeline import pipeline_for, run_pipeline
from conftest import need, ort_unoptimized

F, I64, BOOL = TensorProto.FLOAT, TensorProto.INT64, TensorProto.BOOL
SEQ, HEADS = 8, 2
# tests/test_generated_c.py's flags (importing it collects every ONNX node case: slow)
STRICT = ["-std=c99", "-pedantic", "-Wall", "-Wextra", "-Wshadow", "-Wconversion", "-Werror"]


def _model(nodes, inputs, outputs, inits=(), value_info=()):
    graph = helper.make_graph(nodes, "mask", inputs, outputs, list(inits),
                              value_info=list(value_info))
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def _bert_mask_model():
    c = {"axes12": np.array([1, 2], np.int64),
         "full": np.array([1, 1, SEQ, SEQ], np.int64),
         "one_f": np.array(1.0, np.float32),
         "fmin": np.array(np.finfo(np.float32).min, np.float32),
         "zero_f": np.array(0.0, np.float32),
         "neg1e4": np.array(-10000.0, np.float32),
         "zero_i": np.array(0, np.int64),
         "one_i": np.array(1, np.int64),
         "seq_i": np.array(SEQ, np.int64),
         "rev_starts": np.array([-1], np.int64), "rev_ends": np.array([-SEQ - 1], np.int64),
         "rev_axes": np.array([1], np.int64), "rev_steps": np.array([-1], np.int64),
         "ax0": np.array([0], np.int64), "ax1": np.array([1], np.int64)}
    inits = [numpy_helper.from_array(v, k) for k, v in c.items()]
    n = helper.make_node
    nodes = [
        # Hugging Face: (1 - mask[:, None, None, :].expand(...)).masked_fill(bool, min)
        n("Unsqueeze", ["attention_mask", "axes12"], ["m4"]),
        n("Expand", ["m4", "full"], ["me"]),
        n("Cast", ["me"], ["mf"], to=F),
        n("Sub", ["one_f", "mf"], ["inv"]),
        n("Cast", ["inv"], ["inv_b"], to=BOOL),
        n("Where", ["inv_b", "fmin", "inv"], ["hf_bias"]),
        # a causal mask that folds: LessOrEqual(Range cols, Range rows)
        n("Range", ["zero_i", "seq_i", "one_i"], ["pos"]),
        n("Unsqueeze", ["pos", "ax0"], ["cols"]),
        n("Unsqueeze", ["pos", "ax1"], ["rows"]),
        n("LessOrEqual", ["cols", "rows"], ["causal"]),
        # run-time compares, logic, Slice with a negative step, Max / Min
        n("Slice", ["attention_mask", "rev_starts", "rev_ends", "rev_axes", "rev_steps"],
          ["rev"]),
        n("Max", ["attention_mask", "rev", "zero_i"], ["either_raw"]),
        n("GreaterOrEqual", ["me", "one_i"], ["keep"]),
        n("Equal", ["attention_mask", "zero_i"], ["pad"]),
        n("Where", ["pad", "seq_i", "either_raw"], ["either"]),
        n("And", ["keep", "causal"], ["both"]),
        n("Not", ["both"], ["masked"]),
        n("Xor", ["masked", "pad"], ["flip"]),
        n("Or", ["masked", "flip"], ["any_masked"]),
        n("Where", ["any_masked", "fmin", "zero_f"], ["causal_bias"]),
        n("Mul", ["inv", "neg1e4"], ["classic_bias"]),   # BERT's original -10000 form
        n("Min", ["hf_bias", "causal_bias", "classic_bias"], ["bias"]),
        n("Add", ["scores", "bias"], ["s"]),
        n("Softmax", ["s"], ["probs"], axis=-1),
        # rows of the probabilities picked by run-time (batch, head, query) indices
        n("GatherND", ["probs", "pick"], ["picked"]),
    ]
    inputs = [helper.make_tensor_value_info("scores", F, [1, HEADS, SEQ, SEQ]),
              helper.make_tensor_value_info("attention_mask", I64, [1, SEQ]),
              helper.make_tensor_value_info("pick", I64, [3, 3])]
    outputs = [helper.make_tensor_value_info("probs", F, [1, HEADS, SEQ, SEQ]),
               helper.make_tensor_value_info("picked", F, [3, SEQ]),
               helper.make_tensor_value_info("either", I64, [1, SEQ]),
               helper.make_tensor_value_info("pad", BOOL, [1, SEQ])]
    return _model(nodes, inputs, outputs, inits)


def _feeds(valid: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    mask = np.zeros((1, SEQ), np.int64)
    mask[:, :valid] = 1
    return {"scores": rng.normal(0, 2, (1, HEADS, SEQ, SEQ)).astype(np.float32),
            "attention_mask": mask,
            "pick": np.array([[0, 1, SEQ - 1], [0, 0, 0], [0, -1, -2]], np.int64)}


def _check(model, feeds, got):
    for vi, ref in zip(model.graph.output, ort_unoptimized(model, feeds)):
        out = got[vi.name]
        assert out.shape == ref.shape and out.dtype == ref.dtype, vi.name
        if ref.dtype.kind != "f":
            np.testing.assert_array_equal(out, ref, err_msg=vi.name)
            continue
        tol = 1e-5 * float(np.abs(ref).max()) + 1e-6
        assert float(np.abs(out - ref).max()) <= tol, vi.name


def test_mask_ops_run_at_run_time():
    """Only the causal mask folds (from Range); the mask ops on the input stay."""
    graph = run_pipeline(import_model(_bert_mask_model()), pipeline_for(None))
    ops = {n.op for n in graph.nodes}
    assert {"Expand", "Slice", "Max", "Min", "GreaterOrEqual", "Equal", "Not", "Xor", "Or",
            "Where", "GatherND"} <= ops, ops
    assert not ops & {"Range", "LessOrEqual", "Shape"}, ops


@pytest.fixture(scope="module")
def x86_model(tmp_path_factory):
    out = tmp_path_factory.mktemp("mask_x86")
    return aot.compile(_bert_mask_model(), "x86-64", out_dir=str(out))


@pytest.mark.parametrize("valid", [SEQ, 5, 0])
def test_bert_mask_matches_onnxruntime_x86_64(x86_model, valid):
    """valid = 0: every key masked by min (not -inf), so rows stay finite."""
    feeds = _feeds(valid, seed=valid)
    _check(_bert_mask_model(), feeds, x86_model.run(feeds))


@pytest.mark.parametrize("bad", [[0, 2, 0], [1, 0, 0], [0, -3, 0], [0, 0, SEQ]])
def test_gather_nd_index_out_of_range_returns_aot_e_range(x86_model, bad):
    feeds = _feeds(5)
    feeds["pick"][1] = bad
    with pytest.raises(ToolchainError, match=r"returned error -3\b"):
        x86_model.run(feeds)


@pytest.mark.parametrize("target, valid", [("aarch64", 5), ("cortex-m4", 3)])
def test_bert_mask_matches_onnxruntime_emulated(target, valid, tmp_path):
    model = _bert_mask_model()
    feeds = _feeds(valid, seed=10 + valid)
    got = aot.compile(model, target, out_dir=str(tmp_path / "out")).run(feeds)
    _check(model, feeds, got)


def _range_model(declared: bool):
    n = helper.make_node
    nodes = [n("Range", ["start", "limit", "delta"], ["r"]),
             n("Cast", ["r"], ["y"], to=F)]
    scalar = [helper.make_tensor_value_info(x, I64, []) for x in ("start", "limit", "delta")]
    info = [helper.make_tensor_value_info("r", I64, [5])] if declared else []
    return _model(nodes, scalar, [helper.make_tensor_value_info("y", F, [5])],
                  value_info=info)


def test_runtime_range_of_declared_length(tmp_path):
    model = _range_model(declared=True)
    compiled = aot.compile(model, "x86-64", out_dir=str(tmp_path / "out"))
    for start, limit, delta in ((0, 5, 1), (10, 0, -2), (-7, 8, 3)):
        feeds = {"start": np.array(start, np.int64), "limit": np.array(limit, np.int64),
                 "delta": np.array(delta, np.int64)}
        _check(model, feeds, compiled.run(feeds))
    for start, limit, delta in ((0, 6, 1), (0, 4, 1), (0, 5, 0), (5, 0, 1)):
        feeds = {"start": np.array(start, np.int64), "limit": np.array(limit, np.int64),
                 "delta": np.array(delta, np.int64)}
        with pytest.raises(ToolchainError, match=r"returned error -3\b"):
            compiled.run(feeds)


def test_runtime_range_of_undeclared_length_is_refused():
    with pytest.raises(ModelError, match=r"^Range node 'Range_0'.*length depends on run-time"):
        import_model(_range_model(declared=False))


@pytest.mark.parametrize("cc_name", ["gcc", pytest.param("clang", marks=pytest.mark.slow)])
def test_generated_c_builds_strict(tmp_path, cc_name):
    """Every file of a model using every mask kernel (the run-time Range too),
    in one compiler run; clang (zig cc, slower to start) in the slow run."""
    from aot.targets.toolchain import zig_cc

    cc = [shutil.which("gcc") or "gcc"] if cc_name == "gcc" else list(zig_cc().command)

    model = _bert_mask_model()
    ranged = _range_model(declared=True)
    graph = model.graph
    graph.node.extend(ranged.graph.node)
    graph.input.extend(ranged.graph.input)
    graph.output.extend(ranged.graph.output)
    graph.value_info.extend(ranged.graph.value_info)
    out = tmp_path / "out"
    aot.compile(model, "x86-64", out_dir=str(out))
    kernels = {p.stem for p in (out / "aot_runtime").glob("aot_*.c")}
    assert {"aot_expand", "aot_slice", "aot_compare_s64", "aot_not_bool", "aot_or_bool",
            "aot_xor_bool", "aot_max_s64", "aot_min_f32", "aot_where", "aot_where_f32",
            "aot_gather_nd", "aot_range_s64"} <= kernels, kernels
    build = tmp_path / "objs"
    build.mkdir()
    need(cc_name != "gcc" or shutil.which("gcc") is not None, "gcc is not installed")
    proc = subprocess.run([*cc, *STRICT, "-O2", "-c", f"-I{out}",
                           *map(str, sorted(out.rglob("*.c")))],
                          cwd=build, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_codes_of_different_quantization_are_not_moved_or_compared():
    """Slice (like Expand, the compares, Max / Min and Where) works on stored
    codes: an int8 output of another scale is refused, not silently copied."""
    from aot.ir import Graph, Node, Quant, Tensor
    from aot.targets.lowering import lower
    from aot.targets.target import TARGETS

    a, b = Quant((0.1,), (0,)), Quant((0.2,), (3,))
    s8 = np.dtype(np.int8)
    tensors = {"x": Tensor("x", (4,), s8, quant=a), "y": Tensor("y", (2,), s8, quant=b),
               "same": Tensor("same", (2,), s8, quant=a),
               **{k: Tensor.const(k, np.array([v], np.int64))
                  for k, v in (("st", 1), ("en", 3))}}
    nodes = (Node("Slice", ("x", "st", "en"), ("same",), name="ok"),
             Node("Slice", ("x", "st", "en"), ("y",), name="requantized"))
    graph = Graph(nodes, tensors, ("x",), ("same", "y"), "q")
    with pytest.raises(ModelError, match=r"1 unsupported node.*'requantized'.*different scales"):
        lower(graph, TARGETS["x86-64"])

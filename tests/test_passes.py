"""Per-pass tests: a graph before, the graph expected after, compared by structure
(ops in order, their attributes, and each input as a name or a constant value)."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from aot.frontend import import_model
from aot.ir import Graph, verify
from aot.passes.cleanup import eliminate_dead_code, simplify
from aot.passes.fold import fold_constants
from aot.passes.fuse import fuse
from aot.passes.pipeline import FLOAT_PIPELINE, run_pipeline

F = TensorProto.FLOAT


def model(nodes, inputs, outputs, inits=()):
    g = helper.make_graph(nodes, "g",
                          [helper.make_tensor_value_info(n, F, s) for n, s in inputs],
                          [helper.make_tensor_value_info(n, F, s) for n, s in outputs],
                          [numpy_helper.from_array(np.asarray(v), k) for k, v in inits])
    return import_model(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))


def signature(g: Graph):
    def arg(name):
        if not name:
            return None
        t = g.tensors[name]
        return ("const", t.data.dtype.str, t.data.tolist()) if t.is_const else name
    return [(n.op, tuple(arg(i) for i in n.inputs), n.outputs,
             tuple(sorted((k, str(v)) for k, v in n.attrs.items()))) for n in g.nodes]


def test_fold_shape_chain_becomes_constant_shape():
    before = model(
        [helper.make_node("Shape", ["x"], ["s"]),
         helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
         helper.make_node("Unsqueeze", ["n", "ax"], ["n1"]),
         helper.make_node("Concat", ["n1", "minus1"], ["shape"], axis=0),
         helper.make_node("Reshape", ["x", "shape"], ["y"])],
        [("x", [2, 3, 4])], [("y", [2, 12])],
        [("zero", np.array(0, np.int64)), ("ax", np.array([0], np.int64)),
         ("minus1", np.array([-1], np.int64))])
    after = eliminate_dead_code(fold_constants(before))
    verify(after)
    assert signature(after) == [
        ("Reshape", ("x", ("const", "<i8", [2, -1])), ("y",), ())]


def test_simplify_removes_identity_dropout_and_merges_reshapes():
    before = model(
        [helper.make_node("Identity", ["x"], ["a"]),
         helper.make_node("Relu", ["a"], ["b"]),
         helper.make_node("Dropout", ["b"], ["c"]),
         helper.make_node("Flatten", ["c"], ["d"], axis=1),
         helper.make_node("Reshape", ["d", "shape"], ["e"]),
         helper.make_node("Relu", ["e"], ["y"])],
        [("x", [2, 3, 4])], [("y", [6, 4])], [("shape", np.array([6, -1], np.int64))])
    after = eliminate_dead_code(simplify(before))
    verify(after)
    assert signature(after) == [
        ("Relu", ("x",), ("b",), ()),
        ("Reshape", ("b", ("const", "<i8", [6, 4])), ("e",), ()),
        ("Relu", ("e",), ("y",), ())]


def test_simplify_keeps_a_copy_from_input_to_output():
    before = model([helper.make_node("Identity", ["x"], ["y"])], [("x", [3])], [("y", [3])])
    assert [n.op for n in simplify(before).nodes] == ["Identity"]


def test_identity_into_graph_output_renames_the_producer():
    before = model([helper.make_node("Relu", ["x"], ["a"]),
                    helper.make_node("Identity", ["a"], ["y"])], [("x", [3])], [("y", [3])])
    after = simplify(before)
    assert signature(after) == [("Relu", ("x",), ("y",), ())]


def test_dce_drops_unused_branch():
    before = model([helper.make_node("Relu", ["x"], ["y"]),
                    helper.make_node("Sigmoid", ["x"], ["unused"])],
                   [("x", [3])], [("y", [3])])
    assert signature(eliminate_dead_code(before)) == [("Relu", ("x",), ("y",), ())]


def conv_bn(w, b, gamma, beta, mean, var, eps=1e-3):
    return model(
        [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
         helper.make_node("BatchNormalization", ["c", "g", "be", "m", "v"], ["y"], epsilon=eps)],
        [("x", [1, 2, 5, 5])], [("y", [1, 3, 5, 5])],
        [("w", w), ("b", b), ("g", gamma), ("be", beta), ("m", mean), ("v", var)])


def test_fuse_folds_batchnorm_into_conv():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    gamma, beta, mean = (rng.standard_normal(3).astype(np.float32) for _ in range(3))
    var = rng.uniform(0.5, 2, 3).astype(np.float32)
    after = fuse(conv_bn(w, b, gamma, beta, mean, var))
    verify(after)
    scale = gamma.astype(np.float64) / np.sqrt(var.astype(np.float64) + 1e-3)
    [node] = after.nodes
    assert node.op == "Conv" and node.outputs == ("y",)
    np.testing.assert_allclose(after.const(node.inputs[1]), w * scale[:, None, None, None],
                               rtol=1e-6)
    np.testing.assert_allclose(after.const(node.inputs[2]), (b - mean) * scale + beta,
                               rtol=1e-5, atol=1e-6)


def test_fuse_activation_into_conv_and_matmul_add_into_gemm():
    w = np.ones((4, 3), np.float32)
    before = model(
        [helper.make_node("MatMul", ["x", "w"], ["m"]),
         helper.make_node("Add", ["m", "b"], ["a"]),
         helper.make_node("Clip", ["a", "lo", "hi"], ["y"])],
        [("x", [2, 4])], [("y", [2, 3])],
        [("w", w), ("b", np.zeros(3, np.float32)), ("lo", np.float32(0)),
         ("hi", np.float32(6))])
    after = fuse(before)
    [node] = after.nodes
    assert node.op == "Gemm" and node.outputs == ("y",)
    assert node.attrs["_act"] == (2, 0.0, 0.0, 0.0, 6.0)


def test_activation_not_fused_when_producer_output_is_shared():
    before = model(
        [helper.make_node("Add", ["x", "x"], ["a"]),
         helper.make_node("Relu", ["a"], ["y"]),
         helper.make_node("Sigmoid", ["a"], ["z"])],
        [("x", [3])], [("y", [3]), ("z", [3])])
    assert [n.op for n in fuse(before).nodes] == ["Add", "Relu", "Sigmoid"]


def test_pipeline_verifies_after_each_pass_and_names_the_pass():
    from aot.ir import IRError, Node

    def broken(g):
        return g.replace([Node("Relu", ("nowhere",), ("y",), {}, "bad")])

    g = model([helper.make_node("Relu", ["x"], ["y"])], [("x", [3])], [("y", [3])])
    with pytest.raises(IRError, match="after pass 'broken'"):
        run_pipeline(g, [("broken", broken)])
    assert [name for name, _ in FLOAT_PIPELINE][:2] == ["qdq", "fold"]

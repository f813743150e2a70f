"""In-place execution: each rule (activation, sigmoid, tanh, scale-shift,
binary ops with an input of the output's exact shape, softmax) fires where it
is sound, shrinks the arena, and gives the same results as the out-of-place
build (bit for bit) and as onnxruntime (float tolerance: 1e-5 relative, 1e-6
absolute). Where it is not sound (the input is read later, is a graph input,
or is broadcast) it does not fire."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper

import aot
from aot.options import Options
from conftest import need_import

SHAPE = [1, 4, 8, 8]


def pool(x: str, y: str, op: str = "MaxPool") -> helper.NodeProto:
    """A same-shape pooling: a producer that fuses no activation."""
    return helper.make_node(op, [x], [y], kernel_shape=[3, 3], pads=[1, 1, 1, 1], name=y)


def model(nodes, inits=(), inputs=("x",), outputs=("y",)):
    g = helper.make_graph(
        nodes, "inplace",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, SHAPE) for n in inputs],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, SHAPE) for n in outputs],
        initializer=list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def const(name, value):
    value = np.asarray(value, np.float32)
    return helper.make_tensor(name, TensorProto.FLOAT, value.shape, value.reshape(-1).tolist())


def build_and_compare(proto, tmp_path):
    """Compile with and without in-place, run both and onnxruntime; returns the plans."""
    ort = need_import("onnxruntime")
    data = proto.SerializeToString()
    on = aot.compile(data, "x86-64", out_dir=str(tmp_path / "on"), options=Options(name="m"))
    off = aot.compile(data, "x86-64", out_dir=str(tmp_path / "off"),
                      options=Options(name="m", inplace=False))
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    for _ in range(3):
        feeds = {i.name: rng.standard_normal(SHAPE).astype(np.float32) for i in sess.get_inputs()}
        a, b = on.run(feeds), off.run(feeds)
        ref = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))
        for k in ref:
            np.testing.assert_array_equal(a[k], b[k])
            np.testing.assert_allclose(a[k], ref[k], rtol=1e-5, atol=1e-6)
    return on.compilation.plan, off.compilation.plan


NBYTES = 4 * int(np.prod(SHAPE))

RULES = {
    # rule name: (nodes, initializers, {output: input it overwrites})
    "activation": ([pool("x", "p"), helper.make_node("LeakyRelu", ["p"], ["r"], alpha=0.1),
                    pool("r", "y")], [], {"r": "p"}),
    "sigmoid": ([pool("x", "p"), helper.make_node("Sigmoid", ["p"], ["s"]), pool("s", "y")],
                [], {"s": "p"}),
    "tanh": ([pool("x", "p"), helper.make_node("Tanh", ["p"], ["t"]), pool("t", "y")],
             [], {"t": "p"}),
    "scale_shift": ([pool("x", "p"),
                     helper.make_node("BatchNormalization", ["p", "g", "b", "m", "v"], ["n"]),
                     pool("n", "y")],
                    [const("g", [1.5, 0.5, 2, 1]), const("b", [0.1, 0.2, 0.3, 0.4]),
                     const("m", [0, 0.1, -0.1, 0.2]), const("v", [1, 2, 0.5, 1])], {"n": "p"}),
    "add_same_shape": ([pool("x", "p"), pool("x", "q", "AveragePool"),
                        helper.make_node("Add", ["p", "q"], ["a"]), pool("a", "y")],
                       [], {"a": "p"}),
    "mul_broadcast_const": ([pool("x", "p"), helper.make_node("Mul", ["c", "p"], ["m"]),
                             pool("m", "y")],
                            [const("c", np.arange(4).reshape(1, 4, 1, 1))], {"m": "p"}),
    "sub_then_relu": ([pool("x", "p"), pool("x", "q", "AveragePool"),
                       helper.make_node("Sub", ["p", "q"], ["d"]),
                       helper.make_node("Relu", ["d"], ["r"]), pool("r", "y")],
                      [], {"r": "p"}),    # Relu fuses into Sub: one call, over p
    "div": ([pool("x", "p"), helper.make_node("Div", ["p", "c"], ["d"]), pool("d", "y")],
            [const("c", [2.0])], {"d": "p"}),
    "softmax": ([pool("x", "p"), helper.make_node("Softmax", ["p"], ["s"], axis=1),
                 pool("s", "y")], [], {"s": "p"}),
    "chain": ([pool("x", "p"), helper.make_node("Sigmoid", ["p"], ["s"]),
               helper.make_node("Tanh", ["s"], ["t"]), helper.make_node("Softmax", ["t"], ["u"]),
               pool("u", "y")], [], {"s": "p", "t": "s", "u": "t"}),
}


@pytest.mark.parametrize("rule", sorted(RULES))
def test_inplace_rule_matches_out_of_place_and_onnxruntime(rule, tmp_path):
    nodes, inits, expected = RULES[rule]
    on, off = build_and_compare(model(nodes, inits), tmp_path)
    assert on.inplace == expected
    assert not off.inplace
    assert on.offsets[next(iter(expected))] == on.offsets[expected[next(iter(expected))]]
    two_inputs = rule in ("add_same_shape", "sub_then_relu")    # p and q live together
    assert on.arena_bytes == (2 if two_inputs else 1) * NBYTES
    assert off.arena_bytes == on.arena_bytes + NBYTES


NOT_SOUND = {
    # the input is read again later: Sigmoid cannot overwrite p (the Add then can)
    "input_read_later": ([pool("x", "p"), helper.make_node("Sigmoid", ["p"], ["s"]),
                          helper.make_node("Add", ["s", "p"], ["a"]), pool("a", "y")],
                         [], {"a": "s"}),
    # a graph input belongs to the caller
    "graph_input": ([helper.make_node("Sigmoid", ["x"], ["s"]), pool("s", "y")], [], {}),
    # p is broadcast (1x4x1x1) into the output: only q's bytes can be taken over
    "broadcast_input": ([helper.make_node("GlobalAveragePool", ["x"], ["p"]),
                         pool("x", "q"), helper.make_node("Mul", ["p", "q"], ["m"]),
                         pool("m", "y")], [], {"m": "q"}),
    # the activation's output is the graph output: written straight to the caller
    "graph_output": ([pool("x", "p"), helper.make_node("Tanh", ["p"], ["y"])], [], {}),
}


@pytest.mark.parametrize("case", sorted(NOT_SOUND))
def test_inplace_only_where_sound(case, tmp_path):
    nodes, inits, expected = NOT_SOUND[case]
    on, _ = build_and_compare(model(nodes, inits), tmp_path)
    assert on.inplace == expected


def test_real_model_inplace_matches_onnxruntime(mlperf_dir, tmp_path):
    """IC (a ResNet): each residual Add runs in place; same outputs as without."""
    ort = need_import("onnxruntime")
    path = str(mlperf_dir / "ic_float.onnx")
    on = aot.compile(path, "x86-64", out_dir=str(tmp_path / "on"))
    off = aot.compile(path, "x86-64", out_dir=str(tmp_path / "off"),
                      options=Options(inplace=False))
    assert on.compilation.plan.inplace and not off.compilation.plan.inplace
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    [inp] = on.manifest["inputs"]
    x = np.random.default_rng(1).uniform(0, 255, inp["shape"]).astype(np.float32)
    a, b = on.run({inp["name"]: x}), off.run({inp["name"]: x})
    ref = sess.run(None, {inp["name"]: x})[0]
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
        np.testing.assert_allclose(a[k], ref, rtol=1e-4, atol=1e-5)

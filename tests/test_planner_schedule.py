"""`--schedule memory`: a topological order of the calls with a smaller peak,
hand-computed on a two-branch program, end to end against onnxruntime, and
never worse than the ONNX order on the real models."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper

import aot
from aot.ir import Tensor
from aot.options import Options
from aot.program import Call, Program, Ref
from aot.passes.memory_plan import plan_memory, schedule_for_memory
from conftest import need_import


def two_branches() -> Program:
    """in -> A (100 B) -> a (1 B); in -> B (100 B) -> b (1 B); (a, b) -> out."""
    sizes = {"in": 1, "A": 100, "B": 100, "a": 1, "b": 1, "out": 1}
    tensors = {n: Tensor(n, (s,), np.dtype(np.uint8)) for n, s in sizes.items()}

    def call(reads, out):
        return Call("k", None, tuple(Ref(t) for t in [*reads, out]), tuple(reads), (out,),
                    out, "Op")
    calls = [call(["in"], "A"), call(["in"], "B"), call(["A"], "a"), call(["B"], "b"),
             call(["a", "b"], "out")]
    return Program("p", tuple(calls), tensors, ("in",), ("out",))


def test_two_branches_hand_computed():
    program = two_branches()
    # ONNX order: A and B live together at call 1 (200 B) plus a at call 2.
    assert plan_memory(program, 1).lower_bound == 201
    scheduled = schedule_for_memory(program, 1)
    # Finish one branch before starting the other: A+a = 101, a+B = 101, a+B+b = 102.
    assert [c.layer for c in scheduled.calls] == ["A", "a", "B", "b", "out"]
    plan = plan_memory(scheduled, 1)
    assert plan.lower_bound == plan.arena_bytes == 102


def test_chain_keeps_the_onnx_order():
    program = two_branches()
    chain = Program("c", program.steps[:1] + program.steps[2:3], program.tensors, ("in",),
                    ("a",))
    assert schedule_for_memory(chain, 1) is chain


def branchy_model():
    rng = np.random.default_rng(0)
    inits = []
    nodes = []
    for k in (1, 2):
        w = rng.standard_normal((16, 4, 3, 3)).astype(np.float32)
        inits.append(helper.make_tensor(f"w{k}", TensorProto.FLOAT, w.shape, w.reshape(-1)))
        nodes.append(helper.make_node("Conv", ["x", f"w{k}"], [f"c{k}"], pads=[1, 1, 1, 1],
                                      name=f"conv{k}"))
    nodes += [helper.make_node("GlobalAveragePool", ["c1"], ["g1"], name="gap1"),
              helper.make_node("GlobalMaxPool", ["c2"], ["g2"], name="gap2"),
              helper.make_node("Add", ["g1", "g2"], ["y"], name="add")]
    g = helper.make_graph(nodes, "branches",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16, 1, 1])],
                          initializer=inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def test_memory_schedule_end_to_end(tmp_path):
    ort = need_import("onnxruntime")
    data = branchy_model()
    onnx_order = aot.compile(data, "x86-64", out_dir=str(tmp_path / "a"))
    memory = aot.compile(data, "x86-64", out_dir=str(tmp_path / "b"),
                         options=Options(schedule="memory"))
    big = 16 * 8 * 8 * 4
    assert onnx_order.compilation.plan.arena_bytes >= 2 * big
    assert memory.compilation.plan.arena_bytes < 2 * big
    assert [c.layer for c in memory.compilation.program.calls] == \
        ["conv1", "gap1", "conv2", "gap2", "add"]
    x = np.random.default_rng(1).standard_normal((1, 4, 8, 8)).astype(np.float32)
    ref = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    a, b = onnx_order.run({"x": x})["y"], memory.run({"x": x})["y"]
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(b, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("fname", ["kws_float.onnx", "vww_float.onnx", "ic_float.onnx",
                                   "ad_float.onnx"])
def test_memory_schedule_never_worse_on_real_models(fname, mlperf_dir):
    from aot.api import compile_graph
    from test_memory_plan import independent_check

    base, _ = compile_graph(str(mlperf_dir / fname), "cortex-m4")
    comp, _ = compile_graph(str(mlperf_dir / fname), "cortex-m4", Options(schedule="memory"))
    assert comp.plan.lower_bound <= base.plan.lower_bound
    assert comp.plan.arena_bytes <= base.plan.arena_bytes
    independent_check(comp)

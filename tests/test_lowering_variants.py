"""Kernel-variant lookup: a target's variants are tried best first, a variant
rule may fall back to the next rule, and `--kernels` narrows the choice."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper

import aot
from aot.errors import UsageError
from aot.targets import lowering
from aot.targets.lowering import Fallback, rule_keys
from aot.targets.target import TARGETS


def _relu_model():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="r")], "g", [x], [y])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_rule_keys_follow_the_targets_variants():
    m4, avx512 = TARGETS["cortex-m4"], TARGETS["x86-64-avx512"]
    assert rule_keys(m4) == ("dsp", "cortex-m4", "cortex-m", "generic")
    assert rule_keys(m4, "portable") == ("generic",)
    assert rule_keys(avx512, "avx2") == ("avx2", "x86-64-avx512", "x86-64", "generic")
    assert rule_keys(TARGETS["cortex-m0plus"]) == ("cortex-m0plus", "cortex-m", "generic")


def test_a_variant_the_target_lacks_is_refused():
    with pytest.raises(UsageError, match="cannot run on target cortex-m3"):
        aot.compile(_relu_model(), "cortex-m3", options=aot.Options(kernels="dsp"))
    with pytest.raises(UsageError, match="kernels must be"):
        aot.Options(kernels="sse9")


def test_a_variant_rule_that_falls_back_leaves_no_trace(monkeypatch, tmp_path):
    calls = []

    def declining(node, ctx):
        calls.append(node.name)
        ctx.const("junk", np.zeros(4, np.float32))
        raise Fallback

    monkeypatch.setitem(lowering.RULES, ("Relu", "avx2"), declining)
    compiled = aot.compile(_relu_model(), "x86-64-avx2", out_dir=tmp_path / "o")
    assert calls == ["r"]
    assert [c.kernel for c in compiled.compilation.program.calls] == \
        [c.kernel for c in aot.compile(_relu_model(), "x86-64", out_dir=tmp_path / "p")
         .compilation.program.calls]
    assert "junk" not in compiled.compilation.program.tensors
    calls.clear()
    aot.compile(_relu_model(), "x86-64-avx2", out_dir=tmp_path / "q",
                options=aot.Options(kernels="portable"))
    assert calls == []

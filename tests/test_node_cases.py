"""ONNX backend node cases for the float32 ops: compile, build, run, compare
with the expected outputs that ship with the `onnx` package.

Every case whose graph uses only the ops below runs, except those in
EXCLUDED, each with its reason. Tolerance: |ours - expected| <= 1e-6 + 1e-5 * |expected|
(float32 kernels vs. the float64/float32 numpy reference that made the data).

aot compiles for fixed shapes and parameters. A case that feeds a shape, pad
amount, axis list, clip bound or normalization statistics through a graph
input is compiled with that input bound to the case's value (an exporter
stores these as initializers); the remaining inputs are fed at run time.
"""

from __future__ import annotations

import warnings

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

import aot

OPS = {"Conv", "Gemm", "MatMul", "Add", "Sub", "Mul", "Div", "Relu", "Clip", "LeakyRelu",
       "Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "Softmax", "MaxPool", "AveragePool",
       "GlobalAveragePool", "GlobalMaxPool", "Flatten", "Reshape", "Transpose", "Concat",
       "Squeeze", "Unsqueeze", "BatchNormalization", "Pad", "ReduceMean", "Identity",
       "Dropout", "Constant", "Shape", "Gather", "Cast"}

# (op, input index) whose value aot needs at compile time.
STATIC_OPERANDS = {("Reshape", 1), ("Pad", 1), ("Pad", 2), ("Pad", 3), ("Clip", 1),
                   ("Clip", 2), ("ReduceMean", 1), ("Squeeze", 1), ("Unsqueeze", 1),
                   ("Dropout", 1), ("Dropout", 2), ("BatchNormalization", 1),
                   ("BatchNormalization", 2), ("BatchNormalization", 3),
                   ("BatchNormalization", 4)}

NOT_FLOAT = "not float32: integer and low-precision arithmetic belong to the int8 issue"
RUNTIME_GATHER = "Gather on run-time data is not supported yet (only when it folds)"
TRAINING = "training-mode op (random or batch statistics): aot compiles inference graphs"
THREE_D = "3-D convolution/pooling is not supported (1-D and 2-D are)"
OPTIONAL = "uses ONNX optional/sequence types, which aot does not accept"
CAST = "Cast between types of run-time data is not supported yet (only when it folds)"

EXCLUDED: dict[str, str] = {}


def _collect():
    from onnx.backend.test.case.node import collect_testcases

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = collect_testcases()
    return {c.name: c for c in cases
            if c.model is not None and {n.op_type for n in c.model.graph.node} <= OPS}


CASES = _collect()


def _bind_static_inputs(model: onnx.ModelProto, feeds: dict) -> tuple[onnx.ModelProto, dict]:
    static = {inp for n in model.graph.node for i, inp in enumerate(n.input)
              if (n.op_type, i) in STATIC_OPERANDS}
    m = onnx.ModelProto()
    m.CopyFrom(model)
    keep = [vi for vi in m.graph.input if vi.name not in static or vi.name not in feeds]
    for name in sorted(static & set(feeds)):
        m.graph.initializer.append(numpy_helper.from_array(np.asarray(feeds[name]), name))
    del m.graph.input[:]
    m.graph.input.extend(keep)
    return m, {k: v for k, v in feeds.items() if k not in static}


@pytest.mark.parametrize("name", sorted(CASES))
def test_node_case(name, tmp_path):
    if name in EXCLUDED:
        pytest.skip(EXCLUDED[name])
    case = CASES[name]
    for i, (inputs, expected) in enumerate(case.data_sets):
        names = [vi.name for vi in case.model.graph.input]
        feeds = dict(zip(names, inputs))
        model, feeds = _bind_static_inputs(case.model, feeds)
        compiled = aot.compile(model, "x86-64", out_dir=str(tmp_path / f"out{i}"))
        got = compiled.run(feeds)
        for vi, want in zip(case.model.graph.output, expected):
            out = got[vi.name]
            want = np.asarray(want)
            assert out.shape == want.shape, vi.name
            assert out.dtype == want.dtype, vi.name
            np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-6, err_msg=vi.name)


def test_excluded_cases_exist():
    """The exclusion list names only real cases (no stale entries)."""
    assert not set(EXCLUDED) - set(CASES)

"""Hostile input: the importer never crashes, hangs or exhausts memory.

Each bad model below gets exit code 2 (ModelError), one error line that names
the problem (and the node or tensor), and nothing written. The importer runs
in-process under a lowered address-space limit (RLIMIT_AS: what the process
has now + 3 GiB), so a regression that tries to allocate a 2^40-element
tensor fails here with MemoryError instead of taking the machine down --
and the absurd-shape cases also check the message, so "refused before
anything allocates it" cannot pass by accident through a MemoryError.

Two hypothesis fuzz tests (bounded, derandomized; AOT_FUZZ_EXAMPLES=N and
AOT_FUZZ_SEED=random|INT make a long campaign, as in test_differential.py)
mutate real models -- the bytes (flips, overwrites, varint bombs, insertions,
deletions, truncations, splices) and the parsed protobuf (extreme attribute
values and dims, rewired inputs, dropped nodes and initializers, wrong dtypes,
op types, opsets and domains, hostile names) -- and require that import,
passes, lowering, planning and emitting either succeed or raise AotError with a
one-line message, with no other exception and no hang (SIGALRM, 30 s per input).
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

import aot
from aot import cli
from aot import emit as emitter
from aot.api import compile_graph
from aot.errors import AotError

vi = helper.make_tensor_value_info


@contextlib.contextmanager
def memory_limit(extra: int = 3 << 30):
    """Lower the soft RLIMIT_AS to the current size + extra for the block."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as f:
        vm = int(f.read().split()[0]) * resource.getpagesize()
    limit = vm + extra if hard == resource.RLIM_INFINITY else min(vm + extra, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@contextlib.contextmanager
def time_limit(seconds: int):
    def fire(*_):
        raise TimeoutError(f"no answer within {seconds} s (a hang)")
    old = signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def model(nodes, inputs, outputs, inits=(), opset=17) -> onnx.ModelProto:
    return helper.make_model(helper.make_graph(nodes, "g", inputs, outputs, list(inits)),
                             opset_imports=[helper.make_opsetid("", opset)])


def const(name, value, dtype=np.float32):
    return numpy_helper.from_array(np.asarray(value, dtype), name)


def relu(i="x", o="y", name="r"):
    return helper.make_node("Relu", [i], [o], name=name)


def conv(name="conv", **attrs):
    return helper.make_node("Conv", ["x", "w"], ["y"], name=name, **attrs)


X4 = [vi("x", TensorProto.FLOAT, [1, 1, 4, 4])]
Y4 = [vi("y", TensorProto.FLOAT, ["a", "b", "c", "d"])]
W1 = [const("w", np.ones((1, 1, 1, 1)))]
BIG = 1 << 40


def _external(tmp_path, location):
    t = onnx.TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[4])
    t.data_location = TensorProto.EXTERNAL
    t.external_data.add(key="location", value=location)
    return model([helper.make_node("Add", ["x", "w"], ["y"], name="add")],
                 [vi("x", TensorProto.FLOAT, [4])], [vi("y", TensorProto.FLOAT, [4])], [t])


def _external_link(tmp_path):
    (tmp_path / "w.bin").symlink_to("/dev/zero")
    return _external(tmp_path, "w.bin")


def _range_model(limit):
    return model([helper.make_node("Range", ["a", "b", "c"], ["r"], name="rng"),
                  helper.make_node("Cast", ["r"], ["rf"], to=TensorProto.FLOAT, name="cast"),
                  helper.make_node("Add", ["x", "rf"], ["y"], name="add")],
                 [vi("x", TensorProto.FLOAT, [1])], [vi("y", TensorProto.FLOAT, ["n"])],
                 [const("a", 0, np.int64), const("b", limit, np.int64), const("c", 1, np.int64)])


# name -> (bytes or ModelProto or callable(tmp_path) -> either, fragments the error names)
CASES = {
    "random bytes": (lambda tmp: np.random.default_rng(0).bytes(4096), ["not an ONNX model"]),
    "empty file": (b"", ["not an ONNX model"]),
    "tensor, not a model": (numpy_helper.from_array(np.ones(8, np.float32)).SerializeToString(),
                            ["not an ONNX model"]),
    "graph, not a model": (helper.make_graph([relu()], "g", [vi("x", 1, [4])],
                                             [vi("y", 1, [4])]).SerializeToString(),
                           ["not an ONNX model"]),
    "cycle": (model([relu("b", "a", "r1"), relu("a", "b", "r2"), relu("a", "y", "r3")],
                    [vi("x", 1, [4])], [vi("y", 1, [4])]), ["topologically sorted", "r1"]),
    "missing initializer": (model([helper.make_node("Add", ["x", "w"], ["y"], name="add")],
                                  [vi("x", 1, [4])], [vi("y", 1, [4])]), ["'w'", "add"]),
    "2^40-element input": (model([relu()], [vi("x", 1, [1 << 20, 1 << 20])],
                                 [vi("y", 1, [1 << 20, 1 << 20])]), ["'x'", "2 GiB"]),
    "2^40-element initializer": (lambda tmp: _huge_initializer(), ["tensor name: w", "too small"]),
    "2^40 elements by Range": (_range_model(BIG), ["rng", "2 GiB"]),
    "2^40 elements by ConstantOfShape": (
        model([helper.make_node("ConstantOfShape", ["s"], ["c"], name="cos"),
               helper.make_node("Add", ["x", "c"], ["y"], name="add")],
              [vi("x", 1, [1])], [vi("y", 1, ["a", "b"])], [const("s", [1 << 20, 1 << 20], np.int64)]),
        ["cos", "2 GiB"]),
    "2^40 elements by Expand": (
        model([helper.make_node("Expand", ["x", "s"], ["y"], name="ex")], [vi("x", 1, [1, 1])],
              [vi("y", 1, ["a", "b"])], [const("s", [1 << 20, 1 << 20], np.int64)]),
        ["ex", "2 GiB"]),
    "1 GiB constant to fold": (
        model([helper.make_node("ConstantOfShape", ["s"], ["c"], name="cos"),
               helper.make_node("Add", ["x", "c"], ["y"], name="add")],
              [vi("x", 1, [1])], [vi("y", 1, ["a", "b"])], [const("s", [1 << 14, 1 << 14], np.int64)]),
        ["cos", "folds constants up to"]),
    "huge pads": (model([conv(pads=[BIG, 0, 0, 0])], X4, Y4, W1), ["conv", "2 GiB"]),
    "huge strides": (model([conv(strides=[BIG, 1])], X4, Y4, W1), ["conv", "int32"]),
    "huge group": (model([conv(group=BIG)], X4, Y4, W1), ["conv", "group"]),
    "group that does not divide": (model([conv(group=2)], X4, Y4, [const("w", np.ones((2, 1, 1, 1)))]),
                                   ["conv", "group 2"]),
    "huge kernel": (model([helper.make_node("MaxPool", ["x"], ["y"], name="mp",
                                            kernel_shape=[BIG, 1])], X4, Y4),
                    ["mp", "negative dimension"]),
    "huge axis": (model([helper.make_node("Softmax", ["x"], ["y"], name="sm", axis=BIG)],
                        [vi("x", 1, [1, 4])], [vi("y", 1, ["a", "b"])]), ["sm", "axis"]),
    "huge perm": (model([helper.make_node("Transpose", ["x"], ["y"], name="tr", perm=[BIG, 0])],
                        [vi("x", 1, [1, 4])], [vi("y", 1, ["a", "b"])]), ["tr", "perm"]),
    "negative input dim": (model([relu()], [vi("x", 1, [-3, 4])], [vi("y", 1, [-3, 4])]),
                           ["'x'", "negative dimension"]),
    "negative initializer dim": (lambda tmp: _negative_initializer(), ["tensor name: w", "Negative"]),
    "zero input dim": (model([relu()], [vi("x", 1, [0, 4])], [vi("y", 1, [0, 4])]),
                       ["'x'", "zero"]),
    "zero-size intermediate": (model([conv()], [vi("x", 1, [1, 1, 2, 2])], Y4,
                                     [const("w", np.ones((1, 1, 3, 3)))]), ["conv", "empty"]),
    "unknown domain": (model([helper.make_node("Foo", ["x"], ["y"], name="foo",
                                               domain="evil.corp")],
                             [vi("x", 1, [4])], [vi("y", 1, [4])]),
                       ["foo", "unknown domain 'evil.corp'"]),
    "mismatched dtypes": (model([helper.make_node("Add", ["x", "w"], ["y"], name="add")],
                                [vi("x", 1, [4])], [vi("y", 1, [4])],
                                [const("w", np.arange(4), np.int64)]), ["add", "int64"]),
    "opset from the future": (model([relu()], [vi("x", 1, [4])], [vi("y", 1, [4])], opset=999),
                              ["opset 999"]),
    "no outputs": (model([relu()], [vi("x", 1, [4])], []), ["no outputs"]),
    "pooling pads past the kernel": (model([helper.make_node("AveragePool", ["x"], ["y"], name="ap",
                                                             kernel_shape=[2, 2],
                                                             pads=[5, 5, 5, 5])], X4, Y4),
                                     ["ap", "smaller than the kernel"]),
    "Gemm bias that does not broadcast": (
        model([helper.make_node("Gemm", ["x", "w", "c"], ["y"], name="gm")], [vi("x", 1, [2, 3])],
              [vi("y", 1, ["a", "b"])], [const("w", np.ones((3, 4))), const("c", np.ones((2, 3)))]),
        ["gm", "broadcast"]),
    "Conv bias of the wrong size": (
        model([helper.make_node("Conv", ["x", "w", "b"], ["y"], name="conv")], X4, Y4,
              [const("w", np.ones((4, 1, 1, 1))), const("b", np.ones(1))]), ["conv", "bias"]),
    "Clip bounds that are not scalars": (
        model([helper.make_node("Clip", ["x", "lo"], ["y"], name="clip")], [vi("x", 1, [2])],
              [vi("y", 1, [2])], [const("lo", [0, 1])]), ["clip"]),
    "external data outside the model's folder": (lambda tmp: _external(tmp, "../../etc/passwd"),
                                                 ["tensor name: w", "external weights"]),
    "external data from a device": (lambda tmp: _external(tmp, "/dev/zero"),
                                    ["tensor name: w", "external weights"]),
    "external data through a link to a device": (lambda tmp: _external_link(tmp),
                                                 ["tensor name: w", "external weights"]),
}


def _huge_initializer():
    t = onnx.TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1 << 20, 1 << 20])
    t.raw_data = b"\0" * 16
    return model([helper.make_node("Add", ["x", "w"], ["y"], name="add")],
                 [vi("x", 1, [1])], [vi("y", 1, ["a", "b"])], [t])


def _negative_initializer():
    t = onnx.TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[-4])
    return model([helper.make_node("Add", ["x", "w"], ["y"], name="add")],
                 [vi("x", 1, [4])], [vi("y", 1, [4])], [t])


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_model_is_refused_in_one_line(case, tmp_path, capsys):
    source, fragments = CASES[case]
    if callable(source):
        source = source(tmp_path)
    path = tmp_path / "bad.onnx"
    path.write_bytes(source if isinstance(source, bytes) else source.SerializeToString())
    out = tmp_path / "out"
    with memory_limit(), time_limit(60):
        code = cli.main(["compile", str(path), "--target", "x86-64", "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 2, err
    first = err.splitlines()[0]
    assert first.startswith("aot: error: ") and "Traceback" not in err, err
    for f in fragments:
        assert f in first, f"{f!r} not in {first!r}"
    assert not out.exists(), "something was written"
    assert sorted(p.name for p in tmp_path.iterdir()) in (["bad.onnx"], ["bad.onnx", "w.bin"])


# ----------------------------------------------------------------- byte-mutation fuzz

def _seed_models() -> list[bytes]:
    """Small real models (structure, not weights, dominates their bytes)."""
    rng = np.random.default_rng(0)
    f = TensorProto.FLOAT
    a = model([helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1],
                                strides=[2, 2], group=2),
               helper.make_node("BatchNormalization", ["c", "s", "o", "m", "v"], ["n"], name="bn"),
               helper.make_node("Relu", ["n"], ["r"], name="relu"),
               helper.make_node("MaxPool", ["r"], ["p"], name="pool", kernel_shape=[2, 2],
                                ceil_mode=1),
               helper.make_node("Flatten", ["p"], ["fl"], name="flat"),
               helper.make_node("Gemm", ["fl", "g", "gb"], ["y"], name="fc", transB=1),
               helper.make_node("Softmax", ["y"], ["z"], name="sm")],
              [vi("x", f, [1, 4, 8, 8])], [vi("z", f, [1, 3])],
              [const("w", rng.standard_normal((4, 2, 3, 3))), const("b", np.zeros(4)),
               const("s", np.ones(4)), const("o", np.zeros(4)), const("m", np.zeros(4)),
               const("v", np.ones(4)), const("g", rng.standard_normal((3, 36))),
               const("gb", np.zeros(3))])
    b = model([helper.make_node("Transpose", ["x"], ["t"], name="tr", perm=[0, 2, 1]),
               helper.make_node("Concat", ["t", "t"], ["c"], name="cat", axis=1),
               helper.make_node("Reshape", ["c", "shape"], ["r"], name="rs"),
               helper.make_node("ReduceMean", ["r", "axes"], ["m"], name="mean", keepdims=0),
               helper.make_node("Unsqueeze", ["m", "uaxes"], ["u"], name="unsq"),
               helper.make_node("Pad", ["u", "pads"], ["p"], name="pad", mode="reflect"),
               helper.make_node("Mul", ["p", "k"], ["y"], name="mul")],
              [vi("x", f, [2, 3, 4])], [vi("y", f, [1, 4, 4])],
              [const("shape", [2, -1, 4], np.int64), const("axes", [0], np.int64),
               const("uaxes", [0], np.int64), const("pads", [0, 1, 0, 0, 1, 0], np.int64),
               const("k", rng.standard_normal(4))], opset=21)
    return [a.SerializeToString(), b.SerializeToString()]


def _mlperf_seed() -> list[bytes]:
    """Real exported models: float, and int8 QDQ (the quantized import path)."""
    from conftest import MODELS
    paths = [MODELS / "mlperf_tiny" / m for m in ("kws_float.onnx", "kws_int8.onnx")]
    return [p.read_bytes() for p in paths if p.exists()]


SMALL_SEEDS = _seed_models()
SEEDS = SMALL_SEEDS + _mlperf_seed()
FUZZ_EXAMPLES = int(os.environ.get("AOT_FUZZ_EXAMPLES", "300"))


@st.composite
def mutated_models(draw) -> bytes:
    """Byte-level mutations of a seed model. Positions and values come from a
    drawn seed (numpy), uniform over the file: hypothesis' own integers favour
    small values, which here would all land in the protobuf header."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    rng = np.random.default_rng(draw(st.integers(0, 2**63 - 1)))
    for kind in draw(st.lists(st.sampled_from(["flip", "flip", "flip", "set", "set", "varint",
                                               "insert", "delete", "truncate", "splice"]),
                              min_size=1, max_size=3)):
        pos = int(rng.integers(0, max(len(data), 1)))
        if kind == "flip" and data:
            data[pos] ^= 1 << int(rng.integers(0, 8))
        elif kind == "set" and data:
            data[pos] = int(rng.choice([0x00, 0x01, 0x7F, 0x80, 0xFF, 0x08, 0x12, 0x1A]))
        elif kind == "varint":   # a huge or negative varint where a small one was
            data[pos:pos + 1] = bytes([0xFF] * int(rng.integers(1, 10)) + [0x01])
        elif kind == "insert":
            data[pos:pos] = rng.bytes(int(rng.integers(1, 17)))
        elif kind == "delete":
            del data[pos:pos + int(rng.integers(1, 17))]
        elif kind == "truncate":
            del data[pos:]
        elif kind == "splice":   # a chunk of another model's bytes
            other = SEEDS[int(rng.integers(0, len(SEEDS)))]
            start = int(rng.integers(0, len(other)))
            data[pos:pos] = other[start:start + int(rng.integers(1, 65))]
    return bytes(data)


EXTREME_INTS = [0, -1, 1, 2, 3, 7, 2**31 - 1, 2**31, -2**31, 2**40, 2**63 - 1, -2**63]
EXTREME_FLOATS = [0.0, -0.0, 1e-45, 1e38, 1e300, float("inf"), float("-inf"), float("nan")]


@st.composite
def mutated_protos(draw) -> bytes:
    """Structure-aware mutations of the small seeds: the parser accepts them, so
    they reach the checker, shape inference, the passes, lowering and the emitter."""
    m = onnx.ModelProto()
    m.ParseFromString(draw(st.sampled_from(SMALL_SEEDS)))
    g = m.graph
    names = sorted({n for node in g.node for n in [*node.input, *node.output]} |
                   {t.name for t in g.initializer} | {v.name for v in g.input})
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["attr_int"] * 4 + ["attr_float", "dim", "dim", "input",
                                     "input", "output", "drop_node", "drop_init", "dtype",
                                     "op_type", "opset", "swap", "domain", "name"]))
        nodes = list(g.node)
        node = draw(st.sampled_from(nodes)) if nodes else None
        if node is not None:   # names defined before this node: still topologically sorted
            before = {v.name for v in g.input} | {t.name for t in g.initializer} | {
                o for n in nodes[:nodes.index(node)] for o in n.output}
            names = sorted(before) or names
        if kind == "attr_int" and node is not None:
            ints = [a for a in node.attribute if a.type in (onnx.AttributeProto.INT,
                                                             onnx.AttributeProto.INTS)]
            value = draw(st.sampled_from(EXTREME_INTS))
            if ints:
                a = draw(st.sampled_from(ints))
                if a.type == onnx.AttributeProto.INT:
                    a.i = value
                elif a.ints:
                    a.ints[draw(st.integers(0, len(a.ints) - 1))] = value
            else:
                node.attribute.append(helper.make_attribute(
                    draw(st.sampled_from(["axis", "group", "keepdims", "transA", "ceil_mode"])),
                    value))
        elif kind == "attr_float" and node is not None:
            node.attribute.append(helper.make_attribute(
                draw(st.sampled_from(["alpha", "beta", "epsilon"])),
                draw(st.sampled_from(EXTREME_FLOATS))))
        elif kind == "dim":
            values = [v for v in [*g.input, *g.output] if v.type.tensor_type.shape.dim]
            if values:
                dims = draw(st.sampled_from(values)).type.tensor_type.shape.dim
                dims[draw(st.integers(0, len(dims) - 1))].dim_value = \
                    draw(st.sampled_from(EXTREME_INTS))
        elif kind == "input" and node is not None and node.input:
            node.input[draw(st.integers(0, len(node.input) - 1))] = \
                draw(st.sampled_from(names + ["", "nowhere"]))
        elif kind == "output" and node is not None:
            node.output[0] = draw(st.sampled_from(names))
        elif kind == "drop_node" and nodes:
            g.node.remove(node)
        elif kind == "drop_init" and g.initializer:
            g.initializer.remove(draw(st.sampled_from(list(g.initializer))))
        elif kind == "dtype":
            if g.initializer and draw(st.booleans()):
                draw(st.sampled_from(list(g.initializer))).data_type = draw(st.integers(0, 25))
            else:
                g.input[0].type.tensor_type.elem_type = draw(st.integers(0, 25))
        elif kind == "op_type" and node is not None:
            node.op_type = draw(st.sampled_from(sorted(
                {"Conv", "Gemm", "MatMul", "Add", "Relu", "Softmax", "MaxPool", "Reshape",
                 "Transpose", "Concat", "Pad", "ReduceMean", "Flatten", "Squeeze", "Gather",
                 "Slice", "Resize", "Loop", "If", "Tile", "Expand", "Where", "TopK"})))
        elif kind == "opset":
            m.opset_import[0].version = draw(st.sampled_from([1, 6, 7, 9, 11, 13, 99]))
        elif kind == "swap" and len(nodes) > 1:
            i, j = draw(st.integers(0, len(nodes) - 1)), draw(st.integers(0, len(nodes) - 1))
            a, b = onnx.NodeProto(), onnx.NodeProto()
            a.CopyFrom(nodes[i])
            b.CopyFrom(nodes[j])
            g.node[i].CopyFrom(b)
            g.node[j].CopyFrom(a)
        elif kind == "domain" and node is not None:
            node.domain = draw(st.sampled_from(["com.microsoft", "ai.onnx.ml", "x"]))
        elif kind == "name" and node is not None:
            node.name = draw(st.sampled_from(["", "*/", "a\nb", "int", "\u00e9", node.name]))
    return m.SerializeToString()


def _compile_or_refuse(data: bytes) -> None:
    with memory_limit(), time_limit(30):
        try:
            comp, _ = compile_graph(data, "x86-64")
            emitter.emit(comp.program, comp.plan, "fuzz", {"model": "fuzz"})
        except AotError as e:
            assert str(e).strip() and "\n" not in str(e), repr(str(e))


FUZZ_SEED = os.environ.get("AOT_FUZZ_SEED")
FUZZ = settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None,
                derandomize=FUZZ_SEED is None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _seeded(fn):
    if FUZZ_SEED is None:
        return fn
    return seed(int.from_bytes(os.urandom(8)) if FUZZ_SEED == "random" else int(FUZZ_SEED))(fn)


@FUZZ
@_seeded
@given(data=mutated_models())
def test_mutated_bytes_never_crash_or_hang(data):
    _compile_or_refuse(data)


@FUZZ
@_seeded
@given(data=mutated_protos())
def test_mutated_protos_never_crash_or_hang(data):
    _compile_or_refuse(data)


def test_mutations_reach_past_the_parser():
    """The fuzz budget is not spent on inputs protobuf rejects outright: a good
    share of the mutated inputs parse and reach import, passes and lowering."""
    reached = []

    @settings(max_examples=60, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(data=mutated_models())
    def probe(data):
        try:
            compile_graph(data, "x86-64")
            reached.append(True)
        except AotError as e:
            reached.append("not an ONNX model" not in str(e))

    with memory_limit(), time_limit(300):
        probe()
    assert sum(reached) >= len(reached) // 4, f"{sum(reached)} of {len(reached)}"

"""Hypothesis strategies for random VALID float32 ONNX graphs.

`graphs()` draws a `GeneratedGraph`: a small model (1-2 float32 inputs, up to
`max_nodes` nodes from aot's float op set, chains and branches: residual
adds, concatenations, a tensor read twice, several outputs) plus the feeds to
run it on. Every node is one of

    Conv (1-D/2-D; grouped, depthwise, dilated, strided, padded, every auto_pad),
    Gemm (transA/transB, alpha/beta, no/[N]/[1,N]/[M,1]/[M,N]/[1]/scalar bias,
          B constant or a graph input), MatMul (1-D operands, batch broadcasting,
          the constant on either side), Add/Sub/Mul/Div (broadcasting both ways,
          a constant, a second input, another tensor or the same tensor twice),
    Relu, Clip, LeakyRelu, HardSigmoid, HardSwish, Sigmoid, Tanh, Softmax (any axis),
    MaxPool/AveragePool (ceil_mode, count_include_pad, dilations, pads, auto_pad),
    GlobalAveragePool, GlobalMaxPool, Flatten, Reshape (with 0 and -1), Transpose,
    Concat, Squeeze, Unsqueeze, BatchNormalization, Pad (constant/reflect/edge/wrap,
    with and without axes), ReduceMean (axes, keepdims, noop_with_empty_axes).

Validity is by construction: each op's attributes are drawn from the ranges
where ONNX defines it and onnxruntime accepts it (e.g. pooling pads smaller
than the kernel, reflect pads smaller than the dimension), and its outputs
are computed by onnxruntime on the actual data while the graph is built (so
the declared shapes are the reference's). Tensors stay small
(at most `MAX_ELEMENTS` elements) so a compile + build + run takes well under
a second.

Where an op needs a rank its input lacks, the usual adapter goes first
(Flatten before Gemm, Reshape to N,C,L before Conv and pooling, Unsqueeze
before Squeeze, Transpose and BatchNormalization), so a family-only graph
always contains its op. Left out because onnxruntime does not follow ONNX
there (it would not be a reference): SAME_* auto_pad with a dilation > 1,
pooling with SAME_* and a stride larger than the kernel, and ceil_mode
together with auto_pad.

Weights are scaled by 1/sqrt(fan-in) and divisors kept in [0.5, 2] in
magnitude, so values stay O(1) along a chain: a mismatch is then a bug, not
float32 cancellation. All numeric data comes from one drawn seed (numpy), so
hypothesis shrinks the graph structure and keeps the data reproducible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import onnx
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

MAX_ELEMENTS = 2048
MAX_RANK = 5
OPSETS = (17, 21, 22)   # 17: ReduceMean axes as an attribute; 21: as an input, wrap pads;
#                          22: ONNX shape inference drops a ceil_mode window starting in the pads


@dataclass
class GeneratedGraph:
    model: onnx.ModelProto
    feeds: dict[str, np.ndarray]
    ops: list[str] = field(default_factory=list)

    def __repr__(self) -> str:   # what hypothesis prints for a failing example
        lines = [f"GeneratedGraph(opset {self.model.opset_import[0].version}, "
                 f"inputs {[(k, list(v.shape)) for k, v in self.feeds.items()]})"]
        for n in self.model.graph.node:
            attrs = ", ".join(f"{a.name}={helper.get_attribute_value(a)}" for a in n.attribute)
            lines.append(f"  {list(n.output)} = {n.op_type}({', '.join(n.input)})"
                         f"{' {' + attrs + '}' if attrs else ''}")
        lines.append(f"  outputs {[o.name for o in self.model.graph.output]}")
        return "\n".join(lines)


class Rejected(Exception):
    """This op does not apply to the chosen tensor (the step is skipped)."""


class _Builder:
    def __init__(self, draw, opset: int, rng: np.random.Generator):
        self.draw = draw
        self.opset = opset
        self.rng = rng
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.inputs: list[onnx.ValueInfoProto] = []
        self.feeds: dict[str, np.ndarray] = {}
        self.shapes: dict[str, tuple[int, ...]] = {}   # run-time float tensors
        self.consts: dict[str, np.ndarray] = {}
        self.values: dict[str, np.ndarray] = {}        # every tensor's value on the feeds
        self.order: list[str] = []                     # run-time tensors, oldest first
        self.consumed: set[str] = set()
        self.ops: list[str] = []
        self._n = 0

    # -- names and values
    def fresh(self, stem: str) -> str:
        self._n += 1
        return f"{stem}{self._n}"

    def input(self, shape, positive: bool = False) -> str:
        name = self.fresh("in")
        if positive:   # divisors: magnitude in [0.5, 2], either sign
            value = self.rng.uniform(0.5, 2.0, shape) * self.rng.choice([-1.0, 1.0], shape)
        else:
            value = self.rng.standard_normal(shape)
        self.feeds[name] = self.values[name] = np.asarray(value, np.float32)
        self.inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape)))
        self.shapes[name] = tuple(shape)
        self.order.append(name)
        return name

    def const(self, data, stem: str = "w") -> str:
        name = self.fresh(stem)
        data = np.asarray(data)
        if data.dtype == np.float64:
            data = data.astype(np.float32)
        self.inits.append(numpy_helper.from_array(data, name))
        self.consts[name] = self.values[name] = data
        return name

    def weights(self, shape, fan_in: int) -> str:
        return self.const(self.rng.standard_normal(shape) / math.sqrt(max(fan_in, 1)))

    def divisor(self, shape) -> str:
        value = self.rng.uniform(0.5, 2.0, shape) * self.rng.choice([-1.0, 1.0], shape)
        return self.const(value, "d")

    # -- nodes
    def node(self, op: str, inputs: list[str], n_out: int = 1, **attrs) -> list[str]:
        """Append a node. Its outputs' values (and so their shapes) come from
        running it alone in onnxruntime, the reference of the differential
        tests, on the actual data. (ONNX's reference evaluator is no better a
        judge here: it gets GlobalMaxPool over 1-D wrong, for one.)"""
        outs = [self.fresh(op.lower()[:4]) for _ in range(n_out)]
        node = helper.make_node(op, inputs, outs, name=self.fresh(f"{op}_"), **attrs)
        try:
            results = run_node(node, {i: self.values[i] for i in inputs if i}, self.opset)
        except Exception as e:   # the generator asked for something invalid
            raise AssertionError(f"graphgen made an invalid {op} {attrs}: {e}") from None
        for value in results:
            if not shape_ok(np.shape(value)):
                raise Rejected(f"{op} output {np.shape(value)} too large or empty")
        if _inferred_shapes(node, {i: self.values[i] for i in inputs if i}, self.opset) != \
                [tuple(np.shape(v)) for v in results]:
            # ONNX's inference at this opset disagrees with the run (a pooling
            # window starting in the end padding with ceil_mode, at opsets <= 21):
            # onnxruntime would refuse the whole graph once a later op depends on it.
            raise Rejected(f"ONNX shape inference disagrees on {op}")
        for i in inputs:
            self.consumed.add(i)
        self.nodes.append(node)
        self.ops.append(op)
        for o, value in zip(outs, results):
            value = np.asarray(value, np.float32)
            self.values[o] = value
            self.shapes[o] = tuple(value.shape)
            self.order.append(o)
        return outs

    def int_list(self, values) -> list[int]:
        return [int(v) for v in values]


def run_node(node: onnx.NodeProto, values: dict[str, np.ndarray], opset: int) -> list:
    """The node's outputs on `values`, computed by onnxruntime (no optimizations)."""
    import onnxruntime as ort

    ins = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(v.dtype),
                                         list(v.shape)) for n, v in values.items()]
    outs = [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in node.output]
    model = helper.make_model(helper.make_graph([node], "node", ins, outs),
                              opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8 if opset <= 17 else 10
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 3
    session = ort.InferenceSession(model.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    return session.run(None, values)


def _inferred_shapes(node, values: dict[str, np.ndarray], opset: int) -> list:
    """The node's output shapes by ONNX's shape inference (None where unknown)."""
    from onnx import shape_inference

    types = {n: helper.make_tensor_type_proto(helper.np_dtype_to_tensor_dtype(v.dtype),
                                              list(v.shape)) for n, v in values.items()}
    data = {n: numpy_helper.from_array(v, n) for n, v in values.items()
            if v.dtype == np.int64}
    try:
        out = shape_inference.infer_node_outputs(onnx.defs.get_schema(node.op_type, opset),
                                                 node, types, data)
    except Exception:
        return [None]
    shapes = []
    for o in node.output:
        dims = out[o].tensor_type.shape.dim if o in out else []
        shapes.append(tuple(d.dim_value for d in dims)
                      if o in out and all(d.HasField("dim_value") for d in dims) else None)
    return shapes


def shape_ok(shape) -> bool:
    size = math.prod(shape)
    return 0 < size <= MAX_ELEMENTS and len(shape) <= MAX_RANK + 1


# ----------------------------------------------------------------- op generators
# Each takes (builder, draw, x) where x is a run-time tensor, appends nodes and
# returns the new tensor's name, or raises Rejected when x does not suit it.

def _spatial(b, draw, x) -> str:
    """x itself when it is N,C + 1 or 2 spatial dims, else x reshaped to that
    (so a family test always reaches its op: Reshape -> Conv is a real chain)."""
    shape = b.shapes[x]
    if len(shape) in (3, 4):
        return x
    size = math.prod(shape)
    c = draw(st.sampled_from([d for d in range(1, 7) if size % d == 0]))
    new = [1, c, size // c]
    return b.node("Reshape", [x, b.const(np.array(new, np.int64), "shape")])[0]


def _unsqueezed(b, draw, x, min_rank: int = 1) -> str:
    """x with size-1 dims inserted until it has at least min_rank dims."""
    while len(b.shapes[x]) < min_rank:
        axis = draw(st.integers(0, len(b.shapes[x])))
        x = b.node("Unsqueeze", [x, b.const(np.array([axis], np.int64), "axes")])[0]
    return x


def _window(b, draw, in_sp, pool: bool, dilations_ok: bool = True):
    """kernel, strides, dilations and pads attributes for a sliding window.

    Left out because onnxruntime, our reference, does not follow ONNX there:
    SAME_* with a dilation > 1 (Conv refuses it; pooling computes another
    output size) and, for pooling, SAME_* with a stride larger than the
    kernel (AveragePool fails on the negative padding) -- gen_pool for
    ceil_mode.
    """
    nsp = len(in_sp)
    kernel = [draw(st.integers(1, 3)) for _ in range(nsp)]
    strides = [draw(st.integers(1, 3)) for _ in range(nsp)]
    dil = [draw(st.integers(1, 2)) if dilations_ok else 1 for _ in range(nsp)]
    attrs = {}
    auto = draw(st.sampled_from(["NOTSET", "NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"]))
    if auto == "NOTSET":
        # pooling: onnxruntime requires each pad < kernel
        limit = (lambda k: k - 1) if pool else (lambda k: 2)
        pads = [draw(st.integers(0, limit(k))) for k in kernel] + \
               [draw(st.integers(0, limit(k))) for k in kernel]
        if any(pads) or draw(st.booleans()):
            attrs["pads"] = pads
        total = [in_sp[i] + pads[i] + pads[i + nsp] for i in range(nsp)]
    else:
        attrs["auto_pad"] = auto
        total = list(in_sp)
        if auto != "VALID":
            dil = [1] * nsp
            if pool:
                strides = [min(s, k) for s, k in zip(strides, kernel)]
    for i in range(nsp):   # the window must fit at least once
        while kernel[i] > 1 and (kernel[i] - 1) * dil[i] + 1 > total[i]:
            kernel[i] -= 1
        if (kernel[i] - 1) * dil[i] + 1 > total[i]:
            dil[i] = 1
        if auto in ("SAME_UPPER", "SAME_LOWER") and pool:
            strides[i] = min(strides[i], kernel[i])
    if auto == "NOTSET" and pool and "pads" in attrs:   # still below the (shrunk) kernel
        attrs["pads"] = [min(p, kernel[i % nsp] - 1) for i, p in enumerate(attrs["pads"])]
    if any(s != 1 for s in strides) or draw(st.booleans()):
        attrs["strides"] = strides
    if any(d != 1 for d in dil) or (dilations_ok and auto in ("NOTSET", "VALID")
                                    and draw(st.booleans())):
        attrs["dilations"] = dil
    return kernel, attrs


def gen_conv(b, draw, x):
    x = _spatial(b, draw, x)
    shape = b.shapes[x]
    c = shape[1]
    divisors = [d for d in range(1, c + 1) if c % d == 0]
    groups = draw(st.sampled_from(sorted(set([1, c] + divisors))))
    per_group = draw(st.integers(1, 3))
    m = groups * per_group
    kernel, attrs = _window(b, draw, shape[2:], pool=False)
    if draw(st.booleans()):
        attrs["kernel_shape"] = kernel
    if groups != 1 or draw(st.booleans()):
        attrs["group"] = groups
    w = b.weights([m, c // groups, *kernel], (c // groups) * math.prod(kernel))
    inputs = [x, w]
    if draw(st.booleans()):
        inputs.append(b.const(b.rng.standard_normal(m) * 0.5, "bias"))
    return b.node("Conv", inputs, **attrs)[0]


def gen_pool(b, draw, x):
    x = _spatial(b, draw, x)
    op = draw(st.sampled_from(["MaxPool", "AveragePool"]))
    dil_ok = op == "MaxPool" or b.opset >= 19
    kernel, attrs = _window(b, draw, b.shapes[x][2:], pool=True, dilations_ok=dil_ok)
    attrs["kernel_shape"] = kernel
    # ceil_mode only with explicit pads: with auto_pad, ONNX shape inference,
    # the ONNX reference and onnxruntime give three different answers.
    if "auto_pad" not in attrs and draw(st.booleans()):
        attrs["ceil_mode"] = 1
    if op == "AveragePool" and draw(st.booleans()):
        attrs["count_include_pad"] = 1
    return b.node(op, [x], **attrs)[0]


def gen_global_pool(b, draw, x):
    x = _spatial(b, draw, x)
    return b.node(draw(st.sampled_from(["GlobalAveragePool", "GlobalMaxPool"])), [x])[0]


_BIAS_SHAPES = ["none", "n", "1n", "m1", "mn", "1", "scalar"]


def gen_gemm(b, draw, x):
    if len(b.shapes[x]) != 2:   # Flatten -> Gemm, as exporters write it
        x = b.node("Flatten", [x], axis=draw(st.integers(0, len(b.shapes[x]))))[0]
    shape = b.shapes[x]
    trans_a, trans_b = draw(st.booleans()), draw(st.booleans())
    m, k = (shape[1], shape[0]) if trans_a else shape
    n = draw(st.integers(1, 8))
    b_shape = [n, k] if trans_b else [k, n]
    if draw(st.integers(0, 4)) == 0:
        w = b.input(b_shape)
    else:
        w = b.weights(b_shape, k)
    attrs = {}
    if trans_a:
        attrs["transA"] = 1
    if trans_b:
        attrs["transB"] = 1
    if draw(st.booleans()):
        attrs["alpha"] = draw(st.sampled_from([0.5, -1.25, 2.0]))
    inputs = [x, w]
    bias = draw(st.sampled_from(_BIAS_SHAPES))
    if bias != "none":
        c_shape = {"n": [n], "1n": [1, n], "m1": [m, 1], "mn": [m, n], "1": [1],
                   "scalar": []}[bias]
        inputs.append(b.const(b.rng.standard_normal(c_shape) * 0.5, "c"))
        if draw(st.booleans()):
            attrs["beta"] = draw(st.sampled_from([0.5, -1.0, 1.5]))
    return b.node("Gemm", inputs, **attrs)[0]


def gen_matmul(b, draw, x):
    shape = b.shapes[x]
    const_left = len(shape) >= 2 and draw(st.integers(0, 3)) == 0
    if const_left:
        # W[..., p, rows] @ x[..., rows, cols]
        k = shape[-2]
        other = [draw(st.integers(1, 4)), k]
        batch = _broadcast_batch(draw, shape[:-2])
        w_shape = batch + other
        w = b.input(w_shape) if draw(st.integers(0, 4)) == 0 else b.weights(w_shape, k)
        return b.node("MatMul", [w, x])[0]
    k = shape[-1]
    if draw(st.integers(0, 4)) == 0:
        w_shape = [k]                                          # 1-D right operand
    else:
        w_shape = _broadcast_batch(draw, shape[:-2]) + [k, draw(st.integers(1, 6))]
    w = b.input(w_shape) if draw(st.integers(0, 4)) == 0 else b.weights(w_shape, k)
    return b.node("MatMul", [x, w])[0]


def _broadcast_batch(draw, batch) -> list[int]:
    """Batch dims that broadcast against `batch`: some kept, some 1, some dropped
    or added in front."""
    batch = list(batch)
    full = True
    if batch and draw(st.booleans()):
        batch = batch[draw(st.integers(0, len(batch))):]
        full = False
    out = [d if draw(st.integers(0, 2)) else 1 for d in batch]
    if full and len(out) < 3 and draw(st.integers(0, 3)) == 0:
        out = [draw(st.integers(1, 3))] + out
    return out


def _broadcastable(draw, shape) -> list[int]:
    """A shape that broadcasts with `shape`: a suffix with some dims 1, and
    sometimes a dim that is 1 in `shape` widened (so the result grows)."""
    shape = list(shape)
    start = draw(st.integers(0, len(shape)))
    out = []
    for d in shape[start:]:
        choice = draw(st.integers(0, 3))
        if choice == 0:
            out.append(1)
        elif d == 1 and choice == 1:
            out.append(draw(st.integers(2, 3)))
        else:
            out.append(d)
    return out


def gen_binary(b, draw, x):
    op = draw(st.sampled_from(["Add", "Sub", "Mul", "Div"]))
    shape = b.shapes[x]
    kind = draw(st.sampled_from(["const", "const", "tensor", "input", "self", "scalar"]))
    if op == "Div":
        # the divisor is a constant or an input kept away from zero
        other = b.divisor(_broadcastable(draw, shape)) if kind != "input" else \
            b.input(_broadcastable(draw, shape), positive=True)
        return b.node(op, [x, other])[0]
    if kind == "self":
        other = x
    elif kind == "scalar":
        other = b.const(np.asarray(b.rng.standard_normal(draw(st.sampled_from([(), (1,)]))),
                                   np.float32), "s")
    elif kind == "tensor":
        candidates = [t for t in b.order if t != x and _broadcasts(b.shapes[t], shape)]
        if not candidates:
            raise Rejected("no other tensor broadcasts with x")
        other = draw(st.sampled_from(candidates[::-1]))   # the most recent first
    elif kind == "input":
        other = b.input(_broadcastable(draw, shape))
    else:
        other = b.const(b.rng.standard_normal(_broadcastable(draw, shape)), "k")
    inputs = [x, other] if draw(st.booleans()) else [other, x]
    return b.node(op, inputs)[0]


def _broadcasts(a, b) -> bool:
    try:
        out = np.broadcast_shapes(tuple(a), tuple(b))
    except ValueError:
        return False
    return shape_ok(out)


def gen_activation(b, draw, x):
    op = draw(st.sampled_from(["Relu", "Clip", "LeakyRelu", "HardSigmoid", "HardSwish",
                               "Sigmoid", "Tanh"]))
    if op == "Clip":
        lo = float(draw(st.sampled_from([-1.0, -0.5, 0.0, 0.25])))
        hi = float(draw(st.sampled_from([0.5, 1.0, 6.0])))
        which = draw(st.sampled_from(["both", "min", "max", "none"]))
        inputs = [x]
        if which in ("both", "min"):
            inputs.append(b.const(np.float32(lo), "lo"))
        elif which == "max":
            inputs.append("")
        if which in ("both", "max"):
            inputs.append(b.const(np.float32(hi), "hi"))
        return b.node("Clip", inputs)[0]
    attrs = {}
    if op == "LeakyRelu" and draw(st.booleans()):
        attrs["alpha"] = draw(st.sampled_from([0.1, 0.3, -0.5]))
    if op == "HardSigmoid" and draw(st.booleans()):
        attrs["alpha"] = draw(st.sampled_from([0.1, 0.5]))
        attrs["beta"] = draw(st.sampled_from([0.2, 0.6]))
    return b.node(op, [x], **attrs)[0]


def gen_softmax(b, draw, x):
    rank = len(b.shapes[x])
    axis = draw(st.integers(-rank, rank - 1))
    return b.node("Softmax", [x], **({"axis": axis} if axis != -1 or draw(st.booleans())
                                      else {}))[0]


def gen_flatten(b, draw, x):
    rank = len(b.shapes[x])
    return b.node("Flatten", [x], axis=draw(st.integers(-rank, rank)))[0]


def gen_reshape(b, draw, x):
    shape = b.shapes[x]
    size = math.prod(shape)
    rank = draw(st.integers(1, 4))
    dims = []
    rest = size
    for _ in range(rank - 1):
        divisors = [d for d in range(1, rest + 1) if rest % d == 0]
        d = draw(st.sampled_from(divisors))
        dims.append(d)
        rest //= d
    dims.append(rest)
    spec = list(dims)
    if draw(st.booleans()):
        spec[draw(st.integers(0, rank - 1))] = -1
    for i in range(min(rank, len(shape))):
        if spec[i] == shape[i] and draw(st.booleans()):
            spec[i] = 0   # "copy this dim from the input"
    return b.node("Reshape", [x, b.const(np.array(spec, np.int64), "shape")])[0]


def gen_transpose(b, draw, x):
    x = _unsqueezed(b, draw, x, 2)
    rank = len(b.shapes[x])
    if draw(st.integers(0, 3)) == 0:
        return b.node("Transpose", [x])[0]            # default: reverse the dims
    perm = draw(st.permutations(list(range(rank))))
    return b.node("Transpose", [x], perm=list(perm))[0]


def gen_concat(b, draw, x):
    shape = b.shapes[x]
    rank = len(shape)
    axis = draw(st.integers(-rank, rank - 1))
    ax = axis % rank
    parts = [x]
    for _ in range(draw(st.integers(1, 2))):
        kind = draw(st.sampled_from(["branch", "const", "tensor", "self", "input"]))
        other_shape = list(shape)
        other_shape[ax] = draw(st.integers(1, 3))
        if kind == "branch":      # the same tensor through another op: a diamond
            parts.append(b.node(draw(st.sampled_from(["Relu", "Sigmoid", "Tanh"])), [x])[0])
        elif kind == "self":
            parts.append(x)
        elif kind == "tensor":
            same = [t for t in b.order if t != x and len(b.shapes[t]) == rank and all(
                b.shapes[t][i] == shape[i] for i in range(rank) if i != ax)]
            if not same:
                raise Rejected("no tensor to concatenate with")
            parts.append(draw(st.sampled_from(same[::-1])))
        elif kind == "input":
            parts.append(b.input(other_shape))
        else:
            parts.append(b.const(b.rng.standard_normal(other_shape), "k"))
    if draw(st.booleans()):
        parts = parts[::-1]
    return b.node("Concat", parts, axis=axis)[0]


def gen_squeeze(b, draw, x):
    shape = b.shapes[x]
    if 1 not in shape or len(shape) == 1:   # Unsqueeze -> Squeeze
        x = _unsqueezed(b, draw, x, len(shape) + 1)
        shape = b.shapes[x]
    ones = [i for i, d in enumerate(shape) if d == 1]
    if draw(st.booleans()):
        return b.node("Squeeze", [x])[0]
    axes = sorted(draw(st.sets(st.sampled_from(ones), min_size=1)))
    axes = [a - len(shape) if draw(st.booleans()) else a for a in axes]
    return b.node("Squeeze", [x, b.const(np.array(axes, np.int64), "axes")])[0]


def gen_unsqueeze(b, draw, x):
    rank = len(b.shapes[x])
    if rank >= MAX_RANK:
        raise Rejected("rank too high")
    count = draw(st.integers(1, min(2, MAX_RANK - rank)))
    axes = sorted(draw(st.sets(st.integers(0, rank + count - 1), min_size=count,
                               max_size=count)))
    return b.node("Unsqueeze", [x, b.const(np.array(axes, np.int64), "axes")])[0]


def gen_batchnorm(b, draw, x):
    x = _unsqueezed(b, draw, x, 2)
    c = b.shapes[x][1]
    rng = b.rng
    inputs = [x, b.const(rng.uniform(0.5, 1.5, c), "gamma"), b.const(rng.standard_normal(c) * 0.2,
                                                                     "beta"),
              b.const(rng.standard_normal(c) * 0.2, "mean"), b.const(rng.uniform(0.5, 2.0, c),
                                                                     "var")]
    attrs = {"epsilon": 1e-3} if draw(st.booleans()) else {}
    return b.node("BatchNormalization", inputs, **attrs)[0]


def gen_pad(b, draw, x):
    shape = b.shapes[x]
    rank = len(shape)
    modes = ["constant", "reflect", "edge"] + (["wrap"] if b.opset >= 19 else [])
    mode = draw(st.sampled_from(modes))
    axes = list(range(rank))
    use_axes = b.opset >= 18 and draw(st.booleans())
    if use_axes:
        axes = sorted(draw(st.sets(st.integers(0, rank - 1), min_size=1)))
    pads_begin, pads_end = [], []
    for a in axes:
        limit = 2
        if mode == "reflect":
            limit = min(2, shape[a] - 1)      # reflect needs pad < dim
        elif mode == "wrap":
            limit = min(2, shape[a])
        pads_begin.append(draw(st.integers(0, limit)))
        pads_end.append(draw(st.integers(0, limit)))
    inputs = [x, b.const(np.array(pads_begin + pads_end, np.int64), "pads")]
    if mode == "constant" and draw(st.booleans()):
        inputs.append(b.const(np.float32(draw(st.sampled_from([0.5, -2.0]))), "v"))
    if use_axes:
        while len(inputs) < 3:
            inputs.append("")
        neg = draw(st.booleans())
        inputs.append(b.const(np.array([a - rank if neg else a for a in axes], np.int64),
                              "axes"))
    attrs = {"mode": mode} if mode != "constant" or draw(st.booleans()) else {}
    return b.node("Pad", inputs, **attrs)[0]


def gen_reduce_mean(b, draw, x):
    rank = len(b.shapes[x])
    axes = sorted(draw(st.sets(st.integers(-rank, rank - 1), max_size=rank)))
    if len({a % rank for a in axes}) != len(axes):
        raise Rejected("repeated axis")
    attrs = {}
    keepdims = draw(st.booleans())
    if not keepdims:
        attrs["keepdims"] = 0
    if not axes and draw(st.integers(0, 3)) == 0 and b.opset >= 18:
        attrs["noop_with_empty_axes"] = 1
    if b.opset >= 18:
        inputs = [x] + ([b.const(np.array(axes, np.int64), "axes")] if axes else [])
        return b.node("ReduceMean", inputs, **attrs)[0]
    if axes:
        attrs["axes"] = axes
    return b.node("ReduceMean", [x], **attrs)[0]


# The ONNX ops each generator family makes.
FAMILY_OPS = {
    "Conv": {"Conv"}, "Pool": {"MaxPool", "AveragePool"},
    "GlobalPool": {"GlobalAveragePool", "GlobalMaxPool"}, "Gemm": {"Gemm"},
    "MatMul": {"MatMul"}, "Binary": {"Add", "Sub", "Mul", "Div"},
    "Activation": {"Relu", "Clip", "LeakyRelu", "HardSigmoid", "HardSwish", "Sigmoid", "Tanh"},
    "Softmax": {"Softmax"}, "Flatten": {"Flatten"}, "Reshape": {"Reshape"},
    "Transpose": {"Transpose"}, "Concat": {"Concat"}, "Squeeze": {"Squeeze"},
    "Unsqueeze": {"Unsqueeze"}, "BatchNormalization": {"BatchNormalization"},
    "Pad": {"Pad"}, "ReduceMean": {"ReduceMean"},
}

# Generators that also accept a rank-0 (scalar) tensor.
SCALAR_OK = {"Binary", "Activation", "Reshape", "Unsqueeze"}

GENERATORS = {
    "Conv": gen_conv, "Pool": gen_pool, "GlobalPool": gen_global_pool, "Gemm": gen_gemm,
    "MatMul": gen_matmul, "Binary": gen_binary, "Activation": gen_activation,
    "Softmax": gen_softmax, "Flatten": gen_flatten, "Reshape": gen_reshape,
    "Transpose": gen_transpose, "Concat": gen_concat, "Squeeze": gen_squeeze,
    "Unsqueeze": gen_unsqueeze, "BatchNormalization": gen_batchnorm, "Pad": gen_pad,
    "ReduceMean": gen_reduce_mean,
}


def _input_shape(draw) -> list[int]:
    kind = draw(st.sampled_from(["image", "image", "seq", "matrix", "any"]))
    if kind == "image":    # N, C, H, W
        return [draw(st.integers(1, 2)), draw(st.integers(1, 6)), draw(st.integers(1, 8)),
                draw(st.integers(1, 8))]
    if kind == "seq":      # N, C, L
        return [draw(st.integers(1, 2)), draw(st.integers(1, 6)), draw(st.integers(1, 12))]
    if kind == "matrix":
        return [draw(st.integers(1, 6)), draw(st.integers(1, 12))]
    return [draw(st.integers(1, 4)) for _ in range(draw(st.integers(1, 5)))]


@st.composite
def graphs(draw, max_nodes: int = 6, ops: tuple[str, ...] | None = None) -> GeneratedGraph:
    """A random valid float32 ONNX model and its feeds (see the module docstring)."""
    opset = draw(st.sampled_from(OPSETS))
    seed = draw(st.integers(0, 2**32 - 1))
    b = _Builder(draw, opset, np.random.default_rng(seed))
    b.input(_input_shape(draw))
    if draw(st.integers(0, 4)) == 0:
        b.input(_input_shape(draw))
    names = sorted(ops or GENERATORS)
    steps = draw(st.integers(1, max_nodes))
    for _ in range(steps):
        op = draw(st.sampled_from(names))
        # Prefer the newest tensor (a chain); older ones make branches.
        x = draw(st.sampled_from(b.order[::-1]))
        if not b.shapes[x] and op not in SCALAR_OK:
            continue
        n_nodes = len(b.nodes)
        state = (len(b.inits), len(b.inputs), dict(b.feeds), set(b.consumed), b._n)
        try:
            GENERATORS[op](b, draw, x)
        except Rejected:
            # roll back whatever the step had added
            del b.nodes[n_nodes:]
            del b.ops[n_nodes:]
            b.inits[state[0]:] = []
            for vi in b.inputs[state[1]:]:
                b.shapes.pop(vi.name, None)
                b.order.remove(vi.name)
            b.inputs[state[1]:] = []
            b.feeds = state[2]
            b.consumed = state[3]
            b.order = [t for t in b.order if t in b.feeds or
                       any(t in n.output for n in b.nodes)]
    if not b.nodes:   # every step was rejected: one node that always applies
        b.node("Relu", [b.order[-1]])
    produced = [t for n in b.nodes for t in n.output]
    outputs = [t for t in produced if t not in b.consumed]
    extra = [t for t in produced if t in b.consumed]
    if extra and draw(st.integers(0, 3)) == 0:   # an intermediate tensor as an output too
        outputs.append(draw(st.sampled_from(extra)))
    # Inputs no node reads are dropped (a graph output that is an input is refused).
    used = {i for n in b.nodes for i in n.input}
    inputs = [vi for vi in b.inputs if vi.name in used]
    feeds = {vi.name: b.feeds[vi.name] for vi in inputs}
    graph = helper.make_graph(
        b.nodes, "fuzz", inputs,
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, list(b.shapes[o])) for o in outputs],
        initializer=[i for i in b.inits if i.name in used])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="aot-graphgen")
    model.ir_version = 8 if opset <= 17 else 10
    onnx.checker.check_model(model, full_check=True)
    return GeneratedGraph(model, feeds, b.ops)

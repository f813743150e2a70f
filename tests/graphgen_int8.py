"""Hypothesis strategies for random VALID int8 QDQ ONNX graphs, quantized the
way the TFLite converter quantizes (the judge is tests/int8_reference.py).

`qdq_graphs()` draws a `GeneratedGraph` (tests/graphgen.py): an int8-in,
int8-out QDQ model of up to `max_nodes` integer ops, chains and branches, and
its int8 feeds. Each op is a group `DequantizeLinear -> op [-> Relu|Clip] ->
QuantizeLinear`:

    Conv (1-D/2-D; per-channel or per-tensor weights; depthwise with multiplier
          1-2, grouped, strided, padded (explicit, SAME_UPPER, VALID), dilated,
          odd channel counts), MatMul [+ Add bias] / Gemm (transB, bias C;
          per-tensor or per-output-channel weights), Add (broadcasting; the
          other operand another tensor, a new input or a constant),
    MaxPool / AveragePool (equal input and output parameters, as TFLite),
    GlobalAveragePool, ReduceMean (adjacent axes: TFLite's MEAN),
    Softmax (last axis, output 1/256, -128), Relu / Clip fused into the op
    before them or standalone, Reshape / Flatten / Transpose (on int8 codes
    directly, or as a QDQ group with equal or other output parameters),
    Concat (inputs with equal or differing parameters), Mul (broadcasting),
    Sigmoid / Tanh (TFLite's output parameters), LeakyRelu, HardSwish, Pad (constant / reflect / edge,
    equal parameters).

Quantization as TFLite makes it: weights symmetric int8 in [-127, 127] (zero
point 0) with per-output-channel or per-tensor scales, int32 bias with scale
s_in * s_w (zero point 0), activations per tensor and asymmetric, a fused
ReLU's output range starting at 0 (zero point -128). Each output's scale and
zero point are calibrated on the actual float values (onnxruntime runs the
group's DequantizeLinear -> op -> act in float), with a random factor in
[0.7, 1.5] on the range so some values saturate. All numeric data comes from
one drawn seed, so hypothesis shrinks the structure and keeps the data.
"""

from __future__ import annotations

import math

import numpy as np
import onnx
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from graphgen import GeneratedGraph, Rejected

MAX_ELEMENTS = 2048
OPSETS = (13, 17)


class _QBuilder:
    def __init__(self, draw, opset: int, rng: np.random.Generator):
        self.draw = draw
        self.opset = opset
        self.rng = rng
        self.nodes: list[onnx.NodeProto] = []
        self.inits: dict[str, np.ndarray] = {}
        self.inputs: list[str] = []
        self.feeds: dict[str, np.ndarray] = {}
        self.q: dict[str, tuple[np.ndarray, float, int]] = {}   # int8 value, scale, zp
        self.order: list[str] = []
        self.consumed: set[str] = set()
        self.ops: list[str] = []
        self._dq_cache: dict[str, str] = {}
        self._n = 0

    def fresh(self, stem: str) -> str:
        self._n += 1
        return f"{stem}{self._n}"

    def const(self, data, stem: str) -> str:
        name = self.fresh(stem)
        self.inits[name] = np.asarray(data)
        return name

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(self.q[name][0].shape)

    def input(self, shape) -> str:
        name = self.fresh("in")
        scale = float(np.float32(2.0 ** self.rng.uniform(-7, 0)))
        zp = int(self.rng.integers(-128, 128))
        value = self.rng.integers(-128, 128, shape, dtype=np.int64).astype(np.int8)
        self.feeds[name] = value
        self.inputs.append(name)
        self.q[name] = (value, scale, zp)
        self.order.append(name)
        return name

    def dq(self, name: str) -> str:
        """A DequantizeLinear of an int8 tensor (sometimes shared by consumers)."""
        if name in self._dq_cache and self.draw(st.booleans()):
            return self._dq_cache[name]
        _, scale, zp = self.q[name]
        out = self.fresh("f")
        self.nodes.append(helper.make_node(
            "DequantizeLinear", [name, self.const(np.float32(scale), "s"),
                                 self.const(np.int8(zp), "z")], [out], name=self.fresh("DQ_")))
        self._dq_cache[name] = out
        return out

    def weights(self, data: np.ndarray, scales, axis: int | None, dtype=np.int8) -> str:
        out = self.fresh("fw")
        scales = np.asarray(scales, np.float32)
        zp = np.zeros(scales.shape, dtype)
        attrs = {"axis": axis} if axis is not None else {}
        self.nodes.append(helper.make_node(
            "DequantizeLinear", [self.const(data.astype(dtype), "w"), self.const(scales, "ws"),
                                 self.const(zp, "wz")], [out], name=self.fresh("DQw_"),
            **attrs))
        return out

    def group(self, op: str, float_inputs: list[str], attrs: dict | None = None,
              act: str | None = None, out_q=None, src_names=()) -> str:
        """Append op (+ act) + QuantizeLinear; out_q = (scale, zp), or None to
        calibrate on the float result. Returns the int8 output."""
        start = len(self.nodes)
        f = self.fresh("y")
        self.nodes.append(helper.make_node(op, float_inputs, [f], name=self.fresh(f"{op}_"),
                                           **(attrs or {})))
        if act is not None:
            a = self.fresh("a")
            if act == "Relu":
                self.nodes.append(helper.make_node("Relu", [f], [a], name=self.fresh("Relu_")))
            else:
                lo, hi = {"Relu6": (0.0, 6.0), "ReluN1To1": (-1.0, 1.0)}.get(act, (None, None))
                if lo is None:
                    lo = float(self.draw(st.sampled_from([-0.5, 0.0, 0.25])))
                    hi = float(self.draw(st.sampled_from([0.5, 2.0, 4.0])))
                self.nodes.append(helper.make_node(
                    "Clip", [f, self.const(np.float32(lo), "lo"), self.const(np.float32(hi), "hi")],
                    [a], name=self.fresh("Clip_")))
            f = a
        value = self._float_value(self.nodes[start:], f)
        if value.size == 0 or value.size > MAX_ELEMENTS:
            del self.nodes[start:]
            raise Rejected(f"{op} output of {value.size} elements")
        if out_q is None:
            out_q = self._calibrate(value, act)
        scale, zp = out_q
        y = self.fresh("q")
        self.nodes.append(helper.make_node(
            "QuantizeLinear", [f, self.const(np.float32(scale), "s"), self.const(np.int8(zp), "z")],
            [y], name=self.fresh("Q_")))
        q = np.clip(np.rint(value / np.float32(scale)) + zp, -128, 127).astype(np.int8)
        self.q[y] = (q, float(np.float32(scale)), int(zp))
        self.order.append(y)
        self.consumed.update(src_names)
        self.ops.append(op)
        return y

    def codes(self, op: str, x: str, extra_inputs=(), **attrs) -> str:
        """A shape op straight on int8 codes (no DequantizeLinear)."""
        y = self.fresh("c")
        node = helper.make_node(op, [x, *extra_inputs], [y], name=self.fresh(f"{op}_"), **attrs)
        value = _run(self.opset, [node], {x: self.q[x][0]},
                     {i: self.inits[i] for i in extra_inputs}, y)
        self.nodes.append(node)
        _, scale, zp = self.q[x]
        self.q[y] = (value, scale, zp)
        self.order.append(y)
        self.consumed.add(x)
        self.ops.append(op)
        return y

    def _float_value(self, nodes, out: str) -> np.ndarray:
        """out computed by onnxruntime from nodes and the earlier nodes they need
        (DequantizeLinear, a MatMul before its bias Add), fed the int8 values."""
        producer = {o: n for n in self.nodes for o in n.output}
        chosen, feeds, consts = list(nodes), {}, {}
        todo = [i for n in nodes for i in n.input if i]
        seen = set()
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            if name in self.inits:
                consts[name] = self.inits[name]
            elif name in self.q and name not in {o for n in chosen for o in n.output}:
                feeds[name] = self.q[name][0]
            elif name in producer and producer[name] not in chosen:
                chosen.insert(0, producer[name])
                todo += [i for i in producer[name].input if i]
        order = {id(n): i for i, n in enumerate(self.nodes)}
        chosen.sort(key=lambda n: order.get(id(n), len(self.nodes)))
        return _run(self.opset, chosen, feeds, consts, out)

    def _calibrate(self, value: np.ndarray, act: str | None) -> tuple[float, int]:
        lo, hi = min(float(value.min()), 0.0), max(float(value.max()), 0.0)
        factor = float(self.rng.uniform(0.7, 1.5))
        scale = (hi - lo) / 255.0 * factor
        if not scale > 1e-6:
            scale = 0.01
        scale = float(np.float32(scale))
        if act is not None and lo == 0.0:
            return scale, -128          # TFLite: a ReLU's range starts at 0
        zp = int(np.clip(round(-128 - lo / scale), -128, 127))
        return scale, zp


def _run(opset, nodes, feeds, consts, out: str) -> np.ndarray:
    """`out` computed by onnxruntime (no graph optimizations) from nodes."""
    import onnxruntime as ort

    ins = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(v.dtype),
                                         list(v.shape)) for n, v in feeds.items()]
    inits = [numpy_helper.from_array(np.asarray(v), n) for n, v in consts.items()]
    outs = [onnx.ValueInfoProto(name=out)]
    model = helper.make_model(helper.make_graph(nodes, "g", ins, outs, initializer=inits),
                              opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(model.SerializeToString(), options,
                                       providers=["CPUExecutionProvider"])
        return session.run([out], feeds)[0]
    except Exception as e:
        raise AssertionError(f"graphgen_int8 made an invalid graph: {e}\n"
                             f"{[n.op_type for n in nodes]}") from None


# ----------------------------------------------------------------- op generators


def _spatial(b: _QBuilder, draw, x: str) -> str:
    """x as N,C,L or N,C,H,W (a Reshape on the int8 codes where it is not)."""
    shape = b.shape(x)
    if len(shape) in (3, 4):
        return x
    size = math.prod(shape)
    c = draw(st.sampled_from([d for d in range(1, 8) if size % d == 0]))
    rest = size // c
    if draw(st.booleans()):
        hs = [d for d in range(1, rest + 1) if rest % d == 0]
        h = draw(st.sampled_from(hs))
        new = [1, c, h, rest // h]
    else:
        new = [1, c, rest]
    return b.codes("Reshape", x, [b.const(np.array(new, np.int64), "shape")])


def _act(draw) -> str | None:
    return draw(st.sampled_from([None, None, "Relu", "Relu6", "ReluN1To1", "Clip"]))


def _weights_ints(b: _QBuilder, draw, shape) -> np.ndarray:
    kind = draw(st.sampled_from(["uniform", "uniform", "normal", "extreme"]))
    if kind == "extreme":
        return b.rng.choice(np.array([-127, 127]), shape)
    if kind == "normal":
        return np.clip(np.rint(b.rng.standard_normal(shape) * 40), -127, 127)
    return b.rng.integers(-127, 128, shape)


def _w_scales(b: _QBuilder, draw, channels: int, per_channel: bool) -> np.ndarray:
    n = channels if per_channel else 1
    return (2.0 ** b.rng.uniform(-9, -4, n)).astype(np.float32)


def _bias(b: _QBuilder, draw, x: str, w_scales, channels: int, fan_in: int) -> str | None:
    if not draw(st.booleans()):
        return None
    s_in = b.q[x][1]
    scales = (np.float32(s_in) * np.asarray(w_scales, np.float32)).astype(np.float32)
    if scales.size == 1:
        scales = scales.reshape(())
    data = np.rint(b.rng.standard_normal(channels) * 60 * 64 * math.sqrt(fan_in))
    return b.weights(data.astype(np.int32), scales, 0 if scales.size > 1 else None, np.int32)


def gen_conv(b: _QBuilder, draw, x: str) -> str:
    x = _spatial(b, draw, x)
    shape = b.shape(x)
    c, nsp = shape[1], len(shape) - 2
    kind = draw(st.sampled_from(["full", "full", "depthwise", "grouped"]))
    if kind == "depthwise":
        groups, per_group = c, draw(st.integers(1, 2))
    elif kind == "grouped":
        groups = draw(st.sampled_from([d for d in range(1, c + 1) if c % d == 0]))
        per_group = draw(st.integers(1, 3))
    else:
        groups, per_group = 1, draw(st.integers(1, 7))
    m = groups * per_group
    in_sp = shape[2:]
    kernel = [draw(st.integers(1, min(3, d + 2))) for d in in_sp]
    strides = [draw(st.integers(1, 2)) for _ in in_sp]
    dil = [draw(st.integers(1, 2)) for _ in in_sp]
    attrs = {"kernel_shape": kernel, "strides": strides, "group": groups}
    auto = draw(st.sampled_from(["NOTSET", "NOTSET", "NOTSET", "SAME_UPPER", "VALID"]))
    if auto == "SAME_UPPER":
        dil = [1] * nsp
    if auto == "NOTSET":
        pads = [draw(st.integers(0, 2)) for _ in range(2 * nsp)]
        total = [in_sp[i] + pads[i] + pads[i + nsp] for i in range(nsp)]
        attrs["pads"] = pads
    else:
        attrs["auto_pad"] = auto
        total = list(in_sp)
    for i in range(nsp):
        while (kernel[i] - 1) * dil[i] + 1 > total[i]:
            if dil[i] > 1:
                dil[i] = 1
            else:
                kernel[i] -= 1
    attrs["dilations"] = dil
    per_channel = draw(st.integers(0, 3)) > 0
    scales = _w_scales(b, draw, m, per_channel)
    w = _weights_ints(b, draw, (m, c // groups, *kernel))
    inputs = [b.dq(x), b.weights(w, scales if per_channel else scales.reshape(()),
                                 0 if per_channel else None)]
    bias = _bias(b, draw, x, scales, m, (c // groups) * math.prod(kernel))
    if bias:
        inputs.append(bias)
    return b.group("Conv", inputs, attrs, act=_act(draw), src_names=[x])


def gen_fc(b: _QBuilder, draw, x: str) -> str:
    shape = b.shape(x)
    if len(shape) != 2 or draw(st.integers(0, 4)) == 0:
        axis = draw(st.integers(1, max(1, len(shape) - 1))) if len(shape) > 1 else 0
        if len(shape) == 1:
            x = b.codes("Reshape", x, [b.const(np.array([1, shape[0]], np.int64), "shape")])
        else:
            x = b.codes("Flatten", x, axis=axis)
    k = b.shape(x)[1]
    n = draw(st.integers(1, 12))
    per_channel = draw(st.booleans())
    scales = _w_scales(b, draw, n, per_channel)
    form = draw(st.sampled_from(["matmul_add", "matmul_add", "matmul", "gemm", "gemm_t"]))
    w = _weights_ints(b, draw, (n, k))
    trans = form == "gemm_t"
    data = w if trans else w.T
    axis = (0 if trans else 1) if per_channel else None
    fw = b.weights(np.ascontiguousarray(data), scales if per_channel else scales.reshape(()),
                   axis)
    bias = _bias(b, draw, x, scales, n, k) if form != "matmul" else None
    act = _act(draw)
    if form.startswith("gemm"):
        inputs = [b.dq(x), fw] + ([bias] if bias else [])
        return b.group("Gemm", inputs, {"transB": 1} if trans else {}, act=act, src_names=[x])
    if bias is None:
        return b.group("MatMul", [b.dq(x), fw], act=act, src_names=[x])
    # MatMul then Add(bias), as tf2onnx writes a fully connected layer
    mm = b.fresh("mm")
    b.nodes.append(helper.make_node("MatMul", [b.dq(x), fw], [mm], name=b.fresh("MatMul_")))
    ins = [mm, bias] if draw(st.booleans()) else [bias, mm]
    y = b.group("Add", ins, act=act, src_names=[x])
    b.ops[-1] = "MatMul+Add"
    return y


def _broadcastable(draw, shape) -> list[int]:
    shape = list(shape)
    start = draw(st.integers(0, len(shape)))
    return [1 if draw(st.integers(0, 2)) == 0 else d for d in shape[start:]]


def gen_add(b: _QBuilder, draw, x: str) -> str:
    shape = b.shape(x)
    kind = draw(st.sampled_from(["tensor", "input", "input", "const", "self"]))
    if kind == "tensor":
        cands = [t for t in b.order if t != x and _broadcasts(b.shape(t), shape)]
        if not cands:
            raise Rejected("nothing broadcasts with x")
        other = draw(st.sampled_from(cands[::-1]))
    elif kind == "self":
        other = x
    elif kind == "input":
        other = b.input(_broadcastable(draw, shape))
    else:
        oshape = _broadcastable(draw, shape)
        data = b.rng.integers(-128, 128, oshape, dtype=np.int64).astype(np.int8)
        name = b.const(data, "k")
        b.q[name] = (data, float(np.float32(2.0 ** b.rng.uniform(-7, 0))),
                     int(b.rng.integers(-128, 128)))
        other = name
    fa, fb = b.dq(x), b.dq(other)
    ins = [fa, fb] if draw(st.booleans()) else [fb, fa]
    return b.group("Add", ins, act=_act(draw), src_names=[x, other])


def _broadcasts(a, bshape) -> bool:
    try:
        out = np.broadcast_shapes(tuple(a), tuple(bshape))
    except ValueError:
        return False
    return 0 < math.prod(out) <= MAX_ELEMENTS


def gen_pool(b: _QBuilder, draw, x: str) -> str:
    x = _spatial(b, draw, x)
    shape = b.shape(x)
    in_sp = shape[2:]
    nsp = len(in_sp)
    op = draw(st.sampled_from(["MaxPool", "AveragePool"]))
    kernel = [draw(st.integers(1, min(3, d))) for d in in_sp]
    strides = [draw(st.integers(1, 3)) for _ in in_sp]
    pads = [draw(st.integers(0, kernel[i % nsp] - 1)) for i in range(2 * nsp)]
    attrs = {"kernel_shape": kernel, "strides": strides}
    if any(pads):
        attrs["pads"] = pads
    _, scale, zp = b.q[x]
    act = draw(st.sampled_from([None, None, "Relu"]))
    return b.group(op, [b.dq(x)], attrs, act=act, out_q=(scale, zp), src_names=[x])


def gen_mean(b: _QBuilder, draw, x: str) -> str:
    if draw(st.booleans()):
        x = _spatial(b, draw, x)
        return b.group("GlobalAveragePool", [b.dq(x)], src_names=[x],
                       out_q=None if draw(st.booleans()) else b.q[x][1:])
    rank = len(b.shape(x))
    first = draw(st.integers(0, rank - 1))
    last = draw(st.integers(first, rank - 1))
    axes = list(range(first, last + 1))
    keep = draw(st.booleans()) or len(axes) == rank   # no rank-0 tensors
    return b.group("ReduceMean", [b.dq(x)], {"axes": axes, "keepdims": int(keep)},
                   src_names=[x], out_q=None if draw(st.booleans()) else b.q[x][1:])


def gen_softmax(b: _QBuilder, draw, x: str) -> str:
    attrs = {"axis": -1} if b.opset >= 13 else {"axis": len(b.shape(x)) - 1}
    return b.group("Softmax", [b.dq(x)], attrs, out_q=(1 / 256, -128), src_names=[x])


def gen_relu(b: _QBuilder, draw, x: str) -> str:
    """A standalone Relu/Clip group (TFLite's RELU/RELU6: requantize + clamp)."""
    _, scale, zp = b.q[x]
    op = draw(st.sampled_from(["Relu", "Clip"]))
    same = draw(st.booleans())
    f = b.dq(x)
    if op == "Relu":
        return b.group("Relu", [f], out_q=(scale, zp) if same else None, src_names=[x])
    lo, hi = draw(st.sampled_from([(0.0, 6.0), (-1.0, 1.0), (-0.25, 0.5)]))
    inputs = [f, b.const(np.float32(lo), "lo"), b.const(np.float32(hi), "hi")]
    return b.group("Clip", inputs, out_q=(scale, zp) if same else None, src_names=[x])


def _reshape_spec(b: _QBuilder, draw, shape) -> np.ndarray:
    size = math.prod(shape)
    rank = draw(st.integers(1, 4))
    dims, rest = [], size
    for _ in range(rank - 1):
        d = draw(st.sampled_from([d for d in range(1, rest + 1) if rest % d == 0]))
        dims.append(d)
        rest //= d
    dims.append(rest)
    if draw(st.booleans()):
        dims[draw(st.integers(0, rank - 1))] = -1
    return np.array(dims, np.int64)


def _shape_group(b: _QBuilder, draw, x: str, op: str, extra=(), **attrs) -> str:
    if draw(st.booleans()):
        return b.codes(op, x, extra, **attrs)
    _, scale, zp = b.q[x]
    out_q = (scale, zp) if draw(st.integers(0, 2)) else None
    return b.group(op, [b.dq(x), *extra], attrs, out_q=out_q, src_names=[x])


def gen_reshape(b: _QBuilder, draw, x: str) -> str:
    spec = b.const(_reshape_spec(b, draw, b.shape(x)), "shape")
    return _shape_group(b, draw, x, "Reshape", [spec])


def gen_flatten(b: _QBuilder, draw, x: str) -> str:
    rank = len(b.shape(x))
    return _shape_group(b, draw, x, "Flatten", axis=draw(st.integers(0, rank)))


def gen_transpose(b: _QBuilder, draw, x: str) -> str:
    rank = len(b.shape(x))
    if rank < 2:
        raise Rejected("rank < 2")
    perm = list(draw(st.permutations(list(range(rank)))))
    return _shape_group(b, draw, x, "Transpose", perm=perm)


def gen_concat(b: _QBuilder, draw, x: str) -> str:
    shape = b.shape(x)
    rank = len(shape)
    axis = draw(st.integers(0, rank - 1))
    parts = [x]
    for _ in range(draw(st.integers(1, 2))):
        kind = draw(st.sampled_from(["input", "tensor", "self"]))
        if kind == "tensor":
            same = [t for t in b.order if t != x and len(b.shape(t)) == rank and all(
                b.shape(t)[i] == shape[i] for i in range(rank) if i != axis)]
            if not same:
                raise Rejected("nothing to concatenate with")
            parts.append(draw(st.sampled_from(same[::-1])))
        elif kind == "self":
            parts.append(x)
        else:
            other = list(shape)
            other[axis] = draw(st.integers(1, 3))
            new = b.input(other)
            if draw(st.booleans()):   # the same parameters, as TFLite requires
                b.q[new] = (b.q[new][0], b.q[x][1], b.q[x][2])
            parts.append(new)
    if draw(st.booleans()):
        parts = parts[::-1]
    out_q = b.q[x][1:] if draw(st.booleans()) else None
    return b.group("Concat", [b.dq(p) for p in parts], {"axis": axis}, out_q=out_q,
                   src_names=parts)


def gen_mul(b: _QBuilder, draw, x: str) -> str:
    shape = b.shape(x)
    kind = draw(st.sampled_from(["tensor", "input", "input", "self"]))
    if kind == "tensor":
        cands = [t for t in b.order if t != x and _broadcasts(b.shape(t), shape)]
        if not cands:
            raise Rejected("nothing broadcasts with x")
        other = draw(st.sampled_from(cands[::-1]))
    elif kind == "self":
        other = x
    else:
        other = b.input(_broadcastable(draw, shape))
    fa, fb = b.dq(x), b.dq(other)
    ins = [fa, fb] if draw(st.booleans()) else [fb, fa]
    return b.group("Mul", ins, act=_act(draw), src_names=[x, other])


def gen_unary(b: _QBuilder, draw, x: str) -> str:
    """Sigmoid / Tanh with TFLite's fixed int8 output parameters; LeakyRelu, HardSwish."""
    op = draw(st.sampled_from(["Sigmoid", "Tanh", "LeakyRelu", "HardSwish"]))
    if op == "HardSwish":
        if b.opset < 14:
            raise Rejected("HardSwish needs opset 14")
        return b.group(op, [b.dq(x)], src_names=[x])
    if op == "LeakyRelu":
        alpha = float(draw(st.sampled_from([0.01, 0.1, 0.2, 0.3])))
        return b.group(op, [b.dq(x)], {"alpha": alpha}, src_names=[x])
    out_q = (1 / 256, -128) if op == "Sigmoid" else (1 / 128, 0)
    return b.group(op, [b.dq(x)], out_q=out_q, src_names=[x])


def gen_pad(b: _QBuilder, draw, x: str) -> str:
    shape = b.shape(x)
    mode = draw(st.sampled_from(["constant", "constant", "reflect", "edge"]))
    pads = []
    for d in shape * 2:
        limit = min(2, d - 1) if mode == "reflect" else 2
        pads.append(draw(st.integers(0, max(limit, 0))))
    inputs = [b.dq(x), b.const(np.array(pads, np.int64), "pads")]
    if mode == "constant" and draw(st.booleans()):
        inputs.append(b.const(np.float32(0.0), "v"))   # the real 0: the zero point's code
    attrs = {"mode": mode} if mode != "constant" else {}
    return b.group("Pad", inputs, attrs, out_q=b.q[x][1:], src_names=[x])


GENERATORS = {
    "Conv": gen_conv, "FC": gen_fc, "Add": gen_add, "Pool": gen_pool, "Mean": gen_mean,
    "Softmax": gen_softmax, "Relu": gen_relu, "Reshape": gen_reshape, "Flatten": gen_flatten,
    "Transpose": gen_transpose, "Concat": gen_concat, "Mul": gen_mul, "Unary": gen_unary,
    "Pad": gen_pad,
}
# The op names each family puts in GeneratedGraph.ops.
FAMILY_OPS = {
    "Conv": {"Conv"}, "FC": {"MatMul", "Gemm", "MatMul+Add"}, "Add": {"Add"},
    "Pool": {"MaxPool", "AveragePool"}, "Mean": {"GlobalAveragePool", "ReduceMean"},
    "Softmax": {"Softmax"}, "Relu": {"Relu", "Clip"}, "Reshape": {"Reshape"},
    "Flatten": {"Flatten"}, "Transpose": {"Transpose"}, "Concat": {"Concat"},
    "Mul": {"Mul"}, "Unary": {"Sigmoid", "Tanh", "LeakyRelu", "HardSwish"}, "Pad": {"Pad"},
}


def _input_shape(draw) -> list[int]:
    kind = draw(st.sampled_from(["image", "image", "seq", "matrix"]))
    if kind == "image":
        return [draw(st.integers(1, 2)), draw(st.integers(1, 9)), draw(st.integers(1, 9)),
                draw(st.integers(1, 9))]
    if kind == "seq":
        return [1, draw(st.integers(1, 9)), draw(st.integers(1, 16))]
    return [draw(st.integers(1, 4)), draw(st.integers(1, 40))]


@st.composite
def qdq_graphs(draw, max_nodes: int = 6, ops: tuple[str, ...] | None = None) -> GeneratedGraph:
    """A random valid int8 QDQ model and its int8 feeds (see the module docstring)."""
    opset = draw(st.sampled_from(OPSETS))
    seed = draw(st.integers(0, 2**32 - 1))
    b = _QBuilder(draw, opset, np.random.default_rng(seed))
    b.input(_input_shape(draw))
    names = sorted(ops) if ops else sorted(GENERATORS) + ["Conv", "Conv", "FC"]   # the MACs
    for _ in range(draw(st.integers(1, max_nodes))):
        op = draw(st.sampled_from(names))
        x = draw(st.sampled_from(b.order[::-1]))
        if x not in b.q or x in b.inits or not b.shape(x):   # no rank-0 data tensors
            continue
        state = (len(b.nodes), len(b.ops), dict(b.inits), list(b.inputs), dict(b.feeds),
                 set(b.consumed), list(b.order), dict(b._dq_cache))
        try:
            GENERATORS[op](b, draw, x)
        except Rejected:
            del b.nodes[state[0]:]
            del b.ops[state[1]:]
            b.inits, b.inputs, b.feeds, b.consumed, b.order, b._dq_cache = state[2:]
    if not b.ops:
        x = b.order[-1]
        b.group("Relu", [b.dq(x)], out_q=b.q[x][1:], src_names=[x])
    used = {i for n in b.nodes for i in n.input}
    produced = [o for n in b.nodes for o in n.output if o in b.q]
    outputs = [t for t in produced if t not in used]
    if not outputs:
        outputs = [produced[-1]]
    inputs = [i for i in b.inputs if i in used]
    graph = helper.make_graph(
        b.nodes, "fuzz_int8",
        [helper.make_tensor_value_info(i, TensorProto.INT8, list(b.feeds[i].shape))
         for i in inputs],
        [helper.make_tensor_value_info(o, TensorProto.INT8, list(b.q[o][0].shape))
         for o in outputs],
        initializer=[numpy_helper.from_array(v, k) for k, v in b.inits.items() if k in used])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="aot-graphgen-int8")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return GeneratedGraph(model, {i: b.feeds[i] for i in inputs}, b.ops)

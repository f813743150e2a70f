"""QDQ -> integer ops.

Contract: every group `DequantizeLinear(s) -> op [-> Relu|Clip] -> QuantizeLinear`
whose op has an int8 form becomes that op on the int8 tensors themselves:
the op keeps its ONNX name and attributes, its runtime inputs and output are
int8 tensors carrying `Quant` (scale, zero point, axis), its weights are the
int8 initializers (with their per-channel `Quant`), its bias the int32
initializer, and a Relu/Clip before the QuantizeLinear becomes the attribute
`_qact` = (lo, hi) in real values (None for no bound), which lowering turns into
TFLite's clamp range. `MatMul + Add(bias)` groups become one `Gemm`.

QOperator ops (QLinearConv, QLinearMatMul, QGemm, and com.microsoft's QLinearAdd,
QLinearConcat, ...) are first expanded into the same DequantizeLinear -> op -> QuantizeLinear form,
so both ONNX quantization formats take one path.

uint8 quantization is mapped onto int8 codes (zero point - 128) first, with
conversions at uint8 graph inputs/outputs; ConvInteger and MatMulInteger keep
their form (int32 output, zero points as constant inputs) but get the same
uint8 -> int8 mapping of their operands.

Ensures afterwards: a DequantizeLinear with a run-time input only feeds graph
outputs, and a QuantizeLinear only reads a graph input (float I/O at the
model's edges); anything else would silently run in float and is an error
naming the node. Float models pass through unchanged.
"""

from __future__ import annotations

import numpy as np

from aot.errors import ModelError
from aot.ir import Graph, Node, Quant, Tensor
from aot.passes.rewrite import Rewrite, apply_rules, sole_consumer

# Ops whose int8 form exists (lowering decides per attribute form).
INT8_OPS = {"Conv", "MatMul", "Gemm", "Add", "Mul", "AveragePool", "MaxPool",
            "GlobalAveragePool", "ReduceMean", "Softmax", "Sigmoid", "Tanh", "HardSwish",
            "LeakyRelu", "HardSigmoid", "Relu", "Clip", "Pad", "Reshape", "Flatten", "Squeeze",
            "Unsqueeze", "Transpose", "Concat", "Resize", "ConvTranspose"}
SHAPE_OPS = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose"}
# Ops that only move or select codes, valid on quantized data under one (scale,
# zero point): QOperator models apply them to int8/uint8 tensors directly (Pad
# with the zero point as its constant).
CODE_OPS = SHAPE_OPS | {"MaxPool", "Pad"}
# Pad's constant_value stays a (dequantized) constant: lowering turns it into a code.
_STATIC_INPUTS = {("Reshape", 1), ("Squeeze", 1), ("Unsqueeze", 1), ("Clip", 1), ("Clip", 2),
                  ("ReduceMean", 1), ("Pad", 1), ("Pad", 2), ("Pad", 3),
                  ("Resize", 1), ("Resize", 2), ("Resize", 3)}
# Integer ops with raw integer operands: (data input, zero-point input) pairs.
INTEGER_OPS = {"ConvInteger": ((0, 2), (1, 3)), "MatMulInteger": ((0, 2), (1, 3))}


def quant_of(graph: Graph, node: Node) -> Quant | None:
    """The quantization of a Q/DQ node (from its constant scale and zero point)."""
    scale = graph.const(node.inputs[1])
    if scale is None:
        return None
    zp_name = node.inputs[2] if len(node.inputs) > 2 else ""
    zp = graph.const(zp_name) if zp_name else np.zeros(scale.shape, np.int8)
    if zp is None:
        return None
    axis = node.attr("axis", 1) if scale.size > 1 else None
    return Quant(tuple(float(s) for s in np.asarray(scale, np.float32).reshape(-1)),
                 tuple(int(z) for z in np.asarray(zp).reshape(-1)), axis)


def _zp_dtype(graph: Graph, node: Node):
    zp_name = node.inputs[2] if len(node.inputs) > 2 else ""
    return graph.tensor(zp_name).dtype if zp_name else np.dtype(np.uint8)


class _Group:
    """Collects the tensors an integer group reads, with their quantization."""

    def __init__(self, graph: Graph):
        self.graph = graph
        self.producers = graph.producers()
        self.tensors: dict[str, Tensor] = {}

    def source(self, name: str) -> str | None:
        """The quantized tensor behind a DequantizeLinear output, or None."""
        dq = self.producers.get(name)
        if dq is None or dq.op != "DequantizeLinear":
            return None
        q = quant_of(self.graph, dq)
        src = self.graph.tensor(dq.inputs[0])
        if q is None or src.dtype not in (np.int8, np.int32):
            return None
        if q.axis is not None and q.axis < 0:
            q = Quant(q.scale, q.zero_point, q.axis + len(src.shape))
        have = self.tensors.get(src.name, src).quant
        if have is not None and have != q:
            raise ModelError(f"tensor '{src.name}' is dequantized with two different "
                             f"scales/zero points (DequantizeLinear '{dq.name}')")
        self.tensors[src.name] = Tensor(src.name, src.shape, src.dtype, src.data, q)
        return src.name


def _act_bounds(graph: Graph, act: Node | None):
    if act is None:
        return None
    if act.op == "Relu":
        return (0.0, None)
    bounds = []
    for i in (1, 2):
        name = act.inputs[i] if len(act.inputs) > i else ""
        value = graph.const(name) if name else None
        if name and value is None:
            return "dynamic"
        bounds.append(None if value is None else float(np.asarray(value).reshape(-1)[0]))
    return tuple(bounds)


def _fold_group(graph: Graph, q: Node) -> Rewrite | None:
    out_q = quant_of(graph, q)
    if out_q is None or out_q.axis is not None or _zp_dtype(graph, q) != np.int8:
        return None
    producers = graph.producers()
    f = q.inputs[0]
    op = producers.get(f)
    act = None
    if op is not None and op.op in ("Relu", "Clip") and sole_consumer(graph, f) is q:
        prev = producers.get(op.inputs[0])
        if prev is not None and prev.op in INT8_OPS - SHAPE_OPS - {"Relu", "Clip"} \
                and sole_consumer(graph, op.inputs[0]) is op:
            act, op = op, prev
    if op is None or op.op not in INT8_OPS or (act is None and sole_consumer(graph, f) is not q):
        return None
    bounds = _act_bounds(graph, act)
    if bounds == "dynamic":
        return None
    group = _Group(graph)
    removed = [q] + ([act] if act else []) + [op]
    if op.op == "Add":
        fc = _fc_with_bias(graph, group, op, producers)
        if fc is not None:
            matmul, inputs = fc
            removed.append(matmul)
            node = Node("Gemm", inputs, q.outputs, {}, f"{matmul.name}+{op.name}")
            return _finish(graph, group, node, removed, out_q, bounds, act)
    inputs = []
    for i, name in enumerate(op.inputs):
        if not name or (op.op, i) in _STATIC_INPUTS:
            inputs.append(name)
            continue
        src = group.source(name)
        if src is None:
            return None
        inputs.append(src)
    node = op.with_(inputs=tuple(inputs), outputs=q.outputs)
    if op.op == "MatMul":
        node = Node("Gemm", tuple(inputs), q.outputs, {}, op.name)
    return _finish(graph, group, node, removed, out_q, bounds, act)


def _fc_with_bias(graph: Graph, group: _Group, add: Node, producers):
    for mm_i, bias_i in ((0, 1), (1, 0)):
        mm = producers.get(add.inputs[mm_i])
        if mm is not None and mm.op == "MatMul" and sole_consumer(graph, mm.outputs[0]) is add:
            bias = group.source(add.inputs[bias_i])
            if bias is None or graph.tensor(bias).dtype != np.int32 or \
                    not graph.tensor(bias).is_const:
                return None
            a, b = group.source(mm.inputs[0]), group.source(mm.inputs[1])
            if a is None or b is None:
                return None
            return mm, (a, b, bias)
    return None


def _finish(graph: Graph, group: _Group, node: Node, removed, out_q: Quant, bounds,
            act: Node | None) -> Rewrite:
    if bounds is not None:
        node = node.with_(attrs={**node.attrs, "_qact": bounds},
                          name=f"{node.name}+{act.name}")
    y = graph.tensor(node.outputs[0])
    tensors = dict(group.tensors)
    tensors[y.name] = Tensor(y.name, y.shape, y.dtype, quant=out_q)
    return Rewrite(removed, [node], tensors=tensors)


def _propagate_through_shape_ops(graph: Graph) -> Graph:
    """Shape-only ops (and MaxPool on raw codes) keep quantization: copy it across
    them both ways, so graph inputs and outputs behind a Reshape/Transpose, and the
    operands of such ops in QOperator models, know their scale."""
    tensors = dict(graph.tensors)
    changed = True
    while changed:
        changed = False
        for node in graph.nodes:
            if node.op not in CODE_OPS or not node.inputs:
                continue
            a, b = tensors[node.inputs[0]], tensors[node.outputs[0]]
            if a.dtype != np.int8 or (a.quant is None) == (b.quant is None):
                continue
            src, dst = (a, b) if a.quant is not None else (b, a)
            tensors[dst.name] = Tensor(dst.name, dst.shape, dst.dtype, dst.data, src.quant)
            changed = True
    return graph.replace(tensors=tensors)


def _uint8_operands(graph: Graph):
    """(node, data tensor, zero-point input index or None, zero point is given) of every
    uint8 quantized operand: Q/DQ with a uint8 zero point, and uint8 operands of
    ConvInteger / MatMulInteger."""
    for n in graph.nodes:
        if n.op in ("QuantizeLinear", "DequantizeLinear") and _zp_dtype(graph, n) == np.uint8:
            data = n.inputs[0] if n.op == "DequantizeLinear" else n.outputs[0]
            yield n, data, 2
        elif n.op in INTEGER_OPS:
            for d, z in INTEGER_OPS[n.op]:
                if len(n.inputs) > d and graph.tensor(n.inputs[d]).dtype == np.uint8:
                    yield n, n.inputs[d], z


def _shift_uint8(graph: Graph) -> Graph:
    """uint8 quantization becomes int8: q_u8 - zp_u8 == (q_u8 - 128) - (zp_u8 - 128),
    so every uint8 quantized tensor and zero point moves down by 128 and the
    integer arithmetic is unchanged. uint8 graph inputs and outputs keep their
    type for the caller and get a conversion (_U8ToS8 / _S8ToU8) at the edge.
    This covers Q/DQ with a uint8 zero point and the uint8 operands of
    ConvInteger / MatMulInteger (whose absent zero point, 0, becomes -128)."""
    operands = list(_uint8_operands(graph))
    if not operands:
        return graph
    tensors = dict(graph.tensors)
    shifted = {data for _, data, _ in operands}
    changed = True
    while changed:   # uint8 codes moved by Reshape/Transpose/MaxPool (QOperator models)
        changed = False
        for n in graph.nodes:
            if n.op in CODE_OPS and n.inputs and n.outputs:
                a, b = n.inputs[0], n.outputs[0]
                if graph.tensor(a).dtype == np.uint8 and graph.tensor(b).dtype == np.uint8 \
                        and (a in shifted) != (b in shifted):
                    shifted |= {a, b}
                    changed = True
    rename: dict[str, str] = {}
    zp_inputs: dict[tuple[str, int], str] = {}   # (node, input index) -> new zero point
    nodes = []

    def to_int8(name: str) -> None:
        t = tensors[name]
        if t.dtype != np.uint8:
            return
        data = None if t.data is None else (t.data.astype(np.int16) - 128).astype(np.int8)
        if name in graph.inputs or name in graph.outputs:
            inner = f"{name}__s8"
            tensors[inner] = Tensor(inner, t.shape, np.dtype(np.int8))
            rename[name] = inner
        else:
            tensors[name] = Tensor(name, t.shape, np.dtype(np.int8), data)

    for n, data, z in operands:
        zp = n.inputs[z] if len(n.inputs) > z and n.inputs[z] else ""
        if zp:
            to_int8(zp)
        else:   # no zero point means uint8 zero point 0
            zp = f"{n.name}__zp{z}"
            tensors[zp] = Tensor.const(zp, np.array(-128, np.int8))
            zp_inputs[(n.name, z)] = zp
        to_int8(data)
    for name in shifted:
        to_int8(name)
    for name, inner in rename.items():
        if name in graph.inputs:
            nodes.append(Node("_U8ToS8", (name,), (inner,), {}, f"{name} to int8"))
    for node in graph.nodes:
        ins = [rename.get(i, i) for i in node.inputs]
        outs = tuple(rename.get(o, o) if o in graph.outputs else o for o in node.outputs)
        for (owner, z), zp in zp_inputs.items():
            if owner == node.name:
                ins += [""] * (z + 1 - len(ins))
                ins[z] = zp
        nodes.append(node.with_(inputs=tuple(ins), outputs=outs))
    for name, inner in rename.items():
        if name in graph.outputs:
            nodes.append(Node("_S8ToU8", (inner,), (name,), {}, f"{name} to uint8"))
    return graph.replace(nodes, tensors)


# QOperator ops as (float op, positions of (data, scale, zero point) per
# quantized input, position of (output scale, zero point)), from the ONNX and
# com.microsoft specs. Extra inputs (e.g. QLinearConv's bias) are handled below.
QOPERATORS = {
    "QLinearConv": ("Conv", [(0, 1, 2), (3, 4, 5)], (6, 7)),
    "QLinearMatMul": ("MatMul", [(0, 1, 2), (3, 4, 5)], (6, 7)),
    "QGemm": ("Gemm", [(0, 1, 2), (3, 4, 5)], (7, 8)),
    "QLinearAdd": ("Add", [(0, 1, 2), (3, 4, 5)], (6, 7)),
    "QLinearMul": ("Mul", [(0, 1, 2), (3, 4, 5)], (6, 7)),
    "QLinearGlobalAveragePool": ("GlobalAveragePool", [(0, 1, 2)], (3, 4)),
    "QLinearAveragePool": ("AveragePool", [(0, 1, 2)], (3, 4)),
    "QLinearSoftmax": ("Softmax", [(0, 1, 2)], (3, 4)),
    "QLinearSigmoid": ("Sigmoid", [(0, 1, 2)], (3, 4)),
    "QLinearLeakyRelu": ("LeakyRelu", [(0, 1, 2)], (3, 4)),
}


def qoperator_form(node: Node):
    """(float op, [(data, scale, zero point) input positions], (output scale, zero
    point) positions) of a QOperator node, or None. QLinearConcat is variadic:
    (Y_scale, Y_zero_point, then X, X_scale, X_zero_point per input)."""
    if node.op == "QLinearConcat":
        count = (len(node.inputs) - 2) // 3
        return "Concat", [(2 + 3 * i, 3 + 3 * i, 4 + 3 * i) for i in range(count)], (0, 1)
    return QOPERATORS.get(node.op)


def _expand_qoperator(graph: Graph, node: Node) -> Rewrite | None:
    """A QOperator op becomes the equivalent DequantizeLinear -> op -> QuantizeLinear
    group, which the group rule below then folds into an integer op."""
    op, quantized, (ys, yz) = qoperator_form(node)
    if node.attr("channels_last", 0):
        return None   # NHWC variants: left for the unsupported-op report
    ins = list(node.inputs) + [""] * 9
    if op == "Concat" and (len(node.inputs) < 5 or (len(node.inputs) - 2) % 3):
        return None
    nodes, tensors, float_ins = [], {}, []
    for k, (x, s, z) in enumerate(quantized):
        f = f"{node.name}__in{k}"
        src = graph.tensor(ins[x])
        axis = {"axis": 0} if (op == "Conv" and k == 1) else \
            ({"axis": 1} if op == "MatMul" and k == 1 else {})
        if op == "Gemm" and k == 1:   # per output column: axis 0 when B is [N, K]
            axis = {"axis": 0 if node.attr("transB", 0) else 1}
        nodes.append(Node("DequantizeLinear", (ins[x], ins[s], ins[z]), (f,), axis,
                          f"{node.name}/dq{k}"))
        tensors[f] = Tensor(f, src.shape, np.dtype(np.float32))
        float_ins.append(f)
    bias_at = {"QLinearConv": 8, "QGemm": 6}.get(node.op)
    if bias_at is not None and ins[bias_at]:
        bias = graph.tensor(ins[bias_at])
        xs, ws = graph.const(ins[1]), graph.const(ins[4])
        if xs is None or ws is None:
            return None
        scale = (np.float32(xs).reshape(-1) * np.asarray(ws, np.float32).reshape(-1)).astype(np.float32)
        s_name, z_name, f = f"{node.name}__bias_scale", f"{node.name}__bias_zp", f"{node.name}__bias"
        tensors[s_name] = Tensor.const(s_name, scale if scale.size > 1 else scale.reshape(()))
        tensors[z_name] = Tensor.const(z_name, np.zeros(scale.shape if scale.size > 1 else (),
                                                        np.int32))
        tensors[f] = Tensor(f, bias.shape, np.dtype(np.float32))
        nodes.append(Node("DequantizeLinear", (ins[bias_at], s_name, z_name), (f,),
                          {"axis": 0} if scale.size > 1 else {}, f"{node.name}/dq_bias"))
        float_ins.append(f)
    y = graph.tensor(node.outputs[0])
    fy = f"{node.name}__out"
    tensors[fy] = Tensor(fy, y.shape, np.dtype(np.float32))
    attrs = {k: v for k, v in node.attrs.items() if k not in ("channels_last", "opset")}
    nodes.append(Node(op, tuple(float_ins), (fy,), attrs, node.name))
    nodes.append(Node("QuantizeLinear", (fy, ins[ys], ins[yz]), node.outputs, {},
                      f"{node.name}/q"))
    return Rewrite([node], nodes, tensors=tensors)


def fold_qdq(graph: Graph) -> Graph:
    graph = apply_rules(graph, [((*QOPERATORS, "QLinearConcat"), _expand_qoperator)])
    if not any(n.op in ("QuantizeLinear", "DequantizeLinear") or n.op in INTEGER_OPS
               for n in graph.nodes):
        return graph
    graph = _shift_uint8(graph)
    graph = apply_rules(graph, [("QuantizeLinear", _fold_group)])
    graph = _propagate_through_shape_ops(graph)
    _check_edges(graph)
    return graph


def _check_edges(graph: Graph) -> None:
    consumers = graph.consumers()
    # Computed from constants only (e.g. Reshape of a bias): 'fold' makes them constants.
    static = {name for name, t in graph.tensors.items() if t.is_const}
    bad = []
    for node in graph.nodes:
        if node.inputs and all(i in static for i in node.inputs if i):
            static.update(o for o in node.outputs if o)
            continue
        if node.op == "DequantizeLinear":
            users = [u for u in consumers.get(node.outputs[0], [])]
            bad += [f"{u.op} '{u.name}' (reads DequantizeLinear '{node.name}')" for u in users]
        elif node.op == "QuantizeLinear" and node.inputs[0] not in graph.inputs:
            bad.append(f"QuantizeLinear '{node.name}'")
    if bad:
        raise ModelError(f"{len(bad)} quantized group(s) have no int8 form and would run in "
                         f"float: {'; '.join(sorted(set(bad))[:6])}",
                         ["aot runs QDQ models in integer arithmetic only; each "
                          "DequantizeLinear -> op -> QuantizeLinear group must use an op "
                          "with an int8 kernel"])

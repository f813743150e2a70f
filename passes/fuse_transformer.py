"""Transformer fusions, as one rewrite table (run first by the 'fuse' pass).

- Weight-only int8 (see aot.passes.weight_only): `MatMul(x, _WeightDequant(q, s))`
  with q [K, N] and a per-tensor or per-column scale becomes `_MatMulW8(x, q, s[N])`;
  a following `Add` of a constant bias [N] joins it as its
  fourth input. `Gather(_WeightDequant(q, s), ids)` on axis 0 of a 2-D table
  becomes `_GatherW8(q, s, ids)`, or a constant when ids are constant. Every
  `_WeightDequant` still read by anything else is folded to float32 (and
  dropped when nothing reads it), so none reaches lowering.
- Exact GELU written out, `x * 0.5 * (1 + erf(x / sqrt 2))` (the three factors
  in any association, the division also as a multiplication by 1/sqrt 2),
  becomes one `Gelu` node (ONNX's op, approximate="none").
- Attention's masked softmax: `Softmax(scores + mask)` over the last axis, with
  a mask that repeats over leading axes (e.g. [1, 1, S, S] against [1, H, S, S])
  becomes `_SoftmaxRows(scores, mask)`; `Where(IsNaN(p), c, p)` after a
  last-axis softmax p (a constant scalar c: fully masked rows' NaN to c) joins
  it as attribute `nan_to`.
- Attention's layout shuffles: a float `MatMul` operand reached from a tensor
  through Reshape / Transpose / Mul-by-a-constant-scalar nodes read by nothing
  else (Q, K^T and V cut into heads) becomes a strided view of that tensor:
  `_MatMulStrided(a_src, b_src)` with the element strides and per-batch
  offsets of aot_matmul_params as attributes and alpha = the scalars' product
  (applied to the sum instead of the operands: a rounding difference). Only
  when the chain holds a Transpose or Mul, so the copies it saves are real.
- Layer normalization written out, `(x - mean) / sqrt(mean((x - mean)^2) + eps)`
  over trailing axes (ReduceMean/Sub/Pow or Mul/Add/Sqrt/Div), becomes
  `LayerNormalization(x, ones)`; a following `Mul` by a constant scale and
  `Add` of a constant bias (in that order) join it.
"""

from __future__ import annotations

import math

import numpy as np

from aot.ir import Graph, Node, Tensor
from aot.passes.rewrite import Rewrite, apply_rules, sole_consumer
from aot.passes.weight_only import DEQUANT_OP, DOMAIN, dequantize, scale_axis

MATMUL_W8 = "_MatMulW8"
GATHER_W8 = "_GatherW8"
SOFTMAX_ROWS = "_SoftmaxRows"
MATMUL_STRIDED = "_MatMulStrided"


def _scalar(graph: Graph, name: str) -> float | None:
    value = graph.const(name)
    if value is None or value.size != 1:
        return None
    return float(value.reshape(-1)[0])


def _dequant_of(graph: Graph, name: str) -> Node | None:
    node = graph.producers().get(name)
    return node if node is not None and node.op == DEQUANT_OP and node.domain == DOMAIN else None


# ----------------------------------------------------------------- weight-only int8

def _matmul_w8(graph: Graph, mm: Node) -> Rewrite | None:
    dq = _dequant_of(graph, mm.inputs[1])
    if dq is None or mm.domain:
        return None
    x = graph.tensor(mm.inputs[0])
    q, s = graph.tensor(dq.inputs[0]), graph.tensor(dq.inputs[1])
    if x.is_const or x.dtype != np.float32 or not x.shape or len(q.shape) != 2 \
            or q.shape[0] < 1:
        return None
    axis = scale_axis(q.shape, s.shape)
    if axis not in (-1, 1):
        return None   # a scale per input row cannot leave the sum: folded to float
    scale_name = f"{q.name}__col_scale"
    scale = np.ascontiguousarray(np.broadcast_to(s.data.reshape(-1) if axis == 1
                                                 else s.data.reshape(()), (q.shape[1],)),
                                 dtype=np.float32)
    node = Node(MATMUL_W8, (x.name, q.name, scale_name), mm.outputs, {}, mm.name)
    return Rewrite([mm], [node], tensors={scale_name: Tensor.const(scale_name, scale)})


def _matmul_w8_bias(graph: Graph, add: Node) -> Rewrite | None:
    for mm_in, b_in in ((0, 1), (1, 0)):
        mm = graph.producers().get(add.inputs[mm_in])
        if mm is not None and mm.op == MATMUL_W8 and len(mm.inputs) == 3:
            break
    else:
        return None
    bias = graph.tensor(add.inputs[b_in])
    n = graph.tensor(mm.inputs[1]).shape[1]
    if (not bias.is_const or bias.dtype != np.float32 or bias.size != n
            or bias.shape[-1:] != (n,) or any(d != 1 for d in bias.shape[:-1])
            or len(bias.shape) > len(graph.tensor(mm.outputs[0]).shape)
            or sole_consumer(graph, mm.outputs[0]) is not add):
        return None
    b_name = f"{bias.name}__row"
    fused = mm.with_(inputs=(*mm.inputs, b_name), outputs=add.outputs,
                     name=f"{mm.name}+{add.name}")
    return Rewrite([mm, add], [fused], tensors={
        b_name: Tensor.const(b_name, bias.data.reshape(n).astype(np.float32))})


def _gather_w8(graph: Graph, gather: Node) -> Rewrite | None:
    dq = _dequant_of(graph, gather.inputs[0])
    if dq is None or gather.domain:
        return None
    q, s = graph.tensor(dq.inputs[0]), graph.tensor(dq.inputs[1])
    ids = graph.tensor(gather.inputs[1])
    axis = gather.attr("axis", 0)
    if len(q.shape) != 2 or axis not in (0, -2):
        return None
    out = graph.tensor(gather.outputs[0])
    if ids.is_const:
        # Only the rows asked for are dequantized (a position-embedding table
        # indexed by constant positions).
        rows = np.where(ids.data < 0, ids.data + q.shape[0], ids.data).astype(np.int64)
        if rows.size and (rows.min() < 0 or rows.max() >= q.shape[0]):
            return None   # left to the float fold, which reports the bad index
        s_full = np.broadcast_to(s.data.reshape((1,) * (2 - len(s.shape)) + s.shape), q.shape)
        value = dequantize(q.data[rows.reshape(-1)], s_full[rows.reshape(-1)])
        return Rewrite([gather], tensors={out.name: Tensor.const(out.name,
                                                                 value.reshape(out.shape))})
    if ids.dtype not in (np.int64, np.int32) or scale_axis(q.shape, s.shape) is None:
        return None
    node = Node(GATHER_W8, (q.name, s.name, ids.name), gather.outputs, {}, gather.name)
    return Rewrite([gather], [node])


def _settle_dequant(graph: Graph, dq: Node) -> Rewrite | None:
    """A _WeightDequant no W8 kernel took: dropped when unread, else folded."""
    if dq.domain != DOMAIN:
        return None
    out = dq.outputs[0]
    readers = graph.consumers().get(out, [])
    if not readers and out not in graph.outputs:
        return Rewrite([dq])
    value = dequantize(graph.const(dq.inputs[0]), graph.const(dq.inputs[1]))
    return Rewrite([dq], tensors={out: Tensor.const(out, value)})


# ----------------------------------------------------------------- GELU

def _mul_factors(graph: Graph, name: str, top: bool, nodes: list[Node]) -> list[str]:
    """The leaves of a tree of Muls rooted at `name` (inner Muls read only by their parent)."""
    node = graph.producers().get(name)
    if node is None or node.op != "Mul" or node.domain or \
            (not top and sole_consumer(graph, name) is None):
        return [name]
    nodes.append(node)
    return [leaf for i in node.inputs for leaf in _mul_factors(graph, i, False, nodes)]


def _erf_argument(graph: Graph, name: str, nodes: list[Node]) -> str | None:
    """x where `name` = 1 + erf(x / sqrt 2) (sum in either order)."""
    add = graph.producers().get(name)
    if add is None or add.op != "Add" or sole_consumer(graph, name) is None:
        return None
    for e_in, one_in in ((0, 1), (1, 0)):
        erf = graph.producers().get(add.inputs[e_in])
        if erf is not None and erf.op == "Erf" and _scalar(graph, add.inputs[one_in]) == 1.0:
            break
    else:
        return None
    scaled = graph.producers().get(erf.inputs[0])
    if scaled is None or sole_consumer(graph, erf.outputs[0]) is not add or \
            sole_consumer(graph, erf.inputs[0]) is not erf:
        return None
    if scaled.op == "Div" and _close(_scalar(graph, scaled.inputs[1]), math.sqrt(2)):
        x = scaled.inputs[0]
    elif scaled.op == "Mul" and _close(_scalar(graph, scaled.inputs[1]), math.sqrt(0.5)):
        x = scaled.inputs[0]
    elif scaled.op == "Mul" and _close(_scalar(graph, scaled.inputs[0]), math.sqrt(0.5)):
        x = scaled.inputs[1]
    else:
        return None
    nodes += [add, erf, scaled]
    return x


def _close(value: float | None, want: float) -> bool:
    return value is not None and abs(value - want) <= 1e-6 * want


def _gelu(graph: Graph, mul: Node) -> Rewrite | None:
    out = graph.tensor(mul.outputs[0])
    if mul.domain or out.dtype != np.float32:
        return None
    nodes: list[Node] = []
    leaves = _mul_factors(graph, mul.outputs[0], True, nodes)
    if len(leaves) != 3:
        return None
    half = [leaf for leaf in leaves if _scalar(graph, leaf) == 0.5]
    if not half:
        return None
    rest = list(leaves)
    rest.remove(half[0])
    for x, erf_sum in ((rest[0], rest[1]), (rest[1], rest[0])):
        inner: list[Node] = []
        if _erf_argument(graph, erf_sum, inner) == x and graph.tensor(x).shape == out.shape:
            gelu = Node("Gelu", (x,), mul.outputs, {"approximate": "none"},
                        "+".join(n.name for n in [*inner[::-1], *nodes[::-1]]))
            return Rewrite([*nodes, *inner], [gelu])
    return None


# ----------------------------------------------------------------- layer normalization

def _reduce_axes(graph: Graph, node: Node) -> tuple[int, ...] | None:
    """The normalized trailing axes of a keepdims ReduceMean, as negative numbers."""
    if node.op != "ReduceMean" or node.domain or not node.attr("keepdims", 1):
        return None
    rank = len(graph.tensor(node.inputs[0]).shape)
    if len(node.inputs) > 1 and node.inputs[1]:
        axes = graph.const(node.inputs[1])
        if axes is None:
            return None
        axes = axes.reshape(-1).tolist()
    else:
        axes = node.attr("axes")
    if not axes:
        return None
    axes = sorted({int(a) - rank if int(a) >= 0 else int(a) for a in axes})
    return tuple(axes) if axes == list(range(-len(axes), 0)) else None


def _layer_norm(graph: Graph, div: Node) -> Rewrite | None:
    p = graph.producers()
    sub, sqrt = p.get(div.inputs[0]), p.get(div.inputs[1])
    if div.domain or sub is None or sqrt is None or sub.op != "Sub" or sqrt.op != "Sqrt":
        return None
    x = sub.inputs[0]
    mean = p.get(sub.inputs[1])
    add = p.get(sqrt.inputs[0])
    if mean is None or add is None or add.op != "Add" or mean.inputs[0] != x:
        return None
    axes = _reduce_axes(graph, mean)
    v_in = 0 if graph.const(add.inputs[0]) is None else 1   # var + eps or eps + var
    var = p.get(add.inputs[v_in])
    eps = _scalar(graph, add.inputs[1 - v_in])
    if var is None or eps is None or axes is None or _reduce_axes(graph, var) != axes:
        return None
    square = p.get(var.inputs[0])
    if square is None or not (
            (square.op == "Pow" and square.inputs[0] == sub.outputs[0]
             and _scalar(graph, square.inputs[1]) == 2.0)
            or (square.op == "Mul" and square.inputs == (sub.outputs[0], sub.outputs[0]))):
        return None
    d = sub.outputs[0]
    d_readers = graph.consumers().get(d, [])
    if {id(n) for n in d_readers} != {id(square), id(div)} or \
            any(sole_consumer(graph, n.outputs[0]) is None for n in (mean, square, var, add, sqrt)):
        return None
    xt = graph.tensor(x)
    if xt.dtype != np.float32 or graph.tensor(div.outputs[0]).shape != xt.shape:
        return None
    ones = f"{div.outputs[0]}__ones"
    ln = Node("LayerNormalization", (x, ones), div.outputs,
              {"axis": axes[0], "epsilon": eps},
              "+".join(n.name for n in (mean, sub, square, var, add, sqrt, div)))
    return Rewrite([mean, sub, square, var, add, sqrt, div], [ln], tensors={
        ones: Tensor.const(ones, np.ones(xt.shape[len(xt.shape) + axes[0]:], np.float32))})


def _layer_norm_affine(graph: Graph, node: Node) -> Rewrite | None:
    """Mul by a constant scale / Add of a constant bias after a LayerNormalization."""
    for ln_in, c_in in ((0, 1), (1, 0)):
        ln = graph.producers().get(node.inputs[ln_in])
        if ln is not None and ln.op == "LayerNormalization" and not ln.domain:
            break
    else:
        return None
    c = graph.tensor(node.inputs[c_in])
    out = graph.tensor(node.outputs[0])
    norm_shape = graph.tensor(ln.inputs[1]).shape
    if (not c.is_const or c.dtype != np.float32 or out.shape != graph.tensor(ln.outputs[0]).shape
            or len(ln.outputs) > 1 and any(ln.outputs[1:])
            or sole_consumer(graph, ln.outputs[0]) is not node):
        return None
    try:
        if np.broadcast_shapes(c.shape, norm_shape) != tuple(norm_shape):
            return None   # the constant varies along a non-normalized axis
    except ValueError:
        return None
    value = np.broadcast_to(c.data, norm_shape)
    scale = graph.const(ln.inputs[1])
    has_bias = len(ln.inputs) > 2 and bool(ln.inputs[2])
    name = f"{node.outputs[0]}__ln"
    if node.op == "Mul" and scale is not None and not has_bias:
        inputs = (ln.inputs[0], name)
        data = (scale * value).astype(np.float32)
    elif node.op == "Add" and not has_bias:
        inputs = (ln.inputs[0], ln.inputs[1], name)
        data = np.ascontiguousarray(value, dtype=np.float32)
    else:
        return None
    fused = ln.with_(inputs=inputs, outputs=node.outputs, name=f"{ln.name}+{node.name}")
    return Rewrite([ln, node], [fused], tensors={name: Tensor.const(name, data)})


# ----------------------------------------------------------------- masked softmax

def _last_axis_softmax(graph: Graph, node: Node | None) -> bool:
    if node is None or node.domain or node.op not in ("Softmax", SOFTMAX_ROWS):
        return False
    x = graph.tensor(node.inputs[0])
    rank = len(x.shape)
    return rank >= 1 and x.dtype == np.float32 and \
        node.attr("axis", -1) in (-1, rank - 1)


def _bias_rows(x_shape: tuple[int, ...], b_shape: tuple[int, ...]) -> int | None:
    """Rows of the bias when it repeats whole over x's rows (leading axes of 1,
    then x's own axes), else None."""
    padded = (1,) * (len(x_shape) - len(b_shape)) + tuple(b_shape)
    if len(padded) != len(x_shape) or not x_shape or padded[-1] != x_shape[-1]:
        return None
    j = len(padded) - 1
    while j > 0 and padded[j - 1] == x_shape[j - 1]:
        j -= 1
    if any(d != 1 for d in padded[:j]):
        return None
    return int(np.prod(x_shape[j:-1], dtype=np.int64))


def _masked_softmax(graph: Graph, sm: Node) -> Rewrite | None:
    if not _last_axis_softmax(graph, sm) or sm.op != "Softmax":
        return None
    add = graph.producers().get(sm.inputs[0])
    if add is None or add.op != "Add" or add.domain or \
            sole_consumer(graph, add.outputs[0]) is not sm:
        return None
    shape = graph.tensor(sm.inputs[0]).shape
    for x_in, b_in in ((0, 1), (1, 0)):
        x, b = graph.tensor(add.inputs[x_in]), graph.tensor(add.inputs[b_in])
        if x.shape == shape and x.dtype == b.dtype == np.float32 and \
                _bias_rows(shape, b.shape) is not None:
            node = Node(SOFTMAX_ROWS, (x.name, b.name), sm.outputs, {},
                        f"{add.name}+{sm.name}")
            return Rewrite([add, sm], [node])
    return None


def _softmax_nan_to(graph: Graph, where: Node) -> Rewrite | None:
    p = graph.producers()
    isnan = p.get(where.inputs[0])
    if where.domain or isnan is None or isnan.op != "IsNaN" or isnan.domain:
        return None
    sm = p.get(isnan.inputs[0])
    c = _scalar(graph, where.inputs[1])
    if not _last_axis_softmax(graph, sm) or c is None or "nan_to" in sm.attrs or \
            where.inputs[2] != sm.outputs[0] or \
            graph.tensor(where.outputs[0]).shape != graph.tensor(sm.outputs[0]).shape or \
            graph.tensor(where.inputs[1]).dtype != np.float32 or \
            sole_consumer(graph, isnan.outputs[0]) is not where or \
            sm.outputs[0] in graph.outputs or \
            {id(n) for n in graph.consumers().get(sm.outputs[0], [])} != {id(isnan), id(where)}:
        return None
    inputs = sm.inputs if sm.op == SOFTMAX_ROWS else sm.inputs[:1]
    node = Node(SOFTMAX_ROWS, inputs, where.outputs, {"nan_to": c},
                f"{sm.name}+{isnan.name}+{where.name}")
    return Rewrite([sm, isnan, where], [node])


# ----------------------------------------------------------------- strided MatMul operands

def _reshape_strides(shape, strides, new_shape) -> list[int] | None:
    """Strides that read `new_shape` from a view (shape, strides) without a
    copy, or None (as numpy's no-copy reshape)."""
    old = [(d, st) for d, st in zip(shape, strides) if d != 1]
    new_strides, i = [], 0
    j = 0
    new = list(new_shape)
    while j < len(new):
        if new[j] == 1:
            new_strides.append(0)
            j += 1
            continue
        # one group: old dims i..i2 and new dims j..j2 of equal size
        i2, j2, po, pn = i, j, old[i][0] if i < len(old) else 0, new[j]
        if i >= len(old):
            return None
        while po != pn:
            if po < pn:
                i2 += 1
                if i2 >= len(old):
                    return None
                po *= old[i2][0]
            else:
                j2 += 1
                if j2 >= len(new):
                    return None
                pn *= new[j2]
        for t in range(i, i2):
            if old[t][1] != old[t + 1][1] * old[t + 1][0]:
                return None
        st = old[i2][1]
        group = []
        for t in range(j2, j - 1, -1):
            group.append(0 if new[t] == 1 else st)
            if new[t] != 1:
                st *= new[t]
        new_strides.extend(reversed(group))
        i, j = i2 + 1, j2 + 1
    return new_strides if i == len(old) else None


def _view_chain(graph: Graph, name: str, reader: Node):
    """(source, [layout nodes from the source on]) behind operand `name`."""
    chain: list[Node] = []
    p = graph.producers()
    while True:
        node = p.get(name)
        if node is None or node.domain or sole_consumer(graph, name) is not reader:
            break
        if node.op == "Transpose" or node.op == "Reshape" and graph.const(node.inputs[1]) \
                is not None or node.op == "Mul" and _scalar_operand(graph, node) is not None:
            chain.append(node)
            reader = node
            name = _scalar_operand(graph, node)[0] if node.op == "Mul" else node.inputs[0]
            continue
        break
    return name, chain[::-1]


def _scalar_operand(graph: Graph, mul: Node) -> tuple[str, float] | None:
    """(the other input, c) of a Mul by a constant float32 scalar c."""
    for x_in, c_in in ((0, 1), (1, 0)):
        c = graph.tensor(mul.inputs[c_in])
        x = graph.tensor(mul.inputs[x_in])
        if c.is_const and c.size == 1 and c.dtype == np.float32 and not x.is_const \
                and x.shape == graph.tensor(mul.outputs[0]).shape:
            return x.name, float(c.data.reshape(-1)[0])
    return None


def _view(graph: Graph, src: str, chain: list[Node]):
    """(strides over src, scalar factor) of the chain's output, or None."""
    shape = list(graph.tensor(src).shape)
    strides = [1] * len(shape)
    for i in range(len(shape) - 2, -1, -1):
        strides[i] = strides[i + 1] * shape[i + 1]
    factor = 1.0
    for node in chain:
        out_shape = list(graph.tensor(node.outputs[0]).shape)
        if node.op == "Transpose":
            perm = node.attr("perm") or list(range(len(shape)))[::-1]
            shape, strides = [shape[i] for i in perm], [strides[i] for i in perm]
        elif node.op == "Reshape":
            strides = _reshape_strides(shape, strides, out_shape)
            if strides is None:
                return None
            shape = out_shape
        else:
            factor *= _scalar_operand(graph, node)[1]
        if shape != out_shape:
            return None
    return strides, factor


def _strided_matmul(graph: Graph, mm: Node) -> Rewrite | None:
    if mm.domain:
        return None
    y = graph.tensor(mm.outputs[0])
    a_t, b_t = graph.tensor(mm.inputs[0]), graph.tensor(mm.inputs[1])
    if len(a_t.shape) < 2 or len(b_t.shape) < 2 or a_t.is_const or b_t.is_const or \
            not a_t.dtype == b_t.dtype == y.dtype == np.float32:
        return None
    if mm.inputs[0] == mm.inputs[1]:
        return None
    views, removed, alpha = [], [], 1.0
    for name in mm.inputs[:2]:
        src, chain = _view_chain(graph, name, mm)
        found = None
        while chain:
            found = _view(graph, src, chain)
            if found is not None:
                break
            src, chain = chain[0].outputs[0], chain[1:]   # the farthest node stays
        views.append((src, found, chain))
        removed += chain
        if found is not None:
            alpha *= found[1]
    if not any(n.op in ("Transpose", "Mul") for n in removed):
        return None
    m, k = a_t.shape[-2:]
    n = b_t.shape[-1]
    batch_shape = tuple(y.shape[:-2])
    attrs = {"m": m, "n": n, "k": k, "alpha": alpha, "batch": int(np.prod(batch_shape,
                                                                        dtype=np.int64))}
    for key, t, (src, found, _) in zip("ab", (a_t, b_t), views):
        if found is None:
            strides = [0] * len(t.shape)
            acc = 1
            for i in range(len(t.shape) - 1, -1, -1):
                strides[i] = acc
                acc *= t.shape[i]
        else:
            strides = found[0]
        rows, cols = strides[-2:]
        lead = (0,) * (len(batch_shape) - (len(t.shape) - 2)) + tuple(
            0 if d == 1 else st for d, st in zip(t.shape[:-2], strides[:-2]))
        index = np.zeros(batch_shape, np.int64)
        for axis, st in enumerate(lead):
            shape = [1] * len(batch_shape)
            shape[axis] = batch_shape[axis]
            index = index + np.arange(batch_shape[axis], dtype=np.int64).reshape(shape) * st
        attrs[f"{key}_strides"] = (int(rows), int(cols))
        attrs[f"{key}_offsets"] = tuple(int(v) for v in index.reshape(-1))
        if abs(int(index.max(initial=0)) + (t.shape[-2] - 1) * rows + (t.shape[-1] - 1) * cols) \
                >= 2**31:
            return None
    node = Node(MATMUL_STRIDED, (views[0][0], views[1][0]), mm.outputs, attrs,
                "+".join(x.name for x in [*views[0][2], *views[1][2], mm]))
    return Rewrite([*views[0][2], *views[1][2], mm], [node])


TRANSFORMER_RULES = [
    ("MatMul", _matmul_w8),
    ("Gather", _gather_w8),
    ("Add", _matmul_w8_bias),
    ("Mul", _gelu),
    ("Div", _layer_norm),
    (("Mul", "Add"), _layer_norm_affine),
    ("Softmax", _masked_softmax),
    ("Where", _softmax_nan_to),
    ("MatMul", _strided_matmul),
]


def fuse_transformer(graph: Graph) -> Graph:
    graph = apply_rules(graph, TRANSFORMER_RULES)
    settled = apply_rules(graph, [(DEQUANT_OP, _settle_dequant)])
    if settled is graph:
        return graph
    from aot.passes.fold import fold_constants   # what now reads only constants
    return fold_constants(settled)

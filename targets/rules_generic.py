"""Generic (portable C) lowering rules for float32.

Each rule does the compile-time "Prepare" work for one op: it resolves
auto_pad and default attributes, computes strides and broadcast patterns,
re-lays out constant weights, and emits one or more kernel calls whose
parameter blocks hold only plain numbers.
"""

from __future__ import annotations

import math

import numpy as np

from aot.ir import Node
from aot.program import Alias, Call, ConstArray, Null, Params, Ref
from aot.targets.lowering import LoweringContext, Unsupported

MAX_DIMS = 6
F32 = np.dtype(np.float32)


# ----------------------------------------------------------------- helpers

_ACT_NAMES = {1: "Relu", 2: "Clip", 3: "LeakyRelu", 4: "HardSigmoid", 5: "HardSwish"}
_ACT_ENUMS = {0: "AOT_ACT_NONE", 1: "AOT_ACT_RELU", 2: "AOT_ACT_CLIP", 3: "AOT_ACT_LEAKY_RELU",
              4: "AOT_ACT_HARD_SIGMOID", 5: "AOT_ACT_HARD_SWISH"}


def act_fields(params: tuple) -> dict:
    """An aot_act_f32 initializer from a fused-activation tuple (kind, alpha, beta, lo, hi)."""
    kind, alpha, beta, lo, hi = params
    return {"kind": _ACT_ENUMS[kind], "alpha": alpha, "beta": beta, "lo": lo, "hi": hi}


def _act(node: Node) -> dict:
    return act_fields(node.attr("_act", (0, 0.0, 0.0, 0.0, 0.0)))


def _op_label(node: Node) -> str:
    """The op as users know it, with a fused activation named: "Conv+Relu"."""
    if "_qact" in node.attrs:   # int8: a clamp to (lo, hi)
        return node.op + ("+Relu" if node.attrs["_qact"] == (0.0, None) else "+Clip")
    return node.op + (f"+{_ACT_NAMES[node.attrs['_act'][0]]}" if "_act" in node.attrs else "")


def _require_f32(node: Node, ctx: LoweringContext, names=None) -> None:
    for name in (names if names is not None else [*node.inputs[:1], *node.outputs[:1]]):
        if name and ctx.tensor(name).dtype != F32:
            raise Unsupported(f"{ctx.tensor(name).dtype} tensor '{name}': the portable "
                              f"kernels for {node.op} are float32 only")


def _call(ctx: LoweringContext, node: Node, kernel: str, params: Params | None,
          operands, macs: int = 0, op: str | None = None, inplace=()) -> None:
    reads = [o.tensor for o in operands[:-1] if isinstance(o, Ref)]
    ctx.emit(Call(kernel, params, tuple(operands), tuple(reads), (operands[-1].tensor,),
                  node.name, op or _op_label(node), macs, inplace=tuple(inplace)))


def _contiguous_strides(shape) -> list[int]:
    strides, acc = [], 1
    for d in reversed(shape):
        strides.append(acc)
        acc *= d
    return strides[::-1]


def _prod(values) -> int:
    return int(math.prod(values))


def _axis(axis: int, rank: int, node: Node) -> int:
    if not -rank <= axis < max(rank, 1):
        raise Unsupported(f"axis {axis} is out of range for rank {rank}")
    return axis + rank if axis < 0 else axis


def _spatial_pads(node: Node, in_sp, out_sp, kernel, strides, dilations) -> tuple[list, list]:
    """Begin/end padding per spatial dim, resolving auto_pad as ONNX defines it."""
    n = len(in_sp)
    auto = node.attr("auto_pad", "NOTSET")
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        begin, end = [], []
        for i in range(n):
            total = max(0, (out_sp[i] - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - in_sp[i])
            small = total // 2
            begin.append(small if auto == "SAME_UPPER" else total - small)
            end.append(total - begin[-1])
        return begin, end
    if auto == "VALID":
        return [0] * n, [0] * n
    pads = list(node.attr("pads", [0] * (2 * n)))
    return pads[:n], pads[n:]


def _as_2d(values, fill: int) -> list[int]:
    """A 1-D spatial attribute as a 2-D one (height 1)."""
    values = list(values)
    return values if len(values) == 2 else [fill] + values


# ----------------------------------------------------------------- conv / matmul

def conv_geometry(node: Node, x, w, y) -> dict:
    """The geometry fields of aot_conv2d_params (and aot_conv2d_s8_params) for a
    1-D or 2-D Conv: a 1-D one is a 2-D one of height 1."""
    nsp = len(x.shape) - 2
    if nsp not in (1, 2):
        raise Unsupported(f"{nsp}-D convolution is not supported (1-D and 2-D are)")
    kernel = list(w.shape[2:])
    strides = list(node.attr("strides", [1] * nsp))
    dil = list(node.attr("dilations", [1] * nsp))
    begin, _ = _spatial_pads(node, x.shape[2:], y.shape[2:], kernel, strides, dil)
    in_sp, out_sp = _as_2d(x.shape[2:], 1), _as_2d(y.shape[2:], 1)
    kernel, strides, dil, begin = (_as_2d(kernel, 1), _as_2d(strides, 1), _as_2d(dil, 1),
                                   _as_2d(begin, 0))
    return {
        "batch": x.shape[0], "in_c": x.shape[1], "in_h": in_sp[0], "in_w": in_sp[1],
        "out_c": y.shape[1], "out_h": out_sp[0], "out_w": out_sp[1],
        "kernel_h": kernel[0], "kernel_w": kernel[1], "stride_h": strides[0],
        "stride_w": strides[1], "dilation_h": dil[0], "dilation_w": dil[1],
        "pad_top": begin[0], "pad_left": begin[1], "groups": int(node.attr("group", 1))}


def lower_conv(node: Node, ctx: LoweringContext) -> None:
    _require_f32(node, ctx)
    x, w = ctx.tensor(node.inputs[0]), ctx.tensor(node.inputs[1])
    y = ctx.tensor(node.outputs[0])
    geo = conv_geometry(node, x, w, y)
    groups = geo["groups"]
    if groups < 1 or x.shape[1] % groups or y.shape[1] % groups or \
            w.shape[1] * groups != x.shape[1]:
        raise Unsupported(f"group {groups} does not fit {x.shape[1]} input channels, "
                          f"{y.shape[1]} output channels and weights {list(w.shape)}")
    if list(node.attr("kernel_shape", w.shape[2:])) != list(w.shape[2:]):
        raise Unsupported(f"kernel_shape {node.attr('kernel_shape')} differs from the "
                          f"weights' {list(w.shape[2:])}")
    bias = node.inputs[2] if len(node.inputs) > 2 and node.inputs[2] else ""
    if bias and ctx.tensor(bias).shape != (y.shape[1],):
        raise Unsupported(f"bias of shape {list(ctx.tensor(bias).shape)} for {y.shape[1]} "
                          f"output channels")
    params = Params("aot_conv2d_params", {**geo, "act": _act(node)})
    macs = y.size * (x.shape[1] // groups) * geo["kernel_h"] * geo["kernel_w"]
    from aot.targets.rules_inplace import emit_conv   # in-place variant where it can run
    emit_conv(ctx, node, "aot_conv2d_f32", params,
          [Ref(x.name), Ref(w.name), Ref(bias) if bias else Null(), Ref(y.name)], macs)


def _bias_strides(shape: tuple[int, ...]) -> tuple[int, int]:
    shape = (1,) * (2 - len(shape)) + tuple(shape)
    return (shape[1] if shape[0] > 1 else 0), (1 if shape[1] > 1 else 0)


def lower_gemm(node: Node, ctx: LoweringContext) -> None:
    _require_f32(node, ctx)
    a, b = ctx.tensor(node.inputs[0]), ctx.tensor(node.inputs[1])
    y = ctx.tensor(node.outputs[0])
    trans_a, trans_b = node.attr("transA", 0), node.attr("transB", 0)
    m, n = y.shape
    k = a.shape[0] if trans_a else a.shape[1]
    b_name = b.name
    if trans_b and b.is_const:
        # Prepare: store B as [K][N] so the kernel streams rows of B.
        b_name, trans_b = ctx.const(f"{b.name}_kn", np.ascontiguousarray(b.data.T)), 0
    c = node.inputs[2] if len(node.inputs) > 2 and node.inputs[2] else ""
    if c:
        c_shape = ctx.tensor(c).shape
        if len(c_shape) > 2 or any(d not in (1, want) for d, want in
                                   zip(c_shape[::-1], (n, m))):
            raise Unsupported(f"C of shape {list(c_shape)} does not broadcast to [{m}, {n}]")
    bias_row, bias_col = _bias_strides(ctx.tensor(c).shape) if c else (0, 0)
    params = Params("aot_matmul_params", {
        "batch": 1, "m": m, "n": n, "k": k,
        "a_row_stride": 1 if trans_a else k, "a_k_stride": m if trans_a else 1,
        "b_k_stride": 1 if trans_b else n, "b_col_stride": k if trans_b else 1,
        "bias_row_stride": bias_row, "bias_col_stride": bias_col,
        "alpha": float(node.attr("alpha", 1.0)), "beta": float(node.attr("beta", 1.0)) if c else 0.0,
        "a_offsets": None, "b_offsets": None, "act": _act(node)})
    _call(ctx, node, "aot_matmul_f32", params,
          [Ref(a.name), Ref(b_name), Ref(c) if c else Null(), Ref(y.name)], m * n * k)


def lower_matmul(node: Node, ctx: LoweringContext) -> None:
    _require_f32(node, ctx, [*node.inputs, *node.outputs])
    a, b = ctx.tensor(node.inputs[0]), ctx.tensor(node.inputs[1])
    y = ctx.tensor(node.outputs[0])
    a_shape = (1,) + a.shape if len(a.shape) == 1 else a.shape
    b_shape = b.shape + (1,) if len(b.shape) == 1 else b.shape
    m, k = a_shape[-2:]
    n = b_shape[-1]
    batch_shape = np.broadcast_shapes(a_shape[:-2], b_shape[:-2])
    batch = _prod(batch_shape)
    offsets = {}
    for key, shape, mat in (("a_offsets", a_shape, m * k), ("b_offsets", b_shape, k * n)):
        index = np.arange(_prod(shape[:-2]), dtype=np.int64).reshape(shape[:-2])
        index = np.broadcast_to(index, batch_shape).reshape(-1) * mat
        offsets[key] = None if batch == 1 or not index.any() else ConstArray(index.astype(np.int32))
    params = Params("aot_matmul_params", {
        "batch": batch, "m": m, "n": n, "k": k, "a_row_stride": k, "a_k_stride": 1,
        "b_k_stride": n, "b_col_stride": 1, "bias_row_stride": 0, "bias_col_stride": 0,
        "alpha": 1.0, "beta": 0.0, **offsets, "act": _act(node)})
    _call(ctx, node, "aot_matmul_f32", params, [Ref(a.name), Ref(b.name), Null(), Ref(y.name)],
          batch * m * n * k)


# ----------------------------------------------------------------- elementwise

def broadcast_pattern(out_shape, a_shape, b_shape) -> tuple[list[int], list[int], list[int]]:
    """Collapsed (dims, a_strides, b_strides) for a broadcasting binary op."""
    rank = len(out_shape)
    dims, sa, sb = [], [], []
    for shape, strides in ((a_shape, sa), (b_shape, sb)):
        padded = (1,) * (rank - len(shape)) + tuple(shape)
        contiguous = _contiguous_strides(padded)
        strides.extend(0 if d == 1 else s for d, s in zip(padded, contiguous))
    dims = list(out_shape)
    keep = [i for i, d in enumerate(dims) if d != 1]
    dims, sa, sb = [dims[i] for i in keep], [sa[i] for i in keep], [sb[i] for i in keep]
    i = len(dims) - 1
    while i > 0:  # merge dim i-1 into dim i when both operands continue contiguously
        if sa[i - 1] == sa[i] * dims[i] and sb[i - 1] == sb[i] * dims[i]:
            dims[i - 1:i + 1] = [dims[i - 1] * dims[i]]
            sa[i - 1:i + 1] = [sa[i]]
            sb[i - 1:i + 1] = [sb[i]]
        i -= 1
    return dims, sa, sb


def broadcast_fields(y, a, b) -> dict:
    """The broadcast fields every binary kernel's params share (size, ndim, dims,
    a_strides, b_strides; see aot_binary_params), padded to MAX_DIMS; ndim 0 when
    both operands are dense and of y's size."""
    dims, sa, sb = broadcast_pattern(y.shape, a.shape, b.shape)
    if len(dims) > MAX_DIMS:
        raise Unsupported(f"broadcast over {len(dims)} non-collapsible dims (at most {MAX_DIMS})")
    if len(dims) <= 1 and sa in ([], [1]) and sb in ([], [1]):
        dims, sa, sb = [], [], []
    pad = [0] * (MAX_DIMS - len(dims))
    return {"size": y.size, "ndim": len(dims), "dims": tuple(dims + pad),
            "a_strides": tuple(sa + pad), "b_strides": tuple(sb + pad)}


def lower_binary(node: Node, ctx: LoweringContext) -> None:
    _require_f32(node, ctx, [*node.inputs, *node.outputs])
    a, b = ctx.tensor(node.inputs[0]), ctx.tensor(node.inputs[1])
    y = ctx.tensor(node.outputs[0])
    params = Params("aot_binary_params", {**broadcast_fields(y, a, b), "act": _act(node)})
    kernel = {"Add": "aot_add_f32", "Sub": "aot_sub_f32", "Mul": "aot_mul_f32",
              "Div": "aot_div_f32"}[node.op]
    # Elementwise: y may overwrite an input of exactly y's shape (not a broadcast one).
    _call(ctx, node, kernel, params, [Ref(a.name), Ref(b.name), Ref(y.name)],
          inplace=[t.name for t in (a, b) if t.shape == y.shape])


def lower_activation(node: Node, ctx: LoweringContext) -> None:
    from aot.passes.fuse import _activation

    _require_f32(node, ctx)
    act = _activation(ctx.graph, node)
    if act is None:
        raise Unsupported("Clip bounds must be constant scalars")
    params = Params("aot_unary_params", {"size": ctx.tensor(node.outputs[0]).size,
                                         "act": act_fields(act)})
    _call(ctx, node, "aot_activation_f32", params, [Ref(node.inputs[0]), Ref(node.outputs[0])],
          inplace=[node.inputs[0]])


def lower_unary_math(node: Node, ctx: LoweringContext) -> None:
    _require_f32(node, ctx)
    kernel = {"Sigmoid": "aot_sigmoid_f32", "Tanh": "aot_tanh_f32"}[node.op]
    params = Params("aot_unary_params", {"size": ctx.tensor(node.outputs[0]).size,
                                         "act": act_fields((0, 0.0, 0.0, 0.0, 0.0))})
    _call(ctx, node, kernel, params, [Ref(node.inputs[0]), Ref(node.outputs[0])],
          inplace=[node.inputs[0]])


def lower_batchnorm(node: Node, ctx: LoweringContext) -> None:
    from aot.passes.fuse import _bn_params

    _require_f32(node, ctx)
    params = _bn_params(ctx.graph, node)
    if params is None:
        raise Unsupported("only inference-mode BatchNormalization with constant statistics")
    scale, shift = params
    x = ctx.tensor(node.inputs[0])
    s = ctx.const(f"{node.name}_scale", scale.astype(np.float32))
    t = ctx.const(f"{node.name}_shift", shift.astype(np.float32))
    p = Params("aot_scale_shift_params", {"outer": x.shape[0], "channels": x.shape[1],
                                          "inner": _prod(x.shape[2:])})
    _call(ctx, node, "aot_scale_shift_f32", p,
          [Ref(x.name), Ref(s), Ref(t), Ref(node.outputs[0])], inplace=[x.name])


# ----------------------------------------------------------------- reductions

def lower_softmax(node: Node, ctx: LoweringContext) -> None:
    _require_f32(node, ctx)
    x = ctx.tensor(node.inputs[0])
    axis = _axis(node.attr("axis", -1), len(x.shape), node)
    params = Params("aot_softmax_params", {"outer": _prod(x.shape[:axis]),
                                           "axis": x.shape[axis] if x.shape else 1,
                                           "inner": _prod(x.shape[axis + 1:])})
    # Each x is read before the y at the same index is written (see the kernel).
    _call(ctx, node, "aot_softmax_f32", params, [Ref(x.name), Ref(node.outputs[0])],
          inplace=[x.name])


def _reduce(ctx, node, kernel, src: str, dst: str, outer, red, inner, op=None) -> None:
    params = Params("aot_reduce_params", {"outer": outer, "reduce": red, "inner": inner})
    _call(ctx, node, kernel, params, [Ref(src), Ref(dst)], op=op)


def lower_global_pool(node: Node, ctx: LoweringContext) -> None:
    _require_f32(node, ctx)
    x = ctx.tensor(node.inputs[0])
    kernel = "aot_reduce_mean_f32" if node.op == "GlobalAveragePool" else "aot_reduce_max_f32"
    _reduce(ctx, node, kernel, x.name, node.outputs[0], x.shape[0] * x.shape[1],
            _prod(x.shape[2:]), 1)


def reduce_layout(node: Node, ctx: LoweringContext) -> tuple[str, int, int, int] | None:
    """(source, outer, reduce, inner) of a Reduce* node over its axes (the
    input `axes`, or the attribute of older opsets), or None when the node
    reduces nothing (empty axes with noop_with_empty_axes: a copy). Axes
    that are not adjacent are first moved last by a transpose into a temporary."""
    x = ctx.tensor(node.inputs[0])
    rank = len(x.shape)
    axes_name = node.inputs[1] if len(node.inputs) > 1 else ""
    if axes_name and ctx.const_value(axes_name) is None:
        raise Unsupported(f"{node.op} axes must be a constant")
    axes = ([int(a) for a in ctx.const_value(axes_name).reshape(-1)] if axes_name
            else [int(a) for a in node.attr("axes", [])])
    if not axes:
        if node.attr("noop_with_empty_axes", 0):
            return None
        axes = list(range(rank))
    axes = sorted({_axis(a, rank, node) for a in axes})
    if not axes:   # a scalar: reducing over no dims leaves it as it is
        return x.name, 1, 1, 1
    src = x.name
    if axes != list(range(axes[0], axes[-1] + 1)):
        # Prepare: move the reduced axes last with a transpose into a temporary.
        perm = [d for d in range(rank) if d not in axes] + axes
        src = ctx.temp(f"{node.name}_transposed", tuple(x.shape[d] for d in perm), x.dtype)
        _transpose(ctx, node, x.name, src, x.shape, perm)
        axes = list(range(rank - len(axes), rank))
    shape = ctx.tensor(src).shape
    return (src, _prod(shape[:axes[0]]), _prod(shape[axes[0]:axes[-1] + 1]),
            _prod(shape[axes[-1] + 1:]))


def lower_reduce_mean(node: Node, ctx: LoweringContext) -> None:
    _require_f32(node, ctx)
    layout = reduce_layout(node, ctx)
    if layout is None:
        emit_copy(ctx, node.inputs[0], node.outputs[0], node.name)
        return
    src, outer, red, inner = layout
    _reduce(ctx, node, "aot_reduce_mean_f32", src, node.outputs[0], outer, red, inner)


def lower_pool(node: Node, ctx: LoweringContext) -> None:
    _require_f32(node, ctx)
    if len(node.outputs) > 1 and node.outputs[1]:
        raise Unsupported("MaxPool's Indices output is not supported")
    x, y = ctx.tensor(node.inputs[0]), ctx.tensor(node.outputs[0])
    nsp = len(x.shape) - 2
    if nsp not in (1, 2):
        raise Unsupported(f"{nsp}-D pooling is not supported (1-D and 2-D are)")
    kernel = list(node.attr("kernel_shape"))
    strides = list(node.attr("strides", [1] * nsp))
    dil = list(node.attr("dilations", [1] * nsp))
    begin, end = _spatial_pads(node, x.shape[2:], y.shape[2:], kernel, strides, dil)
    if node.attr("auto_pad", "NOTSET") == "NOTSET" and any(
            p >= k for p, k in zip(begin + end, kernel + kernel)):
        # a window could lie wholly in the padding (max of nothing, mean of nothing)
        raise Unsupported(f"pads {begin + end} must be smaller than the kernel {kernel}")
    in_sp, out_sp = _as_2d(x.shape[2:], 1), _as_2d(y.shape[2:], 1)
    kernel, strides, dil = _as_2d(kernel, 1), _as_2d(strides, 1), _as_2d(dil, 1)
    begin, end = _as_2d(begin, 0), _as_2d(end, 0)
    params = Params("aot_pool2d_params", {
        "planes": x.shape[0] * x.shape[1], "in_h": in_sp[0], "in_w": in_sp[1],
        "out_h": out_sp[0], "out_w": out_sp[1], "kernel_h": kernel[0], "kernel_w": kernel[1],
        "stride_h": strides[0], "stride_w": strides[1], "dilation_h": dil[0],
        "dilation_w": dil[1], "pad_top": begin[0], "pad_left": begin[1],
        "pad_bottom": end[0], "pad_right": end[1],
        "count_include_pad": int(node.attr("count_include_pad", 0))})
    kernel_fn = "aot_maxpool2d_f32" if node.op == "MaxPool" else "aot_avgpool2d_f32"
    _call(ctx, node, kernel_fn, params, [Ref(x.name), Ref(y.name)])


# ----------------------------------------------------------------- data movement

def emit_copy(ctx: LoweringContext, src: str, dst: str, layer: str) -> None:
    nbytes = ctx.tensor(dst).nbytes
    params = Params("aot_copy2d_params", {"rows": 1, "row_bytes": nbytes,
                                          "src_stride": nbytes, "dst_stride": nbytes})
    ctx.emit(Call("aot_copy2d", params, (Ref(src), Ref(dst)), (src,), (dst,), layer, "Copy"))


def lower_identity(node: Node, ctx: LoweringContext) -> None:
    """Identity/Dropout that the passes kept: a copy between two distinct buffers."""
    emit_copy(ctx, node.inputs[0], node.outputs[0], node.name)


def lower_dropout(node: Node, ctx: LoweringContext) -> None:
    mode = node.inputs[2] if len(node.inputs) > 2 else ""
    if mode and (ctx.const_value(mode) is None or bool(np.any(ctx.const_value(mode)))):
        raise Unsupported("training-mode Dropout is random; export the model for inference")
    emit_copy(ctx, node.inputs[0], node.outputs[0], node.name)
    if len(node.outputs) > 1 and node.outputs[1]:
        mask = ctx.tensor(node.outputs[1])   # inference mode: every element is kept
        ones = ctx.const(f"{mask.name}_value", np.ones(mask.shape, mask.dtype))
        emit_copy(ctx, ones, mask.name, node.name)


def lower_reshape(node: Node, ctx: LoweringContext) -> None:
    src, dst = node.inputs[0], node.outputs[0]
    graph = ctx.graph
    src_t = ctx.tensor(src)
    io = set(graph.inputs) | set(graph.outputs)
    if dst in graph.outputs:
        aliased = any(isinstance(s, Alias) and s.tensor == src for s in ctx.steps)
        if src in io or src_t.is_const or aliased:
            emit_copy(ctx, src, dst, node.name)
        else:
            # The producer of src writes straight into the caller's output buffer.
            ctx.emit(Alias(src, dst, 0, node.name, node.op))
        return
    ctx.emit(Alias(dst, src, 0, node.name, node.op))


def lower_cast(node: Node, ctx: LoweringContext) -> None:
    if ctx.tensor(node.inputs[0]).dtype != ctx.tensor(node.outputs[0]).dtype:
        raise Unsupported("Cast between types is supported only when it folds to a constant")
    lower_reshape(node, ctx)


def _transpose(ctx, node, src: str, dst: str, in_shape, perm) -> None:
    if len(perm) > MAX_DIMS:
        raise Unsupported(f"transpose of rank {len(perm)} (at most {MAX_DIMS})")
    in_strides = _contiguous_strides(in_shape)
    pad = [0] * (MAX_DIMS - len(perm))
    params = Params("aot_transpose_params", {
        "ndim": len(perm), "out_dims": tuple([in_shape[p] for p in perm] + pad),
        "in_strides": tuple([in_strides[p] for p in perm] + pad)})
    from aot.targets.rules_inplace import emit_transpose   # in place where it can run
    emit_transpose(ctx, node, "aot_transpose_f32", params, src, dst, in_shape, perm, 4,
                   op="Transpose")


def lower_transpose(node: Node, ctx: LoweringContext) -> None:
    _require_f32(node, ctx)
    x = ctx.tensor(node.inputs[0])
    perm = list(node.attr("perm", list(range(len(x.shape)))[::-1]))
    _transpose(ctx, node, x.name, node.outputs[0], x.shape, perm)


def lower_concat(node: Node, ctx: LoweringContext) -> None:
    y = ctx.tensor(node.outputs[0])
    axis = _axis(node.attr("axis"), len(y.shape), node)
    item = y.dtype.itemsize
    outer = _prod(y.shape[:axis])
    row_out = _prod(y.shape[axis:])
    offset = 0
    for name in node.inputs:
        t = ctx.tensor(name)
        row = _prod(t.shape[axis:])
        if t.dtype != y.dtype:
            raise Unsupported("Concat inputs of different dtypes")
        if row:
            params = Params("aot_copy2d_params", {"rows": outer, "row_bytes": row * item,
                                                  "src_stride": row * item,
                                                  "dst_stride": row_out * item})
            ctx.emit(Call("aot_copy2d", params, (Ref(name), Ref(y.name, offset)), (name,),
                          (y.name,), node.name, node.op))
        offset += row


def pad_geometry(node: Node, ctx: LoweringContext, x, y) -> dict:
    """The geometry fields of aot_pad_params (and aot_pad_s8_params) of a Pad
    node: dims padded to MAX_DIMS, pads_begin from the constant pads and axes."""
    rank = len(x.shape)
    if rank > MAX_DIMS:
        raise Unsupported(f"pad of rank {rank} (at most {MAX_DIMS})")
    pads = ctx.const_value(node.inputs[1]) if len(node.inputs) > 1 and node.inputs[1] else None
    if pads is None:
        raise Unsupported("Pad's pads must be a constant")
    axes_name = node.inputs[3] if len(node.inputs) > 3 else ""
    axes = ([_axis(int(a), rank, node) for a in ctx.const_value(axes_name).reshape(-1)]
            if axes_name else list(range(rank)))
    begin = [0] * rank
    for i, a in enumerate(axes):
        begin[a] = int(np.asarray(pads).reshape(-1)[i])
    mode = {"constant": "AOT_PAD_CONSTANT", "reflect": "AOT_PAD_REFLECT", "edge": "AOT_PAD_EDGE",
            "wrap": "AOT_PAD_WRAP"}.get(node.attr("mode", "constant"))
    if mode is None:
        raise Unsupported(f"unknown mode {node.attr('mode')!r}")
    fill = [0] * (MAX_DIMS - rank)
    return {"ndim": rank, "in_dims": tuple(list(x.shape) + fill),
            "out_dims": tuple(list(y.shape) + fill), "pads_begin": tuple(begin + fill),
            "mode": mode}


def lower_pad(node: Node, ctx: LoweringContext) -> None:
    _require_f32(node, ctx)
    x, y = ctx.tensor(node.inputs[0]), ctx.tensor(node.outputs[0])
    geometry = pad_geometry(node, ctx, x, y)
    value_name = node.inputs[2] if len(node.inputs) > 2 else ""
    value = ctx.const_value(value_name) if value_name else np.float32(0)
    if value is None:
        raise Unsupported("Pad's constant_value must be a constant")
    params = Params("aot_pad_params", {
        **geometry,
        "value": float(np.asarray(value).reshape(-1)[0]) if np.size(value) else 0.0})
    _call(ctx, node, "aot_pad_f32", params, [Ref(x.name), Ref(y.name)])

"""Generic (portable C) lowering rules for the float32 ops of models users bring.

- Element-wise functions (Neg, Abs, Sqrt, Reciprocal, Exp, Log, Floor, Ceil,
  Round, Sign, Softplus, Softsign, Elu, Selu, Celu, Mish, ThresholdedRelu,
  Shrink, Sin, Cos, and Pow with a constant uniform exponent): one kernel,
  `aot_unary_f32`, whose params name the function and its attributes.
- Pow with a run-time or non-uniform exponent and PRelu: broadcasting binary
  kernels (`aot_pow_f32`, `aot_prelu_f32`).
- Sum / Mean of n inputs: a chain of `aot_add_f32` into the output (Mean then
  divides by n in place). Max / Min live in rules_mask.py.
- ReduceSum / Max / Min / Prod / SumSquare / L1 / L2 / LogSumExp / LogSum:
  `aot_reduce_f32` over the layout `rules_generic.reduce_layout` prepares (as
  ReduceMean's); ArgMax / ArgMin: `aot_arg_reduce_f32` (int64 indices).
- LogSoftmax, Hardmax: one kernel each over [outer][axis][inner].
- Split: one strided copy per output; Tile: one strided copy (`aot_expand`)
  whose source strides repeat the input.
- InstanceNormalization: layer normalization of each plane, then the
  per-channel scale and bias; LpNormalization: an L1/L2 reduction (1 where
  it is 0, so a slice of zeros stays 0 as ONNX defines), then a broadcast division.

DepthToSpace / SpaceToDepth are rewritten to Reshape-Transpose-Reshape by the
'simplify' pass (aot.passes.cleanup). Registered in targets/registry.py.
"""

from __future__ import annotations

import numpy as np

from aot.ir import Node
from aot.program import Call, Null, Params, Ref
from aot.targets.lowering import LoweringContext, Unsupported
from aot.targets.rules_generic import (_axis, _call, _contiguous_strides, _prod, _require_f32,
                                       act_fields, broadcast_fields, emit_copy, reduce_layout)
from aot.targets.rules_mask import strided_copy_params
from aot.targets.rules_transformer import lower_cast_any

F32 = np.dtype(np.float32)
_NO_ACT = act_fields((0, 0.0, 0.0, 0.0, 0.0))

# op -> (aot_unary_op, {params field: (ONNX attribute, default)})
_UNARY = {
    "Neg": ("AOT_UNARY_NEG", {}),
    "Abs": ("AOT_UNARY_ABS", {}),
    "Sqrt": ("AOT_UNARY_SQRT", {}),
    "Reciprocal": ("AOT_UNARY_RECIPROCAL", {}),
    "Exp": ("AOT_UNARY_EXP", {}),
    "Log": ("AOT_UNARY_LOG", {}),
    "Floor": ("AOT_UNARY_FLOOR", {}),
    "Ceil": ("AOT_UNARY_CEIL", {}),
    "Round": ("AOT_UNARY_ROUND", {}),
    "Sign": ("AOT_UNARY_SIGN", {}),
    "Softplus": ("AOT_UNARY_SOFTPLUS", {}),
    "Softsign": ("AOT_UNARY_SOFTSIGN", {}),
    "Elu": ("AOT_UNARY_ELU", {"alpha": ("alpha", 1.0)}),
    "Selu": ("AOT_UNARY_SELU", {"alpha": ("alpha", 1.67326319217681884765625),
                                "gamma": ("gamma", 1.05070102214813232421875)}),
    "Celu": ("AOT_UNARY_CELU", {"alpha": ("alpha", 1.0)}),
    "Mish": ("AOT_UNARY_MISH", {}),
    "ThresholdedRelu": ("AOT_UNARY_THRESHOLDED_RELU", {"alpha": ("alpha", 1.0)}),
    "Shrink": ("AOT_UNARY_SHRINK", {"alpha": ("bias", 0.0), "beta": ("lambd", 0.5)}),
    "Sin": ("AOT_UNARY_SIN", {}),
    "Cos": ("AOT_UNARY_COS", {}),
}

# Pow exponents with a cheaper exact form than aot_powf's general path.
_POW_SPECIAL = {1.0: "AOT_UNARY_COPY", 2.0: "AOT_UNARY_SQUARE", 3.0: "AOT_UNARY_CUBE",
                -1.0: "AOT_UNARY_RECIPROCAL"}

_REDUCE = {"ReduceSum": "AOT_REDUCE_SUM", "ReduceMax": "AOT_REDUCE_MAX",
           "ReduceMin": "AOT_REDUCE_MIN", "ReduceProd": "AOT_REDUCE_PROD",
           "ReduceSumSquare": "AOT_REDUCE_SUM_SQUARE", "ReduceL1": "AOT_REDUCE_L1",
           "ReduceL2": "AOT_REDUCE_L2", "ReduceLogSumExp": "AOT_REDUCE_LOG_SUM_EXP",
           "ReduceLogSum": "AOT_REDUCE_LOG_SUM"}


def _unary_call(ctx: LoweringContext, node: Node, x: str, y: str, op: str,
                alpha: float = 0.0, beta: float = 0.0, gamma: float = 0.0) -> None:
    params = Params("aot_unary_math_params", {"size": ctx.tensor(y).size, "op": op,
                                              "alpha": alpha, "beta": beta, "gamma": gamma})
    _call(ctx, node, "aot_unary_f32", params, [Ref(x), Ref(y)], inplace=[x])


def lower_unary(node: Node, ctx: LoweringContext) -> None:
    _require_f32(node, ctx)
    op, fields = _UNARY[node.op]
    values = {field: float(node.attr(attr, default)) for field, (attr, default) in fields.items()}
    _unary_call(ctx, node, node.inputs[0], node.outputs[0], op, **values)


def _binary(ctx: LoweringContext, node: Node, kernel: str, a: str, b: str, y: str) -> None:
    ta, tb, ty = ctx.tensor(a), ctx.tensor(b), ctx.tensor(y)
    params = Params("aot_binary_params", {**broadcast_fields(ty, ta, tb), "act": _NO_ACT})
    _call(ctx, node, kernel, params, [Ref(a), Ref(b), Ref(y)],
          inplace=[t.name for t in (ta, tb) if t.shape == ty.shape])


def lower_pow(node: Node, ctx: LoweringContext) -> None:
    _require_f32(node, ctx)
    x, e, y = (ctx.tensor(n) for n in (*node.inputs[:2], node.outputs[0]))
    value = ctx.const_value(e.name)
    if value is None:
        name = e.name
        if e.dtype != F32:   # an integer exponent tensor: converted to float32 first
            name = ctx.temp(f"{e.name}_f32", e.shape, F32)
            lower_cast_any(Node("Cast", (e.name,), (name,), {"to": 1}, node.name), ctx)
        _binary(ctx, node, "aot_pow_f32", x.name, name, y.name)
        return
    value = np.asarray(value).astype(np.float32)
    if x.shape == y.shape and value.size and np.all(value == value.reshape(-1)[0]):
        k = float(value.reshape(-1)[0])
        if k in _POW_SPECIAL:
            _unary_call(ctx, node, x.name, y.name, _POW_SPECIAL[k])
        else:
            _unary_call(ctx, node, x.name, y.name, "AOT_UNARY_POW", alpha=k)
        return
    name = e.name if e.dtype == F32 else ctx.const(f"{e.name}_f32", value)
    _binary(ctx, node, "aot_pow_f32", x.name, name, y.name)


def lower_prelu(node: Node, ctx: LoweringContext) -> None:
    _require_f32(node, ctx, [*node.inputs[:2], node.outputs[0]])
    x, slope, y = (ctx.tensor(n) for n in (*node.inputs[:2], node.outputs[0]))
    if np.broadcast_shapes(x.shape, slope.shape) != x.shape:
        raise Unsupported(f"slope of shape {list(slope.shape)} does not broadcast to the "
                          f"input's {list(x.shape)}")
    _binary(ctx, node, "aot_prelu_f32", x.name, slope.name, y.name)


def lower_sum_mean(node: Node, ctx: LoweringContext) -> None:
    """Sum / Mean of n inputs: the first two added into the output, then each
    further input added into the output in place (which is never broadcast)."""
    names = [n for n in node.inputs if n]
    _require_f32(node, ctx, [*names, node.outputs[0]])
    y = ctx.tensor(node.outputs[0])
    if len(names) == 1:
        if ctx.tensor(names[0]).shape != y.shape:
            raise Unsupported("one input whose shape differs from the output's")
        emit_copy(ctx, names[0], y.name, node.name)
    else:
        acc = names[0]
        for i, name in enumerate(names[1:]):
            a, b = ctx.tensor(acc), ctx.tensor(name)
            params = Params("aot_binary_params", {**broadcast_fields(y, a, b), "act": _NO_ACT})
            _call(ctx, node, "aot_add_f32", params, [Ref(a.name), Ref(b.name), Ref(y.name)],
                  inplace=[t.name for t in (a, b) if t.shape == y.shape] if i == 0 else ())
            acc = y.name
    if node.op == "Mean" and len(names) > 1:
        count = ctx.const(f"{node.name}_count", np.array([len(names)], np.float32))
        params = Params("aot_binary_params", {
            **broadcast_fields(y, y, ctx.tensor(count)), "act": _NO_ACT})
        _call(ctx, node, "aot_div_f32", params, [Ref(y.name), Ref(count), Ref(y.name)])


def lower_reduce(node: Node, ctx: LoweringContext) -> None:
    _require_f32(node, ctx)
    layout = reduce_layout(node, ctx)
    if layout is None:
        emit_copy(ctx, node.inputs[0], node.outputs[0], node.name)
        return
    src, outer, red, inner = layout
    params = Params("aot_reduce_op_params", {"outer": outer, "reduce": red, "inner": inner,
                                             "op": _REDUCE[node.op]})
    _call(ctx, node, "aot_reduce_f32", params, [Ref(src), Ref(node.outputs[0])])


def lower_arg_reduce(node: Node, ctx: LoweringContext) -> None:
    _require_f32(node, ctx, node.inputs[:1])
    x, y = ctx.tensor(node.inputs[0]), ctx.tensor(node.outputs[0])
    if y.dtype != np.int64:
        raise Unsupported(f"{y.dtype} output (ONNX defines int64)")
    axis = _axis(node.attr("axis", 0), len(x.shape), node) if x.shape else 0
    params = Params("aot_arg_reduce_params", {
        "outer": _prod(x.shape[:axis]), "reduce": x.shape[axis] if x.shape else 1,
        "inner": _prod(x.shape[axis + 1:]), "is_min": int(node.op == "ArgMin"),
        "select_last": int(node.attr("select_last_index", 0))})
    _call(ctx, node, "aot_arg_reduce_f32", params, [Ref(x.name), Ref(y.name)])


def lower_axis_softmax(node: Node, ctx: LoweringContext) -> None:
    """LogSoftmax / Hardmax along one axis (opset 13 on: the frontend upgrades)."""
    _require_f32(node, ctx)
    x = ctx.tensor(node.inputs[0])
    axis = _axis(node.attr("axis", -1), len(x.shape), node) if x.shape else 0
    params = Params("aot_softmax_params", {"outer": _prod(x.shape[:axis]),
                                           "axis": x.shape[axis] if x.shape else 1,
                                           "inner": _prod(x.shape[axis + 1:])})
    kernel = "aot_log_softmax_f32" if node.op == "LogSoftmax" else "aot_hardmax_f32"
    _call(ctx, node, kernel, params, [Ref(x.name), Ref(node.outputs[0])], inplace=[x.name])


def lower_split(node: Node, ctx: LoweringContext) -> None:
    x = ctx.tensor(node.inputs[0])
    outs = [ctx.tensor(o) for o in node.outputs if o]
    if any(o.dtype != x.dtype for o in outs):
        raise Unsupported("outputs of a type other than the input's")
    axis = _axis(node.attr("axis", 0), len(x.shape), node)
    sizes = [ctx.tensor(o).shape[axis] if o else None for o in node.outputs]
    if sum(s for s in sizes if s is not None) > x.shape[axis] or None in sizes[:-1]:
        raise Unsupported(f"output sizes {sizes} along axis {axis} do not fit the input's "
                          f"{x.shape[axis]}")
    item = x.dtype.itemsize
    outer, inner = _prod(x.shape[:axis]), _prod(x.shape[axis + 1:])
    offset = 0
    for name, size in zip(node.outputs, sizes):
        if name and size:
            row = size * inner * item
            params = Params("aot_copy2d_params", {"rows": outer, "row_bytes": row,
                                                  "src_stride": x.shape[axis] * inner * item,
                                                  "dst_stride": row})
            ctx.emit(Call("aot_copy2d", params, (Ref(x.name, offset), Ref(name)), (x.name,),
                          (name,), node.name, node.op))
        offset += (size or 0) * inner


def lower_tile(node: Node, ctx: LoweringContext) -> None:
    x, y = ctx.tensor(node.inputs[0]), ctx.tensor(node.outputs[0])
    repeats = ctx.const_value(node.inputs[1])
    if repeats is None:
        raise Unsupported("Tile's repeats must be a constant (they set the output shape)")
    repeats = [int(r) for r in np.asarray(repeats).reshape(-1)]
    if len(repeats) != len(x.shape) or any(r * d != o for r, d, o in
                                            zip(repeats, x.shape, y.shape)):
        raise Unsupported(f"repeats {repeats} do not take {list(x.shape)} to {list(y.shape)}")
    # Each copy tiles a group of axes, as many as its MAX_DIMS strided loops
    # take; several groups go through temporaries, each tiling the last's output.
    src, done = x.name, list(x.shape)
    groups, group = [], []
    for axis in range(len(x.shape)):
        if repeats[axis] == 1:
            continue
        if group and _tile_params(done, [repeats[a] if a in group + [axis] else 1
                                         for a in range(len(done))], x.dtype) is None:
            groups.append(group)
            group = []
        group.append(axis)
    groups.append(group)
    for i, group in enumerate(groups):
        reps = [repeats[a] if a in group else 1 for a in range(len(done))]
        params = _tile_params(done, reps, x.dtype)
        if params is None:
            raise Unsupported(f"repeats {repeats} over input {list(x.shape)}: too many "
                              f"non-collapsible dims")
        done = [r * d for r, d in zip(reps, done)]
        dst = y.name if i == len(groups) - 1 else ctx.temp(f"{node.name}_tiled", done, x.dtype)
        _call(ctx, node, "aot_expand", params, [Ref(src), Ref(dst)])
        src = dst


def _tile_params(shape, repeats, dtype) -> Params | None:
    """Strided-copy params tiling `shape` by `repeats`, or None past MAX_DIMS:
    the output as [r0, d0, r1, d1, ...], each repeat dim re-reading the input."""
    item = dtype.itemsize
    dims, strides = [], []
    for r, d, s in zip(repeats, shape, _contiguous_strides(shape)):
        dims += [r, d]
        strides += [0, s * item]
    try:
        return strided_copy_params(dims, strides, 0, item)
    except Unsupported:
        return None


def lower_instance_norm(node: Node, ctx: LoweringContext) -> None:
    _require_f32(node, ctx)
    x, y = ctx.tensor(node.inputs[0]), ctx.tensor(node.outputs[0])
    scale, bias = (ctx.const_value(n) for n in node.inputs[1:3])
    if scale is None or bias is None:
        raise Unsupported("scale and B must be constants")
    if len(x.shape) < 3:
        raise Unsupported(f"input of rank {len(x.shape)} (N, C and at least one spatial dim)")
    n, c, plane = x.shape[0], x.shape[1], _prod(x.shape[2:])
    ones = ctx.const(f"{node.name}_ones", np.ones(plane, np.float32))
    normed = ctx.temp(f"{node.name}_normalized", x.shape, F32)
    params = Params("aot_layer_norm_params", {"outer": n * c, "inner": plane,
                                              "epsilon": float(node.attr("epsilon", 1e-5))})
    ctx.emit(Call("aot_layer_norm_f32", params,
                  (Ref(x.name), Ref(ones), Null(), Ref(normed), Null(), Null()),
                  (x.name, ones), (normed,), node.name, node.op))
    s = ctx.const(f"{node.name}_scale", np.asarray(scale, np.float32).reshape(c))
    t = ctx.const(f"{node.name}_shift", np.asarray(bias, np.float32).reshape(c))
    p = Params("aot_scale_shift_params", {"outer": n, "channels": c, "inner": plane})
    _call(ctx, node, "aot_scale_shift_f32", p, [Ref(normed), Ref(s), Ref(t), Ref(y.name)],
          inplace=[normed])


def lower_lp_norm(node: Node, ctx: LoweringContext) -> None:
    _require_f32(node, ctx)
    x, y = ctx.tensor(node.inputs[0]), ctx.tensor(node.outputs[0])
    p = int(node.attr("p", 2))
    if p not in (1, 2):
        raise Unsupported(f"p={p} (ONNX allows 1 and 2)")
    axis = _axis(node.attr("axis", -1), len(x.shape), node)
    norm_shape = tuple(1 if d == axis else s for d, s in enumerate(x.shape))
    norm = ctx.temp(f"{node.name}_norm", norm_shape, F32)
    params = Params("aot_reduce_op_params", {
        "outer": _prod(x.shape[:axis]), "reduce": x.shape[axis], "inner": _prod(x.shape[axis + 1:]),
        "op": "AOT_REDUCE_L1_DIVISOR" if p == 1 else "AOT_REDUCE_L2_DIVISOR"})
    _call(ctx, node, "aot_reduce_f32", params, [Ref(x.name), Ref(norm)])
    _binary(ctx, node, "aot_div_f32", x.name, norm, y.name)


RULES = {
    **dict.fromkeys(_UNARY, lower_unary),
    "Pow": lower_pow,
    "PRelu": lower_prelu,
    "Sum": lower_sum_mean,
    "Mean": lower_sum_mean,
    **dict.fromkeys(_REDUCE, lower_reduce),
    "ArgMax": lower_arg_reduce,
    "ArgMin": lower_arg_reduce,
    "LogSoftmax": lower_axis_softmax,
    "Hardmax": lower_axis_softmax,
    "Split": lower_split,
    "Tile": lower_tile,
    "InstanceNormalization": lower_instance_norm,
    "LpNormalization": lower_lp_norm,
}

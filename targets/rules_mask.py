"""Generic (portable C) lowering rules for mask construction and run-time shape ops.

Exporters build a BERT attention mask at run time from the `attention_mask`
input: Cast -> Unsqueeze -> Expand -> Sub / Mul, or Equal / GreaterOrEqual ->
Not / Or / Where, Max / Min over masks, Slice / Range over positions. These
rules lower the ops among them that run on run-time data (with constant
inputs the 'fold' pass has already evaluated them):

- Expand and Slice: one strided copy of any element type (Slice's starts,
  ends, axes and steps must be constants: they set the output shape);
- Equal / Less / LessOrEqual / Greater / GreaterOrEqual on every integer
  type, float32 and float64 (Equal also on bool), giving bool; Not / Or / Xor
  on bool;
- Max / Min, variadic and broadcasting, on the same types;
- Range with run-time start / limit / delta, where the model declares its
  length: the kernel checks at run time that the values give that length
  (else `<name>_run` returns AOT_E_RANGE). A Range whose length depends on
  run-time values and is not declared is a dynamic shape, refused at import.

Where, IsNaN, And and GatherND live in rules_transformer.py. Registered in
targets/registry.py.
"""

from __future__ import annotations

import numpy as np

from aot.ir import Node
from aot.program import Call, Params, Ref
from aot.targets.lowering import LoweringContext, Unsupported
from aot.targets.rules_generic import (MAX_DIMS, _call, _contiguous_strides, act_fields,
                                       broadcast_fields, emit_copy)

BOOL = np.dtype(np.bool_)
_NO_ACT = act_fields((0, 0.0, 0.0, 0.0, 0.0))

_NUMERIC = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64", np.dtype(np.int8): "s8",
            np.dtype(np.uint8): "u8", np.dtype(np.int16): "s16", np.dtype(np.uint16): "u16",
            np.dtype(np.int32): "s32", np.dtype(np.uint32): "u32", np.dtype(np.int64): "s64",
            np.dtype(np.uint64): "u64"}
_RANGE_SUFFIX = {np.dtype(d): _NUMERIC[np.dtype(d)] for d in (np.float32, np.int32, np.int64)}
_COMPARE_OPS = {"Equal": "AOT_CMP_EQUAL", "Less": "AOT_CMP_LESS",
                "LessOrEqual": "AOT_CMP_LESS_EQUAL", "Greater": "AOT_CMP_GREATER",
                "GreaterOrEqual": "AOT_CMP_GREATER_EQUAL"}


def _kernel_suffix(node: Node, dtype: np.dtype, table: dict) -> str:
    if dtype not in table:
        kinds = ", ".join(sorted({str(d) for d in table}))
        raise Unsupported(f"{dtype} tensors at run time ({node.op} runs on {kinds})")
    return table[dtype]


def require_same_quant(node: Node, ctx: LoweringContext, names) -> None:
    """These kernels move or compare stored codes: right for quantized tensors
    only when every one has the same scale and zero point."""
    quants = {ctx.tensor(n).quant for n in names if n}
    if len(quants) > 1:
        raise Unsupported("quantized tensors of different scales or zero points (the "
                          "kernel works on the stored codes)")


def strided_copy_params(out_shape, src_strides, src_offset: int, itemsize: int) -> Params:
    """aot_strided_copy_params for a dense output of `out_shape` read at
    `src_offset + sum i_d * src_strides[d]` bytes: size-1 dims dropped and
    dims the source continues contiguously merged."""
    dims = [d for d in out_shape if d != 1]
    strides = [s for d, s in zip(out_shape, src_strides) if d != 1]
    i = len(dims) - 1
    while i > 0:
        if strides[i - 1] == strides[i] * dims[i]:
            dims[i - 1:i + 1] = [dims[i - 1] * dims[i]]
            strides[i - 1:i + 1] = [strides[i]]
        i -= 1
    if not dims:
        dims, strides = [1], [itemsize]
    if len(dims) > MAX_DIMS:
        raise Unsupported(f"a strided copy over {len(dims)} non-collapsible dims "
                          f"(at most {MAX_DIMS})")
    pad = [0] * (MAX_DIMS - len(dims))
    return Params("aot_strided_copy_params", {
        "ndim": len(dims), "elem_bytes": itemsize, "src_offset": src_offset,
        "dims": tuple(dims + pad), "src_strides": tuple(strides + pad)})


def lower_expand(node: Node, ctx: LoweringContext) -> None:
    x, y = ctx.tensor(node.inputs[0]), ctx.tensor(node.outputs[0])
    require_same_quant(node, ctx, [x.name, y.name])
    rank = len(y.shape)
    padded = (1,) * (rank - len(x.shape)) + tuple(x.shape)
    if len(padded) != rank or any(d not in (1, o) for d, o in zip(padded, y.shape)):
        raise Unsupported(f"input of shape {list(x.shape)} does not broadcast to the "
                          f"output shape {list(y.shape)}")
    item = x.dtype.itemsize
    strides = [0 if d == 1 else s * item for d, s in zip(padded, _contiguous_strides(padded))]
    params = strided_copy_params(y.shape, strides, 0, item)
    _call(ctx, node, "aot_expand", params, [Ref(x.name), Ref(y.name)])


def _const_ints(ctx: LoweringContext, node: Node, index: int, what: str) -> list[int] | None:
    name = node.inputs[index] if len(node.inputs) > index else ""
    if not name:
        return None
    value = ctx.const_value(name)
    if value is None:
        raise Unsupported(f"Slice's {what} must be constants (they set the output shape); "
                          f"fix the inputs' shapes with --input-shape so they fold")
    return [int(v) for v in np.asarray(value).reshape(-1)]


def lower_slice(node: Node, ctx: LoweringContext) -> None:
    x, y = ctx.tensor(node.inputs[0]), ctx.tensor(node.outputs[0])
    require_same_quant(node, ctx, [x.name, y.name])
    rank = len(x.shape)
    starts = _const_ints(ctx, node, 1, "starts")
    ends = _const_ints(ctx, node, 2, "ends")
    axes = _const_ints(ctx, node, 3, "axes")
    steps = _const_ints(ctx, node, 4, "steps")
    axes = list(range(len(starts))) if axes is None else axes
    steps = [1] * len(starts) if steps is None else steps
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise Unsupported("starts, ends, axes and steps differ in length")
    axes = [a + rank if a < 0 else a for a in axes]
    if any(not 0 <= a < rank for a in axes) or len(set(axes)) != len(axes):
        raise Unsupported(f"axes {axes} are out of range or repeated for rank {rank}")
    if 0 in steps:
        raise Unsupported("a step of 0")
    first, step = [0] * rank, [1] * rank
    for a, s, e, st in zip(axes, starts, ends, steps):
        # ONNX clamps starts and ends exactly as Python slicing does
        begin, _, stride = slice(s, e, st).indices(x.shape[a])
        first[a], step[a] = begin, stride
        if len(range(*slice(s, e, st).indices(x.shape[a]))) != y.shape[a]:
            raise Unsupported(f"output dim {a} is {y.shape[a]}, the slice gives "
                              f"{len(range(*slice(s, e, st).indices(x.shape[a])))}")
    item = x.dtype.itemsize
    contiguous = [s * item for s in _contiguous_strides(x.shape)]
    offset = sum(f * c for f, c in zip(first, contiguous))
    params = strided_copy_params(y.shape, [st * c for st, c in zip(step, contiguous)],
                                 offset, item)
    _call(ctx, node, "aot_slice", params, [Ref(x.name), Ref(y.name)])


def _same_dtype(node: Node, ctx: LoweringContext, names) -> np.dtype:
    dtypes = {ctx.tensor(n).dtype for n in names}
    if len(dtypes) != 1:
        raise Unsupported(f"inputs of different types {sorted(map(str, dtypes))}")
    return dtypes.pop()


def lower_compare(node: Node, ctx: LoweringContext) -> None:
    a, b = ctx.tensor(node.inputs[0]), ctx.tensor(node.inputs[1])
    y = ctx.tensor(node.outputs[0])
    dtype = _same_dtype(node, ctx, node.inputs[:2])
    require_same_quant(node, ctx, node.inputs[:2])
    # bool bytes are 0 or 1: Equal compares them as uint8 (ONNX orders no bools)
    table = {**_NUMERIC, BOOL: "u8"} if node.op == "Equal" else _NUMERIC
    suffix = _kernel_suffix(node, dtype, table)
    params = Params("aot_compare_params", {**broadcast_fields(y, a, b),
                                           "op": _COMPARE_OPS[node.op]})
    _call(ctx, node, f"aot_compare_{suffix}", params, [Ref(a.name), Ref(b.name), Ref(y.name)])


def _require_bool(node: Node, ctx: LoweringContext) -> None:
    for name in node.inputs:
        if ctx.tensor(name).dtype != BOOL:
            raise Unsupported(f"{ctx.tensor(name).dtype} tensor '{name}': {node.op} is "
                              f"defined on bool")


def lower_not(node: Node, ctx: LoweringContext) -> None:
    _require_bool(node, ctx)
    params = Params("aot_unary_params", {"size": ctx.tensor(node.outputs[0]).size,
                                         "act": _NO_ACT})
    _call(ctx, node, "aot_not_bool", params, [Ref(node.inputs[0]), Ref(node.outputs[0])],
          inplace=[node.inputs[0]])


def lower_or_xor(node: Node, ctx: LoweringContext) -> None:
    _require_bool(node, ctx)
    a, b = ctx.tensor(node.inputs[0]), ctx.tensor(node.inputs[1])
    y = ctx.tensor(node.outputs[0])
    params = Params("aot_binary_params", {**broadcast_fields(y, a, b), "act": _NO_ACT})
    _call(ctx, node, f"aot_{node.op.lower()}_bool", params,
          [Ref(a.name), Ref(b.name), Ref(y.name)],
          inplace=[t.name for t in (a, b) if t.shape == y.shape])


def lower_min_max(node: Node, ctx: LoweringContext) -> None:
    """Max / Min of n inputs: the first two into the output, then each further
    input into the output in place (the output is never broadcast)."""
    names = [n for n in node.inputs if n]
    if not names:
        raise Unsupported("no inputs")
    y = ctx.tensor(node.outputs[0])
    dtype = _same_dtype(node, ctx, names)
    require_same_quant(node, ctx, [*names, y.name])
    suffix = _kernel_suffix(node, dtype, _NUMERIC)
    if len(names) == 1:
        if ctx.tensor(names[0]).shape != y.shape:
            raise Unsupported("one input whose shape differs from the output's")
        emit_copy(ctx, names[0], y.name, node.name)
        return
    kernel = f"aot_{node.op.lower()}_{suffix}"
    acc = names[0]
    for i, name in enumerate(names[1:]):
        a, b = ctx.tensor(acc), ctx.tensor(name)
        params = Params("aot_binary_params", {**broadcast_fields(y, a, b), "act": _NO_ACT})
        _call(ctx, node, kernel, params, [Ref(a.name), Ref(b.name), Ref(y.name)],
              inplace=[t.name for t in (a, b) if t.shape == y.shape] if i == 0 else ())
        acc = y.name


def lower_range(node: Node, ctx: LoweringContext) -> None:
    start, limit, delta = (ctx.tensor(n) for n in node.inputs[:3])
    y = ctx.tensor(node.outputs[0])
    dtype = _same_dtype(node, ctx, node.inputs[:3])
    suffix = _kernel_suffix(node, dtype, _RANGE_SUFFIX)
    if any(t.size != 1 for t in (start, limit, delta)) or len(y.shape) != 1:
        raise Unsupported("start, limit and delta must be scalars")
    params = Params("aot_range_params", {"count": y.shape[0]})
    ctx.emit(Call(f"aot_range_{suffix}", params,
                  (Ref(start.name), Ref(limit.name), Ref(delta.name), Ref(y.name)),
                  (start.name, limit.name, delta.name), (y.name,), node.name, node.op,
                  status=True))


RULES = {
    "Expand": lower_expand,
    "Slice": lower_slice,
    **dict.fromkeys(_COMPARE_OPS, lower_compare),
    "Not": lower_not,
    "Or": lower_or_xor,
    "Xor": lower_or_xor,
    "Max": lower_min_max,
    "Min": lower_min_max,
    "Range": lower_range,
}

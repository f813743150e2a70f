"""Generic (portable C) lowering rules for the ops of transformer encoders.

LayerNormalization, Gelu / Erf, the weight-only int8 kernels the 'fuse' pass
makes (`_MatMulW8`, `_GatherW8`, see aot.passes.fuse_transformer), Gather with
run-time indices (an out-of-range index makes `<name>_run` return AOT_E_RANGE),
GatherND (constant indices become byte offsets; run-time ones are checked like
Gather's), and the mask ops whose inputs depend on run-time data: Cast between
any numeric types and bool, IsNaN, And, Where (any element type). The other
mask ops are in rules_mask.py.
`_SoftmaxRows` (made by the 'fuse' pass) is attention's masked softmax.
ISA variants (VARIANT_RULES): `_MatMulW8` with AVX-512 ("avx512"), AVX2 + FMA
("avx2") and NEON ("neon"); they fuse multiply-adds, so they differ from the portable kernel by
rounding. Gelu and last-axis softmax with AVX-512, AVX2 and NEON: the portable
kernels' exact expressions per lane (softmax sums a row in another order);
layer normalization with AVX-512; `_MatMulStrided` with AVX-512 (its own
kernel), AVX2 and NEON (their matmul kernels, K^T packed first). Registered in
targets/registry.py.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from aot.ir import Node
from aot.program import Call, ConstArray, Null, Params, Ref, Scratch
from aot.targets.lowering import Fallback, LoweringContext, Unsupported
from aot.targets.rules_mask import require_same_quant
from aot.targets.rules_generic import (MAX_DIMS, _axis, _call, _contiguous_strides, _prod,
                                       _require_f32, act_fields, broadcast_fields, lower_cast)

F32 = np.dtype(np.float32)
BOOL = np.dtype(np.bool_)
_NO_ACT = act_fields((0, 0.0, 0.0, 0.0, 0.0))

# aot_dtype (ONNX TensorProto numbering)
_DT = {np.dtype(np.float32): "AOT_DT_FLOAT", np.dtype(np.uint8): "AOT_DT_UINT8",
       np.dtype(np.int8): "AOT_DT_INT8", np.dtype(np.uint16): "AOT_DT_UINT16",
       np.dtype(np.int16): "AOT_DT_INT16", np.dtype(np.int32): "AOT_DT_INT32",
       np.dtype(np.int64): "AOT_DT_INT64", BOOL: "AOT_DT_BOOL",
       np.dtype(np.float64): "AOT_DT_DOUBLE", np.dtype(np.uint32): "AOT_DT_UINT32",
       np.dtype(np.uint64): "AOT_DT_UINT64"}


def _unary(node: Node, ctx: LoweringContext, kernel: str, inplace: bool = True) -> None:
    params = Params("aot_unary_params", {"size": ctx.tensor(node.outputs[0]).size,
                                         "act": _NO_ACT})
    _call(ctx, node, kernel, params, [Ref(node.inputs[0]), Ref(node.outputs[0])],
          inplace=[node.inputs[0]] if inplace else [])


def lower_layer_norm(node: Node, ctx: LoweringContext) -> None:
    extra = [node.outputs[i] if len(node.outputs) > i else "" for i in (1, 2)]
    _require_f32(node, ctx, [node.inputs[0], node.outputs[0], *extra])
    x = ctx.tensor(node.inputs[0])
    axis = _axis(node.attr("axis", -1), len(x.shape), node)
    norm_shape = x.shape[axis:]
    consts = []
    for i, what in ((1, "Scale"), (2, "B")):
        name = node.inputs[i] if len(node.inputs) > i else ""
        if not name:
            consts.append(None)
            continue
        value = ctx.const_value(name)
        if value is None:
            raise Unsupported(f"{what} must be a constant")
        try:
            full = np.broadcast_to(value, norm_shape)
        except ValueError:
            raise Unsupported(f"{what} of shape {list(value.shape)} does not broadcast to the "
                              f"normalized shape {list(norm_shape)}") from None
        consts.append(full.astype(np.float32).reshape(-1))
    scale, bias = consts
    if scale is None:
        raise Unsupported("Scale is required")
    s_name = node.inputs[1]
    if ctx.tensor(s_name).shape != (_prod(norm_shape),):
        s_name = ctx.const(f"{node.name}_scale", np.ascontiguousarray(scale))
    b_name = ""
    if bias is not None:
        b_name = node.inputs[2]
        if ctx.tensor(b_name).shape != (_prod(norm_shape),) or ctx.tensor(b_name).dtype != F32:
            b_name = ctx.const(f"{node.name}_bias", np.ascontiguousarray(bias))
    if ctx.tensor(s_name).dtype != F32:
        s_name = ctx.const(f"{node.name}_scale", np.ascontiguousarray(scale))
    params = Params("aot_layer_norm_params", {
        "outer": _prod(x.shape[:axis]), "inner": _prod(norm_shape),
        "epsilon": float(node.attr("epsilon", 1e-5))})
    y = node.outputs[0]
    # Mean and InvStdDev, when asked for: [outer dims] + [1] * normalized rank
    operands = (Ref(x.name), Ref(s_name), Ref(b_name) if b_name else Null(), Ref(y),
                *(Ref(e) if e else Null() for e in extra))
    ctx.emit(Call("aot_layer_norm_f32", params, operands,
                  tuple(o.tensor for o in operands[:3] if isinstance(o, Ref)),
                  (y, *(e for e in extra if e)), node.name, node.op,
                  inplace=() if any(extra) else (x.name,)))


def lower_gelu(node: Node, ctx: LoweringContext) -> None:
    _require_f32(node, ctx)
    approximate = node.attr("approximate", "none")
    if approximate not in ("none", "tanh"):
        raise Unsupported(f"approximate={approximate!r} (none and tanh are supported)")
    _unary(node, ctx, "aot_gelu_f32" if approximate == "none" else "aot_gelu_tanh_f32")


def lower_erf(node: Node, ctx: LoweringContext) -> None:
    _require_f32(node, ctx)
    _unary(node, ctx, "aot_erf_f32")


def lower_isnan(node: Node, ctx: LoweringContext) -> None:
    _require_f32(node, ctx, node.inputs[:1])
    _unary(node, ctx, "aot_isnan_f32", inplace=False)


def lower_and(node: Node, ctx: LoweringContext) -> None:
    a, b = ctx.tensor(node.inputs[0]), ctx.tensor(node.inputs[1])
    y = ctx.tensor(node.outputs[0])
    if a.dtype != BOOL or b.dtype != BOOL:
        raise Unsupported("And of non-bool tensors")
    params = Params("aot_binary_params", {**broadcast_fields(y, a, b), "act": _NO_ACT})
    _call(ctx, node, "aot_and_bool", params, [Ref(a.name), Ref(b.name), Ref(y.name)],
          inplace=[t.name for t in (a, b) if t.shape == y.shape])


def _strides_for(out_shape, shape) -> list[int]:
    rank = len(out_shape)
    padded = (1,) * (rank - len(shape)) + tuple(shape)
    return [0 if d == 1 else s for d, s in zip(padded, _contiguous_strides(padded))]


def lower_where(node: Node, ctx: LoweringContext) -> None:
    c, x, yv = (ctx.tensor(n) for n in node.inputs)
    out = ctx.tensor(node.outputs[0])
    if c.dtype != BOOL:
        raise Unsupported("Where's condition must be bool")
    if x.dtype != out.dtype or yv.dtype != out.dtype:
        raise Unsupported(f"X ({x.dtype}) and Y ({yv.dtype}) differ in type")
    if out.dtype.itemsize not in (1, 2, 4, 8):
        raise Unsupported(f"{out.dtype} elements ({out.dtype.itemsize} bytes)")
    require_same_quant(node, ctx, [x.name, yv.name, out.name])
    dims = list(out.shape)
    strides = [_strides_for(out.shape, t.shape) for t in (c, x, yv)]
    keep = [i for i, d in enumerate(dims) if d != 1]
    dims = [dims[i] for i in keep]
    strides = [[s[i] for i in keep] for s in strides]
    i = len(dims) - 1
    while i > 0:   # merge dim i-1 into dim i when every operand continues contiguously
        if all(s[i - 1] == s[i] * dims[i] for s in strides):
            dims[i - 1:i + 1] = [dims[i - 1] * dims[i]]
            for s in strides:
                s[i - 1:i + 1] = [s[i]]
        i -= 1
    if len(dims) > MAX_DIMS:
        raise Unsupported(f"broadcast over {len(dims)} non-collapsible dims (at most {MAX_DIMS})")
    if len(dims) <= 1 and all(s in ([], [1]) for s in strides):
        dims, strides = [], [[], [], []]
    pad = [0] * (MAX_DIMS - len(dims))
    params = Params("aot_where_params", {
        "size": out.size, "ndim": len(dims), "dims": tuple(dims + pad),
        "c_strides": tuple(strides[0] + pad), "x_strides": tuple(strides[1] + pad),
        "y_strides": tuple(strides[2] + pad), "elem_bytes": out.dtype.itemsize})
    # float32 keeps its typed kernel; every other type moves elements by size
    _call(ctx, node, "aot_where_f32" if out.dtype == F32 else "aot_where", params,
          [Ref(c.name), Ref(x.name), Ref(yv.name), Ref(out.name)])


def lower_cast_any(node: Node, ctx: LoweringContext) -> None:
    src, dst = ctx.tensor(node.inputs[0]), ctx.tensor(node.outputs[0])
    if src.dtype == dst.dtype:
        lower_cast(node, ctx)
        return
    if src.dtype not in _DT or dst.dtype not in _DT:
        raise Unsupported(f"Cast from {src.dtype} to {dst.dtype} at run time")
    params = Params("aot_cast_params", {"size": dst.size, "from": _DT[src.dtype],
                                        "to": _DT[dst.dtype]})
    _call(ctx, node, "aot_cast", params, [Ref(src.name), Ref(dst.name)])


def _gather_rows(ctx: LoweringContext, node: Node, src: str, dst: str,
                 offsets: np.ndarray, row_bytes: int) -> None:
    if offsets.size and int(offsets.max()) + row_bytes > 2**31 - 1:
        raise Unsupported("source tensor over 2 GiB")
    params = Params("aot_gather_rows_params", {
        "rows": int(offsets.size), "row_bytes": row_bytes,
        "offsets": ConstArray(offsets.astype(np.int32))})
    _call(ctx, node, "aot_gather_rows", params, [Ref(src), Ref(dst)])


def lower_gather(node: Node, ctx: LoweringContext) -> None:
    data, ids = ctx.tensor(node.inputs[0]), ctx.tensor(node.inputs[1])
    out = ctx.tensor(node.outputs[0])
    axis = _axis(node.attr("axis", 0), len(data.shape), node)
    outer, dim = _prod(data.shape[:axis]), data.shape[axis]
    inner = _prod(data.shape[axis + 1:]) * data.dtype.itemsize
    if ids.is_const:
        idx = ids.data.astype(np.int64).reshape(-1)
        if idx.size and (idx.min() < -dim or idx.max() >= dim):
            raise Unsupported(f"constant index out of range [-{dim}, {dim})")
        idx = np.where(idx < 0, idx + dim, idx)
        offsets = ((np.arange(outer)[:, None] * dim + idx[None, :]) * inner).reshape(-1)
        _gather_rows(ctx, node, data.name, out.name, offsets, inner)
        return
    if ids.dtype != np.int64:
        raise Unsupported(f"{ids.dtype} indices at run time (int64 are supported)")
    params = Params("aot_gather_params", {"outer": outer, "axis_dim": dim,
                                          "count": ids.size, "inner_bytes": inner})
    ctx.emit(Call("aot_gather", params, (Ref(data.name), Ref(ids.name), Ref(out.name)),
                  (data.name, ids.name), (out.name,), node.name, node.op, status=True))


def lower_gather_nd(node: Node, ctx: LoweringContext) -> None:
    data, ids = ctx.tensor(node.inputs[0]), ctx.tensor(node.inputs[1])
    out = ctx.tensor(node.outputs[0])
    b = int(node.attr("batch_dims", 0))
    if not ids.is_const:
        _gather_nd_runtime(node, ctx, data, ids, out, b)
        return
    idx = ids.data.astype(np.int64)
    depth = idx.shape[-1]
    batch_shape = data.shape[:b]
    slice_shape = data.shape[b + depth:]
    row = _prod(slice_shape) * data.dtype.itemsize
    strides = np.array(_contiguous_strides(data.shape), dtype=np.int64)
    lookup = idx.reshape(_prod(batch_shape), -1, depth)
    bounds = np.array(data.shape[b:b + depth], dtype=np.int64)
    if lookup.size and (np.any(lookup < -bounds) or np.any(lookup >= bounds)):
        raise Unsupported("constant index out of range")
    lookup = np.where(lookup < 0, lookup + bounds, lookup)
    batch_off = np.arange(_prod(batch_shape), dtype=np.int64) * \
        (_prod(data.shape[b:]) if batch_shape else 0)
    offsets = (batch_off[:, None] + (lookup * strides[b:b + depth]).sum(-1)) \
        * data.dtype.itemsize
    if _prod(out.shape) * data.dtype.itemsize != offsets.size * row:
        raise Unsupported("output shape does not match the indices")
    _gather_rows(ctx, node, data.name, out.name, offsets.reshape(-1), row)


def _gather_nd_runtime(node: Node, ctx: LoweringContext, data, ids, out, b: int) -> None:
    """GatherND with run-time int64 indices: aot_gather_nd checks every index."""
    if ids.dtype != np.int64:
        raise Unsupported(f"{ids.dtype} indices at run time (int64 are supported)")
    depth = ids.shape[-1] if ids.shape else 0
    if not 0 <= b < len(ids.shape) or not 1 <= depth <= len(data.shape) - b \
            or ids.shape[:b] != data.shape[:b]:
        raise Unsupported(f"indices of shape {list(ids.shape)} with batch_dims {b} do not "
                          f"index data of shape {list(data.shape)}")
    if depth > MAX_DIMS:
        raise Unsupported(f"index tuples of {depth} entries (at most {MAX_DIMS})")
    item = data.dtype.itemsize
    strides = [s * item for s in _contiguous_strides(data.shape[b:])]
    row = _prod(data.shape[b + depth:]) * item
    batch, count = _prod(data.shape[:b]), _prod(ids.shape[b:-1])
    if out.nbytes != batch * count * row:
        raise Unsupported("output shape does not match the indices")
    pad = [0] * (MAX_DIMS - depth)
    params = Params("aot_gather_nd_params", {
        "batch": batch, "count": count, "depth": depth, "row_bytes": row,
        "batch_bytes": _prod(data.shape[b:]) * item,
        "dims": tuple(list(data.shape[b:b + depth]) + pad),
        "strides": tuple(strides[:depth] + pad)})
    ctx.emit(Call("aot_gather_nd", params, (Ref(data.name), Ref(ids.name), Ref(out.name)),
                  (data.name, ids.name), (out.name,), node.name, node.op, status=True))


def lower_matmul_w8(node: Node, ctx: LoweringContext) -> None:
    x, q, s = (ctx.tensor(n) for n in node.inputs[:3])
    bias = node.inputs[3] if len(node.inputs) > 3 else ""
    y = ctx.tensor(node.outputs[0])
    k, n = q.shape
    if k < 1:
        raise Unsupported("an empty inner dimension")
    m = x.size // k
    params = Params("aot_matmul_w8_params", {"m": m, "n": n, "k": k})
    _call(ctx, node, "aot_matmul_w8_f32", params,
          [Ref(x.name), Ref(q.name), Ref(s.name), Ref(bias) if bias else Null(), Ref(y.name)],
          macs=m * n * k, op="MatMul(int8 weights)" + ("+Add" if bias else ""))


def lower_gather_w8(node: Node, ctx: LoweringContext) -> None:
    q, s, ids = (ctx.tensor(n) for n in node.inputs)
    out = ctx.tensor(node.outputs[0])
    if ids.dtype != np.int64:
        raise Unsupported(f"{ids.dtype} indices at run time (int64 are supported)")
    rows, cols = q.shape
    s_shape = (1,) * (2 - len(s.shape)) + s.shape
    params = Params("aot_gather_w8_params", {
        "rows": rows, "cols": cols, "count": ids.size,
        "scale_row_stride": s_shape[1] if s_shape[0] > 1 else 0,
        "scale_col_stride": 1 if s_shape[1] > 1 else 0})
    ctx.emit(Call("aot_gather_w8_f32", params,
                  (Ref(ids.name), Ref(q.name), Ref(s.name), Ref(out.name)),
                  (ids.name, q.name, s.name), (out.name,), node.name,
                  "Gather(int8 table)", status=True))


def _matmul_w8_panels(kernel: str, panel: int):
    """A rule for a SIMD aot_matmul_w8 whose weights are re-laid out in panels of
    `panel` columns, [ceil(n / panel)][k][panel] (zero padded), so that each panel
    the kernel runs down is one contiguous run."""
    def rule(node: Node, ctx: LoweringContext) -> None:
        first = len(ctx.steps)
        lower_matmul_w8(node, ctx)
        call = ctx.steps[first]
        q = ctx.tensor(node.inputs[1])
        k, n = q.shape
        panels = -(-n // panel)
        padded = np.zeros((k, panels * panel), np.int8)
        padded[:, :n] = q.data
        packed = np.ascontiguousarray(padded.reshape(k, panels, panel).transpose(1, 0, 2))
        operands = list(call.operands)
        operands[1] = Ref(ctx.const(f"{q.name}_panels{panel}", packed))
        ctx.steps[first] = dataclasses.replace(
            call, kernel=kernel, operands=tuple(operands),
            reads=tuple(o.tensor for o in operands[:-1] if isinstance(o, Ref)))
    rule.__name__ = f"lower_{kernel}"
    return rule


def lower_softmax_rows(node: Node, ctx: LoweringContext,
                       kernel: str = "aot_softmax_rows_f32") -> None:
    """Softmax over the last axis (also `_SoftmaxRows`: plus a bias that repeats
    over the rows, NaN results replaced by attribute `nan_to` when present)."""
    _require_f32(node, ctx, [*node.inputs, *node.outputs])
    x = ctx.tensor(node.inputs[0])
    if not x.shape:
        raise Unsupported("softmax of a scalar")
    cols = x.shape[-1]
    rows = x.size // cols if cols else 0
    bias = node.inputs[1] if len(node.inputs) > 1 else ""
    bias_rows = ctx.tensor(bias).size // cols if bias and cols else 1
    nan_to = node.attr("nan_to")
    params = Params("aot_softmax_rows_params", {
        "rows": rows, "cols": cols, "bias_rows": max(bias_rows, 1),
        "replace_nan": int(nan_to is not None),
        "nan_value": float(nan_to) if nan_to is not None else 0.0})
    op = "Softmax" + ("(+mask)" if bias else "") + ("(NaN->%g)" % nan_to if nan_to is not None
                                                    else "")
    # Each x is read before the y at the same index is written (see the kernel).
    _call(ctx, node, kernel, params,
          [Ref(x.name), Ref(bias) if bias else Null(), Ref(node.outputs[0])],
          op=op, inplace=[x.name])


def lower_matmul_strided(node: Node, ctx: LoweringContext,
                         kernel: str = "aot_matmul_f32") -> None:
    """`_MatMulStrided` (aot.passes.fuse_transformer): a batched MatMul reading
    its operands through strides and per-batch offsets (aot_matmul_params)."""
    _require_f32(node, ctx, [*node.inputs, *node.outputs])
    f = node.attrs
    batch, m, n, k = f["batch"], f["m"], f["n"], f["k"]
    offsets = {f"{key}_offsets": ConstArray(np.array(f[f"{key}_offsets"], np.int32))
               if batch > 1 and any(f[f"{key}_offsets"]) else None for key in "ab"}
    params = Params("aot_matmul_params", {
        "batch": batch, "m": m, "n": n, "k": k,
        "a_row_stride": f["a_strides"][0], "a_k_stride": f["a_strides"][1],
        "b_k_stride": f["b_strides"][0], "b_col_stride": f["b_strides"][1],
        "bias_row_stride": 0, "bias_col_stride": 0, "alpha": float(f["alpha"]), "beta": 0.0,
        **offsets, "act": _NO_ACT})
    operands = [Ref(node.inputs[0]), Ref(node.inputs[1]), Null(), Ref(node.outputs[0])]
    scratch = 0
    if kernel == "aot_matmul_strided_avx512_f32":   # one batch of B: [k][n rounded up to 32]
        scratch = k * -(-n // 32) * 32 * 4
    elif kernel != "aot_matmul_f32" and f["b_strides"][1] != 1:   # one batch of B: [k][n]
        scratch = k * n * 4
    if kernel != "aot_matmul_f32":
        operands.append(Scratch() if scratch else Null())
    ctx.emit(Call(kernel, params, tuple(operands), tuple(node.inputs[:2]), (node.outputs[0],),
                  node.name, "MatMul(strided)", batch * m * n * k, scratch_bytes=scratch))


def _matmul_strided_variant(kernel: str):
    def rule(node: Node, ctx: LoweringContext) -> None:
        lower_matmul_strided(node, ctx, kernel)
    rule.__name__ = f"lower_{kernel}"
    return rule


def _layer_norm_avx512(node: Node, ctx: LoweringContext) -> None:
    first = len(ctx.steps)
    lower_layer_norm(node, ctx)
    ctx.steps[first] = dataclasses.replace(ctx.steps[first], kernel="aot_layer_norm_avx512_f32")


def _softmax_variant(kernel: str):
    """Softmax over the last axis (float32) and `_SoftmaxRows`; other forms Fallback."""
    def rule(node: Node, ctx: LoweringContext) -> None:
        x = ctx.tensor(node.inputs[0])
        if node.op == "Softmax" and (x.dtype != F32 or not x.shape or
                                     node.attr("axis", -1) not in (-1, len(x.shape) - 1)):
            raise Fallback()
        lower_softmax_rows(node, ctx, kernel)
    rule.__name__ = f"lower_{kernel}"
    return rule


def _gelu_variant(kernel: str):
    """Exact GELU; the tanh form Falls back."""
    def rule(node: Node, ctx: LoweringContext) -> None:
        if node.attr("approximate", "none") != "none":
            raise Fallback()
        _require_f32(node, ctx)
        _unary(node, ctx, kernel)
    rule.__name__ = f"lower_{kernel}"
    return rule


RULES = {
    "LayerNormalization": lower_layer_norm,
    "Gelu": lower_gelu,
    "Erf": lower_erf,
    "IsNaN": lower_isnan,
    "And": lower_and,
    "Where": lower_where,
    "Gather": lower_gather,
    "GatherND": lower_gather_nd,
    # internal ops made by passes (never accepted from a model)
    "_MatMulW8": lower_matmul_w8,
    "_GatherW8": lower_gather_w8,
    "_SoftmaxRows": lower_softmax_rows,
    "_MatMulStrided": lower_matmul_strided,
}

# ISA variants (registry keys of Target.variants); Softmax (int8, or not over the
# last axis) and Gelu (tanh form) raise Fallback to the generic rule.
VARIANT_RULES = {
    ("_MatMulW8", "avx512"): _matmul_w8_panels("aot_matmul_w8_avx512_f32", 32),
    ("_MatMulW8", "avx2"): _matmul_w8_panels("aot_matmul_w8_avx2_f32", 16),
    ("_MatMulW8", "neon"): _matmul_w8_panels("aot_matmul_w8_neon_f32", 8),
    # bit for bit the portable kernels' results (softmax: up to the row sum's order)
    ("Gelu", "avx512"): _gelu_variant("aot_gelu_avx512_f32"),
    ("Gelu", "avx2"): _gelu_variant("aot_gelu_avx2_f32"),
    ("Gelu", "neon"): _gelu_variant("aot_gelu_neon_f32"),
    ("LayerNormalization", "avx512"): _layer_norm_avx512,
    ("_MatMulStrided", "avx512"): _matmul_strided_variant("aot_matmul_strided_avx512_f32"),
    ("_MatMulStrided", "avx2"): _matmul_strided_variant("aot_matmul_strided_avx2_f32"),
    ("_MatMulStrided", "neon"): _matmul_strided_variant("aot_matmul_strided_neon_f32"),
    ("Softmax", "avx512"): _softmax_variant("aot_softmax_rows_avx512_f32"),
    ("_SoftmaxRows", "avx512"): _softmax_variant("aot_softmax_rows_avx512_f32"),
    ("Softmax", "avx2"): _softmax_variant("aot_softmax_rows_avx2_f32"),
    ("_SoftmaxRows", "avx2"): _softmax_variant("aot_softmax_rows_avx2_f32"),
    ("Softmax", "neon"): _softmax_variant("aot_softmax_rows_neon_f32"),
    ("_SoftmaxRows", "neon"): _softmax_variant("aot_softmax_rows_neon_f32"),
}

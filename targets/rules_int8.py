"""Generic (portable C) lowering rules for int8 ops (TFLite's int8 scheme).

Every multiplier, shift, offset and clamp range is computed here with
TFLite's own arithmetic (aot.quantmath), so the C kernels run integer code
only and match TensorFlow Lite Micro bit for bit.
"""

from __future__ import annotations

import numpy as np

from aot import quantmath as qm
from aot.ir import Node, Quant, Tensor
from aot.program import ConstArray, Null, Params, Ref
from aot.targets.lowering import LoweringContext, Unsupported
from aot.targets.rules_generic import (MAX_DIMS, _axis, _as_2d, _call, _prod, _spatial_pads,
                                       broadcast_fields, conv_geometry, pad_geometry)

S8 = np.dtype(np.int8)


def _quant(ctx: LoweringContext, name: str) -> Quant:
    t = ctx.tensor(name)
    if t.quant is None:
        raise Unsupported(f"int8 tensor '{name}' has no scale/zero point")
    return t.quant


def _per_tensor(ctx, name: str) -> tuple[float, int]:
    q = _quant(ctx, name)
    if len(q.scale) != 1:
        raise Unsupported(f"tensor '{name}' is quantized per channel; per tensor expected")
    return q.scale[0], q.zero_point[0]


def _act_range(node: Node, ctx: LoweringContext, out: str) -> tuple[int, int]:
    scale, zp = _per_tensor(ctx, out)
    lo, hi = node.attr("_qact", (None, None))
    return qm.activation_range(scale, zp, lo, hi)


def _require_s8(node: Node, ctx: LoweringContext, names) -> None:
    for name in names:
        if name and ctx.tensor(name).dtype != S8:
            raise Unsupported(f"{ctx.tensor(name).dtype} tensor '{name}': the int8 kernels "
                              f"take int8 activations (uint8 is not supported yet)")


def _zero_points(ctx: LoweringContext, name: str, count: int, what: str) -> list[int]:
    """A constant zero-point input (absent: 0) as one value per channel."""
    if not name:
        return [0] * count
    value = ctx.const_value(name)
    if value is None:
        raise Unsupported(f"{what} zero point '{name}' must be a constant")
    value = np.asarray(value).reshape(-1)
    if ctx.tensor(name).dtype != S8:
        raise Unsupported(f"{ctx.tensor(name).dtype} zero point '{name}': int8/uint8 expected")
    if value.size not in (1, count):
        raise Unsupported(f"{what} zero point '{name}' has {value.size} values; 1 or {count} "
                          f"expected")
    return [int(v) for v in value] * (count if value.size == 1 else 1)


def _weight_offsets(zps: list[int]):
    """(weights_offset, weights_offsets) fields: a scalar when all channels share one
    zero point, else a per-channel array (NULL when unused)."""
    if len(set(zps)) == 1:
        return -zps[0], None
    return 0, ConstArray(np.array([-z for z in zps], np.int32))


def _per_channel(ctx, w, channels: int, axis: int, what: str) -> Quant:
    """The weight quantization of w, checked to be per tensor or along `axis`."""
    wq = _quant(ctx, w.name)
    rank = len(w.shape)
    if len(wq.scale) > 1 and (len(wq.scale) != channels or wq.axis is None
                              or wq.axis % rank != axis % rank):
        raise Unsupported(f"{what} weight scales must be per tensor or per output channel")
    return wq


def _const_bias(ctx, bias: str, count: int, what: str) -> None:
    if bias:
        t = ctx.tensor(bias)
        if t.dtype != np.int32 or not t.is_const or t.size != count:
            raise Unsupported(f"int8 {what} bias must be a constant int32 vector of {count}")


def lower_conv_s8(node: Node, ctx: LoweringContext) -> None:
    """Conv (and depthwise Conv) on int8: TFLite's per-channel convolution, or its
    variant with a per-output-channel weight zero point (asymmetric, e.g. uint8
    weights) -- a separate kernel, so the TFLite path pays nothing for it."""
    x, w, y = (ctx.tensor(n) for n in (node.inputs[0], node.inputs[1], node.outputs[0]))
    _require_s8(node, ctx, [x.name, w.name, y.name])
    if not w.is_const:
        raise Unsupported("int8 convolution needs constant weights")
    geo = conv_geometry(node, x, w, y)
    in_scale, in_zp = _per_tensor(ctx, x.name)
    out_scale, out_zp = _per_tensor(ctx, y.name)
    out_c = y.shape[1]
    wq = _per_channel(ctx, w, out_c, 0, "conv")
    scales = wq.scale * (out_c if len(wq.scale) == 1 else 1)
    mults, shifts = qm.conv_multipliers(in_scale, scales, out_scale)
    w_off, w_offs = _weight_offsets(list(wq.zero_point) * (out_c if len(wq.zero_point) == 1
                                                           else 1))
    if w_offs is None and w_off != 0:
        w_offs = ConstArray(np.full(out_c, w_off, np.int32))
    act_min, act_max = _act_range(node, ctx, y.name)
    bias = node.inputs[2] if len(node.inputs) > 2 and node.inputs[2] else ""
    _const_bias(ctx, bias, out_c, "convolution")
    params = Params("aot_conv2d_s8_params", {
        **geo, "input_offset": -in_zp, "output_offset": out_zp, "act_min": act_min,
        "act_max": act_max, "multipliers": ConstArray(mults), "shifts": ConstArray(shifts),
        "weights_offsets": w_offs})
    macs = y.size * (x.shape[1] // geo["groups"]) * geo["kernel_h"] * geo["kernel_w"]
    operands = [Ref(x.name), Ref(w.name), Ref(bias) if bias else Null(), Ref(y.name)]
    if w_offs is not None:   # asymmetric weights: TFLite has no such conv, no in-place variant
        _call(ctx, node, "aot_conv2d_asym_s8", params, operands, macs)
        return
    from aot.targets.rules_inplace import emit_conv   # in-place variant where it can run
    emit_conv(ctx, node, "aot_conv2d_s8", params, operands, macs)


def lower_conv_integer(node: Node, ctx: LoweringContext) -> None:
    """ConvInteger: int32 sums of (x - x_zero_point) * (w - w_zero_point), no
    requantization (uint8 operands arrive as int8 codes, see passes/qdq.py)."""
    x, w, y = (ctx.tensor(n) for n in (node.inputs[0], node.inputs[1], node.outputs[0]))
    _require_s8(node, ctx, [x.name, w.name])
    if y.dtype != np.int32:
        raise Unsupported("ConvInteger output must be int32")
    if not w.is_const:
        raise Unsupported("ConvInteger needs constant weights")
    geo = conv_geometry(node, x, w, y)
    inputs = list(node.inputs) + ["", ""]
    [x_zp] = _zero_points(ctx, inputs[2], 1, "ConvInteger input")
    w_off, w_offs = _weight_offsets(_zero_points(ctx, inputs[3], y.shape[1],
                                                 "ConvInteger weight"))
    if w_offs is None and w_off != 0:
        w_offs = ConstArray(np.full(y.shape[1], w_off, np.int32))
    params = Params("aot_conv2d_s8_params", {
        **geo, "input_offset": -x_zp, "output_offset": 0, "act_min": 0, "act_max": 0,
        "multipliers": None, "shifts": None, "weights_offsets": w_offs})
    macs = y.size * (x.shape[1] // geo["groups"]) * geo["kernel_h"] * geo["kernel_w"]
    _call(ctx, node, "aot_conv2d_s8_s32", params,
          [Ref(x.name), Ref(w.name), Null(), Ref(y.name)], macs)


def _emit_fc(ctx: LoweringContext, node: Node, a, b, trans_b: bool, bias: str, y,
             fields: dict, kernel: str) -> None:
    """Matrix product(s) A x B (+ bias) with the fully-connected kernel, which
    streams weights as [n][k] rows. A is [..., M, K]; B is [K, N] ([N, K] with
    trans_b), or batched [..., K, N] with batch dims broadcast against A's.
    Prepare: constant B is stored transposed; a run-time B is transposed into
    a temporary first. One call when B has no batch dims (A's leading dims fold
    into M), else one call per batch element."""
    from aot.targets.rules_generic import _contiguous_strides

    a_shape = (1,) + a.shape if len(a.shape) == 1 else a.shape
    b_shape = b.shape + (1,) if len(b.shape) == 1 else b.shape
    if trans_b and len(b_shape) != 2:
        raise Unsupported("transB on a batched operand")
    if trans_b:
        n, k = b_shape
        b_batch: tuple[int, ...] = ()
    else:
        k, n = b_shape[-2:]
        b_batch = tuple(b_shape[:-2])
    if a_shape[-1] != k:
        raise Unsupported(f"inner dimensions differ ({a_shape[-1]} vs {k})")
    # Weights as [..., n, k].
    if b.is_const:
        data = np.asarray(b.data).reshape(b_shape)
        data = data if trans_b else np.ascontiguousarray(np.swapaxes(data, -1, -2))
        w_name = ctx.const(f"{b.name}_nk", data)
        ctx.tensors[w_name] = Tensor(w_name, data.shape, data.dtype, ctx.tensors[w_name].data,
                                     b.quant)
    elif trans_b:
        w_name = b.name
    else:
        rank = len(b_shape)
        perm = list(range(rank - 2)) + [rank - 1, rank - 2]
        if rank > MAX_DIMS:
            raise Unsupported(f"batched matrix product of rank {rank}")
        w_name = ctx.temp(f"{b.name}_nk", tuple(b_shape[p] for p in perm), S8)
        strides = _contiguous_strides(b_shape)
        pad = [0] * (MAX_DIMS - rank)
        params = Params("aot_transpose_params", {
            "ndim": rank, "out_dims": tuple([b_shape[p] for p in perm] + pad),
            "in_strides": tuple([strides[p] for p in perm] + pad)})
        _call(ctx, node, "aot_transpose_s8", params, [Ref(b.name), Ref(w_name)],
              op="Transpose")
    bias_op = Ref(bias) if bias else Null()
    if not b_batch:
        m = _prod(a_shape[:-1])
        params = Params(fields.pop("ctype"), {"m": m, "n": n, "k": k, **fields})
        _call(ctx, node, kernel, params, [Ref(a.name), Ref(w_name), bias_op, Ref(y.name)],
              m * n * k)
        return
    m = a_shape[-2]
    a_batch = tuple(a_shape[:-2])
    batch_shape = np.broadcast_shapes(a_batch, b_batch)
    ctype = fields.pop("ctype")
    params = Params(ctype, {"m": m, "n": n, "k": k, **fields})
    a_index = np.broadcast_to(np.arange(_prod(a_batch)).reshape(a_batch), batch_shape).reshape(-1)
    b_index = np.broadcast_to(np.arange(_prod(b_batch)).reshape(b_batch), batch_shape).reshape(-1)
    for i, (ai, bi) in enumerate(zip(a_index.tolist(), b_index.tolist())):
        _call(ctx, node, kernel, params,
              [Ref(a.name, ai * m * k), Ref(w_name, bi * n * k), bias_op,
               Ref(y.name, i * m * n)], m * n * k)


def lower_gemm_s8(node: Node, ctx: LoweringContext) -> None:
    """Fully connected: Gemm made by the QDQ pass from MatMul(+Add), a QDQ Gemm, or a
    (batched) QLinearMatMul. Per-tensor weights take TFLite's FullyConnected
    arithmetic, per-output-channel weights FullyConnectedPerChannel's."""
    a, b, y = (ctx.tensor(n) for n in (node.inputs[0], node.inputs[1], node.outputs[0]))
    _require_s8(node, ctx, [a.name, b.name, y.name])
    if node.attr("transA", 0) or node.attr("alpha", 1.0) != 1.0 or node.attr("beta", 1.0) != 1.0:
        raise Unsupported("int8 Gemm with transA, alpha or beta is not supported")
    trans_b = bool(node.attr("transB", 0))
    in_scale, in_zp = _per_tensor(ctx, a.name)
    out_scale, out_zp = _per_tensor(ctx, y.name)
    n = b.shape[0] if trans_b else (b.shape[-1] if len(b.shape) > 1 else 1)
    wq = _per_channel(ctx, b, n, 0 if trans_b else len(b.shape) - 1, "fully-connected")
    if len(wq.scale) == 1:
        mult, shift = qm.fc_multiplier(in_scale, wq.scale[0], out_scale)
        requant = {"multiplier": mult, "shift": shift, "multipliers": None, "shifts": None}
    else:
        mults, shifts = qm.conv_multipliers(in_scale, wq.scale, out_scale)
        requant = {"multiplier": 0, "shift": 0, "multipliers": ConstArray(mults),
                   "shifts": ConstArray(shifts)}
    w_off, w_offs = _weight_offsets(list(wq.zero_point))
    bias = node.inputs[2] if len(node.inputs) > 2 and node.inputs[2] else ""
    _const_bias(ctx, bias, n, "fully connected")
    act_min, act_max = _act_range(node, ctx, y.name)
    fields = {"ctype": "aot_fully_connected_s8_params", "input_offset": -in_zp,
              "weights_offset": w_off, "output_offset": out_zp, "act_min": act_min,
              "act_max": act_max, **requant, "weights_offsets": w_offs}
    _emit_fc(ctx, node, a, b, trans_b, bias, y, fields, "aot_fully_connected_s8")


def lower_matmul_integer(node: Node, ctx: LoweringContext) -> None:
    """MatMulInteger: int32 sums of (a - a_zero_point) * (b - b_zero_point)."""
    a, b, y = (ctx.tensor(n) for n in (node.inputs[0], node.inputs[1], node.outputs[0]))
    _require_s8(node, ctx, [a.name, b.name])
    if y.dtype != np.int32:
        raise Unsupported("MatMulInteger output must be int32")
    inputs = list(node.inputs) + ["", ""]
    n = b.shape[-1] if len(b.shape) > 1 else 1
    if inputs[2] and ctx.tensor(inputs[2]).size != 1:
        raise Unsupported("MatMulInteger with a per-row a_zero_point is not supported")
    [a_zp] = _zero_points(ctx, inputs[2], 1, "MatMulInteger A")
    w_off, w_offs = _weight_offsets(_zero_points(ctx, inputs[3], n, "MatMulInteger B"))
    fields = {"ctype": "aot_fully_connected_s8_params", "input_offset": -a_zp,
              "weights_offset": w_off, "output_offset": 0, "act_min": 0, "act_max": 0,
              "multiplier": 0, "shift": 0, "multipliers": None, "shifts": None,
              "weights_offsets": w_offs}
    _emit_fc(ctx, node, a, b, False, "", y, fields, "aot_fully_connected_s8_s32")


def lower_add_s8(node: Node, ctx: LoweringContext) -> None:
    a, b, y = (ctx.tensor(n) for n in (node.inputs[0], node.inputs[1], node.outputs[0]))
    _require_s8(node, ctx, [a.name, b.name, y.name])
    (sa, za), (sb, zb), (so, zo) = (_per_tensor(ctx, n) for n in (a.name, b.name, y.name))
    act_min, act_max = _act_range(node, ctx, y.name)
    params = Params("aot_add_s8_params", {
        **broadcast_fields(y, a, b),
        "a_offset": -za, "b_offset": -zb, "output_offset": zo,
        "act_min": act_min, "act_max": act_max, **_ordered_add(qm.add_params(sa, sb, so))})
    _call(ctx, node, "aot_add_s8", params, [Ref(a.name), Ref(b.name), Ref(y.name)])


def _ordered_add(p: dict) -> dict:
    return {k: p[k] for k in ("a_multiplier", "a_shift", "b_multiplier", "b_shift",
                              "left_shift", "output_multiplier", "output_shift")}


def _differs(ctx, src: str, dst: str) -> bool:
    """Whether two int8 tensors have different (per-tensor) scale or zero point."""
    return _per_tensor(ctx, src) != _per_tensor(ctx, dst)


def _emit_requantize(ctx: LoweringContext, node: Node, src: str, dst: str,
                     act: tuple[int, int] = (-128, 127), *, src_quant=None, size=None,
                     dst_offset: int = 0) -> None:
    """dst = src requantized from src's (scale, zero point) (or src_quant) to dst's,
    as TFLite's int8 -> int8 QUANTIZE, clamped to act (int8 codes of dst)."""
    in_scale, in_zp = src_quant if src_quant is not None else _per_tensor(ctx, src)
    out_scale, out_zp = _per_tensor(ctx, dst)
    mult, shift = qm.requantize_multiplier(in_scale, out_scale)
    params = Params("aot_requantize_s8_params", {
        "size": ctx.tensor(src).size if size is None else size, "input_offset": -in_zp,
        "output_offset": out_zp, "multiplier": mult, "shift": shift,
        "act_min": act[0], "act_max": act[1]})
    _call(ctx, node, "aot_requantize_s8", params, [Ref(src), Ref(dst, dst_offset)],
          op="Requantize", inplace=() if dst_offset else (src,))


def _staged(ctx: LoweringContext, node: Node, y, hint: str) -> str:
    """A temporary for an op's result in its input's quantization, to be
    requantized into y afterwards (TFLite's kernel wants equal parameters)."""
    return ctx.temp(f"{node.name}_{hint}", y.shape, S8)


def lower_pool_s8(node: Node, ctx: LoweringContext) -> None:
    """Max/average pooling on int8. TFLite pools with equal input and output
    parameters; where a QDQ model's differ, max-pooled int8 codes are requantized
    to the output's parameters, and average pooling rescales and divides in one
    rounding (a multiplier per tap count, which also serves count_include_pad,
    where padded taps count as the zero point). A GlobalAveragePool is TFLite
    Micro's int8 MEAN over H and W (one rescale by input_scale / output_scale /
    count), equal parameters or not: TFLite converters write a global average as
    MEAN, whose rounding differs from AVERAGE_POOL_2D's (e.g. a mean of -0.5 LSB
    is 0 there, -1 in the pool)."""
    x, y = ctx.tensor(node.inputs[0]), ctx.tensor(node.outputs[0])
    _require_s8(node, ctx, [x.name, y.name])
    if len(node.outputs) > 1 and node.outputs[1]:
        raise Unsupported("MaxPool's Indices output is not supported")
    nsp = len(x.shape) - 2
    if nsp not in (1, 2):
        raise Unsupported(f"{nsp}-D pooling is not supported (1-D and 2-D are)")
    same = not _differs(ctx, x.name, y.name)
    if node.op == "GlobalAveragePool":
        _emit_mean(ctx, node, x.name, y.name, x.shape[0] * x.shape[1], _prod(x.shape[2:]), 1)
        return
    kernel = list(node.attr("kernel_shape"))
    strides = list(node.attr("strides", [1] * nsp))
    dil = list(node.attr("dilations", [1] * nsp))
    begin, end = _spatial_pads(node, x.shape[2:], y.shape[2:], kernel, strides, dil)
    count_pad = int(node.op == "AveragePool" and node.attr("count_include_pad", 0))
    in_sp, out_sp = _as_2d(x.shape[2:], 1), _as_2d(y.shape[2:], 1)
    kernel, strides, dil = _as_2d(kernel, 1), _as_2d(strides, 1), _as_2d(dil, 1)
    begin, end = _as_2d(begin, 0), _as_2d(end, 0)
    act = _act_range(node, ctx, y.name)
    rescale = {"input_offset": 0, "output_offset": 0, "count_multipliers": None,
               "count_shifts": None}
    if node.op != "MaxPool" and (count_pad or not same):
        # One rounding of sum * s_in / (s_out * count), a multiplier per count.
        (in_scale, in_zp), (out_scale, out_zp) = _per_tensor(ctx, x.name), _per_tensor(ctx, y.name)
        pairs = [qm.mean_multiplier(in_scale, out_scale, c)
                 for c in range(1, kernel[0] * kernel[1] + 1)]
        rescale = {"input_offset": -in_zp, "output_offset": out_zp,
                   "count_multipliers": ConstArray(np.array([m for m, _ in pairs], np.int32)),
                   "count_shifts": ConstArray(np.array([s for _, s in pairs], np.int32))}
        same = True
    dst = y.name if same else _staged(ctx, node, y, "pooled")
    params = Params("aot_pool2d_s8_params", {"pool": {
        "planes": x.shape[0] * x.shape[1], "in_h": in_sp[0], "in_w": in_sp[1],
        "out_h": out_sp[0], "out_w": out_sp[1], "kernel_h": kernel[0], "kernel_w": kernel[1],
        "stride_h": strides[0], "stride_w": strides[1], "dilation_h": dil[0],
        "dilation_w": dil[1], "pad_top": begin[0], "pad_left": begin[1],
        "pad_bottom": end[0], "pad_right": end[1], "count_include_pad": count_pad},
        "act_min": act[0] if same else -128, "act_max": act[1] if same else 127, **rescale})
    kernel_fn = "aot_maxpool2d_s8" if node.op == "MaxPool" else "aot_avgpool2d_s8"
    _call(ctx, node, kernel_fn, params, [Ref(x.name), Ref(dst)])
    if not same:
        _emit_requantize(ctx, node, dst, y.name, act, src_quant=_per_tensor(ctx, x.name))


def _emit_mean(ctx: LoweringContext, node: Node, src: str, dst: str, outer: int,
               reduce: int, inner: int) -> None:
    in_scale, in_zp = _per_tensor(ctx, src)
    out_scale, out_zp = _per_tensor(ctx, dst)
    mult, shift = qm.mean_multiplier(in_scale, out_scale, reduce)
    act_min, act_max = _act_range(node, ctx, dst)
    params = Params("aot_mean_s8_params", {
        "outer": outer, "reduce": reduce, "inner": inner, "input_offset": -in_zp,
        "output_offset": out_zp, "multiplier": mult, "shift": shift,
        "act_min": act_min, "act_max": act_max})
    _call(ctx, node, "aot_mean_s8", params, [Ref(src), Ref(dst)], outer * reduce * inner)


SOFTMAX_OUT = (1 / 256, -128)   # TFLite's int8 softmax output parameters


def lower_softmax_s8(node: Node, ctx: LoweringContext) -> None:
    """TFLite's int8 softmax, whose output is (1/256, -128); an output with other
    parameters (e.g. onnxruntime's 1/255) is requantized from that."""
    x, y = ctx.tensor(node.inputs[0]), ctx.tensor(node.outputs[0])
    _require_s8(node, ctx, [x.name, y.name])
    axis = _axis(node.attr("axis", -1), len(x.shape), node)
    if axis != len(x.shape) - 1:
        raise Unsupported("int8 Softmax runs over the last axis only")
    out_scale, out_zp = _per_tensor(ctx, y.name)
    tflite_out = out_zp == SOFTMAX_OUT[1] and abs(out_scale - SOFTMAX_OUT[0]) <= 1e-10
    in_scale, _ = _per_tensor(ctx, x.name)
    p = qm.softmax_params(in_scale)
    params = Params("aot_softmax_s8_params", {
        "outer": _prod(x.shape[:-1]), "depth": x.shape[-1], **p})
    dst = y.name if tflite_out else _staged(ctx, node, y, "softmax")
    _call(ctx, node, "aot_softmax_s8", params, [Ref(x.name), Ref(dst)])
    if not tflite_out:
        _emit_requantize(ctx, node, dst, y.name, _act_range(node, ctx, y.name),
                         src_quant=SOFTMAX_OUT)


def lower_clamp_s8(node: Node, ctx: LoweringContext) -> None:
    """A standalone quantized Relu/Clip: a clamp in int8 codes, or a requantization
    with that clamp when input and output parameters differ."""
    x, y = ctx.tensor(node.inputs[0]), ctx.tensor(node.outputs[0])
    _require_s8(node, ctx, [x.name, y.name])
    scale, zp = _per_tensor(ctx, y.name)
    if node.op == "Relu":
        lo, hi = 0.0, None
    else:
        vals = [ctx.const_value(node.inputs[i]) if len(node.inputs) > i and node.inputs[i]
                else None for i in (1, 2)]
        lo, hi = (None if v is None else float(np.asarray(v).reshape(-1)[0]) for v in vals)
    act_min, act_max = qm.activation_range(scale, zp, lo, hi)
    if _differs(ctx, x.name, y.name):
        _emit_requantize(ctx, node, x.name, y.name, (act_min, act_max))
        return
    params = Params("aot_clamp_s8_params", {"size": y.size, "act_min": act_min,
                                            "act_max": act_max})
    _call(ctx, node, "aot_clamp_s8", params, [Ref(x.name), Ref(y.name)])


def lower_transpose_s8(node: Node, ctx: LoweringContext) -> None:
    from aot.targets.rules_generic import _contiguous_strides

    x, y = ctx.tensor(node.inputs[0]), ctx.tensor(node.outputs[0])
    _require_s8(node, ctx, [x.name, y.name])
    perm = list(node.attr("perm", list(range(len(x.shape)))[::-1]))
    if len(perm) > MAX_DIMS:
        raise Unsupported(f"transpose of rank {len(perm)} (at most {MAX_DIMS})")
    requant = x.quant is not None and y.quant is not None and _differs(ctx, x.name, y.name)
    dst = _staged(ctx, node, y, "transposed") if requant else y.name
    strides = _contiguous_strides(x.shape)
    pad = [0] * (MAX_DIMS - len(perm))
    params = Params("aot_transpose_params", {
        "ndim": len(perm), "out_dims": tuple([x.shape[p] for p in perm] + pad),
        "in_strides": tuple([strides[p] for p in perm] + pad)})
    from aot.targets.rules_inplace import emit_transpose   # in place where it can run
    emit_transpose(ctx, node, "aot_transpose_s8", params, x.name, dst, x.shape, perm, 1)
    if requant:
        _emit_requantize(ctx, node, dst, y.name, src_quant=_per_tensor(ctx, x.name))


def lower_reshape_s8(node: Node, ctx: LoweringContext) -> None:
    """Reshape of int8 data: no code (an alias), unless a QDQ model gives its
    output other parameters, then one requantization into the output."""
    from aot.targets.rules_generic import lower_reshape

    x, y = ctx.tensor(node.inputs[0]), ctx.tensor(node.outputs[0])
    if x.quant is not None and y.quant is not None and _differs(ctx, x.name, y.name):
        _emit_requantize(ctx, node, x.name, y.name)
        return
    lower_reshape(node, ctx)


def _edge_convert(node: Node, ctx: LoweringContext, kernel: str) -> None:
    """Quantize/dequantize, per tensor or per axis (one call per contiguous channel block)."""
    from aot.passes.qdq import quant_of

    x, y = ctx.tensor(node.inputs[0]), ctx.tensor(node.outputs[0])
    if node.attr("block_size", 0):
        raise Unsupported("blocked quantization is not supported")
    q = quant_of(ctx.graph, node)
    if q is None:
        raise Unsupported(f"{node.op} needs a constant scale and zero point")
    if q.axis is None:
        blocks, channels, inner = 1, 1, x.size
    else:
        axis = _axis(q.axis, len(x.shape), node)
        blocks, channels, inner = _prod(x.shape[:axis]), x.shape[axis], _prod(x.shape[axis + 1:])
    for b in range(blocks):
        for c in range(channels):
            params = Params("aot_quantize_params", {"size": inner, "scale": q.scale[c % len(q.scale)],
                                                    "zero_point": q.zero_point[c % len(q.zero_point)]})
            offset = (b * channels + c) * inner
            _call(ctx, node, kernel, params, [Ref(x.name, offset), Ref(y.name, offset)])


def lower_quantize(node: Node, ctx: LoweringContext) -> None:
    """QuantizeLinear of float data (the model's float input edge)."""
    _require_s8(node, ctx, [node.outputs[0]])
    if ctx.tensor(node.inputs[0]).dtype != np.float32:
        raise Unsupported("QuantizeLinear from float32 only")
    _edge_convert(node, ctx, "aot_quantize_f32_s8")


def lower_dequantize(node: Node, ctx: LoweringContext) -> None:
    """DequantizeLinear into float data (the model's float output edge)."""
    _require_s8(node, ctx, [node.inputs[0]])
    if ctx.tensor(node.outputs[0]).dtype != np.float32:
        raise Unsupported("DequantizeLinear to float32 only")
    _edge_convert(node, ctx, "aot_dequantize_s8_f32")


def lower_concat_s8(node: Node, ctx: LoweringContext) -> None:
    """Concat of int8 tensors: byte copies; an input whose parameters differ from
    the output's is requantized (straight into its place when the concat axis
    is outermost, else into a temporary that is then copied)."""
    y = ctx.tensor(node.outputs[0])
    axis = _axis(node.attr("axis"), len(y.shape), node)
    outer = _prod(y.shape[:axis])
    row_out = _prod(y.shape[axis:])
    offset = 0
    for name in node.inputs:
        t = ctx.tensor(name)
        if t.dtype != y.dtype:
            raise Unsupported("Concat inputs of different dtypes")
        row = _prod(t.shape[axis:])
        src = name
        if row and _differs(ctx, name, y.name):
            if outer == 1:
                _emit_requantize(ctx, node, name, y.name, dst_offset=offset)
                offset += row
                continue
            src = _staged(ctx, node, t, "requantized")
            ctx.tensors[src] = Tensor(src, t.shape, S8, quant=y.quant)
            _emit_requantize(ctx, node, name, src)
        if row:
            params = Params("aot_copy2d_params", {"rows": outer, "row_bytes": row,
                                                  "src_stride": row, "dst_stride": row_out})
            _call(ctx, node, "aot_copy2d", params, [Ref(src), Ref(y.name, offset)])
        offset += row


def lower_sign_convert(node: Node, ctx: LoweringContext) -> None:
    """uint8 <-> int8 codes at a uint8 graph input or output (see passes/qdq.py)."""
    kernel = "aot_convert_u8_s8" if node.op == "_U8ToS8" else "aot_convert_s8_u8"
    params = Params("aot_size_params", {"size": ctx.tensor(node.outputs[0]).size})
    _call(ctx, node, kernel, params, [Ref(node.inputs[0]), Ref(node.outputs[0])],
          op="Convert")


def lower_mul_s8(node: Node, ctx: LoweringContext) -> None:
    """TFLite's int8 Mul with broadcasting: one rounding of (a - za) * (b - zb) by
    a_scale * b_scale / output_scale, then the fused activation's clamp."""
    a, b, y = (ctx.tensor(n) for n in (node.inputs[0], node.inputs[1], node.outputs[0]))
    _require_s8(node, ctx, [a.name, b.name, y.name])
    (sa, za), (sb, zb), (so, zo) = (_per_tensor(ctx, n) for n in (a.name, b.name, y.name))
    # TFLM's CalculateOpDataMul: double(s1) * double(s2) / double(s_out).
    mult, shift = qm.quantize_multiplier(float(np.float32(sa)) * float(np.float32(sb))
                                         / float(np.float32(so)))
    act_min, act_max = _act_range(node, ctx, y.name)
    params = Params("aot_mul_s8_params", {
        **broadcast_fields(y, a, b),
        "a_offset": -za, "b_offset": -zb, "output_offset": zo, "output_multiplier": mult,
        "output_shift": shift, "act_min": act_min, "act_max": act_max})
    _call(ctx, node, "aot_mul_s8", params, [Ref(a.name), Ref(b.name), Ref(y.name)],
          y.size, inplace=[t.name for t in (a, b) if t.shape == y.shape])


# TFLite's int8 kernels with fixed output parameters, as (scale, zero point).
LOGISTIC_OUT = (1 / 256, -128)
TANH_OUT = (1 / 128, 0)


def _unary_codes(node: Node, ctx: LoweringContext, x, y) -> np.ndarray:
    """The output code of each of the 256 input codes, before the fused clamp."""
    from aot import lookup_tables as lt

    (si, zi), (so, zo) = _per_tensor(ctx, x.name), _per_tensor(ctx, y.name)
    try:
        if node.op == "Sigmoid":
            return lt.requantize_codes(lt.logistic_codes(si, zi), LOGISTIC_OUT, (so, zo))
        if node.op == "Tanh":
            return lt.requantize_codes(lt.tanh_codes(si, zi), TANH_OUT, (so, zo))
        if node.op == "HardSwish":
            return lt.hard_swish_codes(si, zi, so, zo)
        if node.op == "LeakyRelu":
            return lt.leaky_relu_codes(float(node.attr("alpha", 0.01)), si, zi, so, zo)
        if node.op == "HardSigmoid":
            return lt.hard_sigmoid_codes(float(node.attr("alpha", 0.2)),
                                         float(node.attr("beta", 0.5)), si, zi, so, zo)
    except ValueError as e:
        raise Unsupported(str(e)) from None
    raise Unsupported(f"no int8 table for {node.op}")


def lower_lut_s8(node: Node, ctx: LoweringContext) -> None:
    """int8 Sigmoid, Tanh, HardSwish, LeakyRelu, HardSigmoid: TFLite's integer kernel
    (see aot.lookup_tables) evaluated on all 256 codes here, a table lookup in C."""
    from aot import lookup_tables as lt

    x, y = ctx.tensor(node.inputs[0]), ctx.tensor(node.outputs[0])
    _require_s8(node, ctx, [x.name, y.name])
    codes = lt.table(_unary_codes(node, ctx, x, y), _act_range(node, ctx, y.name))
    table = ctx.const(f"{node.name}_table", codes)
    params = Params("aot_size_params", {"size": y.size})
    _call(ctx, node, "aot_lut_s8", params, [Ref(x.name), Ref(table), Ref(y.name)],
          inplace=(x.name,))


def lower_pad_s8(node: Node, ctx: LoweringContext) -> None:
    """int8 Pad: TFLite's PAD/PADV2 (constant: the pad value quantized with the
    input's parameters, the zero point when absent), MIRROR_PAD REFLECT, and the
    code-moving edge/wrap modes; output parameters that differ from the input's
    are a requantization afterwards (TFLite's pad needs them equal)."""
    x, y = ctx.tensor(node.inputs[0]), ctx.tensor(node.outputs[0])
    _require_s8(node, ctx, [x.name, y.name])
    geometry = pad_geometry(node, ctx, x, y)
    # Raw int8 data (no quantization, e.g. an ONNX integer Pad) is padded as codes.
    raw = x.quant is None and y.quant is None
    scale, zp = (1.0, 0) if raw else _per_tensor(ctx, x.name)
    value_name = node.inputs[2] if len(node.inputs) > 2 else ""
    code = zp
    if value_name:
        value = ctx.const_value(value_name)
        if value is None:
            raise Unsupported("Pad's constant_value must be a constant")
        value = np.asarray(value).reshape(-1)
        if value.size:
            code = _pad_code(ctx, value_name, value[0], scale, zp)
    requant = not raw and _differs(ctx, x.name, y.name)
    dst = _staged(ctx, node, y, "padded") if requant else y.name
    params = Params("aot_pad_s8_params", {**geometry, "value": code})
    _call(ctx, node, "aot_pad_s8", params, [Ref(x.name), Ref(dst)])
    if requant:
        _emit_requantize(ctx, node, dst, y.name, src_quant=(scale, zp))


def _pad_code(ctx: LoweringContext, name: str, value, scale: float, zp: int) -> int:
    """Pad's constant as an int8 code of the input's parameters: an int8 constant is
    a code already; a float one is quantized as ONNX QuantizeLinear does."""
    if ctx.tensor(name).dtype == S8:
        return int(value)
    q = int(np.rint(np.float32(value) / np.float32(scale))) + zp
    if not -128 <= q <= 127:
        raise Unsupported(f"Pad's constant_value {float(value):g} is outside the int8 range "
                          f"of the input (scale {scale:g}, zero point {zp})")
    return q


def lower_reduce_mean_s8(node: Node, ctx: LoweringContext) -> None:
    """int8 ReduceMean over any axes, TFLite Micro's int8 MEAN: axes that are not
    adjacent are first transposed behind the kept ones (integer sums do not
    depend on the order), then one mean over them with 1/count folded into the
    multiplier as TFLM folds it."""
    from aot.targets.rules_generic import _contiguous_strides

    x, y = ctx.tensor(node.inputs[0]), ctx.tensor(node.outputs[0])
    _require_s8(node, ctx, [x.name, y.name])
    rank = len(x.shape)
    axes = _mean_axes(node, ctx, rank)
    if axes == list(range(axes[0], axes[-1] + 1)):
        _emit_mean(ctx, node, x.name, y.name, _prod(x.shape[:axes[0]]),
                   _prod(x.shape[axes[0]:axes[-1] + 1]), _prod(x.shape[axes[-1] + 1:]))
        return
    if rank > MAX_DIMS:
        raise Unsupported(f"ReduceMean of rank {rank} (at most {MAX_DIMS})")
    kept = [d for d in range(rank) if d not in axes]
    perm = kept + axes
    moved = ctx.temp(f"{node.name}_reduced_last", tuple(x.shape[p] for p in perm), S8)
    ctx.tensors[moved] = Tensor(moved, ctx.tensors[moved].shape, S8, quant=x.quant)
    strides = _contiguous_strides(x.shape)
    pad = [0] * (MAX_DIMS - rank)
    params = Params("aot_transpose_params", {
        "ndim": rank, "out_dims": tuple([x.shape[p] for p in perm] + pad),
        "in_strides": tuple([strides[p] for p in perm] + pad)})
    _call(ctx, node, "aot_transpose_s8", params, [Ref(x.name), Ref(moved)], op="Transpose")
    _emit_mean(ctx, node, moved, y.name, _prod([x.shape[d] for d in kept]),
               _prod([x.shape[d] for d in axes]), 1)


def _mean_axes(node: Node, ctx: LoweringContext, rank: int) -> list[int]:
    axes_name = node.inputs[1] if len(node.inputs) > 1 else ""
    if axes_name and ctx.const_value(axes_name) is None:
        raise Unsupported("ReduceMean axes must be a constant")
    axes = ([int(v) for v in np.asarray(ctx.const_value(axes_name)).reshape(-1)] if axes_name
            else list(node.attr("axes", [])))
    if not axes:
        if node.attr("noop_with_empty_axes", 0):
            raise Unsupported("int8 ReduceMean with no axes (noop_with_empty_axes)")
        axes = list(range(rank))
    return sorted({_axis(a, rank, node) for a in axes})

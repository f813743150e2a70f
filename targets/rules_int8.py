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
                                       broadcast_pattern)

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


def lower_conv_s8(node: Node, ctx: LoweringContext) -> None:
    x, w, y = (ctx.tensor(n) for n in (node.inputs[0], node.inputs[1], node.outputs[0]))
    _require_s8(node, ctx, [x.name, w.name, y.name])
    if not w.is_const:
        raise Unsupported("int8 convolution needs constant weights")
    nsp = len(x.shape) - 2
    if nsp not in (1, 2):
        raise Unsupported(f"{nsp}-D convolution is not supported (1-D and 2-D are)")
    in_scale, in_zp = _per_tensor(ctx, x.name)
    out_scale, out_zp = _per_tensor(ctx, y.name)
    wq = _quant(ctx, w.name)
    if any(z != 0 for z in wq.zero_point):
        raise Unsupported("int8 convolution weights must be symmetric (zero point 0)")
    if len(wq.scale) not in (1, y.shape[1]) or (len(wq.scale) > 1 and wq.axis != 0):
        raise Unsupported("conv weight scales must be per tensor or per output channel")
    scales = wq.scale * (y.shape[1] if len(wq.scale) == 1 else 1)
    mults, shifts = qm.conv_multipliers(in_scale, scales, out_scale)
    kernel = list(w.shape[2:])
    strides = list(node.attr("strides", [1] * nsp))
    dil = list(node.attr("dilations", [1] * nsp))
    begin, _ = _spatial_pads(node, x.shape[2:], y.shape[2:], kernel, strides, dil)
    in_sp, out_sp = _as_2d(x.shape[2:], 1), _as_2d(y.shape[2:], 1)
    kernel, strides, dil, begin = (_as_2d(kernel, 1), _as_2d(strides, 1), _as_2d(dil, 1),
                                   _as_2d(begin, 0))
    groups = int(node.attr("group", 1))
    act_min, act_max = _act_range(node, ctx, y.name)
    bias = node.inputs[2] if len(node.inputs) > 2 and node.inputs[2] else ""
    if bias and (ctx.tensor(bias).dtype != np.int32 or not ctx.tensor(bias).is_const):
        raise Unsupported("int8 convolution bias must be a constant int32 tensor")
    params = Params("aot_conv2d_s8_params", {
        "batch": x.shape[0], "in_c": x.shape[1], "in_h": in_sp[0], "in_w": in_sp[1],
        "out_c": y.shape[1], "out_h": out_sp[0], "out_w": out_sp[1],
        "kernel_h": kernel[0], "kernel_w": kernel[1], "stride_h": strides[0],
        "stride_w": strides[1], "dilation_h": dil[0], "dilation_w": dil[1],
        "pad_top": begin[0], "pad_left": begin[1], "groups": groups,
        "input_offset": -in_zp, "output_offset": out_zp, "act_min": act_min,
        "act_max": act_max, "multipliers": ConstArray(mults), "shifts": ConstArray(shifts)})
    macs = y.size * (x.shape[1] // groups) * kernel[0] * kernel[1]
    _call(ctx, node, "aot_conv2d_s8", params,
          [Ref(x.name), Ref(w.name), Ref(bias) if bias else Null(), Ref(y.name)], macs)


def lower_gemm_s8(node: Node, ctx: LoweringContext) -> None:
    """Fully connected: Gemm made by the QDQ pass from MatMul(+Add), or a QDQ Gemm."""
    a, b, y = (ctx.tensor(n) for n in (node.inputs[0], node.inputs[1], node.outputs[0]))
    _require_s8(node, ctx, [a.name, b.name, y.name])
    if not b.is_const or len(a.shape) != 2 or len(b.shape) != 2:
        raise Unsupported("int8 fully connected needs a 2-D input and constant 2-D weights")
    if node.attr("transA", 0) or node.attr("alpha", 1.0) != 1.0 or node.attr("beta", 1.0) != 1.0:
        raise Unsupported("int8 Gemm with transA, alpha or beta is not supported")
    in_scale, in_zp = _per_tensor(ctx, a.name)
    w_scale, w_zp = _per_tensor(ctx, b.name)
    out_scale, out_zp = _per_tensor(ctx, y.name)
    m, n = y.shape
    # Prepare: weights as [n][k], one row per output, as the kernel streams them.
    weights = b.data if node.attr("transB", 0) else np.ascontiguousarray(b.data.T)
    w_name = ctx.const(f"{b.name}_nk", weights)
    ctx.tensors[w_name] = Tensor(w_name, weights.shape, weights.dtype, ctx.tensors[w_name].data,
                                 b.quant)
    k = weights.shape[1]
    bias = node.inputs[2] if len(node.inputs) > 2 and node.inputs[2] else ""
    if bias:
        bt = ctx.tensor(bias)
        if bt.dtype != np.int32 or not bt.is_const or bt.size != n:
            raise Unsupported("int8 fully connected bias must be a constant int32 vector")
    mult, shift = qm.fc_multiplier(in_scale, w_scale, out_scale)
    act_min, act_max = _act_range(node, ctx, y.name)
    params = Params("aot_fully_connected_s8_params", {
        "m": m, "n": n, "k": k, "input_offset": -in_zp, "weights_offset": -w_zp,
        "output_offset": out_zp, "act_min": act_min, "act_max": act_max,
        "multiplier": mult, "shift": shift})
    _call(ctx, node, "aot_fully_connected_s8", params,
          [Ref(a.name), Ref(w_name), Ref(bias) if bias else Null(), Ref(y.name)], m * n * k)


def lower_add_s8(node: Node, ctx: LoweringContext) -> None:
    a, b, y = (ctx.tensor(n) for n in (node.inputs[0], node.inputs[1], node.outputs[0]))
    _require_s8(node, ctx, [a.name, b.name, y.name])
    (sa, za), (sb, zb), (so, zo) = (_per_tensor(ctx, n) for n in (a.name, b.name, y.name))
    dims, stride_a, stride_b = broadcast_pattern(y.shape, a.shape, b.shape)
    if len(dims) > MAX_DIMS:
        raise Unsupported(f"broadcast over {len(dims)} non-collapsible dims")
    if len(dims) <= 1 and stride_a in ([], [1]) and stride_b in ([], [1]):
        dims, stride_a, stride_b = [], [], []
    pad = [0] * (MAX_DIMS - len(dims))
    act_min, act_max = _act_range(node, ctx, y.name)
    params = Params("aot_add_s8_params", {
        "size": y.size, "ndim": len(dims), "dims": tuple(dims + pad),
        "a_strides": tuple(stride_a + pad), "b_strides": tuple(stride_b + pad),
        "a_offset": -za, "b_offset": -zb, "output_offset": zo,
        "act_min": act_min, "act_max": act_max, **_ordered_add(qm.add_params(sa, sb, so))})
    _call(ctx, node, "aot_add_s8", params, [Ref(a.name), Ref(b.name), Ref(y.name)])


def _ordered_add(p: dict) -> dict:
    return {k: p[k] for k in ("a_multiplier", "a_shift", "b_multiplier", "b_shift",
                              "left_shift", "output_multiplier", "output_shift")}


def _same_quant(ctx, node, src: str, dst: str) -> None:
    if _per_tensor(ctx, src) != _per_tensor(ctx, dst):
        raise Unsupported(f"{node.op} in int8 needs the same scale and zero point on its "
                          f"input and output (TFLite's int8 {node.op} does)")


def lower_pool_s8(node: Node, ctx: LoweringContext) -> None:
    x, y = ctx.tensor(node.inputs[0]), ctx.tensor(node.outputs[0])
    _require_s8(node, ctx, [x.name, y.name])
    _same_quant(ctx, node, x.name, y.name)
    if len(node.outputs) > 1 and node.outputs[1]:
        raise Unsupported("MaxPool's Indices output is not supported")
    nsp = len(x.shape) - 2
    if nsp not in (1, 2):
        raise Unsupported(f"{nsp}-D pooling is not supported (1-D and 2-D are)")
    if node.op == "GlobalAveragePool":
        kernel, strides, dil = list(x.shape[2:]), [1] * nsp, [1] * nsp
        begin = end = [0] * nsp
        count_pad = 0
    else:
        if node.op == "AveragePool" and node.attr("count_include_pad", 0):
            raise Unsupported("int8 AveragePool with count_include_pad is not supported "
                              "(TFLite excludes padding)")
        kernel = list(node.attr("kernel_shape"))
        strides = list(node.attr("strides", [1] * nsp))
        dil = list(node.attr("dilations", [1] * nsp))
        begin, end = _spatial_pads(node, x.shape[2:], y.shape[2:], kernel, strides, dil)
        count_pad = 0
    in_sp, out_sp = _as_2d(x.shape[2:], 1), _as_2d(y.shape[2:], 1)
    kernel, strides, dil = _as_2d(kernel, 1), _as_2d(strides, 1), _as_2d(dil, 1)
    begin, end = _as_2d(begin, 0), _as_2d(end, 0)
    act_min, act_max = _act_range(node, ctx, y.name)
    params = Params("aot_pool2d_s8_params", {"pool": {
        "planes": x.shape[0] * x.shape[1], "in_h": in_sp[0], "in_w": in_sp[1],
        "out_h": out_sp[0], "out_w": out_sp[1], "kernel_h": kernel[0], "kernel_w": kernel[1],
        "stride_h": strides[0], "stride_w": strides[1], "dilation_h": dil[0],
        "dilation_w": dil[1], "pad_top": begin[0], "pad_left": begin[1],
        "pad_bottom": end[0], "pad_right": end[1], "count_include_pad": count_pad},
        "act_min": act_min, "act_max": act_max})
    kernel_fn = "aot_maxpool2d_s8" if node.op == "MaxPool" else "aot_avgpool2d_s8"
    _call(ctx, node, kernel_fn, params, [Ref(x.name), Ref(y.name)])


def lower_softmax_s8(node: Node, ctx: LoweringContext) -> None:
    x, y = ctx.tensor(node.inputs[0]), ctx.tensor(node.outputs[0])
    _require_s8(node, ctx, [x.name, y.name])
    axis = _axis(node.attr("axis", -1), len(x.shape), node)
    if axis != len(x.shape) - 1:
        raise Unsupported("int8 Softmax runs over the last axis only")
    out_scale, out_zp = _per_tensor(ctx, y.name)
    if out_zp != -128 or abs(out_scale - 1 / 256) > 1e-10:
        raise Unsupported("int8 Softmax output must have scale 1/256 and zero point -128 "
                          "(as TFLite requires)")
    in_scale, _ = _per_tensor(ctx, x.name)
    p = qm.softmax_params(in_scale)
    params = Params("aot_softmax_s8_params", {
        "outer": _prod(x.shape[:-1]), "depth": x.shape[-1], **p})
    _call(ctx, node, "aot_softmax_s8", params, [Ref(x.name), Ref(y.name)])


def lower_clamp_s8(node: Node, ctx: LoweringContext) -> None:
    """A standalone quantized Relu/Clip: a clamp in int8 codes."""
    x, y = ctx.tensor(node.inputs[0]), ctx.tensor(node.outputs[0])
    _require_s8(node, ctx, [x.name, y.name])
    _same_quant(ctx, node, x.name, y.name)
    scale, zp = _per_tensor(ctx, y.name)
    if node.op == "Relu":
        lo, hi = 0.0, None
    else:
        vals = [ctx.const_value(node.inputs[i]) if len(node.inputs) > i and node.inputs[i]
                else None for i in (1, 2)]
        lo, hi = (None if v is None else float(np.asarray(v).reshape(-1)[0]) for v in vals)
    act_min, act_max = qm.activation_range(scale, zp, lo, hi)
    params = Params("aot_clamp_s8_params", {"size": y.size, "act_min": act_min,
                                            "act_max": act_max})
    _call(ctx, node, "aot_clamp_s8", params, [Ref(x.name), Ref(y.name)])


def lower_transpose_s8(node: Node, ctx: LoweringContext) -> None:
    from aot.targets.rules_generic import _contiguous_strides

    x = ctx.tensor(node.inputs[0])
    _require_s8(node, ctx, [x.name, node.outputs[0]])
    perm = list(node.attr("perm", list(range(len(x.shape)))[::-1]))
    if len(perm) > MAX_DIMS:
        raise Unsupported(f"transpose of rank {len(perm)} (at most {MAX_DIMS})")
    strides = _contiguous_strides(x.shape)
    pad = [0] * (MAX_DIMS - len(perm))
    params = Params("aot_transpose_params", {
        "ndim": len(perm), "out_dims": tuple([x.shape[p] for p in perm] + pad),
        "in_strides": tuple([strides[p] for p in perm] + pad)})
    _call(ctx, node, "aot_transpose_s8", params, [Ref(x.name), Ref(node.outputs[0])])


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
    from aot.targets.rules_generic import lower_concat

    for name in node.inputs:
        _same_quant(ctx, node, name, node.outputs[0])
    lower_concat(node, ctx)


def lower_sign_convert(node: Node, ctx: LoweringContext) -> None:
    """uint8 <-> int8 codes at a uint8 graph input or output (see passes/qdq.py)."""
    kernel = "aot_convert_u8_s8" if node.op == "_U8ToS8" else "aot_convert_s8_u8"
    params = Params("aot_size_params", {"size": ctx.tensor(node.outputs[0]).size})
    _call(ctx, node, kernel, params, [Ref(node.inputs[0]), Ref(node.outputs[0])],
          op="Convert")

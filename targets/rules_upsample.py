"""Lowering rules for upsampling: Resize and ConvTranspose (float32, portable C).

Resize: the compiler does all coordinate work. For each resized axis it maps
every output index to source taps (clamped indices) and their weights,
following the ONNX Resize definition (every coordinate_transformation_mode,
nearest_mode, linear and cubic with exclude_outside, antialias, the crop box
of tf_crop_and_resize, `axes` and keep_aspect_ratio_policy), in float64.
The tables are constants; the C only gathers (`aot_resize_nearest_f32`) or
sums taps (`aot_resize_separable_f32`). Only the last two axes may change
size: leading axes are treated as a batch of planes.

ConvTranspose: the kernel reads ONNX's weight layout [in_c][out_c/g][kh][kw]
as is (so run-time weights work too); pads come from `pads`, or from `output_shape` /
SAME_* auto_pad as the ONNX definition derives them; output_padding is the
extra output the kernel leaves at the bias.

int8 (QDQ groups folded by passes/qdq.py), TFLite's arithmetic:
- Resize nearest is a gather of codes; linear/cubic use Q10 tap weights per
  axis and TFLite's ResizeBilinearInteger sum and rounding. Where the ONNX
  coordinate mode is one TFLite has (asymmetric, half_pixel, align_corners,
  pytorch_half_pixel with more than one output) and the scale is out/in, the
  bilinear taps come from TFLite's own integer coordinates (scale rounded to
  Q10), so the result is TFLite's bit for bit; other modes, cubic and
  antialiasing round the ONNX float taps to Q10. TFLite resizes with equal
  input and output parameters: where a model's differ (or a fused Relu/Clip
  narrows the range), the result is requantized afterwards (TFLite's QUANTIZE).
- ConvTranspose is TFLite's TRANSPOSE_CONV: symmetric int8 weights per tensor
  or per output channel (ONNX axis 1), int32 bias, int32 sums requantized per
  output channel.
"""

from __future__ import annotations

import math

import numpy as np

from aot import quantmath as qm
from aot.ir import Node
from aot.program import Call, ConstArray, Null, Params, Ref, Scratch
from aot.targets.lowering import LoweringContext, Unsupported
from aot.targets.rules_generic import _act, _call, _op_label, _require_f32
from aot.targets.rules_int8 import (S8, _act_range, _const_bias, _emit_requantize, _per_tensor,
                                    _quant, _require_s8)

# ----------------------------------------------------------------- Resize

_MODES = ("half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners",
          "asymmetric", "tf_crop_and_resize")
_NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")


def _source_coords(mode: str, out_len: int, in_len: int, scale: float,
                   roi: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Source coordinate of every output index, and which lie outside the crop box."""
    y = np.arange(out_len, dtype=np.float64)
    # The definition uses the unrounded output length scale * in_len.
    length = scale * in_len
    outside = np.zeros(out_len, dtype=bool)
    if mode == "align_corners":
        x = np.zeros(out_len) if length == 1 else y * (in_len - 1) / (length - 1)
    elif mode == "asymmetric":
        x = y / scale
    elif mode == "pytorch_half_pixel":
        x = np.full(out_len, -0.5) if length == 1 else (y + 0.5) / scale - 0.5
    elif mode == "half_pixel":
        x = (y + 0.5) / scale - 0.5
    elif mode == "half_pixel_symmetric":
        offset = in_len / 2 * (1 - out_len / length)
        x = offset + (y + 0.5) / scale - 0.5
    else:   # tf_crop_and_resize
        start, end = roi
        if length == 1:
            x = np.full(out_len, (end - start) * (in_len - 1) / 2)
        else:
            x = y * (end - start) * (in_len - 1) / (length - 1)
        x = x + start * (in_len - 1)
        outside = (x < 0) | (x > in_len - 1)
    return x, outside


def _nearest_coeffs(ratio: float, nearest_mode: str) -> np.ndarray:
    if ratio == 1.0:          # on a source sample: the right-hand tap (see _taps)
        return np.array([0.0, 1.0])
    up = {"round_prefer_floor": ratio > 0.5, "round_prefer_ceil": ratio >= 0.5,
          "floor": False, "ceil": True}[nearest_mode]
    return np.array([0.0, 1.0]) if up else np.array([1.0, 0.0])


def _linear_coeffs(ratio: float, scale: float, antialias: bool) -> np.ndarray:
    if not antialias:
        return np.array([1 - ratio, ratio])
    scale = min(scale, 1.0)
    start = int(math.floor(-1 / scale) + 1)
    args = (np.arange(start, 2 - start) - ratio) * scale
    coeffs = np.clip(1 - np.abs(args), 0, 1)
    return coeffs / coeffs.sum()


def _cubic_kernel(x: np.ndarray, a: float) -> np.ndarray:
    x = np.abs(x)
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    far = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return np.where(x <= 1, near, np.where(x < 2, far, 0.0))


def _cubic_coeffs(ratio: float, scale: float, a: float, antialias: bool) -> np.ndarray:
    if not antialias:
        return _cubic_kernel(np.array([1 + ratio, ratio, 1 - ratio, 2 - ratio]), a)
    scale = min(scale, 1.0)
    start = int(math.floor(-2 / scale) + 1)
    coeffs = _cubic_kernel(scale * (np.arange(start, 2 - start) - ratio), a)
    return coeffs / coeffs.sum()


def _taps(node: Node, in_len: int, out_len: int, scale: float,
          roi: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """(index [out_len][taps] int32, coeff [out_len][taps] float32) for one axis;
    index -1 in tap 0 marks an output outside the crop box."""
    mode = node.attr("mode", "nearest")
    antialias = bool(node.attr("antialias", 0))
    x, outside = _source_coords(node.attr("coordinate_transformation_mode", "half_pixel"),
                                out_len, in_len, scale, roi)
    base = np.floor(x)
    # An exact source coordinate counts as ratio 1 from the sample to its left,
    # so the window starts one further left; the coefficients then pick x itself.
    exact = x == base
    ratio = np.where(exact, 1.0, x - base)
    if mode == "nearest":
        coeffs = [_nearest_coeffs(r, node.attr("nearest_mode", "round_prefer_floor"))
                  for r in ratio]
    elif mode == "linear":
        coeffs = [_linear_coeffs(r, scale, antialias) for r in ratio]
    else:
        a = float(node.attr("cubic_coeff_a", -0.75))
        coeffs = [_cubic_coeffs(r, scale, a, antialias) for r in ratio]
    coeff = np.array(coeffs, dtype=np.float64)
    n = coeff.shape[1]
    start = base.astype(np.int64) - n // 2 + np.where(exact, 0, 1)
    index = start[:, None] + np.arange(n)[None, :]
    if node.attr("exclude_outside", 0):
        coeff = np.where((index < 0) | (index >= in_len), 0.0, coeff)
        total = coeff.sum(axis=1, keepdims=True)
        coeff = coeff / np.where(total == 0, 1.0, total)
    index = np.clip(index, 0, in_len - 1)
    index[outside, 0] = -1
    return index.astype(np.int32), coeff.astype(np.float32)


def _resize_geometry(node: Node, ctx: LoweringContext) -> tuple[list[float], list[float]]:
    """Per-axis scale factors and the roi [starts..., ends...] over all axes."""
    x, y = ctx.tensor(node.inputs[0]), ctx.tensor(node.outputs[0])
    rank = len(x.shape)
    names = list(node.inputs) + [""] * (4 - len(node.inputs))
    roi_v, scales_v, sizes_v = (ctx.const_value(n) if n else None for n in names[1:4])
    for name, value in zip(names[1:4], (roi_v, scales_v, sizes_v)):
        if name and value is None:
            raise Unsupported(f"input '{name}' must be a constant (aot resizes to a fixed shape)")
    axes = [a + rank if a < 0 else a for a in node.attr("axes", list(range(rank)))]
    scales = [1.0] * rank
    if sizes_v is not None and sizes_v.size:
        for a, s in zip(axes, sizes_v.reshape(-1)):
            scales[a] = int(s) / x.shape[a]
        policy = node.attr("keep_aspect_ratio_policy", "stretch")
        if policy != "stretch":
            pick = min if policy == "not_larger" else max
            common = pick(scales[a] for a in axes)
            scales = [common if a in axes else 1.0 for a in range(rank)]
    elif scales_v is not None and scales_v.size:
        for a, s in zip(axes, scales_v.reshape(-1)):
            scales[a] = float(s)
    else:
        raise Unsupported("neither scales nor sizes is given")
    roi = [0.0] * rank + [1.0] * rank
    if roi_v is not None and roi_v.size:
        flat = [float(v) for v in roi_v.reshape(-1)]
        for i, a in enumerate(axes):
            roi[a], roi[rank + a] = flat[i], flat[len(axes) + i]
    for a in range(max(rank - 2, 0)):
        if x.shape[a] != y.shape[a] or not math.isclose(scales[a], 1.0):
            raise Unsupported(f"it resizes axis {a}; aot resizes only the last two axes")
    return scales, roi


def _resize_tables(node: Node, ctx: LoweringContext):
    """Checks Resize's attributes; returns (x, y, geometry fields, per-axis (index,
    coeff) tables for H and W, scales, roi)."""
    mode = node.attr("mode", "nearest")
    if mode not in ("nearest", "linear", "cubic"):
        raise Unsupported(f"unknown mode {mode!r}")
    coord = node.attr("coordinate_transformation_mode", "half_pixel")
    if coord not in _MODES:
        raise Unsupported(f"unknown coordinate_transformation_mode {coord!r}")
    if node.attr("nearest_mode", "round_prefer_floor") not in _NEAREST_MODES:
        raise Unsupported(f"unknown nearest_mode {node.attr('nearest_mode')!r}")
    if mode == "nearest" and node.attr("antialias", 0):
        raise Unsupported("antialias applies to linear and cubic modes only")
    x, y = ctx.tensor(node.inputs[0]), ctx.tensor(node.outputs[0])
    if not x.shape:
        raise Unsupported("a scalar cannot be resized")
    scales, roi = _resize_geometry(node, ctx)
    rank = len(x.shape)
    in_hw = ((1,) + x.shape)[-2:]
    out_hw = ((1,) + y.shape)[-2:]
    tables = []
    for k, (i, o) in enumerate(zip(in_hw, out_hw)):
        axis = rank - 2 + k
        if axis < 0:     # rank 1: a height of one, kept as is
            tables.append((np.zeros((1, 1), np.int32), np.ones((1, 1), np.float32)))
        else:
            tables.append(_taps(node, i, o, scales[axis], (roi[axis], roi[rank + axis])))
    geometry = {"planes": int(np.prod(x.shape[:-2], dtype=np.int64)),
                "in_h": in_hw[0], "in_w": in_hw[1], "out_h": out_hw[0], "out_w": out_hw[1],
                "taps_h": tables[0][0].shape[1], "taps_w": tables[1][0].shape[1]}
    return x, y, geometry, tables, scales, roi


def _nearest_index(index: np.ndarray, coeff: np.ndarray) -> np.ndarray:
    """The one source index per output of a nearest table (-1 outside the crop box)."""
    pick = coeff.argmax(axis=1)
    # an outside-the-crop row or column keeps its -1 whatever tap was picked
    return np.where(index[:, 0] < 0, -1, index[np.arange(len(index)), pick]).astype(np.int32)


def lower_resize(node: Node, ctx: LoweringContext) -> None:
    _require_f32(node, ctx)
    x, y, geometry, tables, _, _ = _resize_tables(node, ctx)
    (ih, ch), (iw, cw) = tables
    params = {**geometry, "extrapolation_value": float(node.attr("extrapolation_value", 0.0))}
    if node.attr("mode", "nearest") == "nearest":
        nh, nw = _nearest_index(ih, ch), _nearest_index(iw, cw)
        _call(ctx, node, "aot_resize_nearest_f32",
              Params("aot_resize_params", {**params, "taps_h": 1, "taps_w": 1}),
              [Ref(x.name), Ref(ctx.const(f"{node.name}_rows", nh)),
               Ref(ctx.const(f"{node.name}_cols", nw)), Ref(y.name)])
        return
    operands = [Ref(x.name)]
    for hint, index, coeff in (("rows", ih, ch), ("cols", iw, cw)):
        operands += [Ref(ctx.const(f"{node.name}_{hint}", index.reshape(-1))),
                     Ref(ctx.const(f"{node.name}_{hint}_w", coeff.reshape(-1)))]
    _call(ctx, node, "aot_resize_separable_f32", Params("aot_resize_params", params),
          [*operands, Ref(y.name)], macs=y.size * ih.shape[1] * iw.shape[1])


# TFLite's RESIZE_BILINEAR coordinate modes, as ONNX names them.
_TFLITE_MODES = ("asymmetric", "half_pixel", "pytorch_half_pixel", "align_corners")
Q10 = 1 << 10


def _tdiv(a: np.ndarray, b: int) -> np.ndarray:
    """C's integer division (truncating toward zero)."""
    return np.sign(a) * (np.abs(a) // b)


def _tflite_bilinear_axis(in_len: int, out_len: int, coord: str):
    """(index [out][2], Q10 weights [out][2]) from TFLite's integer coordinates
    (ResizeBilinearInteger / ComputeInterpolationValuesInteger): the scale
    rounded to Q10, the source position in Q10, floor and ceil taps."""
    if coord == "align_corners" and out_len > 1:
        scale = (Q10 * (in_len - 1) + (out_len - 1) // 2) // (out_len - 1)
    else:
        scale = (Q10 * in_len + out_len // 2) // out_len
    pos = np.arange(out_len, dtype=np.int64) * scale
    if coord in ("half_pixel", "pytorch_half_pixel"):
        pos += scale // 2 - Q10 // 2
    lo = np.maximum(_tdiv(pos, Q10), 0)
    hi = np.minimum(_tdiv(pos + Q10 - 1, Q10), in_len - 1)
    frac = pos - Q10 * lo
    index = np.clip(np.stack([lo, hi], 1), 0, in_len - 1)
    return index.astype(np.int32), np.stack([Q10 - frac, frac], 1)


def _q10(coeff: np.ndarray) -> np.ndarray:
    """Float taps as Q10 weights whose every row sums to 1024 exactly (the rounding
    remainder goes to the largest tap), so a flat input stays flat."""
    q = np.rint(coeff.astype(np.float64) * Q10).astype(np.int64)
    big = np.abs(coeff).argmax(axis=1)
    q[np.arange(len(q)), big] += Q10 - q.sum(axis=1)
    return q


def _code_of(value: float, scale: float, zp: int) -> int:
    """A real value as an int8 code (ONNX QuantizeLinear: round half to even, saturate)."""
    return int(np.clip(np.rint(np.float32(value) / np.float32(scale)) + zp, -128, 127))


def lower_resize_s8(node: Node, ctx: LoweringContext) -> None:
    """int8 Resize: see the module docstring."""
    _require_s8(node, ctx, [node.inputs[0], node.outputs[0]])
    x, y, geometry, tables, scales, _ = _resize_tables(node, ctx)
    (ih, ch), (iw, cw) = tables
    in_q = _per_tensor(ctx, x.name)
    act = _act_range(node, ctx, y.name)
    requant = _per_tensor(ctx, y.name) != in_q or act != (-128, 127)
    dst = ctx.temp(f"{node.name}_resized", y.shape, S8) if requant else y.name
    params = {**geometry, "extrapolation_code":
              _code_of(float(node.attr("extrapolation_value", 0.0)), *in_q)}
    mode = node.attr("mode", "nearest")
    if mode == "nearest":
        nh, nw = _nearest_index(ih, ch), _nearest_index(iw, cw)
        _call(ctx, node, "aot_resize_nearest_s8",
              Params("aot_resize_s8_params", {**params, "taps_h": 1, "taps_w": 1}),
              [Ref(x.name), Ref(ctx.const(f"{node.name}_rows", nh)),
               Ref(ctx.const(f"{node.name}_cols", nw)), Ref(dst)])
    else:
        coord = node.attr("coordinate_transformation_mode", "half_pixel")
        rank = len(x.shape)
        operands = [Ref(x.name)]
        bound = 1
        for k, (hint, index, coeff) in enumerate((("rows", ih, ch), ("cols", iw, cw))):
            in_len, out_len = geometry["in_h" if k == 0 else "in_w"], \
                geometry["out_h" if k == 0 else "out_w"]
            axis = rank - 2 + k
            tflite = (mode == "linear" and not node.attr("antialias", 0) and axis >= 0
                      and coord in _TFLITE_MODES
                      and not (coord == "pytorch_half_pixel" and out_len == 1)
                      and math.isclose(scales[axis] * in_len, out_len, rel_tol=1e-6))
            if tflite:
                index, weights = _tflite_bilinear_axis(in_len, out_len, coord)
            else:
                weights = _q10(coeff)
            bound *= int(np.abs(weights).sum(axis=1).max())
            operands += [Ref(ctx.const(f"{node.name}_{hint}", index.reshape(-1).astype(np.int32))),
                         Ref(ctx.const(f"{node.name}_{hint}_w",
                                       weights.reshape(-1).astype(np.int32)))]
        if 128 * bound + (1 << 19) >= 1 << 31:
            raise Unsupported("its int8 taps could overflow a 32-bit sum (too many or too "
                              "large filter taps)")
        _call(ctx, node, "aot_resize_separable_s8", Params("aot_resize_s8_params", params),
              [*operands, Ref(dst)], macs=y.size * ih.shape[1] * iw.shape[1])
    if requant:
        _emit_requantize(ctx, node, dst, y.name, act, src_quant=in_q)


# ----------------------------------------------------------------- ConvTranspose

def _conv_transpose_geometry(node: Node, ctx: LoweringContext):
    """(x, w, y, bias name, geometry fields of aot_conv2d_params without `act`, MACs)."""
    x, w, y = (ctx.tensor(n) for n in (node.inputs[0], node.inputs[1], node.outputs[0]))
    nsp = len(x.shape) - 2
    if nsp not in (1, 2):
        raise Unsupported(f"{nsp}-D transposed convolution is not supported (1-D and 2-D are)")
    groups = int(node.attr("group", 1))
    kernel = list(w.shape[2:])
    if groups < 1 or x.shape[1] % groups or w.shape[0] != x.shape[1] or \
            w.shape[1] * groups != y.shape[1]:
        raise Unsupported(f"group {groups} does not fit {x.shape[1]} input channels, "
                          f"{y.shape[1]} output channels and weights {list(w.shape)}")
    strides = list(node.attr("strides", [1] * nsp))
    dil = list(node.attr("dilations", [1] * nsp))
    out_pad = list(node.attr("output_padding", [0] * nsp))
    auto = node.attr("auto_pad", "NOTSET")
    if node.attr("output_shape") is not None or auto in ("SAME_UPPER", "SAME_LOWER"):
        begin = []
        for i in range(nsp):
            total = (strides[i] * (x.shape[2 + i] - 1) + out_pad[i]
                     + (kernel[i] - 1) * dil[i] + 1 - y.shape[2 + i])
            begin.append(total // 2 if auto == "SAME_UPPER" else total - total // 2)
    elif auto == "VALID":
        begin = [0] * nsp
    else:
        begin = list(node.attr("pads", [0] * (2 * nsp)))[:nsp]
    bias = node.inputs[2] if len(node.inputs) > 2 and node.inputs[2] else ""
    if bias and ctx.tensor(bias).shape != (y.shape[1],):
        raise Unsupported(f"bias of shape {list(ctx.tensor(bias).shape)} for {y.shape[1]} "
                          f"output channels")
    cout_g = y.shape[1] // groups

    def two_d(values, fill):
        return list(values) if nsp == 2 else [fill] + list(values)

    in_sp, out_sp = two_d(x.shape[2:], 1), two_d(y.shape[2:], 1)
    kernel, strides, dil, begin = (two_d(kernel, 1), two_d(strides, 1), two_d(dil, 1),
                                   two_d(begin, 0))
    geometry = {
        "batch": x.shape[0], "in_c": x.shape[1], "in_h": in_sp[0], "in_w": in_sp[1],
        "out_c": y.shape[1], "out_h": out_sp[0], "out_w": out_sp[1],
        "kernel_h": kernel[0], "kernel_w": kernel[1], "stride_h": strides[0],
        "stride_w": strides[1], "dilation_h": dil[0], "dilation_w": dil[1],
        "pad_top": begin[0], "pad_left": begin[1], "groups": groups}
    macs = x.size * cout_g * kernel[0] * kernel[1]
    return x, w, y, bias, geometry, macs


def lower_conv_transpose(node: Node, ctx: LoweringContext) -> None:
    _require_f32(node, ctx)
    x, w, y, bias, geometry, macs = _conv_transpose_geometry(node, ctx)
    params = Params("aot_conv2d_params", {**geometry, "act": _act(node)})
    operands = (Ref(x.name), Ref(w.name), Ref(bias) if bias else Null(), Ref(y.name), Scratch())
    reads = tuple(o.tensor for o in operands[:3] if isinstance(o, Ref))
    # scratch: one input plane of per-tap channel sums (see the kernel)
    ctx.emit(Call("aot_conv_transpose2d_f32", params, operands, reads, (y.name,), node.name,
                  _op_label(node), macs, scratch_bytes=geometry["in_h"] * geometry["in_w"] * 4))


def lower_conv_transpose_s8(node: Node, ctx: LoweringContext) -> None:
    """int8 ConvTranspose: TFLite's TRANSPOSE_CONV (see the module docstring)."""
    x, w, y, bias, geometry, macs = _conv_transpose_geometry(node, ctx)
    _require_s8(node, ctx, [x.name, w.name, y.name])
    if not w.is_const:
        raise Unsupported("int8 transposed convolution needs constant weights")
    wq = _quant(ctx, w.name)
    out_c, groups = y.shape[1], geometry["groups"]
    per_group = out_c // groups
    if any(wq.zero_point):
        raise Unsupported("int8 transposed convolution needs symmetric weights (zero point 0)")
    if len(wq.scale) == 1:
        scales = [wq.scale[0]] * out_c
    elif len(wq.scale) == per_group and wq.axis is not None and wq.axis % len(w.shape) == 1:
        # ONNX's per-channel axis 1 holds the output channels of one group
        scales = [wq.scale[oc % per_group] for oc in range(out_c)]
    else:
        raise Unsupported("int8 transposed convolution weight scales must be per tensor or "
                          "per output channel (axis 1)")
    in_scale, in_zp = _per_tensor(ctx, x.name)
    out_scale, out_zp = _per_tensor(ctx, y.name)
    mults, shifts = qm.conv_multipliers(in_scale, scales, out_scale)
    _const_bias(ctx, bias, out_c, "transposed convolution")
    act_min, act_max = _act_range(node, ctx, y.name)
    params = Params("aot_conv2d_s8_params", {
        **geometry, "input_offset": -in_zp, "output_offset": out_zp, "act_min": act_min,
        "act_max": act_max, "multipliers": ConstArray(mults), "shifts": ConstArray(shifts),
        "weights_offsets": None})
    operands = (Ref(x.name), Ref(w.name), Ref(bias) if bias else Null(), Ref(y.name), Scratch())
    reads = tuple(o.tensor for o in operands[:3] if isinstance(o, Ref))
    # scratch: one output row of int32 sums, by column phase (see the kernel)
    sw = geometry["stride_w"]
    row = sw * -(-geometry["out_w"] // sw)
    ctx.emit(Call("aot_conv_transpose2d_s8", params, operands, reads, (y.name,), node.name,
                  _op_label(node), macs, scratch_bytes=row * 4))

"""Lowering rules for the Cortex-M DSP extension (variant "dsp": cortex-m4/m7/m33).

Contract: each rule lowers an int8 node to an `aot_*_dsp_s8` kernel (SMLAD with
SXTB16 unpacking; runtime_c/aot_dsp_impl.h), bit-exact with the portable kernel
the generic rule would emit, or raises `Fallback` for a form the fast path
lacks (float, asymmetric weights, grouped non-depthwise convolution, ...).

Each rule runs the generic int8 rule first and rewrites the call it made: the
TFLite "Prepare" arithmetic (multipliers, shifts, clamp, offsets) stays in one
place, and what is added here is the compile-time work the fast kernels
need -- weights re-laid out for their load pattern, the input zero point
times each output channel's weight sum folded into the bias (int32 wrap, as
the kernels' sums wrap), multipliers doubled for a one-instruction rounding
high multiply (SMMULR), scratch sizes. (Multipliers and shifts already are
per-channel tables for convolutions; a per-tensor fully connected keeps its
one multiplier: tables would cost 8 bytes of flash per output.)

The `--optimize speed` convolution and fully-connected kernels
(runtime_c/aot_dsp_gemm_impl.h) take int16-pair weights (twice the flash of
int8), a bias padded to whole blocks of 4 channels and a per-channel
requantization table (`requant_table`, 12 bytes per channel); an im2col layer
with an even in_c and 3-wide rows at stride 1 has its taps in the kernel's
channel-pair order.

`--optimize speed` picks the specialized kernels where a layer's shape fits
them (pointwise 1x1, depthwise 3x3) and tabulates an Add's input rescalings
(aot_add_lut_dsp_s8, 2 KiB per layer); those two keep TFLite's multipliers
and take doubled sums instead (bias / tables doubled), for one SMMLAR with
the output offset folded in (runtime_c/aot_dsp_dw_impl.h), where the sums'
bound admits it (|sum| < 2^29, checked here; else the general kernel);
`--optimize size` lowers every convolution to the two general ones (im2col,
depthwise), so fewer kernels are linked. The in-place ability of the portable
kernels is kept: a depthwise kernel copies each input plane (padded) to
scratch before writing its output plane, the matrix-product ones gather two
pixels before writing them, under the same conditions (aot.targets.rules_inplace).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from aot.ir import Node, Tensor
from aot.lookup_tables import mul_by_quantized_multiplier
from aot.program import Call, ConstArray, Params, Ref, Scratch
from aot.targets import rules_int8 as q
from aot.targets.lowering import Fallback, LoweringContext
from aot.targets.rules_inplace import depthwise_ring_rows, pointwise_inplace


def _generic_call(node: Node, ctx: LoweringContext, rule, kernel: str) -> Call:
    """The one call the generic int8 rule makes for `node` (removed again), or
    Fallback when it made something else (several calls, another kernel)."""
    if ctx.tensor(node.inputs[0]).dtype != np.int8:
        raise Fallback
    first = len(ctx.steps)
    rule(node, ctx)
    steps = ctx.steps[first:]
    del ctx.steps[first:]
    if len(steps) != 1 or not isinstance(steps[0], Call):
        raise Fallback
    call = steps[0].fallback or steps[0]
    if call.kernel != kernel:
        raise Fallback
    return call


def _wrap32(values: np.ndarray) -> np.ndarray:
    return ((values.astype(np.int64) + 2**31) % 2**32 - 2**31).astype(np.int32)


def _folded_bias(ctx, bias_op, weights: np.ndarray, input_offset: int) -> np.ndarray:
    """bias + input_offset * sum(weights of the channel), wrapped to int32."""
    rows = weights.reshape(weights.shape[0], -1).astype(np.int64)
    bias = (np.zeros(rows.shape[0], np.int64) if not isinstance(bias_op, Ref)
            else np.asarray(ctx.const_value(bias_op.tensor), np.int64).reshape(-1))
    return _wrap32(bias + input_offset * rows.sum(axis=1))


def _sum_bound(bias: np.ndarray, weights: np.ndarray) -> int:
    """The largest |bias + sum(w * x)| of any channel over int8 inputs x (bias with
    the input offset folded in): what a kernel's int32 sums can reach."""
    rows = np.abs(weights.reshape(weights.shape[0], -1).astype(np.int64)).sum(axis=1)
    return int((np.abs(bias.astype(np.int64)) + 128 * rows).max(initial=0))


def pair_layout(rows: np.ndarray) -> np.ndarray:
    """[r][k] int8 -> the kernels' pair weights (runtime_c/aot_dsp_impl.h):
    rows padded to an even count and k to a multiple of 4 with zeros, stored
    [r / 2][k4 / 4][2 rows][4 bytes], each group of 4 as (0, 2, 1, 3), so
    SXTB16 of a word (and of it rotated by 8) gives the halfword pairs (0, 1)
    and (2, 3) of the int16 pixels they multiply."""
    r, k = rows.shape
    r2, k4 = r + r % 2, -(-k // 4) * 4
    padded = np.zeros((r2, k4), np.int8)
    padded[:r, :k] = rows
    groups = padded.reshape(r2 // 2, 2, k4 // 4, 4)[..., [0, 2, 1, 3]]
    return np.ascontiguousarray(groups.transpose(0, 2, 1, 3)).reshape(-1)


def quad_layout(rows: np.ndarray) -> np.ndarray:
    """[r][k] int8 -> the fully-connected kernel's quad weights: rows padded to a
    multiple of 4 and k too, stored [r4 / 4][k4 / 4][4 rows][4 bytes]."""
    r, k = rows.shape
    r4, k4 = -(-r // 4) * 4, -(-k // 4) * 4
    padded = np.zeros((r4, k4), np.int8)
    padded[:r, :k] = rows
    return np.ascontiguousarray(padded.reshape(r4 // 4, 4, k4 // 4, 4)
                                .transpose(0, 2, 1, 3)).reshape(-1)


def wide_quad_layout(rows: np.ndarray) -> np.ndarray:
    """[r][k] int8 -> the `--optimize speed` kernels' wide quad weights
    (runtime_c/aot_dsp_impl.h): rows padded to a multiple of 4 and k to a
    multiple of 4 with zeros, int32 words [r4 / 4][k4 / 2][4 rows], each the
    int16 pair (k even in the low half, k odd in the high half) -- an SMLAD
    operand as loaded, twice the bytes of the int8 weights."""
    r, k = rows.shape
    r4, k4 = -(-r // 4) * 4, -(-k // 4) * 4
    padded = np.zeros((r4, k4), np.int64)
    padded[:r, :k] = rows
    pairs = padded.reshape(r4 // 4, 4, k4 // 2, 2)
    words = (pairs[..., 0] & 0xFFFF) | ((pairs[..., 1] & 0xFFFF) << 16)
    return _wrap32(np.ascontiguousarray(words.transpose(0, 2, 1)).reshape(-1))


def wide_fc_layout(rows: np.ndarray) -> np.ndarray:
    """[r][k] int8 -> aot_fully_connected_wide_dsp_s8's weights: rows padded to a
    multiple of 4 and k too, int32 words [r4 / 4][k4 / 4][4 rows][2], each row's
    group of 4 columns as the int16 pairs (w0, w2) and (w1, w3) (low half first),
    the SMLAD partners of SXTB16 of a word of x and of it rotated by 8."""
    r, k = rows.shape
    r4, k4 = -(-r // 4) * 4, -(-k // 4) * 4
    padded = np.zeros((r4, k4), np.int64)
    padded[:r, :k] = rows
    g = padded.reshape(r4 // 4, 4, k4 // 4, 4).transpose(0, 2, 1, 3)
    lo, hi = g[..., [0, 1]], g[..., [2, 3]]          # words (w0, w2) and (w1, w3)
    words = (lo & 0xFFFF) | ((hi & 0xFFFF) << 16)
    return _wrap32(np.ascontiguousarray(words).reshape(-1))


def doubled_multipliers(params: Params) -> tuple[Params, np.ndarray | None]:
    """The parameter block with each multiplier m replaced by 2 * m wrapped to
    int32, the form aot_dsp_requantize_m2 takes (one SMMULR: see
    runtime_c/aot_dsp_impl.h), and the mask of the channels whose multiplier
    is 0 (a zero weight scale). That form cannot express 0, but such a
    channel's output does not depend on its sum: the caller zeroes its weights
    and bias, and a zero sum requantizes to 0 in either form."""
    f = dict(params.fields)
    zero = None
    if f.get("multipliers") is not None:
        m = np.asarray(f["multipliers"].data, np.int64)
        zero = m == 0
        f["multipliers"] = ConstArray(_wrap32(2 * m))
    elif f.get("multiplier", 0):
        f["multiplier"] = int(_wrap32(np.array([2 * f["multiplier"]]))[0])
    else:
        raise Fallback     # one zero multiplier for a whole fully-connected layer
    return Params(params.ctype, f), zero


def requant_table(params: Params, output_offset: int) -> Params:
    """The parameter block (multipliers already doubled) with `multipliers` replaced by
    the speed kernels' requantization table (runtime_c/aot_dsp_gemm_impl.h): per
    channel {m2, right, c}, right = -shift and c = 2^(right - 1) + output_offset *
    2^right for a right shift in [1, 23], else right = 0 and c = shift (the general
    path). A per-tensor block (no multipliers table) is returned unchanged: the
    kernel makes the one entry."""
    f = dict(params.fields)
    if f.get("multipliers") is None:
        return params
    m2 = np.asarray(f["multipliers"].data, np.int64)
    shift = np.asarray(f["shifts"].data, np.int64)
    fast = (shift <= -1) & (shift >= -23)
    right = np.where(fast, -shift, 0)
    c = np.where(fast, (1 << np.maximum(right - 1, 0)) + output_offset * (1 << right), shift)
    f["multipliers"] = ConstArray(_wrap32(np.stack([m2, right, c], axis=1).reshape(-1)))
    return Params(params.ctype, f)


def _padded4(values: np.ndarray) -> np.ndarray:
    """values zero-padded to a multiple of 4 (a block's 4 bias words)."""
    out = np.zeros(-(-values.size // 4) * 4, np.int32)
    out[:values.size] = values
    return out


def _const(ctx: LoweringContext, hint: str, data: np.ndarray, like: str | None = None) -> str:
    name = ctx.const(hint, data)
    if like is not None:   # keep the weights' quantization for reports
        t = ctx.tensors[name]
        ctx.tensors[name] = Tensor(name, t.shape, t.dtype, t.data, ctx.tensor(like).quant)
    return name


def _emit(ctx, base: Call, kernel: str, params: Params, weights: str, bias: str,
          scratch: int, inplace: bool) -> None:
    x, _, _, y = base.operands
    operands = (x, Ref(weights), Ref(bias), y) + ((Scratch(),) if scratch else ())
    ctx.emit(Call(kernel, params, operands,
                  (x.tensor, weights, bias), base.writes, base.layer, base.op, base.macs,
                  scratch_bytes=scratch, inplace=(x.tensor,) if inplace else (),
                  inplace_any_size=inplace))


def lower_conv_dsp(node: Node, ctx: LoweringContext) -> None:
    """int8 Conv: pointwise, depthwise (3x3 or general) or im2col convolution."""
    base = _generic_call(node, ctx, q.lower_conv_s8, "aot_conv2d_s8")
    g = dict(base.params.fields)
    w_name = base.operands[1].tensor
    w = np.asarray(ctx.const_value(w_name), np.int8)
    bias = _folded_bias(ctx, base.operands[2], w, g["input_offset"])
    params, zero = doubled_multipliers(base.params)
    zeroed = zero is not None and zero.any()
    if zeroed:
        w, bias = w.copy(), bias.copy()
        w[zero], bias[zero] = 0, 0
    b_name = _const(ctx, f"{node.name}_bias_dsp", bias)
    speed = ctx.optimize == "speed"
    out_c, in_c, groups = g["out_c"], g["in_c"], g["groups"]
    kh, kw = g["kernel_h"], g["kernel_w"]

    if groups > 1 and groups == in_c:          # depthwise (multiplier out_c / in_c)
        inplace = depthwise_ring_rows(g) is not None
        hp = (g["out_h"] - 1) * g["stride_h"] + (kh - 1) * g["dilation_h"] + 1
        wp = (g["out_w"] - 1) * g["stride_w"] + (kw - 1) * g["dilation_w"] + 1
        if (speed and kh == kw == 3 and out_c == in_c and g["dilation_h"] == 1
                and g["dilation_w"] == 1 and g["stride_w"] in (1, 2)
                and _sum_bound(bias, w) < 2**29):
            w3 = _const(ctx, f"{w_name}_zeroed", w, w_name) if zeroed else w_name
            # doubled sums, TFLite's multipliers (runtime_c/aot_dsp_dw_impl.h)
            b2 = _const(ctx, f"{node.name}_bias2_dsp",
                        (2 * bias.astype(np.int64)).astype(np.int32))
            # the padded plane, word-aligned, then the int32 sums of a chunk of rows
            # (AOT_DSP_DW3_ROWS in runtime_c/aot_dsp_dw_impl.h)
            rows = min(g["out_h"], max(2, (64 // g["out_w"]) & ~1))
            _emit(ctx, base, "aot_depthwise_conv2d_3x3_dsp_s8", base.params, w3, b2,
                  -(-(hp * wp + 4) // 4) * 4 + 4 * rows * (g["out_w"] + 1), inplace)
            return
        kw4 = -(-kw // 4) * 4
        rows = np.zeros((out_c, kh, kw4), np.int8)
        rows[:, :, :kw] = w.reshape(out_c, kh, kw)
        wd = _const(ctx, f"{w_name}_dsp", rows.reshape(out_c, kh * kw4), w_name)
        _emit(ctx, base, "aot_depthwise_conv2d_dsp_s8", params, wd, b_name,
              hp * wp + 4, inplace)
        return
    if groups != 1:
        raise Fallback     # grouped convolution: the portable kernel
    k = in_c * kh * kw
    k4 = -(-k // 4) * 4
    inplace = pointwise_inplace(g)
    if speed:
        # the pixel pair (k4 words, 2 end words, 8 sums), then for im2col the taps'
        # int32 offsets (runtime_c/aot_dsp_gemm_impl.h)
        taps = w.reshape(out_c, in_c, kh, kw)
        if (not inplace and in_c % 2 == 0 and kw == 3 and g["stride_w"] == 1
                and g["dilation_w"] == 1):
            # aot_dsp_channel_pairs: k = ((ic / 2 * kh + ky) * 3 + kx) * 2 + ic % 2
            taps = taps.reshape(out_c, in_c // 2, 2, kh, kw).transpose(0, 1, 3, 4, 2)
        wd = _const(ctx, f"{w_name}_dsp", wide_quad_layout(taps.reshape(out_c, k)), w_name)
        b4 = _const(ctx, f"{node.name}_bias4_dsp", _padded4(bias))
        table = requant_table(params, g["output_offset"])
        if inplace:
            _emit(ctx, base, "aot_pointwise_conv2d_dsp_s8", table, wd, b4, 4 * (k4 + 10),
                  inplace)
        else:
            _emit(ctx, base, "aot_conv2d_wide_dsp_s8", table, wd, b4, 4 * (k4 + 10) + 4 * k4,
                  inplace)
    else:
        wd = _const(ctx, f"{w_name}_dsp", pair_layout(w.reshape(out_c, k)), w_name)
        _emit(ctx, base, "aot_conv2d_dsp_s8", params, wd, b_name, 2 * 2 * k4 + 4 * k4, inplace)


def lower_gemm_dsp(node: Node, ctx: LoweringContext) -> None:
    """int8 fully connected (TFLite's symmetric weights), one call (no batched B)."""
    base = _generic_call(node, ctx, q.lower_gemm_s8, "aot_fully_connected_s8")
    f = base.params.fields
    if f["weights_offset"] != 0 or f["weights_offsets"] is not None:
        raise Fallback
    w_name = base.operands[1].tensor
    w = ctx.const_value(w_name)
    if w is None:
        raise Fallback     # run-time weights
    w = np.asarray(w, np.int8).reshape(f["n"], f["k"])
    bias = _folded_bias(ctx, base.operands[2], w, f["input_offset"])
    params, zero = doubled_multipliers(base.params)
    if zero is not None and zero.any():
        w, bias = w.copy(), bias.copy()
        w[zero], bias[zero] = 0, 0
    if ctx.optimize == "speed":
        wd = _const(ctx, f"{w_name}_dsp", wide_fc_layout(w), w_name)
        b4 = _const(ctx, f"{node.name}_bias4_dsp", _padded4(bias))
        _emit(ctx, base, "aot_fully_connected_wide_dsp_s8",
              requant_table(params, f["output_offset"]), wd, b4, 0, False)
        return
    b_name = _const(ctx, f"{node.name}_bias_dsp", bias)
    wd = _const(ctx, f"{w_name}_dsp", quad_layout(w), w_name)
    _emit(ctx, base, "aot_fully_connected_dsp_s8", params, wd, b_name, 0, False)


def add_tables(f: dict) -> np.ndarray:
    """[2][256] int32: TFLite's rescaled a and b (left_shift included) for each int8
    code, indexed by code & 0xFF (aot_add_lut_dsp_s8 takes them doubled)."""
    codes = (np.arange(256) ^ 0x80) - 0x80          # index i holds code (int8)i
    return np.array([[mul_by_quantized_multiplier(
        int(_wrap32(np.array([(int(c) + f[f"{s}_offset"]) << f["left_shift"]]))[0]),
        f[f"{s}_multiplier"], f[f"{s}_shift"]) for c in codes] for s in "ab"], np.int32)


def lower_add_dsp(node: Node, ctx: LoweringContext) -> None:
    """int8 Add of two same-shape tensors (no broadcasting); `--optimize speed`
    tabulates the input rescalings (2 KiB of flash per layer)."""
    base = _generic_call(node, ctx, q.lower_add_s8, "aot_add_s8")
    f = base.params.fields
    if f["ndim"] != 0:
        raise Fallback
    tab = add_tables(f).astype(np.int64) if ctx.optimize == "speed" else None
    # doubled sums below 2^30: aot_add_lut_dsp_s8's requantization (aot_dsp_dw_impl.h)
    if tab is not None and np.abs(tab).max(axis=1).sum() < 2**29:
        tables = _const(ctx, f"{node.name}_add_tables", (2 * tab).astype(np.int32).reshape(-1))
        a, b, y = base.operands
        ctx.emit(dataclasses.replace(
            base, kernel="aot_add_lut_dsp_s8",
            operands=(a, b, Ref(tables), y), reads=(*base.reads, tables)))
        return
    if max(f["a_shift"], f["b_shift"], f["output_shift"]) > 0:
        raise Fallback
    ctx.emit(dataclasses.replace(base, kernel="aot_add_dsp_s8"))


def lower_avgpool_dsp(node: Node, ctx: LoweringContext) -> None:
    """int8 AveragePool with TFLite's equal input and output parameters and
    dilation_w 1: the same call, its window sums four taps per word."""
    base = _generic_call(node, ctx, q.lower_pool_s8, "aot_avgpool2d_s8")
    f = base.params.fields
    if f["count_multipliers"] is not None or f["pool"]["dilation_w"] != 1:
        raise Fallback
    ctx.emit(dataclasses.replace(base, kernel="aot_avgpool2d_dsp_s8"))


RULES = {
    "Conv": lower_conv_dsp,
    "Gemm": lower_gemm_dsp,
    "Add": lower_add_dsp,
    "AveragePool": lower_avgpool_dsp,
}

"""x86-64 lowering rules for the "avx2" (AVX2 + FMA) and "avx512" (AVX-512 VNNI)
kernel variants.

Contract: each rule lowers its node as the generic rule would (the generic
rule runs first and its call is taken back out, so geometry, multipliers,
shifts and clamps are computed in one place), then swaps that call for an
x86 kernel and does the kernel's Prepare work here:

- convolution, groups 1 (`aot_conv2d_{avx2,avx512}_{f32,s8}`) and depthwise
  (`aot_depthwise_conv2d_{avx2,avx512}_{f32,s8}`):
  the kernels copy the input into padded "phase planes" (one per stride
  phase, see runtime_c/aot_conv2d_x86_impl.h) so every tap is a contiguous
  row for any stride, dilation and padding; `phase_scratch` sizes that
  scratch exactly as the C computes it (depthwise: one channel at a time).
  The float AVX-512 depthwise kernel instead reads the input in place (lane
  masks in scratch, `dw_f32_flat`), and so does the float AVX-512 convolution
  with at most 4 input channels (`conv_f32_direct`: weights packed in blocks of
  16 output channels), and so do its 1x1 convolutions on few pixels
  (`conv_f32_oc_lanes`: output channels in lanes). A float convolution with one output pixel whose window
  is the whole input (`fully_connected`) becomes aot_matmul_{avx2,avx512}_f32
  on transposed weights.
  int8 weights are packed for the kernel's broadcast loads (int16 pairs /
  int8 quads per int32, zero padded), and for VNNI (u8 x s8)
  (input_offset - 128) * sum(w) is folded into the bias. The int8 depthwise kernel sums in float, exact only while
  sum |w| * 255 < 2^24 per channel: checked here, else `Fallback`. Stride 1 with
  out_w == in_w and kernel_w <= 4 takes `aot_depthwise_conv2d_rows_avx512_s8`
  instead: a kernel row's taps as one VNNI quad, int32 sums (bias folded as above).
  Stride_w 2 with kernel_w <= 4 takes `aot_depthwise_conv2d_rows_s2_avx512_s8`:
  the same quads, built per input row with one vpermw (no per-channel phase planes
  of pixels).
- int8 fully connected (`aot_fully_connected_{avx2,avx512}_s8`): bias folded.
- int8 add of same-shape tensors (`aot_add_{avx2,avx512}_s8`).
- int8 average pooling whose windows are whole planes (`aot_avgpool2d_avx512_s8`).
- int8 2-D transposes of 2..8 columns, e.g. an image's NHWC -> NCHW
  (`aot_transpose2d_{avx2,avx512}_s8`, vpshufb tables from `transpose_shuffles`):
  the out-of-place form only; an in-place call stays, with it as its fallback.
- float Gemm/MatMul with contiguous B rows (`aot_matmul_{avx2,avx512}_f32`).
- float Add/Sub/Mul/Div with any broadcast (`aot_{add,sub,mul,div}_{avx2,avx512}_f32`,
  the generic params: bit for bit the portable results) and AveragePool
  (`aot_avgpool2d_{avx2,avx512}_f32`, the generic params; sums in lanes).

int8 kernels are bit-exact with the portable ones (no saturating
instruction: vpmaddwd on sign-extended int8 and vpdpbusd cannot saturate);
float kernels use FMA, so they differ from the portable build by rounding.
Forms a fast path lacks raise `Fallback` and the next rule lowers the node.
Registered in targets/registry.py only.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from aot.program import Call, Null, Params, Ref, Scratch
from aot.targets import rules_generic as g
from aot.targets import rules_int8 as q
from aot.targets.lowering import Fallback, LoweringContext
from aot.targets.rules_inplace import transpose_as_2d

S8 = np.dtype(np.int8)
# Pixel tile of each kernel (the phase planes' read slack depends on it) and the
# input channels interleaved per 4-byte plane element.
NR = {"aot_conv2d_avx2_f32": 16, "aot_conv2d_avx512_f32": 32,
      "aot_conv2d_avx2_s8": 16, "aot_conv2d_avx512_s8": 32,
      "aot_depthwise_conv2d_avx2_f32": 32, "aot_depthwise_conv2d_avx2_s8": 32,
      "aot_depthwise_conv2d_avx512_f32": 64, "aot_depthwise_conv2d_avx512_s8": 64}
LANES = {"aot_conv2d_avx2_s8": 2, "aot_conv2d_avx512_s8": 4}     # others: 1
MAX_STRIDE = 16      # AOT_X86_MAX_STRIDE in runtime_c/aot_conv2d_x86_impl.h


def _round_up(x: int, m: int) -> int:
    return -(-x // m) * m


def _wrap32(values) -> np.ndarray:
    v = np.asarray(values, np.int64)
    return ((v + 2**31) % 2**32 - 2**31).astype(np.int32)


def pointwise_direct(p: dict) -> bool:
    """A 1x1, stride 1, unpadded convolution: the float kernel reads the input as is."""
    return (p["kernel_h"] == p["kernel_w"] == 1 and p["stride_h"] == p["stride_w"] == 1
            and p["pad_top"] == p["pad_left"] == 0
            and (p["out_h"], p["out_w"]) == (p["in_h"], p["in_w"]))


DW_FLAT_MAX_TAPS, DW_FLAT_MAX_PIXELS = 64, 512   # runtime_c/aot_depthwise_avx512_impl.h


def dw_flat_direct(p: dict) -> bool:
    """aot_dw_flat_direct: the flat path's virtual pixels are the output's."""
    return p["stride_h"] == p["stride_w"] == 1 and p["in_w"] == p["out_w"]


def dw_flat(p: dict) -> bool:
    """aot_dw_flat_applies (runtime_c/aot_depthwise_avx512_impl.h): the int8
    avx512 depthwise kernel computes the plane flat from the input plane (and,
    unless direct, picks the strided outputs from it)."""
    if p["kernel_h"] * p["kernel_w"] > DW_FLAT_MAX_TAPS:
        return False
    return dw_flat_direct(p) or (p["stride_h"] * (p["out_h"] - 1) < p["in_h"]
                                 and p["stride_w"] * (p["out_w"] - 1) < p["in_w"]
                                 and p["in_h"] * p["in_w"] <= DW_FLAT_MAX_PIXELS)


def dw_flat_scratch(p: dict) -> int:
    """Scratch of the flat path: tap masks per 16 virtual pixels, one channel's float
    plane, and unless direct the virtual sums and the gather indices."""
    rows = p["out_h"] if dw_flat_direct(p) else p["stride_h"] * (p["out_h"] - 1) + 1
    nv = -(-rows * p["in_w"] // 64) * 4
    size = (_round_up(p["kernel_h"] * p["kernel_w"] * nv * 2, 64)
            + _round_up(p["in_h"] * p["in_w"], 16) * 4)
    if not dw_flat_direct(p):
        size += nv * 16 * 4 + -(-p["out_h"] * p["out_w"] // 16) * 16 * 4
    return size


def dw_rows(p: dict) -> bool:
    """aot_depthwise_conv2d_rows_avx512_s8 applies: stride 1, out_w == in_w, a kernel
    row's taps fit one VNNI quad."""
    return dw_flat_direct(p) and p["kernel_w"] <= 4


def dw_rows_ahead(p: dict) -> int:
    """1 where the row-quad depthwise kernels build a channel's quads one channel ahead,
    in a second set (output planes of at most 64 pixels), else 0."""
    return 1 if p["out_h"] * p["out_w"] <= 64 else 0


def dw_rows_scratch(p: dict) -> int:
    """Its scratch: masks, 8 bytes per 16 input pixels (byte masks, or column masks
    [kernel_w][ceil(in plane / 16)] int16), then the row quads of a channel with the
    pad rows above and below (int32), a second set of them if `dw_rows_ahead`."""
    below = max(0, (p["kernel_h"] - 1) * p["dilation_h"] - p["pad_top"])
    quads = (p["pad_top"] + below) * p["in_w"] + _round_up(p["out_h"] * p["out_w"], 16)
    return _round_up(8 * -(-p["in_h"] * p["in_w"] // 16), 64) + (1 + dw_rows_ahead(p)) * quads * 4


def dw_rows_s2(p: dict) -> bool:
    """aot_depthwise_conv2d_rows_s2_avx512_s8 applies: stride_w 2, dilation_w 1,
    kernel_w <= 4 (a kernel row's taps are 4 consecutive input bytes)."""
    return p["stride_w"] == 2 and p["dilation_w"] == 1 and p["kernel_w"] <= 4


def dw_rows_s2_scratch(p: dict) -> int:
    """Its scratch: the kernel rows' offsets, then stride_h phase planes of quads over
    rows q_min .. out_h - 1 + q_max (q = floor((ky * dilation_h - pad_top) / stride_h)),
    read slack of 16 (int32); a second set of them if `dw_rows_ahead`."""
    qs = [(ky * p["dilation_h"] - p["pad_top"]) // p["stride_h"] for ky in range(p["kernel_h"])]
    rows = p["out_h"] + max(qs) - min(qs)
    return (_round_up(p["kernel_h"], 16)
            + (1 + dw_rows_ahead(p)) * p["stride_h"] * _round_up(rows * p["out_w"] + 16, 16)) * 4


def tap_packed(p: dict) -> bool:
    """aot_conv2d_avx512_s8 with one input channel packs four taps per VNNI quad:
    weights [out_c][ceil(taps / 4)] quads, and an im2col of them in scratch (by
    output pixel: [ceil(taps / 4)][round_up(out_h * out_w, 32)])."""
    return p["in_c"] == 1 and p["kernel_h"] * p["kernel_w"] > 1


DW_F32_FLAT_TABLE_MAX = 16384   # AOT_DW_F32_FLAT_TABLE_MAX in aot_depthwise_conv2d_avx512_f32.c


def dw_f32_flat(p: dict) -> bool:
    """aot_dw_f32_flat (runtime_c/aot_depthwise_conv2d_avx512_f32.c): stride 1 and
    out_w == in_w, not a whole number of vectors: pixels of a vector span rows."""
    nv, taps = p["out_h"] * p["out_w"], p["kernel_h"] * p["kernel_w"]
    return (p["stride_h"] == p["stride_w"] == 1 and p["in_w"] == p["out_w"]
            and p["out_w"] % 16 != 0 and -(-nv // 16) * taps * 2 <= DW_F32_FLAT_TABLE_MAX)


def conv_f32_direct(p: dict) -> bool:
    """aot_conv2d_avx512_f32_direct (runtime_c/aot_conv2d_avx512_f32.c): at most 4
    input channels, a kernel larger than 1x1 and output rows of at least 16 pixels
    (a network's first layer on an image): no planes, weights packed
    [ceil(out_c / 16)][in_c * kh * kw][16]."""
    return (p["groups"] == 1 and p["in_c"] <= 4 and p["kernel_h"] * p["kernel_w"] > 1
            and p["out_w"] >= 16)


def conv_f32_oc_lanes(p: dict) -> bool:
    """aot_conv2d_avx512_f32_oc_lanes (runtime_c/aot_conv2d_avx512_f32.c): a 1x1,
    stride 1, unpadded convolution of at least 32 input channels on few pixels (at
    most 24, or 33..48: a 32-pixel tile would leave a quarter or more of its lanes
    idle), or a larger kernel on at most 4 input channels with rows narrower than a
    vector (a short K), keeps output channels in lanes, weights packed as
    `conv_f32_direct`'s (scratch: the phase planes as usual). Independent of out_c,
    so a thread's part of the channels takes the same path."""
    if p["groups"] != 1:
        return False
    if pointwise_direct(p):
        nv = p["out_h"] * p["out_w"]
        return p["in_c"] >= 32 and (nv <= 24 or 32 < nv <= 48)
    return p["in_c"] <= 4 and p["kernel_h"] * p["kernel_w"] > 1 and p["out_w"] < 16


def _pack_direct(w: np.ndarray) -> np.ndarray:
    """[out_c][K] -> [ceil(out_c / 16)][K][16], zero padded."""
    out_c, k = w.shape
    blocks = -(-out_c // 16)
    padded = np.zeros((blocks * 16, k), np.float32)
    padded[:out_c] = w
    return np.ascontiguousarray(padded.reshape(blocks, 16, k).transpose(0, 2, 1))


def phase_scratch(p: dict, kernel: str) -> int:
    """Scratch bytes of an x86 convolution kernel: the tap-offset table plus the
    phase planes of every input channel (depthwise: of one, and a table of
    each input row's runs, aot_x86_runs_bytes; aot_x86_geom_init in
    runtime_c/aot_conv2d_x86_impl.h computes the same numbers)."""
    if kernel == "aot_depthwise_conv2d_rows_avx512_s8":
        return dw_rows_scratch(p)
    if kernel == "aot_depthwise_conv2d_rows_s2_avx512_s8":
        return dw_rows_s2_scratch(p)
    kh, kw, sh, sw = p["kernel_h"], p["kernel_w"], p["stride_h"], p["stride_w"]
    extra_rows = (kh - 1) * p["dilation_h"] // sh
    extra_cols = (kw - 1) * p["dilation_w"] // sw
    lw = p["out_w"] + extra_cols
    nv = p["out_h"] * lw
    ps = _round_up(nv, NR[kernel]) + extra_rows * lw + extra_cols
    table = _round_up(kh * kw * 4, 64)
    if kernel.endswith("_f32") and kernel.startswith("aot_conv2d") and pointwise_direct(p):
        return table
    if kernel == "aot_conv2d_avx512_s8" and pointwise_direct(p):   # one tile's quads
        return table + -(-p["in_c"] // 4) * NR[kernel] * 4
    if kernel == "aot_conv2d_avx512_f32" and conv_f32_direct(p):   # row masks only
        return _round_up(-(-p["out_w"] // 16) * kw * 4, 64)
    if kernel == "aot_depthwise_conv2d_avx512_f32":   # lane masks only: no planes
        if dw_f32_flat(p):
            return table + _round_up(-(-p["out_h"] * p["out_w"] // 16) * kh * kw * 2, 64)
        return (table + _round_up(-(-p["out_w"] // 16) * kw * 4, 64)
                + _round_up(p["in_w"] * 4, 64))
    if kernel == "aot_depthwise_conv2d_avx512_s8" and dw_flat(p):
        return dw_flat_scratch(p)
    if "depthwise" in kernel:   # one channel's planes at a time, and every row's runs
        runs = _round_up(p["in_h"] * (1 + 3 * sw) * 4, 64)
        return table + runs + sh * sw * ps * 4
    planes = table + -(-p["in_c"] // LANES.get(kernel, 1)) * sh * sw * ps * 4
    if kernel == "aot_conv2d_avx512_s8" and tap_packed(p):
        return planes + -(-kh * kw // 4) * _round_up(p["out_h"] * p["out_w"], NR[kernel]) * 4
    return planes


def _generic_call(node, ctx: LoweringContext, lower) -> Call:
    """The single call the generic rule emits for `node`, taken back out of ctx
    (an in-place call's out-of-place form: the x86 kernels are out of place)."""
    first = len(ctx.steps)
    lower(node, ctx)
    steps = ctx.steps[first:]
    if len(steps) != 1 or not isinstance(steps[0], Call):
        raise Fallback
    del ctx.steps[first:]
    call = steps[0]
    return call.fallback if call.fallback is not None else call


def _kind(p: dict) -> str | None:
    """"dense" (groups 1), "depthwise" (one input channel per group), else None."""
    if min(p["pad_top"], p["pad_left"]) < 0 or p["stride_w"] > MAX_STRIDE:
        return None
    if p["groups"] == 1:
        return "dense"
    if p["groups"] == p["in_c"] and p["out_c"] % p["in_c"] == 0:
        return "depthwise"
    return None


def _emit(ctx, call: Call, kernel: str, operands, consts=()) -> None:
    reads = (*call.reads, *consts)
    ctx.emit(Call(kernel, call.params, tuple(operands), reads, call.writes, call.layer,
                  call.op, call.macs, scratch_bytes=phase_scratch(call.params.fields, kernel)))


# ----------------------------------------------------------------- float32

def fully_connected(p: dict) -> bool:
    """A dense convolution with one output pixel whose window is the whole
    unpadded input (e.g. a 1x1 conv after a global pool): a matrix-vector product."""
    return (p["groups"] == 1 and p["out_h"] == p["out_w"] == 1
            and (p["kernel_h"], p["kernel_w"]) == (p["in_h"], p["in_w"])
            and p["pad_top"] == p["pad_left"] == 0)


def _conv_as_matmul(ctx, call: Call, variant: str) -> None:
    """Lower a `fully_connected` convolution as aot_matmul: y[n][oc] = x[n][:] . W[oc][:],
    with W stored transposed ([K][out_c]) so each k streams a contiguous weight row."""
    p = call.params.fields
    x_op, w_op, b_op, y_op = call.operands
    k = p["in_c"] * p["kernel_h"] * p["kernel_w"]
    w = np.asarray(ctx.const_value(w_op.tensor), np.float32).reshape(p["out_c"], k)
    wt = ctx.const(f"{w_op.tensor}_kn", np.ascontiguousarray(w.T))
    bias = not isinstance(b_op, Null)
    params = Params("aot_matmul_params", {
        "batch": 1, "m": p["batch"], "n": p["out_c"], "k": k,
        "a_row_stride": k, "a_k_stride": 1, "b_k_stride": p["out_c"], "b_col_stride": 1,
        "bias_row_stride": 0, "bias_col_stride": 1 if bias else 0,
        "alpha": 1.0, "beta": 1.0 if bias else 0.0, "a_offsets": None, "b_offsets": None,
        "act": p["act"]})
    reads = tuple(r for r in call.reads if r != w_op.tensor) + (wt,)
    ctx.emit(Call(f"aot_matmul_{variant}_f32", params, (x_op, Ref(wt), b_op, y_op), reads,
                  call.writes, call.layer, call.op, call.macs))


def _conv_f32(node, ctx: LoweringContext, variant: str) -> None:
    call = _generic_call(node, ctx, g.lower_conv)
    p = call.params.fields
    kind = _kind(p)
    if call.kernel != "aot_conv2d_f32" or kind is None:
        raise Fallback
    if kind == "dense" and fully_connected(p):
        _conv_as_matmul(ctx, call, variant)
        return
    kernel = f"aot_conv2d_{variant}_f32" if kind == "dense" else \
        f"aot_depthwise_conv2d_{variant}_f32"
    if kernel == "aot_conv2d_avx512_f32" and (conv_f32_direct(p) or conv_f32_oc_lanes(p)):
        x_op, w_op, b_op, y_op = call.operands
        w = np.asarray(ctx.const_value(w_op.tensor), np.float32).reshape(p["out_c"], -1)
        packed = ctx.const(f"{w_op.tensor}_{variant}_direct", _pack_direct(w))
        _emit(ctx, call, kernel, (x_op, Ref(packed), b_op, y_op, Scratch()), (packed,))
        return
    _emit(ctx, call, kernel, (*call.operands, Scratch()))


def _matmul(node, ctx: LoweringContext, lower, variant: str) -> None:
    call = _generic_call(node, ctx, lower)
    p = call.params.fields
    if call.kernel != "aot_matmul_f32" or p["b_col_stride"] != 1 \
            or p["bias_col_stride"] not in (0, 1):
        raise Fallback
    ctx.emit(Call(f"aot_matmul_{variant}_f32", call.params, call.operands, call.reads,
                  call.writes, call.layer, call.op, call.macs))


def _float_rules(variant: str):
    def conv(node, ctx):
        _conv_f32(node, ctx, variant)

    def gemm(node, ctx):
        _matmul(node, ctx, g.lower_gemm, variant)

    def matmul(node, ctx):
        if ctx.tensor(node.inputs[0]).dtype != np.float32:
            raise Fallback
        _matmul(node, ctx, g.lower_matmul, variant)
    for f, op in ((conv, "conv"), (gemm, "gemm"), (matmul, "matmul")):
        f.__name__ = f"{op}_{variant}_f32"
    return conv, gemm, matmul


conv_avx2_f32, gemm_avx2_f32, matmul_avx2_f32 = _float_rules("avx2")
conv_avx512_f32, gemm_avx512_f32, matmul_avx512_f32 = _float_rules("avx512")


def _swap_f32(node, ctx: LoweringContext, lower, portable: str, variant: str) -> None:
    """Lower as the generic rule does and run the call's x86 twin, same params and
    operands (`aot_<op>_<variant>_f32` for `aot_<op>_f32`)."""
    if any(ctx.tensor(t).dtype != np.float32 for t in (*node.inputs, *node.outputs) if t):
        raise Fallback
    call = _generic_call(node, ctx, lower)
    if call.kernel != portable:
        raise Fallback
    ctx.emit(replace(call, kernel=portable.replace("_f32", f"_{variant}_f32")))


def _binary_f32_rule(variant: str):
    def rule(node, ctx):
        kernel = {"Add": "aot_add_f32", "Sub": "aot_sub_f32", "Mul": "aot_mul_f32",
                  "Div": "aot_div_f32"}[node.op]
        _swap_f32(node, ctx, g.lower_binary, kernel, variant)
    rule.__name__ = f"binary_{variant}_f32"
    return rule


def _avgpool_f32_rule(variant: str):
    def rule(node, ctx):
        _swap_f32(node, ctx, g.lower_pool, "aot_avgpool2d_f32", variant)
    rule.__name__ = f"avgpool_{variant}_f32"
    return rule


binary_avx2_f32, binary_avx512_f32 = _binary_f32_rule("avx2"), _binary_f32_rule("avx512")
avgpool_avx2_f32, avgpool_avx512_f32 = _avgpool_f32_rule("avx2"), _avgpool_f32_rule("avx512")


# ----------------------------------------------------------------- int8

def _bias_values(ctx, bias_op, n: int) -> np.ndarray:
    if isinstance(bias_op, Null):
        return np.zeros(n, np.int64)
    return np.asarray(ctx.const_value(bias_op.tensor), np.int64).reshape(n)


def _pack_lanes(w3: np.ndarray, lanes: int) -> np.ndarray:
    """[out_c][in_c][taps] int8 -> int32 [out_c][ceil(in_c / lanes)][taps], channel
    lanes * g + j in bits 32 / lanes * j (two's complement), padded channels 0."""
    out_c, in_c, taps = w3.shape
    groups = -(-in_c // lanes)
    padded = np.zeros((out_c, groups * lanes, taps), np.int64)
    padded[:, :in_c] = w3
    bits = 32 // lanes
    lanes_u = (padded.reshape(out_c, groups, lanes, taps) % (1 << bits))
    packed = sum(lanes_u[:, :, j] << (bits * j) for j in range(lanes))
    return _wrap32(packed)


def _depthwise_s8(ctx, node, call: Call, variant: str) -> None:
    p = call.params.fields
    x_op, w_op, b_op, y_op = call.operands
    w = np.asarray(ctx.const_value(w_op.tensor)).astype(np.int64).reshape(p["out_c"], -1)
    if variant == "avx512" and (dw_rows(p) or dw_rows_s2(p)):
        # one VNNI quad per kernel row: bytes kx < kernel_w, the rest 0
        rows = np.zeros((p["out_c"], p["kernel_h"], 4), np.int64)
        rows[:, :, :p["kernel_w"]] = w.reshape(p["out_c"], p["kernel_h"], p["kernel_w"])
        packed = ctx.const(f"{w_op.tensor}_rows", _pack_lanes(rows.reshape(p["out_c"], -1, 1), 4)
                           .reshape(p["out_c"], p["kernel_h"]))
        folded = ctx.const(f"{node.name}_bias_vnni", _wrap32(
            _bias_values(ctx, b_op, p["out_c"]) + (p["input_offset"] - 128) * w.sum(axis=1)))
        kernel = "aot_depthwise_conv2d_rows_avx512_s8" if dw_rows(p) \
            else "aot_depthwise_conv2d_rows_s2_avx512_s8"
        _emit(ctx, call, kernel, (x_op, Ref(packed), Ref(folded), y_op, Scratch()),
              (packed, folded))
        return
    widest = max(abs(-128 + p["input_offset"]), abs(127 + p["input_offset"]))
    if int(np.abs(w).sum(axis=1).max(initial=0)) * widest >= 2**24:
        raise Fallback        # the float sums would no longer be exact
    wf = ctx.const(f"{w_op.tensor}_f32", w.astype(np.float32))
    _emit(ctx, call, f"aot_depthwise_conv2d_{variant}_s8",
          (x_op, Ref(wf), b_op, y_op, Scratch()), (wf,))


def _conv_s8(node, ctx: LoweringContext, variant: str) -> None:
    call = _generic_call(node, ctx, q.lower_conv_s8)
    p = call.params.fields
    kind = _kind(p)
    if call.kernel != "aot_conv2d_s8" or kind is None:
        raise Fallback        # asymmetric weights, grouped: the portable kernel
    if kind == "depthwise":
        _depthwise_s8(ctx, node, call, variant)
        return
    x_op, w_op, b_op, y_op = call.operands
    out_c = p["out_c"]
    w3 = np.asarray(ctx.const_value(w_op.tensor)).astype(np.int64).reshape(out_c, p["in_c"], -1)
    kernel = f"aot_conv2d_{variant}_s8"
    if kernel == "aot_conv2d_avx512_s8" and tap_packed(p):   # quads of taps, not channels
        packed = ctx.const(f"{w_op.tensor}_{variant}_taps",
                           _pack_lanes(w3.reshape(out_c, -1, 1), LANES[kernel]))
    else:
        packed = ctx.const(f"{w_op.tensor}_{variant}", _pack_lanes(w3, LANES[kernel]))
    consts = [packed]
    if variant == "avx512":
        folded = _bias_values(ctx, b_op, out_c) \
            + (p["input_offset"] - 128) * w3.reshape(out_c, -1).sum(axis=1)
        b_name = ctx.const(f"{node.name}_bias_vnni", _wrap32(folded))
        b_op = Ref(b_name)
        consts.append(b_name)
    _emit(ctx, call, kernel, (x_op, Ref(packed), b_op, y_op, Scratch()), consts)


def _gemm_s8(node, ctx: LoweringContext, variant: str) -> None:
    first = len(ctx.steps)
    q.lower_gemm_s8(node, ctx)
    calls = ctx.steps[first:]
    if not calls or any(not isinstance(c, Call) or c.kernel != "aot_fully_connected_s8"
                        for c in calls):
        raise Fallback        # a run-time B (transposed first): the portable kernel
    f = calls[0].params.fields
    if f["weights_offset"] != 0 or f["weights_offsets"] is not None:
        raise Fallback
    del ctx.steps[first:]
    shift = f["input_offset"] - (128 if variant == "avx512" else 0)
    folded: dict[tuple, str] = {}
    for c in calls:
        x_op, w_op, b_op, y_op = c.operands
        n, k = c.params.fields["n"], c.params.fields["k"]
        key = (w_op.tensor, w_op.offset, getattr(b_op, "tensor", ""))
        if key not in folded:
            w = np.asarray(ctx.const_value(w_op.tensor)).reshape(-1)[w_op.offset:
                                                                   w_op.offset + n * k]
            sums = w.astype(np.int64).reshape(n, k).sum(axis=1)
            folded[key] = ctx.const(f"{node.name}_bias_{variant}",
                                    _wrap32(_bias_values(ctx, b_op, n) + shift * sums))
        bias = folded[key]
        ctx.emit(Call(f"aot_fully_connected_{variant}_s8", c.params,
                      (x_op, w_op, Ref(bias), y_op), (*c.reads, bias), c.writes, c.layer,
                      c.op, c.macs))


def _add_s8(node, ctx: LoweringContext, variant: str) -> None:
    call = _generic_call(node, ctx, q.lower_add_s8)
    if call.kernel != "aot_add_s8" or call.params.fields["ndim"] != 0:
        raise Fallback        # broadcasting: the portable kernel's odometer
    ctx.emit(Call(f"aot_add_{variant}_s8", call.params, call.operands, call.reads, call.writes,
                  call.layer, call.op, call.macs, inplace=call.inplace))


def _avgpool_s8(node, ctx: LoweringContext, variant: str) -> None:
    call = _generic_call(node, ctx, q.lower_pool_s8)
    f = call.params.fields
    pool = f["pool"] if call.kernel == "aot_avgpool2d_s8" else None
    if pool is None or f["count_multipliers"] is not None \
            or (pool["out_h"], pool["out_w"]) != (1, 1) \
            or (pool["kernel_h"], pool["kernel_w"]) != (pool["in_h"], pool["in_w"]) \
            or any(pool[k] for k in ("pad_top", "pad_left", "pad_bottom", "pad_right")) \
            or pool["in_h"] * pool["in_w"] * 128 >= 2**31:
        raise Fallback        # windows that are not whole planes (or int32 sums could wrap)
    ctx.emit(Call(f"aot_avgpool2d_{variant}_s8", call.params, call.operands, call.reads,
                  call.writes, call.layer, call.op, call.macs))


TRANSPOSE_MAX_COLS = 8   # AOT_TRANSPOSE2D_X86_MAX_COLS in runtime_c/aot_kernels.h


def transpose_shuffles(cols: int) -> np.ndarray:
    """vpshufb indices of aot_transpose2d_{avx2,avx512}_s8, int8 [cols][cols][64]:
    [k][v] takes output column k's bytes of 16 rows from their v-th 16-byte chunk
    (byte i is input byte cols * i + k; -128 zeroes a byte another chunk gives),
    the 16 indices repeated in each 128-bit lane."""
    src = cols * np.arange(16)[None, None, :] + np.arange(cols)[:, None, None] \
        - 16 * np.arange(cols)[None, :, None]
    lane = np.where((src >= 0) & (src < 16), src, -128).astype(np.int8)
    return np.ascontiguousarray(np.tile(lane, (1, 1, 4)))


def _transpose_s8(node, ctx: LoweringContext, variant: str) -> None:
    """NHWC -> NCHW of a few channels (a 2-D transpose with 2..8 columns): the generic
    call (in place or out of place) stays, its out-of-place form becomes the x86 kernel."""
    first = len(ctx.steps)
    q.lower_transpose_s8(node, ctx)
    steps = ctx.steps[first:]
    if len(steps) != 1 or not isinstance(steps[0], Call):
        raise Fallback        # requantized into the output: the portable pair
    step = steps[0]
    call = step.fallback if step.fallback is not None else step
    x = ctx.tensor(node.inputs[0])
    perm = list(node.attr("perm", list(range(len(x.shape)))[::-1]))
    shape = transpose_as_2d(x.shape, perm)
    if call.kernel != "aot_transpose_s8" or shape is None \
            or not 2 <= shape[2] <= TRANSPOSE_MAX_COLS:
        raise Fallback        # other permutations, wide rows: the portable odometer
    del ctx.steps[first:]
    batch, rows, cols = shape
    table = ctx.const(f"transpose{cols}_shuffles", transpose_shuffles(cols))
    x_op, y_op = call.operands
    params = Params("aot_transpose2d_inplace_params",
                    {"batch": batch, "rows": rows, "cols": cols, "elem_bytes": 1})
    fast = Call(f"aot_transpose2d_{variant}_s8", params, (x_op, Ref(table), y_op),
                (*call.reads, table), call.writes, call.layer, call.op)
    ctx.emit(replace(step, fallback=fast) if step.fallback is not None else fast)


def _by_dtype(f32_rule, s8_rule):
    def rule(node, ctx):
        int8 = ctx.tensor(node.inputs[0]).dtype == S8
        rule_ = s8_rule if int8 else f32_rule
        if rule_ is None:
            raise Fallback
        return rule_(node, ctx)
    rule.__name__ = f"{getattr(f32_rule, '__name__', None)}|{getattr(s8_rule, '__name__', None)}"
    return rule


def conv_avx2_s8(node, ctx):
    _conv_s8(node, ctx, "avx2")


def conv_avx512_s8(node, ctx):
    _conv_s8(node, ctx, "avx512")


def gemm_avx2_s8(node, ctx):
    _gemm_s8(node, ctx, "avx2")


def gemm_avx512_s8(node, ctx):
    _gemm_s8(node, ctx, "avx512")


def add_avx2_s8(node, ctx):
    _add_s8(node, ctx, "avx2")


def add_avx512_s8(node, ctx):
    _add_s8(node, ctx, "avx512")


def avgpool_avx512_s8(node, ctx):
    _avgpool_s8(node, ctx, "avx512")


def transpose_avx2_s8(node, ctx):
    _transpose_s8(node, ctx, "avx2")


def transpose_avx512_s8(node, ctx):
    _transpose_s8(node, ctx, "avx512")


# (op, variant) -> rule; targets/registry.py registers them.
RULES = {
    ("Conv", "avx2"): _by_dtype(conv_avx2_f32, conv_avx2_s8),
    ("Conv", "avx512"): _by_dtype(conv_avx512_f32, conv_avx512_s8),
    ("Gemm", "avx2"): _by_dtype(gemm_avx2_f32, gemm_avx2_s8),
    ("Gemm", "avx512"): _by_dtype(gemm_avx512_f32, gemm_avx512_s8),
    ("Add", "avx2"): _by_dtype(binary_avx2_f32, add_avx2_s8),
    ("Add", "avx512"): _by_dtype(binary_avx512_f32, add_avx512_s8),
    ("Sub", "avx2"): binary_avx2_f32,
    ("Sub", "avx512"): binary_avx512_f32,
    ("Mul", "avx2"): binary_avx2_f32,
    ("Mul", "avx512"): binary_avx512_f32,
    ("Div", "avx2"): binary_avx2_f32,
    ("Div", "avx512"): binary_avx512_f32,
    ("AveragePool", "avx2"): avgpool_avx2_f32,
    ("AveragePool", "avx512"): _by_dtype(avgpool_avx512_f32, avgpool_avx512_s8),
    ("Transpose", "avx2"): _by_dtype(None, transpose_avx2_s8),
    ("Transpose", "avx512"): _by_dtype(None, transpose_avx512_s8),
    ("MatMul", "avx2"): matmul_avx2_f32,
    ("MatMul", "avx512"): matmul_avx512_f32,
}

"""AArch64 lowering rules for the NEON ("neon", Armv8.0) and DotProd ("dotprod",
Armv8.2 SDOT) kernel variants.

Contract: each rule lowers its node as the generic rule would (the generic
rule runs first and its call is inspected, so multipliers, shifts, geometry
and clamps are computed in one place) and then swaps that call for a
variant kernel, doing its Prepare work here at compile time:

- int8 convolution, groups 1 (`aot_conv2d_{neon,dotprod}_s8`): im2col + GEMM;
  weights re-laid out for the kernel's loads (neon: [out_c/8][K][8], dotprod:
  [out_c/4][K/4][4][4], zero padded) and input_offset * sum(w) folded into the
  bias, so padded taps read the input zero point and the inner loop multiplies
  raw codes. Scratch: the column buffer of one pixel block. A pointwise one
  runs in place where the planner lets it.
- int8 depthwise (multiplier 1, `aot_depthwise_conv2d_neon_s8`, both
  variants): bias folded likewise; scratch: one padded input plane, split by
  column stride phase, plus the tap offsets. Runs in place.
- int8 fully connected (`aot_fully_connected_{neon,dotprod}_s8`): bias folded.
- int8 add of same-shape tensors (`aot_add_neon_s8`, both variants).
- float32 (NEON kernels under both keys): convolution, groups 1
  (`aot_conv2d_neon_f32`, im2col + GEMM, weights [out_c/8][K][8]), depthwise
  (`aot_depthwise_conv2d_neon_f32`), Gemm/MatMul whose B rows are contiguous
  (`aot_matmul_neon_f32`, batched too). Fused multiply-adds round once per
  product where the portable build (-ffp-contract=off) rounds twice: float
  results stay within the float tolerance of onnxruntime, not bit-equal to
  the portable build's.

Forms a fast path lacks (asymmetric weights, grouped non-depthwise
convolution, broadcasting add, ...) raise `Fallback`, and the generic rule
lowers the node. Every int8 variant kernel is bit-exact with the portable
one (tests/test_kernels_neon.py). Registered in targets/registry.py only.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from aot.program import Call, Null, Ref, Scratch
from aot.targets import rules_generic as g
from aot.targets import rules_int8 as q
from aot.targets.lowering import Fallback, LoweringContext
from aot.targets.rules_inplace import depthwise_ring_rows, pointwise_inplace

S8 = np.dtype(np.int8)


def _wrap32(values) -> np.ndarray:
    v = np.asarray(values, np.int64)
    return ((v + 2**31) % 2**32 - 2**31).astype(np.int32)


def _generic_call(node, ctx: LoweringContext, lower) -> Call:
    """The single call the generic rule emits for `node`, taken back out of ctx."""
    first = len(ctx.steps)
    lower(node, ctx)
    steps = ctx.steps[first:]
    if len(steps) != 1 or not isinstance(steps[0], Call):
        raise Fallback
    del ctx.steps[first:]
    call = steps[0]
    return call.fallback if call.fallback is not None else call


def _folded_bias(ctx, node, bias_op, w2d: np.ndarray, input_offset: int) -> str:
    """bias + input_offset * sum_k w[n][k] (int32, wrapping as the kernels' sums do)."""
    n = w2d.shape[0]
    bias = np.zeros(n, np.int64) if isinstance(bias_op, Null) else \
        np.asarray(ctx.const_value(bias_op.tensor), np.int64).reshape(n)
    folded = bias + input_offset * w2d.astype(np.int64).sum(axis=1)
    return ctx.const(f"{node.name}_bias_folded", _wrap32(folded))


def _conv_weights(w: np.ndarray, variant: str) -> np.ndarray:
    """[out_c][K] weights re-laid out for aot_conv2d_<variant>_{s8,f32}."""
    out_c, k = w.shape
    if variant == "dotprod":
        oc_pad, k_pad = -(-out_c // 4) * 4, -(-k // 4) * 4
        padded = np.zeros((oc_pad, k_pad), w.dtype)
        padded[:out_c, :k] = w
        return np.ascontiguousarray(
            padded.reshape(oc_pad // 4, 4, k_pad // 4, 4).transpose(0, 2, 1, 3))
    oc_pad = -(-out_c // 8) * 8
    padded = np.zeros((oc_pad, k), w.dtype)
    padded[:out_c] = w
    return np.ascontiguousarray(padded.reshape(oc_pad // 8, 8, k).transpose(0, 2, 1))


def conv_s8_scratch(g: dict, variant: str) -> int:
    """Bytes of the column buffer of aot_conv2d_<variant>_s8."""
    k = g["in_c"] * g["kernel_h"] * g["kernel_w"]
    return -(-k // 4) * 4 * 16 if variant == "dotprod" else k * 8


def depthwise_s8_scratch(g: dict) -> int:
    """Bytes of aot_depthwise_conv2d_neon_s8's scratch, by the kernel's own rule:
    the padded plane plus slack, the flat-mode staging rows, the tap offsets
    and (stride_w 2) one padded input row."""
    def width(flat):
        cols = g["out_w"] if flat else -(-g["out_w"] // 16) * 16
        return cols + (g["kernel_w"] - 1) * g["dilation_w"] // g["stride_w"]

    flat = g["out_w"] <= 16 and g["stride_h"] * g["stride_w"] * width(True) < 16
    rows = (g["out_h"] - 1) * g["stride_h"] + (g["kernel_h"] - 1) * g["dilation_h"] + 1
    row_step = g["stride_w"] * width(flat)
    span = g["stride_h"] * row_step
    plane = (rows * row_step + span + 16 + 15) // 16 * 16
    stage = (g["out_h"] * span + 16 + 15) // 16 * 16 if flat else 0
    row = 2 * width(flat) + 16 if g["stride_w"] == 2 else 0
    return plane + stage + 4 * g["kernel_h"] * g["kernel_w"] + row


def _lower_conv_s8(node, ctx: LoweringContext, variant: str) -> None:
    call = _generic_call(node, ctx, q.lower_conv_s8)
    if call.kernel != "aot_conv2d_s8":
        raise Fallback                      # asymmetric weights: portable kernel only
    g = dict(call.params.fields)
    x_op, w_op, b_op, y_op = call.operands
    w = np.asarray(ctx.const_value(w_op.tensor)).astype(np.int8)
    out_c = g["out_c"]
    depthwise = g["groups"] == g["in_c"] == out_c
    if not depthwise and g["groups"] != 1:
        raise Fallback
    w2d = w.reshape(out_c, -1)
    bias = _folded_bias(ctx, node, b_op, w2d, g["input_offset"])
    x = x_op.tensor
    if depthwise:
        kernel, weights = "aot_depthwise_conv2d_neon_s8", w_op.tensor
        scratch = depthwise_s8_scratch(g)
        inplace = depthwise_ring_rows(g) is not None
    else:
        kernel = f"aot_conv2d_{variant}_s8"
        weights = ctx.const(f"{w_op.tensor}_{variant}", _conv_weights(w2d, variant))
        scratch = conv_s8_scratch(g, variant)
        inplace = pointwise_inplace(g)
    ctx.emit(Call(kernel, call.params, (x_op, Ref(weights), Ref(bias), y_op, Scratch()),
                  (x, weights, bias), call.writes, call.layer, call.op, call.macs,
                  scratch_bytes=scratch, inplace=(x,) if inplace else (),
                  inplace_any_size=inplace))


def _lower_gemm_s8(node, ctx: LoweringContext, variant: str) -> None:
    first = len(ctx.steps)
    q.lower_gemm_s8(node, ctx)
    calls = ctx.steps[first:]
    if not calls or any(not isinstance(c, Call) or c.kernel != "aot_fully_connected_s8"
                        for c in calls):
        raise Fallback   # a run-time B (transposed first) keeps the portable kernel
    f = calls[0].params.fields
    if f["weights_offset"] != 0 or f["weights_offsets"] is not None or \
            any(ctx.const_value(c.operands[1].tensor) is None for c in calls):
        raise Fallback   # asymmetric or run-time weights: nothing to fold at compile time
    del ctx.steps[first:]
    folded: dict[tuple[str, str, int], str] = {}
    for c in calls:
        x_op, w_op, b_op, y_op = c.operands
        key = (w_op.tensor, getattr(b_op, "tensor", ""), w_op.offset)
        if key not in folded:
            n, k = c.params.fields["n"], c.params.fields["k"]
            w = np.asarray(ctx.const_value(w_op.tensor)).reshape(-1)[w_op.offset:
                                                                   w_op.offset + n * k]
            folded[key] = _folded_bias(ctx, node, b_op, w.reshape(n, k), f["input_offset"])
        bias = folded[key]
        ctx.emit(Call(f"aot_fully_connected_{variant}_s8", c.params,
                      (x_op, w_op, Ref(bias), y_op), (*c.reads, bias), c.writes, c.layer,
                      c.op, c.macs))


def _lower_add_s8(node, ctx: LoweringContext) -> None:
    call = _generic_call(node, ctx, q.lower_add_s8)
    if call.params.fields["ndim"] != 0:
        raise Fallback                      # broadcasting: the portable kernel's odometer
    ctx.emit(Call("aot_add_neon_s8", call.params, call.operands, call.reads, call.writes,
                  call.layer, call.op, call.macs, inplace=tuple(call.reads)))


def _lower_conv_f32(node, ctx: LoweringContext) -> None:
    call = _generic_call(node, ctx, g.lower_conv)
    geo = dict(call.params.fields)
    x_op, w_op, b_op, y_op = call.operands
    out_c = geo["out_c"]
    depthwise = geo["groups"] == geo["in_c"] == out_c
    if not depthwise and geo["groups"] != 1:
        raise Fallback
    x = x_op.tensor
    reads = tuple(o.tensor for o in (x_op, w_op, b_op) if isinstance(o, Ref))
    if depthwise:
        kernel, weights = "aot_depthwise_conv2d_neon_f32", w_op
        scratch = depthwise_f32_scratch(geo)
        inplace = depthwise_ring_rows(geo) is not None
    else:
        w = np.asarray(ctx.const_value(w_op.tensor), np.float32).reshape(out_c, -1)
        kernel = "aot_conv2d_neon_f32"
        weights = Ref(ctx.const(f"{w_op.tensor}_neon", _conv_weights(w, "neon")))
        reads = (x, weights.tensor) + reads[2:]
        scratch = 4 * 8 * geo["in_c"] * geo["kernel_h"] * geo["kernel_w"]
        inplace = pointwise_inplace(geo)
    ctx.emit(Call(kernel, call.params, (x_op, weights, b_op, y_op, Scratch()), reads,
                  call.writes, call.layer, call.op, call.macs, scratch_bytes=scratch,
                  inplace=(x,) if inplace else (), inplace_any_size=inplace))


def depthwise_f32_scratch(geo: dict) -> int:
    """Bytes of aot_depthwise_conv2d_neon_f32's padded plane plus tap offsets."""
    rows = (geo["out_h"] - 1) * geo["stride_h"] + (geo["kernel_h"] - 1) * geo["dilation_h"] + 1
    width = -(-geo["out_w"] // 8) * 8 + (geo["kernel_w"] - 1) * geo["dilation_w"] // \
        geo["stride_w"]
    plane = -(-(rows * geo["stride_w"] * width) // 4) * 4
    return 4 * plane + 4 * geo["kernel_h"] * geo["kernel_w"]


def _lower_matmul_f32(lower):
    """Gemm/MatMul on float: the generic lowering, its matrix products whose B
    rows are contiguous swapped for aot_matmul_neon_f32."""
    def rule(node, ctx: LoweringContext) -> None:
        first = len(ctx.steps)
        lower(node, ctx)
        swapped = 0
        for i in range(first, len(ctx.steps)):
            c = ctx.steps[i]
            if isinstance(c, Call) and c.kernel == "aot_matmul_f32" and \
                    c.params.fields["b_col_stride"] == 1:
                ctx.steps[i] = replace(c, kernel="aot_matmul_neon_f32")
                swapped += 1
        if not swapped:
            raise Fallback
    rule.__name__ = f"{lower.__name__}_neon"
    return rule


def _by_dtype(f32_rule, s8_rule):
    """One rule that lowers float32 nodes with f32_rule, int8 ones with s8_rule
    (None: the next rule does)."""
    def rule(node, ctx):
        dtype = ctx.tensor(node.inputs[0]).dtype
        chosen = s8_rule if dtype == S8 else f32_rule if dtype == np.float32 else None
        if chosen is None:
            raise Fallback
        return chosen(node, ctx)
    return rule


def conv_neon(node, ctx):
    return _lower_conv_s8(node, ctx, "neon")


def conv_dotprod(node, ctx):
    return _lower_conv_s8(node, ctx, "dotprod")


def gemm_neon(node, ctx):
    return _lower_gemm_s8(node, ctx, "neon")


def gemm_dotprod(node, ctx):
    return _lower_gemm_s8(node, ctx, "dotprod")


_gemm_f32 = _lower_matmul_f32(g.lower_gemm)
_matmul_f32 = _lower_matmul_f32(g.lower_matmul)

# (op, variant) -> rule; targets/registry.py registers them. Float nodes take
# the NEON kernels under both keys (a DotProd CPU has NEON; SDOT is int8 only).
RULES = {
    ("Conv", "neon"): _by_dtype(_lower_conv_f32, conv_neon),
    ("Conv", "dotprod"): _by_dtype(_lower_conv_f32, conv_dotprod),
    ("Gemm", "neon"): _by_dtype(_gemm_f32, gemm_neon),
    ("Gemm", "dotprod"): _by_dtype(_gemm_f32, gemm_dotprod),
    ("MatMul", "neon"): _by_dtype(_matmul_f32, None),
    ("MatMul", "dotprod"): _by_dtype(_matmul_f32, None),
    ("Add", "neon"): _by_dtype(None, _lower_add_s8),
    ("Add", "dotprod"): _by_dtype(None, _lower_add_s8),
}

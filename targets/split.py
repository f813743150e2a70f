"""Which calls worker threads share, and how: Program -> Program.

Contract: `plan_splits(program, target, in_place=None) -> Program`. On targets that run under
an operating system (families in THREADED_FAMILIES: x86-64, AArch64) the
result's `meta["executor"]` is True (the emitter then writes
`<name>_run_ex`), and every heavy call -- at least MIN_SPLIT_MACS multiply-
accumulates and at least two blocks of work -- carries a `Split`
(aot.program) that tells the emitter how to cut it into parts; every other
call has `split` None. Elsewhere (Cortex-M) every `split` is cleared and the
program is otherwise unchanged, so firmware pays nothing.

Where the split comes from: a lowering rule that chose a kernel variant with
its own weight layout or blocking declares `Call.split` itself (it alone knows
the layout); for the portable kernels, whose layouts aot_kernels.h documents,
`describe(call)` derives it from the parameter block. A call with neither is
never split. A call with scratch gets a private slice of scratch per part
(its scratch grows MAX_SCRATCH_PARTS times; at most that many parts run at
once), so the SIMD convolutions, which re-lay their input into scratch,
split too -- each part repeats that re-layout. A call the memory plan runs
in place (its output written over its input: `in_place`, the outputs the
planner's `lifetimes` shares; None: any call with `Call.inplace`) is never
split: a part could overwrite input another part still reads -- except the
row- and element-wise kernels of _PARTWISE, whose parts read only what they
write. Memory comes first there; `Options(inplace=False)` trades those bytes
for threads. Kernels with no MACs (GELU, softmax, layer norm) count
MAC-equivalents of work per element (_ELEMENT_WORK) against MIN_SPLIT_MACS.

Run this after `select_inplace_kernels` (the kernels are final) and before
`plan_memory` (which it does not affect: parts write only their call's output).
"""

from __future__ import annotations

import dataclasses

from aot.program import Call, Null, Program, Scratch, Split
from aot.targets.rules_x86 import LANES_TABLE_WORDS, tap_packed
from aot.targets.target import Target

THREADED_FAMILIES = ("x86-64", "aarch64")
# A part must carry enough work to repay waking a worker (a few microseconds).
MIN_SPLIT_MACS = 1 << 18
# Parts of a call with scratch that can run at once (each has its own slice).
MAX_SCRATCH_PARTS = 4
SCRATCH_ALIGN = 64


def threaded(target: Target) -> bool:
    return target.family in THREADED_FAMILIES


def plan_splits(program: Program, target: Target, in_place=None) -> Program:
    if not threaded(target):
        if not any(isinstance(s, Call) and s.split is not None for s in program.steps):
            return program
        steps = tuple(dataclasses.replace(s, split=None) if isinstance(s, Call) else s
                      for s in program.steps)
        return Program(program.name, steps, program.tensors, program.inputs,
                       program.outputs, program.meta)
    steps = []
    for step in program.steps:
        if isinstance(step, Call):
            over_input = bool(step.inplace) and (
                in_place is None or program.root(step.writes[0])[0] in in_place)
            step = _choose(step, over_input)
        steps.append(step)
    meta = {**program.meta, "executor": True}
    return Program(program.name, tuple(steps), program.tensors, program.inputs,
                   program.outputs, meta)


def _choose(call: Call, over_input: bool) -> Call:
    if _work(call) < MIN_SPLIT_MACS or over_input and call.kernel not in _PARTWISE:
        return dataclasses.replace(call, split=None) if call.split is not None else call
    return _choose_scratch(dataclasses.replace(call, split=_usable(call, call.split
                                                                   or describe(call))))


def _work(call: Call) -> int:
    """MACs, or for the kernels that do none, MAC-equivalents (_ELEMENT_WORK)."""
    per_element = _ELEMENT_WORK.get(call.kernel)
    if call.macs or per_element is None or call.params is None:
        return call.macs
    p = call.params.fields
    elements = p["size"] if "size" in p else p["rows"] * p["cols"] if "rows" in p \
        else p["outer"] * p["inner"]
    return per_element * elements


def _choose_scratch(call: Call) -> Call:
    split = call.split
    if split is None or not any(isinstance(o, Scratch) for o in call.operands):
        return call
    stride = -(-call.scratch_bytes // SCRATCH_ALIGN) * SCRATCH_ALIGN
    split = dataclasses.replace(split, scratch_parts=MAX_SCRATCH_PARTS, scratch_stride=stride)
    return dataclasses.replace(call, split=split, scratch_bytes=stride * MAX_SCRATCH_PARTS)


def _usable(call: Call, split: Split | None) -> Split | None:
    if split is None:
        return None
    blocks = -(-split.units // max(split.grain, 1))
    return split if blocks >= 2 else None


def describe(call: Call) -> Split | None:
    """The split of a call to a portable kernel (or a SIMD variant documented with the
    same layouts), from its parameter block (None: not splittable, or not a kernel
    this module knows)."""
    fn = _PORTABLE.get(call.kernel)
    if fn is None or call.params is None:
        return None
    return fn(call)


def _present(call: Call, operand_per_unit: dict[int, int]) -> tuple[tuple[int, int], ...]:
    """Operand shifts, leaving out NULL operands and zero shifts."""
    return tuple((i, k) for i, k in sorted(operand_per_unit.items())
                 if k and not isinstance(call.operands[i], Null))


def _pointers(fields, names, per_unit: int) -> tuple[tuple[str, int], ...]:
    return tuple((n, per_unit) for n in names if fields.get(n) is not None)


def _conv(call: Call, grain: int = 1, weights_per_channel=None) -> Split | None:
    """Convolution NCHW, operands (input, weights, bias, output[, scratch]): by output
    channel, or by group when groups > 1 (a group's output channels read only its
    inputs). `weights_per_channel`: elements of the weights operand per output
    channel when the kernel re-lays them out (default: the portable layout)."""
    p = call.params.fields
    if p["batch"] != 1:   # output channels of one image are not contiguous across a batch
        return None
    groups, in_c, out_c = p["groups"], p["in_c"], p["out_c"]
    kernel = p["kernel_h"] * p["kernel_w"]
    out_plane = p["out_h"] * p["out_w"]
    per_channel = ("multipliers", "shifts", "weights_offsets")
    if groups == 1:
        per_channel_w = in_c * kernel if weights_per_channel is None else weights_per_channel(p)
        return Split("out_c", out_c, grain, fields=(("out_c", 1),),
                     pointer_fields=_pointers(p, per_channel, 1),
                     operands=_present(call, {1: per_channel_w, 2: 1, 3: out_plane}))
    if weights_per_channel is not None:   # the SIMD convolutions are groups 1 only
        return None
    icg, ocg = in_c // groups, out_c // groups
    return Split("groups", groups, 1, fields=(("groups", 1), ("in_c", icg), ("out_c", ocg)),
                 pointer_fields=_pointers(p, per_channel, ocg),
                 operands=_present(call, {0: icg * p["in_h"] * p["in_w"],
                                          1: ocg * icg * kernel, 2: ocg,
                                          3: ocg * out_plane}))


def _matmul(call: Call, grain: int = 1) -> Split | None:
    """aot_matmul_f32 layouts, operands (a, b, bias, y): by batch, else rows, else
    columns, in blocks of `grain` rows or columns."""
    p = call.params.fields
    if p["batch"] > 1:
        return Split("batch", p["batch"], 1, fields=(("batch", 1),),
                     pointer_fields=_pointers(p, ("a_offsets", "b_offsets"), 1),
                     operands=_present(call, {3: p["m"] * p["n"]}))
    if p["m"] > 1:
        return Split("rows", p["m"], grain, fields=(("m", 1),),
                     operands=_present(call, {0: p["a_row_stride"], 2: p["bias_row_stride"],
                                              3: p["n"]}))
    return Split("cols", p["n"], grain, fields=(("n", 1),),
                 operands=_present(call, {1: p["b_col_stride"], 2: p["bias_col_stride"],
                                          3: 1}))


def _fully_connected(call: Call, grain: int = 1, weights_per_col=None) -> Split | None:
    """aot_fully_connected_s8[_s32] layouts, operands (x, w [n][k], bias, y): by rows
    of x, else (one row) by output column. `weights_per_col`: weight elements per
    output column when the kernel re-lays them out (default: k)."""
    p = call.params.fields
    if p["m"] > 1:
        return Split("rows", p["m"], grain, fields=(("m", 1),),
                     operands=_present(call, {0: p["k"], 3: p["n"]}))
    per_col = p["k"] if weights_per_col is None else weights_per_col(p)
    return Split("cols", p["n"], grain, fields=(("n", 1),),
                 pointer_fields=_pointers(p, ("multipliers", "shifts", "weights_offsets"), 1),
                 operands=_present(call, {1: per_col, 2: 1, 3: 1}))


def _matmul_w8(call: Call) -> Split | None:
    """aot_matmul_w8_* (weight-only int8), operands (x [m][k], w, scale, bias, y [m][n]):
    by rows of x, in blocks of SIMD_GRAIN rows (the portable kernel's 4-row tiles stay
    whole; the SIMD ones give the same bits for any cut)."""
    p = call.params.fields
    if p["m"] <= 1:
        return None
    return Split("rows", p["m"], SIMD_GRAIN, fields=(("m", 1),),
                 operands=_present(call, {0: p["k"], 4: p["n"]}))


def _elementwise(call: Call) -> Split | None:
    """aot_unary_params kernels (x, y): by elements, in blocks of 64."""
    return Split("elements", call.params.fields["size"], 64, fields=(("size", 1),),
                 operands=_present(call, {0: 1, 1: 1}))


def _softmax_rows(call: Call) -> Split | None:
    """aot_softmax_rows_* (x, bias, y): by rows, in whole periods of the bias."""
    p = call.params.fields
    grain = 1 if isinstance(call.operands[1], Null) else p["bias_rows"]
    return Split("rows", p["rows"], grain, fields=(("rows", 1),),
                 operands=_present(call, {0: p["cols"], 2: p["cols"]}))


def _layer_norm(call: Call) -> Split | None:
    """aot_layer_norm_* (x, scale, bias, y, mean, inv_std): by rows."""
    p = call.params.fields
    return Split("rows", p["outer"], 1, fields=(("outer", 1),),
                 operands=_present(call, {0: p["inner"], 3: p["inner"], 4: 1, 5: 1}))


# Kernels without MACs worth splitting: MAC-equivalents of work per element.
_ELEMENT_WORK = {
    "aot_gelu_f32": 32, "aot_gelu_avx512_f32": 32, "aot_gelu_avx2_f32": 32,
    "aot_gelu_neon_f32": 32,
    "aot_softmax_rows_f32": 16, "aot_softmax_rows_avx512_f32": 16,
    "aot_softmax_rows_avx2_f32": 16, "aot_softmax_rows_neon_f32": 16,
    "aot_layer_norm_f32": 4, "aot_layer_norm_avx512_f32": 4,
}
# Kernels whose part p reads only the elements or rows it writes: split in place too.
_PARTWISE = frozenset(_ELEMENT_WORK)


# SIMD variants, with the weight layouts aot_kernels.h documents for them (matrix
# products: the portable layouts; convolutions: per output channel, as re-laid out by
# targets/rules_x86.py and rules_neon.py). Parts are whole blocks of 16 rows, columns or
# channels -- a multiple of every vector width and channel block here -- so an output
# never moves between a vector loop and its tail when the worker count changes (float
# tails may round differently) and a part never starts inside a block of weights.
SIMD_GRAIN = 16


def _simd(describe_fn, **kw):
    def fn(call: Call) -> Split | None:
        return describe_fn(call, SIMD_GRAIN, **kw)
    return fn


def _k(p) -> int:
    return p["in_c"] * p["kernel_h"] * p["kernel_w"]


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def _lanes_conv(call: Call) -> Split | None:
    """aot_conv2d_lanes_avx512_s8: by whole blocks of 16 output channels; its table
    operand (2) holds LANES_TABLE_WORDS / 16 words per channel."""
    split = _conv(call, SIMD_GRAIN, weights_per_channel=lambda p: (
        _ceil(p["in_c"], 4) * p["kernel_h"] * p["kernel_w"]))
    if split is None:
        return None
    words = LANES_TABLE_WORDS // SIMD_GRAIN
    return dataclasses.replace(split, operands=tuple(
        (i, words if i == 2 else k) for i, k in split.operands))


def _c16_conv(call: Call) -> Split | None:
    """aot_{depthwise,pointwise}_conv2d_c16_avx512_f32 (aot_conv2d_c16_params): by whole
    blocks of 16 output channels, which start at channel * plane in the c16 layout as
    in NCHW; the depthwise kernel's input and weights advance with its channels, the
    pointwise kernel's packed weights by in_c per channel."""
    p = call.params.fields["conv"]
    if p["batch"] != 1:
        return None
    out_plane = p["out_h"] * p["out_w"]
    if call.kernel.startswith("aot_depthwise"):
        return Split("out_c", p["out_c"], SIMD_GRAIN,
                     fields=(("conv.out_c", 1), ("conv.in_c", 1), ("conv.groups", 1)),
                     operands=_present(call, {0: p["in_h"] * p["in_w"],
                                              1: p["kernel_h"] * p["kernel_w"], 2: 1,
                                              3: out_plane}))
    return Split("out_c", p["out_c"], SIMD_GRAIN, fields=(("conv.out_c", 1),),
                 operands=_present(call, {1: p["in_c"], 2: 1, 3: out_plane}))


_PORTABLE = {
    "aot_conv2d_f32": _conv,
    "aot_depthwise_conv2d_c16_avx512_f32": _c16_conv,
    "aot_pointwise_conv2d_c16_avx512_f32": _c16_conv,
    "aot_conv2d_s8": _conv,
    "aot_conv2d_asym_s8": _conv,
    "aot_conv2d_s8_s32": _conv,
    "aot_matmul_f32": _matmul,
    "aot_fully_connected_s8": _fully_connected,
    "aot_fully_connected_s8_s32": _fully_connected,
    "aot_matmul_avx2_f32": _simd(_matmul),
    "aot_matmul_neon_f32": _simd(_matmul),
    "aot_matmul_avx512_f32": _simd(_matmul),
    "aot_fully_connected_avx2_s8": _simd(_fully_connected),
    # blocks of 16 columns [ceil(n / 16)][ceil(k / 64)][16][64]: round_up(k, 64) per column
    "aot_fully_connected_avx512_s8": _simd(_fully_connected,
                                           weights_per_col=lambda p: _ceil(p["k"], 64) * 64),
    "aot_fully_connected_neon_s8": _simd(_fully_connected),
    "aot_fully_connected_dotprod_s8": _simd(_fully_connected),
    "aot_matmul_w8_f32": _matmul_w8,
    "aot_matmul_w8_avx2_f32": _matmul_w8,
    "aot_matmul_w8_avx512_f32": _matmul_w8,
    "aot_matmul_w8_neon_f32": _matmul_w8,
    "aot_matmul_strided_avx512_f32": _matmul,
    "aot_matmul_strided_avx2_f32": _simd(_matmul),
    "aot_matmul_strided_neon_f32": _simd(_matmul),
    "aot_gelu_f32": _elementwise,
    "aot_gelu_avx512_f32": _elementwise,
    "aot_gelu_neon_f32": _elementwise,
    "aot_gelu_avx2_f32": _elementwise,
    "aot_softmax_rows_avx2_f32": _softmax_rows,
    "aot_softmax_rows_neon_f32": _softmax_rows,
    "aot_softmax_rows_f32": _softmax_rows,
    "aot_softmax_rows_avx512_f32": _softmax_rows,
    "aot_layer_norm_f32": _layer_norm,
    "aot_layer_norm_avx512_f32": _layer_norm,
    # depthwise float: the portable layout ([out_c][kh][kw], bias per channel) and
    # channels computed independently, so by groups as the portable kernel
    "aot_depthwise_conv2d_avx512_f32": _conv,
    "aot_depthwise_conv2d_lanes_avx512_f32": _conv,
    "aot_depthwise_conv2d_avx2_f32": _conv,
    "aot_depthwise_conv2d_neon_f32": _conv,
    # [out_c][in_c][kh][kw] as the portable kernel (avx512 with at most 4 input
    # channels: [ceil(out_c / 16)][K][16], still K per channel, blocks of the grain)
    "aot_conv2d_avx2_f32": _simd(_conv),
    "aot_conv2d_avx512_f32": _simd(_conv),
    # int8 pairs / quads packed in int32: [out_c][ceil(in_c / 2 or 4)][kh * kw]
    "aot_conv2d_avx2_s8": _simd(_conv, weights_per_channel=lambda p: _ceil(p["in_c"], 2)
                                * p["kernel_h"] * p["kernel_w"]),
    # (one input channel: quads of taps instead, [out_c][ceil(kh * kw / 4)])
    "aot_conv2d_avx512_s8": _simd(_conv, weights_per_channel=lambda p: (
        _ceil(p["kernel_h"] * p["kernel_w"], 4) if tap_packed(p)
        else _ceil(p["in_c"], 4) * p["kernel_h"] * p["kernel_w"])),
    # blocks of 16 channels [ceil(out_c / 16)][kh][ceil(in_c / 4)][kw][16] quads, and a
    # table of LANES_TABLE_WORDS per block (targets/rules_x86.py, lanes_table)
    "aot_conv2d_lanes_avx512_s8": _lanes_conv,
    # blocks of 8 channels [ceil(out_c / 8)][K][8]: K per channel
    "aot_conv2d_neon_f32": _simd(_conv, weights_per_channel=_k),
    "aot_conv2d_neon_s8": _simd(_conv, weights_per_channel=_k),
    # blocks of 4 channels [ceil(out_c / 4)][ceil(K / 4)][4][4]
    "aot_conv2d_dotprod_s8": _simd(_conv, weights_per_channel=lambda p: _ceil(_k(p), 4) * 4),
}

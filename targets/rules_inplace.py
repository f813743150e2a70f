"""In-place depthwise and pointwise convolutions (TinyEngine's idea).

A depthwise or 1x1 convolution whose input dies at it can write its output
over that input, given a small scratch, so a depthwise-separable CNN (DS-CNN,
MobileNet) needs about one activation buffer instead of two:

- depthwise (groups == in_c == out_c, an output plane no larger than an input
  plane): `aot_depthwise_conv2d_inplace_{f32,s8}` computes each plane's output
  rows into a ring of `ring_rows` rows and copies a row out once no input
  still to be read lies under it. `depthwise_ring_rows` sizes the ring with
  the kernel's own rule (runtime_c/aot_inplace_impl.h): the rows computed but
  not yet written, plus the one being computed, at their most (which is in
  the first plane: later ones start with more room). 3x3, stride 1, 'same'
  padding needs 2 rows; stride 2 needs 1.
- pointwise (1x1 kernel, stride 1, no padding, groups 1; batch 1 or
  out_c <= in_c): `aot_pointwise_conv2d_inplace_{f32,s8}` goes pixel by pixel
  with the pixel's in_c inputs gathered in scratch. The output may be larger
  than the input (out_c > in_c): it runs on past the input's end, and the
  planner gives that shared buffer the larger size from that call on
  (`Call.inplace_any_size`, see aot.passes.memory_plan). With batch > 1 and
  out_c > in_c, batch element 0's output would land on element 1's unread
  input, hence the batch condition.

Both give the same results as aot_conv2d_f32 / aot_conv2d_s8, bit for bit.

Where the decision lives. Whether the output really takes over the input
depends on things a lowering rule does not see: the final call order
(--schedule memory), --io-in-arena (a graph input can be overwritten only
then), pinned graph outputs, --no-inplace, and the planner's other rules. So
the rule decides only whether the geometry allows it, and then emits the
in-place kernel's call marked `inplace=(input,)`, `inplace_any_size`, with the
out-of-place call as its `fallback`. The planner (memory_plan.lifetimes)
decides the aliasing, and `memory_plan.select_inplace_kernels`, run just
before the final plan, puts the fallback back wherever the output did not
take over the input, so the emitted kernel always matches the plan and no
scratch is spent where nothing runs in place. The in-place kernels are also
correct with separate buffers, so skipping that step costs bytes, never
correctness.
"""

from __future__ import annotations

from aot.ir import Node
from aot.program import Call, Params, Ref, Scratch
from aot.targets.lowering import LoweringContext
from aot.targets.rules_generic import _op_label


def depthwise_ring_rows(g) -> int | None:
    """Rows of the depthwise kernel's scratch ring, or None when it cannot run
    in place (not depthwise with multiplier 1, or a larger output plane)."""
    if not g["groups"] == g["in_c"] == g["out_c"]:
        return None
    in_h, in_w, out_h, out_w = g["in_h"], g["in_w"], g["out_h"], g["out_w"]
    if out_h * out_w > in_h * in_w or out_h * out_w == 0:
        return None
    worst = 0
    for oy in range(out_h):
        iy = min(max(oy * g["stride_h"] - g["pad_top"], 0), in_h)
        ready = min(oy, iy * in_w // out_w)     # rows that may be written before oy
        worst = max(worst, oy - ready + 1)
    return worst


def pointwise_inplace(g) -> bool:
    """Whether a convolution is a 1x1 one the pointwise in-place kernel runs."""
    return (g["kernel_h"] == g["kernel_w"] == 1 and g["stride_h"] == g["stride_w"] == 1
            and g["pad_top"] == g["pad_left"] == 0 and g["groups"] == 1
            and (g["in_h"], g["in_w"]) == (g["out_h"], g["out_w"])
            and (g["batch"] == 1 or g["out_c"] <= g["in_c"]))


def emit_conv(ctx: LoweringContext, node: Node, kernel: str, params: Params, operands,
              macs: int) -> None:
    """Emit a convolution (`kernel` aot_conv2d_f32 or aot_conv2d_s8): its in-place
    variant with the out-of-place call as fallback where the geometry allows one
    (see the module docstring), else the out-of-place call."""
    operands = tuple(operands)
    reads = tuple(o.tensor for o in operands[:-1] if isinstance(o, Ref))
    writes = (operands[-1].tensor,)
    call = Call(kernel, params, operands, reads, writes, node.name, _op_label(node), macs)
    dtype = {"aot_conv2d_f32": "f32", "aot_conv2d_s8": "s8"}[kernel]
    itemsize = 4 if dtype == "f32" else 1
    g = params.fields
    x = operands[0].tensor
    rows = depthwise_ring_rows(g)
    if rows is not None:
        ctype = ("aot_depthwise_conv2d_inplace_params" if dtype == "f32"
                 else "aot_depthwise_conv2d_inplace_s8_params")
        call = Call(f"aot_depthwise_conv2d_inplace_{dtype}",
                    Params(ctype, {"conv": dict(g), "ring_rows": rows}),
                    operands + (Scratch(),), reads, writes, call.layer, call.op, macs,
                    scratch_bytes=rows * g["out_w"] * itemsize, inplace=(x,),
                    inplace_any_size=True, fallback=call)
    elif pointwise_inplace(g):
        call = Call(f"aot_pointwise_conv2d_inplace_{dtype}", params, operands + (Scratch(),),
                    reads, writes, call.layer, call.op, macs,
                    scratch_bytes=g["in_c"] * itemsize, inplace=(x,), inplace_any_size=True,
                    fallback=call)
    ctx.emit(call)


def transpose_as_2d(in_shape, perm) -> tuple[int, int, int] | None:
    """(batch, rows, cols) when a transpose is [batch][rows][cols] ->
    [batch][cols][rows] once size-1 axes are dropped and runs of adjacent axes
    merged (e.g. NHWC -> NCHW: [1][H*W][C] -> [1][C][H*W]), else None."""
    kept = [a for a in range(len(in_shape)) if in_shape[a] != 1]
    rank = {a: r for r, a in enumerate(kept)}
    order = [rank[a] for a in perm if a in rank]      # kept input axes in output order
    groups: list[list[int]] = []
    for r in order:
        if groups and groups[-1][-1] + 1 == r:
            groups[-1].append(r)
        else:
            groups.append([r])
    sizes = [_prod(in_shape[kept[r]] for r in grp) for grp in groups]
    firsts = [grp[0] for grp in groups]
    if len(groups) == 2 and firsts[0] > firsts[1]:
        return 1, sizes[1], sizes[0]
    if len(groups) == 3 and firsts[0] < firsts[2] < firsts[1]:
        return sizes[0], sizes[2], sizes[1]
    return None


def _prod(values) -> int:
    out = 1
    for v in values:
        out *= int(v)
    return out


def emit_transpose(ctx: LoweringContext, node: Node, kernel: str, params: Params, src: str,
                   dst: str, in_shape, perm, itemsize: int, op: str | None = None) -> None:
    """Emit a transpose (`kernel` aot_transpose_f32 or aot_transpose_s8, into dst):
    where it is a 2-D one (see transpose_as_2d), `aot_transpose2d_inplace` with a
    bitmap scratch of one bit per element, marked in place, the out-of-place call
    as its fallback (see the module docstring); else the out-of-place call."""
    call = Call(kernel, params, (Ref(src), Ref(dst)), (src,), (dst,), node.name,
                op or _op_label(node))
    shape = transpose_as_2d(in_shape, perm)
    if shape is not None:
        batch, rows, cols = shape
        call = Call("aot_transpose2d_inplace",
                    Params("aot_transpose2d_inplace_params", {
                        "batch": batch, "rows": rows, "cols": cols, "elem_bytes": itemsize}),
                    (Ref(src), Ref(dst), Scratch()), (src,), (dst,), call.layer, call.op,
                    scratch_bytes=(rows * cols + 7) // 8, inplace=(src,), fallback=call)
    ctx.emit(call)

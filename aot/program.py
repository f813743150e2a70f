"""The lowered program: ordered kernel calls over named buffers.

Lowering turns each graph node into `Call`s (and `Alias`es for ops that only
reinterpret a buffer, like Reshape). A call names its C kernel, a constant
parameter block, and its operands in the kernel's argument order. The memory
planner and the C emitter both read this; neither sees the graph again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from aot.ir import Tensor


@dataclass(frozen=True)
class Ref:
    """A pointer to a tensor's buffer, `offset` elements in."""

    tensor: str
    offset: int = 0


@dataclass(frozen=True)
class Null:
    """A NULL pointer operand (an absent optional operand)."""


@dataclass(frozen=True)
class Scratch:
    """This call's scratch buffer (its size is `Call.scratch_bytes`)."""


@dataclass(frozen=True)
class ConstArray:
    """A small constant array referenced from a parameter block (e.g. batch offsets)."""

    data: np.ndarray


@dataclass(frozen=True)
class Params:
    """A const C struct of type `ctype`; field values are ints, floats, tuples,
    nested dicts (sub-structs) or ConstArray."""

    ctype: str
    fields: Mapping[str, Any]


Operand = Ref | Null | Scratch


@dataclass(frozen=True)
class Split:
    """How a call's work divides into independent parts, for worker threads.

    The call's output is `units` independent units along one axis (`axis`
    names it for comments and reports: "out_c", "groups", "rows", "cols",
    "batch"). At run time the emitted task for part p of n covers units
    [first, first + count): whole blocks of `grain` units, the blocks dealt
    out evenly (aot_split_range in aot_executor.h), so a kernel that works in
    blocks of `grain` runs every block the same way whatever n is and the
    results do not depend on the number of parts. For its part the task calls
    the same kernel with a copy of the parameter block in which

    - each `fields` entry (path, per_unit) is set to count * per_unit (a
      dotted path reaches into a sub-struct: "conv.out_c");
    - each `pointer_fields` entry (path, per_unit), a pointer inside the
      block (e.g. per-channel multipliers), advances by first * per_unit
      elements;
    - operand i of each `operands` entry (i, per_unit) advances by
      first * per_unit elements.

    A call with scratch is split only with `scratch_parts` > 0: then each
    part gets its own `scratch_stride` bytes of the call's scratch (which is
    that many times larger), so at most `scratch_parts` parts run at once.

    A lowering rule that knows its kernel can be cut this way sets
    `Call.split`; aot.targets.split fills it in for the kernels whose layouts
    aot_kernels.h documents and decides which calls are worth splitting.
    """

    axis: str
    units: int
    grain: int = 1
    fields: tuple[tuple[str, int], ...] = ()
    pointer_fields: tuple[tuple[str, int], ...] = ()
    operands: tuple[tuple[int, int], ...] = ()
    scratch_parts: int = 0
    scratch_stride: int = 0


@dataclass(frozen=True)
class Call:
    kernel: str                       # C function, e.g. "aot_conv2d_f32"
    params: Params | None
    operands: Sequence[Operand]       # in the kernel's argument order, after params
    reads: Sequence[str]              # tensors read (for liveness)
    writes: Sequence[str]             # tensors written
    layer: str                        # ONNX node name(s) this call implements
    op: str                           # the ONNX op (after fusion, e.g. "Conv+Relu")
    macs: int = 0
    scratch_bytes: int = 0
    # Reads the kernel may overwrite with its output: it is right with the output
    # at that input's address (elementwise kernels: output element k is written
    # only after input element k is read, and no other element of that input is
    # read afterwards; the in-place convolutions and transpose stage what they
    # still need in scratch). The planner decides whether the output really takes
    # over the input's bytes (see aot.passes.memory_plan).
    inplace: Sequence[str] = ()
    # With `inplace`: the kernel also runs with an output of another byte size
    # than the input's, starting at the input's address (it never overwrites
    # input it still has to read; a larger output runs on past the input's end).
    inplace_any_size: bool = False
    # The call to run instead where the planner does not write this call's output
    # over an input: the out-of-place kernel, without scratch. This call itself is
    # correct either way; see aot.passes.memory_plan.select_inplace_kernels.
    fallback: Call | None = None
    # The kernel returns int: AOT_OK, or a negative AOT_E_... code that <name>_run
    # passes on at once (e.g. an out-of-range run-time index).
    status: bool = False
    # How the call may be cut into parts run by worker threads (see Split); after
    # aot.targets.split.plan_splits, set only on the calls that are split.
    split: Split | None = None

    @property
    def output(self) -> Ref | None:
        """The output operand: the last Ref (a Scratch may follow it)."""
        refs = [op for op in self.operands if isinstance(op, Ref)]
        return refs[-1] if refs else None


@dataclass(frozen=True)
class Alias:
    """`tensor` occupies the bytes of `source` starting `offset` bytes in (no code runs)."""

    tensor: str
    source: str
    offset: int = 0
    layer: str = ""
    op: str = ""


Step = Call | Alias


@dataclass(frozen=True)
class Program:
    name: str
    steps: tuple[Step, ...]
    tensors: Mapping[str, Tensor]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def calls(self) -> list[Call]:
        return [s for s in self.steps if isinstance(s, Call)]

    def root(self, name: str) -> tuple[str, int]:
        """The buffer that finally holds `name`, and the byte offset into it."""
        aliases = {s.tensor: s for s in self.steps if isinstance(s, Alias)}
        offset = 0
        while name in aliases:
            offset += aliases[name].offset
            name = aliases[name].source
        return name, offset

    def constants(self) -> list[str]:
        """Constant tensors the calls read, in first-use order."""
        seen: dict[str, None] = {}
        for call in self.calls:
            for op in call.operands:
                if isinstance(op, Ref) and self.tensors[op.tensor].is_const:
                    seen.setdefault(self.root(op.tensor)[0])
        return list(seen)

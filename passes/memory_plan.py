"""Static memory plan over the lowered program.

Buffers: every non-constant tensor that is not a graph input or output (those
live in caller-owned memory) and is not an alias, plus each call's scratch.
A buffer lives from the step that first writes it to the last step that reads
it or any alias of it (steps are the program's calls, in order).

Algorithm (greedy by size with best-fit, the TFLite Micro greedy family):
sort buffers by size, largest first (ties: earlier first use, then name, so
the plan is deterministic); place each at the lowest-waste gap between the
already-placed buffers whose lifetimes overlap it, aligned to the target's
alignment; the arena is the highest end. `lower_bound` is the largest sum of
(aligned) bytes live at one step: no plan for this order can be smaller.
"""

from __future__ import annotations

from dataclasses import dataclass

from aot.program import Call, Program


@dataclass(frozen=True)
class Buffer:
    name: str
    nbytes: int
    first: int   # index of the first call that writes it
    last: int    # index of the last call that reads it


@dataclass(frozen=True)
class Plan:
    buffers: dict[str, Buffer]
    offsets: dict[str, int]
    arena_bytes: int
    lower_bound: int
    alignment: int

    def table(self) -> str:
        rows = [f"{'buffer':40} {'offset':>9} {'bytes':>9}  live"]
        for b in sorted(self.buffers.values(), key=lambda b: (self.offsets[b.name], b.first)):
            rows.append(f"{b.name[:40]:40} {self.offsets[b.name]:9d} {b.nbytes:9d}  "
                        f"{b.first}..{b.last}")
        rows.append(f"arena {self.arena_bytes} B, lower bound {self.lower_bound} B, "
                    f"alignment {self.alignment}")
        return "\n".join(rows)


def scratch_name(index: int) -> str:
    return f"scratch_{index}"


def _align(n: int, a: int) -> int:
    return (n + a - 1) // a * a


def overlaps(a: Buffer, b: Buffer, offsets: dict[str, int]) -> bool:
    """True when a and b are live at the same step and share a byte."""
    live = a.first <= b.last and b.first <= a.last
    oa, ob = offsets[a.name], offsets[b.name]
    return live and oa < ob + b.nbytes and ob < oa + a.nbytes and a.nbytes > 0 and b.nbytes > 0


def lifetimes(program: Program) -> dict[str, Buffer]:
    external = set(program.inputs) | set(program.outputs)
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    for i, call in enumerate(program.calls):
        for name in call.writes:
            root = program.root(name)[0]
            first.setdefault(root, i)
            last[root] = max(last.get(root, i), i)
        for name in call.reads:
            root = program.root(name)[0]
            last[root] = max(last.get(root, i), i)
        if call.scratch_bytes:
            first[scratch_name(i)] = last[scratch_name(i)] = i
    buffers = {}
    for name in first:
        if name in external or (name in program.tensors and program.tensors[name].is_const):
            continue
        nbytes = program.tensors[name].nbytes if name in program.tensors else \
            program.calls[first[name]].scratch_bytes
        buffers[name] = Buffer(name, nbytes, first[name], last[name])
    return buffers


def plan_memory(program: Program, alignment: int) -> Plan:
    buffers = lifetimes(program)
    order = sorted(buffers.values(), key=lambda b: (-b.nbytes, b.first, b.name))
    offsets: dict[str, int] = {}
    placed: list[Buffer] = []
    for buf in order:
        size = _align(buf.nbytes, alignment)
        busy = sorted((offsets[p.name], offsets[p.name] + _align(p.nbytes, alignment))
                      for p in placed if p.first <= buf.last and buf.first <= p.last)
        best, best_waste, cursor = None, None, 0
        for start, end in busy:
            gap = start - cursor
            if gap >= size and (best_waste is None or gap - size < best_waste):
                best, best_waste = cursor, gap - size
            cursor = max(cursor, end)
        offsets[buf.name] = best if best is not None else cursor
        placed.append(buf)
    arena = max((offsets[b.name] + _align(b.nbytes, alignment) for b in placed), default=0)
    steps = len(program.calls)
    bound = max((sum(_align(b.nbytes, alignment) for b in placed if b.first <= i <= b.last)
                 for i in range(steps)), default=0)
    return Plan(buffers, offsets, arena, bound, alignment)

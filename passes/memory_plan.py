"""Static memory plan over the lowered program.

Buffers
    Every non-constant tensor that is not an alias, plus each call's scratch.
    Graph inputs and outputs live in caller-owned memory, except with
    `io_in_arena`, where they are arena buffers too: an input lives from step 0
    to its last read, an output from its first write to the last step (the
    caller reads it after the run). Steps are the program's calls, in order; a
    buffer lives from the step that first writes it to the last step that reads
    it or any alias of it (Reshape/Flatten/Squeeze are `Alias`es: no copy, the
    same bytes).

In-place execution
    A call may list in `Call.inplace` the inputs its kernel may overwrite with
    its output (elementwise: output element k is written after input element k
    is read, and nothing else). The output then takes over that input's bytes
    when all of these hold: the input's buffer is an arena buffer (not a
    constant, not a caller-owned input), it is read at offset 0 and has exactly
    the output's byte size (any size when the call says `inplace_any_size`:
    the in-place depthwise and pointwise convolutions), no later step uses it
    (it dies at this call), and the output is an arena buffer written whole by
    this call alone. Then both tensors are one buffer living over the union of
    their lifetimes (chains of in-place calls make one buffer of several
    tensors), all at one offset. Its size may change over time: at each step it
    is the largest of its tensors live there (`Buffer.sizes`), so a buffer grows
    at a call whose output is larger than its input and shrinks at one whose
    output is smaller, and the bytes above it are free for other buffers
    whenever it is small. This is modelled here, in the plan, not in the
    emitter: the emitter just sees two tensors at the same offset.
    `select_inplace_kernels` then swaps each call that offers an in-place
    kernel (`Call.fallback`) back to its out-of-place kernel, without scratch,
    where the output did not take over the input.

Placement (all sizes rounded up to the target's alignment)
    Two buffers live at a common step must not share a byte at any such step.
    For a buffer whose size changes that means: where buffer b lies above
    buffer a, b starts at or above a's offset plus a's largest size over the
    steps where both live ("a's size beside b"); for every other buffer the
    size beside anything is just its size, and all of the below is the classic
    rectangle packing.
    1. Greedy by size with best fit (the TFLite Micro / Pisarchyk-Lee family):
       sort buffers by (largest) size, largest first (ties: earlier first use,
       then name, so the plan is deterministic); place each in the smallest gap
       between the already-placed buffers whose lifetimes overlap it, else on
       top.
    2. If that is above the lower bound, an exact branch-and-bound search,
       started from the best of the greedy plan and best fit in three other
       orders (by size x lifetime, by lifetime, by first use).
       It enumerates placement orders, putting each buffer at its *lowest
       feasible offset* given the buffers already placed ("lowest fit").
       Some order reaches an optimum: sort an optimal plan's buffers by offset
       and place them by lowest fit in that order; by induction each lands at
       or below its optimal offset (a buffer below it that moved down cannot
       block it: its size beside it is unchanged), so the result is also
       optimal. Repeating this until nothing
       moves gives an optimal plan whose lowest-fit sequence has strictly
       increasing (offset, rank) -- rank orders buffers by (size desc, first,
       last, index) -- so the search only extends a partial plan with a buffer
       whose lowest fit keeps that order ("canonical" sequences), and places
       identical buffers (same size and lifetime) in index order.
       It is iterative deepening on the arena size H, from the lower bound up:
       "is there a plan within H?"; when not, the next H is the smallest size
       a pruned branch needed, so the first plan found is optimal. A node is
       pruned when, for its unplaced buffers (lowest fits only rise as buffers
       are added, and every later buffer goes at or above the last offset o):
       - some buffer's lowest fit + size exceeds H;
       - two buffers live together cannot both fit: one sits on the other,
         min over the two orders of max(fit_a + size_a + size_b, fit_b + size_b)
         (size_a: a's size beside b; size_b: b's largest size);
       - at some step, o + the placed bytes above o + the unplaced bytes live
         there exceed H;
       - some buffer's lowest fit plus its largest size ends at or below o (no
         later buffer can block that gap, so it could never continue the
         canonical sequence).
       The search is bounded by counted work (`SEARCH_WORK`), not a clock, so
       builds stay reproducible; out of budget, the greedy start is kept.
    `lower_bound` is the largest sum of (aligned) bytes live at one step (a
    buffer counting its size at that step): no plan for this order can be
    smaller (the optimum can still be above it).

Schedule (`schedule_for_memory`)
    For graphs with branches, a topological order of the calls with the
    smallest peak of live bytes: dynamic programming over the sets of calls
    already run (downward-closed sets; the bytes live after a set do not depend
    on the order inside it), layer by layer, keeping the best sets per layer:
    at most `SCHEDULE_BEAM`, and as many as the rest of a budget of
    `SCHEDULE_WORK` evaluated moves affords (down to one: then it is a greedy
    order), so wide graphs stay bounded in time; exact when no layer is cut.
    The ONNX order is kept unless the new one is strictly better.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aot.program import Alias, Call, Program, Ref

SEARCH_WORK = 1_500_000   # exact-search budget in work units (see _exact), about 0.3 s
SCHEDULE_BEAM = 2_000     # downward-closed sets kept per layer by the scheduler, at most
SCHEDULE_WORK = 100_000   # scheduler budget in evaluated moves (about 0.4 s)


@dataclass(frozen=True)
class Buffer:
    name: str
    nbytes: int
    first: int   # index of the first call that writes it
    last: int    # index of the last call that reads it
    tensors: tuple[str, ...] = ()   # tensors sharing it in place, in write order (else empty)
    # (first, last, bytes) pieces covering first..last when in-place calls change its
    # size (nbytes is then the largest); empty: nbytes throughout.
    sizes: tuple[tuple[int, int, int], ...] = ()

    def size_at(self, step: int) -> int:
        """Bytes in use at `step` (0 when not live)."""
        if not self.first <= step <= self.last:
            return 0
        for first, last, nbytes in self.sizes:
            if first <= step <= last:
                return nbytes
        return self.nbytes


@dataclass(frozen=True)
class Plan:
    buffers: dict[str, Buffer]
    offsets: dict[str, int]      # byte offset of every buffer and of every tensor sharing one
    arena_bytes: int
    lower_bound: int
    alignment: int
    inplace: dict[str, str] = field(default_factory=dict)   # output -> input it overwrites
    io_in_arena: bool = False
    steps: int = 0               # number of calls
    greedy_bytes: int = 0        # the greedy plan's arena, before the exact search
    method: str = "greedy"       # how the final offsets were found

    def live(self, step: int) -> list[Buffer]:
        """Buffers live at `step`, largest first."""
        return sorted((b for b in self.buffers.values() if b.first <= step <= b.last),
                      key=lambda b: (-b.nbytes, b.name))

    def live_bytes(self) -> list[int]:
        """Aligned bytes live at each step."""
        return [sum(_align(b.size_at(i), self.alignment) for b in self.live(i))
                for i in range(self.steps)]

    @property
    def peak_step(self) -> int | None:
        live = self.live_bytes()
        return max(range(len(live)), key=live.__getitem__) if live else None

    def table(self) -> str:
        rows = [f"{'buffer':40} {'offset':>9} {'bytes':>9}  steps"]
        for b in sorted(self.buffers.values(), key=lambda b: (self.offsets[b.name], b.first)):
            rows.append(f"{b.name[:40]:40} {self.offsets[b.name]:9d} {b.nbytes:9d}  "
                        f"{b.first}..{b.last}")
            for t in b.tensors[1:]:    # each written over the tensor before it
                rows.append(f"  = {t[:36]:36} {'':9} {'':9}  (in place)")
            if b.sizes:
                rows.append("    bytes by step: " + ", ".join(
                    f"{f}..{l}: {n}" for f, l, n in b.sizes))
        rows.append(f"arena {self.arena_bytes} B ({self.method}), lower bound "
                    f"{self.lower_bound} B, alignment {self.alignment}"
                    + (", inputs/outputs in the arena" if self.io_in_arena else ""))
        return "\n".join(rows)


def scratch_name(index: int) -> str:
    return f"scratch_{index}"


def _align(n: int, a: int) -> int:
    return (n + a - 1) // a * a


def overlaps(a: Buffer, b: Buffer, offsets: dict[str, int]) -> bool:
    """True when a and b share a byte at some step where both are live."""
    oa, ob = offsets[a.name], offsets[b.name]
    for t in range(max(a.first, b.first), min(a.last, b.last) + 1):
        sa, sb = a.size_at(t), b.size_at(t)
        if oa < ob + sb and ob < oa + sa and sa > 0 and sb > 0:
            return True
        if not a.sizes and not b.sizes:
            break      # the same at every step
    return False


# ----------------------------------------------------------------- lifetimes

def _tensor_lifetimes(program: Program, io_in_arena: bool):
    """first/last step of every root buffer, and the calls writing each root."""
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    writers: dict[str, list[int]] = {}
    calls = program.calls
    for i, call in enumerate(calls):
        for name in call.writes:
            root = program.root(name)[0]
            first.setdefault(root, i)
            last[root] = max(last.get(root, i), i)
            writers.setdefault(root, []).append(i)
        for name in call.reads:
            root = program.root(name)[0]
            last[root] = max(last.get(root, i), i)
        if call.scratch_bytes:
            first[scratch_name(i)] = last[scratch_name(i)] = i
    if io_in_arena and calls:
        for name in program.inputs:
            first[name] = 0
            last.setdefault(name, 0)
        for name in program.outputs:
            root = program.root(name)[0]
            first.setdefault(root, 0)
            last[root] = len(calls) - 1
    return first, last, writers


def _is_arena(program: Program, name: str, io_in_arena: bool) -> bool:
    if name in program.tensors and program.tensors[name].is_const:
        return False
    return io_in_arena or (name not in program.inputs and name not in program.outputs)


def _nbytes(program: Program, name: str) -> int:
    if name in program.tensors:
        return program.tensors[name].nbytes
    return program.calls[int(name.rsplit("_", 1)[1])].scratch_bytes


def lifetimes(program: Program, *, inplace: bool = True,
              io_in_arena: bool = False) -> tuple[dict[str, Buffer], dict[str, str]]:
    """The arena buffers, and {output: input} for the calls that run in place."""
    first, last, writers = _tensor_lifetimes(program, io_in_arena)
    arena = [n for n in first if _is_arena(program, n, io_in_arena)]
    group = {n: n for n in arena}              # tensor -> the buffer (first tensor) it shares
    members = {n: [n] for n in arena}
    group_last = {n: last[n] for n in arena}
    # Buffers holding a graph output (io_in_arena) must survive the run: never overwritten.
    pinned = {program.root(t)[0] for t in program.outputs}
    shared: dict[str, str] = {}
    if inplace:
        for i, call in enumerate(program.calls):
            pick = _inplace_input(program, call, i, group, group_last, first, writers, pinned)
            if pick is None:
                continue
            x, y = pick
            g = group[x]
            if y in pinned:
                pinned.add(g)
            group[y] = g
            members[g] += members.pop(y)
            group_last[g] = group_last.pop(y)
            shared[y] = x
    buffers = {}
    for g, ms in members.items():
        sizes = [_nbytes(program, m) for m in ms]
        pieces: list[tuple[int, int, int]] = []
        if len(set(sizes)) > 1:       # in-place calls changed the size: per step, the
            for t in range(first[g], group_last[g] + 1):    # largest tensor live there
                n = max(s for m, s in zip(ms, sizes) if first[m] <= t <= last[m])
                if pieces and pieces[-1][2] == n:
                    pieces[-1] = (pieces[-1][0], t, n)
                else:
                    pieces.append((t, t, n))
        buffers[g] = Buffer(g, max(sizes), first[g], group_last[g],
                            tuple(ms) if len(ms) > 1 else (), tuple(pieces))
    return buffers, shared


def select_inplace_kernels(program: Program, *, inplace: bool = True,
                           io_in_arena: bool = False) -> Program:
    """The program with each call that offers an in-place kernel
    (`Call.fallback` set) swapped for its out-of-place fallback where the
    plan does not write its output over its input. Planning the result makes
    the same in-place decisions (they do not depend on scratch, and a swapped
    call was not in place), so the emitted kernel always matches the plan;
    the in-place kernels are also correct out of place, so this only saves
    their scratch and time."""
    if not any(isinstance(s, Call) and s.fallback is not None for s in program.steps):
        return program
    _, shared = lifetimes(program, inplace=inplace, io_in_arena=io_in_arena)
    steps = tuple(s.fallback if isinstance(s, Call) and s.fallback is not None
                  and program.root(s.writes[0])[0] not in shared else s
                  for s in program.steps)
    return Program(program.name, steps, program.tensors, program.inputs, program.outputs,
                   program.meta)


def _inplace_input(program, call, i, group, group_last, first, writers, pinned):
    """(input root, output root) when `call` can write its output over an input."""
    if not call.inplace or len(call.writes) != 1:
        return None
    out_ref = call.output
    if out_ref is None or out_ref.offset or out_ref.tensor != call.writes[0]:
        return None
    y, y_off = program.root(call.writes[0])
    if y_off or y not in group or group[y] != y or writers.get(y) != [i] or first[y] != i:
        return None
    for name in call.inplace:
        x, x_off = program.root(name)
        if x_off or x not in group or group[x] in pinned or group_last[group[x]] != i:
            continue
        if not call.inplace_any_size and (_nbytes(program, x) != _nbytes(program, y)
                                          or program.tensors[name].nbytes != _nbytes(program, y)):
            continue
        if program.tensors[name].nbytes != _nbytes(program, x):
            continue        # a view of part of x
        # Any other operand in the same buffer must be this very tensor (read elementwise).
        refs = [op for op in call.operands if isinstance(op, Ref)]
        same = [op.tensor for op in refs[:-1]
                if op.tensor in program.tensors and program.root(op.tensor)[0] in group
                and group[program.root(op.tensor)[0]] == group[x]]
        if any(t != name for t in same):
            continue
        return x, y
    return None


# ----------------------------------------------------------------- placement

def plan_memory(program: Program, alignment: int, *, inplace: bool = True,
                io_in_arena: bool = False, search_work: int = SEARCH_WORK) -> Plan:
    buffers, shared = lifetimes(program, inplace=inplace, io_in_arena=io_in_arena)
    order = sorted(buffers.values(), key=lambda b: (-b.nbytes, b.first, b.name))
    units = [_align(b.nbytes, alignment) // alignment for b in order]
    firsts = [b.first for b in order]
    lasts = [b.last for b in order]
    pieces = [tuple((f, l, _align(n, alignment) // alignment) for f, l, n in b.sizes)
              for b in order]
    pair = _beside(units, firsts, lasts, pieces)
    greedy = _greedy(units, firsts, lasts, pair=pair)
    greedy_top = max((o + s for o, s in zip(greedy, units)), default=0)
    steps = len(program.calls)
    live = [0] * steps
    for i in range(len(order)):
        for t, u in enumerate(_profile(units[i], firsts[i], lasts[i], pieces[i]), firsts[i]):
            live[t] += u
    bound = max(live, default=0)
    offsets_u, method = greedy, "greedy, equal to the lower bound"
    if greedy_top > bound and search_work > 0:
        start = _greedy_variants(units, firsts, lasts, pair)
        if max(o + s for o, s in zip(start, units)) >= greedy_top:
            start = greedy
        offsets_u, proved = _exact(units, firsts, lasts, start, bound, search_work,
                                   pieces, pair)
        top = max(o + s for o, s in zip(offsets_u, units))
        if proved:
            method = f"exact search: optimal (greedy {greedy_top * alignment} B)"
        else:
            method = (f"best of the greedy orders, exact search out of budget "
                      f"(greedy {greedy_top * alignment} B)")
        if top == bound:
            method = f"exact search: equal to the lower bound (greedy {greedy_top * alignment} B)"
    offsets = {b.name: o * alignment for b, o in zip(order, offsets_u)}
    for b in order:
        for t in b.tensors:
            offsets[t] = offsets[b.name]
    arena = max((offsets[b.name] + _align(b.nbytes, alignment) for b in order), default=0)
    return Plan(buffers, offsets, arena, bound * alignment, alignment, shared, io_in_arena,
                steps, greedy_top * alignment, method)


def _conflicts(firsts, lasts) -> list[list[int]]:
    n = len(firsts)
    return [[j for j in range(n) if j != i and firsts[i] <= lasts[j] and firsts[j] <= lasts[i]]
            for i in range(n)]


def _profile(size, first, last, pieces) -> list[int]:
    """A buffer's size at each step first..last."""
    if not pieces:
        return [size] * (last - first + 1)
    return [n for f, l, n in pieces for _ in range(f, l + 1)]


def _beside(units, firsts, lasts, pieces) -> dict[tuple[int, int], int]:
    """{(i, j): i's largest size over the steps where j lives too}, for the
    pairs where that is below i's largest size (so only for buffers whose
    size changes; empty when none does)."""
    pair: dict[tuple[int, int], int] = {}
    for i, p in enumerate(pieces):
        if not p:
            continue
        prof = _profile(units[i], firsts[i], lasts[i], p)
        for j in range(len(units)):
            lo, hi = max(firsts[i], firsts[j]), min(lasts[i], lasts[j])
            if j != i and lo <= hi:
                size = max(prof[lo - firsts[i]:hi - firsts[i] + 1])
                if size < units[i]:
                    pair[(i, j)] = size
    return pair


def _fit(i, placed, offsets, units, pair, best_fit: bool) -> int:
    """The lowest offset for buffer i (best_fit: the one leaving the smallest
    gap below a buffer above it, else the lowest with nothing above) beside
    the `placed` buffers live with it; j occupies [o_j, o_j + size of j beside i)."""
    if not pair:     # plain rectangles: sweep the busy intervals
        size = units[i]
        busy = sorted((offsets[j], offsets[j] + units[j]) for j in placed)
        best, best_waste, cursor = None, None, 0
        for start, end in busy:
            gap = start - cursor
            if gap >= size:
                if not best_fit:
                    return cursor
                if best_waste is None or gap - size < best_waste:
                    best, best_waste = cursor, gap - size
            cursor = max(cursor, end)
        return best if best is not None else cursor
    beside = [(offsets[j], pair.get((i, j), units[i]), pair.get((j, i), units[j]))
              for j in placed]
    best, best_waste = None, None
    for o in sorted({0, *(oj + sj for oj, _, sj in beside)}):
        room = None
        for oj, si, sj in beside:
            if o + si <= oj:          # j above
                room = oj - o - si if room is None else min(room, oj - o - si)
            elif oj + sj > o:         # j neither above nor below: no fit here
                break
        else:
            if not best_fit:
                return o
            if room is None:          # nothing above: so for every higher offset too
                return best if best is not None else o
            if best_waste is None or room < best_waste:
                best, best_waste = o, room
    raise AssertionError("unreachable: the top of the placed buffers always fits")


def _greedy(units, firsts, lasts, order=None, pair=None) -> list[int]:
    """Best fit, placing the buffers in `order` (default: as given, which is
    size-descending)."""
    offsets: dict[int, int] = {}
    for i in (range(len(units)) if order is None else order):
        placed = [j for j in offsets if firsts[j] <= lasts[i] and firsts[i] <= lasts[j]]
        offsets[i] = _fit(i, placed, offsets, units, pair, True)
    return [offsets[i] for i in range(len(units))]


def _greedy_variants(units, firsts, lasts, pair=None) -> list[int]:
    """The best of best-fit in a few other orders (by size x lifetime, by
    lifetime, by first use): a better start for the exact search."""
    n = range(len(units))
    orders = [sorted(n, key=lambda i: (-units[i] * (lasts[i] - firsts[i] + 1), i)),
              sorted(n, key=lambda i: (firsts[i] - lasts[i], -units[i], i)),
              sorted(n, key=lambda i: (firsts[i], -units[i], i))]
    plans = [_greedy(units, firsts, lasts, o, pair) for o in orders]
    return min(plans, key=lambda p: max((o + s for o, s in zip(p, units)), default=0))


class _Budget(Exception):
    pass


def _exact(units, firsts, lasts, start, bound, max_work, pieces=None,
           pair=None) -> tuple[list[int], bool]:
    """Branch and bound over canonical lowest-fit sequences (see the module
    docstring), as iterative deepening on the arena height: search for a plan
    no higher than `limit`, starting at the lower bound; when there is none, the
    next limit is the smallest height a pruned node needed. The first plan found
    is therefore optimal. Returns (offsets, proved optimal). `pieces` and
    `pair` describe buffers whose size changes (see _beside)."""
    n = len(units)
    pieces = pieces or [()] * n
    pair = pair or {}
    prof = [_profile(units[i], firsts[i], lasts[i], pieces[i]) for i in range(n)]
    nbrs = _conflicts(firsts, lasts)
    real = [i for i in range(n) if units[i] > 0]
    rank = {i: r for r, i in enumerate(sorted(real, key=lambda i: (-units[i], firsts[i],
                                                                  lasts[i], i)))}
    twin_before: dict[int, int] = {}
    seen: dict[tuple, int] = {}
    for i in sorted(real, key=rank.__getitem__):
        key = (units[i], firsts[i], lasts[i], pieces[i])
        if key in seen:
            twin_before[i] = seen[key]
        seen[key] = i
    offs = [0 if units[i] == 0 else -1 for i in range(n)]
    fit = {i: 0 for i in real}
    start_top = max((o + s for o, s in zip(start, units)), default=0)
    nodes = 0
    steps = max(lasts, default=-1) + 1
    load = [0] * steps          # bytes of the unplaced buffers live at each step
    for i in real:
        for t in range(firsts[i], lasts[i] + 1):
            load[t] += prof[i][t - firsts[i]]
    # (i, j, i's size beside j, j's size beside i)
    pairs = [(i, j, pair.get((i, j), units[i]), pair.get((j, i), units[j]))
             for i in real for j in nbrs[i] if i < j and units[j] > 0]
    node_cost = len(pairs) + steps      # work units a search node costs, plus one a buffer left

    def lowest_fit(i: int) -> int:
        return _fit(i, [j for j in nbrs[i] if offs[j] >= 0], offs, units, pair, False)

    def dfs(left: list[int], last_key: tuple[int, int], limit: int) -> int | None:
        """None when a plan within `limit` is in offs, else the smallest
        height over `limit` that a pruned branch needed."""
        nonlocal nodes
        if not left:
            return None
        nodes += node_cost + len(left)
        if nodes > max_work:
            raise _Budget
        need = 0
        base = last_key[0]
        for i in left:
            if fit[i] + units[i] <= base:
                return _NEVER       # i can never continue the canonical sequence
            need = max(need, fit[i] + units[i])
        # Two unplaced buffers live together: one of them sits on top of the other.
        for i, j, bi, bj in pairs:
            if offs[i] < 0 and offs[j] < 0:
                fi, fj, si, sj = fit[i], fit[j], units[i], units[j]
                need = max(need, min(max(fi + bi + sj, fj + sj), max(fj + bj + si, fi + si)))
        if need > limit:
            return need
        # Every later buffer goes at or above `base`: per step, the unplaced bytes
        # must fit in what the placed ones leave free above it.
        above = [0] * steps
        for i in placed:
            if pieces[i]:
                for t in range(firsts[i], lasts[i] + 1):
                    top = offs[i] + prof[i][t - firsts[i]]
                    if top > base:
                        above[t] += top - max(offs[i], base)
                continue
            top = offs[i] + units[i]
            if top > base:
                for t in range(firsts[i], lasts[i] + 1):
                    above[t] += top - max(offs[i], base)
        over = max((base + above[t] + load[t] for t in range(steps) if load[t]), default=0)
        if over > limit:
            return over
        cands = sorted((fit[i], rank[i], i) for i in left
                       if (fit[i], rank[i]) > last_key
                       and (i not in twin_before or offs[twin_before[i]] >= 0))
        next_limit = _NEVER
        for o, r, i in cands:
            offs[i] = o
            placed.append(i)
            for t in range(firsts[i], lasts[i] + 1):
                load[t] -= prof[i][t - firsts[i]]
            saved = [(j, fit[j]) for j in nbrs[i] if offs[j] < 0]
            for j, _ in saved:
                fit[j] = lowest_fit(j)
            got = dfs([j for j in left if j != i], (o, r), limit)
            if got is None:
                return None
            for j, f in saved:
                fit[j] = f
            for t in range(firsts[i], lasts[i] + 1):
                load[t] += prof[i][t - firsts[i]]
            placed.pop()
            offs[i] = -1
            next_limit = min(next_limit, got)
        return next_limit

    placed: list[int] = []
    limit = bound
    try:
        while limit < start_top:
            got = dfs(real, (-1, -1), limit)
            if got is None:
                return list(offs), True
            limit = got
        return list(start), True    # nothing below the greedy plan exists
    except _Budget:
        return list(start), False


_NEVER = 1 << 62


# ----------------------------------------------------------------- schedule

def schedule_for_memory(program: Program, alignment: int, *, inplace: bool = True,
                        io_in_arena: bool = False) -> Program:
    """The program with its calls in a topological order of smallest peak live
    bytes (the ONNX order when that is not worse); see the module docstring."""
    calls = program.calls
    n = len(calls)
    if n < 3:
        return program
    roots_r = [{program.root(t)[0] for t in c.reads} for c in calls]
    roots_w = [{program.root(t)[0] for t in c.writes} for c in calls]
    # Dependencies: any two calls touching one buffer, at least one writing it, keep order.
    preds = [0] * n
    touched: dict[str, list[tuple[int, bool]]] = {}
    for i in range(n):
        for t in roots_r[i] | roots_w[i]:
            for j, wrote in touched.get(t, []):
                if wrote or t in roots_w[i]:
                    preds[i] |= 1 << j
            touched.setdefault(t, []).append((i, t in roots_w[i]))
    arena = {t for t in touched if _is_arena(program, t, io_in_arena)}
    size = {t: _align(_nbytes(program, t), alignment) for t in arena}
    users = {t: 0 for t in arena}
    writers = {t: 0 for t in arena}
    for i in range(n):
        for t in roots_r[i] | roots_w[i]:
            if t in arena:
                users[t] |= 1 << i
        for t in roots_w[i]:
            if t in arena:
                writers[t] |= 1 << i
    keep_to_end = set(program.outputs) & arena if io_in_arena else set()
    inputs_live = {t for t in program.inputs if t in arena}
    scratch = [_align(c.scratch_bytes, alignment) for c in calls]
    ip = [[program.root(t)[0] for t in c.inplace if program.root(t) == (program.root(t)[0], 0)]
          if inplace else [] for c in calls]

    def step(mask: int, live: int, i: int) -> tuple[int, int]:
        """(peak during call i, live bytes after it) from the set `mask` run."""
        after = mask | 1 << i
        born = [t for t in roots_w[i] if t in arena and not writers[t] & mask
                and t not in inputs_live]
        during = live + sum(size[t] for t in born) + scratch[i]
        if len(born) == 1 and writers[born[0]] == 1 << i:
            y = born[0]
            for x in ip[i]:
                if (x in arena and x not in keep_to_end and not users[x] & ~after
                        and (size[x] == size[y] or calls[i].inplace_any_size)):
                    during -= min(size[x], size[y])     # one buffer of the larger size
                    break
        dead = [t for t in (roots_r[i] | roots_w[i]) if t in arena and t not in keep_to_end
                and not users[t] & ~after]
        return during, live + sum(size[t] for t in born) - sum(size[t] for t in dead)

    start_live = sum(size[t] for t in inputs_live)
    # The ONNX order's peak.
    mask, live, onnx_peak = 0, start_live, 0
    for i in range(n):
        during, live = step(mask, live, i)
        onnx_peak = max(onnx_peak, during)
        mask |= 1 << i
    layer = {0: (0, start_live, None, -1)}   # mask -> (peak, live, parent mask, call)
    history = [layer]
    work = 0
    for k in range(n):
        nxt: dict[int, tuple] = {}
        moves = 0
        for mask, (peak, live, _, _) in layer.items():
            for i in range(n):
                if mask >> i & 1 or preds[i] & ~mask:
                    continue
                moves += 1
                during, after_live = step(mask, live, i)
                cand = (max(peak, during), after_live, mask, i)
                m2 = mask | 1 << i
                old = nxt.get(m2)
                if old is None or cand[:2] < old[:2]:
                    nxt[m2] = cand
        # The beam: what the remaining budget affords at this layer's moves per set.
        work += moves
        per_set = max(1, moves // len(layer)) * (n - k)
        beam = max(1, min(SCHEDULE_BEAM, (SCHEDULE_WORK - work) // per_set))
        if len(nxt) > beam:
            nxt = dict(sorted(nxt.items(), key=lambda kv: kv[1][:2])[:beam])
        layer = nxt
        history.append(layer)
    (full, (best_peak, _, _, _)), = layer.items()
    if best_peak >= onnx_peak:
        return program
    order, mask = [], full
    for k in range(n, 0, -1):
        _, _, parent, i = history[k][mask]
        order.append(i)
        mask = parent
    order.reverse()
    return reorder(program, order)


def reorder(program: Program, order: list[int]) -> Program:
    """The program with its calls in `order` (indices into `program.calls`);
    each alias follows the call that first writes its source (or leads)."""
    calls = program.calls
    aliases = [s for s in program.steps if isinstance(s, Alias)]
    steps: list = []
    placed: set[int] = set()
    written: set[str] = set()

    def flush():
        for k, a in enumerate(aliases):
            if k not in placed and (program.root(a.source)[0] in written
                                    or program.root(a.source)[0] not in _written_roots):
                steps.append(a)
                placed.add(k)

    _written_roots = {program.root(t)[0] for c in calls for t in c.writes}
    flush()
    for i in order:
        steps.append(calls[i])
        written.update(program.root(t)[0] for t in calls[i].writes)
        flush()
    steps += [a for k, a in enumerate(aliases) if k not in placed]
    return Program(program.name, tuple(steps), program.tensors, program.inputs,
                   program.outputs, program.meta)

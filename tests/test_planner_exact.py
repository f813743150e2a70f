"""The exact placement search: hand-computed optima, a brute-force comparison
on random instances of up to 8 buffers, and no overlaps on larger ones."""

from __future__ import annotations

import itertools

from hypothesis import given, settings, strategies as st

from aot.passes.memory_plan import overlaps, plan_memory
from test_memory_plan import chain_program


def brute_force_arena(spec, align):
    """The smallest arena over every placement order, each buffer at the lowest
    offset where it fits beside the ones placed before it (some order reaches
    every optimum: see the planner's docstring). Independent of the planner."""
    sizes = [(size + align - 1) // align * align for size, _, _ in spec]
    best = None
    for order in itertools.permutations(range(len(spec))):
        placed: list[tuple[int, int, int]] = []   # (offset, end, index)
        for i in order:
            _, first, last = spec[i]
            busy = sorted((o, e) for o, e, j in placed
                          if spec[j][1] <= last and first <= spec[j][2])
            cursor = 0
            for o, e in busy:
                if o - cursor >= sizes[i]:
                    break
                cursor = max(cursor, e)
            placed.append((cursor, cursor + sizes[i], i))
        top = max(e for _, e, _ in placed)
        best = top if best is None else min(best, top)
    return best


def check_plan(plan, align):
    bufs = list(plan.buffers.values())
    for i, a in enumerate(bufs):
        assert plan.offsets[a.name] % align == 0
        assert plan.offsets[a.name] + a.nbytes <= plan.arena_bytes
        for b in bufs[i + 1:]:
            assert not overlaps(a, b, plan.offsets), (a, b)
    assert plan.lower_bound <= plan.arena_bytes <= plan.greedy_bytes


def test_exact_search_reaches_the_bound_where_greedy_does_not():
    # x: 10 B over steps 1..3, y: 50 B over 1..2, z: 50 B over 4, w: 20 B over 3..4.
    # Live bytes per step: 1: 60, 2: 60, 3: 30, 4: 70, so the lower bound is 70 B.
    spec = [(10, 1, 3), (50, 1, 2), (50, 4, 4), (20, 3, 4)]
    greedy = plan_memory(chain_program(spec), 10, search_work=0)
    # Largest first: y at 0, z at 0 (not live with y), w on z at 50, x over y and w at 70.
    assert greedy.offsets == {"t1": 0, "t2": 0, "t3": 50, "t0": 70}
    assert greedy.arena_bytes == 80 and greedy.lower_bound == 70
    exact = plan_memory(chain_program(spec), 10)
    # w under z leaves x room at 50, just above y: 70 B.
    assert exact.arena_bytes == 70 == brute_force_arena(spec, 10)
    assert exact.offsets == {"t1": 0, "t3": 0, "t0": 50, "t2": 20}
    assert exact.greedy_bytes == 80 and "lower bound" in exact.method
    check_plan(exact, 10)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.integers(1, 96), st.integers(0, 9), st.integers(0, 9)),
                min_size=1, max_size=8),
       st.sampled_from([1, 8, 16]))
def test_exact_search_equals_brute_force_up_to_8_buffers(spec, align):
    spec = [(size, min(a, b), max(a, b)) for size, a, b in spec]
    plan = plan_memory(chain_program(spec), align)
    check_plan(plan, align)
    assert plan.arena_bytes == brute_force_arena(spec, align), plan.table()
    assert "budget" not in plan.method        # 8 buffers are always searched to the end


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.integers(1, 5000), st.integers(0, 40), st.integers(0, 8)),
                min_size=10, max_size=60),
       st.sampled_from([4, 8]))
def test_larger_instances_never_overlap(spec, align):
    spec = [(size, first, first + length) for size, first, length in spec]
    plan = plan_memory(chain_program(spec), align)
    check_plan(plan, align)


def test_plan_prints_as_a_table():
    plan = plan_memory(chain_program([(10, 1, 3), (50, 1, 2), (50, 4, 4), (20, 3, 4)]), 10)
    rows = [line.split() for line in plan.table().splitlines()]
    assert rows[0] == ["buffer", "offset", "bytes", "steps"]
    assert rows[1:5] == [["t1", "0", "50", "1..2"], ["t3", "0", "20", "3..4"],
                         ["t2", "20", "50", "4..4"], ["t0", "50", "10", "1..3"]]
    assert plan.table().splitlines()[5] == ("arena 70 B (exact search: equal to the lower "
                                            "bound (greedy 80 B)), lower bound 70 B, alignment 10")

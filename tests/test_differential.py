"""Differential testing: random valid float32 ONNX graphs (tests/graphgen.py),
compiled by aot for x86-64, built, run on the host (HostRunner: poisoned arena,
guard bytes) and compared with onnxruntime (CPU, graph optimizations off) at
the tolerance documented in tests/difftest.py:

    |aot - ort| <= 1e-4 * |ort| + 1e-5 * max(1, M)

(M = the largest magnitude the output was computed from). Each example also
draws the planner options (in-place, memory schedule, I/O in the arena), so
the memory plan is fuzzed along with the kernels.

In CI the examples are fixed (derandomize=True) and bounded: one small test
per op family (every op is exercised every run) and one of mixed graphs.
A long campaign (random seeds, many examples, every failure saved):

    AOT_FUZZ_EXAMPLES=2000 AOT_FUZZ_SEED=random python -m pytest -n 2 -p no:cacheprovider \\
        tests/test_differential.py

AOT_FUZZ_EXAMPLES is the number of mixed graphs (CI: 80) and sets the
per-family count to a sixteenth of it (CI: 5) and the count per emulated
target (cortex-m4, aarch64: the same generator, built with zig cc and run
under unicorn) to a twentieth (CI: 4); AOT_FUZZ_SEED is an integer or
`random` (default: derandomized, as in CI). Both are read by this test, never
by the compiler.

A failing example is shrunk by hypothesis and saved (model + feeds + the
options) as tests/regressions/<test>.onnx/.npz; test_regressions.py runs
every saved case. Give it a name that says what it caught, and fix the bug.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import given

import aot
import graphgen
from conftest import need_import
from difftest import FastBuilder, compare, magnitudes, ort_run, run_aot, save_regression
from fuzzing import BUDGET, fuzz_settings, options_strategy, seeded

FAMILIES = sorted(graphgen.GENERATORS)
MIXED = BUDGET                                             # mixed graphs
PER_FAMILY = max(5, MIXED // 16)                           # graphs per op family
EMULATED = max(4, MIXED // 20)                             # graphs per emulated target


@pytest.fixture(scope="module")
def builder(tmp_path_factory):
    return FastBuilder(str(tmp_path_factory.mktemp("runtime-objects")))


def check(g: graphgen.GeneratedGraph, options: aot.Options, out_dir, builder, stem: str):
    want = ort_run(g.model, g.feeds)
    mag = magnitudes(g.model, g.feeds)
    try:
        got = run_aot(g.model, g.feeds, str(out_dir), builder, options)
        compare(got, want, mag)
    except BaseException as e:
        path = save_regression(stem, g.model, g.feeds, options)
        raise AssertionError(f"{e}\n(saved as {os.path.relpath(path)})") from e


@pytest.mark.parametrize("family", FAMILIES)
def test_each_op_family(family, builder, tmp_path):
    """A few graphs built around one op family (other ops may feed it)."""
    count, seen = [0], set()

    @fuzz_settings(PER_FAMILY)
    @seeded
    @given(g=graphgen.graphs(max_nodes=3, ops=(family,)), options=options_strategy)
    def run(g, options):
        count[0] += 1
        seen.update(g.ops)
        check(g, options, tmp_path / f"ex{count[0]}", builder, f"failing_{family}")

    run()
    # the budget really exercised the family, not just its name
    assert seen & graphgen.FAMILY_OPS[family], (family, seen)


def test_mixed_graphs(builder, tmp_path):
    """Chains and branches of every op family."""
    count = [0]

    @fuzz_settings(MIXED)
    @seeded
    @given(g=graphgen.graphs(max_nodes=8), options=options_strategy)
    def run(g, options):
        count[0] += 1
        check(g, options, tmp_path / f"ex{count[0]}", builder, "failing_mixed")

    run()



@pytest.mark.parametrize("target", ["cortex-m4", "aarch64"])
def test_emulated_targets(target, tmp_path):
    """The same generator on the emulated targets, on a smaller budget: the C
    built by zig cc for the target and run under unicorn."""
    need_import("unicorn")
    need_import("elftools")
    count = [0]

    @fuzz_settings(EMULATED)
    @seeded
    @given(g=graphgen.graphs(max_nodes=4))
    def run(g):
        count[0] += 1
        want = ort_run(g.model, g.feeds)
        try:
            compiled = aot.compile(g.model, target, out_dir=str(tmp_path / f"ex{count[0]}"))
            compare(compiled.run(g.feeds), want, magnitudes(g.model, g.feeds))
        except BaseException as e:
            path = save_regression(f"failing_{target}", g.model, g.feeds, target=target)
            raise AssertionError(f"{e}\n(saved as {os.path.relpath(path)})") from e

    run()

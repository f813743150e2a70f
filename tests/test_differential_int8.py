"""Differential testing of int8: random valid QDQ graphs (tests/graphgen_int8.py),
compiled by aot, built, run and compared BIT-EXACTLY with the TFLite-int8
reference interpreter (tests/int8_reference.py, itself bit-exact with TFLM
layer by layer on the MLPerf Tiny models: test_int8_reference.py). No
tolerance: every int8 output element must be equal.

x86-64 on the host (FastBuilder: strict warning flags; HostRunner: poisoned
arena, guard bytes), with the planner options drawn too; cortex-m4 built by
zig cc and run under unicorn on a smaller budget.

CI runs a bounded, derandomized set: a few graphs per op family and some
mixed ones. A long campaign (random seeds, many examples):

    AOT_FUZZ_EXAMPLES=2000 AOT_FUZZ_SEED=random python -m pytest -n 2 -p no:cacheprovider \\
        tests/test_differential_int8.py

(the same variables as tests/test_differential.py: mixed graphs = AOT_FUZZ_EXAMPLES
/ 3 (CI: 26), per family a sixteenth (CI: 5), cortex-m4 a twentieth (CI: 4)).
A failing example is shrunk by hypothesis and saved as
tests/regressions/int8/failing_int8_<test>.onnx/.npz (feeds, options, target in
the metadata); test_saved_int8_regressions runs every saved case. Rename it to
say what it caught, and fix the bug.
"""

from __future__ import annotations

import os
import pathlib

import numpy as np
import onnx
import pytest
from hypothesis import given

import aot
import graphgen_int8
from conftest import need_import
from difftest import (REGRESSIONS_INT8, FastBuilder, regression_options, regression_target,
                      run_aot, save_regression)
from fuzzing import BUDGET, fuzz_settings, options_strategy, seeded
from int8_reference import Reference

FAMILIES = sorted(graphgen_int8.GENERATORS)
MIXED = BUDGET // 3
PER_FAMILY = max(5, BUDGET // 16)
EMULATED = max(4, BUDGET // 20)


@pytest.fixture(scope="module")
def builder(tmp_path_factory):
    return FastBuilder(str(tmp_path_factory.mktemp("runtime-objects")))


def expected(model: onnx.ModelProto, feeds) -> dict[str, np.ndarray]:
    values = Reference(model).run(feeds)
    return {o.name: values[o.name] for o in model.graph.output}


def compare_exact(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> None:
    assert set(got) == set(want), (sorted(got), sorted(want))
    for name, ref in want.items():
        out = got[name]
        assert out.shape == ref.shape, f"{name}: shape {out.shape}, reference {ref.shape}"
        assert out.dtype == np.int8, f"{name}: dtype {out.dtype}"
        diff = np.abs(out.astype(np.int32) - ref.astype(np.int32))
        if diff.any():
            i = np.unravel_index(int(np.argmax(diff)), ref.shape)
            raise AssertionError(
                f"{name}: {int((diff > 0).sum())}/{ref.size} int8 elements differ from the "
                f"TFLite-int8 reference (max {int(diff.max())} LSB; at {tuple(map(int, i))}: "
                f"aot {int(out[i])}, reference {int(ref[i])})")


def check(g, out_dir, builder, stem: str, options=None, target: str = "x86-64") -> None:
    want = expected(g.model, g.feeds)
    try:
        if target == "x86-64":
            got = run_aot(g.model, g.feeds, str(out_dir), builder, options)
        else:
            got = aot.compile(g.model, target, out_dir=str(out_dir), options=options).run(g.feeds)
        compare_exact(got, want)
    except BaseException as e:
        path = save_regression(stem, g.model, g.feeds, options, target, REGRESSIONS_INT8)
        raise AssertionError(f"{e}\n(saved as {os.path.relpath(path)})") from e


@pytest.mark.parametrize("family", FAMILIES)
def test_each_int8_op_family(family, builder, tmp_path):
    """A few graphs built around one op family (other ops may feed it)."""
    count, seen = [0], set()

    @fuzz_settings(PER_FAMILY)
    @seeded
    @given(g=graphgen_int8.qdq_graphs(max_nodes=3, ops=(family,)), options=options_strategy)
    def run(g, options):
        count[0] += 1
        seen.update(g.ops)
        check(g, tmp_path / f"ex{count[0]}", builder, f"failing_int8_{family}", options)

    run()
    assert seen & graphgen_int8.FAMILY_OPS[family], (family, seen)


def test_mixed_int8_graphs(builder, tmp_path):
    """Chains and branches of every int8 op family."""
    count = [0]

    @fuzz_settings(MIXED)
    @seeded
    @given(g=graphgen_int8.qdq_graphs(max_nodes=7), options=options_strategy)
    def run(g, options):
        count[0] += 1
        check(g, tmp_path / f"ex{count[0]}", builder, "failing_int8_mixed", options)

    run()


def test_int8_on_cortex_m4(tmp_path):
    """The same generator on Cortex-M4 (zig cc, unicorn), on a smaller budget."""
    need_import("unicorn")
    need_import("elftools")
    count = [0]

    @fuzz_settings(EMULATED)
    @seeded
    @given(g=graphgen_int8.qdq_graphs(max_nodes=4))
    def run(g):
        count[0] += 1
        check(g, tmp_path / f"ex{count[0]}", None, "failing_int8_cortex_m4",
              target="cortex-m4")

    run()


CASES = sorted(p.stem for p in pathlib.Path(REGRESSIONS_INT8).glob("*.onnx"))


@pytest.mark.parametrize("case", CASES)
def test_saved_int8_regressions(case, builder, tmp_path):
    root = pathlib.Path(REGRESSIONS_INT8)
    model = onnx.load(str(root / f"{case}.onnx"))
    with np.load(root / f"{case}.npz") as data:
        feeds = {k: data[k] for k in data.files}
    target = regression_target(model)
    options = regression_options(model)
    if target == "x86-64":
        got = run_aot(model, feeds, str(tmp_path / "out"), builder, options)
    else:
        got = aot.compile(model, target, out_dir=str(tmp_path / "out"), options=options).run(feeds)
    compare_exact(got, expected(model, feeds))

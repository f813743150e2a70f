"""Every saved regression case runs: tests/regressions/<case>.onnx with its feeds
in <case>.npz, the compile options and (if not x86-64) the target in the
model's metadata ("aot_options", "aot_target").

Cases come from the differential fuzzer (test_differential.py saves a shrunk
failing example as failing_<test>.onnx; rename it to say what it caught) and
from bugs found by hand. Each is compiled, built, run and compared with
onnxruntime at the tolerance of tests/difftest.py.
"""

from __future__ import annotations

import pathlib

import numpy as np
import onnx
import pytest

import aot
from difftest import (REGRESSIONS, FastBuilder, compare, magnitudes, ort_run,
                      regression_options, regression_target, run_aot)

CASES = sorted(p.stem for p in pathlib.Path(REGRESSIONS).glob("*.onnx"))


@pytest.fixture(scope="module")
def builder(tmp_path_factory):
    return FastBuilder(str(tmp_path_factory.mktemp("runtime-objects")))


@pytest.mark.parametrize("case", CASES)
def test_regression_case(case, builder, tmp_path):
    model = onnx.load(str(pathlib.Path(REGRESSIONS) / f"{case}.onnx"))
    with np.load(pathlib.Path(REGRESSIONS) / f"{case}.npz") as data:
        feeds = {k: data[k] for k in data.files}
    want = ort_run(model, feeds)
    target = regression_target(model)
    if target == "x86-64":
        got = run_aot(model, feeds, str(tmp_path / "out"), builder, regression_options(model))
    else:   # an emulated target's case (needs zig cc and unicorn)
        got = aot.compile(model, target, out_dir=str(tmp_path / "out"),
                          options=regression_options(model)).run(feeds)
    compare(got, want, magnitudes(model, feeds))


def test_regression_cases_are_complete():
    """Every case has its feeds, and nothing half-saved lies around."""
    root = pathlib.Path(REGRESSIONS)
    assert sorted(p.stem for p in root.glob("*.npz")) == CASES

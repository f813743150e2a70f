"""pytest-benchmark suite: aot against the interpreters, one benchmark per (model, framework).

    python -m pytest benchmarks                          # full timing (pytest-benchmark)
    python -m pytest benchmarks --benchmark-autosave     # save a run ...
    python -m pytest benchmarks --benchmark-compare      # ... and compare against it
    python -m pytest benchmarks --bench-quick            # CI: every framework verified,
                                                         # one short timing each

Every benchmark first verifies its framework's outputs against the model's
reference (aot.bench: onnxruntime for float models, TFLM for int8 ones; ours
bit-exact vs TFLM) and asserts that, never a speed. Benchmarks are grouped by
model (`benchmark.group`), so `--benchmark-compare` lines up the frameworks.

A framework that does not apply to a model (no .tflite for it) is skipped with
the reason. One that is not installed or crashes is skipped with the reason
outside CI, and fails when CI=true.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

IN_CI = os.environ.get("CI") == "true"
ROOT = pathlib.Path(__file__).resolve().parent.parent
MLPERF = ROOT.parent / "shared" / "models" / "mlperf_tiny"

# The four MLPerf Tiny models, float and int8 (KWS float: the SavedModel weights, whose
# .tflite is pure float; see shared/models/mlperf_tiny/README.md), and our own example.
MODELS = ("kws_float_savedmodel", "vww_float", "ic_float", "ad_float",
          "kws_int8", "vww_int8", "ic_int8", "ad_int8", "tiny_cnn")
QUICK_MODELS = ("kws_float_savedmodel", "ad_float", "kws_int8", "ad_int8", "tiny_cnn")


def pytest_addoption(parser):
    parser.addoption("--bench-quick", action="store_true", default=False,
                     help="CI mode: a subset of models, minimal timing (proves it works)")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    if config.getoption("--bench-quick", default=False):
        # Before pytest-benchmark reads its options: one short round per benchmark.
        config.option.benchmark_max_time = 0.002
        config.option.benchmark_min_rounds = 1
        config.option.benchmark_warmup = False


def pytest_collection_modifyitems(config, items):
    if not config.getoption("--bench-quick"):
        return
    skip = pytest.mark.skip(reason="not in --bench-quick's model subset")
    for item in items:
        model = getattr(item, "callspec", None) and item.callspec.params.get("model")
        if model and model not in QUICK_MODELS:
            item.add_marker(skip)


def need(condition: bool, reason: str) -> None:
    if condition:
        return
    if IN_CI:
        pytest.fail(f"missing in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def model_path(tmp_path_factory):
    made = {}

    def path(model: str) -> str:
        if model == "tiny_cnn":
            if model not in made:
                out = tmp_path_factory.mktemp("examples") / "tiny_cnn.onnx"
                subprocess.run([sys.executable, str(ROOT / "examples" / "make_tiny_cnn.py"),
                                str(out)], check=True)
                made[model] = str(out)
            return made[model]
        p = MLPERF / f"{model}.onnx"
        need(p.exists(), f"{p} not found (the shared models live beside the checkout)")
        return str(p)
    return path


@pytest.fixture(scope="session")
def model_case(model_path, request):
    """aot.bench.ModelCase per model, compiled once per session."""
    from aot.bench import ModelCase

    cases = {}
    verify = 1 if request.config.getoption("--bench-quick") else 3

    def get(model: str):
        if model not in cases:
            cases[model] = ModelCase(model_path(model), "native", verify=verify)
        return cases[model]
    yield get
    for case in cases.values():
        case.close()

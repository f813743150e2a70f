"""One benchmark per (model, framework): verified outputs, then pytest-benchmark timing.

The timed call is each framework's `infer(inputs) -> outputs` (aot.baselines):
hand the inputs over, run one inference (batch 1, one thread), return the
outputs, the same kind of Python call for every framework. Ours is
`CompiledModel.run` on the generated C built with the host cc at -O3.
"""

from __future__ import annotations

import pytest

from aot.baselines import FRAMEWORKS, NOT_APPLICABLE
from conftest import IN_CI, MODELS


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("model", MODELS)
def test_latency(benchmark, model_case, model, framework):
    case = model_case(model)
    check = case.check(framework)
    if check is None:
        why = case.unavailable[framework]
        if why.status == NOT_APPLICABLE:
            pytest.skip(f"{framework} does not apply to {model}: {why.reason}")
        if IN_CI:
            pytest.fail(f"{framework} on {model}: {why.status}: {why.reason}")
        pytest.skip(f"{framework} on {model}: {why.status}: {why.reason}")

    assert case.reference is not None, f"{model}: no reference could run"
    assert check["outputs_match"] is not None
    if case.integer:
        # int8: ours bit-exact vs TFLM (when the reference is TFLM); others agree in argmax.
        assert check["argmax_agrees"], f"{framework} on {model}: {check['check']} " \
                                       f"vs {case.reference_name}"
        if framework == "aot" and case.reference_framework == "tflm":
            assert check["max_lsb"] == 0, f"aot not bit-exact vs TFLM: {check['check']}"
    else:
        assert check["outputs_match"], f"{framework} on {model}: {check['check']} " \
                                       f"vs {case.reference_name}"

    session = case.sessions[framework]
    benchmark.group = model
    benchmark.name = f"{model}[{framework}]"
    benchmark.extra_info.update({
        "framework": framework, "model": model, "target": case.target.name,
        "version": session.version, "reference": case.reference_name,
        "check": check.get("check"), "compile_s": session.compile_s})
    inputs = case.samples[0]
    benchmark(session.infer, inputs)

"""Shared test fixtures.

In CI (CI=true) a missing toolchain, ../shared folder or baseline package is
a failure; elsewhere the tests that need it skip with the reason.
"""

from __future__ import annotations

import os
import pathlib

import pytest

IN_CI = os.environ.get("CI") == "true"
ROOT = pathlib.Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
MODELS = SHARED / "models"


def need(condition: bool, reason: str) -> None:
    """Skip (or fail, in CI) when a prerequisite is missing."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"missing in CI: {reason}")
    pytest.skip(reason)


def need_import(module: str):
    try:
        return __import__(module)
    except ImportError:
        need(False, f"python package '{module}' is not installed")


def ort_unoptimized(model, feeds) -> list:
    """onnxruntime's outputs for `model` (a ModelProto), one thread, graph optimizations
    off: the reference computes each node as written."""
    ort = need_import("onnxruntime")
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


@pytest.fixture(scope="session")
def mlperf_dir() -> pathlib.Path:
    path = MODELS / "mlperf_tiny"
    need(path.is_dir(), f"{path} not found (the shared models live beside the checkout)")
    return path

"""The README quickstart's main job, minus `pip install`: build the example
model, compile it, run it (CLI), and check the result against onnxruntime."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from conftest import ROOT, need_import
from test_errors import run_cli


def test_quickstart_example(tmp_path):
    ort = need_import("onnxruntime")
    model = tmp_path / "tiny_cnn.onnx"
    subprocess.run([sys.executable, str(ROOT / "examples" / "make_tiny_cnn.py"), str(model)],
                   check=True, capture_output=True)
    code, out, err = run_cli("compile", model, "-o", tmp_path / "tiny_cnn")
    assert code == 0, err
    from aot.targets.target import host_target
    assert f"native = {host_target().name} " in out   # the best target this CPU runs
    x = np.random.default_rng(3).standard_normal((1, 1, 28, 28)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    code, out, err = run_cli("run", tmp_path / "tiny_cnn", "--input", tmp_path / "x.npy",
                             "--output", tmp_path / "y.npz")
    assert code == 0, err
    ours = np.load(tmp_path / "y.npz")["probs"]
    ref = ort.InferenceSession(str(model)).run(None, {"image": x})[0]
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-6)

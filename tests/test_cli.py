"""The CLI's main jobs on a real model: compile, run (npz in/out, JSON), inspect."""

from __future__ import annotations

import json

import numpy as np

from test_errors import run_cli


def test_compile_run_inspect(tmp_path, mlperf_dir):
    model = mlperf_dir / "kws_float.onnx"
    out = tmp_path / "kws"
    code, stdout, err = run_cli("compile", model, "--target", "x86-64", "-o", out,
                                "--name", "kws")
    assert code == 0, err
    for f in ("kws.h", "kws.c", "kws_weights.c", "kws.json", "kws.mk", "CMakeLists.txt",
              "aot_runtime/aot_conv2d_f32.c"):
        assert (out / f).is_file(), f
    manifest = json.loads((out / "kws.json").read_text())
    assert manifest["inputs"][0]["name"] == "input_1"
    assert manifest["target"]["name"] == "x86-64"

    x = np.random.default_rng(1).standard_normal((1, 49, 10, 1)).astype(np.float32)
    np.savez(tmp_path / "x.npz", input_1=x)
    code, stdout, err = run_cli("run", out, "--input", tmp_path / "x.npz",
                                "--output", tmp_path / "y.npz", "--json")
    assert code == 0, err
    stats = json.loads(stdout)
    for key in ("model", "target", "outputs", "instructions", "flash_bytes", "ram_bytes",
                "stack_bytes", "arena_bytes"):
        assert key in stats
    y = np.load(tmp_path / "y.npz")["Identity"]
    assert y.shape == (1, 12) and abs(float(y.sum()) - 1.0) < 1e-5   # softmax output
    assert stats["outputs"]["Identity"]["argmax"] == int(np.argmax(y))

    code, stdout, err = run_cli("run", out)          # seeded random input
    assert code == 0 and "seed 0" in stdout, err
    code, _, err = run_cli("run", out, "--target", "cortex-m4")
    assert code == 2 and "conflicts" in err

    code, stdout, err = run_cli("inspect", model, "--target", "x86-64", "--json")
    assert code == 0, err
    report = json.loads(stdout)
    assert report["macs"] == 2_656_768          # the MLPerf Tiny README's figure
    assert report["params"] == 22_604
    assert report["arena_bytes"] == manifest["arena"]["bytes"]
    assert len(report["layers"]) == 12
    code, stdout, err = run_cli("inspect", model, "--target", "x86-64")
    assert code == 0 and "MACs" in stdout

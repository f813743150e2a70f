"""The MLPerf Tiny float models end to end: our C against onnxruntime.

Inputs: 20 seeded tensors per model, drawn like the int8 model's real input
range (uniform int8 codes, dequantized with the int8 model's input scale and
zero point, from ../shared/models/mlperf_tiny/README.md).
Tolerance: max |ours - onnxruntime| <= 1e-4 * max(1, max |onnxruntime|), and
the argmax agrees on every input (AD is a regression model: no argmax check).
"""

from __future__ import annotations

import time

import numpy as np
import pytest

import aot
from conftest import need_import

# model file, input scale, input zero point, classifier?
MODELS = {
    "kws_float": ("kws_float.onnx", 0.5847029, 83, True),
    "kws_float_savedmodel": ("kws_float_savedmodel.onnx", 0.5847029, 83, True),
    "vww_float": ("vww_float.onnx", 1 / 255, -128, True),
    "ic_float": ("ic_float.onnx", 1.0, -128, True),
    "ad_float": ("ad_float.onnx", 0.39101523, 89, False),
}


def seeded_inputs(shape, scale, zero_point, count=20, seed=0):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        q = rng.integers(-128, 128, size=shape)
        yield ((q - zero_point) * scale).astype(np.float32)


@pytest.mark.parametrize("key", sorted(MODELS))
def test_float_model_matches_onnxruntime(key, mlperf_dir, tmp_path):
    ort = need_import("onnxruntime")
    fname, scale, zp, classifier = MODELS[key]
    path = mlperf_dir / fname
    start = time.perf_counter()
    model = aot.compile(str(path), "x86-64", out_dir=str(tmp_path / key))
    compile_s = time.perf_counter() - start
    assert compile_s < 5.0, f"compile took {compile_s:.1f} s"
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    [inp] = model.manifest["inputs"]
    [out] = model.manifest["outputs"]
    worst = 0.0
    for x in seeded_inputs(inp["shape"], scale, zp):
        ours = model.run({inp["name"]: x})[out["name"]]
        ref = sess.run(None, {inp["name"]: x})[0]
        assert ours.shape == ref.shape
        diff = float(np.max(np.abs(ours - ref)))
        worst = max(worst, diff)
        assert diff <= 1e-4 * max(1.0, float(np.max(np.abs(ref)))), (key, diff)
        if classifier:
            assert int(np.argmax(ours)) == int(np.argmax(ref))
    print(f"{key}: max abs diff vs onnxruntime {worst:.3g}, compile {compile_s:.2f} s")

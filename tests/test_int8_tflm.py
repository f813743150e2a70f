"""Bit-exactness with TensorFlow Lite Micro on the MLPerf Tiny int8 models.

For each model, 100 seeded random int8 inputs (uniform over [-128, 127]) run
through our generated C (compiled from the tf2onnx QDQ conversion; for
x86-64 on the host, and for cortex-m4 and cortex-m3 in the unicorn emulator, all
inputs in one emulator session without hooks) and
through the TFLM interpreter (`tflite-micro` package) on the original
`.tflite`; every output element must be equal. The mismatch counts against
TFLite's reference kernels (ai-edge-litert, BUILTIN_REF) and onnxruntime are
printed as a second comparison, not asserted: those references differ from
TFLM themselves (see ../shared/models/mlperf_tiny/README.md). Checked layer by
layer on AD: fed the same layer inputs, ai-edge-litert 2.3's BUILTIN_REF
fully-connected outputs are exactly TFLite's *single*-rounding requantization
(TFLITE_SINGLE_ROUNDING), TFLM's the double-rounding one we implement, which
is where the BUILTIN_REF counts come from. onnxruntime requantizes in float.

Bit-exactness on AD depends on the fully-connected multiplier being derived
as TFLM does (double(input_scale) * double(filter_scale) / double(output_scale);
a float32 product moved 1 of 64,000 outputs by 1 LSB), see aot.quantmath.
"""

from __future__ import annotations

import numpy as np
import pytest

import aot
from conftest import need_import

PAIRS = {
    "kws": ("kws_int8.onnx", "kws_ref_model.tflite"),
    "vww": ("vww_int8.onnx", "vww_96_int8.tflite"),
    "ic": ("ic_int8.onnx", "pretrainedResnet_quant.tflite"),
    "ad": ("ad_int8.onnx", "ad01_int8.tflite"),
}
SAMPLES = 100


def seeded_int8(shape, count, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(-128, 128, size=shape, dtype=np.int64).astype(np.int8)
            for _ in range(count)]


def tflm_outputs(path, inputs):
    runtime = need_import("tflite_micro.python.tflite_micro.runtime")
    from tflite_micro.python.tflite_micro import runtime
    interp = runtime.Interpreter.from_file(str(path))
    outs = []
    for x in inputs:
        interp.set_input(x, 0)
        interp.invoke()
        outs.append(np.array(interp.get_output(0)))
    return outs


def litert_ref_outputs(path, inputs):
    need_import("ai_edge_litert")
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    interp = Interpreter(model_path=str(path),
                         experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    interp.allocate_tensors()
    i, o = interp.get_input_details()[0]["index"], interp.get_output_details()[0]["index"]
    outs = []
    for x in inputs:
        interp.set_tensor(i, x)
        interp.invoke()
        outs.append(interp.get_tensor(o).copy())
    return outs


def mismatches(a, b):
    diff = [np.abs(x.astype(np.int32) - y.astype(np.int32)) for x, y in zip(a, b)]
    return int(sum((d > 0).sum() for d in diff)), int(max(d.max() for d in diff))


# x86-64 and cortex-m3 run the portable kernels, cortex-m4 its "dsp" variants (auto).
@pytest.mark.parametrize("target", ["x86-64", "cortex-m4", "cortex-m3"])
@pytest.mark.parametrize("key", sorted(PAIRS))
def test_int8_bit_exact_with_tflm(key, target, mlperf_dir, tmp_path):
    onnx_file, tflite_file = PAIRS[key]
    if target != "x86-64":
        need_import("unicorn")
    model = aot.compile(str(mlperf_dir / onnx_file), target, out_dir=str(tmp_path / key))
    [inp] = model.manifest["inputs"]
    [out] = model.manifest["outputs"]
    assert inp["dtype"] == "int8" and out["dtype"] == "int8"
    xs = seeded_int8(inp["shape"], SAMPLES)
    ours = [model.run({inp["name"]: x})[out["name"]] for x in xs]
    ref = tflm_outputs(mlperf_dir / tflite_file, xs)
    count, worst = mismatches(ours, ref)
    total = sum(r.size for r in ref)
    print(f"{key} on {target}: {count}/{total} elements differ from TFLM (max {worst} LSB)")
    assert count == 0, f"{count} of {total} output elements differ from TFLM (max {worst} LSB)"
    if target != "x86-64":
        return   # the second comparison is the same for every target

    lite = litert_ref_outputs(mlperf_dir / tflite_file, xs)
    ort = need_import("onnxruntime")
    sess = ort.InferenceSession(str(mlperf_dir / onnx_file), providers=["CPUExecutionProvider"])
    ort_out = [sess.run(None, {inp["name"]: x})[0] for x in xs]
    print(f"{key}: vs TFLite BUILTIN_REF {mismatches(ours, lite)}, "
          f"vs onnxruntime {mismatches(ours, ort_out)} (mismatching elements, max LSB)")

"""Post-training quantization (aot/quantize.py, aot/calibrate.py, `aot quantize`).

The digits model and its splits are committed (examples/digits/, made by
train_digits.py); no test trains. The int8 builds run on x86-64 through
`aot.compile(...).run`. The onnxruntime baseline is `quantize_static` with its
defaults (QDQ, int8 activations and weights, per tensor, MinMax calibration).
"""

from __future__ import annotations

import json
import math
import pathlib

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import aot
from aot import calibrate
from aot.errors import UsageError
from aot.quantize import layer_errors, prepare, quantize, sqnr_db, tie_ranges
from conftest import need_import
from test_errors import assert_one_line_error, run_cli

DIGITS = pathlib.Path(__file__).resolve().parent.parent / "examples" / "digits"
MODEL, TEST, CALIB = DIGITS / "digits_cnn.onnx", DIGITS / "digits_test.npz", DIGITS / "digits_calib.npz"

# The MLPerf Tiny int8 models' input quantization (../shared/models/mlperf_tiny/README.md):
# seeded int8 codes dequantized with it are inputs both the float and the int8 model take.
MLPERF_INPUTS = {"kws": ((1, 49, 10, 1), 0.5847029, 83), "vww": ((1, 96, 96, 3), 1 / 255, -128),
                 "ic": ((1, 32, 32, 3), 1.0, -128), "ad": ((1, 640), 0.39101523, 89)}


def ort_session(model):
    ort = need_import("onnxruntime")
    data = model.SerializeToString() if isinstance(model, onnx.ModelProto) else str(model)
    return ort.InferenceSession(data, providers=["CPUExecutionProvider"])


def ort_outputs(model, xs, name):
    s = ort_session(model)
    return np.concatenate([s.run(None, {name: x})[0] for x in xs])


def ort_default_quantized(model_path, xs, name, out_path):
    """onnxruntime's default quantizer on the same calibration data."""
    need_import("onnxruntime")
    from onnxruntime.quantization import CalibrationDataReader, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter([{name: x} for x in xs])

        def get_next(self):
            return next(self.it, None)

    quantize_static(str(model_path), str(out_path), Reader())
    return onnx.load(str(out_path))


def aot_outputs(model, xs, name, out):
    compiled = aot.compile(model, "x86-64")
    return np.concatenate([compiled.run({name: x})[out] for x in xs])


def seeded_inputs(key, count, seed):
    shape, scale, zp = MLPERF_INPUTS[key]
    q = np.random.default_rng(seed).integers(-128, 128, (count, *shape)).astype(np.int8)
    return q, ((q.astype(np.float32) - zp) * scale).astype(np.float32)


# -- the QDQ model: standard, TFLite-like -----------------------------------------------

def test_cli_quantize_writes_tflite_like_qdq(tmp_path):
    out = tmp_path / "digits_int8.onnx"
    code, stdout, err = run_cli("quantize", MODEL, "-o", out, "--calibration", CALIB)
    assert code == 0, err
    assert "calibration (200 samples) [" in err and "#" * 30 in err       # the progress bar
    assert "output probs: SQNR" in stdout
    q = onnx.load(str(out))
    onnx.checker.check_model(q)
    inits = {t.name: numpy_helper.to_array(t) for t in q.graph.initializer}
    producers = {o: n for n in q.graph.node for o in n.output}
    ops = {n.op_type for n in q.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear", "Conv", "MaxPool", "Gemm", "Softmax"} <= ops
    assert "Relu" not in ops          # folded into the conv output ranges (zero point -128)
    for n in q.graph.node:
        if n.op_type == "QuantizeLinear":     # activations: int8, per tensor
            zp = inits[n.input[2]]
            assert zp.dtype == np.int8 and zp.size == 1, n.name
        if n.op_type in ("Conv", "Gemm"):
            w = producers[n.input[1]]
            w_q, w_scale, w_zp = (inits[i] for i in w.input)
            assert w_q.dtype == np.int8 and not w_zp.any() and w_q.min() >= -127
            assert w_scale.size == (w_q.shape[0] if n.op_type == "Conv" else 1)
            b_q = inits[producers[n.input[2]].input[0]]
            assert b_q.dtype == np.int32
        if n.op_type == "Softmax":
            qn = next(m for m in q.graph.node if m.input and m.input[0] == n.output[0])
            assert float(inits[qn.input[1]]) == 1 / 256 and int(inits[qn.input[2]]) == -128
    # onnxruntime runs it and it still classifies.
    test = np.load(TEST)
    probs = ort_outputs(q, test["input"][:50], "input")
    assert np.mean(probs.argmax(1) == test["labels"][:50]) >= 0.9


def test_refuses_without_calibration(tmp_path):
    code, _, err = run_cli("quantize", MODEL, "-o", tmp_path / "q.onnx")
    assert_one_line_error(code, err, 2, "needs calibration data", "--calibration")
    assert not (tmp_path / "q.onnx").exists()
    code, _, err = run_cli("compile", MODEL, "--quantize", "int8", "-o", tmp_path / "out")
    assert_one_line_error(code, err, 2, "needs calibration data")
    assert not (tmp_path / "out").exists()
    code, _, err = run_cli("inspect", MODEL, "--calibration", CALIB)
    assert_one_line_error(code, err, 2, "only used with --quantize")
    with pytest.raises(UsageError, match="calibration"):
        aot.compile(str(MODEL), "x86-64", options=aot.Options(quantize="int8"))


def test_bad_calibration_files(tmp_path):
    np.savez(tmp_path / "wrong_key.npz", image=np.zeros((4, 1, 1, 8, 8), np.float32))
    code, _, err = run_cli("quantize", MODEL, "-o", tmp_path / "q.onnx",
                           "--calibration", tmp_path / "wrong_key.npz")
    assert_one_line_error(code, err, 2, "no array for model input(s) input", "image")
    np.savez(tmp_path / "wrong_shape.npz", input=np.zeros((4, 8, 8), np.float32))
    code, _, err = run_cli("quantize", MODEL, "-o", tmp_path / "q.onnx",
                           "--calibration", tmp_path / "wrong_shape.npz")
    assert_one_line_error(code, err, 2, "[4,8,8]", "leading sample axis")
    code, _, err = run_cli("quantize", MODEL, "-o", tmp_path / "q.onnx",
                           "--calibration", tmp_path / "missing.npz")
    assert_one_line_error(code, err, 2, "not found")
    # Samples without the batch axis of size 1 are accepted.
    data = np.load(CALIB)["input"][:8, 0]
    got = calibrate.check_calibration({"input": data}, {"input": [1, 1, 8, 8]})
    assert got["input"].shape == (8, 1, 1, 8, 8)
    qdq = quantize(MODEL, {"input": data}, progress=False).model
    with pytest.raises(UsageError, match="already quantized"):
        quantize(qdq, {"input": data}, progress=False)


# -- accuracy on real data ---------------------------------------------------------------

def test_digits_accuracy_float_and_int8_build(tmp_path):
    """Float >= 97 %; our int8 build (x86-64 C, one-step --quantize) within 1.0 point."""
    test = np.load(TEST)
    xs, labels = test["input"], test["labels"]
    float_acc = float(np.mean(ort_outputs(MODEL, xs, "input").argmax(1) == labels))
    options = aot.Options(quantize="int8", calibration=str(CALIB))
    compiled = aot.compile(str(MODEL), "x86-64", out_dir=str(tmp_path / "digits"),
                           options=options)
    assert compiled.manifest["options"]["quantize"] == "int8"
    assert compiled.manifest["inputs"][0]["dtype"] == "float32"   # float edges, int8 inside
    int8_acc = float(np.mean(np.concatenate(
        [compiled.run({"input": x})["probs"] for x in xs]).argmax(1) == labels))
    print(f"\ndigits ({len(labels)} test images): float {100 * float_acc:.2f} %, "
          f"aot int8 (x86-64) {100 * int8_acc:.2f} %")
    assert float_acc >= 0.97
    assert int8_acc >= float_acc - 0.010


# -- ours vs onnxruntime's default quantizer ---------------------------------------------

def _sqnr_ours_vs_ort(model_path, cal, ev, name, tmp_path):
    ref = ort_outputs(model_path, ev, name)
    ours = quantize(model_path, {name: cal}, progress=False).model
    ort_default = ort_default_quantized(model_path, cal, name, tmp_path / "ort_default.onnx")
    return (sqnr_db(ref, ref - ort_outputs(ours, ev, name)),
            sqnr_db(ref, ref - ort_outputs(ort_default, ev, name)))


def test_default_sqnr_at_least_onnxruntime_default(tmp_path, mlperf_dir):
    """Same calibration data, same evaluation data, both QDQ models run by onnxruntime;
    SQNR of the model output vs the float model. Ours may be at most 1 dB worse."""
    rows = []
    test = np.load(TEST)
    rows.append(("digits (real test split)",
                 *_sqnr_ours_vs_ort(MODEL, np.load(CALIB)["input"], test["input"], "input",
                                    tmp_path)))
    for key in ("kws", "ic", "ad"):
        _, cal = seeded_inputs(key, 200, seed=1)
        _, ev = seeded_inputs(key, 200, seed=2)
        rows.append((f"{key} (seeded inputs)",
                     *_sqnr_ours_vs_ort(mlperf_dir / f"{key}_float.onnx", cal, ev, "input_1",
                                        tmp_path)))
    print("\nSQNR of the output vs float (dB): ours (minmax, default) | onnxruntime default")
    for name, ours, ort in rows:
        print(f"  {name:28s} {ours:7.2f} | {ort:7.2f}")
    for name, ours, ort in rows:
        assert ours >= ort - 1.0, name


# -- per-layer error in inspect -----------------------------------------------------------

def test_inspect_reports_per_layer_sqnr():
    code, stdout, err = run_cli("inspect", MODEL, "--target", "x86-64", "--quantize", "int8",
                                "--calibration", CALIB, "--json")
    assert code == 0, err
    report = json.loads(stdout)
    q = report["quantization"]
    assert q["method"] == "minmax" and q["samples"] == 200 and q["per_channel"] is True
    layers = {r["tensor"]: r for r in q["layers"]}
    assert {"input", "relu1", "pool1", "relu2", "flat", "logits", "probs"} <= set(layers)
    assert layers["relu1"]["op"] == "Conv" and layers["relu1"]["zero_point"] == -128
    # Error accumulates through the network, and every layer keeps a usable SQNR.
    assert all(r["sqnr_db"] is None or r["sqnr_db"] > 25 for r in q["layers"])
    assert q["outputs"][0]["name"] == "probs" and q["outputs"][0]["sqnr_db"] > 25
    assert report["weights_bytes_by_dtype"].get("int8", 0) > 0          # an int8 build
    code, stdout, err = run_cli("inspect", MODEL, "--target", "x86-64", "--quantize", "int8",
                                "--calibration", CALIB, "--calibration-method", "percentile",
                                "--per-tensor")
    assert code == 0, err
    assert "quantization error per layer" in stdout and "SQNR dB" in stdout
    assert "output probs: SQNR" in stdout


def test_layer_errors_are_exact_for_exact_values():
    """A graph whose float values sit on the int8 grid has no quantization error."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="relu")], "g", [x], [y])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    data = {"x": (np.arange(-128, 128, dtype=np.float32).reshape(64, 1, 4)) / 2}
    q = quantize(m, data, progress=False)
    report = layer_errors(q.float_model, q.model, data, progress=False)
    assert report["outputs"][0]["sqnr_db"] is None       # exact


# -- calibration methods and graph preparation --------------------------------------------

def test_percentile_and_entropy_clip_outliers():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(200_000)
    x[:5] = 40.0                                            # a few outliers
    hist = np.bincount(np.clip(((x + 40) / 80 * 8192).astype(int), 0, 8191), minlength=8192)
    lo, hi = calibrate.percentile_range(hist, -40.0, 40.0, 99.99)
    assert -5 < lo < -3 and 3 < hi < 5
    mag = np.abs(x)
    hist = np.bincount(np.clip((mag / 40 * 2048).astype(int), 0, 2047), minlength=2048)
    t = calibrate.entropy_threshold(hist, 40.0, 128)
    assert 2.5 < t < 12, t                                  # clips the outliers, keeps the bulk


def test_methods_on_digits_give_usable_models():
    cal = {"input": np.load(CALIB)["input"]}
    test = np.load(TEST)
    ref = ort_outputs(MODEL, test["input"][:100], "input")
    for method in calibrate.METHODS:
        q = quantize(MODEL, cal, method=method, progress=False)
        got = ort_outputs(q.model, test["input"][:100], "input")
        assert sqnr_db(ref, ref - got) > 30, method
    with pytest.raises(UsageError, match="minmax, percentile, entropy"):
        quantize(MODEL, cal, method="kl", progress=False)


def test_prepare_folds_batchnorm_and_matmul_add():
    rng = np.random.default_rng(3)

    def c(name, *shape):
        return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)

    inits = [c("w", 4, 2, 3, 3), c("b", 4), c("g", 4), c("beta", 4), c("mean", 4),
             numpy_helper.from_array(rng.uniform(0.5, 2, 4).astype(np.float32), "var"),
             numpy_helper.from_array(np.array([1, 64], np.int64), "shape"),
             c("fw", 64, 5), c("fb", 5)]
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("BatchNormalization", ["c", "g", "beta", "mean", "var"], ["bn"],
                              name="bn"),
             helper.make_node("Relu", ["bn"], ["r"], name="relu"),
             helper.make_node("Reshape", ["r", "shape"], ["f"], name="flat"),
             helper.make_node("MatMul", ["f", "fw"], ["mm"], name="fc"),
             helper.make_node("Add", ["mm", "fb"], ["y"], name="fc_bias")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                     [1, 2, 4, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    p = prepare(m)
    assert [n.op_type for n in p.graph.node] == ["Conv", "Relu", "Reshape", "Gemm"]
    assert {"g", "beta", "mean", "var", "w"}.isdisjoint(t.name for t in p.graph.initializer)
    x = rng.standard_normal((3, 1, 2, 4, 4)).astype(np.float32)
    np.testing.assert_allclose(ort_outputs(p, x, "x"), ort_outputs(m, x, "x"), rtol=1e-4,
                               atol=1e-4)


def test_tied_ranges_follow_tflite():
    """MaxPool/Reshape/Concat read and write one scale; a Relu whose input has another
    reader stays a clamp with its input's range; Softmax's output is fixed later."""
    nodes = [helper.make_node("Relu", ["a"], ["r"], name="relu"),
             helper.make_node("MaxPool", ["a"], ["p"], name="pool", kernel_shape=[1, 1]),
             helper.make_node("Concat", ["r", "p"], ["y"], name="cat", axis=1)]
    t = helper.make_tensor_value_info
    g = helper.make_graph(nodes, "g", [t("a", TensorProto.FLOAT, [1, 1, 2, 2])],
                          [t("y", TensorProto.FLOAT, [1, 2, 2, 2])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    tied = tie_ranges(m, {"a": (-1.0, 2.0), "r": (0.0, 2.0), "p": (-0.5, 1.5), "y": (0.0, 3.0)})
    assert len(set(tied.values())) == 1 and tied["a"] == (-1.0, 3.0)


# -- MLPerf Tiny: our PTQ next to TFLite's int8 models (a report, not an assertion) -----

def test_report_mlperf_ptq_sqnr_vs_tflite(mlperf_dir, tmp_path):
    """Calibration set: 200 seeded inputs per model (seed 1), uniform int8 codes
    dequantized with the TFLite int8 model's input scale/zero point, i.e. shaped like
    the evaluation inputs. TFLite calibrated on the real data sets, which are not here,
    so its ranges fit real inputs, ours fit these; on real inputs the comparison may
    well differ. Evaluation: 100 other seeded inputs (seed 2), the same for all columns.
    SQNR (dB) of each model's output vs the float model's output (onnxruntime)."""
    rows = []
    for key in ("kws", "vww", "ic", "ad"):
        float_path = mlperf_dir / f"{key}_float.onnx"
        _, cal = seeded_inputs(key, 200, seed=1)
        q_ev, ev = seeded_inputs(key, 100, seed=2)
        ref = ort_outputs(float_path, ev, "input_1")
        row = {"model": key}
        for method in ("minmax", "percentile", "entropy"):
            q = quantize(float_path, {"input_1": cal}, method=method, progress=False)
            row[f"ours {method} (ORT)"] = sqnr_db(ref, ref - ort_outputs(q.model, ev, "input_1"))
            if method == "minmax":
                out = [o.name for o in q.model.graph.output][0]
                try:
                    got = aot_outputs(q.model, ev, "input_1", out)
                    row["ours minmax (aot x86-64)"] = sqnr_db(ref, ref - got)
                except aot.AotError as e:        # reported, not asserted
                    row["ours minmax (aot x86-64)"] = f"n/a: {str(e).splitlines()[0][:60]}"
        ortq = ort_default_quantized(float_path, cal, "input_1", tmp_path / f"{key}_ort.onnx")
        row["ORT default"] = sqnr_db(ref, ref - ort_outputs(ortq, ev, "input_1"))
        int8 = onnx.load(str(mlperf_dir / f"{key}_int8.onnx"))
        inits = {t.name: numpy_helper.to_array(t) for t in int8.graph.initializer}
        final_q = next(n for n in int8.graph.node if n.output[0] == int8.graph.output[0].name)
        scale, zp = float(inits[final_q.input[1]]), int(inits[final_q.input[2]])
        s = ort_session(int8)
        codes = np.concatenate([s.run(None, {s.get_inputs()[0].name: x})[0] for x in q_ev])
        row["TFLite int8 (ORT)"] = sqnr_db(ref, ref - (codes.astype(np.float32) - zp) * scale)
        rows.append(row)
    cols = [k for k in rows[0] if k != "model"]
    print("\n" + test_report_mlperf_ptq_sqnr_vs_tflite.__doc__.strip())
    print("model  " + " | ".join(f"{c:>24s}" for c in cols))
    for r in rows:
        print(f"{r['model']:5s}  " + " | ".join(
            f"{r[c]:24.2f}" if isinstance(r[c], float) and math.isfinite(r[c])
            else f"{str(r[c]):>24s}" for c in cols))


# -- MLPerf Tiny vision models calibrated on real images ----------------------------------

# scikit-image's bundled sample photographs (no download): calibration crops come from the
# first list, held-out evaluation crops from the second (grey images are stacked to RGB).
CALIB_IMAGES = ["astronaut", "coffee", "rocket", "immunohistochemistry", "camera", "grass",
                "hubble_deep_field"]
EVAL_IMAGES = ["chelsea", "stereo_motorcycle", "retina", "brick", "gravel"]
VISION = {"vww": (96, 1.0), "ic": (32, 255.0)}   # input side, pixel value of white


def real_image_crops(names, side: int, white: float, count: int, seed: int) -> np.ndarray:
    """`count` random square crops (side 30..100 % of the shorter edge, random place
    and horizontal flip) of scikit-image sample images, resized to side x side with
    anti-aliasing, NHWC float32 with pixels in [0, white], one leading sample axis."""
    need_import("skimage")
    from skimage import data as skdata
    from skimage.transform import resize

    images = []
    for name in names:
        img = getattr(skdata, name)()
        img = img[0] if isinstance(img, tuple) else img      # stereo pair: the left view
        img = np.stack([img] * 3, -1) if img.ndim == 2 else img[..., :3]
        images.append(img.astype(np.float32) / 255.0)
    rng = np.random.default_rng(seed)
    out = np.empty((count, 1, side, side, 3), np.float32)
    for i in range(count):
        img = images[i % len(images)]
        h, w = img.shape[:2]
        size = int(min(h, w) * rng.uniform(0.3, 1.0))
        y, x = int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1))
        crop = img[y:y + size, x:x + size]
        crop = crop[:, ::-1] if rng.integers(2) else crop
        out[i, 0] = resize(crop, (side, side), anti_aliasing=True) * white
    return out


@pytest.mark.slow   # ~50 s: two PTQ runs per model and a VWW build
def test_report_vision_ptq_sqnr_real_image_calibration(mlperf_dir):
    """VWW (MobileNetV1 0.25, 96x96) and IC (ResNet-8, 32x32) quantized by us with
    calibration set "skimage-real": 200 random crops (seed 1) of 7 scikit-image sample
    photographs (CALIB_IMAGES), resized to the model input -- a small real image set,
    unlike the seeded-noise calibration of the report above. Evaluated on two sets:
    "seeded" = the same 100 seeded inputs as the report above (seed 2), and
    "real held-out" = 100 crops (seed 2) of 5 other sample images (EVAL_IMAGES).
    SQNR (dB) of the int8 output vs the float model's output (onnxruntime), next to
    TFLite's int8 model (calibrated by its authors on the real data sets) on the
    same inputs, and our minmax calibration on seeded noise (the report above)."""
    rows = []
    for key, (side, white) in VISION.items():
        float_path = mlperf_dir / f"{key}_float.onnx"
        shape, in_scale, in_zp = MLPERF_INPUTS[key]
        real_cal = real_image_crops(CALIB_IMAGES, side, white, 200, seed=1)
        real_ev = real_image_crops(EVAL_IMAGES, side, white, 100, seed=2)
        _, noise_cal = seeded_inputs(key, 200, seed=1)
        q_seeded, seeded_ev = seeded_inputs(key, 100, seed=2)
        # The TFLite model takes int8 codes: the real crops quantized with its input
        # parameters, and the float reference sees exactly those dequantized values.
        q_real = np.clip(np.round(real_ev / in_scale) + in_zp, -128, 127).astype(np.int8)
        real_ev = ((q_real.astype(np.float32) - in_zp) * in_scale).astype(np.float32)
        int8 = onnx.load(str(mlperf_dir / f"{key}_int8.onnx"))
        inits = {t.name: numpy_helper.to_array(t) for t in int8.graph.initializer}
        final_q = next(n for n in int8.graph.node if n.output[0] == int8.graph.output[0].name)
        scale, zp = float(inits[final_q.input[1]]), int(inits[final_q.input[2]])
        tflite = ort_session(int8)
        models = {
            "ours, skimage-real calib": quantize(float_path, {"input_1": real_cal},
                                                 progress=False).model,
            "ours, seeded-noise calib": quantize(float_path, {"input_1": noise_cal},
                                                 progress=False).model}
        for ev_name, ev, codes in (("seeded", seeded_ev, q_seeded), ("real held-out", real_ev,
                                                                     q_real)):
            ref = ort_outputs(float_path, ev, "input_1")
            row = {"model": key, "evaluated on": ev_name}
            for label, model in models.items():
                row[label] = sqnr_db(ref, ref - ort_outputs(model, ev, "input_1"))
            got = np.concatenate([tflite.run(None, {tflite.get_inputs()[0].name: x})[0]
                                  for x in codes])
            row["TFLite int8"] = sqnr_db(ref, ref - (got.astype(np.float32) - zp) * scale)
            rows.append(row)
        q = models["ours, skimage-real calib"]
        out = q.graph.output[0].name
        got = aot_outputs(q, real_ev, "input_1", out)
        ref = ort_outputs(float_path, real_ev, "input_1")
        rows[-1]["ours skimage-real, aot x86-64"] = sqnr_db(ref, ref - got)
        rows[-2]["ours skimage-real, aot x86-64"] = float("nan")
    cols = ["ours, skimage-real calib", "ours skimage-real, aot x86-64",
            "ours, seeded-noise calib", "TFLite int8"]
    print("\n" + test_report_vision_ptq_sqnr_real_image_calibration.__doc__.strip())
    print("model  evaluated on    " + " | ".join(f"{c:>29s}" for c in cols))
    for r in rows:
        print(f"{r['model']:5s}  {r['evaluated on']:14s}  " + " | ".join(
            f"{r[c]:29.2f}" if math.isfinite(r[c]) else f"{'-':>29s}" for c in cols))
    # A report: only sanity, the figures are printed. Real crops must be usable inputs.
    assert all(math.isfinite(r["TFLite int8"]) for r in rows)

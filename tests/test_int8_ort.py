# SPDX-License-Identifier: Apache-2.0
"""onnxruntime-quantized models: our integer C against onnxruntime on the same model.

Two small float CNNs -- examples/make_tiny_cnn.py (Conv+BN+Relu, depthwise Conv+Relu6,
pointwise Conv, MaxPool, GlobalAveragePool, Gemm, Softmax) and `branchy` below
(AveragePool and MaxPool branches, Concat, Transpose, Reshape, a batched MatMul with
constant weights, Gemm, Softmax) -- are quantized by onnxruntime's own quantizer
(`quant_pre_process`, then `quantize_static` on 16 seeded calibration inputs) in
both formats (QDQ and QOperator) with int8 and uint8 activations, int8 per-channel
weights. That exercises what TFLite-converted models never have: per-channel
fully-connected weights, uint8 codes, QLinearConcat, QGemm, QLinearAveragePool,
QLinearGlobalAveragePool, a QDQ softmax with output scale 1/255, and
ops whose input and output quantization differ (requantized by aot_requantize_s8,
averaged with one rescale, or TFLite Micro's MEAN).

Reference: onnxruntime 1.x CPU on the same quantized model, with graph optimizations
off (the QDQ graph as written: float ops between DequantizeLinear and
QuantizeLinear) and on (its fused integer kernels).

Tolerance, and why it is not 0: onnxruntime requantizes in float -- the int32
accumulator times a float32 scale ratio, rounded half to even -- while we use
TFLite's fixed-point multiplier with its two roundings (half away from zero), so
an accumulator close to a rounding boundary lands 1 LSB apart; the same holds for
ties of an average pool with equal input and output parameters (TFLite rounds
half away from zero, onnxruntime half to even) and for softmax, where we run
TFLite's fixed-point exp (output 1/256) and requantize to onnxruntime's 1/255.
A 1-LSB difference in one layer moves the next layer's accumulator and can move
its output by 1 LSB again, so differences add up along the network:
- at the quantized logits (the tensor softmax reads) at most LOGIT_LSB = 2 LSB
  (measured: 1 on tiny_cnn, 2 on branchy: AveragePool ties, then Concat
  requantization and two matrix products on top);
- at the softmax output at most OUTPUT_LSB = 5 LSB of 1/255 (measured 5):
  softmax's slope turns one logit LSB into up to ~3 output LSB, and the
  1/256 -> 1/255 requantization (QDQ models) adds 1.
The measured maxima and mismatch counts are printed by every test.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import aot
from conftest import need_import

ROOT = Path(__file__).resolve().parent.parent
LOGIT_LSB = 2
OUTPUT_LSB = 5
SAMPLES = 100


def tiny_cnn():
    spec = importlib.util.spec_from_file_location("make_tiny_cnn",
                                                  ROOT / "examples" / "make_tiny_cnn.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.build(), "image", (1, 1, 28, 28)


def branchy():
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(7)

    def w(name, *shape, scale=0.3):
        return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32),
                                       name)

    inits = [w("c1_w", 8, 3, 3, 3), w("c1_b", 8), w("c2_w", 8, 8, 1, 1), w("c2_b", 8),
             w("mm_w", 36, 5, scale=0.2), w("fc_w", 80, 10), w("fc_b", 10),
             numpy_helper.from_array(np.array([1, 16, 36], np.int64), "shape1"),
             numpy_helper.from_array(np.array([1, -1], np.int64), "shape2"),
             numpy_helper.from_array(np.array(0, np.float32), "zero"),
             numpy_helper.from_array(np.array(6, np.float32), "six")]
    nodes = [
        helper.make_node("Conv", ["x", "c1_w", "c1_b"], ["c1"], name="c1", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="r1"),
        helper.make_node("AveragePool", ["r1"], ["ap"], name="ap", kernel_shape=[2, 2],
                         strides=[2, 2]),
        helper.make_node("Conv", ["r1", "c2_w", "c2_b"], ["c2"], name="c2", strides=[2, 2]),
        helper.make_node("Clip", ["c2", "zero", "six"], ["r2"], name="r2"),
        helper.make_node("MaxPool", ["r2"], ["mp"], name="mp", kernel_shape=[1, 1]),
        helper.make_node("Concat", ["ap", "mp"], ["cat"], name="cat", axis=1),
        helper.make_node("Transpose", ["cat"], ["tr"], name="tr", perm=[0, 1, 3, 2]),
        helper.make_node("Reshape", ["tr", "shape1"], ["rs"], name="rs"),
        helper.make_node("MatMul", ["rs", "mm_w"], ["mm"], name="mm"),
        helper.make_node("Reshape", ["mm", "shape2"], ["flat"], name="flat"),
        helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["logits"], name="fc"),
        helper.make_node("Softmax", ["logits"], ["probs"], name="softmax"),
    ]
    graph = helper.make_graph(
        nodes, "branchy", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 12, 12])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [1, 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model, full_check=True)
    return model, "x", (1, 3, 12, 12)


MODELS = {"tiny_cnn": tiny_cnn, "branchy": branchy}


def quantize(model, name, shape, fmt: str, act: str, out: Path) -> Path:
    import onnx

    need_import("onnxruntime")
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self):
            rng = np.random.default_rng(0)
            self.data = iter([{name: rng.standard_normal(shape).astype(np.float32)}
                              for _ in range(16)])

        def get_next(self):
            return next(self.data, None)

    src, pre = out / "float.onnx", out / "pre.onnx"
    onnx.save(model, src)
    quant_pre_process(str(src), str(pre))
    q = out / f"{fmt}_{act}.onnx"
    quantize_static(str(pre), str(q), Reader(), quant_format=getattr(QuantFormat, fmt),
                    activation_type=getattr(QuantType, act), weight_type=QuantType.QInt8,
                    per_channel=True)
    return q


def logits_model(path: Path, out: Path, act: str) -> tuple[Path, str]:
    """The quantized model cut at the int8/uint8 tensor its softmax reads."""
    import onnx
    from onnx import helper

    m = onnx.load(path)
    producer = {o: n for n in m.graph.node for o in n.output}
    soft = next(n for n in m.graph.node if n.op_type in ("Softmax", "QLinearSoftmax"))
    t = soft.input[0] if soft.op_type == "QLinearSoftmax" else producer[soft.input[0]].input[0]
    need, keep = {t}, []
    for n in reversed(m.graph.node):
        if any(o in need for o in n.output):
            keep.append(n)
            need |= set(n.input)
    elem = onnx.TensorProto.UINT8 if act == "QUInt8" else onnx.TensorProto.INT8
    graph = helper.make_graph(keep[::-1], "logits", list(m.graph.input),
                              [helper.make_tensor_value_info(t, elem, [1, 10])],
                              [i for i in m.graph.initializer if i.name in need])
    cut = helper.make_model(graph, opset_imports=list(m.opset_import))
    cut.ir_version = m.ir_version
    dst = out / f"{path.stem}_logits.onnx"
    onnx.save(cut, dst)
    return dst, t


def output_lsb(path: Path) -> float:
    """The scale of the DequantizeLinear that makes the float graph output."""
    import onnx
    from onnx import numpy_helper

    m = onnx.load(path)
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    [dq] = [n for n in m.graph.node if n.op_type == "DequantizeLinear"
            and n.output[0] == m.graph.output[0].name]
    return float(inits[dq.input[1]])


def ort_sessions(path: Path):
    ort = need_import("onnxruntime")
    out = {}
    for label, level in (("ORT unoptimized", ort.GraphOptimizationLevel.ORT_DISABLE_ALL),
                         ("ORT optimized", ort.GraphOptimizationLevel.ORT_ENABLE_ALL)):
        so = ort.SessionOptions()
        so.graph_optimization_level = level
        so.log_severity_level = 3
        out[label] = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    return out


@pytest.mark.parametrize("act", ["QInt8", "QUInt8"])
@pytest.mark.parametrize("fmt", ["QDQ", "QOperator"])
@pytest.mark.parametrize("key", sorted(MODELS))
def test_ort_quantized_model(key, fmt, act, tmp_path):
    model, name, shape = MODELS[key]()
    q = quantize(model, name, shape, fmt, act, tmp_path)
    cut, logits = logits_model(q, tmp_path, act)
    full = aot.compile(str(q), "x86-64", out_dir=str(tmp_path / "full"))
    head = aot.compile(str(cut), "x86-64", out_dir=str(tmp_path / "logits"))
    assert head.manifest["outputs"][0]["dtype"] == ("uint8" if act == "QUInt8" else "int8")
    [out] = full.manifest["outputs"]
    rng = np.random.default_rng(1)
    xs = [rng.standard_normal(shape).astype(np.float32) for _ in range(SAMPLES)]
    out_lsb = output_lsb(q)   # QDQ: 1/255; QOperator's QLinearSoftmax: 1/256
    lines = []
    for label, sess in ort_sessions(q).items():
        d = np.array([np.abs(full.run({name: x})[out["name"]] - sess.run(None, {name: x})[0])
                      for x in xs]) / out_lsb
        worst_out, count_out = float(d.max()), int((d > 0.5).sum())
        lsess = ort_sessions(cut)[label]
        dl = np.array([np.abs(head.run({name: x})[logits].astype(np.int32)
                              - lsess.run(None, {name: x})[0].astype(np.int32)) for x in xs])
        lines.append(f"{key} {fmt} {act} vs {label}: logits max {int(dl.max())} LSB "
                     f"({int((dl > 0).sum())}/{dl.size} differ), softmax output max "
                     f"{worst_out:.2f} LSB ({count_out}/{d.size} differ)")
        assert int(dl.max()) <= LOGIT_LSB, lines[-1]
        assert round(worst_out, 3) <= OUTPUT_LSB, lines[-1]
    print("\n".join(lines))

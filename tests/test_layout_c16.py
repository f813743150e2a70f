"""Channel-blocked (c16) float activations on x86-64-avx512 (rules_x86.c16_tensors).

Between a depthwise convolution that runs with channels in lanes and a pointwise one,
the activation is held [N][C / 16][H][W][16], so neither kernel transposes it. These
tests check, on small graphs compiled for `native`: which layers take the c16 kernels
(and from which side), that a tensor anything else reads (an Add, a graph output)
stays NCHW, that the outputs match onnxruntime, and that they do not depend on the
number of worker threads.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import aot
from aot.targets.hostcpu import missing_features
from aot.targets.split import MIN_SPLIT_MACS
from aot.targets.target import resolve
from conftest import need, need_import

DW_C16 = "aot_depthwise_conv2d_c16_avx512_f32"
PW_C16 = "aot_pointwise_conv2d_c16_avx512_f32"


def _dw(name, x, y, c, rng, inits, stride=1):
    inits.append(numpy_helper.from_array(
        (rng.standard_normal((c, 1, 3, 3)) * 0.3).astype(np.float32), f"{name}_w"))
    inits.append(numpy_helper.from_array(
        (rng.standard_normal(c) * 0.1).astype(np.float32), f"{name}_b"))
    return [helper.make_node("Conv", [x, f"{name}_w", f"{name}_b"], [f"{name}_c"], name=name,
                             group=c, pads=[1, 1, 1, 1], strides=[stride, stride]),
            helper.make_node("Relu", [f"{name}_c"], [y])]


def _pw(name, x, y, c_in, c_out, rng, inits, relu=True):
    inits.append(numpy_helper.from_array(
        (rng.standard_normal((c_out, c_in, 1, 1)) * 0.2).astype(np.float32), f"{name}_w"))
    inits.append(numpy_helper.from_array(
        (rng.standard_normal(c_out) * 0.1).astype(np.float32), f"{name}_b"))
    conv = helper.make_node("Conv", [x, f"{name}_w", f"{name}_b"],
                            [f"{name}_c" if relu else y], name=name)
    return [conv, helper.make_node("Relu", [f"{name}_c"], [y])] if relu else [conv]


def _model(nodes, inits, in_shape, outputs):
    """The graph, its outputs typed by ONNX shape inference."""
    x = [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)]
    opset = [helper.make_opsetid("", 17)]
    inferred = onnx.shape_inference.infer_shapes(helper.make_model(
        helper.make_graph(nodes, "c16", x, [], inits), opset_imports=opset))
    typed = {v.name: v for v in inferred.graph.value_info}
    return helper.make_model(helper.make_graph(nodes, "c16", x, [typed[n] for n in outputs],
                                               inits), opset_imports=opset)


def chain():
    """x -> dw -> pw -> dw stride 2 -> pw (64 -> 40) -> y: every tensor between them
    blocked; the first depthwise reads NCHW, the last pointwise writes it (a partial
    last block of 16 channels). All but the strided depthwise are heavy enough for
    worker threads to split them (by blocks of 16 channels)."""
    rng, inits = np.random.default_rng(3), []
    nodes = (_dw("dw1", "x", "t1", 64, rng, inits) + _pw("pw1", "t1", "t2", 64, 64, rng, inits)
             + _dw("dw2", "t2", "t3", 64, rng, inits, stride=2)
             + _pw("pw2", "t3", "y", 64, 40, rng, inits, relu=False))
    kernels = {"dw1": (DW_C16, 0, 1), "pw1": (PW_C16, 1, 1), "dw2": (DW_C16, 1, 1),
               "pw2": (PW_C16, 1, 0)}
    return _model(nodes, inits, [1, 64, 60, 8], ["y"]), kernels


def shared():
    """A depthwise output that an Add also reads and one that is a graph output stay
    NCHW; the blocked tensor between the second depthwise and its pointwise does not."""
    rng, inits = np.random.default_rng(5), []
    nodes = (_dw("dw1", "x", "t1", 16, rng, inits) + _pw("pw1", "t1", "t2", 16, 16, rng, inits)
             + [helper.make_node("Add", ["t1", "t2"], ["t3"])]
             + _dw("dw2", "t3", "t4", 16, rng, inits)
             + _pw("pw2", "t4", "y", 16, 32, rng, inits)
             + _dw("dw3", "y", "z", 32, rng, inits) + _pw("pw3", "y", "u", 32, 16, rng, inits))
    kernels = {"dw1": ("aot_depthwise_conv2d_lanes_avx512_f32",), "pw1": ("aot_conv2d_avx512_f32",),
               "dw2": (DW_C16, 0, 1), "pw2": (PW_C16, 1, 0),
               "dw3": ("aot_depthwise_conv2d_lanes_avx512_f32",), "pw3": ("aot_conv2d_avx512_f32",)}
    return _model(nodes, inits, [1, 16, 6, 8], ["y", "z", "u"]), kernels


def _layer_kernels(m) -> dict[str, tuple]:
    """ONNX node name -> (kernel,) or (kernel, input_c16, output_c16) from the program."""
    out = {}
    for call in m.compilation.program.calls:
        fields = call.params.fields if call.params is not None else {}
        key = call.layer.split("+")[0] if call.layer else call.kernel
        out[key] = (call.kernel, fields["input_c16"], fields["output_c16"]) \
            if "input_c16" in fields else (call.kernel,)
    return out


@pytest.mark.parametrize("build", [chain, shared], ids=lambda f: f.__name__)
def test_c16_layout_kernels_outputs_and_threads(tmp_path, build):
    need(not missing_features(resolve("native")) and resolve("native").name == "x86-64-avx512",
         "an AVX-512 VNNI host (native = x86-64-avx512)")
    ort = need_import("onnxruntime")
    model, expected = build()
    m = aot.compile(model, "native", out_dir=str(tmp_path / "m"), options=aot.Options(name="m"))
    kernels = _layer_kernels(m)
    for layer, want in expected.items():
        assert kernels.get(layer) == want, (layer, kernels)
    if build is chain:
        heavy = [(layer["kernel"], layer["split"]) for layer in m.manifest["layers"]
                 if layer["macs"] >= MIN_SPLIT_MACS]
        assert heavy == [(DW_C16, "out_c"), (PW_C16, "out_c"), (PW_C16, "out_c")], heavy
    x = np.random.default_rng(0).standard_normal(
        m.manifest["inputs"][0]["shape"]).astype(np.float32)
    one = m.run({"x": x})
    for n in (2, 3):
        many = m.run({"x": x}, threads=n)
        assert all(np.array_equal(many[k], one[k]) for k in one), f"{n} workers"
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    for out, ref in zip(sess.get_outputs(), sess.run(None, {"x": x})):
        scale = float(np.abs(ref).max()) or 1.0
        assert float(np.abs(one[out.name] - ref).max()) <= 1e-5 * scale, out.name

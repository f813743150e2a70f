"""Resize and ConvTranspose (targets/rules_upsample.py) against onnxruntime.

The ONNX backend node cases (tests/test_node_cases.py) check the reference
semantics of every attribute; these add random data, shapes the node cases
lack (odd sizes, strides with output_padding, groups with dilations, fused
activations) and a second, independent reference. Tolerance: float32 sums
of at most 16 taps / a few hundred products: |ours - ort| <= 1e-5 + 1e-5 |ort|.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import aot
from conftest import need_import


def _model(nodes, inputs, output, inits=(), opset=19):
    """A model whose output type ONNX shape inference fills in."""
    nodes = nodes if isinstance(nodes, list) else [nodes]
    graph = helper.make_graph(nodes, "g", inputs, [], list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 9
    inferred = onnx.shape_inference.infer_shapes(model)
    info = {vi.name: vi for vi in inferred.graph.value_info}
    model.graph.output.append(info.get(output) or
                              helper.make_tensor_value_info(output, TensorProto.FLOAT, [4]))
    return model


def _check(model, feeds, tmp_path, target="x86-64"):
    ort = need_import("onnxruntime")
    ref = ort.InferenceSession(model.SerializeToString(),
                               providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    got = aot.compile(model, target, out_dir=str(tmp_path / "out")).run(feeds)
    out = got[model.graph.output[0].name]
    assert out.shape == ref.shape
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)


def _resize(in_shape, attrs, scales=None, sizes=None, roi=None):
    inits = [numpy_helper.from_array(np.asarray(roi if roi is not None else [], np.float32), "roi")]
    names = ["x", "roi"]
    if scales is not None:
        inits.append(numpy_helper.from_array(np.asarray(scales, np.float32), "scales"))
        names.append("scales")
    else:
        inits.append(numpy_helper.from_array(np.asarray(sizes, np.int64), "sizes"))
        names += ["", "sizes"]
    node = helper.make_node("Resize", names, ["y"], **attrs)
    return _model(node, [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)],
                  "y", inits)


NEAREST = [
    ("asymmetric", "floor", [1, 1, 2, 2], None),          # the PP-OCR FPN upsampling
    ("asymmetric", "floor", [1, 1, 8, 8], None),
    ("half_pixel", "round_prefer_floor", None, [2, 3, 7, 11]),
    ("half_pixel", "round_prefer_ceil", None, [2, 3, 3, 4]),
    ("align_corners", "floor", None, [2, 3, 9, 4]),
    ("pytorch_half_pixel", "ceil", None, [2, 3, 10, 1]),
    ("asymmetric", "round_prefer_floor", [1, 1, 0.5, 0.5], None),
]


@pytest.mark.parametrize("coord,nearest,scales,sizes", NEAREST)
def test_resize_nearest(coord, nearest, scales, sizes, tmp_path):
    x = np.random.default_rng(1).standard_normal((2, 3, 6, 5)).astype(np.float32)
    model = _resize(x.shape, {"mode": "nearest", "coordinate_transformation_mode": coord,
                              "nearest_mode": nearest}, scales, sizes)
    _check(model, {"x": x}, tmp_path)


LINEAR = [
    ("half_pixel", [1, 1, 2, 2], None),
    ("asymmetric", [1, 1, 3, 2], None),
    ("align_corners", None, [1, 2, 11, 7]),
    ("pytorch_half_pixel", None, [1, 2, 1, 9]),
    ("half_pixel", None, [1, 2, 3, 2]),        # downsampling
]


@pytest.mark.parametrize("coord,scales,sizes", LINEAR)
def test_resize_linear(coord, scales, sizes, tmp_path):
    x = np.random.default_rng(2).standard_normal((1, 2, 6, 5)).astype(np.float32)
    model = _resize(x.shape, {"mode": "linear", "coordinate_transformation_mode": coord},
                    scales, sizes)
    _check(model, {"x": x}, tmp_path)


def test_resize_tf_crop_and_resize(tmp_path):
    x = np.random.default_rng(3).standard_normal((1, 2, 7, 6)).astype(np.float32)
    model = _resize(x.shape, {"mode": "linear", "coordinate_transformation_mode":
                              "tf_crop_and_resize", "extrapolation_value": 2.5},
                    sizes=[1, 2, 5, 4], roi=[0, 0, -0.2, 0.3, 1, 1, 0.9, 1.3])
    _check(model, {"x": x}, tmp_path)


def test_resize_of_channels_rejected(tmp_path):
    model = _resize([1, 2, 3, 3], {"mode": "nearest"}, scales=[1, 2, 1, 1])
    with pytest.raises(aot.ModelError, match="Resize.*resizes axis 1; aot resizes only the last"):
        aot.compile(model, "x86-64", out_dir=str(tmp_path / "out"))


CONV_T = [
    # in_c, out_c, group, kernel, strides, pads, output_padding, dilations
    (24, 24, 1, [2, 2], [2, 2], [0, 0, 0, 0], [0, 0], [1, 1]),   # the PP-OCR det head
    (24, 1, 1, [2, 2], [2, 2], [0, 0, 0, 0], [0, 0], [1, 1]),
    (4, 6, 2, [3, 3], [2, 2], [1, 1, 1, 1], [1, 1], [1, 1]),
    (6, 3, 3, [3, 2], [1, 2], [0, 1, 2, 0], [0, 1], [2, 1]),
    (3, 5, 1, [4, 4], [3, 3], [1, 2, 2, 1], [2, 0], [1, 1]),
]


@pytest.mark.parametrize("in_c,out_c,group,kernel,strides,pads,out_pad,dil", CONV_T)
def test_conv_transpose(in_c, out_c, group, kernel, strides, pads, out_pad, dil, tmp_path):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, in_c, 5, 6)).astype(np.float32)
    w = rng.standard_normal((in_c, out_c // group, *kernel)).astype(np.float32)
    b = rng.standard_normal(out_c).astype(np.float32)
    node = helper.make_node("ConvTranspose", ["x", "w", "b"], ["t"], group=group,
                            kernel_shape=kernel, strides=strides, pads=pads,
                            output_padding=out_pad, dilations=dil)
    relu = helper.make_node("Relu", ["t"], ["y"])   # fused into the kernel
    model = _model([node, relu], [helper.make_tensor_value_info("x", TensorProto.FLOAT, x.shape)],
                   "y", [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    _check(model, {"x": x}, tmp_path)


def test_conv_transpose_same_upper(tmp_path):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 2, 4, 5)).astype(np.float32)
    w = rng.standard_normal((2, 3, 3, 3)).astype(np.float32)
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], strides=[2, 2],
                            auto_pad="SAME_UPPER")
    model = _model(node, [helper.make_tensor_value_info("x", TensorProto.FLOAT, x.shape)],
                   "y",
                   [numpy_helper.from_array(w, "w")])
    _check(model, {"x": x}, tmp_path)


def test_upsample_kernels_build_strict_and_reproducibly(tmp_path):
    """Both Resize kernels and ConvTranspose through gcc and clang with the strict
    flags; compiling twice gives byte-identical files."""
    import filecmp

    from test_generated_c import compile_all_c, compilers

    rng = np.random.default_rng(6)
    inits = [numpy_helper.from_array(np.asarray([], np.float32), "roi"),
             numpy_helper.from_array(np.asarray([1, 1, 2, 2], np.float32), "up"),
             numpy_helper.from_array(np.asarray([1, 2, 5, 7], np.int64), "sizes"),
             numpy_helper.from_array(rng.standard_normal((2, 3, 2, 2)).astype(np.float32), "w")]
    nodes = [helper.make_node("Resize", ["x", "roi", "up"], ["a"], mode="nearest",
                              coordinate_transformation_mode="asymmetric", nearest_mode="floor"),
             helper.make_node("Resize", ["a", "roi", "", "sizes"], ["b"], mode="linear"),
             helper.make_node("ConvTranspose", ["b", "w"], ["y"], strides=[2, 2])]
    model = _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 3, 4])],
                   "y", inits)
    a = aot.compile(model, "x86-64", out_dir=str(tmp_path / "a"))
    aot.compile(model, "x86-64", out_dir=str(tmp_path / "b"))
    kernels = {f for f in a.manifest["files"] if f.startswith("aot_runtime/aot_")}
    assert {"aot_runtime/aot_resize_nearest_f32.c", "aot_runtime/aot_resize_separable_f32.c",
            "aot_runtime/aot_conv_transpose2d_f32.c"} <= kernels
    _, mismatch, errors = filecmp.cmpfiles(tmp_path / "a", tmp_path / "b", a.manifest["files"],
                                           shallow=False)
    assert not mismatch and not errors
    for cc in compilers().values():
        compile_all_c(tmp_path / "a", cc)

# SPDX-License-Identifier: Apache-2.0
"""int8 Resize and ConvTranspose (issue 10: full int8 for the PP-OCRv4 detector).

Each case is a QDQ group `DequantizeLinear -> op -> QuantizeLinear` compiled by aot
(passes/qdq.py folds it, targets/rules_upsample.py lowers it to
aot_resize_{nearest,separable}_s8 / aot_conv_transpose2d_s8), many cases side by
side in one model so that one C build covers them. References, named per test:

- TFLite's integer kernels written here in numpy from the TFLite reference
  sources (reference_ops::ResizeBilinearInteger with its Q10 coordinates and
  round-half-away by 2^20; reference_integer_ops::TransposeConv: scatter of
  int32 sums, bias, MultiplyByQuantizedMultiplier per channel; int8 -> int8
  QUANTIZE): bit-exact.
- TensorFlow Lite Micro on single-op .tflite files (RESIZE_BILINEAR,
  TRANSPOSE_CONV) edited from an MLPerf Tiny model: bit-exact.
- onnxruntime on the same QDQ model for what TFLite has no integer kernel for:
  nearest (a copy of codes: exact), and the ONNX-only linear/cubic coordinate
  modes (onnxruntime resizes in float and rounds once: at most 1 LSB).
"""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import aot
from conftest import need, need_import
from int8_reference import clamp_range, mbqm, quantize_multiplier, requant_ref, wrap32

OPSET = 21


# --- TFLite's integer kernels, in numpy -------------------------------------------------

def _tdiv(a, b):
    """C's truncating integer division."""
    a = np.asarray(a, np.int64)
    return np.sign(a) * (np.abs(a) // b)


def resize_bilinear_ref(x, out_h, out_w, align_corners, half_pixel):
    """reference_ops::ResizeBilinearInteger on NCHW int8 codes."""
    def coords(in_len, out_len):
        scale = ((1 << 10) * in_len + out_len // 2) // out_len
        if align_corners and out_len > 1:
            scale = ((1 << 10) * (in_len - 1) + (out_len - 1) // 2) // (out_len - 1)
        v = np.arange(out_len, dtype=np.int64) * scale
        if half_pixel:
            v = v + scale // 2 - (1 << 9)
        lo = np.maximum(_tdiv(v, 1 << 10), 0)
        hi = np.minimum(_tdiv(v + (1 << 10) - 1, 1 << 10), in_len - 1)
        return v - (1 << 10) * lo, lo, hi

    fy, y0, y1 = coords(x.shape[2], out_h)
    fx, x0, x1 = coords(x.shape[3], out_w)
    xi = x.astype(np.int64)
    fy, fx = fy[:, None], fx[None, :]
    acc = (xi[:, :, y0][:, :, :, x0] * ((1 << 10) - fy) * ((1 << 10) - fx)
           + xi[:, :, y1][:, :, :, x0] * fy * ((1 << 10) - fx)
           + xi[:, :, y0][:, :, :, x1] * ((1 << 10) - fy) * fx
           + xi[:, :, y1][:, :, :, x1] * fy * fx)
    rounded = _tdiv(acc + np.where(acc > 0, 1 << 19, -(1 << 19)), 1 << 20)
    return rounded.astype(np.int8)


def transpose_conv_ref(x, w, bias, s_in, zp_in, s_w, s_out, zp_out, *, strides, pads,
                       dilations, groups, out_hw, act=(-128, 127)):
    """reference_integer_ops::TransposeConv on NCHW codes, ONNX weights
    [in_c][out_c / groups][kh][kw]: every input scatters (x - zp_in) * w into an
    int32 output, then bias, MultiplyByQuantizedMultiplier per output channel
    (double(s_in) * double(s_w) / double(s_out)), + zp_out, clamp."""
    n, in_c, ih, iw = x.shape
    _, ocg, kh, kw = w.shape
    out_c = ocg * groups
    (sh, sw), (pt, pl), (dh, dw) = strides, pads, dilations
    oh, ow = out_hw
    full_h = max((ih - 1) * sh + (kh - 1) * dh + 1, pt + oh)
    full_w = max((iw - 1) * sw + (kw - 1) * dw + 1, pl + ow)
    acc = np.zeros((n, out_c, full_h, full_w), np.int64)
    xs = x.astype(np.int64) - zp_in
    icg = in_c // groups
    for g in range(groups):
        xg = xs[:, g * icg:(g + 1) * icg]
        for ky in range(kh):
            for kx in range(kw):
                wk = w[g * icg:(g + 1) * icg, :, ky, kx].astype(np.int64)
                acc[:, g * ocg:(g + 1) * ocg,
                    ky * dh: ky * dh + sh * (ih - 1) + 1: sh,
                    kx * dw: kx * dw + sw * (iw - 1) + 1: sw] += np.einsum("nchw,co->nohw", xg, wk)
    acc = acc[:, :, pt:pt + oh, pl:pl + ow]
    if bias is not None:
        acc = acc + bias.astype(np.int64)[None, :, None, None]
    scales = np.broadcast_to(np.asarray(s_w, np.float32).reshape(-1), (ocg,))
    mult, shift = zip(*(quantize_multiplier(float(np.float32(s_in)) * float(np.float32(
        scales[oc % ocg])) / float(np.float32(s_out))) for oc in range(out_c)))
    y = mbqm(wrap32(acc), np.array(mult)[None, :, None, None], np.array(shift)[None, :, None, None])
    return np.clip(wrap32(y + zp_out), *act).astype(np.int8)


# --- QDQ models: many groups side by side, one build ------------------------------------

class QdqModel:
    """Parallel groups `x_i -> Q -> DQ -> op -> [act] -> Q -> DQ -> y_i`, float I/O."""

    def __init__(self):
        self.nodes, self.inputs, self.outputs, self.inits = [], [], [], []
        self.meta = []

    def const(self, name, value):
        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def qdq_input(self, i, shape, scale, zp):
        x = f"x{i}"
        self.inputs.append(helper.make_tensor_value_info(x, TensorProto.FLOAT, list(shape)))
        s, z = self.const(f"s_x{i}", np.float32(scale)), self.const(f"z_x{i}", np.int8(zp))
        self.nodes += [helper.make_node("QuantizeLinear", [x, s, z], [f"xq{i}"]),
                       helper.make_node("DequantizeLinear", [f"xq{i}", s, z], [f"xd{i}"])]
        return f"xd{i}"

    def dq_const(self, name, codes, scale, axis=None):
        zp = np.zeros(np.shape(scale), codes.dtype)
        self.const(f"{name}_q", codes)
        self.const(f"{name}_s", np.asarray(scale, np.float32))
        self.const(f"{name}_z", zp)
        self.nodes.append(helper.make_node(
            "DequantizeLinear", [f"{name}_q", f"{name}_s", f"{name}_z"], [name],
            **({"axis": axis} if axis is not None else {})))
        return name

    def qdq_output(self, i, f, shape, scale, zp, act=None):
        if act is not None:
            self.nodes.append(helper.make_node("Relu", [f], [f"{f}_act"]))
            f = f"{f}_act"
        s, z = self.const(f"s_y{i}", np.float32(scale)), self.const(f"z_y{i}", np.int8(zp))
        y = f"y{i}"
        self.nodes += [helper.make_node("QuantizeLinear", [f, s, z], [f"yq{i}"]),
                       helper.make_node("DequantizeLinear", [f"yq{i}", s, z], [y])]
        self.outputs.append(helper.make_tensor_value_info(y, TensorProto.FLOAT, list(shape)))

    def model(self):
        graph = helper.make_graph(self.nodes, "upsample_int8", self.inputs, self.outputs,
                                  self.inits)
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                 ir_version=10)


def codes_to_float(codes, scale, zp):
    return ((codes.astype(np.float32) - zp) * np.float32(scale)).astype(np.float32)


def float_to_codes(y, scale, zp):
    return (np.rint(y / np.float32(scale)) + zp).astype(np.int64)


def add_resize(m, i, shape, out_hw, mode, coord, qin, qout, *, nearest_mode=None, use_sizes=True,
               scales=None, extra=None, source=None):
    """Group i: Resize of a new input x{i} (or of the dequantized tensor `source`)."""
    xd = source or m.qdq_input(i, shape, *qin)
    out_shape = (*shape[:2], *out_hw)
    if use_sizes:
        ins = [xd, "", "", m.const(f"sizes{i}", np.array(out_shape, np.int64))]
    else:
        ins = [xd, "", m.const(f"scales{i}", np.array([1, 1, *scales], np.float32))]
    attrs = {"mode": mode, "coordinate_transformation_mode": coord, **(extra or {})}
    if nearest_mode:
        attrs["nearest_mode"] = nearest_mode
    m.nodes.append(helper.make_node("Resize", ins, [f"r{i}"], name=f"resize{i}", **attrs))
    m.qdq_output(i, f"r{i}", out_shape, *qout)
    return out_shape


def run_ours(model, feeds, tmp_path, name):
    return aot.compile(model, "x86-64", out_dir=str(tmp_path / name)).run(feeds)


def run_ort(model, feeds):
    ort = need_import("onnxruntime")
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))


# --- Resize bilinear: TFLite's integer kernel, bit for bit ------------------------------

# (input NCHW, output HW, ONNX coordinate mode, input (scale, zp), output (scale, zp))
BILINEAR = [
    ((1, 3, 5, 7), (10, 14), "asymmetric", (0.05, -3), (0.05, -3)),
    ((1, 2, 6, 9), (4, 5), "asymmetric", (0.1, 20), (0.1, 20)),
    ((2, 3, 4, 4), (8, 8), "half_pixel", (0.02, 0), (0.02, 0)),
    ((1, 4, 7, 5), (9, 13), "half_pixel", (0.07, -128), (0.07, -128)),
    ((1, 2, 9, 6), (4, 3), "pytorch_half_pixel", (0.03, 10), (0.03, 10)),
    ((1, 3, 5, 6), (9, 11), "align_corners", (0.04, -7), (0.04, -7)),
    ((1, 2, 4, 3), (1, 7), "align_corners", (0.04, 5), (0.04, 5)),
    ((1, 3, 3, 4), (7, 9), "half_pixel", (0.05, 2), (0.11, -40)),       # requantized
    ((1, 2, 20, 16), (80, 64), "asymmetric", (0.2, -128), (0.3, -100)),  # requantized
]
TFLITE_FLAGS = {"asymmetric": (False, False), "half_pixel": (False, True),
                "pytorch_half_pixel": (False, True), "align_corners": (True, False)}


def test_resize_bilinear_s8_matches_tflite_reference(tmp_path):
    """Reference: TFLite's ResizeBilinearInteger (numpy, above), then TFLite's int8 ->
    int8 QUANTIZE where the output parameters differ. Bit-exact."""
    rng = np.random.default_rng(10)
    m, feeds, want = QdqModel(), {}, {}
    for i, (shape, out_hw, coord, qin, qout) in enumerate(BILINEAR):
        add_resize(m, i, shape, out_hw, "linear", coord, qin, qout)
        codes = rng.integers(-128, 128, shape)
        feeds[f"x{i}"] = codes_to_float(codes, *qin)
        ref = resize_bilinear_ref(codes, *out_hw, *TFLITE_FLAGS[coord])
        if qout != qin:
            mult, shift = quantize_multiplier(float(np.float32(qin[0]))
                                              / float(np.float32(qout[0])))
            ref = requant_ref(ref, dict(input_offset=-qin[1], output_offset=qout[1],
                                        multiplier=mult, shift=shift, act_min=-128, act_max=127))
        want[f"y{i}"] = (ref.astype(np.int64), qout)
    got = run_ours(m.model(), feeds, tmp_path, "bilinear")
    for name, (ref, qout) in want.items():
        np.testing.assert_array_equal(float_to_codes(got[name], *qout), ref, err_msg=name)


def test_resize_separable_s8_onnx_modes_within_one_lsb_of_onnxruntime(tmp_path):
    """Modes TFLite has no kernel for (half_pixel_symmetric, tf_crop_and_resize with
    extrapolation, non-integer scales, cubic, antialias): Q10 taps from the ONNX
    definition. Reference: onnxruntime on the same QDQ model (float resize, one
    rounding): at most 1 LSB, and mostly equal."""
    rng = np.random.default_rng(11)
    cases = [
        dict(shape=(1, 2, 6, 8), out_hw=(9, 5), mode="linear", coord="half_pixel_symmetric"),
        dict(shape=(1, 2, 5, 5), out_hw=(7, 7), mode="linear", coord="asymmetric",
             use_sizes=False, scales=(1.5, 1.5)),
        dict(shape=(1, 2, 6, 7), out_hw=(12, 14), mode="cubic", coord="half_pixel"),
        dict(shape=(1, 2, 8, 10), out_hw=(3, 4), mode="linear", coord="half_pixel",
             extra={"antialias": 1}),
        dict(shape=(1, 2, 6, 6), out_hw=(5, 5), mode="linear", coord="tf_crop_and_resize",
             extra={"extrapolation_value": 0.5}, roi=(0.1, -0.2, 0.9, 1.1)),
    ]
    m, feeds, q = QdqModel(), {}, {}
    for i, c in enumerate(cases):
        qin = (0.05, int(rng.integers(-20, 20)))
        if "roi" in c:
            xd = m.qdq_input(i, c["shape"], *qin)
            out_shape = (*c["shape"][:2], *c["out_hw"])
            roi = m.const(f"roi{i}", np.array([0, 0, c["roi"][0], c["roi"][1], 1, 1,
                                               c["roi"][2], c["roi"][3]], np.float32))
            m.nodes.append(helper.make_node(
                "Resize", [xd, roi, "", m.const(f"sizes{i}", np.array(out_shape, np.int64))],
                [f"r{i}"], mode=c["mode"], coordinate_transformation_mode=c["coord"],
                **c["extra"]))
            m.qdq_output(i, f"r{i}", out_shape, *qin)
        else:
            add_resize(m, i, c["shape"], c["out_hw"], c["mode"], c["coord"], qin, qin,
                       use_sizes=c.get("use_sizes", True), scales=c.get("scales"),
                       extra=c.get("extra"))
        feeds[f"x{i}"] = codes_to_float(rng.integers(-128, 128, c["shape"]), *qin)
        q[f"y{i}"] = qin
    model = m.model()
    got, ref = run_ours(model, feeds, tmp_path, "onnx_modes"), run_ort(model, feeds)
    for name, qout in q.items():
        diff = np.abs(float_to_codes(got[name], *qout) - float_to_codes(ref[name], *qout))
        assert diff.max() <= 1 and diff.mean() < 0.2, (name, diff.max(), diff.mean())


# --- Resize nearest: a copy of codes ---------------------------------------------------

def test_resize_nearest_s8_matches_onnxruntime(tmp_path):
    """Every nearest_mode and coordinate mode, up- and downsampling, a crop box partly
    outside the input, the detector's form (asymmetric, floor, scales 2): nearest moves codes, so onnxruntime's float
    resize of the dequantized input requantizes exactly to the same codes. With
    other output parameters the reference is those codes through TFLite's int8 ->
    int8 QUANTIZE (numpy)."""
    rng = np.random.default_rng(12)
    m, feeds, q = QdqModel(), {}, {}
    i = 0
    for coord in ("asymmetric", "half_pixel", "align_corners", "pytorch_half_pixel",
                  "half_pixel_symmetric"):
        for nm in ("floor", "round_prefer_floor", "round_prefer_ceil", "ceil"):
            shape, out_hw = ((1, 2, 5, 6), (11, 4)) if i % 2 else ((1, 3, 4, 3), (8, 6))
            qin = (0.03, int(rng.integers(-100, 100)))
            add_resize(m, i, shape, out_hw, "nearest", coord, qin, qin, nearest_mode=nm)
            feeds[f"x{i}"] = codes_to_float(rng.integers(-128, 128, shape), *qin)
            q[f"y{i}"] = qin
            i += 1
    # a crop box partly outside the input: the extrapolation value as a code
    qin = (0.05, 4)
    xd = m.qdq_input(i, (1, 2, 6, 6), *qin)
    roi = m.const("roi", np.array([0, 0, -0.3, 0.2, 1, 1, 0.8, 1.4], np.float32))
    m.nodes.append(helper.make_node(
        "Resize", [xd, roi, "", m.const("sizes_crop", np.array([1, 2, 7, 5], np.int64))],
        [f"r{i}"], mode="nearest", coordinate_transformation_mode="tf_crop_and_resize",
        extrapolation_value=-1.0))
    m.qdq_output(i, f"r{i}", (1, 2, 7, 5), *qin)
    feeds[f"x{i}"] = codes_to_float(rng.integers(-128, 128, (1, 2, 6, 6)), *qin)
    q[f"y{i}"] = qin
    i += 1
    shape = (1, 4, 10, 10)
    qin = (0.2, -5)
    add_resize(m, i, shape, (20, 20), "nearest", "asymmetric", qin, qin, nearest_mode="floor",
               use_sizes=False, scales=(2.0, 2.0))
    feeds[f"x{i}"] = codes_to_float(rng.integers(-128, 128, shape), *qin)
    q[f"y{i}"] = qin
    # the same input, other output parameters
    add_resize(m, i + 1, shape, (40, 40), "nearest", "asymmetric", qin, (0.35, 17),
               nearest_mode="floor", source=f"xd{i}")
    model = m.model()
    got, ref = run_ours(model, feeds, tmp_path, "nearest"), run_ort(model, feeds)
    for name, qout in q.items():
        np.testing.assert_array_equal(float_to_codes(got[name], *qout),
                                      float_to_codes(ref[name], *qout), err_msg=name)
    x = float_to_codes(feeds[f"x{i}"], *qin)
    copied = x.repeat(4, axis=2).repeat(4, axis=3)
    mult, shift = quantize_multiplier(float(np.float32(0.2)) / float(np.float32(0.35)))
    want = requant_ref(copied, dict(input_offset=5, output_offset=17, multiplier=mult,
                                    shift=shift, act_min=-128, act_max=127))
    np.testing.assert_array_equal(float_to_codes(got[f"y{i + 1}"], 0.35, 17), want)


# --- ConvTranspose: TFLite's TRANSPOSE_CONV, bit for bit --------------------------------

# (input NCHW, out_c, kernel, strides, pads (begin, end), output_padding, dilations, groups,
#  per-channel weights, bias, relu)
CONV_T = [
    ((1, 24, 10, 10), 24, (2, 2), (2, 2), (0, 0, 0, 0), (0, 0), (1, 1), 1, True, True, True),
    ((1, 24, 8, 8), 1, (2, 2), (2, 2), (0, 0, 0, 0), (0, 0), (1, 1), 1, True, True, False),
    ((2, 5, 6, 7), 7, (3, 3), (2, 2), (1, 1, 1, 1), (1, 1), (1, 1), 1, True, True, False),
    ((1, 6, 5, 4), 4, (3, 2), (1, 2), (0, 1, 2, 0), (0, 0), (2, 1), 2, True, False, False),
    ((1, 3, 7, 6), 5, (4, 4), (2, 3), (1, 2, 1, 0), (0, 1), (1, 1), 1, False, True, True),
    ((1, 4, 1, 9), 3, (1, 3), (1, 2), (0, 1, 0, 1), (0, 0), (1, 1), 1, True, True, False),
]


def _conv_t_case(m, i, case, rng):
    shape, out_c, k, strides, pads, out_pad, dil, groups, per_ch, has_bias, relu = case
    in_c = shape[1]
    oh = (shape[2] - 1) * strides[0] + out_pad[0] + (k[0] - 1) * dil[0] + 1 - pads[0] - pads[2]
    ow = (shape[3] - 1) * strides[1] + out_pad[1] + (k[1] - 1) * dil[1] + 1 - pads[1] - pads[3]
    ocg = out_c // groups
    s_in, zp_in = 0.04, int(rng.integers(-60, 60))
    s_w = (2.0 ** rng.uniform(-8, -5, ocg if per_ch else 1)).astype(np.float32)
    w = rng.integers(-127, 128, (in_c, ocg, *k)).astype(np.int8)
    taps = (in_c // groups) * k[0] * k[1] / (strides[0] * strides[1])
    s_out = float(s_in * float(s_w.mean()) * 128 * 60 * np.sqrt(taps) / 60)
    zp_out = int(rng.integers(-30, 30))
    xd = m.qdq_input(i, shape, s_in, zp_in)
    wd = m.dq_const(f"w{i}", w, s_w if per_ch else s_w[0], axis=1 if per_ch else None)
    ins = [xd, wd]
    bias = None
    if has_bias:
        bias = rng.integers(-4000, 4000, out_c).astype(np.int32)
        bscale = np.float32(s_in) * np.resize(s_w, out_c).astype(np.float32)
        ins.append(m.dq_const(f"b{i}", bias, bscale if per_ch else bscale[0],
                              axis=0 if per_ch else None))
    attrs = dict(kernel_shape=list(k), strides=list(strides), pads=list(pads),
                 dilations=list(dil), group=groups)
    if any(out_pad):
        attrs["output_padding"] = list(out_pad)
    m.nodes.append(helper.make_node("ConvTranspose", ins, [f"c{i}"], name=f"convt{i}", **attrs))
    out_shape = (shape[0], out_c, oh, ow)
    m.qdq_output(i, f"c{i}", out_shape, s_out, zp_out, act="relu" if relu else None)
    codes = rng.integers(-128, 128, shape)
    act = clamp_range(s_out, zp_out, 0.0, None) if relu else (-128, 127)
    ref = transpose_conv_ref(codes, w, bias, s_in, zp_in, s_w, s_out, zp_out,
                             strides=strides, pads=pads[:2], dilations=dil, groups=groups,
                             out_hw=(oh, ow), act=act)
    return codes_to_float(codes, s_in, zp_in), ref, (s_out, zp_out)


def test_conv_transpose_s8_matches_tflite_reference(tmp_path):
    """Reference: TFLite's TransposeConv (numpy, above), with the fused Relu's range
    as TFLite's CalculateActivationRangeQuantized. Bit-exact; 1-D through a height of 1."""
    rng = np.random.default_rng(13)
    m, feeds, want = QdqModel(), {}, {}
    for i, case in enumerate(CONV_T):
        feeds[f"x{i}"], ref, q = _conv_t_case(m, i, case, rng)
        want[f"y{i}"] = (ref, q)
        assert len(np.unique(ref)) > 8
    got = run_ours(m.model(), feeds, tmp_path, "convt")
    for name, (ref, q) in want.items():
        np.testing.assert_array_equal(float_to_codes(got[name], *q), ref, err_msg=name)


def test_conv_transpose_s8_asymmetric_weights_are_refused(tmp_path):
    m = QdqModel()
    xd = m.qdq_input(0, (1, 2, 3, 3), 0.1, 0)
    m.const("w_q", np.ones((2, 2, 2, 2), np.int8))
    m.const("w_s", np.float32(0.1))
    m.const("w_z", np.int8(3))
    m.nodes.append(helper.make_node("DequantizeLinear", ["w_q", "w_s", "w_z"], ["w"]))
    m.nodes.append(helper.make_node("ConvTranspose", [xd, "w"], ["c0"], name="up",
                                    kernel_shape=[2, 2], strides=[2, 2]))
    m.qdq_output(0, "c0", (1, 2, 6, 6), 0.1, 0)
    with pytest.raises(aot.ModelError, match="up.*symmetric weights"):
        aot.compile(m.model(), "x86-64", out_dir=str(tmp_path / "asym"))


# --- TFLite Micro on single-op models ---------------------------------------------------

RESIZE_BILINEAR, TRANSPOSE_CONV = 23, 67


def _tflm_helpers():
    need_import("tflite_micro")
    import test_kernels_s8 as k
    return k


@pytest.mark.parametrize("shape,out_hw,align,half", [
    ((1, 5, 7, 3), (10, 14), False, False),
    ((1, 6, 9, 2), (4, 5), False, True),
    ((1, 4, 4, 5), (9, 7), True, False),
    ((2, 3, 5, 4), (12, 11), False, True),
])
def test_resize_bilinear_s8_matches_tflm(tmp_path, shape, out_hw, align, half):
    """TFLM's RESIZE_BILINEAR (int8, reference ResizeBilinearInteger) on a single-op
    model vs our QDQ Resize with the ONNX mode that means the same. Bit-exact."""
    k = _tflm_helpers()
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

    rng = np.random.default_rng(hash((shape, out_hw, align)) % 2**32)
    model, sg, op = k.single_op(k.KWS, 9)
    k.as_op(model, op, RESIZE_BILINEAR)
    op.builtinOptionsType = fb.BuiltinOptions.ResizeBilinearOptions
    op.builtinOptions = fb.ResizeBilinearOptionsT()
    op.builtinOptions.alignCorners, op.builtinOptions.halfPixelCenters = align, half
    size = k.add_const_tensor(model, sg, "size", np.array(out_hw, np.int32))
    op.inputs = np.array([op.inputs[0], size], np.int32)
    scale, zp = 0.06, int(rng.integers(-50, 50))
    n, h, w, c = shape
    k.set_tensor(sg.tensors[op.inputs[0]], shape, [scale], [zp])
    k.set_tensor(sg.tensors[op.outputs[0]], (n, *out_hw, c), [scale], [zp])
    data = k.finish(model, sg, [op.inputs[0]], [op.outputs[0]])
    x = rng.integers(-128, 128, shape).astype(np.int8)
    want = np.asarray(k.tflm_tensors(data, [x]).get_output(0))
    coord = "align_corners" if align else ("half_pixel" if half else "asymmetric")
    m = QdqModel()
    add_resize(m, 0, (n, c, h, w), out_hw, "linear", coord, (scale, zp), (scale, zp))
    got = run_ours(m.model(), {"x0": codes_to_float(k.nchw(x), scale, zp)}, tmp_path, "r")
    np.testing.assert_array_equal(k.nhwc(float_to_codes(got["y0"], scale, zp)), want)


@pytest.mark.parametrize("shape,out_c,kernel,stride,same,act", [
    ((1, 6, 6, 8), 8, (2, 2), (2, 2), False, 1),     # the detector's upsampling form
    ((1, 5, 4, 3), 4, (3, 3), (2, 2), True, 0),
    ((1, 4, 5, 6), 5, (3, 2), (1, 2), False, 0),
])
def test_conv_transpose_s8_matches_tflm(tmp_path, shape, out_c, kernel, stride, same, act):
    """TFLM's TRANSPOSE_CONV (int8, per-channel, bias, fused activation) on a
    single-op model vs our QDQ ConvTranspose with the same weights. Bit-exact."""
    k = _tflm_helpers()
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

    rng = np.random.default_rng(hash((shape, out_c, kernel)) % 2**32)
    n, h, w, c = shape
    if same:
        oh, ow = h * stride[0], w * stride[1]
    else:
        oh, ow = (h - 1) * stride[0] + kernel[0], (w - 1) * stride[1] + kernel[1]
    # TFLite's padding for SAME: the conv's "same" padding seen from the output
    pt = max(0, ((h - 1) * stride[0] + kernel[0] - oh) // 2) if same else 0
    pl = max(0, ((w - 1) * stride[1] + kernel[1] - ow) // 2) if same else 0
    s_in, zp_in = 0.05, int(rng.integers(-40, 40))
    s_w = (2.0 ** rng.uniform(-8, -5, out_c)).astype(np.float32)
    s_out = float(s_in * float(s_w.mean()) * 128 * np.sqrt(c * 2))
    zp_out = int(rng.integers(-20, 20))
    w_ohwi = rng.integers(-127, 128, (out_c, *kernel, c)).astype(np.int8)
    bias = rng.integers(-3000, 3000, out_c).astype(np.int32)

    model, sg, op = k.single_op(k.KWS, 0)            # CONV_2D: input, weights, bias
    conv_in, conv_w, conv_b = (int(i) for i in op.inputs)
    k.as_op(model, op, TRANSPOSE_CONV)
    op.builtinOptionsType = fb.BuiltinOptions.TransposeConvOptions
    op.builtinOptions = fb.TransposeConvOptionsT()
    o = op.builtinOptions
    o.padding, o.strideH, o.strideW, o.fusedActivationFunction = (0 if same else 1), \
        stride[0], stride[1], act
    out_shape = k.add_const_tensor(model, sg, "output_shape",
                                   np.array([n, oh, ow, out_c], np.int32))
    op.inputs = np.array([out_shape, conv_w, conv_in, conv_b], np.int32)
    k.set_tensor(sg.tensors[conv_in], shape, [s_in], [zp_in])
    k.set_const(model, sg.tensors[conv_w], w_ohwi, s_w, [0] * out_c, qdim=0)
    k.set_const(model, sg.tensors[conv_b], bias, s_in * s_w, [0] * out_c)
    k.set_tensor(sg.tensors[op.outputs[0]], (n, oh, ow, out_c), [s_out], [zp_out])
    data = k.finish(model, sg, [conv_in], [op.outputs[0]])
    x = rng.integers(-128, 128, shape).astype(np.int8)
    want = np.asarray(k.tflm_tensors(data, [x]).get_output(0))

    m = QdqModel()
    xd = m.qdq_input(0, (n, c, h, w), s_in, zp_in)
    w_onnx = np.ascontiguousarray(np.transpose(w_ohwi, (3, 0, 1, 2)))   # OHWI -> [I][O][H][W]
    wd = m.dq_const("w0", w_onnx, s_w, axis=1)
    bd = m.dq_const("b0", bias, (np.float32(s_in) * s_w).astype(np.float32), axis=0)
    ends = [(h - 1) * stride[0] + kernel[0] - oh - pt, (w - 1) * stride[1] + kernel[1] - ow - pl]
    m.nodes.append(helper.make_node("ConvTranspose", [xd, wd, bd], ["c0"],
                                    kernel_shape=list(kernel), strides=list(stride),
                                    pads=[pt, pl, *(max(0, e) for e in ends)]))
    m.qdq_output(0, "c0", (n, out_c, oh, ow), s_out, zp_out, act="relu" if act == 1 else None)
    got = run_ours(m.model(), {"x0": codes_to_float(k.nchw(x), s_in, zp_in)}, tmp_path, "ct")
    assert len(np.unique(want)) > 8
    np.testing.assert_array_equal(k.nhwc(float_to_codes(got["y0"], s_out, zp_out)), want)


# --- the QDQ pass -----------------------------------------------------------------------

def test_qdq_folds_resize_and_conv_transpose_groups():
    """DQ -> Resize -> Q and DQ -> ConvTranspose(DQ int32 bias) -> Relu -> Q become int8
    ops on the int8 tensors (the Relu as the `_qact` clamp)."""
    from aot.frontend import import_model
    from aot.passes.qdq import fold_qdq

    rng = np.random.default_rng(14)
    m = QdqModel()
    add_resize(m, 0, (1, 2, 3, 3), (6, 6), "linear", "half_pixel", (0.1, 1), (0.1, 1))
    _conv_t_case(m, 1, CONV_T[0], rng)
    graph = fold_qdq(import_model(m.model()))
    ops = {n.op: n for n in graph.nodes}
    assert {"Resize", "ConvTranspose"} <= set(ops)
    for name in ("Resize", "ConvTranspose"):
        node = ops[name]
        assert graph.tensor(node.inputs[0]).dtype == np.int8
        assert graph.tensor(node.outputs[0]).dtype == np.int8
    assert graph.tensor(ops["ConvTranspose"].inputs[2]).dtype == np.int32
    assert ops["ConvTranspose"].attr("_qact") == (0.0, None)


# --- the C sources ----------------------------------------------------------------------

def test_int8_upsample_kernels_under_sanitizers(tmp_path):
    """The bilinear and transposed-convolution cases, a cubic and a cropped nearest
    resize (extrapolation code) in one program built with AddressSanitizer and
    UndefinedBehaviorSanitizer (tests/sanitizer_harness.py): no report, and the
    same outputs as the ctypes build."""
    import shutil

    from sanitizer_harness import build

    gcc = shutil.which("gcc")
    need(gcc is not None, "gcc is not installed")
    rng = np.random.default_rng(17)
    m, feeds = QdqModel(), {}
    for i, (shape, out_hw, coord, qin, qout) in enumerate(BILINEAR):
        add_resize(m, i, shape, out_hw, "linear", coord, qin, qout)
        feeds[f"x{i}"] = codes_to_float(rng.integers(-128, 128, shape), *qin)
    i = len(BILINEAR)
    add_resize(m, i, (1, 2, 5, 6), (9, 13), "cubic", "half_pixel", (0.05, -2), (0.05, -2))
    feeds[f"x{i}"] = codes_to_float(rng.integers(-128, 128, (1, 2, 5, 6)), 0.05, -2)
    xd = m.qdq_input(i + 1, (1, 2, 6, 6), 0.05, 4)
    roi = m.const("roi", np.array([0, 0, -0.3, 0.2, 1, 1, 0.8, 1.4], np.float32))
    m.nodes.append(helper.make_node(
        "Resize", [xd, roi, "", m.const("sizes_crop", np.array([1, 2, 7, 5], np.int64))],
        ["crop"], mode="nearest", coordinate_transformation_mode="tf_crop_and_resize",
        extrapolation_value=-1.0))
    m.qdq_output(i + 1, "crop", (1, 2, 7, 5), 0.05, 4)
    feeds[f"x{i + 1}"] = codes_to_float(rng.integers(-128, 128, (1, 2, 6, 6)), 0.05, 4)
    for j, case in enumerate(CONV_T):
        feeds[f"x{i + 2 + j}"], _, _ = _conv_t_case(m, i + 2 + j, case, rng)
    compiled = aot.compile(m.model(), "x86-64", out_dir=str(tmp_path / "upsample_s8"),
                           options=aot.Options(name="upsample_s8"))
    ref = compiled.run(feeds)
    harness = build([str(compiled.out_dir)], str(tmp_path / "build"), cc=gcc, jobs=2)
    proc, results = harness.run({"upsample_s8": feeds}, str(tmp_path / "io"))
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "runtime error" not in proc.stderr and "Sanitizer" not in proc.stderr, proc.stderr
    for name, value in ref.items():
        np.testing.assert_array_equal(results["upsample_s8"][name], value, err_msg=name)


@pytest.mark.slow
def test_int8_upsample_model_builds_strict_and_reproducibly(tmp_path):
    """A model with int8 nearest and bilinear Resize and ConvTranspose: its generated C
    compiles warning-free under gcc and clang with the strict flags, and compiling
    twice gives byte-identical files."""
    import filecmp

    from test_generated_c import compile_all_c, compilers

    rng = np.random.default_rng(16)
    m = QdqModel()
    add_resize(m, 0, (1, 2, 3, 4), (6, 8), "nearest", "asymmetric", (0.1, 3), (0.1, 3),
               nearest_mode="floor")
    add_resize(m, 1, (1, 2, 3, 4), (5, 7), "linear", "half_pixel", (0.1, 3), (0.2, -3))
    _conv_t_case(m, 2, CONV_T[2], rng)
    model = m.model()
    a = aot.compile(model, "x86-64", out_dir=str(tmp_path / "a"))
    aot.compile(model, "x86-64", out_dir=str(tmp_path / "b"))
    kernels = {f for f in a.manifest["files"] if f.startswith("aot_runtime/aot_")}
    assert {f"aot_runtime/{k}.c" for k in NEW_KERNELS} <= kernels
    _, mismatch, errors = filecmp.cmpfiles(tmp_path / "a", tmp_path / "b", a.manifest["files"],
                                           shallow=False)
    assert not mismatch and not errors
    for cc in compilers().values():
        compile_all_c(tmp_path / "a", cc)


NEW_KERNELS = ["aot_resize_nearest_s8", "aot_resize_separable_s8", "aot_conv_transpose2d_s8"]


def _kernel_module():
    import test_kernels_s8
    return test_kernels_s8


@pytest.mark.parametrize("name,cc", _kernel_module().compilers(),
                         ids=[c[0] for c in _kernel_module().compilers()])
def test_sources_compile_warning_free(tmp_path, name, cc):
    import subprocess
    k = _kernel_module()
    for kernel in NEW_KERNELS:
        src = k.RUNTIME / f"{kernel}.c"
        assert src.read_text().startswith("/* SPDX-License-Identifier: Apache-2.0 */\n")
        for opt in ("-O0", "-O2"):
            res = subprocess.run([*cc, *k.STRICT, opt, "-c", "-I", str(k.RUNTIME), str(src),
                                  "-o", str(tmp_path / f"{kernel}{opt}.o")],
                                 capture_output=True, text=True)
            assert res.returncode == 0 and not res.stderr.strip(), f"{name} {kernel}:\n{res.stderr}"


@pytest.mark.parametrize("name,cc", _kernel_module().cross_compilers_m0(),
                         ids=[c[0] for c in _kernel_module().cross_compilers_m0()])
def test_integer_only_on_cortex_m0(tmp_path, name, cc):
    """On Cortex-M0+ the new kernels call no libc and no float, double or 64-bit
    division helper: at most the 64-bit multiply of the requantization and 32-bit
    division (the transposed convolution's tap positions)."""
    import shutil
    import subprocess
    k = _kernel_module()
    nm = shutil.which("llvm-nm") or shutil.which("arm-none-eabi-nm") or shutil.which("nm")
    need(nm is not None, "no nm to list undefined symbols")
    allowed = {"__aeabi_lmul", "__aeabi_idiv", "__aeabi_uidiv", "__aeabi_idivmod",
               "__aeabi_uidivmod"}
    for kernel in NEW_KERNELS:
        for opt in ("-O1", "-O2", "-Os", "-O3"):
            obj = tmp_path / f"{kernel}{opt}.o"
            subprocess.run([*cc, opt, *k.STRICT, "-c", "-I", str(k.RUNTIME),
                            str(k.RUNTIME / f"{kernel}.c"), "-o", str(obj)], check=True)
            res = subprocess.run([nm, "-u", str(obj)], capture_output=True, text=True,
                                 check=True)
            undefined = {line.split()[-1] for line in res.stdout.splitlines() if line.strip()}
            assert undefined <= allowed, f"{kernel} {opt} needs {sorted(undefined - allowed)}"


# --- aot quantize ------------------------------------------------------------------------

def test_quantize_folds_conv_transpose_bias_and_batchnorm(tmp_path):
    """`aot quantize` folds a per-channel Add and a BatchNormalization after a grouped
    ConvTranspose into it (one int8 TRANSPOSE_CONV with an int32 bias, per-channel
    weight scales on axis 1) and gives Resize its input's range. References: the
    original float model in onnxruntime for the fold (1e-4 relative), and
    onnxruntime on the QDQ model for our int8 build (at most 2 LSB: the
    transposed convolution's requantization and the resize each may round 1 LSB
    apart, onnxruntime computing both in float)."""
    need_import("onnxruntime")
    from aot.quantize import quantize

    rng = np.random.default_rng(15)
    c_in, groups, ocg = 4, 2, 3
    out_c = ocg * groups
    inits = [numpy_helper.from_array(rng.standard_normal((c_in, ocg, 3, 3)).astype(np.float32)
                                     * 0.3, "w"),
             numpy_helper.from_array(rng.standard_normal((1, out_c, 1, 1)).astype(np.float32),
                                     "b"),
             numpy_helper.from_array(rng.uniform(0.5, 2, out_c).astype(np.float32), "gamma"),
             numpy_helper.from_array(rng.standard_normal(out_c).astype(np.float32), "beta"),
             numpy_helper.from_array(rng.standard_normal(out_c).astype(np.float32), "mean"),
             numpy_helper.from_array(rng.uniform(0.5, 2, out_c).astype(np.float32), "var"),
             numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")]
    nodes = [helper.make_node("ConvTranspose", ["x", "w"], ["t"], kernel_shape=[3, 3],
                              strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 1],
                              group=groups),
             helper.make_node("Add", ["t", "b"], ["tb"]),
             helper.make_node("BatchNormalization", ["tb", "gamma", "beta", "mean", "var"],
                              ["bn"]),
             helper.make_node("Relu", ["bn"], ["r"]),
             helper.make_node("Resize", ["r", "", "scales"], ["y"], mode="linear",
                              coordinate_transformation_mode="half_pixel")]
    graph = helper.make_graph(
        nodes, "convt_bn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c_in, 5, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, out_c, 20, 24])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    calib = rng.standard_normal((16, 1, c_in, 5, 6)).astype(np.float32)
    q = quantize(model, {"x": calib}, progress=False)
    assert [n.op_type for n in q.float_model.graph.node] == ["ConvTranspose", "Relu", "Resize"]
    x = calib[0]
    want = run_ort(model, {"x": x})["y"]
    folded = run_ort(q.float_model, {"x": x})["y"]
    np.testing.assert_allclose(folded, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())
    ops = [n.op_type for n in q.model.graph.node]
    assert "BatchNormalization" not in ops and "Add" not in ops
    resize = next(n for n in q.model.graph.node if n.op_type == "Resize")
    resize_out = next(n for n in q.model.graph.node if n.op_type == "QuantizeLinear"
                      and n.input[0] == resize.output[0])
    dq_in = next(n for n in q.model.graph.node if n.output[0] == resize.input[0])
    assert dq_in.input[1:] == resize_out.input[1:]    # Resize keeps its input's parameters
    got = run_ours(q.model, {"x": x}, tmp_path, "convt_bn")["y"]
    ref = run_ort(q.model, {"x": x})["y"]
    scale = float(numpy_helper.to_array(next(t for t in q.model.graph.initializer
                                             if t.name == resize_out.input[1])))
    assert np.abs(got - ref).max() <= 2 * scale * 1.0001

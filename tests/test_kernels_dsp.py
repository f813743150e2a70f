"""The Cortex-M DSP-extension kernels (`--kernels dsp`, targets/rules_dsp.py,
runtime_c/aot_*_dsp_s8.c): bit for bit the same as TensorFlow Lite Micro.

1. The MLPerf Tiny bit-exact suite (tests/test_int8_tflm.py's helpers: 100
   seeded random inputs per model) with `--kernels dsp` forced on cortex-m4,
   every output element equal to TFLM's; the build must really use the dsp
   kernels (lowering) and SMLAD (disassembly).
2. Shapes that break fast paths -- channels not a multiple of 4, odd widths
   and pixel counts, stride 2, asymmetric padding, dilation, a single output
   channel, depthwise multiplier 2, non-3x3 depthwise, out_c > in_c in place, batch 2,
   positive requantization shifts, biases that make the int32 sum wrap, a zero
   weight scale (multiplier 0), a
   grouped convolution (falls back), fully connected with odd k and n and
   several rows or per-channel scales, layers without a clamp (the
   requantizing micro-kernels) and the channel-pair im2col order (even in_c,
   3 wide) -- as one multi-branch QDQ model, compared bit for bit with
   the TFLite-int8 reference interpreter (tests/int8_reference.py, itself
   bit-exact with TFLM layer by layer), under zig's clang and
   arm-none-eabi-gcc, --optimize speed and size, in place and not, and on
   cortex-m7 / cortex-m33. Same-shape and broadcasting adds too.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import onnx
from onnx import TensorProto, helper, numpy_helper

import aot
from conftest import need, need_import
from int8_reference import Reference
from test_int8_tflm import PAIRS, SAMPLES, mismatches, seeded_int8, tflm_outputs

def _need_gcc():
    need(shutil.which("arm-none-eabi-gcc") is not None,
         "arm-none-eabi-gcc not found (Debian gcc-arm-none-eabi)")


def _kernels(model) -> list[str]:
    return [c.kernel for c in model.compilation.program.calls]


# -- 1. MLPerf Tiny, bit-exact with TFLM ------------------------------------------------------

def _mlperf_case(key, toolchain, mlperf_dir, tmp_path, optimize="speed"):
    need_import("unicorn")
    onnx_file, tflite_file = PAIRS[key]
    model = aot.compile(str(mlperf_dir / onnx_file), "cortex-m4", out_dir=str(tmp_path / key),
                        options=aot.Options(kernels="dsp", toolchain=toolchain,
                                            optimize=optimize))
    used = [k for k in _kernels(model) if k.endswith("_dsp_s8")]
    assert used, f"{key}: no dsp kernel chosen"
    [inp] = model.manifest["inputs"]
    [out] = model.manifest["outputs"]
    xs = seeded_int8(inp["shape"], SAMPLES)
    runner = model.runner()
    ours = [runner.run({inp["name"]: x})[out["name"]] for x in xs]
    ref = tflm_outputs(mlperf_dir / tflite_file, xs)
    count, worst = mismatches(ours, ref)
    total = sum(r.size for r in ref)
    print(f"{key} dsp ({toolchain}, {optimize}): {count}/{total} differ from TFLM; "
          f"kernels {sorted(set(used))}")
    assert count == 0, f"{count} of {total} output elements differ from TFLM (max {worst} LSB)"
    return model


@pytest.mark.parametrize("key", sorted(PAIRS))
def test_mlperf_dsp_bit_exact_with_tflm(key, mlperf_dir, tmp_path):
    _mlperf_case(key, "zig", mlperf_dir, tmp_path)


@pytest.mark.parametrize("key", ["kws", pytest.param("ad", marks=pytest.mark.slow)])
def test_mlperf_dsp_bit_exact_with_tflm_gcc(key, mlperf_dir, tmp_path):
    _need_gcc()
    model = _mlperf_case(key, "gcc", mlperf_dir, tmp_path)
    from test_targets import DSP, disassemble
    mnemonics = {m for _, m, _ in disassemble(model.runner().build.elf)}
    assert "smlad" in mnemonics and any(DSP.match(m) for m in mnemonics)


@pytest.mark.slow
@pytest.mark.parametrize("optimize", ["speed", "size"])
@pytest.mark.parametrize("key", sorted(PAIRS))
def test_mlperf_dsp_bit_exact_with_tflm_gcc_all(key, optimize, mlperf_dir, tmp_path):
    _need_gcc()
    _mlperf_case(key, "gcc", mlperf_dir, tmp_path, optimize)


# -- 2. fast-path-breaking shapes, one multi-branch QDQ model -----------------------------------

# (name, in_shape, out_c, kernel, attrs, extra): extra may set "out_scale" (a scale small
# enough for positive requantization shifts) and "big_bias" (sums that wrap int32).
CONV_CASES = [
    ("pw_odd", (1, 5, 3, 5), 7, (1, 1), {}, {}),
    ("pw_one_out", (1, 6, 3, 3), 1, (1, 1), {}, {}),
    ("pw_grow", (1, 3, 4, 4), 10, (1, 1), {}, {"out_scale": 0.0002}),
    ("pw_stride2", (1, 8, 5, 7), 6, (1, 1), {"strides": [2, 2]}, {}),
    ("dw3_s1", (1, 6, 5, 7), 6, (3, 3), {"group": 6, "pads": [1, 1, 1, 1]}, {}),
    ("dw3_s2", (1, 3, 9, 7), 3, (3, 3), {"group": 3, "pads": [1, 1, 1, 1], "strides": [2, 2]},
     {}),
    ("dw3_s2_asym", (1, 4, 8, 8), 4, (3, 3),
     {"group": 4, "pads": [0, 0, 1, 1], "strides": [2, 2]}, {"big_bias": True}),
    ("dw3_s21", (1, 2, 9, 6), 2, (3, 3), {"group": 2, "pads": [1, 1, 1, 1], "strides": [2, 1]},
     {}),
    ("dw3_valid_one_px", (1, 3, 3, 3), 3, (3, 3), {"group": 3}, {}),
    ("dw5_dil2", (1, 3, 9, 9), 3, (5, 5), {"group": 3, "pads": [4, 4, 4, 4],
                                           "dilations": [2, 2]}, {}),
    ("dw5_s1", (1, 5, 7, 6), 5, (5, 5), {"group": 5, "pads": [2, 2, 2, 2]},
     {"out_scale": 0.0003}),
    ("dw31_mult2", (1, 3, 6, 5), 6, (3, 1), {"group": 3, "pads": [1, 0, 1, 0]}, {}),
    ("conv3_k27", (1, 3, 6, 5), 5, (3, 3), {"pads": [1, 1, 1, 1]}, {}),
    ("conv3_s2_one_out", (1, 4, 7, 7), 1, (3, 3), {"pads": [1, 1, 1, 1], "strides": [2, 2]},
     {"big_bias": True}),
    ("conv_kws_like", (1, 1, 13, 6), 8, (10, 4), {"pads": [4, 1, 5, 2], "strides": [2, 2]}, {}),
    ("conv3_dil2", (1, 2, 8, 7), 3, (3, 3), {"pads": [2, 2, 2, 2], "dilations": [2, 2]}, {}),
    ("conv_grouped", (1, 4, 5, 5), 6, (3, 3), {"group": 2, "pads": [1, 1, 1, 1]}, {}),
    ("pw_batch2", (2, 5, 3, 3), 4, (1, 1), {}, {}),
    ("pw_zero_scale", (1, 4, 3, 3), 4, (1, 1), {}, {"zero_scale": True}),
    ("dw3_zero_scale", (1, 4, 3, 4), 4, (3, 3), {"group": 4, "pads": [1, 1, 1, 1]},
     {"zero_scale": True}),
    ("dw3_batch2", (2, 3, 4, 5), 3, (3, 3), {"group": 3, "pads": [1, 1, 1, 1]}, {}),
    ("conv_batch2", (2, 2, 4, 5), 3, (2, 2), {"strides": [1, 2]}, {}),
    # no clamp but int8's: the requantizing micro-kernels (aot_dsp_block_4x2), odd
    # channel and pixel counts, im2col with padding, stride and dilation
    ("pw_full", (1, 10, 3, 5), 9, (1, 1), {}, {"no_relu": True}),
    ("pw_full_odd_c", (1, 7, 2, 3), 8, (1, 1), {}, {"no_relu": True, "big_bias": True}),
    ("conv3_full", (1, 3, 7, 6), 8, (3, 3), {"pads": [1, 1, 1, 1], "strides": [2, 1]},
     {"no_relu": True}),
    ("conv_full_dil", (1, 5, 9, 8), 4, (3, 2), {"pads": [2, 1, 0, 1], "dilations": [2, 3]},
     {"no_relu": True, "out_scale": 0.3}),
    # even in_c, 3 wide, stride_w 1: the channel-pair tap order (aot_dsp_channel_pairs),
    # with an odd width (pairs across rows), stride_h 2 and dilation_h 2, 5 rows
    ("conv3_cpairs", (1, 4, 6, 7), 5, (3, 3), {"pads": [1, 1, 1, 1]}, {"no_relu": True}),
    ("conv3_cpairs_s21", (1, 6, 9, 8), 4, (3, 3),
     {"pads": [0, 1, 2, 1], "strides": [2, 1], "dilations": [2, 1]}, {}),
    ("conv53_cpairs", (1, 2, 8, 10), 3, (5, 3), {"pads": [2, 0, 2, 0]}, {"no_relu": True}),
    # one channel's right shift beyond 23: the whole layer on the general path
    ("pw_full_tiny_scale", (1, 4, 3, 3), 5, (1, 1), {}, {"no_relu": True, "tiny_scale": True}),
]
FC_CASES = [("fc_odd", (1, 13), 6, {}), ("fc_rows", (3, 8), 5, {"big_bias": True}),
            ("fc_k4", (1, 16), 9, {"out_scale": 0.0002}), ("fc_full", (2, 24), 7, {}),
            ("fc_per_channel", (1, 20), 9, {"per_channel": True})]


def _q(name, dtype, shape):
    return helper.make_tensor_value_info(name, dtype, None if shape is None else list(shape))


def _with_output_shapes(model):
    """The model with its graph outputs' shapes filled in by shape inference."""
    inferred = onnx.shape_inference.infer_shapes(model)
    shapes = {vi.name: vi.type for vi in inferred.graph.output}
    for out in model.graph.output:
        out.type.CopyFrom(shapes[out.name])
    return model


def _init(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


def _conv_branch(rng, name, in_shape, out_c, kernel, attrs, extra, nodes, inits, in_q=None):
    """A DequantizeLinear -> Conv -> Relu -> QuantizeLinear branch; returns the
    output's (scale, zero point)."""
    groups = attrs.get("group", 1)
    s_in, zp_in = in_q if in_q is not None else (0.05, int(rng.integers(-20, 20)))
    w = rng.integers(-128, 128, (out_c, in_shape[1] // groups, *kernel)).astype(np.int8)
    w.reshape(-1)[:2] = (-128, 127)
    s_w = rng.uniform(0.002, 0.02, out_c).astype(np.float32)
    if extra.get("zero_scale"):   # multiplier 0: the dsp rules zero the channel instead
        s_w[out_c // 2] = 0.0
    if extra.get("tiny_scale"):   # a right shift of about 30
        s_w[0] = 1e-9
    bias_hi = 2**31 - 1 if extra.get("big_bias") else 3000
    bias = rng.integers(-bias_hi, bias_hi, out_c).astype(np.int32)
    s_out, zp_out = extra.get("out_scale", 0.08), int(rng.integers(-10, 10))
    inits += [_init(f"{name}_sx", np.float32(s_in)), _init(f"{name}_zx", np.int8(zp_in)),
              _init(f"{name}_w", w), _init(f"{name}_sw", s_w),
              _init(f"{name}_zw", np.zeros(out_c, np.int8)), _init(f"{name}_b", bias),
              _init(f"{name}_sb", (np.float32(s_in) * s_w).astype(np.float32)),
              _init(f"{name}_zb", np.zeros(out_c, np.int32)),
              _init(f"{name}_sy", np.float32(s_out)), _init(f"{name}_zy", np.int8(zp_out))]
    nodes += [
        helper.make_node("DequantizeLinear", [f"{name}_x", f"{name}_sx", f"{name}_zx"],
                         [f"{name}_xf"], name=f"{name}_dqx"),
        helper.make_node("DequantizeLinear", [f"{name}_w", f"{name}_sw", f"{name}_zw"],
                         [f"{name}_wf"], axis=0, name=f"{name}_dqw"),
        helper.make_node("DequantizeLinear", [f"{name}_b", f"{name}_sb", f"{name}_zb"],
                         [f"{name}_bf"], axis=0, name=f"{name}_dqb"),
        helper.make_node("Conv", [f"{name}_xf", f"{name}_wf", f"{name}_bf"], [f"{name}_cf"],
                         name=f"{name}_conv", kernel_shape=list(kernel), **attrs),
        *([] if extra.get("no_relu") else [
            helper.make_node("Relu", [f"{name}_cf"], [f"{name}_rf"], name=f"{name}_relu")]),
        helper.make_node("QuantizeLinear",
                         [f"{name}_cf" if extra.get("no_relu") else f"{name}_rf",
                          f"{name}_sy", f"{name}_zy"], [f"{name}_y"], name=f"{name}_q"),
    ]
    return s_out, zp_out


def _fc_branch(rng, name, in_shape, n, extra, nodes, inits):
    k = in_shape[1]
    s_in, zp_in = 0.05, int(rng.integers(-20, 20))
    w = rng.integers(-127, 128, (k, n)).astype(np.int8)
    per_channel = extra.get("per_channel")
    s_w = rng.uniform(0.005, 0.02, n).astype(np.float32) if per_channel else np.float32(0.01)
    bias_hi = 2**31 - 1 if extra.get("big_bias") else 3000
    bias = rng.integers(-bias_hi, bias_hi, n).astype(np.int32)
    s_out, zp_out = extra.get("out_scale", 0.1), int(rng.integers(-10, 10))
    inits += [_init(f"{name}_sx", np.float32(s_in)), _init(f"{name}_zx", np.int8(zp_in)),
              _init(f"{name}_w", w), _init(f"{name}_sw", s_w),
              _init(f"{name}_zw", np.zeros(n, np.int8) if per_channel else np.int8(0)),
              _init(f"{name}_b", bias), _init(f"{name}_sb", (np.float32(s_in) * s_w)),
              _init(f"{name}_zb", np.zeros(n, np.int32) if per_channel else np.int32(0)),
              _init(f"{name}_sy", np.float32(s_out)), _init(f"{name}_zy", np.int8(zp_out))]
    nodes += [
        helper.make_node("DequantizeLinear", [f"{name}_x", f"{name}_sx", f"{name}_zx"],
                         [f"{name}_xf"], name=f"{name}_dqx"),
        helper.make_node("DequantizeLinear", [f"{name}_w", f"{name}_sw", f"{name}_zw"],
                         [f"{name}_wf"], name=f"{name}_dqw", **({"axis": 1} if per_channel else {})),
        helper.make_node("DequantizeLinear", [f"{name}_b", f"{name}_sb", f"{name}_zb"],
                         [f"{name}_bf"], name=f"{name}_dqb", **({"axis": 0} if per_channel else {})),
        helper.make_node("MatMul", [f"{name}_xf", f"{name}_wf"], [f"{name}_mf"],
                         name=f"{name}_matmul"),
        helper.make_node("Add", [f"{name}_mf", f"{name}_bf"], [f"{name}_af"],
                         name=f"{name}_add"),
        helper.make_node("QuantizeLinear", [f"{name}_af", f"{name}_sy", f"{name}_zy"],
                         [f"{name}_y"], name=f"{name}_q"),
    ]


ADD_CASES = [("add_same", (1, 3, 5, 7), (1, 3, 5, 7)), ("add_bcast", (1, 3, 5, 7), (1, 3, 1, 1))]


def _add_branch(rng, name, a_shape, b_shape, nodes, inits):
    qs = {"a": (0.07, 5), "b": (0.03, -9), "y": (0.09, 2)}
    for t, (scale, zp) in qs.items():
        inits += [_init(f"{name}_s{t}", np.float32(scale)), _init(f"{name}_z{t}", np.int8(zp))]
    nodes += [
        helper.make_node("DequantizeLinear", [f"{name}_a", f"{name}_sa", f"{name}_za"],
                         [f"{name}_af"], name=f"{name}_dqa"),
        helper.make_node("DequantizeLinear", [f"{name}_b", f"{name}_sb", f"{name}_zb"],
                         [f"{name}_bf"], name=f"{name}_dqb"),
        helper.make_node("Add", [f"{name}_af", f"{name}_bf"], [f"{name}_sf"], name=f"{name}_add"),
        helper.make_node("QuantizeLinear", [f"{name}_sf", f"{name}_sy", f"{name}_zy"],
                         [f"{name}_y"], name=f"{name}_q"),
    ]


def shapes_model():
    """One QDQ model whose independent branches are the cases above, and seeded feeds."""
    rng = np.random.default_rng(9)
    nodes, inits, inputs, outputs, feeds = [], [], [], [], {}
    for name, in_shape, out_c, kernel, attrs, extra in CONV_CASES:
        _conv_branch(rng, name, in_shape, out_c, kernel, attrs, extra, nodes, inits)
        inputs.append(_q(f"{name}_x", TensorProto.INT8, in_shape))
        outputs.append(_q(f"{name}_y", TensorProto.INT8, None))
        feeds[f"{name}_x"] = rng.integers(-128, 128, in_shape).astype(np.int8)
    for name, in_shape, n, extra in FC_CASES:
        _fc_branch(rng, name, in_shape, n, extra, nodes, inits)
        inputs.append(_q(f"{name}_x", TensorProto.INT8, in_shape))
        outputs.append(_q(f"{name}_y", TensorProto.INT8, None))
        feeds[f"{name}_x"] = rng.integers(-128, 128, in_shape).astype(np.int8)
    for name, a_shape, b_shape in ADD_CASES:
        _add_branch(rng, name, a_shape, b_shape, nodes, inits)
        for t, shape in (("a", a_shape), ("b", b_shape)):
            inputs.append(_q(f"{name}_{t}", TensorProto.INT8, shape))
            feeds[f"{name}_{t}"] = rng.integers(-128, 128, shape).astype(np.int8)
        outputs.append(_q(f"{name}_y", TensorProto.INT8, None))
    graph = helper.make_graph(nodes, "dsp_shapes", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return _with_output_shapes(model), feeds


@pytest.fixture(scope="module")
def shapes():
    model, feeds = shapes_model()
    values = Reference(model).run(feeds)
    return model, feeds, {o.name: values[o.name] for o in model.graph.output}


def _check_shapes(shapes, target, toolchain, optimize, io_in_arena, tmp_path):
    need_import("unicorn")
    if toolchain == "gcc":
        _need_gcc()
    model, feeds, want = shapes
    compiled = aot.compile(model, target, out_dir=str(tmp_path / "m"),
                           options=aot.Options(kernels="dsp", toolchain=toolchain,
                                               optimize=optimize, io_in_arena=io_in_arena))
    got = compiled.run(feeds)
    bad = []
    for name, ref in want.items():
        diff = np.abs(got[name].astype(np.int32) - ref.astype(np.int32))
        if got[name].shape != ref.shape or diff.any():
            bad.append(f"{name}: {int((diff > 0).sum())}/{ref.size} differ (max {diff.max()})")
    assert not bad, "; ".join(bad)
    return compiled


@pytest.mark.parametrize("toolchain,optimize,io_in_arena", [
    ("zig", "speed", True), ("gcc", "speed", False), ("zig", "size", False),
    ("gcc", "size", True)])
def test_fast_path_breaking_shapes_bit_exact(shapes, toolchain, optimize, io_in_arena,
                                              tmp_path):
    compiled = _check_shapes(shapes, "cortex-m4", toolchain, optimize, io_in_arena, tmp_path)
    kernels = set(_kernels(compiled))
    by_layer = {c.layer.split("+")[0]: c.kernel for c in compiled.compilation.program.calls}
    assert by_layer["conv_grouped_conv"] == "aot_conv2d_s8"     # grouped: the portable one
    assert by_layer["dw5_dil2_conv"] == "aot_depthwise_conv2d_dsp_s8"
    assert by_layer["conv_kws_like_conv"] == ("aot_conv2d_wide_dsp_s8" if optimize == "speed"
                                             else "aot_conv2d_dsp_s8")
    assert ("aot_fully_connected_wide_dsp_s8" if optimize == "speed"
            else "aot_fully_connected_dsp_s8") in kernels
    assert by_layer["add_same_add"] == ("aot_add_lut_dsp_s8" if optimize == "speed"
                                        else "aot_add_dsp_s8")
    assert by_layer["add_bcast_add"] == "aot_add_s8"             # broadcasting: portable
    if optimize == "speed":
        assert by_layer["dw3_s1_conv"] == "aot_depthwise_conv2d_3x3_dsp_s8"
        assert by_layer["pw_odd_conv"] == "aot_pointwise_conv2d_dsp_s8"
    else:   # size: only the general kernels
        assert not kernels & {"aot_depthwise_conv2d_3x3_dsp_s8", "aot_pointwise_conv2d_dsp_s8"}


@pytest.mark.parametrize("target,toolchain", [("cortex-m7", "zig"), ("cortex-m33", "gcc")])
def test_fast_path_breaking_shapes_other_dsp_cores(shapes, target, toolchain, tmp_path):
    _check_shapes(shapes, target, toolchain, "speed", False, tmp_path)


def test_dsp_kernels_run_in_place(tmp_path):
    """A depthwise-separable chain keeps the portable build's in-place arena."""
    model, feeds = _chain_model()
    arenas, outs = {}, {}
    for kernels in ("portable", "dsp"):
        c = aot.compile(model, "cortex-m4", out_dir=str(tmp_path / kernels),
                        options=aot.Options(kernels=kernels))
        arenas[kernels] = c.manifest["arena"]["bytes"]
        outs[kernels] = c.run(feeds)
        if kernels == "dsp":
            calls = c.compilation.program.calls
            assert {"aot_depthwise_conv2d_3x3_dsp_s8", "aot_pointwise_conv2d_dsp_s8"} <= \
                {k.kernel for k in calls}
    want = Reference(model).run(feeds)
    for name, ref in outs["dsp"].items():
        assert np.array_equal(ref, want[name])
    # Scratch may differ by a padded plane; the activations must still share one buffer.
    assert arenas["dsp"] <= arenas["portable"] + 512, arenas


def _chain_model():
    """x -> dw3x3 -> pw -> dw3x3 -> pw (16 channels, 12x10): each conv's input dies there."""
    rng = np.random.default_rng(4)
    nodes, inits = [], []
    shape = (1, 16, 12, 10)
    prev, q = "in", (0.05, 3)
    for i, (kind, k) in enumerate([("dw", 3), ("pw", 1), ("dw", 3), ("pw", 1)]):
        name = f"l{i}"
        attrs = {"group": 16, "pads": [1, 1, 1, 1]} if kind == "dw" else {}
        q = _conv_branch(rng, name, shape, 16, (k, k), attrs, {}, nodes, inits, in_q=q)
        for node in nodes:
            node.input[:] = [prev if v == f"{name}_x" else v for v in node.input]
        prev = f"{name}_y"
    graph = helper.make_graph(nodes, "chain", [_q("in", TensorProto.INT8, shape)],
                              [_q(prev, TensorProto.INT8, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return _with_output_shapes(model), {"in": rng.integers(-128, 128, shape).astype(np.int8)}


@pytest.mark.parametrize("target,opt", [
    ("cortex-m4", "-O2"), pytest.param("cortex-m4", "-Os", marks=pytest.mark.slow),
    pytest.param("cortex-m7", "-O2", marks=pytest.mark.slow),
    pytest.param("cortex-m33", "-O2", marks=pytest.mark.slow)])
@pytest.mark.parametrize("toolchain", ["zig", "gcc"])
def test_dsp_sources_compile_with_the_strict_flags(target, opt, toolchain, tmp_path):
    """Every dsp kernel, warning-free with test_generated_c's strict flags, for each
    DSP core and toolchain."""
    from aot.targets.target import TARGETS
    from test_generated_c import STRICT
    runtime = Path(__file__).resolve().parent.parent / "runtime_c"
    sources = sorted(runtime.glob("aot_*_dsp_s8.c"))
    assert len(sources) >= 6
    t = TARGETS[target]
    if toolchain == "gcc":
        _need_gcc()
        cc = [t.gcc, *t.gcc_flags]
    else:
        cc = [sys.executable, "-m", "ziglang", "cc", *t.cflags]
    for src in sources:
        res = subprocess.run([*cc, *STRICT, opt, "-ffreestanding", "-c", "-I", str(runtime),
                              str(src), "-o", str(tmp_path / f"{src.stem}.o")],
                             capture_output=True, text=True)
        assert res.returncode == 0 and not res.stderr.strip(), f"{src.name} {opt}:\n{res.stderr}"


def test_layouts_match_the_kernels_contract():
    """pair_layout / quad_layout / wide_quad_layout / wide_fc_layout place
    element (r, k) where the C reads it."""
    from aot.targets.rules_dsp import (pair_layout, quad_layout, wide_fc_layout,
                                       wide_quad_layout)
    rows = np.arange(5 * 7, dtype=np.int64).reshape(5, 7).astype(np.int8)
    pair = pair_layout(rows)
    k4 = 8
    assert pair.size == 6 * k4
    for r in range(5):
        for k in range(7):
            group, lane = divmod(k, 4)
            slot = (0, 2, 1, 3).index(lane)   # lanes stored (0, 2, 1, 3)
            at = (r // 2) * 2 * k4 + group * 8 + (r % 2) * 4 + slot
            assert pair[at] == rows[r, k]
    quad = quad_layout(rows)
    assert quad.size == 8 * k4
    for r in range(5):
        for k in range(7):
            at = (r // 4) * 4 * k4 + (k // 4) * 16 + (r % 4) * 4 + k % 4
            assert quad[at] == rows[r, k]
    wide = wide_quad_layout(-rows)      # negative values: the int16 halves' sign
    assert wide.dtype == np.int32 and wide.size == 8 * k4 // 2
    halves = wide.view(np.int16)        # little-endian: (low, high) of each word
    for r in range(5):
        for k in range(7):
            at = (r // 4) * 2 * k4 + (k // 2) * 4 + r % 4
            assert halves[2 * at + k % 2] == -int(rows[r, k])
    assert not halves.reshape(2, k4 // 2, 4, 2)[1, :, 1:].any()    # padded rows
    fc = wide_fc_layout(-rows).view(np.int16)
    assert fc.size == 8 * k4
    for r in range(5):
        for k in range(7):
            group, lane = divmod(k, 4)      # words (w0, w2), (w1, w3)
            at = (r // 4) * 4 * k4 + group * 16 + (r % 4) * 4 + (lane % 2) * 2 + lane // 2
            assert fc[at] == -int(rows[r, k])


_ROUNDING_HARNESS = r"""
#include <stdio.h>
#include "aot_dsp_impl.h"

/* aot_dsp_output_fast (QADD rounding, SSAT clamp; the instructions' semantics
 * in plain C on the host) against TFLite's MultiplyByQuantizedMultiplier
 * (aot_fixedpoint.h), + offset, clamped to int8. */
int main(void)
{
    static const int32_t edges[] = {INT32_MIN, INT32_MIN + 1, -1073741824, -65537, -257,
                                    -128, -3, -2, -1, 0, 1, 2, 3, 127, 255, 65535,
                                    1073741823, 1073741824, INT32_MAX - 1, INT32_MAX};
    static const int32_t mults[] = {1073741824, 1073741825, 1518500250, 2147483646,
                                    2147483647};
    static const int32_t offsets[] = {-128, -1, 0, 5, 127};
    uint32_t seed = 12345u;
    long checked = 0, bad = 0;
    int32_t right, mi, oi, i;

    for (right = 1; right <= 23; ++right) {
        for (mi = 0; mi < 5; ++mi) {
            for (oi = 0; oi < 5; ++oi) {
                for (i = 0; i < 20 + 4000; ++i) {
                    int32_t acc, ref, got, m2;
                    if (i < 20) {
                        acc = edges[i];
                    } else {
                        seed = seed * 1664525u + 1013904223u;
                        /* every magnitude: a random value shifted right 0..31 */
                        acc = (int32_t)seed >> (int32_t)((seed >> 8) & 31u);
                    }
                    m2 = (int32_t)(2u * (uint32_t)mults[mi]);
                    ref = aot_mul_by_quantized_multiplier(acc, mults[mi], -right) + offsets[oi];
                    ref = ref < -128 ? -128 : ref > 127 ? 127 : ref;
                    got = aot_dsp_output_fast(acc, m2, right, (int32_t)1 << (right - 1),
                                              offsets[oi]);
                    ++checked;
                    if (got != ref) {
                        if (bad < 5) {
                            printf("acc %ld mult %ld shift -%ld offset %ld: %ld, reference %ld\n",
                                   (long)acc, (long)mults[mi], (long)right, (long)offsets[oi],
                                   (long)got, (long)ref);
                        }
                        ++bad;
                    }
                }
            }
        }
    }
    printf("%ld checked %ld differ\n", checked, bad);
    return bad != 0;
}
"""


def test_fast_requantization_equals_tflite_rounding(tmp_path):
    """The QADD/SSAT requantization (right shifts 1..23, full int8 clamp) gives
    TFLite's MultiplyByQuantizedMultiplier result after the clamp, including the
    sums where QADD saturates (acc near INT32_MAX)."""
    cc = shutil.which("cc") or shutil.which("gcc")
    need(cc is not None, "no host C compiler")
    runtime = Path(aot.__file__).resolve().parent.parent / "runtime_c"
    src = tmp_path / "rounding.c"
    src.write_text(_ROUNDING_HARNESS)
    exe = tmp_path / "rounding"
    res = subprocess.run([cc, "-std=c99", "-O1", "-Wall", "-Wextra", "-Werror", "-I",
                          str(runtime), str(src), "-o", str(exe)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    run = subprocess.run([str(exe)], capture_output=True, text=True)
    print(run.stdout)
    assert run.returncode == 0 and " 0 differ" in run.stdout, run.stdout

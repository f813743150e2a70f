"""The Cortex-M DSP depthwise kernels (aot_depthwise_conv2d_3x3_dsp_s8 with its
doubled sums and folded requantization, runtime_c/aot_dsp_dw_impl.h) on the
shapes that break their fast paths, bit for bit against the TFLite-int8
reference interpreter (tests/int8_reference.py, itself bit-exact with TFLM
layer by layer): channels 1 and odd counts, odd and one-pixel widths, narrow
and tall planes, stride 2 and (2, 1), asymmetric and no padding, batch 2,
no activation (full int8 range: SSAT), Relu and Relu6 (a narrower clamp),
positive and large requantization shifts (the general requantization), a
zero weight scale, and sums too large for the doubled form (the rule falls
back to the general depthwise kernel). One multi-branch QDQ model, built
with arm-none-eabi-gcc -O2 and zig's clang, run in the Cortex-M4 emulator.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper

import aot
from conftest import need, need_import
from int8_reference import Reference
from test_kernels_dsp import _init, _q, _with_output_shapes

# (name, in_shape, kernel attrs, extra): extra may set "act" (None, "relu", "relu6"),
# "out_scale" (small: positive shifts; large: right shifts past 23), "zero_scale",
# "big_bias" (sums past 2^29: the general kernel).
DW_CASES = [
    ("kws_like", (1, 5, 25, 5), {"pads": [1, 1, 1, 1]}, {"act": "relu"}),
    # group 1: an ordinary convolution, whichever kernel B's rules pick
    ("one_channel", (1, 1, 6, 6), {"pads": [1, 1, 1, 1]}, {"act": None, "kernel": None}),
    ("odd_width", (1, 3, 7, 9), {"pads": [1, 1, 1, 1]}, {"act": "relu6"}),
    ("one_col", (1, 3, 5, 1), {"pads": [1, 1, 1, 1]}, {"act": None}),
    ("wide", (1, 2, 3, 70), {"pads": [1, 1, 1, 1]}, {"act": "relu"}),
    ("s2", (1, 4, 9, 9), {"pads": [1, 1, 1, 1], "strides": [2, 2]}, {"act": "relu6"}),
    ("s2_even_asym", (1, 3, 8, 10), {"pads": [0, 0, 1, 1], "strides": [2, 2]}, {"act": None}),
    ("s21", (1, 2, 9, 6), {"pads": [1, 1, 1, 1], "strides": [2, 1]}, {"act": "relu"}),
    ("valid", (1, 3, 4, 5), {}, {"act": None}),
    ("pos_shift", (1, 3, 5, 4), {"pads": [1, 1, 1, 1]}, {"act": None, "out_scale": 0.0002}),
    ("big_shift", (1, 3, 5, 4), {"pads": [1, 1, 1, 1]}, {"act": None, "out_scale": 3000.0}),
    ("zero_scale", (1, 4, 3, 4), {"pads": [1, 1, 1, 1]}, {"act": "relu", "zero_scale": True}),
    ("big_bias", (1, 3, 5, 5), {"pads": [1, 1, 1, 1]}, {"act": None, "big_bias": True}),
    ("batch2", (2, 3, 4, 5), {"pads": [1, 1, 1, 1]}, {"act": "relu6"}),
]


def _dw_branch(rng, name, in_shape, attrs, extra, nodes, inits):
    c = in_shape[1]
    s_in, zp_in = 0.05, int(rng.integers(-20, 20))
    w = rng.integers(-128, 128, (c, 1, 3, 3)).astype(np.int8)
    w.reshape(-1)[:2] = (-128, 127)
    s_w = rng.uniform(0.002, 0.02, c).astype(np.float32)
    if extra.get("zero_scale"):
        s_w[c // 2] = 0.0
    bias_hi = 2**31 - 1 if extra.get("big_bias") else 30000
    bias = rng.integers(-bias_hi, bias_hi, c).astype(np.int32)
    s_out, zp_out = extra.get("out_scale", 0.08), int(rng.integers(-10, 10))
    inits += [_init(f"{name}_sx", np.float32(s_in)), _init(f"{name}_zx", np.int8(zp_in)),
              _init(f"{name}_w", w), _init(f"{name}_sw", s_w),
              _init(f"{name}_zw", np.zeros(c, np.int8)), _init(f"{name}_b", bias),
              _init(f"{name}_sb", (np.float32(s_in) * s_w).astype(np.float32)),
              _init(f"{name}_zb", np.zeros(c, np.int32)),
              _init(f"{name}_sy", np.float32(s_out)), _init(f"{name}_zy", np.int8(zp_out)),
              _init(f"{name}_lo", np.float32(0.0)), _init(f"{name}_hi", np.float32(6.0))]
    act = extra.get("act")
    conv_out = f"{name}_cf" if act else f"{name}_rf"
    nodes += [
        helper.make_node("DequantizeLinear", [f"{name}_x", f"{name}_sx", f"{name}_zx"],
                         [f"{name}_xf"], name=f"{name}_dqx"),
        helper.make_node("DequantizeLinear", [f"{name}_w", f"{name}_sw", f"{name}_zw"],
                         [f"{name}_wf"], axis=0, name=f"{name}_dqw"),
        helper.make_node("DequantizeLinear", [f"{name}_b", f"{name}_sb", f"{name}_zb"],
                         [f"{name}_bf"], axis=0, name=f"{name}_dqb"),
        helper.make_node("Conv", [f"{name}_xf", f"{name}_wf", f"{name}_bf"], [conv_out],
                         name=f"{name}_conv", kernel_shape=[3, 3], group=c, **attrs),
    ]
    if act == "relu":
        nodes.append(helper.make_node("Relu", [conv_out], [f"{name}_rf"], name=f"{name}_relu"))
    elif act == "relu6":
        nodes.append(helper.make_node("Clip", [conv_out, f"{name}_lo", f"{name}_hi"],
                                      [f"{name}_rf"], name=f"{name}_relu6"))
    nodes.append(helper.make_node("QuantizeLinear", [f"{name}_rf", f"{name}_sy", f"{name}_zy"],
                                  [f"{name}_y"], name=f"{name}_q"))


def dw_model():
    rng = np.random.default_rng(11)
    nodes, inits, inputs, outputs, feeds = [], [], [], [], {}
    for name, in_shape, attrs, extra in DW_CASES:
        _dw_branch(rng, name, in_shape, attrs, extra, nodes, inits)
        inputs.append(_q(f"{name}_x", TensorProto.INT8, in_shape))
        outputs.append(_q(f"{name}_y", TensorProto.INT8, None))
        feeds[f"{name}_x"] = rng.integers(-128, 128, in_shape).astype(np.int8)
    graph = helper.make_graph(nodes, "dsp_dw", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return _with_output_shapes(model), feeds


@pytest.fixture(scope="module")
def dw_cases():
    model, feeds = dw_model()
    values = Reference(model).run(feeds)
    return model, feeds, {o.name: values[o.name] for o in model.graph.output}


@pytest.mark.parametrize("toolchain,io_in_arena", [("gcc", False), ("zig", True)])
def test_depthwise_3x3_dsp_bit_exact(dw_cases, toolchain, io_in_arena, tmp_path):
    need_import("unicorn")
    if toolchain == "gcc":
        need(shutil.which("arm-none-eabi-gcc") is not None,
             "arm-none-eabi-gcc not found (Debian gcc-arm-none-eabi)")
    model, feeds, want = dw_cases
    compiled = aot.compile(model, "cortex-m4", out_dir=str(tmp_path / "m"),
                           options=aot.Options(kernels="dsp", toolchain=toolchain,
                                               optimize="speed", io_in_arena=io_in_arena))
    by_layer = {c.layer.split("+")[0]: c.kernel for c in compiled.compilation.program.calls}
    for name, _, _, extra in DW_CASES:
        if "kernel" in extra:
            continue
        assert by_layer[f"{name}_conv"] == ("aot_depthwise_conv2d_dsp_s8" if extra.get("big_bias")
                                           else "aot_depthwise_conv2d_3x3_dsp_s8"), name
    got = compiled.run(feeds)
    bad = []
    for name, ref in want.items():
        diff = np.abs(got[name].astype(np.int32) - ref.astype(np.int32))
        if got[name].shape != ref.shape or diff.any():
            bad.append(f"{name}: {int((diff > 0).sum())}/{ref.size} differ (max {diff.max()})")
    assert not bad, "; ".join(bad)


_ROUNDING_HARNESS = r"""
#include <stdio.h>
#include "aot_dsp_dw_impl.h"

/* aot_dsp_dw_output_run (doubled sums, SMMLAR with the offset and rounding
 * folded in; the instructions' semantics in plain C on the host) against
 * TFLite's MultiplyByQuantizedMultiplier (aot_fixedpoint.h) + offset, clamped,
 * for sums |acc| < 2^29 (the rule's bound), every shift -30..8 and clamps. */
int main(void)
{
    static const int32_t edges[] = {-536870911, -536870910, -65537, -257, -128, -3, -2, -1,
                                    0, 1, 2, 3, 127, 255, 65535, 536870910, 536870911};
    static const int32_t mults[] = {0, 1073741824, 1073741825, 1518500250, 2147483646,
                                    2147483647};
    static const int32_t offsets[] = {-128, -1, 0, 5, 127};
    static const int32_t clamps[][2] = {{-128, 127}, {-7, 60}};
    enum { N = 17 + 3000 };
    static int32_t acc[N];
    static int8_t y[N];
    uint32_t seed = 777u;
    long checked = 0, bad = 0;
    int32_t shift, mi, oi, ci, i;

    for (shift = -30; shift <= 8; ++shift) {
        for (mi = 0; mi < 6; ++mi) {
            for (oi = 0; oi < 5; ++oi) {
                for (ci = 0; ci < 2; ++ci) {
                    const int32_t bias = (int32_t)(seed % 2001u) - 1000;
                    for (i = 0; i < N; ++i) {
                        int32_t a;
                        if (i < 17) {
                            a = edges[i];
                        } else {
                            seed = seed * 1664525u + 1013904223u;
                            /* every magnitude below 2^29, ties included */
                            a = ((int32_t)seed >> 3) >> (int32_t)((seed >> 8) & 31u);
                        }
                        if (a - bias >= 536870912 || a - bias <= -536870912) {
                            a = 0;
                        }
                        acc[i] = 2 * (a - bias);
                    }
                    aot_dsp_dw_output_run(acc, N, 2 * bias, mults[mi], shift, offsets[oi],
                                          clamps[ci][0], clamps[ci][1], y);
                    for (i = 0; i < N; ++i) {
                        const int32_t a = acc[i] / 2 + bias;
                        int32_t ref = aot_mul_by_quantized_multiplier(a, mults[mi], shift)
                                      + offsets[oi];
                        ref = ref < clamps[ci][0] ? clamps[ci][0] : ref;
                        ref = ref > clamps[ci][1] ? clamps[ci][1] : ref;
                        ++checked;
                        if (y[i] != ref) {
                            if (bad < 5) {
                                printf("acc %ld mult %ld shift %ld offset %ld: %d, ref %ld\n",
                                       (long)a, (long)mults[mi], (long)shift,
                                       (long)offsets[oi], y[i], (long)ref);
                            }
                            ++bad;
                        }
                    }
                }
            }
        }
    }
    printf("%ld checked %ld differ\n", checked, bad);
    return bad != 0;
}
"""


def test_doubled_sum_requantization_equals_tflite_rounding(tmp_path):
    """aot_dsp_dw_output_run's SMMLAR requantization (right shifts 1..23, the
    general one elsewhere) gives TFLite's result for every sum the rule admits,
    ties included (random sums of every magnitude, multiplier 2^30 among them)."""
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


# (name, in_shape, AveragePool attrs, feed): "low"/"high" fill the input with -128/127,
# the extremes of aot_dsp_sum_s8's int16 lanes (a 40x40 plane: 400 words, two flushes).
POOL_CASES = [
    ("global_kws", (1, 6, 25, 5), {"kernel_shape": [25, 5]}, None),
    ("global_low", (1, 2, 40, 40), {"kernel_shape": [40, 40]}, "low"),
    ("global_high", (1, 2, 40, 40), {"kernel_shape": [40, 40]}, "high"),
    ("k2s2", (1, 3, 7, 9), {"kernel_shape": [2, 2], "strides": [2, 2]}, None),
    ("k3s1_pad", (1, 3, 6, 7), {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}, None),
    ("k5x3_asym", (1, 2, 9, 11), {"kernel_shape": [5, 3], "strides": [2, 3],
                                  "pads": [2, 0, 1, 2]}, None),
]


def pool_model():
    rng = np.random.default_rng(12)
    nodes, inits, inputs, outputs, feeds = [], [], [], [], {}
    for name, in_shape, attrs, fill in POOL_CASES:
        scale, zp = np.float32(0.06), np.int8(rng.integers(-20, 20))
        inits += [_init(f"{name}_s", scale), _init(f"{name}_z", zp)]
        nodes += [
            helper.make_node("DequantizeLinear", [f"{name}_x", f"{name}_s", f"{name}_z"],
                             [f"{name}_xf"], name=f"{name}_dq"),
            helper.make_node("AveragePool", [f"{name}_xf"], [f"{name}_pf"],
                             name=f"{name}_pool", **attrs),
            helper.make_node("QuantizeLinear", [f"{name}_pf", f"{name}_s", f"{name}_z"],
                             [f"{name}_y"], name=f"{name}_q"),
        ]
        inputs.append(_q(f"{name}_x", TensorProto.INT8, in_shape))
        outputs.append(_q(f"{name}_y", TensorProto.INT8, None))
        x = rng.integers(-128, 128, in_shape).astype(np.int8)
        if fill is not None:
            x[:] = -128 if fill == "low" else 127
        feeds[f"{name}_x"] = x
    graph = helper.make_graph(nodes, "dsp_pool", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return _with_output_shapes(model), feeds


def test_avgpool_dsp_bit_exact(tmp_path):
    need_import("unicorn")
    model, feeds = pool_model()
    values = Reference(model).run(feeds)
    compiled = aot.compile(model, "cortex-m4", out_dir=str(tmp_path / "m"),
                           options=aot.Options(kernels="dsp", toolchain="zig"))
    kernels = {c.layer.split("+")[0]: c.kernel for c in compiled.compilation.program.calls}
    for name, *_ in POOL_CASES:
        assert kernels[f"{name}_pool"] == "aot_avgpool2d_dsp_s8", name
    got = compiled.run(feeds)
    bad = [f"{o.name}: {int((got[o.name] != values[o.name]).sum())} differ"
           for o in model.graph.output if not np.array_equal(got[o.name], values[o.name])]
    assert not bad, "; ".join(bad)


# (name, shape, (a, b, y) (scale, zero point), relu): the doubled-table add's requantization
# on its full-range path, a narrower clamp, and an output shift past 23 (TFLite's add
# admits no positive one).
ADD_CASES = [
    ("add_full", (1, 3, 5, 7), ((0.07, 5), (0.03, -9), (0.09, 2)), False),
    ("add_relu", (1, 4, 3, 5), ((0.05, -3), (0.06, 11), (0.08, -20)), True),
    ("add_relu_ic", (1, 2, 8, 9), ((0.1, -128), (0.04, 7), (0.12, -128)), True),
    ("add_huge_out", (1, 3, 4, 5), ((0.07, 5), (0.03, -9), (60.0, 1)), False),
]


def add_model():
    rng = np.random.default_rng(13)
    nodes, inits, inputs, outputs, feeds = [], [], [], [], {}
    for name, shape, qs, relu in ADD_CASES:
        for t, (scale, zp) in zip("aby", qs):
            inits += [_init(f"{name}_s{t}", np.float32(scale)), _init(f"{name}_z{t}", np.int8(zp))]
        nodes += [
            helper.make_node("DequantizeLinear", [f"{name}_a", f"{name}_sa", f"{name}_za"],
                             [f"{name}_af"], name=f"{name}_dqa"),
            helper.make_node("DequantizeLinear", [f"{name}_b", f"{name}_sb", f"{name}_zb"],
                             [f"{name}_bf"], name=f"{name}_dqb"),
            helper.make_node("Add", [f"{name}_af", f"{name}_bf"],
                             [f"{name}_sf" if relu else f"{name}_rf"], name=f"{name}_add")]
        if relu:
            nodes.append(helper.make_node("Relu", [f"{name}_sf"], [f"{name}_rf"],
                                          name=f"{name}_relu"))
        nodes.append(helper.make_node("QuantizeLinear", [f"{name}_rf", f"{name}_sy", f"{name}_zy"],
                                      [f"{name}_y"], name=f"{name}_q"))
        for t in "ab":
            inputs.append(_q(f"{name}_{t}", TensorProto.INT8, shape))
            feeds[f"{name}_{t}"] = rng.integers(-128, 128, shape).astype(np.int8)
        outputs.append(_q(f"{name}_y", TensorProto.INT8, None))
    graph = helper.make_graph(nodes, "dsp_add", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return _with_output_shapes(model), feeds


def test_add_lut_dsp_bit_exact(tmp_path):
    need_import("unicorn")
    model, feeds = add_model()
    values = Reference(model).run(feeds)
    compiled = aot.compile(model, "cortex-m4", out_dir=str(tmp_path / "m"),
                           options=aot.Options(kernels="dsp", toolchain="zig"))
    kernels = {c.layer.split("+")[0]: c.kernel for c in compiled.compilation.program.calls}
    for name, *_ in ADD_CASES:
        assert kernels[f"{name}_add"] == "aot_add_lut_dsp_s8", name
    shifts = {c.params.fields["output_shift"] for c in compiled.compilation.program.calls}
    assert any(s < -23 for s in shifts), shifts
    got = compiled.run(feeds)
    bad = [f"{o.name}: {int((got[o.name] != values[o.name]).sum())} differ"
           for o in model.graph.output if not np.array_equal(got[o.name], values[o.name])]
    assert not bad, "; ".join(bad)


def test_per_layer_counts_with_gcc(tmp_path):
    """`aot bench --per-layer` on a gcc-built image: GNU ld's --gc-sections kept
    the layer marks only once the linker script KEEPs them (aot.targets.cross)."""
    need_import("unicorn")
    need(shutil.which("arm-none-eabi-gcc") is not None,
         "arm-none-eabi-gcc not found (Debian gcc-arm-none-eabi)")
    from aot.targets.emulator import EmulatorRunner
    model, feeds = dw_model()
    m = aot.compile(model, "cortex-m4", out_dir=str(tmp_path / "m"),
                    options=aot.Options(kernels="dsp", toolchain="gcc"))
    counts = EmulatorRunner(m.out_dir, m.manifest, toolchain="gcc",
                            layer_marks=True).layer_instructions(feeds)
    layers = counts["layers"]
    assert len(layers) == len(m.manifest["layers"]) and all(n > 0 for n in layers)
    assert sum(layers) + counts["outside"] == counts["instructions"]
    _, stats = m.run_with_stats(feeds)
    assert abs(stats["instructions"] - counts["instructions"]) <= 8 * len(layers)

"""AArch64 NEON and DotProd kernel variants (targets/rules_neon.py).

- The NEON requantization helpers (runtime_c/aot_requant_neon_impl.h: SQRDMULH
  plus the fix-up that makes SRSHL round ties away from zero) equal the
  portable C of aot_fixedpoint.h on extreme values, run in the emulator.
- int8: each variant forced (`--kernels neon`, `--kernels dotprod`) is bit-exact
  with the portable kernels on shapes that break fast paths (channels not a
  multiple of 4/8/16, odd widths, pixel counts not a multiple of the block,
  stride 2 and (2,1), padding, dilation, 5x5, one output channel, in place),
  and with TensorFlow Lite Micro on the MLPerf Tiny int8 models.
- float32: the NEON kernels (also chosen under dotprod) stay within a stated
  tolerance of onnxruntime on the same awkward shapes (plus matrix products
  with row/column tails and a batched run-time one) and on the MLPerf Tiny
  float models.
Runs on aarch64-dotprod in unicorn ('max' CPU; the MLPerf float models on
aarch64, Cortex-A72), without hooks. Long matrices are marked slow.
"""

from __future__ import annotations

import pathlib
import subprocess
import sys
from importlib import resources

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import aot
from conftest import need_import
from test_int8_tflm import PAIRS, SAMPLES, mismatches, seeded_int8, tflm_outputs

TARGET = "aarch64-dotprod"
VARIANTS = ("neon", "dotprod")
VARIANT_KERNELS = ("aot_conv2d_neon_s8", "aot_conv2d_dotprod_s8", "aot_depthwise_conv2d_neon_s8",
                   "aot_fully_connected_neon_s8", "aot_fully_connected_dotprod_s8",
                   "aot_add_neon_s8")


def emulated(compiled):
    """A runner for a compiled aarch64 model (the emulator, no hooks)."""
    need_import("unicorn")
    from aot.targets.emulator import EmulatorRunner
    return EmulatorRunner(compiled.out_dir, compiled.manifest)


# ---- requantization helpers on extreme values -------------------------------------------

HELPER_TEST_C = r"""
#include <stdint.h>
#include "aot_fixedpoint.h"
#include "aot_requant_neon_impl.h"

#define N 4096
int32_t x_in[N], mult_in[N], shift_in[N], neon_out[2 * N], ref_out[2 * N];

void test_entry(void)
{
    int32_t i;
    for (i = 0; i < N; i += 4) {
        const int32x4_t x = vld1q_s32(x_in + i), m = vld1q_s32(mult_in + i);
        const int32x4_t s = vld1q_s32(shift_in + i);
        const int32x4_t e = vnegq_s32(vandq_s32(vabsq_s32(s), vdupq_n_s32(31)));
        vst1q_s32(neon_out + i, aot_neon_mul_by_qm(x, m, aot_neon_left_shift(s),
                                                   aot_neon_right_shift(s)));
        vst1q_s32(neon_out + N + i, aot_neon_rounding_divide_by_pot(x, e));
    }
    for (i = 0; i < N; ++i) {
        const int32_t e = (shift_in[i] < 0 ? -shift_in[i] : shift_in[i]) & 31;
        ref_out[i] = aot_mul_by_quantized_multiplier(x_in[i], mult_in[i], shift_in[i]);
        ref_out[N + i] = aot_rounding_divide_by_pot(x_in[i], e);
    }
}
"""


def _extreme_cases(n=4096):
    rng = np.random.default_rng(1)
    special = [-2**31, -2**31 + 1, -2**30, -2**30 - 1, -2**30 + 1, -1, 0, 1, 2**30 - 1, 2**30,
               2**31 - 1, -3 << 20, 3 << 20, -(1 << 15), (1 << 15) - 1, -5, 5, -6, 6]
    x = np.concatenate([np.array(special * 64, np.int64)[:n // 2],
                        rng.integers(-2**31, 2**31, n // 4),
                        rng.integers(-4096, 4096, n - n // 2 - n // 4)])
    mult = np.where(rng.random(n) < 0.3,
                    rng.choice([2**30, 2**31 - 1, 2**30 + 1], n),
                    rng.integers(2**30, 2**31, n))
    shift = rng.integers(-31, 31, n)
    # Ties of the rounding right shift: x = (2k + 1) * 2^(e-1), both signs.
    ties = np.arange(n // 8)
    e = 1 + ties % 20
    x[-len(ties):] = ((2 * (ties % 7) + 1) << (e - 1)) * np.where(ties % 2, -1, 1)
    shift[-len(ties):] = -e
    return x.astype(np.int32), mult.astype(np.int32), shift.astype(np.int32)


def test_requant_helpers_equal_the_portable_code_on_extremes(tmp_path):
    unicorn = need_import("unicorn")
    need_import("elftools")
    from unicorn import arm64_const as C

    from aot.targets.cross import LAYOUTS
    from aot.targets.emulator import read_elf
    from aot.targets.target import TARGETS

    need_import("ziglang")
    runtime = pathlib.Path(str(resources.files("aot.runtime_c")))
    src = tmp_path / "t.c"
    src.write_text(HELPER_TEST_C)
    elf = tmp_path / "t.elf"
    subprocess.run([sys.executable, "-m", "ziglang", "cc", *TARGETS[TARGET].cflags, "-std=c99",
                    "-O2",
                    "-Wall", "-Wextra", "-Werror", "-ffreestanding", "-nostdlib",
                    "-fno-unwind-tables", f"-I{runtime}", "-Wl,-e,test_entry",
                    "-Wl,--image-base=0x400000", str(src), "-o", str(elf)], check=True)
    image = read_elf(str(elf), LAYOUTS["aarch64"])
    uc = unicorn.Uc(unicorn.UC_ARCH_ARM64, unicorn.UC_MODE_ARM)
    uc.ctl_set_cpu_model(C.UC_CPU_ARM64_MAX)
    pages = set()
    for addr, _, size, _ in image.segments:
        pages.update(range(addr >> 12, (addr + size + 4095) >> 12))
    for page in sorted(pages):
        uc.mem_map(page << 12, 4096)
    for addr, data, _, _ in image.segments:
        uc.mem_write(addr, bytes(data))
    uc.reg_write(C.UC_ARM64_REG_CPACR_EL1, 3 << 20)
    stack, done = 0x7f000000, 0x3ff00000
    uc.mem_map(stack, 1 << 16)
    uc.mem_map(done, 4096)
    uc.reg_write(C.UC_ARM64_REG_SP, stack + (1 << 16))
    uc.reg_write(C.UC_ARM64_REG_X30, done)
    x, mult, shift = _extreme_cases()
    sym = image.symbols
    for name, arr in (("x_in", x), ("mult_in", mult), ("shift_in", shift)):
        uc.mem_write(sym[name], arr.tobytes())
    uc.emu_start(sym["test_entry"], done, timeout=20_000_000)
    neon = np.frombuffer(uc.mem_read(sym["neon_out"], 8 * len(x)), np.int32)
    ref = np.frombuffer(uc.mem_read(sym["ref_out"], 8 * len(x)), np.int32)
    assert ref[:len(x)].any() and ref[len(x):].any()
    bad = np.flatnonzero(neon != ref)
    assert bad.size == 0, (f"{bad.size} differ, first at {bad[0]}: x={x[bad[0] % len(x)]} "
                           f"mult={mult[bad[0] % len(x)]} shift={shift[bad[0] % len(x)]}")


# ---- int8 variants vs the portable kernels on awkward shapes ----------------------------

def _conv(name, x, c_in, c_out, k, *, stride=(1, 1), pads=(0, 0, 0, 0), dil=(1, 1), group=1,
          relu=False, seed=0):
    """A Conv node (+ Relu) with seeded weights; returns (nodes, initializers, output)."""
    rng = np.random.default_rng(seed)
    w = (rng.standard_normal((c_out, c_in // group, *k)) / np.sqrt(c_in // group * k[0] * k[1]))
    b = rng.standard_normal(c_out) * 0.1
    inits = [numpy_helper.from_array(w.astype(np.float32), f"{name}_w"),
             numpy_helper.from_array(b.astype(np.float32), f"{name}_b")]
    out = f"{name}_y"
    nodes = [helper.make_node("Conv", [x, f"{name}_w", f"{name}_b"], [out if not relu else
                                                                     f"{name}_pre"],
                              name=name, kernel_shape=list(k), strides=list(stride),
                              pads=list(pads), dilations=list(dil), group=group)]
    if relu:
        nodes.append(helper.make_node("Relu", [f"{name}_pre"], [out], name=f"{name}_relu"))
    return nodes, inits, out


def awkward_model(c=5, h=9, w=19, batch=1, matmuls=False):
    """One input, a branch per awkward shape, every branch a graph output; with
    `matmuls` also float matrix products of 9 rows (tiles of 4 + 1) and 21 or 9
    columns (16 + 4 + 1), one batched over run-time operands (attention-like)."""
    x = "x"
    parts = [
        _conv("pw7", x, c, 7, (1, 1)),                                     # in_c 5, 99 pixels
        _conv("one_out_s2", x, c, 1, (3, 3), stride=(2, 2), pads=(1, 1, 1, 1), seed=1),
        _conv("dil2", x, c, 9, (3, 3), pads=(2, 2, 2, 2), dil=(2, 2), seed=2),
        _conv("k3x2_s21", x, c, 17, (3, 2), stride=(2, 1), pads=(0, 1, 1, 0), seed=3),
        _conv("dw3", x, c, c, (3, 3), pads=(1, 1, 1, 1), group=c, seed=4),
        _conv("dw5_s2", x, c, c, (5, 5), stride=(2, 2), pads=(2, 2, 2, 2), group=c, seed=5),
        _conv("dw3_s21_d2", x, c, c, (3, 3), stride=(2, 1), pads=(2, 2, 2, 2), dil=(2, 2),
              group=c, seed=6),
        _conv("pw33_relu", x, c, 33, (1, 1), relu=True, seed=7),
    ]
    nodes, inits, outs = [], [], []
    for n, i, o in parts:
        nodes += n
        inits += i
        outs.append(o)
    # An in-place chain: 1x1 up to 18 channels, depthwise, 1x1 down, each input dying.
    for n, i, o in (_conv("chain_pw", "pw7_y", 7, 18, (1, 1), relu=True, seed=8),
                    _conv("chain_dw", "chain_pw_y", 18, 18, (3, 3), pads=(1, 1, 1, 1),
                          group=18, relu=True, seed=9),
                    _conv("chain_pw2", "chain_dw_y", 18, 6, (1, 1), seed=10)):
        nodes += n
        inits += i
    if matmuls:   # float: end the chain in an op of its own, so chain_pw2 runs in place
        nodes.append(helper.make_node("Sigmoid", ["chain_pw2_y"], ["chain_end"], name="end"))
        outs.append("chain_end")
    else:
        outs.append("chain_pw2_y")
    # Same-shape add of two branches; fully connected with k = 855, n = 13.
    n, i, _ = _conv("dw3_twin", x, c, c, (3, 3), pads=(1, 1, 1, 1), group=c, seed=11)
    n[0].output[0] = "dw3_y_twin"
    nodes += n
    inits += i
    nodes.append(helper.make_node("Add", ["dw3_y", "dw3_y_twin"], ["sum"], name="add"))
    outs.append("sum")
    rng = np.random.default_rng(12)
    inits += [numpy_helper.from_array(np.array([batch, -1], np.int64), "flat_shape"),
              numpy_helper.from_array((rng.standard_normal((c * h * w, 13)) / 20)
                                      .astype(np.float32), "fc_w"),
              numpy_helper.from_array(rng.standard_normal(13).astype(np.float32), "fc_b")]
    nodes += [helper.make_node("Reshape", [x, "flat_shape"], ["flat"], name="flatten"),
              helper.make_node("MatMul", ["flat", "fc_w"], ["fc_mm"], name="fc"),
              helper.make_node("Add", ["fc_mm", "fc_b"], ["fc_y"], name="fc_bias")]
    outs.append("fc_y")
    if matmuls:
        inits += [numpy_helper.from_array(np.array([batch * c, h, w], np.int64), "rows_shape"),
                  numpy_helper.from_array(rng.standard_normal((w, 21)).astype(np.float32),
                                          "mm_w")]
        nodes += [helper.make_node("Reshape", [x, "rows_shape"], ["rows"], name="rows"),
                  helper.make_node("MatMul", ["rows", "mm_w"], ["mm_y"], name="mm"),
                  helper.make_node("Transpose", ["rows"], ["rows_t"], perm=[0, 2, 1],
                                   name="rows_t"),
                  helper.make_node("MatMul", ["rows", "rows_t"], ["gram_y"], name="gram")]
        outs += ["mm_y", "gram_y"]
    graph = helper.make_graph(
        nodes, "awkward", [helper.make_tensor_value_info(x, TensorProto.FLOAT, [batch, c, h, w])],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outs], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    from onnx import shape_inference
    return shape_inference.infer_shapes(model)


@pytest.mark.parametrize("batch", [1, pytest.param(2, marks=pytest.mark.slow)])
def test_int8_variants_bit_exact_with_portable(batch, tmp_path):
    model = awkward_model(batch=batch)
    shape = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    rng = np.random.default_rng(batch)
    calib = tmp_path / "calib.npz"
    np.savez(calib, x=rng.standard_normal((8, *shape)).astype(np.float32))
    feeds = [{"x": (rng.standard_normal(shape) * s).astype(np.float32)} for s in (1.0, 4.0)]
    results, kernels = {}, {}
    for kind in ("portable", *VARIANTS):
        compiled = aot.compile(model.SerializeToString(), TARGET, out_dir=str(tmp_path / kind),
                               options=aot.Options(name="awk", kernels=kind, quantize="int8",
                                                   calibration=str(calib)))
        kernels[kind] = {c.kernel for c in compiled.compilation.program.calls}
        if kind != "portable" and batch == 1:   # the chain really runs in place
            assert {"chain_pw_y", "chain_dw_y", "chain_pw2_y"} <= \
                {k.split("_QuantizeLinear")[0] for k in compiled.compilation.plan.inplace}
        runner = emulated(compiled)
        results[kind] = [runner.run(f) for f in feeds]
    assert not kernels["portable"] & set(VARIANT_KERNELS)
    assert {"aot_conv2d_neon_s8", "aot_depthwise_conv2d_neon_s8", "aot_fully_connected_neon_s8",
            "aot_add_neon_s8"} <= kernels["neon"]
    assert {"aot_conv2d_dotprod_s8", "aot_depthwise_conv2d_neon_s8",
            "aot_fully_connected_dotprod_s8", "aot_add_neon_s8"} <= kernels["dotprod"]
    for kind in VARIANTS:
        for ref, got in zip(results["portable"], results[kind]):
            for name in ref:
                np.testing.assert_array_equal(got[name], ref[name], err_msg=f"{kind}: {name}")


# ---- MLPerf Tiny int8: bit-exact with TFLM with each variant forced ----------------------

_TFLM_CACHE: dict[tuple[str, int], list] = {}


# NEON code runs at ~70 M instructions/s in unicorn (scalar code: ~700 M/s), so the
# default run takes 20 of the suite's seeded inputs; the slow run all of them.
# The default run checks every model with dotprod (the target's own choice) and the two
# small ones with neon; the rest is in the slow run.
SLOW = pytest.mark.slow
MLPERF_INT8 = [pytest.param(key, kernels, 20, marks=() if kernels == "dotprod" or key in
                            ("kws", "ad") else SLOW, id=f"{key}-{kernels}")
               for key in sorted(PAIRS) for kernels in VARIANTS] + \
              [pytest.param(key, kernels, SAMPLES, marks=SLOW, id=f"{key}-{kernels}-all")
               for key in sorted(PAIRS) for kernels in VARIANTS]


@pytest.mark.parametrize("key, kernels, samples", MLPERF_INT8)
def test_mlperf_int8_bit_exact_with_tflm(key, kernels, samples, mlperf_dir, tmp_path):
    onnx_file, tflite_file = PAIRS[key]
    model = aot.compile(str(mlperf_dir / onnx_file), TARGET, out_dir=str(tmp_path / key),
                        options=aot.Options(kernels=kernels))
    used = {c.kernel for c in model.compilation.program.calls}
    assert used & set(VARIANT_KERNELS), f"no {kernels} kernel chosen: {sorted(used)}"
    [inp] = model.manifest["inputs"]
    [out] = model.manifest["outputs"]
    xs = seeded_int8(inp["shape"], SAMPLES)[:samples]
    runner = emulated(model)
    ours = [runner.run({inp["name"]: x})[out["name"]] for x in xs]
    if (key, samples) not in _TFLM_CACHE:
        _TFLM_CACHE[key, samples] = tflm_outputs(mlperf_dir / tflite_file, xs)
    ref = _TFLM_CACHE[key, samples]
    count, worst = mismatches(ours, ref)
    total = sum(r.size for r in ref)
    print(f"{key} on {TARGET} --kernels {kernels}: {count}/{total} differ from TFLM")
    assert count == 0, f"{count} of {total} output elements differ from TFLM (max {worst} LSB)"


# ---- float32 NEON kernels vs onnxruntime --------------------------------------------------

# Fused multiply-adds (vfmaq) round once per product where the portable build
# (-ffp-contract=off) rounds twice, and sums keep the portable order: results
# stay within this tolerance of onnxruntime (max |error| seen: ~5e-7 relative).
F32_RTOL = 1e-5
F32_ATOL = 1e-5       # times max(1, max |reference|)
F32_NEON_KERNELS = {"aot_conv2d_neon_f32", "aot_depthwise_conv2d_neon_f32",
                    "aot_matmul_neon_f32"}


def _close_to_onnxruntime(model_bytes, runner, feeds_list, optimized=True):
    """Outputs within the tolerance of onnxruntime (graph optimizations off with
    optimized=False: ORT's Conv+Add fusion drops a fused tensor that is also a
    graph output, as in awkward_model)."""
    ort = need_import("onnxruntime")
    options = ort.SessionOptions()
    if not optimized:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    for feeds in feeds_list:
        ours = runner.run(feeds)
        for name, ref in zip(names, sess.run(None, feeds)):
            scale = max(1.0, float(np.abs(ref).max()))
            np.testing.assert_allclose(ours[name], ref, rtol=F32_RTOL, atol=F32_ATOL * scale,
                                       err_msg=name)


@pytest.mark.parametrize("kernels", ["neon", pytest.param("dotprod", marks=pytest.mark.slow)])
def test_f32_neon_kernels_on_awkward_shapes(kernels, tmp_path):
    model = awkward_model(matmuls=True)
    data = model.SerializeToString()
    compiled = aot.compile(data, TARGET, out_dir=str(tmp_path / "o"),
                           options=aot.Options(name="awk", kernels=kernels))
    used = {c.kernel for c in compiled.compilation.program.calls}
    assert F32_NEON_KERNELS <= used
    assert {"chain_dw_y", "chain_pw2_y"} <= set(compiled.compilation.plan.inplace)
    rng = np.random.default_rng(3)
    _close_to_onnxruntime(data, emulated(compiled),
                          [{"x": rng.standard_normal((1, 5, 9, 19)).astype(np.float32)}
                           for _ in range(2)], optimized=False)


@pytest.mark.parametrize("model", ["kws_float.onnx", "ad_float.onnx",
                                   pytest.param("vww_float.onnx", marks=pytest.mark.slow),
                                   pytest.param("ic_float.onnx", marks=pytest.mark.slow)])
def test_mlperf_float_neon_within_tolerance_of_onnxruntime(model, mlperf_dir, tmp_path):
    path = mlperf_dir / model
    compiled = aot.compile(str(path), "aarch64", out_dir=str(tmp_path / "o"))
    assert F32_NEON_KERNELS & {c.kernel for c in compiled.compilation.program.calls}
    [inp] = compiled.manifest["inputs"]
    rng = np.random.default_rng(0)
    _close_to_onnxruntime(path.read_bytes(), emulated(compiled),
                          [{inp["name"]: rng.standard_normal(inp["shape"]).astype(np.float32)}
                           for _ in range(2)])

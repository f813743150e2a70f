"""Integer safety (aot/intsafety.py): the accumulator and SIMD-intermediate bounds
are exact, the pipeline refuses an int8 layer whose int32 accumulator can
overflow (naming the node), and extreme weights (all -128 / 127) with extreme
inputs stay bit-exact with the TFLite-int8 reference under every kernel
variant of the host target and of cortex-m4.
"""

from __future__ import annotations

import itertools

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import aot
from aot.errors import ModelError
from aot.intsafety import I32_MAX, layer_bounds, node_bounds, pair_sum_range
from conftest import need_import
from difftest import run_aot
from int8_reference import Reference


def brute(w, bias, x_zp, w_zp, lo, hi):
    """(min, max) of bias + sum (x - x_zp)(w - w_zp) over every input corner: a sum of
    independent terms linear in each x_k takes its extremes at the corners."""
    w = np.asarray(w, np.int64) - np.asarray(w_zp, np.int64).reshape(-1, 1)
    corners = np.array(list(itertools.product([lo, hi], repeat=w.shape[1])), np.int64)
    acc = (corners - x_zp) @ w.T + np.asarray(bias, np.int64)
    return int(acc.min()), int(acc.max())


def test_accumulator_bounds_are_exact():
    rng = np.random.default_rng(0)
    for _ in range(200):
        n, k = int(rng.integers(1, 4)), int(rng.integers(1, 7))
        w = rng.integers(-128, 128, (n, k))
        bias = rng.integers(-10**6, 10**6, n)
        x_zp = int(rng.integers(-128, 128))
        w_zp = rng.integers(-5, 6, n) if rng.random() < 0.3 else 0
        lo = int(rng.integers(-128, 0))
        hi = int(rng.integers(lo, 128))
        b = layer_bounds(w, bias, x_zp, w_zp, input_range=(lo, hi))
        assert (b.acc_min, b.acc_max) == brute(w, bias, x_zp, w_zp, lo, hi)
        assert (b.raw_min, b.raw_max) == brute(w, np.zeros(n), 0, w_zp, lo, hi)
        assert (b.biased_min, b.biased_max) == brute(w, np.zeros(n), -128, w_zp, lo, hi)
        # Random interior inputs stay inside.
        x = rng.integers(lo, hi + 1, (50, k))
        acc = (x - x_zp) @ (w - np.asarray(w_zp).reshape(-1, 1)).T + bias
        assert b.acc_min <= acc.min() and acc.max() <= b.acc_max


def test_pair_bounds_are_exact():
    rng = np.random.default_rng(1)
    for _ in range(200):
        n, k = int(rng.integers(1, 4)), int(rng.integers(1, 9))
        w = rng.integers(-128, 128, (n, k))
        # the given pairing (0,1), (2,3), ...: brute force over u in {0, 255}
        want_lo, want_hi = 0, 0
        wp = np.concatenate([w, np.zeros((n, k % 2), np.int64)], axis=1)
        for a in range(0, wp.shape[1], 2):
            for u in itertools.product([0, 255], repeat=2):
                s = wp[:, a] * u[0] + wp[:, a + 1] * u[1]
                want_lo, want_hi = min(want_lo, int(s.min())), max(want_hi, int(s.max()))
        assert pair_sum_range(w) == (want_lo, want_hi)
        # any pairing: at least as wide as every concrete one
        b = layer_bounds(w, None, 0)
        for perm in (rng.permutation(k) for _ in range(5)):
            lo, hi = pair_sum_range(w[:, perm])
            assert b.pair_min <= lo and hi <= b.pair_max


def test_extreme_weights():
    k = 4096
    for wv, zp in [(127, -128), (-128, -128), (127, 127), (-128, 127), (-127, 0)]:
        w = np.full((2, k), wv)
        b = layer_bounds(w, np.array([0, 0]), zp)
        d = max(abs(-128 - zp), abs(127 - zp))
        assert max(abs(b.acc_min), abs(b.acc_max)) == k * abs(wv) * d
        assert b.acc_fits_int32
    # vpmaddubsw: two weights of 127 times u8 255 saturate int16; 64 does not.
    assert not layer_bounds(np.full((1, 8), 127), None, 0).pairs_fit_int16
    assert layer_bounds(np.full((1, 8), 127), None, 0).max_abs_pair == 2 * 255 * 127
    assert layer_bounds(np.full((1, 8), 64), None, 0).pairs_fit_int16
    assert layer_bounds(np.full((1, 8), -64), None, 0).pairs_fit_int16
    assert not layer_bounds(np.array([[-128, -1]]), None, 0).pairs_fit_int16   # -32895
    # The int32 accumulator: more than I32_MAX // (255 * 127) = 66,311 taps of
    # 127 * 255 overflow; a bias at the edge too.
    assert layer_bounds(np.full((1, 66311), 127), None, -128).acc_fits_int32
    assert not layer_bounds(np.full((1, 66312), 127), None, -128).acc_fits_int32
    edge = layer_bounds(np.full((1, 3), 1), np.array([I32_MAX - 765]), -128)
    assert edge.acc_max == I32_MAX and edge.acc_fits_int32
    assert not layer_bounds(np.full((1, 3), 1), np.array([I32_MAX - 764]), -128).acc_fits_int32


def qdq_conv(weights: np.ndarray, bias: np.ndarray, in_q=(0.05, -128), out_q=(0.5, 0),
             x_shape=(1, 4, 5, 5), w_scale=0.01, group=1) -> onnx.ModelProto:
    """x int8 -> DQ -> Conv(DQ w, DQ bias) -> Q -> y int8, TFLite-style quantization."""
    m = weights.shape[0]
    inits = [
        numpy_helper.from_array(np.float32(in_q[0]), "xs"),
        numpy_helper.from_array(np.int8(in_q[1]), "xz"),
        numpy_helper.from_array(weights.astype(np.int8), "w"),
        numpy_helper.from_array(np.full(m, w_scale, np.float32), "ws"),
        numpy_helper.from_array(np.zeros(m, np.int8), "wz"),
        numpy_helper.from_array(bias.astype(np.int32), "b"),
        numpy_helper.from_array(np.full(m, np.float32(in_q[0]) * np.float32(w_scale),
                                        np.float32), "bs"),
        numpy_helper.from_array(np.zeros(m, np.int32), "bz"),
        numpy_helper.from_array(np.float32(out_q[0]), "ys"),
        numpy_helper.from_array(np.int8(out_q[1]), "yz"),
    ]
    nodes = [
        helper.make_node("DequantizeLinear", ["x", "xs", "xz"], ["xf"]),
        helper.make_node("DequantizeLinear", ["w", "ws", "wz"], ["wf"], axis=0),
        helper.make_node("DequantizeLinear", ["b", "bs", "bz"], ["bf"], axis=0),
        helper.make_node("Conv", ["xf", "wf", "bf"], ["yf"], name="extreme_conv",
                         pads=[1, 1, 1, 1], group=group),
        helper.make_node("QuantizeLinear", ["yf", "ys", "yz"], ["y"]),
    ]
    out_shape = [x_shape[0], m, x_shape[2], x_shape[3]]
    graph = helper.make_graph(nodes, "extreme",
                              [helper.make_tensor_value_info("x", TensorProto.INT8, x_shape)],
                              [helper.make_tensor_value_info("y", TensorProto.INT8, out_shape)],
                              inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model


def test_overflowing_layer_is_refused_naming_the_node(tmp_path):
    w = np.full((2, 4, 3, 3), 127, np.int8)
    bias = np.array([I32_MAX - 1000, 0], np.int32)   # 36 taps * 255 * 127 on top overflows
    with pytest.raises(ModelError, match="extreme_conv") as e:
        aot.compile(qdq_conv(w, bias), "x86-64", out_dir=str(tmp_path / "o"))
    assert "overflow" in str(e.value) and "channel 0" in str(e.value)
    assert not (tmp_path / "o").exists()


def test_node_bounds_on_the_mlperf_models(mlperf_dir):
    """Every int8 layer of the MLPerf Tiny models provably fits int32; print how
    many would saturate a vpmaddubsw pair (for the x86 variant rules)."""
    from aot.frontend import import_model
    from aot.passes.pipeline import FLOAT_PIPELINE, run_pipeline

    for name in ("kws_int8", "vww_int8", "ic_int8", "ad_int8"):
        graph = run_pipeline(import_model(str(mlperf_dir / f"{name}.onnx")), FLOAT_PIPELINE)
        bounds = [b for n in graph.nodes if (b := node_bounds(n, graph.tensor)) is not None]
        assert bounds and all(b.acc_fits_int32 for b in bounds)
        worst = max(max(abs(b.acc_min), abs(b.acc_max)) for b in bounds)
        unsafe = sum(not b.pairs_fit_int16 for b in bounds)
        print(f"{name}: {len(bounds)} layers, max |acc| {worst} "
              f"({worst / I32_MAX:.2%} of int32), {unsafe} would saturate vpmaddubsw pairs")


EXTREMES = [(127, -128, -128), (-128, 127, -128), (127, 127, 127), (-127, -128, 127)]


def _variant_cases():
    from aot.targets.target import resolve

    cases = [("x86-64", "portable")]
    native = resolve("native")
    cases += [(native.name, v) for v in ("auto", *native.variants)]
    cases += [("cortex-m4", "dsp")]   # the portable C is the same as x86-64's
    return cases


@pytest.fixture(scope="module")
def builder(tmp_path_factory):
    from difftest import FastBuilder

    return FastBuilder(str(tmp_path_factory.mktemp("runtime-objects")))


@pytest.mark.parametrize("extremes", [
    pytest.param(EXTREMES, marks=pytest.mark.slow, id="all"),
    pytest.param(EXTREMES[::3], id="two")])
@pytest.mark.parametrize("target,kernels", _variant_cases())
def test_extreme_weights_and_inputs_in_every_variant(target, kernels, extremes, builder,
                                                     tmp_path):
    """All -128/127 weights and inputs, extreme zero points and a bias near the
    provable limit: bit-exact with the reference in each kernel variant (a
    variant must fall back where its 16-bit intermediates would saturate)."""
    if target == "cortex-m4":
        need_import("unicorn")
    for i, (wv, xv, zp) in enumerate(extremes):
        for depthwise in (False, True):
            m, c = (4, 4) if depthwise else (5, 4)
            w = np.full((m, 1 if depthwise else c, 3, 3), wv, np.int8)
            w[0, 0, 0, 0] = -wv if wv != -128 else 127   # mixed signs in one channel
            taps = w[0].size
            room = I32_MAX - taps * 255 * 128
            bias = np.array([room, -room, 0, 12345, -7][:m], np.int32)
            model = qdq_conv(w, bias, in_q=(0.02, zp), out_q=(2000.0, 0),
                             group=c if depthwise else 1)
            x = np.full((1, 4, 5, 5), xv, np.int8)
            x[0, 0, 2, 2] = -xv - 1 if xv == 127 else 127
            out = tmp_path / f"{i}{depthwise}"
            options = aot.Options(kernels=kernels)
            if target == "cortex-m4":
                got = aot.compile(model, target, out_dir=str(out), options=options).run({"x": x})
            else:
                got = run_aot(model, {"x": x}, str(out), builder, options, target)
            got = got["y"]
            want = Reference(model).run({"x": x})["y"]
            np.testing.assert_array_equal(got, want, err_msg=f"{wv} {xv} {zp} dw={depthwise}")
            assert len(np.unique(want)) > 1

"""Threads: `<name>_run_ex` with an executor, and the split of heavy layers.

The property: results do not depend on the number of workers (bit for bit,
N = 1..4), on the host with the pthreads executor and in the AArch64
emulator with the parts run serially; float results still match
onnxruntime. Firmware targets get no `_run_ex` and no task code.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import aot
from aot.program import Call, Null, Params, Ref, Scratch, Split
from aot.targets.split import MIN_SPLIT_MACS, describe, plan_splits
from aot.targets.target import resolve
from conftest import need, need_import

WORKERS = (1, 2, 3, 4)


def _model(nodes, inputs, outputs, inits) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", inputs, outputs, inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _vi(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def _w(rng, name, shape):
    return numpy_helper.from_array((rng.standard_normal(shape) * 0.2).astype(np.float32), name)


def node_models() -> dict[str, onnx.ModelProto]:
    """Heavy layers of each split form: conv by output channel (odd count), depthwise
    conv by group, Gemm with one row (by column), MatMul by rows, batched MatMul, and
    the weight-only int8 MatMul by rows."""
    rng = np.random.default_rng(7)
    return {
        "conv": _model([helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=[1, 1, 1, 1],
                                         strides=[1, 2])],
                       [_vi("x", [1, 12, 30, 33])], [_vi("y", [1, 37, 30, 17])],
                       [_w(rng, "w", [37, 12, 3, 3]), _w(rng, "b", [37])]),
        "depthwise": _model([helper.make_node("Conv", ["x", "w"], ["y"], group=24,
                                              pads=[2, 2, 2, 2]),
                             helper.make_node("Relu", ["y"], ["z"])],
                            [_vi("x", [1, 24, 48, 47])], [_vi("z", [1, 24, 48, 47])],
                            [_w(rng, "w", [24, 1, 5, 5])]),
        "gemm_row": _model([helper.make_node("Gemm", ["x", "w", "b"], ["y"], transB=1)],
                           [_vi("x", [1, 700])], [_vi("y", [1, 413])],
                           [_w(rng, "w", [413, 700]), _w(rng, "b", [413])]),
        "matmul": _model([helper.make_node("MatMul", ["x", "w"], ["y"])],
                         [_vi("x", [61, 96])], [_vi("y", [61, 53])], [_w(rng, "w", [96, 53])]),
        "batched": _model([helper.make_node("MatMul", ["x", "y"], ["z"])],
                          [_vi("x", [5, 40, 64]), _vi("y", [5, 64, 48])],
                          [_vi("z", [5, 40, 48])], []),
        # weight-only int8 (kept int8, the scale applied in the kernel), by rows
        "matmul_w8": _model([helper.make_node("Cast", ["w8"], ["wf"], to=TensorProto.FLOAT),
                             helper.make_node("Mul", ["wf", "scale"], ["w"]),
                             helper.make_node("MatMul", ["x", "w"], ["y"])],
                            [_vi("x", [70, 128])], [_vi("y", [70, 60])],
                            [numpy_helper.from_array(
                                rng.integers(-128, 128, (128, 60)).astype(np.int8), "w8"),
                             numpy_helper.from_array(
                                 (rng.random(60) * 0.01).astype(np.float32), "scale")]),
    }


def _feeds(manifest, seed=0):
    rng = np.random.default_rng(seed)
    feeds = {}
    for s in manifest["inputs"]:
        if s["dtype"] == "float32":
            feeds[s["name"]] = rng.standard_normal(s["shape"]).astype(np.float32)
        else:
            feeds[s["name"]] = rng.integers(-128, 128, s["shape"]).astype(s["dtype"])
    return feeds


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def _ort(model, feeds):
    ort = need_import("onnxruntime")
    data = model if isinstance(model, (str, bytes)) else model.SerializeToString()
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))


# -- the split plan ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(node_models()))
def test_every_heavy_form_is_split(tmp_path, name):
    m = aot.compile(node_models()[name], "x86-64", out_dir=str(tmp_path / name),
                    options=aot.Options(name=name))
    heavy = [c for c in m.compilation.program.calls if c.macs >= MIN_SPLIT_MACS]
    assert heavy and all(c.split is not None for c in heavy)
    assert m.manifest["executor"] is True
    assert any(layer["split"] for layer in m.manifest["layers"])


def test_firmware_targets_get_no_executor(tmp_path):
    m = aot.compile(node_models()["conv"], "cortex-m4", out_dir=str(tmp_path / "m4"),
                    options=aot.Options(name="conv"))
    assert m.manifest["executor"] is False
    assert all(c.split is None for c in m.compilation.program.calls)
    text = (tmp_path / "m4" / "conv.c").read_text() + (tmp_path / "m4" / "conv.h").read_text()
    assert "run_ex" not in text and "aot_executor" not in text
    assert not any("executor" in f for f in m.manifest["files"])
    x86 = aot.compile(node_models()["conv"], "x86-64", out_dir=str(tmp_path / "x86"),
                      options=aot.Options(name="conv"))
    # The libc-free output holds the executor interface, never the pthreads source.
    assert "aot_runtime/aot_executor.h" in x86.manifest["files"]
    assert not any(f.endswith(".c") and "executor" in f for f in x86.manifest["files"])


def _conv_call(**extra) -> Call:
    fields = {"batch": 1, "in_c": 8, "in_h": 16, "in_w": 16, "out_c": 64, "out_h": 16,
              "out_w": 16, "kernel_h": 3, "kernel_w": 3, "stride_h": 1, "stride_w": 1,
              "dilation_h": 1, "dilation_w": 1, "pad_top": 1, "pad_left": 1, "groups": 1}
    return Call("aot_conv2d_f32", Params("aot_conv2d_params", fields),
                (Ref("x"), Ref("w"), Null(), Ref("y")), ("x", "w"), ("y",), "conv", "Conv",
                macs=64 * 16 * 16 * 8 * 9, **extra)


def test_describe_portable_conv():
    split = describe(_conv_call())
    assert split.axis == "out_c" and split.units == 64
    assert dict(split.operands) == {1: 8 * 9, 3: 256}   # NULL bias: no shift


def test_declared_split_wins_scratch_per_part_never_in_place():
    from aot.program import Program
    from aot.targets.split import MAX_SCRATCH_PARTS
    declared = Split("out_c", 64, 16, fields=(("out_c", 1),), operands=((3, 256),))
    scratch = (Ref("x"), Ref("w"), Null(), Ref("y"), Scratch())
    calls = [_conv_call(split=declared),
             dataclasses.replace(_conv_call(), kernel="aot_conv2d_x_f32"),   # unknown kernel
             dataclasses.replace(_conv_call(), scratch_bytes=100, operands=scratch),
             dataclasses.replace(_conv_call(), scratch_bytes=100, operands=scratch,
                                 inplace=("x",)),
             dataclasses.replace(_conv_call(), macs=MIN_SPLIT_MACS - 1)]
    program = Program("p", tuple(calls), {}, ("x",), ("y",))
    planned = plan_splits(program, resolve("x86-64")).steps
    got = [c.split for c in planned]
    assert got[0] == declared and got[1] is None and got[3:] == [None, None]
    # A call that may run in place is split when the plan does not put it over its input.
    assert plan_splits(program, resolve("x86-64"), in_place=set()).steps[3].split is not None
    assert plan_splits(program, resolve("x86-64"), in_place={"y"}).steps[3].split is None
    assert got[2].scratch_parts == MAX_SCRATCH_PARTS and got[2].scratch_stride == 128
    assert planned[2].scratch_bytes == 128 * MAX_SCRATCH_PARTS
    assert all(c.split is None
               for c in plan_splits(program, resolve("cortex-m4")).steps)


# -- host: pthreads executor ----------------------------------------------------------------------

# The native (AVX-512) builds take ~20 s of gcc each here: in the slow run, but for one.
@pytest.mark.parametrize("target", ["x86-64", pytest.param("native", marks=pytest.mark.slow)])
@pytest.mark.parametrize("name", list(node_models()))
def test_node_shapes_identical_for_every_worker_count(tmp_path, name, target):
    model = node_models()[name]
    m = aot.compile(model, target, out_dir=str(tmp_path / name), options=aot.Options(name=name))
    feeds = _feeds(m.manifest)
    one = m.run(feeds)
    for n in WORKERS[1:]:
        assert _same(m.run(feeds, threads=n), one), f"{n} workers"
    ref = _ort(model, feeds)
    for k, v in ref.items():   # SIMD kernels fuse multiply-adds: a looser bound there
        scale = float(np.abs(v).max()) or 1.0
        assert float(np.abs(one[k] - v).max()) <= (1e-5 if target == "x86-64" else 1e-4) * scale


@pytest.mark.parametrize("target", ["native", "x86-64-avx2"])
def test_simd_depthwise_split_by_channels(tmp_path, target):
    """The float SIMD depthwise kernels split by groups of channels, identical for every
    worker count."""
    model = node_models()["depthwise"]
    m = aot.compile(model, target, out_dir=str(tmp_path / "dw"), options=aot.Options(name="dw"))
    layers = [layer for layer in m.manifest["layers"] if "depthwise" in layer["kernel"]]
    assert layers and all(layer["split"] for layer in layers), m.manifest["layers"]
    feeds = _feeds(m.manifest)
    one = m.run(feeds)
    for n in WORKERS[1:]:
        assert _same(m.run(feeds, threads=n), one), f"{n} workers"
    for k, v in _ort(model, feeds).items():
        assert float(np.abs(one[k] - v).max()) <= 1e-4 * float(np.abs(v).max())


# (model, target): the portable kernels and the native SIMD ones (scratch per part).
MLPERF_DEFAULT = (("kws_float.onnx", "x86-64"), ("kws_int8.onnx", "native"))
MLPERF_ALL = ("kws_float.onnx", "kws_int8.onnx", "vww_float.onnx", "vww_int8.onnx",
              "ic_float.onnx", "ic_int8.onnx", "ad_float.onnx", "ad_int8.onnx")


def _mlperf_identical(mlperf_dir, tmp_path, file, inplace=True, target="x86-64"):
    path = mlperf_dir / file
    need(path.exists(), f"{path} not found")
    m = aot.compile(str(path), target, out_dir=str(tmp_path / "m"),
                    options=aot.Options(inplace=inplace))
    if not file.startswith("ad_"):   # AD's layers are all too light to split
        assert any(layer["split"] for layer in m.manifest["layers"]), "no layer was split"
    for seed in (0, 1):
        feeds = _feeds(m.manifest, seed)
        one = m.run(feeds)
        for n in WORKERS[1:]:
            assert _same(m.run(feeds, threads=n), one), f"{file}: {n} workers, seed {seed}"
        if file.endswith("_float.onnx"):   # still right, not only self-consistent
            ref = _ort(str(path), feeds)
            for got, want in zip(one.values(), ref.values()):
                scale = float(np.abs(want).max()) or 1.0
                assert float(np.abs(got - want).max()) <= 1e-4 * scale


@pytest.mark.parametrize("file,target", MLPERF_DEFAULT)
def test_mlperf_identical_for_every_worker_count(mlperf_dir, tmp_path, file, target):
    _mlperf_identical(mlperf_dir, tmp_path, file, target=target)


def test_out_of_place_build_splits_the_pointwise_layers(mlperf_dir, tmp_path):
    """In-place convolutions (the default where they save arena) run on one thread;
    inplace=False trades those bytes for threads: then most of KWS's MACs split."""
    _mlperf_identical(mlperf_dir, tmp_path, "kws_float.onnx", inplace=False)
    m = aot.CompiledModel.load(str(tmp_path / "m"))
    split = sum(layer["macs"] for layer in m.manifest["layers"] if layer["split"])
    assert split >= 0.8 * sum(layer["macs"] for layer in m.manifest["layers"])


@pytest.mark.slow
@pytest.mark.parametrize("target", ["x86-64", "native"])
@pytest.mark.parametrize("inplace", [True, False])
@pytest.mark.parametrize("file", MLPERF_ALL)
def test_mlperf_identical_for_every_worker_count_slow(mlperf_dir, tmp_path, file, inplace,
                                                      target):
    _mlperf_identical(mlperf_dir, tmp_path, file, inplace, target)


def test_threads_refused_where_there_are_none(tmp_path):
    from aot.errors import UsageError
    m = aot.compile(node_models()["conv"], "cortex-m4", out_dir=str(tmp_path / "m"),
                    options=aot.Options(name="conv"))
    need_import("unicorn")
    with pytest.raises(UsageError, match="run_ex"):
        m.run(_feeds(m.manifest), threads=2)


def test_split_output_is_strict_c_and_race_free(tmp_path):
    """The generated tasks and the pthreads executor compile under the strict flags,
    and a C program running `_run_ex` with 2..4 workers under ThreadSanitizer reports
    no race and gets `_run`'s outputs."""
    cc = shutil.which("gcc")
    need(cc is not None, "gcc not found")
    out = tmp_path / "conv"
    aot.compile(node_models()["conv"], "x86-64", out_dir=str(out), options=aot.Options(name="conv"))
    strict = ["-std=c99", "-pedantic", "-Wall", "-Wextra", "-Wshadow", "-Wconversion",
              "-Werror", "-O2"]
    from importlib import resources
    runtime_dir = resources.files("aot.runtime_c")
    pthreads = str(runtime_dir / "aot_executor_pthreads.c")
    for src in [out / "conv.c", pthreads]:
        proc = subprocess.run([cc, *strict, "-c", str(src), "-o", str(tmp_path / "x.o"),
                               f"-I{out}"], capture_output=True, text=True)
        assert proc.returncode == 0 and not proc.stderr, proc.stderr
    main = tmp_path / "main.c"
    main.write_text("""
#include <string.h>
#include "conv.h"
#include "aot_executor_pthreads.h"
static float x[CONV_INPUT0_SIZE], y1[CONV_OUTPUT0_SIZE], y2[CONV_OUTPUT0_SIZE];
static unsigned char arena[CONV_ARENA_SIZE + 1] __attribute__((aligned(16)));
int main(void)
{
    int i, n, bad = 0;
    for (i = 0; i < CONV_INPUT0_SIZE; ++i) x[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
    if (conv_run(x, y1, arena) != 0) return 2;
    for (n = 2; n <= 4; ++n) {
        aot_executor ex;
        if (aot_executor_pthreads_create(&ex, n) != 0) return 3;
        for (i = 0; i < 10; ++i) {
            if (conv_run_ex(x, y2, arena, &ex) != 0) return 4;
            bad += memcmp(y1, y2, sizeof y1) != 0;
        }
        aot_executor_pthreads_destroy(&ex);
    }
    return bad;
}
""")
    srcs = [str(main), str(out / "conv.c"), str(out / "conv_weights.c"), pthreads,
            *map(str, sorted((out / "aot_runtime").glob("*.c")))]
    exe = tmp_path / "tsan"
    proc = subprocess.run([cc, "-std=c99", "-O1", "-g", "-fsanitize=thread", "-pthread",
                           f"-I{out}", f"-I{runtime_dir}", *srcs, "-o", str(exe)], capture_output=True, text=True)
    need(proc.returncode == 0, f"no ThreadSanitizer build here: {proc.stderr[:200]}")
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and "ThreadSanitizer" not in run.stderr, run.stderr[-2000:]


# -- AArch64 emulator: parts run serially, per-worker counts --------------------------------------

def test_aarch64_split_verified_serially(tmp_path):
    need_import("unicorn")
    need_import("ziglang")
    rng = np.random.default_rng(3)
    model = _model([helper.make_node("Gemm", ["x", "w", "b"], ["y"], transB=1)],
                   [_vi("x", [1, 1000])], [_vi("y", [1, 480])],
                   [_w(rng, "w", [480, 1000]), _w(rng, "b", [480])])
    m = aot.compile(model, "aarch64", out_dir=str(tmp_path / "a64"),
                    options=aot.Options(name="gemm"))
    assert m.manifest["executor"]
    feeds = _feeds(m.manifest)
    one, stats1 = m.run_with_stats(feeds)
    ref = _ort(model, feeds)["y"]
    assert float(np.abs(one["y"] - ref).max()) <= 1e-5 * float(np.abs(ref).max())
    for n in (2, 3):
        many, stats = m.run_with_stats(feeds, threads=n)
        assert _same(many, one)
        workers = stats["workers"]
        assert len(workers) == n and all(w > 0 for w in workers)
        assert sum(workers) + stats["serial_instructions"] == stats["instructions"]
        # 480 columns = 30 blocks of 16, dealt out evenly: equal parts.
        assert max(workers) - min(workers) <= max(workers) // 100
        assert stats["threads"] == n


@pytest.mark.parametrize("name", ["conv", "matmul", "depthwise"])
def test_aarch64_neon_kernels_identical_for_every_worker_count(tmp_path, name):
    """NEON convolution (scratch per part), matrix product and depthwise convolution
    (by groups), parts run serially."""
    need_import("unicorn")
    need_import("ziglang")
    model = node_models()[name]
    m = aot.compile(model, "aarch64", out_dir=str(tmp_path / name), options=aot.Options(name=name))
    assert any(layer["split"] for layer in m.manifest["layers"])
    feeds = _feeds(m.manifest)
    one = m.run(feeds)
    for n in WORKERS[1:]:
        assert _same(m.run(feeds, threads=n), one), f"{n} workers"
    for k, v in _ort(model, feeds).items():
        assert float(np.abs(one[k] - v).max()) <= 1e-4 * float(np.abs(v).max())

"""The generated C under AddressSanitizer and UndefinedBehaviorSanitizer.

Every runnable ONNX node case (test_node_cases.CASES minus EXCLUDED: float32
and the quantized ones, QuantizeLinear/DequantizeLinear/QLinear*), the four MLPerf Tiny float
models and their four int8 versions, random graphs from tests/graphgen.py and
a few odd-but-valid models are compiled, linked into standalone
harness programs (tests/sanitizer_harness.py) built with
`-fsanitize=address,undefined -fno-sanitize-recover=all`, and run: zero
sanitizer reports, exit code 0, and outputs that still match (node cases: the
expected data at test_node_cases' tolerance; MLPerf: the ctypes host build,
bit for bit, since both are the same C built with -ffp-contract=off). A canary
proves the check fires: the same harness over generated code with a
deliberate one-element overrun must fail with an ASan report.

Random QDQ (int8) graphs are not generated yet: the int8 MLPerf models and the
quantized node cases are what covers the *_s8 kernels here.
"""

from __future__ import annotations

import functools
import re
import shutil

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import aot
from conftest import need
from sanitizer_harness import build

MLPERF = ["kws_float.onnx", "vww_float.onnx", "ic_float.onnx", "ad_float.onnx",
          "kws_int8.onnx", "vww_int8.onnx", "ic_int8.onnx", "ad_int8.onnx"]


def _gcc() -> str:
    gcc = shutil.which("gcc")
    need(gcc is not None, "gcc is not installed")
    return gcc


def _c_name(index: int, case: str) -> str:
    """A distinct C name, as aot keeps it (lowercase, at most 48 characters, no
    trailing underscore)."""
    return (f"c{index}_" + re.sub(r"\W", "_", case.removeprefix("test_").lower())[:36]).rstrip("_")


@functools.cache
def _node_case_jobs():
    from test_node_cases import CASES, EXCLUDED, _bind_static_inputs

    jobs = []
    for name in sorted(CASES):
        case = CASES[name]
        if name in EXCLUDED:
            continue
        for i, (inputs, expected) in enumerate(case.data_sets):
            feeds = {vi.name: np.asarray(v) for vi, v in zip(case.model.graph.input, inputs)}
            model, feeds = _bind_static_inputs(case.model, feeds)
            want = dict(zip([vi.name for vi in case.model.graph.output], expected))
            jobs.append((name, _c_name(len(jobs), name), model, feeds, want))
    assert len({j[1] for j in jobs}) == len(jobs)
    return jobs


def _shard(jobs, k, n):
    return jobs[k::n]


@pytest.mark.parametrize("shard", range(4))
def test_node_cases_under_sanitizers(shard, tmp_path):
    """A quarter of the node cases per test, one sanitized program each."""
    from test_node_cases import ROUNDED_EXPECTED

    gcc = _gcc()
    jobs = _shard(_node_case_jobs(), shard, 4)
    outs, feeds, wants = [], {}, {}
    for case, cname, model, feed, want in jobs:
        out = tmp_path / cname
        aot.compile(model, "x86-64", out_dir=str(out), options=aot.Options(name=cname))
        outs.append(str(out))
        feeds[cname] = feed
        if case in ROUNDED_EXPECTED:
            from onnx.reference import ReferenceEvaluator
            got = ReferenceEvaluator(model).run(None, feed)
            want = dict(zip(want, got))
        wants[cname] = want
    harness = build(outs, str(tmp_path / "build"), cc=gcc, jobs=1)
    proc, results = harness.run(feeds, str(tmp_path / "io"))
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "runtime error" not in proc.stderr and "Sanitizer" not in proc.stderr, proc.stderr
    assert set(results) == set(wants)
    for cname, want in wants.items():
        for out_name, value in want.items():
            np.testing.assert_allclose(results[cname][out_name], np.asarray(value),
                                       rtol=1e-5, atol=1e-6, err_msg=f"{cname}: {out_name}")


def test_mlperf_models_under_sanitizers(tmp_path, mlperf_dir):
    gcc = _gcc()
    outs, feeds, refs = [], {}, {}
    rng = np.random.default_rng(0)
    for m in MLPERF:
        name = m.removesuffix(".onnx")
        compiled = aot.compile(str(mlperf_dir / m), "x86-64", out_dir=str(tmp_path / name))
        feed = {s["name"]: rng.standard_normal(s["shape"]).astype(np.float32)
                if s["dtype"] == "float32" else
                rng.integers(-128, 128, s["shape"]).astype(s["dtype"])
                for s in compiled.manifest["inputs"]}
        outs.append(compiled.out_dir)
        feeds[name] = feed
        refs[name] = compiled.run(feed)      # the ctypes build (guarded arena)
    harness = build(outs, str(tmp_path / "build"), cc=gcc, jobs=2)
    proc, results = harness.run(feeds, str(tmp_path / "io"))
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "runtime error" not in proc.stderr and "Sanitizer" not in proc.stderr, proc.stderr
    for name, ref in refs.items():
        for out_name, value in ref.items():
            np.testing.assert_array_equal(results[name][out_name], value, err_msg=name)


def test_generated_graphs_under_sanitizers(tmp_path):
    """Random graphs from tests/graphgen.py (with random planner options: in-place,
    memory schedule, I/O in the arena) in one sanitized program, compared with
    onnxruntime at the differential tests' tolerance."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    import graphgen
    from difftest import compare, magnitudes, ort_run

    gcc = _gcc()
    examples = []

    @settings(max_examples=40, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(g=graphgen.graphs(max_nodes=6), inplace=st.booleans(),
           schedule=st.sampled_from(["onnx", "memory"]), io_in_arena=st.booleans())
    def collect(g, inplace, schedule, io_in_arena):
        examples.append((g, aot.Options(name=f"g{len(examples)}", inplace=inplace,
                                        schedule=schedule, io_in_arena=io_in_arena)))

    collect()
    outs, feeds, wants, mags = [], {}, {}, {}
    for g, options in examples:
        out = tmp_path / options.name
        aot.compile(g.model, "x86-64", out_dir=str(out), options=options)
        outs.append(str(out))
        feeds[options.name] = g.feeds
        wants[options.name] = ort_run(g.model, g.feeds)
        mags[options.name] = magnitudes(g.model, g.feeds)
    harness = build(outs, str(tmp_path / "build"), cc=gcc, jobs=1)
    proc, results = harness.run(feeds, str(tmp_path / "io"))
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "runtime error" not in proc.stderr and "Sanitizer" not in proc.stderr, proc.stderr
    for name, want in wants.items():
        compare(results[name], want, mags[name])


def test_odd_but_valid_models_under_sanitizers(tmp_path):
    """Models aot accepts that stress kernel bounds: reflect/wrap/edge pads wider
    than the input, cropping pads, windows that hang over both edges, 1x1 inputs."""
    gcc = _gcc()
    f = TensorProto.FLOAT
    cases = {
        "reflect_wide": ([helper.make_node("Pad", ["x", "p"], ["y"], mode="reflect")],
                         [1, 3], [("p", np.array([0, 5, 0, 7], np.int64))]),
        "wrap_wide": ([helper.make_node("Pad", ["x", "p"], ["y"], mode="wrap")],
                      [1, 3], [("p", np.array([0, 7, 0, 4], np.int64))]),
        "edge_crop": ([helper.make_node("Pad", ["x", "p"], ["y"], mode="edge")],
                      [2, 5], [("p", np.array([-1, 3, 0, -2], np.int64))]),
        "pool_overhang": ([helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[3, 3],
                                            pads=[2, 2, 2, 2], strides=[3, 3], ceil_mode=1,
                                            count_include_pad=1)], [1, 2, 2, 2], []),
        "maxpool_dilated_overhang": ([helper.make_node("MaxPool", ["x"], ["y"],
                                                       kernel_shape=[3, 3], pads=[2, 2, 2, 2],
                                                       dilations=[2, 2], ceil_mode=1)],
                                     [1, 1, 1, 1], []),
        "conv_big_pads": ([helper.make_node("Conv", ["x", "w"], ["y"], pads=[2, 2, 2, 2],
                                            dilations=[2, 2], strides=[2, 2])],
                          [1, 1, 1, 1], [("w", np.ones((2, 1, 3, 3), np.float32))]),
    }
    outs, feeds, wants = [], {}, {}
    for name, (nodes, shape, inits) in cases.items():
        graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", f, shape)],
                                  [helper.make_tensor_value_info("y", f, None)],
                                  [onnx.numpy_helper.from_array(v, k) for k, v in inits])
        graph.output[0].type.tensor_type.ClearField("shape")
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
        model = onnx.shape_inference.infer_shapes(model)
        x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        out = tmp_path / name
        compiled = aot.compile(model, "x86-64", out_dir=str(out), options=aot.Options(name=name))
        outs.append(str(out))
        feeds[name] = {"x": x}
        wants[name] = compiled.run({"x": x})
    harness = build(outs, str(tmp_path / "build"), cc=gcc, jobs=1)
    proc, results = harness.run(feeds, str(tmp_path / "io"))
    assert proc.returncode == 0, proc.stderr[-4000:]
    for name, want in wants.items():
        np.testing.assert_array_equal(results[name]["y"], want["y"], err_msg=name)


def _relu_model(n=8):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, n])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, n])
    nodes = [helper.make_node("Sigmoid", ["x"], ["h"], name="s"),
             helper.make_node("Relu", ["h"], ["y"], name="r")]
    return helper.make_model(helper.make_graph(nodes, "canary", [x], [y]),
                             opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("where", ["output", "arena"])
def test_canary_out_of_bounds_write_is_caught(where, tmp_path):
    """Patch the generated C so one kernel writes one element too many: into the
    caller's output block or past the arena. The sanitized harness must fail
    with an ASan report; unpatched, the same build passes."""
    gcc = _gcc()
    ok = aot.compile(_relu_model(), "x86-64", out_dir=str(tmp_path / "ok"),
                     options=aot.Options(name="canary_ok"))
    bad = aot.compile(_relu_model(), "x86-64", out_dir=str(tmp_path / "bad"),
                      options=aot.Options(name="canary_bad"))
    src = tmp_path / "bad" / "canary_bad.c"
    text = src.read_text()
    # The Relu writes the output (caller memory); the Sigmoid writes the arena.
    layer = "r_params" if where == "output" else "s_params"
    pattern = re.compile(r"(static const aot_unary_params " + layer + r" = \{\s*\.size = )8")
    assert pattern.search(text), text
    src.write_text(pattern.sub(r"\g<1>9", text))
    feed = {"x": np.linspace(-1, 1, 8, dtype=np.float32).reshape(1, 8)}
    good = build([ok.out_dir], str(tmp_path / "b_ok"), cc=gcc)
    proc, results = good.run({"canary_ok": feed}, str(tmp_path / "io_ok"))
    assert proc.returncode == 0, proc.stderr
    np.testing.assert_allclose(results["canary_ok"]["y"], ok.run(feed)["y"])
    harness = build([bad.out_dir], str(tmp_path / "b_bad"), cc=gcc)
    proc, _ = harness.run({"canary_bad": feed}, str(tmp_path / "io_bad"))
    assert proc.returncode != 0
    assert "AddressSanitizer: heap-buffer-overflow" in proc.stderr, proc.stderr

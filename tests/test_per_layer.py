"""`aot bench --per-layer`: where the cycles go, per layer.

Emulated (cortex-m4): an image whose AOT_PROFILE_HOOK leaves only a label;
the per-layer instruction counts plus those outside any layer must equal the
run's total exactly, and that total must equal the count of the plain
image (no labels, no label hooks). Host (x86-64): microseconds per
layer from clock stamps, one entry per kernel call of the manifest.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import aot
from aot.bench import BenchOptions, bench
from conftest import need_import


def small_cnn():
    """Conv -> Relu -> MaxPool -> Conv -> GlobalAveragePool -> Gemm: six layers of
    different kinds."""
    rng = np.random.default_rng(5)

    def w(name, shape):
        return numpy_helper.from_array((rng.standard_normal(shape) * 0.3).astype(np.float32),
                                       name)
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], "conv_a", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"], "relu_a"),
             helper.make_node("MaxPool", ["r1"], ["p1"], "pool_a", kernel_shape=[2, 2],
                              strides=[2, 2]),
             helper.make_node("Conv", ["p1", "w2"], ["c2"], "conv_b", pads=[1, 1, 1, 1]),
             helper.make_node("GlobalAveragePool", ["c2"], ["g"], "gap"),
             helper.make_node("Flatten", ["g"], ["f"], "flatten"),
             helper.make_node("Gemm", ["f", "w3", "b3"], ["y"], "fc", transB=1)]
    graph = helper.make_graph(
        nodes, "small_cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 12, 12])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])],
        [w("w1", [8, 3, 3, 3]), w("b1", [8]), w("w2", [12, 8, 3, 3]), w("w3", [10, 12]),
         w("b3", [10])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "small_cnn.onnx"
    path.write_bytes(small_cnn().SerializeToString())
    return str(path)


def test_cortex_m4_layer_counts_are_exact(tmp_path, model_file):
    need_import("unicorn")
    need_import("ziglang")
    from aot.targets.emulator import EmulatorRunner
    m = aot.compile(model_file, "cortex-m4", out_dir=str(tmp_path / "m"))
    feeds = {"x": np.random.default_rng(0).standard_normal((1, 3, 12, 12)).astype(np.float32)}
    runner = EmulatorRunner(m.out_dir, m.manifest, layer_marks=True)
    counts = runner.layer_instructions(feeds)
    layers = counts["layers"]
    assert len(layers) == len(m.manifest["layers"]) and all(n > 0 for n in layers)
    assert sum(layers) + counts["outside"] == counts["instructions"]
    # The labels add no instruction: the plain image's total (counted without any
    # label hook) matches, up to what the compiler barrier may move around a call.
    _, stats = m.run_with_stats(feeds)
    assert abs(stats["instructions"] - counts["instructions"]) <= 8 * len(layers)
    # The heaviest layer by instructions is a convolution.
    heaviest = max(range(len(layers)), key=layers.__getitem__)
    assert m.manifest["layers"][heaviest]["op"].startswith("Conv")


def test_bench_per_layer_cortex_m4(model_file):
    need_import("unicorn")
    need_import("ziglang")
    need_import("onnxruntime")
    [doc] = bench([model_file], BenchOptions(targets=("cortex-m4",), baselines=(),
                                             quick=True, per_layer=True, progress=False))
    row = doc["results"][0]
    assert row["status"] == "ok" and row["outputs_match"]
    layers = row["layers"]
    assert [entry["index"] for entry in layers] == list(range(len(layers)))
    assert {"name", "op", "kernel", "macs", "instructions", "macs_per_instruction"} <= \
        set(layers[0])
    assert sum(e["instructions"] for e in layers) + row["layers_outside_instructions"] == \
        row["layers_total_instructions"]
    convs = [e for e in layers if e["op"].startswith("Conv")]
    assert convs and all(e["macs"] > 0 and e["macs_per_instruction"] > 0 for e in convs)
    # Each layer names the ONNX node(s) it implements.
    named = " ".join(e["name"] for e in layers)
    assert all(n in named for n in ("conv_a", "pool_a", "conv_b", "gap", "fc"))


def test_bench_per_layer_host_json(model_file, capsys):
    need_import("onnxruntime")
    from aot.cli import main
    code = main(["bench", model_file, "--target", "x86-64", "--baselines", "none", "--quick",
                 "--per-layer", "--json", "--no-progress"])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    row = doc["results"][0]
    layers = row["layers"]
    compiled = aot.compile(model_file, "x86-64")
    assert [e["kernel"] for e in layers] == [c["kernel"] for c in compiled.manifest["layers"]]
    assert all(e["us"] > 0 for e in layers)
    # The layers cover the run: their sum is the stamped whole, less the hooks' own time.
    assert sum(e["us"] for e in layers) <= row["layers_total_us"] * 1.05
    assert sum(e["us"] for e in layers) >= row["layers_total_us"] * 0.5

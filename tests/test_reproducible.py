"""Reproducible output: the same model and options give byte-identical files,
whatever the output path, the working directory, the model path's spelling or
Python's hash seed (set and dict order of strings) -- each compile a fresh
process of the CLI. Also: the header records the aot version, the options and
the model's hash, and every generated or copied C file carries an SPDX line.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import pytest

import aot
from aot.version import __version__

SPDX = "/* SPDX-License-Identifier: Apache-2.0 */"


def _tree(root) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".build" not in p.parts}


def _compile(model, out, cwd, hashseed, *flags):
    env = {**os.environ, "PYTHONHASHSEED": str(hashseed)}
    proc = subprocess.run([sys.executable, "-m", "aot.cli", "compile", str(model), "-o", str(out),
                           "--target", "x86-64", *flags], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr


def _branchy_model(path):
    """Branches, concats, in-place candidates and many names: order-sensitive spots
    (naming, the memory plan, the schedule) all get exercised."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(3)
    nodes, inits = [], []
    prev = "x"
    for i in range(6):
        w = f"w{i}"
        inits.append(numpy_helper.from_array(rng.standard_normal((4, 4, 3, 3)).astype(np.float32), w))
        nodes += [helper.make_node("Conv", [prev, w], [f"c{i}"], name=f"conv {i}", pads=[1] * 4),
                  helper.make_node("Relu", [f"c{i}"], [f"r{i}"], name=f"Relu/{i}"),
                  helper.make_node("Sigmoid", [prev], [f"s{i}"], name=f"gate:{i}"),
                  helper.make_node("Mul", [f"r{i}", f"s{i}"], [f"m{i}"], name=f"mul.{i}")]
        prev = f"m{i}"
    nodes.append(helper.make_node("Concat", [f"m{i}" for i in range(6)], ["cat"], axis=1,
                                  name="concat"))
    nodes.append(helper.make_node("GlobalAveragePool", ["cat"], ["y"], name="gap"))
    g = helper.make_graph(nodes, "branchy", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, [1, 4, 6, 6])], [helper.make_tensor_value_info(
            "y", TensorProto.FLOAT, [1, 24, 1, 1])], inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)


@pytest.mark.parametrize("which", ["kws_float.onnx", "branchy"])
def test_compiles_are_byte_identical_across_paths_cwds_and_hash_seeds(which, tmp_path,
                                                                      mlperf_dir):
    if which == "branchy":
        model = tmp_path / "branchy.onnx"
        _branchy_model(model)
    else:
        model = mlperf_dir / which
    flags = ("--schedule", "memory") if which == "branchy" else ()
    (tmp_path / "elsewhere").mkdir()
    runs = [  # (out dir as given, cwd, hash seed, model path as given)
        (str(tmp_path / "a"), str(tmp_path), 0, str(model)),
        ("b", str(tmp_path), 1, os.path.relpath(model, tmp_path)),
        (str(tmp_path / "deep" / "er" / "c"), str(tmp_path / "elsewhere"), 12345, str(model)),
    ]
    for out, cwd, seed, path in runs:
        _compile(path, out, cwd, seed, *flags)
    trees = [_tree(tmp_path / "a"), _tree(tmp_path / "b"), _tree(tmp_path / "deep" / "er" / "c")]
    assert trees[0] and list(trees[0]) == list(trees[1]) == list(trees[2])
    for name in trees[0]:
        assert trees[0][name] == trees[1][name] == trees[2][name], name


def test_header_records_version_options_and_model_hash(tmp_path, mlperf_dir):
    model = mlperf_dir / "kws_float.onnx"
    digest = hashlib.sha256(model.read_bytes()).hexdigest()
    m = aot.compile(str(model), "x86-64", out_dir=str(tmp_path / "out"),
                    options=aot.Options(name="kws", inplace=False,
                                        input_shapes={"input_1": (1, 49, 10, 1)}))
    head = (tmp_path / "out" / "kws.h").read_text().split("*/", 2)[1]
    assert f"aot {__version__}" in head
    assert f"sha256={digest[:16]}" in head and "model=kws_float.onnx" in head
    assert "options: " in head and "inplace=False" in head and "name=kws" in head
    assert "input_shapes=input_1=1,49,10,1" in head
    assert m.manifest["model"]["sha256"] == digest


def test_every_c_file_carries_an_spdx_line(tmp_path, mlperf_dir):
    for model in ("kws_float.onnx", "ic_float.onnx"):
        out = tmp_path / model
        aot.compile(str(mlperf_dir / model), "x86-64", out_dir=str(out))
        files = sorted(out.rglob("*.[ch]"))
        assert any(f.parent.name == "aot_runtime" for f in files)
        for f in files:
            assert f.read_text().splitlines()[0] == SPDX, f

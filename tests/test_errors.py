"""Bad input gets one clear line, the right exit code, and nothing written."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import aot
from aot.errors import ModelError, UsageError


def run_cli(*args, cwd=None):
    proc = subprocess.run([sys.executable, "-m", "aot.cli", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=300)
    return proc.returncode, proc.stdout, proc.stderr


def relu_model(shape=(1, 4), name="x"):
    g = helper.make_graph([helper.make_node("Relu", [name], ["y"], name="relu")], "g",
                          [helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape))],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(shape))])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def assert_one_line_error(code, err, want_code, *fragments):
    assert code == want_code, err
    assert "Traceback" not in err
    first = err.strip().splitlines()[0]
    assert first.startswith("aot: error: ")
    for f in fragments:
        assert f in err, err


def test_missing_file(tmp_path):
    code, _, err = run_cli("compile", tmp_path / "nope.onnx", "-o", tmp_path / "out")
    assert_one_line_error(code, err, 2, "no such file")
    assert not (tmp_path / "out").exists()


def test_random_bytes_and_truncated_model(tmp_path, mlperf_dir):
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(np.random.default_rng(0).bytes(4096))
    code, _, err = run_cli("compile", junk, "-o", tmp_path / "o1")
    assert_one_line_error(code, err, 2, "junk.onnx")
    data = (mlperf_dir / "kws_float.onnx").read_bytes()
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(data[: len(data) // 2])
    code, _, err = run_cli("compile", cut, "-o", tmp_path / "o2")
    assert_one_line_error(code, err, 2, "cut.onnx")
    assert not (tmp_path / "o1").exists() and not (tmp_path / "o2").exists()


def test_unsupported_ops_are_listed_together_with_node_names(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])
    nodes = [helper.make_node("Tan", ["x"], ["a"], name="tan1"),
             helper.make_node("Atan", ["a"], ["b"], name="atan1"),
             helper.make_node("Tan", ["b"], ["y"], name="tan2")]
    m = helper.make_model(helper.make_graph(nodes, "g", [x], [y]),
                          opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "m.onnx"
    onnx.save(m, path)
    code, _, err = run_cli("compile", path, "-o", tmp_path / "out")
    assert_one_line_error(code, err, 2, "3 unsupported", "Atan ('atan1')",
                          "Tan ('tan1', 'tan2')")
    assert not (tmp_path / "out").exists()


def test_dynamic_shape_names_the_input_and_the_fix(tmp_path):
    path = tmp_path / "dyn.onnx"
    onnx.save(relu_model(("N", 4)), path)
    code, _, err = run_cli("compile", path, "-o", tmp_path / "out")
    assert_one_line_error(code, err, 2, "input 'x'", "--input-shape x=")
    code, out, err = run_cli("compile", path, "-o", tmp_path / "out", "--input-shape", "x=2,4")
    assert code == 0, err
    assert aot.CompiledModel.load(str(tmp_path / "out")).manifest["inputs"][0]["shape"] == [2, 4]


def test_foreign_files_refused_without_force_and_kept_with_it(tmp_path):
    path = tmp_path / "m.onnx"
    onnx.save(relu_model(), path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    code, _, err = run_cli("compile", path, "-o", out)
    assert_one_line_error(code, err, 2, "notes.txt", "--force")
    assert sorted(os.listdir(out)) == ["notes.txt"]
    code, _, err = run_cli("compile", path, "-o", out, "--force")
    assert code == 0, err
    assert (out / "notes.txt").read_text() == "mine"
    # recompiling over our own output needs no --force
    (out / "notes.txt").unlink()
    code, _, err = run_cli("compile", path, "-o", out)
    assert code == 0, err


def test_failed_recompile_leaves_previous_output_intact(tmp_path):
    good = tmp_path / "m.onnx"
    onnx.save(relu_model(), good)
    out = tmp_path / "out"
    assert run_cli("compile", good, "-o", out, "--name", "m")[0] == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage")
    code, _, _ = run_cli("compile", bad, "-o", out, "--name", "m")
    assert code == 2
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_api_raises_typed_errors(tmp_path):
    with pytest.raises(ModelError, match="dynamic shape"):
        aot.compile(relu_model(("N", 4)), "x86-64")
    with pytest.raises(UsageError, match="unknown target"):
        aot.compile(relu_model(), "pdp-11")
    with pytest.raises(UsageError, match="--input-shape names no model input"):
        aot.compile(relu_model(), "x86-64", options=aot.Options(input_shapes={"q": (1,)}))


def test_bad_arguments_exit_2(tmp_path):
    code, _, err = run_cli("compile")
    assert code == 2
    code, _, err = run_cli("compile", "m.onnx", "-o", tmp_path, "--input-shape", "x=1,a")
    assert_one_line_error(code, err, 2, "--input-shape")

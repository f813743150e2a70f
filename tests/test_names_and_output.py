"""Names from the model never reach the generated C unsanitized, and writing
the output never escapes or clobbers.

- Node, tensor, input/output, graph and model names that are C keywords,
  contain `*/`, quotes, backslashes, newlines, trigraphs or non-ASCII, start
  with a digit, collide after sanitizing (case, punctuation, truncation), or
  spell the runtime's or the model's own symbols (`aot_conv2d_params`,
  `<name>_run`, `relu_params`) give C that builds warning-free under gcc and
  clang with the strict flags, runs, and still computes the right numbers.
- aot/output.py: no write through a symlink out of the output directory, no
  deletion of files aot did not write (even when a forged manifest claims
  them), nothing touched when a write is refused.
"""

from __future__ import annotations

import json
import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import aot
from aot.errors import UsageError
from aot.output import write_output
from test_generated_c import compile_all_c, compilers

HOSTILE = ["int", "*/ int x; /*", 'say "hi"', "back\\slash", "new\nline", "tab\there",
           "??=trigraph??/", "ünïcödé ✓", "0starts_with_digit", "", "Conv", "conv", "CONV!",
           "aot_conv2d", "aot_memcpy", "relu", "mem", "arena", "NULL", "main", "run",
           "static_arena", "input_ptr", "a" * 60 + "1", "a" * 60 + "2", "//comment", "#define",
           "%s%n", "\x00nul", "\x1b[31mred"]


def _hostile_model() -> tuple[onnx.ModelProto, dict, dict]:
    """A model whose every name is hostile; returns it, feeds and numpy outputs."""
    rng = np.random.default_rng(0)
    names = iter(HOSTILE * 4)

    def n():
        return next(names)

    x_name, x2_name = "relu_params", "int"           # inputs named like generated symbols
    w = rng.standard_normal((3, 2, 1, 1)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    k = rng.standard_normal((1, 3, 1, 1)).astype(np.float32)
    # distinct names that collide after sanitizing (with each other and with "int")
    t = ["int ", "*/ int x; /*", 'say "hi"\\', "new\nline", "ünïcödé ✓", "Conv", "conv",
         "0starts ??="]
    w_name, b_name, k_name = "aot_conv2d_params", "run", "*/w"
    nodes = [
        helper.make_node("Conv", [x_name, w_name, b_name], [t[0]], name="relu"),
        helper.make_node("Relu", [t[0]], [t[1]], name="aot_conv2d"),
        helper.make_node("Mul", [t[1], k_name], [t[2]], name=n()),
        helper.make_node("Add", [t[2], x2_name], [t[3]], name=n()),
        helper.make_node("Sigmoid", [t[3]], [t[4]], name=n()),
        helper.make_node("Tanh", [t[3]], [t[5]], name=n()),
        helper.make_node("Concat", [t[4], t[5]], [t[6]], name=n(), axis=1),
        helper.make_node("Transpose", [t[6]], ["out\n*/ /*"], name=n(), perm=[0, 2, 3, 1]),
        helper.make_node("Softmax", [t[4]], ["m_run"], name="static_arena", axis=1),
    ]
    inputs = [helper.make_tensor_value_info(x_name, TensorProto.FLOAT, [1, 2, 3, 3]),
              helper.make_tensor_value_info(x2_name, TensorProto.FLOAT, [1, 3, 3, 3])]
    outputs = [helper.make_tensor_value_info("out\n*/ /*", TensorProto.FLOAT, [1, 3, 3, 6]),
               helper.make_tensor_value_info("m_run", TensorProto.FLOAT, [1, 3, 3, 3])]
    inits = [numpy_helper.from_array(w, w_name), numpy_helper.from_array(b, b_name),
             numpy_helper.from_array(k, k_name)]
    graph = helper.make_graph(nodes, "aot_types */ \"graph\"\n", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    feeds = {x_name: rng.standard_normal((1, 2, 3, 3)).astype(np.float32),
             x2_name: rng.standard_normal((1, 3, 3, 3)).astype(np.float32)}
    import onnxruntime as ort
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    want = dict(zip([o.name for o in outputs], sess.run(None, feeds)))
    return model, feeds, want


@pytest.mark.parametrize("name", [None, "m", "int", "aot", "aot_types", "9lives", "ÄÖ"])
def test_hostile_names_give_valid_warning_free_c(name, tmp_path):
    model, feeds, want = _hostile_model()
    options = aot.Options(name=name) if name else aot.Options()
    try:
        compiled = aot.compile(model, "x86-64", out_dir=str(tmp_path / "out"), options=options)
    except UsageError as e:          # a --name aot cannot use is refused, clearly
        assert name in ("aot", "aot_types") and "aot" in str(e)
        return
    for cc in compilers().values():
        compile_all_c(tmp_path / "out", cc)
    got = compiled.run(feeds)
    for k, v in want.items():
        np.testing.assert_allclose(got[k], v, rtol=1e-5, atol=1e-6, err_msg=repr(k))
    # comments cannot be broken out of; no raw control characters anywhere
    for f in sorted((tmp_path / "out").rglob("*.[ch]")):
        text = f.read_text(encoding="ascii")      # ASCII only
        assert not any(ord(c) < 32 and c not in "\n" for c in text), f
        for line in text.splitlines():
            if "/*" in line and "*/" in line:
                assert line.count("/*") == line.count("*/"), (f, line)


def test_io_names_that_collide_after_sanitizing(tmp_path):
    """Inputs and outputs whose names sanitize (or truncate) to the same identifier
    get distinct C parameters (a regression: they once shared one)."""
    long = "p2o.Conv.2+p2o.Add.6+p2o.Mul.4+p2o.Mul.6+p2o.Add.0/" * 2
    outs = [long + "a", long + "b", "Out.1", "out_1"]
    nodes = [helper.make_node(op, ["X.1"], [o]) for op, o in
             zip(["Relu", "Sigmoid", "Tanh", "LeakyRelu"], outs)]
    nodes.append(helper.make_node("Add", ["X.1", "x_1"], ["sum"]))
    inputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 5]) for n in ("X.1", "x_1")]
    outputs = [helper.make_tensor_value_info(o, TensorProto.FLOAT, [1, 5]) for o in [*outs, "sum"]]
    model = helper.make_model(helper.make_graph(nodes, "g", inputs, outputs),
                              opset_imports=[helper.make_opsetid("", 17)])
    x = np.linspace(-2, 2, 5, dtype=np.float32).reshape(1, 5)
    y = np.full((1, 5), 0.5, np.float32)
    compiled = aot.compile(model, "x86-64", out_dir=str(tmp_path / "out"))
    compile_all_c(tmp_path / "out", compilers()["gcc"])
    got = compiled.run({"X.1": x, "x_1": y})
    want = [np.maximum(x, 0), 1 / (1 + np.exp(-x)), np.tanh(x), np.where(x > 0, x, 0.01 * x), x + y]
    for name, w in zip([*outs, "sum"], want):
        np.testing.assert_allclose(got[name], w, rtol=1e-6, atol=1e-6, err_msg=name)


def test_model_file_named_like_the_runtime(tmp_path):
    """The default name comes from the file stem: a stem the runtime owns is renamed."""
    model, feeds, want = _hostile_model()
    path = tmp_path / "aot_kernels.onnx"
    onnx.save(model, path)
    compiled = aot.compile(str(path), "x86-64", out_dir=str(tmp_path / "out"))
    assert not compiled.name.startswith("aot")
    compile_all_c(tmp_path / "out", compilers()["gcc"])
    np.testing.assert_allclose(compiled.run(feeds)["m_run"], want["m_run"], rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------- output writing

FILES = {"CMakeLists.txt": b"cmake", "m.h": b"h", "m.c": b"c", "aot_runtime/k.c": b"k",
         "m.json": json.dumps({"generator": "aot", "files": [
             "CMakeLists.txt", "m.h", "m.c", "aot_runtime/k.c", "m.json"]}).encode()}


def test_symlinked_subdirectory_out_of_the_output_is_refused(tmp_path):
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    write_output(str(out), FILES)
    elsewhere.mkdir()
    for f in (out / "aot_runtime").iterdir():
        f.unlink()
    (out / "aot_runtime").rmdir()
    (out / "aot_runtime").symlink_to(elsewhere, target_is_directory=True)
    before = {p: p.read_bytes() for p in out.iterdir() if p.is_file()}
    with pytest.raises(UsageError, match="link out of"):
        write_output(str(out), {k: v + b" new" for k, v in FILES.items()})
    assert list(elsewhere.iterdir()) == []
    # nothing was replaced before the refusal either
    assert {p: p.read_bytes() for p in out.iterdir() if p.is_file()} == before


def test_symlinked_file_is_replaced_not_followed(tmp_path):
    out, target = tmp_path / "out", tmp_path / "precious.txt"
    write_output(str(out), FILES)
    target.write_bytes(b"precious")
    (out / "m.c").unlink()
    (out / "m.c").symlink_to(target)
    write_output(str(out), {**FILES, "m.c": b"new"})
    assert target.read_bytes() == b"precious"
    assert not (out / "m.c").is_symlink() and (out / "m.c").read_bytes() == b"new"


def test_forged_manifest_cannot_make_aot_delete_foreign_files(tmp_path):
    """Stale files are removed only inside the output directory, never through a
    link, never outside, even when a manifest there lists them."""
    out, outside, victim_dir = tmp_path / "out", tmp_path / "outside.txt", tmp_path / "v"
    outside.write_bytes(b"keep")
    victim_dir.mkdir()
    (victim_dir / "x.c").write_bytes(b"keep")
    write_output(str(out), FILES)
    (out / "link").symlink_to(victim_dir, target_is_directory=True)
    forged = {"generator": "aot", "files": ["CMakeLists.txt", "m.h", "m.c", "m.json",
                                            "../outside.txt", str(outside), "link/x.c",
                                            "aot_runtime/k.c"]}
    (out / "m.json").write_text(json.dumps(forged))
    write_output(str(out), {"m.h": b"h", "m.json": FILES["m.json"]}, force=True)
    assert outside.read_bytes() == b"keep"
    assert (victim_dir / "x.c").read_bytes() == b"keep"
    assert not (out / "m.c").exists()            # ours, listed, stale: removed


def test_foreign_files_are_never_deleted(tmp_path):
    out = tmp_path / "out"
    write_output(str(out), FILES)
    (out / "notes.txt").write_bytes(b"mine")
    (out / "aot_runtime" / "mine.c").write_bytes(b"mine")
    with pytest.raises(UsageError, match="did not write"):
        write_output(str(out), {"m.h": b"h2", "m.json": FILES["m.json"]})
    assert (out / "m.h").read_bytes() == b"h"       # refused: nothing touched
    write_output(str(out), {"m.h": b"h2", "m.json": FILES["m.json"]}, force=True)
    assert (out / "notes.txt").read_bytes() == b"mine"
    assert (out / "aot_runtime" / "mine.c").read_bytes() == b"mine"


def test_output_directory_that_is_a_file_or_dangling_link(tmp_path):
    f = tmp_path / "file"
    f.write_bytes(b"x")
    with pytest.raises(UsageError):
        write_output(str(f), FILES)
    assert f.read_bytes() == b"x"
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere")
    with pytest.raises(UsageError):
        write_output(str(dangling), FILES)
    assert not (tmp_path / "nowhere").exists()

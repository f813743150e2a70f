"""`--emit-selftest` (<name>_selftest.c) and the per-layer AOT_PROFILE_HOOK.

Self-test: built and run on the host (ctypes) and in the emulator for cortex-m4
(aot.targets.cross builds a second image whose harness calls <name>_selftest).
Its references are computed at compile time by onnxruntime (float models;
tolerance 1e-4 * max(1, max |reference|)) or TensorFlow Lite Micro on the
model's .tflite (int8: bit-exact), as aot.selftest documents; here we check
that it passes, that it fails on a wrong reference, and that its C is strict.
"""

from __future__ import annotations

import ctypes
import filecmp
import json
import re
import shutil
import subprocess

import numpy as np
import pytest

import aot
from conftest import need, need_import
from test_errors import run_cli
from test_generated_c import STRICT, compile_all_c, compilers


def compile_selftest(mlperf_dir, tmp_path, model, target, **options):
    return aot.compile(str(mlperf_dir / model), target, out_dir=str(tmp_path / "out"),
                       options=aot.Options(name="m", emit_selftest=True, **options))


def test_selftest_passes_on_the_host(mlperf_dir, tmp_path):
    need_import("onnxruntime")
    compiled = compile_selftest(mlperf_dir, tmp_path, "kws_float.onnx", "x86-64")
    info = compiled.manifest["selftest"]
    assert {"m_selftest.c", "m_selftest.h"} <= set(compiled.manifest["files"])
    assert info["reference"].startswith("onnxruntime") and "default_rng(0)" in info["input"]
    assert "Reference: onnxruntime" in (tmp_path / "out" / "m_selftest.c").read_text()
    result = compiled.selftest()
    assert result["passed"] and result["code"] == 0, result
    assert 0.0 <= result["max_diff"] <= info["tolerance"][0]
    mk = (tmp_path / "out" / "m.mk").read_text()
    assert "M_SELFTEST_SRCS := $(M_DIR)m_selftest.c" in mk


@pytest.mark.parametrize("model, tflite", [("kws_float.onnx", None),
                                           ("ad_int8.onnx", "ad01_int8.tflite")])
def test_selftest_passes_on_cortex_m4(model, tflite, mlperf_dir, tmp_path):
    need_import("unicorn")
    options = {"selftest_tflite": str(mlperf_dir / tflite)} if tflite else {}
    if tflite:
        need_import("tflite_micro")
    compiled = compile_selftest(mlperf_dir, tmp_path, model, "cortex-m4", **options)
    result = compiled.selftest()
    assert result["passed"], result
    if tflite:   # int8 against TFLM: bit-exact
        assert result["reference"].startswith("TensorFlow Lite Micro")
        assert result["tolerance"] == [0] and result["max_diff"] == 0.0
    # The model's own image leaves the self-test out: its figures are the model's.
    from aot.targets.emulator import EmulatorRunner
    plain = EmulatorRunner(compiled.out_dir, compiled.manifest)
    functions = {f[2] for f in plain._funcs}
    assert "m_run" in functions and "m_selftest" not in functions


def test_selftest_fails_on_a_wrong_reference(mlperf_dir, tmp_path):
    need_import("onnxruntime")
    compiled = compile_selftest(mlperf_dir, tmp_path, "kws_float.onnx", "x86-64")
    src = tmp_path / "out" / "m_selftest.c"
    text = src.read_text()
    # The reference's first element, moved by 0.5 (a softmax output: far outside 1e-4).
    m = re.search(r"m_selftest_ref0\[\d+\] = \{\n    (\S+?)f,", text)
    wrong = float(m.group(1)) + 0.5
    src.write_text(text[:m.start(1)] + repr(wrong) + text[m.end(1):])
    result = compiled.selftest()
    assert not result["passed"] and result["code"] == 1
    assert result["max_diff"] == pytest.approx(0.5, abs=1e-3)


def test_selftest_c_is_strict_and_reproducible(mlperf_dir, tmp_path):
    need_import("onnxruntime")
    a = compile_selftest(mlperf_dir, tmp_path / "a", "ad_int8.onnx", "x86-64")
    b = compile_selftest(mlperf_dir, tmp_path / "b", "ad_int8.onnx", "x86-64")
    _, mismatch, errors = filecmp.cmpfiles(tmp_path / "a" / "out", tmp_path / "b" / "out",
                                           a.manifest["files"], shallow=False)
    assert not mismatch and not errors
    assert a.manifest["selftest"]["tolerance"] == [5]     # int8 against onnxruntime
    for cc in compilers().values():
        compile_all_c(tmp_path / "a" / "out", cc)


def test_cli_emit_and_run_selftest(mlperf_dir, tmp_path):
    need_import("onnxruntime")
    out = tmp_path / "ad"
    code, stdout, err = run_cli("compile", mlperf_dir / "ad_float.onnx", "--target", "x86-64",
                                "-o", out, "--emit-selftest")
    assert code == 0 and "self-test ad_float_selftest.c" in stdout, err
    code, stdout, err = run_cli("run", out, "--selftest", "--json")
    assert code == 0, err
    result = json.loads(stdout)
    assert result["passed"] and result["model"] == "ad_float"
    code, _, err = run_cli("compile", mlperf_dir / "ad_float.onnx", "-o", tmp_path / "x",
                           "--selftest-input", tmp_path / "none.npy")
    assert code == 2 and "emit_selftest" in err


# -- AOT_PROFILE_HOOK --------------------------------------------------------------------------

PROFILE_H = """#include <stdint.h>
extern int32_t prof_index[64];
extern const char *prof_name[64];
extern int32_t prof_count;
#define AOT_PROFILE_HOOK(i, name) (prof_index[prof_count] = (i), prof_name[prof_count++] = (name))
"""
PROFILE_C = """#include "prof.h"
int32_t prof_index[64];
const char *prof_name[64];
int32_t prof_count;
"""


def test_profile_hook_is_called_before_each_layer_and_at_the_end(mlperf_dir, tmp_path):
    cc = shutil.which("cc")
    need(cc is not None, "no host C compiler")
    out = tmp_path / "out"
    compiled = aot.compile(str(mlperf_dir / "kws_float.onnx"), "x86-64", out_dir=str(out),
                           options=aot.Options(name="kws"))
    layers = len(compiled.compilation.program.calls)
    assert f"#define KWS_NUM_LAYERS {layers}\n" in (out / "kws.h").read_text()
    (tmp_path / "prof.h").write_text(PROFILE_H)
    (tmp_path / "prof.c").write_text(PROFILE_C)
    sources = [str(out / f) for f in compiled.manifest["files"] if f.endswith(".c")]
    lib = tmp_path / "libprof.so"
    proc = subprocess.run([cc, *STRICT, "-O2", "-fPIC", "-shared", "-include",
                           str(tmp_path / "prof.h"), f"-I{out}", f"-I{tmp_path}",
                           "-o", str(lib), *sources, str(tmp_path / "prof.c")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    so = ctypes.CDLL(str(lib))
    arena = np.zeros(compiled.manifest["arena"]["bytes"] + 64, np.uint8)
    arena_ptr = arena.ctypes.data + (-arena.ctypes.data) % 64
    x = np.zeros((1, 49, 10, 1), np.float32)
    y = np.zeros((1, 12), np.float32)
    assert so.kws_run(ctypes.c_void_p(x.ctypes.data), ctypes.c_void_p(y.ctypes.data),
                      ctypes.c_void_p(arena_ptr)) == 0
    count = ctypes.c_int32.in_dll(so, "prof_count").value
    index = (ctypes.c_int32 * 64).in_dll(so, "prof_index")[:count]
    names = [n.decode() for n in (ctypes.c_char_p * 64).in_dll(so, "prof_name")[:count]]
    assert index == list(range(layers + 1))
    assert names[-1] == "end" and names[0] == "activation/Relu"
    source = (out / "kws.c").read_text()
    for i, name in enumerate(names[:-1]):   # each hook sits right above its layer's call
        assert re.search(rf"/\* {i}: .*\n    AOT_PROFILE_HOOK\({i}, \"{re.escape(name)}\"\);",
                         source)

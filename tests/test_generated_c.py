"""The generated C as a product: strict builds with gcc and clang, usable from
C++, byte-identical for identical inputs, and every accepted op lowered on
every target."""

from __future__ import annotations

import filecmp
import shutil
import subprocess
from pathlib import Path

import pytest

import aot
from aot.targets.lowering import accepted_ops, find_rule
from aot.targets.target import TARGETS
from conftest import need

STRICT = ["-std=c99", "-pedantic", "-Wall", "-Wextra", "-Wshadow", "-Wconversion", "-Werror"]
MODELS = ["kws_float.onnx", "vww_float.onnx", "ic_float.onnx", "ad_float.onnx"]


def compilers():
    from aot.targets.toolchain import zig_cc

    gcc = shutil.which("gcc")
    need(gcc is not None, "gcc is not installed")
    return {"gcc": [gcc], "clang": list(zig_cc().command)}


def compile_all_c(out_dir, cc):
    obj = out_dir / ".build" / "check.o"     # zig cc mishandles -o /dev/null
    obj.parent.mkdir(exist_ok=True)
    for src in sorted(out_dir.rglob("*.c")):
        proc = subprocess.run([*cc, *STRICT, "-O2", "-c", str(src), "-o", str(obj),
                               f"-I{out_dir}"], capture_output=True, text=True)
        assert proc.returncode == 0, f"{src.name}: {proc.stderr}"


@pytest.fixture(scope="module")
def compiled(tmp_path_factory, mlperf_dir):
    outs = {}
    for m in MODELS:
        out = tmp_path_factory.mktemp(m.split(".")[0])
        aot.compile(str(mlperf_dir / m), "x86-64", out_dir=str(out), force=True)
        outs[m] = out
    return outs


@pytest.mark.parametrize("cc_name", ["gcc", "clang"])
@pytest.mark.parametrize("model", MODELS)
def test_every_generated_file_builds_with_werror(compiled, model, cc_name):
    compile_all_c(compiled[model], compilers()[cc_name])


def test_every_runtime_kernel_builds_strict_without_optimization(tmp_path):
    """Every runtime file under the strict flags at -O0, as a firmware debug build
    compiles it: without optimization gcc's <immintrin.h> expands some intrinsics
    (gathers, scatters) as macros whose casts the strict flags then see in our code."""
    runtime = Path(__file__).resolve().parent.parent / "runtime_c"
    sources = sorted(str(p) for p in runtime.glob("*.c"))
    proc = subprocess.run([*compilers()["gcc"], *STRICT, "-O0", "-c", *sources,
                           f"-I{runtime}"], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[:4000]


def _one_case_per_op():
    from test_node_cases import CASES, EXCLUDED

    chosen = {}
    for name in sorted(CASES):
        if name not in EXCLUDED:
            for op in sorted({n.op_type for n in CASES[name].model.graph.node}):
                chosen.setdefault(op, name)
    return sorted(set(chosen.values()))


@pytest.mark.parametrize("case", _one_case_per_op())
def test_node_case_output_builds_with_both_compilers(case, tmp_path):
    """One node case per op: every generated file through gcc and clang, strict."""
    from test_node_cases import CASES, _bind_static_inputs

    c = CASES[case]
    feeds = dict(zip([vi.name for vi in c.model.graph.input], c.data_sets[0][0]))
    model, _ = _bind_static_inputs(c.model, feeds)
    aot.compile(model, "x86-64", out_dir=str(tmp_path / "out"))
    for cc in compilers().values():
        compile_all_c(tmp_path / "out", cc)


def test_header_is_usable_from_cpp(compiled, tmp_path):
    gxx = shutil.which("g++")
    need(gxx is not None, "g++ is not installed")
    out = compiled["kws_float.onnx"]
    src = tmp_path / "use.cpp"
    src.write_text('#include "kws_float.h"\n'
                   "int call(const float *in, float *o, void *a) { return kws_float_run(in, o, a); }\n")
    proc = subprocess.run([gxx, "-std=c++11", "-Wall", "-Wextra", "-Werror", "-c", str(src),
                           "-o", "/dev/null", f"-I{out}"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_compiling_twice_is_byte_identical(mlperf_dir, tmp_path):
    a = aot.compile(str(mlperf_dir / "ic_float.onnx"), "x86-64", out_dir=str(tmp_path / "a"))
    b = aot.compile(str(mlperf_dir / "ic_float.onnx"), "x86-64", out_dir=str(tmp_path / "b"))
    assert a.manifest["files"] == b.manifest["files"]
    _, mismatch, errors = filecmp.cmpfiles(tmp_path / "a", tmp_path / "b", a.manifest["files"],
                                           shallow=False)
    assert not mismatch and not errors


# What the compiler itself ships (freestanding headers and ISA intrinsics), not libc.
COMPILER_HEADERS = {f"#include <{h}>" for h in
                    ("stdint.h", "stddef.h", "arm_neon.h", "arm_acle.h", "immintrin.h")}


def test_no_libc_headers_in_generated_code(compiled):
    for out in compiled.values():
        for f in sorted(out.rglob("*.[ch]")):
            includes = [ln for ln in f.read_text().splitlines() if ln.startswith("#include <")]
            assert set(includes) <= COMPILER_HEADERS, f


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_every_accepted_op_has_a_rule_on_every_target(target):
    from aot.targets.lowering import REMOVED_BY_PASSES
    import aot.targets.registry  # noqa: F401

    for op in sorted(accepted_ops()):
        assert find_rule(op, TARGETS[target]) is not None or op in REMOVED_BY_PASSES, op


@pytest.mark.parametrize("model, options", [
    ("ic_float.onnx", {"io_in_arena": True, "schedule": "memory", "inplace": False}),
    ("kws_int8.onnx", {}),
    ("ad_int8.onnx", {"io_in_arena": True}),
])
def test_option_variants_and_int8_build_with_both_compilers(model, options, tmp_path,
                                                            mlperf_dir):
    """What the default-option builds above leave out: zero-copy I/O, the memory
    schedule, no in-place, the opt-in static arena (-D<NAME>_STATIC_ARENA) and
    the int8 kernels -- every file through gcc and clang, strict."""
    out = tmp_path / "out"
    compiled = aot.compile(str(mlperf_dir / model), "x86-64", out_dir=str(out),
                           options=aot.Options(**options))
    obj = out / ".build" / "static.o"
    for cc in compilers().values():
        compile_all_c(out, cc)
        src = out / f"{compiled.name}.c"          # the only file the define changes
        proc = subprocess.run([*cc, *STRICT, "-O2", "-c", str(src), "-o", str(obj), f"-I{out}",
                               f"-D{compiled.name.upper()}_STATIC_ARENA"],
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr

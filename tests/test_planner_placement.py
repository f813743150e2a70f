"""Placement: zero-copy I/O in the arena (`--io-in-arena`), the opt-in static
arena (`<NAME>_STATIC_ARENA`), linker sections for the arena and the weights,
and the host runner's poison/guard check that catches writes outside the plan."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest

import aot
from aot.api import CompiledModel
from aot.errors import ToolchainError
from aot.options import Options
from conftest import need, need_import

STRICT = ["-std=c99", "-pedantic", "-Wall", "-Wextra", "-Wshadow", "-Wconversion", "-Werror",
          "-ffp-contract=off"]


def feeds_for(model, seed=0):
    rng = np.random.default_rng(seed)
    return {s["name"]: rng.standard_normal(s["shape"]).astype(s["dtype"])
            for s in model.manifest["inputs"]}


@pytest.mark.parametrize("fname", ["ad_float.onnx", "kws_float.onnx"])
def test_io_in_arena_runs_zero_copy_like_the_plain_build(fname, mlperf_dir, tmp_path):
    path = str(mlperf_dir / fname)
    plain = aot.compile(path, "x86-64", out_dir=str(tmp_path / "plain"))
    zero = aot.compile(path, "x86-64", out_dir=str(tmp_path / "zero"),
                       options=Options(io_in_arena=True))
    m = zero.manifest
    assert m["arena"]["io_in_arena"] and m["arena"]["io_bytes"] == 0
    assert plain.manifest["arena"]["io_bytes"] > 0
    for spec in m["inputs"] + m["outputs"]:
        nbytes = int(np.prod(spec["shape"])) * np.dtype(spec["dtype"]).itemsize
        assert 0 <= spec["arena_offset"] and spec["arena_offset"] + nbytes <= m["arena"]["bytes"]
    # The RAM the caller needs shrinks: the I/O buffers are folded into the arena.
    assert m["arena"]["bytes"] < plain.manifest["arena"]["bytes"] + \
        plain.manifest["arena"]["io_bytes"]
    for seed in range(3):
        feeds = feeds_for(plain, seed)
        a, b = plain.run(feeds), zero.run(feeds)     # the host runner passes NULL I/O
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])


MAIN_C = r"""
#include <stdio.h>
#include <string.h>
#include "{name}.h"

static float out_copy[{OUT}_SIZE];

int main(void)
{{
    float *in = (float *){name}_input_ptr(NULL, 0);
    const float *out = (const float *){name}_output_ptr(NULL, 0);
    uint32_t i;
    int rc;

    if (in == NULL || out == NULL || {name}_input_ptr(NULL, 1) != NULL ||
        {name}_output_ptr(NULL, -1) != NULL) {{
        return 10;
    }}
    for (i = 0; i < {IN}_SIZE; ++i) {{
        in[i] = (float)((int)(i % 17u) - 8) * 0.25f;
    }}
    rc = {name}_run(NULL, NULL, NULL);            /* static arena, zero-copy I/O */
    if (rc != 0) {{
        return 20;
    }}
    memcpy(out_copy, out, sizeof out_copy);
    for (i = 0; i < {IN}_SIZE; ++i) {{                 /* the run overwrote the input */
        in[i] = (float)((int)(i % 17u) - 8) * 0.25f;
    }}
    {{
        static float in_copy[{IN}_SIZE];
        static float out2[{OUT}_SIZE];
        memcpy(in_copy, in, sizeof in_copy);
        memset(in, 0, sizeof in_copy);               /* copied in from in_copy */
        rc = {name}_run(in_copy, out2, NULL);         /* caller pointers: copied in/out */
        if (rc != 0 || memcmp(out2, out_copy, sizeof out2) != 0) {{
            return 30;
        }}
    }}
    for (i = 0; i < {OUT}_SIZE; ++i) {{
        printf("%a\n", (double)out_copy[i]);
    }}
    return 0;
}}
"""


def test_static_arena_zero_copy_and_sections(mlperf_dir, tmp_path):
    """A C program using the static arena, NULL I/O pointers and named sections
    for the arena and the weights; its outputs equal the host runner's."""
    gcc = shutil.which("gcc")
    need(gcc is not None, "gcc is not installed")
    need_import("elftools")
    from elftools.elf.elffile import ELFFile
    out = tmp_path / "ad"
    model = aot.compile(str(mlperf_dir / "ad_float.onnx"), "x86-64", out_dir=str(out),
                        options=Options(name="ad", io_in_arena=True))
    (out / "main.c").write_text(MAIN_C.format(name="ad", IN="AD_INPUT0", OUT="AD_OUTPUT0"))
    defines = ["-DAD_STATIC_ARENA",
               '-DAD_ARENA_ATTR=__attribute__((section(".bss.ad_arena")))',
               '-DAD_WEIGHTS_ATTR=__attribute__((section(".rodata.ad_weights")))']
    objs = []
    for src in [f for f in model.manifest["files"] if f.endswith(".c")]:
        obj = tmp_path / (src.replace("/", "_") + ".o")
        proc = subprocess.run([gcc, *STRICT, "-O2", *defines, f"-I{out}", "-c", str(out / src),
                               "-o", str(obj)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        objs.append(obj)
    exe = tmp_path / "main"
    proc = subprocess.run([gcc, "-std=c99", "-O2", f"-I{out}", str(out / "main.c"), *map(str, objs),
                           "-o", str(exe)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    run = subprocess.run([str(exe)], capture_output=True, text=True)
    assert run.returncode == 0, run.returncode
    c_out = np.array([float.fromhex(v) for v in run.stdout.split()], np.float32)

    size = model.manifest["arena"]["bytes"]
    with open(tmp_path / "ad.c.o", "rb") as f:
        sections = {s.name: s for s in ELFFile(f).iter_sections()}
        assert sections[".bss.ad_arena"]["sh_size"] == size
        assert sections[".bss.ad_arena"]["sh_addralign"] >= model.manifest["arena"]["alignment"]
    with open(tmp_path / "ad_weights.c.o", "rb") as f:
        sections = {s.name: s for s in ELFFile(f).iter_sections()}
        assert sections[".rodata.ad_weights"]["sh_size"] >= model.manifest["weights_bytes"]

    [spec] = model.manifest["inputs"]
    n = int(np.prod(spec["shape"]))
    x = ((np.arange(n) % 17).astype(np.int64) - 8).astype(np.float32) * 0.25
    ours = model.run({spec["name"]: x.reshape(spec["shape"])})
    np.testing.assert_array_equal(c_out, next(iter(ours.values())).reshape(-1))


@pytest.mark.parametrize("cc_name", ["gcc", "clang"])
def test_placement_variants_build_with_werror(cc_name, mlperf_dir, tmp_path):
    from aot.targets.toolchain import zig_cc

    if cc_name == "gcc":
        need(shutil.which("gcc") is not None, "gcc is not installed")
        cc = [shutil.which("gcc")]
    else:
        cc = list(zig_cc().command)
    for io in (False, True):
        out = tmp_path / f"io{int(io)}"
        aot.compile(str(mlperf_dir / "kws_float.onnx"), "x86-64", out_dir=str(out),
                    options=Options(name="kws", io_in_arena=io))
        for defines in ([], ["-DKWS_STATIC_ARENA"],
                        ["-DKWS_STATIC_ARENA", "-DKWS_ARENA_ATTR=__attribute__((used))"]):
            for src in ("kws.c",):
                obj = out / ".build" / "check.o"
                obj.parent.mkdir(exist_ok=True)
                proc = subprocess.run([*cc, *STRICT, "-O2", *defines, f"-I{out}", "-c",
                                       str(out / src), "-o", str(obj)],
                                      capture_output=True, text=True)
                assert proc.returncode == 0, (io, defines, proc.stderr)


@pytest.mark.parametrize("io", [False, True])
def test_guard_bytes_catch_a_write_outside_the_arena(io, mlperf_dir, tmp_path):
    """A build whose plan is broken on purpose (one buffer moved to the arena's
    end) must fail the run loudly, not return numbers."""
    out = tmp_path / "ad"
    model = aot.compile(str(mlperf_dir / "ad_float.onnx"), "x86-64", out_dir=str(out),
                        options=Options(name="ad", io_in_arena=io))
    feeds = feeds_for(model)
    src = out / "ad.c"
    text = src.read_text()
    size = model.manifest["arena"]["bytes"]
    # A layer output (512 B, written by a kernel) moved to end 32 bytes past the arena
    # (within the runner's guard: a wilder write could corrupt the test process itself).
    macros = re.findall(r"#define (AD_OFF_RELU\w+) (\d+)u\n", text)
    assert macros
    name, value = max(macros, key=lambda m: int(m[1]))
    text = text.replace(f"#define {name} {value}u\n", f"#define {name} {size - 512 + 32}u\n")
    src.write_text(text)
    with pytest.raises(ToolchainError, match="outside its arena"):
        CompiledModel.load(str(out)).run(feeds)


def test_poison_does_not_leak_into_results(mlperf_dir, tmp_path):
    """The arena is NaN-poisoned before every run: a kernel that read a byte
    it had not written would turn the float outputs into NaN. Two runs of one
    input agree bit for bit, and no output is NaN."""
    model = aot.compile(str(mlperf_dir / "kws_float.onnx"), "x86-64", out_dir=str(tmp_path))
    feeds = feeds_for(model)
    a, b = model.run(feeds), model.run(feeds)
    for k in a:
        assert not np.isnan(a[k]).any()
        np.testing.assert_array_equal(a[k], b[k])

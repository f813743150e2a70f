"""Two compiled models in one firmware: examples/firmware on QEMU mps2-an386, and
the generated CMake files with two models in one host build.

Firmware: KWS and AD (float, ../shared/models/mlperf_tiny/) are compiled fresh
for cortex-m4 (--name kws / --name ad), built with arm-none-eabi-gcc through the
example's Makefile (which includes both generated .mk files: each runtime
kernel is compiled and linked once) and run with
`qemu-system-arm -M mps2-an386 -nographic -semihosting`. The firmware prints
every output element's IEEE-754 bits over semihosting; they are compared with
onnxruntime (CPU provider) on the same fixed inputs, which numpy rebuilds bit for
bit. Reference: onnxruntime, never our own host build. Tolerance as in
test_models.py: max |ours - onnxruntime| <= 1e-4 * max(1, max |onnxruntime|).
"""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest

import aot
from conftest import ROOT, need, need_import

FIRMWARE = ROOT / "examples" / "firmware"
MODELS = {"kws": ("kws_float.onnx", 1), "ad": ("ad_float.onnx", 2)}   # name: (file, input seed)
LINE = re.compile(r"^(\w+) out0 (\d+) 0x([0-9a-f]{8}) ", re.M)


def fixed_input(shape, seed: int) -> np.ndarray:
    """main.c's fill(): x[i] = ((((i + seed) * 7919) mod 2001) - 1000) / 100 in float32."""
    i = np.arange(int(np.prod(shape)), dtype=np.uint64)
    k = ((i + seed) * 7919 % 2001).astype(np.int32) - 1000
    return (k.astype(np.float32) / np.float32(100)).reshape(shape)


def runtime_kernels(compiled) -> set[str]:
    return {f.split("/")[-1] for f in compiled.manifest["files"]
            if f.startswith("aot_runtime/") and f.endswith(".c")}


@pytest.fixture(scope="module")
def firmware(tmp_path_factory, mlperf_dir):
    for tool in ("arm-none-eabi-gcc", "qemu-system-arm", "make"):
        need(shutil.which(tool) is not None, f"{tool} not found (Debian: apt-get install "
             f"gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm make)")
    tmp = tmp_path_factory.mktemp("firmware")
    compiled = {name: aot.compile(str(mlperf_dir / fname), "cortex-m4", out_dir=str(tmp / name),
                                  options=aot.Options(name=name))
                for name, (fname, _) in MODELS.items()}
    make = ["make", "-s", "-C", str(FIRMWARE), f"KWS_OUT={tmp / 'kws'}", f"AD_OUT={tmp / 'ad'}",
            f"BUILD={tmp / 'fw'}"]
    proc = subprocess.run(make, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    runtime = subprocess.run(make + ["print-AOT_RUNTIME_SRCS"], capture_output=True, text=True,
                             check=True).stdout.split()
    return compiled, tmp / "fw" / "fw.elf", runtime


def test_two_models_share_each_kernel_once(firmware):
    compiled, _, runtime = firmware
    names = [p.rsplit("/", 1)[-1] for p in runtime]
    kws, ad = runtime_kernels(compiled["kws"]), runtime_kernels(compiled["ad"])
    assert kws & ad, "the test needs a kernel both models use"
    assert sorted(names) == sorted(kws | ad)          # the union, each file once


def test_firmware_on_qemu_matches_onnxruntime(firmware, mlperf_dir):
    ort = need_import("onnxruntime")
    compiled, elf, _ = firmware
    proc = subprocess.run(["qemu-system-arm", "-M", "mps2-an386", "-nographic", "-monitor",
                           "none", "-semihosting", "-kernel", str(elf)],
                          capture_output=True, text=True, timeout=300)
    console = proc.stdout + proc.stderr    # QEMU writes semihosting output to stderr
    assert proc.returncode == 0, console[-2000:]
    assert "kws rc 0" in console and "ad rc 0" in console and "done" in console, console[-2000:]
    printed: dict[str, dict[int, int]] = {}
    for model, index, bits in LINE.findall(console):
        printed.setdefault(model, {})[int(index)] = int(bits, 16)
    for name, (fname, seed) in MODELS.items():
        [inp] = compiled[name].manifest["inputs"]
        [out] = compiled[name].manifest["outputs"]
        x = fixed_input(inp["shape"], seed)
        sess = ort.InferenceSession(str(mlperf_dir / fname), providers=["CPUExecutionProvider"])
        ref = sess.run(None, {inp["name"]: x})[0].reshape(-1)
        assert sorted(printed[name]) == list(range(ref.size)), name
        ours = np.array([printed[name][i] for i in range(ref.size)], np.uint32).view(np.float32)
        diff = float(np.max(np.abs(ours - ref)))
        bound = 1e-4 * max(1.0, float(np.max(np.abs(ref))))
        assert diff <= bound, f"{name} on QEMU: max |diff| vs onnxruntime {diff:.3g} > {bound:.3g}"
        print(f"{name} on QEMU mps2-an386: max |diff| vs onnxruntime {diff:.3g}")


def test_weights_and_arenas_in_their_linker_sections(firmware):
    """The Makefile's <NAME>_WEIGHTS_ATTR / <NAME>_ARENA_ATTR (and AD's own attribute)
    put the data where mps2_an386.ld says."""
    objdump = shutil.which("arm-none-eabi-objdump")
    need(objdump is not None, "arm-none-eabi-objdump not found")
    compiled, elf, _ = firmware
    table = subprocess.run([objdump, "-t", str(elf)], capture_output=True, text=True,
                           check=True).stdout
    section = {}
    for line in table.splitlines():
        parts = line.split()
        if len(parts) >= 5 and parts[2] == "O":
            section[parts[-1]] = parts[3]
    weights = [s for s in section if s.startswith(("kws_", "ad_")) and not s.endswith("arena")
               and not s.startswith(("kws_in", "kws_out", "ad_in", "ad_out"))]
    assert weights and all(section[s] == ".weights" for s in weights), \
        {s: section[s] for s in weights if section[s] != ".weights"}
    assert section["kws_static_arena"] == ".arena" and section["ad_arena"] == ".arena"


def test_two_models_link_with_cmake(tmp_path, mlperf_dir):
    """The generated CMakeLists.txt: two models add_subdirectory()'d into one host
    program share one aot_runtime library with each kernel compiled once."""
    cmake = shutil.which("cmake")
    need(cmake is not None and shutil.which("make") is not None, "cmake/make not found")
    proj = tmp_path / "proj"
    compiled = {name: aot.compile(str(mlperf_dir / fname), "x86-64", out_dir=str(proj / name),
                                  options=aot.Options(name=name))
                for name, (fname, _) in MODELS.items()}
    (proj / "main.c").write_text(
        '#include "kws.h"\n#include "ad.h"\n'
        "static float ki[KWS_INPUT0_SIZE], ko[KWS_OUTPUT0_SIZE], ai[AD_INPUT0_SIZE], "
        "ao[AD_OUTPUT0_SIZE];\n"
        "static _Alignas(64) unsigned char ka[KWS_ARENA_SIZE], aa[AD_ARENA_SIZE];\n"
        "int main(void) { return kws_run(ki, ko, ka) != 0 || ad_run(ai, ao, aa) != 0; }\n")
    (proj / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.13)\nproject(two C)\n"
        "add_subdirectory(kws)\nadd_subdirectory(ad)\n"
        "add_executable(app main.c)\ntarget_link_libraries(app kws ad)\n")
    build = tmp_path / "build"
    for cmd in ([cmake, "-S", str(proj), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release"],
                [cmake, "--build", str(build)]):
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    objects = sorted(p.name for p in build.rglob("aot_*.c.o"))
    kernels = runtime_kernels(compiled["kws"]) | runtime_kernels(compiled["ad"])
    assert objects == sorted(f"{k}.o" for k in kernels)      # each kernel compiled once
    assert subprocess.run([str(build / "app")], timeout=60).returncode == 0

# SPDX-License-Identifier: Apache-2.0
"""Integer-only inference: an int8-I/O model needs no FPU and no soft float.

For each MLPerf Tiny int8 model (int8 input and output), `aot.compile(model,
"cortex-m0plus")` and `"cortex-m3"` (no FPU on either), then the bare-metal ELF
that targets/cross.py links (generated C + the runtime kernels the model uses +
the harness, with only the compiler's own runtime library) is checked:

- the emitted runtime holds no float kernel (`aot_*_f32.c`);
- the ELF defines or references no soft-float or float-conversion helper:
  the ARM EABI ones (`__aeabi_f*`, `__aeabi_d*`, `__aeabi_*2f`, `__aeabi_*2d`)
  and their libgcc / compiler-rt names (`__addsf3`, `__floatsisf`, `__fixdfsi`, ...);
- its code (objdump honours the $t/$d mapping symbols, so literal pools are not
  decoded as instructions) contains no VFP / floating-point instruction.

Built with zig's clang (always) and arm-none-eabi-gcc (needed in CI). A control
test checks that the same checks do fire on a float model.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

import aot
from conftest import ROOT, need, need_import

MODELS = ["kws_int8.onnx", "vww_int8.onnx", "ic_int8.onnx", "ad_int8.onnx"]
TARGETS = ["cortex-m0plus", "cortex-m3"]
TOOLCHAINS = ["zig", "gcc"]
FLOAT_HELPER = re.compile(
    r"^__aeabi_[fd]|^__aeabi_\w+2[fd]$"            # EABI: fadd, dmul, f2iz, i2f, ul2d, ...
    r"|^__\w+[sdt]f\d?$|^__(float|fix)\w+$"        # libgcc/compiler-rt: addsf3, floatsisf, ...
    r"|^__(eq|ne|lt|le|gt|ge|un)[sd]f2$")
# VFP / FPv4 / FPv5 mnemonics (all start with 'v' in UAL) and the FP system registers.
FP_INSTRUCTION = re.compile(r"^(v[a-z0-9]+(\.[a-z0-9.]+)?|fmstat|fmrx|fmxr|vmrs|vmsr)$")


def objdump() -> str:
    tool = shutil.which("arm-none-eabi-objdump") or shutil.which("llvm-objdump")
    need(tool is not None, "no objdump for ARM (arm-none-eabi-objdump or llvm-objdump)")
    return tool


def float_symbols(elf: Path) -> list[str]:
    need_import("elftools")
    from elftools.elf.elffile import ELFFile

    found = set()
    with elf.open("rb") as f:
        for section in ELFFile(f).iter_sections():
            if section.header.sh_type != "SHT_SYMTAB":
                continue
            for sym in section.iter_symbols():
                name = sym.name.split(".")[-1]   # compiler_rt.addf3.__addsf3 -> __addsf3
                if FLOAT_HELPER.search(name):
                    found.add(sym.name)
    return sorted(found)


def fp_instructions(elf: Path) -> list[str]:
    import subprocess

    res = subprocess.run([objdump(), "-d", "--no-show-raw-insn", str(elf)],
                         capture_output=True, text=True, check=True)
    bad = []
    for line in res.stdout.splitlines():
        parts = line.split("\t")
        if len(parts) >= 2 and parts[0].strip().endswith(":"):
            mnemonic = parts[1].split()[0] if parts[1].split() else ""
            if FP_INSTRUCTION.match(mnemonic):
                bad.append(line.strip())
    return bad


def build(model_path: str, target: str, toolchain: str, out: Path):
    from aot.targets.cross import build_elf
    from aot.targets.target import resolve

    if toolchain == "gcc":
        need(shutil.which("arm-none-eabi-gcc") is not None, "arm-none-eabi-gcc is not installed")
    model = aot.compile(model_path, target, out_dir=str(out))
    b = build_elf(model.out_dir, model.manifest, resolve(target), toolchain=toolchain)
    return model, Path(b.elf)


@pytest.mark.parametrize("toolchain", TOOLCHAINS)
@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", MODELS)
def test_int8_model_needs_no_float(name, target, toolchain, mlperf_dir, tmp_path):
    model, elf = build(str(mlperf_dir / name), target, toolchain, tmp_path / "out")
    assert all(io["dtype"] == "int8" for io in model.manifest["inputs"] + model.manifest["outputs"])
    runtime = sorted(Path(f).name for f in model.files if "/aot_runtime/" in str(f))
    assert not [f for f in runtime if f.endswith("_f32.c")], runtime
    assert float_symbols(elf) == [], f"{name} {target} {toolchain}: {float_symbols(elf)}"
    fp = fp_instructions(elf)
    assert fp == [], f"{name} {target} {toolchain}: {len(fp)} FP instructions, e.g. {fp[:3]}"


def test_checks_fire_on_a_float_model(tmp_path):
    """Control: a float model pulls in soft-float helpers on Cortex-M0+ and VFP
    instructions on Cortex-M4F, and the checks above see both."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_tiny_cnn",
                                                  ROOT / "examples" / "make_tiny_cnn.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    import onnx

    path = tmp_path / "tiny.onnx"
    onnx.save(mod.build(), path)
    _, elf = build(str(path), "cortex-m0plus", "zig", tmp_path / "m0")
    assert any(s.endswith("__aeabi_fadd") or s.endswith("__addsf3") for s in float_symbols(elf))
    _, elf = build(str(path), "cortex-m4", "zig", tmp_path / "m4")
    assert fp_instructions(elf), "no VFP instruction found in a float build for cortex-m4"

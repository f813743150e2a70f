# SPDX-License-Identifier: Apache-2.0
"""Every runtime_c/*.c builds for a bare-metal Cortex-M and needs no libc.

The runtime promises "no libc at all" (DESIGN.md, The C side). Compilers
break that promise behind the source's back: gcc and clang turn a zeroing
or copying loop of variable length into a call to memset/memcpy from -O2 on
unless the build says -ffreestanding — and firmware Makefiles often do not.
So each source is compiled, on its own, by arm-none-eabi-gcc (Cortex-M0+
soft-float and Cortex-M4 hard-float) and by zig's clang (Cortex-M0+,
Cortex-M4F), at -O2/-O3/-Os (zig: -O2/-Os) and *without* -ffreestanding —
the stricter case: -ffreestanding only takes such calls away — and the ELF
object's undefined symbols (read with pyelftools) may only be

- other runtime functions `aot_*` that some runtime_c/*.c file defines, or
- the compiler's own run-time helpers for arithmetic the core lacks: the ARM
  EABI helpers `__aeabi_*` (soft float, 64-bit multiply, division) and
  libgcc's Thumb-1 switch-table helpers `__gnu_thumb1_case_*` —
  but not `__aeabi_memcpy*/memset*/memclr*/memmove*`, which are libc
  functions under another name, nor the unwinder's `__aeabi_unwind_cpp_pr*`.

zig objects are built with -fno-unwind-tables (as targets/cross.py does);
otherwise clang references the C++ unwinder's personality routine.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import need, need_import

RUNTIME = Path(__file__).resolve().parent.parent / "runtime_c"
SOURCES = sorted(RUNTIME.glob("*.c"))
OPTS = {"gcc": ["-O2", "-O3", "-Os"], "zig": ["-O2", "-Os"]}
FLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror"]
ZIG = [sys.executable, "-m", "ziglang", "cc"]
NO_UNWIND = ["-fno-unwind-tables", "-fno-asynchronous-unwind-tables"]

CONFIGS = {
    "arm-none-eabi-gcc-m0plus": ["arm-none-eabi-gcc", "-mcpu=cortex-m0plus", "-mthumb"],
    "arm-none-eabi-gcc-m4f": ["arm-none-eabi-gcc", "-mcpu=cortex-m4", "-mthumb",
                              "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"],
    "zig-m0plus": [*ZIG, "-target", "thumb-freestanding-eabi", "-mcpu=cortex_m0plus",
                   *NO_UNWIND],
    "zig-m4f": [*ZIG, "-target", "thumb-freestanding-eabihf", "-mcpu=cortex_m4+vfp4d16sp",
                *NO_UNWIND],
}
# libc functions under EABI names, and the C++ unwinder's personality routines.
NOT_HELPERS = ("__aeabi_memcpy", "__aeabi_memmove", "__aeabi_memset", "__aeabi_memclr",
               "__aeabi_unwind_cpp_")


def available(name: str) -> bool:
    if name.startswith("zig"):
        try:
            import ziglang  # noqa: F401
        except ImportError:
            return False
        return True
    return shutil.which(CONFIGS[name][0]) is not None


def symbols(obj: Path) -> tuple[set[str], set[str]]:
    """(defined global symbols, undefined symbols) of an ELF object."""
    need_import("elftools")
    from elftools.elf.elffile import ELFFile

    defined, undefined = set(), set()
    with obj.open("rb") as f:
        for section in ELFFile(f).iter_sections():
            if section.header.sh_type != "SHT_SYMTAB":
                continue
            for sym in section.iter_symbols():
                if not sym.name or sym["st_info"]["type"] in ("STT_FILE", "STT_SECTION"):
                    continue
                if sym["st_shndx"] == "SHN_UNDEF":
                    undefined.add(sym.name)
                elif sym["st_info"]["bind"] in ("STB_GLOBAL", "STB_WEAK"):
                    defined.add(sym.name)
    return defined, undefined


def allowed_helper(name: str) -> bool:
    if name.startswith(NOT_HELPERS):
        return False
    return name.startswith("__aeabi_") or name.startswith("__gnu_thumb1_case_")


def build_all(cc: list[str], flags: list[str], out: Path) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)

    def one(src: Path) -> tuple[str, Path]:
        obj = out / f"{src.stem}.o"
        res = subprocess.run([*cc, *FLAGS, *flags, "-c", "-I", str(RUNTIME), str(src),
                              "-o", str(obj)], capture_output=True, text=True)
        assert res.returncode == 0 and not res.stderr.strip(), \
            f"{' '.join(cc + flags)} {src.name}:\n{res.stderr}"
        return src.stem, obj

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(pool.map(one, SOURCES))


@pytest.mark.parametrize("name", list(CONFIGS))
def test_runtime_needs_no_libc(tmp_path, name):
    need(available(name), f"{CONFIGS[name][0]} is not installed")
    assert SOURCES, "runtime_c has no sources"
    problems = []
    for opt in OPTS["zig" if name.startswith("zig") else "gcc"]:
        flags = [opt]
        objects = build_all(CONFIGS[name], flags, tmp_path / opt.strip("-"))
        tables = {stem: symbols(obj) for stem, obj in objects.items()}
        runtime_defs = set().union(*(d for d, _ in tables.values()))
        for stem, (_, undefined) in sorted(tables.items()):
            bad = sorted(u for u in undefined
                         if not (u.startswith("aot_") and u in runtime_defs)
                         and not allowed_helper(u))
            if bad:
                problems.append(f"{stem}.c {' '.join(flags)}: {', '.join(bad)}")
    assert not problems, f"{name}: runtime objects need non-runtime symbols:\n" + \
        "\n".join(problems)


def test_helper_filter():
    assert allowed_helper("__aeabi_fadd") and allowed_helper("__aeabi_lmul")
    assert allowed_helper("__gnu_thumb1_case_uqi")
    assert not allowed_helper("__aeabi_memclr4") and not allowed_helper("__aeabi_memcpy")
    assert not allowed_helper("memset") and not allowed_helper("__aeabi_unwind_cpp_pr0")

"""Cross builds: a compiled output directory -> one bare-metal ELF for the emulator.

Contract: `build_elf(out_dir, manifest, target, toolchain="zig")` compiles every
`.c` file the manifest lists plus a generated harness, links them with a generated
linker script and returns a `CrossBuild` (the ELF path, the memory layout the
emulator must honour, the harness symbol names). All C is built with
`-std=c99 -Wall -Wextra -Werror -O2` plus the host builds' PORTABLE_FLAGS
(`-ffp-contract=off -ffreestanding`, as the emitted .mk/CMake use) and no libc: only the
compiler's own runtime (zig's compiler_rt, or libgcc) is linked, for soft-float
and division helpers. Failures raise ToolchainError (exit 3).

The harness (`aot_harness.c`, written to `out/.build/`) owns static, aligned
buffers for every input and output and an arena block: `HARNESS_GUARD` guard
bytes, the arena, `HARNESS_GUARD` guard bytes (so writes outside the arena can be
detected), and an entry point

    void aot_entry(void);   /* aot_harness_result = <name>_run(in..., out..., arena) */

The emulator writes inputs into `aot_harness_in<i>`, sets the stack pointer and a
return address of `Layout.magic_return`, calls `aot_entry` and stops when the
code returns there; then it reads `aot_harness_result` and `aot_harness_out<i>`.
With inputs/outputs in the arena (manifest `arena.io_in_arena`) the harness has
no I/O buffers and passes NULL for them; they live at `arena_offset` bytes into
the arena.

`build_elf(..., selftest=True)` (a model compiled with `--emit-selftest`) builds a
second image, `<tag>-selftest.elf`, whose harness has no I/O buffers, an arena
block of `<NAME>_SELFTEST_ARENA_SIZE` bytes between the guards, and

    void aot_entry(void);   /* aot_harness_result = <name>_selftest(arena, &d);
                               aot_harness_max_diff = d; */

The plain image never links `<name>_selftest.c`, so its flash and RAM figures are
the model's alone.

Toolchains: "zig" (`python -m ziglang cc`, no system install, the default) or
"gcc" (the target's GNU cross compiler, `arm-none-eabi-gcc` /
`aarch64-linux-gnu-gcc`). Only gcc supports `-fstack-usage`/`-fcallgraph-info`
here (zig's clang accepts the flag but writes the files into its cache), so the
static stack estimate exists for gcc builds only.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass

from aot.errors import ToolchainError, UsageError
from aot.targets.target import Target
from aot.targets.toolchain import PORTABLE_FLAGS, STRICT_FLAGS, Toolchain, zig_cc

TOOLCHAINS = ("zig", "gcc")
# Guard bytes on each side of the arena; a multiple of every target's arena alignment.
HARNESS_GUARD = 256
CROSS_FAMILIES = ("cortex-m", "aarch64")
LAYER_MARKS = ".aot_layers"
# A label at the hook's place and (index, label address) in LAYER_MARKS: no instruction.
LAYER_MARK_DEFINE = ("-DAOT_PROFILE_HOOK(i,name)=__asm__ __volatile__(\"1:\\n"
                     f"\\t.pushsection {LAYER_MARKS},\\\"\\\",%progbits\\n"
                     "\\t.4byte \" #i \"\\n\\t.4byte 1b\\n\\t.popsection\")")

# C types of the manifest's dtypes (the generated header declares the same ones).
_C_TYPES = {"float32": "float", "float64": "double", "int8": "int8_t", "uint8": "uint8_t",
            "int16": "int16_t", "uint16": "uint16_t", "int32": "int32_t",
            "uint32": "uint32_t", "int64": "int64_t", "uint64": "uint64_t", "bool": "uint8_t"}


@dataclass(frozen=True)
class Layout:
    """Where an emulated image lives. The stack is not in the ELF: the emulator maps
    it at `stack` (its lowest address) with nothing mapped just below, so a stack
    overflow is a write to unmapped memory rather than silent corruption."""

    flash: int          # code, const weights (ROM); Cortex-M flash starts at 0
    ram: int            # .data/.bss: harness I/O buffers and the arena
    stack: int          # lowest address of the stack region
    magic_return: int   # the harness returns here; the emulator stops on it
    flash_limit: int = 64 << 20
    ram_limit: int = 64 << 20


LAYOUTS = {
    # Cortex-M memory map: code region from 0, SRAM region from 0x2000_0000. The first
    # 0x100 bytes of flash are left where a firmware's vector table would go, so no
    # function sits at address 0 (NULL).
    "cortex-m": Layout(flash=0x0000_0000, ram=0x2000_0000, stack=0x2f00_0000,
                       magic_return=0x1ff0_0000),
    # AArch64 bare metal, MMU off (flat physical addresses); page 0 stays unmapped so a
    # NULL dereference faults.
    "aarch64": Layout(flash=0x0040_0000, ram=0x4000_0000, stack=0x7f00_0000,
                      magic_return=0x3ff0_0000),
}


@dataclass(frozen=True)
class CrossBuild:
    elf: str
    layout: Layout
    toolchain: str
    inputs: tuple[str, ...]      # harness symbol of each input buffer (none: io in arena)
    outputs: tuple[str, ...]
    arena_block: str = "aot_harness_arena_block"   # guard, arena, guard
    guard: int = HARNESS_GUARD
    result: str = "aot_harness_result"
    entry: str = "aot_entry"
    callgraph_dir: str | None = None   # gcc's .su/.ci files, for static_stack_bytes()
    selftest: bool = False             # the image runs <name>_selftest (see module doc)
    max_diff: str = "aot_harness_max_diff"


def cross_toolchain(target: Target, toolchain: str = "zig") -> Toolchain:
    """The compiler driver for `target`: zig's clang or the target's GNU gcc."""
    if toolchain not in TOOLCHAINS:
        raise UsageError(f"unknown toolchain '{toolchain}'; known: {', '.join(TOOLCHAINS)}")
    if toolchain == "zig":
        return zig_cc()
    if target.gcc is None:
        raise UsageError(f"target {target.name} has no GNU cross compiler")
    path = shutil.which(target.gcc)
    if path is None:
        package = "gcc-arm-none-eabi libnewlib-arm-none-eabi" if target.family == "cortex-m" \
            else "gcc-aarch64-linux-gnu"
        raise ToolchainError(f"{target.gcc} not found on PATH (Debian: apt-get install {package})")
    return Toolchain(target.gcc, (path,))


def harness_source(manifest: dict) -> str:
    """The C harness: static aligned I/O buffers, the guarded arena, and `aot_entry`."""
    name = manifest["name"]
    up = name.upper()
    if HARNESS_GUARD % manifest["arena"]["alignment"]:
        raise ToolchainError(f"{name}: arena alignment {manifest['arena']['alignment']} does "
                             f"not divide the harness guard of {HARNESS_GUARD} bytes")
    lines = ["/* SPDX-License-Identifier: Apache-2.0 */",
             f"/* Emulator harness for {name}, generated by aot.targets.cross: static buffers",
             " * the emulator fills and reads, and the entry point it calls. */",
             "#include <stddef.h>", "#include <stdint.h>", "", f'#include "{name}.h"', "",
             f"#define AOT_HARNESS_GUARD {HARNESS_GUARD}u",
             f"#define AOT_HARNESS_ARENA_BYTES {up}_ARENA_SIZE", ""]
    args = []
    io_in_arena = bool(manifest["arena"].get("io_in_arena"))
    for kind, specs in (("in", manifest["inputs"]), ("out", manifest["outputs"])):
        macro = "INPUT" if kind == "in" else "OUTPUT"
        for i, spec in enumerate(specs):
            if io_in_arena:
                args.append("NULL")
                continue
            ctype = _C_TYPES.get(spec["dtype"])
            if ctype is None:
                raise ToolchainError(f"{name}: no C type for {kind}put dtype {spec['dtype']}")
            sym = f"aot_harness_{kind}{i}"
            # Aligned like the arena, so SIMD kernels may use I/O buffers the same way.
            lines.append(f"{ctype} {sym}[{up}_{macro}{i}_SIZE] "
                         f"__attribute__((aligned({up}_ARENA_ALIGN)));")
            args.append(sym)
    lines += ["/* Guard bytes on both sides of the arena: the emulator checks them after a run. */",
              "uint8_t aot_harness_arena_block[AOT_HARNESS_GUARD + AOT_HARNESS_ARENA_BYTES + "
              "AOT_HARNESS_GUARD]",
              f"    __attribute__((aligned({up}_ARENA_ALIGN)));",
              "volatile int32_t aot_harness_result;", ""]
    call_args = ", ".join([*args, "aot_harness_arena_block + AOT_HARNESS_GUARD"])
    executor = bool(manifest.get("executor"))
    if executor:   # <name>_run_ex: its parts run serially (threads verified)
        lines += _serial_executor_source()
    # With an executor the emulator passes the worker count as the first argument.
    entry = "void aot_entry(int32_t workers)" if executor else "void aot_entry(void)"
    lines += [f"{entry};", "", "/* In its own section so the linker script can place it first. */",
              '__attribute__((section(".text.aot_entry")))', entry, "{"]
    if executor:
        lines += ["    aot_executor ex;", "",
                  "    ex.parallel_for = aot_harness_parallel_for;", "    ex.user = NULL;",
                  "    ex.workers = workers;",
                  f"    aot_harness_result = (int32_t){name}_run_ex(", f"        {call_args}, &ex);"]
    else:
        lines += [f"    aot_harness_result = (int32_t){name}_run(", f"        {call_args});"]
    lines += ["}", ""]
    return "\n".join(lines)


def _serial_executor_source() -> list[str]:
    """An executor that runs the parts of a split layer one after another, telling
    the emulator (a code hook on aot_harness_worker) which worker each part is
    for, so it can count each worker's instructions (aot.targets.emulator)."""
    return ["void aot_harness_worker(int32_t worker);", "",
            "/* Called before each part (worker index) and after the last (-1); the",
            " * emulator reads the argument register. No static data: RAM stays the model's. */",
            "__attribute__((noinline)) void aot_harness_worker(int32_t worker)", "{",
            '    __asm__ __volatile__("" : : "r"(worker));  /* the caller must pass it */',
            "}", "",
            "static void aot_harness_parallel_for(const aot_executor *executor, "
            "aot_task_fn fn,", "                                     void *context, "
            "int32_t n)", "{", "    int32_t i;", "",
            "    for (i = 0; i < n; ++i) {",
            "        aot_harness_worker(i % executor->workers);", "        fn(context, i);",
            "    }", "    aot_harness_worker(-1);", "}", ""]


def selftest_harness_source(manifest: dict) -> str:
    """The harness of the self-test image: the guarded arena and `aot_entry`."""
    name = manifest["name"]
    up = name.upper()
    if "selftest" not in manifest:
        raise UsageError(f"{name} was compiled without a self-test (--emit-selftest)")
    return "\n".join([
        "/* SPDX-License-Identifier: Apache-2.0 */",
        f"/* Emulator harness for {name}_selftest, generated by aot.targets.cross. */",
        "#include <stddef.h>", "#include <stdint.h>", "", f'#include "{name}_selftest.h"', "",
        f"#define AOT_HARNESS_GUARD {HARNESS_GUARD}u", "",
        "/* Guard bytes on both sides of the arena: the emulator checks them after a run. */",
        "uint8_t aot_harness_arena_block[AOT_HARNESS_GUARD + "
        f"{up}_SELFTEST_ARENA_SIZE + AOT_HARNESS_GUARD]",
        f"    __attribute__((aligned({up}_ARENA_ALIGN)));",
        "volatile int32_t aot_harness_result;",
        "volatile float aot_harness_max_diff;", "",
        "void aot_entry(void);", "",
        '__attribute__((section(".text.aot_entry")))',
        "void aot_entry(void)", "{", "    float max_diff = -1.0f;", "",
        f"    aot_harness_result = (int32_t){name}_selftest("
        "aot_harness_arena_block + AOT_HARNESS_GUARD, &max_diff);",
        "    aot_harness_max_diff = max_diff;", "}", ""])


def linker_script(layout: Layout, family: str) -> str:
    """Flash (code + const data) and RAM (.data/.bss) regions; everything else discarded."""
    # Cortex-M: code from 0x100, past where a firmware's vector table would sit.
    code_start = f"{layout.flash + 0x100:#x}" if family == "cortex-m" else ""
    return f"""/* Generated by aot.targets.cross for the {family} emulator image. */
ENTRY(aot_entry)
MEMORY
{{
    FLASH (rx) : ORIGIN = {layout.flash:#x}, LENGTH = {layout.flash_limit:#x}
    RAM (rw)   : ORIGIN = {layout.ram:#x}, LENGTH = {layout.ram_limit:#x}
}}
SECTIONS
{{
    .text {code_start} : {{
        KEEP(*(.text.aot_entry))
        *(.text .text.*)
    }} > FLASH
    .rodata : ALIGN(16) {{ *(.rodata .rodata.*) }} > FLASH
    .ARM.exidx : {{ *(.ARM.exidx .ARM.exidx.*) }} > FLASH
    .data : ALIGN(16) {{ *(.data .data.*) }} > RAM
    .bss (NOLOAD) : ALIGN(16) {{ *(.bss .bss.* COMMON) }} > RAM
    /* unreferenced, so GNU ld's --gc-sections would drop it (per-layer images) */
    {LAYER_MARKS} 0 (INFO) : {{ KEEP(*({LAYER_MARKS})) }}
    /DISCARD/ : {{ *(.comment) *(.note .note.*) *(.ARM.extab .ARM.extab.*) }}
}}
"""


def build_elf(out_dir: str, manifest: dict, target: Target, toolchain: str = "zig",
              force: bool = False, selftest: bool = False,
              layer_marks: bool = False) -> CrossBuild:
    """Build (or reuse, unless `force`) `out/.build/<name>-<target>-<toolchain>.elf`
    (`...-selftest.elf` with `selftest`: the image that runs `<name>_selftest`;
    `...-layers.elf` with `layer_marks`: AOT_PROFILE_HOOK records the address of
    each hook in the non-loaded section LAYER_MARKS as (layer index, address)
    pairs of 32-bit words, adding no instruction, for per-layer counts)."""
    if target.family not in CROSS_FAMILIES:
        raise UsageError(f"target {target.name} is not a cross target (family {target.family})")
    cc = cross_toolchain(target, toolchain)
    name = manifest["name"]
    layout = LAYOUTS[target.family]
    tag = f"{name}-{target.name}-{toolchain}" + ("-selftest" if selftest else "") \
        + ("-layers" if layer_marks else "")
    io_in_arena = bool(manifest["arena"].get("io_in_arena")) or selftest
    build = os.path.join(out_dir, ".build", tag)
    elf = os.path.join(out_dir, ".build", f"{tag}.elf")
    result = CrossBuild(
        elf=elf, layout=layout, toolchain=toolchain,
        inputs=() if io_in_arena else
        tuple(f"aot_harness_in{i}" for i in range(len(manifest["inputs"]))),
        outputs=() if io_in_arena else
        tuple(f"aot_harness_out{i}" for i in range(len(manifest["outputs"]))),
        callgraph_dir=build if toolchain == "gcc" else None, selftest=selftest)
    if os.path.exists(elf) and not force:
        return result
    os.makedirs(build, exist_ok=True)
    harness = os.path.join(build, "aot_harness.c")
    script = os.path.join(build, "link.ld")
    with open(harness, "w") as f:
        f.write(selftest_harness_source(manifest) if selftest else harness_source(manifest))
    with open(script, "w") as f:
        f.write(linker_script(layout, target.family))
    # .S: a weights blob may come as `<name>_weights.S` (.incbin) beside the C.
    own_test = (manifest.get("selftest") or {}).get("file")
    sources = [os.path.join(out_dir, f) for f in manifest["files"] if f.endswith((".c", ".S"))
               and (selftest or f != own_test)]
    # The manifest's flags when it was compiled for this toolchain, else the target's.
    flags = manifest["build_flags"] if manifest.get("toolchain") == toolchain \
        else target.flags(toolchain)
    args = [*flags, *STRICT_FLAGS, *PORTABLE_FLAGS,
            # Section per function/object + --gc-sections: flash holds only what is called.
            "-ffunction-sections", "-fdata-sections", f"-I{out_dir}"]
    if layer_marks:
        args.append(LAYER_MARK_DEFINE)
    if toolchain == "zig":
        # The C never unwinds; without this zig emits unwind tables into flash. zig keeps
        # frame pointers by default; gcc -O2 (and firmware builds) omit them.
        args = [*args, "-fno-unwind-tables", "-fno-asynchronous-unwind-tables",
                "-fomit-frame-pointer"]
        link = ["-Wl,-T," + script, "-Wl,-e,aot_entry", "-Wl,--gc-sections"]
        libs = []   # zig links its compiler_rt by itself (only -nostdlib would drop it)
    else:
        args = [*args, "-fstack-usage", "-fcallgraph-info=su",
                "-dumpdir", build + os.sep]
        link = ["-nostdlib", "-T", script, "-Wl,-e,aot_entry", "-Wl,--gc-sections"]
        if target.family == "aarch64":
            # Debian's aarch64-linux-gnu-gcc defaults to PIE; a bare-metal image is static.
            args += ["-fno-pie"]
            link += ["-static", "-no-pie"]
        libs = ["-lgcc"]   # soft-float/division helpers; -nostdlib drops it otherwise
    tmp = elf + ".tmp"
    cc.run([*args, *sources, harness, *link, "-o", tmp, *libs],
           f"building {os.path.basename(elf)} for {target.name}")
    os.replace(tmp, elf)
    return result


_SU_LINE = re.compile(r"^(?P<loc>.*):(?P<func>[^:\t]+)\t(?P<bytes>\d+)\t(?P<kind>\S+)$")
_CI_NODE = re.compile(r'node: \{ title: "(?P<f>[^"]+)" '
                      r'label: "[^"]*\\n(?P<b>\d+) bytes \((?P<k>[^)]+)\)')
_CI_EDGE = re.compile(r'edge: \{ sourcename: "(?P<s>[^"]+)" targetname: "(?P<t>[^"]+)"')


def static_stack_bytes(build: CrossBuild) -> tuple[int | None, list[str]]:
    """Worst-case stack of `aot_entry` from gcc's -fcallgraph-info=su call graph.

    Returns (bytes, unknown) where `unknown` lists callees with no frame size (the
    compiler's runtime helpers, e.g. libgcc's __aeabi_fadd: their frames are not
    counted). bytes is None when there is no gcc call graph, or a frame is dynamic,
    or the graph has a cycle (recursion): no static bound exists then.
    """
    if build.callgraph_dir is None or not os.path.isdir(build.callgraph_dir):
        return None, []
    frames: dict[str, int] = {}
    calls: dict[str, set[str]] = {}
    for fname in sorted(os.listdir(build.callgraph_dir)):
        if not fname.endswith(".ci"):
            continue
        with open(os.path.join(build.callgraph_dir, fname)) as f:
            text = f.read()
        for m in _CI_NODE.finditer(text):
            if m["k"] != "static":
                return None, []
            frames[m["f"]] = int(m["b"])
        for m in _CI_EDGE.finditer(text):
            calls.setdefault(m["s"], set()).add(m["t"])
    unknown: set[str] = set()
    memo: dict[str, int] = {}

    def worst(fn: str, path: frozenset[str]) -> int | None:
        if fn in path:
            return None
        if fn in memo:
            return memo[fn]
        if fn not in frames:
            unknown.add(fn)
            return 0
        deepest = 0
        for callee in sorted(calls.get(fn, ())):
            w = worst(callee, path | {fn})
            if w is None:
                return None
            deepest = max(deepest, w)
        memo[fn] = frames[fn] + deepest
        return memo[fn]

    return worst(build.entry, frozenset()), sorted(unknown)

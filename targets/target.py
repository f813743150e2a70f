"""Target descriptions: data plus small overrides.

A target names a CPU exactly (its features), the compiler flags that select
it, the arena alignment its kernels want, and how its code is built and run.
`resolve("native")` picks the best target this host can run.

Toolchains: a host target (runner "host") builds with `cc` (the system C
compiler, its default), `gcc` or `zig` (zig's clang, `python -m ziglang cc`); a
cross target with `zig` (its default) or `gcc` (the target's GNU cross
compiler). `Target.flags(toolchain)` is the complete set of CPU and
optimization flags a build with that toolchain uses -- what the manifest
records as `build_flags`.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass, field

from aot.errors import UsageError


@dataclass(frozen=True)
class Target:
    name: str
    family: str                        # "x86-64" | "aarch64" | "cortex-m": selects rule overrides
    description: str
    cflags: tuple[str, ...] = ()       # selects the CPU: host cc flags (x86), zig cc (cross)
    alignment: int = 16                # arena alignment in bytes
    features: tuple[str, ...] = ()
    runner: str = "host"               # "host" (ctypes), "unicorn" (emulated), "none" (build-only)
    build_flags: tuple[str, ...] = field(default=("-O2",))
    # The same CPU selection for the GNU cross compiler `gcc` (cross targets only).
    gcc: str | None = None             # e.g. "arm-none-eabi-gcc"
    gcc_flags: tuple[str, ...] = ()
    uc_cpu: str | None = None          # unicorn CPU model constant, e.g. "UC_CPU_ARM_CORTEX_M4"
    # zig cc's spelling of the CPU where it differs from cflags (x86: zig rejects -march=).
    zig_flags: tuple[str, ...] | None = None
    # Kernel variants this CPU can run, best first (registry keys, `--kernels NAME`).
    variants: tuple[str, ...] = ()

    @property
    def toolchains(self) -> tuple[str, ...]:
        """The toolchains that can build for this target, the default first."""
        return HOST_TOOLCHAINS if self.runner == "host" else CROSS_TOOLCHAINS

    @property
    def default_toolchain(self) -> str:
        return self.toolchains[0]

    def toolchain(self, name: str | None) -> str:
        """`name` checked against this target (None: the default toolchain)."""
        if name is None:
            return self.default_toolchain
        if name not in self.toolchains:
            raise UsageError(f"toolchain '{name}' cannot build for target {self.name}; "
                             f"use {' or '.join(self.toolchains)}")
        return name

    def cpu_flags(self, toolchain: str) -> tuple[str, ...]:
        """The flags that select this CPU, in `toolchain`'s spelling."""
        if toolchain == "zig":
            return self.zig_flags if self.zig_flags is not None else self.cflags
        if toolchain == "gcc" and self.gcc is not None:
            return self.gcc_flags
        return self.cflags    # host cc / gcc (x86: -march=...)

    def flags(self, toolchain: str) -> tuple[str, ...]:
        """CPU selection + optimization: every flag beyond the fixed strict/portable set."""
        return (*self.cpu_flags(toolchain), *self.build_flags)

    def as_dict(self) -> dict:
        return {"name": self.name, "family": self.family, "features": list(self.features),
                "variants": list(self.variants),
                "alignment": self.alignment, "cflags": list(self.cflags)}


HOST_TOOLCHAINS = ("cc", "gcc", "zig")
CROSS_TOOLCHAINS = ("zig", "gcc")

TARGETS: dict[str, Target] = {t.name: t for t in (
    Target("x86-64", "x86-64", "portable x86-64 (SSE2 baseline), any 64-bit x86 host",
           cflags=("-march=x86-64",), features=("sse2",), zig_flags=("-mcpu=x86_64",)),
    # Feature names are LLVM's (what llvmlite reports); aot.targets.hostcpu maps them to
    # /proc/cpuinfo flags. Alignment = one vector register, so aligned vector loads work.
    Target("x86-64-avx2", "x86-64",
           "x86-64-v3: AVX2 + FMA (Haswell / Zen 1 and later); refused on a host without them",
           cflags=("-march=x86-64-v3",), zig_flags=("-mcpu=x86_64_v3",), alignment=32,
           variants=("avx2",),
           features=("sse2", "avx", "avx2", "bmi", "bmi2", "f16c", "fma", "lzcnt", "movbe")),
    Target("x86-64-avx512", "x86-64",
           "x86-64-v4 + VNNI: AVX-512 F/CD/BW/DQ/VL/VNNI (Ice Lake / Zen 4 and later); "
           "refused on a host without them",
           cflags=("-march=x86-64-v4", "-mavx512vnni"),
           zig_flags=("-mcpu=x86_64_v4+avx512vnni",), alignment=64,
           variants=("avx512", "avx2"),
           features=("sse2", "avx", "avx2", "bmi", "bmi2", "f16c", "fma", "lzcnt", "movbe",
                     "avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl", "avx512vnni")),
    # AArch64 bare metal (no OS), emulated in-process by unicorn. 16 = one NEON q register.
    Target("aarch64", "aarch64", "Armv8.0-A + NEON, tuned for Cortex-A72; emulated as Cortex-A72",
           cflags=("-target", "aarch64-freestanding", "-mcpu=cortex_a72"),
           features=("neon", "fp"), variants=("neon",), runner="unicorn",
           uc_cpu="UC_CPU_ARM64_A72",
           gcc="aarch64-linux-gnu-gcc", gcc_flags=("-mcpu=cortex-a72",)),
    Target("aarch64-dotprod", "aarch64",
           "Armv8.2-A + DotProd (SDOT/UDOT), tuned for Cortex-A72; emulated as unicorn's 'max' "
           "CPU (the A72 model has no DotProd)",
           cflags=("-target", "aarch64-freestanding", "-mcpu=cortex_a72+v8_2a+dotprod"),
           features=("neon", "fp", "v8.2a", "dotprod"), variants=("dotprod", "neon"),
           runner="unicorn",
           uc_cpu="UC_CPU_ARM64_MAX", gcc="aarch64-linux-gnu-gcc",
           gcc_flags=("-march=armv8.2-a+dotprod", "-mtune=cortex-a72")),
    # Cortex-M: alignment 8 satisfies every M-profile access (LDRD/STRD and VLDR need 4,
    # AAPCS aligns doubles and the stack to 8) while wasting less of a small SRAM than 16.
    # zig's Cortex-M CPU models enable no FPU (and no DSP on the M33): name them here.
    Target("cortex-m0plus", "cortex-m",
           "Armv6-M, no FPU, no DSP (soft float); emulated as Cortex-M0 (unicorn has no M0+ "
           "model; both run the same Armv6-M instruction set)",
           cflags=("-target", "thumb-freestanding-eabi", "-mcpu=cortex_m0plus"),
           alignment=8, features=(), runner="unicorn", uc_cpu="UC_CPU_ARM_CORTEX_M0",
           gcc="arm-none-eabi-gcc",
           gcc_flags=("-mcpu=cortex-m0plus", "-mthumb", "-mfloat-abi=soft")),
    Target("cortex-m3", "cortex-m", "Armv7-M, no FPU, no DSP (soft float)",
           cflags=("-target", "thumb-freestanding-eabi", "-mcpu=cortex_m3"),
           alignment=8, features=(), runner="unicorn", uc_cpu="UC_CPU_ARM_CORTEX_M3",
           gcc="arm-none-eabi-gcc",
           gcc_flags=("-mcpu=cortex-m3", "-mthumb", "-mfloat-abi=soft")),
    Target("cortex-m4", "cortex-m", "Armv7E-M + DSP + FPv4-SP single-precision FPU, hard float",
           cflags=("-target", "thumb-freestanding-eabihf", "-mcpu=cortex_m4+vfp4d16sp"),
           alignment=8, features=("dsp", "fpv4-sp"), variants=("dsp",), runner="unicorn",
           uc_cpu="UC_CPU_ARM_CORTEX_M4", gcc="arm-none-eabi-gcc",
           gcc_flags=("-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16")),
    Target("cortex-m7", "cortex-m",
           "Armv7E-M + DSP + FPv5 double-precision FPU (D16), hard float",
           cflags=("-target", "thumb-freestanding-eabihf", "-mcpu=cortex_m7+fp_armv8d16"),
           alignment=8, features=("dsp", "fpv5-dp"), variants=("dsp",), runner="unicorn",
           uc_cpu="UC_CPU_ARM_CORTEX_M7", gcc="arm-none-eabi-gcc",
           gcc_flags=("-mcpu=cortex-m7", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv5-d16")),
    Target("cortex-m33", "cortex-m",
           "Armv8-M Mainline + DSP + FPv5 single-precision FPU, hard float",
           cflags=("-target", "thumb-freestanding-eabihf", "-mcpu=cortex_m33+dsp+fp_armv8d16sp"),
           alignment=8, features=("dsp", "fpv5-sp"), variants=("dsp",), runner="unicorn",
           uc_cpu="UC_CPU_ARM_CORTEX_M33", gcc="arm-none-eabi-gcc",
           gcc_flags=("-mcpu=cortex-m33", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv5-sp-d16")),
    Target("cortex-m55", "cortex-m",
           "Armv8.1-M + Helium (MVE integer and float) + DSP + FPv5 FPU, hard float; "
           "build-only: unicorn has no M55 model and Helium code cannot run here",
           cflags=("-target", "thumb-freestanding-eabihf", "-mcpu=cortex_m55+mve_fp+fp_armv8d16"),
           alignment=8, features=("dsp", "fpv5-dp", "mve", "mve.fp"), variants=("dsp",),
           runner="none",
           gcc="arm-none-eabi-gcc", gcc_flags=("-mcpu=cortex-m55", "-mthumb", "-mfloat-abi=hard")),
)}


# Host targets, best first: `native` is the first whose features this CPU has.
NATIVE_ORDER = {"x86_64": ("x86-64-avx512", "x86-64-avx2", "x86-64")}


def host_target() -> Target:
    """The best target this host runs: the first of NATIVE_ORDER whose features
    the CPU has (aot.targets.hostcpu: llvmlite's host features, else /proc/cpuinfo)."""
    from aot.targets.hostcpu import missing_features

    machine = platform.machine().lower()
    machine = {"amd64": "x86_64"}.get(machine, machine)
    for name in NATIVE_ORDER.get(machine, ()):
        if not missing_features(TARGETS[name]):
            return TARGETS[name]
    raise UsageError(f"no host target for this CPU ({machine}) yet; name a --target "
                     f"explicitly (see `aot targets`)")


def resolve(name: str | Target) -> Target:
    if isinstance(name, Target):
        return name
    if name == "native":
        return host_target()
    try:
        return TARGETS[name]
    except KeyError:
        raise UsageError(f"unknown target '{name}'; known: native, {', '.join(TARGETS)}") from None

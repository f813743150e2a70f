"""What the host CPU can run: its feature names, and a check that refuses a
target the host lacks features for.

Contract: `host_features()` returns the host's CPU features under LLVM's names
(the names `Target.features` uses), from llvmlite when it is installed, else
from the `flags` line of /proc/cpuinfo mapped to LLVM's names. `require_host_features(target)`
raises ToolchainError (exit 3) naming every missing feature, before anything is
built or loaded, so an unsupported target never dies of an illegal instruction.
"""

from __future__ import annotations

import functools
import platform

from aot.errors import ToolchainError

# /proc/cpuinfo spells some features differently from LLVM.
_CPUINFO_TO_LLVM = {
    "bmi1": "bmi", "abm": "lzcnt", "pni": "sse3", "sse4_1": "sse4.1", "sse4_2": "sse4.2",
    "avx512_vnni": "avx512vnni", "avx512_bf16": "avx512bf16", "avx512_vbmi2": "avx512vbmi2",
    "avx512_bitalg": "avx512bitalg", "avx512_vpopcntdq": "avx512vpopcntdq",
    "avx_vnni": "avxvnni", "asimd": "neon", "asimddp": "dotprod",
}


@functools.lru_cache(maxsize=1)
def host_features() -> frozenset[str]:
    """The host CPU's features, LLVM names (e.g. 'avx2', 'avx512vnni', 'dotprod')."""
    try:
        import llvmlite.binding as llvm
    except ImportError:
        return _cpuinfo_features()
    features = llvm.get_host_cpu_features()
    return frozenset(name for name, on in features.items() if on)


@functools.lru_cache(maxsize=1)
def host_cpu_name() -> str | None:
    """LLVM's name of the host CPU (e.g. 'icelake-server'), or None without llvmlite."""
    try:
        import llvmlite.binding as llvm
    except ImportError:
        return None
    return llvm.get_host_cpu_name() or None


def _cpuinfo_features() -> frozenset[str]:
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        # x86 calls the line 'flags', AArch64 'Features'.
        if key.strip() in ("flags", "Features"):
            return frozenset(_CPUINFO_TO_LLVM.get(f, f) for f in value.split())
    return frozenset()


def missing_features(target) -> list[str]:
    """The target's features this host lacks (empty when the host can run it)."""
    have = host_features()
    # 'sse2' is architectural on x86-64; some feature lists leave it out.
    implied = {"sse2"} if platform.machine().lower() in ("x86_64", "amd64") else set()
    return [f for f in target.features if f not in have and f not in implied]


def require_host_features(target, model: str = "the model") -> None:
    """Refuse (ToolchainError) to run `target` code on a host that lacks its features."""
    missing = missing_features(target)
    if missing:
        raise ToolchainError(
            f"cannot run {model} for target {target.name} here: this CPU lacks "
            f"{', '.join(missing)}; compile for a target it supports (see `aot targets`)")

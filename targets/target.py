"""Target descriptions: data plus small overrides.

A target names a CPU exactly (its features), the compiler flags that select
it, the arena alignment its kernels want, and how its code is built and run.
`resolve("native")` picks the best target this host can run.
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
    cflags: tuple[str, ...] = ()       # selects the CPU for any toolchain of the family
    alignment: int = 16                # arena alignment in bytes
    features: tuple[str, ...] = ()
    runner: str = "host"               # "host" (ctypes) or an emulator
    build_flags: tuple[str, ...] = field(default=("-O2",))

    def as_dict(self) -> dict:
        return {"name": self.name, "family": self.family, "features": list(self.features),
                "alignment": self.alignment, "cflags": list(self.cflags)}


TARGETS: dict[str, Target] = {t.name: t for t in (
    Target("x86-64", "x86-64", "portable x86-64 (SSE2 baseline), any 64-bit x86 host",
           cflags=("-march=x86-64",), features=("sse2",)),
)}


def host_target() -> Target:
    machine = platform.machine().lower()
    if machine in ("x86_64", "amd64"):
        return TARGETS["x86-64"]
    raise UsageError(f"no target for this host CPU ({machine}) yet; name a --target explicitly")


def resolve(name: str | Target) -> Target:
    if isinstance(name, Target):
        return name
    if name == "native":
        return host_target()
    try:
        return TARGETS[name]
    except KeyError:
        raise UsageError(f"unknown target '{name}'; known: native, {', '.join(TARGETS)}") from None

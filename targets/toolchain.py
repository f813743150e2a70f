"""C toolchains: the host compiler and zig's clang (from the `ziglang` package).

A toolchain turns the generated C into an object, a shared library or an
executable. Failures raise ToolchainError with the compiler's first error line.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass

from aot.errors import ToolchainError

STRICT_FLAGS = ("-std=c99", "-Wall", "-Wextra", "-Werror")
# Same float results from every compiler: no fused multiply-add contraction
# (it changes aot_expf's rounding), and no libc calls synthesized from loops.
PORTABLE_FLAGS = ("-ffp-contract=off", "-ffreestanding")


@dataclass(frozen=True)
class Toolchain:
    name: str
    command: tuple[str, ...]

    def run(self, args: list[str], what: str, cwd: str | None = None) -> None:
        try:
            proc = subprocess.run([*self.command, *args], cwd=cwd, capture_output=True,
                                  text=True, timeout=600)
        except FileNotFoundError:
            raise ToolchainError(f"{self.name}: compiler not found ({self.command[0]})") from None
        except subprocess.TimeoutExpired:
            raise ToolchainError(f"{self.name}: {what} took longer than 600 s") from None
        if proc.returncode != 0:
            lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
            first = next((ln for ln in lines if "error" in ln), lines[0] if lines else "")
            raise ToolchainError(f"{self.name}: {what} failed: {first}", lines[:20])

    def shared_library(self, sources: list[str], output: str, include_dirs: list[str],
                       flags: tuple[str, ...] = ("-O2",)) -> None:
        args = [*STRICT_FLAGS, *PORTABLE_FLAGS, *flags, "-fPIC", "-shared", "-o", output,
                *sources]
        args += [f"-I{d}" for d in include_dirs]
        self.run(args, f"building {os.path.basename(output)}")

    def compile_object(self, source: str, output: str, include_dirs: list[str],
                       flags: tuple[str, ...] = ()) -> None:
        args = [*STRICT_FLAGS, *PORTABLE_FLAGS, *flags, "-c", "-o", output, source]
        args += [f"-I{d}" for d in include_dirs]
        self.run(args, f"compiling {os.path.basename(source)}")


def host_cc() -> Toolchain:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise ToolchainError("no host C compiler (cc or gcc) on PATH; install gcc")
    return Toolchain("cc", (cc,))


def zig_cc() -> Toolchain:
    try:
        import ziglang  # noqa: F401
    except ImportError:
        raise ToolchainError("the ziglang package is not installed (pip install ziglang)") from None
    return Toolchain("zig-cc", (sys.executable, "-m", "ziglang", "cc"))


def host_toolchain(name: str = "cc") -> Toolchain:
    """A compiler for host targets: "cc" (the system compiler), "gcc" or "zig"."""
    if name == "cc":
        return host_cc()
    if name == "gcc":
        gcc = shutil.which("gcc")
        if gcc is None:
            raise ToolchainError("gcc not found on PATH (Debian: apt-get install gcc)")
        return Toolchain("gcc", (gcc,))
    if name == "zig":
        return zig_cc()
    raise ToolchainError(f"unknown host toolchain '{name}'; known: cc, gcc, zig")


def gcc_available() -> bool:
    return shutil.which("gcc") is not None

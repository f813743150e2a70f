"""Compile options: one explicit dataclass; the CLI maps its flags onto it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from aot.errors import UsageError


# Every ISA kernel variant some target has (aot.targets.target.Target.variants).
KERNEL_VARIANTS = ("dsp", "neon", "dotprod", "avx2", "avx512")


@dataclass(frozen=True)
class Options:
    name: str | None = None                 # C prefix; default: the model file's stem
    input_shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    optimize: str = "speed"                 # "speed" | "size"
    kernels: str = "auto"                   # "auto" | "portable" | a variant of the target
    ram_limit: int | None = None            # bytes; compile fails when the plan needs more
    toolchain: str | None = None            # None: the target's default
    flash_limit: int | None = None          # bytes; compile fails when the flash estimate is over
    inplace: bool = True                    # let elementwise calls write over a dying input
    schedule: str = "onnx"                  # "onnx" | "memory": call order minimizing peak RAM
    io_in_arena: bool = False               # inputs/outputs live in the arena (zero-copy I/O)
    quantize: str | None = None             # "int8": post-training quantization first (aot.quantize)
    calibration: str | None = None          # .npz of calibration inputs (needed with quantize)
    calibration_method: str = "minmax"      # "minmax" | "percentile" | "entropy"
    per_channel: bool = True                # per-output-channel conv weight scales
    emit_selftest: bool = False             # also write <name>_selftest.c/.h (aot.selftest)
    selftest_input: str | None = None       # .npy/.npz golden input (default: seeded random)
    selftest_tflite: str | None = None      # reference: TFLM on this .tflite (default: onnxruntime)

    def __post_init__(self):
        if self.schedule not in ("onnx", "memory"):
            raise UsageError(f"schedule must be 'onnx' or 'memory', not {self.schedule!r}")
        if self.optimize not in ("speed", "size"):
            raise UsageError(f"optimize must be 'speed' or 'size', not {self.optimize!r}")
        if self.kernels not in ("auto", "portable", *KERNEL_VARIANTS):
            raise UsageError(f"kernels must be auto, portable or one of "
                             f"{', '.join(KERNEL_VARIANTS)}, not {self.kernels!r}")
        if self.toolchain not in (None, "cc", "gcc", "zig"):
            raise UsageError(f"toolchain must be 'cc', 'gcc' or 'zig', not {self.toolchain!r}")
        if (self.selftest_input or self.selftest_tflite) and not self.emit_selftest:
            raise UsageError("selftest_input / selftest_tflite (--selftest-input / "
                             "--selftest-tflite) are only used with emit_selftest "
                             "(--emit-selftest)")

    def as_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["input_shapes"] = {k: list(v) for k, v in sorted(self.input_shapes.items())}
        return d


def parse_shape_spec(spec: str) -> tuple[str, tuple[int, ...]]:
    """'name=1,3,32,32' -> ('name', (1, 3, 32, 32))."""
    name, sep, dims = spec.rpartition("=")
    try:
        shape = tuple(int(d) for d in dims.split(","))
    except ValueError:
        shape = ()
    if not sep or not name or not shape or any(d <= 0 for d in shape):
        raise UsageError(f"bad --input-shape '{spec}'; expected NAME=d0,d1,... with positive dims")
    return name, shape


def parse_bytes(text: str) -> int:
    """'64K' / '1M' / '4096' -> bytes."""
    units = {"K": 1024, "M": 1024 * 1024}
    t = text.strip().upper().removesuffix("B")
    try:
        if t and t[-1] in units:
            return int(float(t[:-1]) * units[t[-1]])
        return int(t)
    except ValueError:
        raise UsageError(f"bad size '{text}'; expected e.g. 65536, 64K or 1M") from None

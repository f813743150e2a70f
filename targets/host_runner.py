"""Run a compiled model on the host: build a shared library under
`out/.build/`, load it with ctypes and call `<name>_run`.

Every run fills the arena (and the output buffers) with a poison pattern
first and checks guard bytes on both sides of the arena afterwards, so a
kernel writing outside the plan fails loudly. A build with inputs/outputs in
the arena (`--io-in-arena`) is run zero-copy: inputs are written through
`<name>_input_ptr`, `_run` gets NULL for them, outputs are read through
`<name>_output_ptr`.

The library is built with the manifest's toolchain (`cc`, `gcc` or `zig`) and
its `build_flags` (the target's CPU flags, e.g. -march=x86-64-v4, plus -O2);
a host whose CPU lacks the target's features is refused before anything is
built (ToolchainError, exit 3). The library's file name carries a hash of the
toolchain and flags when another build already took the plain name, so a
build with other flags is never reused."""

from __future__ import annotations

import ctypes
import hashlib
import json
import os

import numpy as np

from aot.errors import ToolchainError, UsageError
from aot.targets.hostcpu import require_host_features
from aot.targets.target import HOST_TOOLCHAINS, resolve
from aot.targets.toolchain import Toolchain, host_toolchain

POISON = 0xFF        # every arena byte before a run: a float32 NaN, int8 -1
GUARD = 0xA5         # the bytes just outside the arena, checked after the run
GUARD_BYTES = 256


def _library_path(out_dir: str, name: str, key: str) -> str:
    """`.build/lib<name>-<hash>.so`, the hash taken over the toolchain, the flags
    and the manifest (so the model's content): dlopen caches by path, so a
    process that recompiles into the same directory must never reuse a path.
    A plain `lib<name>.so` with no `.flags` stamp was built by the caller (e.g. a
    test's faster builder) and is used as it is."""
    build = os.path.join(out_dir, ".build")
    os.makedirs(build, exist_ok=True)
    plain = os.path.join(build, f"lib{name}.so")
    if os.path.exists(plain) and not os.path.exists(plain + ".flags"):
        return plain
    return os.path.join(build, f"lib{name}-{hashlib.sha256(key.encode()).hexdigest()[:12]}.so")


class HostRunner:
    def __init__(self, out_dir: str, manifest: dict, toolchain: Toolchain | None = None):
        self.out_dir = out_dir
        self.manifest = manifest
        name = manifest["name"]
        require_host_features(resolve(manifest["target"]["name"]), name)
        if toolchain is None:
            chosen = manifest.get("toolchain")
            toolchain = host_toolchain(chosen if chosen in HOST_TOOLCHAINS else "cc")
        flags = tuple(manifest["build_flags"])
        key = repr((toolchain.command, flags, json.dumps(manifest, sort_keys=True)))
        lib = _library_path(out_dir, name, key)
        if not os.path.exists(lib):
            sources = [os.path.join(out_dir, f) for f in manifest["files"] if f.endswith(".c")]
            tmp = lib + ".tmp"
            toolchain.shared_library(sources, tmp, [out_dir], flags)
            with open(lib + ".flags", "w") as f:
                f.write(key)
            os.replace(tmp, lib)
        self._lib = ctypes.CDLL(os.path.abspath(lib))
        self._run = getattr(self._lib, f"{name}_run")
        self._run.restype = ctypes.c_int
        n = len(manifest["inputs"]) + len(manifest["outputs"]) + 1
        self._run.argtypes = [ctypes.c_void_p] * n
        arena = manifest["arena"]
        self.io_in_arena = bool(arena.get("io_in_arena"))
        guard = GUARD_BYTES
        self._arena_raw = np.zeros(guard + arena["bytes"] + guard + arena["alignment"], np.uint8)
        shift = guard + (-(self._arena_raw.ctypes.data + guard)) % arena["alignment"]
        self.arena = self._arena_raw[shift:shift + arena["bytes"]]
        self._guards = (self._arena_raw[shift - guard:shift],
                        self._arena_raw[shift + arena["bytes"]:shift + arena["bytes"] + guard])
        if self.io_in_arena:
            self._ptr = {}
            for kind in ("input", "output"):
                fn = getattr(self._lib, f"{name}_{kind}_ptr")
                fn.restype = ctypes.c_void_p
                fn.argtypes = [ctypes.c_void_p, ctypes.c_int32]
                self._ptr[kind] = fn

    def _arena_view(self, kind: str, index: int, spec: dict) -> np.ndarray:
        """The arena bytes of input/output `index`, checked against the manifest."""
        base = self.arena.ctypes.data
        addr = self._ptr[kind](base, index)
        nbytes = int(np.prod(spec["shape"])) * np.dtype(spec["dtype"]).itemsize
        if addr is None or addr - base != spec["arena_offset"] or \
                addr - base + nbytes > self.arena.size:
            raise ToolchainError(f"{self.manifest['name']}_{kind}_ptr(arena, {index}) returned "
                                 f"{addr and addr - base} bytes into the arena, the manifest "
                                 f"says {spec['arena_offset']}")
        off = addr - base
        return self.arena[off:off + nbytes].view(np.dtype(spec["dtype"])).reshape(spec["shape"])

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        ins = []
        for spec in self.manifest["inputs"]:
            if spec["name"] not in feeds:
                raise UsageError(f"missing input '{spec['name']}' "
                                 f"(inputs: {', '.join(s['name'] for s in self.manifest['inputs'])})")
            value = np.asarray(feeds[spec["name"]], dtype=np.dtype(spec["dtype"]), order="C")
            if list(value.shape) != spec["shape"]:
                raise UsageError(f"input '{spec['name']}' has shape {list(value.shape)}, "
                                 f"the model takes {spec['shape']}")
            ins.append(value)
        unknown = set(feeds) - {s["name"] for s in self.manifest["inputs"]}
        if unknown:
            raise UsageError(f"unknown input(s): {', '.join(sorted(unknown))}")
        self.arena.fill(POISON)
        for g in self._guards:
            g.fill(GUARD)
        if self.io_in_arena:
            for i, (spec, value) in enumerate(zip(self.manifest["inputs"], ins)):
                self._arena_view("input", i, spec)[...] = value
            code = self._run(*[None] * (len(ins) + len(self.manifest["outputs"])),
                             self.arena.ctypes.data)
        else:
            outs = [np.empty(s["shape"], np.dtype(s["dtype"])) for s in self.manifest["outputs"]]
            for a in outs:
                a.reshape(-1).view(np.uint8).fill(POISON)
            ptrs = [a.ctypes.data for a in ins + outs] + [self.arena.ctypes.data]
            code = self._run(*ptrs)
        bad = [(side, int(np.count_nonzero(g != GUARD)))
               for side, g in zip(("before", "after"), self._guards)]
        if any(n for _, n in bad):
            raise ToolchainError(f"{self.manifest['name']}_run wrote outside its arena: "
                                 + ", ".join(f"{n} guard bytes {side} it changed"
                                             for side, n in bad if n))
        if code != 0:
            raise ToolchainError(f"{self.manifest['name']}_run returned error {code}")
        if self.io_in_arena:
            outs = [self._arena_view("output", i, s).copy()
                    for i, s in enumerate(self.manifest["outputs"])]
        return {s["name"]: a for s, a in zip(self.manifest["outputs"], outs)}

    def selftest(self) -> tuple[int, float]:
        """Call `<name>_selftest` (compiled with emit_selftest) with a fresh arena of
        the size it asks for: (its return code, the largest difference it saw)."""
        info = self.manifest.get("selftest")
        if info is None:
            raise UsageError(f"{self.manifest['name']} has no self-test (--emit-selftest)")
        fn = getattr(self._lib, f"{self.manifest['name']}_selftest")
        fn.restype = ctypes.c_int
        fn.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_float)]
        align = self.manifest["arena"]["alignment"]
        raw = np.full(info["arena_bytes"] + align, POISON, np.uint8)
        shift = (-raw.ctypes.data) % align
        max_diff = ctypes.c_float(-1.0)
        code = fn(raw[shift:].ctypes.data, ctypes.byref(max_diff))
        return int(code), float(max_diff.value)

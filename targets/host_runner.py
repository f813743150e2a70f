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
build with other flags is never reused.

Threads: `run(feeds, threads=N)` with N > 1 calls `<name>_run_ex` with the
bundled pthreads executor (aot_runtime/aot_executor_pthreads.c, built into the
library, one pool of N workers kept per N); N = 1 calls `<name>_run`. A model
without `_run_ex` (a target without threads) refuses N > 1 (UsageError).

Per layer: `profile_layers(feeds, repeats, threads)` builds a second library
whose AOT_PROFILE_HOOK stamps CLOCK_MONOTONIC before each layer and after the
last, runs the model `repeats` times and returns each layer's nanoseconds per
run (median over the runs) and the whole runs' medians."""

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
# The optional pthreads executor: part of the aot package (runtime_c/), not of the
# generated (libc-free) output; built into the library of a model with <name>_run_ex.
PTHREADS_EXECUTOR = "aot_executor_pthreads.c"

# The per-layer build: AOT_PROFILE_HOOK(i, name) stamps the clock into aot_profile_ns[i].
# The forced include names no system header, so the stamp's own file can ask for POSIX.
PROFILE_HOOK_H = """\
/* Forced into every file of the per-layer build (aot.targets.host_runner);
 * the weights blob's .S sees none of it. */
#ifndef __ASSEMBLER__
void aot_profile_stamp(int index);
#define AOT_PROFILE_HOOK(layer_index, layer_name) aot_profile_stamp(layer_index)
#endif
"""
PROFILE_STAMP_C = """\
/* SPDX-License-Identifier: Apache-2.0 */
/* Clock stamps of the per-layer build (aot.targets.host_runner). */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <time.h>

#include "{name}.h"

int64_t aot_profile_ns[{up}_NUM_LAYERS + 1];

void aot_profile_stamp(int index)
{{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    aot_profile_ns[index] = (int64_t)ts.tv_sec * 1000000000 + (int64_t)ts.tv_nsec;
}}
"""


class Executor(ctypes.Structure):
    """aot_executor (aot_runtime/aot_executor.h)."""

    _fields_ = [("parallel_for", ctypes.c_void_p), ("user", ctypes.c_void_p),
                ("workers", ctypes.c_int32)]


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
        self._executor_src: tuple[str, ...] = ()
        if manifest.get("executor"):
            from importlib import resources
            src = resources.files("aot.runtime_c") / PTHREADS_EXECUTOR
            self._executor_src = (str(src),)
            flags += ("-pthread",)
        self._toolchain, self._flags = toolchain, flags
        self._lib = self._build(toolchain, flags)
        self._run, self._run_ex = self._entry_points(self._lib)
        self._executors: dict[int, Executor] = {}
        self._profiled = None
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

    def _build(self, toolchain: Toolchain, flags: tuple[str, ...], extra: tuple[str, ...] = (),
               tag: str = "") -> ctypes.CDLL:
        """The model's shared library (`extra` sources beside its own, e.g. the clock
        stamps of the per-layer build), built once per toolchain, flags and manifest."""
        name = self.manifest["name"]
        key = repr((toolchain.command, flags, json.dumps(self.manifest, sort_keys=True), tag))
        if not tag:   # the plain build keeps the key it always had
            key = repr((toolchain.command, flags, json.dumps(self.manifest, sort_keys=True)))
        lib = _library_path(self.out_dir, name + tag, key)
        if not os.path.exists(lib):
            # .S: a large model's weights blob (`.incbin`, see aot.weights_blob)
            sources = [os.path.join(self.out_dir, f) for f in self.manifest["files"]
                       if f.endswith((".c", ".S"))]
            tmp = lib + ".tmp"
            toolchain.shared_library([*sources, *self._executor_src, *extra], tmp,
                                     [self.out_dir], flags)
            with open(lib + ".flags", "w") as f:
                f.write(key)
            os.replace(tmp, lib)
        return ctypes.CDLL(os.path.abspath(lib))

    def _entry_points(self, lib: ctypes.CDLL):
        name = self.manifest["name"]
        n = len(self.manifest["inputs"]) + len(self.manifest["outputs"]) + 1
        run = getattr(lib, f"{name}_run")
        run.restype = ctypes.c_int
        run.argtypes = [ctypes.c_void_p] * n
        run_ex = getattr(lib, f"{name}_run_ex", None)
        if run_ex is not None:
            run_ex.restype = ctypes.c_int
            run_ex.argtypes = [ctypes.c_void_p] * n + [ctypes.POINTER(Executor)]
        return run, run_ex

    def executor(self, threads: int) -> Executor | None:
        """The pthreads executor with `threads` workers (None for one thread)."""
        if not isinstance(threads, int) or threads < 1:
            raise UsageError(f"threads must be a positive integer, not {threads!r}")
        if threads == 1:
            return None
        if self._run_ex is None or not hasattr(self._lib, "aot_executor_pthreads_create"):
            raise UsageError(f"{self.manifest['name']} has no {self.manifest['name']}_run_ex: "
                             f"target {self.manifest['target']['name']} runs one thread; "
                             f"recompile for an x86-64 or aarch64 target")
        if threads not in self._executors:
            ex = Executor()
            create = self._lib.aot_executor_pthreads_create
            create.restype = ctypes.c_int
            create.argtypes = [ctypes.POINTER(Executor), ctypes.c_int32]
            if create(ctypes.byref(ex), threads) != 0:
                raise ToolchainError(f"could not start a pool of {threads} threads")
            self._executors[threads] = ex
        return self._executors[threads]

    def close(self) -> None:
        """Stops the executors' threads."""
        destroy = getattr(self._lib, "aot_executor_pthreads_destroy", None)
        for ex in self._executors.values():
            destroy.argtypes = [ctypes.POINTER(Executor)]
            destroy(ctypes.byref(ex))
        self._executors.clear()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

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

    def run(self, feeds: dict[str, np.ndarray], threads: int = 1) -> dict[str, np.ndarray]:
        return self._call(feeds, self.executor(threads), self._run, self._run_ex)

    def lean_call(self):
        """`infer(inputs) -> outputs` (lists in manifest order) doing what an interpreter's
        set-input / invoke / get-output does: copy each input into a buffer made once, one
        call of `<name>_run`, copy each output out. No poison fill or guard check (`run`
        keeps those), so benchmarks time the model and not the checks. Inputs must have
        the manifest's shapes; dtypes are converted."""
        ins_spec, outs_spec = self.manifest["inputs"], self.manifest["outputs"]
        if self.io_in_arena:
            in_bufs = [self._arena_view("input", i, s) for i, s in enumerate(ins_spec)]
            out_bufs = [self._arena_view("output", i, s) for i, s in enumerate(outs_spec)]
            ptrs = [None] * (len(ins_spec) + len(outs_spec))
        else:
            in_bufs = [np.zeros(s["shape"], np.dtype(s["dtype"])) for s in ins_spec]
            out_bufs = [np.zeros(s["shape"], np.dtype(s["dtype"])) for s in outs_spec]
            ptrs = [ctypes.c_void_p(a.ctypes.data) for a in in_bufs + out_bufs]
        args = tuple(ptrs) + (ctypes.c_void_p(self.arena.ctypes.data),)
        run, name = self._run, self.manifest["name"]
        n_in = len(in_bufs)

        def failed(inputs, code):
            if len(inputs) != n_in:
                return UsageError(f"{name} takes {n_in} input(s), got {len(inputs)}")
            return ToolchainError(f"{name}_run returned error {code}")

        # A model of one input and one output (the common case) skips the loops: at a
        # few us per inference the Python around the call is part of what is timed.
        # `buf[...] = x` is numpy's unsafe-casting copy, cheaper to call than np.copyto.
        if n_in == 1 and len(out_bufs) == 1:
            (buf,), (out,) = in_bufs, out_bufs

            def infer(inputs):
                if len(inputs) != 1:
                    raise failed(inputs, 0)
                buf[...] = inputs[0]
                code = run(*args)
                if code:
                    raise failed(inputs, code)
                return [out.copy()]
            return infer

        def infer_n(inputs):
            if len(inputs) != n_in:
                raise failed(inputs, 0)
            for buf, x in zip(in_bufs, inputs):
                buf[...] = x
            code = run(*args)
            if code:
                raise failed(inputs, code)
            return [b.copy() for b in out_bufs]
        return infer_n

    def profile_layers(self, feeds: dict[str, np.ndarray], repeats: int = 20,
                       threads: int = 1) -> tuple[list[float], float]:
        """(median ns of each layer, median ns of the whole run between the first
        and the last hook) over `repeats` runs of the per-layer build."""
        if self._profiled is None:
            name = self.manifest["name"]
            build = os.path.join(self.out_dir, ".build")
            os.makedirs(build, exist_ok=True)
            hook, stamp = (os.path.join(build, f) for f in ("aot_profile_hook.h",
                                                             "aot_profile_stamp.c"))
            for path, text in ((hook, PROFILE_HOOK_H),
                               (stamp, PROFILE_STAMP_C.format(name=name, up=name.upper()))):
                with open(path, "w") as f:
                    f.write(text)
            lib = self._build(self._toolchain, (*self._flags, "-include", hook), (stamp,),
                              tag="-layers")
            if "layers" not in self.manifest:
                raise UsageError(f"{name}: the manifest lists no layers (compiled by an older "
                                 f"aot); recompile")
            layers = len(self.manifest["layers"])
            stamps = (ctypes.c_int64 * (layers + 1)).in_dll(lib, "aot_profile_ns")
            self._profiled = (lib, *self._entry_points(lib), stamps)
        lib, run, run_ex, stamps = self._profiled
        ex = self.executor(threads)   # the plain library's pool serves this build too
        per_run = []
        for _ in range(max(repeats, 1)):
            self._call(feeds, ex, run, run_ex)
            per_run.append(np.frombuffer(stamps, np.int64).copy())
        t = np.array(per_run)
        layer_ns = np.median(np.diff(t, axis=1), axis=0)
        return [float(v) for v in layer_ns], float(np.median(t[:, -1] - t[:, 0]))

    def _call(self, feeds, ex, run, run_ex) -> dict[str, np.ndarray]:
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
            args = [*[None] * (len(ins) + len(self.manifest["outputs"])),
                    self.arena.ctypes.data]
            code = run(*args) if ex is None else run_ex(*args, ctypes.byref(ex))
        else:
            outs = [np.empty(s["shape"], np.dtype(s["dtype"])) for s in self.manifest["outputs"]]
            for a in outs:
                a.reshape(-1).view(np.uint8).fill(POISON)
            ptrs = [a.ctypes.data for a in ins + outs] + [self.arena.ctypes.data]
            code = run(*ptrs) if ex is None else run_ex(*ptrs, ctypes.byref(ex))
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

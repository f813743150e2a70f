"""Run a compiled model on the host: build a shared library under
`out/.build/`, load it with ctypes and call `<name>_run`."""

from __future__ import annotations

import ctypes
import os

import numpy as np

from aot.errors import ToolchainError, UsageError
from aot.targets.toolchain import Toolchain, host_cc


class HostRunner:
    def __init__(self, out_dir: str, manifest: dict, toolchain: Toolchain | None = None):
        self.out_dir = out_dir
        self.manifest = manifest
        name = manifest["name"]
        build = os.path.join(out_dir, ".build")
        lib = os.path.join(build, f"lib{name}.so")
        if not os.path.exists(lib):
            os.makedirs(build, exist_ok=True)
            sources = [os.path.join(out_dir, f) for f in manifest["files"] if f.endswith(".c")]
            tmp = lib + ".tmp"
            (toolchain or host_cc()).shared_library(sources, tmp, [out_dir],
                                                    tuple(manifest["build_flags"]))
            os.replace(tmp, lib)
        self._lib = ctypes.CDLL(os.path.abspath(lib))
        self._run = getattr(self._lib, f"{name}_run")
        self._run.restype = ctypes.c_int
        n = len(manifest["inputs"]) + len(manifest["outputs"]) + 1
        self._run.argtypes = [ctypes.c_void_p] * n
        arena = manifest["arena"]
        self._arena_raw = np.zeros(arena["bytes"] + arena["alignment"], np.uint8)
        shift = (-self._arena_raw.ctypes.data) % arena["alignment"]
        self.arena = self._arena_raw[shift:shift + arena["bytes"]]

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
        outs = [np.zeros(s["shape"], np.dtype(s["dtype"])) for s in self.manifest["outputs"]]
        ptrs = [a.ctypes.data for a in ins + outs] + [self.arena.ctypes.data or None]
        code = self._run(*ptrs)
        if code != 0:
            raise ToolchainError(f"{self.manifest['name']}_run returned error {code}")
        return {s["name"]: a for s, a in zip(self.manifest["outputs"], outs)}

"""Shared machinery of the differential tests: compile a model with aot, build
it fast, run it, and compare with onnxruntime.

Tolerance (float32, against onnxruntime with graph optimizations off):

    |aot - ort| <= RTOL * |ort| + ATOL * max(1, M)

with RTOL = 1e-4, ATOL = 1e-5 and M the largest magnitude among the output
and every tensor (inputs, weights, intermediates) it is computed from. Why:
both sides compute in float32 (eps = 1.2e-7) but sum in different orders
(a convolution or a matrix product of K terms may differ by up to ~K*eps
times the sum of |terms|, and our expf/tanhf are within 1-2 ulp of libm's),
so the error of an element is relative to the magnitudes that went into it,
not to the element itself: an element that cancels to ~0 keeps an absolute
error of eps * |terms|. The generated graphs keep K <= ~100 and depth <= ~10
with weights scaled by 1/sqrt(fan-in), so eps * K * depth ~ 1e-4 relative to
M bounds honest rounding; a wrong index, padding, broadcast or axis gives
errors of the order of M itself, four orders above. Every op here is
continuous, so no rounding flips a discrete decision. Never widen this to
make a failure pass: shrink it, look at it, and fix aot or the generator.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import threading

import numpy as np
import onnx

import aot
from aot.targets.host_runner import HostRunner
from aot.targets.toolchain import PORTABLE_FLAGS, STRICT_FLAGS, host_cc

RTOL = 1e-4
ATOL = 1e-5
PEDANTIC = ("-pedantic", "-Wconversion", "-Wshadow")
REGRESSIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "regressions")
# int8 cases are judged by tests/int8_reference.py, not onnxruntime: a folder of their own
REGRESSIONS_INT8 = os.path.join(REGRESSIONS, "int8")


def ort_run(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """onnxruntime's outputs (CPU, graph optimizations off: the plain kernels)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 3
    session = ort.InferenceSession(model.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, feeds)))


def magnitudes(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> dict[str, float]:
    """M per graph output: the largest |value| of the output and of everything it is
    computed from (intermediates evaluated by onnxruntime)."""
    from onnx import numpy_helper

    m = onnx.ModelProto()
    m.CopyFrom(model)
    outputs = {o.name for o in m.graph.output}
    for node in m.graph.node:
        for o in node.output:
            if o and o not in outputs:
                m.graph.output.append(onnx.ValueInfoProto(name=o))
    values = ort_run(m, feeds)
    values.update({k: np.asarray(v) for k, v in feeds.items()})
    values.update({t.name: numpy_helper.to_array(t) for t in model.graph.initializer})
    own = {k: float(np.max(np.abs(v))) if np.asarray(v).size and np.asarray(v).dtype.kind == "f"
           else 0.0 for k, v in values.items()}
    mag = dict(own)
    for node in model.graph.node:           # topological order: ancestors first
        m_in = max([mag.get(i, 0.0) for i in node.input if i] + [0.0])
        for o in node.output:
            if o:
                mag[o] = max(own.get(o, 0.0), m_in)
    return {o.name: mag[o.name] for o in model.graph.output}


def compare(got: dict[str, np.ndarray], want: dict[str, np.ndarray],
            magnitude: dict[str, float]) -> None:
    assert set(got) == set(want), (sorted(got), sorted(want))
    for name, ref in want.items():
        out = got[name]
        assert out.shape == ref.shape, f"{name}: shape {out.shape}, onnxruntime {ref.shape}"
        assert out.dtype == ref.dtype, f"{name}: dtype {out.dtype}, onnxruntime {ref.dtype}"
        assert np.all(np.isfinite(ref)), f"{name}: onnxruntime gives non-finite values"
        tol = RTOL * np.abs(ref) + ATOL * max(1.0, magnitude[name])
        err = np.abs(out.astype(np.float64) - ref.astype(np.float64))
        bad = ~(err <= tol)                 # NaN in ours counts as bad
        if bad.any():
            i = np.unravel_index(int(np.argmax(np.where(bad, err, -1))), ref.shape)
            raise AssertionError(
                f"{name}: {int(bad.sum())}/{ref.size} elements differ from onnxruntime "
                f"beyond |d| <= {RTOL}*|ref| + {ATOL}*{max(1.0, magnitude[name]):.3g}; "
                f"worst at {tuple(int(j) for j in i)}: aot {out[i]!r}, onnxruntime {ref[i]!r}")


class FastBuilder:
    """Builds a compiled model's shared library for HostRunner, compiling the
    runtime kernels once per content (they are identical in every output
    directory of one aot version) and only the two model files per model.
    Same compiler and flags as HostRunner's own build, plus -pedantic
    -Wconversion -Wshadow; HostRunner then loads it and runs with its
    poisoned arena and guard bytes."""

    def __init__(self, cache_dir: str):
        self.cache_dir = cache_dir
        self.cc = host_cc()
        self._lock = threading.Lock()
        os.makedirs(cache_dir, exist_ok=True)

    def _compile(self, src: str, obj: str, include: str, flags) -> None:
        # HostRunner's flags plus the strict set of test_generated_c, so every
        # fuzzed graph and option combination is also checked warning-free.
        args = [*self.cc.command, *STRICT_FLAGS, *PEDANTIC, *PORTABLE_FLAGS, *flags, "-fPIC",
                "-c", src, "-o", obj, f"-I{include}"]
        proc = subprocess.run(args, capture_output=True, text=True)
        if proc.returncode != 0:
            raise AssertionError(f"{os.path.basename(src)} does not build:\n{proc.stderr}")

    def build(self, out_dir: str, manifest: dict) -> None:
        name = manifest["name"]
        flags = tuple(manifest["build_flags"])
        build = os.path.join(out_dir, ".build")
        os.makedirs(build, exist_ok=True)
        objects = []
        for rel in manifest["files"]:
            if not rel.endswith(".c"):
                continue
            src = os.path.join(out_dir, rel)
            if rel.startswith("aot_runtime/"):
                with open(src, "rb") as f:
                    key = hashlib.sha256(f.read() + repr(flags).encode()).hexdigest()[:20]
                obj = os.path.join(self.cache_dir, f"{os.path.basename(rel)[:-2]}-{key}.o")
                with self._lock:
                    if not os.path.exists(obj):
                        # headers are found relative to the source, in out_dir/aot_runtime
                        self._compile(src, obj + ".tmp", out_dir, flags)
                        os.replace(obj + ".tmp", obj)
            else:
                obj = os.path.join(build, os.path.basename(rel)[:-2] + ".o")
                self._compile(src, obj, out_dir, flags)
            objects.append(obj)
        lib = os.path.join(build, f"lib{name}.so")
        proc = subprocess.run([*self.cc.command, "-shared", "-o", lib, *objects],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise AssertionError(f"linking {lib} failed:\n{proc.stderr}")


def run_aot(model: onnx.ModelProto, feeds: dict[str, np.ndarray], out_dir: str,
            builder: FastBuilder, options: aot.Options | None = None,
            target: str = "x86-64") -> dict[str, np.ndarray]:
    compiled = aot.compile(model, target, out_dir=out_dir, options=options, force=True)
    builder.build(compiled.out_dir, compiled.manifest)
    return HostRunner(compiled.out_dir, compiled.manifest).run(feeds)


def save_regression(stem: str, model: onnx.ModelProto, feeds: dict[str, np.ndarray],
                    options: aot.Options | None = None, target: str = "x86-64",
                    directory: str = REGRESSIONS) -> str:
    """Write a failing example as tests/regressions/<stem>.onnx (+ .npz feeds; the
    compile options and a non-default target in the model's metadata). Overwritten by each failing
    call, so after hypothesis has shrunk it, the file holds the smallest case."""
    import json

    os.makedirs(directory, exist_ok=True)
    stem = re.sub(r"\W", "_", stem)
    m = onnx.ModelProto()
    m.CopyFrom(model)
    if options is not None:
        opts = {k: v for k, v in options.as_dict().items()
                if k in ("inplace", "schedule", "io_in_arena")}
        m.metadata_props.append(onnx.StringStringEntryProto(key="aot_options",
                                                            value=json.dumps(opts)))
    if target != "x86-64":
        m.metadata_props.append(onnx.StringStringEntryProto(key="aot_target", value=target))
    path = os.path.join(directory, f"{stem}.onnx")
    onnx.save(m, path)
    np.savez(os.path.join(directory, f"{stem}.npz"), **feeds)
    return path


def regression_target(model: onnx.ModelProto) -> str:
    return next((p.value for p in model.metadata_props if p.key == "aot_target"), "x86-64")


def regression_options(model: onnx.ModelProto) -> aot.Options:
    import json

    for p in model.metadata_props:
        if p.key == "aot_options":
            return aot.Options(**json.loads(p.value))
    return aot.Options()



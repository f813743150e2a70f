"""Public Python API: `aot.compile(...) -> CompiledModel`.

The flow is one direction: frontend -> pass pipeline -> lowering -> memory
plan -> C emitter -> files (+ manifest). `CompiledModel.run` builds and runs
the written output on the target's runner.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field

import numpy as np
import onnx

from aot import emit as emitter
from aot.errors import CheckFailed, UsageError
from aot.frontend import import_model, load_proto
from aot.ir import Graph
from aot.options import Options
from aot.output import write_output
from aot.program import Program
from aot.version import __version__
from aot.inspect import flash_estimate, io_bytes, peak_details, peak_summary
from aot.passes.memory_plan import (Plan, lifetimes, plan_memory, schedule_for_memory,
                                    select_inplace_kernels)
from aot.passes.pipeline import pipeline_for, run_pipeline
from aot.targets.lowering import lower
from aot.targets.split import plan_splits
from aot.targets.target import Target, resolve

STATS_KEYS = ("model", "target", "outputs", "instructions", "flash_bytes", "ram_bytes",
              "stack_bytes", "arena_bytes")


@dataclass
class Compilation:
    """Everything the compiler derived, for inspect and tests (not written to disk)."""

    graph: Graph
    program: Program
    plan: Plan
    target: Target


@dataclass
class CompiledModel:
    out_dir: str
    manifest: dict
    compilation: Compilation | None = None
    _runner: object = field(default=None, repr=False)
    _tmp: object = field(default=None, repr=False)

    @property
    def files(self) -> list[str]:
        return [os.path.join(self.out_dir, f) for f in self.manifest["files"]]

    @property
    def name(self) -> str:
        return self.manifest["name"]

    @classmethod
    def load(cls, out_dir: str) -> "CompiledModel":
        """A model compiled earlier, from its output directory's manifest."""
        if not os.path.isdir(out_dir):
            raise UsageError(f"{out_dir}: not a directory")
        manifests = sorted(f for f in os.listdir(out_dir) if f.endswith(".json"))
        for f in manifests:
            try:
                with open(os.path.join(out_dir, f)) as fh:
                    manifest = json.load(fh)
            except (OSError, ValueError):
                continue
            if isinstance(manifest, dict) and manifest.get("generator") == "aot":
                return cls(out_dir, manifest)
        raise UsageError(f"{out_dir}: no aot manifest found (compile with `aot compile -o {out_dir}`)")

    def runner(self):
        if self._runner is None:
            if self.manifest["target"]["runner"] == "host":
                from aot.targets.host_runner import HostRunner
                from aot.targets.hostcpu import require_host_features
                # Refuse a CPU lacking the target's features before building anything.
                require_host_features(resolve(self.manifest["target"]["name"]), self.name)
                self._runner = HostRunner(self.out_dir, self.manifest)
            else:
                # Emulated targets; a build-only target raises ToolchainError here.
                from aot.targets.emulator import EmulatorRunner
                self._runner = EmulatorRunner(self.out_dir, self.manifest)
        return self._runner

    def run(self, feeds: dict[str, np.ndarray], threads: int = 1) -> dict[str, np.ndarray]:
        """Outputs of one run; `threads` > 1 cuts the heavy layers across that many
        workers (`<name>_run_ex`; host: pthreads, emulator: the parts run serially)."""
        return self.runner().run(feeds, threads=threads)

    def selftest(self) -> dict:
        """Build and run `<name>_selftest` (compiled with emit_selftest) on the target's
        runner: {"passed", "code", "max_diff", "tolerance", "reference"}."""
        info = self.manifest.get("selftest")
        if info is None:
            raise UsageError(f"{self.name} was compiled without a self-test "
                             f"(aot compile --emit-selftest)")
        if self.manifest["target"]["runner"] == "host":
            code, max_diff = self.runner().selftest()
        else:
            from aot.targets.emulator import EmulatorRunner
            code, max_diff = EmulatorRunner(self.out_dir, self.manifest, selftest=True).selftest()
        return {"passed": code == 0, "code": code, "max_diff": max_diff,
                "tolerance": info["tolerance"], "reference": info["reference"]}

    def run_with_stats(self, feeds: dict[str, np.ndarray],
                       threads: int = 1) -> tuple[dict[str, np.ndarray], dict]:
        runner = self.runner()
        measured = {}
        if hasattr(runner, "run_with_stats"):   # emulators measure; the host does not
            outputs, measured = runner.run_with_stats(feeds, threads=threads)
        else:
            outputs = runner.run(feeds, threads=threads)
        io = sum(int(np.prod(s["shape"])) * np.dtype(s["dtype"]).itemsize
                 for s in self.manifest["inputs"] + self.manifest["outputs"])
        stats = {
            "model": self.name,
            "target": self.manifest["target"]["name"],
            "outputs": {k: summarize(v) for k, v in outputs.items()},
            "instructions": None, "flash_bytes": None, "stack_bytes": None,
            "ram_bytes": self.manifest["arena"]["bytes"] + io,
            "arena_bytes": self.manifest["arena"]["bytes"],
            "threads": threads,
        }
        stats.update(measured)
        return outputs, stats


def summarize(a: np.ndarray) -> dict:
    import zlib
    flat = a.reshape(-1)
    return {"shape": list(a.shape), "dtype": str(a.dtype),
            "min": float(flat.min()) if flat.size else None,
            "max": float(flat.max()) if flat.size else None,
            "argmax": int(flat.argmax()) if flat.size else None,
            "crc32": zlib.crc32(np.ascontiguousarray(a).tobytes())}


def default_name(model, graph_name: str) -> str:
    if isinstance(model, (str, os.PathLike)):
        stem = os.path.splitext(os.path.basename(os.fspath(model)))[0]
    else:
        stem = graph_name
    return emitter.sanitize(stem, "model")


def compile_graph(model, target: str | Target = "native", options: Options | None = None,
                  dump_after=None) -> tuple[Compilation, onnx.ModelProto]:
    """Frontend, passes, lowering and planning; no files."""
    options = options or Options()
    target = resolve(target)
    proto = load_proto(model)
    if options.quantize is not None:   # post-training quantization: float -> int8 QDQ
        from aot.quantize import quantize_for_compile
        proto = quantize_for_compile(proto, options)
    graph = import_model(proto, options.input_shapes)
    graph = run_pipeline(graph, pipeline_for(target), dump_after)
    program = lower(graph, target, options.kernels, options.optimize)
    plan_args = dict(inplace=options.inplace, io_in_arena=options.io_in_arena)
    if options.schedule == "memory":
        program = schedule_for_memory(program, target.alignment, **plan_args)
    program = select_inplace_kernels(program, **plan_args)
    # Threads: which heavy calls get cut in parts (never one the plan writes in place).
    program = plan_splits(program, target, in_place=set(lifetimes(program, **plan_args)[1]))
    plan = plan_memory(program, target.alignment, **plan_args)
    comp = Compilation(graph, program, plan, target)
    if options.ram_limit is not None:
        ram = plan.arena_bytes + io_bytes(program, plan)
        if ram > options.ram_limit:
            raise CheckFailed(f"the plan needs {ram:,} B of RAM (arena {plan.arena_bytes:,} B"
                              f" + I/O buffers {ram - plan.arena_bytes:,} B), over --ram-limit "
                              f"{options.ram_limit:,} B; {peak_summary(program, plan)}",
                              peak_details(program, plan))
    if options.flash_limit is not None:
        flash = flash_estimate(program)
        if flash["total"] > options.flash_limit:
            raise CheckFailed(f"the model needs about {flash['total']:,} B of flash, over "
                              f"--flash-limit {options.flash_limit:,} B",
                              [f"{k}: {v:,} B" for k, v in flash.items() if k != "total"])
    return comp, proto


def compile(model, target: str | Target = "native", *, out_dir: str | None = None,
            options: Options | None = None, force: bool = False) -> CompiledModel:
    """Compile an ONNX model (path, bytes or ModelProto) to C in `out_dir`
    (a fresh temporary directory when None)."""
    options = options or Options()
    target = resolve(target)
    toolchain = target.toolchain(options.toolchain)   # a bad choice fails before any work
    comp, proto = compile_graph(model, target, options)
    name = emitter.sanitize(options.name, "model") if options.name else \
        default_name(model, comp.graph.name)
    if name == "aot" or name.startswith("aot_"):   # the runtime's symbols and header guards
        if options.name:
            raise UsageError(f"--name {options.name!r}: names starting with 'aot' belong to "
                             f"the aot runtime; choose another")
        name = f"model_{name}"
    model_hash = _model_hash(model, proto)
    model_file = os.path.basename(os.fspath(model)) if isinstance(model, (str, os.PathLike)) \
        else "<in memory>"
    provenance = {"model": model_file, "sha256": model_hash[:16], "target": comp.target.name,
                  "options": _options_text(options)}
    files = emitter.emit(comp.program, comp.plan, name, provenance,
                         selftest=options.emit_selftest)
    selftest = None
    if options.emit_selftest:
        from aot.selftest import selftest_files
        selftest_text, selftest = selftest_files(comp, proto, name, options, provenance,
                                                 model_file)
        files.update(selftest_text)
    manifest = _manifest(comp, name, options, model_file, model_hash, files, toolchain)
    if selftest is not None:
        manifest["selftest"] = selftest
    files[f"{name}.json"] = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    tmp = None
    if out_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix=f"aot-{name}-")
        out_dir = tmp.name
        force = True
    write_output(out_dir, files, force=force)
    return CompiledModel(out_dir, manifest, comp, _tmp=tmp)


def _options_text(options: Options) -> str:
    """The options that differ from the defaults, for the header: "inplace=False ..."."""
    default = Options().as_dict()
    parts = []
    for k, v in sorted(options.as_dict().items()):
        if v != default[k]:
            if isinstance(v, dict):   # input shapes: name=d0,d1;name2=...
                v = ";".join(f"{n}={','.join(map(str, d))}" for n, d in sorted(v.items()))
            parts.append(f"{k}={v}")
    return " ".join(parts) or "(defaults)"


def _model_hash(model, proto: onnx.ModelProto) -> str:
    if isinstance(model, (str, os.PathLike)):
        with open(model, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    if isinstance(model, bytes):
        return hashlib.sha256(model).hexdigest()
    return hashlib.sha256(proto.SerializeToString(deterministic=True)).hexdigest()


def _manifest(comp: Compilation, name: str, options: Options, model_file: str,
              model_hash: str, files: dict[str, bytes], toolchain: str) -> dict:
    program = comp.program
    io_names = emitter.io_c_names(program, name)

    def io(names):
        result = []
        for t in names:
            tensor = program.tensors[t]
            q = tensor.quant
            result.append({"name": t, "c_name": io_names[t], "shape": list(tensor.shape),
                           "dtype": str(tensor.dtype),
                           "scale": float(q.scale[0]) if q else 1.0,
                           "zero_point": int(q.zero_point[0]) if q else 0})
            if comp.plan.io_in_arena:   # byte offset of the tensor inside the arena
                result[-1]["arena_offset"] = comp.plan.offsets[program.root(t)[0]]
        return result

    return {
        "generator": "aot",
        "aot_version": __version__,
        "name": name,
        "target": {**comp.target.as_dict(), "runner": comp.target.runner},
        # What builds it: the toolchain and every flag beyond the fixed strict set.
        "toolchain": toolchain,
        "build_flags": list(comp.target.flags(toolchain)),
        "kernels": options.kernels,
        "options": options.as_dict(),
        "model": {"file": model_file, "sha256": model_hash},
        "inputs": io(program.inputs),
        "outputs": io(program.outputs),
        "arena": {"bytes": comp.plan.arena_bytes, "alignment": comp.plan.alignment,
                  "lower_bound": comp.plan.lower_bound, "io_in_arena": comp.plan.io_in_arena,
                  "io_bytes": io_bytes(program, comp.plan)},
        "weights_bytes": sum(program.tensors[t].nbytes for t in program.constants()),
        "files": sorted([*files, f"{name}.json"]),
        # The kernel calls in order (AOT_PROFILE_HOOK index = position), for per-layer
        # reports; `split`: the axis worker threads cut the call along (<name>_run_ex).
        "layers": [{"name": c.layer, "op": c.op, "kernel": c.kernel, "macs": int(c.macs),
                    "split": c.split.axis if c.split is not None else None}
                   for c in program.calls],
        "executor": bool(program.meta.get("executor")),
    }

"""Framework sessions for `aot bench`: one uniform call per framework.

Contract: `open_session(framework, model) -> Session` where `model` is a
`ModelFiles` (the ONNX file, its I/O specs, the paired `.tflite` or None).
A `Session` has `framework`, `version`, `threads`, `compile_s` (None where the
framework has no ahead-of-time step) and `infer(inputs) -> outputs`: inputs and
outputs are lists of numpy arrays in the ONNX model's I/O order. `infer` is the
call that is timed, so each framework's includes the same work a user's Python
call would do: hand the inputs over, run, and return fresh output arrays.

A framework that cannot run the model raises `Unavailable(status, reason)`:
status `"not installed"` (the package is missing) or `"not applicable"` (no
`.tflite` for it, an op or dtype it lacks, a hybrid model TFLM refuses).

Every baseline runs on the x86-64 host with one thread and batch 1:

| framework | what runs |
|---|---|
| `onnxruntime` | InferenceSession, all graph optimizations, intra-/inter-op threads 1, CPU provider |
| `tflite-xnnpack` | ai-edge-litert Interpreter on the `.tflite`, default delegates (XNNPACK), num_threads 1 |
| `tflite-builtin` | the same interpreter with the builtin kernels only (BUILTIN_WITHOUT_DEFAULT_DELEGATES) |
| `tflm` | the TensorFlow Lite Micro interpreter of the `tflite-micro` package on the `.tflite` |
| `tvm` | apache-tvm Relax ONNX frontend, `tvm.compile` default pipeline for `llvm -mcpu=<host>`, untuned, VM, 1 worker thread |
| `aot` | our generated C for the bench target, built with the host cc at -O3, `CompiledModel.run` |
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field

import numpy as np

FRAMEWORKS = ("aot", "onnxruntime", "tflite-xnnpack", "tflite-builtin", "tflm", "tvm")
BASELINES = FRAMEWORKS[1:]
NOT_INSTALLED = "not installed"
NOT_APPLICABLE = "not applicable"


class Unavailable(Exception):
    """The framework cannot run this model here; `status` says why in one word."""

    def __init__(self, status: str, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class IOSpec:
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    scale: float = 1.0
    zero_point: int = 0


@dataclass
class ModelFiles:
    onnx_path: str
    inputs: list[IOSpec]
    outputs: list[IOSpec]
    tflite_path: str | None = None
    # Set by the bench driver: the compiled output of our model (aot.CompiledModel).
    compiled: object = field(default=None, repr=False)


def package_version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version(dist)
    except PackageNotFoundError:
        return None


@contextlib.contextmanager
def quiet_stderr():
    """Silence C-level stderr (TFLite prints an INFO line per interpreter)."""
    try:
        fd = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(fd, 2)
        os.close(fd)


class Session:
    framework = "?"
    version: str | None = None
    threads: int | None = 1
    compile_s: float | None = None
    description = ""

    def infer(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        raise NotImplementedError

    def close(self) -> None:
        pass


# -- onnxruntime ------------------------------------------------------------------------------

class OrtSession(Session):
    framework = "onnxruntime"

    def __init__(self, model: ModelFiles, optimize: bool = True):
        try:
            import onnxruntime as ort
        except ImportError:
            raise Unavailable(NOT_INSTALLED, "onnxruntime is not installed "
                                             "(pip install onnxruntime)") from None
        so = ort.SessionOptions()
        so.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_ENABLE_ALL if optimize
                                       else ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.log_severity_level = 3
        try:
            self.sess = ort.InferenceSession(model.onnx_path, so,
                                             providers=["CPUExecutionProvider"])
        except Exception as e:   # ORT raises its own exception types
            raise Unavailable(NOT_APPLICABLE, f"onnxruntime cannot load the model: "
                                              f"{_first_line(e)}") from None
        self.names = [s.name for s in model.inputs]
        self.version = ort.__version__
        self.description = ("onnxruntime " + ort.__version__ + (", all optimizations" if optimize
                                                                 else ", no optimizations"))

    def infer(self, inputs):
        return self.sess.run(None, dict(zip(self.names, inputs)))


# -- TFLite (ai-edge-litert) ------------------------------------------------------------------

def _map_io(what: str, ours: list[IOSpec], theirs: list[tuple[tuple, np.dtype]]) -> list[int]:
    """Position in `theirs` of each of `ours`: same order when shapes and dtypes agree,
    else matched by unique (shape, dtype)."""
    if len(ours) != len(theirs):
        raise Unavailable(NOT_APPLICABLE, f"the .tflite has {len(theirs)} {what}s, the ONNX "
                                          f"model {len(ours)}")
    key = [(tuple(s.shape), np.dtype(s.dtype)) for s in ours]
    other = [(tuple(int(d) for d in sh), np.dtype(dt)) for sh, dt in theirs]
    if key == other:
        return list(range(len(ours)))
    order = []
    for k in key:
        hits = [j for j, o in enumerate(other) if o == k]
        if len(hits) != 1:
            shape, dtype = k
            found = ", ".join(f"{dt}{list(sh)}" for sh, dt in other)
            raise Unavailable(NOT_APPLICABLE, f"no .tflite {what} matches the ONNX {what} "
                                              f"{dtype}{list(shape)} (the .tflite has {found})")
        order.append(hits[0])
    return order


class TFLiteSession(Session):
    def __init__(self, model: ModelFiles, delegate: bool):
        self.framework = "tflite-xnnpack" if delegate else "tflite-builtin"
        if not model.tflite_path:
            raise Unavailable(NOT_APPLICABLE, "no .tflite original for this model (pass --tflite)")
        try:
            from ai_edge_litert.interpreter import Interpreter, OpResolverType
        except ImportError:
            raise Unavailable(NOT_INSTALLED, "ai-edge-litert is not installed "
                                             "(pip install ai-edge-litert)") from None
        resolver = (OpResolverType.AUTO if delegate
                    else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        try:
            with quiet_stderr():
                it = Interpreter(model_path=model.tflite_path, num_threads=1,
                                 experimental_op_resolver_type=resolver)
                it.allocate_tensors()
        except Exception as e:
            raise Unavailable(NOT_APPLICABLE, f"TFLite cannot load {os.path.basename(model.tflite_path)}: "
                                              f"{_first_line(e)}") from None
        ins, outs = it.get_input_details(), it.get_output_details()
        in_order = _map_io("input", model.inputs, [(d["shape"], d["dtype"]) for d in ins])
        out_order = _map_io("output", model.outputs, [(d["shape"], d["dtype"]) for d in outs])
        self.it = it
        self.in_idx = [ins[j]["index"] for j in in_order]
        self.out_idx = [outs[j]["index"] for j in out_order]
        self.version = package_version("ai-edge-litert")
        self.description = (f"ai-edge-litert {self.version}, "
                            + ("default delegates (XNNPACK)" if delegate else "builtin kernels")
                            + ", 1 thread")

    def infer(self, inputs):
        it = self.it
        for idx, x in zip(self.in_idx, inputs):
            it.set_tensor(idx, x)
        it.invoke()
        return [it.get_tensor(idx) for idx in self.out_idx]


# -- TensorFlow Lite Micro --------------------------------------------------------------------

class TflmSession(Session):
    framework = "tflm"

    def __init__(self, model: ModelFiles):
        if not model.tflite_path:
            raise Unavailable(NOT_APPLICABLE, "no .tflite original for this model (pass --tflite)")
        try:
            with quiet_stderr():
                from tflite_micro.python.tflite_micro import runtime
        except ImportError:
            raise Unavailable(NOT_INSTALLED, "tflite-micro is not installed "
                                             "(pip install tflite-micro)") from None
        name = os.path.basename(model.tflite_path)
        try:
            with quiet_stderr():
                it = runtime.Interpreter.from_file(model.tflite_path)
        except Exception as e:
            raise Unavailable(NOT_APPLICABLE, f"TFLM cannot prepare {name}: {_first_line(e)} "
                                              f"(e.g. a hybrid model, or an op TFLM lacks)") from None
        n_in, n_out = len(model.inputs), len(model.outputs)
        try:
            ins = [it.get_input_details(i) for i in range(n_in)]
            outs = [it.get_output_details(i) for i in range(n_out)]
        except Exception as e:
            raise Unavailable(NOT_APPLICABLE, f"TFLM: {name} I/O differ from the ONNX model's "
                                              f"({_first_line(e)})") from None
        self.in_order = _map_io("input", model.inputs, [(d["shape"], d["dtype"]) for d in ins])
        self.out_order = _map_io("output", model.outputs, [(d["shape"], d["dtype"]) for d in outs])
        self.it = it
        self.version = package_version("tflite-micro")
        self.description = f"TFLM: tflite-micro {self.version} interpreter, host build"

    def infer(self, inputs):
        it = self.it
        for j, x in zip(self.in_order, inputs):
            it.set_input(x, j)
        it.invoke()
        return [np.array(it.get_output(j)) for j in self.out_order]


# -- TVM --------------------------------------------------------------------------------------

class TvmSession(Session):
    framework = "tvm"

    def __init__(self, model: ModelFiles):
        try:
            with quiet_stderr():
                import onnx
                import tvm
                from tvm import relax
                from tvm.relax.frontend.onnx import from_onnx
        except ImportError:
            raise Unavailable(NOT_INSTALLED, "apache-tvm is not installed "
                                             "(pip install apache-tvm)") from None
        # One worker thread (mode 1 = the big cores; the only kind on x86).
        tvm.get_global_func("runtime.config_threadpool")(1, 1)
        self.threads = int(tvm.get_global_func("runtime.NumThreads")())
        cpu = tvm.target.codegen.llvm_get_system_cpu()
        start = time.perf_counter()
        try:
            proto = onnx.load(model.onnx_path)
            shapes = {s.name: list(s.shape) for s in model.inputs}
            mod = from_onnx(proto, shape_dict=shapes, keep_params_in_input=False)
            target = tvm.target.Target({"kind": "llvm", "mcpu": cpu})
            ex = tvm.compile(mod, target=target)
            self.vm = relax.VirtualMachine(ex, tvm.cpu())
        except Exception as e:
            raise Unavailable(NOT_APPLICABLE, f"TVM cannot compile the model: "
                                              f"{_first_line(e)}") from None
        self.compile_s = time.perf_counter() - start
        self.fn = self.vm["main"]
        self.tensor = tvm.runtime.tensor
        self.version = tvm.__version__
        self.description = (f"apache-tvm {tvm.__version__}, Relax ONNX frontend, default "
                            f"pipeline, llvm -mcpu={cpu}, untuned")

    def infer(self, inputs):
        out = self.fn(*[self.tensor(x) for x in inputs])
        if hasattr(out, "numpy"):
            return [out.numpy()]
        return [o.numpy() for o in out]


# -- ours -------------------------------------------------------------------------------------

class AotSession(Session):
    """`CompiledModel.run` on the host, the generated C built at -O3."""

    framework = "aot"

    def __init__(self, model: ModelFiles):
        from aot.api import CompiledModel
        from aot.version import __version__
        cm = model.compiled
        if cm is None:
            raise Unavailable(NOT_APPLICABLE, "the model was not compiled")
        manifest = dict(cm.manifest)
        manifest["build_flags"] = o3_flags(manifest.get("build_flags", []))
        self.model = CompiledModel(cm.out_dir, manifest)
        start = time.perf_counter()
        runner = self.model.runner()   # builds the shared library
        self.build_s = time.perf_counter() - start
        # Timed like the interpreters: copy in, one call, copy out (checked runs: model.run).
        self._lean = runner.lean_call() if hasattr(runner, "lean_call") else None
        self.names = [s["name"] for s in manifest["inputs"]]
        self.version = __version__
        self.description = (f"aot {__version__}, target {manifest['target']['name']}, "
                            f"host cc {' '.join(manifest['build_flags'])}")

    def infer(self, inputs):
        if self._lean is not None:
            return self._lean(inputs)
        out = self.model.run(dict(zip(self.names, inputs)))
        return list(out.values())


def o3_flags(flags) -> list[str]:
    """The manifest's build flags with the optimization level set to -O3."""
    return [f for f in flags if not (f.startswith("-O") and len(f) <= 3)] + ["-O3"]


def open_session(framework: str, model: ModelFiles) -> Session:
    if framework == "aot":
        return AotSession(model)
    if framework == "onnxruntime":
        return OrtSession(model)
    if framework == "tflite-xnnpack":
        return TFLiteSession(model, delegate=True)
    if framework == "tflite-builtin":
        return TFLiteSession(model, delegate=False)
    if framework == "tflm":
        return TflmSession(model)
    if framework == "tvm":
        return TvmSession(model)
    raise ValueError(f"unknown framework {framework!r}")


def _first_line(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0][:300]

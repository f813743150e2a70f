"""`aot bench`: our generated C against the interpreters people use today, in one run.

Contract: `bench(models, BenchOptions(...)) -> list[dict]`, one document per
(model, target) with the keys of DESIGN.md § Interfaces: `model`, `target`,
`results` ([{framework, median_us, p90_us, ratio_to_aot, outputs_match, error,
source, instructions, est_cycles, flash_bytes, ram_bytes, macs_per_cycle,
in_c_median_us, compile_s, threads, throughput_per_s, ...}]). Every result
carries every key (null where it does not apply), plus `status` ("ok",
"not installed", "not applicable", "failed", "mismatch").

Host targets (x86-64 family), per model:

1. Compile ours (`aot.compile`) and build it at -O3; open every requested
   framework (aot.baselines). One that cannot run the model gets a row with
   its reason (`error`) and no timing.
2. Verify before timing, on `verify` seeded random inputs (float: standard
   normal; integer: uniform over the dtype's int8 range) — a fast wrong answer
   is not a result. Float models: reference onnxruntime (all optimizations);
   a framework matches when max|out - ref| <= 1e-4 * max|ref| + 1e-6 per output
   and its argmax is the reference's (or ties with it within that tolerance). Int8 models:
   reference TFLM on the paired `.tflite`; ours must be bit-exact, the others
   must agree in argmax and their largest difference in LSB is reported.
   Without a `.tflite`, int8 models use onnxruntime as the reference (argmax +
   LSB for every framework). A framework whose outputs fail that check is not
   timed (status "mismatch"); ours is timed anyway and the run exits 1.
   The in-C harness must give exactly our Python call's outputs.
3. Time with interleaved rounds: a warm-up per framework, then `rounds` rounds
   of A B C ... (each framework `round_s` seconds' worth of calls per round,
   every call timed on its own with perf_counter_ns, GC off), so machine drift
   hits all frameworks alike. Median and p90 per framework over all calls;
   `ratio_to_aot` = framework median / aot median (above 1: we are faster).
   Our in-C harness (aot.c_harness) takes part in the rounds as its own
   timer and gives `in_c_median_us` / `in_c_p90_us` on the aot row.

With `scenario` set (singlestream / offline), each framework is driven through
MLPerf LoadGen instead (aot.loadgen_driver): SingleStream median/p90 latency,
Offline throughput (`ratio_to_aot` then compares time per sample); with an
accuracy `.npz`, top-1.

Threads (`threads` N > 1): ours runs `<name>_run_ex` with the pthreads
executor (heavy layers cut into N parts, aot.targets.split), onnxruntime with
intra_op_num_threads N; the other frameworks keep their own count (`threads`
on each row). Both are also measured with one thread in the same run
(interleaved rounds: an extra timer each; LoadGen: a second run), giving
`median_us_1_thread` / `throughput_1_thread_per_s` and `thread_speedup`
(one-thread time / N-thread time) on their rows. On an emulated target with
`<name>_run_ex` (AArch64) the N parts run serially: the aot row says whether
the outputs equal the one-thread outputs (`threads_outputs_identical`) and
gives each worker's instructions (`worker_instructions`).

Per layer (`per_layer`): the aot row gets `layers`, one entry per kernel call
({index, name (the ONNX node), op, kernel, split, macs, and on the host
`us` (median over the timed runs of a build whose AOT_PROFILE_HOOK stamps the
clock, with `threads`) and `macs_per_us`; emulated `instructions` (exact,
from an image whose hooks are bare labels, aot.targets.emulator) and
`macs_per_instruction`}), plus `layers_outside` (time or instructions before
the first and after the last layer) and `layers_total`.

Cortex-M targets cannot be timed here: the model runs in the unicorn emulator
and the aot row gives `instructions`, `est_cycles` (aot.cycles: the documented
cost table), `flash_bytes`, `ram_bytes`, `macs_per_cycle` (MACs / est_cycles;
`peak_macs_per_cycle` beside it) and `outputs_match` against the host reference.
`anchors` adds TFLM's reference figures (`tflm-cmsis-nn`, `tflm-ref`, source
"reference", not re-measured); there `ratio_to_aot` compares est_cycles.

Rendering (terminal table, Markdown report, PNG chart) lives in aot.bench_report.
"""

from __future__ import annotations

import datetime
import gc
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from aot.baselines import (BASELINES, NOT_APPLICABLE, IOSpec, ModelFiles, Unavailable,
                           open_session)
from aot.errors import AotError, UsageError

FLOAT_TOLERANCE = 1e-4
# float32 outputs that are all tiny (e.g. a probability map near 0 on a random image) cannot
# be judged relative to their own maximum: the intermediates they come from are far larger.
FLOAT_ABS_FLOOR = 1e-6
RESULT_KEYS = ("framework", "median_us", "p90_us", "ratio_to_aot", "outputs_match", "error",
               "source", "instructions", "est_cycles", "flash_bytes", "ram_bytes",
               "macs_per_cycle", "in_c_median_us", "compile_s", "threads", "throughput_per_s")

# The shared MLPerf Tiny models (../shared/models/mlperf_tiny/README.md): ONNX file name ->
# (paired .tflite or None, sha256 prefix of that .tflite, anchor key, why there is no .tflite).
# Pairing needs the .tflite beside the model with that hash, so a user's own file of the
# same name is never paired by accident.
SHARED_PAIRS = {
    "kws_int8.onnx": ("kws_ref_model.tflite", "aeea436800704fce", "kws", None),
    "kws_float_savedmodel.onnx": ("kws_savedmodel_float32.tflite", "65fee4bc3442415f", "kws",
                                  None),
    "kws_float.onnx": (None, None, "kws",
                       "its .tflite (kws_ref_model_float32.tflite) is a hybrid model that "
                       "quantizes activations on the fly: not comparable; use "
                       "kws_float_savedmodel.onnx"),
    "vww_int8.onnx": ("vww_96_int8.tflite", "597a384c8c2c8a12", "vww", None),
    "vww_float.onnx": ("vww_96_float.tflite", "115bbc094d211956", "vww", None),
    "ic_int8.onnx": ("pretrainedResnet_quant.tflite", "3c002613d1b2475e", "ic", None),
    "ic_float.onnx": ("pretrainedResnet.tflite", "b5c0046d6e0328b4", "ic", None),
    "ad_int8.onnx": ("ad01_int8.tflite", "87cf24194ef93d1d", "ad", None),
    "ad_float.onnx": ("ad01_fp32.tflite", "c66636f4d7f8af8b", "ad", None),
}


@dataclass
class BenchOptions:
    targets: tuple[str, ...] = ("native",)
    baselines: tuple[str, ...] = BASELINES
    tflite: tuple[str | None, ...] = ()        # one per model (None: automatic pairing)
    input_path: str | None = None             # .npy / .npz for verification and timing
    verify: int = 3                           # seeded random inputs checked before timing
    rounds: int = 20
    round_s: float = 0.1                      # seconds of calls per framework per round
    warmup_s: float = 0.2
    quick: bool = False
    seed: int = 0
    scenario: str | None = None               # "singlestream" | "offline"
    min_queries: int | None = None
    min_duration_s: float | None = None
    accuracy: str | None = None               # .npz with inputs and `labels`
    threads: int = 1                          # ours: <name>_run_ex workers; ORT: intra-op
    per_layer: bool = False                   # aot row: `layers` (see the module doc)
    anchors: str | None = None
    out_dir: str | None = None                # keep compiled outputs here (default: temp)
    input_shapes: dict = field(default_factory=dict)
    progress: bool | None = None              # None: when stderr is a terminal

    def __post_init__(self):
        unknown = [b for b in self.baselines if b not in BASELINES]
        if unknown:
            raise UsageError(f"unknown baseline(s) {', '.join(unknown)}; known: "
                             f"{', '.join(BASELINES)}")
        if self.quick:
            self.rounds = min(self.rounds, 3)
            self.round_s = min(self.round_s, 0.01)
            self.warmup_s = min(self.warmup_s, 0.02)
            self.verify = min(self.verify, 1)
        if self.rounds < 1 or self.verify < 1 or self.threads < 1:
            raise UsageError("--rounds, --verify and --threads take positive numbers")


# -- progress -----------------------------------------------------------------------------------

class Progress:
    """A one-line progress bar on stderr (only when it is a terminal, unless forced)."""

    def __init__(self, total: int, enabled: bool | None = None):
        self.total = max(total, 1)
        self.done = 0
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.label = ""

    def show(self, label: str | None = None, fraction: float = 0.0) -> None:
        """Redraw; `fraction` is how far the current step is (0..1)."""
        if label is not None:
            self.label = label
        if not self.enabled:
            return
        width = 24
        filled = int(width * min(self.done + min(max(fraction, 0.0), 1.0), self.total)
                     / self.total)
        line = f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} {self.label}"
        sys.stderr.write(line[:118].ljust(118))
        sys.stderr.flush()

    def advance(self, n: int = 1, label: str | None = None) -> None:
        self.done += n
        self.show(label)

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\r" + " " * 118 + "\r")
            sys.stderr.flush()


# -- the model under test -------------------------------------------------------------------------

def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def shared_pair(onnx_path: str) -> tuple[str | None, str | None, str | None]:
    """(paired .tflite path, anchor key, reason for no .tflite) of a shared MLPerf Tiny
    model, recognised by file name and its .tflite's content hash; (None, None, None)
    for any other model."""
    entry = SHARED_PAIRS.get(os.path.basename(onnx_path))
    if entry is None:
        return None, None, None
    tflite, sha, key, reason = entry
    folder = os.path.dirname(os.path.abspath(onnx_path))
    if tflite is None:
        # Still a shared model only when a known .tflite sits beside it.
        known = [(t, h) for t, h, _, _ in SHARED_PAIRS.values() if t]
        if not any(os.path.exists(os.path.join(folder, t)) and
                   _sha256(os.path.join(folder, t)).startswith(h) for t, h in known[:1]):
            return None, None, None
        return None, key, reason
    path = os.path.join(folder, tflite)
    if not os.path.exists(path) or not _sha256(path).startswith(sha):
        return None, None, None
    return path, key, None


def read_io(onnx_path: str, input_shapes: dict) -> tuple[list[IOSpec], list[IOSpec]]:
    import onnx
    from onnx import helper

    try:
        proto = onnx.load(onnx_path, load_external_data=False)
    except Exception as e:
        raise UsageError(f"{onnx_path}: cannot read the ONNX model ({e})") from None
    inits = {i.name for i in proto.graph.initializer}

    def spec(v, fixed=None):
        tt = v.type.tensor_type
        dims = []
        for d in tt.shape.dim:
            dims.append(d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None)
        if fixed is not None:
            dims = list(fixed)
        if any(d is None for d in dims):
            raise UsageError(f"{onnx_path}: '{v.name}' has a dynamic shape; fix it with "
                             f"--input-shape {v.name}=d0,d1,...")
        return IOSpec(v.name, tuple(int(d) for d in dims),
                      np.dtype(helper.tensor_dtype_to_np_dtype(tt.elem_type)))

    ins = [spec(v, input_shapes.get(v.name)) for v in proto.graph.input if v.name not in inits]
    outs = []
    for v in proto.graph.output:
        try:
            outs.append(spec(v))
        except UsageError:   # output shapes may stay symbolic: take them from a run
            outs.append(IOSpec(v.name, (), np.dtype(
                helper.tensor_dtype_to_np_dtype(v.type.tensor_type.elem_type))))
    return ins, outs


def seeded_inputs(specs: list[IOSpec], count: int, seed: int) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(count):
        sample = []
        for s in specs:
            if s.dtype.kind == "f":
                sample.append(rng.standard_normal(s.shape).astype(s.dtype))
            elif s.dtype.kind in "iu":
                info = np.iinfo(s.dtype)
                lo, hi = max(info.min, -128), min(info.max, 127)
                sample.append(rng.integers(lo, hi + 1, size=s.shape).astype(s.dtype))
            elif s.dtype.kind == "b":
                sample.append(rng.integers(0, 2, size=s.shape).astype(s.dtype))
            else:
                raise UsageError(f"no random input for dtype {s.dtype} of '{s.name}'; "
                                 f"pass --input")
        samples.append(sample)
    return samples


def load_inputs(path: str, specs: list[IOSpec]) -> list[list[np.ndarray]]:
    """Samples from a .npy (one input) or .npz (keyed by input name); a leading sample
    axis is allowed (then every sample is used)."""
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise UsageError(f"{path}: cannot read as .npy/.npz ({e})") from None
    if isinstance(data, np.ndarray):
        if len(specs) != 1:
            raise UsageError(f"{path}: a .npy holds one array, the model has {len(specs)} "
                             f"inputs; use a .npz keyed by input name")
        arrays = {specs[0].name: data}
    else:
        missing = [s.name for s in specs if s.name not in data.files]
        if missing:
            raise UsageError(f"{path}: no array for input(s) {', '.join(missing)} "
                             f"(it has {', '.join(data.files)})")
        arrays = {s.name: data[s.name] for s in specs}
    batched = {}
    count = None
    for s in specs:
        a = arrays[s.name]
        if tuple(a.shape) == s.shape:
            a = a[None]
        elif len(s.shape) >= 1 and s.shape[0] == 1 and a.ndim == len(s.shape) and \
                tuple(a.shape[1:]) == s.shape[1:]:
            a = a[:, None]     # the leading axis replaced the batch of 1
        elif tuple(a.shape[1:]) != s.shape:
            raise UsageError(f"{path}: '{s.name}' has shape {list(a.shape)}, the model takes "
                             f"{list(s.shape)} (optionally with a leading sample axis)")
        batched[s.name] = a
        count = len(a) if count is None else min(count, len(a))
    return [[_as_input(batched[s.name][i], s) for s in specs] for i in range(count)]


def _as_input(a: np.ndarray, spec: IOSpec) -> np.ndarray:
    if a.dtype.kind == "f" and spec.dtype.kind in "iu":
        # Float data for an integer model: quantize with the model input's parameters.
        info = np.iinfo(spec.dtype)
        q = np.round(a / spec.scale) + spec.zero_point
        return np.clip(q, info.min, info.max).astype(spec.dtype)
    return np.ascontiguousarray(a, dtype=spec.dtype)


# -- comparisons ------------------------------------------------------------------------------

def compare(outs: list[list[np.ndarray]], refs: list[list[np.ndarray]], *, integer: bool,
            exact: bool) -> dict:
    """Compare a framework's outputs with the reference's over all verification samples.

    float: max_abs_diff, max_rel_diff (max|a-b| / max|ref| per output), argmax agreement
    (a tie within the tolerance counts as agreement); match = argmax and, per output,
    max|a-b| <= 1e-4 * max|ref| + 1e-6.
    integer: max_lsb, argmax agreement (equal-valued ties count); match = argmax, and
    with `exact` also max_lsb == 0.
    """
    max_abs = max_rel = 0.0
    max_lsb = 0
    argmax_ok = within = True
    for o_list, r_list in zip(outs, refs):
        if len(o_list) != len(r_list):
            return {"outputs_match": False, "argmax_agrees": False,
                    "check": f"{len(o_list)} outputs, the reference has {len(r_list)}"}
        for o, r in zip(o_list, r_list):
            o = np.asarray(o)
            r = np.asarray(r)
            if o.size != r.size:
                return {"outputs_match": False, "argmax_agrees": False,
                        "check": f"output shape {list(o.shape)}, the reference's "
                                 f"{list(r.shape)}"}
            o = o.reshape(-1)
            r = r.reshape(-1)
            if o.size == 0:
                continue
            if integer:
                d = np.abs(o.astype(np.int64) - r.astype(np.int64))
                max_lsb = max(max_lsb, int(d.max()))
                tol = 0
            else:
                d = np.abs(o.astype(np.float64) - r.astype(np.float64))
                scale = float(np.abs(r.astype(np.float64)).max()) or 1.0
                if not np.all(np.isfinite(d)):
                    max_abs = max_rel = float("inf")
                else:
                    max_abs = max(max_abs, float(d.max()))
                    max_rel = max(max_rel, float(d.max()) / scale)
                tol = FLOAT_TOLERANCE * scale
                within = within and float(d.max()) <= tol + FLOAT_ABS_FLOOR
            a = int(o.argmax())
            if a != int(r.argmax()) and not (float(r[a]) >= float(r.max()) - tol):
                argmax_ok = False
    if integer:
        match = argmax_ok and (max_lsb == 0 if exact else True)
        return {"outputs_match": bool(match), "argmax_agrees": argmax_ok, "max_lsb": max_lsb,
                "check": ("bit-exact" if max_lsb == 0 else f"max {max_lsb} LSB")
                + ("" if argmax_ok else ", argmax differs")}
    match = argmax_ok and within
    return {"outputs_match": bool(match), "argmax_agrees": argmax_ok,
            "max_abs_diff": max_abs, "max_rel_diff": max_rel,
            "check": f"max rel diff {max_rel:.2g}" + ("" if argmax_ok else ", argmax differs")}


# -- timing -----------------------------------------------------------------------------------

def _python_timer(session, inputs):
    infer = session.infer
    clock = time.perf_counter_ns

    def timed(n: int) -> np.ndarray:
        ns = np.empty(n, np.int64)
        for i in range(n):
            t0 = clock()
            infer(inputs)
            ns[i] = clock() - t0
        return ns
    return timed


def measure_interleaved(timers: dict, opts: BenchOptions, progress: Progress | None = None,
                        label: str = "", failures: dict | None = None) -> dict[str, np.ndarray]:
    """ns per call of every timer: warm-up, then `opts.rounds` rounds of A B C ...
    A timer that raises is dropped and its error put in `failures` (name -> text)."""
    failures = {} if failures is None else failures
    per_call = {}
    for name, timer in timers.items():
        start = time.perf_counter()
        samples = []
        try:
            while True:
                samples.extend(timer(1).tolist())
                if len(samples) >= 3 and time.perf_counter() - start >= opts.warmup_s:
                    break
        except Exception as e:
            failures[name] = f"failed while warming up: {type(e).__name__}: {e}"
            continue
        per_call[name] = max(float(np.median(samples)), 1.0)
    calls = {n: max(1, int(opts.round_s * 1e9 / t)) for n, t in per_call.items()}
    timers = {n: t for n, t in timers.items() if n in per_call}
    got: dict[str, list] = {n: [] for n in timers}
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        for r in range(opts.rounds):
            for name, timer in timers.items():
                if name in failures:
                    continue
                try:
                    got[name].append(timer(calls[name]))
                except Exception as e:   # report it on the row; the others go on
                    failures[name] = f"failed while timing: {type(e).__name__}: {e}"
            if progress is not None:
                progress.show(f"{label}timing round {r + 1}/{opts.rounds}",
                              0.2 + 0.8 * (r + 1) / opts.rounds)
    finally:
        if was_enabled:
            gc.enable()
    return {n: np.concatenate(v) for n, v in got.items() if n not in failures and v}


def _stats_us(ns: np.ndarray) -> tuple[float, float]:
    return float(np.percentile(ns, 50)) / 1e3, float(np.percentile(ns, 90)) / 1e3


def _sig(v: float, digits: int = 4) -> float:
    """`v` rounded to `digits` significant digits (ratios span 0.001 to 1000)."""
    return float(f"{v:.{digits}g}")


def empty_result(framework: str, **values) -> dict:
    row = {k: None for k in RESULT_KEYS}
    row.update(framework=framework, source="measured", status="ok", outputs_match=None)
    row.update(values)
    return row


# -- machine --------------------------------------------------------------------------------

def machine_info() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    cc = shutil.which("cc") or shutil.which("gcc")
    cc_version = None
    if cc:
        try:
            cc_version = subprocess.run([cc, "--version"], capture_output=True, text=True,
                                        timeout=30).stdout.splitlines()[0]
        except (OSError, subprocess.SubprocessError, IndexError):
            pass
    try:
        from aot.targets.hostcpu import host_features
        features = sorted(f for f in host_features()
                          if f in ("sse4.2", "avx", "avx2", "fma", "avx512f", "avx512vnni",
                                   "neon", "dotprod"))
    except Exception:
        features = []
    try:
        load = [round(v, 2) for v in os.getloadavg()]
    except OSError:
        load = None
    return {"cpu": cpu, "cores": os.cpu_count(), "features": features, "load_average": load,
            "os": platform.platform(), "python": platform.python_version(),
            "cc": cc_version, "date": datetime.datetime.now(datetime.timezone.utc)
            .strftime("%Y-%m-%d %H:%M UTC")}


# -- one model on the host -------------------------------------------------------------------

class ModelCase:
    """One model prepared for benchmarking on a host target: compiled, inputs
    chosen, reference computed, sessions opened on demand and verified."""

    def __init__(self, onnx_path: str, target: str = "native", tflite: str | None = None,
                 *, input_shapes: dict | None = None, out_dir: str | None = None,
                 samples: list[list[np.ndarray]] | None = None, verify: int = 3, seed: int = 0):
        import aot
        from aot.options import Options
        from aot.targets.target import resolve

        if not os.path.exists(onnx_path):
            raise UsageError(f"{onnx_path}: no such file")
        self.onnx_path = onnx_path
        self.target = resolve(target)
        ins, outs = read_io(onnx_path, input_shapes or {})
        pair, self.anchor_key, self.tflite_reason = shared_pair(onnx_path)
        if tflite:
            if not os.path.exists(tflite):
                raise UsageError(f"--tflite {tflite}: no such file")
            pair, self.tflite_reason = tflite, None
        self.files = ModelFiles(onnx_path, ins, outs, pair)
        self.name = os.path.splitext(os.path.basename(onnx_path))[0]
        self.integer = all(s.dtype.kind in "iu" for s in outs)
        self.samples = samples if samples is not None else seeded_inputs(ins, verify, seed)
        self.sessions: dict = {}
        self.unavailable: dict[str, Unavailable] = {}
        self.checks: dict[str, dict] = {}
        self.compile_error: str | None = None
        self.compile_s = None
        self.macs = None
        start = time.perf_counter()
        try:
            shapes = {k: tuple(v) for k, v in (input_shapes or {}).items()}
            self.compiled = aot.compile(onnx_path, self.target, out_dir=out_dir,
                                        options=Options(name=None, input_shapes=shapes),
                                        force=out_dir is not None)
            self.files.compiled = self.compiled
            self.compile_s = time.perf_counter() - start
            from aot.inspect import inspect_report
            self.macs = inspect_report(self.compiled.compilation)["macs"]
            # Our inputs with the quantization parameters the compiler recorded.
            qp = {s["name"]: s for s in self.compiled.manifest["inputs"]}
            self.files.inputs = [IOSpec(s.name, s.shape, s.dtype,
                                        qp.get(s.name, {}).get("scale", 1.0),
                                        qp.get(s.name, {}).get("zero_point", 0))
                                 for s in ins]
        except AotError as e:
            self.compiled = None
            self.compile_error = f"aot cannot compile the model: {str(e).splitlines()[0]}"
        self.reference_framework, self.reference_name, self.reference = self._reference()

    # The reference: TFLM on the .tflite for integer models, else onnxruntime.
    def _reference(self):
        order = (["tflm", "onnxruntime"] if self.integer else ["onnxruntime"])
        for fw in order:
            s = self.session(fw)
            if s is None:
                continue
            try:
                outs = [s.infer(x) for x in self.samples]
            except Exception as e:
                self.unavailable[fw] = Unavailable("failed", f"{fw} failed: {e}")
                self.sessions.pop(fw, None)
                continue
            name = s.description
            if fw == "tflm":
                name = f"{s.description}, on {os.path.basename(self.files.tflite_path)}"
            return fw, name, [[np.array(o) for o in out] for out in outs]
        return None, None, None

    def session(self, framework: str):
        """The open session, or None (the reason is in `unavailable`)."""
        if framework in self.sessions:
            return self.sessions[framework]
        if framework in self.unavailable:
            return None
        if framework == "aot" and self.compiled is None:
            self.unavailable["aot"] = Unavailable("failed", self.compile_error)
            return None
        try:
            s = open_session(framework, self.files)
        except Unavailable as e:
            if framework in ("tflite-xnnpack", "tflite-builtin", "tflm") and \
                    not self.files.tflite_path and self.tflite_reason:
                e = Unavailable(NOT_APPLICABLE, f"no .tflite: {self.tflite_reason}"
                                if "beside" in self.tflite_reason else self.tflite_reason)
            self.unavailable[framework] = e
            return None
        except Exception as e:   # a crash while loading: report, do not die
            self.unavailable[framework] = Unavailable("failed", f"{framework} failed to load "
                                                                f"the model: {e}")
            return None
        self.sessions[framework] = s
        return s

    def check(self, framework: str) -> dict | None:
        """Verify `framework` against the reference (cached)."""
        if framework in self.checks:
            return self.checks[framework]
        s = self.session(framework)
        if s is None:
            return None
        if self.reference is None:
            result = {"outputs_match": None, "check": "no reference available",
                      "reference": None}
        else:
            try:
                outs = [s.infer(x) for x in self.samples]
            except Exception as e:
                self.unavailable[framework] = Unavailable("failed", f"{framework} failed "
                                                                    f"to run: {e}")
                self.sessions.pop(framework, None)
                return None
            exact = (framework == "aot" and self.reference_framework == "tflm")
            result = compare(outs, self.reference, integer=self.integer, exact=exact)
            result["reference"] = self.reference_name
            if framework == self.reference_framework:
                result["check"] = "is the reference"
        self.checks[framework] = result
        return result

    def close(self):
        for s in self.sessions.values():
            s.close()


def _result_for(case: ModelCase, fw: str, check: dict | None) -> dict:
    if fw in case.unavailable:
        u = case.unavailable[fw]
        return empty_result(fw, status=u.status, error=u.reason)
    s = case.sessions[fw]
    row = empty_result(fw, threads=s.threads, version=s.version, description=s.description)
    if fw == "aot":
        row["compile_s"] = round(case.compile_s + getattr(s, "build_s", 0.0), 3)
    elif s.compile_s is not None:
        row["compile_s"] = round(s.compile_s, 3)
    if check is not None:
        row["outputs_match"] = check.get("outputs_match")
        for k in ("argmax_agrees", "max_abs_diff", "max_rel_diff", "max_lsb", "check",
                  "reference"):
            if k in check:
                row[k] = check[k]
    return row


def _minimum_bar(check: dict | None, integer: bool) -> bool:
    """Timed only when outputs are right enough: float tolerance and argmax, or integer
    argmax (bit-exactness is reported, not required for timing)."""
    if check is None or check.get("outputs_match") is None:
        return True
    if integer:
        return bool(check.get("argmax_agrees"))
    return bool(check.get("outputs_match"))


def bench_host(case: ModelCase, opts: BenchOptions, progress: Progress) -> dict:
    frameworks = ["aot", *[b for b in opts.baselines]]
    label = f"{case.name}: "
    rows: dict[str, dict] = {}
    timers: dict = {}
    harness = None
    for fw in frameworks:
        progress.show(f"{label}opening and verifying {fw}")
        check = case.check(fw)
        row = _result_for(case, fw, check)
        if row["status"] == "ok" and not _minimum_bar(check, case.integer):
            row["status"] = "mismatch"
            row["error"] = f"outputs differ from {case.reference_name}: {check.get('check')}"
            if fw != "aot":
                rows[fw] = row
                continue
        rows[fw] = row
        if row["status"] in ("ok", "mismatch"):
            session = case.sessions[fw]
            if opts.threads > 1 and fw in THREADED:
                session = _use_threads(case, fw, opts.threads, row)
                timers[f"{fw}{ONE_THREAD}"] = _python_timer(case.sessions[fw], case.samples[0])
            timers[fw] = _python_timer(session, case.samples[0])
    if "aot" in timers and not opts.scenario and opts.threads == 1:
        try:
            harness = _open_harness(case)
            timers["aot (in C)"] = lambda n, h=harness: h.time_calls(case.samples[0], n)
        except Exception as e:
            rows["aot"]["in_c_error"] = f"in-C harness: {str(e).splitlines()[0]}"
    if opts.scenario:
        _loadgen_rows(case, opts, rows, progress)
    elif timers:
        failures: dict[str, str] = {}
        ns = measure_interleaved(timers, opts, progress, label, failures)
        for name, text in failures.items():
            if name == "aot (in C)":
                rows["aot"]["in_c_error"] = f"in-C harness {text}"
            elif name.endswith(ONE_THREAD):
                rows[name[:-len(ONE_THREAD)]]["error_1_thread"] = text
            else:
                rows[name].update(status="failed", error=text)
        for name, values in ns.items():
            med, p90 = _stats_us(values)
            if name == "aot (in C)":
                rows["aot"]["in_c_median_us"] = round(med, 3)
                rows["aot"]["in_c_p90_us"] = round(p90, 3)
                continue
            if name.endswith(ONE_THREAD):
                rows[name[:-len(ONE_THREAD)]]["median_us_1_thread"] = round(med, 3)
                continue
            rows[name].update(median_us=round(med, 3), p90_us=round(p90, 3),
                              samples=int(values.size))
    for row in rows.values():
        one, many = row.get("median_us_1_thread"), row.get("median_us")
        if one and many:
            row["thread_speedup"] = _sig(one / many)
        one, many = row.get("throughput_1_thread_per_s"), row.get("throughput_per_s")
        if one and many:
            row["thread_speedup"] = _sig(many / one)
    if opts.per_layer and rows["aot"]["status"] in ("ok", "mismatch"):
        progress.show(f"{label}per-layer timing")
        rows["aot"].update(_host_layers(case, opts))
    aot_med = rows["aot"].get("median_us")
    for fw, row in rows.items():
        if opts.scenario == "offline":
            mine, theirs = rows["aot"].get("throughput_per_s"), row.get("throughput_per_s")
            if mine and theirs:
                row["ratio_to_aot"] = _sig(mine / theirs)
        elif aot_med and row.get("median_us"):
            row["ratio_to_aot"] = _sig(row["median_us"] / aot_med)
    if rows["aot"].get("in_c_median_us") and aot_med:
        rows["aot"]["python_overhead_us"] = round(aot_med - rows["aot"]["in_c_median_us"], 3)
    if harness is not None:
        rows["aot"]["in_c_harness"] = harness.source
        rows["aot"]["in_c_build_flags"] = list(harness.flags)
    doc = _document(case, opts)
    doc["results"] = [rows[fw] for fw in frameworks]
    return doc


def _open_harness(case: ModelCase):
    from aot.c_harness import CHarness
    harness = CHarness(case.compiled)
    mine = case.sessions["aot"].infer(case.samples[0])
    theirs = harness.run(case.samples[0])
    for a, b in zip(mine, theirs):
        if not np.array_equal(np.asarray(a), np.asarray(b)):
            raise AotError("the in-C harness's outputs differ from CompiledModel.run's")
    return harness


def _loadgen_rows(case: ModelCase, opts: BenchOptions, rows: dict, progress: Progress) -> None:
    from aot.loadgen_driver import MOBILE_DEFAULTS, QUICK
    defaults = (QUICK if opts.quick else MOBILE_DEFAULTS)[opts.scenario]
    min_q = opts.min_queries if opts.min_queries is not None else defaults["min_queries"]
    min_d = opts.min_duration_s if opts.min_duration_s is not None else \
        defaults["min_duration_s"]
    labels = None
    samples = case.samples
    if opts.accuracy:
        samples, labels = load_accuracy(opts.accuracy, case.files.inputs)
    for fw, row in rows.items():
        if row["status"] not in ("ok", "mismatch") or fw not in case.sessions:
            continue
        progress.show(f"{case.name}: LoadGen {opts.scenario} {fw}")
        session = case.sessions[fw]
        if opts.threads > 1 and fw in THREADED and labels is None:
            # The one-thread run first, for thread_speedup; then the N-thread one.
            try:
                r1 = _loadgen_once(session.infer, samples, opts, min_q, min_d, None)
            except AotError:
                raise
            except Exception as e:
                r1 = {"error": str(e)}
            if opts.scenario == "singlestream" and r1.get("p50_us"):
                row["median_us_1_thread"] = round(r1["p50_us"], 3)
            elif r1.get("throughput_per_s"):
                row["throughput_1_thread_per_s"] = round(r1["throughput_per_s"], 2)
        if opts.threads > 1 and fw in THREADED:
            session = _use_threads(case, fw, opts.threads, row)
        try:
            r = _loadgen_once(session.infer, samples, opts, min_q, min_d, labels)
        except AotError:
            raise
        except Exception as e:
            row.update(status="failed", error=f"LoadGen run failed: {e}")
            continue
        row["loadgen"] = r
        row["threads"] = getattr(session, "threads", r["threads"])
        if r.get("error"):
            row.update(status="failed", error=f"during LoadGen: {r['error']}")
        if labels is not None:
            row["top1"] = r.get("top1")
            row["accuracy_samples"] = r.get("accuracy_samples")
        elif opts.scenario == "singlestream":
            row["median_us"] = r["p50_us"] and round(r["p50_us"], 3)
            row["p90_us"] = r["p90_us"] and round(r["p90_us"], 3)
        else:
            row["throughput_per_s"] = r["throughput_per_s"] and round(r["throughput_per_s"], 2)


def _loadgen_once(infer, samples, opts: BenchOptions, min_q: int, min_d: float, labels):
    from aot.loadgen_driver import run_loadgen
    # The latency hint: a few warm-up calls.
    start = time.perf_counter()
    for _ in range(3):
        infer(samples[0])
    latency = (time.perf_counter() - start) / 3
    return run_loadgen([infer], samples, opts.scenario, min_queries=min_q,
                       min_duration_s=min_d, labels=labels, expected_latency_s=latency)


# -- threads and per-layer figures ------------------------------------------------------------

THREADED = ("aot", "onnxruntime")     # frameworks whose intra-op threads --threads sets
ONE_THREAD = " (1 thread)"


class _AotThreads:
    """Our session run through <name>_run_ex with the pthreads executor."""

    framework = "aot"

    def __init__(self, base, threads: int):
        self.base, self.threads = base, threads
        self.model = base.model
        self.model.runner().executor(threads)   # start the pool now (UsageError if none)

    def infer(self, inputs):
        return list(self.model.run(dict(zip(self.base.names, inputs)),
                                   threads=self.threads).values())


class _OrtThreads:
    """onnxruntime with intra_op_num_threads = threads (else as aot.baselines)."""

    framework = "onnxruntime"

    def __init__(self, case: "ModelCase", threads: int):
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.log_severity_level = 3
        self.sess = ort.InferenceSession(case.files.onnx_path, so,
                                         providers=["CPUExecutionProvider"])
        self.names = [s.name for s in case.files.inputs]
        self.threads = threads

    def infer(self, inputs):
        return self.sess.run(None, dict(zip(self.names, inputs)))


def _use_threads(case: "ModelCase", fw: str, threads: int, row: dict):
    """The N-thread session of `fw` (cached on the case), its row updated: `threads`,
    and for ours whether the outputs equal the one-thread outputs bit for bit."""
    cache = case.__dict__.setdefault("_threaded", {})
    if fw not in cache:
        cache[fw] = (_AotThreads(case.sessions[fw], threads) if fw == "aot"
                     else _OrtThreads(case, threads))
        if fw == "aot":
            one = [case.sessions[fw].infer(x) for x in case.samples]
            many = [cache[fw].infer(x) for x in case.samples]
            row["threads_outputs_identical"] = all(
                np.array_equal(a, b) for o, m in zip(one, many) for a, b in zip(o, m))
    row["threads"] = threads
    return cache[fw]


def _layer_entries(manifest: dict) -> list[dict]:
    return [{"index": i, "name": layer["name"], "op": layer["op"], "kernel": layer["kernel"],
             "split": layer.get("split"), "macs": layer["macs"]}
            for i, layer in enumerate(manifest.get("layers") or [])]


def _host_layers(case: "ModelCase", opts: BenchOptions) -> dict:
    """Per-layer microseconds of our -O3 build (median over the runs)."""
    model = case.sessions["aot"].model
    runner = model.runner()
    feeds = dict(zip([s.name for s in case.files.inputs], case.samples[0]))
    repeats = 5 if opts.quick else max(20, opts.rounds * 5)
    ns, whole = runner.profile_layers(feeds, repeats, threads=opts.threads)
    layers = _layer_entries(model.manifest)
    for entry, t in zip(layers, ns):
        entry["us"] = round(t / 1e3, 3)
        entry["macs_per_us"] = round(entry["macs"] / (t / 1e3), 2) if t > 0 else None
    return {"layers": layers, "layers_total_us": round(whole / 1e3, 3),
            "layers_threads": opts.threads, "layers_repeats": repeats}


def _emulated_layers(case: "ModelCase", feeds: dict, threads: int) -> dict:
    """Exact per-layer instructions from the image with layer marks."""
    from aot.targets.emulator import EmulatorRunner
    cm = case.compiled
    runner = EmulatorRunner(cm.out_dir, cm.manifest, layer_marks=True)
    counts = runner.layer_instructions(feeds, threads)
    layers = _layer_entries(cm.manifest)
    for entry, n in zip(layers, counts["layers"]):
        entry["instructions"] = n
        entry["macs_per_instruction"] = round(entry["macs"] / n, 4) if n else None
    return {"layers": layers, "layers_outside_instructions": counts["outside"],
            "layers_total_instructions": counts["instructions"], "layers_threads": threads}


def load_accuracy(path: str, specs: list[IOSpec]) -> tuple[list[list[np.ndarray]], np.ndarray]:
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise UsageError(f"--accuracy {path}: cannot read ({e})") from None
    if isinstance(data, np.ndarray) or "labels" not in data.files:
        raise UsageError(f"--accuracy {path}: needs a .npz with the inputs (keyed by input "
                         f"name) and 'labels'")
    labels = np.asarray(data["labels"]).reshape(-1)
    samples = load_inputs(path, specs)
    if len(samples) != len(labels):
        raise UsageError(f"--accuracy {path}: {len(samples)} samples but {len(labels)} labels")
    return samples, labels


def _document(case: ModelCase, opts: BenchOptions) -> dict:
    t = case.target
    return {
        "model": case.name,
        "model_file": case.onnx_path,
        "target": t.name,
        "target_features": list(t.features),
        "tflite": case.files.tflite_path,
        "dtype": "int8" if case.integer else "float32",
        "macs": case.macs,
        "reference": case.reference_name,
        "method": _method(opts, t),
        "aot_version": _aot_version(),
        "machine": machine_info(),
    }


def _aot_version() -> str:
    from aot.version import __version__
    return __version__


def _method(opts: BenchOptions, target) -> dict:
    if target.runner != "host":
        from aot.cycles import TABLES
        table = TABLES.get(target.name)
        return {"kind": "emulated", "emulator": "unicorn",
                "cost_table": table.note if table else None,
                "ratio_to_aot": "est_cycles of the framework / est_cycles of aot"}
    if opts.scenario:
        return {"kind": "loadgen", "scenario": opts.scenario, "quick": opts.quick,
                "min_queries": opts.min_queries, "min_duration_s": opts.min_duration_s,
                "ratio_to_aot": ("framework median / aot median (LoadGen 50th percentile)"
                                 if opts.scenario == "singlestream" else
                                 "aot samples/s / framework samples/s (time per sample)")}
    return {"kind": "interleaved", "rounds": opts.rounds, "round_s": opts.round_s,
            "warmup_s": opts.warmup_s, "verify_samples": opts.verify, "quick": opts.quick,
            "batch": 1, "threads": opts.threads,
            "ratio_to_aot": "framework median / aot median"}


# -- Cortex-M ---------------------------------------------------------------------------------

def bench_emulated(case: ModelCase, opts: BenchOptions, progress: Progress,
                   anchors: dict | None) -> dict:
    from aot.cycles import TABLES, peak_macs_per_cycle, profile_run

    target = case.target
    row = empty_result("aot", ratio_to_aot=1.0)
    row["compile_s"] = round(case.compile_s, 3) if case.compile_s is not None else None
    if case.compiled is None:
        row.update(status="failed", error=case.compile_error)
    else:
        progress.show(f"{case.name}: emulating {target.name} (counting instructions)")
        feeds = dict(zip([s.name for s in case.files.inputs], case.samples[0]))
        try:
            if target.name in TABLES:
                outputs, stats, prof = profile_run(case.compiled, feeds, target)
                row["est_cycles"] = prof.est_cycles
                row["cost_table"] = TABLES[target.name].note
                row["instruction_mix"] = prof.classes
                if prof.instructions != stats.get("instructions"):
                    row["cycles_note"] = (f"the cost table saw {prof.instructions} "
                                          f"instructions, the emulator counted "
                                          f"{stats.get('instructions')}")
            else:
                outputs, stats = case.compiled.run_with_stats(feeds)
                row["cycles_note"] = f"no cost table for {target.name}"
            for k in ("instructions", "flash_bytes", "ram_bytes", "stack_bytes", "arena_bytes"):
                row[k] = stats.get(k)
            outs = [outputs[s.name] for s in case.files.outputs] if all(
                s.name in outputs for s in case.files.outputs) else list(outputs.values())
            others = [case.compiled.run(dict(zip([s.name for s in case.files.inputs], x)))
                      for x in case.samples[1:]]
            all_outs = [outs] + [list(o.values()) for o in others]
            if case.reference is not None:
                check = compare(all_outs, case.reference, integer=case.integer,
                                exact=case.reference_framework == "tflm")
                row["outputs_match"] = check["outputs_match"]
                for k in ("argmax_agrees", "max_abs_diff", "max_rel_diff", "max_lsb", "check"):
                    if k in check:
                        row[k] = check[k]
                row["reference"] = case.reference_name
            if case.macs and row["est_cycles"]:
                row["macs_per_cycle"] = round(case.macs / row["est_cycles"], 4)
            if case.macs and row["instructions"]:
                row["instructions_per_mac"] = round(row["instructions"] / case.macs, 3)
            row["peak_macs_per_cycle"] = peak_macs_per_cycle(target)
            if opts.threads > 1:
                progress.show(f"{case.name}: {opts.threads} workers, parts run serially")
                many, wstats = case.compiled.run_with_stats(feeds, threads=opts.threads)
                row["threads"] = opts.threads
                row["threads_outputs_identical"] = all(
                    np.array_equal(outputs[k], many[k]) for k in outputs)
                row["worker_instructions"] = wstats.get("workers")
                row["serial_instructions"] = wstats.get("serial_instructions")
            if opts.per_layer:
                progress.show(f"{case.name}: counting instructions per layer")
                row.update(_emulated_layers(case, feeds, opts.threads))
        except AotError as e:
            row.update(status="failed", error=str(e).splitlines()[0])
    results = [row]
    if anchors is not None:
        results += anchor_rows(anchors, case, row)
    doc = _document(case, opts)
    doc["results"] = results
    return doc


def load_anchors(path: str) -> dict:
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        raise UsageError(f"--anchors {path}: cannot read ({e})") from None
    if not isinstance(data, dict) or "models" not in data:
        raise UsageError(f"--anchors {path}: not an anchors file (no 'models')")
    data["_path"] = path
    return data


def anchor_rows(anchors: dict, case: ModelCase, ours: dict) -> list[dict]:
    """TFLM reference rows for an int8 shared model (the anchors are int8 TFLM runs)."""
    if case.target.name != "cortex-m4" or not case.integer or case.anchor_key is None:
        return []
    entry = anchors["models"].get(case.anchor_key)
    if entry is None:
        return []
    rows = []
    flash = anchors.get("flash_bytes", {})
    for fw, key, flash_key in (("tflm-cmsis-nn", "cmsis_nn", "cmsis_nn_O2"),
                               ("tflm-ref", "reference_kernels", "reference_kernels_O2")):
        a = entry.get(key)
        if not a:
            continue
        row = empty_result(fw, source="reference", instructions=a.get("instructions"),
                           est_cycles=a.get("est_cycles"))
        row["arena_bytes"] = a.get("arena_used_bytes")
        row["runtime_flash_bytes"] = (flash.get(flash_key) or {}).get(
            "total_runtime_and_kernels")
        macs = entry.get("macs") or case.macs
        if macs and a.get("est_cycles"):
            row["macs_per_cycle"] = round(macs / a["est_cycles"], 4)
        if ours.get("est_cycles") and a.get("est_cycles"):
            row["ratio_to_aot"] = _sig(a["est_cycles"] / ours["est_cycles"])
        row["anchors"] = anchors.get("_path")
        row["note"] = ("TFLM figures from the anchors file, not re-measured; arena_bytes is "
                       "TFLM's arena, runtime_flash_bytes its runtime + kernels without the "
                       "model")
        rows.append(row)
    return rows


# -- driver ---------------------------------------------------------------------------------

def bench(models: list[str], opts: BenchOptions) -> list[dict]:
    from aot.targets.split import THREADED_FAMILIES
    from aot.targets.target import resolve

    if opts.tflite and len(opts.tflite) not in (0, len(models)):
        raise UsageError(f"--tflite given {len(opts.tflite)} times for {len(models)} models; "
                         f"give one per model, in order")
    targets = [resolve(t) for t in opts.targets]
    for t in targets:
        if t.runner != "host" and (opts.scenario or opts.accuracy):
            raise UsageError(f"--scenario/--accuracy time the model on this machine; "
                             f"{t.name} is emulated (drop the option or use a host target)")
        if t.runner == "none":
            raise UsageError(f"target {t.name} is build-only: it cannot be run or emulated here")
        if opts.threads > 1 and t.family not in THREADED_FAMILIES:
            raise UsageError(f"--threads {opts.threads}: target {t.name} runs one thread "
                             f"(threads exist on {', '.join(THREADED_FAMILIES)} targets)")
    if opts.accuracy and not opts.scenario:
        opts.scenario = "singlestream"
    anchors = load_anchors(opts.anchors) if opts.anchors else None
    steps = len(models) * len(targets)
    progress = Progress(steps, opts.progress)
    docs = []
    try:
        for i, path in enumerate(models):
            tflite = opts.tflite[i] if opts.tflite else None
            for t in targets:
                out_dir = None
                if opts.out_dir:
                    stem = os.path.splitext(os.path.basename(path))[0]
                    out_dir = os.path.join(opts.out_dir, f"{stem}-{t.name}")
                progress.show(f"{os.path.basename(path)}: compiling for {t.name}")
                samples = None
                if opts.input_path:
                    ins, _ = read_io(path, opts.input_shapes)
                    samples = load_inputs(opts.input_path, ins)[:max(opts.verify, 1)]
                case = ModelCase(path, t, tflite, input_shapes=opts.input_shapes,
                                 out_dir=out_dir, samples=samples, verify=opts.verify,
                                 seed=opts.seed)
                try:
                    if t.runner == "host":
                        docs.append(bench_host(case, opts, progress))
                    else:
                        docs.append(bench_emulated(case, opts, progress, anchors))
                finally:
                    case.close()
                progress.advance()
    finally:
        progress.close()
    return docs


def any_mismatch(docs: list[dict]) -> bool:
    """Our own outputs failed their check somewhere."""
    return any(r["framework"] == "aot" and r.get("outputs_match") is False
               for d in docs for r in d["results"])

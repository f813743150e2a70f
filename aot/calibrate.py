"""Calibration: activation ranges of a float ONNX model from sample inputs.

Contract:
- `load_calibration(path, model)` reads a `.npz` keyed by ONNX input name (a
  `.npy` for a one-input model), every array with a leading sample axis
  (DESIGN.md, "Files of arrays"); a sample may also omit a fixed batch axis of
  size 1. Returns {input name: array [N, *input shape]} in the input's dtype,
  or raises UsageError naming the file and what is wrong.
- `TensorTap(model)` runs the float model with onnxruntime with every float
  tensor exposed as an output (no graph optimizations: the values are exactly
  the ONNX semantics, not a fused kernel's).
- `collect_ranges(model, data, method)` returns {tensor name: (lo, hi)} for the
  graph inputs and every float tensor a node produces, as float32 numbers:
    minmax      the smallest and largest value seen over all samples;
    percentile  the central 99.999 % of the values (0.0005 % clipped at each
                end), from an 8192-bin histogram over the observed range;
    entropy     TensorRT's KL-divergence threshold: the clipping range whose
                int8 quantization loses the least information (relative
                entropy between the clipped and the quantized histogram).
  The histogram methods keep min/max for a tensor with fewer than
  MIN_HISTOGRAM_VALUES values over all samples (too few to judge its tails).
  minmax needs one pass over the data; the histogram methods two (the first
  fixes each tensor's histogram range).
- A progress bar (stderr) counts the samples of each pass.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
import onnx

from aot.errors import ModelError, UsageError

METHODS = ("minmax", "percentile", "entropy")
PERCENTILE = 99.999          # two-sided: 0.0005 % of the values clip at each end
PERCENTILE_BINS = 8192
ENTROPY_BINS = 2048
ENTROPY_STRIDE = 8
# A histogram of fewer values (e.g. the logits of a small classifier) says too little
# about the tails to clip them: such tensors keep their min/max range.
MIN_HISTOGRAM_VALUES = 10000


def require_onnxruntime():
    try:
        import onnxruntime
    except ImportError:
        raise UsageError("quantization runs the float model with onnxruntime, which is not "
                         "installed: pip install onnxruntime==1.32.0") from None
    return onnxruntime


# -- calibration files ------------------------------------------------------------------

def input_shapes(model: onnx.ModelProto) -> dict[str, list[int | None]]:
    """Graph inputs that are not initializers, with their static dims (None if dynamic)."""
    inits = {t.name for t in model.graph.initializer}
    shapes = {}
    for vi in model.graph.input:
        if vi.name in inits:
            continue
        dims = vi.type.tensor_type.shape.dim
        shapes[vi.name] = [d.dim_value if d.HasField("dim_value") else None for d in dims]
    return shapes


def load_calibration(path: str | os.PathLike, model: onnx.ModelProto) -> dict[str, np.ndarray]:
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise UsageError(f"{path}: calibration file not found")
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise UsageError(f"{path}: cannot read as .npz/.npy ({e})") from None
    shapes = input_shapes(model)
    if isinstance(data, np.ndarray):
        if len(shapes) != 1:
            raise UsageError(f"{path}: a .npy holds one array but the model has {len(shapes)} "
                             f"inputs; use a .npz keyed by input name ({', '.join(shapes)})")
        arrays = {next(iter(shapes)): data}
    else:
        arrays = {k: data[k] for k in data.files}
    return check_calibration(arrays, shapes, path, input_dtypes(model))


def input_dtypes(model: onnx.ModelProto) -> dict[str, np.dtype]:
    inits = {t.name for t in model.graph.initializer}
    return {vi.name: np.dtype(onnx.helper.tensor_dtype_to_np_dtype(vi.type.tensor_type.elem_type))
            for vi in model.graph.input if vi.name not in inits}


def check_calibration(arrays: dict[str, np.ndarray], shapes: dict[str, list[int | None]],
                      what: str = "calibration data",
                      dtypes: dict[str, np.dtype] | None = None) -> dict[str, np.ndarray]:
    """Validate {input: [N, *shape]} against the model inputs; returns copies in the
    inputs' dtypes (float32 where not given)."""
    missing = [n for n in shapes if n not in arrays]
    if missing:
        raise UsageError(f"{what}: no array for model input(s) {', '.join(missing)} "
                         f"(keys: {', '.join(sorted(arrays)) or 'none'}); key the .npz by "
                         f"ONNX input name")
    out, count = {}, None
    for name, shape in shapes.items():
        a = np.asarray(arrays[name])
        if a.dtype.kind not in "fiu":
            raise UsageError(f"{what}: '{name}' has dtype {a.dtype}; numbers expected")
        if _fits(a.shape[1:], shape):
            pass
        elif len(shape) >= 1 and shape[0] == 1 and _fits((1, *a.shape[1:]), shape):
            a = a[:, None]          # samples given without the batch axis of size 1
        else:
            raise UsageError(f"{what}: '{name}' has shape {_fmt(a.shape)}; expected a leading "
                             f"sample axis then the input shape {_fmt(shape)}, e.g. "
                             f"{_fmt([8, *shape])}")
        if count is not None and a.shape[0] != count:
            raise UsageError(f"{what}: inputs have different sample counts "
                             f"({count} and {a.shape[0]} for '{name}')")
        count = a.shape[0]
        if count == 0:
            raise UsageError(f"{what}: '{name}' holds no samples")
        a = a.astype((dtypes or {}).get(name, np.float32))
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            raise UsageError(f"{what}: '{name}' contains NaN or infinite values")
        out[name] = a
    return out


def _fits(shape, want) -> bool:
    return len(shape) == len(want) and all(w is None or w == s for s, w in zip(shape, want))


def _fmt(shape) -> str:
    return "[" + ",".join("?" if d is None else str(d) for d in shape) + "]"


def samples(data: dict[str, np.ndarray]):
    """One feed dict per sample."""
    n = len(next(iter(data.values())))
    for i in range(n):
        yield {k: v[i] for k, v in data.items()}


def sample_count(data: dict[str, np.ndarray]) -> int:
    return len(next(iter(data.values())))


# -- running the float model with every tensor visible ---------------------------------

class TensorTap:
    """The model run by onnxruntime with every float tensor as an extra output."""

    def __init__(self, model: onnx.ModelProto, names: list[str] | None = None):
        ort = require_onnxruntime()
        model = onnx.ModelProto.FromString(model.SerializeToString())
        try:
            inferred = onnx.shape_inference.infer_shapes(model)
        except Exception as e:  # onnx raises several types, version-dependent
            raise ModelError(f"shape inference failed on the float model: {e}") from None
        types = {vi.name: vi.type.tensor_type.elem_type
                 for vi in [*inferred.graph.value_info, *inferred.graph.output,
                            *inferred.graph.input]}
        present = {o.name for o in model.graph.output}
        if names is None:
            names = [o for n in model.graph.node for o in n.output
                     if o and types.get(o) == onnx.TensorProto.FLOAT]
        for name in names:
            if name not in present:
                model.graph.output.append(onnx.helper.make_tensor_value_info(
                    name, onnx.TensorProto.FLOAT, None))
                present.add(name)
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        opts.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(model.SerializeToString(), opts,
                                                providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime's own exception types
            raise ModelError(f"onnxruntime cannot load the model: {str(e).splitlines()[0]}") \
                from None
        self.outputs = [o.name for o in self.session.get_outputs()]
        self.inputs = [i.name for i in self.session.get_inputs()]

    def run(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """{tensor name: value} for the graph inputs and every tapped tensor."""
        values = self.session.run(None, feed)
        result = dict(zip(self.outputs, values))
        result.update({k: v for k, v in feed.items() if k in self.inputs})
        return result


# -- progress ---------------------------------------------------------------------------

class Progress:
    """A one-line text progress bar on stderr: redrawn in place on a terminal,
    else the bar's marks are appended as the work advances (one line in a log)."""

    WIDTH = 30

    def __init__(self, label: str, total: int, enabled: bool = True, stream=None):
        self.label, self.total, self.enabled = label, max(total, 1), enabled
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.done = 0
        self.marks = 0
        self.start = time.monotonic()
        if enabled and not self.tty:
            self.stream.write(f"{label} ({total} samples) [")
            self.stream.flush()

    def step(self, n: int = 1) -> None:
        self.done += n
        if not self.enabled:
            return
        marks = self.WIDTH * self.done // self.total
        if self.tty:
            if marks != self.marks or self.done == self.total:
                bar = "#" * marks + "." * (self.WIDTH - marks)
                self.stream.write(f"\r{self.label} [{bar}] {self.done}/{self.total}")
                self.stream.flush()
        elif marks > self.marks:
            self.stream.write("#" * (marks - self.marks))
            self.stream.flush()
        self.marks = marks

    def close(self) -> None:
        if not self.enabled:
            return
        secs = time.monotonic() - self.start
        if self.tty:
            self.stream.write(f"\r{self.label} [{'#' * self.WIDTH}] {self.done}/{self.total} "
                              f"({secs:.1f} s)\n")
        else:
            self.stream.write("#" * (self.WIDTH - self.marks) + f"] {secs:.1f} s\n")
        self.stream.flush()


# -- range statistics -------------------------------------------------------------------

def collect_ranges(model: onnx.ModelProto, data: dict[str, np.ndarray], method: str = "minmax",
                   progress: bool = True) -> dict[str, tuple[float, float]]:
    if method not in METHODS:
        raise UsageError(f"calibration method must be one of {', '.join(METHODS)}, "
                         f"not {method!r}")
    tap = TensorTap(model)
    n = sample_count(data)
    passes = 1 if method == "minmax" else 2
    lo: dict[str, float] = {}
    hi: dict[str, float] = {}
    bar = Progress(f"calibration{' 1/2' if passes == 2 else ''}", n, progress)
    for feed in samples(data):
        for name, v in tap.run(feed).items():
            if v.dtype != np.float32 or v.size == 0:
                continue
            a, b = float(v.min()), float(v.max())
            lo[name] = min(lo.get(name, a), a)
            hi[name] = max(hi.get(name, b), b)
        bar.step()
    bar.close()
    if method == "minmax":
        return {k: (np.float32(lo[k]), np.float32(hi[k])) for k in lo}

    # Second pass: histograms over the observed range. The entropy method works on
    # magnitudes: a one-signed tensor gets a one-sided threshold over 256 levels, a
    # two-signed one a symmetric threshold on |x| over 128 levels (as TensorRT).
    bins = PERCENTILE_BINS if method == "percentile" else ENTROPY_BINS
    hists = {k: np.zeros(bins, np.int64) for k in lo}
    edges = {}
    for k in lo:
        if method == "percentile":
            edges[k] = (lo[k], hi[k], 1.0)
        elif lo[k] >= 0:
            edges[k] = (0.0, hi[k], 1.0)
        elif hi[k] <= 0:
            edges[k] = (0.0, -lo[k], -1.0)
        else:
            edges[k] = (0.0, max(-lo[k], hi[k]), 0.0)
    bar = Progress("calibration 2/2", n, progress)
    for feed in samples(data):
        for name, v in tap.run(feed).items():
            if name not in hists:
                continue
            first, last, sign = edges[name]
            x = v.reshape(-1).astype(np.float64)
            if method == "entropy":
                # Zero is exact in every int8 range (it is the zero point): a spike of
                # zeros (ReLU) must not weigh on the threshold search.
                x = x[x != 0]
                x = np.abs(x) if sign == 0.0 else x * sign
            hists[name] += _histogram(x, first, last, bins)
        bar.step()
    bar.close()
    ranges = {}
    for k in lo:
        first, last, sign = edges[k]
        if last <= first or hists[k].sum() < MIN_HISTOGRAM_VALUES:
            ranges[k] = (lo[k], hi[k])
        elif method == "percentile":
            ranges[k] = percentile_range(hists[k], first, last, PERCENTILE)
        elif sign == 0.0:
            t = entropy_threshold(hists[k], last, 128)
            ranges[k] = (max(lo[k], -t), min(hi[k], t))
        else:
            t = entropy_threshold(hists[k], last, 256)
            ranges[k] = (0.0, t) if sign > 0 else (-t, 0.0)
    return {k: (np.float32(a), np.float32(b)) for k, (a, b) in ranges.items()}


def _histogram(x: np.ndarray, first: float, last: float, bins: int) -> np.ndarray:
    if last <= first:
        return np.zeros(bins, np.int64)
    idx = np.floor((x - first) * (bins / (last - first))).astype(np.int64)
    np.clip(idx, 0, bins - 1, out=idx)
    return np.bincount(idx, minlength=bins)


def percentile_range(hist: np.ndarray, first: float, last: float,
                     pct: float) -> tuple[float, float]:
    """The two-sided `pct` percentile interval of a histogram over [first, last]."""
    cdf = np.cumsum(hist) / max(hist.sum(), 1)
    tail = (100.0 - pct) / 200.0
    width = (last - first) / len(hist)
    i_lo = int(np.searchsorted(cdf, tail, side="right"))
    i_hi = int(np.searchsorted(cdf, 1.0 - tail, side="left"))
    return first + i_lo * width, first + min(i_hi + 1, len(hist)) * width


def entropy_threshold(hist: np.ndarray, last: float, levels: int) -> float:
    """TensorRT's calibration: for each candidate threshold (a bin edge), clip the
    histogram there (outliers folded into the last bin) and compare it with its
    `levels`-level quantization; the threshold with the smallest KL divergence wins."""
    hist = hist.astype(np.float64)
    bins = len(hist)
    if hist.sum() == 0 or bins <= levels:
        return float(last)
    best, best_i = np.inf, bins
    # Candidates every ENTROPY_STRIDE bins (a threshold resolution of 1/256 of the
    # range), which keeps the search 8x cheaper than bin by bin.
    for i in [*range(levels, bins, ENTROPY_STRIDE), bins]:
        p = hist[:i].copy()
        p[-1] += hist[i:].sum()
        # Quantize hist[:i] into `levels` groups; spread each group's mass
        # uniformly over the group's non-empty bins.
        group = (np.arange(i) * levels) // i
        nonzero = p != 0
        mass = np.bincount(group, weights=hist[:i], minlength=levels)
        count = np.bincount(group, weights=nonzero, minlength=levels)
        q = np.where(nonzero, mass[group] / np.maximum(count[group], 1), 0.0)
        kl = _kl(_smooth(p), _smooth(q))
        if kl < best:
            best, best_i = kl, i
    return float(last) * best_i / bins


def _smooth(d: np.ndarray, eps: float = 1e-4) -> np.ndarray:
    """Move a little mass onto empty bins so the divergence stays finite."""
    d = d / max(d.sum(), 1e-300)
    zero = d == 0
    nz = int((~zero).sum())
    if nz == 0 or not zero.any():
        return d
    take = eps * zero.sum() / nz
    return np.where(zero, eps, d - take * (d > 0)).clip(min=eps * 1e-3)


def _kl(p: np.ndarray, q: np.ndarray) -> float:
    p = p / p.sum()
    qs = q.sum()
    if qs == 0:
        return np.inf
    q = q / qs
    mask = p > 0
    if np.any(q[mask] == 0):
        return np.inf
    return float(np.sum(p[mask] * np.log(p[mask] / q[mask])))

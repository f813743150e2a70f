"""MLPerf LoadGen runs for `aot bench --scenario` (the `mlcommons-loadgen` package).

Contract: `run_loadgen(infers, samples, scenario, ...) -> dict` drives one
framework's `infer` through LoadGen's SingleStream or Offline scenario and
returns the figures LoadGen logged (parsed from its `mlperf_log_detail.txt`).

- SingleStream: LoadGen issues one sample, waits for its completion, issues the
  next. Reported: LoadGen's 50th/90th percentile latency (the 90th is the
  scenario's metric) and its sample rate.
- Offline: LoadGen issues every sample in one query; the SUT runs them (on
  `len(infers)` threads, each with its own session) and completes each as it
  finishes. Reported: samples per second (the scenario's metric).
- Accuracy mode (`labels` given): every sample once (TestMode.AccuracyOnly);
  the top-1 of the first output, counted against the labels.

The minimum query count and duration are always set explicitly in the
TestSettings (LoadGen's built-in defaults differ from MLPerf Mobile's):
`MOBILE_DEFAULTS` holds MLPerf Mobile's values, `QUICK` the CI ones. The
expected latency / QPS hints come from the warm-up, so LoadGen sizes the
Offline query to the minimum duration.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from aot.errors import UsageError

SCENARIOS = ("singlestream", "offline")
# MLPerf Mobile: SingleStream 1,024 queries and 60 s; Offline 24,576 samples and 60 s.
MOBILE_DEFAULTS = {"singlestream": {"min_queries": 1024, "min_duration_s": 60.0},
                   "offline": {"min_queries": 24576, "min_duration_s": 60.0}}
QUICK = {"singlestream": {"min_queries": 32, "min_duration_s": 0.2},
         "offline": {"min_queries": 64, "min_duration_s": 0.2}}


def import_loadgen():
    try:
        import mlperf_loadgen as lg
    except ImportError:
        raise UsageError("--scenario needs MLPerf LoadGen: pip install mlcommons-loadgen") \
            from None
    return lg


def run_loadgen(infers, samples: list[list[np.ndarray]], scenario: str, *, min_queries: int,
                min_duration_s: float, labels: np.ndarray | None = None,
                expected_latency_s: float = 1e-3, log_dir: str | None = None) -> dict:
    """Run one LoadGen test. `infers`: one `infer(inputs) -> outputs` per worker thread
    (SingleStream uses the first). `samples`: the QSL's samples (inputs lists)."""
    lg = import_loadgen()
    if scenario not in SCENARIOS:
        raise UsageError(f"--scenario takes {' or '.join(SCENARIOS)}, not {scenario!r}")
    if not isinstance(infers, (list, tuple)):
        infers = [infers]
    accuracy = labels is not None
    predictions: dict[int, int] = {}
    errors: list[str] = []
    lock = threading.Lock()

    def one(infer, q) -> None:
        outs = infer(samples[q.index])
        if accuracy:
            pred = int(np.asarray(outs[0]).reshape(-1).argmax())
            with lock:
                predictions[q.index] = pred

    def issue(queries):
        try:
            if len(infers) == 1 or len(queries) == 1:
                for q in queries:
                    one(infers[0], q)
                    lg.QuerySamplesComplete([lg.QuerySampleResponse(q.id, 0, 0)])
            else:
                chunks = [queries[i::len(infers)] for i in range(len(infers))]

                def work(k):
                    for q in chunks[k]:
                        one(infers[k], q)
                        lg.QuerySamplesComplete([lg.QuerySampleResponse(q.id, 0, 0)])

                with ThreadPoolExecutor(len(infers)) as pool:
                    list(pool.map(work, range(len(infers))))
        except Exception as e:   # complete the rest so LoadGen does not wait forever
            errors.append(f"{type(e).__name__}: {e}")
            lg.QuerySamplesComplete([lg.QuerySampleResponse(q.id, 0, 0) for q in queries])

    settings = lg.TestSettings()
    settings.scenario = (lg.TestScenario.SingleStream if scenario == "singlestream"
                         else lg.TestScenario.Offline)
    settings.mode = lg.TestMode.AccuracyOnly if accuracy else lg.TestMode.PerformanceOnly
    settings.min_query_count = int(min_queries)
    settings.min_duration_ms = int(round(min_duration_s * 1000))
    lat_ns = max(1, int(expected_latency_s * 1e9))
    settings.single_stream_expected_latency_ns = lat_ns
    settings.offline_expected_qps = max(1.0, len(infers) / max(expected_latency_s, 1e-9))

    own_dir = None
    if log_dir is None:
        own_dir = tempfile.TemporaryDirectory(prefix="aot-loadgen-")
        log_dir = own_dir.name
    os.makedirs(log_dir, exist_ok=True)
    log = lg.LogSettings()
    log.log_output.outdir = log_dir
    log.log_output.copy_summary_to_stdout = False
    log.enable_trace = False

    sut = lg.ConstructSUT(issue, lambda: None)
    qsl = lg.ConstructQSL(len(samples), len(samples), lambda idx: None, lambda idx: None)
    start = time.perf_counter()
    try:
        lg.StartTestWithLogSettings(sut, qsl, settings, log)
    finally:
        lg.DestroyQSL(qsl)
        lg.DestroySUT(sut)
    wall = time.perf_counter() - start
    logged = parse_detail_log(os.path.join(log_dir, "mlperf_log_detail.txt"))
    if own_dir is not None:
        own_dir.cleanup()

    def ns_to_us(key):
        v = logged.get(key)
        return None if v is None else float(v) / 1e3

    result = {
        "scenario": scenario,
        "mode": "accuracy" if accuracy else "performance",
        "min_queries": int(min_queries),
        "min_duration_s": float(min_duration_s),
        "queries": logged.get("result_query_count"),
        "samples_per_query": logged.get("effective_samples_per_query"),
        "p50_us": ns_to_us("result_50.00_percentile_latency_ns"),
        "p90_us": ns_to_us("result_90.00_percentile_latency_ns"),
        "mean_us": ns_to_us("result_mean_latency_ns"),
        "throughput_per_s": logged.get("result_samples_per_second"),
        "valid": logged.get("result_validity"),
        "min_duration_met": logged.get("result_min_duration_met"),
        "min_queries_met": logged.get("result_min_queries_met"),
        "threads": len(infers) if scenario == "offline" else 1,
        "wall_s": round(wall, 3),
        "loadgen_version": logged.get("loadgen_version"),
        "error": "; ".join(errors) or None,
    }
    if accuracy:
        labels = np.asarray(labels).reshape(-1)
        hits = sum(1 for i, p in predictions.items() if int(labels[i]) == p)
        result["accuracy_samples"] = len(predictions)
        result["top1"] = hits / len(predictions) if predictions else None
    return result


def parse_detail_log(path: str) -> dict:
    """key -> value of LoadGen's `:::MLLOG {json}` lines (the last value of a key wins)."""
    values = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if not line.startswith(":::MLLOG"):
                    continue
                try:
                    entry = json.loads(line[len(":::MLLOG"):])
                except ValueError:
                    continue
                values[entry.get("key")] = entry.get("value")
    except OSError:
        pass
    return values

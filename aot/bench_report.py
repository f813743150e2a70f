"""Rendering of `aot bench` documents: the terminal table, the Markdown report, the chart.

Pure functions of the documents `aot.bench.bench` returns (`render_table`,
`render_markdown`), plus `write_chart` (matplotlib, a PNG of `ratio_to_aot` per
model and framework: host latency ratios, and Cortex-M est. cycles ratios of the
TFLM anchors) and `write_report` (the Markdown file with the chart beside it).
"""

from __future__ import annotations

import os

import numpy as np


def _fmt(v, digits: int = 1, unit: str = "") -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "NO"
    if isinstance(v, int):
        return f"{v:,}{unit}"
    if isinstance(v, float):
        if abs(v) >= 1000:
            return f"{v:,.0f}{unit}"
        return f"{v:.{digits}f}{unit}"
    return str(v)


def _ratio(v) -> str:
    if v is None:
        return "–"
    if v >= 100:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}" if v >= 0.1 else f"{v:.2g}"


def _match_text(r: dict) -> str:
    m = r.get("outputs_match")
    if r.get("source") == "reference":
        return "(reference)"
    if m is None:
        return "–"
    text = "yes" if m else "NO"
    detail = r.get("check")
    if detail and detail != "is the reference":
        text += f" ({detail})"
    elif detail == "is the reference":
        text += " (reference)"
    return text


def table_rows(doc: dict) -> tuple[list[str], list[list[str]]]:
    emulated = any(r.get("instructions") is not None or r.get("source") == "reference"
                   for r in doc["results"])
    if emulated:
        head = ["framework", "instructions", "est. cycles", "MACs/cycle", "flash B", "RAM B",
                "cycles ÷ aot", "outputs match", "note"]
        body = []
        for r in doc["results"]:
            note = r.get("error") or ("anchor, not re-measured" if r.get("source") == "reference"
                                      else "")
            if r.get("source") == "reference" and r.get("arena_bytes"):
                note = f"anchor; TFLM arena {r['arena_bytes']:,} B"
            body.append([r["framework"], _fmt(r.get("instructions")), _fmt(r.get("est_cycles")),
                         _fmt(r.get("macs_per_cycle"), 3), _fmt(r.get("flash_bytes")),
                         _fmt(r.get("ram_bytes")), _ratio(r.get("ratio_to_aot")),
                         _match_text(r), note])
        return head, body
    loadgen = doc.get("method", {}).get("kind") == "loadgen"
    head = ["framework", "median µs", "p90 µs", "÷ aot", "in-C µs", "outputs match",
            "compile s", "note"]
    if loadgen:
        head[3:3] = ["samples/s", "top-1"]
    body = []
    for r in doc["results"]:
        line = [r["framework"], _fmt(r.get("median_us")), _fmt(r.get("p90_us")),
                _ratio(r.get("ratio_to_aot")), _fmt(r.get("in_c_median_us")),
                _match_text(r), _fmt(r.get("compile_s"), 2),
                r.get("error") or r.get("in_c_error") or ""]
        if loadgen:
            line[3:3] = [_fmt(r.get("throughput_per_s")), _fmt(r.get("top1"), 3)]
        body.append(line)
    return head, body


def render_table(docs: list[dict]) -> str:
    out = []
    for doc in docs:
        head, body = table_rows(doc)
        widths = [max(len(h), *(len(row[i]) for row in body)) for i, h in enumerate(head)]
        widths[-1] = min(widths[-1], 70)
        title = f"{doc['model']} on {doc['target']}"
        if doc.get("macs"):
            title += f" ({doc['macs']:,} MACs, {doc['dtype']})"
        out.append(title)
        out.append(f"  reference: {doc.get('reference') or 'none'}")
        out.append("  " + "  ".join(h.ljust(w) for h, w in zip(head, widths)))
        for row in body:
            cells = [c if i < len(head) - 1 else c[:200] for i, c in enumerate(row)]
            out.append("  " + "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip())
        out.append("")
        layers = layer_rows(doc)
        if layers:
            head, body = layers
            widths = [max(len(h), *(len(row[i]) for row in body)) for i, h in enumerate(head)]
            out.append("  per layer (aot):")
            for row in [head, *body]:
                out.append("  " + "  ".join(c.ljust(w) if i in (0, 1, 2, len(head) - 1)
                                             else c.rjust(w)
                                             for i, (c, w) in enumerate(zip(row, widths))).rstrip())
            out.append("")
    return "\n".join(out)


def layer_rows(doc: dict) -> tuple[list[str], list[list[str]]] | None:
    """The aot row's per-layer figures (bench --per-layer) as a table, or None."""
    from aot.emit import short_name
    row = next((r for r in doc["results"] if r["framework"] == "aot" and r.get("layers")), None)
    if row is None:
        return None
    layers = row["layers"]
    emulated = "instructions" in layers[0]
    cost = "instructions" if emulated else "us"
    total = sum(e.get(cost) or 0 for e in layers) or 1
    head = ["#", "op", "kernel", "MACs", "instructions" if emulated else "µs", "share",
            "MACs/instr" if emulated else "MACs/µs", "split", "layer"]
    body = []
    for e in layers:
        value = e.get(cost)
        body.append([str(e["index"]), e["op"], e["kernel"], f"{e['macs']:,}",
                     f"{value:,}" if emulated else _fmt(value, 1),
                     f"{100 * (value or 0) / total:.1f}%",
                     _fmt(e.get("macs_per_instruction" if emulated else "macs_per_us")
                          if e["macs"] else None, 3),
                     e.get("split") or "–", short_name(e["name"])[:60]])
    return head, body


def render_markdown(docs: list[dict], png: str | None, command: str | None = None) -> str:
    lines = ["# aot benchmarks", ""]
    if docs:
        m = docs[0]["machine"]
        lines += [f"Machine: {m['cpu']}, {m['cores']} cores"
                  + (f" ({', '.join(m['features'])})" if m.get("features") else "")
                  + f", {m['os']}, Python {m['python']}, {m.get('cc') or 'no cc'}; "
                  f"aot {docs[0]['aot_version']}; run {m['date']}"
                  + (f", load average {m['load_average'][0]:g} at the start (a shared machine "
                     f"stretches long calls more than short ones: quote ratios with care)"
                     if m.get("load_average") and m["load_average"][0] > 0.5 * (m["cores"] or 1)
                     else "") + ".", ""]
    if command:
        lines += ["Produced by:", "", f"    {command}", ""]
    lines += ["Host rows: one thread, batch 1, interleaved rounds (A B C … A B C …) after a "
              "warm-up; median and p90 of single calls from Python; `÷ aot` = framework "
              "median ÷ aot median (above 1: aot is faster). `in-C µs` is our `_run` timed "
              "inside C (no Python call). Every framework's outputs are verified against the "
              "named reference before it is timed. Cortex-M rows: instructions counted in the "
              "unicorn emulator, estimated cycles from aot's documented per-instruction-class "
              "cost table (aot/cycles.py; zero-wait-state memory), `cycles ÷ aot` = est. "
              "cycles ÷ aot's; TFLM rows marked 'anchor' are reference figures from "
              "shared/anchors, not re-measured.", ""]
    host = [d for d in docs if d.get("method", {}).get("kind") != "emulated"]
    emulated = [d for d in docs if d.get("method", {}).get("kind") == "emulated"]
    if host:
        lines += ["## Host latency (µs per inference)", ""]
        lines += _summary_markdown(host)
    if png:
        lines += ["", f"![latency ratio per model and framework]({os.path.basename(png)})", ""]
    if emulated:
        lines += ["## Cortex-M (emulated)", ""]
        lines += _emulated_markdown(emulated)
    lines += ["## Per model", ""]
    for doc in docs:
        head, body = table_rows(doc)
        title = f"### {doc['model']} on {doc['target']}"
        lines += [title, "", f"Reference: {doc.get('reference') or 'none'}."
                  + (f" Paired .tflite: `{os.path.basename(doc['tflite'])}`." if doc.get("tflite")
                     else ""), ""]
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "|".join("---" if i in (0, len(head) - 1) or head[i] ==
                                    "outputs match" else "---:" for i in range(len(head))) + "|")
        for row in body:
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |")
        lines.append("")
        layers = layer_rows(doc)
        if layers:
            head, body = layers
            lines += ["Per layer (aot):", "", "| " + " | ".join(head) + " |",
                      "|" + "|".join("---:" if 3 <= i <= 6 else "---"
                                     for i in range(len(head))) + "|"]
            lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |"
                      for row in body]
            lines.append("")
    return "\n".join(lines) + "\n"


def _summary_markdown(docs: list[dict]) -> list[str]:
    fws = []
    for d in docs:
        for r in d["results"]:
            if r["framework"] not in fws:
                fws.append(r["framework"])
    head = ["model", "target"] + [f"{fw} median / p90" for fw in fws] + ["aot in C"]
    lines = ["| " + " | ".join(head) + " |", "|---|---|" + "---:|" * (len(head) - 2)]
    for d in docs:
        cells = [d["model"], d["target"]]
        byfw = {r["framework"]: r for r in d["results"]}
        for fw in fws:
            r = byfw.get(fw)
            if r is None or r.get("median_us") is None:
                why = (r or {}).get("status") or "–"
                cells.append("n/a" if why in ("not applicable",) else why)
                continue
            cell = f"{_fmt(r['median_us'])} / {_fmt(r['p90_us'])}"
            if fw != "aot" and r.get("ratio_to_aot"):
                cell += f" (×{_ratio(r['ratio_to_aot'])})"
            if r.get("outputs_match") is False:
                cell += " ⚠"
            cells.append(cell)
        cells.append(_fmt(byfw.get("aot", {}).get("in_c_median_us")))
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "(×N) = framework median ÷ aot median; n/a = not applicable (reason in the "
              "per-model table); ⚠ = outputs differ from the reference beyond its check.", ""]
    return lines


def _emulated_markdown(docs: list[dict]) -> list[str]:
    head = ["model", "target", "aot instructions", "aot est. cycles", "aot MACs/cycle",
            "aot flash B", "aot RAM B", "TFLM+CMSIS-NN est. cycles (anchor)",
            "TFLM ref est. cycles (anchor)", "outputs match"]
    lines = ["| " + " | ".join(head) + " |", "|---|---|" + "---:|" * 7 + "---|"]
    for d in docs:
        byfw = {r["framework"]: r for r in d["results"]}
        a = byfw.get("aot", {})
        cm = byfw.get("tflm-cmsis-nn", {})
        ref = byfw.get("tflm-ref", {})

        def anchor(r):
            if not r.get("est_cycles"):
                return "–"
            return f"{r['est_cycles']:,} (×{_ratio(r['ratio_to_aot'])})" if r.get("ratio_to_aot") \
                else f"{r['est_cycles']:,}"
        match = a["error"] if a.get("error") else _match_text(a)
        lines.append("| " + " | ".join([
            d["model"], d["target"], _fmt(a.get("instructions")), _fmt(a.get("est_cycles")),
            _fmt(a.get("macs_per_cycle"), 3), _fmt(a.get("flash_bytes")),
            _fmt(a.get("ram_bytes")), anchor(cm), anchor(ref), match]) + " |")
    lines += ["", "Peak: 2 MACs/cycle with the DSP extension (SMLAD). (×N) = anchor est. "
              "cycles ÷ aot est. cycles (above 1: aot needs fewer). Flash counts code + "
              "weights; RAM the arena, I/O buffers and static data.", ""]
    return lines


def write_chart(docs: list[dict], path: str) -> str | None:
    """Grouped bars of ratio_to_aot per model and framework: host latency ratios, and
    (in a second panel) Cortex-M est. cycles ratios of the anchors. Returns the path, or
    None when matplotlib is missing or there is nothing to compare."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    panels = []
    for kind, what in (("host", "latency"), ("emulated", "est. cycles")):
        use = [d for d in docs if (d.get("method", {}).get("kind") == "emulated") ==
               (kind == "emulated")]
        use = [d for d in use if any(r["framework"] != "aot" and r.get("ratio_to_aot")
                                     for r in d["results"])]
        if use:
            panels.append((use, what))
    if not panels:
        return None
    widest = max(len(use) for use, _ in panels)
    fig, axes = plt.subplots(len(panels), 1, squeeze=False, dpi=110,
                             figsize=(max(7.0, 1.1 * widest + 3), 4.2 * len(panels)))
    for ax, (use, what) in zip(axes[:, 0], panels):
        fws = []
        for d in use:
            for r in d["results"]:
                if r["framework"] != "aot" and r.get("ratio_to_aot") and r["framework"] not in fws:
                    fws.append(r["framework"])
        x = np.arange(len(use))
        width = 0.8 / len(fws)
        for k, fw in enumerate(fws):
            vals = []
            for d in use:
                r = next((r for r in d["results"] if r["framework"] == fw), None)
                vals.append(r["ratio_to_aot"] if r and r.get("ratio_to_aot") else np.nan)
            # Bars grow from 1 (= as fast as aot): up when aot is faster, down when slower.
            vals = np.array(vals, dtype=float)
            pos = x - 0.4 + width * (k + 0.5)
            ax.bar(pos, vals - 1.0, width, bottom=1.0, label=fw)
            for px, v in zip(pos, vals):
                if np.isfinite(v):
                    ax.annotate(_ratio(float(v)), (px, v), ha="center", fontsize=6,
                                va="bottom" if v >= 1 else "top",
                                xytext=(0, 1 if v >= 1 else -1), textcoords="offset points")
        ax.axhline(1.0, color="black", linewidth=1)
        ax.set_yscale("log")
        finite = [r["ratio_to_aot"] for d in use for r in d["results"]
                  if r["framework"] != "aot" and r.get("ratio_to_aot")]
        lo, hi = min(finite + [1.0]), max(finite + [1.0])
        ax.set_ylim(lo / 1.6, hi * 1.6)
        from matplotlib.ticker import FuncFormatter, NullFormatter
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        if hi / lo < 30:   # less than ~1.5 decades: label 2, 3 and 5 too
            import math
            ax.yaxis.set_minor_formatter(FuncFormatter(
                lambda v, _: f"{v:g}" if v > 0 and round(v / 10 ** math.floor(math.log10(v)), 6)
                in (2, 3, 5) else ""))
        else:
            ax.yaxis.set_minor_formatter(NullFormatter())
        ax.tick_params(axis="y", which="minor", labelsize=7)
        ax.set_xticks(x)
        ax.set_xticklabels([f"{d['model']}\n{d['target']}" for d in use], fontsize=8)
        ax.set_ylabel(f"{what} ÷ aot's\n(log; above 1: aot faster)", fontsize=9)
        ax.set_title(f"{what.capitalize()} of each framework relative to aot", fontsize=10)
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
        ax.grid(axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def write_report(docs: list[dict], path: str, command: str | None = None) -> tuple[str, str | None]:
    png = os.path.splitext(path)[0] + ".png"
    png = write_chart(docs, png)
    with open(path, "w") as f:
        f.write(render_markdown(docs, png, command))
    return path, png

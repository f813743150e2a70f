"""`aot inspect`: per-layer table and totals from a compilation (no files written).

JSON keys (DESIGN.md, Interfaces): totals `params`, `macs`, `weights_bytes`,
`weights_bytes_by_dtype`, `arena_bytes`, `lower_bound_bytes`, `scratch_bytes`,
`io_bytes`, `peak_step`, and `layers` ([{name, onnx_nodes, op, kernel,
output_shape, params, macs}]). Added here: `flash_bytes_estimate`, `plan`
(how the offsets were found) and `steps` ([{step, layer, live_bytes, live:
[{tensor, bytes, offset}]}], the arena buffers live at each step).

`io_bytes` counts the input and output buffers outside the arena (0 with
`--io-in-arena`); `scratch_bytes` the largest kernel scratch buffer (each
lives for one step only, so they never add up).
"""

from __future__ import annotations

from aot.program import Params, ConstArray, Ref

# Rough code-size model for `flash_estimate` (bytes); the emulator measures the real size.
CODE_PER_KERNEL = 1024
CODE_PER_CALL = 16


def io_bytes(program, plan) -> int:
    """Bytes of the input and output buffers the caller owns outside the arena."""
    if plan.io_in_arena:
        return 0
    return sum(program.tensors[t].nbytes for t in [*program.inputs, *program.outputs])


def _params_bytes(value) -> int:
    if isinstance(value, Params):
        return _params_bytes(dict(value.fields))
    if isinstance(value, dict):
        return sum(_params_bytes(v) for v in value.values())
    if isinstance(value, ConstArray):
        return 4 + value.data.nbytes     # the pointer and the array
    if isinstance(value, tuple):
        return 4 * len(value)
    return 4


def flash_estimate(program) -> dict[str, int]:
    """Flash bytes: the weights, the parameter blocks (4 B a field), and code
    estimated as CODE_PER_KERNEL per distinct kernel plus CODE_PER_CALL per call."""
    weights = sum(program.tensors[t].nbytes for t in program.constants())
    params = sum(_params_bytes(c.params) for c in program.calls if c.params is not None)
    code = (CODE_PER_KERNEL * len({c.kernel for c in program.calls})
            + CODE_PER_CALL * len(program.calls))
    return {"weights": weights, "parameter blocks": params, "code (estimate)": code,
            "total": weights + params + code}


def _step_label(program, step: int) -> str:
    call = program.calls[step]
    return f"{call.op} '{call.layer.split(';')[0][:60]}'"


def peak_summary(program, plan) -> str:
    step = plan.peak_step
    if step is None:
        return "no arena buffers"
    return (f"peak at step {step}, {_step_label(program, step)}: "
            f"{plan.live_bytes()[step]:,} B live")


def peak_details(program, plan) -> list[str]:
    """Detail lines for a limit error: the buffers live at the peak step."""
    step = plan.peak_step
    lines = []
    if step is not None:
        lines.append(f"live at step {step}:")
        for b in plan.live(step):
            names = " = ".join(b.tensors) if b.tensors else b.name
            lines.append(f"  {names}: {b.size_at(step):,} B (steps {b.first}..{b.last})")
    if not plan.io_in_arena:
        io = [f"{t} {program.tensors[t].nbytes:,} B" for t in [*program.inputs, *program.outputs]]
        lines.append("inputs/outputs outside the arena: " + ", ".join(io))
    lines.append(f"arena {plan.arena_bytes:,} B, lower bound for this order "
                 f"{plan.lower_bound:,} B ({plan.method})")
    return lines


def inspect_report(comp) -> dict:
    program, plan = comp.program, comp.plan
    layers = []
    counted: set[str] = set()
    for call in program.calls:
        params = 0
        for op in call.operands:
            if isinstance(op, Ref) and program.tensors[op.tensor].is_const:
                root = program.root(op.tensor)[0]
                if root not in counted:
                    counted.add(root)
                    params += program.tensors[root].size
        layers.append({"name": call.layer, "onnx_nodes": call.layer.split("+"), "op": call.op,
                       "kernel": call.kernel,
                       "output_shape": list(program.tensors[call.writes[0]].shape),
                       "params": params, "macs": call.macs})
    by_dtype: dict[str, int] = {}
    for t in program.constants():
        tensor = program.tensors[t]
        by_dtype[str(tensor.dtype)] = by_dtype.get(str(tensor.dtype), 0) + tensor.nbytes
    live = plan.live_bytes()
    steps = [{"step": i, "layer": call.layer, "live_bytes": live[i],
              "live": [{"tensor": b.name, "tensors": list(b.tensors) or [b.name],
                        "bytes": b.size_at(i), "offset": plan.offsets[b.name]}
                       for b in plan.live(i)]}
             for i, call in enumerate(program.calls)]
    return {
        "model": program.name,
        "target": comp.target.name,
        "params": sum(l["params"] for l in layers),
        "macs": sum(l["macs"] for l in layers),
        "weights_bytes": sum(by_dtype.values()),
        "weights_bytes_by_dtype": dict(sorted(by_dtype.items())),
        "flash_bytes_estimate": flash_estimate(program)["total"],
        "arena_bytes": plan.arena_bytes,
        "lower_bound_bytes": plan.lower_bound,
        "scratch_bytes": max((c.scratch_bytes for c in program.calls), default=0),
        "io_bytes": io_bytes(program, plan),
        "peak_step": plan.peak_step,
        "plan": plan.method,
        "layers": layers,
        "steps": steps,
    }


def render_table(report: dict) -> str:
    rows = [("#", "layer (ONNX nodes)", "op", "kernel", "output", "params", "MACs")]
    for i, l in enumerate(report["layers"]):
        rows.append((str(i), l["name"], l["op"], l["kernel"],
                     "x".join(map(str, l["output_shape"])), f"{l['params']:,}", f"{l['macs']:,}"))
    widths = [min(max(len(r[c]) for r in rows), 40) for c in range(len(rows[0]))]
    lines = []
    for r in rows:
        cells = [v[:w].ljust(w) if c < 5 else v.rjust(w) for c, (v, w) in enumerate(zip(r, widths))]
        lines.append("  ".join(cells).rstrip())
    lines += ["", "memory per step (arena buffers live; * = peak):"]
    for s in report["steps"]:
        mark = "*" if s["step"] == report["peak_step"] else " "
        live = ", ".join(f"{'='.join(t['tensors'])[:40]} {t['bytes']:,}" for t in s["live"])
        lines.append(f"{mark}{s['step']:>3}  {s['live_bytes']:>10,} B  {live}")
    lines.append("")
    lines.append(f"{report['model']} on {report['target']}: {report['params']:,} params, "
                 f"{report['macs']:,} MACs, weights {report['weights_bytes']:,} B, "
                 f"arena {report['arena_bytes']:,} B (lower bound "
                 f"{report['lower_bound_bytes']:,} B, peak at step {report['peak_step']}; "
                 f"{report['plan']}), scratch {report['scratch_bytes']:,} B, "
                 f"I/O {report['io_bytes']:,} B")
    return "\n".join(lines)


def plot_plan(comp, path: str) -> None:
    """A PNG of the arena over time: one rectangle per buffer (x: steps it is
    live, y: its bytes in the arena)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.patches import Rectangle
    except ImportError:
        from aot.errors import UsageError
        raise UsageError("--plot needs matplotlib (pip install matplotlib)") from None
    from aot.emit import short_name

    program, plan = comp.program, comp.plan
    steps = max(plan.steps, 1)
    fig, ax = plt.subplots(figsize=(max(7.0, min(16.0, 0.4 * steps + 3)), 5.5))
    cmap = plt.get_cmap("tab20")
    scale, unit = (1024, "KiB") if plan.arena_bytes >= 4096 else (1, "B")
    buffers = sorted(plan.buffers.values(), key=lambda b: (b.first, plan.offsets[b.name]))
    for k, b in enumerate(buffers):
        y0, h = plan.offsets[b.name] / scale, max(b.nbytes, 1) / scale
        x0, w = b.first - 0.45, b.last - b.first + 0.9
        for first, last, nbytes in b.sizes or ((b.first, b.last, b.nbytes),):
            # a buffer whose size changes in place: one rectangle per size
            ax.add_patch(Rectangle((first - 0.45, y0), last - first + 0.9,
                                   max(nbytes, 1) / scale, facecolor=cmap(k % 20),
                                   edgecolor="black", linewidth=0.6, alpha=0.85))
        label = short_name(b.name).split("/")[-1][:18]
        if b.tensors:
            label += f"\n(+{len(b.tensors) - 1} in place)"
        if h >= 0.05 * plan.arena_bytes / scale and w >= 0.9:
            ax.text(x0 + w / 2, y0 + h / 2, label, ha="center", va="center", fontsize=7,
                    clip_on=True)
    live = plan.live_bytes()
    ax.step(range(len(live)), [v / scale for v in live], where="mid", color="red",
            linewidth=1.0, label="bytes live (lower bound = its max)")
    ax.axhline(plan.arena_bytes / scale, color="black", linestyle="--", linewidth=1.0,
               label=f"arena {plan.arena_bytes:,} B")
    ax.set_xlim(-0.6, steps - 0.4)
    ax.set_ylim(0, max(plan.arena_bytes, 1) / scale * 1.08)
    ax.set_xlabel("step (kernel call)")
    ax.set_ylabel(f"arena offset ({unit})")
    ax.set_title(f"{program.name} on {comp.target.name}: arena {plan.arena_bytes:,} B, "
                 f"lower bound {plan.lower_bound:,} B", fontsize=10)
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.12), ncol=2, fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

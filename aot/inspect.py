"""`aot inspect`: per-layer table and totals from a compilation (no files written).

JSON keys (DESIGN.md, Interfaces): totals `params`, `macs`, `weights_bytes`,
`weights_bytes_by_dtype`, `arena_bytes`, `lower_bound_bytes`, `scratch_bytes`,
`io_bytes`, `peak_step`, and `layers` ([{name, onnx_nodes, op, kernel,
output_shape, params, macs}]).
"""

from __future__ import annotations

from aot.program import Ref


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
    live = [sum(b.nbytes for b in plan.buffers.values() if b.first <= i <= b.last)
            for i in range(len(program.calls))]
    return {
        "model": program.name,
        "target": comp.target.name,
        "params": sum(l["params"] for l in layers),
        "macs": sum(l["macs"] for l in layers),
        "weights_bytes": sum(by_dtype.values()),
        "weights_bytes_by_dtype": dict(sorted(by_dtype.items())),
        "arena_bytes": plan.arena_bytes,
        "lower_bound_bytes": plan.lower_bound,
        "scratch_bytes": sum(c.scratch_bytes for c in program.calls),
        "io_bytes": sum(program.tensors[t].nbytes for t in [*program.inputs, *program.outputs]),
        "peak_step": max(range(len(live)), key=live.__getitem__) if live else None,
        "layers": layers,
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
    lines.append("")
    lines.append(f"{report['model']} on {report['target']}: {report['params']:,} params, "
                 f"{report['macs']:,} MACs, weights {report['weights_bytes']:,} B, "
                 f"arena {report['arena_bytes']:,} B (lower bound "
                 f"{report['lower_bound_bytes']:,} B, peak at step {report['peak_step']}), "
                 f"I/O {report['io_bytes']:,} B")
    return "\n".join(lines)

"""The `aot` command line: compile, run, inspect, quantize, bench, targets.

Flags map onto `aot.Options`; errors print one summary line (plus detail
lines) to stderr and exit 1 (a failed check), 2 (bad input) or 3 (toolchain
or run failure). See DESIGN.md, Interfaces.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback

import numpy as np

from aot.errors import AotError, UsageError
from aot.options import KERNEL_VARIANTS, Options, parse_bytes, parse_shape_spec


def _options(args) -> Options:
    shapes = dict(parse_shape_spec(s) for spec in (args.input_shape or []) for s in spec)
    return Options(name=getattr(args, "name", None), input_shapes=shapes,
                   ram_limit=parse_bytes(args.ram_limit) if getattr(args, "ram_limit", None)
                   else None,
                   flash_limit=parse_bytes(args.flash_limit) if getattr(args, "flash_limit", None)
                   else None,
                   inplace=not getattr(args, "no_inplace", False),
                   schedule=getattr(args, "schedule", None) or "onnx",
                   io_in_arena=getattr(args, "io_in_arena", False),
                   toolchain=getattr(args, "toolchain", None),
                   kernels=getattr(args, "kernels", None) or "auto",
                   optimize=getattr(args, "optimize", None) or "speed",
                   emit_selftest=getattr(args, "emit_selftest", False),
                   selftest_input=getattr(args, "selftest_input", None),
                   selftest_tflite=getattr(args, "selftest_tflite", None),
                   **_quant_fields(args))


def _quant_fields(args) -> dict:
    """--quantize/--calibration/--calibration-method/--per-tensor -> Options fields."""
    quantize = getattr(args, "quantize", None)
    calibration = getattr(args, "calibration", None)
    if calibration and not quantize:
        raise UsageError("--calibration is only used with --quantize int8")
    if quantize and not calibration:
        from aot.quantize import no_calibration_message
        raise UsageError(no_calibration_message())
    return dict(quantize=quantize, calibration=calibration,
                calibration_method=getattr(args, "calibration_method", None) or "minmax",
                per_channel=getattr(args, "per_channel", True))


def _add_quant_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quantize", choices=("int8",),
                   help="post-training quantization of a float model first (needs --calibration)")
    _add_calibration_args(p, "--calibration-method")


def _add_calibration_args(p: argparse.ArgumentParser, method_flag: str) -> None:
    p.add_argument("--calibration", metavar="NPZ",
                   help="representative inputs: .npz keyed by input name, leading sample axis")
    p.add_argument(method_flag, dest="calibration_method", default="minmax",
                   choices=("minmax", "percentile", "entropy"),
                   help="how activation ranges are found (default: minmax)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--per-channel", dest="per_channel", action="store_true", default=True,
                   help="one weight scale per conv output channel (default)")
    g.add_argument("--per-tensor", dest="per_channel", action="store_false",
                   help="one weight scale per weight tensor")


def _add_plan_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ram-limit", help="fail (exit 1) when the arena plus the input/output "
                   "buffers outside it exceed this, e.g. 64K")
    p.add_argument("--flash-limit", help="fail (exit 1) when weights + parameter blocks + a "
                   "code-size estimate exceed this, e.g. 256K")
    p.add_argument("--schedule", choices=("onnx", "memory"), default="onnx",
                   help="call order: the ONNX order (default) or the topological order with "
                   "the smallest peak memory")
    p.add_argument("--no-inplace", action="store_true",
                   help="never let an elementwise call write over its input")
    p.add_argument("--io-in-arena", action="store_true",
                   help="place inputs and outputs in the arena (zero-copy: <name>_input_ptr / "
                   "<name>_output_ptr)")


def _add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="ONNX model file")
    p.add_argument("--target", default="native",
                   help="target name (default: native, the host; see `aot targets`)")
    p.add_argument("--input-shape", action="append", nargs="+", metavar="NAME=D0,D1,...",
                   help="fix a dynamic input shape, e.g. input=1,3,32,32")


def cmd_compile(args) -> int:
    import aot
    from aot.targets.target import resolve

    target = resolve(args.target)
    model = aot.compile(args.model, target, out_dir=args.output, options=_options(args),
                        force=args.force)
    m = model.manifest
    chosen = f"native = {target.name}" if args.target == "native" else target.name
    print(f"{m['name']}: {len(m['files'])} files in {args.output} for {chosen} "
          f"(arena {m['arena']['bytes']} B, weights {m['weights_bytes']} B)")
    if args.quantize:
        print(f"  quantized to int8 ({args.calibration_method} ranges from {args.calibration}, "
              f"{'per-channel' if args.per_channel else 'per-tensor'} conv weights)")
    print(f"  toolchain {m['toolchain']}: {' '.join(m['build_flags'])}; kernels {m['kernels']}")
    if "selftest" in m:
        print(f"  self-test {m['selftest']['file']}: reference {m['selftest']['reference']}")
    return 0


def cmd_targets(args) -> int:
    """`aot targets`: every target, and what `native` resolves to here."""
    from aot.errors import AotError
    from aot.targets.hostcpu import host_cpu_name, missing_features
    from aot.targets.target import NATIVE_ORDER, TARGETS, host_target

    try:
        native = host_target().name
    except AotError as e:
        native, why = None, str(e)
    rows = []
    for t in TARGETS.values():
        if t.runner == "host":
            missing = missing_features(t)
            runs = "host" + (f" (this CPU lacks {', '.join(missing)})" if missing else "")
        elif t.runner == "unicorn":
            cpu = t.uc_cpu.removeprefix("UC_CPU_ARM64_").removeprefix("UC_CPU_ARM_")
            cpu = "'max'" if cpu == "MAX" else "Cortex-" + cpu.removeprefix("CORTEX_")
            runs = f"emulated (unicorn {cpu})"
        else:
            runs = "build-only"
        rows.append({"name": t.name, "family": t.family, "features": list(t.features),
                     "runner": t.runner, "runs": runs, "toolchain": t.default_toolchain,
                     "toolchains": list(t.toolchains), "alignment": t.alignment,
                     "description": t.description})
    if args.json:
        print(json.dumps({"targets": rows, "native": native, "host_cpu": host_cpu_name()},
                         indent=2, sort_keys=True))
        return 0
    header = ("target", "family", "runs", "toolchain (also)", "features")
    table = [header] + [(r["name"], r["family"], r["runs"],
                         r["toolchain"] + " (" + ", ".join(r["toolchains"][1:]) + ")",
                         " ".join(r["features"]) or "-") for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
    for row in table:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[-1])
    cpu = host_cpu_name()
    if native:
        order = next((o for o in NATIVE_ORDER.values() if native in o), (native,))
        print(f"native = {native} (host CPU {cpu or 'unknown'}; the first of "
              f"{', '.join(order)} whose features it has)")
    else:
        print(f"native: none on this host ({why})")
    return 0


def cmd_quantize(args) -> int:
    """`aot quantize`: float ONNX -> int8 QDQ ONNX (see aot/quantize.py)."""
    import onnx
    from aot.quantize import layer_errors, no_calibration_message, quantize

    if not args.calibration:
        raise UsageError(no_calibration_message())
    shapes = dict(parse_shape_spec(s) for spec in (args.input_shape or []) for s in spec)
    q = quantize(args.model, args.calibration, method=args.calibration_method,
                 per_channel=args.per_channel, input_shapes=shapes)
    try:
        onnx.save(q.model, args.output)
    except OSError as e:
        raise UsageError(f"{args.output}: cannot write ({e.strerror})") from None
    acts = sum(1 for n in q.model.graph.node if n.op_type == "QuantizeLinear")
    print(f"wrote {args.output}: int8 QDQ, {acts} quantized activations, {args.calibration_method} "
          f"ranges over {q.samples} samples, "
          f"{'per-channel' if args.per_channel else 'per-tensor'} conv weights")
    if not args.no_report:
        report = layer_errors(q.float_model, q.model, args.calibration)
        for o in report["outputs"]:
            db = "exact" if o["sqnr_db"] is None else f"{o['sqnr_db']:.1f} dB"
            print(f"  output {o['name']}: SQNR {db} (float vs fake-quantized, calibration data)")
    return 0


def _load_feeds(path: str | None, manifest: dict, seed: int) -> dict[str, np.ndarray]:
    specs = manifest["inputs"]
    if path is None:
        rng = np.random.default_rng(seed)
        feeds = {}
        for s in specs:
            dtype = np.dtype(s["dtype"])
            if dtype.kind == "f":
                feeds[s["name"]] = rng.standard_normal(s["shape"]).astype(dtype)
            else:
                info = np.iinfo(dtype)
                feeds[s["name"]] = rng.integers(max(info.min, -128), min(info.max, 127) + 1,
                                                s["shape"]).astype(dtype)
        return feeds
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise UsageError(f"{path}: cannot read as .npy/.npz ({e})") from None
    if isinstance(data, np.ndarray):
        if len(specs) != 1:
            raise UsageError(f"{path}: a .npy holds one array, the model has {len(specs)} "
                             f"inputs; use a .npz keyed by input name")
        return {specs[0]["name"]: data}
    return {k: data[k] for k in data.files}


def cmd_run(args) -> int:
    from aot.api import CompiledModel

    model = CompiledModel.load(args.output_dir)
    if args.target and args.target != "native" and args.target != model.manifest["target"]["name"]:
        raise UsageError(f"--target {args.target} conflicts with the manifest's target "
                         f"{model.manifest['target']['name']}; recompile for it")
    if args.selftest:
        result = model.selftest()
        if args.json:
            print(json.dumps({"model": model.name, "target": model.manifest["target"]["name"],
                              **result}, indent=2, sort_keys=True))
        else:
            print(f"{model.name}_selftest on {model.manifest['target']['name']}: "
                  f"{'pass' if result['passed'] else 'FAIL'} (code {result['code']}), max "
                  f"|diff| {result['max_diff']:.6g}, tolerance "
                  f"{', '.join(f'{t:g}' for t in result['tolerance'])}; reference "
                  f"{result['reference']}")
        return 0 if result["passed"] else 1
    feeds = _load_feeds(args.input, model.manifest, args.seed)
    outputs, stats = model.run_with_stats(feeds, threads=args.threads)
    if args.output:
        np.savez(args.output, **outputs)
    if args.json:
        print(json.dumps(stats, indent=2, sort_keys=True))
    else:
        src = args.input or f"seeded random input (seed {args.seed})"
        print(f"{stats['model']} on {stats['target']}, input: {src}")
        for name, s in stats["outputs"].items():
            print(f"  {name}: {s['dtype']}{s['shape']} min {s['min']:.6g} max {s['max']:.6g} "
                  f"argmax {s['argmax']} crc32 {s['crc32']:08x}")
        print(f"  arena {stats['arena_bytes']} B, RAM {stats['ram_bytes']} B")
        if stats.get("workers"):
            print(f"  {stats['threads']} workers (parts run serially): instructions "
                  f"{', '.join(f'{n:,}' for n in stats['workers'])}; outside split layers "
                  f"{stats['serial_instructions']:,}")
    return 0


def cmd_inspect(args) -> int:
    from aot.api import compile_graph
    from aot.inspect import inspect_report, render_table

    dump = None
    if args.dump_after:
        from aot.ir import format_graph
        from aot.passes.pipeline import FLOAT_PIPELINE
        names = [n for n, _ in FLOAT_PIPELINE]
        if args.dump_after not in names:
            raise UsageError(f"--dump-after takes a pass name: {', '.join(names)}")

        def dump(name, graph):
            if name == args.dump_after:
                print(f"# after pass '{name}'\n{format_graph(graph)}\n")
    options, model, quant = _options(args), args.model, None
    if options.quantize:   # quantize here (not in compile_graph) to keep the result
        import dataclasses
        from aot.quantize import quantize
        quant = quantize(args.model, options.calibration, method=options.calibration_method,
                         per_channel=options.per_channel, input_shapes=options.input_shapes)
        model, options = quant.model, dataclasses.replace(options, quantize=None)
    comp, _ = compile_graph(model, args.target, options, dump_after=dump)
    report = inspect_report(comp)
    if quant is not None:
        from aot.quantize import layer_errors
        report["quantization"] = {"method": quant.method, "per_channel": quant.per_channel,
                                  "calibration": args.calibration,
                                  **layer_errors(quant.float_model, quant.model,
                                                 args.calibration)}
    if args.plot:
        from aot.inspect import plot_plan
        plot_plan(comp, args.plot)
    if args.json:
        print(json.dumps(report, indent=2, sort_keys=True))
    else:
        print(render_table(report))
        if quant is not None:
            from aot.quantize import render_errors
            print(render_errors(report["quantization"]))
    return 0


def cmd_bench(args) -> int:
    import shlex

    from aot.bench import BenchOptions, any_mismatch, bench
    from aot.bench_report import render_table, write_report
    from aot.loadgen_driver import SCENARIOS

    if args.scenario and args.scenario not in SCENARIOS:
        raise UsageError(f"--scenario takes {' or '.join(SCENARIOS)}")
    baselines = () if args.baselines in ("", "none") else \
        tuple(b.strip() for b in args.baselines.split(",") if b.strip())
    shapes = dict(parse_shape_spec(s) for spec in (args.input_shape or []) for s in spec)
    opts = BenchOptions(
        targets=tuple(t.strip() for t in args.target.split(",") if t.strip()),
        baselines=baselines, tflite=tuple(args.tflite or ()), input_path=args.input,
        verify=args.verify, rounds=args.rounds, round_s=args.round_time,
        warmup_s=args.warmup, quick=args.quick, seed=args.seed, scenario=args.scenario,
        min_queries=args.min_queries, min_duration_s=args.min_duration,
        accuracy=args.accuracy, threads=args.threads, per_layer=args.per_layer,
        anchors=args.anchors,
        out_dir=args.keep, input_shapes=shapes, progress=args.progress)
    docs = bench(args.models, opts)
    if args.json:
        print(json.dumps(docs[0] if len(docs) == 1 else docs, indent=2, sort_keys=True))
    else:
        print(render_table(docs), end="")
    if args.report:
        argv = sys.argv[1:] if args.argv is None else args.argv
        md, png = write_report(docs, args.report, "aot " + " ".join(shlex.quote(a)
                                                                    for a in argv))
        print(f"report: {md}" + (f", chart: {png}" if png else " (no chart: matplotlib "
                                  "missing or nothing to compare)"), file=sys.stderr)
    if any_mismatch(docs):
        print("aot: error: aot's outputs do not match the reference (see outputs_match)",
              file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    from aot.version import __version__

    parser = argparse.ArgumentParser(prog="aot", description="Ahead-of-time compiler from "
                                     "ONNX to standalone C.")
    parser.add_argument("--version", action="version", version=f"aot {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("compile", help="compile a model to C")
    _add_model_args(p)
    p.add_argument("-o", "--output", required=True, help="output directory")
    p.add_argument("--name", help="C prefix (default: the model file's stem)")
    p.add_argument("--force", action="store_true",
                   help="write into a directory holding other files (they are kept)")
    _add_plan_args(p)
    _add_quant_args(p)
    p.add_argument("--toolchain", choices=("cc", "gcc", "zig"),
                   help="compiler that builds the output for `aot run` (default: the target's, "
                        "see `aot targets`; host targets: cc, gcc or zig; cross targets: zig "
                        "or gcc)")
    p.add_argument("--kernels", choices=("auto", "portable", *KERNEL_VARIANTS), default="auto",
                   help="auto: the best kernel variant the target has (see `aot targets`), else "
                        "portable C; portable: plain C only; a variant name (e.g. dsp, neon, "
                        "avx2): that variant where it applies, else portable C")
    p.add_argument("--optimize", choices=("speed", "size"), default="speed",
                   help="speed: kernels specialized per layer shape where they pay (e.g. dsp "
                        "3x3 depthwise, pointwise); size: only the shared general kernels")
    p.add_argument("--emit-selftest", action="store_true",
                   help="also write <name>_selftest.c/.h: a golden input, the reference output "
                        "and <name>_selftest() that checks the model against it")
    p.add_argument("--selftest-input", metavar="NPY",
                   help="the self-test's golden input (.npy, or .npz keyed by input name; "
                        "default: seeded random)")
    p.add_argument("--selftest-tflite", metavar="TFLITE",
                   help="compute the self-test's reference with TensorFlow Lite Micro on this "
                        ".tflite (int8: bit-exact) instead of onnxruntime")
    p.set_defaults(fn=cmd_compile)

    p = sub.add_parser("targets", help="list the targets and what `native` means here")
    p.add_argument("--json", action="store_true")
    p.set_defaults(fn=cmd_targets)

    p = sub.add_parser("run", help="build and run a compiled model")
    p.add_argument("output_dir", help="a directory written by `aot compile`")
    p.add_argument("--target", help="must match the manifest's target")
    p.add_argument("--input", help=".npy (one input) or .npz keyed by input name")
    p.add_argument("--output", help="write the outputs to this .npz")
    p.add_argument("--seed", type=int, default=0, help="seed of the random input")
    p.add_argument("--threads", type=int, default=1,
                   help="worker threads for the heavy layers (<name>_run_ex; x86-64 and "
                        "aarch64 targets; emulated: the parts run serially)")
    p.add_argument("--json", action="store_true", help="print the run summary as JSON")
    p.add_argument("--selftest", action="store_true",
                   help="run <name>_selftest (compiled with --emit-selftest) instead; exit 1 "
                        "if it fails")
    p.set_defaults(fn=cmd_run)

    p = sub.add_parser("inspect", help="per-layer table: ops, shapes, params, MACs, memory")
    _add_model_args(p)
    p.add_argument("--json", action="store_true")
    p.add_argument("--dump-after", metavar="PASS", help="print the graph after this pass")
    p.add_argument("--plot", metavar="PNG", help="draw the arena plan (offset vs step) as a PNG")
    _add_plan_args(p)
    _add_quant_args(p)
    p.set_defaults(fn=cmd_inspect)

    p = sub.add_parser("quantize", help="post-training int8 quantization: float ONNX -> QDQ ONNX")
    p.add_argument("model", help="float ONNX model file")
    p.add_argument("-o", "--output", required=True, help="the int8 QDQ model to write (.onnx)")
    _add_calibration_args(p, "--method")
    p.add_argument("--no-report", action="store_true",
                   help="skip the output SQNR check on the calibration data")
    p.add_argument("--input-shape", action="append", nargs="+", metavar="NAME=D0,D1,...",
                   help="fix a dynamic input shape, e.g. x=1,3,224,224 (as for compile)")
    p.set_defaults(fn=cmd_quantize)

    p = sub.add_parser("bench", help="time the compiled model against onnxruntime, TFLite, "
                       "TFLM and TVM (host), or count instructions and cycles (Cortex-M)")
    p.add_argument("models", nargs="+", help="ONNX model file(s)")
    p.add_argument("--target", default="native",
                   help="target(s), comma-separated (default: native; Cortex-M targets are "
                        "emulated: instructions, est. cycles, flash, RAM)")
    p.add_argument("--baselines", default="onnxruntime,tflite-xnnpack,tflite-builtin,tflm,tvm",
                   help="comma-separated frameworks beside aot (default: all; 'none')")
    p.add_argument("--tflite", action="append", metavar="PATH",
                   help="the .tflite original of the model (once per model, in order); the "
                        "shared MLPerf Tiny models are paired automatically")
    p.add_argument("--input", help=".npy/.npz inputs to verify and time with (default: seeded "
                                   "random)")
    p.add_argument("--input-shape", action="append", nargs="+", metavar="NAME=D0,D1,...",
                   help="fix a dynamic input shape")
    p.add_argument("--verify", type=int, default=3, help="inputs checked before timing")
    p.add_argument("--rounds", type=int, default=20, help="interleaved timing rounds")
    p.add_argument("--round-time", type=float, default=0.1, metavar="S",
                   help="seconds of calls per framework per round")
    p.add_argument("--warmup", type=float, default=0.2, metavar="S",
                   help="warm-up seconds per framework")
    p.add_argument("--quick", action="store_true",
                   help="a short run that proves it works (CI); not for quoting")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs")
    p.add_argument("--scenario", help="run through MLPerf LoadGen: singlestream or offline")
    p.add_argument("--min-queries", type=int,
                   help="LoadGen minimum query (SingleStream) / sample (Offline) count "
                        "(default: MLPerf Mobile's 1024 / 24576)")
    p.add_argument("--min-duration", type=float, metavar="S",
                   help="LoadGen minimum duration in seconds (default: MLPerf Mobile's 60)")
    p.add_argument("--accuracy", metavar="NPZ",
                   help="LoadGen accuracy mode on this .npz (inputs + 'labels'): top-1")
    p.add_argument("--threads", type=int, default=1,
                   help="worker threads: aot's heavy layers split across N (<name>_run_ex), "
                        "onnxruntime's intra-op threads; both also timed with one thread "
                        "(thread_speedup). Emulated AArch64: parts run serially, per-worker "
                        "instructions")
    p.add_argument("--per-layer", action="store_true",
                   help="per layer: ONNX node, op, kernel, MACs, and us (host) or "
                        "instructions (emulated); `layers` in --json")
    p.add_argument("--anchors", metavar="JSON",
                   help="TFLM reference figures to show beside Cortex-M results, e.g. "
                        "../shared/anchors/tflm_cortex_m4.json")
    p.add_argument("--keep", metavar="DIR", help="keep the compiled outputs under DIR")
    p.add_argument("--json", action="store_true",
                   help="print JSON: one document per model (a list for several)")
    p.add_argument("--report", metavar="MD", help="write a Markdown report and a PNG chart")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar on stderr (default: when stderr is a terminal)")
    p.set_defaults(fn=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = argv
    try:
        return args.fn(args)
    except AotError as e:
        print(f"aot: error: {e.render()}", file=sys.stderr)
        return e.exit_code
    except BrokenPipeError:  # e.g. piped into head
        return 0
    except KeyboardInterrupt:
        print("aot: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a bug in aot, not in the input: say so in one line
        frames = traceback.extract_tb(e.__traceback__)
        where = f" ({os.path.basename(frames[-1].filename)}:{frames[-1].lineno})" if frames else ""
        print(f"aot: internal error{where}: {type(e).__name__}: {e}. Please report it "
              f"with the model.", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())

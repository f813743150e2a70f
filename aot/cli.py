"""The `aot` command line: compile, run, inspect.

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
from aot.options import Options, parse_bytes, parse_shape_spec


def _options(args) -> Options:
    shapes = dict(parse_shape_spec(s) for spec in (args.input_shape or []) for s in spec)
    return Options(name=getattr(args, "name", None), input_shapes=shapes,
                   ram_limit=parse_bytes(args.ram_limit) if getattr(args, "ram_limit", None)
                   else None)


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
    feeds = _load_feeds(args.input, model.manifest, args.seed)
    outputs, stats = model.run_with_stats(feeds)
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
    comp, _ = compile_graph(args.model, args.target, _options(args), dump_after=dump)
    report = inspect_report(comp)
    if args.json:
        print(json.dumps(report, indent=2, sort_keys=True))
    else:
        print(render_table(report))
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
    p.add_argument("--ram-limit", help="fail when the arena exceeds this, e.g. 64K")
    p.set_defaults(fn=cmd_compile)

    p = sub.add_parser("run", help="build and run a compiled model")
    p.add_argument("output_dir", help="a directory written by `aot compile`")
    p.add_argument("--target", help="must match the manifest's target")
    p.add_argument("--input", help=".npy (one input) or .npz keyed by input name")
    p.add_argument("--output", help="write the outputs to this .npz")
    p.add_argument("--seed", type=int, default=0, help="seed of the random input")
    p.add_argument("--json", action="store_true", help="print the run summary as JSON")
    p.set_defaults(fn=cmd_run)

    p = sub.add_parser("inspect", help="per-layer table: ops, shapes, params, MACs, memory")
    _add_model_args(p)
    p.add_argument("--json", action="store_true")
    p.add_argument("--dump-after", metavar="PASS", help="print the graph after this pass")
    p.set_defaults(fn=cmd_inspect)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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

"""RAM/flash limits (exit 1 with the peak step and the tensors live there),
`aot inspect --json` memory keys, the per-step text, and `--plot`."""

from __future__ import annotations

import json

import pytest

import aot
from aot.cli import main
from aot.errors import CheckFailed
from aot.options import Options
from conftest import need_import


def kws(mlperf_dir) -> str:
    return str(mlperf_dir / "kws_float.onnx")


def test_ram_limit_names_the_peak_step_and_live_tensors(mlperf_dir, capsys, tmp_path):
    # KWS on cortex-m4 out of place: arena 64,000 B (two 32,000 B activations) + I/O
    # 1,960 + 48 B. (In place it is one activation, 32,000 B, plus 256 B of scratch.)
    code = main(["compile", kws(mlperf_dir), "--target", "cortex-m4", "-o", str(tmp_path),
                 "--ram-limit", "64K", "--no-inplace"])
    assert code == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("aot: error: the plan needs 66,008 B of RAM (arena 64,000 B")
    assert "over --ram-limit 65,536 B; peak at step 1, Conv+Relu" in lines[0]
    assert lines[1].strip() == "live at step 1:"
    assert [ln.strip() for ln in lines[2:4]] == ["Relu__5:0: 32,000 B (steps 0..1)",
                                                 "Relu__8:0: 32,000 B (steps 1..2)"]
    assert lines[4].strip() == "inputs/outputs outside the arena: input_1 1,960 B, Identity 48 B"
    assert not any(tmp_path.iterdir())      # nothing written


def test_ram_limit_counts_io_outside_the_arena(mlperf_dir, tmp_path):
    # Exactly enough passes; zero-copy I/O needs less (the input's bytes are reused).
    aot.compile(kws(mlperf_dir), "cortex-m4", out_dir=str(tmp_path / "a"),
                options=Options(ram_limit=66_008, inplace=False))
    with pytest.raises(CheckFailed):
        aot.compile(kws(mlperf_dir), "cortex-m4", options=Options(ram_limit=66_007,
                                                                   inplace=False))
    m = aot.compile(kws(mlperf_dir), "cortex-m4", out_dir=str(tmp_path / "b"),
                    options=Options(ram_limit=66_007, io_in_arena=True, inplace=False))
    assert m.manifest["arena"]["bytes"] <= 66_007 and m.manifest["arena"]["io_bytes"] == 0


def test_flash_limit(mlperf_dir, capsys, tmp_path):
    code = main(["compile", kws(mlperf_dir), "--target", "cortex-m4", "-o", str(tmp_path),
                 "--flash-limit", "64K"])
    assert code == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("aot: error: the model needs about ")
    assert lines[0].endswith("B of flash, over --flash-limit 65,536 B")
    assert lines[1].strip() == "weights: 90,416 B"
    assert main(["compile", kws(mlperf_dir), "--target", "cortex-m4", "-o", str(tmp_path),
                 "--flash-limit", "256K"]) == 0


def inspect_json(capsys, *args) -> dict:
    assert main(["inspect", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_inspect_memory_keys(mlperf_dir, capsys):
    path = str(mlperf_dir / "ic_float.onnx")
    report = inspect_json(capsys, path, "--target", "cortex-m4")
    for key in ("arena_bytes", "lower_bound_bytes", "weights_bytes", "scratch_bytes",
                "io_bytes", "peak_step", "steps"):
        assert key in report
    assert report["arena_bytes"] == report["lower_bound_bytes"] == 196_608
    assert report["io_bytes"] == 32 * 32 * 3 * 4 + 10 * 4
    peak = report["steps"][report["peak_step"]]
    assert peak["live_bytes"] == report["lower_bound_bytes"]
    assert sum(t["bytes"] for t in peak["live"]) == peak["live_bytes"]
    no_inplace = inspect_json(capsys, path, "--target", "cortex-m4", "--no-inplace")
    assert no_inplace["arena_bytes"] >= report["arena_bytes"]
    zero_copy = inspect_json(capsys, path, "--target", "cortex-m4", "--io-in-arena")
    assert zero_copy["io_bytes"] == 0
    memory = inspect_json(capsys, path, "--target", "cortex-m4", "--schedule", "memory")
    assert memory["lower_bound_bytes"] <= report["lower_bound_bytes"]


def test_inspect_text_shows_live_tensors_per_step(mlperf_dir, capsys):
    assert main(["inspect", kws(mlperf_dir), "--target", "cortex-m4", "--no-inplace"]) == 0
    out = capsys.readouterr().out
    assert "memory per step (arena buffers live; * = peak):" in out
    assert "*  1      64,000 B  Relu__5:0 32,000, Relu__8:0 32,000" in out
    # in place: one buffer for every activation (names joined by '='), plus scratch
    assert main(["inspect", kws(mlperf_dir), "--target", "cortex-m4"]) == 0
    out = capsys.readouterr().out
    assert "*  2      32,256 B  Relu__5:0=Relu__8:0=Relu__11:0=Relu__14: 32,000, scratch_2 256" \
        in out


def test_inspect_plot_writes_a_png(mlperf_dir, capsys, tmp_path):
    need_import("matplotlib")
    png = tmp_path / "plan.png"
    assert main(["inspect", str(mlperf_dir / "vww_float.onnx"), "--target", "cortex-m4",
                 "--plot", str(png)]) == 0
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000

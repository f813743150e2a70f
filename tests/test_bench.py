"""`aot bench` in quick mode: the driver's correctness, not speed.

Checks the JSON schema of DESIGN.md § Interfaces, that every framework is
verified against the named reference before it is timed, ratios, not-applicable
reporting, the in-C harness, LoadGen (SingleStream, Offline, accuracy), the
Cortex-M4 path with its cycle cost table and the TFLM anchors, the Markdown
report and chart. In CI (CI=true) a baseline that is not installed or crashes
is a failure; elsewhere those checks skip with the reason.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, SHARED, need, need_import

from aot.bench import RESULT_KEYS, BenchOptions, bench, compare
from aot.baselines import BASELINES

ANCHORS = SHARED / "anchors" / "tflm_cortex_m4.json"


def quick(**kw) -> BenchOptions:
    kw.setdefault("progress", False)
    return BenchOptions(quick=True, **kw)


def rows(doc) -> dict:
    return {r["framework"]: r for r in doc["results"]}


def require_ran(row) -> None:
    """A baseline row must have run; outside CI a missing package skips."""
    if row["status"] in ("not installed", "failed"):
        need(False, f"{row['framework']}: {row['status']}: {row['error']}")
    assert row["status"] == "ok", row


@pytest.fixture(scope="module")
def tiny_cnn(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "tiny_cnn.onnx"
    subprocess.run([sys.executable, str(ROOT / "examples" / "make_tiny_cnn.py"), str(out)],
                   check=True)
    return str(out)


# -- comparisons --------------------------------------------------------------------------------

def test_compare_float_tolerance_and_argmax():
    ref = [[np.array([0.1, 0.7, 0.2], np.float32)]]
    ok = compare([[ref[0][0] + 1e-6]], ref, integer=False, exact=False)
    assert ok["outputs_match"] and ok["argmax_agrees"] and ok["max_rel_diff"] < 1e-5
    off = compare([[ref[0][0] + np.array([0, 0, 1e-2], np.float32)]], ref, integer=False,
                  exact=False)
    assert not off["outputs_match"] and off["argmax_agrees"]
    flipped = compare([[np.array([0.1, 0.2, 0.7], np.float32)]], ref, integer=False,
                      exact=False)
    assert not flipped["argmax_agrees"]
    # A tie within the tolerance is agreement.
    tie = [[np.array([0.5, 0.5], np.float32)]]
    assert compare([[np.array([0.5, 0.5 + 1e-7], np.float32)]], tie, integer=False,
                   exact=False)["argmax_agrees"]
    # An all-tiny output (a probability map near 0) is judged with an absolute floor of
    # 1e-6, not only relative to its own maximum; above the floor it still fails.
    tiny = [[np.array([6e-5, 1e-6, 0.0], np.float32)]]
    near = compare([[tiny[0][0] + np.float32(1.2e-7)]], tiny, integer=False, exact=False)
    assert near["outputs_match"] and near["max_rel_diff"] > 1e-4
    assert not compare([[tiny[0][0] + np.float32(2e-6)]], tiny, integer=False,
                       exact=False)["outputs_match"]


def test_compare_int8_lsb_and_exactness():
    ref = [[np.array([-128, 100, -5], np.int8)]]
    near = [[np.array([-127, 100, -3], np.int8)]]
    loose = compare(near, ref, integer=True, exact=False)
    assert loose["outputs_match"] and loose["max_lsb"] == 2
    strict = compare(near, ref, integer=True, exact=True)
    assert not strict["outputs_match"] and strict["argmax_agrees"]
    assert compare(ref, ref, integer=True, exact=True)["check"] == "bit-exact"


# -- the cost table -----------------------------------------------------------------------------

def test_cortex_m4_cost_table_by_hand():
    need_import("capstone")
    from aot.cycles import CORTEX_M4, BlockCoster, classify

    assert classify("smlad") == "mul" and classify("mla") == "mla"
    assert classify("ldrsb") == "load" and classify("vfma") == "fp_mac"
    assert classify("tbb") == "table" and classify("vpush") == "fp_multi"
    coster = BlockCoster(CORTEX_M4)
    # ldr r1,[r0] 2 | ldr r2,[r0,#4] 1 (pipelined) | smlad 1 | str r3,[r0] 1 (imm) |
    # add.w 1 | mla 2 | cmp 1 | bne 1 (+P when taken, added per transition)
    block = bytes.fromhex("0168" "4268" "20fb0102" "0360" "03f10103" "00fb0112" "9142" "01d1")
    cost = coster.cost(block, 0x100)
    assert cost.instructions == 8
    assert cost.cycles == 10
    assert cost.classes == {"load": 2, "mul": 1, "store": 1, "alu": 2, "mla": 1, "branch": 1}
    # pop.w {r4-r11, pc}: 1 + 9 registers; vpush {d8}: 1 + 2 words; vadd 1; vfma 3
    assert coster.cost(bytes.fromhex("bde8f08f"), 0x200).cycles == 10
    assert coster.cost(bytes.fromhex("2ded028b" "30ee010a" "a0ee010a"), 0x300).cycles == 3 + 1 + 3


# -- host runs ----------------------------------------------------------------------------------

def test_host_quick_float_schema_ratios_and_harness(mlperf_dir):
    model = str(mlperf_dir / "ad_float.onnx")
    docs = bench([model], quick())
    assert len(docs) == 1
    doc = docs[0]
    from aot.targets.target import host_target
    assert doc["model"] == "ad_float" and doc["target"] == host_target().name   # native
    assert doc["reference"].startswith("onnxruntime") and doc["tflite"].endswith("ad01_fp32.tflite")
    assert doc["macs"] == 264192
    by = rows(doc)
    assert list(by) == ["aot", *BASELINES]
    for r in doc["results"]:
        assert set(RESULT_KEYS) <= set(r), set(RESULT_KEYS) - set(r)
        assert r["source"] == "measured"
    aot = by["aot"]
    assert aot["status"] == "ok" and aot["outputs_match"] is True
    assert aot["median_us"] > 0 and aot["p90_us"] >= aot["median_us"]
    assert aot["ratio_to_aot"] == 1.0 and aot["compile_s"] > 0
    assert aot["in_c_median_us"] > 0, aot.get("in_c_error")
    for fw in BASELINES:
        r = by[fw]
        require_ran(r)
        assert r["outputs_match"] is True, r
        assert r["reference"] == doc["reference"]
        assert r["ratio_to_aot"] == pytest.approx(r["median_us"] / aot["median_us"], rel=0.01)
    assert by["tvm"]["compile_s"] > 0
    assert by["onnxruntime"]["check"] == "is the reference"


def test_host_quick_int8_reference_is_tflm(mlperf_dir):
    doc = bench([str(mlperf_dir / "kws_int8.onnx")], quick())[0]
    by = rows(doc)
    require_ran(by["tflm"])
    assert doc["reference"].startswith("TFLM") and "kws_ref_model.tflite" in doc["reference"]
    assert by["aot"]["outputs_match"] is True, by["aot"]["check"]
    assert by["aot"]["max_lsb"] == 0          # ours: bit-exact with TFLM
    for fw in ("onnxruntime", "tflite-xnnpack", "tflite-builtin", "tvm"):
        require_ran(by[fw])
        assert by[fw]["argmax_agrees"] is True and isinstance(by[fw]["max_lsb"], int)


def test_not_applicable_without_tflite(tiny_cnn):
    doc = bench([tiny_cnn], quick(baselines=("onnxruntime", "tflite-xnnpack", "tflm")))[0]
    by = rows(doc)
    assert list(by) == ["aot", "onnxruntime", "tflite-xnnpack", "tflm"]
    for fw in ("tflite-xnnpack", "tflm"):
        assert by[fw]["status"] == "not applicable"
        assert "--tflite" in by[fw]["error"] and by[fw]["median_us"] is None
    assert by["aot"]["outputs_match"] and by["onnxruntime"]["median_us"] > 0


def test_hybrid_kws_float_is_reported_not_applicable(mlperf_dir):
    doc = bench([str(mlperf_dir / "kws_float.onnx")],
                quick(baselines=("tflite-builtin",)))[0]
    r = rows(doc)["tflite-builtin"]
    assert r["status"] == "not applicable" and "hybrid" in r["error"]


def test_cli_json_list_report_and_chart(tiny_cnn, tmp_path, capsys):
    from aot.cli import main

    report = tmp_path / "bench.md"
    code = main(["bench", tiny_cnn, tiny_cnn, "--quick", "--baselines", "onnxruntime",
                 "--json", "--report", str(report), "--no-progress"])
    assert code == 0
    docs = json.loads(capsys.readouterr().out)
    assert isinstance(docs, list) and len(docs) == 2
    text = report.read_text()
    from aot.targets.target import host_target
    assert f"| tiny_cnn | {host_target().name} |" in text and "aot bench" in text
    png = tmp_path / "bench.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "bench.png" in text


def test_cli_rejects_unknown_baseline(tiny_cnn, capsys):
    from aot.cli import main

    assert main(["bench", tiny_cnn, "--baselines", "tensorrt"]) == 2
    assert "unknown baseline" in capsys.readouterr().err


def test_c_harness_main_builds_and_runs(tiny_cnn, tmp_path):
    import aot
    from aot.c_harness import CHarness

    cm = aot.compile(tiny_cnn, "x86-64", out_dir=str(tmp_path / "out"))
    h = CHarness(cm)
    x = np.random.default_rng(1).standard_normal(cm.manifest["inputs"][0]["shape"]) \
        .astype(np.float32)
    assert np.array_equal(h.run([x])[0], list(cm.run({cm.manifest["inputs"][0]["name"]: x})
                                                .values())[0])
    assert (h.time_calls([x], 5) > 0).all()
    exe = tmp_path / "bench_main"
    srcs = [str(tmp_path / "out" / f) for f in cm.manifest["files"] if f.endswith(".c")]
    subprocess.run(["cc", "-O2", "-DAOT_BENCH_MAIN", f"-I{tmp_path / 'out'}", h.source, *srcs,
                    "-o", str(exe)], check=True)
    out = subprocess.run([str(exe), "20"], capture_output=True, text=True, check=True).stdout
    assert "20 calls, median" in out


# -- LoadGen ------------------------------------------------------------------------------------

@pytest.fixture
def loadgen():
    need_import("mlperf_loadgen")


def test_loadgen_singlestream_and_offline(tiny_cnn, loadgen):
    ss = bench([tiny_cnn], quick(baselines=("onnxruntime",), scenario="singlestream"))[0]
    by = rows(ss)
    assert ss["method"]["kind"] == "loadgen"
    for fw in ("aot", "onnxruntime"):
        lg = by[fw]["loadgen"]
        assert lg["scenario"] == "singlestream" and lg["min_queries"] == 32
        assert lg["queries"] >= 32 and by[fw]["p90_us"] > 0 and by[fw]["median_us"] > 0
    off = bench([tiny_cnn], quick(baselines=("onnxruntime",), scenario="offline",
                                  threads=2, min_queries=100))[0]
    by = rows(off)
    # --threads: ours through <name>_run_ex, onnxruntime's intra-op threads; both are
    # also run with one thread for the speedup.
    assert by["aot"]["threads"] == 2 and by["onnxruntime"]["threads"] == 2
    for fw in ("aot", "onnxruntime"):
        assert by[fw]["throughput_1_thread_per_s"] > 0 and by[fw]["thread_speedup"] > 0
    assert by["aot"]["threads_outputs_identical"] is True
    assert by["aot"]["loadgen"]["samples_per_query"] >= 100
    assert by["aot"]["throughput_per_s"] > 0 and by["onnxruntime"]["ratio_to_aot"] > 0


def test_loadgen_mobile_defaults_are_explicit():
    from aot.loadgen_driver import MOBILE_DEFAULTS
    assert MOBILE_DEFAULTS["singlestream"] == {"min_queries": 1024, "min_duration_s": 60.0}
    assert MOBILE_DEFAULTS["offline"] == {"min_queries": 24576, "min_duration_s": 60.0}


def test_loadgen_accuracy_top1(tiny_cnn, tmp_path, loadgen):
    import onnxruntime as ort
    x = np.random.default_rng(3).standard_normal((12, 1, 1, 28, 28)).astype(np.float32)
    sess = ort.InferenceSession(tiny_cnn, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    labels = np.array([int(sess.run(None, {name: s})[0].argmax()) for s in x])
    labels[0] = (labels[0] + 1) % 10          # one wrong label: top-1 = 11/12
    data = tmp_path / "acc.npz"
    np.savez(data, **{name: x[:, 0], "labels": labels})
    doc = bench([tiny_cnn], quick(baselines=("onnxruntime",), accuracy=str(data)))[0]
    for fw in ("aot", "onnxruntime"):
        r = rows(doc)[fw]
        assert r["accuracy_samples"] == 12 and r["top1"] == pytest.approx(11 / 12)


# -- Cortex-M4 ----------------------------------------------------------------------------------

def test_cortex_m4_counts_cycles_and_anchors(mlperf_dir):
    need_import("unicorn")
    need_import("capstone")
    need(ANCHORS.exists(), f"{ANCHORS} not found")
    doc = bench([str(mlperf_dir / "ad_int8.onnx")],
                quick(targets=("cortex-m4",), anchors=str(ANCHORS)))[0]
    assert doc["target"] == "cortex-m4" and doc["method"]["kind"] == "emulated"
    by = rows(doc)
    assert list(by) == ["aot", "tflm-cmsis-nn", "tflm-ref"]
    aot = by["aot"]
    assert aot["status"] == "ok", aot["error"]
    assert aot["outputs_match"] is True and aot["max_lsb"] == 0
    assert aot["instructions"] > 264192 and aot["est_cycles"] > aot["instructions"]
    assert "cycles_note" not in aot      # the cost table saw exactly the emulator's count
    assert aot["flash_bytes"] > 264192 and aot["ram_bytes"] > 0
    assert aot["macs_per_cycle"] == pytest.approx(264192 / aot["est_cycles"], rel=1e-3)
    assert aot["peak_macs_per_cycle"] == 2 and aot["median_us"] is None
    for fw, insns in (("tflm-cmsis-nn", 582724), ("tflm-ref", 1953904)):
        r = by[fw]
        assert r["source"] == "reference" and r["instructions"] == insns
        assert r["ratio_to_aot"] == pytest.approx(r["est_cycles"] / aot["est_cycles"], rel=1e-2)


def test_emulated_target_refuses_loadgen(tiny_cnn):
    from aot.errors import UsageError
    with pytest.raises(UsageError):
        bench([tiny_cnn], quick(targets=("cortex-m4",), scenario="singlestream"))

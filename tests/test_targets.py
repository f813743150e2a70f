"""Targets end to end: cross builds, the unicorn runner, CPU-model proofs.

References: onnxruntime (CPU provider, default graph optimizations), named in
each assertion. Tolerance as in test_models.py: max |ours - onnxruntime| <=
1e-4 * max(1, max |onnxruntime|), and argmax agreement for classifiers.
ISA checks disassemble with `arm-none-eabi-objdump -d` (from the Debian
package binutils-arm-none-eabi, which gcc-arm-none-eabi pulls in).
Emulated runs go through `aot.compile(...).run`, i.e. aot.targets.emulator.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import aot
from aot.errors import ToolchainError
from aot.targets.target import TARGETS
from conftest import need, need_import
from test_models import MODELS as MLPERF, seeded_inputs

RUNNABLE = [n for n, t in TARGETS.items() if t.runner == "unicorn"]
MAIN = ("cortex-m4", "aarch64")     # the full float suite runs on these
SMOKE = [n for n in RUNNABLE if n not in MAIN]

# Hand-assembled machine code (little-endian).
VADD_F32 = bytes.fromhex("30ee200a")   # vadd.f32 s0, s0, s1   (T2 encoding EE30 0A20)
BX_LR = bytes.fromhex("7047")          # bx lr
SDOT = (0x4E809400 | (2 << 16) | (1 << 5)).to_bytes(4, "little")   # sdot v0.4s, v1.16b, v2.16b
RET = bytes.fromhex("c0035fd6")        # ret
LDR_X0_X1 = bytes.fromhex("200040f9")  # ldr x0, [x1]
STR_R0_R1 = bytes.fromhex("0860")      # str r0, [r1]


@pytest.fixture(autouse=True)
def _emulator_packages():
    need_import("unicorn")
    need_import("elftools")


# -- tiny models ------------------------------------------------------------------------------

def _model(nodes, inputs, outputs, inits=()):
    g = helper.make_graph(nodes, "tiny", inputs, outputs, list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def _vi(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape))


def relu_model():
    return _model([helper.make_node("Relu", ["x"], ["y"], name="relu")],
                  [_vi("x", (1, 8))], [_vi("y", (1, 8))])


def two_io_model():
    """Two inputs (one broadcast), two outputs, expf via Sigmoid."""
    return _model([helper.make_node("Add", ["x", "b"], ["s"], name="add"),
                   helper.make_node("Sigmoid", ["s"], ["sig"], name="sigmoid"),
                   helper.make_node("Mul", ["x", "x"], ["sq"], name="square")],
                  [_vi("x", (1, 3, 4, 4)), _vi("b", (1, 3, 1, 1))],
                  [_vi("sig", (1, 3, 4, 4)), _vi("sq", (1, 3, 4, 4))])


def tiny_cnn():
    rng = np.random.default_rng(7)

    def w(name, *shape):
        return numpy_helper.from_array((rng.standard_normal(shape) * 0.5).astype(np.float32),
                                       name)
    return _model([helper.make_node("Conv", ["x", "cw", "cb"], ["c"], name="conv", pads=[1] * 4),
                   helper.make_node("Relu", ["c"], ["r"], name="relu"),
                   helper.make_node("MaxPool", ["r"], ["p"], name="pool", kernel_shape=[2, 2],
                                    strides=[2, 2]),
                   helper.make_node("Flatten", ["p"], ["f"], name="flatten"),
                   helper.make_node("Gemm", ["f", "fw", "fb"], ["l"], name="fc", transB=1),
                   helper.make_node("Softmax", ["l"], ["y"], name="softmax")],
                  [_vi("x", (1, 1, 8, 8))], [_vi("y", (1, 5))],
                  [w("cw", 4, 1, 3, 3), w("cb", 4), w("fw", 5, 64), w("fb", 5)])


TINY = {"relu": relu_model, "two_io": two_io_model, "tiny_cnn": tiny_cnn}


def random_feeds(model, seed=0):
    rng = np.random.default_rng(seed)
    return {i.name: rng.standard_normal([d.dim_value for d in i.type.tensor_type.shape.dim])
            .astype(np.float32) for i in model.graph.input}


def assert_matches_onnxruntime(model_proto, compiled, feeds, classifier=False, what=""):
    ort = need_import("onnxruntime")
    sess = ort.InferenceSession(model_proto.SerializeToString()
                                if not isinstance(model_proto, str) else model_proto,
                                providers=["CPUExecutionProvider"])
    refs = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))
    ours = compiled.run(feeds)
    for name, ref in refs.items():
        got = ours[name]
        assert got.shape == ref.shape, (what, name)
        diff = float(np.max(np.abs(got - ref))) if ref.size else 0.0
        bound = 1e-4 * max(1.0, float(np.max(np.abs(ref))))
        assert diff <= bound, f"{what} {name}: max |diff| vs onnxruntime {diff:.3g} > {bound:.3g}"
        if classifier:
            assert int(np.argmax(got)) == int(np.argmax(ref)), (what, name)


# -- float models on the main emulated targets ----------------------------------------------

@pytest.mark.parametrize("target", MAIN)
@pytest.mark.parametrize("key", sorted(TINY))
def test_tiny_model_on_target(key, target, tmp_path):
    proto = TINY[key]()
    compiled = aot.compile(proto, target, out_dir=str(tmp_path / key))
    for seed in range(3):
        assert_matches_onnxruntime(proto, compiled, random_feeds(proto, seed), what=key)


@pytest.mark.parametrize("target", MAIN)
@pytest.mark.parametrize("key", ["kws_float", "vww_float", "ic_float", "ad_float"])
def test_mlperf_float_on_target(key, target, mlperf_dir, tmp_path):
    fname, scale, zp, classifier = MLPERF[key]
    path = str(mlperf_dir / fname)
    compiled = aot.compile(path, target, out_dir=str(tmp_path / key))
    [inp] = compiled.manifest["inputs"]
    # 3 of test_models.py's seeded inputs: the emulator runs VWW on an M4 in ~2.5 s each.
    for x in seeded_inputs(inp["shape"], scale, zp, count=3):
        assert_matches_onnxruntime(path, compiled, {inp["name"]: x}, classifier,
                                   what=f"{key} on {target}")


def test_emulated_stats(tmp_path, mlperf_dir):
    """run_with_stats: integer figures from the ELF and one counted, painted run, cached."""
    compiled = aot.compile(str(mlperf_dir / "ad_float.onnx"), "cortex-m4",
                           out_dir=str(tmp_path / "ad"))
    [inp] = compiled.manifest["inputs"]
    x = next(seeded_inputs(inp["shape"], 0.39101523, 89, count=1))
    outputs, stats = compiled.run_with_stats({inp["name"]: x})
    for key in ("instructions", "flash_bytes", "ram_bytes", "stack_bytes", "arena_bytes"):
        assert isinstance(stats[key], int) and stats[key] > 0, key
    io = sum(int(np.prod(s["shape"])) * 4 for s in compiled.manifest["inputs"]
             + compiled.manifest["outputs"])
    assert stats["flash_bytes"] >= compiled.manifest["weights_bytes"]
    assert stats["ram_bytes"] >= stats["arena_bytes"] + io
    assert stats["arena_bytes"] == compiled.manifest["arena"]["bytes"]
    assert 0 < stats["stack_bytes"] < 4096
    again, stats2 = compiled.run_with_stats({inp["name"]: x})
    assert stats2 == stats     # counted once per runner, then reused
    [name] = outputs
    np.testing.assert_array_equal(again[name], outputs[name])   # counted run == plain run


@pytest.mark.parametrize("target", ["cortex-m4", "aarch64", "cortex-m0plus"])
def test_static_stack_estimate_bounds_the_painted_peak(target, tmp_path, mlperf_dir):
    """gcc's call graph (-fcallgraph-info=su) gives a worst case >= the measured peak; with
    soft float (M0+) libgcc's helper frames are unknown, so no bound is claimed."""
    from aot.targets.emulator import EmulatorRunner
    t = TARGETS[target]
    need(shutil.which(t.gcc) is not None, f"{t.gcc} not found")
    if target == "cortex-m0plus":    # (a small model: soft float is slow to count)
        compiled = aot.compile(tiny_cnn(), target, out_dir=str(tmp_path / "m"))
        runner = EmulatorRunner(compiled.out_dir, compiled.manifest, toolchain="gcc")
        _, stats = runner.run_with_stats(random_feeds(tiny_cnn()))
        assert stats["stack_static_bytes"] is None and stats["stack_bytes"] > 0
        return
    compiled = aot.compile(str(mlperf_dir / "ad_float.onnx"), target, out_dir=str(tmp_path / "m"))
    runner = EmulatorRunner(compiled.out_dir, compiled.manifest, toolchain="gcc")
    [inp] = compiled.manifest["inputs"]
    x = next(seeded_inputs(inp["shape"], 0.39101523, 89, count=1))
    _, stats = runner.run_with_stats({inp["name"]: x})
    assert stats["stack_bytes"] <= stats["stack_static_bytes"] < 4 * stats["stack_bytes"]


@pytest.mark.parametrize("target", ["aarch64", "cortex-m0plus", "cortex-m4"])
def test_block_count_matches_per_instruction_count(target, tmp_path):
    """The block-hook sum equals a per-instruction count; on Thumb-2 it also counts IT-block
    instructions whose condition failed (they take a cycle on the core; unicorn's code hook
    skips them), so it may only be larger there."""
    from aot.targets.emulator import EmulatorRunner
    proto = tiny_cnn()
    compiled = aot.compile(proto, target, out_dir=str(tmp_path / "m"))
    runner = EmulatorRunner(compiled.out_dir, compiled.manifest)
    feeds = random_feeds(proto)
    _, stats = runner.run_with_stats(feeds)
    one_by_one = runner.count_with_code_hook(feeds)
    if target == "cortex-m4":
        assert one_by_one <= stats["instructions"] <= one_by_one * 1.01
    else:
        assert stats["instructions"] == one_by_one


def test_cli_run_json_on_cortex_m4(tmp_path, mlperf_dir):
    from test_errors import run_cli
    out = tmp_path / "ad"
    code, _, err = run_cli("compile", mlperf_dir / "ad_float.onnx", "--target", "cortex-m4",
                           "-o", out, "--name", "ad")
    assert code == 0, err
    code, stdout, err = run_cli("run", out, "--json")
    assert code == 0, err
    stats = json.loads(stdout)
    assert stats["target"] == "cortex-m4"
    for key in ("instructions", "flash_bytes", "ram_bytes", "stack_bytes", "arena_bytes"):
        assert isinstance(stats[key], int), key


# -- every other target -----------------------------------------------------------------------

@pytest.mark.parametrize("target", SMOKE)
def test_smoke_on_target(target, tmp_path):
    for key in ("two_io", "tiny_cnn"):
        proto = TINY[key]()
        compiled = aot.compile(proto, target, out_dir=str(tmp_path / key))
        assert_matches_onnxruntime(proto, compiled, random_feeds(proto), what=f"{key} {target}")


def test_cortex_m55_is_build_only(tmp_path):
    from aot.targets.cross import build_elf
    compiled = aot.compile(tiny_cnn(), "cortex-m55", out_dir=str(tmp_path / "m"))
    build = build_elf(compiled.out_dir, compiled.manifest, TARGETS["cortex-m55"], "zig")
    assert build.elf.endswith(".elf")
    with pytest.raises(ToolchainError, match="build-only"):
        compiled.run(random_feeds(tiny_cnn()))


# -- the emulator honours the CPU model -----------------------------------------------------

def _patched_runner(target, code, tmp_path):
    """A runner for `target` whose aot_entry is replaced by `code`."""
    from aot.targets.emulator import EmulatorRunner
    compiled = aot.compile(relu_model(), target, out_dir=str(tmp_path / target))
    runner = EmulatorRunner(compiled.out_dir, compiled.manifest)
    runner.uc.mem_write(runner.entry, code)
    runner.uc.ctl_flush_tb()
    return runner


def test_cortex_m_runs_in_thumb_mode_with_its_cpu_model(tmp_path):
    import unicorn
    from unicorn import arm_const
    runner = _patched_runner("cortex-m0plus", BX_LR, tmp_path)
    # UC_MODE_MCLASS would make unicorn ignore the model (it runs an M33 then).
    assert runner.uc.ctl_get_mode() == unicorn.UC_MODE_THUMB
    assert runner.uc.ctl_get_cpu_model() == arm_const.UC_CPU_ARM_CORTEX_M0


@pytest.mark.parametrize("target", ["cortex-m0plus", "cortex-m3"])
def test_fpu_instruction_faults_without_fpu(target, tmp_path):
    runner = _patched_runner(target, VADD_F32 + BX_LR, tmp_path)
    with pytest.raises(ToolchainError, match="CPU exception") as err:
        runner.run({"x": np.zeros((1, 8), np.float32)})
    assert f"on {target}" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("target", ["cortex-m4", "cortex-m7", "cortex-m33"])
def test_fpu_instruction_runs_with_fpu(target, tmp_path):
    runner = _patched_runner(target, VADD_F32 + BX_LR, tmp_path)
    runner.run({"x": np.zeros((1, 8), np.float32)})


def test_sdot_faults_on_aarch64_and_runs_on_dotprod(tmp_path):
    feeds = {"x": np.zeros((1, 8), np.float32)}
    with pytest.raises(ToolchainError, match="CPU exception"):
        _patched_runner("aarch64", SDOT + RET, tmp_path).run(feeds)
    _patched_runner("aarch64-dotprod", SDOT + RET, tmp_path).run(feeds)


# -- faults are one-line ToolchainErrors ------------------------------------------------------

def test_null_dereference_is_a_clear_fault(tmp_path):
    feeds = {"x": np.zeros((1, 8), np.float32)}
    # Registers start at 0, so these access address 0: unmapped on AArch64; on Cortex-M
    # it is in the flash's first (read-only) page, as on a device.
    with pytest.raises(ToolchainError, match=r"read from unmapped address 0x0 at pc") as err:
        _patched_runner("aarch64", LDR_X0_X1 + RET, tmp_path).run(feeds)
    assert str(err.value).startswith("tiny on aarch64: ")
    with pytest.raises(ToolchainError, match=r"write to read-only address 0x0 at pc 0x100 "
                       r"in aot_entry\+0x0"):
        _patched_runner("cortex-m4", STR_R0_R1 + BX_LR, tmp_path).run(feeds)


def test_stack_overflow(tmp_path):
    from aot.targets.emulator import EmulatorRunner
    proto = tiny_cnn()
    compiled = aot.compile(proto, "cortex-m0plus", out_dir=str(tmp_path / "m"))
    with pytest.raises(ToolchainError, match="stack overflow: needs more than the 32 B stack") \
            as err:
        EmulatorRunner(compiled.out_dir, compiled.manifest, stack_bytes=32).run(
            random_feeds(proto))
    assert str(err.value).startswith("tiny on cortex-m0plus: ")


def test_runaway_loop_stops_at_the_budgets(tmp_path):
    feeds = {"x": np.zeros((1, 8), np.float32)}
    runner = _patched_runner("cortex-m4", bytes.fromhex("fee7"), tmp_path)   # b .
    runner.time_budget_s = 0.05
    with pytest.raises(ToolchainError, match="time budget of 0.05 s .* in aot_entry"):
        runner.run(feeds)
    runner.instruction_budget = 1000
    with pytest.raises(ToolchainError, match="instruction budget of 1000"):
        runner.run_with_stats(feeds)


def test_runner_is_reusable_after_a_fault(tmp_path):
    from aot.targets.emulator import EmulatorRunner
    proto = tiny_cnn()
    compiled = aot.compile(proto, "cortex-m4", out_dir=str(tmp_path / "m"))
    runner = EmulatorRunner(compiled.out_dir, compiled.manifest)
    compiled._runner = runner
    original = bytes(runner.uc.mem_read(runner.entry, 2))
    runner.uc.mem_write(runner.entry, bytes.fromhex("fee7"))   # b .
    runner.uc.ctl_flush_tb()
    runner.time_budget_s = 0.05
    with pytest.raises(ToolchainError, match="time budget"):
        runner.run(random_feeds(proto))
    runner.uc.mem_write(runner.entry, original)
    runner.uc.ctl_flush_tb()
    runner.time_budget_s = 60.0
    for seed in range(2):
        assert_matches_onnxruntime(proto, compiled, random_feeds(proto, seed))


def test_write_outside_the_arena_is_caught(tmp_path):
    runner = _patched_runner("cortex-m4", b"", tmp_path)
    below = runner._arena - 1
    # ldr r0, [pc, #4]; movs r1, #0; strb r1, [r0]; bx lr; .word below
    code = bytes.fromhex("0148" "0021" "0170" "7047") + below.to_bytes(4, "little")
    runner.uc.mem_write(runner.entry, code)
    runner.uc.ctl_flush_tb()
    with pytest.raises(ToolchainError, match=r"wrote outside its arena \(1 guard bytes before"):
        runner.run({"x": np.zeros((1, 8), np.float32)})


@pytest.mark.parametrize("target", MAIN)
def test_io_in_arena_on_target(target, tmp_path):
    from aot.options import Options
    proto = tiny_cnn()
    compiled = aot.compile(proto, target, out_dir=str(tmp_path / "m"),
                           options=Options(io_in_arena=True))
    for seed in range(2):
        assert_matches_onnxruntime(proto, compiled, random_feeds(proto, seed))
    _, stats = compiled.run_with_stats(random_feeds(proto))
    assert stats["ram_bytes"] < stats["arena_bytes"] + 16   # no separate I/O buffers


# -- host targets with CPU features ---------------------------------------------------------

def test_host_target_lacking_features_is_refused(tmp_path, monkeypatch):
    from aot.targets import hostcpu
    compiled = aot.compile(relu_model(), "x86-64-avx2", out_dir=str(tmp_path / "m"))
    monkeypatch.setattr(hostcpu, "host_features", lambda: frozenset({"sse2", "avx"}))
    with pytest.raises(ToolchainError, match="lacks avx2, bmi") as err:
        compiled.run({"x": np.zeros((1, 8), np.float32)})
    assert "x86-64-avx2" in str(err.value)


@pytest.mark.parametrize("target", ["x86-64-avx2", "x86-64-avx512"])
def test_host_target_with_features_runs(target, tmp_path):
    from aot.targets.hostcpu import missing_features
    if missing_features(TARGETS[target]):
        pytest.skip(f"this CPU lacks {', '.join(missing_features(TARGETS[target]))}")
    proto = tiny_cnn()
    compiled = aot.compile(proto, target, out_dir=str(tmp_path / "m"))
    assert_matches_onnxruntime(proto, compiled, random_feeds(proto))


AVX512 = set(TARGETS["x86-64-avx512"].features)
AVX2 = set(TARGETS["x86-64-avx2"].features)


@pytest.mark.parametrize("features, expected", [
    (AVX512 | {"avx512ifma"}, "x86-64-avx512"),
    (AVX512 - {"avx512vnni"}, "x86-64-avx2"),      # AVX-512 without VNNI is not enough
    (AVX2, "x86-64-avx2"),
    (AVX2 - {"fma"}, "x86-64"),
    ({"sse2", "sse4.2"}, "x86-64"),
])
def test_native_is_the_best_host_target_the_cpu_runs(features, expected, monkeypatch):
    import platform
    from aot.targets import hostcpu
    from aot.targets.target import resolve
    if platform.machine().lower() not in ("x86_64", "amd64"):
        pytest.skip("x86 host targets")
    monkeypatch.setattr(hostcpu, "host_features", lambda: frozenset(features))
    assert resolve("native").name == expected


def test_aot_targets_lists_every_target_and_native():
    from aot.targets.target import host_target
    from test_errors import run_cli
    code, out, err = run_cli("targets")
    assert code == 0, err
    lines = out.splitlines()
    for name, t in TARGETS.items():
        [row] = [ln for ln in lines if ln.split()[0] == name]
        assert t.family in row and t.default_toolchain in row
        assert ("build-only" in row) == (t.runner == "none")
        assert ("emulated" in row) == (t.runner == "unicorn")
    assert f"native = {host_target().name}" in out
    code, out, err = run_cli("targets", "--json")
    doc = json.loads(out)
    assert doc["native"] == host_target().name
    assert [t["name"] for t in doc["targets"]] == list(TARGETS)
    m4 = next(t for t in doc["targets"] if t["name"] == "cortex-m4")
    assert m4["toolchains"] == ["zig", "gcc"] and m4["features"] == ["dsp", "fpv4-sp"]


@pytest.mark.parametrize("target", ["x86-64", "x86-64-avx2", "x86-64-avx512"])
@pytest.mark.parametrize("toolchain", [None, "gcc", "zig"])
def test_host_build_uses_the_toolchain_and_cpu_flags(target, toolchain, tmp_path):
    """The manifest records the toolchain and flags really used, HostRunner builds with
    them (its .flags stamp), and the result still matches onnxruntime."""
    from aot.targets.hostcpu import missing_features
    if missing_features(TARGETS[target]):
        pytest.skip(f"this CPU lacks {', '.join(missing_features(TARGETS[target]))}")
    proto = tiny_cnn()
    compiled = aot.compile(proto, target, out_dir=str(tmp_path / "m"),
                           options=aot.Options(toolchain=toolchain, kernels="portable"))
    m = compiled.manifest
    t = TARGETS[target]
    assert m["toolchain"] == (toolchain or "cc") and m["kernels"] == "portable"
    assert m["build_flags"] == [*t.cpu_flags(m["toolchain"]), "-O2"]
    assert any(f.startswith(("-march=", "-mcpu=")) for f in m["build_flags"])
    assert_matches_onnxruntime(proto, compiled, random_feeds(proto))
    [stamp] = (tmp_path / "m" / ".build").glob("*.so.flags")
    assert all(f in stamp.read_text() for f in m["build_flags"])


def test_cross_toolchain_choice_is_recorded_and_used(tmp_path):
    from aot.errors import UsageError
    with pytest.raises(UsageError, match="toolchain 'cc' cannot build for target cortex-m4"):
        aot.compile(relu_model(), "cortex-m4", options=aot.Options(toolchain="cc"))
    need(shutil.which("arm-none-eabi-gcc") is not None, "arm-none-eabi-gcc not found")
    compiled = aot.compile(relu_model(), "cortex-m4", out_dir=str(tmp_path / "m"),
                           options=aot.Options(toolchain="gcc"))
    m = compiled.manifest
    assert m["toolchain"] == "gcc" and m["build_flags"][0] == "-mcpu=cortex-m4"
    assert compiled.runner().build.toolchain == "gcc"
    assert_matches_onnxruntime(relu_model(), compiled, random_feeds(relu_model()))


def test_cpuinfo_features_use_llvm_names(monkeypatch):
    import platform
    from aot.targets import hostcpu
    if platform.machine().lower() not in ("x86_64", "amd64"):
        pytest.skip("x86 /proc/cpuinfo names")
    feats = hostcpu._cpuinfo_features()
    need(bool(feats), "/proc/cpuinfo is readable")
    assert "sse2" in feats and "bmi1" not in feats and "sse4_1" not in feats
    pytest.importorskip("llvmlite.binding", reason="llvmlite is optional: compare with it")
    both = hostcpu._cpuinfo_features() & {"avx2", "avx512f", "avx512vnni", "fma", "bmi", "lzcnt"}
    assert both <= hostcpu.host_features()


# -- ISA content of the ELF -----------------------------------------------------------------

FPU = re.compile(r"^v[a-z]")     # every VFP/MVE mnemonic starts with v; no other Thumb one does
DSP = re.compile(r"^(smla(bb|bt|tb|tt|d|dx|lbb|lbt|ltb|ltt|ld|ldx|wb|wt)|smls(d|dx|ld|ldx)|"
                 r"smmla|smmlar|smmls|smmlsr|smmul|smmulr|smuad|smuadx|smul(bb|bt|tb|tt|wb|wt)|"
                 r"smusd|smusdx|[su](add|sub)(8|16)|[su](asx|sax)|q(add|sub)(8|16)?|qd(add|sub)|"
                 r"q(asx|sax)|[su]h(add|sub)(8|16)|[su]h(asx|sax)|uq(add|sub)(8|16)|uq(asx|sax)|"
                 r"sel|pkhbt|pkhtb|[su]sat16|[su]xta(b|h|b16)|[su]xtb16|usada?8|umaal)"
                 r"(eq|ne|cs|hs|cc|lo|mi|pl|vs|vc|hi|ls|ge|lt|gt|le)?(\.w|\.n)?$")
ARMV6M_32BIT = {"bl", "dmb", "dsb", "isb", "mrs", "msr", "udf.w"}


def disassemble(elf: str) -> list[tuple[str, str, str]]:
    """(encoding, mnemonic, operands) of every instruction in the ELF's code."""
    objdump = shutil.which("arm-none-eabi-objdump")
    need(objdump is not None, "arm-none-eabi-objdump (Debian binutils-arm-none-eabi) not found")
    text = subprocess.run([objdump, "-d", elf], capture_output=True, text=True,
                          check=True).stdout
    found = []
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and re.match(r"^\s*[0-9a-f]+:$", parts[0]):
            mnemonic = parts[2].strip()
            if mnemonic and not mnemonic.startswith("."):
                found.append((parts[1].strip(), mnemonic, "\t".join(parts[3:])))
    return found


def test_isa_scanner_recognises_dsp_and_fpu():
    assert DSP.match("smlad") and DSP.match("sxtab16") and DSP.match("qadd8") \
        and DSP.match("smulbbeq")
    assert not DSP.match("smlal") and not DSP.match("smull") and not DSP.match("sxtb") \
        and not DSP.match("ssat")
    assert FPU.match("vadd.f32") and FPU.match("vldr") and not FPU.match("mov")


@pytest.mark.parametrize("toolchain", ["zig", "gcc"])
@pytest.mark.parametrize("target", ["cortex-m0plus", "cortex-m3"])
def test_no_dsp_or_fpu_instructions(target, toolchain, tmp_path, mlperf_dir):
    """unicorn's M3 model accepts some DSP instructions (SMLAD), so scan the ELF too."""
    from aot.targets.cross import build_elf
    t = TARGETS[target]
    if toolchain == "gcc":
        need(shutil.which(t.gcc) is not None, f"{t.gcc} not found (Debian gcc-arm-none-eabi)")
    compiled = aot.compile(str(mlperf_dir / "kws_float.onnx"), target, out_dir=str(tmp_path / "m"))
    insns = disassemble(build_elf(compiled.out_dir, compiled.manifest, t, toolchain).elf)
    assert len(insns) > 100
    bad = sorted({m for _, m, _ in insns if FPU.match(m) or DSP.match(m)})
    assert not bad, f"{target} ELF ({toolchain}) has FPU/DSP instructions: {bad}"
    if target == "cortex-m0plus":
        wide = sorted({m for enc, m, _ in insns if len(enc.replace(" ", "")) == 8}
                      - ARMV6M_32BIT)
        assert not wide, f"Thumb-2 instructions outside Armv6-M: {wide}"


def test_fpu_build_uses_the_fpu(tmp_path, mlperf_dir):
    """Positive control for the scan: the cortex-m4 build does use VFP instructions."""
    from aot.targets.cross import build_elf
    compiled = aot.compile(str(mlperf_dir / "kws_float.onnx"), "cortex-m4",
                           out_dir=str(tmp_path / "m"))
    insns = disassemble(build_elf(compiled.out_dir, compiled.manifest,
                                  TARGETS["cortex-m4"], "zig").elf)
    assert any(FPU.match(m) for _, m, _ in insns)
    soft_float = [ops for _, m, ops in insns if m == "bl" and "__aeabi_f" in ops]
    assert not soft_float, soft_float


# -- -Werror builds with both toolchain families ----------------------------------------------

def werror_build(out_dir: str, manifest: dict, target: str, toolchain: str) -> None:
    from aot.targets.cross import build_elf
    from aot.targets.toolchain import Toolchain, host_cc, zig_cc
    t = TARGETS[target]
    if t.family in ("cortex-m", "aarch64"):
        if toolchain == "gcc":
            need(shutil.which(t.gcc) is not None, f"{t.gcc} not found")
        build_elf(out_dir, manifest, t, toolchain, force=True)
        return
    cc: Toolchain = host_cc() if toolchain == "gcc" else zig_cc()
    flags = (*(t.cflags if toolchain == "gcc" else t.zig_flags), *t.build_flags)
    for f in manifest["files"]:
        if f.endswith(".c"):
            src = f"{out_dir}/{f}"
            cc.compile_object(src, f"{out_dir}/.build/{toolchain}-{f.replace('/', '_')}.o",
                              [out_dir], flags)


@pytest.mark.parametrize("toolchain", ["zig", "gcc"])
@pytest.mark.parametrize("target", list(TARGETS))
def test_werror_build(target, toolchain, tmp_path, mlperf_dir):
    compiled = aot.compile(str(mlperf_dir / "kws_float.onnx"), target, out_dir=str(tmp_path / "m"))
    (tmp_path / "m" / ".build").mkdir(exist_ok=True)
    werror_build(compiled.out_dir, compiled.manifest, target, toolchain)


# -- slow: the full matrix, and the figures for the issue -------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("toolchain", ["zig", "gcc"])
@pytest.mark.parametrize("target", RUNNABLE)
def test_matrix_all_models(target, toolchain, tmp_path, mlperf_dir):
    """Every tiny model and MLPerf float model, built with both toolchains, run on every
    emulated target against onnxruntime (one input each)."""
    from aot.targets.emulator import EmulatorRunner
    t = TARGETS[target]
    if toolchain == "gcc":
        need(shutil.which(t.gcc) is not None, f"{t.gcc} not found")
    cases = [(k, f(), False) for k, f in TINY.items()]
    cases += [(k, str(mlperf_dir / MLPERF[k][0]), MLPERF[k][3])
              for k in ("kws_float", "vww_float", "ic_float", "ad_float")]
    for key, model, classifier in cases:
        compiled = aot.compile(model, target, out_dir=str(tmp_path / key))
        compiled._runner = EmulatorRunner(compiled.out_dir, compiled.manifest, toolchain=toolchain)
        if isinstance(model, str):
            _, scale, zp, _ = MLPERF[key]
            [inp] = compiled.manifest["inputs"]
            feeds = {inp["name"]: next(seeded_inputs(inp["shape"], scale, zp, count=1))}
        else:
            feeds = random_feeds(model)
        assert_matches_onnxruntime(model, compiled, feeds, classifier,
                                   what=f"{key} on {target} ({toolchain})")


@pytest.mark.slow
@pytest.mark.parametrize("key", ["kws_float", "vww_float", "ic_float", "ad_float"])
def test_cortex_m4_figures(key, tmp_path, mlperf_dir):
    """Instructions, flash, RAM and stack per MLPerf Tiny float model on cortex-m4
    (zig build, -O2); printed for the issue's closing note (pytest -s)."""
    fname, scale, zp, _ = MLPERF[key]
    compiled = aot.compile(str(mlperf_dir / fname), "cortex-m4", out_dir=str(tmp_path / key))
    [inp] = compiled.manifest["inputs"]
    _, stats = compiled.run_with_stats(
        {inp["name"]: next(seeded_inputs(inp["shape"], scale, zp, count=1))})
    print(f"\n{key} on cortex-m4: {stats['instructions']} instructions, flash "
          f"{stats['flash_bytes']} B, RAM {stats['ram_bytes']} B (arena {stats['arena_bytes']} B), "
          f"peak stack {stats['stack_bytes']} B")
    assert stats["flash_bytes"] >= compiled.manifest["weights_bytes"]


def _node_case_names():
    import test_node_cases as nc
    return sorted(n for n in nc.CASES if n not in nc.EXCLUDED)


@pytest.mark.slow
@pytest.mark.parametrize("target", MAIN)
@pytest.mark.parametrize("name", _node_case_names())
def test_node_case_on_target(name, target, tmp_path):
    """The ONNX backend node cases (test_node_cases.py's list and exclusions) on the
    emulated targets, with the host's tolerance (rtol 1e-5, atol 1e-6) against the
    cases' stored expected outputs."""
    import test_node_cases as nc
    case = nc.CASES[name]
    for i, (inputs, expected) in enumerate(case.data_sets):
        names = [vi.name for vi in case.model.graph.input]
        feeds = {n: np.asarray(v) for n, v in zip(names, inputs)}
        if name in nc.ROUNDED_EXPECTED:
            from onnx.reference import ReferenceEvaluator
            expected = ReferenceEvaluator(case.model).run(None, feeds)
        model, feeds = nc._bind_static_inputs(case.model, feeds)
        got = aot.compile(model, target, out_dir=str(tmp_path / f"out{i}")).run(feeds)
        for vi, want in zip(case.model.graph.output, expected):
            want = np.asarray(want)
            assert got[vi.name].shape == want.shape and got[vi.name].dtype == want.dtype
            np.testing.assert_allclose(got[vi.name], want, rtol=1e-5, atol=1e-6,
                                       err_msg=f"{vi.name} on {target}")

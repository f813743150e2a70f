# SPDX-License-Identifier: Apache-2.0
"""all-MiniLM-L6-v2 (6-layer BERT encoder, weight-only int8) end to end.

Inputs: seeded token ids in [0, 30522), an attention mask of ones with a zero
tail (the last quarter padded), token types 0. Reference: onnxruntime (CPU, one
thread, default optimizations). Tolerance on last_hidden_state: max |aot - ORT|
<= 1e-5 * max |ORT| (measured: about 6e-7 on x86-64, 1e-6 on aarch64).
x86-64 (sequence 128) and native (sequence 64) run by default; aarch64 in the
emulator is `slow`.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

import aot
from aot.api import compile_graph
from aot.errors import ToolchainError
from aot.inspect import inspect_report
from conftest import MODELS, need, need_import

MODEL = MODELS / "mobile" / "all-MiniLM-L6-v2_int8w.onnx"
VOCAB = 30522
REL_TOL = 1e-5


def _shapes(seq: int) -> dict:
    return {k: (1, seq) for k in ("input_ids", "attention_mask", "token_type_ids")}


def _feeds(seq: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    mask = np.ones((1, seq), np.int64)
    mask[:, seq * 3 // 4:] = 0
    return {"input_ids": rng.integers(0, VOCAB, (1, seq), dtype=np.int64),
            "attention_mask": mask, "token_type_ids": np.zeros((1, seq), np.int64)}


def _reference(feeds: dict) -> np.ndarray:
    ort = need_import("onnxruntime")
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(MODEL), so, providers=["CPUExecutionProvider"])
    return sess.run(["last_hidden_state"], feeds)[0]


def _compile(target: str, seq: int, out_dir, **options):
    need(MODEL.is_file(), f"{MODEL} not found (the shared models live beside the checkout)")
    return aot.compile(str(MODEL), target, out_dir=str(out_dir), force=True,
                       options=aot.Options(name="minilm", input_shapes=_shapes(seq), **options))


def _assert_matches(model, seq: int) -> float:
    feeds = _feeds(seq)
    got = model.run(feeds)["last_hidden_state"]
    want = _reference(feeds)
    assert got.shape == want.shape == (1, seq, 384)
    err = float(np.abs(got - want).max()) / float(np.abs(want).max())
    assert err <= REL_TOL, f"relative max-abs error {err:.3g}"
    return err


@pytest.fixture(scope="module")
def x86(tmp_path_factory):
    start = time.perf_counter()
    model = _compile("x86-64", 128, tmp_path_factory.mktemp("minilm_x86"))
    return model, time.perf_counter() - start


def test_x86_64_matches_onnxruntime(x86):
    model, _ = x86
    _assert_matches(model, 128)


def test_native_seq64_matches_onnxruntime(tmp_path):
    _assert_matches(_compile("native", 64, tmp_path), 64)


def test_weights_stay_int8_in_a_binary_blob(x86):
    model, compile_s = x86
    files = model.manifest["files"]
    assert {"minilm_weights.S", "minilm_weights.bin"} <= set(files)
    out = Path(model.out_dir)
    size = (out / "minilm_weights.bin").stat().st_size
    # 22.3 MB of int8 tables and weights, not 90 MB of float32
    assert 22_000_000 < size < 24_000_000
    assert compile_s < 60, f"compile took {compile_s:.1f} s"
    c_text = sum((out / f).stat().st_size
                 for f in files if f.endswith(".c") and not f.startswith("aot_runtime/"))
    assert c_text < 2_000_000   # the C holds no big weights


def test_inspect_reports_weights_by_dtype():
    need(MODEL.is_file(), f"{MODEL} not found")
    comp, _ = compile_graph(str(MODEL), "x86-64",
                            aot.Options(name="minilm", input_shapes=_shapes(128)))
    report = inspect_report(comp)
    by_dtype = report["weights_bytes_by_dtype"]
    assert by_dtype["int8"] > 22_000_000 and by_dtype["float32"] < 1_000_000, by_dtype
    # the shape subgraphs fold: no shape arithmetic is left to run
    ops = {layer["op"].split("+")[0] for layer in report["layers"]}
    assert not ops & {"Shape", "Slice", "Range", "Concat", "Expand", "Unsqueeze",
                      "GreaterOrEqual", "Max", "Squeeze"}, ops
    assert report["macs"] > 1_400_000_000


def test_out_of_range_token_id_is_an_error(x86):
    model, _ = x86
    feeds = _feeds(128)
    feeds["input_ids"][0, 7] = VOCAB
    with pytest.raises(ToolchainError, match=r"returned error -3\b"):
        model.run(feeds)


def test_output_is_byte_reproducible(x86, tmp_path):
    model, _ = x86
    again = _compile("x86-64", 128, tmp_path)
    assert again.manifest["files"] == model.manifest["files"]
    for f in model.manifest["files"]:
        assert (Path(model.out_dir) / f).read_bytes() == (Path(again.out_dir) / f).read_bytes(), f


@pytest.mark.slow
@pytest.mark.parametrize("kernels", ["portable", "auto"])
def test_aarch64_in_the_emulator(tmp_path, kernels):
    model = _compile("aarch64", 64, tmp_path, kernels=kernels)
    _assert_matches(model, 64)

# SPDX-License-Identifier: Apache-2.0
"""int8 Mul, Sigmoid, Tanh, HardSwish, LeakyRelu, HardSigmoid, Pad and ReduceMean
over any axes, bit-exact with TensorFlow Lite Micro, through the whole compiler.

Each case is two models of the same computation:
- a single-op (or two-op) `.tflite` model, written here with the flatbuffers
  schema that ships in the `tflite-micro` package (the KWS model is the
  template: its buffers, metadata and operators are replaced), run by the
  TFLM interpreter (its reference kernels) -- the reference;
- an ONNX QDQ model with int8 I/O (DequantizeLinear -> op [-> Relu/Clip] ->
  QuantizeLinear, equal scales and zero points), compiled by `aot.compile`
  for x86-64 and run; many cases share one ONNX model as parallel branches,
  so a test compiles once.
Every output code must be equal. Unary ops see all 256 input codes (the
extremes included) for input scales from 1e-4 to 4 (multipliers with positive
and negative shifts) and zero points across the range; Mul sees broadcasting
in several dims, odd channel counts, real multipliers above and below 1 and
the fused ReLU/ReLU6 ranges; Pad is TFLite's PAD (zero point), PADV2 (a given
constant) and MIRROR_PAD REFLECT; MEAN runs over non-adjacent axes too.

TFLite's LOGISTIC and TANH fix their output parameters (1/256, -128 and 1/128, 0);
an ONNX Q with other parameters is matched against TFLM's LOGISTIC/TANH followed
by its int8 QUANTIZE. HardSigmoid has no TFLite kernel: its reference is
onnxruntime on the QDQ graph with optimizations off (float32 DQ -> HardSigmoid
-> Q), which our table reproduces exactly.

Also: the new C kernels compile warning-free with the strict flags (gcc and
zig's clang for Cortex-M0+/M4) and need no float or libc helper on Cortex-M0+,
and a QDQ model made of the new ops links into a Cortex-M0+ ELF without any
soft-float helper or FP instruction (tests/test_int8_nofloat.py's checks).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

import aot
from conftest import need, need_import
from test_kernels_s8 import (KWS, RUNTIME, STRICT, compilers, cross_compilers_m0, seed,
                             tflm_model, tflm_runtime)

NEW_KERNELS = ["aot_mul_s8", "aot_lut_s8", "aot_pad_s8"]
ALL_CODES = np.arange(-128, 128, dtype=np.int8)

# TFLite builtin operator codes and option types (schema.fbs).
LOGISTIC, TANH, HARD_SWISH, LEAKY_RELU, MUL, PAD, PADV2, MIRROR_PAD, MEAN, QUANTIZE = (
    14, 28, 117, 98, 18, 34, 60, 100, 40, 114)
ACT_NONE, ACT_RELU, ACT_RELU6 = 0, 1, 3


# --- TFLite side ---------------------------------------------------------------------


def fb():
    tflm_runtime()
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated
    return schema_py_generated


class TfliteBuilder:
    """A fresh one-subgraph model on the KWS model's skeleton."""

    def __init__(self):
        need(KWS.is_file(), f"{KWS} not found (the shared models live beside the checkout)")
        s = fb()
        self.model = tflm_model(KWS.read_bytes())
        self.model.buffers = [s.BufferT()]          # buffer 0: the empty sentinel
        self.model.metadata = None
        self.model.signatureDefs = None
        self.model.operatorCodes = []
        self.sg = self.model.subgraphs[0]
        self.sg.tensors, self.sg.operators = [], []

    def tensor(self, shape, q=None, data=None, dtype=np.int8) -> int:
        s = fb()
        t = s.TensorT()
        t.shape = np.array(shape, np.int32)
        t.type = {np.int8: s.TensorType.INT8, np.int32: s.TensorType.INT32}[dtype]
        t.name = f"t{len(self.sg.tensors)}".encode()
        t.buffer = 0
        if data is not None:
            buf = s.BufferT()
            buf.data = np.frombuffer(np.asarray(data, dtype).tobytes(), np.uint8).copy()
            self.model.buffers.append(buf)
            t.buffer = len(self.model.buffers) - 1
        if q is not None:
            t.quantization = s.QuantizationParametersT()
            t.quantization.scale = np.array([q[0]], np.float32)
            t.quantization.zeroPoint = np.array([q[1]], np.int64)
        self.sg.tensors.append(t)
        return len(self.sg.tensors) - 1

    def op(self, code: int, inputs, outputs, options_type: int = 0, options=None) -> None:
        s = fb()
        codes = [c.builtinCode for c in self.model.operatorCodes]
        if code not in codes:
            oc = s.OperatorCodeT()
            oc.builtinCode = code
            oc.deprecatedBuiltinCode = min(code, 127)
            oc.version = 1
            self.model.operatorCodes.append(oc)
            codes.append(code)
        op = s.OperatorT()
        op.opcodeIndex = codes.index(code)
        op.inputs = np.array(inputs, np.int32)
        op.outputs = np.array(outputs, np.int32)
        op.builtinOptionsType = options_type
        op.builtinOptions = options
        self.sg.operators.append(op)

    def run(self, inputs, outputs, feeds) -> np.ndarray:
        import flatbuffers

        self.sg.inputs = np.array(inputs, np.int32)
        self.sg.outputs = np.array(outputs, np.int32)
        builder = flatbuffers.Builder(1 << 16)
        builder.Finish(self.model.Pack(builder), file_identifier=b"TFL3")
        runtime = tflm_runtime()
        interp = runtime.Interpreter.from_bytes(bytes(builder.Output()))
        for i, x in enumerate(feeds):
            interp.set_input(x, i)
        interp.invoke()
        return np.asarray(interp.get_output(0))


def tflm_unary(code: int, x: np.ndarray, in_q, out_q, options_type=0, options=None,
               requant_to=None) -> np.ndarray:
    """One TFLite unary op; requant_to adds TFLite's int8 QUANTIZE after it."""
    b = TfliteBuilder()
    t_in, t_out = b.tensor(x.shape, in_q), b.tensor(x.shape, out_q)
    b.op(code, [t_in], [t_out], options_type, options)
    last = t_out
    if requant_to is not None:
        last = b.tensor(x.shape, requant_to)
        b.op(QUANTIZE, [t_out], [last])
    return b.run([t_in], [last], [x])


# --- ONNX side -------------------------------------------------------------------------


class OnnxBranches:
    """An ONNX QDQ model of independent int8 branches (one compile for many cases)."""

    def __init__(self):
        self.nodes, self.inits, self.inputs, self.outputs = [], [], [], []
        self.feeds: dict[str, np.ndarray] = {}

    def const(self, name: str, value) -> str:
        from onnx import numpy_helper

        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def dq(self, name: str, q) -> str:
        from onnx import helper

        s = self.const(f"{name}_s", np.array(q[0], np.float32))
        z = self.const(f"{name}_z", np.array(q[1], np.int8))
        self.nodes.append(helper.make_node("DequantizeLinear", [name, s, z], [f"{name}_f"]))
        return f"{name}_f"

    def input(self, name: str, x: np.ndarray, q) -> str:
        from onnx import TensorProto, helper

        self.inputs.append(helper.make_tensor_value_info(name, TensorProto.INT8, list(x.shape)))
        self.feeds[name] = x
        return self.dq(name, q)

    def output(self, name: str, f: str, shape, q) -> None:
        from onnx import TensorProto, helper

        s = self.const(f"{name}_s", np.array(q[0], np.float32))
        z = self.const(f"{name}_z", np.array(q[1], np.int8))
        self.nodes.append(helper.make_node("QuantizeLinear", [f, s, z], [name]))
        self.outputs.append(helper.make_tensor_value_info(name, TensorProto.INT8, list(shape)))

    def node(self, op: str, inputs, output: str, **attrs) -> str:
        from onnx import helper

        self.nodes.append(helper.make_node(op, list(inputs), [output], name=output, **attrs))
        return output

    def save(self, path: Path) -> Path:
        import onnx
        from onnx import helper

        graph = helper.make_graph(self.nodes, "branches", self.inputs, self.outputs, self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        onnx.checker.check_model(model, full_check=True)
        onnx.save(model, path)
        return path

    def run_aot(self, tmp: Path) -> dict[str, np.ndarray]:
        compiled = aot.compile(str(self.save(tmp / "model.onnx")), "x86-64",
                               out_dir=str(tmp / "out"))
        return compiled.run(self.feeds)


def fused(b: OnnxBranches, f: str, act: int, name: str) -> str:
    """ONNX form of a TFLite fused activation (Relu, Clip(0, 6)) on f."""
    if act == ACT_RELU:
        return b.node("Relu", [f], f"{name}_relu")
    if act == ACT_RELU6:
        lo = b.const(f"{name}_lo", np.array(0, np.float32))
        hi = b.const(f"{name}_hi", np.array(6, np.float32))
        return b.node("Clip", [f, lo, hi], f"{name}_relu6")
    return f


def assert_equal(ours: np.ndarray, want: np.ndarray, what: str) -> None:
    assert ours.shape == want.shape, what
    diff = np.abs(ours.astype(np.int32) - want.astype(np.int32))
    assert diff.max() == 0, f"{what}: {int((diff > 0).sum())} codes differ, by up to {diff.max()}"


# --- unary ops ---------------------------------------------------------------------------

# (input scale, input zero point): tiny to large scales, zero points across the range.
UNARY_INPUTS = [(1e-4, 0), (0.003, -20), (0.02, -128), (0.0625, 5), (0.1173, 37),
                (0.5, -3), (1.0, 127), (4.0, 0)]


@pytest.mark.parametrize("onnx_op,code,tflite_out", [
    ("Sigmoid", LOGISTIC, (1 / 256, -128)), ("Tanh", TANH, (1 / 128, 0))])
def test_sigmoid_tanh_match_tflm(tmp_path, onnx_op, code, tflite_out):
    """TFLite int8 LOGISTIC / TANH on every code, and with other output parameters
    (then TFLM's op followed by its QUANTIZE)."""
    x = ALL_CODES.reshape(1, 2, 128)
    other_outs = [(0.004, -128), (0.0078125, 3), (1 / 255, -128)]
    b = OnnxBranches()
    cases = []
    for i, in_q in enumerate(UNARY_INPUTS):
        out_q = tflite_out if i % 2 == 0 else other_outs[i // 2 % len(other_outs)]
        f = b.node(onnx_op, [b.input(f"x{i}", x, in_q)], f"{onnx_op}{i}")
        b.output(f"y{i}", f, x.shape, out_q)
        want = tflm_unary(code, x, in_q, tflite_out,
                          requant_to=None if out_q == tflite_out else out_q)
        cases.append((f"y{i}", want, in_q, out_q))
    ours = b.run_aot(tmp_path)
    for name, want, in_q, out_q in cases:
        assert_equal(ours[name], want, f"{onnx_op} in {in_q} out {out_q}")
    # Not all saturated or flat: most cases use a good part of the output range.
    assert sum(len(np.unique(want)) > 40 for _, want, _, _ in cases) >= len(cases) // 2


# (input, output) parameters; output scales relative to input / 128 and far above it.
HARD_SWISH_CASES = [((0.05, 3), (0.03, -100)), ((0.02, -128), (0.02, -128)),
                    ((0.1, 40), (0.5, 11)), ((0.004, 0), (0.0002, -120)),
                    ((0.7, -7), (0.35, -90)), ((2.0, 90), (0.02, 5))]


def test_hard_swish_matches_tflm(tmp_path):
    x = ALL_CODES.reshape(1, 4, 4, 16)
    b = OnnxBranches()
    cases = []
    for i, (in_q, out_q) in enumerate(HARD_SWISH_CASES):
        b.output(f"y{i}", b.node("HardSwish", [b.input(f"x{i}", x, in_q)], f"hs{i}"),
                 x.shape, out_q)
        cases.append((f"y{i}", tflm_unary(HARD_SWISH, x, in_q, out_q), in_q, out_q))
    ours = b.run_aot(tmp_path)
    for name, want, in_q, out_q in cases:
        assert_equal(ours[name], want, f"HardSwish in {in_q} out {out_q}")


LEAKY_CASES = [(0.01, (0.05, 3), (0.05, 3)), (0.2, (0.02, -128), (0.03, -60)),
               (0.1, (0.1, 40), (0.05, 11)), (0.3, (1.0, -7), (0.9, -90)),
               (0.0005, (0.004, 0), (0.002, -128)), (1.7, (0.06, 10), (0.2, 0))]


def test_leaky_relu_matches_tflm(tmp_path):
    s = fb()
    x = ALL_CODES.reshape(2, 128)
    b = OnnxBranches()
    cases = []
    for i, (alpha, in_q, out_q) in enumerate(LEAKY_CASES):
        b.output(f"y{i}", b.node("LeakyRelu", [b.input(f"x{i}", x, in_q)], f"lr{i}",
                                 alpha=alpha), x.shape, out_q)
        opts = s.LeakyReluOptionsT()
        opts.alpha = alpha
        want = tflm_unary(LEAKY_RELU, x, in_q, out_q, s.BuiltinOptions.LeakyReluOptions, opts)
        cases.append((f"y{i}", want, alpha))
    ours = b.run_aot(tmp_path)
    for name, want, alpha in cases:
        assert_equal(ours[name], want, f"LeakyRelu alpha {alpha}")


def test_hard_sigmoid_matches_onnxruntime(tmp_path):
    """No TFLite kernel: the reference is onnxruntime on the QDQ graph, unoptimized."""
    ort = need_import("onnxruntime")
    x = ALL_CODES.reshape(1, 256)
    b = OnnxBranches()
    cases = [((0.2, 0.5), (0.05, 3), (1 / 255, -128)), ((0.1666667, 0.5), (0.1, -20), (0.004, -128)),
             ((0.5, 0.1), (0.02, 60), (0.0039, 0))]
    for i, ((alpha, beta), in_q, out_q) in enumerate(cases):
        b.output(f"y{i}", b.node("HardSigmoid", [b.input(f"x{i}", x, in_q)], f"hsig{i}",
                                 alpha=alpha, beta=beta), x.shape, out_q)
    ours = b.run_aot(tmp_path)
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(str(tmp_path / "model.onnx"), opts,
                                providers=["CPUExecutionProvider"])
    want = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, b.feeds)))
    for i in range(len(cases)):
        assert_equal(ours[f"y{i}"], want[f"y{i}"], f"HardSigmoid case {i}")


# --- Mul ---------------------------------------------------------------------------------

MUL_SHAPES = [((1, 5, 7, 3), (1, 5, 7, 3)), ((1, 5, 7, 9), (1, 1, 1, 9)),
              ((2, 1, 6, 3), (1, 4, 1, 3)), ((1, 1, 1, 1), (3, 5, 2, 7)), ((3, 1, 5), (3, 4, 1))]
# (a, b, output) parameters: real multipliers a*b/out from ~1e-4 to ~40.
MUL_SCALES = [((0.05, 3), (0.05, -7), (0.01, 0)), ((0.02, -128), (0.3, 20), (0.25, -1)),
              ((1.7, 0), (0.001, 9), (0.5, 100)), ((0.2, 11), (0.4, -50), (0.002, -3)),
              ((0.5, -128), (0.5, -128), (0.1, -128))]


@pytest.mark.parametrize("act", [ACT_NONE, ACT_RELU, ACT_RELU6])
def test_mul_matches_tflm(tmp_path, act):
    s = fb()
    b = OnnxBranches()
    cases = []
    i = 0
    for sa, sb in MUL_SHAPES:
        for qa, qb, qo in MUL_SCALES:
            rng = np.random.default_rng(seed(("mul", sa, sb, qa, act)))
            out_shape = np.broadcast_shapes(sa, sb)
            a = rng.integers(-128, 128, sa, dtype=np.int64).astype(np.int8)
            c = rng.integers(-128, 128, sb, dtype=np.int64).astype(np.int8)
            a.reshape(-1)[:2] = [-128, 127][:a.size]     # the extremes, against each other
            c.reshape(-1)[:2] = [-128, -128][:c.size]
            f = b.node("Mul", [b.input(f"a{i}", a, qa), b.input(f"b{i}", c, qb)], f"mul{i}")
            b.output(f"y{i}", fused(b, f, act, f"mul{i}"), out_shape, qo)
            t = TfliteBuilder()
            ta, tb, to = t.tensor(sa, qa), t.tensor(sb, qb), t.tensor(out_shape, qo)
            opts = s.MulOptionsT()
            opts.fusedActivationFunction = act
            t.op(MUL, [ta, tb], [to], s.BuiltinOptions.MulOptions, opts)
            cases.append((f"y{i}", t.run([ta, tb], [to], [a, c]), (sa, sb, qa, qb, qo)))
            i += 1
    ours = b.run_aot(tmp_path)
    for name, want, what in cases:
        assert_equal(ours[name], want, f"Mul {what} act {act}")


# --- Pad -----------------------------------------------------------------------------------

PAD_CASES = [((1, 5, 7, 3), [[0, 0], [1, 2], [2, 1], [0, 0]]),
             ((2, 4, 3, 5), [[0, 1], [0, 0], [3, 3], [1, 2]]),
             ((1, 6, 6, 1), [[0, 0], [2, 2], [2, 2], [0, 0]]),
             ((3, 9), [[1, 0], [4, 2]])]


@pytest.mark.parametrize("kind", ["pad", "padv2", "reflect"])
def test_pad_matches_tflm(tmp_path, kind):
    s = fb()
    b = OnnxBranches()
    cases = []
    for i, (shape, pads) in enumerate(PAD_CASES):
        rng = np.random.default_rng(seed(("pad", kind, shape)))
        q = (float(rng.uniform(0.01, 0.5)), int(rng.integers(-128, 128)))
        x = rng.integers(-128, 128, shape, dtype=np.int64).astype(np.int8)
        if kind == "reflect":
            pads = [[min(p, d - 1) for p in pr] for pr, d in zip(pads, shape)]
        out_shape = tuple(d + p0 + p1 for d, (p0, p1) in zip(shape, pads))
        onnx_pads = b.const(f"pads{i}", np.array([p[0] for p in pads] + [p[1] for p in pads],
                                                 np.int64))
        inputs = [b.input(f"x{i}", x, q), onnx_pads]
        value = int(rng.integers(-128, 128))
        if kind == "padv2":   # a QDQ constant: an int8 code dequantized with the input's params
            inputs.append(b.dq(b.const(f"v{i}", np.array(value, np.int8)), q))
        mode = "reflect" if kind == "reflect" else "constant"
        b.output(f"y{i}", b.node("Pad", inputs, f"pad{i}", mode=mode), out_shape, q)

        t = TfliteBuilder()
        t_in, t_out = t.tensor(shape, q), t.tensor(out_shape, q)
        t_pads = t.tensor((len(shape), 2), data=np.array(pads, np.int32), dtype=np.int32)
        if kind == "pad":
            t.op(PAD, [t_in, t_pads], [t_out], s.BuiltinOptions.PadOptions, s.PadOptionsT())
        elif kind == "padv2":
            t_val = t.tensor((), q, data=np.array(value, np.int8))
            t.op(PADV2, [t_in, t_pads, t_val], [t_out], s.BuiltinOptions.PadV2Options,
                 s.PadV2OptionsT())
        else:
            opts = s.MirrorPadOptionsT()
            opts.mode = s.MirrorPadMode.REFLECT
            t.op(MIRROR_PAD, [t_in, t_pads], [t_out], s.BuiltinOptions.MirrorPadOptions, opts)
        cases.append((f"y{i}", t.run([t_in], [t_out], [x]), shape))
    ours = b.run_aot(tmp_path)
    for name, want, shape in cases:
        assert_equal(ours[name], want, f"{kind} {shape}")


def test_pad_requantizes_and_moves_codes_in_edge_and_wrap_modes(tmp_path):
    """Pad with output parameters other than the input's (one requantization after
    the pad, as TFLite's PAD then QUANTIZE), and the edge/wrap modes, which TFLite
    lacks and which only move codes (checked against numpy.pad of the codes)."""
    rng = np.random.default_rng(seed("pad-other"))
    x = rng.integers(-128, 128, (1, 3, 4, 5), dtype=np.int64).astype(np.int8)
    pads = [[0, 0], [1, 2], [2, 1], [0, 3]]
    out_shape = tuple(d + p0 + p1 for d, (p0, p1) in zip(x.shape, pads))
    q_in, q_out = (0.05, 7), (0.09, -30)
    b = OnnxBranches()
    onnx_pads = b.const("pads", np.array([p[0] for p in pads] + [p[1] for p in pads], np.int64))
    b.output("requant", b.node("Pad", [b.input("x0", x, q_in), onnx_pads], "p0"), out_shape,
             q_out)
    for i, mode in enumerate(["edge", "wrap"], start=1):
        b.output(mode, b.node("Pad", [b.input(f"x{i}", x, q_in), onnx_pads], f"p{i}",
                              mode=mode), out_shape, q_in)
    ours = b.run_aot(tmp_path)
    for mode in ("edge", "wrap"):
        assert_equal(ours[mode], np.pad(x, pads, mode=mode), mode)

    s = fb()
    t = TfliteBuilder()
    t_in, t_mid = t.tensor(x.shape, q_in), t.tensor(out_shape, q_in)
    t_pads = t.tensor((4, 2), data=np.array(pads, np.int32), dtype=np.int32)
    t_out = t.tensor(out_shape, q_out)
    t.op(PAD, [t_in, t_pads], [t_mid], s.BuiltinOptions.PadOptions, s.PadOptionsT())
    t.op(QUANTIZE, [t_mid], [t_out])
    assert_equal(ours["requant"], t.run([t_in], [t_out], [x]), "pad + requantize")


# --- ReduceMean over any axes ------------------------------------------------------------

MEAN_CASES = [((2, 5, 3, 7), [0, 2]), ((1, 6, 4, 9), [1, 3]), ((3, 4, 5, 6), [3]),
              ((2, 3, 4, 5), [0, 1, 2, 3]), ((2, 7, 3, 5), [0, 3]), ((4, 6, 5), [0, 2]),
              ((1, 9, 5, 24), [1, 2])]
MEAN_QUANT = [((0.05, -128), (0.02, -128)), ((0.1, 5), (0.1, 5)), ((0.02, 30), (0.07, -90)),
              ((0.5, -3), (0.004, 0))]


@pytest.mark.parametrize("keep", [True, False])
def test_reduce_mean_any_axes_matches_tflm(tmp_path, keep):
    s = fb()
    b = OnnxBranches()
    cases = []
    for i, (shape, axes) in enumerate(MEAN_CASES):
        in_q, out_q = MEAN_QUANT[i % len(MEAN_QUANT)]
        rng = np.random.default_rng(seed(("mean", shape, axes, keep)))
        x = rng.integers(-128, 128, shape, dtype=np.int64).astype(np.int8)
        out_shape = tuple(1 if d in axes else n for d, n in enumerate(shape) if keep or d not in axes)
        b.output(f"y{i}", b.node("ReduceMean", [b.input(f"x{i}", x, in_q)], f"mean{i}",
                                 axes=axes, keepdims=int(keep)), out_shape, out_q)
        t = TfliteBuilder()
        t_in, t_out = t.tensor(shape, in_q), t.tensor(out_shape, out_q)
        t_axis = t.tensor((len(axes),), data=np.array(axes, np.int32), dtype=np.int32)
        opts = s.ReducerOptionsT()
        opts.keepDims = keep
        t.op(MEAN, [t_in, t_axis], [t_out], s.BuiltinOptions.ReducerOptions, opts)
        cases.append((f"y{i}", t.run([t_in], [t_out], [x]), (shape, axes)))
    ours = b.run_aot(tmp_path)
    for name, want, what in cases:
        assert_equal(ours[name].reshape(want.shape), want, f"mean {what} keep {keep}")


# --- the C sources and the integer-only build ----------------------------------------------


@pytest.mark.parametrize("name,cc", compilers(), ids=[c[0] for c in compilers()])
def test_new_kernels_compile_warning_free(tmp_path, name, cc):
    for kernel in NEW_KERNELS:
        src = RUNTIME / f"{kernel}.c"
        assert src.read_text().startswith("/* SPDX-License-Identifier: Apache-2.0 */\n")
        for opt in ("-O0", "-O2", "-Os"):
            res = subprocess.run([*cc, *STRICT, opt, "-c", "-I", str(RUNTIME), str(src),
                                  "-o", str(tmp_path / f"{kernel}{opt}.o")],
                                 capture_output=True, text=True)
            assert res.returncode == 0 and not res.stderr.strip(), f"{name} {kernel}:\n{res.stderr}"


@pytest.mark.parametrize("name,cc", cross_compilers_m0(), ids=[c[0] for c in cross_compilers_m0()])
def test_new_kernels_are_integer_only_on_cortex_m0(tmp_path, name, cc):
    import shutil

    nm = shutil.which("llvm-nm") or shutil.which("arm-none-eabi-nm") or shutil.which("nm")
    need(nm is not None, "no nm to list undefined symbols")
    allowed = {"__aeabi_lmul", "__aeabi_idiv", "__aeabi_uidiv", "__aeabi_idivmod",
               "__aeabi_uidivmod", "aot_memset", "aot_memcpy"}   # the last two: our runtime's
    for kernel in NEW_KERNELS:
        for opt in ("-O1", "-O2", "-Os", "-O3"):
            obj = tmp_path / f"{kernel}{opt}.o"
            subprocess.run([*cc, opt, *STRICT, "-c", "-I", str(RUNTIME),
                            str(RUNTIME / f"{kernel}.c"), "-o", str(obj)], check=True)
            res = subprocess.run([nm, "-u", str(obj)], capture_output=True, text=True, check=True)
            undefined = {line.split()[-1] for line in res.stdout.splitlines() if line.strip()}
            assert undefined <= allowed, f"{kernel} {opt} needs {sorted(undefined - allowed)}"


def test_qdq_model_of_the_new_ops_needs_no_float_on_cortex_m0plus(tmp_path):
    from test_int8_nofloat import build, float_symbols, fp_instructions

    rng = np.random.default_rng(seed("nofloat"))
    x = rng.integers(-128, 128, (1, 6, 5, 3), dtype=np.int64).astype(np.int8)
    q = (0.05, 3)
    b = OnnxBranches()
    f = b.input("x", x, q)
    pads = b.const("pads", np.array([0, 1, 1, 0, 0, 1, 1, 0], np.int64))
    f = b.node("Pad", [f, pads], "pad")
    f = b.node("Mul", [f, f], "square")
    for op in ("Sigmoid", "Tanh", "HardSwish", "HardSigmoid"):
        f = b.node(op, [f], op.lower())
    f = b.node("LeakyRelu", [f], "leaky", alpha=0.1)
    f = b.node("ReduceMean", [f], "mean", axes=[0, 3], keepdims=1)
    b.output("y", f, (1, 8, 7, 1), (0.01, -5))
    # Every op gets its own output parameters, as a QDQ model has them.
    b.nodes = _requantize_between(b)
    path = b.save(tmp_path / "ops.onnx")
    model, elf = build(str(path), "cortex-m0plus", "zig", tmp_path / "m0")
    kernels = {Path(f).stem for f in model.files if "/aot_runtime/" in str(f)}
    assert {"aot_pad_s8", "aot_mul_s8", "aot_lut_s8", "aot_mean_s8"} <= kernels, kernels
    assert not [k for k in kernels if k.endswith("_f32")], kernels
    assert float_symbols(elf) == []
    assert fp_instructions(elf) == []


def _requantize_between(b: OnnxBranches):
    """Inserts Q -> DQ (scale 0.04 + 0.01 i, zero point i - 3) after every float op
    but the last (the model's output QuantizeLinear follows it)."""
    from onnx import helper

    nodes = []
    for i, n in enumerate(b.nodes):
        nodes.append(n)
        if n.op_type in ("DequantizeLinear", "QuantizeLinear") or i == len(b.nodes) - 2:
            continue
        out = n.output[0]
        n.output[0] = f"{out}_raw"
        s = b.const(f"{out}_qs", np.array(0.04 + 0.01 * i, np.float32))
        z = b.const(f"{out}_qz", np.array(i - 3, np.int8))
        nodes.append(helper.make_node("QuantizeLinear", [f"{out}_raw", s, z], [f"{out}_q"]))
        nodes.append(helper.make_node("DequantizeLinear", [f"{out}_q", s, z], [out]))
    return nodes


# --- whole models: a squeeze-and-excitation block quantized by aot and by onnxruntime ------


def se_block(all_ops: bool):
    """Conv -> HardSwish -> [GAP -> Conv -> LeakyRelu -> Conv -> Sigmoid] -> Mul (broadcast
    gate) -> Pad -> Conv -> Tanh -> ReduceMean over axes 1 and 3. Without all_ops,
    HardSwish and Tanh are Relu and the model ends at the last Conv + Relu: what
    onnxruntime's quantizer can quantize (it has no int8 HardSwish, Tanh or ReduceMean)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(3)

    def w(name, *shape):
        return numpy_helper.from_array((rng.standard_normal(shape) * 0.3).astype(np.float32), name)

    n = helper.make_node
    nodes = [n("Conv", ["x", "c1_w", "c1_b"], ["c1"], name="c1", pads=[1, 1, 1, 1]),
             n("HardSwish" if all_ops else "Relu", ["c1"], ["hs"], name="hs"),
             n("GlobalAveragePool", ["hs"], ["gap"], name="gap"),
             n("Conv", ["gap", "se1_w", "se1_b"], ["se1"], name="se1"),
             n("LeakyRelu", ["se1"], ["lr"], name="lr", alpha=0.1),
             n("Conv", ["lr", "se2_w", "se2_b"], ["se2"], name="se2"),
             n("Sigmoid", ["se2"], ["gate"], name="gate"),
             n("Mul", ["hs", "gate"], ["scaled"], name="scale"),
             n("Pad", ["scaled", "pads"], ["padded"], name="pad"),
             n("Conv", ["padded", "c2_w", "c2_b"], ["c2"], name="c2")]
    if all_ops:
        nodes += [n("Tanh", ["c2"], ["t"], name="tanh"),
                  n("ReduceMean", ["t"], ["y"], name="mean", axes=[1, 3], keepdims=0)]
        out_shape = [1, 13]
    else:
        nodes.append(n("Relu", ["c2"], ["y"], name="relu"))
        out_shape = [1, 7, 13, 12]
    inits = [w("c1_w", 12, 3, 3, 3), w("c1_b", 12), w("se1_w", 4, 12, 1, 1), w("se1_b", 4),
             w("se2_w", 12, 4, 1, 1), w("se2_b", 12), w("c2_w", 7, 12, 1, 1), w("c2_b", 7),
             numpy_helper.from_array(np.array([0, 0, 1, 2, 0, 0, 2, 1], np.int64), "pads")]
    graph = helper.make_graph(
        nodes, "se", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 10, 9])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model, full_check=True)
    return model


def se_data():
    rng = np.random.default_rng(seed("se-data"))
    return (rng.standard_normal((64, 1, 3, 10, 9)).astype(np.float32),
            rng.standard_normal((20, 1, 3, 10, 9)).astype(np.float32))


def ort_run(model, xs) -> np.ndarray:
    ort = need_import("onnxruntime")
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return np.concatenate([sess.run(None, {"x": x})[0] for x in xs])


def test_se_block_quantized_by_aot_compiles_to_integer_ops():
    """`aot.quantize` (TFLite-like QDQ, Sigmoid 1/256 and Tanh 1/128 outputs) on a
    float model using every new op; the int8 build's SQNR vs the float model must
    be within 0.5 dB of onnxruntime running the same QDQ graph in float (fake
    quantization): the integer ops compute what the QDQ graph means."""
    from aot.quantize import quantize, sqnr_db

    float_model = se_block(all_ops=True)
    cal, ev = se_data()
    qmodel = quantize(float_model, {"x": cal}, progress=False).model
    compiled = aot.compile(qmodel, "x86-64")
    ref = ort_run(float_model, ev)
    ours = np.concatenate([compiled.run({"x": x})["y"] for x in ev])
    fake = ort_run(qmodel, ev)
    ours_db, fake_db = sqnr_db(ref, ref - ours), sqnr_db(ref, ref - fake)
    print(f"\nSE block, aot PTQ: int8 build {ours_db:.2f} dB, onnxruntime fake-quant "
          f"{fake_db:.2f} dB (SQNR vs float)")
    assert ours_db > 30 and ours_db >= fake_db - 0.5
    runtime = {Path(f).stem for f in compiled.files if "/aot_runtime/" in str(f)}
    assert {"aot_lut_s8", "aot_mul_s8", "aot_pad_s8", "aot_mean_s8"} <= runtime, runtime


# onnxruntime's integer kernels requantize in float (round half to even) and its
# QLinearSigmoid is a float table, where we run TFLite's fixed-point arithmetic;
# a 1-LSB difference at the sigmoid gate moves the Mul and the Conv after it by
# up to 1 LSB again (measured: 2 LSB at most, on ~5 % of the output codes), as
# in tests/test_int8_ort.py.
SE_ORT_LSB = 2


@pytest.mark.parametrize("fmt", ["QDQ", "QOperator"])
@pytest.mark.parametrize("act", ["QInt8", "QUInt8"])
def test_se_block_quantized_by_onnxruntime(fmt, act, tmp_path):
    """onnxruntime's quantizer (QDQ: DQ -> Mul/Sigmoid/LeakyRelu/Pad -> Q; QOperator:
    QLinearMul, QLinearSigmoid, QLinearLeakyRelu and a Pad on raw codes whose constant
    is the zero point), int8 and uint8 activations; reference: onnxruntime on the
    same quantized model."""
    import onnx

    need_import("onnxruntime")
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType,
                                          quantize_static)

    cal, ev = se_data()

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter([{"x": x} for x in cal])

        def get_next(self):
            return next(self.it, None)

    src, dst = tmp_path / "se.onnx", tmp_path / "se_q.onnx"
    onnx.save(se_block(all_ops=False), src)
    quantize_static(str(src), str(dst), Reader(), quant_format=getattr(QuantFormat, fmt),
                    activation_type=getattr(QuantType, act), weight_type=QuantType.QInt8,
                    per_channel=True)
    qmodel = onnx.load(str(dst))
    ops = {n.op_type for n in qmodel.graph.node}
    assert ({"QLinearMul", "QLinearSigmoid", "QLinearLeakyRelu"} <= ops if fmt == "QOperator"
            else {"Mul", "Sigmoid", "LeakyRelu", "Pad"} <= ops), ops
    compiled = aot.compile(qmodel, "x86-64")
    ours = np.concatenate([compiled.run({"x": x})["y"] for x in ev])
    want = ort_run(qmodel, ev)
    out_q = next(n for n in qmodel.graph.node if n.output[0] == "y")
    inits = {t.name: t for t in qmodel.graph.initializer}
    from onnx import numpy_helper
    scale = float(numpy_helper.to_array(inits[out_q.input[1]]))
    lsb = np.round(np.abs(ours - want) / scale)
    print(f"\n{fmt} {act}: {int((lsb > 0).sum())} of {lsb.size} outputs differ from "
          f"onnxruntime, by up to {int(lsb.max())} LSB")
    assert lsb.max() <= SE_ORT_LSB


def test_new_ops_under_sanitizers(tmp_path):
    """The new kernels in a generated model under AddressSanitizer and UBSan
    (tests/sanitizer_harness.py): broadcast Mul on extreme codes, all three Pad
    modes with pads wider than half the input, a table op, a mean over
    non-adjacent axes; results equal to the ctypes build's."""
    import shutil

    from sanitizer_harness import build

    need(shutil.which("gcc") is not None, "gcc is needed for the sanitizer build")
    rng = np.random.default_rng(seed("sanitizers"))
    b = OnnxBranches()
    a = np.full((2, 1, 5, 3), -128, np.int8)
    c = np.full((1, 4, 1, 3), 127, np.int8)
    b.output("mul", b.node("Mul", [b.input("a", a, (0.5, 127)), b.input("c", c, (0.5, -128))],
                           "m"), (2, 4, 5, 3), (0.001, 0))
    x = rng.integers(-128, 128, (1, 3, 4, 5), dtype=np.int64).astype(np.int8)
    pads = b.const("pads", np.array([0, 2, 3, 0, 1, 2, 3, 4], np.int64))
    for mode in ("constant", "reflect", "edge", "wrap"):
        b.output(f"pad_{mode}", b.node("Pad", [b.input(f"x_{mode}", x, (0.1, 3)), pads],
                                       f"p_{mode}", mode=mode), (2, 7, 10, 9), (0.1, 3))
    b.output("sig", b.node("Sigmoid", [b.input("s", ALL_CODES.reshape(1, 256), (0.05, 0))],
                           "sg"), (1, 256), (1 / 256, -128))
    m = rng.integers(-128, 128, (3, 4, 5, 6), dtype=np.int64).astype(np.int8)
    b.output("mean", b.node("ReduceMean", [b.input("mx", m, (0.05, 1))], "mn", axes=[0, 2],
                            keepdims=0), (4, 6), (0.03, -2))
    compiled = aot.compile(str(b.save(tmp_path / "new_ops.onnx")), "x86-64",
                           out_dir=str(tmp_path / "new_ops"))
    ref = compiled.run(b.feeds)
    harness = build([compiled.out_dir], str(tmp_path / "build"), cc="gcc", jobs=2)
    proc, results = harness.run({"new_ops": b.feeds}, str(tmp_path / "io"))
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "runtime error" not in proc.stderr and "Sanitizer" not in proc.stderr, proc.stderr
    for name, value in ref.items():
        np.testing.assert_array_equal(results["new_ops"][name], value, err_msg=name)
    for mode in ("reflect", "edge", "wrap"):
        np.testing.assert_array_equal(ref[f"pad_{mode}"], np.pad(
            x, [(0, 1), (2, 2), (3, 3), (0, 4)], mode={"reflect": "reflect"}.get(mode, mode)))

"""tests/int8_reference.py is bit-exact with TensorFlow Lite Micro, layer by layer.

The reference interprets the tf2onnx QDQ conversions of the four MLPerf Tiny
int8 models; TFLM (the `tflite-micro` package, reference kernels,
kPreserveAllTensors) runs the original `.tflite` files. tf2onnx keeps the
TFLite tensor names on the QuantizeLinear outputs, so every integer op of the
reference is fed the int8 tensors TFLM computed for its inputs (NHWC data
transposed to the ONNX layout) and its output must equal TFLM's bit for bit.
Every TFLite operator output must be matched by one reference layer.
The whole-model run (reference fed only the model input) must also match.
Ops the models lack (LOGISTIC, TANH, LEAKY_RELU, HARD_SWISH on every int8
code; MUL with broadcasting)
are checked on single-op models edited from them (as in test_kernels_s8.py).

This is what lets the int8 differential test (test_differential_int8.py) use
the reference as the judge of aot's int8 output on graphs TFLite never saw.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from conftest import need_import
from int8_reference import Reference

PAIRS = {
    "kws": ("kws_int8.onnx", "kws_ref_model.tflite"),
    "vww": ("vww_int8.onnx", "vww_96_int8.tflite"),
    "ic": ("ic_int8.onnx", "pretrainedResnet_quant.tflite"),
    "ad": ("ad_int8.onnx", "ad01_int8.tflite"),
}
# AD is cheap and its FC multipliers show last-bit errors on ~1e-5 of outputs.
RESHAPE = 22   # TFLite builtin operator code
SAMPLES = {"kws": 3, "vww": 2, "ic": 3, "ad": 40}


def tflm_run(data: bytes, x: np.ndarray):
    """{tensor name: value} of every TFLite tensor after one TFLM invocation,
    and the names of the operator outputs."""
    need_import("tflite_micro")
    from tflite_micro.python.tflite_micro import runtime

    model = runtime.convert_bytearray_to_object(bytearray(data))
    sg = model.subgraphs[0]
    interp = runtime.Interpreter.from_bytes(
        data, intrepreter_config=runtime.InterpreterConfig.kPreserveAllTensors)
    interp.set_input(x, 0)
    interp.invoke()
    names = {}
    for i, t in enumerate(sg.tensors):
        if model.buffers[t.buffer].data is not None:   # constants
            continue
        names[t.name.decode()] = np.array(interp.GetTensor(i, 0)["tensor_data"])
    ops = []
    for op in sg.operators:
        code = model.operatorCodes[op.opcodeIndex]
        ops.append((sg.tensors[op.outputs[0]].name.decode(),
                    max(code.builtinCode, code.deprecatedBuiltinCode)))
    return names, ops


def to_onnx_layout(value: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    if tuple(value.shape) == tuple(shape):
        return value
    if value.ndim == 4 and tuple(np.transpose(value, (0, 3, 1, 2)).shape) == tuple(shape):
        return np.ascontiguousarray(np.transpose(value, (0, 3, 1, 2)))
    if value.size == int(np.prod(shape)):   # e.g. a [1,1,1,C] pool output seen as [1,C,1,1]
        return value.reshape(shape)
    raise AssertionError(f"TFLM shape {value.shape} does not map onto ONNX {shape}")


@pytest.mark.parametrize("key", sorted(PAIRS))
def test_reference_layers_match_tflm(key, mlperf_dir):
    onnx_file, tflite_file = PAIRS[key]
    ref = Reference(onnx.load(str(mlperf_dir / onnx_file)))
    data = (mlperf_dir / tflite_file).read_bytes()
    [inp] = ref.inputs
    rng = np.random.default_rng(2024)
    compared: set[str] = set()
    for _ in range(SAMPLES[key]):
        x = rng.integers(-128, 128, ref.shapes[inp], dtype=np.int64).astype(np.int8)
        tflm, ops = tflm_run(data, x)

        def override(name):
            if name not in tflm:
                return None
            return to_onnx_layout(tflm[name], ref.shapes[name])

        layered = ref.run({inp: x}, override)
        for g in ref.groups:
            if g.output not in tflm:
                continue
            want = to_onnx_layout(tflm[g.output], ref.shapes[g.output])
            got = layered[g.output]
            bad = int(np.count_nonzero(got != want))
            assert bad == 0, (f"{key}: {g.op.op_type} '{g.op.name}' -> '{g.output}': "
                              f"{bad}/{want.size} elements differ from TFLM "
                              f"(max {int(np.abs(got.astype(int) - want).max())} LSB)")
            compared.add(g.output)
        # The whole model from the input alone.
        whole = ref.run({inp: x})
        [out] = ref.outputs
        np.testing.assert_array_equal(whole[out].reshape(-1), tflm[out].reshape(-1))
    # Every TFLite operator except RESHAPE (codes only) is a checked reference layer.
    unchecked = [name for name, code in ops if name not in compared and code != RESHAPE]
    assert not unchecked, f"{key}: TFLite ops without a checked reference layer: {unchecked}"
    print(f"{key}: {len(compared)} reference layers bit-exact with TFLM over "
          f"{SAMPLES[key]} inputs ({len(ops)} TFLite ops)")


# --- ops the MLPerf models lack: single-op TFLite models edited from them ---------

LOGISTIC, MUL, TANH, LEAKY_RELU, HARD_SWISH = 14, 18, 28, 98, 117


@pytest.mark.parametrize("code", [LOGISTIC, TANH])
def test_logistic_and_tanh_match_tflm_on_every_code(code):
    """Every int8 input code, over input scales from 2e-5 to 3 and four zero points
    (TFLM's int8 LOGISTIC / TANH: gemmlowp fixed point on Q4.27)."""
    from int8_reference import logistic_ref, tanh_ref
    from test_kernels_s8 import KWS, as_op, finish, set_tensor, single_op, tflm_tensors

    fn, out_q = (logistic_ref, (1 / 256, -128)) if code == LOGISTIC else (tanh_ref, (1 / 128, 0))
    x = np.arange(-128, 128).astype(np.int8).reshape(1, 256)
    for scale in [2e-5, 1 / 256, 0.003, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 3.0]:
        for zp in [0, -128, 17, 127]:
            model, sg, op = single_op(KWS, 9)
            as_op(model, op, code)
            op.inputs = np.array(op.inputs[:1], np.int32)
            set_tensor(sg.tensors[op.inputs[0]], x.shape, [scale], [zp])
            set_tensor(sg.tensors[op.outputs[0]], x.shape, [out_q[0]], [out_q[1]])
            data = finish(model, sg, [op.inputs[0]], [op.outputs[0]])
            want = np.asarray(tflm_tensors(data, [x]).get_output(0))
            np.testing.assert_array_equal(fn(x, zp, scale), want, err_msg=f"{scale} {zp}")


def test_mul_matches_tflm():
    from int8_reference import _f32, mul_ref, quantize_multiplier
    from test_kernels_s8 import RESNET, as_op, finish, set_tensor, single_op, tflm_tensors

    rng = np.random.default_rng(5)
    for sa, sb in [((1, 4, 4, 3), (1, 4, 4, 3)), ((1, 4, 4, 3), (1, 1, 1, 3)),
                   ((2, 1, 3, 1), (1, 5, 1, 4))]:
        for scales in [(0.05, 0.05, 0.1), (0.02, 0.3, 0.003), (1.7, 0.01, 0.5),
                       (0.1, 0.2, 2.0)]:
            model, sg, op = single_op(RESNET, 3)
            as_op(model, op, MUL)
            zps = [int(z) for z in rng.integers(-128, 128, 3)]
            set_tensor(sg.tensors[op.inputs[0]], sa, [scales[0]], [zps[0]])
            set_tensor(sg.tensors[op.inputs[1]], sb, [scales[1]], [zps[1]])
            set_tensor(sg.tensors[op.outputs[0]], np.broadcast_shapes(sa, sb), [scales[2]],
                       [zps[2]])
            data = finish(model, sg, [op.inputs[0], op.inputs[1]], [op.outputs[0]])
            a = rng.integers(-128, 128, sa).astype(np.int8)
            b = rng.integers(-128, 128, sb).astype(np.int8)
            want = np.asarray(tflm_tensors(data, [a, b]).get_output(0))
            m, s = quantize_multiplier(_f32(scales[0]) * _f32(scales[1]) / _f32(scales[2]))
            got = mul_ref(a, b, dict(a_offset=-zps[0], b_offset=-zps[1], output_offset=zps[2],
                                     multiplier=m, shift=s, act_min=-128, act_max=127))
            np.testing.assert_array_equal(got, want, err_msg=f"{sa} {sb} {scales}")


def test_leaky_relu_matches_tflm_on_every_code():
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

    from int8_reference import leaky_relu_ref
    from test_kernels_s8 import KWS, as_op, finish, set_tensor, single_op, tflm_tensors

    x = np.arange(-128, 128).astype(np.int8).reshape(1, 256)
    for alpha in [0.01, 0.1, 0.2, 0.3333]:
        for (si, zi), (so, zo) in [((0.05, 0), (0.05, 0)), ((0.1, -128), (0.02, 3)),
                                   ((0.02, 40), (0.03, -40)), ((1.0, 10), (0.5, -100))]:
            model, sg, op = single_op(KWS, 9)
            as_op(model, op, LEAKY_RELU)
            op.builtinOptionsType = fb.BuiltinOptions.LeakyReluOptions
            op.builtinOptions = fb.LeakyReluOptionsT()
            op.builtinOptions.alpha = alpha
            op.inputs = np.array(op.inputs[:1], np.int32)
            set_tensor(sg.tensors[op.inputs[0]], x.shape, [si], [zi])
            set_tensor(sg.tensors[op.outputs[0]], x.shape, [so], [zo])
            data = finish(model, sg, [op.inputs[0]], [op.outputs[0]])
            want = np.asarray(tflm_tensors(data, [x]).get_output(0))
            np.testing.assert_array_equal(leaky_relu_ref(x, zi, si, zo, so, alpha), want,
                                          err_msg=f"alpha {alpha} in {si, zi} out {so, zo}")


def test_hard_swish_matches_tflm_on_every_code():
    from int8_reference import hard_swish_ref
    from test_kernels_s8 import KWS, as_op, finish, set_tensor, single_op, tflm_tensors

    x = np.arange(-128, 128).astype(np.int8).reshape(1, 256)
    for (si, zi), (so, zo) in [((0.05, 0), (0.05, 0)), ((0.1, -128), (0.02, 3)),
                               ((0.02, 40), (0.03, -40)), ((0.03, 10), (0.5, -100)),
                               ((0.06, -20), (0.05, -110)), ((0.2, 0), (0.04, -128))]:
        model, sg, op = single_op(KWS, 9)
        as_op(model, op, HARD_SWISH)
        op.inputs = np.array(op.inputs[:1], np.int32)
        set_tensor(sg.tensors[op.inputs[0]], x.shape, [si], [zi])
        set_tensor(sg.tensors[op.outputs[0]], x.shape, [so], [zo])
        data = finish(model, sg, [op.inputs[0]], [op.outputs[0]])
        want = np.asarray(tflm_tensors(data, [x]).get_output(0))
        np.testing.assert_array_equal(hard_swish_ref(x, zi, si, zo, so), want,
                                      err_msg=f"in {si, zi} out {so, zo}")

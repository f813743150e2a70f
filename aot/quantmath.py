"""TFLite's int8 "Prepare" arithmetic, done at compile time in Python.

These mirror, operation for operation, how TensorFlow Lite (Micro) derives
fixed-point multipliers, shifts and clamp ranges from float scales, including
where it rounds through float32 and where it uses double, because our int8
output must be bit-exact with TFLite Micro's. Pure functions, no state.
"""

from __future__ import annotations

import math

import numpy as np


def tflite_round(x: float) -> int:
    """std::round: half away from zero."""
    return int(math.floor(abs(x) + 0.5)) * (1 if x >= 0 else -1)


def quantize_multiplier(real: float) -> tuple[int, int]:
    """(multiplier, shift) with real ~= multiplier * 2^(shift - 31), multiplier in [2^30, 2^31)."""
    if real == 0.0:
        return 0, 0
    frac, shift = math.frexp(real)
    q = tflite_round(frac * (1 << 31))
    if q == (1 << 31):
        q //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return int(q), int(shift)


def conv_multipliers(input_scale: float, filter_scales, output_scale: float):
    """Per-channel multipliers/shifts as TFLite's PopulateConvolutionQuantizationParams:
    double(input_scale) * double(filter_scale) / double(output_scale)."""
    mults, shifts = [], []
    for fs in filter_scales:
        real = float(np.float32(input_scale)) * float(np.float32(fs)) / float(np.float32(output_scale))
        m, s = quantize_multiplier(real)
        mults.append(m)
        shifts.append(s)
    return np.array(mults, np.int32), np.array(shifts, np.int32)


def fc_multiplier(input_scale: float, filter_scale: float, output_scale: float) -> tuple[int, int]:
    """As TFLite Micro's CalculateOpDataFullyConnected -> GetQuantizedConvolutionMultipler
    (tensorflow/lite/kernels/kernel_util.cc): double(input_scale) * double(filter_scale)
    / double(output_scale), every factor widened to double *before* the product.

    Older TensorFlow (and e.g. luci-interpreter) took the input x filter product in
    float32 first; that differs in the last bits of the multiplier (e.g. 1462485078
    instead of 1462485049 on AD's last layer) and moved 1 of 64,000 AD outputs by
    1 LSB against TFLM."""
    real = float(np.float32(input_scale)) * float(np.float32(filter_scale)) \
        / float(np.float32(output_scale))
    return quantize_multiplier(real)


def requantize_multiplier(input_scale: float, output_scale: float) -> tuple[int, int]:
    """Multiplier/shift of an int8 -> int8 rescale, as TFLite Micro's QUANTIZE
    (requantize) and MEAN Prepare: double(input_scale) / double(output_scale)."""
    return quantize_multiplier(float(np.float32(input_scale)) / float(np.float32(output_scale)))


def mean_multiplier(input_scale: float, output_scale: float, count: int) -> tuple[int, int]:
    """TFLite Micro's int8 MEAN (reference_ops::QuantizedMeanOrSum, compute_sum=false):
    QuantizeMultiplier(input_scale / output_scale), then 1/count folded in as
    s = min(floor(log2(count)), 32, 31 + shift); multiplier = (multiplier << s) // count
    (truncating); shift -= s."""
    mult, shift = requantize_multiplier(input_scale, output_scale)
    s = min(count.bit_length() - 1, 32, 31 + shift)
    return int((mult << s) // count), shift - s


def activation_range(scale: float, zero_point: int, lo: float | None, hi: float | None,
                     qmin: int = -128, qmax: int = 127) -> tuple[int, int]:
    """TFLite's CalculateActivationRangeQuantized for a clamp to [lo, hi] (None: unbounded)."""
    def quantize(f: float) -> int:
        return zero_point + tflite_round(float(np.float32(f) / np.float32(scale)))
    act_min = qmin if lo is None else max(qmin, quantize(lo))
    act_max = qmax if hi is None else min(qmax, quantize(hi))
    return act_min, act_max


def add_params(s1: float, s2: float, s_out: float, left_shift: int = 20) -> dict:
    """TFLite's quantized Add preparation (int8: 20 bits of headroom)."""
    s1, s2, s_out = (float(np.float32(s)) for s in (s1, s2, s_out))
    twice_max = 2.0 * max(s1, s2)
    m1, sh1 = quantize_multiplier(s1 / twice_max)
    m2, sh2 = quantize_multiplier(s2 / twice_max)
    mo, sho = quantize_multiplier(twice_max / ((1 << left_shift) * s_out))
    return {"a_multiplier": m1, "a_shift": sh1, "b_multiplier": m2, "b_shift": sh2,
            "left_shift": left_shift, "output_multiplier": mo, "output_shift": sho}


def softmax_params(input_scale: float, beta: float = 1.0, integer_bits: int = 5) -> dict:
    """TFLite's PreprocessSoftmaxScaling + CalculateInputRadius (double rounding build)."""
    real = min(beta * float(np.float32(input_scale)) * (1 << (31 - integer_bits)),
               float((1 << 31) - 1))
    mult, left_shift = quantize_multiplier(real)
    max_rescaled = (1.0 * ((1 << integer_bits) - 1) * (1 << (31 - integer_bits))
                    / (1 << left_shift))
    return {"input_multiplier": mult, "input_left_shift": left_shift,
            "diff_min": -int(math.floor(max_rescaled))}

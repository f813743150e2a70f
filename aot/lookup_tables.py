"""int8 elementwise functions as 256-entry lookup tables, computed at compile time.

An int8 unary op is a function of one input code, so its whole "Eval" is a
table of 256 output codes indexed by `code + 128`. This module computes those
tables with TFLite's own integer arithmetic (ported here from gemmlowp's
fixedpoint.h, TFLite's kernels/internal/common.h and the reference kernels
integer_ops/logistic.h, integer_ops/tanh.h, reference/hard_swish.h,
reference/leaky_relu.h, with Prepare as TFLite Micro's *_common.cc does it),
so a table lookup in C is bit-exact with TensorFlow Lite Micro while the
generated code runs no float and no fixed-point polynomial at all.

Where an op's output parameters differ from the ones TFLite's kernel fixes
(logistic: 1/256, -128; tanh: 1/128, 0) the table composes TFLite's kernel
with TFLite's int8 -> int8 QUANTIZE into the output's parameters, and a fused
activation's clamp range (in output codes) is applied last. HardSigmoid has
no TFLite kernel: its table is the float formula evaluated in float32 and
quantized as ONNX QuantizeLinear does (round half to even), i.e. what the QDQ
graph computes.

Pure functions on Python ints (int32 wrap-around made explicit); no state.
"""

from __future__ import annotations

import math

import numpy as np

from aot import quantmath as qm

I32_MIN, I32_MAX = -(1 << 31), (1 << 31) - 1
CODES = np.arange(-128, 128)


def _wrap32(v: int) -> int:
    return ((v + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


# ---- gemmlowp / TFLite fixed-point primitives (int32 unless named 16) ----------


def srdhm(a: int, b: int, bits: int = 32) -> int:
    """SaturatingRoundingDoublingHighMul on int32 (or int16 with bits=16)."""
    lo = -(1 << (bits - 1))
    if a == b == lo:
        return -lo - 1
    ab = a * b
    nudge = (1 << (bits - 2)) if ab >= 0 else 1 - (1 << (bits - 2))
    t = ab + nudge
    q = abs(t) >> (bits - 1)          # C division truncates toward zero
    return q if t >= 0 else -q


def rdbpot(x: int, exponent: int) -> int:
    """RoundingDivideByPOT: x / 2^exponent, ties away from zero."""
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def sat_round_mul_by_pot(x: int, exponent: int) -> int:
    if exponent == 0:
        return x
    if exponent < 0:
        return rdbpot(x, -exponent)
    threshold = (1 << (31 - exponent)) - 1
    if x > threshold:
        return I32_MAX
    if x < -threshold:
        return I32_MIN
    return _wrap32(x << exponent)


def mul_by_quantized_multiplier(x: int, multiplier: int, shift: int) -> int:
    """TFLite's MultiplyByQuantizedMultiplier (double rounding, TFLM's default)."""
    left, right = max(shift, 0), max(-shift, 0)
    return rdbpot(srdhm(_wrap32(x << left), multiplier), right)


def _fp_mul(a: int, b: int) -> int:
    return srdhm(a, b)


def _exp_on_interval_between_negative_one_quarter_and_0_excl(a: int) -> int:
    constant_term, one_third = 1895147668, 715827883
    x = _wrap32(a + (1 << 28))
    x2 = _fp_mul(x, x)
    x3 = _fp_mul(x2, x)
    x4 = _fp_mul(x2, x2)
    x4_over_4 = sat_round_mul_by_pot(x4, -2)
    poly = sat_round_mul_by_pot(_wrap32(_fp_mul(_wrap32(x4_over_4 + x3), one_third) + x2), -1)
    return _wrap32(constant_term + _fp_mul(constant_term, _wrap32(x + poly)))


_EXP_BARREL = [(-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308),
               (2, 39332535), (3, 720401), (4, 242)]


def exp_on_negative_values(a: int, integer_bits: int) -> int:
    """exp(a) of a Q(integer_bits) raw value a <= 0, as a Q0 raw value."""
    fractional_bits = 31 - integer_bits
    one_quarter = 1 << (fractional_bits - 2)
    a_mod_quarter_minus_one_quarter = (a & (one_quarter - 1)) - one_quarter
    result = _exp_on_interval_between_negative_one_quarter_and_0_excl(
        sat_round_mul_by_pot(a_mod_quarter_minus_one_quarter, integer_bits))
    remainder = _wrap32(a_mod_quarter_minus_one_quarter - a)
    for exponent, multiplier in _EXP_BARREL:
        if integer_bits > exponent and remainder & (1 << (fractional_bits + exponent)):
            result = _fp_mul(result, multiplier)
    if integer_bits > 5 and a < -(1 << (36 - integer_bits)):
        result = 0
    return I32_MAX if a == 0 else result


def _newton_reciprocal_q2(half_denominator: int) -> int:
    """The Q2 Newton-Raphson iterate of 1 / half_denominator (gemmlowp's 48/17, 32/17)."""
    x = _wrap32(1515870810 + _fp_mul(half_denominator, -1010580540))
    for _ in range(3):
        one_minus = _wrap32((1 << 29) - _fp_mul(half_denominator, x))
        x = _wrap32(x + sat_round_mul_by_pot(_fp_mul(x, one_minus), 2))
    return x


def _half_sum_with_one(a: int) -> int:
    """RoundingHalfSum(a, One()) of Q0 values, ties away from zero."""
    s = a + I32_MAX
    t = s + 1 if s >= 0 else s - 1
    return t // 2 if t >= 0 else -((-t) // 2)


def one_over_one_plus_x_for_x_in_0_1(a: int) -> int:
    return sat_round_mul_by_pot(_newton_reciprocal_q2(_half_sum_with_one(a)), 1)


def one_minus_x_over_one_plus_x_for_x_in_0_1(a: int) -> int:
    x = _newton_reciprocal_q2(_half_sum_with_one(a))
    return sat_round_mul_by_pot(_wrap32(x - (1 << 29)), 2)


def fp_logistic(a: int, integer_bits: int) -> int:
    """gemmlowp::logistic of a Q(integer_bits) raw value, as a Q0 raw value."""
    if a == 0:
        return 1 << 30
    positive = a > 0
    r = one_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(-abs(a), integer_bits))
    return r if positive else _wrap32(I32_MAX - r)


def fp_tanh(a: int, integer_bits: int) -> int:
    """gemmlowp::tanh of a Q(integer_bits) raw value, as a Q0 raw value."""
    if a == 0:
        return 0
    n = a if a < 0 else -a
    # ExactMulByPot<1>: the same raw value read with one more integer bit.
    t = one_minus_x_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(n, integer_bits + 1))
    return -t if a < 0 else t


# ---- TFLite kernels on one code --------------------------------------------------


def _q4_input_params(input_scale: float) -> tuple[int, int, int]:
    """(multiplier, left shift, range radius) of TFLM's int8 LOGISTIC/TANH Prepare:
    frexp of double(input_scale) * 2^27 rounded to Q31, and CalculateInputRadius(4, shift)."""
    q, shift = math.frexp(float(np.float32(input_scale)) * float(1 << 27))
    multiplier = qm.tflite_round(q * (1 << 31))
    if multiplier >= 1 << 31 or shift < 0:
        raise ValueError(f"input scale {input_scale:g} is outside what TFLite's int8 "
                         f"logistic/tanh can represent; quantize the input with a scale "
                         f"of at least 2^-28")
    radius = math.floor(15.0 * (1 << 27) / (1 << shift))
    return multiplier, shift, radius


def _q4_codes(input_scale: float, input_zp: int, fp_fn, exponent: int,
              output_zp: int) -> np.ndarray:
    """TFLite's int8 LOGISTIC/TANH for all 256 input codes: saturate outside the
    input radius, else fp_fn on the Q4.27 input, rounded to 2^-exponent."""
    mult, shift, radius = _q4_input_params(input_scale)
    out = []
    for code in CODES.tolist():
        x = code - input_zp
        if x <= -radius:
            out.append(-128)
        elif x >= radius:
            out.append(127)
        else:
            y = rdbpot(fp_fn(mul_by_quantized_multiplier(x, mult, shift), 4), exponent)
            out.append(min(max(y + output_zp, -128), 127))
    return np.array(out, np.int32)


def logistic_codes(input_scale: float, input_zp: int) -> np.ndarray:
    """TFLite int8 LOGISTIC (output 1/256, -128) for all 256 input codes."""
    return _q4_codes(input_scale, input_zp, fp_logistic, 23, -128)


def tanh_codes(input_scale: float, input_zp: int) -> np.ndarray:
    """TFLite int8 TANH (output 1/128, 0) for all 256 input codes."""
    return _q4_codes(input_scale, input_zp, fp_tanh, 24, 0)


def _downscale_to_int16(multiplier: int) -> int:
    """DownScaleInt32ToInt16Multiplier."""
    if multiplier >= I32_MAX - (1 << 15):
        return (1 << 15) - 1
    return (multiplier + (1 << 15)) >> 16


def _sat16(v: int) -> int:
    return min(max(v, -(1 << 15)), (1 << 15) - 1)


def _sat_doubling_high_mul16(a: int, b: int) -> int:
    """reference_ops::SaturatingDoublingHighMul: like srdhm but truncating."""
    if a == b == -(1 << 15):
        return (1 << 15) - 1
    ab = a * b
    q = abs(ab) >> 15
    return q if ab >= 0 else -q


def hard_swish_codes(input_scale: float, input_zp: int, output_scale: float,
                     output_zp: int) -> np.ndarray:
    """TFLite int8 HARD_SWISH (reference_ops::HardSwish with TFLM's Prepare, whose
    scales are float32 products) for all 256 input codes."""
    f32 = np.float32
    hires_input_scale = f32(1.0 / 128.0) * f32(input_scale)
    out_m32, out_exp = qm.quantize_multiplier(float(f32(hires_input_scale / f32(output_scale))))
    if out_exp > 0:
        raise ValueError(f"output scale {output_scale:g} is below input scale / 128 "
                         f"({input_scale:g} / 128), which TFLite's int8 hard-swish cannot "
                         f"represent; quantize the output with a larger scale")
    relu_m32, relu_exp = qm.quantize_multiplier(
        float(f32(hires_input_scale / f32(3.0 / 32768.0))))
    out_m16, relu_m16 = _downscale_to_int16(out_m32), _downscale_to_int16(relu_m32)
    out = []
    for code in CODES.tolist():
        hires = (code - input_zp) * 128
        preshift = srdhm(hires, out_m16, 16)
        reluish = hires
        if relu_exp > 0:
            reluish = _sat16(reluish * (1 << (relu_exp - 1)))
        reluish = srdhm(reluish, relu_m16, 16)
        if relu_exp > 0:
            reluish = _sat16(reluish * 2)
        if relu_exp < 0:
            reluish = rdbpot(reluish, -relu_exp)
        reluish = (reluish + (1 << 15)) >> 1
        y = rdbpot(_sat_doubling_high_mul16(reluish, preshift), -out_exp) + output_zp
        out.append(min(max(y, -128), 127))
    return np.array(out, np.int32)


def leaky_relu_codes(alpha: float, input_scale: float, input_zp: int, output_scale: float,
                     output_zp: int) -> np.ndarray:
    """TFLite int8 LEAKY_RELU (reference_ops::QuantizeLeakyRelu; TFLM's Prepare takes
    input_scale * alpha / output_scale and input_scale / output_scale in float32)."""
    f32 = np.float32
    m_alpha, s_alpha = qm.quantize_multiplier(
        float(f32(f32(input_scale) * f32(alpha)) / f32(output_scale)))
    m_id, s_id = qm.quantize_multiplier(float(f32(input_scale) / f32(output_scale)))
    out = []
    for code in CODES.tolist():
        x = code - input_zp
        y = output_zp + (mul_by_quantized_multiplier(x, m_id, s_id) if x >= 0
                         else mul_by_quantized_multiplier(x, m_alpha, s_alpha))
        out.append(min(max(y, -128), 127))
    return np.array(out, np.int32)


def hard_sigmoid_codes(alpha: float, beta: float, input_scale: float, input_zp: int,
                       output_scale: float, output_zp: int) -> np.ndarray:
    """ONNX HardSigmoid between DequantizeLinear and QuantizeLinear, in float32."""
    f32 = np.float32
    x = (CODES.astype(np.float32) - f32(input_zp)) * f32(input_scale)
    y = np.clip(f32(alpha) * x + f32(beta), f32(0), f32(1)).astype(np.float32)
    q = np.rint((y / f32(output_scale)).astype(np.float32)).astype(np.int64) + output_zp
    return np.clip(q, -128, 127).astype(np.int32)


def requantize_codes(codes: np.ndarray, src: tuple[float, int], dst: tuple[float, int]) -> np.ndarray:
    """TFLite's int8 -> int8 QUANTIZE of output codes from src to dst (scale, zero
    point); the identity when they are equal."""
    if float(np.float32(src[0])) == float(np.float32(dst[0])) and src[1] == dst[1]:
        return codes
    mult, shift = qm.requantize_multiplier(src[0], dst[0])
    out = [mul_by_quantized_multiplier(int(c) - src[1], mult, shift) + dst[1] for c in codes]
    return np.clip(np.array(out, np.int64), -128, 127).astype(np.int32)


def table(codes: np.ndarray, act: tuple[int, int] = (-128, 127)) -> np.ndarray:
    """The int8 table of output codes, clamped to a fused activation's range."""
    return np.clip(codes, act[0], act[1]).astype(np.int8)

# SPDX-License-Identifier: Apache-2.0
"""An integer reference for int8 QDQ ONNX models, written in numpy from the
TFLite int8 specification -- independent of aot's passes, lowering and C.

Two layers:

1. The arithmetic: TFLite's / gemmlowp's requantization primitives (closed
   forms of SaturatingRoundingDoublingHighMul, RoundingDivideByPOT,
   MultiplyByQuantizedMultiplier with double rounding, the fixed-point exp and
   reciprocal of the int8 softmax), TFLite's Prepare-time arithmetic
   (QuantizeMultiplier, CalculateActivationRangeQuantized, the add, softmax and
   mean parameters), and one reference per kernel family (conv/depthwise, fully
   connected, add, mul, pooling, mean, softmax, logistic, tanh, leaky relu,
   hard swish, requantize), from
   tensorflow/lite/kernels/internal/common.h, reference/integer_ops/*.h,
   reference/softmax.h and micro/kernels/*_common.cc. tests/test_kernels_s8.py
   checks the C kernels against these.

2. `Reference`: a per-op TFLite-int8 interpreter over a QDQ ONNX graph. Each
   group `DequantizeLinear(s) -> op [-> Relu|Clip] -> QuantizeLinear` is run as
   the TFLite integer kernel the TFLite converter would have made of it, and
   shape-only ops on int8 tensors move codes. `Reference(model).run(feeds)`
   gives every int8 tensor; `override` feeds a layer another interpreter's
   inputs (test_int8_reference.py uses it to check every layer of the MLPerf
   Tiny models against TFLM, bit for bit).

   Op semantics (TFLite's; where ONNX is wider, the natural extension):
   - Conv (1-D/2-D, groups incl. depthwise, any pads/strides/dilations):
     CONV_2D / DEPTHWISE_CONV_2D, per-channel or per-tensor symmetric weights,
     int32 bias, multipliers double(s_in)*double(s_w)/double(s_out).
   - MatMul [+ Add(int32 bias)], Gemm (transB, C): FULLY_CONNECTED, per tensor or
     per output channel.
   - Add: ADD (left shift 20, numpy broadcasting).
   - MaxPool / AveragePool: MAX_/AVERAGE_POOL_2D, equal input and output
     parameters (TFLite's constraint), the average of the taps inside the input
     rounded half away from zero (count_include_pad=1 is not TFLite and refused).
   - GlobalAveragePool, ReduceMean (adjacent axes): MEAN (QuantizedMeanOrSum).
   - Softmax over the last axis: SOFTMAX, output (1/256, -128).
   - Mul: MUL (one rounding of (a - za)(b - zb) by s_a * s_b / s_out, broadcasting).
   - Sigmoid / Tanh: LOGISTIC / TANH, gemmlowp's fixed-point functions on Q4.27
     inputs, outputs (1/256, -128) / (1/128, 0).
   - LeakyRelu: LEAKY_RELU (a multiplier each for x >= 0 and x < 0).
   - HardSwish: HARD_SWISH (int16 fixed point, reference_ops::HardSwish).
   - Pad: PAD / PADV2 / MIRROR_PAD on codes (constant = the zero point or the
     quantized constant value; reflect; edge), equal parameters.
   - Relu/Clip before the QuantizeLinear: the fused activation range
     (zp + round(bound / scale), clamped to int8); alone: a requantize + clamp.
   - Reshape/Flatten/Squeeze/Unsqueeze/Transpose/Concat: codes moved; where the
     output parameters differ, followed by TFLite's int8 -> int8 QUANTIZE.
   Anything else raises `NotTflite` naming the node.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import numpy_helper

I32_MIN, I32_MAX = -(2**31), 2**31 - 1


# --- requantization arithmetic (TFLite / gemmlowp semantics) -------------------


def wrap32(v):
    """int32 two's-complement wrap of Python ints or int64 arrays."""
    if isinstance(v, np.ndarray):
        return ((v.astype(np.int64) + 2**31) & 0xFFFFFFFF) - 2**31
    return ((v + 2**31) & 0xFFFFFFFF) - 2**31


# Closed forms, used by the kernel references (numpy int64, vectorised).

def srdhm(a, b):
    """SaturatingRoundingDoublingHighMul: round-half-up(a * b / 2^31), saturating."""
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    r = (a * b + (1 << 30)) >> 31
    return np.where((a == I32_MIN) & (b == I32_MIN), I32_MAX, r)


def rdbpot(x, e):
    """RoundingDivideByPOT: x / 2^e rounded half away from zero."""
    x, e = np.asarray(x, np.int64), np.asarray(e, np.int64)
    half = np.where(e > 0, np.left_shift(1, np.maximum(e - 1, 0)), 0)
    mag = (np.abs(x) + half) >> e
    return np.where(x >= 0, mag, -mag)


def mbqm(x, m, s):
    """MultiplyByQuantizedMultiplier, double rounding; x * 2^s wraps like TFLite's int32."""
    x, s = np.asarray(x, np.int64), np.asarray(s, np.int64)
    return rdbpot(srdhm(wrap32(x << np.maximum(s, 0)), m), np.maximum(-s, 0))


def mbqm_lt1(x, m, left_shift):
    return rdbpot(srdhm(x, m), -np.asarray(left_shift, np.int64))


def mbqm_gt1(x, m, left_shift):
    return srdhm(wrap32(np.asarray(x, np.int64) << np.asarray(left_shift, np.int64)), m)


# Literal ports of gemmlowp (scalar Python ints), to check the closed forms and
# to build the softmax reference.

def g_srdhm(a: int, b: int) -> int:
    if a == b == I32_MIN:
        return I32_MAX
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    t = ab + nudge
    q = abs(t) // (1 << 31)  # C++ integer division truncates toward zero
    return q if t >= 0 else -q


def g_rdbpot(x: int, e: int) -> int:
    mask = (1 << e) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> e) + (1 if remainder > threshold else 0)


def g_srmpot(x: int, e: int) -> int:
    if e == 0:
        return x
    if e < 0:
        return g_rdbpot(x, -e)
    threshold = (1 << (31 - e)) - 1
    if x > threshold:
        return I32_MAX
    if x < -threshold:
        return I32_MIN
    return wrap32(x << e)


def g_half_sum(a: int, b: int) -> int:
    s = a + b
    t = s + (1 if s >= 0 else -1)
    return abs(t) // 2 * (1 if t >= 0 else -1)


def g_exp_interval(a: int) -> int:
    """exp_on_interval_between_negative_one_quarter_and_0_excl (Q0 -> Q0)."""
    constant_term, one_third = 1895147668, 715827883
    x = wrap32(a + (1 << 28))
    x2 = g_srdhm(x, x)
    x3 = g_srdhm(x2, x)
    x4 = g_srdhm(x2, x2)
    x4_over_4 = g_srmpot(x4, -2)
    poly = g_srmpot(wrap32(g_srdhm(wrap32(x4_over_4 + x3), one_third) + x2), -1)
    return wrap32(constant_term + g_srdhm(constant_term, wrap32(x + poly)))


EXP_BARREL = [(-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308),
              (2, 39332535), (3, 720401), (4, 242)]


def g_exp_on_negative_values(a: int, integer_bits: int) -> int:
    frac = 31 - integer_bits
    quarter = 1 << (frac - 2)
    a_mod = (a & (quarter - 1)) - quarter
    result = g_exp_interval(g_srmpot(a_mod, integer_bits))
    remainder = wrap32(a_mod - a)
    for exponent, mult in EXP_BARREL:
        if integer_bits > exponent and remainder & (1 << (frac + exponent)):
            result = g_srdhm(result, mult)
    if integer_bits > 5 and a < -(1 << (36 - integer_bits)):
        result = 0
    if a == 0:
        result = I32_MAX
    return result


def g_one_over_one_plus_x(a: int) -> int:
    half_den = g_half_sum(a, I32_MAX)
    x = wrap32(1515870810 + g_srdhm(half_den, -1010580540))
    for _ in range(3):
        one_minus = wrap32((1 << 29) - g_srdhm(half_den, x))
        x = wrap32(x + g_srmpot(g_srdhm(x, one_minus), 2))
    return g_srmpot(x, 1)


def g_clz(x: int) -> int:
    x &= 0xFFFFFFFF
    return 32 - x.bit_length()


def g_reciprocal(x: int, integer_digits: int) -> tuple[int, int]:
    h = g_clz(x)
    shifted = wrap32(((x << h) & 0xFFFFFFFF) - (1 << 31))
    return g_one_over_one_plus_x(shifted), integer_digits - h


def g_one_minus_x_over_one_plus_x(a: int) -> int:
    """one_minus_x_over_one_plus_x_for_x_in_0_1 (Q0 -> Q0): the same Newton-Raphson
    division as one_over_one_plus_x, returning x - 1 instead of x / 2."""
    half_den = g_half_sum(a, I32_MAX)
    x = wrap32(1515870810 + g_srdhm(half_den, -1010580540))
    for _ in range(3):
        one_minus = wrap32((1 << 29) - g_srdhm(half_den, x))
        x = wrap32(x + g_srmpot(g_srdhm(x, one_minus), 2))
    return g_srmpot(wrap32(x - (1 << 29)), 2)


def g_logistic(a: int, integer_bits: int) -> int:
    """gemmlowp::logistic of a Q(integer_bits) raw value -> Q0 raw."""
    if a == 0:
        return 1 << 30
    pos = g_one_over_one_plus_x(g_exp_on_negative_values(-abs(a), integer_bits))
    return pos if a > 0 else wrap32(I32_MAX - pos)


def g_tanh(a: int, integer_bits: int) -> int:
    """gemmlowp::tanh of a Q(integer_bits) raw value -> Q0 raw."""
    if a == 0:
        return 0
    n = a if a < 0 else -a
    # n + n leaves int32 for |a| >= 8 in Q4 (signed overflow: undefined in C++);
    # TFLM's build behaves as if it saturated (checked on every int8 code)
    y = g_one_minus_x_over_one_plus_x(g_exp_on_negative_values(max(n + n, I32_MIN),
                                                               integer_bits))
    return -y if a < 0 else y


def unary_fixedpoint_params(input_scale: float) -> tuple[int, int, int]:
    """TFLM's int8 LOGISTIC / TANH Prepare (kInputIntegerBits = 4): multiplier and
    left shift of input_scale * 2^27 (frexp, no renormalization) and the input radius."""
    real = float(np.float32(input_scale)) * float(1 << 27)
    q, left_shift = math.frexp(real)
    mult = tflite_round(q * (1 << 31))
    radius = math.floor(15.0 * (1 << 27) / (1 << left_shift)) if left_shift >= 0 else \
        math.floor(15.0 * (1 << 27) * (1 << -left_shift))
    return mult, left_shift, radius


def _q4_unary_ref(x: np.ndarray, zp: int, input_scale: float, g_fn, exponent: int,
                  output_zp: int) -> np.ndarray:
    """reference_integer_ops::Logistic/Tanh: saturate outside the input radius,
    else g_fn on the Q4.27 input, rounded to 2^-exponent, plus output_zp."""
    mult, shift, radius = unary_fixedpoint_params(input_scale)
    out = []
    for v in np.asarray(x, np.int64).reshape(-1).tolist():
        d = v - zp
        if d <= -radius:
            out.append(-128)
        elif d >= radius:
            out.append(127)
        else:
            q4 = int(mbqm(d, mult, shift))
            r = g_rdbpot(g_fn(q4, 4), exponent) + output_zp
            out.append(min(max(r, -128), 127))
    return np.array(out, np.int8).reshape(np.shape(x))


def logistic_ref(x: np.ndarray, zp: int, input_scale: float) -> np.ndarray:
    """reference_integer_ops::Logistic: output (1/256, -128)."""
    return _q4_unary_ref(x, zp, input_scale, g_logistic, 23, -128)


def tanh_ref(x: np.ndarray, zp: int, input_scale: float) -> np.ndarray:
    """reference_integer_ops::Tanh: output (1/128, 0)."""
    return _q4_unary_ref(x, zp, input_scale, g_tanh, 24, 0)


def leaky_relu_ref(x: np.ndarray, zp_in: int, s_in: float, zp_out: int, s_out: float,
                   alpha: float) -> np.ndarray:
    """reference_ops::QuantizeLeakyRelu; TFLM's Prepare forms both multipliers in
    float32 (input scale * alpha / output scale) before QuantizeMultiplier."""
    f = np.float32
    m_a, s_a = quantize_multiplier(float(f(f(s_in) * f(alpha) / f(s_out))))
    m_i, s_i = quantize_multiplier(float(f(f(s_in) / f(s_out))))
    d = np.asarray(x, np.int64) - zp_in
    y = np.where(d >= 0, mbqm(d, m_i, s_i), mbqm(d, m_a, s_a)) + zp_out
    return np.clip(y, -128, 127).astype(np.int8)


def _trunc_div(a: int, b: int) -> int:
    q = abs(a) // b
    return q if a >= 0 else -q


def g_srdhm16(a: int, b: int) -> int:
    """gemmlowp SaturatingRoundingDoublingHighMul on int16."""
    if a == b == -32768:
        return 32767
    ab = a * b
    return _trunc_div(ab + ((1 << 14) if ab >= 0 else 1 - (1 << 14)), 1 << 15)


def _sdhm16(a: int, b: int) -> int:
    """hard_swish.h's SaturatingDoublingHighMul (no rounding) on int16."""
    return 32767 if a == b == -32768 else _trunc_div(a * b, 1 << 15)


def _sat16(v: int) -> int:
    return min(max(v, -32768), 32767)


def int16_multiplier(m32: int) -> int:
    """DownScaleInt32ToInt16Multiplier."""
    return 32767 if m32 >= I32_MAX - (1 << 15) else (m32 + (1 << 15)) >> 16


def hard_swish_ref(x: np.ndarray, zp_in: int, s_in: float, zp_out: int, s_out: float):
    """reference_ops::HardSwish<int8_t> with TFLM's HardSwishPrepare (float32 scale
    arithmetic, int16 fixed-point multipliers)."""
    f = np.float32
    hires = f(f(1.0 / 128.0) * f(s_in))
    out_m32, out_exp = quantize_multiplier(float(f(hires / f(s_out))))
    relu_m32, relu_exp = quantize_multiplier(float(f(hires / f(f(3.0) / f(32768.0)))))
    if out_exp > 0:
        raise NotTflite("HardSwish: output scale below input scale / 128")
    out_m, relu_m = int16_multiplier(out_m32), int16_multiplier(relu_m32)
    res = []
    for v in np.asarray(x, np.int64).reshape(-1).tolist():
        hi = (v - zp_in) * 128
        pre_out = g_srdhm16(hi, out_m)
        r = _sat16(hi * (1 << (relu_exp - 1))) if relu_exp > 0 else hi
        r = g_srdhm16(r, relu_m)
        if relu_exp > 0:
            r = _sat16(r * 2)
        elif relu_exp < 0:
            r = g_rdbpot(r, -relu_exp)
        r = (r + (1 << 15)) >> 1                      # [-1, 1] -> [0, 1]
        o = g_rdbpot(_sdhm16(r, pre_out), -out_exp) + zp_out
        res.append(min(max(o, -128), 127))
    return np.array(res, np.int8).reshape(np.shape(x))


def mul_ref(a, b, p):
    """MulElementwise / BroadcastMul4DSlow of reference_integer_ops/mul.h."""
    a, b = np.broadcast_arrays(np.asarray(a, np.int64), np.asarray(b, np.int64))
    prod = (a + p["a_offset"]) * (b + p["b_offset"])
    y = mbqm(prod, p["multiplier"], p["shift"]) + p["output_offset"]
    return np.clip(y, p["act_min"], p["act_max"]).astype(np.int8)


def softmax_ref(x: np.ndarray, mult: int, left_shift: int, diff_min: int) -> np.ndarray:
    """reference_ops::Softmax<int8_t, int8_t>, row by row over the last axis."""
    rows = x.reshape(-1, x.shape[-1]).astype(np.int64)
    out = np.empty(rows.shape, np.int8)
    for r, row in enumerate(rows):
        mx = int(row.max())
        exps = {}
        total = 0
        for c, v in enumerate(row):
            diff = int(v) - mx
            if diff >= diff_min:
                scaled = g_srdhm(wrap32(diff << left_shift), mult)
                exps[c] = g_exp_on_negative_values(scaled, 5)
                total = wrap32(total + g_srmpot(exps[c], -12))
        recip, bits = g_reciprocal(total, 12)
        exponent = bits + 31 - 8
        assert 0 <= exponent <= 31
        for c in range(len(row)):
            if c in exps:
                v = g_rdbpot(g_srdhm(recip, exps[c]), exponent) - 128
                out[r, c] = min(max(v, -128), 127)
            else:
                out[r, c] = -128
    return out.reshape(x.shape)


# TFLite's Prepare-time arithmetic (quantization_util.cc, kernel_util.cc).

def tflite_round(v: float) -> int:
    """std::round: half away from zero."""
    return int(math.floor(abs(v) + 0.5)) * (1 if v >= 0 else -1)


def quantize_multiplier(d: float) -> tuple[int, int]:
    if d == 0.0:
        return 0, 0
    q, shift = math.frexp(d)
    q_fixed = tflite_round(q * 2**31)
    if q_fixed == 2**31:
        q_fixed //= 2
        shift += 1
    if shift < -31:
        q_fixed, shift = 0, 0
    return q_fixed, shift


def fc_multiplier_ref(i_scale: float, w_scale: float, o_scale: float) -> tuple[int, int]:
    """TFLM's CalculateOpDataFullyConnected (GetQuantizedConvolutionMultipler in
    kernel_util.cc): each float32 scale widened to double, then multiplied and
    divided in double (not the float32 product older TensorFlow used)."""
    return quantize_multiplier(float(np.float32(i_scale)) * float(np.float32(w_scale))
                               / float(np.float32(o_scale)))


def act_range(act: int, scale: float, zp: int) -> tuple[int, int]:
    """CalculateActivationRangeQuantized for int8 (0 none, 1 relu, 2 relu_n1_to_1, 3 relu6)."""
    def q(f):
        return zp + tflite_round(float(np.float32(f) / np.float32(scale)))
    lo, hi = -128, 127
    if act == 1:
        lo = max(lo, q(0.0))
    elif act == 3:
        lo, hi = max(lo, q(0.0)), min(hi, q(6.0))
    elif act == 2:
        lo, hi = max(lo, q(-1.0)), min(hi, q(1.0))
    return lo, hi


def softmax_params(input_scale: float, beta: float = 1.0) -> tuple[int, int, int]:
    """PreprocessSoftmaxScaling + CalculateInputRadius (kScaledDiffIntegerBits = 5)."""
    real = min(beta * float(np.float32(input_scale)) * (1 << 26), (1 << 31) - 1.0)
    mult, left_shift = quantize_multiplier(real)
    assert left_shift >= 0
    radius = math.floor(1.0 * 31 * (1 << 26) / (1 << left_shift))
    return mult, left_shift, -radius


def add_params(s1: float, s2: float, so: float):
    """micro/kernels/add_common.cc, int8: left_shift 20."""
    s1, s2, so = (float(np.float32(s)) for s in (s1, s2, so))
    twice_max = 2 * max(s1, s2)
    out = []
    for real in (s1 / twice_max, s2 / twice_max, twice_max / ((1 << 20) * so)):
        m, s = quantize_multiplier(real)
        assert s <= 0
        out.append((m, s))
    return out


def conv_ref(x, w, bias, mult, shift, *, stride, dil, pads, groups, in_off, out_off, act,
             w_off=None, raw=False, out_hw=None):
    """Per-channel int8 conv as TFLite computes it, on NCHW; pads = (top, left).
    w_off: per-output-channel weight offsets (-zero point); raw: the int32 sums
    (ConvInteger) instead of the requantized int8 output."""
    n, c, h, wd = x.shape
    m, cg, kh, kw = w.shape
    (sh, sw), (dh, dw), (pt, pl) = stride, dil, pads
    if out_hw is None:   # symmetric padding (TFLite's SAME/VALID)
        oh = (h + 2 * pt - dh * (kh - 1) - 1) // sh + 1
        ow = (wd + 2 * pl - dw * (kw - 1) - 1) // sw + 1
    else:                # ONNX's own pads: the output size the model declares
        oh, ow = out_hw
    # Padded taps are skipped by TFLite, i.e. contribute 0 to the sum.
    pb = max(0, (oh - 1) * sh + dh * (kh - 1) + 1 - h - pt)
    pr = max(0, (ow - 1) * sw + dw * (kw - 1) + 1 - wd - pl)
    xp = np.pad(x.astype(np.int64) + in_off, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    acc = np.zeros((n, m, oh, ow), np.int64)
    mg = m // groups
    for g in range(groups):
        for ky in range(kh):
            for kx in range(kw):
                patch = xp[:, g * cg:(g + 1) * cg,
                           ky * dh: ky * dh + sh * (oh - 1) + 1: sh,
                           kx * dw: kx * dw + sw * (ow - 1) + 1: sw]
                wk = w[g * mg:(g + 1) * mg, :, ky, kx].astype(np.int64)
                if w_off is not None:
                    wk = wk + np.asarray(w_off, np.int64)[g * mg:(g + 1) * mg, None]
                acc[:, g * mg:(g + 1) * mg] += np.einsum("nchw,mc->nmhw", patch, wk)
    if bias is not None:
        acc += bias.astype(np.int64)[None, :, None, None]
    acc = wrap32(acc)
    if raw:
        return acc.astype(np.int32), (oh, ow)
    y = mbqm(acc, np.asarray(mult)[None, :, None, None], np.asarray(shift)[None, :, None, None])
    return np.clip(wrap32(y + out_off), *act).astype(np.int8), (oh, ow)


def fc_ref(x, w, bias, p, raw=False):
    """reference_integer_ops::FullyConnected / FullyConnectedPerChannel; optional
    per-output weights offsets; raw: the int32 sums (MatMulInteger)."""
    w_off = p.get("weights_offsets")
    w_off = p["weights_offset"] if w_off is None else np.asarray(w_off, np.int64)[:, None]
    acc = (x.astype(np.int64) + p["input_offset"]) @ (w.astype(np.int64) + w_off).T
    if bias is not None:
        acc += bias.astype(np.int64)
    if raw:
        return wrap32(acc).astype(np.int32)
    mult = p["multiplier"] if p.get("multipliers") is None else np.asarray(p["multipliers"])
    shift = p["shift"] if p.get("shifts") is None else np.asarray(p["shifts"])
    y = mbqm(wrap32(acc), mult, shift)
    return np.clip(wrap32(y + p["output_offset"]), p["act_min"], p["act_max"]).astype(np.int8)


def requant_ref(x, p):
    y = mbqm(x.astype(np.int64) + p["input_offset"], p["multiplier"], p["shift"])
    return np.clip(wrap32(y + p["output_offset"]), p["act_min"], p["act_max"]).astype(np.int8)


def mean_multiplier_ref(ratio: float, count: int) -> tuple[int, int]:
    """TFLM's int8 MEAN: QuantizeMultiplier(input_scale / output_scale), then
    QuantizedMeanOrSum folds 1/count in: shift' = 63 - CountLeadingZeros(count),
    clamped to <= 32 and <= 31 + shift; multiplier = (int64(multiplier) << shift')
    / count (C division); shift -= shift'."""
    mult, shift = quantize_multiplier(ratio)
    s = min(63 - (64 - count.bit_length()), 32, 31 + shift)
    return (mult << s) // count, shift - s


def mean_ref(x, p):
    """QuantizedMeanOrSum over the middle axis of [outer][reduce][inner]."""
    acc = (x.astype(np.int64) + p["input_offset"]).sum(axis=1)
    acc = mbqm(wrap32(acc), p["multiplier"], p["shift"])
    return np.clip(acc + p["output_offset"], p["act_min"], p["act_max"]).astype(np.int8)


def add_ref(a, b, p):
    """AddFunc of reference_integer_ops/add.h, numpy-broadcast."""
    a, b = np.broadcast_arrays(a.astype(np.int64), b.astype(np.int64))
    sa = mbqm_lt1(wrap32((a + p["a_offset"]) << p["left_shift"]), p["a_multiplier"], p["a_shift"])
    sb = mbqm_lt1(wrap32((b + p["b_offset"]) << p["left_shift"]), p["b_multiplier"], p["b_shift"])
    raw = mbqm_lt1(wrap32(sa + sb), p["output_multiplier"], p["output_shift"])
    return np.clip(wrap32(raw + p["output_offset"]), p["act_min"], p["act_max"]).astype(np.int8)


def pool_ref(x, kind, k, stride, dil, pads, out_hw, act, count_include_pad=False, rescale=None):
    """TFLite int8 Max/AveragePool on [planes][h][w], with ONNX dilation / count_include_pad.
    rescale = (input_offset, output_offset, multipliers, shifts): the average pool that
    also changes parameters, MultiplyByQuantizedMultiplier(sum (x + input_offset),
    per-count multiplier) + output_offset."""
    planes, h, w = x.shape
    oh, ow = out_hw
    y = np.empty((planes, oh, ow), np.int64)
    pt, pl, pb, pr = pads
    for oy in range(oh):
        for ox in range(ow):
            ys = [oy * stride[0] - pt + i * dil[0] for i in range(k[0])]
            xs = [ox * stride[1] - pl + j * dil[1] for j in range(k[1])]
            yin = [v for v in ys if 0 <= v < h]
            xin = [v for v in xs if 0 <= v < w]
            win = x[:, yin][:, :, xin].astype(np.int64).reshape(planes, -1)
            if kind == "max":
                y[:, oy, ox] = win.max(axis=1, initial=-128)
                continue
            if count_include_pad:
                cnt = (sum(-pt <= v < h + pb for v in ys) * sum(-pl <= v < w + pr for v in xs))
            else:
                cnt = len(yin) * len(xin)
            s = win.sum(axis=1)
            if rescale is not None:
                in_off, out_off, mults, shifts = rescale
                s = s + in_off * win.shape[1]
                y[:, oy, ox] = mbqm(s, mults[cnt - 1], shifts[cnt - 1]) + out_off
                continue
            y[:, oy, ox] = np.where(s > 0, (s + cnt // 2) // cnt, -((-s + cnt // 2) // cnt))
    return np.clip(y, *act).astype(np.int8)


def tfl_out_and_pad(in_size, filt, stride, dil, same):
    """ComputePaddingHeightWidth: (output size, leading padding)."""
    eff = (filt - 1) * dil + 1
    out = (in_size + stride - 1) // stride if same else (in_size + stride - eff) // stride
    return out, max((out - 1) * stride + eff - in_size, 0) // 2


# --- the QDQ interpreter ------------------------------------------------------------


class NotTflite(Exception):
    """The graph has a part that TFLite's int8 scheme does not express."""


@dataclass(frozen=True)
class Group:
    """One integer op: the ONNX nodes it replaces, its int8 operands and result."""
    op: onnx.NodeProto              # the float op (MatMul for MatMul + Add)
    act: onnx.NodeProto | None      # Relu/Clip fused before the QuantizeLinear
    q: onnx.NodeProto               # the QuantizeLinear making `output`
    bias_add: onnx.NodeProto | None  # Add of an int32 bias after a MatMul
    inputs: tuple[str, ...]         # the int8 tensors it reads
    output: str


SHAPE_OPS = ("Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose")


def _attrs(node) -> dict:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _f32(v) -> float:
    return float(np.float32(v))


def requantize_multiplier(s_in: float, s_out: float) -> tuple[int, int]:
    """TFLM's int8 -> int8 QUANTIZE: double(input_scale) / double(output_scale)."""
    return quantize_multiplier(_f32(s_in) / _f32(s_out))


def clamp_range(scale: float, zp: int, lo: float | None, hi: float | None) -> tuple[int, int]:
    """CalculateActivationRangeQuantized, for any bounds (TFLite's fused ReLU,
    ReLU6, ReLU_N1_TO_1 are lo/hi = 0/None, 0/6, -1/1)."""
    def q(f):
        return zp + tflite_round(float(np.float32(f) / np.float32(scale)))
    return (-128 if lo is None else max(-128, q(lo)), 127 if hi is None else min(127, q(hi)))


class Reference:
    """TFLite-int8 semantics of a QDQ ONNX model (see the module docstring)."""

    def __init__(self, model: onnx.ModelProto):
        model = onnx.shape_inference.infer_shapes(model)
        g = model.graph
        self.model = model
        self.consts = {t.name: numpy_helper.to_array(t) for t in g.initializer}
        for n in g.node:
            if n.op_type == "Constant":
                self.consts[n.output[0]] = numpy_helper.to_array(_attrs(n)["value"])
        self.shapes = {}
        for vi in list(g.input) + list(g.output) + list(g.value_info):
            dims = vi.type.tensor_type.shape.dim
            self.shapes[vi.name] = tuple(d.dim_value for d in dims)
        self.nodes = [n for n in g.node if n.op_type != "Constant"]
        self.producer = {o: n for n in self.nodes for o in n.output}
        self.inputs = [i.name for i in g.input if i.name not in self.consts]
        self.outputs = [o.name for o in g.output]
        self.groups = [self._group(n) for n in self.nodes if n.op_type == "QuantizeLinear"]
        used = {id(n) for gr in self.groups for n in (gr.op, gr.act, gr.q, gr.bias_add) if n}
        for n in self.nodes:
            if n.op_type in ("QuantizeLinear", "DequantizeLinear") or id(n) in used:
                continue
            if n.op_type in SHAPE_OPS and self._is_int8(n.input[0]):
                continue
            raise NotTflite(f"{n.op_type} '{n.name}' runs in float outside a "
                            f"DequantizeLinear -> op -> QuantizeLinear group")

    # -- structure
    def _dq(self, name: str):
        n = self.producer.get(name)
        return n if n is not None and n.op_type == "DequantizeLinear" else None

    def _is_int8(self, name: str) -> bool:
        if name in self.consts:
            return self.consts[name].dtype == np.int8
        n = self.producer.get(name)
        if n is None:
            elem = next(i.type.tensor_type.elem_type for i in self.model.graph.input
                        if i.name == name)
            return elem == onnx.TensorProto.INT8
        return n.op_type == "QuantizeLinear" or (n.op_type in SHAPE_OPS
                                                 and self._is_int8(n.input[0]))

    def _scale_zp(self, node):
        scale = np.asarray(self.consts[node.input[1]], np.float32).reshape(-1)
        zp = (np.asarray(self.consts[node.input[2]]).reshape(-1).astype(np.int64)
              if len(node.input) > 2 and node.input[2] else np.zeros(scale.size, np.int64))
        return scale, zp

    def _group(self, q) -> Group:
        op = self.producer.get(q.input[0])
        if op is None or op.op_type == "DequantizeLinear":
            raise NotTflite(f"QuantizeLinear '{q.name}' of a float graph input or of a "
                            f"DequantizeLinear: not an integer op")
        act = None
        if op.op_type in ("Relu", "Clip") and self._dq(op.input[0]) is None \
                and op.input[0] in self.producer:
            act, op = op, self.producer[op.input[0]]
        bias_add = None
        if op.op_type == "Add":
            for mm_i in (0, 1):
                mm = self.producer.get(op.input[mm_i])
                if mm is not None and mm.op_type == "MatMul":
                    bias_add, op = op, mm
                    break
        runtime = [i for i in op.input if i and self._dq(i) is not None
                   and self._dq(i).input[0] not in self.consts]
        if op.op_type not in SHAPE_OPS + ("Relu", "Clip", "Pad") and bias_add is None:
            for i in op.input:
                if i and self._dq(i) is None and i not in self.consts:
                    raise NotTflite(f"{op.op_type} '{op.name}' reads '{i}', which is not "
                                    f"a dequantized int8 tensor")
        ins = tuple(self._dq(i).input[0] for i in runtime)
        return Group(op, act, q, bias_add, ins, q.output[0])

    # -- values
    def _operand(self, name: str, values):
        """(int data, scales, zero points, axis) behind a DequantizeLinear output."""
        dq = self._dq(name)
        if dq is None:
            raise NotTflite(f"'{name}' is not a DequantizeLinear output")
        src = dq.input[0]
        data = self.consts[src] if src in self.consts else values[src]
        scale, zp = self._scale_zp(dq)
        axis = _attrs(dq).get("axis", 1) if scale.size > 1 else None
        if axis is not None and axis < 0:
            axis += np.ndim(data)
        return np.asarray(data), scale, zp, axis

    def run(self, feeds: dict[str, np.ndarray], override=None) -> dict[str, np.ndarray]:
        """Every int8 tensor of the model on `feeds` (int8 graph inputs). With
        `override(name) -> array | None`, a produced tensor is computed, recorded,
        and then replaced by the override's value for the ops downstream."""
        values = {k: np.asarray(v) for k, v in feeds.items()}
        results = dict(values)
        groups = {gr.output: gr for gr in self.groups}
        for n in self.nodes:
            if n.op_type == "QuantizeLinear":
                gr = groups[n.output[0]]
                out = self.run_group(gr, values)
            elif n.op_type in SHAPE_OPS and self._is_int8(n.input[0]):
                out = self._shape_op(n, values[n.input[0]])
            else:
                continue
            name = n.output[0]
            want = self.shapes.get(name)
            assert want is None or not want or tuple(out.shape) == want, (name, out.shape, want)
            results[name] = out
            replaced = override(name) if override is not None else None
            values[name] = out if replaced is None else np.asarray(replaced).reshape(out.shape)
        return results

    def _shape_op(self, n, x: np.ndarray) -> np.ndarray:
        a = _attrs(n)
        if n.op_type == "Transpose":
            return np.ascontiguousarray(np.transpose(x, a.get("perm")))
        out = self.shapes.get(n.output[0])
        if not out and n.op_type == "Flatten":
            axis = a.get("axis", 1) % (x.ndim or 1) if x.ndim else 0
            out = (math.prod(x.shape[:axis]), math.prod(x.shape[axis:]))
        if not out and n.op_type == "Reshape":
            spec = [int(v) for v in self.consts[n.input[1]]]
            spec = [x.shape[i] if v == 0 and not a.get("allowzero", 0) else v
                    for i, v in enumerate(spec)]
            out = np.empty(x.shape).reshape(spec).shape
        if not out:
            raise NotTflite(f"{n.op_type} '{n.name}': output shape unknown")
        return x.reshape(out)

    def _out_qparams(self, gr: Group) -> tuple[float, int]:
        scale, zp = self._scale_zp(gr.q)
        if scale.size != 1:
            raise NotTflite(f"QuantizeLinear '{gr.q.name}': per-axis activations")
        return float(scale[0]), int(zp[0])

    def _act(self, gr: Group, scale: float, zp: int) -> tuple[int, int]:
        if gr.act is None:
            return -128, 127
        lo, hi = _clip_bounds(gr.act, self.consts)
        return clamp_range(scale, zp, lo, hi)

    def run_group(self, gr: Group, values) -> np.ndarray:
        """The group's int8 output from `values` (every int8 tensor it reads)."""
        op = gr.op
        o_scale, o_zp = self._out_qparams(gr)
        act = self._act(gr, o_scale, o_zp)
        kind = op.op_type
        if kind == "Conv":
            return self._conv(gr, values, o_scale, o_zp, act)
        if kind in ("MatMul", "Gemm"):
            return self._fc(gr, values, o_scale, o_zp, act)
        if kind == "Add":
            (a, sa, za, _), (b, sb, zb, _) = (self._operand(i, values) for i in op.input)
            p = dict(zip(("a", "b", "o"), add_params(sa[0], sb[0], o_scale)))
            params = dict(a_offset=-int(za[0]), a_multiplier=p["a"][0], a_shift=p["a"][1],
                          b_offset=-int(zb[0]), b_multiplier=p["b"][0], b_shift=p["b"][1],
                          left_shift=20, output_offset=o_zp, output_multiplier=p["o"][0],
                          output_shift=p["o"][1], act_min=act[0], act_max=act[1])
            return add_ref(a, b, params)
        if kind == "Mul":
            (a, sa, za, _), (b, sb, zb, _) = (self._operand(i, values) for i in op.input)
            m, sh = quantize_multiplier(_f32(sa[0]) * _f32(sb[0]) / _f32(o_scale))
            return mul_ref(a, b, dict(a_offset=-int(za[0]), b_offset=-int(zb[0]),
                                      output_offset=o_zp, multiplier=m, shift=sh,
                                      act_min=act[0], act_max=act[1]))
        if kind in ("Sigmoid", "Tanh"):
            x, s, z, _ = self._operand(op.input[0], values)
            want = (_f32(1 / 256), -128) if kind == "Sigmoid" else (_f32(1 / 128), 0)
            if (_f32(o_scale), o_zp) != want:
                raise NotTflite(f"{kind} '{op.name}': TFLite's int8 output is {want}")
            y = (logistic_ref if kind == "Sigmoid" else tanh_ref)(x, int(z[0]), s[0])
            return np.clip(y, *act).astype(np.int8)
        if kind == "HardSwish":
            x, s, z, _ = self._operand(op.input[0], values)
            return np.clip(hard_swish_ref(x, int(z[0]), s[0], o_zp, o_scale), *act).astype(
                np.int8)
        if kind == "LeakyRelu":
            x, s, z, _ = self._operand(op.input[0], values)
            y = leaky_relu_ref(x, int(z[0]), s[0], o_zp, o_scale, _attrs(op).get("alpha", 0.01))
            return np.clip(y, *act).astype(np.int8)
        if kind == "Pad":
            return self._pad(gr, values, o_scale, o_zp, act)
        if kind in ("MaxPool", "AveragePool"):
            return self._pool(gr, values, o_scale, o_zp, act)
        if kind in ("GlobalAveragePool", "ReduceMean"):
            return self._mean(gr, values, o_scale, o_zp, act)
        if kind == "Softmax":
            x, s, _, _ = self._operand(op.input[0], values)
            axis = _attrs(op).get("axis", -1)
            if axis % x.ndim != x.ndim - 1:
                raise NotTflite(f"Softmax '{op.name}' over axis {axis}: TFLite's is the last")
            if (o_zp, _f32(o_scale)) != (-128, _f32(1 / 256)):
                raise NotTflite(f"Softmax '{op.name}' output is not (1/256, -128)")
            y = softmax_ref(x, *softmax_params(s[0]))
            return np.clip(y, *act).astype(np.int8)
        if kind in ("Relu", "Clip"):
            x, s, z, _ = self._operand(op.input[0], values)
            lo, hi = _clip_bounds(op, self.consts)
            return self._requantize(x, s[0], z[0], o_scale, o_zp,
                                    clamp_range(o_scale, o_zp, lo, hi))
        if kind in SHAPE_OPS:
            x, s, z, _ = self._operand(op.input[0], values)
            y = self._shape_op(op, x)
            return self._requantize(y, s[0], z[0], o_scale, o_zp, act)
        if kind == "Concat":
            axis = _attrs(op)["axis"]
            parts = [self._requantize(x, s[0], z[0], o_scale, o_zp, (-128, 127))
                     for x, s, z, _ in (self._operand(i, values) for i in op.input)]
            return np.clip(np.concatenate(parts, axis=axis), *act).astype(np.int8)
        raise NotTflite(f"{kind} '{op.name}' has no TFLite int8 kernel here")

    @staticmethod
    def _requantize(x, s_in, z_in, s_out, z_out, act) -> np.ndarray:
        if (_f32(s_in), int(z_in)) == (_f32(s_out), int(z_out)):
            return np.clip(x, *act).astype(np.int8)
        m, sh = requantize_multiplier(s_in, s_out)
        return requant_ref(np.asarray(x), dict(input_offset=-int(z_in), output_offset=z_out,
                                               multiplier=m, shift=sh, act_min=act[0],
                                               act_max=act[1]))

    def _multipliers(self, s_in, w_scales, s_out, count):
        w_scales = list(w_scales) * (count if len(w_scales) == 1 else 1)
        pairs = [quantize_multiplier(_f32(s_in) * _f32(s) / _f32(s_out)) for s in w_scales]
        return (np.array([m for m, _ in pairs], np.int64), np.array([s for _, s in pairs],
                                                                     np.int64))

    def _bias(self, name, values, count):
        if not name:
            return None
        b, _, _, _ = self._operand(name, values)
        if b.dtype != np.int32 or b.size != count:
            raise NotTflite(f"bias '{name}' is not an int32 vector of {count}")
        return b.reshape(-1)

    def _conv(self, gr, values, o_scale, o_zp, act):
        op = gr.op
        x, xs, xz, _ = self._operand(op.input[0], values)
        w, ws, wz, w_axis = self._operand(op.input[1], values)
        if np.any(wz != 0) or (w_axis not in (None, 0)):
            raise NotTflite(f"Conv '{op.name}': weights must be symmetric, per tensor or "
                            f"per output channel")
        m = w.shape[0]
        bias = self._bias(op.input[2] if len(op.input) > 2 else "", values, m)
        a = _attrs(op)
        one_d = x.ndim == 3
        if one_d:
            x, w = x[:, :, None, :], w[:, :, None, :]
        out_shape = self.shapes[op.output[0]] if self.shapes.get(op.output[0]) else \
            self.shapes[gr.output]
        out_sp = tuple(out_shape[2:]) if not one_d else (1, out_shape[2])
        kernel = w.shape[2:]
        strides = list(a.get("strides", [1] * (x.ndim - 2 - one_d)))
        dil = list(a.get("dilations", [1] * (x.ndim - 2 - one_d)))
        begin = _begin_pads(a, x.shape[2 + one_d:], out_sp[one_d:], kernel[one_d:],
                            strides, dil)
        if one_d:
            strides, dil, begin = [1] + strides, [1] + dil, [0] + begin
        mult, shift = self._multipliers(xs[0], ws, o_scale, m)
        y, _ = conv_ref(x, w, bias, mult, shift, stride=strides, dil=dil, pads=begin,
                        groups=a.get("group", 1), in_off=-int(xz[0]), out_off=o_zp, act=act,
                        out_hw=out_sp)
        return y[:, :, 0, :] if one_d else y

    def _fc(self, gr, values, o_scale, o_zp, act):
        op = gr.op
        a_name, w_name = op.input[0], op.input[1]
        x, xs, xz, _ = self._operand(a_name, values)
        w, ws, wz, w_axis = self._operand(w_name, values)
        attrs = _attrs(op)
        if op.op_type == "Gemm" and (attrs.get("transA", 0) or attrs.get("alpha", 1.0) != 1.0
                                     or attrs.get("beta", 1.0) != 1.0):
            raise NotTflite(f"Gemm '{op.name}' with transA/alpha/beta")
        trans_b = op.op_type == "Gemm" and attrs.get("transB", 0)
        if w.ndim != 2 or np.any(wz != 0):
            raise NotTflite(f"{op.op_type} '{op.name}': weights must be a symmetric matrix")
        w_nk = w if trans_b else w.T
        n, k = w_nk.shape
        if w_axis is not None and w_axis != (0 if trans_b else 1):
            raise NotTflite(f"{op.op_type} '{op.name}': weight scales not per output")
        bias_name = ""
        if gr.bias_add is not None:
            bias_name = next(i for i in gr.bias_add.input if i != op.output[0])
        elif op.op_type == "Gemm" and len(op.input) > 2:
            bias_name = op.input[2]
        bias = self._bias(bias_name, values, n)
        lead = x.shape[:-1]
        p = dict(input_offset=-int(xz[0]), weights_offset=0, output_offset=o_zp,
                 act_min=act[0], act_max=act[1], multiplier=0, shift=0)
        if ws.size == 1:
            p["multiplier"], p["shift"] = fc_multiplier_ref(xs[0], ws[0], o_scale)
        else:
            p["multipliers"], p["shifts"] = self._multipliers(xs[0], ws, o_scale, n)
        y = fc_ref(x.reshape(-1, k), np.ascontiguousarray(w_nk), bias, p)
        return y.reshape(*lead, n)

    def _pool(self, gr, values, o_scale, o_zp, act):
        op = gr.op
        x, xs, xz, _ = self._operand(op.input[0], values)
        if (_f32(xs[0]), int(xz[0])) != (_f32(o_scale), o_zp):
            raise NotTflite(f"{op.op_type} '{op.name}': TFLite pools with equal input and "
                            f"output parameters")
        a = _attrs(op)
        if a.get("count_include_pad", 0):
            raise NotTflite(f"AveragePool '{op.name}': count_include_pad")
        one_d = x.ndim == 3
        if one_d:
            x = x[:, :, None, :]
        n, c, h, w = x.shape
        out_shape = self.shapes[gr.output]
        out_sp = (1, out_shape[2]) if one_d else tuple(out_shape[2:])
        kernel = list(a["kernel_shape"])
        strides = list(a.get("strides", [1] * len(kernel)))
        dil = list(a.get("dilations", [1] * len(kernel)))
        begin = _begin_pads(a, x.shape[2 + one_d:], out_sp[one_d:], kernel, strides, dil)
        if one_d:
            kernel, strides, dil, begin = [1] + kernel, [1] + strides, [1] + dil, [0] + begin
        pads = (begin[0], begin[1], 0, 0)   # end pads only matter with count_include_pad
        y = pool_ref(x.reshape(n * c, h, w), "max" if op.op_type == "MaxPool" else "avg",
                     kernel, strides, dil, pads, out_sp, act)
        y = y.reshape(n, c, *out_sp)
        return y[:, :, 0, :] if one_d else y

    def _pad(self, gr, values, o_scale, o_zp, act):
        """PAD / PADV2 / MIRROR_PAD: codes moved, the constant is the zero point (or
        the constant value quantized with TFLite's rounding); equal parameters."""
        op = gr.op
        x, s, z, _ = self._operand(op.input[0], values)
        if (_f32(s[0]), int(z[0])) != (_f32(o_scale), o_zp):
            raise NotTflite(f"Pad '{op.name}': TFLite pads with equal parameters")
        a = _attrs(op)
        pads = [int(v) for v in self.consts[op.input[1]]] if len(op.input) > 1 else a["pads"]
        axes = list(range(x.ndim))
        if len(op.input) > 3 and op.input[3]:
            axes = [int(v) % x.ndim for v in self.consts[op.input[3]]]
        width = [(0, 0)] * x.ndim
        for i, ax in enumerate(axes):
            width[ax] = (pads[i], pads[i + len(axes)])
        if any(p < 0 for w in width for p in w):
            raise NotTflite(f"Pad '{op.name}': negative pads")
        mode = a.get("mode", b"constant")
        mode = mode.decode() if isinstance(mode, bytes) else mode
        if mode != "constant":
            return np.clip(np.pad(x, width, mode=mode), *act).astype(np.int8)
        code = int(z[0])
        if len(op.input) > 2 and op.input[2]:
            v = float(np.asarray(self._const_float(op.input[2])).reshape(-1)[0])
            code = int(np.clip(int(z[0]) + tflite_round(float(np.float32(v) / np.float32(s[0]))),
                               -128, 127))
        return np.clip(np.pad(x, width, constant_values=code), *act).astype(np.int8)

    def _const_float(self, name: str):
        if name in self.consts:
            return self.consts[name]
        dq = self._dq(name)
        data, scale, zp, _ = self._operand(name, {})
        return (data.astype(np.float64) - zp[0]) * scale[0] if dq is not None else data

    def _mean(self, gr, values, o_scale, o_zp, act):
        op = gr.op
        x, xs, xz, _ = self._operand(op.input[0], values)
        a = _attrs(op)
        if op.op_type == "GlobalAveragePool":
            axes = list(range(2, x.ndim))
        else:
            axes = list(a.get("axes", [])) or (
                [int(v) for v in self.consts[op.input[1]]] if len(op.input) > 1 and op.input[1]
                else [])
            if not axes:
                if a.get("noop_with_empty_axes", 0):
                    raise NotTflite(f"ReduceMean '{op.name}' with noop_with_empty_axes")
                axes = list(range(x.ndim))
            axes = sorted(v % x.ndim for v in axes)
        if axes != list(range(axes[0], axes[-1] + 1)):
            raise NotTflite(f"{op.op_type} '{op.name}': non-adjacent axes")
        outer = math.prod(x.shape[:axes[0]])
        count = math.prod(x.shape[axes[0]:axes[-1] + 1])
        inner = math.prod(x.shape[axes[-1] + 1:])
        mult, shift = mean_multiplier_ref(_f32(xs[0]) / _f32(o_scale), count)
        p = dict(input_offset=-int(xz[0]), output_offset=o_zp, multiplier=mult, shift=shift,
                 act_min=act[0], act_max=act[1])
        y = mean_ref(x.reshape(outer, count, inner), p)
        return y.reshape(self.shapes[gr.output])


def _clip_bounds(node, consts) -> tuple[float | None, float | None]:
    if node.op_type == "Relu":
        return 0.0, None
    a = _attrs(node)
    if "min" in a or "max" in a:   # Clip before opset 11
        return a.get("min"), a.get("max")
    out = []
    for i in (1, 2):
        name = node.input[i] if len(node.input) > i else ""
        out.append(float(np.asarray(consts[name]).reshape(-1)[0]) if name else None)
    return out[0], out[1]


def _begin_pads(attrs, in_sp, out_sp, kernel, strides, dil) -> list[int]:
    """Leading padding per spatial dim from ONNX's pads / auto_pad."""
    nsp = len(in_sp)
    auto = attrs.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    if auto == "NOTSET":
        return list(attrs.get("pads", [0] * 2 * nsp))[:nsp]
    if auto == "VALID":
        return [0] * nsp
    begin = []
    for i in range(nsp):
        total = max((out_sp[i] - 1) * strides[i] + (kernel[i] - 1) * dil[i] + 1 - in_sp[i], 0)
        begin.append(total // 2 if auto == "SAME_UPPER" else total - total // 2)
    return begin

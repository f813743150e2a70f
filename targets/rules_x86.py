"""x86-64 lowering rules for the "avx2" (AVX2 + FMA) and "avx512" (AVX-512 VNNI)
kernel variants.

Contract: each rule lowers its node as the generic rule would (the generic
rule runs first and its call is taken back out, so geometry, multipliers,
shifts and clamps are computed in one place), then swaps that call for an
x86 kernel and does the kernel's Prepare work here:

- convolution, groups 1 (`aot_conv2d_{avx2,avx512}_{f32,s8}`) and depthwise
  (`aot_depthwise_conv2d_{avx2,avx512}_{f32,s8}`):
  the kernels copy the input into padded "phase planes" (one per stride
  phase, see runtime_c/aot_conv2d_x86_impl.h) so every tap is a contiguous
  row for any stride, dilation and padding; `phase_scratch` sizes that
  scratch exactly as the C computes it (depthwise: one channel at a time).
  The float AVX-512 depthwise kernel instead reads the input in place (lane
  masks in scratch; stride 1 on rows not a whole number of vectors copies 8
  channels at a time into flat zero-bordered planes, `dw_f32_pflat`; other
  stride 1 square 3x3 / 5x5 kernels copy one channel at a time into a
  zero-bordered plane, `dw_f32_pad`; small planes of
  16 channels or more go to `aot_depthwise_conv2d_lanes_avx512_f32`, channels in
  lanes, `dw_f32_lanes`), and so does the float AVX-512 convolution
  on rows of more than 16 pixels (`conv_f32_direct`; shorter rows: planes per tap
  column without padding columns, `conv_f32_coltaps`), and so do its 1x1
  convolutions on few pixels (`conv_f32_oc_lanes`: output channels in lanes);
  every path of that kernel reads weights packed in blocks of 16 output
  channels. Between a lanes depthwise convolution and a pointwise one the float
  activation is held channel-blocked ("c16", [N][C / 16][H][W][16], `c16_tensors`,
  decided once for the whole graph): both sides then take
  `aot_{depthwise,pointwise}_conv2d_c16_avx512_f32` and nobody transposes it.
  A float convolution with one output pixel whose window
  is the whole input (`fully_connected`) becomes aot_matmul_{avx2,avx512}_f32
  on transposed weights.
  int8 weights are packed for the kernel's broadcast loads (int16 pairs /
  int8 quads per int32, zero padded; 1x1 int8 convolutions on at most 16 pixels
  put output channels in lanes instead, `conv_s8_oc_lanes`), and for VNNI (u8 x s8)
  (input_offset - 128) * sum(w) is folded into the bias. Most dense int8 convolutions
  on avx512 (`conv_s8_lanes`) take `aot_conv2d_lanes_avx512_s8` instead: output
  channels in lanes, reading a bordered quad copy of the input (no phase planes),
  weights [blocks of 16 channels][kh][ceil(in_c / 4)][kw][16] (`lanes_weights`) and
  per-lane requantization constants (`lanes_table`), scratch `lanes_scratch`; the
  rest (one input channel, out_c leaving more than a quarter of the lanes idle, a
  shift outside the fast requantization form) keep `aot_conv2d_avx512_s8`.
  The int8 depthwise kernel sums in float, exact only while
  sum |w| * 255 < 2^24 per channel: checked here, else `Fallback`. Stride 1 with
  out_w == in_w and kernel_w <= 4 takes `aot_depthwise_conv2d_rows_avx512_s8`
  instead: a kernel row's taps as one VNNI quad, int32 sums (bias folded as above).
  Stride_w 2 with kernel_w <= 4 takes `aot_depthwise_conv2d_rows_s2_avx512_s8`:
  the same quads, built per input row with one vpermw (no per-channel phase planes
  of pixels). Small planes (`dw_regs_preferred`) take
  `aot_depthwise_conv2d_regs_avx512_s8` before either: the quads built in registers
  by shuffles tabulated here (`dw_regs_tables`), with every channel's requantization
  constants (`dw_regs_channels`; a channel outside their form keeps the row kernels).
- int8 fully connected (`aot_fully_connected_{avx2,avx512}_s8`): bias folded; avx512
  weights re-laid out as blocks of 16 outputs x 64 inputs (`fc_blocks`).
- int8 add of same-shape tensors (`aot_add_{avx2,avx512}_s8`; on avx512 as two int16
  table lookups, `aot_add_lut_avx512_s8`, where `add_lut.add_lut_tables` finds tables
  exact on all 65536 code pairs).
- int8 average pooling whose windows are whole planes (`aot_avgpool2d_avx512_s8`).
- int8 2-D transposes of 2..8 columns, e.g. an image's NHWC -> NCHW
  (`aot_transpose2d_{avx2,avx512}_s8`, vpshufb tables from `transpose_shuffles`):
  the out-of-place form only; an in-place call stays, with it as its fallback.
- float 2-D transposes of 2..8 columns (`aot_transpose2d_{avx2,avx512}_f32`, permute
  indices from `transpose_perms_f32`), as the int8 ones.
- float Gemm/MatMul with contiguous B rows (`aot_matmul_{avx2,avx512}_f32`).
- float Add/Sub/Mul/Div with any broadcast (`aot_{add,sub,mul,div}_{avx2,avx512}_f32`,
  the generic params: bit for bit the portable results) and AveragePool
  (`aot_avgpool2d_{avx2,avx512}_f32`, the generic params; sums in lanes).

int8 kernels are bit-exact with the portable ones (no saturating
instruction: vpmaddwd on sign-extended int8 and vpdpbusd cannot saturate);
float kernels use FMA, so they differ from the portable build by rounding.
Forms a fast path lacks raise `Fallback` and the next rule lowers the node.
Registered in targets/registry.py only.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from aot.program import Call, Null, Params, Ref, Scratch
from aot.targets import rules_generic as g
from aot.targets import rules_int8 as q
from aot.targets.add_lut import add_lut_tables
from aot.targets.lowering import Fallback, LoweringContext, Unsupported
from aot.targets.rules_inplace import transpose_as_2d

S8 = np.dtype(np.int8)
# Pixel tile of each kernel (the phase planes' read slack depends on it) and the
# input channels interleaved per 4-byte plane element.
NR = {"aot_conv2d_avx2_f32": 16, "aot_conv2d_avx512_f32": 32,
      "aot_conv2d_avx2_s8": 16, "aot_conv2d_avx512_s8": 48,
      "aot_depthwise_conv2d_avx2_f32": 32, "aot_depthwise_conv2d_avx2_s8": 32,
      "aot_depthwise_conv2d_avx512_f32": 64, "aot_depthwise_conv2d_avx512_s8": 64}
LANES = {"aot_conv2d_avx2_s8": 2, "aot_conv2d_avx512_s8": 4}     # others: 1
MAX_STRIDE = 16      # AOT_X86_MAX_STRIDE in runtime_c/aot_conv2d_x86_impl.h


def _round_up(x: int, m: int) -> int:
    return -(-x // m) * m


def _wrap32(values) -> np.ndarray:
    v = np.asarray(values, np.int64)
    return ((v + 2**31) % 2**32 - 2**31).astype(np.int32)


def pointwise_direct(p: dict) -> bool:
    """A 1x1, stride 1, unpadded convolution: the float kernel reads the input as is."""
    return (p["kernel_h"] == p["kernel_w"] == 1 and p["stride_h"] == p["stride_w"] == 1
            and p["pad_top"] == p["pad_left"] == 0
            and (p["out_h"], p["out_w"]) == (p["in_h"], p["in_w"]))


DW_FLAT_MAX_TAPS, DW_FLAT_MAX_PIXELS = 64, 512   # runtime_c/aot_depthwise_avx512_impl.h


def dw_flat_direct(p: dict) -> bool:
    """aot_dw_flat_direct: the flat path's virtual pixels are the output's."""
    return p["stride_h"] == p["stride_w"] == 1 and p["in_w"] == p["out_w"]


def dw_flat(p: dict) -> bool:
    """aot_dw_flat_applies (runtime_c/aot_depthwise_avx512_impl.h): the int8
    avx512 depthwise kernel computes the plane flat from the input plane (and,
    unless direct, picks the strided outputs from it)."""
    if p["kernel_h"] * p["kernel_w"] > DW_FLAT_MAX_TAPS:
        return False
    return dw_flat_direct(p) or (p["stride_h"] * (p["out_h"] - 1) < p["in_h"]
                                 and p["stride_w"] * (p["out_w"] - 1) < p["in_w"]
                                 and p["in_h"] * p["in_w"] <= DW_FLAT_MAX_PIXELS)


def dw_flat_scratch(p: dict) -> int:
    """Scratch of the flat path: tap masks per 16 virtual pixels, one channel's float
    plane, and unless direct the virtual sums and the gather indices."""
    rows = p["out_h"] if dw_flat_direct(p) else p["stride_h"] * (p["out_h"] - 1) + 1
    nv = -(-rows * p["in_w"] // 64) * 4
    size = (_round_up(p["kernel_h"] * p["kernel_w"] * nv * 2, 64)
            + _round_up(p["in_h"] * p["in_w"], 16) * 4)
    if not dw_flat_direct(p):
        size += nv * 16 * 4 + -(-p["out_h"] * p["out_w"] // 16) * 16 * 4
    return size


def dw_rows(p: dict) -> bool:
    """aot_depthwise_conv2d_rows_avx512_s8 applies: stride 1, out_w == in_w, a kernel
    row's taps fit one VNNI quad."""
    return dw_flat_direct(p) and p["kernel_w"] <= 4


def dw_rows_ahead(p: dict) -> int:
    """1 where the row-quad depthwise kernels build a channel's quads one channel ahead,
    in a second set (output planes of at most 64 pixels), else 0."""
    return 1 if p["out_h"] * p["out_w"] <= 64 else 0


def dw_rows_scratch(p: dict) -> int:
    """Its scratch: masks, 8 bytes per 16 input pixels (byte masks, or column masks
    [kernel_w][ceil(in plane / 16)] int16), then the row quads of a channel with the
    pad rows above and below (int32), a second set of them if `dw_rows_ahead`."""
    below = max(0, (p["kernel_h"] - 1) * p["dilation_h"] - p["pad_top"])
    quads = (p["pad_top"] + below) * p["in_w"] + _round_up(p["out_h"] * p["out_w"], 16)
    return _round_up(8 * -(-p["in_h"] * p["in_w"] // 16), 64) + (1 + dw_rows_ahead(p)) * quads * 4


def dw_rows_s2(p: dict) -> bool:
    """aot_depthwise_conv2d_rows_s2_avx512_s8 applies: stride_w 2, dilation_w 1,
    kernel_w <= 4 (a kernel row's taps are 4 consecutive input bytes)."""
    return p["stride_w"] == 2 and p["dilation_w"] == 1 and p["kernel_w"] <= 4


def dw_rows_s2_scratch(p: dict) -> int:
    """Its scratch: the kernel rows' offsets, then stride_h phase planes of quads over
    rows q_min .. out_h - 1 + q_max (q = floor((ky * dilation_h - pad_top) / stride_h)),
    read slack of 16 (int32); a second set of them if `dw_rows_ahead`."""
    qs = [(ky * p["dilation_h"] - p["pad_top"]) // p["stride_h"] for ky in range(p["kernel_h"])]
    rows = p["out_h"] + max(qs) - min(qs)
    return (_round_up(p["kernel_h"], 16)
            + (1 + dw_rows_ahead(p)) * p["stride_h"] * _round_up(rows * p["out_w"] + 16, 16)) * 4


DW_REGS_WINDOW = 128       # bytes of plane in two registers (aot_depthwise_conv2d_regs_avx512_s8)
DW_REGS_RECORD = 34        # int32 per (vector, kernel row): AOT_DW_REGS_RECORD


DW_REGS_MAX_RECORDS = 64   # windowed: the tables' records stay a few KiB (in L1)


def dw_regs_preferred(p: dict) -> bool:
    """Where aot_depthwise_conv2d_regs_avx512_s8 beats the row-quad kernels (measured
    on MobileNet planes): input planes of at most 128 pixels; larger ones, a window per
    output vector, only for strides above 1 or rows narrower than a vector (the row
    kernels' weak cases) and at most DW_REGS_MAX_RECORDS records (48x48 at stride 1:
    432 records, 58 KiB of tables streamed per channel, 1.6x slower than the rows)."""
    records = -(-p["out_h"] * p["out_w"] // 16) * p["kernel_h"]
    if p["in_h"] * p["in_w"] <= DW_REGS_WINDOW:   # (outputs beyond 8 vectors: wide padding)
        return p["out_h"] * p["out_w"] <= 128 or records <= DW_REGS_MAX_RECORDS
    return (records <= DW_REGS_MAX_RECORDS
            and (p["stride_h"] * p["stride_w"] > 1 or p["in_w"] < 16))


def dw_regs_channels(p: dict) -> np.ndarray | None:
    """The per-channel records after aot_depthwise_conv2d_regs_avx512_s8's tables, int32
    [out_c][8]: multiplier, 31 + r, r - 1, 0, then the int64 rounding constants of
    aot_rq_avx512_init for P >= 0 and P < 0 with the output offset folded (runtime_c/
    aot_requant_avx512_impl.h), or None unless every channel has its fast form
    (aot_rq_avx512_fast: 1 <= r <= 22, |output offset| <= 256)."""
    mults = np.asarray(p["multipliers"].data, np.int64)
    rights = -np.asarray(p["shifts"].data, np.int64)
    off = int(p["output_offset"])
    if rights.min(initial=1) < 1 or rights.max(initial=1) > 22 or abs(off) > 256:
        return None
    c_pos = (1 << 30) + (np.int64(1) << (30 + rights)) + off * (np.int64(1) << (31 + rights))
    c_neg = c_pos - (1 << 31)
    rec = np.zeros((len(mults), 8), np.int64)
    rec[:, 0], rec[:, 1], rec[:, 2] = mults, 31 + rights, rights - 1
    rec[:, 4], rec[:, 5] = c_pos % 2**32, c_pos // 2**32
    rec[:, 6], rec[:, 7] = c_neg % 2**32, c_neg // 2**32
    return _wrap32(rec)


def dw_regs_tables(p: dict) -> np.ndarray | None:
    """The tables of aot_depthwise_conv2d_regs_avx512_s8 (then `dw_regs_channels`), or
    None where it does not apply: kernel_w > 4, or an output vector whose taps span more
    than a window of 128 input bytes, or a 128-bit lane whose 4 output pixels' taps of
    one kernel row lie in more than 4 dwords of the window. int32: records
    [ceil(out plane / 16)][kernel_h][34], then each vector's window start [ceil(out
    plane / 16)] (all 0 for input planes of at most 128 pixels, loaded once per channel;
    else the lowest input byte the vector reads, loaded per vector). Record (v, ky): the
    vpermi2d dword indices [16] (lane L takes the window dwords its pixels 16 v + 4 L + i
    read), the vpshufb indices [64 bytes] (byte 4 i + kx of lane L: that tap's byte
    among them; -128, a 0, for kx >= kernel_w, whose weight is 0, and for pixels past
    the plane) and the byte mask of taps inside the input [64 bits] (the others get the
    padding code)."""
    in_h, in_w, out_h, out_w = p["in_h"], p["in_w"], p["out_h"], p["out_w"]
    kh, kw = p["kernel_h"], p["kernel_w"]
    if kw > 4 or min(p["pad_top"], p["pad_left"]) < 0:
        return None
    out_plane = out_h * out_w
    nv = -(-out_plane // 16)
    # the input index of every (vector, kernel row, byte of the vector), -1 for padding
    # and -2 for no tap (kx >= kernel_w, pixels past the plane)
    pix = np.arange(nv * 16).reshape(nv, 1, 16, 1)
    oy, ox = pix // out_w, pix % out_w
    ky = np.arange(kh).reshape(1, kh, 1, 1)
    kx = np.arange(4).reshape(1, 1, 1, 4)
    iy = oy * p["stride_h"] + ky * p["dilation_h"] - p["pad_top"]
    ix = ox * p["stride_w"] + kx * p["dilation_w"] - p["pad_left"]
    idx = np.where((iy >= 0) & (iy < in_h) & (ix >= 0) & (ix < in_w), iy * in_w + ix, -1)
    idx = np.where((kx < kw) & (pix < out_plane), idx, -2).reshape(nv, kh, 64)
    if in_h * in_w <= DW_REGS_WINDOW:
        base = np.zeros(nv, np.int64)
    else:
        used = np.where(idx >= 0, idx, np.iinfo(np.int64).max).reshape(nv, -1)
        base = np.where(used.min(axis=1) == np.iinfo(np.int64).max, 0, used.min(axis=1))
        if (idx.reshape(nv, -1).max(axis=1) - base >= DW_REGS_WINDOW).any():
            return None
    perm = np.zeros((nv, kh, 16), np.int64)
    shuf = np.full((nv, kh, 64), -128, np.int64)
    for v in range(nv):
        for r in range(kh):
            for lane in range(4):
                taps = idx[v, r, 16 * lane:16 * lane + 16]
                rel = taps[taps >= 0] - base[v]
                dwords = sorted(set((rel // 4).tolist()))
                if len(dwords) > 4:
                    return None
                perm[v, r, 4 * lane:4 * lane + len(dwords)] = dwords
                for byte in np.flatnonzero(taps >= 0):
                    t = int(taps[byte] - base[v])
                    shuf[v, r, 16 * lane + byte] = 4 * dwords.index(t // 4) + t % 4
    inside = (idx != -1).astype(np.int64)
    shuf_words = (shuf % 256).reshape(nv, kh, 16, 4)
    shuf_words = sum(shuf_words[..., j] << (8 * j) for j in range(4))
    bits = sum(inside[..., j] << j for j in range(64))
    masks = np.stack([bits % 2**32, bits // 2**32], axis=-1)
    records = np.concatenate([perm, shuf_words, masks], axis=-1)
    return _wrap32(np.concatenate([records.reshape(-1), base]))


def tap_packed(p: dict) -> bool:
    """aot_conv2d_avx512_s8 with one input channel packs four taps per VNNI quad:
    weights [out_c][ceil(taps / 4)] quads, and an im2col of them in scratch (by
    output pixel: [ceil(taps / 4)][round_up(out_h * out_w, 48)])."""
    return p["in_c"] == 1 and p["kernel_h"] * p["kernel_w"] > 1


# OCL_MAX_PIXELS, OCL_MAX_ROWS_PIXELS, OCL_PB in aot_conv2d_avx512_s8.c
OC_LANES_MAX_PIXELS, OC_LANES_MAX_ROWS_PIXELS, OC_LANES_PB = 16, 64, 8
# OCL_WIDE_PIXELS, OCL_WIDE_IN_C: 1x1 on a few more pixels when in_c is large
OC_LANES_WIDE_PIXELS, OC_LANES_WIDE_IN_C = 36, 64


def conv_s8_oc_lanes(p: dict) -> bool:
    """aot_conv2d_avx512_s8 puts output channels in lanes (pixel tiles would be mostly
    idle lanes or dropped virtual pixels) for a 1x1, stride 1, unpadded convolution of
    at most OC_LANES_MAX_PIXELS pixels, or OC_LANES_WIDE_PIXELS with at least
    OC_LANES_WIDE_IN_C input channels (its scratch: the input's quads
    [ceil(in_c / 4)][round_up(pixels, OC_LANES_PB)]) and for a kernel larger than 1x1
    on at least 2 input channels with at most OC_LANES_MAX_ROWS_PIXELS output pixels
    (the usual phase planes, read by output row). Weights [ceil(out_c / 16) + 1]
    [ceil(in_c / 4)][kh * kw][16] quads, zero padded: an odd last block is computed in
    a pair. Independent of out_c (thread parts)."""
    pixels = p["out_h"] * p["out_w"]
    if pointwise_direct(p):
        return pixels <= OC_LANES_MAX_PIXELS or \
            (pixels <= OC_LANES_WIDE_PIXELS and p["in_c"] >= OC_LANES_WIDE_IN_C)
    return p["kernel_h"] * p["kernel_w"] > 1 and not tap_packed(p) \
        and pixels <= OC_LANES_MAX_ROWS_PIXELS


LANES_TABLE_WORDS = 144   # LT_WORDS in runtime_c/aot_conv2d_lanes_avx512_s8.c
LANES_MAX_P = 16          # LP_MAX there: the widest pixel tile


def conv_s8_lanes(p: dict) -> bool:
    """aot_conv2d_lanes_avx512_s8 (output channels in lanes, reading a bordered copy of
    the input; stride and dilation are address arithmetic) takes a groups-1 convolution
    of at least 2 input channels (one channel: `tap_packed`) that uses at least 3/4 of
    its blocks' 16 lanes (measured on VWW's 3 -> 8 first layer: the pixel tiles win
    there) and whose every channel requantizes in the fast form (right shift 1..22,
    output offset folded: `lanes_table`); 1x1 convolutions on the few pixels of
    `conv_s8_oc_lanes` keep that path (tiles sized to the plane)."""
    shifts = np.asarray(p["shifts"].data)
    return (p["in_c"] >= 2 and 4 * p["out_c"] >= 3 * _round_up(p["out_c"], 16)
            and not (pointwise_direct(p) and conv_s8_oc_lanes(p))
            and bool(np.all((shifts <= -1) & (shifts >= -22)))
            and -256 <= p["output_offset"] <= 256)


def lanes_strided_1x1(p: dict) -> bool:
    """lanes_strided_1x1 in aot_conv2d_lanes_avx512_s8.c: a 1x1 convolution of stride
    above 1, unpadded, every output pixel inside the input."""
    return (p["kernel_h"] == p["kernel_w"] == 1 and max(p["stride_h"], p["stride_w"]) > 1
            and p["pad_top"] == p["pad_left"] == 0
            and (p["out_h"] - 1) * p["stride_h"] < p["in_h"]
            and (p["out_w"] - 1) * p["stride_w"] < p["in_w"])


def lanes_scratch(p: dict) -> int:
    """The bordered quad buffer [hp][ceil(in_c / 4)][wp] of aot_conv2d_lanes_avx512_s8
    (lanes_geom_init there): an axis with one tap is subsampled while copying, and the
    (subsampled) plane of a `pointwise_direct` or `lanes_strided_1x1` convolution is one
    row."""
    if pointwise_direct(p) or lanes_strided_1x1(p):
        pixels = p["out_h"] * p["out_w"]
        p = {**p, "in_h": 1, "out_h": 1, "in_w": pixels, "out_w": pixels,
             "stride_h": 1, "stride_w": 1}
    sub_h = p["stride_h"] if p["kernel_h"] == 1 else 1
    sub_w = p["stride_w"] if p["kernel_w"] == 1 else 1
    sh, sw = p["stride_h"] // sub_h, p["stride_w"] // sub_w
    hp = (p["out_h"] - 1) * sh + (p["kernel_h"] - 1) * p["dilation_h"] + 1
    span = 8 if p["out_w"] <= 8 else _round_up(p["out_w"], LANES_MAX_P)   # pixels of the tiles
    wp = (span - 1) * sw + (p["kernel_w"] - 1) * p["dilation_w"] + 1
    return _round_up(hp * -(-p["in_c"] // 4) * wp * 4, 64)


def lanes_weights(w3: np.ndarray, kh: int, kw: int) -> np.ndarray:
    """int8 [out_c][in_c][kh * kw] -> int32 quads [ceil(out_c / 16)][kh][ceil(in_c / 4)]
    [kw][16] (byte j of a quad: input channel 4 q + j), zero padded."""
    out_c, in_c, _ = w3.shape
    blocks, kg = -(-out_c // 16), -(-in_c // 4)
    quads = _pack_lanes(w3, 4).reshape(out_c, kg, kh, kw)
    padded = np.zeros((blocks * 16, kg, kh, kw), np.int32)
    padded[:out_c] = quads
    return np.ascontiguousarray(padded.reshape(blocks, 16, kg, kh, kw).transpose(0, 3, 2, 4, 1))


def lanes_table(bias: np.ndarray, mults, shifts, output_offset: int) -> np.ndarray:
    """Per block of 16 output channels, LANES_TABLE_WORDS int32 words: the folded bias,
    the multipliers (channel l in dword l; channel 2 i + 1 again in dword 2 i), then as
    int64 [8] each: the rounding constants of the even and odd channels for a product
    >= 0 and < 0 (2^30 + 2^(30 + r) + output_offset * 2^(31 + r), minus 2^31 when < 0:
    aot_requant_avx512_impl.h), the even channels' shifts 31 + r and the odd ones' r - 1.
    Channels past out_c: all 0 but r = 1."""
    out_c = len(bias)
    blocks = -(-out_c // 16)
    n = blocks * 16
    b = np.zeros(n, np.int64)
    b[:out_c] = bias
    m = np.zeros(n, np.int64)
    m[:out_c] = np.asarray(mults, np.int64)
    r = np.ones(n, np.int64)
    r[:out_c] = -np.asarray(shifts, np.int64)
    c = np.zeros(n, np.int64)
    c[:out_c] = (1 << 30) + (1 << (30 + r[:out_c])) + output_offset * (1 << (31 + r[:out_c]))
    words = np.zeros((blocks, LANES_TABLE_WORDS), np.int64)

    def q64(v):   # int64 [blocks][8] -> int32 words [blocks][16], little endian
        return np.ascontiguousarray(v.reshape(blocks, 8), "<i8").view("<u4").reshape(blocks, 16)

    m_odd = np.zeros((blocks, 16), np.int64)
    m_odd[:, 0::2] = m.reshape(blocks, 16)[:, 1::2]
    even, odd = slice(0, None, 2), slice(1, None, 2)
    cb, rb = c.reshape(blocks, 16), r.reshape(blocks, 16)
    words[:, 0:16] = b.reshape(blocks, 16)
    words[:, 16:32] = m.reshape(blocks, 16)
    words[:, 32:48] = m_odd
    words[:, 48:64] = q64(cb[:, even])
    words[:, 64:80] = q64(cb[:, even] - (1 << 31))
    words[:, 80:96] = q64(cb[:, odd])
    words[:, 96:112] = q64(cb[:, odd] - (1 << 31))
    words[:, 112:128] = q64(31 + rb[:, even])
    words[:, 128:144] = q64(rb[:, odd] - 1)
    return _wrap32(words.reshape(-1))


def _pack_oc_lanes(quads: np.ndarray) -> np.ndarray:
    """int32 quads [out_c][kgroups][taps] -> [ceil(out_c / 16) + 1][kgroups][taps][16],
    zero padded."""
    out_c, kgroups, taps = quads.shape
    blocks = -(-out_c // 16) + 1
    padded = np.zeros((blocks * 16, kgroups, taps), np.int32)
    padded[:out_c] = quads
    return np.ascontiguousarray(
        padded.reshape(blocks, 16, kgroups, taps).transpose(0, 2, 3, 1))


DW_F32_LANES_MAX_PIXELS, DW_F32_LANES_MAX_PIXELS_STRIDED = 1024, 4096


def dw_f32_lanes(p: dict) -> bool:
    """A float depthwise convolution that aot_depthwise_conv2d_lanes_avx512_f32 (16
    channels per vector) runs faster than aot_depthwise_conv2d_avx512_f32 (measured on
    Zen 5): at least 16 output channels, and a small input plane (unless the padded
    plane path takes it: stride 1, square 3x3 / 5x5, rows of 30 and more), or up to
    4096 pixels at stride_w > 1 (which the per-plane paths gather) -- except 3x3 at
    stride 2 on 1024 input pixels and more whose output rows end in a vector at least
    half full (out_w % 16 zero or 8 and more): there transposing the whole input plane
    costs more than the per-plane row path (measured, 16 / 32 / 64 / 128 channels: 32x32
    -> 16x16 2.0 vs 3.4 µs, 48x48 -> 24x24 5.8 vs 8.0 µs, 56x56 -> 28x28 30 vs 38 µs;
    40x40 -> 20x20 and 5x5 kernels stay faster in lanes). Decided for the whole layer:
    every thread's part of the channels runs the same kernel.
    Also except 3-wide kernels at dilation_w 1 on output rows of more than 8 pixels
    that `dw_f32_pflat` takes (8 channels at a time, no transposes; measured, median
    µs pflat vs lanes, 64 channels: 9x9 1.35 vs 1.45 (a tie over 3 runs), 10x10 1.60
    vs 1.66, 11x11 1.82 vs 1.98, 12x12 1.86 vs 2.38; 128 channels 14x14 5.4 vs 5.7,
    32 channels 24x24 3.4 vs 4.7, 24 channels 28x28 3.8 vs 6.2); rows of at most 8
    stay in lanes (its narrow-row path: 25x5 1.69 vs 1.73 µs, 7x7 1.63 vs 1.92), and
    so do 5-wide and dilated kernels (14x14 dilation 2: 3.5 vs 5.0 µs)."""
    pixels = p["in_h"] * p["in_w"]
    padded_wins = dw_f32_pad(p) and p["out_w"] >= 30
    rows_win = (p["stride_h"] == p["stride_w"] == 2 and p["kernel_h"] == p["kernel_w"] == 3
                and p["dilation_h"] == p["dilation_w"] == 1 and pixels >= 1024
                and (p["out_w"] % 16 == 0 or p["out_w"] % 16 >= 8))
    pflat_wins = (dw_f32_pflat(p) and p["kernel_w"] == 3 and p["dilation_w"] == 1
                  and p["out_w"] > 8)
    return p["out_c"] >= 16 and not rows_win and not pflat_wins and (
        (pixels <= DW_F32_LANES_MAX_PIXELS and not padded_wins)
        or (p["stride_w"] > 1 and pixels <= DW_F32_LANES_MAX_PIXELS_STRIDED))


def dw_f32_lanes_scratch(p: dict) -> int:
    """aot_dw_f32_lanes_layout_of (runtime_c/aot_depthwise_conv2d_lanes_avx512_f32.c):
    weights [taps][16], the zero-bordered input
    [hp][wp][16] and the output [out_h * out_w][16], floats, then an int32 per
    input pixel."""
    rows = (p["out_h"] - 1) * p["stride_h"] + (p["kernel_h"] - 1) * p["dilation_h"] + 1
    cols = (p["out_w"] - 1) * p["stride_w"] + (p["kernel_w"] - 1) * p["dilation_w"] + 1
    hp, wp = max(p["in_h"] + p["pad_top"], rows), max(p["in_w"] + p["pad_left"], cols)
    return (64 * (p["kernel_h"] * p["kernel_w"] + hp * wp + p["out_h"] * p["out_w"])
            + 4 * p["in_h"] * p["in_w"])


def dw_f32_c16_scratch(p: dict, input_c16: bool, output_c16: bool) -> int:
    """aot_dw_f32_c16_layout_of (runtime_c/aot_depthwise_conv2d_c16_avx512_f32.c): the
    buffers of dw_f32_lanes_scratch less the ones a c16 side does without -- the
    output [out_h * out_w][16] only for an NCHW output, the int32 per input pixel
    only for an NCHW input. The same for every thread part (its bytes do not depend
    on the channel count)."""
    rows = (p["out_h"] - 1) * p["stride_h"] + (p["kernel_h"] - 1) * p["dilation_h"] + 1
    cols = (p["out_w"] - 1) * p["stride_w"] + (p["kernel_w"] - 1) * p["dilation_w"] + 1
    hp, wp = max(p["in_h"] + p["pad_top"], rows), max(p["in_w"] + p["pad_left"], cols)
    return (64 * (p["kernel_h"] * p["kernel_w"] + hp * wp
                  + (0 if output_c16 else p["out_h"] * p["out_w"]))
            + (0 if input_c16 else 4 * p["in_h"] * p["in_w"]))


def pw_f32_c16_scratch(p: dict, input_c16: bool, output_c16: bool) -> int:
    """aot_pointwise_conv2d_c16_avx512_f32 keeps everything in registers (an NCHW
    output is transposed there too): no scratch in any layout."""
    return 0


DW_F32_PFLAT_MAX_PIXELS = 4096   # AOT_DW_F32_PFLAT_MAX_PIXELS in aot_depthwise_conv2d_avx512_f32.c


def dw_f32_pflat(p: dict) -> bool:
    """aot_dw_f32_pflat (runtime_c/aot_depthwise_conv2d_avx512_f32.c): stride 1, input
    rows no wider than the output's, output rows not a whole number of vectors, at most
    DW_F32_PFLAT_MAX_PIXELS output pixels; each channel copied into a flat zero-bordered
    plane, pixels of a vector spanning rows -- except square 5x5 kernels at dilation 1,
    which `dw_f32_pad` runs faster."""
    return (p["stride_h"] == p["stride_w"] == 1 and p["in_w"] <= p["out_w"]
            and p["out_w"] % 16 != 0 and p["out_h"] * p["out_w"] <= DW_F32_PFLAT_MAX_PIXELS
            and not (p["kernel_h"] == p["kernel_w"] == 5
                     and p["dilation_h"] == p["dilation_w"] == 1))


DW_F32_PFLAT_GROUP = 8   # AOT_DW_F32_PFLAT_GROUP in aot_depthwise_conv2d_avx512_f32.c


def dw_f32_pflat_scratch(p: dict) -> int:
    """aot_dw_f32_pflat_dims_of: up to 64 bytes to align, the [nvec][kernel_w] uint16
    lane masks rounded up to 64 bytes, then two sets (the block running and the
    next) of DW_F32_PFLAT_GROUP planes of `plane` floats."""
    nvec = -(-p["out_h"] * p["out_w"] // 16)
    group = DW_F32_PFLAT_GROUP
    reach = ((p["kernel_h"] - 1) * p["dilation_h"] * p["out_w"]
             + (p["kernel_w"] - 1) * p["dilation_w"] + 16)
    data = (p["in_h"] + p["pad_top"]) * p["out_w"] + p["pad_left"]
    plane = _round_up(max(16 * nvec + reach, data), 16)
    return 64 + _round_up(nvec * p["kernel_w"] * 2, 64) + 2 * group * plane * 4


def dw_f32_pad(p: dict) -> bool:
    """aot_dw_f32_padded (runtime_c/aot_depthwise_conv2d_avx512_f32.c): stride 1,
    dilation 1, a 5x5 kernel or a 3x3 one on rows of 16 and more; each channel copied
    into a zero-bordered plane."""
    return (p["stride_h"] == p["stride_w"] == 1 and p["dilation_h"] == p["dilation_w"] == 1
            and p["kernel_h"] == p["kernel_w"]
            and (p["kernel_w"] == 5 or p["kernel_w"] == 3 and p["out_w"] >= 16))


def dw_f32_pad_scratch(p: dict) -> int:
    """aot_dw_f32_pad_dims: [hp][wp] floats and up to 64 bytes to align them."""
    hp = max(p["in_h"] + p["pad_top"], p["out_h"] + p["kernel_h"] - 1)
    wp = 16 * -(-p["out_w"] // 16) + 16
    return 4 * hp * wp + 64


CONV_F32_DIRECT_TAPS = 64   # AOT_CONV_F32_DIRECT_TAPS in aot_conv2d_avx512_f32.c


def conv_f32_direct(p: dict) -> bool:
    """aot_conv2d_avx512_f32_direct (runtime_c/aot_conv2d_avx512_f32.c): a kernel of
    at most CONV_F32_DIRECT_TAPS taps but not `pointwise_direct`, output rows of more than
    16 pixels, and at most 4 input channels, or stride_w 1 or 2 (others gather) with at
    most a quarter of the lanes idle on a row's last vector: the input rows read in
    place, no planes (scratch: the row masks, then an (offset, lanes) pair per output
    vector column and tap), weights packed [ceil(out_c / 16)][in_c * kh * kw][16].
    Independent of out_c, so every thread's part of the channels takes it and the
    scratch reserved for the layer fits."""
    taps = p["kernel_h"] * p["kernel_w"]
    lanes = 16 * -(-p["out_w"] // 16)
    return (p["groups"] == 1 and not pointwise_direct(p) and taps <= CONV_F32_DIRECT_TAPS
            and p["out_w"] > 16
            and (p["in_c"] <= 4 or (p["stride_w"] <= 2 and 4 * p["out_w"] >= 3 * lanes)))


def conv_f32_coltaps(p: dict) -> bool:
    """aot_conv2d_avx512_f32_coltaps (runtime_c/aot_conv2d_avx512_f32.c): output rows
    of at most 16 pixels, at least 48 output pixels, not `pointwise_direct`: phase
    planes per input channel, tap column and row phase with rows of out_w pixels (no
    virtual pixels), `conv_f32_coltaps_scratch`. Independent of out_c (thread parts)."""
    return (p["groups"] == 1 and not pointwise_direct(p) and p["out_w"] <= 16
            and p["out_h"] * p["out_w"] >= 48)


def conv_f32_coltaps_scratch(p: dict) -> int:
    """The tap table, the row masks of one vector, then in_c * kernel_w * stride_h
    planes of out_h + (kernel_h - 1) * dilation_h // stride_h rows of out_w floats."""
    rows = p["out_h"] + (p["kernel_h"] - 1) * p["dilation_h"] // p["stride_h"]
    planes = p["in_c"] * p["kernel_w"] * p["stride_h"]
    return (_round_up(p["kernel_h"] * p["kernel_w"] * 4, 64) + _round_up(p["kernel_w"] * 4, 64)
            + planes * rows * p["out_w"] * 4)


def conv_f32_oc_lanes(p: dict) -> bool:
    """aot_conv2d_avx512_f32_oc_lanes (runtime_c/aot_conv2d_avx512_f32.c): a 1x1,
    stride 1, unpadded convolution of at least 32 input channels on few pixels (at
    most 24, or 33..48: a 32-pixel tile would leave a quarter or more of its lanes
    idle), or a larger kernel on at most 4 input channels with rows narrower than a
    vector (a short K), or on more input channels, at least 32 output channels and
    rows of at most 16 pixels (the phase planes' padding columns would idle many
    pixel lanes), keeps output channels in lanes (scratch: the phase planes as
    usual) -- where `conv_f32_direct` and `conv_f32_coltaps` (tried first) do not
    take the layer. Every path sums in the same order (bias, then fused multiply-adds in k
    order), so a thread's part of the channels may take another path, same bits.
    Weights: every aot_conv2d_avx512_f32 path reads them packed (`_pack_direct`)."""
    if p["groups"] != 1:
        return False
    if pointwise_direct(p):
        nv = p["out_h"] * p["out_w"]
        return p["in_c"] >= 32 and (nv <= 24 or 32 < nv <= 48)
    if p["kernel_h"] * p["kernel_w"] == 1:
        return False
    return p["out_w"] < 16 if p["in_c"] <= 4 else p["out_w"] <= 16 and p["out_c"] >= 32


def _pack_direct(w: np.ndarray) -> np.ndarray:
    """[out_c][K] -> [ceil(out_c / 16)][K][16], zero padded."""
    out_c, k = w.shape
    blocks = -(-out_c // 16)
    padded = np.zeros((blocks * 16, k), np.float32)
    padded[:out_c] = w
    return np.ascontiguousarray(padded.reshape(blocks, 16, k).transpose(0, 2, 1))


def phase_scratch(p: dict, kernel: str) -> int:
    """Scratch bytes of an x86 convolution kernel: the tap-offset table plus the
    phase planes of every input channel (depthwise: of one, and a table of
    each input row's runs, aot_x86_runs_bytes; aot_x86_geom_init in
    runtime_c/aot_conv2d_x86_impl.h computes the same numbers)."""
    if kernel == "aot_depthwise_conv2d_rows_avx512_s8":
        return dw_rows_scratch(p)
    if kernel == "aot_depthwise_conv2d_rows_s2_avx512_s8":
        return dw_rows_s2_scratch(p)
    if kernel == "aot_depthwise_conv2d_lanes_avx512_f32":
        return dw_f32_lanes_scratch(p)
    kh, kw, sh, sw = p["kernel_h"], p["kernel_w"], p["stride_h"], p["stride_w"]
    extra_rows = (kh - 1) * p["dilation_h"] // sh
    extra_cols = (kw - 1) * p["dilation_w"] // sw
    lw = p["out_w"] + extra_cols
    nv = p["out_h"] * lw
    ps = _round_up(nv, NR[kernel]) + extra_rows * lw + extra_cols
    table = _round_up(kh * kw * 4, 64)
    if kernel.endswith("_f32") and kernel.startswith("aot_conv2d") and pointwise_direct(p):
        return table
    if kernel == "aot_conv2d_avx512_s8" and pointwise_direct(p) and conv_s8_oc_lanes(p):
        return -(-p["in_c"] // 4) * _round_up(p["out_h"] * p["out_w"], OC_LANES_PB) * 4
    if kernel == "aot_conv2d_avx512_s8" and pointwise_direct(p):   # one tile's quads
        return table + -(-p["in_c"] // 4) * NR[kernel] * 4
    if kernel == "aot_conv2d_avx512_f32" and conv_f32_direct(p):   # row masks, column pairs
        return _round_up(-(-p["out_w"] // 16) * kw * 4, 64) + -(-p["out_w"] // 16) * kh * kw * 8
    if kernel == "aot_conv2d_avx512_f32" and conv_f32_coltaps(p):
        return conv_f32_coltaps_scratch(p)
    if kernel == "aot_depthwise_conv2d_avx512_f32":   # lane masks only: no phase planes
        if dw_f32_pflat(p):
            return dw_f32_pflat_scratch(p)
        if dw_f32_pad(p):
            return dw_f32_pad_scratch(p)
        return _round_up(-(-p["out_w"] // 16) * kw * 4, 64) + _round_up(p["in_w"] * 4, 64)
    if kernel == "aot_depthwise_conv2d_avx512_s8" and dw_flat(p):
        return dw_flat_scratch(p)
    if "depthwise" in kernel:   # one channel's planes at a time, and every row's runs
        runs = _round_up(p["in_h"] * (1 + 3 * sw) * 4, 64)
        return table + runs + sh * sw * ps * 4
    planes = table + -(-p["in_c"] // LANES.get(kernel, 1)) * sh * sw * ps * 4
    if kernel == "aot_conv2d_avx512_s8" and tap_packed(p):
        return planes + -(-kh * kw // 4) * _round_up(p["out_h"] * p["out_w"], NR[kernel]) * 4
    if kernel == "aot_conv2d_avx512_s8" and extra_cols:
        # int8 results of every virtual pixel, [out_c][round_up(nv, NR)], narrowed to
        # the output's rows at the end (whole-vector stores instead of a scatter)
        return planes + p["out_c"] * _round_up(nv, NR[kernel])
    return planes


def _generic_call(node, ctx: LoweringContext, lower) -> Call:
    """The single call the generic rule emits for `node`, taken back out of ctx
    (an in-place call's out-of-place form: the x86 kernels are out of place)."""
    first = len(ctx.steps)
    lower(node, ctx)
    steps = ctx.steps[first:]
    if len(steps) != 1 or not isinstance(steps[0], Call):
        raise Fallback
    del ctx.steps[first:]
    call = steps[0]
    return call.fallback if call.fallback is not None else call


def _kind(p: dict) -> str | None:
    """"dense" (groups 1), "depthwise" (one input channel per group), else None."""
    if min(p["pad_top"], p["pad_left"]) < 0 or p["stride_w"] > MAX_STRIDE:
        return None
    if p["groups"] == 1:
        return "dense"
    if p["groups"] == p["in_c"] and p["out_c"] % p["in_c"] == 0:
        return "depthwise"
    return None


def _emit(ctx, call: Call, kernel: str, operands, consts=()) -> None:
    reads = (*call.reads, *consts)
    ctx.emit(Call(kernel, call.params, tuple(operands), reads, call.writes, call.layer,
                  call.op, call.macs, scratch_bytes=phase_scratch(call.params.fields, kernel)))


# ----------------------------------------------------------------- float32

def fully_connected(p: dict) -> bool:
    """A dense convolution with one output pixel whose window is the whole
    unpadded input (e.g. a 1x1 conv after a global pool): a matrix-vector product."""
    return (p["groups"] == 1 and p["out_h"] == p["out_w"] == 1
            and (p["kernel_h"], p["kernel_w"]) == (p["in_h"], p["in_w"])
            and p["pad_top"] == p["pad_left"] == 0)


def _conv_as_matmul(ctx, call: Call, variant: str) -> None:
    """Lower a `fully_connected` convolution as aot_matmul: y[n][oc] = x[n][:] . W[oc][:],
    with W stored transposed ([K][out_c]) so each k streams a contiguous weight row."""
    p = call.params.fields
    x_op, w_op, b_op, y_op = call.operands
    k = p["in_c"] * p["kernel_h"] * p["kernel_w"]
    w = np.asarray(ctx.const_value(w_op.tensor), np.float32).reshape(p["out_c"], k)
    wt = ctx.const(f"{w_op.tensor}_kn", np.ascontiguousarray(w.T))
    bias = not isinstance(b_op, Null)
    params = Params("aot_matmul_params", {
        "batch": 1, "m": p["batch"], "n": p["out_c"], "k": k,
        "a_row_stride": k, "a_k_stride": 1, "b_k_stride": p["out_c"], "b_col_stride": 1,
        "bias_row_stride": 0, "bias_col_stride": 1 if bias else 0,
        "alpha": 1.0, "beta": 1.0 if bias else 0.0, "a_offsets": None, "b_offsets": None,
        "act": p["act"]})
    reads = tuple(r for r in call.reads if r != w_op.tensor) + (wt,)
    ctx.emit(Call(f"aot_matmul_{variant}_f32", params, (x_op, Ref(wt), b_op, y_op), reads,
                  call.writes, call.layer, call.op, call.macs))


def c16_role(call: Call) -> str | None:
    """"dw" / "pw" where the generic lowering's float convolution `call` has an AVX-512
    kernel on channel-blocked (c16) activations: a depthwise convolution of multiplier 1
    that takes the lanes kernel (`dw_f32_lanes`), whose own transposes to and from
    channel lanes a c16 side saves, or a pointwise one (1x1, stride 1, unpadded), which
    can read and write either layout with output channels in lanes. Batch 1 only."""
    p = call.params.fields
    if call.kernel != "aot_conv2d_f32" or p["batch"] != 1 or _kind(p) is None:
        return None
    if p["groups"] == p["in_c"] == p["out_c"] and dw_f32_lanes(p):
        return "dw"
    if p["groups"] == 1 and pointwise_direct(p):
        return "pw"
    return None


def _c16_roles(ctx: LoweringContext) -> dict[str, str]:
    """Each float Conv node's c16_role (by node name), where it has one."""
    roles = {}
    for node in ctx.graph.nodes:
        if node.op != "Conv" or ctx.graph.tensor(node.inputs[0]).dtype != np.float32:
            continue
        own = LoweringContext(ctx.graph, ctx.target)   # the generic lowering leaves ctx as is
        try:
            role = c16_role(_generic_call(node, own, g.lower_conv))
        except (Fallback, Unsupported):   # reported when the node itself is lowered
            role = None
        if role is not None:
            roles[node.name] = role
    return roles


def c16_tensors(ctx: LoweringContext) -> frozenset[str]:
    """The float activations the AVX-512 rules hold channel-blocked, [N][C / 16][H][W][16]
    (aot_conv2d_c16_params), decided once for the whole graph: a tensor of C a multiple
    of 16 that is not a graph output, made by a node with a `c16_role`, read only (as
    the data input) by such nodes, with a depthwise convolution on one side or the
    other (pointwise to pointwise keeps NCHW: no transposes to save). Producer and
    consumers take their c16 kernels from these same facts, so both sides agree."""
    if "c16" not in ctx.memo:
        graph, roles = ctx.graph, _c16_roles(ctx)
        consumers, outputs = graph.consumers(), set(graph.outputs)
        blocked = set()
        for node in graph.nodes:
            if node.name not in roles:
                continue
            y = node.outputs[0]
            users = consumers.get(y, [])
            shape = graph.tensor(y).shape
            if (y in outputs or not users or len(shape) != 4 or shape[1] % 16
                    or any(u.name not in roles or list(u.inputs).count(y) != 1
                           or u.inputs[0] != y for u in users)):
                continue
            if "dw" in (roles[node.name], *(roles[u.name] for u in users)):
                blocked.add(y)
        ctx.memo["c16"] = frozenset(blocked)
    return ctx.memo["c16"]


def _conv_c16(ctx: LoweringContext, call: Call, role: str, in16: bool, out16: bool) -> None:
    """The c16 kernel of `role` on `call`, its input and/or output channel-blocked."""
    p = call.params.fields
    x_op, w_op, b_op, y_op = call.operands
    params = Params("aot_conv2d_c16_params",
                    {"conv": dict(p), "input_c16": int(in16), "output_c16": int(out16)})
    if role == "pw":
        w = np.asarray(ctx.const_value(w_op.tensor), np.float32).reshape(p["out_c"], -1)
        packed = ctx.const(f"{w_op.tensor}_avx512_direct", _pack_direct(w))
        kernel, operands, reads = "aot_pointwise_conv2d_c16_avx512_f32", \
            (x_op, Ref(packed), b_op, y_op, Scratch()), (*call.reads, packed)
        scratch = pw_f32_c16_scratch(p, in16, out16)
    else:
        kernel, operands, reads = "aot_depthwise_conv2d_c16_avx512_f32", \
            (*call.operands, Scratch()), call.reads
        scratch = dw_f32_c16_scratch(p, in16, out16)
    if not scratch:
        operands = (*operands[:-1], Null())
    ctx.emit(Call(kernel, params, operands, reads, call.writes, call.layer, call.op,
                  call.macs, scratch_bytes=scratch))


def _conv_f32(node, ctx: LoweringContext, variant: str) -> None:
    call = _generic_call(node, ctx, g.lower_conv)
    p = call.params.fields
    kind = _kind(p)
    if call.kernel != "aot_conv2d_f32" or kind is None:
        raise Fallback
    if variant == "avx512":
        blocked = c16_tensors(ctx)
        in16, out16 = node.inputs[0] in blocked, node.outputs[0] in blocked
        if in16 or out16:
            _conv_c16(ctx, call, c16_role(call), in16, out16)
            return
    if kind == "dense" and fully_connected(p):
        _conv_as_matmul(ctx, call, variant)
        return
    kernel = f"aot_conv2d_{variant}_f32" if kind == "dense" else \
        f"aot_depthwise_conv2d_{variant}_f32"
    if kernel == "aot_depthwise_conv2d_avx512_f32" and dw_f32_lanes(p):
        kernel = "aot_depthwise_conv2d_lanes_avx512_f32"
    if kernel == "aot_conv2d_avx512_f32":   # every path reads the packed weights
        x_op, w_op, b_op, y_op = call.operands
        w = np.asarray(ctx.const_value(w_op.tensor), np.float32).reshape(p["out_c"], -1)
        packed = ctx.const(f"{w_op.tensor}_{variant}_direct", _pack_direct(w))
        _emit(ctx, call, kernel, (x_op, Ref(packed), b_op, y_op, Scratch()), (packed,))
        return
    _emit(ctx, call, kernel, (*call.operands, Scratch()))


def _matmul(node, ctx: LoweringContext, lower, variant: str) -> None:
    call = _generic_call(node, ctx, lower)
    p = call.params.fields
    if call.kernel != "aot_matmul_f32" or p["b_col_stride"] != 1 \
            or p["bias_col_stride"] not in (0, 1):
        raise Fallback
    ctx.emit(Call(f"aot_matmul_{variant}_f32", call.params, call.operands, call.reads,
                  call.writes, call.layer, call.op, call.macs))


def _float_rules(variant: str):
    def conv(node, ctx):
        _conv_f32(node, ctx, variant)

    def gemm(node, ctx):
        _matmul(node, ctx, g.lower_gemm, variant)

    def matmul(node, ctx):
        if ctx.tensor(node.inputs[0]).dtype != np.float32:
            raise Fallback
        _matmul(node, ctx, g.lower_matmul, variant)
    for f, op in ((conv, "conv"), (gemm, "gemm"), (matmul, "matmul")):
        f.__name__ = f"{op}_{variant}_f32"
    return conv, gemm, matmul


conv_avx2_f32, gemm_avx2_f32, matmul_avx2_f32 = _float_rules("avx2")
conv_avx512_f32, gemm_avx512_f32, matmul_avx512_f32 = _float_rules("avx512")


def _swap_f32(node, ctx: LoweringContext, lower, portable: str, variant: str) -> None:
    """Lower as the generic rule does and run the call's x86 twin, same params and
    operands (`aot_<op>_<variant>_f32` for `aot_<op>_f32`)."""
    if any(ctx.tensor(t).dtype != np.float32 for t in (*node.inputs, *node.outputs) if t):
        raise Fallback
    call = _generic_call(node, ctx, lower)
    if call.kernel != portable:
        raise Fallback
    ctx.emit(replace(call, kernel=portable.replace("_f32", f"_{variant}_f32")))


def _binary_f32_rule(variant: str):
    def rule(node, ctx):
        kernel = {"Add": "aot_add_f32", "Sub": "aot_sub_f32", "Mul": "aot_mul_f32",
                  "Div": "aot_div_f32"}[node.op]
        _swap_f32(node, ctx, g.lower_binary, kernel, variant)
    rule.__name__ = f"binary_{variant}_f32"
    return rule


def _avgpool_f32_rule(variant: str):
    def rule(node, ctx):
        _swap_f32(node, ctx, g.lower_pool, "aot_avgpool2d_f32", variant)
    rule.__name__ = f"avgpool_{variant}_f32"
    return rule


binary_avx2_f32, binary_avx512_f32 = _binary_f32_rule("avx2"), _binary_f32_rule("avx512")
avgpool_avx2_f32, avgpool_avx512_f32 = _avgpool_f32_rule("avx2"), _avgpool_f32_rule("avx512")


# ----------------------------------------------------------------- int8

def _bias_values(ctx, bias_op, n: int) -> np.ndarray:
    if isinstance(bias_op, Null):
        return np.zeros(n, np.int64)
    return np.asarray(ctx.const_value(bias_op.tensor), np.int64).reshape(n)


def _pack_lanes(w3: np.ndarray, lanes: int) -> np.ndarray:
    """[out_c][in_c][taps] int8 -> int32 [out_c][ceil(in_c / lanes)][taps], channel
    lanes * g + j in bits 32 / lanes * j (two's complement), padded channels 0."""
    out_c, in_c, taps = w3.shape
    groups = -(-in_c // lanes)
    padded = np.zeros((out_c, groups * lanes, taps), np.int64)
    padded[:, :in_c] = w3
    bits = 32 // lanes
    lanes_u = (padded.reshape(out_c, groups, lanes, taps) % (1 << bits))
    packed = sum(lanes_u[:, :, j] << (bits * j) for j in range(lanes))
    return _wrap32(packed)


def _depthwise_s8(ctx, node, call: Call, variant: str) -> None:
    p = call.params.fields
    x_op, w_op, b_op, y_op = call.operands
    w = np.asarray(ctx.const_value(w_op.tensor)).astype(np.int64).reshape(p["out_c"], -1)
    tables = dw_regs_tables(p) if variant == "avx512" and dw_regs_preferred(p) else None
    channels = dw_regs_channels(p) if tables is not None else None
    if channels is None:
        tables = None
    if variant == "avx512" and (tables is not None or dw_rows(p) or dw_rows_s2(p)):
        # one VNNI quad per kernel row: bytes kx < kernel_w, the rest 0
        rows = np.zeros((p["out_c"], p["kernel_h"], 4), np.int64)
        rows[:, :, :p["kernel_w"]] = w.reshape(p["out_c"], p["kernel_h"], p["kernel_w"])
        packed = ctx.const(f"{w_op.tensor}_rows", _pack_lanes(rows.reshape(p["out_c"], -1, 1), 4)
                           .reshape(p["out_c"], p["kernel_h"]))
        folded = ctx.const(f"{node.name}_bias_vnni", _wrap32(
            _bias_values(ctx, b_op, p["out_c"]) + (p["input_offset"] - 128) * w.sum(axis=1)))
        if tables is not None:   # small planes: quads built in registers
            t_name = ctx.const(f"{node.name}_dw_tables",
                               np.concatenate([tables, channels.reshape(-1)]))
            ctx.emit(Call("aot_depthwise_conv2d_regs_avx512_s8", call.params,
                          (x_op, Ref(packed), Ref(folded), Ref(t_name), y_op),
                          (*call.reads, packed, folded, t_name), call.writes, call.layer,
                          call.op, call.macs))
            return
        kernel = "aot_depthwise_conv2d_rows_avx512_s8" if dw_rows(p) \
            else "aot_depthwise_conv2d_rows_s2_avx512_s8"
        _emit(ctx, call, kernel, (x_op, Ref(packed), Ref(folded), y_op, Scratch()),
              (packed, folded))
        return
    widest = max(abs(-128 + p["input_offset"]), abs(127 + p["input_offset"]))
    if int(np.abs(w).sum(axis=1).max(initial=0)) * widest >= 2**24:
        raise Fallback        # the float sums would no longer be exact
    wf = ctx.const(f"{w_op.tensor}_f32", w.astype(np.float32))
    _emit(ctx, call, f"aot_depthwise_conv2d_{variant}_s8",
          (x_op, Ref(wf), b_op, y_op, Scratch()), (wf,))


def _conv_s8(node, ctx: LoweringContext, variant: str) -> None:
    call = _generic_call(node, ctx, q.lower_conv_s8)
    p = call.params.fields
    kind = _kind(p)
    if call.kernel != "aot_conv2d_s8" or kind is None:
        raise Fallback        # asymmetric weights, grouped: the portable kernel
    if kind == "depthwise":
        _depthwise_s8(ctx, node, call, variant)
        return
    x_op, w_op, b_op, y_op = call.operands
    out_c = p["out_c"]
    w3 = np.asarray(ctx.const_value(w_op.tensor)).astype(np.int64).reshape(out_c, p["in_c"], -1)
    kernel = f"aot_conv2d_{variant}_s8"
    if variant == "avx512" and conv_s8_lanes(p):
        _conv_s8_lanes(ctx, node, call, w3)
        return
    if kernel == "aot_conv2d_avx512_s8" and tap_packed(p):   # quads of taps, not channels
        packed = ctx.const(f"{w_op.tensor}_{variant}_taps",
                           _pack_lanes(w3.reshape(out_c, -1, 1), LANES[kernel]))
    elif kernel == "aot_conv2d_avx512_s8" and conv_s8_oc_lanes(p):   # channels in lanes
        packed = ctx.const(f"{w_op.tensor}_{variant}_oc_lanes",
                           _pack_oc_lanes(_pack_lanes(w3, 4)))
    else:
        packed = ctx.const(f"{w_op.tensor}_{variant}", _pack_lanes(w3, LANES[kernel]))
    consts = [packed]
    if variant == "avx512":
        folded = _bias_values(ctx, b_op, out_c) \
            + (p["input_offset"] - 128) * w3.reshape(out_c, -1).sum(axis=1)
        b_name = ctx.const(f"{node.name}_bias_vnni", _wrap32(folded))
        b_op = Ref(b_name)
        consts.append(b_name)
    _emit(ctx, call, kernel, (x_op, Ref(packed), b_op, y_op, Scratch()), consts)


def _conv_s8_lanes(ctx, node, call: Call, w3: np.ndarray) -> None:
    p = call.params.fields
    x_op, w_op, b_op, y_op = call.operands
    out_c = p["out_c"]
    packed = ctx.const(f"{w_op.tensor}_lanes",
                       lanes_weights(w3, p["kernel_h"], p["kernel_w"]))
    folded = _wrap32(_bias_values(ctx, b_op, out_c)
                     + (p["input_offset"] - 128) * w3.reshape(out_c, -1).sum(axis=1))
    table = ctx.const(f"{node.name}_lanes_table",
                      lanes_table(folded, p["multipliers"].data, p["shifts"].data,
                                  p["output_offset"]))
    ctx.emit(Call("aot_conv2d_lanes_avx512_s8", call.params,
                  (x_op, Ref(packed), Ref(table), y_op, Scratch()),
                  (*call.reads, packed, table), call.writes, call.layer, call.op, call.macs,
                  scratch_bytes=lanes_scratch(p)))


def fc_blocks(w: np.ndarray) -> np.ndarray:
    """[n][k] int8 -> aot_fully_connected_avx512_s8's [ceil(n / 16)][ceil(k / 64)][16][64],
    zero padded: each block of 16 outputs one contiguous run over k."""
    n, k = w.shape
    nb, kb = -(-n // 16), -(-k // 64)
    padded = np.zeros((nb * 16, kb * 64), np.int8)
    padded[:n, :k] = w
    return np.ascontiguousarray(padded.reshape(nb, 16, kb, 64).transpose(0, 2, 1, 3))


def _gemm_s8(node, ctx: LoweringContext, variant: str) -> None:
    first = len(ctx.steps)
    q.lower_gemm_s8(node, ctx)
    calls = ctx.steps[first:]
    if not calls or any(not isinstance(c, Call) or c.kernel != "aot_fully_connected_s8"
                        for c in calls):
        raise Fallback        # a run-time B (transposed first): the portable kernel
    f = calls[0].params.fields
    if f["weights_offset"] != 0 or f["weights_offsets"] is not None:
        raise Fallback
    del ctx.steps[first:]
    shift = f["input_offset"] - (128 if variant == "avx512" else 0)
    folded: dict[tuple, str] = {}
    blocked: dict[tuple, str] = {}
    for c in calls:
        x_op, w_op, b_op, y_op = c.operands
        n, k = c.params.fields["n"], c.params.fields["k"]
        key = (w_op.tensor, w_op.offset, getattr(b_op, "tensor", ""))
        w = np.asarray(ctx.const_value(w_op.tensor)).reshape(-1)[w_op.offset:
                                                               w_op.offset + n * k]
        if key not in folded:
            sums = w.astype(np.int64).reshape(n, k).sum(axis=1)
            folded[key] = ctx.const(f"{node.name}_bias_{variant}",
                                    _wrap32(_bias_values(ctx, b_op, n) + shift * sums))
        bias = folded[key]
        consts = (bias,)
        if variant == "avx512":   # blocks of 16 outputs, contiguous over k
            if key[:2] not in blocked:
                blocked[key[:2]] = ctx.const(f"{w_op.tensor}_blocks",
                                             fc_blocks(w.reshape(n, k).astype(np.int8)))
            w_op = Ref(blocked[key[:2]])
            consts = (blocked[key[:2]], bias)
        ctx.emit(Call(f"aot_fully_connected_{variant}_s8", c.params,
                      (x_op, w_op, Ref(bias), y_op), (*c.reads, *consts), c.writes, c.layer,
                      c.op, c.macs))


def _add_s8(node, ctx: LoweringContext, variant: str) -> None:
    """Same-shape int8 Add. avx512: as two int16 table lookups (aot_add_lut_avx512_s8)
    where aot.targets.add_lut finds tables exact on every code pair, else the
    arithmetic kernel."""
    call = _generic_call(node, ctx, q.lower_add_s8)
    if call.kernel != "aot_add_s8" or call.params.fields["ndim"] != 0:
        raise Fallback        # broadcasting: the portable kernel's odometer
    found = add_lut_tables(call.params.fields) if variant == "avx512" else None
    if found is not None:
        tables, k = found
        name = ctx.const(f"{node.name}_add_lut",
                         np.concatenate([tables.reshape(-1), [k]]).astype(np.int16))
        a_op, b_op, y_op = call.operands
        ctx.emit(Call("aot_add_lut_avx512_s8", call.params, (a_op, b_op, Ref(name), y_op),
                      (*call.reads, name), call.writes, call.layer, call.op, call.macs,
                      inplace=call.inplace))
        return
    ctx.emit(Call(f"aot_add_{variant}_s8", call.params, call.operands, call.reads, call.writes,
                  call.layer, call.op, call.macs, inplace=call.inplace))


def _avgpool_s8(node, ctx: LoweringContext, variant: str) -> None:
    call = _generic_call(node, ctx, q.lower_pool_s8)
    f = call.params.fields
    pool = f["pool"] if call.kernel == "aot_avgpool2d_s8" else None
    if pool is None or f["count_multipliers"] is not None \
            or (pool["out_h"], pool["out_w"]) != (1, 1) \
            or (pool["kernel_h"], pool["kernel_w"]) != (pool["in_h"], pool["in_w"]) \
            or any(pool[k] for k in ("pad_top", "pad_left", "pad_bottom", "pad_right")) \
            or pool["in_h"] * pool["in_w"] * 128 >= 2**31:
        raise Fallback        # windows that are not whole planes (or int32 sums could wrap)
    ctx.emit(Call(f"aot_avgpool2d_{variant}_s8", call.params, call.operands, call.reads,
                  call.writes, call.layer, call.op, call.macs))


TRANSPOSE_MAX_COLS = 8   # AOT_TRANSPOSE2D_X86_MAX_COLS in runtime_c/aot_kernels.h


def transpose_shuffles(cols: int) -> np.ndarray:
    """vpshufb indices of aot_transpose2d_{avx2,avx512}_s8, int8 [cols][cols][64]:
    [k][v] takes output column k's bytes of 16 rows from their v-th 16-byte chunk
    (byte i is input byte cols * i + k; -128 zeroes a byte another chunk gives),
    the 16 indices repeated in each 128-bit lane."""
    src = cols * np.arange(16)[None, None, :] + np.arange(cols)[:, None, None] \
        - 16 * np.arange(cols)[None, :, None]
    lane = np.where((src >= 0) & (src < 16), src, -128).astype(np.int8)
    return np.ascontiguousarray(np.tile(lane, (1, 1, 4)))


def _transpose_2d(node, ctx: LoweringContext, variant: str, lower, dtype: str) -> None:
    """NHWC -> NCHW of a few channels (a 2-D transpose with 2..8 columns): `lower` (the
    generic rule of `dtype`) emits its call (in place or out of place), which stays; its
    out-of-place form becomes aot_transpose2d_<variant>_<dtype> with its shuffle table.
    Other permutations and wide rows keep the portable odometer."""
    first = len(ctx.steps)
    lower(node, ctx)
    steps = ctx.steps[first:]
    if len(steps) != 1 or not isinstance(steps[0], Call):
        raise Fallback        # e.g. int8 requantized into the output: the portable pair
    step = steps[0]
    call = step.fallback if step.fallback is not None else step
    x = ctx.tensor(node.inputs[0])
    perm = list(node.attr("perm", list(range(len(x.shape)))[::-1]))
    shape = transpose_as_2d(x.shape, perm)
    if call.kernel != f"aot_transpose_{dtype}" or shape is None \
            or not 2 <= shape[2] <= TRANSPOSE_MAX_COLS:
        raise Fallback
    del ctx.steps[first:]
    batch, rows, cols = shape
    if dtype == "s8":
        table = ctx.const(f"transpose{cols}_shuffles", transpose_shuffles(cols))
    else:
        table = ctx.const(f"transpose{cols}_{variant}_perms_f32",
                          transpose_perms_f32(cols, variant))
    x_op, y_op = call.operands
    params = Params("aot_transpose2d_inplace_params",
                    {"batch": batch, "rows": rows, "cols": cols,
                     "elem_bytes": 1 if dtype == "s8" else 4})
    fast = Call(f"aot_transpose2d_{variant}_{dtype}", params, (x_op, Ref(table), y_op),
                (*call.reads, table), call.writes, call.layer, call.op)
    ctx.emit(replace(step, fallback=fast) if step.fallback is not None else fast)


def _transpose_s8(node, ctx: LoweringContext, variant: str) -> None:
    _transpose_2d(node, ctx, variant, q.lower_transpose_s8, "s8")


def transpose_perms_f32(cols: int, variant: str) -> np.ndarray:
    """Permute indices of aot_transpose2d_{avx2,avx512}_f32 (see aot_kernels.h): output
    column k's lanes from each source window (avx512: vector pairs, 32 floats; avx2:
    single vectors, 8 floats), -1 where another window gives the lane."""
    lanes, window = (16, 32) if variant == "avx512" else (8, 8)
    windows = -(-cols // 2) if variant == "avx512" else cols
    src = cols * np.arange(lanes)[None, None, :] + np.arange(cols)[:, None, None] \
        - window * np.arange(windows)[None, :, None]
    return np.ascontiguousarray(np.where((src >= 0) & (src < window), src, -1).astype(np.int32))


def _transpose_f32(node, ctx: LoweringContext, variant: str) -> None:
    if ctx.tensor(node.inputs[0]).dtype != np.float32:
        raise Fallback
    _transpose_2d(node, ctx, variant, g.lower_transpose, "f32")


def transpose_avx2_f32(node, ctx):
    _transpose_f32(node, ctx, "avx2")


def transpose_avx512_f32(node, ctx):
    _transpose_f32(node, ctx, "avx512")


def _by_dtype(f32_rule, s8_rule):
    def rule(node, ctx):
        int8 = ctx.tensor(node.inputs[0]).dtype == S8
        rule_ = s8_rule if int8 else f32_rule
        if rule_ is None:
            raise Fallback
        return rule_(node, ctx)
    rule.__name__ = f"{getattr(f32_rule, '__name__', None)}|{getattr(s8_rule, '__name__', None)}"
    return rule


def conv_avx2_s8(node, ctx):
    _conv_s8(node, ctx, "avx2")


def conv_avx512_s8(node, ctx):
    _conv_s8(node, ctx, "avx512")


def gemm_avx2_s8(node, ctx):
    _gemm_s8(node, ctx, "avx2")


def gemm_avx512_s8(node, ctx):
    _gemm_s8(node, ctx, "avx512")


def add_avx2_s8(node, ctx):
    _add_s8(node, ctx, "avx2")


def add_avx512_s8(node, ctx):
    _add_s8(node, ctx, "avx512")


def avgpool_avx512_s8(node, ctx):
    _avgpool_s8(node, ctx, "avx512")


def transpose_avx2_s8(node, ctx):
    _transpose_s8(node, ctx, "avx2")


def transpose_avx512_s8(node, ctx):
    _transpose_s8(node, ctx, "avx512")


# (op, variant) -> rule; targets/registry.py registers them.
RULES = {
    ("Conv", "avx2"): _by_dtype(conv_avx2_f32, conv_avx2_s8),
    ("Conv", "avx512"): _by_dtype(conv_avx512_f32, conv_avx512_s8),
    ("Gemm", "avx2"): _by_dtype(gemm_avx2_f32, gemm_avx2_s8),
    ("Gemm", "avx512"): _by_dtype(gemm_avx512_f32, gemm_avx512_s8),
    ("Add", "avx2"): _by_dtype(binary_avx2_f32, add_avx2_s8),
    ("Add", "avx512"): _by_dtype(binary_avx512_f32, add_avx512_s8),
    ("Sub", "avx2"): binary_avx2_f32,
    ("Sub", "avx512"): binary_avx512_f32,
    ("Mul", "avx2"): binary_avx2_f32,
    ("Mul", "avx512"): binary_avx512_f32,
    ("Div", "avx2"): binary_avx2_f32,
    ("Div", "avx512"): binary_avx512_f32,
    ("AveragePool", "avx2"): avgpool_avx2_f32,
    ("AveragePool", "avx512"): _by_dtype(avgpool_avx512_f32, avgpool_avx512_s8),
    ("Transpose", "avx2"): _by_dtype(transpose_avx2_f32, transpose_avx2_s8),
    ("Transpose", "avx512"): _by_dtype(transpose_avx512_f32, transpose_avx512_s8),
    ("MatMul", "avx2"): matmul_avx2_f32,
    ("MatMul", "avx512"): matmul_avx512_f32,
}

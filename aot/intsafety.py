"""Integer safety of int8 layers, proved at compile time from the actual weights.

An int8 convolution, depthwise convolution or fully-connected layer computes,
per output channel c, the int32 accumulator

    acc[c] = bias[c] + sum_k (x_k - x_zp) * (w[c, k] - w_zp[c])

over int8 inputs x_k in [lo, hi] (default the whole int8 range; padded taps
read x_zp and add 0). Each tap varies independently, so the exact extremes
over every possible input are

    max acc[c] = bias[c] + sum_k max((lo - x_zp) * w'[c, k], (hi - x_zp) * w'[c, k])
    min acc[c] = bias[c] + sum_k min(...)

with w' = w - w_zp: `layer_bounds` computes them (not the looser
|bias| + 255 * sum |w'| bound) and says whether they fit int32. It also gives
the intermediates of the usual SIMD formulations, so an ISA-variant rule can
check its own form and raise `Fallback` when it is unsafe:

- `raw_*`: sum_k x_k * w'[c, k] alone, for kernels that fold x_zp * sum_k w'
  into the bias and accumulate raw int8 products (Arm SDOT, CMSIS-NN).
- `biased_*`: sum_k (x_k + 128) * w'[c, k], the u8 form of AVX-512 VNNI `vpdpbusd`
  before its 128 * sum_k w' correction (int32 lanes, wrapping, no saturation).
- `pair_*`: x86 `vpmaddubsw` multiplies unsigned bytes by signed bytes and
  adds adjacent pairs into int16 with saturation at +-32767/-32768. With the
  input as u8 (x + 128, in [lo + 128, hi + 128]) and the weights as s8, a pair
  is u_a * w'[c, a] + u_b * w'[c, b]; `pair_*` bound it for ANY pairing of a
  row's K weights (the two most positive / most negative weights), so it
  holds for every weight layout; `pair_sum_range(w_nk, ...)` gives the exact
  range for the pairing (k, k+1) of a given [n][k] layout. Weights of -128 are
  legal int8 but only TFLite's symmetric range [-127, 127] keeps two of them
  from reaching -65280.
- Cortex-M `SMLAD` multiplies 16-bit halves into a 32-bit accumulator: its
  only risk is the int32 accumulator itself (`acc_fits_int32`).

A variant rule asks, e.g.:

    b = node_bounds(node, ctx.tensor)
    if b is None or not b.pairs_fit_int16:
        raise Fallback("vpmaddubsw pairs could saturate")

`check_int8_accumulators` is the pipeline pass: it raises a ModelError naming
the node when an int8 Conv/Gemm's int32 accumulator can overflow (TFLite
would wrap silently and return garbage), and otherwise returns the graph
unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from aot.errors import ModelError
from aot.ir import Graph, Node, Tensor

I32_MIN, I32_MAX = -(2**31), 2**31 - 1
I16_MIN, I16_MAX = -(2**15), 2**15 - 1


@dataclass(frozen=True)
class LayerBounds:
    """Exact ranges over every int8 input in [input_min, input_max] (see module doc)."""

    node: str
    acc_min: int          # bias + sum (x - x_zp)(w - w_zp)
    acc_max: int
    worst_channel: int    # the output channel whose accumulator comes closest to int32's limits
    raw_min: int          # sum x * (w - w_zp), without bias and offset
    raw_max: int
    biased_min: int       # sum (x + 128) * (w - w_zp): u8 x s8 products (vpdpbusd)
    biased_max: int
    pair_min: int         # u8 x s8 adjacent-pair sums (vpmaddubsw), any pairing
    pair_max: int

    @property
    def acc_fits_int32(self) -> bool:
        return I32_MIN <= self.acc_min and self.acc_max <= I32_MAX

    @property
    def raw_fits_int32(self) -> bool:
        return I32_MIN <= self.raw_min and self.raw_max <= I32_MAX

    @property
    def biased_fits_int32(self) -> bool:
        return I32_MIN <= self.biased_min and self.biased_max <= I32_MAX

    @property
    def pairs_fit_int16(self) -> bool:
        return I16_MIN <= self.pair_min and self.pair_max <= I16_MAX

    @property
    def max_abs_pair(self) -> int:
        return max(abs(self.pair_min), abs(self.pair_max))


def _extremes(w: np.ndarray, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row of w [n][k]: (min, max) of sum_k v_k * w[:, k] over v_k in [lo, hi]."""
    a, b = w * lo, w * hi
    return np.minimum(a, b).sum(axis=1), np.maximum(a, b).sum(axis=1)


def layer_bounds(w_nk: np.ndarray, bias: np.ndarray | None, input_zero_point: int,
                 weight_zero_points=0, *, input_range: tuple[int, int] = (-128, 127),
                 node: str = "") -> LayerBounds:
    """Bounds of an int8 layer with weights as [n][k] (one row per output channel;
    a depthwise or grouped conv's row holds only the taps that channel reads)."""
    w = np.asarray(w_nk, np.int64)
    w = w.reshape(w.shape[0], -1) - np.asarray(weight_zero_points, np.int64).reshape(-1, 1)
    lo, hi = int(input_range[0]), int(input_range[1])
    b = np.zeros(w.shape[0], np.int64) if bias is None else \
        np.asarray(bias, np.int64).reshape(-1)
    acc_lo, acc_hi = _extremes(w, lo - input_zero_point, hi - input_zero_point)
    acc_lo, acc_hi = acc_lo + b, acc_hi + b
    raw_lo, raw_hi = _extremes(w, lo, hi)
    biased_lo, biased_hi = _extremes(w, lo + 128, hi + 128)
    # Any pairing: the two largest (smallest) u * w terms of a row.
    u_lo, u_hi = lo + 128, hi + 128
    best = np.sort(np.maximum(w * u_lo, w * u_hi), axis=1)
    worst = np.sort(np.minimum(w * u_lo, w * u_hi), axis=1)
    if w.shape[1] >= 2:
        pair_max = int((best[:, -1] + best[:, -2]).max())
        pair_min = int((worst[:, 0] + worst[:, 1]).min())
    else:
        pair_max, pair_min = int(best.max()), int(worst.min())
    margin = np.maximum(acc_hi - I32_MAX, I32_MIN - acc_lo)
    return LayerBounds(node, int(acc_lo.min()), int(acc_hi.max()), int(np.argmax(margin)),
                       int(raw_lo.min()), int(raw_hi.max()), int(biased_lo.min()),
                       int(biased_hi.max()), pair_min, pair_max)


def pair_sum_range(w_nk: np.ndarray, input_range: tuple[int, int] = (-128, 127)) -> tuple[int, int]:
    """Exact (min, max) of u[k] * w[c, k] + u[k+1] * w[c, k+1] for the pairs (0, 1),
    (2, 3), ... of each row of w_nk (an odd K pads a zero weight), u = x + 128."""
    w = np.asarray(w_nk, np.int64)
    w = w.reshape(w.shape[0], -1)
    if w.shape[1] % 2:
        w = np.concatenate([w, np.zeros((w.shape[0], 1), np.int64)], axis=1)
    u_lo, u_hi = input_range[0] + 128, input_range[1] + 128
    lo = np.minimum(w * u_lo, w * u_hi).reshape(w.shape[0], -1, 2).sum(axis=2)
    hi = np.maximum(w * u_lo, w * u_hi).reshape(w.shape[0], -1, 2).sum(axis=2)
    return int(lo.min()), int(hi.max())


def _zero_point(t: Tensor) -> int:
    return int(t.quant.zero_point[0]) if t.quant is not None else 0


def node_bounds(node: Node, tensor: Callable[[str], Tensor]) -> LayerBounds | None:
    """LayerBounds of an int8 Conv or Gemm node (after the QDQ pass) whose weights are
    constant, or None for other nodes. `tensor` looks a name up (Graph.tensor or a
    LoweringContext's)."""
    if node.op not in ("Conv", "Gemm") or len(node.inputs) < 2:
        return None
    x, w = tensor(node.inputs[0]), tensor(node.inputs[1])
    if x.dtype != np.int8 or w.dtype != np.int8 or not w.is_const:
        return None
    data = np.asarray(w.data)
    if node.op == "Conv":
        w_nk = data.reshape(data.shape[0], -1)      # [M][C/g * kh * kw]
        channels = data.shape[0]
    else:
        if len(data.shape) != 2:
            return None
        w_nk = data if node.attr("transB", 0) else data.T
        channels = w_nk.shape[0]
    zps = [0] if w.quant is None else list(w.quant.zero_point)
    zps = np.array(zps * (channels if len(zps) == 1 else 1), np.int64)
    bias_name = node.inputs[2] if len(node.inputs) > 2 else ""
    bias = None
    if bias_name:
        b = tensor(bias_name)
        if not b.is_const:
            return None
        bias = np.asarray(b.data)
    return layer_bounds(w_nk, bias, _zero_point(x), zps, node=node.name)


def check_int8_accumulators(graph: Graph) -> Graph:
    """Pipeline pass (check only): every int8 Conv/Gemm's int32 accumulator provably
    fits; else a ModelError naming the node. Returns the graph unchanged."""
    bad = []
    for node in graph.nodes:
        b = node_bounds(node, graph.tensor)
        if b is not None and not b.acc_fits_int32:
            bad.append(f"{node.op} '{node.name}': output channel {b.worst_channel} can reach "
                       f"[{b.acc_min}, {b.acc_max}]")
    if bad:
        raise ModelError(
            f"int8 {bad[0]}, beyond int32: its accumulator would overflow (TFLite wraps "
            f"silently)" + (f"; and {len(bad) - 1} more layer(s)" if len(bad) > 1 else ""),
            bad[1:] + ["requantize the model with smaller bias values or split the layer "
                       "(fewer taps per output)"])
    return graph

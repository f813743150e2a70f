"""int8 same-shape Add as two int16 tables: out = clamp(sat8(floor(sat16(F[x] + G[y]) / 2^k))).

Contract: `add_lut_tables(fields)` takes the generic int8 Add call's parameters
(aot_add_s8_params fields: offsets, multipliers, shifts, left_shift, clamp) and
returns (tables, k): int16 [2][256] tables F, G indexed by int8 code & 0xFF and a
shift k in 0..8 such that, for EVERY pair of codes (x, y),

    clamp(sat8(floor(sat16(F[x] + G[y]) / 2^k)), act_min, act_max) == TFLite's AddFunc(x, y)

(sat16: vpaddsw, floor / 2^k: vpsraw, sat8: vpacksswb), or None where no such tables
exist. The equality is checked exhaustively over all 65536 pairs against TFLite's
reference arithmetic (`aot.lookup_tables.mul_by_quantized_multiplier` applied to each
input's rescaled code, `rules_dsp.add_tables`), so a table this returns is exact.

Why such tables exist: with D = 2^(31 + r), TFLite's two output roundings are one floor
division (runtime_c/aot_requant_avx512_impl.h), floor((u_x + v_y - 2^31 [P < 0]) / D),
with u_x = a_x M' + c and v_y = b_y M' (a_x, b_y the rescaled inputs, M' the output
multiplier, c the rounding constants). Without the sign term that is A_x + B_y +
[f_x >= D - g_y] (integer parts A, B, fractions f, g), a comparison of a function of x
with one of y, i.e. of ranks: F[x] = 2^k A_x + R_x, G[y] = 2^k B_y + 2^k - 1 - Q_y. That
form needs 8 rank bits beside the integer parts, which int16 often cannot hold (IC's
adds: one input's scale is ~2x the output's, B spans ~450 values).

So the tables are not built from that formula but solved for: every pair's required
output o puts F[x] + G[y] in an interval (2^k o .. 2^k o + 2^k - 1 for act_min < o <
act_max; at least 2^k act_max for o = act_max and at most 2^k act_min + 2^k - 1 for
o = act_min, where vpaddsw's saturation and the pack's only push further out), and
F, G in int16: a system of difference constraints in F and -G, feasible exactly when
its constraint graph has no negative cycle (Bellman-Ford; its shortest distances are a
solution). This finds tables whenever any exist for a k, absorbs the sign term and
uses the clamp's slack; k = 8 is tried first, then smaller (coarser steps, wider range).
"""

from __future__ import annotations

import numpy as np

from aot.lookup_tables import mul_by_quantized_multiplier
from aot.targets.rules_dsp import add_tables

I16_MIN, I16_MAX = -(1 << 15), (1 << 15) - 1


def _wrap32(v: np.ndarray) -> np.ndarray:
    return ((v.astype(np.int64) + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def add_reference(f: dict) -> np.ndarray:
    """TFLite's AddFunc on every pair of codes: int8 [256][256], [x & 0xFF][y & 0xFF]."""
    t = add_tables(f).astype(np.int64)
    sums = _wrap32(t[0][:, None] + t[1][None, :])
    uniq, inverse = np.unique(sums, return_inverse=True)
    out = np.array([mul_by_quantized_multiplier(int(s), f["output_multiplier"],
                                                f["output_shift"]) for s in uniq], np.int64)
    out = _wrap32(out + f["output_offset"])
    return np.clip(out[inverse.reshape(sums.shape)], f["act_min"], f["act_max"]).astype(np.int8)


def lut_outputs(tables: np.ndarray, k: int, act_min: int, act_max: int) -> np.ndarray:
    """What aot_add_lut_avx512_s8 computes from int16 tables [2][256] and k, every
    pair: vpaddsw, vpsraw by k, vpacksswb, the clamp."""
    s = tables[0].astype(np.int32)[:, None] + tables[1].astype(np.int32)[None, :]
    s = np.clip(np.clip(s, I16_MIN, I16_MAX) >> k, -128, 127)
    return np.clip(s, act_min, act_max).astype(np.int8)


_INF = 1 << 40


def _solve(out: np.ndarray, k: int, lo: int, hi: int) -> np.ndarray | None:
    """Integer F, G in int16 with clamp(sat8(floor(sat16(F[x] + G[y]) / 2^k)), lo, hi)
    == out[x][y] for every pair, or None where none exist (see the module docstring)."""
    step = 1 << k
    o = out.astype(np.int64)
    interior = (o > lo) & (o < hi)
    # F_x + G_y <= upper (an edge H_y -> F_x, H = -G), F_x + G_y >= lower (F_x -> H_y)
    upper = np.where(interior | (o == lo), step * o + step - 1, _INF)
    lower = np.where(interior | (o == hi), step * o, -_INF)
    if lo == hi:
        upper[:], lower[:] = _INF, -_INF
    w_hf = upper.T                   # [y][x]
    w_fh = -lower                    # [x][y]
    d_f, d_h, d_z = np.zeros(256, np.int64), np.zeros(256, np.int64), 0
    for _ in range(2 * 513):
        new_f = np.minimum(np.minimum(d_f, (d_h[:, None] + w_hf).min(axis=0)), d_z - I16_MIN - 1)
        new_h = np.minimum(np.minimum(d_h, (new_f[:, None] + w_fh).min(axis=0)), d_z - I16_MIN)
        new_z = min(d_z, int((new_f - I16_MIN).min()), int((new_h + I16_MAX).min()))
        if new_z == d_z and np.array_equal(new_f, d_f) and np.array_equal(new_h, d_h):
            return np.stack([d_f - d_z, d_z - d_h])
        d_f, d_h, d_z = new_f, new_h, new_z
    return None                      # a negative cycle: no tables for this k


def add_lut_tables(f: dict) -> tuple[np.ndarray, int] | None:
    """(F, G as int16 [2][256], k) for aot_add_lut_avx512_s8, exhaustively checked
    against TFLite's AddFunc; None where no k in 8..0 admits int16 tables."""
    lo, hi = f["act_min"], f["act_max"]
    if not -128 <= lo <= hi <= 127:
        return None
    reference = add_reference(f)
    for k in range(8, -1, -1):
        tables = _solve(reference, k, lo, hi)
        if tables is None:
            continue
        tables = tables.astype(np.int16)
        if np.array_equal(lut_outputs(tables, k, lo, hi), reference):
            return tables, k
    return None

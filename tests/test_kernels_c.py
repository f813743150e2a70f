# SPDX-License-Identifier: Apache-2.0
"""Direct tests of the portable C kernels in runtime_c/ through ctypes.

Each kernel runs on small random tensors and is compared with a float64
numpy reference; for the ops whose ONNX edge cases are easy to get wrong
(pooling with ceil_mode / count_include_pad, Pad with negative pads) the
reference is checked against onnxruntime as well, when it is installed.
The ctypes Structures mirror aot_types.h; a C helper reports sizeof and
offsetof from the compiler so that a drifting mirror fails loudly.
"""

from __future__ import annotations

import ctypes
import itertools
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

RUNTIME = Path(__file__).resolve().parent.parent / "runtime_c"
MAX_DIMS = 6

c_float_p = ctypes.POINTER(ctypes.c_float)
i32 = ctypes.c_int32
f32 = ctypes.c_float
Dims = i32 * MAX_DIMS


# --- mirrors of aot_types.h ---------------------------------------------------

ACT_NONE, ACT_RELU, ACT_CLIP, ACT_LEAKY_RELU, ACT_HARD_SIGMOID, ACT_HARD_SWISH = range(6)
PAD_CONSTANT, PAD_REFLECT, PAD_EDGE, PAD_WRAP = range(4)


class Act(ctypes.Structure):
    _fields_ = [("kind", i32), ("alpha", f32), ("beta", f32), ("lo", f32), ("hi", f32)]


class Conv2dParams(ctypes.Structure):
    _fields_ = [(n, i32) for n in (
        "batch", "in_c", "in_h", "in_w", "out_c", "out_h", "out_w", "kernel_h", "kernel_w",
        "stride_h", "stride_w", "dilation_h", "dilation_w", "pad_top", "pad_left", "groups",
    )] + [("act", Act)]


class MatmulParams(ctypes.Structure):
    _fields_ = [(n, i32) for n in (
        "batch", "m", "n", "k", "a_row_stride", "a_k_stride", "b_k_stride", "b_col_stride",
        "bias_row_stride", "bias_col_stride",
    )] + [
        ("alpha", f32), ("beta", f32),
        ("a_offsets", ctypes.POINTER(i32)), ("b_offsets", ctypes.POINTER(i32)),
        ("act", Act),
    ]


class BinaryParams(ctypes.Structure):
    _fields_ = [("size", i32), ("ndim", i32), ("dims", Dims), ("a_strides", Dims),
                ("b_strides", Dims), ("act", Act)]


class UnaryParams(ctypes.Structure):
    _fields_ = [("size", i32), ("act", Act)]


class SoftmaxParams(ctypes.Structure):
    _fields_ = [("outer", i32), ("axis", i32), ("inner", i32)]


class ReduceParams(ctypes.Structure):
    _fields_ = [("outer", i32), ("reduce", i32), ("inner", i32)]


class Pool2dParams(ctypes.Structure):
    _fields_ = [(n, i32) for n in (
        "planes", "in_h", "in_w", "out_h", "out_w", "kernel_h", "kernel_w", "stride_h",
        "stride_w", "dilation_h", "dilation_w", "pad_top", "pad_left", "pad_bottom",
        "pad_right", "count_include_pad",
    )]


class TransposeParams(ctypes.Structure):
    _fields_ = [("ndim", i32), ("out_dims", Dims), ("in_strides", Dims)]


class Copy2dParams(ctypes.Structure):
    _fields_ = [("rows", i32), ("row_bytes", i32), ("src_stride", i32), ("dst_stride", i32)]


class PadParams(ctypes.Structure):
    _fields_ = [("ndim", i32), ("in_dims", Dims), ("out_dims", Dims), ("pads_begin", Dims),
                ("mode", i32), ("value", f32)]


class ScaleShiftParams(ctypes.Structure):
    _fields_ = [("outer", i32), ("channels", i32), ("inner", i32)]


# (ctypes mirror, C type name, a field whose offset is checked too)
LAYOUTS = [
    (Act, "aot_act_f32", "hi"),
    (Conv2dParams, "aot_conv2d_params", "act"),
    (MatmulParams, "aot_matmul_params", "act"),
    (BinaryParams, "aot_binary_params", "act"),
    (UnaryParams, "aot_unary_params", "act"),
    (SoftmaxParams, "aot_softmax_params", "inner"),
    (ReduceParams, "aot_reduce_params", "inner"),
    (Pool2dParams, "aot_pool2d_params", "count_include_pad"),
    (TransposeParams, "aot_transpose_params", "in_strides"),
    (Copy2dParams, "aot_copy2d_params", "dst_stride"),
    (PadParams, "aot_pad_params", "value"),
    (ScaleShiftParams, "aot_scale_shift_params", "inner"),
]


def layout_c() -> str:
    rows = ",\n".join(
        f"    sizeof({c}), offsetof({c}, {field})" for _, c, field in LAYOUTS
    )
    return (
        "#include <stddef.h>\n#include \"aot_kernels.h\"\n"
        f"const size_t aot_test_layout[] = {{\n{rows}\n}};\n"
    )


def dims(values) -> Dims:
    values = list(values)
    return Dims(*(values + [0] * (MAX_DIMS - len(values))))


def act(kind=ACT_NONE, alpha=0.0, beta=0.0, lo=0.0, hi=0.0) -> Act:
    return Act(kind, alpha, beta, lo, hi)


def act_ref(a: Act, x: np.ndarray) -> np.ndarray:
    if a.kind == ACT_RELU:
        return np.maximum(x, 0)
    if a.kind == ACT_CLIP:
        return np.minimum(np.maximum(x, np.float32(a.lo)), np.float32(a.hi))
    if a.kind == ACT_LEAKY_RELU:
        return np.where(x < 0, np.float32(a.alpha) * x, x)
    if a.kind == ACT_HARD_SIGMOID:
        return np.clip(np.float32(a.alpha) * x + np.float32(a.beta), 0, 1)
    if a.kind == ACT_HARD_SWISH:
        return x * np.clip(x / 6 + 0.5, 0, 1)
    return x


# --- build --------------------------------------------------------------------


# The float32 runtime and the libc replacements it needs.
F32_RUNTIME = [
    "aot_conv2d_f32", "aot_matmul_f32", "aot_add_f32", "aot_sub_f32", "aot_mul_f32",
    "aot_div_f32", "aot_activation_f32", "aot_sigmoid_f32", "aot_tanh_f32", "aot_softmax_f32",
    "aot_reduce_mean_f32", "aot_reduce_max_f32", "aot_maxpool2d_f32", "aot_avgpool2d_f32",
    "aot_transpose_f32", "aot_copy2d", "aot_pad_f32", "aot_scale_shift_f32", "aot_memcpy",
    "aot_memset", "aot_expf", "aot_tanhf",
]


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    cc = shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler (cc) on PATH")
    out = tmp_path_factory.mktemp("aot_kernels")
    helper = out / "layout.c"
    helper.write_text(layout_c())
    so = out / "libaotkernels.so"
    sources = [str(RUNTIME / f"{name}.c") for name in F32_RUNTIME]
    subprocess.run(
        [cc, "-O1", "-shared", "-fPIC", "-std=c99", "-Wall", "-Wextra", "-Werror",
         "-I", str(RUNTIME), "-o", str(so), str(helper), *sources],
        check=True,
    )
    return ctypes.CDLL(str(so))


def fp(a: np.ndarray | None):
    """A float* for a C-contiguous float32 array (None -> NULL)."""
    if a is None:
        return None
    assert a.dtype == np.float32 and a.flags["C_CONTIGUOUS"]
    return a.ctypes.data_as(c_float_p)


def call(lib, name: str, params, *arrays):
    getattr(lib, name)(ctypes.byref(params), *(fp(a) for a in arrays))


def rand(rng, *shape) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


def close(got, ref, rtol=1e-5, atol=1e-5):
    np.testing.assert_allclose(got, np.asarray(ref, dtype=np.float64), rtol=rtol, atol=atol)


def onnx_run(op: str, inputs: dict, initializers: dict | None = None, opset=22, **attrs):
    """Runs one ONNX node in onnxruntime (skips the test if it is missing)."""
    ort = pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper, numpy_helper

    initializers = initializers or {}
    node = helper.make_node(op, [*inputs, *initializers], ["y"], **attrs)
    graph = helper.make_graph(
        [node], "g",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(v.shape)) for n, v in inputs.items()],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(v, n) for n, v in initializers.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, inputs)[0]


def test_struct_layouts_match_the_c_headers(lib):
    n = 2 * len(LAYOUTS)
    c = (ctypes.c_size_t * n).in_dll(lib, "aot_test_layout")
    for i, (cls, cname, field) in enumerate(LAYOUTS):
        assert ctypes.sizeof(cls) == c[2 * i], f"sizeof({cname})"
        assert getattr(cls, field).offset == c[2 * i + 1], f"offsetof({cname}, {field})"


# --- conv2d -------------------------------------------------------------------


def conv_ref(x, w, b, strides, dilations, pads, groups):
    """ONNX Conv in float64; pads = (top, left, bottom, right)."""
    n, c, h, wd = x.shape
    m, cg, kh, kw = w.shape
    (sh, sw), (dh, dw), (pt, pl, pb, pr) = strides, dilations, pads
    oh = (h + pt + pb - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + pl + pr - dw * (kw - 1) - 1) // sw + 1
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    y = np.zeros((n, m, oh, ow))
    mg = m // groups
    for g in range(groups):
        for ky in range(kh):
            for kx in range(kw):
                patch = xp[:, g * cg:(g + 1) * cg,
                           ky * dh: ky * dh + sh * (oh - 1) + 1: sh,
                           kx * dw: kx * dw + sw * (ow - 1) + 1: sw]
                wk = w[g * mg:(g + 1) * mg, :, ky, kx].astype(np.float64)
                y[:, g * mg:(g + 1) * mg] += np.einsum("nchw,mc->nmhw", patch, wk)
    if b is not None:
        y += b.astype(np.float64)[None, :, None, None]
    return y


CONV_CASES = {
    # name: (N, C, H, W, M, groups, (kh, kw), strides, dilations, (top, left, bottom, right), bias, act)
    "groups_dilation_stride_asym_pad":
        (1, 4, 9, 8, 6, 2, (3, 2), (2, 1), (2, 1), (1, 0, 2, 1), True, act()),
    "depthwise_3x3_relu":
        (2, 3, 7, 6, 3, 3, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), True, act(ACT_RELU)),
    "depthwise_multiplier2_stride2":
        (1, 3, 8, 8, 6, 3, (3, 3), (2, 2), (1, 1), (0, 1, 1, 0), False, act()),
    "kernel_larger_than_input_clip":
        (2, 2, 3, 4, 3, 1, (5, 5), (1, 2), (1, 1), (3, 2, 3, 2), False, act(ACT_CLIP, lo=-0.5, hi=0.5)),
    "conv1d_dilated":
        (1, 3, 1, 17, 4, 1, (1, 3), (1, 2), (1, 3), (0, 2, 0, 1), True, act(ACT_LEAKY_RELU, alpha=0.1)),
    "pointwise":
        (1, 5, 4, 3, 7, 1, (1, 1), (1, 1), (1, 1), (0, 0, 0, 0), True, act()),
}


@pytest.mark.parametrize("case", list(CONV_CASES))
def test_conv2d(lib, case):
    n, c, h, w_, m, groups, (kh, kw), strides, dil, pads, has_bias, a = CONV_CASES[case]
    rng = np.random.default_rng(abs(hash(case)) % 2**32)
    x = rand(rng, n, c, h, w_)
    w = rand(rng, m, c // groups, kh, kw)
    b = rand(rng, m) if has_bias else None
    ref = conv_ref(x, w, b, strides, dil, pads, groups)
    oh, ow = ref.shape[2:]
    p = Conv2dParams(n, c, h, w_, m, oh, ow, kh, kw, strides[0], strides[1], dil[0], dil[1],
                     pads[0], pads[1], groups, a)
    y = np.full(ref.shape, np.nan, dtype=np.float32)
    call(lib, "aot_conv2d_f32", p, x, w, b, y)
    close(y, act_ref(a, ref))


def test_conv2d_reference_agrees_with_onnxruntime():
    n, c, h, w_, m, groups, (kh, kw), strides, dil, pads, _, _ = CONV_CASES["groups_dilation_stride_asym_pad"]
    rng = np.random.default_rng(1)
    x, w, b = rand(rng, n, c, h, w_), rand(rng, m, c // groups, kh, kw), rand(rng, m)
    y = onnx_run("Conv", {"x": x}, {"w": w, "b": b}, group=groups, strides=list(strides),
                 dilations=list(dil), pads=list(pads), kernel_shape=[kh, kw])
    close(y, conv_ref(x, w, b, strides, dil, pads, groups))


# --- matmul -------------------------------------------------------------------


def run_matmul(lib, a, b, *, batch, m, n, k, a_row, a_k, b_k, b_col, a_offsets, b_offsets,
               bias=None, bias_row=0, bias_col=0, alpha=1.0, beta=1.0, act_=None):
    a_off = None if a_offsets is None else (i32 * batch)(*a_offsets)
    b_off = None if b_offsets is None else (i32 * batch)(*b_offsets)
    p = MatmulParams(batch, m, n, k, a_row, a_k, b_k, b_col, bias_row, bias_col, alpha, beta,
                     ctypes.cast(a_off, ctypes.POINTER(i32)), ctypes.cast(b_off, ctypes.POINTER(i32)),
                     act_ or act())
    y = np.full((batch, m, n), np.nan, dtype=np.float32)
    call(lib, "aot_matmul_f32", p, a, b, bias, y)
    return y


def test_matmul_broadcast_batches_row_major_b(lib):
    # A [3, 4, 5] @ B [5, 6] (B shared by all batches), bias [6] broadcast over rows.
    rng = np.random.default_rng(2)
    a, b, bias = rand(rng, 3, 4, 5), rand(rng, 5, 6), rand(rng, 6)
    y = run_matmul(lib, a, b, batch=3, m=4, n=6, k=5, a_row=5, a_k=1, b_k=6, b_col=1,
                   a_offsets=[0, 20, 40], b_offsets=None, bias=bias, bias_row=0, bias_col=1,
                   alpha=0.5, beta=2.0)
    close(y, 0.5 * (a.astype(np.float64) @ b) + 2.0 * bias)


def test_matmul_transposed_operands_and_repeated_batches(lib):
    # Y[b] = A[b % 2]^T @ B[b // 2]^T for 4 batches (a [2, K, M], b [2, N, K]),
    # i.e. strided reads of both operands, offsets that repeat, and a bias
    # column [M, 1] broadcast over columns, with a fused ReLU.
    rng = np.random.default_rng(3)
    m, n, k = 3, 5, 7
    a, b, bias = rand(rng, 2, k, m), rand(rng, 2, n, k), rand(rng, m, 1)
    y = run_matmul(lib, a, b, batch=4, m=m, n=n, k=k, a_row=1, a_k=m, b_k=1, b_col=k,
                   a_offsets=[0, k * m, 0, k * m], b_offsets=[0, 0, n * k, n * k],
                   bias=bias, bias_row=1, bias_col=0, act_=act(ACT_RELU))
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    ref = np.stack([a64[i % 2].T @ b64[i // 2].T for i in range(4)]) + bias
    close(y, np.maximum(ref, 0))


def test_matmul_loop_orders_agree_bit_for_bit(lib):
    # The row-accumulator path (b_col_stride == 1) and the dot-product path
    # add the same products in the same order.
    rng = np.random.default_rng(4)
    a, b = rand(rng, 1, 6, 33), rand(rng, 33, 9)
    bt = np.ascontiguousarray(b.T)
    common = dict(batch=1, m=6, n=9, k=33, a_row=33, a_k=1, a_offsets=None, b_offsets=None)
    y1 = run_matmul(lib, a, b, b_k=9, b_col=1, **common)
    y2 = run_matmul(lib, a, bt, b_k=1, b_col=33, **common)
    assert np.array_equal(y1, y2)
    close(y1[0], a[0].astype(np.float64) @ b)


# --- binary -------------------------------------------------------------------


def broadcast_params(shape_a, shape_b, act_=None):
    """Collapsed-free parameters for numpy broadcasting of a and b (dense)."""
    out = np.broadcast_shapes(shape_a, shape_b)

    def strides(shape):
        shape = (1,) * (len(out) - len(shape)) + tuple(shape)
        st, acc = [], 1
        for d in reversed(shape):
            st.append(acc if d != 1 else 0)
            acc *= d
        return list(reversed(st))

    p = BinaryParams(int(np.prod(out)), len(out), dims(out), dims(strides(shape_a)),
                     dims(strides(shape_b)), act_ or act())
    return p, out


@pytest.mark.parametrize("op,fn", [("add", np.add), ("sub", np.subtract),
                                   ("mul", np.multiply), ("div", np.divide)])
def test_binary_broadcasting(lib, op, fn):
    rng = np.random.default_rng(5)
    for sa, sb in [((2, 3, 4), (3, 1)), ((4, 1, 5), (1, 3, 1)), ((1,), (2, 3)),
                   ((2, 1, 3, 1, 2, 2), (2, 2, 1, 4, 1, 2)), ((7,), (7,))]:
        a, b = rand(rng, *sa), rand(rng, *sb) + (3.0 if op == "div" else 0.0)
        p, out = broadcast_params(sa, sb)
        y = np.full(out, np.nan, dtype=np.float32)
        call(lib, f"aot_{op}_f32", p, a, b, y)
        assert np.array_equal(y, fn(a, b)), (sa, sb)  # float32 op: exact


def test_binary_dense_ndim0_with_activation(lib):
    rng = np.random.default_rng(6)
    a, b = rand(rng, 37), rand(rng, 37)
    for a_ in (act(ACT_LEAKY_RELU, alpha=0.25), act(ACT_HARD_SWISH),
               act(ACT_HARD_SIGMOID, alpha=0.2, beta=0.5)):
        p = BinaryParams(37, 0, dims([]), dims([]), dims([]), a_)
        y = np.empty(37, dtype=np.float32)
        call(lib, "aot_mul_f32", p, a, b, y)
        close(y, act_ref(a_, a.astype(np.float64) * b), atol=1e-6)


# --- unary, softmax, reductions, scale/shift ----------------------------------


def test_unary_kernels_in_place(lib):
    rng = np.random.default_rng(7)
    x = np.concatenate([rand(rng, 200) * 6,
                        np.array([0, -0.0, 100, -100, np.inf, -np.inf], np.float32)])
    y = x.copy()
    call(lib, "aot_sigmoid_f32", UnaryParams(x.size, act()), y, y)
    close(y, 1 / (1 + np.exp(-x.astype(np.float64))), rtol=1e-6, atol=2.0**-149)
    assert y[-4] > 0  # sigmoid(-100) = 3.7e-44 is a subnormal, not 0
    y = x.copy()
    call(lib, "aot_tanh_f32", UnaryParams(x.size, act()), y, y)
    close(y, np.tanh(x.astype(np.float64)), rtol=1e-6, atol=2.0**-149)
    a_ = act(ACT_CLIP, lo=-1.0, hi=6.0)
    y = x.copy()
    call(lib, "aot_activation_f32", UnaryParams(x.size, a_), y, y)
    assert np.array_equal(y, act_ref(a_, x))


def test_softmax_middle_axis_large_values_and_nan(lib):
    rng = np.random.default_rng(8)
    x = rand(rng, 2, 5, 3) * 30 + 80  # e^x alone would overflow float32
    x[1, 2, 1] = np.nan
    y = np.empty_like(x)
    call(lib, "aot_softmax_f32", SoftmaxParams(2, 5, 3), x, y)
    x64 = x.astype(np.float64)
    e = np.exp(x64 - x64.max(axis=1, keepdims=True))
    ref = e / e.sum(axis=1, keepdims=True)
    close(y, ref, rtol=1e-5, atol=1e-7)
    assert np.all(np.isnan(y[1, :, 1])) and not np.any(np.isnan(y[1, :, 0]))


def test_reduce_mean_and_max(lib):
    rng = np.random.default_rng(9)
    x = rand(rng, 3, 4, 5)
    y = np.empty((3, 5), dtype=np.float32)
    call(lib, "aot_reduce_mean_f32", ReduceParams(3, 4, 5), x, y)
    close(y, x.astype(np.float64).mean(axis=1), atol=1e-6)
    x[0, 2, 3] = np.nan
    x[2, 0, 0] = np.nan
    call(lib, "aot_reduce_max_f32", ReduceParams(3, 4, 5), x, y)
    assert np.array_equal(y, x.max(axis=1), equal_nan=True)


def test_scale_shift_in_place(lib):
    rng = np.random.default_rng(10)
    x, scale, shift = rand(rng, 2, 3, 4), rand(rng, 3), rand(rng, 3)
    y = x.copy()
    call(lib, "aot_scale_shift_f32", ScaleShiftParams(2, 3, 4), y, scale, shift, y)
    assert np.array_equal(y, x * scale[None, :, None] + shift[None, :, None])


# --- pooling ------------------------------------------------------------------


def pool_out(size, k, s, d, pb, pe, ceil):
    """ONNX output size, dropping a last window that would start in the end padding."""
    span = size + pb + pe - d * (k - 1) - 1
    out = (-(-span // s) if ceil else span // s) + 1
    if ceil and (out - 1) * s >= size + pb:
        out -= 1
    return out


def pool_ref(x, kind, k, s, d, pads, cip, oh, ow):
    """Max / average pooling per the aot_kernels.h contract, in float64."""
    h, w = x.shape[-2:]
    pt, pl, pb, pr = pads
    y = np.empty(x.shape[:-2] + (oh, ow))
    for oy, ox in itertools.product(range(oh), range(ow)):
        ys = [oy * s[0] - pt + ky * d[0] for ky in range(k[0])]
        xs = [ox * s[1] - pl + kx * d[1] for kx in range(k[1])]
        vy = [v for v in ys if 0 <= v < h]
        vx = [v for v in xs if 0 <= v < w]
        win = x[..., vy, :][..., vx].astype(np.float64).reshape(x.shape[:-2] + (-1,))
        if kind == "max":
            y[..., oy, ox] = win.max(axis=-1)
        else:
            if cip:
                count = (sum(-pt <= v < h + pb for v in ys) * sum(-pl <= v < w + pr for v in xs))
            else:
                count = len(vy) * len(vx)
            y[..., oy, ox] = win.sum(axis=-1) / count
    return y


POOL_CASES = [
    # (H, W, kernel, strides, dilations, (top, left, bottom, right), ceil_mode)
    (5, 6, (3, 3), (2, 2), (1, 1), (1, 0, 1, 1), 1),
    (4, 4, (3, 3), (2, 2), (1, 1), (0, 0, 0, 0), 1),  # last window overhangs the input
    (6, 5, (3, 2), (2, 2), (2, 1), (1, 1, 1, 0), 1),
    (7, 7, (2, 2), (3, 3), (1, 1), (1, 1, 1, 1), 1),
    (5, 5, (2, 2), (2, 2), (1, 1), (1, 1, 1, 1), 0),
    (8, 3, (3, 1), (1, 1), (3, 1), (2, 0, 2, 0), 0),
]


@pytest.mark.parametrize("case", POOL_CASES, ids=str)
@pytest.mark.parametrize("kind,cip", [("max", 0), ("avg", 0), ("avg", 1)])
def test_pool2d(lib, case, kind, cip):
    h, w, k, s, d, pads, ceil = case
    oh = pool_out(h, k[0], s[0], d[0], pads[0], pads[2], ceil)
    ow = pool_out(w, k[1], s[1], d[1], pads[1], pads[3], ceil)
    rng = np.random.default_rng(11)
    x = rand(rng, 2, 3, h, w)
    p = Pool2dParams(6, h, w, oh, ow, k[0], k[1], s[0], s[1], d[0], d[1], *pads, cip)
    y = np.full((2, 3, oh, ow), np.nan, dtype=np.float32)
    call(lib, f"aot_{kind}pool2d_f32", p, x, y)
    ref = pool_ref(x, kind, k, s, d, pads, cip, oh, ow)
    close(y, ref, rtol=1e-6, atol=1e-6)

    # The reference, output size included, is ONNX's: check it against onnxruntime.
    op = "MaxPool" if kind == "max" else "AveragePool"
    extra = {} if kind == "max" else {"count_include_pad": cip}
    ort_y = onnx_run(op, {"x": x}, kernel_shape=list(k), strides=list(s), dilations=list(d),
                     pads=list(pads), ceil_mode=ceil, **extra)
    assert ort_y.shape == y.shape
    close(ort_y, ref, rtol=1e-6, atol=1e-6)


def test_maxpool_propagates_nan(lib):
    x = np.arange(16, dtype=np.float32).reshape(1, 4, 4)
    x[0, 0, 0] = np.nan
    p = Pool2dParams(1, 4, 4, 2, 2, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0, 0)
    y = np.empty((1, 2, 2), dtype=np.float32)
    call(lib, "aot_maxpool2d_f32", p, x, y)
    assert np.isnan(y[0, 0, 0]) and y[0, 0, 1] == 7 and y[0, 1, 0] == 13 and y[0, 1, 1] == 15


# --- pad ----------------------------------------------------------------------

MODES = {"constant": PAD_CONSTANT, "reflect": PAD_REFLECT, "edge": PAD_EDGE, "wrap": PAD_WRAP}


def run_pad(lib, x, begin, end, mode, value=0.0):
    out = [d + b + e for d, b, e in zip(x.shape, begin, end)]
    p = PadParams(x.ndim, dims(x.shape), dims(out), dims(begin), MODES[mode], value)
    y = np.full(out, np.nan, dtype=np.float32)
    call(lib, "aot_pad_f32", p, x, y)
    return y


def pad_ref(x, begin, end, mode, value=0.0):
    """Negative pads crop first, then numpy pads what is left (onnxruntime's order)."""
    crop = tuple(slice(max(0, -b), d - max(0, -e)) for d, b, e in zip(x.shape, begin, end))
    widths = [(max(0, b), max(0, e)) for b, e in zip(begin, end)]
    kw = {"constant_values": value} if mode == "constant" else {}
    return np.pad(x[crop], widths, mode=mode, **kw)


@pytest.mark.parametrize("mode", list(MODES))
def test_pad_positive(lib, mode):
    rng = np.random.default_rng(12)
    x = rand(rng, 2, 3, 4)
    for begin, end in [((0, 1, 2), (1, 2, 3)), ((1, 0, 0), (0, 0, 1)), ((0, 2, 3), (0, 2, 3)),
                       ((0, 0, 9), (0, 0, 7))]:  # wider than the input: numpy repeats
        y = run_pad(lib, x, begin, end, mode, 1.5)
        assert np.array_equal(y, pad_ref(x, begin, end, mode, 1.5)), (begin, end)


@pytest.mark.parametrize("mode", list(MODES))
def test_pad_negative_crops(lib, mode):
    rng = np.random.default_rng(13)
    x = rand(rng, 3, 5, 6)
    cases = [((0, -1, 1), (0, 1, -1)), ((-1, 0, -2), (1, -2, 2)), ((0, -3, 0), (0, 1, 0))]
    for begin, end in cases:
        y = run_pad(lib, x, begin, end, mode, -2.0)
        ref = pad_ref(x, begin, end, mode, -2.0)
        assert np.array_equal(y, ref), (begin, end)
        pads = np.array([*begin, *end], dtype=np.int64)
        ort_y = onnx_run("Pad", {"x": x}, mode=mode, opset=18,
                         initializers={"pads": pads, **({"value": np.array(-2.0, np.float32)}
                                                        if mode == "constant" else {})})
        assert np.array_equal(ort_y, ref), (begin, end)


def test_pad_wrap_beyond_the_crop(lib):
    # Crop two at the start, then wrap three at the end: only the kept
    # elements repeat, as onnxruntime computes it.
    x = np.array([[1, 2, 3, 4]], dtype=np.float32)
    assert np.array_equal(run_pad(lib, x, (0, -2), (0, 3), "wrap"), [[3, 4, 3, 4, 3]])
    assert np.array_equal(run_pad(lib, x, (0, 3), (0, -2), "edge"), [[1, 1, 1, 1, 2]])


# --- transpose and copy2d -----------------------------------------------------


def test_transpose(lib):
    rng = np.random.default_rng(14)
    for shape, perm in [((2, 3, 4, 5), (0, 2, 3, 1)), ((2, 3, 4, 5), (3, 1, 0, 2)),
                        ((6, 7), (1, 0)), ((2, 1, 3, 2, 2, 3), (5, 3, 1, 0, 4, 2)), ((5,), (0,))]:
        x = rand(rng, *shape)
        in_strides = [s // 4 for s in x.strides]
        ref = np.ascontiguousarray(x.transpose(perm))
        p = TransposeParams(len(shape), dims(ref.shape), dims(in_strides[a] for a in perm))
        y = np.full(ref.shape, np.nan, dtype=np.float32)
        call(lib, "aot_transpose_f32", p, x, y)
        assert np.array_equal(y, ref), (shape, perm)


def test_copy2d_slices_and_concatenates(lib):
    lib.aot_copy2d.argtypes = [ctypes.POINTER(Copy2dParams), ctypes.c_void_p, ctypes.c_void_p]
    rng = np.random.default_rng(15)
    a, b = rand(rng, 4, 3), rand(rng, 4, 5)
    y = np.zeros((4, 8), dtype=np.float32)
    lib.aot_copy2d(Copy2dParams(4, 12, 12, 32), a.ctypes.data, y.ctypes.data)
    lib.aot_copy2d(Copy2dParams(4, 20, 20, 32), b.ctypes.data, y.ctypes.data + 12)
    assert np.array_equal(y, np.concatenate([a, b], axis=1))
    z = np.zeros((4, 8), dtype=np.float32)
    lib.aot_copy2d(Copy2dParams(1, 128, 128, 128), y.ctypes.data, z.ctypes.data)  # contiguous
    assert np.array_equal(z, y)

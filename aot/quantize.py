"""Post-training quantization: float ONNX -> TFLite-like int8 QDQ ONNX.

Contract: `quantize(model, calibration, method=..., per_channel=...)` returns a
`Quantized` whose `.model` is a standard QDQ ModelProto (onnxruntime runs it;
our int8 pipeline, passes/qdq.py, folds it) with TFLite's int8 scheme:
- activations int8, per tensor, asymmetric (zero point in [-128, 127]), their
  ranges computed by aot.calibrate from the calibration data (our methods:
  minmax, percentile, entropy);
- weights int8, symmetric (zero point 0, codes in [-127, 127]); Conv weights
  per output channel (axis 0) with `per_channel` (unless one per-tensor scale
  represents them at least as well, e.g. weights that already sit on an int8
  grid), fully connected weights per tensor (TFLite's FULLY_CONNECTED and our
  int8 Gemm take one scale);
- biases int32 with scale = input scale x weight scale, zero point 0;
- Relu/Clip absorbed into the producer's output range where the producer is
  their only reader (zero point -128 for a Relu: the clamp is the int8 range);
- ops that TFLite runs with one scale on input and output (pools, reshapes,
  transposes, concat, a standalone Relu/Clip) get one range for both;
- Softmax and Sigmoid output scale 1/256, zero point -128, Tanh 1/128, 0
  (TFLite's fixed parameters); Pad keeps its input's range (TFLite's PAD);
- MatMul + bias Add becomes Gemm and BatchNormalization after Conv is folded
  into the Conv first, so both quantize as one int8 op with an int32 bias;
  likewise a per-channel constant Add and/or BatchNormalization after a
  ConvTranspose (TFLite's TRANSPOSE_CONV with bias), whose per-channel weight
  scales are along ONNX's axis 1;
- Resize keeps its input's range (TFLite's resize ops need equal parameters);
- a constant per-channel Mul/Add after a Conv, or before an unpadded one, is
  folded into that Conv (fuse-affine's Conv folds), not quantized on its own.

What gets quantized is the graph our int8 path will compile, not the exported
one (`simplified`): the frontend's import (opset upgrade, Constant nodes as
initializers, dynamic dims fixed by `input_shapes`) and our shape/constant
folding, Identity removal and hard-swish fusion run first, and the result is
written back as standard ONNX at opset max(QDQ_OPSET, the model's) -- so no
Q/DQ lands on a Shape chain or an Identity, written-out x*clip(x+3,0,6)/6 is
one HardSwish, and per-channel DequantizeLinear (`axis`, opset >= 13) is valid.

The graph rewriting is onnxruntime.quantization's `quantize_static` (QDQ
format); it gets our ranges through its calibration-cache interface (a
TensorsData JSON file it loads instead of calibrating), and our constraints
through `extra_options` (TensorQuantOverrides, ForceQuantizeNoInputCheck).

`layer_errors(float_model, qdq_model, data)` is the per-layer report: the SQNR
in dB of every quantized tensor, float model vs fake-quantized run (the QDQ
model in onnxruntime with no graph optimizations), plus the graph outputs.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import os
import tempfile
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper, numpy_helper, version_converter

from aot import calibrate
from aot.errors import ModelError, UsageError
from aot.passes.cleanup import eliminate_dead_code, simplify
from aot.passes.fold import fold_constants
from aot.passes.fuse_activation import fuse_activations

# Ops that TFLite's int8 kernels run with the input's scale and zero point on the output.
SAME_QUANT_OPS = {"MaxPool", "AveragePool", "GlobalAveragePool", "Reshape", "Flatten",
                  "Squeeze", "Unsqueeze", "Transpose", "Concat", "Pad", "Resize"}
SOFTMAX_SCALE = 1.0 / 256.0
SOFTMAX_ZERO_POINT = -128
# The opset the QDQ model is written at (unless the model's own is newer): per-channel
# DequantizeLinear needs >= 13 (its `axis`), and onnxruntime has no kernels yet for the
# Q/DQ of the newest opsets our frontend upgrades to.
QDQ_OPSET = 21
# Output (scale, zero point) TFLite's int8 kernels fix: softmax and logistic cover
# [0, 1), tanh [-1, 1).
FIXED_OUTPUT = {"Softmax": (SOFTMAX_SCALE, SOFTMAX_ZERO_POINT), "Sigmoid": (1.0 / 256.0, -128),
                "Tanh": (1.0 / 128.0, 0)}


@dataclass
class Quantized:
    model: onnx.ModelProto                # the int8 QDQ model
    float_model: onnx.ModelProto          # the float model it was made from (after folding)
    ranges: dict[str, tuple[float, float]]
    method: str
    per_channel: bool
    samples: int


def quantize(model, calibration, *, method: str = "minmax", per_channel: bool = True,
             input_shapes: dict | None = None, progress: bool = True) -> Quantized:
    """Quantize a float model (path, bytes or ModelProto) with calibration data
    (a .npz/.npy path, or {input name: array with a leading sample axis});
    `input_shapes` ({input name: dims}) fixes dynamic input dims, as for compile."""
    from aot.frontend import load_proto

    if calibration is None:
        raise UsageError(no_calibration_message())
    calibrate.require_onnxruntime()
    proto = load_proto(model)
    if is_quantized(proto):
        raise UsageError("the model is already quantized (it has QuantizeLinear/"
                         "DequantizeLinear or QLinear ops); compile it without --quantize")
    float_model = prepare(simplified(proto, input_shapes))
    if isinstance(calibration, (str, os.PathLike)):
        data = calibrate.load_calibration(calibration, float_model)
    else:
        data = calibrate.check_calibration(dict(calibration),
                                           calibrate.input_shapes(float_model),
                                           dtypes=calibrate.input_dtypes(float_model))
    ranges = calibrate.collect_ranges(float_model, data, method, progress)
    ranges = tie_ranges(float_model, ranges)
    qmodel = _rewrite(float_model, ranges, per_channel)
    return Quantized(qmodel, float_model, ranges, method, per_channel,
                     calibrate.sample_count(data))


def no_calibration_message() -> str:
    return ("int8 quantization needs calibration data: --calibration data.npz holding "
            "representative inputs (keyed by input name, leading sample axis); activation "
            "ranges are never guessed from random inputs")


def is_quantized(model: onnx.ModelProto) -> bool:
    return any(n.op_type in ("QuantizeLinear", "DequantizeLinear") or
               n.op_type.startswith("QLinear") or n.op_type.endswith("Integer")
               for n in model.graph.node)


def quantize_for_compile(proto: onnx.ModelProto, options) -> onnx.ModelProto:
    """The compile hook: `options.quantize == "int8"` -> the int8 QDQ model."""
    if options.quantize != "int8":
        raise UsageError(f"--quantize takes 'int8', not {options.quantize!r}")
    return quantize(proto, options.calibration, method=options.calibration_method,
                    per_channel=options.per_channel, input_shapes=options.input_shapes).model


# -- before quantizing: the graph our int8 path will see ---------------------------------

def simplified(proto: onnx.ModelProto, input_shapes: dict | None = None) -> onnx.ModelProto:
    """The float model after our frontend (opset upgrade, Constant nodes as
    initializers, static shapes) and the passes that change which ops exist
    (SIMPLIFY_PASSES), written back as a standard ONNX model. Quantizing this
    graph rather than the exported one keeps Q/DQ pairs off tensors that fold
    away (Shape chains, Identity) and off written-out activations that have no
    int8 kernel but fuse into one that has (x*clip(x+3,0,6)/6 -> HardSwish)."""
    from aot.frontend import import_model
    from aot.ir import IRError, verify

    graph = import_model(proto, input_shapes)
    for name, fn in SIMPLIFY_PASSES:
        graph = fn(graph)
        try:
            verify(graph)
        except IRError as e:
            raise IRError(f"after pass '{name}': {e}") from None
    model = graph_to_onnx(graph, producer=proto)
    return _to_opset(model, max(QDQ_OPSET, _opset(proto)))


def fold_affine_into_conv(graph):
    """fuse-affine's Conv folds only: a constant per-channel Mul/Add after a Conv, or
    before an unpadded one, becomes part of its weights and bias (PP-LCNetV3's
    learnable affine blocks), so it is not quantized on its own -- each int8 Mul
    and Add would round the activations once more. Its other rule (Mul + Add as
    a standalone BatchNormalization) is left out: that has no int8 kernel."""
    from aot.passes.fuse_affine import _backward, _forward
    from aot.passes.rewrite import apply_rules

    return apply_rules(graph, [(("Mul", "Add"), _backward), ("Conv", _forward)])


# Not 'fuse' (its fused `_act` attributes are no ONNX) nor all of 'fuse-affine' (its
# standalone BatchNormalization has no int8 kernel; Mul/Add have): prepare()
# folds BatchNormalization into the Conv before it.
SIMPLIFY_PASSES = (("fold", fold_constants), ("simplify", simplify),
                   ("dce", eliminate_dead_code), ("fuse-hardswish", fuse_activations),
                   ("fold-affine", fold_affine_into_conv), ("dce-final", eliminate_dead_code))


def _opset(model: onnx.ModelProto) -> int:
    return next((op.version for op in model.opset_import if op.domain in ("", "ai.onnx")), 1)


def _to_opset(model: onnx.ModelProto, version: int) -> onnx.ModelProto:
    if _opset(model) <= version:
        return model
    try:
        model = version_converter.convert_version(model, version)
    except Exception as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelError(f"cannot write the simplified model at opset {version} for "
                         f"quantization: {first}") from None
    model.ir_version = helper.find_min_ir_version_for(list(model.opset_import))
    return model


def graph_to_onnx(graph, producer: onnx.ModelProto | None = None) -> onnx.ModelProto:
    """An IR graph as an ONNX model at the opset the frontend upgrades to; our
    weight-only `_WeightDequant` nodes become the float32 constants they stand for
    (they are what the quantizer re-quantizes)."""
    from aot.evaluate import CANONICAL_OPSET, to_node_proto
    from aot.passes.weight_only import DEQUANT_OP

    consts = {k: t.data for k, t in graph.tensors.items() if t.is_const}
    nodes = []
    for node in graph.nodes:
        if node.op == DEQUANT_OP:
            q, s = (consts[i] for i in node.inputs[:2])
            consts[node.outputs[0]] = (q.astype(np.float32) * s).astype(np.float32)
            continue
        if node.domain not in ("", "ai.onnx", "com.microsoft"):
            raise ModelError(f"{node.describe()} (domain '{node.domain}') cannot be "
                             f"written to the QDQ model; quantize a model without it")
        nodes.append(to_node_proto(node))
    used = {i for n in nodes for i in n.input if i} | set(graph.outputs)
    inits = [numpy_helper.from_array(np.asarray(v), k) for k, v in consts.items()
             if k in used]

    def info(name):
        t = graph.tensor(name)
        return helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(
            np.dtype(t.dtype)), list(t.shape))

    values = [info(o) for n in nodes for o in n.output
              if o and o not in graph.outputs and not graph.tensor(o).is_const]
    g = helper.make_graph(nodes, graph.name, [info(i) for i in graph.inputs],
                          [info(o) for o in graph.outputs], inits, value_info=values)
    opsets = [helper.make_opsetid("", CANONICAL_OPSET)]
    if any(n.domain == "com.microsoft" for n in nodes):
        opsets.append(helper.make_opsetid("com.microsoft", 1))
    model = helper.make_model(g, opset_imports=opsets,
                              ir_version=helper.find_min_ir_version_for(opsets))
    if producer is not None:
        model.producer_name, model.producer_version = producer.producer_name, \
            producer.producer_version
    return model


# -- before quantizing: one int8 op per TFLite op ----------------------------------------

def prepare(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy with BatchNormalization folded into the Conv before it and MatMul +
    constant bias Add made one Gemm, shapes inferred. Tensor names are kept (the
    fused op writes the second op's output), so ranges and reports line up."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    try:
        model = onnx.shape_inference.infer_shapes(model)
    except Exception as e:  # onnx raises several types, version-dependent
        raise ModelError(f"shape inference failed: {str(e).splitlines()[0]}") from None
    while _fold_into_conv_transpose(model):
        pass
    g = model.graph
    inits = {t.name: t for t in g.initializer}
    consumers: dict[str, int] = {}
    for n in g.node:
        for i in n.input:
            consumers[i] = consumers.get(i, 0) + 1
    outputs = {o.name for o in g.output}
    ranks = {vi.name: len(vi.type.tensor_type.shape.dim)
             for vi in [*g.value_info, *g.input, *g.output]
             if vi.type.tensor_type.HasField("shape")}
    producer = {o: n for n in g.node for o in n.output}
    dropped, new_inits = set(), {}

    def const(name):
        t = new_inits.get(name) or inits.get(name)
        return None if t is None else numpy_helper.to_array(t)

    def single_use(name):
        return consumers.get(name, 0) == 1 and name not in outputs

    fused: dict[int, onnx.NodeProto] = {}
    for n in g.node:
        if n.op_type == "BatchNormalization" and len(n.output) == 1:
            conv = producer.get(n.input[0])
            if conv is None or conv.op_type != "Conv" or not single_use(n.input[0]):
                continue
            w = const(conv.input[1])
            params = [const(x) for x in n.input[1:5]]
            if w is None or any(p is None for p in params):
                continue
            b = const(conv.input[2]) if len(conv.input) > 2 and conv.input[2] else \
                np.zeros(w.shape[0], np.float32)
            if b is None:
                continue
            gamma, beta, mean, var = (p.astype(np.float64) for p in params)
            eps = next((a.f for a in n.attribute if a.name == "epsilon"), 1e-5)
            k = gamma / np.sqrt(var + eps)
            w2 = (w * k.reshape(-1, *[1] * (w.ndim - 1))).astype(np.float32)
            b2 = ((b - mean) * k + beta).astype(np.float32)
            wn, bn = f"{conv.name or n.name}_bnfold_w", f"{conv.name or n.name}_bnfold_b"
            new_inits[wn] = numpy_helper.from_array(w2, wn)
            new_inits[bn] = numpy_helper.from_array(b2, bn)
            node = helper.make_node("Conv", [conv.input[0], wn, bn], [n.output[0]],
                                    name=conv.name or n.name)
            node.attribute.extend(conv.attribute)
            fused[id(conv)] = node
            dropped.add(id(n))
        elif n.op_type == "Add" and len(n.input) == 2:
            for a_in, b_in in ((n.input[0], n.input[1]), (n.input[1], n.input[0])):
                mm = producer.get(a_in)
                bias = const(b_in)
                if mm is None or mm.op_type != "MatMul" or bias is None or not single_use(a_in):
                    continue
                w = const(mm.input[1])
                if w is None or w.ndim != 2 or ranks.get(mm.input[0]) != 2 or \
                        bias.size != w.shape[1] or bias.ndim > 2 or \
                        (bias.ndim == 2 and bias.shape[0] != 1):
                    continue
                bn = f"{mm.name or n.name}_bias"
                new_inits[bn] = numpy_helper.from_array(bias.reshape(-1).astype(np.float32), bn)
                fused[id(mm)] = helper.make_node("Gemm", [mm.input[0], mm.input[1], bn],
                                                 [n.output[0]], name=mm.name or n.name)
                dropped.add(id(n))
                break
    if not fused:
        return model
    nodes = [fused.get(id(n), n) for n in g.node if id(n) not in dropped]
    del g.node[:]
    g.node.extend(nodes)
    g.initializer.extend(new_inits.values())
    # Drop initializers nobody reads any more (the unfolded weights and BN statistics).
    used = {i for n in g.node for i in n.input} | outputs
    keep = [t for t in g.initializer if t.name in used]
    del g.initializer[:]
    g.initializer.extend(keep)
    names = {o for n in g.node for o in n.output}
    keep_vi = [vi for vi in g.value_info if vi.name in names]
    del g.value_info[:]
    g.value_info.extend(keep_vi)
    return model


def _channel_vector(c: np.ndarray, channels: int, rank: int) -> np.ndarray | None:
    """A constant that broadcasts along axis 1 of a rank-`rank` tensor only (or is a
    scalar), as one value per channel; None otherwise."""
    if c.size == 1:
        return np.full(channels, float(c.reshape(-1)[0]))
    shape = (1,) * (rank - c.ndim) + tuple(c.shape)
    if len(shape) != rank or shape[1] != channels or \
            any(d != 1 for i, d in enumerate(shape) if i != 1):
        return None
    return c.reshape(-1).astype(np.float64)


def _fold_into_conv_transpose(model: onnx.ModelProto) -> bool:
    """One constant per-channel Add or BatchNormalization after a ConvTranspose
    (paddle2onnx writes the bias as such an Add) folded into its weights and
    bias, in place; whether one was. The fused node writes the second op's
    output. Weights are [in_c][out_c / group][kh][kw]: output channel
    g * (out_c / group) + j is column j of group g's input-channel rows."""
    g = model.graph
    inits = {t.name: t for t in g.initializer}
    producer = {o: n for n in g.node for o in n.output}
    readers: dict[str, int] = {}
    for n in g.node:
        for i in n.input:
            readers[i] = readers.get(i, 0) + 1
    outputs = {o.name for o in g.output}
    ranks = {vi.name: len(vi.type.tensor_type.shape.dim)
             for vi in [*g.value_info, *g.input, *g.output]
             if vi.type.tensor_type.HasField("shape")}

    def const(name):
        return numpy_helper.to_array(inits[name]) if name in inits else None

    for n in g.node:
        if n.op_type not in ("Add", "BatchNormalization") or len(n.output) != 1:
            continue
        pairs = [(0, 1), (1, 0)] if n.op_type == "Add" else [(0, None)]
        for data_i, other_i in pairs:
            ct = producer.get(n.input[data_i])
            if ct is None or ct.op_type != "ConvTranspose" or \
                    readers.get(ct.output[0], 0) != 1 or ct.output[0] in outputs:
                continue
            w = const(ct.input[1])
            if w is None or w.ndim < 3:
                continue
            groups = next((a.i for a in ct.attribute if a.name == "group"), 1)
            per_group = w.shape[1]
            out_c = per_group * groups
            b = const(ct.input[2]) if len(ct.input) > 2 and ct.input[2] else \
                np.zeros(out_c, np.float32)
            if b is None:
                continue
            b = b.astype(np.float64)
            k = np.ones(out_c)
            if n.op_type == "Add":
                c = const(n.input[other_i])
                add = None if c is None else _channel_vector(c, out_c, ranks.get(n.output[0], 0))
                if add is None:
                    continue
                b = b + add
            else:
                params = [const(x) for x in n.input[1:5]]
                if any(v is None for v in params):
                    continue
                gamma, beta, mean, var = (v.astype(np.float64).reshape(-1) for v in params)
                eps = next((a.f for a in n.attribute if a.name == "epsilon"), 1e-5)
                k = gamma / np.sqrt(var + eps)
                b = (b - mean) * k + beta
            # column j of group gi's rows scales with output channel gi * per_group + j
            scale = k.reshape(groups, 1, per_group).repeat(w.shape[0] // groups, axis=1)
            w2 = (w * scale.reshape(w.shape[0], per_group, *[1] * (w.ndim - 2))).astype(np.float32)
            base = ct.name or n.name
            wn, bn = f"{base}_{n.op_type.lower()}fold_w", f"{base}_{n.op_type.lower()}fold_b"
            g.initializer.extend([numpy_helper.from_array(w2, wn),
                                  numpy_helper.from_array(b.astype(np.float32), bn)])
            fused = helper.make_node("ConvTranspose", [ct.input[0], wn, bn], [n.output[0]],
                                     name=ct.name or n.name)
            fused.attribute.extend(ct.attribute)
            nodes = [fused if m is ct else m for m in g.node if m is not n]
            del g.node[:]
            g.node.extend(nodes)
            used = {i for m in g.node for i in m.input} | outputs
            keep = [t for t in g.initializer if t.name in used]
            del g.initializer[:]
            g.initializer.extend(keep)
            keep_vi = [vi for vi in g.value_info if vi.name != ct.output[0]]
            del g.value_info[:]
            g.value_info.extend(keep_vi)
            return True
    return False


# -- TFLite's parameter constraints ------------------------------------------------------

def tie_ranges(model: onnx.ModelProto, ranges: dict) -> dict:
    """One range (the union) for the tensors an op must read and write with the same
    scale and zero point (SAME_QUANT_OPS, and a Relu/Clip that stays a separate op)."""
    g = model.graph
    parent: dict[str, str] = {}

    def find(x):
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    def union(a, b):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb

    readers: dict[str, int] = {}
    for n in g.node:
        for i in n.input:
            readers[i] = readers.get(i, 0) + 1
    edges = {i.name for i in g.input} | {o.name for o in g.output}
    for n in g.node:
        if not n.input:
            continue   # e.g. a Constant: nothing to tie
        data_in = [n.input[0]] if n.op_type != "Concat" else list(n.input)
        tie = n.op_type in SAME_QUANT_OPS
        if n.op_type in ("Relu", "Clip"):
            # onnxruntime folds the activation into its producer when the producer's
            # output has no other reader; otherwise it stays an int8 clamp.
            tie = readers.get(n.input[0], 0) > 1 or n.input[0] in edges
        if tie and n.output and n.output[0] in ranges:
            for i in data_in:
                if i in ranges:
                    union(i, n.output[0])
    groups: dict[str, list[str]] = {}
    for name in ranges:
        groups.setdefault(find(name), []).append(name)
    out = dict(ranges)
    for members in groups.values():
        if len(members) > 1:
            lo = min(ranges[m][0] for m in members)
            hi = max(ranges[m][1] for m in members)
            for m in members:
                out[m] = (lo, hi)
    return out


def _overrides(model: onnx.ModelProto, per_channel: bool) -> dict:
    inits = {t.name: t for t in model.graph.initializer}
    over: dict[str, list[dict]] = {}
    for n in model.graph.node:
        if n.op_type == "Conv" and per_channel and n.input[1] in inits:
            w = numpy_helper.to_array(inits[n.input[1]])
            if _weight_error(w, per_channel=False) <= _weight_error(w, per_channel=True):
                # The weights already sit on one int8 grid (e.g. a model exported from a
                # weight-quantized one): per tensor keeps them exact, per channel would
                # round them a second time.
                over[n.input[1]] = [{"symmetric": True}]
        elif n.op_type == "ConvTranspose" and per_channel and n.input[1] in inits and \
                next((a.i for a in n.attribute if a.name == "group"), 1) > 1:
            # onnxruntime's quantizer scales the bias by the axis-1 weight scales, which
            # cover one group's output channels only: one scale for the tensor instead
            over[n.input[1]] = [{"symmetric": True}]
        elif n.op_type in FIXED_OUTPUT:
            scale, zero_point = FIXED_OUTPUT[n.op_type]
            over[n.output[0]] = [{"scale": np.array(scale, np.float32),
                                  "zero_point": np.array(zero_point, np.int8)}]
        elif n.op_type in ("Gemm", "MatMul") and per_channel:
            # One weight scale for fully connected layers, as TFLite and our kernel use.
            for w in n.input[1:2]:
                if w in inits:
                    over[w] = [{"symmetric": True}]
    return over


def _weight_error(w: np.ndarray, per_channel: bool) -> float:
    """Squared error of symmetric int8 weights ([-127, 127], scale = max|w| / 127),
    one scale per output channel (axis 0) or one for the tensor."""
    w = w.astype(np.float64).reshape(len(w), -1)
    amax = np.abs(w).max(axis=1, keepdims=True) if per_channel else np.abs(w).max()
    scale = np.where(amax > 0, amax / 127.0, 1.0)
    return float(np.sum(np.square(np.clip(np.round(w / scale), -127, 127) * scale - w)))


def _int8_op_types() -> list[str]:
    from aot.passes.qdq import INT8_OPS
    return sorted(INT8_OPS)


def _rewrite(model: onnx.ModelProto, ranges: dict, per_channel: bool) -> onnx.ModelProto:
    from onnxruntime.quantization import (CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)
    from onnxruntime.quantization.calibrate import TensorData, TensorsData, save_tensors_data

    tensors = TensorsData(CalibrationMethod.MinMax, {
        k: TensorData(lowest=np.array(lo, np.float32), highest=np.array(hi, np.float32))
        for k, (lo, hi) in ranges.items()})
    extra = {
        "ActivationSymmetric": False,       # int8 activations with a zero point, as TFLite
        "WeightSymmetric": True,            # zero-point-0 weights in [-127, 127]
        "ForceQuantizeNoInputCheck": True,  # e.g. a Transpose right after the float input
        "TensorQuantOverrides": _overrides(model, per_channel),
    }
    with tempfile.TemporaryDirectory(prefix="aot-quant-") as tmp:
        cache = os.path.join(tmp, "ranges.json")
        out = os.path.join(tmp, "model_int8.onnx")
        save_tensors_data(tensors, cache)
        # onnxruntime logs a pre-processing hint at WARNING on every call; ours is done.
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                quantize_static(model, out, calibration_data_reader=None,
                                calibration_cache_path=cache, quant_format=QuantFormat.QDQ,
                                activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                                per_channel=per_channel, calibrate_method=CalibrationMethod.MinMax,
                                op_types_to_quantize=_int8_op_types(), extra_options=extra)
        except Exception as e:  # onnxruntime raises ValueError/AssertionError/RuntimeError
            raise ModelError(f"onnxruntime's quantizer failed: {type(e).__name__}: "
                             f"{str(e).splitlines()[0] if str(e) else ''}") from None
        finally:
            root.setLevel(level)
        qmodel = onnx.load(out)
    qmodel.producer_name = "aot quantize"
    return qmodel


# -- quantization error ------------------------------------------------------------------

def sqnr_db(ref: np.ndarray | float, err: np.ndarray | float) -> float:
    """10 log10(signal energy / error energy); inf when the error is zero."""
    s, e = float(np.sum(np.square(ref, dtype=np.float64))), \
        float(np.sum(np.square(err, dtype=np.float64)))
    if e == 0.0:
        return math.inf
    if s == 0.0:
        return -math.inf
    return 10.0 * math.log10(s / e)


def qdq_pairs(qmodel: onnx.ModelProto) -> list[dict]:
    """Each activation the QDQ model quantizes: the float tensor, its fake-quantized
    value (the DequantizeLinear output readers see), the op that writes it, scale, zp."""
    g = qmodel.graph
    inits = {t.name: t for t in g.initializer}
    producer = {o: n for n in g.node for o in n.output}
    graph_outputs = {o.name for o in g.output}
    dq_of: dict[str, str] = {}
    for n in g.node:
        if n.op_type == "DequantizeLinear":
            dq_of.setdefault(n.input[0], n.output[0])
    pairs = []
    for n in g.node:
        if n.op_type != "QuantizeLinear" or n.input[0] in inits or n.output[0] not in dq_of:
            continue
        src, writer = n.input[0], producer.get(n.input[0])
        if dq_of[n.output[0]] in graph_outputs:
            # onnxruntime renames the tensor feeding a quantized graph output; the
            # float model's name for it is the output's.
            src = dq_of[n.output[0]]
        scale = numpy_helper.to_array(inits[n.input[1]]) if n.input[1] in inits else None
        zp = numpy_helper.to_array(inits[n.input[2]]) if len(n.input) > 2 and \
            n.input[2] in inits else None
        pairs.append({"tensor": src, "fake": dq_of[n.output[0]],
                      "op": writer.op_type if writer is not None else "input",
                      "node": (writer.name if writer is not None else src) or src,
                      "scale": float(np.asarray(scale).reshape(-1)[0]) if scale is not None
                      else None,
                      "zero_point": int(np.asarray(zp).reshape(-1)[0]) if zp is not None
                      else 0})
    return pairs


def layer_errors(float_model: onnx.ModelProto, qmodel: onnx.ModelProto, data,
                 progress: bool = True) -> dict:
    """Per-layer SQNR: {"layers": [{tensor, op, node, scale, zero_point, sqnr_db}],
    "outputs": [{name, sqnr_db}], "samples": N, "reference": ...}. SQNR values are
    None where the quantized tensor equals the float one exactly (infinite SQNR)."""
    if not isinstance(data, dict):
        data = calibrate.load_calibration(data, float_model)
    pairs = qdq_pairs(qmodel)
    out_names = [o.name for o in float_model.graph.output]
    ftap = calibrate.TensorTap(float_model, [p["tensor"] for p in pairs])
    qtap = calibrate.TensorTap(qmodel, [p["fake"] for p in pairs])
    acc = {p["tensor"]: [0.0, 0.0] for p in pairs}
    oacc = {o: [0.0, 0.0] for o in out_names}
    bar = calibrate.Progress("quantization error", calibrate.sample_count(data), progress)
    for feed in calibrate.samples(data):
        fv, qv = ftap.run(feed), qtap.run(feed)
        for p in pairs:
            if p["tensor"] not in fv:
                continue
            ref = fv[p["tensor"]].astype(np.float64)
            a = acc[p["tensor"]]
            a[0] += float(np.sum(ref * ref))
            a[1] += float(np.sum(np.square(ref - qv[p["fake"]])))
        for o in out_names:
            ref = fv[o].astype(np.float64)
            oacc[o][0] += float(np.sum(ref * ref))
            oacc[o][1] += float(np.sum(np.square(ref - qv[o])))
        bar.step()
    bar.close()

    def db(s, e):
        v = sqnr_db(math.sqrt(s), math.sqrt(e))
        return None if math.isinf(v) else round(v, 2)

    layers = [{**{k: p[k] for k in ("tensor", "op", "node", "scale", "zero_point")},
               "sqnr_db": db(*acc[p["tensor"]])} for p in pairs if p["tensor"] in acc]
    return {"reference": "float model vs fake-quantized QDQ model, both in onnxruntime "
                         "(no graph optimizations)",
            "samples": calibrate.sample_count(data),
            "layers": layers,
            "outputs": [{"name": o, "sqnr_db": db(*oacc[o])} for o in out_names]}


def render_errors(report: dict) -> str:
    rows = [("tensor", "op", "scale", "zp", "SQNR dB")]
    for r in report["layers"]:
        rows.append((r["tensor"], r["op"], f"{r['scale']:.6g}" if r["scale"] else "-",
                     str(r["zero_point"]), _fmt_db(r["sqnr_db"])))
    widths = [min(max(len(r[c]) for r in rows), 48) for c in range(5)]
    lines = [f"quantization error per layer ({report['reference']}, "
             f"{report['samples']} calibration samples):"]
    for r in rows:
        lines.append("  ".join(v[:w].ljust(w) if c < 2 else v.rjust(w)
                               for c, (v, w) in enumerate(zip(r, widths))).rstrip())
    for o in report["outputs"]:
        lines.append(f"output {o['name']}: SQNR {_fmt_db(o['sqnr_db'])} dB")
    return "\n".join(lines)


def _fmt_db(v) -> str:
    return "exact" if v is None else f"{v:.1f}"

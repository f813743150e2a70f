"""Fusions, as one rewrite table.

- BatchNormalization after a Conv or Gemm with constant weights (and whose
  output only the BatchNormalization reads) is folded into the weights/bias.
- MatMul(2-D x, constant W) followed by Add(constant bias) becomes one Gemm.
- A piecewise-linear activation (Relu, Clip with constant bounds, LeakyRelu,
  HardSigmoid, HardSwish) after Conv/Gemm/MatMul/Add/Sub/Mul/Div is fused into
  the producer as the attribute `_act` = (kind, alpha, beta, lo, hi), kinds
  named as in the C runtime's aot_act_kind. Only one activation per producer.
"""

from __future__ import annotations

import math

import numpy as np

from aot.ir import Graph, Node, Tensor
from aot.passes.rewrite import Rewrite, apply_rules, sole_consumer
from aot.passes.fuse_transformer import fuse_transformer

ACT_KINDS = {"Relu": 1, "Clip": 2, "LeakyRelu": 3, "HardSigmoid": 4, "HardSwish": 5}
FUSES_ACTIVATION = ("Conv", "Gemm", "MatMul", "Add", "Sub", "Mul", "Div")


def _bn_params(graph: Graph, bn: Node) -> tuple[np.ndarray, np.ndarray] | None:
    """Per-channel (scale, shift) of an inference-mode BatchNormalization."""
    if len(bn.outputs) > 1 and any(bn.outputs[1:]) or bn.attr("training_mode", 0):
        return None
    values = [graph.const(n) for n in bn.inputs[1:5]]
    if any(v is None for v in values):
        return None
    gamma, beta, mean, var = (v.astype(np.float64) for v in values)
    scale = gamma / np.sqrt(var + bn.attr("epsilon", 1e-5))
    return scale, beta - mean * scale


def _fold_bn(graph: Graph, bn: Node) -> Rewrite | None:
    producer = graph.producers().get(bn.inputs[0])
    if producer is None or producer.op not in ("Conv", "Gemm") or "_act" in producer.attrs:
        return None
    if sole_consumer(graph, bn.inputs[0]) is not bn:
        return None
    params = _bn_params(graph, bn)
    w = graph.const(producer.inputs[1])
    if params is None or w is None or graph.tensor(bn.outputs[0]).dtype != np.float32:
        return None
    scale, shift = params
    bias_name = producer.inputs[2] if len(producer.inputs) > 2 else ""
    bias = graph.const(bias_name) if bias_name else np.zeros(1)
    if bias is None:
        return None
    out = graph.tensor(bn.outputs[0])
    if producer.op == "Conv":
        if out.shape[1] != len(scale):
            return None
        w2 = w * scale.reshape((-1,) + (1,) * (w.ndim - 1))
        b2 = np.broadcast_to(bias, scale.shape) * scale + shift
    else:
        # Gemm: Y = alpha * A' B' + beta * C; BN over axis 1 scales the columns.
        if len(out.shape) != 2 or out.shape[1] != len(scale):
            return None
        trans_b = producer.attr("transB", 0)
        w2 = w * (scale[:, None] if trans_b else scale[None, :])
        beta = producer.attr("beta", 1.0)
        c = np.broadcast_to(bias, out.shape) if bias_name else np.zeros(out.shape)
        b2 = (beta * c * scale + shift).astype(np.float64)
        if b2.shape[0] == 1 or np.all(b2 == b2[:1]):
            b2 = b2[0]
    w_name = f"{producer.inputs[1]}__bn"
    b_name = f"{bn.outputs[0]}__bias"
    attrs = dict(producer.attrs)
    if producer.op == "Gemm":
        attrs["beta"] = 1.0
    fused = producer.with_(inputs=(producer.inputs[0], w_name, b_name), outputs=bn.outputs,
                           attrs=attrs, name=f"{producer.name}+{bn.name}")
    return Rewrite([producer, bn], [fused], tensors={
        w_name: Tensor.const(w_name, w2.astype(np.float32)),
        b_name: Tensor.const(b_name, np.asarray(b2, dtype=np.float32)),
    })


def _matmul_add(graph: Graph, add: Node) -> Rewrite | None:
    for mm_input, bias_input in ((0, 1), (1, 0)):
        producer = graph.producers().get(add.inputs[mm_input])
        if producer is not None and producer.op == "MatMul":
            break
    else:
        return None
    a, b = (graph.tensor(n) for n in producer.inputs)
    bias = graph.tensor(add.inputs[bias_input])
    out = graph.tensor(add.outputs[0])
    if (a.dtype != np.float32 or len(a.shape) != 2 or len(b.shape) != 2 or not b.is_const
            or not bias.is_const or out.shape != (a.shape[0], b.shape[1])
            or len(bias.shape) > 2 or sole_consumer(graph, producer.outputs[0]) is not add):
        return None
    gemm = Node("Gemm", (a.name, b.name, bias.name), add.outputs, {},
                f"{producer.name}+{add.name}")
    return Rewrite([producer, add], [gemm])


def _activation(graph: Graph, node: Node) -> tuple[int, float, float, float, float] | None:
    kind = ACT_KINDS.get(node.op)
    if kind is None or graph.tensor(node.outputs[0]).dtype != np.float32:
        return None
    if node.op == "Clip":
        bounds = []
        for i, default in ((1, -math.inf), (2, math.inf)):
            name = node.inputs[i] if len(node.inputs) > i else ""
            value = graph.const(name) if name else np.float32(default)
            if value is None or np.size(value) != 1:
                return None
            bounds.append(float(value))
        return (kind, 0.0, 0.0, bounds[0], bounds[1])
    if node.op == "LeakyRelu":
        return (kind, float(node.attr("alpha", 0.01)), 0.0, 0.0, 0.0)
    if node.op == "HardSigmoid":
        return (kind, float(node.attr("alpha", 0.2)), float(node.attr("beta", 0.5)), 0.0, 0.0)
    return (kind, 0.0, 0.0, 0.0, 0.0)


def _fuse_activation(graph: Graph, act: Node) -> Rewrite | None:
    params = _activation(graph, act)
    producer = graph.producers().get(act.inputs[0])
    if (params is None or producer is None or producer.op not in FUSES_ACTIVATION
            or "_act" in producer.attrs or sole_consumer(graph, act.inputs[0]) is not act
            or graph.tensor(producer.outputs[0]).shape != graph.tensor(act.outputs[0]).shape):
        return None
    fused = producer.with_(outputs=act.outputs, attrs={**producer.attrs, "_act": params},
                           name=f"{producer.name}+{act.name}")
    return Rewrite([producer, act], [fused])


FUSE_RULES = [
    ("BatchNormalization", _fold_bn),
    ("Add", _matmul_add),
    (tuple(ACT_KINDS), _fuse_activation),
]


def fuse(graph: Graph) -> Graph:
    # transformer patterns first: their Mul/Add/Div must not fuse as activations
    return apply_rules(fuse_transformer(graph), FUSE_RULES)

"""Constant per-channel scales and shifts folded into the neighbouring Conv.

Contract (float32, constant Conv weights, no fused activation yet):

- Backward: Conv -> Mul(s) or Conv -> Add(t), the Conv's output read only by
  that node, s/t constant and per output channel (scalar, [C,1,1] or
  [1,C,1,1]) becomes one Conv with W' = W * s, b' = b * s (resp. b' = b + t).
  PP-LCNetV3's "learnable affine blocks" are exactly this.
- Forward: Mul(h, s) or Add(h, t) read only by a Conv without padding, s/t
  per input channel, becomes that Conv with W' = W * s over input channels
  (resp. b' = b + sum W * t). Padding would read zeros where the unfolded
  graph reads t, so padded convolutions are left alone.

- Otherwise Add(Mul(h, s), t) with per-channel s, t becomes one inference
  BatchNormalization (mean 0, variance 1, epsilon 0, so exactly h * s + t):
  one pass over h instead of two (PP-LCNetV3 puts such blocks after its
  activations, where no Conv can take them).

Repeated sweeps fold whole Mul/Add chains. Runs before 'fuse', so batch-norm
folding and activation fusion see the merged Conv.
"""

from __future__ import annotations

import numpy as np

from aot.ir import Graph, Node, Tensor
from aot.passes.rewrite import Rewrite, apply_rules, sole_consumer


def _channel_vector(graph: Graph, name: str, channels: int, rank: int) -> np.ndarray | None:
    """`name`'s constant as a [channels] vector, if it broadcasts only along axis 1."""
    value = graph.const(name)
    if value is None or value.dtype != np.float32 or value.ndim > rank:
        return None
    shape = (1,) * (rank - value.ndim) + value.shape
    if any(d != 1 for i, d in enumerate(shape) if i != 1) or shape[1] not in (1, channels):
        return None
    return np.broadcast_to(value.reshape(-1).astype(np.float64), (channels,))


def _conv_parts(graph: Graph, conv: Node):
    """(weights, bias) as float64 of a foldable Conv, or None."""
    if conv.op != "Conv" or "_act" in conv.attrs:
        return None
    w = graph.const(conv.inputs[1])
    if w is None or w.dtype != np.float32:
        return None
    bias_name = conv.inputs[2] if len(conv.inputs) > 2 else ""
    bias = graph.const(bias_name) if bias_name else np.zeros(w.shape[0], np.float32)
    if bias is None:
        return None
    return w.astype(np.float64), bias.astype(np.float64)


def _new_conv(conv: Node, w: np.ndarray, b: np.ndarray, outputs, removed: list[Node]) -> Rewrite:
    other = next(n for n in removed if n is not conv)
    w_name, b_name = f"{conv.inputs[1]}__{other.name}", f"{conv.outputs[0]}__bias_{other.name}"
    # the Conv's name first: layer names and comments lead with the Conv
    fused = conv.with_(inputs=(conv.inputs[0], w_name, b_name), outputs=outputs,
                       name="+".join([conv.name] + [n.name for n in removed if n is not conv]))
    return Rewrite(removed, [fused], tensors={
        w_name: Tensor.const(w_name, w.astype(np.float32)),
        b_name: Tensor.const(b_name, b.astype(np.float32))})


def _backward(graph: Graph, node: Node) -> Rewrite | None:
    """Conv -> Mul/Add by a per-output-channel constant."""
    for i in (0, 1):
        conv = graph.producers().get(node.inputs[i])
        if conv is None or conv.op != "Conv" or sole_consumer(graph, conv.outputs[0]) is not node:
            continue
        parts = _conv_parts(graph, conv)
        y = graph.tensor(conv.outputs[0])
        if parts is None or graph.tensor(node.outputs[0]).shape != y.shape:
            continue
        k = _channel_vector(graph, node.inputs[1 - i], y.shape[1], len(y.shape))
        if k is None:
            continue
        w, b = parts
        if node.op == "Mul":
            w, b = w * k.reshape((-1,) + (1,) * (w.ndim - 1)), b * k
        else:
            b = b + k
        return _new_conv(conv, w, b, node.outputs, [conv, node])
    return None


def _forward(graph: Graph, conv: Node) -> Rewrite | None:
    """Mul/Add by a per-input-channel constant -> Conv without padding."""
    affine = graph.producers().get(conv.inputs[0])
    if affine is None or affine.op not in ("Mul", "Add") \
            or sole_consumer(graph, conv.inputs[0]) is not conv:
        return None
    if conv.attr("auto_pad", "NOTSET") not in ("NOTSET", "VALID") or any(conv.attr("pads", [0])):
        return None
    parts = _conv_parts(graph, conv)
    x = graph.tensor(conv.inputs[0])
    if parts is None:
        return None
    for i in (0, 1):
        h = affine.inputs[i]
        if graph.const(h) is not None or graph.tensor(h).shape != x.shape:
            continue
        k = _channel_vector(graph, affine.inputs[1 - i], x.shape[1], len(x.shape))
        if k is None:
            continue
        w, b = parts
        groups = int(conv.attr("group", 1))
        cin_g, cout_g = w.shape[1], w.shape[0] // groups
        # input channel of weight (oc, i): its group's first channel + i
        channel = (np.arange(w.shape[0]) // cout_g)[:, None] * cin_g + np.arange(cin_g)[None, :]
        kk = k[channel].reshape(w.shape[:2] + (1,) * (w.ndim - 2))
        if affine.op == "Mul":
            w = w * kk
        else:
            b = b + (w * kk).reshape(w.shape[0], -1).sum(axis=1)
        fused = _new_conv(conv, w, b, conv.outputs, [affine, conv])
        fused.add[0] = fused.add[0].with_(inputs=(h, *fused.add[0].inputs[1:]))
        return fused
    return None


def _scale_then_shift(graph: Graph, add: Node) -> Rewrite | None:
    """Add(Mul(h, s), t), s and t per channel, as one inference BatchNormalization
    (mean 0, variance 1, epsilon 0: exactly h * s + t), a single pass over h."""
    out = graph.tensor(add.outputs[0])
    if out.dtype != np.float32 or len(out.shape) < 2:
        return None
    reader = sole_consumer(graph, add.outputs[0])
    if reader is not None and reader.op == "Conv" and _forward(graph, reader) is not None:
        return None   # the Conv takes the Add, then the Mul: no pass at all
    for i in (0, 1):
        mul = graph.producers().get(add.inputs[i])
        if mul is None or mul.op != "Mul" or sole_consumer(graph, mul.outputs[0]) is not add:
            continue
        t = _channel_vector(graph, add.inputs[1 - i], out.shape[1], len(out.shape))
        for j in (0, 1):
            h = mul.inputs[j]
            s = _channel_vector(graph, mul.inputs[1 - j], out.shape[1], len(out.shape))
            if t is None or s is None or graph.const(h) is not None \
                    or graph.tensor(h).shape != out.shape:
                continue
            names = [f"{add.outputs[0]}__{k}" for k in ("scale", "shift", "mean", "var")]
            values = [s, t, np.zeros_like(s), np.ones_like(s)]
            bn = Node("BatchNormalization", (h, *names), add.outputs, {"epsilon": 0.0},
                      f"{mul.name}+{add.name}")
            return Rewrite([mul, add], [bn], tensors={
                n: Tensor.const(n, v.astype(np.float32)) for n, v in zip(names, values)})
    return None


FUSE_AFFINE_RULES = [
    (("Mul", "Add"), _backward),
    ("Conv", _forward),
    ("Add", _scale_then_shift),
]


def fuse_affine(graph: Graph) -> Graph:
    return apply_rules(graph, FUSE_AFFINE_RULES)

"""Weight-only int8: keep dequantized weights as int8 in flash.

Contract: `keep_int8_weights(graph)` replaces every `Mul(Cast(q), s)` where q
is an int8 constant cast to float32 and s a float32 constant scale that is
per-tensor or varies along one axis of q (either input order of the Mul),
by one node `_WeightDequant(q, s)` in domain "aot" whose output is the Mul's.
The 'fold' pass runs it first, as it would otherwise turn the pair into a
float32 constant four times the size; it leaves nodes in a domain alone. The
'fuse' pass (aot.passes.fuse_transformer) then lets the consumers that can
apply the scale themselves (MatMul, Gather) read q and s directly, and folds
every other `_WeightDequant` into a float32 constant, so none reaches lowering.
"""

from __future__ import annotations

import numpy as np

from aot.ir import Graph, Node
from aot.passes.rewrite import Rewrite, apply_rules, sole_consumer

DEQUANT_OP = "_WeightDequant"
DOMAIN = "aot"


def scale_axis(q_shape: tuple[int, ...], s_shape: tuple[int, ...]) -> int | None:
    """-1 for a per-tensor scale, the axis of q a per-axis scale varies along,
    or None when s does not broadcast to q that way."""
    if len(s_shape) > len(q_shape):
        return None
    padded = (1,) * (len(q_shape) - len(s_shape)) + tuple(s_shape)
    varying = [i for i, d in enumerate(padded) if d != 1]
    if not varying:
        return -1
    if len(varying) == 1 and padded[varying[0]] == q_shape[varying[0]]:
        return varying[0]
    return None


def dequantize(q: np.ndarray, s: np.ndarray) -> np.ndarray:
    """What the ONNX nodes compute: float32(q) * s."""
    return (q.astype(np.float32) * s.astype(np.float32)).astype(np.float32)


def _cast_mul(graph: Graph, mul: Node) -> Rewrite | None:
    producers = graph.producers()
    for c_in, s_in in ((0, 1), (1, 0)):
        cast = producers.get(mul.inputs[c_in])
        if cast is not None and cast.op == "Cast" and not cast.domain:
            break
    else:
        return None
    q, s = graph.tensor(cast.inputs[0]), graph.tensor(mul.inputs[s_in])
    out = graph.tensor(mul.outputs[0])
    if (not q.is_const or q.dtype != np.int8 or not s.is_const or s.dtype != np.float32
            or graph.tensor(cast.outputs[0]).dtype != np.float32 or out.shape != q.shape
            or scale_axis(q.shape, s.shape) is None
            or sole_consumer(graph, cast.outputs[0]) is not mul):
        return None
    node = Node(DEQUANT_OP, (q.name, s.name), mul.outputs, {}, f"{cast.name}+{mul.name}",
                DOMAIN)
    return Rewrite([cast, mul], [node])


def keep_int8_weights(graph: Graph) -> Graph:
    return apply_rules(graph, [("Mul", _cast_mul)])

"""Hard-swish written out as elementwise ops, fused back into one HardSwish.

Contract: every float32 subgraph computing x * relu6(x + 3) / 6 in one of
the spellings exporters use becomes `HardSwish(x)`:

    Div(Mul(x, Clip(Add(x, 3), 0, 6)), 6)        (Paddle, TF)
    Mul(Mul(x, Clip(Add(x, 3), 0, 6)), 1/6)
    Mul(x, Div(Clip(Add(x, 3), 0, 6), 6))       and  Mul(x, Mul(Clip(..), 1/6))
    Mul(x, HardSigmoid(x, alpha=1/6, beta=0.5))

(operands of Add and Mul in either order). Every intermediate must be read
by the pattern only. Constants must equal 3, 6, 1/6, 0.5 to float32
precision. Runs before 'fuse', which then folds the HardSwish into its
producer; afterwards no matched Add/Clip/Mul/Div chain remains.
"""

from __future__ import annotations

import numpy as np

from aot.ir import Graph, Node
from aot.passes.rewrite import Rewrite, apply_rules, sole_consumer


def _scalar(graph: Graph, name: str, want: float) -> bool:
    value = graph.const(name)
    return (value is not None and value.size == 1 and value.dtype == np.float32
            and bool(np.isclose(float(value.reshape(-1)[0]), want, rtol=1e-6, atol=0.0)))


def _producer(graph: Graph, name: str, op: str, reader: Node) -> Node | None:
    """The `op` node producing `name`, if `reader` is its only reader."""
    node = graph.producers().get(name)
    if node is None or node.op != op or sole_consumer(graph, name) is not reader:
        return None
    return node


def _other(node: Node, name: str) -> str | None:
    """The other operand of a binary `node` one of whose operands is `name`."""
    a, b = node.inputs[:2]
    return b if a == name else a if b == name else None


def _relu6_of_x_plus_3(graph: Graph, name: str, reader: Node) -> tuple[str, list[Node]] | None:
    """(x, [Clip, Add]) when `name` = Clip(Add(x, 3), 0, 6) read only by `reader`."""
    clip = _producer(graph, name, "Clip", reader)
    if clip is None or len(clip.inputs) < 3 or not _scalar(graph, clip.inputs[1], 0.0) \
            or not _scalar(graph, clip.inputs[2], 6.0):
        return None
    add = _producer(graph, clip.inputs[0], "Add", clip)
    if add is None:
        return None
    for x, three in (add.inputs[:2], add.inputs[1::-1]):
        if _scalar(graph, three, 3.0) and graph.const(x) is None:
            return x, [clip, add]
    return None


def _scaled(graph: Graph, node: Node) -> str | None:
    """The operand of `node` that is divided by 6 (Div by 6, Mul by 1/6)."""
    if node.op == "Div" and _scalar(graph, node.inputs[1], 6.0):
        return node.inputs[0]
    if node.op == "Mul":
        for value, k in (node.inputs[:2], node.inputs[1::-1]):
            if _scalar(graph, k, 1 / 6):
                return value
    return None


def _hardswish(graph: Graph, x: str, out: Node, removed: list[Node]) -> Rewrite | None:
    t = graph.tensor(x)
    if t.dtype != np.float32 or graph.tensor(out.outputs[0]).shape != t.shape:
        return None
    fused = Node("HardSwish", (x,), out.outputs, {},
                 "+".join(n.name for n in reversed(removed)))
    return Rewrite(removed, [fused])


def _outer_scale(graph: Graph, node: Node) -> Rewrite | None:
    """(x * relu6(x + 3)) / 6, the division last."""
    product = _scaled(graph, node)
    mul = _producer(graph, product, "Mul", node) if product else None
    if mul is None:
        return None
    for x, r6 in (mul.inputs[:2], mul.inputs[1::-1]):
        found = _relu6_of_x_plus_3(graph, r6, mul)
        if found is not None and found[0] == x:
            return _hardswish(graph, x, node, [node, mul, *found[1]])
    return None


def _inner_scale(graph: Graph, node: Node) -> Rewrite | None:
    """x * (relu6(x + 3) / 6) and x * HardSigmoid(x) with alpha 1/6, beta 1/2."""
    if node.op != "Mul":
        return None
    for x, gate in (node.inputs[:2], node.inputs[1::-1]):
        hs = _producer(graph, gate, "HardSigmoid", node)
        if hs is not None and hs.inputs[0] == x \
                and np.isclose(hs.attr("alpha", 0.2), 1 / 6, rtol=1e-6) \
                and np.isclose(hs.attr("beta", 0.5), 0.5, rtol=1e-6):
            return _hardswish(graph, x, node, [node, hs])
        for op in ("Div", "Mul"):
            scale = _producer(graph, gate, op, node)
            r6 = _scaled(graph, scale) if scale is not None else None
            found = _relu6_of_x_plus_3(graph, r6, scale) if r6 else None
            if found is not None and found[0] == x:
                return _hardswish(graph, x, node, [node, scale, *found[1]])
    return None


FUSE_ACTIVATION_RULES = [
    (("Div", "Mul"), _outer_scale),
    ("Mul", _inner_scale),
]


def fuse_activations(graph: Graph) -> Graph:
    return apply_rules(graph, FUSE_ACTIVATION_RULES)

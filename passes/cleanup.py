"""Removal of nodes that compute nothing.

- `eliminate_dead_code`: drops nodes none of whose outputs reach a graph output.
- `simplify`: rewrite table that removes Identity and inference-mode Dropout,
  turns Flatten/Squeeze/Unsqueeze into Reshape with a constant shape, merges
  Reshape chains and drops Reshapes that change nothing, and turns
  DepthToSpace / SpaceToDepth into Reshape -> Transpose -> Reshape. Afterwards
  the only shape-only op left is Reshape, which lowering turns into a buffer alias.
"""

from __future__ import annotations

import numpy as np

from aot.ir import Graph, Node, Tensor
from aot.passes.rewrite import Rewrite, apply_rules


def eliminate_dead_code(graph: Graph) -> Graph:
    live = set(graph.outputs)
    kept = []
    for node in reversed(graph.nodes):
        if any(o in live for o in node.outputs if o):
            kept.append(node)
            live.update(i for i in node.inputs if i)
    return graph.replace(reversed(kept))


def _forward(graph: Graph, node: Node, src: str, dst: str) -> Rewrite | None:
    """Remove `node`, which copies `src` to `dst`, by renaming one of the two."""
    if dst not in graph.outputs:
        return Rewrite([node], rename={dst: src})
    src_tensor = graph.tensor(src)
    if src in graph.inputs or src in graph.outputs or src_tensor.is_const:
        return None  # a real copy into the caller's output buffer is needed
    # The producer of src can write straight into the graph output dst.
    return Rewrite([node], tensors={dst: Tensor(dst, src_tensor.shape, src_tensor.dtype,
                                                quant=src_tensor.quant)},
                   rename={src: dst})


def _identity(graph: Graph, node: Node) -> Rewrite | None:
    if node.op == "Dropout" and (node.attr("training_mode") or
                                 (len(node.inputs) > 2 and node.inputs[2] and
                                  bool(np.any(graph.const(node.inputs[2]))))):
        return None  # training-mode dropout is random; leave it to be reported unsupported
    if node.op == "Dropout" and len(node.outputs) > 1 and node.outputs[1]:
        mask = graph.tensor(node.outputs[1])
        rw = _forward(graph, node, node.inputs[0], node.outputs[0])
        if rw is None:
            return None
        rw.tensors = {**rw.tensors, mask.name: Tensor.const(mask.name, np.ones(mask.shape, bool))}
        return rw
    return _forward(graph, node, node.inputs[0], node.outputs[0])


def _to_reshape(graph: Graph, node: Node) -> Rewrite | None:
    out = graph.tensor(node.outputs[0])
    shape_name = f"{node.outputs[0]}__shape"
    shape = Tensor.const(shape_name, np.array(out.shape, dtype=np.int64))
    reshape = Node("Reshape", (node.inputs[0], shape_name), node.outputs, {}, node.name)
    return Rewrite([node], [reshape], tensors={shape_name: shape})


def _reshape(graph: Graph, node: Node) -> Rewrite | None:
    src = graph.tensor(node.inputs[0])
    out = graph.tensor(node.outputs[0])
    if src.shape == out.shape and src.quant == out.quant:   # else an int8 requantization
        return _forward(graph, node, src.name, out.name)
    if graph.const(node.inputs[1]) is not None and tuple(graph.const(node.inputs[1])) != out.shape:
        # normalize -1 / 0 entries to the static shape, so lowering reads one form
        return _to_reshape(graph, node)
    producer = graph.producers().get(src.name)
    if producer is not None and producer.op == "Reshape" and src.name not in graph.outputs \
            and graph.tensor(producer.inputs[0]).quant == src.quant \
            and all(node is n or src.name not in n.inputs for n in graph.nodes):
        # (a first Reshape that requantizes keeps its own saturation: no merge)
        merged = node.with_(inputs=(producer.inputs[0], node.inputs[1]))
        return Rewrite([producer, node], [merged])
    return None


def _depth_space(graph: Graph, node: Node) -> Rewrite | None:
    """DepthToSpace / SpaceToDepth (NCHW) as Reshape -> Transpose -> Reshape,
    the 6-D shapes and permutation the ONNX definition gives."""
    x, y = graph.tensor(node.inputs[0]), graph.tensor(node.outputs[0])
    if len(x.shape) != 4:
        return None
    b = int(node.attr("blocksize"))
    n, c, h, w = x.shape
    mode = node.attr("mode", "DCR")
    if node.op == "SpaceToDepth":
        mid = (n, c, h // b, b, w // b, b)
        perm = (0, 3, 5, 1, 2, 4) if mode == "DCR" else (0, 1, 3, 5, 2, 4)
        if mode not in ("DCR", "CRD"):
            return None
    elif mode == "CRD":
        mid, perm = (n, c // (b * b), b, b, h, w), (0, 1, 4, 2, 5, 3)
    elif mode == "DCR":
        mid, perm = (n, b, b, c // (b * b), h, w), (0, 3, 4, 1, 5, 2)
    else:
        return None
    base = node.outputs[0]
    names = [f"{base}__{s}" for s in ("blocks_shape", "blocks", "moved", "shape")]
    moved = tuple(mid[p] for p in perm)
    tensors = {names[0]: Tensor.const(names[0], np.array(mid, np.int64)),
               names[1]: Tensor(names[1], mid, x.dtype, quant=x.quant),
               names[2]: Tensor(names[2], moved, x.dtype, quant=x.quant),
               names[3]: Tensor.const(names[3], np.array(y.shape, np.int64))}
    return Rewrite([node], [
        Node("Reshape", (x.name, names[0]), (names[1],), {}, f"{node.name}_blocks"),
        Node("Transpose", (names[1],), (names[2],), {"perm": list(perm)}, node.name),
        Node("Reshape", (names[2], names[3]), node.outputs, {}, f"{node.name}_merge")],
        tensors=tensors)


SIMPLIFY_RULES = [
    (("Identity", "Dropout"), _identity),
    (("Flatten", "Squeeze", "Unsqueeze"), _to_reshape),
    ("Reshape", _reshape),
    (("DepthToSpace", "SpaceToDepth"), _depth_space),
]


def simplify(graph: Graph) -> Graph:
    return apply_rules(graph, SIMPLIFY_RULES)

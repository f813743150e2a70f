"""Constant folding.

Contract: every node whose inputs are all constants is replaced by constant
tensors holding its outputs (computed with ONNX's reference runtime), and
every Shape/Size node is replaced by its value, which is static once the
frontend is done. Nodes are folded in order, so whole constant chains
(Shape -> Gather -> Concat -> Reshape's shape) disappear in one pass.
Weight-only int8 dequantization, `Mul(Cast(int8 constant), scale)`, is not
folded to float32 (four times the bytes): it first becomes one
`_WeightDequant` node (aot.passes.weight_only), which this pass leaves alone.
"""

from __future__ import annotations

import numpy as np

from aot.errors import ModelError
from aot.evaluate import evaluate_node
from aot.ir import Graph, Tensor

# The largest constant folding may create (it becomes C source text: ~12 bytes
# of literal per float). Checked on the known output shapes before evaluating.
MAX_FOLDED_BYTES = 2**28

# Ops whose output we must not bake in even with constant inputs.
_NOT_FOLDABLE = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike",
                 "Multinomial", "Bernoulli"}


def shape_value(node, input_shape: tuple[int, ...]) -> np.ndarray | None:
    """The value of a Shape or Size node over an input of static shape."""
    if node.op == "Shape":
        shape = np.array(input_shape, dtype=np.int64)
        rank = len(shape)
        start = node.attr("start", 0)
        end = node.attr("end", rank)
        start = min(max(start + rank if start < 0 else start, 0), rank)
        end = min(max(end + rank if end < 0 else end, 0), rank)
        return shape[start:end]
    if node.op == "Size":
        return np.array(int(np.prod(input_shape, dtype=np.int64)), dtype=np.int64)
    return None


def fold_constants(graph: Graph) -> Graph:
    from aot.passes.weight_only import keep_int8_weights

    graph = keep_int8_weights(graph)
    tensors = dict(graph.tensors)
    nodes = []
    for node in graph.nodes:
        if node.domain or node.op in _NOT_FOLDABLE:
            nodes.append(node)
            continue
        value = shape_value(node, graph.tensor(node.inputs[0]).shape) if node.inputs else None
        if value is not None:
            tensors[node.outputs[0]] = Tensor.const(node.outputs[0], value)
            continue
        inputs = [tensors[i] if i else None for i in node.inputs]
        if not all(t is None or t.is_const for t in inputs):
            nodes.append(node)
            continue
        nbytes = sum(tensors[o].nbytes for o in node.outputs if o)
        if nbytes > MAX_FOLDED_BYTES:
            raise ModelError(f"{node.describe()}: folding it would make a constant of "
                             f"{nbytes:,} bytes; aot folds constants up to {MAX_FOLDED_BYTES:,}")
        try:
            values = evaluate_node(node, [t.data if t is not None else None for t in inputs])
        except Exception as e:
            raise ModelError(f"{node.describe()}: cannot evaluate on its constant inputs: "
                             f"{str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__}") from None
        for out, v in zip(node.outputs, values):
            if out:
                want = tensors[out]
                v = np.asarray(v, dtype=want.dtype).reshape(want.shape)
                folded = Tensor.const(out, v)
                # an int8 constant computed from constants (QuantizeLinear of a reshaped
                # bias) keeps the scale/zero point 'qdq' gave its readers
                tensors[out] = Tensor(out, folded.shape, folded.dtype, folded.data, want.quant)
    return graph.replace(nodes, tensors)

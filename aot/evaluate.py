"""Evaluate one IR node on concrete numpy values with ONNX's reference runtime.

Used at compile time only: by the frontend to resolve shapes that depend on
constant data, and by the constant-folding pass. Our kernels are never the
reference for themselves.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper
from onnx.reference import ReferenceEvaluator

from aot.ir import Node

CANONICAL_OPSET = onnx.defs.onnx_opset_version()


def to_node_proto(node: Node) -> onnx.NodeProto:
    # Attributes named "_..." are ours (e.g. a fused activation), not ONNX's.
    attrs = {k: v for k, v in node.attrs.items() if not k.startswith("_")}
    return helper.make_node(node.op, list(node.inputs), list(node.outputs),
                            name=node.name, domain=node.domain or None, **attrs)


def evaluate_node(node: Node, values: list[np.ndarray | None]) -> list[np.ndarray]:
    """The outputs of `node` for the given input values (None for an omitted input)."""
    proto = to_node_proto(node)
    feeds = {name: value for name, value in zip(node.inputs, values) if name}
    runner = ReferenceEvaluator(proto, opsets={"": CANONICAL_OPSET})
    results = runner.run(None, feeds)
    return [np.asarray(r) for r in results]

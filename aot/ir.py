"""The graph IR: small, explicit, immutable.

A `Graph` is a list of `Node`s in topological order plus a table of `Tensor`
values by name. Shapes are static tuples of ints once the frontend is done.
Passes never mutate a graph: they build a new one (`Graph.replace` helps).
`verify(graph)` checks the invariants every pass must keep.

This module imports nothing else of ours.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import numpy as np


class IRError(Exception):
    """An invariant of the IR does not hold (a bug in a pass, not bad input)."""


@dataclass(frozen=True)
class Quant:
    """Affine quantization: real = scale * (q - zero_point), per tensor or along `axis`."""

    scale: tuple[float, ...]
    zero_point: tuple[int, ...]
    axis: int | None = None


@dataclass(frozen=True, eq=False)
class Tensor:
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    data: np.ndarray | None = None
    quant: Quant | None = None

    @property
    def is_const(self) -> bool:
        return self.data is not None

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        return self.size * np.dtype(self.dtype).itemsize

    @staticmethod
    def const(name: str, data: np.ndarray) -> "Tensor":
        data = np.asarray(data)
        if not data.flags.c_contiguous:
            data = np.ascontiguousarray(data).reshape(data.shape)  # keeps 0-d as 0-d
        data = data.view()
        data.setflags(write=False)  # on the view only: the caller's array stays writable
        return Tensor(name, tuple(int(d) for d in data.shape), data.dtype, data)


@dataclass(frozen=True, eq=False)
class Node:
    op: str
    inputs: tuple[str, ...]   # "" marks an omitted optional input, as in ONNX
    outputs: tuple[str, ...]
    attrs: Mapping[str, Any] = field(default_factory=dict)
    name: str = ""            # the ONNX node name (or a derived one), for comments and errors
    domain: str = ""

    def attr(self, key: str, default: Any = None) -> Any:
        return self.attrs.get(key, default)

    def with_(self, **changes: Any) -> "Node":
        return dataclasses.replace(self, **changes)

    def describe(self) -> str:
        return f"{self.op} node '{self.name}'" if self.name else f"{self.op} node"


@dataclass(frozen=True, eq=False)
class Graph:
    nodes: tuple[Node, ...]
    tensors: Mapping[str, Tensor]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    name: str = "model"

    def tensor(self, name: str) -> Tensor:
        try:
            return self.tensors[name]
        except KeyError:
            raise IRError(f"unknown tensor '{name}'") from None

    def const(self, name: str) -> np.ndarray | None:
        """The constant value of `name`, or None when it is computed at run time."""
        if not name:
            return None
        return self.tensors[name].data

    def replace(self, nodes: Iterable[Node] | None = None,
                tensors: Mapping[str, Tensor] | None = None, **changes: Any) -> "Graph":
        """A new graph with other nodes/tensors; tensors no node or I/O uses are dropped."""
        nodes = tuple(self.nodes if nodes is None else nodes)
        table = dict(self.tensors if tensors is None else tensors)
        graph = dataclasses.replace(self, nodes=nodes, tensors=table, **changes)
        used = set(graph.inputs) | set(graph.outputs)
        for node in nodes:
            used.update(n for n in node.inputs if n)
            used.update(node.outputs)
        return dataclasses.replace(graph, tensors={k: v for k, v in table.items() if k in used})

    def producers(self) -> dict[str, Node]:
        return {out: node for node in self.nodes for out in node.outputs}

    def consumers(self) -> dict[str, list[Node]]:
        users: dict[str, list[Node]] = {}
        for node in self.nodes:
            for name in node.inputs:
                if name:
                    users.setdefault(name, []).append(node)
        return users


def verify(graph: Graph) -> None:
    """Raise IRError unless: every name is defined before use, exactly once;
    every tensor has a static non-negative shape; constants match their shape
    and dtype; graph outputs are produced; nothing consumes an undefined name."""
    defined: set[str] = set()
    for name in graph.inputs:
        t = graph.tensor(name)
        if t.is_const:
            raise IRError(f"graph input '{name}' is a constant")
        defined.add(name)
    for name, t in graph.tensors.items():
        if t.name != name:
            raise IRError(f"tensor table key '{name}' holds tensor '{t.name}'")
        if any((not isinstance(d, int)) or d < 0 for d in t.shape):
            raise IRError(f"tensor '{name}' has a non-static shape {t.shape}")
        if t.is_const:
            if tuple(t.data.shape) != t.shape or t.data.dtype != t.dtype:
                raise IRError(f"constant '{name}' data {t.data.dtype}{t.data.shape} "
                              f"does not match {t.dtype}{t.shape}")
            defined.add(name)
    for node in graph.nodes:
        for name in node.inputs:
            if name and name not in defined:
                raise IRError(f"{node.describe()} reads '{name}' before it is defined")
        for name in node.outputs:
            if not name:
                continue
            if name in defined:
                raise IRError(f"{node.describe()} redefines '{name}'")
            graph.tensor(name)
            defined.add(name)
    for name in graph.outputs:
        if name not in defined:
            raise IRError(f"graph output '{name}' is never produced")


def format_graph(graph: Graph) -> str:
    """A readable listing: one line per node, constants shown by shape."""
    def arg(name: str) -> str:
        if not name:
            return "-"
        t = graph.tensors[name]
        kind = "const " if t.is_const else ""
        return f"{name}:{kind}{np.dtype(t.dtype).name}{list(t.shape)}"
    lines = [f"graph {graph.name}({', '.join(arg(n) for n in graph.inputs)})"]
    for node in graph.nodes:
        attrs = ", ".join(f"{k}={v}" for k, v in sorted(node.attrs.items()))
        lines.append(f"  {', '.join(arg(o) for o in node.outputs)} = {node.op}"
                     f"({', '.join(arg(i) for i in node.inputs)}){' {' + attrs + '}' if attrs else ''}"
                     f"  # {node.name}")
    lines.append(f"  return {', '.join(graph.outputs)}")
    return "\n".join(lines)

"""Local rewrites as data: a table of `(ops, fn)` rules.

`fn(graph, node)` looks at an anchor node whose op is in `ops` and returns a
`Rewrite` or None for "no match". `apply_rules` applies non-overlapping
matches sweep by sweep until no rule matches, and returns a new graph: a fusion
is one table entry, never a hand-written graph walk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping

from aot.ir import Graph, Node, Tensor


@dataclass
class Rewrite:
    remove: list[Node]                 # the nodes this rewrite consumes (anchor included)
    add: list[Node] = field(default_factory=list)   # placed where the last removed node stood
    tensors: Mapping[str, Tensor] = field(default_factory=dict)  # new or changed values
    rename: Mapping[str, str] = field(default_factory=dict)      # old name -> new name, graph-wide


Rule = tuple[Iterable[str], Callable[[Graph, Node], "Rewrite | None"]]


def apply_rules(graph: Graph, rules: Iterable[Rule]) -> Graph:
    table: dict[str, list[Callable]] = {}
    for ops, fn in rules:
        for op in ([ops] if isinstance(ops, str) else ops):
            table.setdefault(op, []).append(fn)
    while True:
        rewrites: list[Rewrite] = []
        taken: set[int] = set()
        renamed: set[str] = set()   # names a rename of this sweep reads or writes
        for node in graph.nodes:
            if id(node) in taken:
                continue
            for fn in table.get(node.op, ()):
                rw = fn(graph, node)
                names = set(rw.rename) | set(rw.rename.values()) if rw is not None else set()
                # Two renames of one name in a sweep would fight (a->b, a->c): the
                # later one waits for the next sweep, which sees the first applied.
                if rw is not None and not any(id(n) in taken for n in rw.remove) \
                        and not names & renamed:
                    taken.update(id(n) for n in rw.remove)
                    renamed |= names
                    rewrites.append(rw)
                    break
        if not rewrites:
            return graph
        graph = _apply(graph, rewrites)


def _apply(graph: Graph, rewrites: list[Rewrite]) -> Graph:
    position = {id(n): i for i, n in enumerate(graph.nodes)}
    removed = {id(n) for rw in rewrites for n in rw.remove}
    insert_at: dict[int, list[Node]] = {}
    tensors = dict(graph.tensors)
    rename: dict[str, str] = {}
    for rw in rewrites:
        last = max(position[id(n)] for n in rw.remove)
        insert_at.setdefault(last, []).extend(rw.add)
        tensors.update(rw.tensors)
        rename.update(rw.rename)
    nodes = []
    for i, node in enumerate(graph.nodes):
        if id(node) not in removed:
            nodes.append(node)
        nodes.extend(insert_at.get(i, ()))
    if rename:
        def r(name: str) -> str:
            while name in rename:
                name = rename[name]
            return name
        nodes = [n.with_(inputs=tuple(r(i) for i in n.inputs), outputs=tuple(r(o) for o in n.outputs))
                 for n in nodes]
        return graph.replace(nodes, tensors, inputs=tuple(r(i) for i in graph.inputs),
                             outputs=tuple(r(o) for o in graph.outputs))
    return graph.replace(nodes, tensors)


def sole_consumer(graph: Graph, name: str) -> Node | None:
    """The only node reading `name`, if exactly one does and it is not a graph output."""
    if name in graph.outputs:
        return None
    users = [n for n in graph.nodes if name in n.inputs]
    return users[0] if len(users) == 1 else None

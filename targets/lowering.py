"""Lowering: Graph -> Program, one rule per (op, target).

`RULES` maps `(op, key)` to a rule, where key is a kernel variant (an ISA
extension such as "dsp", "neon", "dotprod", "avx2", "avx512": `Target.variants`),
a target name, a target family, or "generic" (portable C, every target).
Lookup tries them in that order -- the target's variants best first -- so a
platform rule wins over the generic one. `kernels` (`--kernels`) narrows the
choice: "portable" uses only the generic rules, a variant name only that
variant's rules before the target's and the generic ones. The table is filled
in exactly one place: `targets/registry.py`.

A rule is `fn(node, ctx) -> None`; it appends steps to `ctx` and may create
constants (compile-time "Prepare" results) and temporaries. A variant rule
that does not handle this node's form (a shape its fast path lacks) raises
`Fallback`, and the next rule in lookup order lowers the node. A rule that
cannot handle a node's attributes at all raises `Unsupported(reason)`;
lowering collects all such nodes and reports them together.
"""

from __future__ import annotations

import re
from typing import Callable

import numpy as np

from aot.errors import ModelError, UsageError
from aot.ir import Graph, Node, Tensor
from aot.program import Call, Program, Step
from aot.targets.target import Target


class Unsupported(Exception):
    """This node's form is not supported by its rule; the message says why."""


class Fallback(Exception):
    """This (variant) rule does not handle this node; the next rule in lookup order does."""


class LoweringContext:
    def __init__(self, graph: Graph, target: Target, optimize: str = "speed"):
        self.graph = graph
        self.target = target
        # --optimize: "speed" lets variant rules pick per-shape specialized kernels,
        # "size" asks them for their shared general ones (fewer kernels linked).
        self.optimize = optimize
        self.tensors: dict[str, Tensor] = dict(graph.tensors)
        self.steps: list[Step] = []
        # Whole-graph decisions a target's rules share, made once on first use (e.g. which
        # float activations the x86 rules keep channel-blocked): key -> value.
        self.memo: dict[str, object] = {}

    def tensor(self, name: str) -> Tensor:
        return self.tensors[name]

    def const_value(self, name: str) -> np.ndarray | None:
        return self.tensors[name].data if name else None

    def _fresh(self, hint: str) -> str:
        base = re.sub(r"\W", "_", hint)
        name, i = base, 1
        while name in self.tensors:
            name, i = f"{base}_{i}", i + 1
        return name

    def const(self, hint: str, data: np.ndarray) -> str:
        """A new constant tensor (e.g. re-laid-out weights); returns its name."""
        name = self._fresh(hint)
        self.tensors[name] = Tensor.const(name, data)
        return name

    def temp(self, hint: str, shape: tuple[int, ...], dtype) -> str:
        """A new intermediate tensor for multi-call lowerings; returns its name."""
        name = self._fresh(hint)
        self.tensors[name] = Tensor(name, tuple(shape), np.dtype(dtype))
        return name

    def emit(self, step: Step) -> None:
        self.steps.append(step)


Rule = Callable[[Node, LoweringContext], None]
RULES: dict[tuple[str, str], Rule] = {}
# Ops the passes remove (or fold) before lowering; accepted, but need no rule.
REMOVED_BY_PASSES: dict[str, str] = {}


def register(op: str, key: str, rule: Rule) -> None:
    if (op, key) in RULES:
        raise ValueError(f"two lowering rules for ({op}, {key})")
    RULES[(op, key)] = rule


def rule_keys(target: Target, kernels: str = "auto") -> tuple[str, ...]:
    """The registry keys tried for `target`, in order."""
    if kernels == "portable":
        return ("generic",)
    variants = target.variants if kernels == "auto" else (kernels,)
    return (*variants, target.name, target.family, "generic")


def find_rules(op: str, target: Target, kernels: str = "auto") -> list[Rule]:
    """The rules that may lower `op` on `target`, the preferred first."""
    return [RULES[(op, key)] for key in rule_keys(target, kernels) if (op, key) in RULES]


def find_rule(op: str, target: Target, kernels: str = "auto") -> Rule | None:
    rules = find_rules(op, target, kernels)
    return rules[0] if rules else None


def accepted_ops() -> set[str]:
    """Every op the frontend accepts: ops with a rule, and ops passes remove."""
    return {op for op, _ in RULES} | set(REMOVED_BY_PASSES)


def lower(graph: Graph, target: Target, kernels: str = "auto",
          optimize: str = "speed") -> Program:
    import aot.targets.registry  # noqa: F401  (fills RULES once)

    if kernels not in ("auto", "portable") and kernels not in target.variants:
        raise UsageError(f"kernels '{kernels}' cannot run on target {target.name}; use auto, "
                         f"portable{''.join(', ' + v for v in target.variants)}")
    ctx = LoweringContext(graph, target, optimize)
    problems: dict[str, list[tuple[str, str]]] = {}
    for node in graph.nodes:
        rules = find_rules(node.op, target, kernels) if not node.domain else []
        if not rules:
            reason = REMOVED_BY_PASSES.get(node.op, f"no lowering rule for {node.op}"
                                            + (f" in domain {node.domain}" if node.domain else ""))
            problems.setdefault(node.op, []).append((node.name, reason))
            continue
        try:
            _lower_node(node, rules, ctx)
        except Unsupported as e:
            problems.setdefault(node.op, []).append((node.name, str(e)))
    _copy_unproduced_outputs(ctx)
    if problems:
        count = sum(len(v) for v in problems.values())
        summary = "; ".join(f"{op} ({', '.join(repr(n) for n, _ in nodes)})"
                            for op, nodes in sorted(problems.items()))
        details = [f"{op} '{name}': {reason}" for op, nodes in sorted(problems.items())
                   for name, reason in nodes]
        if count == 1:   # one node: its reason fits on the summary line
            summary += f": {details[0].split(': ', 1)[1]}"
        raise ModelError(f"{count} unsupported node(s) for target {target.name}: {summary}",
                         details)
    return Program(graph.name, tuple(ctx.steps), ctx.tensors, graph.inputs, graph.outputs)


def _lower_node(node: Node, rules: list[Rule], ctx: LoweringContext) -> None:
    """The first rule that does not fall back lowers `node`; a rule that falls
    back leaves no trace (its steps and constants are dropped)."""
    first, tensors = len(ctx.steps), dict(ctx.tensors) if len(rules) > 1 else None
    for rule in rules[:-1]:
        try:
            rule(node, ctx)
        except Fallback:
            del ctx.steps[first:]
            ctx.tensors = dict(tensors)
            continue
        break
    else:
        rules[-1](node, ctx)
    _check_int32(ctx.steps[first:])


def _check_int32(steps) -> None:
    """Every integer of a parameter block must fit its int32_t field (a huge
    attribute, e.g. strides=[2**40], would otherwise wrap in the C)."""
    def walk(fields, where):
        for key, value in fields.items():
            values = value if isinstance(value, tuple) else (value,)
            if isinstance(value, dict):
                walk(value, f"{where}{key}.")
                continue
            for v in values:
                if isinstance(v, (int, np.integer)) and not isinstance(v, bool) \
                        and not -2**31 <= int(v) < 2**31:
                    raise Unsupported(f"{where}{key} = {int(v)} is out of the int32 range")
    for step in steps:
        if isinstance(step, Call) and step.params is not None:
            walk(step.params.fields, "")


def _copy_unproduced_outputs(ctx: LoweringContext) -> None:
    """A graph output that folded to a constant is copied from flash into the
    caller's output buffer (the constant becomes a separate weights tensor)."""
    from aot.targets.rules_generic import emit_copy

    if len(set(ctx.graph.outputs)) != len(ctx.graph.outputs):
        raise ModelError("a graph output is listed twice; aot needs distinct outputs")
    for out in ctx.graph.outputs:
        if out in ctx.graph.inputs:
            raise ModelError(f"graph output '{out}' is also a graph input; "
                             f"add an Identity node between them")
        t = ctx.tensors[out]
        if t.is_const:
            src = ctx.const(f"{out}_value", t.data)
            ctx.tensors[out] = Tensor(out, t.shape, t.dtype, quant=t.quant)
            emit_copy(ctx, src, out, f"output {out}")

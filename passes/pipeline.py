"""The pass pipeline: one named list of pure Graph -> Graph functions.

`run_pipeline` runs each pass in order and `verify`s the graph after every
one, so a broken invariant is reported against the pass that broke it. Names
are what `--dump-after NAME` takes.
"""

from __future__ import annotations

from typing import Callable, Sequence

from aot.intsafety import check_int8_accumulators
from aot.ir import Graph, IRError, verify
from aot.passes.cleanup import eliminate_dead_code, simplify
from aot.passes.fold import fold_constants
from aot.passes.fuse import fuse
from aot.passes.fuse_activation import fuse_activations
from aot.passes.fuse_affine import fuse_affine
from aot.passes.qdq import fold_qdq

Pass = Callable[[Graph], Graph]

FLOAT_PIPELINE: Sequence[tuple[str, Pass]] = (
    ("qdq", fold_qdq),
    ("fold", fold_constants),
    ("simplify", simplify),
    ("dce", eliminate_dead_code),
    ("fuse-affine", fuse_affine),
    ("fuse-hardswish", fuse_activations),
    ("fuse", fuse),
    ("dce-final", eliminate_dead_code),
    ("int-safety", check_int8_accumulators),   # check only: int8 accumulators fit int32
)


def pipeline_for(target) -> Sequence[tuple[str, Pass]]:
    """The pipeline for a target family (all targets share the float pipeline so far)."""
    return FLOAT_PIPELINE


def run_pipeline(graph: Graph, passes: Sequence[tuple[str, Pass]],
                 dump_after: Callable[[str, Graph], None] | None = None) -> Graph:
    for name, fn in passes:
        graph = fn(graph)
        try:
            verify(graph)
        except IRError as e:
            raise IRError(f"after pass '{name}': {e}") from None
        if dump_after is not None:
            dump_after(name, graph)
    return graph

"""Hypothesis set-up shared by the differential tests (test_differential*.py).

AOT_FUZZ_EXAMPLES is the example budget (CI: 80; each test file divides it up)
and AOT_FUZZ_SEED an integer or `random` (default: derandomized, as in CI).
Both are read by the tests only, never by the compiler.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, seed, settings
from hypothesis import strategies as st

import aot

BUDGET = int(os.environ.get("AOT_FUZZ_EXAMPLES", "80"))
SEED = os.environ.get("AOT_FUZZ_SEED")

# The planner options drawn with every example, so the memory plan is fuzzed too.
options_strategy = st.builds(
    aot.Options, inplace=st.booleans(), schedule=st.sampled_from(["onnx", "memory"]),
    io_in_arena=st.booleans())


def fuzz_settings(n: int):
    """n examples, no deadline or database; derandomized unless AOT_FUZZ_SEED is set."""
    return settings(max_examples=n, deadline=None, database=None, print_blob=True,
                    derandomize=SEED is None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much,
                                           HealthCheck.function_scoped_fixture])


def seeded(fn):
    """fn under AOT_FUZZ_SEED's seed (a fresh one for `random`), else unchanged."""
    if SEED is None:
        return fn
    return seed(int.from_bytes(os.urandom(8)) if SEED == "random" else int(SEED))(fn)

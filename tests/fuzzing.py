"""Property-based tests' shared budget and seed.

CI runs every property with a fixed number of examples and one seed per session, printed in
pytest's header (``fuzz: seed N``), so a failure found in CI reruns here with
``FUZZ_SEED=N python3 -m pytest tests/test_fuzz_inputs.py``. Each example must finish within
FUZZ_DEADLINE: an input that takes longer is the quadratic-time bug this guards against.
"""
from __future__ import annotations

import os
import random
from datetime import timedelta

from hypothesis import HealthCheck, seed, settings

SEED = int(os.environ.get("FUZZ_SEED") or random.SystemRandom().randrange(2**32))
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES") or 300)
DEADLINE = timedelta(seconds=float(os.environ.get("FUZZ_DEADLINE") or 5))


def fuzz(test=None, *, examples: int | None = None):
    """The settings every property test runs with: the session's seed, the budget, the deadline,
    and no example database written into the repository (a run leaves nothing behind)."""
    def apply(function):
        configured = settings(max_examples=examples or EXAMPLES, deadline=DEADLINE, database=None,
                              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                     HealthCheck.filter_too_much])(function)
        return seed(SEED)(configured)
    return apply(test) if test is not None else apply

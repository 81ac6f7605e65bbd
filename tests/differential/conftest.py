"""Differential tests: generated ledger histories, every strategy and mode, held to the model.

CI runs a few examples per test, derandomized (the same every run); `make fuzz SEEDS=N` runs
N examples per test from a random seed (`--hypothesis-seed` replays one)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings

from tests.local.conftest import aws  # noqa: F401

_SLOW = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large]

settings.register_profile(
    "differential",
    max_examples=int(os.environ.get("QLDB_DR_FUZZ_EXAMPLES", "0")) or 2,
    derandomize="QLDB_DR_FUZZ_EXAMPLES" not in os.environ,
    deadline=None,
    database=None,
    suppress_health_check=_SLOW,
    phases=(Phase.explicit, Phase.generate, Phase.shrink)
    if "QLDB_DR_FUZZ_EXAMPLES" in os.environ
    else (Phase.explicit, Phase.generate),
    print_blob=True,
)

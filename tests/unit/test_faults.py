"""The injected replay fault: off unless set, failing exactly the batch it names (or that
partition of every restore, for a drill whose restore id is chosen later)."""

from __future__ import annotations

import pytest

from qldb_dr.errors import InjectedFaultError
from qldb_dr.restore.faults import REPLAY_FAULT, check_replay, replay_fault


def test_fault_unset_fails_nothing() -> None:
    check_replay({}, "r1", 0)


def test_fault_fails_only_the_batch_it_names() -> None:
    env = {REPLAY_FAULT: replay_fault("r1", 3)}
    with pytest.raises(InjectedFaultError, match="partition 3 of restore r1"):
        check_replay(env, "r1", 3)
    check_replay(env, "r1", 2)
    check_replay(env, "r2", 3)


def test_fault_for_every_restore_fails_that_partition_of_any() -> None:
    env = {REPLAY_FAULT: replay_fault("*", 0)}
    for restore_id in ("r1", "orders-drill-1234"):
        with pytest.raises(InjectedFaultError):
            check_replay(env, restore_id, 0)
    check_replay(env, "r1", 1)

"""Plan Restore's chain check over the catalog: what is missing waits (PredecessorMissingError,
retried by the workflow) rather than being judged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from qldb_dr.catalog import RecoveryPoint
from qldb_dr.errors import PredecessorMissingError
from qldb_dr.journal.models import BlockAddress
from qldb_dr.restore.plan import check_chain

START = datetime(2026, 12, 1, tzinfo=UTC)


def _point(index: int, blocks: tuple[int, int] | None, previous: str | None) -> RecoveryPoint:
    return RecoveryPoint(
        recovery_point_id=f"rp{index}",
        ledger_name="orders",
        region="us-east-1",
        export_prefix="orders/journal/",
        output_format="ION_BINARY",
        window_start=START + timedelta(minutes=index),
        window_end=START + timedelta(minutes=index + 1),
        first_block=None if blocks is None else BlockAddress("s", blocks[0]),
        last_block=None if blocks is None else BlockAddress("s", blocks[1]),
        first_previous_hash=None,
        last_block_hash=None,
        previous=previous,
        digest=b"",
        digest_tip=BlockAddress("s", 13),
        blocks=0,
        revisions=0,
        tables={},
        objects=(),
        size=0,
        verification={},
        created=START,
    )


def test_check_chain_empty_point_whose_predecessor_has_not_arrived_waits() -> None:
    """Found by the standby model test (out of order): the DR vault held rp0 (blocks 0-9) and
    rp2, a quiet window anchored to block 13, but not rp1 (blocks 10-13) — the plan judged rp2's
    proof a manifest that dropped blocks, a false FAILURE."""
    first, quiet = _point(0, (0, 9), None), _point(2, None, "rp1")
    with pytest.raises(PredecessorMissingError, match="rp2 holds no blocks and continues recovery point rp1"):
        check_chain([first, quiet], -1, {"rp0", "rp2"})
    check_chain([first, _point(1, (10, 13), "rp0"), quiet], -1, {"rp0", "rp1", "rp2"})  # arrived: planned
    check_chain([quiet], 13, {"rp0", "rp1", "rp2"})  # the target holds rp1: rp2 alone is selected


def test_check_chain_point_after_a_gap_waits() -> None:
    with pytest.raises(PredecessorMissingError, match="starts at block 10 but the next block to apply is 5"):
        check_chain([_point(1, (10, 13), "rp0")], 4, {"rp1"})

"""Every strategy and mode, on generated ledger histories, held to the model.

Each test writes a generated workload into a real ledger (pyqldb, the local endpoint), backs it
up a window at a time, restores it as the strategy does — step by step, as the Restore
workflow runs its tasks — and compares the target, read back through pyqldb without qldb-dr's
id map, with the model computed from the vault (`qldb_dr.restore.expected`). Verify Restore's
verdict must agree with that comparison: OK exactly when they are equal.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from qldb_dr.errors import HistoryGapError, PredecessorMissingError
from qldb_dr.ion import ion_hash
from qldb_dr.restore import steps
from qldb_dr.restore.replay import Replayer
from tests.differential import harness
from tests.differential.harness import TARGET_REGION, Source, agree
from tests.differential.workload import Op, Workload, _doc, every_change, workloads
from tests.local.conftest import Running

PROFILE = settings.get_profile("differential")
MODES = ("latest", "history")
_names = itertools.count()


def _name(prefix: str) -> str:
    return f"{prefix}{next(_names)}"


def _source(aws: Running, workload: Workload) -> Source:
    return harness.build(aws, workload, _name("src"))


def _target(aws: Running, name: str) -> Any:
    return aws.driver(name, retries=8, region=TARGET_REGION)


def _restored(aws: Running, source: Source, request: dict[str, Any], mode: str, cut: int) -> None:
    """Restore into a new target and hold it, and Verify Restore's verdict, to the model."""
    target = _name("t")
    state, verification = harness.restore(source, {**request, "targetLedger": target, "mode": mode}, _name("r"))
    assert state.cut == cut, (state.cut, cut)
    comparison = agree(_target(aws, target), source.expected(cut), mode, verification)
    assert comparison.equal, f"{mode} restore of {request} differs from the model: {comparison.differences}"


@PROFILE
@example(workload=every_change())
@given(workload=workloads())
def test_model_equals_the_source_ledger(aws: Running, workload: Workload) -> None:
    """The oracle itself: computed from the vault at the last block, it is what the live source
    ledger holds — each document by id, and each document's history()."""
    source = _source(aws, workload)
    want = source.expected(source.last_block)
    for name, documents in want.live().items():
        rows = harness._rows(source.driver, f"SELECT xid, x FROM {harness._quoted(name)} AS x BY xid")
        assert {str(r["xid"]): ion_hash(r["x"]) for r in rows} == {d: ion_hash(v) for d, v in documents.items()}, name
    for name, chains in want.chains().items():
        rows = harness._rows(source.driver, f"SELECT * FROM history({harness._quoted(name)}) AS h")
        found: dict[str, list[tuple[int, str, Any]]] = {}
        for row in rows:
            kind = "user" if "data" in row else "redacted" if "dataHash" in row else "deleted"
            digest = ion_hash(row["data"]) if kind == "user" else None
            found.setdefault(str(row["metadata"]["id"]), []).append((int(row["metadata"]["version"]), kind, digest))
        wanted = {d: list(c) for d, c in chains.items()}
        assert {d: sorted(c) for d, c in found.items()} == wanted, name


@PROFILE
@example(workload=every_change())
@given(workload=workloads())
def test_full_restore_equals_model(aws: Running, workload: Workload) -> None:
    source = _source(aws, workload)
    for mode in MODES:
        _restored(aws, source, {}, mode, source.last_block)


def _at(fraction: float, items: list[Any]) -> Any:
    """The item a fraction of the way along (fractions are what Hypothesis draws, and shrinks)."""
    return items[min(int(fraction * len(items)), len(items) - 1)]


fractions = st.floats(0, 1)


@PROFILE
@example(workload=every_change(), block=0.6, at=0.3)
@given(workload=workloads(), block=fractions, at=fractions)
def test_point_in_time_restore_equals_model(aws: Running, workload: Workload, block: float, at: float) -> None:
    """At a random block, and at a random moment (the last block committed at or before it)."""
    source = _source(aws, workload)
    blocks = source.blocks()
    if not blocks:
        return
    block = _at(block, blocks).sequence_no
    moment = _at(at, blocks).timestamp
    at_cut = max(b.sequence_no for b in blocks if b.timestamp <= moment)
    for mode in MODES:
        _restored(aws, source, {"block": block}, mode, block)
        _restored(aws, source, {"at": moment.isoformat()}, mode, at_cut)


@PROFILE
@example(workload=every_change(), early=0.5)
@given(workload=workloads(), early=fractions)
def test_intermediate_restore_then_incremental_equals_model(aws: Running, workload: Workload, early: float) -> None:
    """Intermediate: a full restore at an earlier recovery point, then `--incremental` at failover."""
    source = _source(aws, workload)
    first_point = _at(early, source.points)
    for mode in MODES:
        target = _name("t")
        request = {"targetLedger": target, "mode": mode}
        first, _ = harness.restore(source, {**request, "recoveryPointId": first_point.recovery_point_id}, _name("r"))
        gap = mode == "history" and harness.history_gap(source, [first.cut], source.last_block)
        try:
            state, verification = harness.restore(source, {**request, "incremental": True}, _name("r"))
        except HistoryGapError:
            assert gap, "HistoryGapError, but the model says no version was skipped"
            continue
        assert state.watermark == first.cut  # only what the first restore did not apply
        comparison = agree(_target(aws, target), source.expected(source.last_block), mode, verification)
        assert comparison.equal != gap, f"{mode}: {comparison.differences}"


@pytest.mark.parametrize("arrival", ["in order", "out of order", "two at once"])
@PROFILE
@example(workload=every_change(), shuffle=[4, 2, 0, 5, 1, 3])
@given(workload=workloads(), shuffle=st.permutations(range(8)))
def test_warm_standby_converges_on_model(aws: Running, workload: Workload, shuffle: list[int], arrival: str) -> None:
    """Recovery points reach the DR vault one by one, and each arrival starts an incremental
    restore of the standby (as the standby rule does): in order; out of order (a restore whose
    predecessor has not arrived waits, and runs again on the next arrival); two at once
    (their restores race on the same target). Every restore that finishes verifies OK (or
    SUPERSEDED, when a later one wrote past its block first); the standby ends equal to the
    model of the whole journal."""
    source = _source(aws, workload)
    order = list(source.points)
    if arrival == "out of order":
        order = [order[i] for i in shuffle if i < len(order)]
    for mode in MODES:
        dr = _name("dr-vault-")
        aws.client("s3").create_bucket(Bucket=dr)
        target = _name("standby")
        request = {"targetLedger": target, "mode": mode, "incremental": True}
        waiting, cuts = 0, []
        try:
            if arrival == "two at once":
                pairs = [order[i : i + 2] for i in range(0, len(order), 2)]
                for pair in pairs:
                    for point in pair:
                        harness.arrive(source, point, dr)
                    results = _concurrently([(source, request, _name("r"), dr) for _ in pair])
                    for state, verification in results:
                        cuts.append(state.cut)
                        _applied(source, cuts, mode, verification, ("OK", "WARNING", "SUPERSEDED"))
            else:
                for point in order:
                    harness.arrive(source, point, dr)
                    try:
                        state, verification = harness.restore(source, request, _name("r"), dr)
                    except PredecessorMissingError:
                        waiting += 1  # the workflow retries it; the next arrival's restore covers it
                        continue
                    cuts.append(state.cut)
                    _applied(source, cuts, mode, verification, ("OK", "WARNING"))
            state, verification = harness.restore(source, request, _name("r"), dr)  # the last retry
        except HistoryGapError:
            assert mode == "history" and harness.history_gap(source, cuts, source.last_block)
            continue
        gap = mode == "history" and harness.history_gap(source, cuts, source.last_block)
        comparison = agree(_target(aws, target), source.expected(source.last_block), mode, verification)
        assert comparison.equal != gap, f"{mode}, {arrival}: {comparison.differences}"
        if arrival == "in order":
            assert waiting == 0


def test_standby_gets_a_table_undropped_after_a_restore_found_it_dropped(aws: Running) -> None:
    """A latest standby whose last restore found a table dropped skipped its revisions then: when
    the source undrops it, the next restore replays them (found by the standby model test:
    Registration came back with 8 of its 43 documents). Vehicle was dropped before the standby
    ever had it; Registration was held, then updated and dropped between two restores."""
    registration, vehicle, person = "Registration", "Vehicle", "Person"
    docs = tuple(_doc(i) for i in range(5))
    source = _source(
        aws,
        Workload(
            tables=(person, vehicle, registration),
            indexes=(),
            windows=(
                (
                    (Op("insert_many", registration, values=docs),),
                    (Op("insert_many", vehicle, values=docs),),
                    (Op("drop_table", vehicle),),
                ),
                ((Op("update_all", registration, value=7),), (Op("delete", registration, pick=1),)),
                ((Op("drop_table", registration),), (Op("insert", person, value=_doc(9)),)),
                ((Op("undrop_table", registration),), (Op("undrop_table", vehicle),)),
            ),
        ),
    )
    dr = _name("dr-vault-")
    aws.client("s3").create_bucket(Bucket=dr)
    request = {"targetLedger": _name("standby"), "mode": "latest", "incremental": True}
    for point in source.points:
        harness.arrive(source, point, dr)
        planned, state = harness.plan(source, request, _name("r"), dr)
        harness.replay(planned, state)
        verification = harness.finish(state)
        comparison = agree(_target(aws, request["targetLedger"]), source.expected(state.cut), "latest", verification)
        assert comparison.equal, (state.cut, comparison.differences)
    assert verification["status"] == "OK", verification
    # The last restore read again both tables' revisions: Vehicle's 5 inserts, Registration's
    # 5 inserts, 5 updates and a delete (the undrops themselves write no document).
    assert planned["revisions"] == 16, planned["revisions"]
    assert {t: len(d) for t, d in source.expected(state.cut).live().items()} == {registration: 4, vehicle: 5, person: 1}


def _applied(source: Source, cuts: list[int], mode: str, verification: dict[str, Any], ok: tuple[str, ...]) -> None:
    """A standby restore's verdict: one of `ok`, or FAILURE where the model says a history-mode
    standby must lack versions (a table undropped after a restore had found it dropped)."""
    if verification["status"] not in ok:
        failed = [c for c in verification["checks"] if c["status"] not in ("OK", "WARNING")]
        assert mode == "history" and harness.history_gap(source, cuts[:-1], cuts[-1]), (cuts, failed)


def _concurrently(restores: list[tuple[Any, ...]]) -> list[Any]:
    """Restores run at once, in threads (as two workflow executions would)."""
    results: list[Any] = [None] * len(restores)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            results[i] = harness.restore(*restores[i])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(restores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


class _Injected(Exception):
    """A failure injected into one replay transaction."""


@PROFILE
@example(workload=every_change(), fail_at=3)
@given(workload=workloads(), fail_at=st.integers(0, 30))
def test_retry_after_a_failed_batch_equals_model(
    aws: Running, workload: Workload, fail_at: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A replay transaction fails at a random point; the Map stops; the report says FAILURE;
    `restore retry` (resume: only the partitions that did not finish) gives the model."""
    source = _source(aws, workload)
    for mode in MODES:
        target, restore_id = _name("t"), _name("r")
        planned, state = harness.plan(source, {"targetLedger": target, "mode": mode}, restore_id)
        calls = itertools.count()
        original = Replayer._transaction

        def flaky(self: Replayer, *args: Any, original: Any = original, calls: Any = calls) -> None:
            if next(calls) == fail_at:
                raise _Injected(f"transaction {fail_at}")
            original(self, *args)

        monkeypatch.setattr(Replayer, "_transaction", flaky)
        try:
            harness.replay(planned, state)
            failed = False
        except _Injected:
            failed = True
        monkeypatch.setattr(Replayer, "_transaction", original)
        partial = steps.verify_restore(state)
        agree(_target(aws, target), source.expected(state.cut), mode, partial)  # no false OK on a partial target
        if not failed:
            continue  # fewer transactions than the failure point: nothing to retry
        report = steps.write_report(state, {"status": "FAILURE", "checks": []}, failed_partitions=1)
        assert report["status"] == "FAILURE"
        resumed, state = harness.plan(
            source, {"targetLedger": target, "mode": mode, "resume": True, "restoreId": restore_id}, "retry"
        )
        assert resumed["resumed"] and state.restore_id == restore_id
        harness.replay(resumed, state)
        comparison = agree(_target(aws, target), source.expected(state.cut), mode, harness.finish(state))
        assert comparison.equal, f"{mode}: {comparison.differences}"


@PROFILE
@example(workload=every_change(), change="set", which=5)
@example(workload=every_change(), change="delete", which=1)
@given(workload=workloads(), change=st.sampled_from(["set", "delete", "insert", "table"]), which=st.integers(0, 10**6))
def test_verify_restore_fails_a_tampered_target(aws: Running, workload: Workload, change: str, which: int) -> None:
    """No false OK: after a correct restore, one change made to the target behind qldb-dr's back
    (a field set, a document deleted or added, a table added) makes Verify Restore fail."""
    source = _source(aws, workload)
    for mode in MODES:
        target = _name("t")
        state, _ = harness.restore(source, {"targetLedger": target, "mode": mode}, _name("r"))
        driver = _target(aws, target)
        want = source.expected(state.cut)
        populated = sorted(name for name, docs in want.live().items() if docs)
        table = _at((which % 97) / 97, populated or sorted(want.tables) or ["Extra"])
        quoted = harness._quoted(table)
        ids = [r["xid"] for r in harness._rows(driver, f"SELECT xid FROM {quoted} AS x BY xid")] if populated else []
        victim = ids[which % len(ids)] if ids else None
        if change == "set" and victim is not None:
            harness._rows(driver, f"UPDATE {quoted} AS x BY xid SET x.tampered = 1 WHERE xid = ?", victim)
        elif change == "delete" and victim is not None:
            harness._rows(driver, f"DELETE FROM {quoted} BY xid WHERE xid = ?", victim)
        elif change == "table" or table not in want.tables:
            harness._rows(driver, "CREATE TABLE Intruder")
        else:
            harness._rows(driver, f"INSERT INTO {quoted} ?", {"tampered": True})
        verification = steps.verify_restore(state)
        comparison = agree(driver, want, mode, verification)
        assert not comparison.equal and verification["status"] == "FAILURE", (change, table, verification["status"])

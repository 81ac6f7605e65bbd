"""A drill's injected replay failure is reported as what happened: exercised and recovered,
exercised and not recovered, or never exercised (a restore with nothing to replay — a warm
standby already holding the recovery point — never reaches Replay, so the fault cannot fire)."""

from __future__ import annotations

from typing import Any

from qldb_dr.checks import Status
from qldb_dr.drill.core import RestoreRun, fault_check


def _run(executions: int, verified: bool, revisions: int = 120) -> RestoreRun:
    run = RestoreRun("r-1", "orders", {}, [f"arn:execution:{n}" for n in range(executions)])
    run.status = "SUCCEEDED" if verified else "FAILED"
    run.report = {"status": "OK" if verified else "FAILURE", "revisions": revisions}
    return run


def _failed(partition: int, error: str = "InjectedFaultError", map_name: str = "replay") -> dict[str, Any]:
    return {"map": map_name, "item": {"restoreId": "r-1", "partition": partition}, "error": error}


def test_fired_and_retried_to_a_verified_target_passes() -> None:
    check = fault_check(3, [_failed(3)], _run(2, verified=True))
    assert check.status is Status.OK and "retry verified" in check.summary


def test_never_fired_is_a_warning_not_a_pass() -> None:
    # The warm-standby drill's final restore: nothing to replay, one execution, verified.
    check = fault_check(3, [], _run(1, verified=True, revisions=0))
    assert check.status is Status.WARNING
    assert "did not happen" in check.findings[0].message


def test_another_partition_or_another_error_is_not_the_injected_failure() -> None:
    for failed in ([_failed(4)], [_failed(3, error="ServiceError")], [_failed(3, map_name="partition")]):
        assert fault_check(3, failed, _run(2, verified=True)).status is Status.WARNING


def test_fired_but_not_recovered_fails() -> None:
    assert fault_check(3, [_failed(3)], _run(1, verified=False)).status is Status.FAILURE
    assert fault_check(3, [_failed(3)], _run(2, verified=False)).status is Status.FAILURE

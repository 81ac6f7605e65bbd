"""Contracts the code and the workflows share, held as tests.

* Every error an ASL file names (Retry, Catch, Fail) is AWS's (`States.*`, `Lambda.*`) or a
  class of the error catalogue (`qldb_dr.errors`).
* Every Retry block is its errors' policy (`retry` of each class; Lambda's transient errors
  go with TRANSIENT), rendered exactly: nothing pasted and left to drift.
* A catalogue class's docstring says "Retryable" exactly when it has a policy.
* The statuses a workflow branches on are the restore report's status enum.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qldb_dr import errors
from qldb_dr.restore.model import ReportStatus

STATEMACHINES = Path(__file__).resolve().parents[2] / "statemachines"
ASL = sorted(STATEMACHINES.glob("*.asl.json"))
CATALOGUE = {
    name: cls
    for name, cls in inspect.getmembers(errors, inspect.isclass)
    if issubclass(cls, errors.QldbDrError) and cls.__module__ == errors.__name__
}


def _states(states: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in states.items():
        yield name, state
        if "ItemProcessor" in state:
            yield from _states(state["ItemProcessor"]["States"])
        for branch in state.get("Branches", []):
            yield from _states(branch["States"])


def _policy(name: str) -> errors.RetryPolicy | None:
    if name in errors.LAMBDA_TRANSIENT:
        return errors.TRANSIENT
    cls = CATALOGUE.get(name)
    return None if cls is None else cls.retry


@pytest.mark.parametrize("path", ASL, ids=lambda p: p.name)
def test_every_error_the_workflow_names_is_aws_or_in_the_catalogue(path: Path) -> None:
    for name, state in _states(json.loads(path.read_text())["States"]):
        named = [e for r in state.get("Retry", []) + state.get("Catch", []) for e in r["ErrorEquals"]]
        named += [state["Error"]] if state.get("Type") == "Fail" else []
        unknown = [e for e in named if not e.startswith(("States.", "Lambda.")) and e not in CATALOGUE]
        assert not unknown, f"{path.name} state {name!r} names errors the catalogue lacks: {unknown}"


@pytest.mark.parametrize("path", ASL, ids=lambda p: p.name)
def test_every_retry_block_is_its_errors_policy(path: Path) -> None:
    for name, state in _states(json.loads(path.read_text())["States"]):
        for block in state.get("Retry", []):
            policies = {_policy(e) for e in block["ErrorEquals"]}
            assert None not in policies, f"{path.name} {name!r} retries an error that is not retryable: {block}"
            assert len(policies) == 1, f"{path.name} {name!r} retries errors of different policies together: {block}"
            (policy,) = policies
            assert policy is not None
            found = {k: v for k, v in block.items() if k != "Comment"}
            assert found == policy.to_asl(block["ErrorEquals"]), f"{path.name} {name!r}"


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_error_docstring_says_retryable_exactly_when_it_has_a_policy(name: str) -> None:
    cls = CATALOGUE[name]
    if cls is errors.QldbDrError:
        return
    says = re.search(r"\bRetryable\b", cls.__doc__ or "") is not None
    assert says == (cls.retry is not None), f"{name}: docstring and retry policy disagree"


def test_restore_workflow_branches_on_report_statuses() -> None:
    restore = json.loads((STATEMACHINES / "restore.asl.json").read_text())
    compared = {c["StringEquals"] for c in restore["States"]["Restore Verified?"]["Choices"]}
    assert compared <= {s.value for s in ReportStatus}

"""Structured logs: every workflow step logs what it worked on, how it ended and how long it took."""

from __future__ import annotations

import importlib
import io
import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qldb_dr import logs
from qldb_dr.cli.environment import Environment
from qldb_dr.cli.main import main
from qldb_dr.errors import InvalidInputError
from qldb_dr.workflows.manifest import FUNCTIONS

ROOT = Path(__file__).resolve().parents[2]


class Lines:
    """The JSON lines the logger has written since the test began."""

    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    def __call__(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines()]


@pytest.fixture
def lines() -> Iterator[Lines]:
    handler = logs.logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    stream = io.StringIO()
    previous, level = handler.setStream(stream), logs.logger.log_level
    logs.configure("INFO")
    try:
        yield Lines(stream)
    finally:
        handler.setStream(previous)
        logs.logger.setLevel(level)


def _task_states() -> dict[str, str]:
    """Each Lambda Task state of the workflows: its name by the function it invokes."""
    found: dict[str, str] = {}

    def walk(states: dict[str, Any]) -> None:
        for name, state in states.items():
            if state.get("Type") == "Task" and "lambda" in state.get("Resource", ""):
                found[state["Parameters"]["FunctionName"].strip("${}")] = name
            if state.get("Type") == "Map":
                walk(state["ItemProcessor"]["States"])

    for path in (ROOT / "statemachines").glob("*.asl.json"):
        walk(json.loads(path.read_text())["States"])
    return found


def test_every_task_handler_logs_as_the_state_that_invokes_it() -> None:
    states = _task_states()
    assert set(states) == {fn.placeholder for fn in FUNCTIONS}
    for fn in FUNCTIONS:
        module, _, attribute = fn.handler.rpartition(".")
        handler = getattr(importlib.import_module(module), attribute)
        assert getattr(handler, "step", None) == states[fn.placeholder], (
            f"{fn.handler} is not wrapped in step({states[fn.placeholder]!r})"
        )


def test_a_step_logs_its_context_counts_and_duration_and_forgets_them(lines: Lines) -> None:
    @logs.step("Replay Partition")
    def replay(event: Any, context: Any) -> dict[str, Any]:
        logs.logger.info("replaying")
        return {"revisions": 12, "documents": 3, "skipped": False, "key": "p0001"}

    event = {
        "restore": {"restoreId": "r-1", "sourceLedger": "orders", "targetLedger": "orders-dr"},
        "item": {"partition": 1},
    }
    assert replay(event, None) == {"revisions": 12, "documents": 3, "skipped": False, "key": "p0001"}
    logs.logger.info("after")
    inside, done, after = lines()[-3:]
    context = {
        "step": "Replay Partition",
        "restoreId": "r-1",
        "ledger": "orders",
        "targetLedger": "orders-dr",
        "partition": 1,
    }
    assert inside["message"] == "replaying" and context.items() <= inside.items()
    assert done["message"] == "step done" and context.items() <= done.items()
    assert done["counts"] == {"revisions": 12, "documents": 3} and isinstance(done["durationMs"], int)
    assert not set(context) & set(after), "a step's keys outlive it"


def test_a_failed_step_logs_its_error_and_forgets_its_keys(lines: Lines) -> None:
    @logs.step("Plan Restore")
    def plan(event: Any, context: Any) -> Any:
        raise InvalidInputError("no vault")

    with pytest.raises(InvalidInputError):
        plan({"request": {"sourceLedger": "orders", "recoveryPointId": "rp-9"}, "restoreId": "r-2"}, None)
    logs.logger.info("after")
    failed, after = lines()[-2:]
    assert failed["level"] == "WARNING" and failed["message"] == "step failed"
    assert failed["error"] == "InvalidInputError" and failed["detail"] == "no vault"
    assert {
        "step": "Plan Restore",
        "ledger": "orders",
        "restoreId": "r-2",
        "recoveryPointId": "rp-9",
    }.items() <= failed.items()
    assert "step" not in after and "restoreId" not in after


def test_steps_running_side_by_side_keep_their_own_keys(lines: Lines) -> None:
    barrier = threading.Barrier(4)

    @logs.step("Partition Export Object")
    def partition(event: Any, context: Any) -> dict[str, Any]:
        barrier.wait(timeout=10)  # all four hold their keys at once
        logs.logger.info("partitioning")
        barrier.wait(timeout=10)
        return {}

    threads = [
        threading.Thread(
            target=partition, args=({"item": {"key": f"object-{i}"}, "restore": {"restoreId": f"r{i}"}}, None)
        )
        for i in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    written = [line for line in lines() if line["message"] == "partitioning"]
    assert sorted((line["restoreId"], line["object"]) for line in written) == [
        (f"r{i}", f"object-{i}") for i in range(4)
    ]


def test_the_cli_is_quiet_unless_debug(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()

    env = Environment(stdout=out, stderr=err)
    main(["verify", str(tmp_path / "nothing")], env)  # the level is set whatever the command's outcome
    assert logs.logger.log_level == logging.WARNING
    main(["verify", str(tmp_path / "nothing"), "--debug"], env)
    assert logs.logger.log_level == logging.DEBUG
    logs.configure("INFO")


def test_a_step_is_logged_once_not_again_by_the_root_logger(lines: Lines) -> None:
    """The endpoint (and Lambda's runtime) give the root logger a handler of its own: a step's
    line must not reach it too, as a second, plain-text line."""
    seen: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    root = logging.getLogger()
    collect = Collect()
    root.addHandler(collect)
    try:
        logs.step("Prepare Target")(lambda event, context: {})({}, None)
    finally:
        root.removeHandler(collect)
    assert [line["message"] for line in lines()] == ["step done"]
    assert [r.getMessage() for r in seen] == []

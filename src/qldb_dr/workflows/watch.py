"""Follow a Step Functions execution: the states it enters and leaves, its Map runs' item
counts, and how it ends — with plain `stepfunctions` calls, so it works on AWS and locally."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from qldb_dr.errors import ServiceError

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


@dataclass(frozen=True, slots=True)
class Step:
    """One thing that happened: `kind` is entered | exited | failed | map | finished."""

    kind: str
    name: str
    at: datetime | None = None
    detail: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    output: Any = None


def _failure(details: dict[str, Any]) -> str:
    """`error: message`. A Lambda task's cause is its error payload (JSON with errorMessage
    and a stackTrace): the operator gets the message; the trace stays in the history."""
    error, cause = details.get("error", ""), details.get("cause", "")
    try:
        payload = json.loads(cause)
    except ValueError:
        payload = None
    if isinstance(payload, dict) and isinstance(payload.get("errorMessage"), str):
        cause = payload["errorMessage"]
    return f"{error}: {cause}".strip(": ")


def _steps(event: dict[str, Any], state: str | None) -> Iterator[Step]:
    """The steps of one history event; `state` is the state the execution is in (a task's
    failure event names no state: the step carries the state's name)."""
    kind, at = event["type"], event.get("timestamp")
    if kind.endswith("StateEntered"):
        yield Step("entered", event["stateEnteredEventDetails"]["name"], at)
    elif kind.endswith("StateExited"):
        yield Step("exited", event["stateExitedEventDetails"]["name"], at)
    elif kind.endswith("Failed") and not kind.startswith("Execution"):
        details: dict[str, Any] = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
        yield Step("failed", state or kind.removesuffix("Failed"), at, _failure(details))


class Watcher:
    def __init__(
        self, client: Any, execution_arn: str, *, interval: float = 0.5, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.client = client
        self.execution_arn = execution_arn
        self.interval = interval
        self.sleep = sleep
        self._seen = 0
        self._state: str | None = None  # the state last entered
        self._map_counts: dict[str, dict[str, int]] = {}

    def follow(self) -> Iterator[Step]:
        """Steps as they happen, ending with one `finished` step."""
        while True:
            description = self._call("describe_execution", executionArn=self.execution_arn)
            yield from self._history()
            yield from self._map_runs()
            if description["status"] in TERMINAL:
                yield from self._history()
                yield Step(
                    "finished",
                    description["status"],
                    description.get("stopDate"),
                    _failure(description),
                    output=description.get("output"),
                )
                return
            self.sleep(self.interval)

    def _call(self, operation: str, **kwargs: Any) -> Any:
        try:
            return getattr(self.client, operation)(**kwargs)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise ServiceError(f"Step Functions {operation}: {error.get('Code')} {error.get('Message', '')}") from exc

    def _history(self) -> Iterator[Step]:
        token = None
        events: list[dict[str, Any]] = []
        while True:
            page = self._call(
                "get_execution_history",
                executionArn=self.execution_arn,
                maxResults=1000,
                **({"nextToken": token} if token else {}),
            )
            events += page["events"]
            token = page.get("nextToken")
            if not token:
                break
        for event in sorted(events, key=lambda e: e["id"]):
            if event["id"] > self._seen:
                self._seen = event["id"]
                for step in _steps(event, self._state):
                    if step.kind == "entered":
                        self._state = step.name
                    yield step

    def _map_runs(self) -> Iterator[Step]:
        try:
            runs = self.client.list_map_runs(executionArn=self.execution_arn).get("mapRuns", [])
        except ClientError:
            return  # not every endpoint lists map runs; the history still shows the Map state
        for run in runs:
            counts = self._call("describe_map_run", mapRunArn=run["mapRunArn"]).get("itemCounts", {})
            counts = {
                k: int(v) for k, v in counts.items() if k in ("pending", "running", "succeeded", "failed", "total")
            }
            if counts != self._map_counts.get(run["mapRunArn"]):
                self._map_counts[run["mapRunArn"]] = counts
                name = run["mapRunArn"].rsplit(":", 2)[-2].split("/")[-1]
                yield Step("map", name, None, counts=counts)


def history(client: Any, execution_arn: str) -> list[dict[str, Any]]:
    """Every event of an execution's history, in order."""
    events: list[dict[str, Any]] = []
    token = None
    while True:
        page = client.get_execution_history(
            executionArn=execution_arn, maxResults=1000, **({"nextToken": token} if token else {})
        )
        events += page["events"]
        token = page.get("nextToken")
        if not token:
            return sorted(events, key=lambda e: e["id"])


def state_durations(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each state the execution entered, in order: its name, seconds from entered to exited
    (None while it runs, or when it failed out), and whether it exited."""
    durations: list[dict[str, Any]] = []
    open_states: dict[str, dict[str, Any]] = {}
    for event in events:
        kind = event["type"]
        if kind.endswith("StateEntered"):
            entry = {"state": event["stateEnteredEventDetails"]["name"], "seconds": None, "exited": False}
            entry["_at"] = event["timestamp"]
            open_states[entry["state"]] = entry
            durations.append(entry)
        elif kind.endswith("StateExited"):
            exited = open_states.pop(event["stateExitedEventDetails"]["name"], None)
            if exited is not None:
                entry = exited
                entry["seconds"] = round((event["timestamp"] - entry["_at"]).total_seconds(), 3)
                entry["exited"] = True
    for entry in durations:
        del entry["_at"]
    return durations


def describe(step: Step) -> str:
    """One line for a terminal."""
    at = step.at.strftime("%H:%M:%S.%f")[:-3] if step.at else " " * 12
    if step.kind == "entered":
        return f"{at}  ▶ {step.name}"
    if step.kind == "exited":
        return f"{at}  ✓ {step.name}"
    if step.kind == "failed":
        return f"{at}  ✗ {step.name}: {step.detail}"
    if step.kind == "map":
        c = step.counts
        return (
            f"{at}  ▦ map run {step.name}: {c.get('succeeded', 0)}/{c.get('total', 0)} succeeded, "
            f"{c.get('failed', 0)} failed, {c.get('running', 0)} running, {c.get('pending', 0)} pending"
        )
    return f"{at}  {step.name}" + (f" — {step.detail}" if step.detail else "")

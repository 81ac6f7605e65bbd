"""Helpers for the tests of the local endpoint's Step Functions and Lambda."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

STATEMACHINES = Path(__file__).resolve().parents[2] / "statemachines"
ROLE = "arn:aws:iam::123456789012:role/qldb-dr-local-sfn"


TEST_STATEMACHINES = Path(__file__).parent / "statemachines"  # workflows that exist only for tests


def asl(name: str, **placeholders: str) -> str:
    """statemachines/<name>.asl.json — or, `tests/<name>`, tests/aws/statemachines/<name>.asl.json —
    with its ${Placeholders} filled in."""
    path = (
        (TEST_STATEMACHINES / f"{name.removeprefix('tests/')}.asl.json")
        if name.startswith("tests/")
        else (STATEMACHINES / f"{name}.asl.json")
    )
    text = path.read_text()
    for key, value in placeholders.items():
        text = text.replace("${" + key + "}", value)
    assert "${" not in text, f"{name}: a placeholder is left: {text}"
    return text


def create_machine(sfn: Any, name: str, definition: dict[str, Any] | str) -> str:
    text = definition if isinstance(definition, str) else json.dumps(definition)
    arn: str = sfn.create_state_machine(name=name, roleArn=ROLE, definition=text)["stateMachineArn"]
    return arn


def wait(sfn: Any, execution_arn: str, timeout: float = 60) -> dict[str, Any]:
    """DescribeExecution once the execution has ended (bounded polling)."""
    deadline = time.monotonic() + timeout
    while (described := sfn.describe_execution(executionArn=execution_arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, f"{execution_arn} still RUNNING after {timeout} s"
        time.sleep(0.02)
    result: dict[str, Any] = described
    return result


def run(sfn: Any, machine_arn: str, payload: Any = None, name: str | None = None) -> dict[str, Any]:
    """Start an execution and wait for its end."""
    kwargs = {"name": name} if name else {}
    started = sfn.start_execution(stateMachineArn=machine_arn, input=json.dumps(payload or {}), **kwargs)
    return wait(sfn, started["executionArn"])


def output(described: dict[str, Any]) -> Any:
    assert described["status"] == "SUCCEEDED", described
    return json.loads(described["output"])


def history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
    return events


def event_types(sfn: Any, execution_arn: str) -> list[str]:
    return [e["type"] for e in history(sfn, execution_arn)]


def read_json(s3: Any, bucket: str, key: str) -> Any:
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())

"""`qldb-dr executions watch` follows an execution on the local endpoint to its end."""

from __future__ import annotations

import io
import json

from qldb_dr.cli.main import Environment, main
from tests.local.conftest import Running

MACHINE = {
    "StartAt": "Plan",
    "States": {
        "Plan": {"Type": "Pass", "Result": {"items": [1, 2, 3], "ok": True}, "Next": "Good?"},
        "Good?": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.ok", "BooleanEquals": True, "Next": "Each"}],
            "Default": "Broken",
        },
        "Each": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "ItemProcessor": {"StartAt": "Double", "States": {"Double": {"Type": "Pass", "End": True}}},
            "Next": "Done?",
        },
        "Done?": {
            "Type": "Choice",
            "Choices": [{"Variable": "$[0]", "NumericEquals": 1, "Next": "Broken"}],
            "Default": "Finished",
        },
        "Finished": {"Type": "Succeed"},
        "Broken": {"Type": "Fail", "Error": "PlanBroken", "Cause": "the plan said no"},
    },
}


def _watch(aws: Running, definition: dict[str, object], name: str, *extra: str) -> tuple[int, str]:
    sfn = aws.client("stepfunctions")
    machine = sfn.create_state_machine(
        name=name, definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/sfn"
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine, name="run-1", input="{}")["executionArn"]
    env = Environment(stdout=io.StringIO(), stderr=io.StringIO())
    code = main(["executions", "watch", execution, "--interval", "0.05", *extra], env)
    return code, env.stdout.getvalue()  # type: ignore[attr-defined]


def test_watch_failed_execution_exit_1_with_error(aws: Running) -> None:
    code, out = _watch(aws, MACHINE, "fails")
    assert code == 1
    for line in ("▶ Plan", "✓ Plan", "▶ Good?", "▶ Each", "✓ Each", "▶ Broken"):
        assert line in out, out
    assert out.rstrip().splitlines()[-1].endswith("FAILED — PlanBroken: the plan said no")


def test_watch_succeeded_execution_exit_0_json_lines(aws: Running) -> None:
    good = json.loads(json.dumps(MACHINE))
    good["States"]["Done?"]["Choices"][0]["NumericEquals"] = 99
    code, out = _watch(aws, good, "succeeds", "--json")
    assert code == 0
    steps = [json.loads(line) for line in out.splitlines()]
    entered = [s["name"] for s in steps if s["kind"] == "entered"]
    assert entered == ["Plan", "Good?", "Each", "Double", "Double", "Double", "Done?", "Finished"]
    assert steps[-1]["kind"] == "finished" and steps[-1]["name"] == "SUCCEEDED"


def test_watch_failed_task_names_its_state(aws: Running) -> None:
    """A task's failure event names no state; the line names the state that failed, not `Task`."""
    machine = {
        "StartAt": "Call Missing Function",
        "States": {
            "Call Missing Function": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:absent"},
                "End": True,
            }
        },
    }
    code, out = _watch(aws, machine, "task-fails")
    assert code == 1
    failed = [line for line in out.splitlines() if "✗" in line]
    assert failed and all("✗ Call Missing Function:" in line for line in failed), out

"""Lambda on the local endpoint: functions run the project's handlers in-process
(src/qldb_dr/local/aws/lambdas.py), seen through boto3 and through Step Functions."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from qldb_dr.local.aws.handler import LambdaContext, run_handler
from qldb_dr.local.aws.lambdas import ROLE_NAME, deploy_function
from tests.aws import handlers
from tests.aws.support import create_machine, output, run
from tests.local.conftest import Running


def invoke(client: Any, name: str, payload: Any = None, **kwargs: Any) -> tuple[dict[str, Any], Any]:
    response = client.invoke(FunctionName=name, Payload=json.dumps(payload if payload is not None else {}), **kwargs)
    return response, json.loads(response["Payload"].read())


def test_deploy_function_creates_role_and_is_idempotent(aws: Running) -> None:
    lam = aws.client("lambda")
    arn = deploy_function(lam, "echo", "tests.aws.handlers.echo", {"VAULT_BUCKET": "a"}, timeout=5)
    assert arn.endswith(":function:echo")
    assert aws.client("iam").get_role(RoleName=ROLE_NAME)["Role"]["Arn"].endswith(f"role/{ROLE_NAME}")
    again = deploy_function(lam, "echo", "tests.aws.handlers.report_environment", {"VAULT_BUCKET": "b"}, timeout=9)
    assert again == arn
    config = lam.get_function_configuration(FunctionName="echo")
    assert config["Handler"] == "tests.aws.handlers.report_environment" and config["Timeout"] == 9
    assert config["Environment"]["Variables"] == {"VAULT_BUCKET": "b"}


@pytest.mark.parametrize("handler", ["tests.aws.handlers.echo", "tests/aws/handlers.echo"])
def test_invoke_runs_handler_in_process_both_handler_forms(aws: Running, handler: str) -> None:
    lam = aws.client("lambda")
    deploy_function(lam, "echo", handler)
    response, payload = invoke(lam, "echo", {"bucket": "vault"}, LogType="Tail")
    assert response["StatusCode"] == 200 and "FunctionError" not in response
    assert payload == {"event": {"bucket": "vault"}, "function": "echo"}
    assert "REPORT RequestId:" in base64.b64decode(response["LogResult"]).decode()


def test_invoke_empty_payload_handler_gets_empty_object(aws: Running) -> None:
    lam = aws.client("lambda")
    deploy_function(lam, "echo", "tests.aws.handlers.echo")
    assert json.loads(lam.invoke(FunctionName="echo")["Payload"].read())["event"] == {}


def test_invoke_handler_exception_unhandled_function_error_aws_payload(aws: Running) -> None:
    lam = aws.client("lambda")
    deploy_function(lam, "check-item", "tests.aws.handlers.check_item")
    response, payload = invoke(lam, "check-item", {"id": 3, "fail": True})
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "ExportVerificationError"
    assert payload["errorMessage"] == "item 3: revision-hashes failed"
    assert any("check_item" in line and "handlers.py" in line for line in payload["stackTrace"])
    assert not any("lambdas.py" in line for line in payload["stackTrace"])


@pytest.mark.parametrize(
    ("handler", "error_type"),
    [
        ("tests.aws.no_such_module.handler", "Runtime.ImportModuleError"),
        ("tests.aws.handlers.no_such_function", "Runtime.HandlerNotFound"),
        ("handler", "Runtime.MalformedHandlerName"),
        ("tests.aws.handlers.not_json", "Runtime.MarshalError"),
    ],
)
def test_invoke_runtime_errors_named_as_lambda_names_them(aws: Running, handler: str, error_type: str) -> None:
    lam = aws.client("lambda")
    deploy_function(lam, "broken", handler)
    response, payload = invoke(lam, "broken")
    assert response["FunctionError"] == "Unhandled" and payload["errorType"] == error_type, payload


def test_invoke_context_lambda_like(aws: Running) -> None:
    lam = aws.client("lambda")
    arn = deploy_function(lam, "reporter", "tests.aws.handlers.report_environment", timeout=30)
    _, first = invoke(lam, "reporter")
    _, second = invoke(lam, "reporter")
    assert 25_000 < first["remainingMillis"] <= 30_000
    assert first["requestId"] != second["requestId"]
    assert first["memory"] == 512 and first["version"] == "$LATEST" and first["arn"] == arn
    assert first["logGroup"] == "/aws/lambda/reporter" and first["requestId"].replace("-", "") in first["logStream"]
    assert first["function"] == "reporter" and first["region"] == "us-east-1"


def test_run_handler_longer_than_timeout_sandbox_timedout() -> None:
    arn = "arn:aws:lambda:us-east-1:123456789012:function:f"
    context = LambdaContext("f", "$LATEST", arn, 128, "r-1", "/aws/lambda/f", "s", timeout_seconds=0.0)
    done = run_handler("tests.aws.handlers.echo", {}, context, {})
    payload = json.loads(done.payload)
    assert done.errored and payload["errorType"] == "Sandbox.Timedout"
    assert "r-1 Task timed out after" in payload["errorMessage"] and payload["requestId"] == "r-1"


@pytest.fixture
def side_by_side() -> Iterator[int]:
    """Invocations of report_environment wait for each other: all are running at once."""
    parties = 12
    handlers.barrier = threading.Barrier(parties)
    yield parties
    handlers.barrier = None


@pytest.mark.lambda_inline  # patches or reads the handler in this process
def test_concurrent_invocations_see_only_their_function_environment(
    aws: Running, side_by_side: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    lam = aws.client("lambda")
    for vault in ("primary", "replica"):
        deploy_function(lam, f"report-{vault}", "tests.aws.handlers.report_environment", {"VAULT_BUCKET": vault})
    names = [f"report-{'primary' if i % 2 else 'replica'}" for i in range(side_by_side)]
    with ThreadPoolExecutor(side_by_side) as pool:
        results = list(pool.map(lambda name: invoke(aws.client("lambda"), name)[1], names))
    for name, result in zip(names, results, strict=True):
        assert result["function"] == name and result["vault"] == name.removeprefix("report-"), result
    import os

    assert "VAULT_BUCKET" not in os.environ


def test_step_functions_both_task_forms_run_handler_and_catch_its_error_name(aws: Running) -> None:
    lam, sfn = aws.client("lambda"), aws.client("stepfunctions")
    function = deploy_function(lam, "check-item", "tests.aws.handlers.check_item")
    caught = {"ErrorEquals": ["ExportVerificationError"], "ResultPath": "$.error", "Next": "Damaged"}
    definition = {
        "StartAt": "Optimised",
        "States": {
            "Optimised": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": function, "Payload.$": "$.item"},
                "ResultSelector": {"result.$": "$.Payload", "status.$": "$.StatusCode"},
                "ResultPath": "$.optimised",
                "Catch": [caught],
                "Next": "Plain",
            },
            "Plain": {
                "Type": "Task",
                "Resource": function,
                "InputPath": "$.item",
                "ResultPath": "$.plain",
                "Catch": [caught],
                "End": True,
            },
            "Damaged": {"Type": "Pass", "End": True},
        },
    }
    machine = create_machine(sfn, "two-forms", definition)
    good = output(run(sfn, machine, {"item": {"id": 1}}))
    assert good["optimised"] == {"result": {"id": 1, "ok": True}, "status": 200}
    assert good["plain"] == {"id": 1, "ok": True}
    bad = output(run(sfn, machine, {"item": {"id": 2, "fail": True}}))
    assert bad["error"]["Error"] == "ExportVerificationError"
    assert json.loads(bad["error"]["Cause"])["errorMessage"] == "item 2: revision-hashes failed"


def test_step_functions_missing_function_lambda_error_name(aws: Running) -> None:
    sfn = aws.client("stepfunctions")
    definition = {
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:absent", "Payload": {}},
                "End": True,
            }
        },
    }
    described = run(sfn, create_machine(sfn, "missing", definition))
    assert described["status"] == "FAILED" and described["error"] == "Lambda.ResourceNotFoundException"

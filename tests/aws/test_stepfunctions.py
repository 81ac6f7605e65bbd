"""Step Functions on the local endpoint: real ASL, real handlers, and the gaps of moto's
executor that qldb-dr closes (src/qldb_dr/local/aws/executor.py, mockconfig.py).

Every test goes through boto3 against the endpoint. Waits and retries run on a fast clock
(the time scale), never on the real one.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from qldb_dr.journal.models import Block
from qldb_dr.journal.synthetic import write_vault
from qldb_dr.local.aws import executor, mockconfig
from qldb_dr.local.aws.lambdas import deploy_function
from qldb_dr.store.s3 import S3Store
from tests.aws import handlers
from tests.aws.support import asl, create_machine, event_types, output, read_json, run, wait
from tests.local.conftest import Running, serve_process

BUCKET = "vault"
ITEMS = [{"id": i, "fail": i in (1, 5)} for i in range(8)]  # 25 % fail


@pytest.fixture(autouse=True)
def fast_clock() -> Iterator[None]:
    executor.set_time_scale(0.001)
    yield
    executor.set_time_scale(1.0)


@pytest.fixture
def check_item(aws: Running) -> str:
    return deploy_function(aws.client("lambda"), "check-item", "tests.aws.handlers.check_item")


def distributed_map(item_function: str, **fields: Any) -> dict[str, Any]:
    """A state machine: one Distributed Map over the input's `items`, its failure caught."""
    return {
        "StartAt": "Check Items",
        "States": {
            "Check Items": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "Check Item",
                    "States": {"Check Item": {"Type": "Task", "Resource": item_function, "End": True}},
                },
                "MaxConcurrency": 2,
                "Catch": [
                    {
                        "ErrorEquals": ["States.ExceedToleratedFailureThreshold"],
                        "ResultPath": "$.failure",
                        "Next": "Too Many Failures",
                    }
                ],
                "End": True,
                **fields,
            },
            "Too Many Failures": {"Type": "Pass", "End": True},
        },
    }


# -- a real workflow: Task, Wait/Choice loop, Distributed Map over an S3 list, Catch --------------


@pytest.fixture
def vault(aws: Running, journal: list[Block]) -> list[str]:
    """Four exports in the endpoint's S3, and the list of them the workflow reads."""
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    ids = write_vault(S3Store(BUCKET, "", client=s3), journal, ledger_name="orders", exports=4)
    heads = [f"orders/journal/{i}" for i in ids]
    s3.put_object(
        Bucket=BUCKET, Key="lists/exports.json", Body=json.dumps([{"bucket": BUCKET, "export": h} for h in heads])
    )
    return heads


def tamper(s3: Any, export_head: str) -> None:
    """Change one character of one revision of the export (as the CLI tests do)."""
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=export_head + "/")["Contents"]]
    victim = next(
        k for k in keys if k.endswith(".ion") and b"State:WA" in s3.get_object(Bucket=BUCKET, Key=k)["Body"].read()
    )
    body = s3.get_object(Bucket=BUCKET, Key=victim)["Body"].read()
    s3.put_object(Bucket=BUCKET, Key=victim, Body=body.replace(b"State:WA", b"State:OR", 1))


@pytest.mark.parametrize("damaged", [False, True], ids=["intact-vault", "tampered-export"])
def test_verify_vault_workflow_real_handler_distributed_map_catches_tampered_export(
    aws: Running, vault: list[str], damaged: bool
) -> None:
    s3, sfn = aws.client("s3"), aws.client("stepfunctions")
    if damaged:
        tamper(s3, vault[2])
    function = deploy_function(aws.client("lambda"), "verify-export", "tasks.verify_export.handler")
    machine = create_machine(sfn, "verify-vault", asl("tests/verify-vault", VerifyExportFunction=function))
    started = time.monotonic()
    described = run(
        sfn,
        machine,
        {"bucket": BUCKET, "first": vault[0], "exportList": "lists/exports.json", "polls": {"count": 0}},
        name="verify-1",
    )
    assert time.monotonic() - started < 20  # two 60 s waits, scaled
    result = output(described)
    assert result["firstExport"]["status"] in {"OK", "WARNING"}
    assert result["polls"] == {"count": 2}
    types = event_types(sfn, described["executionArn"])
    assert types.count("WaitStateEntered") == 2
    assert types.count("LambdaFunctionScheduled") + types.count("TaskScheduled") >= 1
    assert "MapRunStarted" in types
    manifest_key = f"verification/{_map_run_id(sfn, described)}/manifest.json"
    files = read_json(s3, BUCKET, manifest_key)["ResultFiles"]
    if not damaged:
        assert "failure" not in result and types[-1] == "ExecutionSucceeded"
        assert result["verification"]["ResultWriterDetails"] == {"Bucket": BUCKET, "Key": manifest_key}
        assert "MapRunSucceeded" in types and files["FAILED"] == []
        succeeded = read_json(s3, BUCKET, files["SUCCEEDED"][0]["Key"])
        assert sorted(json.loads(r["Input"])["export"] for r in succeeded) == sorted(vault)
        return
    assert result["failure"]["Error"] == "States.ExceedToleratedFailureThreshold"
    assert "MapRunFailed" in types and "verification" not in result
    (failed,) = read_json(s3, BUCKET, files["FAILED"][0]["Key"])
    assert failed["Error"] == "ExportVerificationError" and "revision-hashes" in failed["Cause"]
    assert json.loads(failed["Input"])["export"] == vault[2]


def _map_run_id(sfn: Any, described: dict[str, Any]) -> str:
    (map_run,) = sfn.list_map_runs(executionArn=described["executionArn"])["mapRuns"]
    return str(map_run["mapRunArn"]).rsplit(":", 1)[-1]


# -- tolerated failures ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tolerance", "fails"),
    [
        ({}, True),
        ({"ToleratedFailurePercentage": 0}, True),
        ({"ToleratedFailurePercentage": 10}, True),
        ({"ToleratedFailurePercentage": 50}, False),
        ({"ToleratedFailurePercentage": 25}, False),  # not exceeded: 2 of 8 is exactly 25 %
        ({"ToleratedFailureCount": 1}, True),
        ({"ToleratedFailureCount": 2}, False),
        ({"ToleratedFailureCount": 5, "ToleratedFailurePercentage": 10}, True),  # either exceeded fails
        ({"ToleratedFailureCount": 0, "ToleratedFailurePercentage": 50}, True),
    ],
    ids=lambda v: json.dumps(v) if isinstance(v, dict) else str(v),
)
def test_distributed_map_tolerance_25_percent_failing_fails_only_past_threshold_catchable(
    aws: Running, check_item: str, tolerance: dict[str, Any], fails: bool
) -> None:
    sfn = aws.client("stepfunctions")
    machine = create_machine(sfn, "tolerance", distributed_map(check_item, **tolerance))
    described = run(sfn, machine, {"items": ITEMS})
    result = output(described)  # caught: the execution itself succeeds
    (listed,) = sfn.list_map_runs(executionArn=described["executionArn"])["mapRuns"]
    map_run = sfn.describe_map_run(mapRunArn=listed["mapRunArn"])
    assert map_run["executionCounts"]["running"] == 0 and map_run["itemCounts"]["running"] == 0
    if fails:
        assert result["failure"]["Error"] == "States.ExceedToleratedFailureThreshold", result
        assert map_run["status"] == "FAILED"
        assert "MapRunFailed" in event_types(sfn, described["executionArn"])
        return
    assert "failure" not in result
    assert map_run["status"] == "SUCCEEDED"
    assert map_run["itemCounts"]["succeeded"] == 6 and map_run["itemCounts"]["failed"] == 2
    ok = [item for item in result if item.get("ok")]
    failed = [item for item in result if item.get("Status") == "FAILED"]  # a failed item appears as its record
    assert [item["id"] for item in ok] == [0, 2, 3, 4, 6, 7]
    assert [json.loads(item["Input"])["id"] for item in failed] == [1, 5]
    assert {item["Error"] for item in failed} == {"ExportVerificationError"}


def test_distributed_map_integer_tolerated_failure_percentage_parses(aws: Running, check_item: str) -> None:
    sfn = aws.client("stepfunctions")
    machine = create_machine(sfn, "integer-percentage", distributed_map(check_item, ToleratedFailurePercentage=10))
    definition = json.loads(sfn.describe_state_machine(stateMachineArn=machine)["definition"])
    assert definition["States"]["Check Items"]["ToleratedFailurePercentage"] == 10  # stored as written
    assert output(run(sfn, machine, {"items": [{"id": 0}]}))[0] == {"id": 0, "ok": True}


def test_distributed_map_failed_run_abandons_unstarted_items_as_pending(aws: Running, check_item: str) -> None:
    s3, sfn = aws.client("s3"), aws.client("stepfunctions")
    s3.create_bucket(Bucket="results")
    writer = {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "results", "Prefix": "run"}}
    machine = create_machine(sfn, "abandon", distributed_map(check_item, MaxConcurrency=1, ResultWriter=writer))
    described = run(sfn, machine, {"items": ITEMS})
    assert output(described)["failure"]["Error"] == "States.ExceedToleratedFailureThreshold"
    manifest = read_json(s3, "results", f"run/{_map_run_id(sfn, described)}/manifest.json")
    files = {kind: read_json(s3, "results", entries[0]["Key"]) for kind, entries in manifest["ResultFiles"].items()}
    assert [json.loads(r["Input"])["id"] for r in files["SUCCEEDED"]] == [0]
    assert [json.loads(r["Input"])["id"] for r in files["FAILED"]] == [1]
    assert [json.loads(r["Input"])["id"] for r in files["PENDING"]] == [2, 3, 4, 5, 6, 7]
    assert all(set(r) == {"Input", "InputDetails", "Status"} and r["Status"] == "PENDING" for r in files["PENDING"])


@pytest.mark.lambda_inline  # patches or reads the handler in this process
def test_distributed_map_more_concurrent_items_than_http_threads_calling_endpoint_no_deadlock(
    aws: Running,
) -> None:
    """Every item's handler waits until all are running, then calls the endpoint's S3: with
    function calls over HTTP, 20 invocations would hold the endpoint's 16 HTTP threads."""
    lam, s3, sfn = aws.client("lambda"), aws.client("s3"), aws.client("stepfunctions")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="object", Body=b"x" * 10)
    function = deploy_function(lam, "read-object", "tests.aws.handlers.read_object")
    items = [{"id": i, "bucket": BUCKET, "key": "object"} for i in range(20)]
    handlers.barrier = threading.Barrier(len(items))
    try:
        machine = create_machine(sfn, "wide", distributed_map(function, MaxConcurrency=len(items)))
        result = output(run(sfn, machine, {"items": items}))
    finally:
        handlers.barrier = None
    assert result == [{"id": i, "size": 10} for i in range(20)]


# -- ResultWriter ------------------------------------------------------------------------------------


def test_result_writer_writes_aws_shaped_manifest_and_result_files(aws: Running, check_item: str) -> None:
    s3, sfn = aws.client("s3"), aws.client("stepfunctions")
    s3.create_bucket(Bucket="results")
    writer = {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "results", "Prefix": "checks"}}
    machine = create_machine(
        sfn, "writer", distributed_map(check_item, ToleratedFailurePercentage=50, ResultWriter=writer)
    )
    described = run(sfn, machine, {"items": ITEMS})
    result = output(described)
    map_run_arn = result["MapRunArn"]
    run_id = map_run_arn.rsplit(":", 1)[-1]
    assert result["ResultWriterDetails"] == {"Bucket": "results", "Key": f"checks/{run_id}/manifest.json"}
    manifest = read_json(s3, "results", f"checks/{run_id}/manifest.json")
    assert manifest["DestinationBucket"] == "results" and manifest["MapRunArn"] == map_run_arn
    files = manifest["ResultFiles"]
    assert files["PENDING"] == []
    assert [e["Key"] for e in files["SUCCEEDED"]] == [f"checks/{run_id}/SUCCEEDED_0.json"]
    assert [e["Key"] for e in files["FAILED"]] == [f"checks/{run_id}/FAILED_0.json"]
    for entry in files["SUCCEEDED"] + files["FAILED"]:
        body = s3.get_object(Bucket="results", Key=entry["Key"])["Body"].read()
        assert entry["Size"] == len(body)
    succeeded = read_json(s3, "results", files["SUCCEEDED"][0]["Key"])
    failed = read_json(s3, "results", files["FAILED"][0]["Key"])
    assert [json.loads(r["Output"]) for r in succeeded] == [{"id": i, "ok": True} for i in (0, 2, 3, 4, 6, 7)]
    assert [json.loads(r["Input"])["id"] for r in failed] == [1, 5]
    child_machine = f"{machine}/{map_run_arn.split('/')[-1].split(':')[0]}"
    for record in succeeded + failed:
        assert record["StateMachineArn"] == child_machine
        assert record["ExecutionArn"] == f"{child_machine.replace(':stateMachine:', ':execution:')}:{record['Name']}"
        assert record["InputDetails"] == {"Included": True} and record["RedriveCount"] == 0
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["StartDate"])
        assert record["StartDate"] <= record["StopDate"]
    assert {r["Status"] for r in succeeded} == {"SUCCEEDED"} and {r["Status"] for r in failed} == {"FAILED"}
    assert {r["RedriveStatus"] for r in failed} == {"REDRIVABLE_BY_MAP_RUN"}
    assert {r["Error"] for r in failed} == {"ExportVerificationError"}
    assert json.loads(failed[0]["Cause"])["errorType"] == "ExportVerificationError"
    assert list(failed[0]) == sorted(failed[0])  # AWS writes the keys in order


# -- retries and waits on the scaled clock -----------------------------------------------------------


def test_retry_custom_error_name_scaled_clock_succeeds_on_third_attempt(aws: Running) -> None:
    sfn = aws.client("stepfunctions")
    function = deploy_function(aws.client("lambda"), "flaky", "tests.aws.handlers.flaky")
    retry = {"ErrorEquals": ["StoreAccessError"], "IntervalSeconds": 30, "BackoffRate": 2, "MaxAttempts": 3}
    definition = {
        "StartAt": "Read Export",
        "States": {"Read Export": {"Type": "Task", "Resource": function, "Retry": [retry], "End": True}},
    }
    machine = create_machine(sfn, "retry", definition)
    started = time.monotonic()
    described = run(sfn, machine, {"key": "retry-3", "failures": 2})
    assert time.monotonic() - started < 10  # 30 s + 60 s of intervals at real time
    assert output(described) == {"key": "retry-3", "attempts": 3}
    assert event_types(sfn, described["executionArn"]).count("LambdaFunctionFailed") == 2


@pytest.mark.lambda_inline  # patches or reads the handler in this process
def test_retry_exhausted_custom_error_caught_by_name(aws: Running) -> None:
    sfn = aws.client("stepfunctions")
    function = deploy_function(aws.client("lambda"), "flaky", "tests.aws.handlers.flaky")
    definition = {
        "StartAt": "Read Export",
        "States": {
            "Read Export": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": function, "Payload.$": "$"},
                "Retry": [{"ErrorEquals": ["StoreAccessError"], "IntervalSeconds": 1, "MaxAttempts": 2}],
                "Catch": [{"ErrorEquals": ["StoreAccessError"], "Next": "Store Unavailable"}],
                "End": True,
            },
            "Store Unavailable": {"Type": "Pass", "End": True},
        },
    }
    machine = create_machine(sfn, "retry-exhausted", definition)
    result = output(run(sfn, machine, {"key": "exhausted", "failures": 9}))
    assert result["Error"] == "StoreAccessError"
    assert handlers.calls["exhausted"] == 3


def test_wait_seconds_and_timestamp_scaled_clock(aws: Running) -> None:
    sfn = aws.client("stepfunctions")
    soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    definition = {
        "StartAt": "An Hour",
        "States": {
            "An Hour": {"Type": "Wait", "Seconds": 3600, "Next": "Until Then"},
            "Until Then": {"Type": "Wait", "TimestampPath": "$.until", "End": True},
        },
    }
    machine = create_machine(sfn, "waits", definition)
    started = time.monotonic()
    assert output(run(sfn, machine, {"until": soon})) == {"until": soon}
    assert time.monotonic() - started < 15  # 2 h at real time; 7.2 s at this scale


# -- executions --------------------------------------------------------------------------------------


def test_start_execution_without_name_unique_uuid_names(aws: Running) -> None:
    sfn = aws.client("stepfunctions")
    machine = create_machine(sfn, "unnamed", {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    arns = [sfn.start_execution(stateMachineArn=machine)["executionArn"] for _ in range(3)]
    names = [wait(sfn, arn)["name"] for arn in arns]
    assert len(set(names)) == 3
    assert all(re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", n) for n in names)


# -- MockConfigFile ----------------------------------------------------------------------------------

ABSENT_FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:absent"
MOCK_CONFIG = {
    "StateMachines": {
        "mocked-verify": {
            "TestCases": {
                "TamperedExport": {"Verify Export": "VerificationFails"},
                "IntactExport": {"Verify Export": "VerificationPasses"},
                "FlakyStore": {"Verify Export": "StoreThrottlesTwice"},
            }
        }
    },
    "MockedResponses": {
        "VerificationFails": {"0": {"Throw": {"Error": "ExportVerificationError", "Cause": "mocked: hash mismatch"}}},
        "VerificationPasses": {"0": {"Return": {"StatusCode": 200, "Payload": {"status": "OK", "blocks": 7}}}},
        "StoreThrottlesTwice": {
            "0-1": {"Throw": {"Error": "StoreAccessError", "Cause": "mocked throttling"}},
            "2": {"Return": {"StatusCode": 200, "Payload": {"status": "WARNING", "blocks": 7}}},
        },
    },
}


@pytest.fixture
def mocked_machine(aws: Running, tmp_path: Path) -> Iterator[str]:
    path = tmp_path / "MockConfigFile.json"
    path.write_text(json.dumps(MOCK_CONFIG))
    mockconfig.set_mock_config(path)
    definition = {
        "StartAt": "Verify Export",
        "States": {
            "Verify Export": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                # No such function: only the mocks answer.
                "Parameters": {
                    "FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:absent",
                    "Payload.$": "$",
                },
                "ResultSelector": {"status.$": "$.Payload.status"},
                "Retry": [{"ErrorEquals": ["StoreAccessError"], "IntervalSeconds": 5, "MaxAttempts": 3}],
                "Catch": [{"ErrorEquals": ["ExportVerificationError"], "Next": "Export Damaged"}],
                "End": True,
            },
            "Export Damaged": {"Type": "Pass", "Parameters": {"damaged": True}, "End": True},
        },
    }
    yield create_machine(aws.client("stepfunctions"), "mocked-verify", definition)
    mockconfig.set_mock_config(None)


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("TamperedExport", {"damaged": True}),
        ("IntactExport", {"status": "OK"}),
        ("FlakyStore", {"status": "WARNING"}),
    ],
)
def test_mock_config_test_case_follows_mocked_path(
    aws: Running, mocked_machine: str, case: str, expected: dict[str, Any]
) -> None:
    sfn = aws.client("stepfunctions")
    described = run(sfn, f"{mocked_machine}#{case}", {"export": "orders/journal/x"})
    assert output(described) == expected
    assert described["stateMachineArn"] == mocked_machine


def test_mock_config_without_test_case_calls_the_service(aws: Running, mocked_machine: str) -> None:
    described = run(aws.client("stepfunctions"), mocked_machine, {})
    assert described["status"] == "FAILED" and described["error"] == "Lambda.ResourceNotFoundException"


def test_mock_config_unknown_test_case_invalid_name(aws: Running, mocked_machine: str) -> None:
    with pytest.raises(ClientError) as caught:
        aws.client("stepfunctions").start_execution(stateMachineArn=f"{mocked_machine}#NoSuchCase", input="{}")
    assert caught.value.response["Error"]["Code"] == "InvalidName"


def test_mock_config_path_from_sfn_mock_config_env(
    aws: Running, mocked_machine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mockconfig.set_mock_config(None)
    monkeypatch.setenv("SFN_MOCK_CONFIG", str(tmp_path / "MockConfigFile.json"))
    assert output(run(aws.client("stepfunctions"), f"{mocked_machine}#IntactExport", {})) == {"status": "OK"}


# -- patches -----------------------------------------------------------------------------------------


def test_install_patches_twice_wraps_once(aws: Running) -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.state_map import StateMap
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    from qldb_dr.local.aws.moto_app import install_patches

    install_patches()
    install_patches()
    start = StepFunctionsParserBackend.start_execution
    depth = 0
    while hasattr(start, "__wrapped__"):
        start, depth = start.__wrapped__, depth + 1
    assert depth == 2  # test case, then name
    assert not hasattr(StateMap._eval_execution.__wrapped__, "__wrapped__")


# -- out of process -----------------------------------------------------------------------------------


def test_local_up_process_runs_task_with_real_handler(
    tmp_path: Path, journal: list[Block], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QLDB_DR_LOCAL_TIME_SCALE", "0.001")
    endpoint = serve_process(tmp_path / "data")
    try:
        s3 = endpoint.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        (export_id,) = write_vault(S3Store(BUCKET, "", client=s3), journal, ledger_name="orders", exports=1)
        function = deploy_function(endpoint.client("lambda"), "verify-export", "tasks.verify_export.handler")
        sfn = endpoint.client("stepfunctions")
        definition = {
            "StartAt": "Settle",
            "States": {
                "Settle": {"Type": "Wait", "Seconds": 600, "Next": "Verify Export"},
                "Verify Export": {"Type": "Task", "Resource": function, "End": True},
            },
        }
        machine = create_machine(sfn, "verify-one", definition)
        started = time.monotonic()
        result = output(run(sfn, machine, {"bucket": BUCKET, "export": f"orders/journal/{export_id}"}))
        assert time.monotonic() - started < 20
        assert result["exportId"] == export_id and result["blocks"] == len(journal)
        assert result["status"] in {"OK", "WARNING"}
    finally:
        endpoint.stop()


def test_map_runs_listed_before_the_execution_worker_starts_are_none(aws: Running) -> None:
    """ListMapRuns / DescribeMapRun on an execution whose worker has not started yet (the first
    poll of `executions watch`) answer plainly: no Map Runs yet, not a 500 and a traceback."""
    from types import SimpleNamespace

    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    from qldb_dr.local.aws.maps import install

    install()
    backend = StepFunctionsParserBackend.__new__(StepFunctionsParserBackend)
    starting = SimpleNamespace(exec_worker=SimpleNamespace(env=None))
    backend.describe_execution = lambda execution_arn: starting  # type: ignore[method-assign]
    backend._get_executions = lambda: [starting]  # type: ignore[method-assign]
    assert backend.list_map_runs("arn:aws:states:us-east-1:123456789012:execution:m:e") == {"mapRuns": []}
    with pytest.raises(Exception, match="does not exist"):
        backend.describe_map_run("arn:aws:states:us-east-1:123456789012:mapRun:m/r:1")

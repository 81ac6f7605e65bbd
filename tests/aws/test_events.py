"""EventBridge on the local endpoint: S3 events reach rules on the default bus and start Step
Functions executions (warm standby's trigger), and scheduled rules and schedules fire."""

from __future__ import annotations

import datetime
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from qldb_dr.local.aws import events, schedules
from tests.local.conftest import Running

PRIMARY, DR = "us-east-1", "us-west-2"
ACCOUNT = "123456789012"
PASS_THROUGH = json.dumps({"StartAt": "Pass", "States": {"Pass": {"Type": "Pass", "End": True}}})
CATALOG_OBJECTS = {
    "source": ["aws.s3"],
    "detail-type": ["Object Created"],
    "detail": {"object": {"key": [{"prefix": "catalog/"}]}},
}


def _eventually(read: Callable[[], Any], done: Callable[[Any], bool], timeout: float = 30.0) -> Any:
    """Poll until `done(read())`, up to a deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value):
            return value
        assert time.monotonic() < deadline, f"still {value!r} after {timeout} s"
        time.sleep(0.05)


def _machine(aws: Running, name: str, region: str = PRIMARY) -> str:
    arn: str = aws.client("stepfunctions", region).create_state_machine(
        name=name, roleArn=f"arn:aws:iam::{ACCOUNT}:role/sfn", definition=PASS_THROUGH
    )["stateMachineArn"]
    return arn


def _executions(aws: Running, machine: str) -> list[dict[str, Any]]:
    region = machine.split(":")[3]
    listed: list[dict[str, Any]] = aws.client("stepfunctions", region).list_executions(stateMachineArn=machine)[
        "executions"
    ]
    return listed


def _inputs(aws: Running, machine: str, count: int) -> list[Any]:
    """The inputs of the machine's executions, once there are `count` of them."""
    sfn = aws.client("stepfunctions", machine.split(":")[3])
    listed = _eventually(lambda: _executions(aws, machine), lambda found: len(found) >= count)
    assert len(listed) == count, listed
    return [json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"]) for e in listed]


def _rule(aws: Running, name: str, targets: list[dict[str, Any]], region: str = PRIMARY, **rule: Any) -> None:
    client = aws.client("events", region)
    client.put_rule(Name=name, **rule)
    client.put_targets(Rule=name, Targets=targets)


def _target(machine: str, target_id: str = "start", **extra: Any) -> dict[str, Any]:
    return {"Id": target_id, "Arn": machine, "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/events", **extra}


def _notifying_bucket(s3: Any, name: str, region: str = PRIMARY) -> None:
    options = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=name, **options)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_notification_configuration(Bucket=name, NotificationConfiguration={"EventBridgeConfiguration": {}})


# --- S3 → EventBridge → Step Functions ------------------------------------------------------


def test_events_s3_object_created_starts_an_execution_with_the_event_as_input(aws: Running) -> None:
    s3 = aws.client("s3")
    _notifying_bucket(s3, "vault-dr")
    machine = _machine(aws, "warm-standby")
    _rule(aws, "new-recovery-point", [_target(machine)], EventPattern=json.dumps(CATALOG_OBJECTS))

    s3.put_object(Bucket="vault-dr", Key="exports/000.ion", Body=b"not a catalog object")
    put = s3.put_object(Bucket="vault-dr", Key="catalog/rp-0001.json", Body=b"hello")

    # Delivery happens before S3 answers, so the first PUT would have started its execution already.
    [event] = _inputs(aws, machine, 1)
    assert event["source"] == "aws.s3"
    assert event["detail-type"] == "Object Created"
    assert (event["account"], event["region"]) == (ACCOUNT, PRIMARY)
    assert event["resources"] == ["arn:aws:s3:::vault-dr"]
    assert datetime.datetime.strptime(event["time"], "%Y-%m-%dT%H:%M:%SZ")
    detail = event["detail"]
    assert detail["bucket"] == {"name": "vault-dr"}
    assert detail["reason"] == "PutObject"
    assert {k: detail["object"][k] for k in ("key", "size", "etag", "version-id")} == {
        "key": "catalog/rp-0001.json",
        "size": 5,
        "etag": put["ETag"].strip('"'),
        "version-id": put["VersionId"],
    }
    assert {"version", "request-id", "requester", "source-ip-address"} <= set(detail)
    assert set(event["detail"]["object"]) == {"key", "size", "etag", "version-id", "sequencer"}


def test_events_non_matching_key_suffix_and_disabled_rule_start_nothing(aws: Running) -> None:
    s3, client = aws.client("s3"), aws.client("events")
    _notifying_bucket(s3, "vault-dr")
    json_only, disabled, witness = (_machine(aws, n) for n in ("json-only", "disabled", "witness"))
    pattern = {"source": ["aws.s3"], "detail": {"object": {"key": [{"suffix": ".json"}]}}}
    _rule(aws, "json-only", [_target(json_only)], EventPattern=json.dumps(pattern))
    _rule(aws, "disabled", [_target(disabled)], EventPattern=json.dumps(CATALOG_OBJECTS))
    client.disable_rule(Name="disabled")
    _rule(aws, "witness", [_target(witness)], EventPattern=json.dumps({"source": ["aws.s3"]}))

    s3.put_object(Bucket="vault-dr", Key="catalog/rp-1.ion", Body=b"1")
    s3.put_object(Bucket="vault-dr", Key="catalog/rp-2.json", Body=b"2")

    assert len(_inputs(aws, witness, 2)) == 2
    assert [e["detail"]["object"]["key"] for e in _inputs(aws, json_only, 1)] == ["catalog/rp-2.json"]
    assert _executions(aws, disabled) == []


def test_events_replicated_object_triggers_the_dr_region_rule(aws: Running) -> None:
    primary, dr = aws.client("s3", PRIMARY), aws.client("s3", DR)
    primary.create_bucket(Bucket="vault-primary")
    primary.put_bucket_versioning(Bucket="vault-primary", VersioningConfiguration={"Status": "Enabled"})
    _notifying_bucket(dr, "vault-dr", DR)
    primary.put_bucket_replication(
        Bucket="vault-primary",
        ReplicationConfiguration={
            "Role": f"arn:aws:iam::{ACCOUNT}:role/replication",
            "Rules": [
                {
                    "ID": "to-dr",
                    "Priority": 1,
                    "Status": "Enabled",
                    "Filter": {"Prefix": ""},
                    "DeleteMarkerReplication": {"Status": "Disabled"},
                    "Destination": {"Bucket": "arn:aws:s3:::vault-dr"},
                }
            ],
        },
    )
    standby = _machine(aws, "warm-standby", DR)
    primary_machine = _machine(aws, "primary-side", PRIMARY)
    _rule(aws, "new-recovery-point", [_target(standby)], DR, EventPattern=json.dumps(CATALOG_OBJECTS))
    _rule(aws, "new-recovery-point", [_target(primary_machine)], PRIMARY, EventPattern=json.dumps(CATALOG_OBJECTS))

    put = primary.put_object(Bucket="vault-primary", Key="catalog/rp-0001.json", Body=b"rp")

    [event] = _inputs(aws, standby, 1)
    assert (event["region"], event["detail"]["bucket"]["name"]) == (DR, "vault-dr")
    assert event["detail"]["object"]["version-id"] == put["VersionId"]
    assert _executions(aws, primary_machine) == []  # the primary bucket sends no events


def test_events_target_input_input_path_and_input_transformer(aws: Running) -> None:
    s3 = aws.client("s3")
    _notifying_bucket(s3, "vault")
    constant, path, transformed = (_machine(aws, n) for n in ("constant", "path", "transformed"))
    transformer = {
        "InputPathsMap": {"key": "$.detail.object.key", "size": "$.detail.object.size", "bucket": "$.detail.bucket"},
        "InputTemplate": '{"key": <key>, "size": <size>, "bucket": <bucket>, "text": "<key> has <size> bytes",'
        ' "rule": "<aws.events.rule-name>"}',
    }
    _rule(
        aws,
        "catalog",
        [
            _target(constant, "constant", Input='{"fixed": true}'),
            _target(path, "path", InputPath="$.detail.object"),
            _target(transformed, "transformed", InputTransformer=transformer),
        ],
        EventPattern=json.dumps(CATALOG_OBJECTS),
    )

    s3.put_object(Bucket="vault", Key='catalog/"q".json', Body=b"abc")

    assert _inputs(aws, constant, 1) == [{"fixed": True}]
    [selected] = _inputs(aws, path, 1)
    assert (selected["key"], selected["size"]) == ('catalog/"q".json', 3)
    assert _inputs(aws, transformed, 1) == [
        {
            "key": 'catalog/"q".json',
            "size": 3,
            "bucket": {"name": "vault"},
            "text": 'catalog/"q".json has 3 bytes',
            "rule": "catalog",
        }
    ]


def test_events_one_event_per_write_with_the_api_as_reason(aws: Running) -> None:
    s3 = aws.client("s3")
    _notifying_bucket(s3, "vault")
    everything = _machine(aws, "everything")
    _rule(aws, "all-s3", [_target(everything)], EventPattern=json.dumps({"source": ["aws.s3"]}))

    upload = s3.create_multipart_upload(Bucket="vault", Key="catalog/m", Tagging="a=1")
    part = s3.upload_part(Bucket="vault", Key="catalog/m", UploadId=upload["UploadId"], PartNumber=1, Body=b"m")
    s3.complete_multipart_upload(
        Bucket="vault",
        Key="catalog/m",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]},
    )
    s3.put_object(Bucket="vault", Key="catalog/p", Body=b"p", Tagging="b=2")
    s3.copy_object(Bucket="vault", Key="catalog/c", CopySource={"Bucket": "vault", "Key": "catalog/p"})
    s3.put_object_tagging(Bucket="vault", Key="catalog/p", Tagging={"TagSet": [{"Key": "c", "Value": "3"}]})

    seen = [
        (e["detail-type"], e["detail"]["object"]["key"], e["detail"].get("reason")) for e in _inputs(aws, everything, 4)
    ]
    assert sorted(seen) == [
        ("Object Created", "catalog/c", "CopyObject"),
        ("Object Created", "catalog/m", "CompleteMultipartUpload"),
        ("Object Created", "catalog/p", "PutObject"),
        ("Object Tags Added", "catalog/p", None),
    ]


def test_events_s3_events_go_to_the_default_bus_only(aws: Running) -> None:
    s3, client = aws.client("s3"), aws.client("events")
    _notifying_bucket(s3, "vault")
    client.create_event_bus(Name="custom")
    on_custom, on_default = _machine(aws, "on-custom"), _machine(aws, "on-default")
    pattern = json.dumps({"source": ["aws.s3"]})
    client.put_rule(Name="s3", EventBusName="custom", EventPattern=pattern)
    client.put_targets(Rule="s3", EventBusName="custom", Targets=[_target(on_custom)])
    _rule(aws, "s3", [_target(on_default)], EventPattern=pattern)

    s3.put_object(Bucket="vault", Key="k", Body=b"1")

    assert len(_inputs(aws, on_default, 1)) == 1
    assert _executions(aws, on_custom) == []


def test_events_s3_notification_configuration_reads_back(aws: Running) -> None:
    s3 = aws.client("s3")
    _notifying_bucket(s3, "vault")

    configuration = s3.get_bucket_notification_configuration(Bucket="vault")

    assert configuration["EventBridgeConfiguration"] == {}


def test_events_put_events_reach_a_state_machine(aws: Running) -> None:
    machine = _machine(aws, "custom")
    _rule(aws, "custom", [_target(machine)], EventPattern=json.dumps({"source": ["qldb-dr"]}))

    aws.client("events").put_events(
        Entries=[{"Source": "qldb-dr", "DetailType": "Drill Requested", "Detail": json.dumps({"ledger": "orders"})}]
    )

    [event] = _inputs(aws, machine, 1)
    assert (event["detail-type"], event["detail"], event["account"]) == (
        "Drill Requested",
        {"ledger": "orders"},
        ACCOUNT,
    )
    assert "ingestion-time" not in event


# --- schedules ------------------------------------------------------------------------------


def test_events_scheduled_rule_fires_on_the_scaled_clock_and_stops_when_disabled(
    aws: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(schedules.TIME_SCALE_ENV, "0.005")  # rate(1 minute) fires every 0.3 s
    client = aws.client("events")
    backup, witness = _machine(aws, "backup"), _machine(aws, "witness")
    _rule(aws, "backup-every-rpo", [_target(backup)], ScheduleExpression="rate(1 minute)")

    [first, _] = _inputs(aws, backup, 2)
    assert first["detail-type"] == "Scheduled Event"
    assert first["source"] == "aws.events"
    assert first["resources"] == [f"arn:aws:events:{PRIMARY}:{ACCOUNT}:rule/backup-every-rpo"]
    assert first["detail"] == {}

    client.disable_rule(Name="backup-every-rpo")
    _rule(aws, "witness", [_target(witness)], ScheduleExpression="rate(1 minute)")
    _eventually(lambda: len(_executions(aws, witness)), lambda n: n >= 1)
    fired = len(_executions(aws, backup))  # any firing under way when disabled has finished by now
    _eventually(lambda: len(_executions(aws, witness)), lambda n: n >= 4)
    assert len(_executions(aws, backup)) == fired


def test_events_scheduler_schedule_fires_its_target_with_its_input(
    aws: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(schedules.TIME_SCALE_ENV, "0.005")
    machine = _machine(aws, "preload")
    scheduler = aws.client("scheduler")
    scheduler.create_schedule(
        Name="preload",
        ScheduleExpression="rate(1 minute)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": machine, "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/scheduler", "Input": '{"mode": "preload"}'},
    )

    assert _inputs(aws, machine, 1) == [{"mode": "preload"}]
    scheduler.delete_schedule(Name="preload")


def test_events_invalid_schedule_expression_is_refused(aws: Running) -> None:
    with pytest.raises(ClientError) as refused:
        aws.client("events").put_rule(Name="bad", ScheduleExpression="every 5 minutes")
    assert refused.value.response["Error"]["Code"] == "ValidationException"


# --- units: expressions, paths, templates, clock --------------------------------------------

T0 = datetime.datetime(2026, 3, 5, 10, 7, 30, tzinfo=datetime.UTC)  # a Thursday


def _next(expression: str, moment: datetime.datetime = T0, timezone: str | None = None) -> datetime.datetime | None:
    return schedules.parse(expression, timezone).next_after(moment, anchor=moment)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("rate(5 minutes)", T0 + datetime.timedelta(minutes=5)),
        ("rate(1 day)", T0 + datetime.timedelta(days=1)),
        ("cron(0/15 * * * ? *)", datetime.datetime(2026, 3, 5, 10, 15, tzinfo=datetime.UTC)),
        ("cron(0 2 * * ? *)", datetime.datetime(2026, 3, 6, 2, 0, tzinfo=datetime.UTC)),
        ("cron(0 12 ? * MON-FRI *)", datetime.datetime(2026, 3, 5, 12, 0, tzinfo=datetime.UTC)),
        ("cron(0 12 ? * SAT,SUN *)", datetime.datetime(2026, 3, 7, 12, 0, tzinfo=datetime.UTC)),
        ("cron(0 0 L * ? *)", datetime.datetime(2026, 3, 31, 0, 0, tzinfo=datetime.UTC)),
        ("cron(0 0 LW * ? *)", datetime.datetime(2026, 3, 31, 0, 0, tzinfo=datetime.UTC)),
        ("cron(0 0 15W * ? *)", datetime.datetime(2026, 3, 16, 0, 0, tzinfo=datetime.UTC)),  # the 15th is a Sunday
        ("cron(0 0 ? * 6#2 *)", datetime.datetime(2026, 3, 13, 0, 0, tzinfo=datetime.UTC)),  # second Friday
        ("cron(0 0 ? * 2L *)", datetime.datetime(2026, 3, 30, 0, 0, tzinfo=datetime.UTC)),  # last Monday
        ("cron(30 9 1 JAN ? 2027)", datetime.datetime(2027, 1, 1, 9, 30, tzinfo=datetime.UTC)),
        ("cron(0 0 1 1 ? 2020)", None),
        ("at(2026-03-05T11:00:00)", datetime.datetime(2026, 3, 5, 11, 0, tzinfo=datetime.UTC)),
        ("at(2026-03-05T10:00:00)", None),
    ],
)
def test_schedules_expression_next_firing(expression: str, expected: datetime.datetime | None) -> None:
    assert _next(expression) == expected


def test_schedules_cron_in_a_time_zone_and_rate_anchor() -> None:
    assert _next("cron(0 9 * * ? *)", timezone="Europe/Paris") == datetime.datetime(
        2026, 3, 6, 8, 0, tzinfo=datetime.UTC
    )
    rate = schedules.parse("rate(10 minutes)")
    anchor = T0 - datetime.timedelta(minutes=25)
    assert rate.next_after(T0, anchor) == anchor + datetime.timedelta(minutes=30)


@pytest.mark.parametrize(
    "expression",
    ["cron(0 12 * * * *)", "cron(0 12 ? * ? *)", "cron(61 * * * ? *)", "cron(0 12 * *)", "rate(0 minutes)", "daily"],
)
def test_schedules_invalid_expression_is_rejected(expression: str) -> None:
    with pytest.raises(schedules.InvalidSchedule):
        schedules.parse(expression)


def test_schedules_clock_runs_at_the_scale_and_rebases_when_it_changes() -> None:
    real, scale = [1000.0], [0.01]
    clock = schedules.Clock(real=lambda: real[0], scale=lambda: scale[0])
    start = clock.now()
    real[0] += 3
    assert clock.now() - start == datetime.timedelta(seconds=300)
    scale[0] = 1.0
    real[0] += 3
    assert clock.now() - start == datetime.timedelta(seconds=303)


def test_events_select_and_render_follow_eventbridge_rules() -> None:
    event = {"detail": {"object": {"key": "a\\b", "version-id": "v1", "parts": [1, 2]}}}
    assert events.select(event, "$.detail.object.version-id") == "v1"
    assert events.select(event, "$.detail.object['version-id']") == "v1"
    assert events.select(event, "$.detail.object.parts[1]") == 2
    assert events.select(event, "$.detail.missing.key") is None
    values = {"key": 'k"1', "n": 2, "o": {"a": [1]}}
    assert json.loads(events.render('{"k": <key>, "n": <n>, "o": <o>, "s": "<key>/<n>"}', values)) == {
        "k": 'k"1',
        "n": 2,
        "o": {"a": [1]},
        "s": 'k"1/2',
    }
    assert events.render("<key> has <n> parts <unknown>", values) == 'k"1 has 2 parts <unknown>'


class _FakeClock(schedules.Clock):
    def __init__(self, start: datetime.datetime) -> None:
        self.moment = start

    def now(self) -> datetime.datetime:
        return self.moment


def test_schedules_scheduler_fires_when_due_once_per_period_and_obeys_state_and_dates() -> None:
    clock = _FakeClock(T0)
    fired: list[str] = []
    state = {"enabled": True}
    owner, once, bounded = object(), object(), object()  # a new object would be a new schedule
    completed: list[str] = []

    def source() -> Any:
        yield schedules.Due(
            ("rule", "every-5"), owner, "rate(5 minutes)", None, state["enabled"], lambda: fired.append("rate")
        )
        yield schedules.Due(
            ("schedule", "once"),
            once,
            "at(2026-03-05T10:20:00)",
            None,
            True,
            lambda: fired.append("at"),
            after_completion=lambda: completed.append("at"),
        )
        yield schedules.Due(
            ("schedule", "bounded"),
            bounded,
            "cron(* * * * ? *)",
            None,
            True,
            lambda: fired.append("cron"),
            end=T0 + datetime.timedelta(minutes=1),
        )

    scheduler = schedules.Scheduler(clock=clock, sources=(source,))
    steps = []
    for minutes in (0, 1, 4, 5, 6, 12, 13):
        clock.moment = T0 + datetime.timedelta(minutes=minutes)
        if minutes == 6:
            state["enabled"] = False
        if minutes == 12:
            state["enabled"] = True  # counting restarts: next at 12 + 5 minutes
        fired.clear()
        scheduler.poll()
        steps.append((minutes, sorted(fired)))
    clock.moment = T0 + datetime.timedelta(minutes=17)
    fired.clear()
    scheduler.poll()
    steps.append((17, sorted(fired)))

    assert steps == [
        (0, []),
        (1, ["cron"]),
        (4, []),  # the bounded cron is past its EndDate
        (5, ["rate"]),
        (6, []),
        (12, []),
        (13, ["at"]),
        (17, ["rate"]),
    ]
    assert completed == ["at"]


def test_schedules_thread_stops_and_starts_again(aws: Running, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(schedules.TIME_SCALE_ENV, "0.005")
    machine = _machine(aws, "backup")
    schedules.stop()
    try:
        assert "qldb-dr-schedules" not in {t.name for t in threading.enumerate()}
        _rule(aws, "backup-every-rpo", [_target(machine)], ScheduleExpression="rate(1 minute)")
    finally:
        schedules.install()
    _inputs(aws, machine, 1)

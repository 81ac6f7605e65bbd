"""Put the manifest's schedules and rules in place through boto3 — what `qldb-dr local up`,
`qldb-dr backup schedule` and `qldb-dr standby` do; the CDK app declares the same ones."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from qldb_dr.aws import client as aws_client
from qldb_dr.errors import ServiceError
from qldb_dr.workflows.deployment import Workflow
from qldb_dr.workflows.manifest import Rule, Schedule, standby_rule, start_role


def put_schedule(scheduler: Any, schedule: Schedule, target_arn: str, role_arn: str, *, enabled: bool = True) -> None:
    """Create or update the schedule (idempotent)."""
    arguments = {
        "Name": schedule.name,
        "ScheduleExpression": schedule.expression,
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "Target": {"Arn": target_arn, "RoleArn": role_arn, "Input": schedule.input_json()},
        "State": "ENABLED" if enabled else "DISABLED",
        "Description": schedule.description,
    }
    try:
        try:
            scheduler.create_schedule(**arguments)
        except scheduler.exceptions.ConflictException:
            scheduler.update_schedule(**arguments)
    except (ClientError, BotoCoreError) as exc:
        raise ServiceError(f"cannot put the schedule {schedule.name}: {exc}") from exc


def schedule_state(scheduler: Any, name: str) -> dict[str, Any] | None:
    try:
        found: dict[str, Any] = scheduler.get_schedule(Name=name)
    except scheduler.exceptions.ResourceNotFoundException:
        return None
    return found


def put_rule(events: Any, rule: Rule, target_arn: str, role_arn: str, *, enabled: bool = True) -> None:
    """Create or update the rule and its one target (idempotent)."""
    try:
        events.put_rule(
            Name=rule.name,
            EventPattern=json.dumps(rule.pattern),
            State="ENABLED" if enabled else "DISABLED",
            Description=rule.description,
        )
        events.put_targets(
            Rule=rule.name,
            Targets=[
                {
                    "Id": rule.state_machine,
                    "Arn": target_arn,
                    "RoleArn": role_arn,
                    "InputTransformer": {"InputPathsMap": rule.input_paths, "InputTemplate": rule.input_template},
                }
            ],
        )
    except (ClientError, BotoCoreError) as exc:
        raise ServiceError(f"cannot put the rule {rule.name}: {exc}") from exc


def start_role_arn(region: str) -> str:
    """The ARN of the role rules and schedules start the workflows with, in this account."""
    try:
        account = aws_client("sts", region).get_caller_identity()["Account"]
    except (ClientError, BotoCoreError) as exc:
        raise ServiceError(f"cannot tell this account (sts get-caller-identity in {region}): {exc}") from exc
    return f"arn:aws:iam::{account}:role/{start_role(region)}"


def put_standby(
    restore: Workflow, bucket: str, prefix: str, ledger: str, target: str, mode: str, *, enabled: bool = True
) -> Rule:
    """The warm standby of `ledger`: its rule in the restore's region, started with the start role."""
    rule = standby_rule(bucket, prefix, ledger, target, mode)
    put_rule(aws_client("events", restore.region), rule, restore.arn, start_role_arn(restore.region), enabled=enabled)
    return rule

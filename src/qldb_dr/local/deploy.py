"""What `qldb-dr local up` deploys on its own endpoint: the local counterpart of the CDK app.

* the vault pair: a primary bucket in the primary region and a DR bucket in the DR region,
  both versioned, Object Lock in COMPLIANCE mode with a default retention, default
  encryption, no public access; the primary replicates every object (tags and retention
  included) to the DR bucket, and the DR bucket sends its events to EventBridge;
* the task functions (one per module in tasks/) in both regions, each told its region's
  vault and the export role through environment variables;
* the workflows from statemachines/ in both regions, named and tagged as the CDK app names
  and tags them, so the CLI finds them the same way on AWS and locally;
* the warm-standby trigger: an EventBridge rule in the DR region that starts the Restore
  workflow for every catalog object arriving in the DR vault.

Everything is created through boto3 against the endpoint, exactly as a deployer would.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

import qldb_dr
from qldb_dr.errors import QldbDrError
from qldb_dr.local.aws.lambdas import deploy_function
from qldb_dr.workflows.deployment import VAULT_TAG

PRIMARY_REGION = "us-east-1"
DR_REGION = "us-west-2"
RETENTION_DAYS = 1  # locally; the CDK app's default is 35 days

# The ASL placeholder each task function fills, and the handler it runs.
FUNCTIONS = {
    "PlanExportWindowFunction": "tasks.plan_export_window.handler",
    "StartExportFunction": "tasks.start_export.handler",
    "DescribeExportFunction": "tasks.describe_export.handler",
    "VerifyExportFunction": "tasks.verify_export.handler",
    "RecordRecoveryPointFunction": "tasks.record_recovery_point.handler",
    "PlanRestoreFunction": "tasks.plan_restore.handler",
    "PrepareTargetFunction": "tasks.prepare_target.handler",
    "PartitionExportFunction": "tasks.partition_export.handler",
    "ReplayPartitionFunction": "tasks.replay_partition.handler",
    "VerifyRestoreFunction": "tasks.verify_restore.handler",
    "WriteReportFunction": "tasks.write_report.handler",
}
# State machine name -> ASL file, deployed in every region.
WORKFLOWS = {"qldb-dr-backup": "backup.asl.json", "qldb-dr-restore": "restore.asl.json"}
STANDBY_RULE = "qldb-dr-standby"


def statemachines_dir() -> Path:
    return Path(qldb_dr.__file__).resolve().parents[2] / "statemachines"


def function_name(placeholder: str) -> str:
    """PlanExportWindowFunction -> qldb-dr-plan-export-window."""
    words = re.findall(r"[A-Z][a-z]*", placeholder.removesuffix("Function"))
    return "qldb-dr-" + "-".join(w.lower() for w in words)


@dataclass
class Deployment:
    primary_region: str
    dr_region: str
    buckets: dict[str, str] = field(default_factory=dict)  # region -> vault bucket
    workflows: dict[str, str] = field(default_factory=dict)  # "<name> <region>" -> ARN

    def to_json(self) -> dict[str, Any]:
        return {
            "primaryRegion": self.primary_region,
            "drRegion": self.dr_region,
            "vaults": dict(self.buckets),
            "workflows": dict(self.workflows),
            "standbyRule": STANDBY_RULE,
        }

    def describe(self) -> str:
        primary, dr = self.buckets[self.primary_region], self.buckets[self.dr_region]
        return (
            f"vault: s3://{primary} ({self.primary_region}) replicating to s3://{dr} ({self.dr_region})\n"
            f"workflows: {', '.join(sorted({k.split()[0] for k in self.workflows}))} in "
            f"{self.primary_region} and {self.dr_region}\n"
        )


def deploy(
    url: str, *, primary: str = PRIMARY_REGION, dr: str = DR_REGION, retention_days: int = RETENTION_DAYS
) -> Deployment:
    def client(service: str, region: str) -> Any:
        make: Any = boto3.client  # the stubs know no qldb; this deploys by name
        return make(
            service, region_name=region, endpoint_url=url, aws_access_key_id="local", aws_secret_access_key="local"
        )

    account = client("sts", primary).get_caller_identity()["Account"]
    deployment = Deployment(primary, dr)
    iam = client("iam", primary)
    export_role = _role(iam, "qldb-dr-export", "qldb.amazonaws.com")
    replication_role = _role(iam, "qldb-dr-replication", "s3.amazonaws.com")
    states_role = _role(iam, "qldb-dr-workflows", "states.amazonaws.com")
    for region in (dr, primary):  # the DR bucket first: replication needs its destination
        bucket = f"qldb-dr-vault-{account}-{region}"
        deployment.buckets[region] = bucket
        _vault_bucket(client("s3", region), bucket, region, retention_days)
    s3 = client("s3", primary)
    s3.put_bucket_replication(
        Bucket=deployment.buckets[primary],
        ReplicationConfiguration={
            "Role": replication_role,
            "Rules": [
                {
                    "ID": "to-dr-region",
                    "Status": "Enabled",
                    "Priority": 1,
                    "Filter": {"Prefix": ""},
                    "DeleteMarkerReplication": {"Status": "Disabled"},
                    "Destination": {"Bucket": f"arn:aws:s3:::{deployment.buckets[dr]}"},
                }
            ],
        },
    )
    client("s3", dr).put_bucket_notification_configuration(
        Bucket=deployment.buckets[dr], NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    for region in (primary, dr):
        environment = {"QLDB_DR_VAULT_BUCKET": deployment.buckets[region], "QLDB_DR_EXPORT_ROLE_ARN": export_role}
        lam = client("lambda", region)
        arns = {
            placeholder: deploy_function(
                lam, function_name(placeholder), handler, environment, timeout=900, iam=client("iam", region)
            )
            for placeholder, handler in FUNCTIONS.items()
        }
        sfn = client("stepfunctions", region)
        for name, file in WORKFLOWS.items():
            definition = _definition(statemachines_dir() / file, arns)
            deployment.workflows[f"{name} {region}"] = _state_machine(
                sfn, name, definition, states_role, {VAULT_TAG: deployment.buckets[region]}
            )
    _standby_rule(
        client("events", dr), deployment.buckets[dr], deployment.workflows[f"qldb-dr-restore {dr}"], states_role
    )
    return deployment


def _standby_rule(events: Any, bucket: str, restore_arn: str, role: str) -> None:
    pattern = {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        # recovery points only (`<prefix><ledger>/catalog/<window>.json`), not the objects restores write
        "detail": {"bucket": {"name": [bucket]}, "object": {"key": [{"wildcard": "*/catalog/*.json"}]}},
    }
    events.put_rule(
        Name=STANDBY_RULE,
        EventPattern=json.dumps(pattern),
        State="ENABLED",
        Description="a recovery point arrived in the DR vault: catch its standby up",
    )
    events.put_targets(
        Rule=STANDBY_RULE,
        Targets=[
            {
                "Id": "restore",
                "Arn": restore_arn,
                "RoleArn": role,
                "InputTransformer": {
                    "InputPathsMap": {"key": "$.detail.object.key"},
                    "InputTemplate": '{"catalogKey": <key>}',
                },
            }
        ],
    )


def _role(iam: Any, name: str, service: str) -> str:
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
    )
    try:
        arn: str = iam.get_role(RoleName=name)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    return arn


def _vault_bucket(s3: Any, bucket: str, region: str, retention_days: int) -> None:
    try:
        arguments: dict[str, Any] = {"Bucket": bucket, "ObjectLockEnabledForBucket": True}
        if region != "us-east-1":
            arguments["CreateBucketConfiguration"] = {"LocationConstraint": region}
        s3.create_bucket(**arguments)
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object_lock_configuration(
        Bucket=bucket,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": retention_days}},
        },
    )
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}]
        },
    )
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )


def _definition(path: Path, arns: dict[str, str]) -> str:
    try:
        text = path.read_text()
    except OSError as exc:
        raise QldbDrError(
            f"{path}: cannot read the workflow ({exc.strerror})",
            hint="run qldb-dr from a checkout of the project (statemachines/ is beside src/)",
        ) from exc
    missing = set(re.findall(r"\$\{(\w+)\}", text)) - arns.keys()
    if missing:
        raise QldbDrError(f"{path.name} uses placeholders no function fills: {', '.join(sorted(missing))}")
    return re.sub(r"\$\{(\w+)\}", lambda m: arns[m.group(1)], text)


def _state_machine(sfn: Any, name: str, definition: str, role: str, tags: dict[str, str]) -> str:
    for page in sfn.get_paginator("list_state_machines").paginate():
        for machine in page["stateMachines"]:
            if machine["name"] == name:
                sfn.update_state_machine(
                    stateMachineArn=machine["stateMachineArn"], definition=definition, roleArn=role
                )
                arn: str = machine["stateMachineArn"]
                break
        else:
            continue
        break
    else:
        arn = sfn.create_state_machine(name=name, definition=definition, roleArn=role, type="STANDARD")[
            "stateMachineArn"
        ]
    sfn.tag_resource(resourceArn=arn, tags=[{"key": k, "value": v} for k, v in tags.items()])
    return arn

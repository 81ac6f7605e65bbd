"""What `qldb-dr local up` deploys on its own endpoint: the manifest (`workflows.manifest`),
as the CDK app deploys it on AWS, through boto3 as a deployer would.

* per region, a vault key (KMS, alias `alias/qldb-dr-vault`) and a vault bucket: versioned,
  Object Lock in COMPLIANCE mode with a default retention, SSE-KMS with the key, no public
  access; the primary replicates every object (tags and retention included, re-encrypted with
  the DR key) to the DR bucket, and the DR bucket sends its events to EventBridge;
* per region, the export role QLDB assumes and the role schedules and rules start workflows
  with;
* the manifest's functions and both workflows in both regions, named and tagged as the CDK app
  names and tags them, so the CLI finds them the same way on AWS and locally;
* the configuration's schedules (a backup per ledger at its RPO, an intermediate ledger's
  preload) and rules (a warm standby's) — none without a configuration (`--config`).

What the local endpoint cannot do and the CDK app does: IAM policies (moto does not enforce
them), alarms, log groups and X-Ray.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

import boto3

from qldb_dr.errors import InvalidInputError
from qldb_dr.local.aws.lambdas import deploy_function
from qldb_dr.workflows.config import VAULT_KEY_ALIAS, DeploymentConfig
from qldb_dr.workflows.deployment import RESTORE, VAULT_TAG
from qldb_dr.workflows.manifest import (
    TAGS,
    Manifest,
    Region,
    Setting,
    export_role,
    manifest,
    start_role,
    state_machine,
    vault_bucket,
)
from qldb_dr.workflows.triggers import put_rule, put_schedule

LOCAL_RETENTION_DAYS = 1  # locally; the CDK app's default is the configuration's (35 days)


@dataclass
class Deployment:
    primary_region: str
    dr_region: str
    buckets: dict[str, str] = field(default_factory=dict)  # region -> vault bucket
    keys: dict[str, str] = field(default_factory=dict)  # region -> vault key ARN
    workflows: dict[str, str] = field(default_factory=dict)  # "<name> <region>" -> ARN
    schedules: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)

    def region(self, role: Region) -> str:
        return self.primary_region if role is Region.PRIMARY else self.dr_region

    def to_json(self) -> dict[str, Any]:
        return {
            "primaryRegion": self.primary_region,
            "drRegion": self.dr_region,
            "vaults": dict(self.buckets),
            "workflows": dict(self.workflows),
            "schedules": list(self.schedules),
            "rules": list(self.rules),
        }

    def describe(self) -> str:
        primary, dr = self.buckets[self.primary_region], self.buckets[self.dr_region]
        text = (
            f"vault: s3://{primary} ({self.primary_region}) replicating to s3://{dr} ({self.dr_region})\n"
            f"workflows: {', '.join(sorted({k.split()[0] for k in self.workflows}))} in "
            f"{self.primary_region} and {self.dr_region}\n"
        )
        if self.schedules or self.rules:
            text += f"schedules and rules: {', '.join(self.schedules + self.rules)}\n"
        return text


def local_config(
    base: DeploymentConfig | None = None,
    *,
    primary: str | None = None,
    dr: str | None = None,
    retention_days: int | None = None,
) -> DeploymentConfig:
    """What `local up` deploys: its `--config` (default: no ledgers and a short retention),
    with the flags given on top."""
    config = base or DeploymentConfig(retention_days=LOCAL_RETENTION_DAYS)
    changes: dict[str, Any] = {}
    if primary is not None:
        changes["primary_region"] = primary
    if dr is not None:
        changes["dr_region"] = dr
    if retention_days is not None:
        changes["retention_days"] = retention_days
    config = replace(config, **changes)
    if config.primary_region == config.dr_region:
        raise InvalidInputError(f"the primary and the DR region are both {config.dr_region}")
    return config


def deploy(url: str, config: DeploymentConfig | None = None) -> Deployment:
    config = config or local_config()
    plan = manifest(config)

    def client(service: str, region: str) -> Any:
        make: Any = boto3.client  # the stubs know no qldb; this deploys by name
        return make(
            service, region_name=region, endpoint_url=url, aws_access_key_id="local", aws_secret_access_key="local"
        )

    primary, dr = config.primary_region, config.dr_region
    account = client("sts", primary).get_caller_identity()["Account"]
    deployment = Deployment(primary, dr)
    iam = client("iam", primary)
    for region in (dr, primary):  # the DR bucket first: replication needs its destination
        deployment.keys[region] = _vault_key(client("kms", region))
        bucket = vault_bucket(account, region)
        deployment.buckets[region] = bucket
        _vault_bucket(client("s3", region), bucket, region, config.retention_days, deployment.keys[region])
    _replication(client("s3", primary), deployment, _role(iam, f"qldb-dr-replication-{primary}", "s3.amazonaws.com"))
    client("s3", dr).put_bucket_notification_configuration(
        Bucket=deployment.buckets[dr], NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    for role in (Region.PRIMARY, Region.DR):
        region = deployment.region(role)
        _workflows(client, plan, deployment, region, account)
        starter = _role(iam, start_role(region), "events.amazonaws.com", "scheduler.amazonaws.com")
        scheduler = client("scheduler", region)
        for schedule in plan.in_region(role):
            put_schedule(scheduler, schedule, deployment.workflows[f"{schedule.state_machine} {region}"], starter)
            deployment.schedules.append(f"{schedule.name} ({region})")
    starter = _role(iam, start_role(dr), "events.amazonaws.com", "scheduler.amazonaws.com")
    for rule in plan.rules(deployment.buckets[dr]):
        put_rule(client("events", dr), rule, deployment.workflows[f"{rule.state_machine} {dr}"], starter)
        deployment.rules.append(f"{rule.name} ({dr})")
    return deployment


def _workflows(client: Any, plan: Manifest, deployment: Deployment, region: str, account: str) -> None:
    values = {
        Setting.VAULT_BUCKET: deployment.buckets[region],
        Setting.VAULT_PREFIX: plan.config.vault_prefix,
        Setting.EXPORT_ROLE: _role(client("iam", region), export_role(region), "qldb.amazonaws.com"),
        Setting.VAULT_KEY: deployment.keys[region],
        Setting.SETTLE_SECONDS: str(plan.config.settle_seconds),
        Setting.RESTORE_STATE_MACHINE: state_machine(RESTORE).arn(region, account),
    }
    lam = client("lambda", region)
    arns = {
        fn.placeholder: deploy_function(
            lam,
            fn.name,
            fn.handler,
            plan.environment(fn, values),
            timeout=fn.timeout_seconds,
            memory_mb=fn.memory_mb,
            iam=client("iam", region),
        )
        for fn in plan.functions
    }
    sfn = client("stepfunctions", region)
    roles = _role(client("iam", region), f"qldb-dr-workflows-{region}", "states.amazonaws.com")
    for machine in plan.state_machines:
        tags = {**TAGS, VAULT_TAG: deployment.buckets[region]}
        deployment.workflows[f"{machine.name} {region}"] = _state_machine(
            sfn, machine.name, state_machine(machine.name).definition(arns), roles, tags
        )


def _role(iam: Any, name: str, *services: str) -> str:
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": list(services)}, "Action": "sts:AssumeRole"}],
        }
    )
    try:
        arn: str = iam.get_role(RoleName=name)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    return arn


def _vault_key(kms: Any) -> str:
    for alias in kms.list_aliases()["Aliases"]:
        if alias["AliasName"] == VAULT_KEY_ALIAS and alias.get("TargetKeyId"):
            arn: str = kms.describe_key(KeyId=alias["TargetKeyId"])["KeyMetadata"]["Arn"]
            return arn
    key = kms.create_key(Description="qldb-dr vault: exports, recovery points, restores")["KeyMetadata"]
    kms.create_alias(AliasName=VAULT_KEY_ALIAS, TargetKeyId=key["KeyId"])
    arn = key["Arn"]
    return arn


def _vault_bucket(s3: Any, bucket: str, region: str, retention_days: int, key_arn: str) -> None:
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
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn},
                    "BucketKeyEnabled": True,
                }
            ]
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
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in TAGS.items()]})


def _replication(s3: Any, deployment: Deployment, role: str) -> None:
    dr = deployment.dr_region
    s3.put_bucket_replication(
        Bucket=deployment.buckets[deployment.primary_region],
        ReplicationConfiguration={
            "Role": role,
            "Rules": [
                {
                    "ID": "to-dr-region",
                    "Status": "Enabled",
                    "Priority": 1,
                    "Filter": {"Prefix": ""},
                    "DeleteMarkerReplication": {"Status": "Disabled"},
                    "SourceSelectionCriteria": {"SseKmsEncryptedObjects": {"Status": "Enabled"}},
                    "Destination": {
                        "Bucket": f"arn:aws:s3:::{deployment.buckets[dr]}",
                        "EncryptionConfiguration": {"ReplicaKmsKeyID": deployment.keys[dr]},
                    },
                }
            ],
        },
    )


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

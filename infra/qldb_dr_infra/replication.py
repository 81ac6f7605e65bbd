"""Replication of the primary vault into the DR vault: every object (exports, proofs, recovery
points, restore reports), with its tags and its Object Lock retention, re-encrypted with the DR
region's vault key; deletes never; across accounts with the owner overridden to the DR account;
Replication Time Control when asked for. Its metrics feed the replication-latency alarm.

The DR stack names nothing of the primary's and the primary names the DR's resources by their
deterministic names (bucket, key alias, role), so the two stacks need no cross-region
references — which CloudFormation cannot resolve — only a deploy order (DR first).
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from qldb_dr.workflows.config import VAULT_KEY_ALIAS, DeploymentConfig
from qldb_dr.workflows.manifest import vault_bucket

RULE_ID = "vault-to-dr-region"
THRESHOLD_MINUTES = 15  # S3 RTC's 15-minute promise; also the late-replication event threshold


def role_name(primary_region: str) -> str:
    return f"qldb-dr-replication-{primary_region}"


def dr_account(config: DeploymentConfig, stack: Stack) -> str:
    return config.dr_account or stack.account


def dr_bucket_name(config: DeploymentConfig, stack: Stack) -> str:
    return vault_bucket(dr_account(config, stack), config.dr_region)


class Replication(Construct):
    """Configures the primary vault `bucket` (encrypted with `key_arn`) to replicate to the DR vault."""

    def __init__(self, scope: Construct, id: str, *, config: DeploymentConfig, bucket: s3.Bucket, key_arn: str) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        account = dr_account(config, stack)
        destination = f"arn:aws:s3:::{dr_bucket_name(config, stack)}"
        replica_key = f"arn:aws:kms:{config.dr_region}:{account}:{VAULT_KEY_ALIAS}"
        self.role = iam.Role(
            self,
            "Role",
            role_name=role_name(stack.region),
            description="S3 assumes this role to replicate the vault to the DR region",
            assumed_by=iam.ServicePrincipal(
                "s3.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": stack.account}}
            ),
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetReplicationConfiguration", "s3:ListBucket"], resources=[bucket.bucket_arn]
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "s3:GetObjectVersionForReplication",
                    "s3:GetObjectVersionAcl",
                    "s3:GetObjectVersionTagging",
                    "s3:GetObjectRetention",
                    "s3:GetObjectLegalHold",
                ],
                resources=[bucket.arn_for_objects("*")],
            )
        )
        replicate = ["s3:ReplicateObject", "s3:ReplicateTags"]  # never s3:ReplicateDelete
        if config.cross_account:
            replicate.append("s3:ObjectOwnerOverrideToBucketOwner")
        self.role.add_to_policy(iam.PolicyStatement(actions=replicate, resources=[f"{destination}/*"]))
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt"],
                resources=[key_arn],
                conditions={"StringLike": {"kms:ViaService": f"s3.{stack.region}.amazonaws.com"}},
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["kms:Encrypt", "kms:GenerateDataKey"],
                resources=[f"arn:aws:kms:{config.dr_region}:{account}:key/*"],
                conditions={
                    "ForAnyValue:StringEquals": {"kms:ResourceAliases": VAULT_KEY_ALIAS},
                    "StringLike": {"kms:ViaService": f"s3.{config.dr_region}.amazonaws.com"},
                },
            )
        )
        rtc = config.replication_time_control
        destination_property = s3.CfnBucket.ReplicationDestinationProperty(
            bucket=destination,
            account=account if config.cross_account else None,
            access_control_translation=(
                s3.CfnBucket.AccessControlTranslationProperty(owner="Destination") if config.cross_account else None
            ),
            encryption_configuration=s3.CfnBucket.EncryptionConfigurationProperty(replica_kms_key_id=replica_key),
            metrics=s3.CfnBucket.MetricsProperty(
                status="Enabled",
                event_threshold=s3.CfnBucket.ReplicationTimeValueProperty(minutes=THRESHOLD_MINUTES),
            ),
            replication_time=(
                s3.CfnBucket.ReplicationTimeProperty(
                    status="Enabled", time=s3.CfnBucket.ReplicationTimeValueProperty(minutes=THRESHOLD_MINUTES)
                )
                if rtc
                else None
            ),
        )
        cfn = bucket.node.default_child
        assert isinstance(cfn, s3.CfnBucket)
        cfn.replication_configuration = s3.CfnBucket.ReplicationConfigurationProperty(
            role=self.role.role_arn,
            rules=[
                s3.CfnBucket.ReplicationRuleProperty(
                    id=RULE_ID,
                    status="Enabled",
                    priority=1,
                    filter=s3.CfnBucket.ReplicationRuleFilterProperty(prefix=config.vault_prefix),
                    delete_marker_replication=s3.CfnBucket.DeleteMarkerReplicationProperty(status="Disabled"),
                    source_selection_criteria=s3.CfnBucket.SourceSelectionCriteriaProperty(
                        sse_kms_encrypted_objects=s3.CfnBucket.SseKmsEncryptedObjectsProperty(status="Enabled")
                    ),
                    destination=destination_property,
                )
            ],
        )
        self.destination = destination


def allow_from_primary(config: DeploymentConfig, dr_stack: Stack, bucket: s3.Bucket, key: kms.Key) -> None:
    """In the DR stack of a cross-account deployment: the primary account's replication role may
    write replicas into this vault and encrypt them with its key."""
    if not config.cross_account:
        return
    primary_account = config.account or dr_stack.account
    role = iam.ArnPrincipal(f"arn:aws:iam::{primary_account}:role/{role_name(config.primary_region)}")
    bucket.add_to_resource_policy(
        iam.PolicyStatement(
            sid="ReplicationFromPrimary",
            principals=[role],
            actions=["s3:ReplicateObject", "s3:ReplicateTags", "s3:ObjectOwnerOverrideToBucketOwner"],
            resources=[bucket.arn_for_objects("*")],
        )
    )
    bucket.add_to_resource_policy(
        iam.PolicyStatement(
            sid="ReplicationConfigurationFromPrimary",
            principals=[role],
            actions=["s3:ListBucket", "s3:GetBucketVersioning"],
            resources=[bucket.bucket_arn],
        )
    )
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="ReplicaEncryptionFromPrimary",
            principals=[role],
            actions=["kms:Encrypt", "kms:GenerateDataKey"],
            resources=["*"],  # in a key policy, "*" is this key
        )
    )

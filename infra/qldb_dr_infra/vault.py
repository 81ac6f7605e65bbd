"""A region's vault: its key and its bucket — versioned, Object Lock in COMPLIANCE mode with a
default retention, SSE-KMS with the customer key, no public access, TLS only, no deletes,
colder storage for old exports, server access logs — and the role QLDB exports with."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from qldb_dr.workflows.config import VAULT_KEY_ALIAS, DeploymentConfig
from qldb_dr.workflows.manifest import export_role, vault_bucket

# Only data objects are worth moving: S3 Glacier Instant Retrieval bills at least 128 KB an
# object, and catalog objects, proofs and manifests are a few KB. Instant Retrieval keeps a
# restore's reads immediate (a restore must not wait hours on an archive tier).
COLD_MINIMUM_SIZE = 128 * 1024


class Vault(Construct):
    def __init__(self, scope: Construct, id: str, *, config: DeploymentConfig, events: bool) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        self.key = kms.Key(
            self,
            "Key",
            alias=VAULT_KEY_ALIAS,
            description="qldb-dr vault: exports, recovery points, restores",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,  # S3 server access logging writes SSE-S3 only
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(expiration=Duration.days(365), noncurrent_version_expiration=Duration.days(30))
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
        lifecycle = []
        if config.cold_after_days is not None:
            lifecycle.append(
                s3.LifecycleRule(
                    id="exports-to-instant-retrieval",
                    object_size_greater_than=COLD_MINIMUM_SIZE,
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
                            transition_after=Duration.days(config.cold_after_days),
                        )
                    ],
                    noncurrent_version_transitions=[
                        s3.NoncurrentVersionTransition(
                            storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
                            transition_after=Duration.days(config.cold_after_days),
                        )
                    ],
                )
            )
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            bucket_name=vault_bucket(stack.account, stack.region),
            versioned=True,
            object_lock_enabled=True,
            object_lock_default_retention=s3.ObjectLockRetention.compliance(Duration.days(config.retention_days)),
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="vault/",
            lifecycle_rules=lifecycle,
            transition_default_minimum_object_size=s3.TransitionDefaultMinimumObjectSize.ALL_STORAGE_CLASSES_128_K,
            removal_policy=RemovalPolicy.RETAIN,
        )
        cfn = self.bucket.node.default_child
        assert isinstance(cfn, s3.CfnBucket)
        if lifecycle:  # CloudFormation's schema says a string; CDK writes a number
            cfn.add_property_override("LifecycleConfiguration.Rules.0.ObjectSizeGreaterThan", str(COLD_MINIMUM_SIZE))
        if events:
            # Set on the bucket itself: the L2's event_bridge_enabled deploys a custom-resource
            # Lambda (with an AWS managed policy) to do the same.
            cfn.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
                event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(event_bridge_enabled=True)
            )
        # Nobody deletes from the vault: not a version (Object Lock refuses that within the
        # retention anyway), not even a delete marker, which would hide the newest version from
        # a plain read. Old exports leave only by a deliberate change of this policy.
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="DenyDeletes",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["s3:DeleteObject", "s3:DeleteObjectVersion", "s3:BypassGovernanceRetention"],
                resources=[self.bucket.arn_for_objects("*")],
            )
        )
        self.export_role = iam.Role(
            self,
            "ExportRole",
            role_name=export_role(stack.region),
            description="QLDB assumes this role to write journal exports into the vault",
            assumed_by=iam.ServicePrincipal(
                "qldb.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {"aws:SourceArn": f"arn:aws:qldb:{stack.region}:{stack.account}:*"},
                },
            ),
        )
        self.prefix = config.vault_prefix

    def allow_exports(self, ledgers: tuple[str, ...]) -> None:
        """QLDB may write the exports of these ledgers, under their journal prefixes only."""
        journal = [self.bucket.arn_for_objects(f"{self.prefix}{ledger}/journal/*") for ledger in ledgers]
        self.export_role.add_to_policy(
            iam.PolicyStatement(actions=["s3:PutObject", "s3:PutObjectAcl"], resources=journal)
        )
        self.export_role.add_to_policy(
            iam.PolicyStatement(actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[self.key.key_arn])
        )

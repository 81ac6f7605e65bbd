"""A region's alarms, each notifying one SNS topic (KMS-encrypted, TLS only):

* a workflow execution failed or timed out (backup or restore, any execution);
* a ledger's backups are stale — no recovery point recorded within 2 × its RPO (the metric
  Record Recovery Point emits; no data is a breach: a backup that stopped running emits none);
* a restore of a ledger did not verify (the metric Write Report emits);
* (primary) replication to the DR vault is late or failing.
"""

from __future__ import annotations

import math

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from qldb_dr.workflows.config import DeploymentConfig, LedgerConfig
from qldb_dr.workflows.manifest import (
    DRILL_FAILED_METRIC,
    METRIC_DIMENSIONS,
    METRICS_NAMESPACE,
    RECOVERY_POINT_METRIC,
    RESTORE_FAILED_METRIC,
)

DAY_SECONDS = 86400


class Alarms(Construct):
    def __init__(self, scope: Construct, id: str, *, config: DeploymentConfig) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        self.key = kms.Key(
            self,
            "Key",
            description="qldb-dr alarms: the SNS topic's key",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        # CloudWatch publishes alarms to the encrypted topic with this key.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=["*"],  # in a key policy, "*" is this key
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            )
        )
        self.topic = sns.Topic(
            self,
            "Topic",
            topic_name="qldb-dr-alarms",
            display_name="qldb-dr alarms",
            master_key=self.key,
            enforce_ssl=True,
        )
        for address in config.alarm_emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(address))
        self.action = actions.SnsAction(self.topic)
        self.alarms: list[cloudwatch.Alarm] = []

    def _add(self, id: str, **properties: object) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(self, id, **properties)  # type: ignore[arg-type]
        alarm.add_alarm_action(self.action)
        self.alarms.append(alarm)
        return alarm

    def workflow(self, machine: sfn.StateMachine, name: str) -> None:
        for metric, what in (("ExecutionsFailed", "failed"), ("ExecutionsTimedOut", "timed out")):
            self._add(
                f"{name}-{metric}",
                alarm_name=f"{name}-{metric}-{Stack.of(self).region}",
                alarm_description=f"an execution of {name} {what}: see its execution history and report",
                metric=cloudwatch.Metric(
                    namespace="AWS/States",
                    metric_name=metric,
                    dimensions_map={"StateMachineArn": machine.state_machine_arn},
                    statistic="Sum",
                    period=Duration.minutes(5),
                ),
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )

    def staleness(self, ledger: LedgerConfig) -> None:
        window = 2 * ledger.rpo_minutes * 60
        period = min(window, DAY_SECONDS)
        self._add(
            f"{ledger.name}-stale",
            alarm_name=f"qldb-dr-backup-stale-{ledger.name}",
            alarm_description=(
                f"no recovery point of {ledger.name} recorded within 2 x its RPO ({2 * ledger.rpo_minutes} min): "
                "backups are failing or not running"
            ),
            metric=cloudwatch.Metric(
                namespace=METRICS_NAMESPACE,
                metric_name=RECOVERY_POINT_METRIC,
                dimensions_map={"Ledger": ledger.name, **METRIC_DIMENSIONS},
                statistic="Sum",
                period=Duration.seconds(period),
            ),
            threshold=1,
            evaluation_periods=math.ceil(window / period),
            comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
        )

    def restore(self, ledger: LedgerConfig) -> None:
        self._add(
            f"{ledger.name}-restore-failed",
            alarm_name=f"qldb-dr-restore-failed-{ledger.name}-{Stack.of(self).region}",
            alarm_description=f"a restore of {ledger.name} did not verify: see its report (qldb-dr restore report)",
            metric=cloudwatch.Metric(
                namespace=METRICS_NAMESPACE,
                metric_name=RESTORE_FAILED_METRIC,
                dimensions_map={"SourceLedger": ledger.name, **METRIC_DIMENSIONS},
                statistic="Sum",
                period=Duration.minutes(5),
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

    def drill(self, ledger: LedgerConfig) -> None:
        self._add(
            f"{ledger.name}-drill-failed",
            alarm_name=f"qldb-dr-drill-failed-{ledger.name}-{Stack.of(self).region}",
            alarm_description=(
                f"a drill of {ledger.name} did not verify its restore: the recovery it rehearsed would not have "
                f"worked; see its report in the vault ({ledger.name}/drills/)"
            ),
            metric=cloudwatch.Metric(
                namespace=METRICS_NAMESPACE,
                metric_name=DRILL_FAILED_METRIC,
                dimensions_map={"Ledger": ledger.name, **METRIC_DIMENSIONS},
                statistic="Sum",
                period=Duration.minutes(5),
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

    def replication(self, source_bucket: str, destination_bucket: str, rule_id: str, threshold_seconds: int) -> None:
        dimensions = {"SourceBucket": source_bucket, "DestinationBucket": destination_bucket, "RuleId": rule_id}
        self._add(
            "replication-latency",
            alarm_name="qldb-dr-replication-latency",
            alarm_description=(
                f"objects reach the DR vault more than {threshold_seconds} s after they are written: "
                "the DR region's recovery points fall behind"
            ),
            metric=cloudwatch.Metric(
                namespace="AWS/S3",
                metric_name="ReplicationLatency",
                dimensions_map=dimensions,
                statistic="Maximum",
                period=Duration.minutes(5),
            ),
            threshold=threshold_seconds,
            evaluation_periods=2,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self._add(
            "replication-failed",
            alarm_name="qldb-dr-replication-failed",
            alarm_description="objects failed to replicate to the DR vault (check the replication role and the DR key)",
            metric=cloudwatch.Metric(
                namespace="AWS/S3",
                metric_name="OperationsFailedReplication",
                dimensions_map=dimensions,
                statistic="Sum",
                period=Duration.minutes(5),
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

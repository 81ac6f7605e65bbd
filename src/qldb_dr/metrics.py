"""The custom metrics the workflows' alarms watch, in CloudWatch's embedded metric format.

A metric is one JSON line in the step's log (aws-lambda-powertools' `single_metric`), which
CloudWatch Logs turns into a data point: no PutMetricData call, so no IAM permission and no
latency. The names are the manifest's (`workflows.manifest`), where the CDK app's alarms read
them; on the local endpoint the line lands in the endpoint's log.
"""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from qldb_dr.workflows.manifest import (
    METRICS_NAMESPACE,
    RECOVERY_POINT_METRIC,
    RESTORE_FAILED_METRIC,
    RESTORE_VERIFIED_METRIC,
)


def _count(name: str, dimension: str, value: str) -> None:
    with single_metric(name=name, unit=MetricUnit.Count, value=1, namespace=METRICS_NAMESPACE) as metric:
        metric.add_dimension(name=dimension, value=value)


def recovery_point_recorded(ledger: str) -> None:
    """A recovery point of `ledger` is in the catalog (the staleness alarm's heartbeat)."""
    _count(RECOVERY_POINT_METRIC, "Ledger", ledger)


def restore_reported(source_ledger: str, status: str) -> None:
    """A restore of `source_ledger` ended: verified (OK, or SUPERSEDED by a later one that
    verifies) or not (the restore-failed alarm)."""
    verified = status in ("OK", "SUPERSEDED")
    _count(RESTORE_VERIFIED_METRIC if verified else RESTORE_FAILED_METRIC, "SourceLedger", source_ledger)

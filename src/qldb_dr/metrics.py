"""The custom metrics the workflows' alarms watch, in CloudWatch's embedded metric format.

A metric is one JSON line in the step's log (aws-lambda-powertools' `single_metric`), which
CloudWatch Logs turns into a data point: no PutMetricData call, so no IAM permission and no
latency. The names are the manifest's (`workflows.manifest`), where the CDK app's alarms read
them; on the local endpoint the line lands in the endpoint's log.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from qldb_dr.workflows.manifest import (
    DRILL_FAILED_METRIC,
    DRILL_RPO_METRIC,
    DRILL_RTO_METRIC,
    DRILL_VERIFIED_METRIC,
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


def drill_reported(ledger: str, report: dict[str, Any]) -> None:
    """A drill of `ledger` ended: verified or not (the drill-failed alarm), and the RPO and RTO
    it measured (seconds; absent when it did not get that far)."""
    _count(DRILL_VERIFIED_METRIC if report.get("status") == "OK" else DRILL_FAILED_METRIC, "Ledger", ledger)
    for name, measured in ((DRILL_RPO_METRIC, report.get("rpo")), (DRILL_RTO_METRIC, report.get("rto"))):
        seconds = (measured or {}).get("seconds")
        if seconds is not None:
            with single_metric(
                name=name, unit=MetricUnit.Seconds, value=float(seconds), namespace=METRICS_NAMESPACE
            ) as metric:
                metric.add_dimension(name="Ledger", value=ledger)

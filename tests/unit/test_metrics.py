"""The alarms' metrics are emitted as CloudWatch's embedded metric format, with the names and
dimensions the CDK app's alarms watch (both read them from the manifest)."""

from __future__ import annotations

import json

import pytest

from qldb_dr import metrics
from qldb_dr.workflows import manifest


@pytest.fixture(autouse=True)
def _in_a_function(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in a deployed function: the manifest's environment names the service."""
    for name, value in manifest.STATIC_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)


def _emitted(capsys: pytest.CaptureFixture[str]) -> list[tuple[str, str, dict[str, str]]]:
    found = []
    for line in capsys.readouterr().out.splitlines():
        record = json.loads(line)
        (directive,) = record["_aws"]["CloudWatchMetrics"]
        for metric in directive["Metrics"]:
            dimensions = {name: record[name] for group in directive["Dimensions"] for name in group}
            assert record[metric["Name"]] == 1.0 or record[metric["Name"]] == [1.0]
            found.append((directive["Namespace"], metric["Name"], dimensions))
    return found


def test_recovery_point_recorded_emits_the_staleness_heartbeat(capsys: pytest.CaptureFixture[str]) -> None:
    metrics.recovery_point_recorded("orders")
    [(namespace, name, dimensions)] = _emitted(capsys)
    assert (namespace, name) == (manifest.METRICS_NAMESPACE, manifest.RECOVERY_POINT_METRIC)
    assert dimensions == {"Ledger": "orders", **manifest.METRIC_DIMENSIONS}


@pytest.mark.parametrize(
    ("status", "metric"),
    [
        ("OK", manifest.RESTORE_VERIFIED_METRIC),
        ("SUPERSEDED", manifest.RESTORE_VERIFIED_METRIC),
        ("FAILURE", manifest.RESTORE_FAILED_METRIC),
    ],
)
def test_restore_reported_counts_verified_and_failed_restores_apart(
    capsys: pytest.CaptureFixture[str], status: str, metric: str
) -> None:
    metrics.restore_reported("orders", status)
    [(namespace, name, dimensions)] = _emitted(capsys)
    assert (namespace, name) == (manifest.METRICS_NAMESPACE, metric)
    assert dimensions == {"SourceLedger": "orders", **manifest.METRIC_DIMENSIONS}

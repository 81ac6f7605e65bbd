"""`qldb-dr drill` as a user runs it: a process of its own starting its own endpoint, a region
lost, the restore verified (after an injected batch failure, retried automatically), the RPO
and RTO measured and held to their budget; bad arguments refused in one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from qldb_dr.cli import local


def _drill(*argv: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    return subprocess.run(
        [sys.executable, "-m", "qldb_dr.cli.main", "drill", *argv],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
        env=env,
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--rpo", "0"], "--rpo must be a positive number of seconds, not 0"),
        (["--rpo", "-5"], "--rpo must be a positive number of seconds, not -5"),
        (["--rpo", "30", "--fail-after", "10"], "--fail-after 10 is shorter than one backup interval"),
        (["--rate", "0"], "--rate"),
    ],
)
def test_drill_with_bad_arguments_is_refused_in_one_line_without_starting_anything(
    argv: list[str], message: str, tmp_path: Path
) -> None:
    done = _drill(*argv, "--data-dir", str(tmp_path / "data"), timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "data").exists(), "a refused drill started an endpoint"


@pytest.mark.slow
def test_drill_with_an_injected_replay_failure_retries_verifies_and_meets_its_rpo(tmp_path: Path) -> None:
    rpo, fail_after = 4, 10
    done = _drill(
        "--rpo", str(rpo), "--fail-after", str(fail_after), "--rate", "10", "--inject-replay-failure",
        "--data-dir", str(tmp_path / "data"), "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["status"] == "OK"
    assert len(report["restore"]["executions"]) == 2, "the failed batch was retried by a second execution"
    assert {c["name"]: c["status"] for c in report["checks"]}.items() >= {
        "restore": "OK",
        "injected-fault": "OK",
        "lost-writes": "OK",
        "application": "OK",
        "primary-lost": "OK",
    }.items()
    settle = report["settings"]["settleSeconds"]
    assert 0 <= report["rpo"]["seconds"] <= rpo + settle + 10
    assert (
        report["rpo"]["lostTransactions"]
        == report["rpo"]["acknowledgedTransactions"] - report["rpo"]["restoredTransactions"]
    )
    assert report["rto"]["seconds"] > 0
    assert local.running(tmp_path / "data") is None, "the drill left its endpoint running"

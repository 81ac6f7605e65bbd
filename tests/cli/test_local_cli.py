"""`qldb-dr local up --detach` and `qldb-dr local down`, as a user runs them."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

import boto3
import pytest

from qldb_dr.cli.main import Environment, main


def run(*argv: str) -> tuple[int, str, str]:
    env = Environment(stdout=io.StringIO(), stderr=io.StringIO())
    code = main(list(argv), env)
    return code, env.stdout.getvalue(), env.stderr.getvalue()  # type: ignore[attr-defined]


def test_local_up_detach_serves_until_down(tmp_path: Path) -> None:
    data = tmp_path / "endpoint"
    code, out, err = run("local", "up", "--detach", "--port", "0", "--data-dir", str(data))
    assert code == 0, err
    match = re.search(r"AWS_ENDPOINT_URL=(http://127\.0\.0\.1:\d+)", out)
    assert match, out
    assert "local down" in out
    try:
        qldb = boto3.client("qldb", endpoint_url=match.group(1), region_name="us-east-1")
        assert qldb.list_ledgers()["Ledgers"] == []
        code, _, err = run("local", "up", "--detach", "--port", "0", "--data-dir", str(data))
        assert code == 2 and "already serves" in err  # one endpoint per data directory
    finally:
        code, out, _ = run("local", "down", "--data-dir", str(data))
    assert code == 0 and "stopped the local endpoint" in out
    assert not (data / "endpoint.json").exists()
    code, out, _ = run("local", "down", "--data-dir", str(data))
    assert code == 0 and "no local endpoint" in out


def test_local_up_port_in_use_one_line_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, _, err = run("local", "up", "--port", str(port), "--data-dir", str(tmp_path))
    assert code == 2 and "cannot listen on 127.0.0.1" in err and "Traceback" not in err


def test_local_up_workflows_call_their_own_endpoint_and_health_says_what_is_deployed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Started from a shell whose AWS_ENDPOINT_URL names a stale port, the endpoint's own task
    handlers still call the endpoint itself; once `up --detach` returns it is ready, and its
    health route says what is deployed."""
    import requests

    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("AWS_ENDPOINT_URL_STEPFUNCTIONS", "http://127.0.0.1:9")
    data = tmp_path / "endpoint"
    code, out, err = run("local", "up", "--detach", "--port", "0", "--data-dir", str(data))
    assert code == 0, err
    url = re.search(r"AWS_ENDPOINT_URL=(http://127\.0\.0\.1:\d+)", out).group(1)  # type: ignore[union-attr]
    try:
        health = requests.get(f"{url}/_qldb-dr/health", timeout=10).json()
        assert health["status"] == "ready" and "qldb-dr-restore us-west-2" in health["deployment"]["workflows"]
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        monkeypatch.delenv("AWS_ENDPOINT_URL_STEPFUNCTIONS")
        qldb = boto3.client("qldb", region_name="us-east-1")
        qldb.create_ledger(Name="stale", PermissionsMode="STANDARD")
        while qldb.describe_ledger(Name="stale")["State"] != "ACTIVE":
            time.sleep(0.05)
        code, out, err = run("backup", "run", "--ledger", "stale", "--settle-seconds", "0")
        assert code == 0 and "SUCCEEDED" in out, out + err
    finally:
        run("local", "down", "--data-dir", str(data))

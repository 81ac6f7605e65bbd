"""`qldb-dr local up --detach` and `qldb-dr local down`, as a user runs them."""

from __future__ import annotations

import io
import re
from pathlib import Path

import boto3

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

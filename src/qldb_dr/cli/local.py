"""`qldb-dr local up|down`: the local endpoint — QLDB, QLDB Session and the AWS services the DR
workflows use (S3, Step Functions, Lambda, IAM, STS, KMS, EventBridge, Logs) on one port."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from qldb_dr import logs
from qldb_dr.cli.environment import Environment, ExitStatus
from qldb_dr.errors import QldbDrError
from qldb_dr.local.deploy import LOCAL_RETENTION_DAYS, local_config
from qldb_dr.local.ledger.registry import ACTIVE_LEDGERS
from qldb_dr.workflows.config import DEFAULT_DR_REGION, DEFAULT_PRIMARY_REGION, DeploymentConfig

DEFAULT_PORT = 4566
START_SECONDS = 30  # how long `up --detach` waits for the endpoint to answer
STOP_SECONDS = 30  # how long `down` waits for it to exit after SIGTERM
PID_FILE = "endpoint.json"
LOG_FILE = "endpoint.log"


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "qldb-dr" / "local"


def register(commands: Any) -> None:
    local = commands.add_parser("local", help="run the local endpoint (no AWS account needed)")
    verbs = local.add_subparsers(dest="verb", metavar="VERB", required=True)
    up = verbs.add_parser(
        "up",
        help="serve the local endpoint on 127.0.0.1 (foreground until Ctrl-C, or --detach)",
        description="Serve QLDB, QLDB Session, S3, Step Functions, Lambda, IAM, STS, KMS, EventBridge and "
        "CloudWatch Logs on one port of 127.0.0.1. Clients need only AWS_ENDPOINT_URL and any credentials; "
        "the region comes from each request's credential scope.",
    )
    up.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port on 127.0.0.1 (default {DEFAULT_PORT})")
    _data_dir_argument(up)
    up.add_argument("--detach", action="store_true", help="run in the background; stop it with `local down`")
    up.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE",
        help="deploy this configuration (the CDK app's: infra/cdk.json, or a JSON file of its qldb-dr key): "
        "ledgers, strategies, RPOs — their schedules and standby rules",
    )
    up.add_argument(
        "--primary-region", default=None, help=f"the vault's primary region (default {DEFAULT_PRIMARY_REGION})"
    )
    up.add_argument("--dr-region", default=None, help=f"the replica vault's region (default {DEFAULT_DR_REGION})")
    up.add_argument(
        "--retention-days",
        type=int,
        default=None,
        help=f"Object Lock (compliance) retention of the vault buckets, in days (default {LOCAL_RETENTION_DAYS})",
    )
    up.add_argument(
        "--max-ledgers",
        type=int,
        default=ACTIVE_LEDGERS,
        help=f"ledgers per region, QLDB's default quota ({ACTIVE_LEDGERS})",
    )
    up.add_argument("--verbose", action="store_true", help="log every request")
    up.set_defaults(run=run_up)
    down = verbs.add_parser("down", help="stop the endpoint serving a data directory")
    _data_dir_argument(down)
    down.set_defaults(run=run_down)


def _data_dir_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir", type=Path, default=None, help=f"where ledgers live (default {default_data_dir()})"
    )


def _announce(env: Environment, port: int, data_dir: Path, detached: bool) -> None:
    stop = "`qldb-dr local down" + ("" if data_dir == default_data_dir() else f" --data-dir {data_dir}") + "`"
    env.stdout.write(
        f"qldb-dr local endpoint on http://127.0.0.1:{port} (data in {data_dir})\n"
        "Clients need:\n"
        f"  export AWS_ENDPOINT_URL=http://127.0.0.1:{port}\n"
        "  export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_DEFAULT_REGION=us-east-1\n"
        f"{stop + ' stops it' if detached else 'Ctrl-C stops it'}.\n"
    )
    env.stdout.flush()


def _alive(pid: int) -> bool:
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:  # our own child that has exited: reap it
            return False
    except ChildProcessError:
        pass  # not our child: its parent reaps it
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def running(data_dir: Path) -> dict[str, Any] | None:
    """The endpoint recorded for this data directory, if its process is alive."""
    try:
        record: dict[str, Any] = json.loads((data_dir / PID_FILE).read_text())
        pid = int(record["pid"])
    except (OSError, ValueError, KeyError):
        return None
    return record if _alive(pid) else None


def run_up(args: argparse.Namespace, env: Environment) -> int:
    if args.retention_days is not None and args.retention_days < 1:
        raise QldbDrError(f"--retention-days {args.retention_days}: give 1 or more")
    args.deployment = local_config(
        DeploymentConfig.from_file(args.config.absolute()) if args.config else None,
        primary=args.primary_region,
        dr=args.dr_region,
        retention_days=args.retention_days,
    )  # bad configuration fails here, before anything starts
    data_dir: Path = (args.data_dir or default_data_dir()).absolute()
    data_dir.mkdir(parents=True, exist_ok=True)
    serving = running(data_dir)
    if serving is not None:
        raise QldbDrError(
            f"an endpoint (pid {serving['pid']}) already serves {data_dir} on port {serving['port']}",
            hint="use it, or stop it with `qldb-dr local down`",
        )
    if args.detach:
        return _detach(args, env, data_dir)
    return _serve(args, env, data_dir)


def _detach(args: argparse.Namespace, env: Environment, data_dir: Path) -> int:
    record = spawn(
        data_dir,
        port=args.port,
        config=args.config,
        primary_region=args.primary_region,
        dr_region=args.dr_region,
        retention_days=args.retention_days,
        max_ledgers=args.max_ledgers,
        verbose=args.verbose,
    )
    env.stdout.write(record.get("deployment", ""))
    _announce(env, int(record["port"]), data_dir, detached=True)
    return ExitStatus.OK


def spawn(
    data_dir: Path,
    *,
    port: int = 0,
    config: Path | None = None,
    primary_region: str | None = None,
    dr_region: str | None = None,
    retention_days: int | None = None,
    max_ledgers: int = ACTIVE_LEDGERS,
    verbose: bool = False,
    environment: dict[str, str] | None = None,
) -> dict[str, Any]:
    """`local up` in the background over `data_dir` (port 0: a free one); its record (pid,
    port, what it deployed) once it is ready."""
    command = [
        sys.executable,
        "-m",
        "qldb_dr.cli.main",
        "local",
        "up",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--max-ledgers",
        str(max_ledgers),
    ]
    for flag, value in (
        ("--config", config and config.absolute()),
        ("--primary-region", primary_region),
        ("--dr-region", dr_region),
        ("--retention-days", retention_days),
    ):
        command += [flag, str(value)] if value is not None else []
    command += ["--verbose"] if verbose else []
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir / LOG_FILE
    with log.open("ab") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=out, stdin=subprocess.DEVNULL, start_new_session=True, env=environment
        )
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        record = running(data_dir)
        if record is not None and record["pid"] == process.pid:
            return record
        if process.poll() is not None:
            raise QldbDrError(f"the endpoint exited at start (status {process.returncode})", hint=f"see {log}")
        time.sleep(0.05)
    process.terminate()
    raise QldbDrError(f"the endpoint did not start within {START_SECONDS} s", hint=f"see {log}")


def _own_endpoint(url: str) -> None:
    """The workflows' task handlers run in this process and call AWS through boto3: they call
    this endpoint, whatever endpoint the shell that started it named (a stale port would fail
    every backup with "Could not connect"). Any credentials do; dummy ones if there are none."""
    for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL_")]:
        del os.environ[name]
    os.environ["AWS_ENDPOINT_URL"] = url
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")


def _serve(args: argparse.Namespace, env: Environment, data_dir: Path) -> int:
    import boto3

    from qldb_dr.local.aws.moto_app import moto_app
    from qldb_dr.local.deploy import deploy
    from qldb_dr.local.ledger.registry import Registry
    from qldb_dr.local.server.app import Endpoint
    from qldb_dr.local.server.serve import run_until_stopped, start

    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        stream=env.stderr,
        format="%(asctime)s %(levelname)s %(message)s",
    )
    logs.configure("DEBUG" if args.verbose else "INFO")  # its functions' steps: their CloudWatch, here
    endpoint = Endpoint(data_dir, registry=Registry(data_dir, max_ledgers=args.max_ledgers))
    try:
        server = start(endpoint, args.port)
    except OSError as exc:
        raise QldbDrError(
            f"cannot listen on 127.0.0.1:{args.port}: {exc.strerror}",
            hint="choose another --port, or stop what is using it",
        ) from exc
    port = server.port
    own_url = f"http://127.0.0.1:{port}"
    endpoint.fallback = moto_app(port)
    s3_url = os.environ.get("AWS_ENDPOINT_URL_S3") or own_url  # exports go to this endpoint's S3 by default
    _own_endpoint(own_url)
    endpoint.exports.s3_client = lambda region: boto3.client(
        "s3", region_name=region, endpoint_url=s3_url, aws_access_key_id="local", aws_secret_access_key="local"
    )
    pid_file = data_dir / PID_FILE

    def ready() -> None:
        deployment = deploy(own_url, args.deployment)
        endpoint.deployment = deployment.to_json()
        pid_file.write_text(json.dumps({"pid": os.getpid(), "port": port, "deployment": deployment.describe()}))
        env.stdout.write(deployment.describe())
        _announce(env, port, data_dir, detached=False)

    try:
        run_until_stopped(server, ready, endpoint.close)
    finally:
        pid_file.unlink(missing_ok=True)
    env.stdout.write("qldb-dr local endpoint stopped\n")
    return ExitStatus.OK


def run_down(args: argparse.Namespace, env: Environment) -> int:
    data_dir: Path = (args.data_dir or default_data_dir()).absolute()
    record = stop(data_dir)
    if record is None:
        env.stdout.write(f"no local endpoint serves {data_dir}\n")
    else:
        env.stdout.write(f"stopped the local endpoint on port {record['port']} (pid {record['pid']})\n")
    return ExitStatus.OK


def stop(data_dir: Path) -> dict[str, Any] | None:
    """Stop the endpoint serving `data_dir` (SIGTERM, then wait); its record, None if none ran."""
    record = running(data_dir)
    if record is None:
        return None
    pid = int(record["pid"])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    while time.monotonic() < deadline:
        if not _alive(pid):
            return record
        time.sleep(0.05)
    raise QldbDrError(f"the endpoint (pid {pid}) did not stop within {STOP_SECONDS} s", hint=f"kill -9 {pid}")

"""`qldb-dr local up`: the local endpoint — QLDB, QLDB Session and the AWS services the DR
workflows use (S3, Step Functions, Lambda, IAM, STS, KMS, EventBridge, Logs) on one port."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import Any

from qldb_dr.cli.main import Environment, ExitStatus
from qldb_dr.errors import QldbDrError

DEFAULT_PORT = 4566


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "qldb-dr" / "local"


def register(commands: Any) -> None:
    local = commands.add_parser("local", help="run the local endpoint (no AWS account needed)")
    verbs = local.add_subparsers(dest="verb", metavar="VERB", required=True)
    up = verbs.add_parser(
        "up",
        help="serve QLDB and QLDB Session on 127.0.0.1 in the foreground until Ctrl-C",
        description="Serve the local endpoint in the foreground. Clients need only AWS_ENDPOINT_URL and "
        "any credentials; the region comes from each request's credential scope.",
    )
    up.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port on 127.0.0.1 (default {DEFAULT_PORT})")
    up.add_argument("--data-dir", type=Path, default=None, help=f"where ledgers live (default {default_data_dir()})")
    up.add_argument("--verbose", action="store_true", help="log every request")
    up.set_defaults(run=run_up)


def run_up(args: argparse.Namespace, env: Environment) -> int:
    import boto3

    from qldb_dr.local.aws.moto_app import moto_app
    from qldb_dr.local.server.app import Endpoint
    from qldb_dr.local.server.serve import run_until_stopped, start

    data_dir: Path = args.data_dir or default_data_dir()
    data_dir.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        stream=env.stderr,
        format="%(asctime)s %(levelname)s %(message)s",
    )
    endpoint = Endpoint(data_dir)
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
    endpoint.exports.s3_client = lambda region: boto3.client(
        "s3", region_name=region, endpoint_url=s3_url, aws_access_key_id="local", aws_secret_access_key="local"
    )

    def announce() -> None:
        env.stdout.write(
            f"qldb-dr local endpoint on http://127.0.0.1:{port} (data in {data_dir})\n"
            "Clients need:\n"
            f"  export AWS_ENDPOINT_URL=http://127.0.0.1:{port}\n"
            "  export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_DEFAULT_REGION=us-east-1\n"
            "Ctrl-C stops it.\n"
        )
        env.stdout.flush()

    run_until_stopped(server, announce, endpoint.close)
    env.stdout.write("qldb-dr local endpoint stopped\n")
    return ExitStatus.OK

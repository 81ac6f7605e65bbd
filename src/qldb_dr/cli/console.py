"""`qldb-dr console`: the web console on localhost, beside the local endpoint or over AWS."""

from __future__ import annotations

import argparse
import json
import os
import signal
import tempfile
import threading
import urllib.request
from pathlib import Path
from typing import Any

from qldb_dr.cli import local
from qldb_dr.cli.environment import Environment, ExitStatus
from qldb_dr.errors import QldbDrError
from qldb_dr.workflows.config import DEFAULT_DR_REGION, DEFAULT_PRIMARY_REGION

DEFAULT_PORT = 4580


def register(commands: Any) -> None:
    console = commands.add_parser(
        "console",
        help="a web console on localhost: workflows as live graphs, restores, retries, drills",
        description="Serve the console on 127.0.0.1. It reads the local endpoint (AWS_ENDPOINT_URL, --endpoint-url, "
        "or the endpoint serving the default data directory) or, with none, AWS through your credentials. "
        "Drills need the local endpoint.",
    )
    console.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port on 127.0.0.1 ({DEFAULT_PORT})")
    console.add_argument("--endpoint-url", default=None, metavar="URL", help="the local endpoint (default: see above)")
    console.add_argument("--aws", action="store_true", help="read AWS even if a local endpoint is running")
    console.add_argument("--primary-region", default=DEFAULT_PRIMARY_REGION)
    console.add_argument("--dr-region", default=DEFAULT_DR_REGION)
    console.set_defaults(run=run_console)


def _local_endpoint(url: str) -> bool:
    """The URL is a qldb-dr local endpoint (it answers its health route)."""
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/_qldb-dr/health", timeout=5) as response:
            return bool(json.loads(response.read()).get("status") == "ready")
    except (OSError, ValueError):
        return False


def endpoint_of(args: argparse.Namespace) -> str | None:
    """The endpoint the console reads: given, in the environment, or the running local one."""
    if args.aws:
        return None
    url = args.endpoint_url or os.environ.get("AWS_ENDPOINT_URL")
    if url is None:
        record = local.running(local.default_data_dir())
        url = f"http://127.0.0.1:{record['port']}" if record else None
    return url


def run_console(args: argparse.Namespace, env: Environment) -> int:
    from qldb_dr.console.actions import Actions
    from qldb_dr.console.server import Console, Server
    from qldb_dr.console.views import Reader

    url = endpoint_of(args)
    if url is not None:
        os.environ["AWS_ENDPOINT_URL"] = url  # every client the console makes (boto3's, pyqldb's)
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    drills = url if url is not None and _local_endpoint(url) else None
    reader = Reader(args.primary_region, args.dr_region)
    state = Path(tempfile.mkdtemp(prefix="qldb-dr-console-"))
    try:
        server = Server(Console(reader, Actions(reader, drills, state), url), args.port)
    except OSError as exc:
        raise QldbDrError(
            f"cannot listen on 127.0.0.1:{args.port}: {exc.strerror}", hint="choose another --port"
        ) from exc
    server.start()
    where = f"the local endpoint {url}" if drills else (url or "AWS (your credentials)")
    env.stdout.write(f"qldb-dr console on {server.url} — reading {where}; Ctrl-C stops it\n")
    env.stdout.flush()
    stopping = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stopping.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stopping.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.stop()
    env.stdout.write("qldb-dr console stopped\n")
    return ExitStatus.OK

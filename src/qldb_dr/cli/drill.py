"""`qldb-dr drill`: watch a whole region fail over on this machine, and see the RPO and RTO it
achieved — a local endpoint, an application writing, backups every RPO, the primary region
lost, the latest recovery point in the DR vault restored and held to what was acknowledged."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shutil
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.console import Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from qldb_dr.cli import local, output
from qldb_dr.cli.environment import Environment, ExitStatus
from qldb_dr.drill.core import new_drill_id
from qldb_dr.drill.failover import DrillSettings, FailoverDrill
from qldb_dr.drill.progress import Progress, write_status
from qldb_dr.errors import QldbDrError
from qldb_dr.restore.model import Mode
from qldb_dr.workflows.config import Strategy

DEFAULT_RPO, DEFAULT_FAIL_AFTER, DEFAULT_RATE = 30, 75, 20.0
# The variables a drill's own endpoint must not inherit: a drill runs in real time, against itself.
NOT_INHERITED = ("QLDB_DR_LOCAL_TIME_SCALE", "SFN_MOCK_CONFIG", "AWS_PROFILE")


def register(commands: Any) -> None:
    drill = commands.add_parser(
        "drill",
        help="a region fails over on this machine: RPO and RTO measured, the restore verified",
        description="Start a local endpoint (or use a running one), write to a ledger in the primary region with a "
        "vehicle-registry application, back it up every --rpo seconds, lose the primary region after --fail-after "
        "seconds, restore the latest recovery point that reached the DR vault, and check it. Exit status: 0 when the "
        "restore verified and the acknowledged writes it lacks are exactly those after its recovery point's window; "
        "1 otherwise; 2 for bad arguments.",
    )
    drill.add_argument(
        "--rpo", type=int, default=DEFAULT_RPO, metavar="SECONDS", help=f"the backup interval (default {DEFAULT_RPO})"
    )
    drill.add_argument(
        "--fail-after",
        type=int,
        default=DEFAULT_FAIL_AFTER,
        metavar="SECONDS",
        help=f"when the primary region is lost (default {DEFAULT_FAIL_AFTER})",
    )
    drill.add_argument(
        "--settle-seconds",
        type=int,
        default=None,
        help="each backup's window ends this long before it starts (default: a sixth of --rpo)",
    )
    drill.add_argument(
        "--rate",
        type=float,
        default=DEFAULT_RATE,
        metavar="TPS",
        help=f"the application's transactions per second (default {DEFAULT_RATE:g})",
    )
    drill.add_argument("--strategy", choices=[s.value for s in Strategy], default=Strategy.BACKUP_RESTORE.value)
    drill.add_argument("--mode", choices=[m.value for m in Mode], default=Mode.LATEST.value)
    drill.add_argument(
        "--inject-replay-failure",
        action="store_true",
        help="make one replay batch of the failover restore fail (then retried)",
    )
    drill.add_argument(
        "--retry",
        choices=["auto", "manual"],
        default="auto",
        help="after a failed restore: retry it (auto), or wait for a retry from the console or "
        "`qldb-dr restore retry` (manual)",
    )
    drill.add_argument("--partitions", type=int, default=16, help="the restore's partitions (default 16)")
    drill.add_argument("--max-concurrency", type=int, default=8, help="replay workers at once (default 8)")
    drill.add_argument("--seed", type=int, default=None, help="the application's random seed")
    where = drill.add_mutually_exclusive_group()
    where.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="start the endpoint here, or use the one serving it (default: a temporary directory)",
    )
    where.add_argument(
        "--endpoint-url",
        default=None,
        metavar="URL",
        help="use this running local endpoint (its primary region is lost, then brought back)",
    )
    drill.add_argument("--keep", action="store_true", help="keep the drill's ledgers (and a temporary data directory)")
    drill.add_argument("--json", action="store_true", help="print the report as JSON, and nothing else")
    drill.add_argument("--status-file", type=Path, default=None, help=argparse.SUPPRESS)  # the console's view of it
    drill.add_argument("--drill-id", default=None, help=argparse.SUPPRESS)  # the console names the drill it starts
    drill.set_defaults(run=run_drill)


def _settings(args: argparse.Namespace) -> DrillSettings:
    return DrillSettings(
        rpo_seconds=args.rpo,
        fail_after_seconds=args.fail_after,
        settle_seconds=args.settle_seconds,
        rate=args.rate,
        strategy=Strategy(args.strategy),
        mode=Mode(args.mode),
        inject_replay_failure=args.inject_replay_failure,
        retry=args.retry,
        partitions=args.partitions,
        max_concurrency=args.max_concurrency,
        seed=args.seed,
    ).validate()


def run_drill(args: argparse.Namespace, env: Environment) -> int:
    settings = _settings(args)  # bad arguments fail here, before anything starts
    if not 1 <= args.partitions <= 1024 or not 1 <= args.max_concurrency <= 1000:
        raise QldbDrError("--partitions must be 1 to 1024 and --max-concurrency 1 to 1000")
    started = time.monotonic()
    logging.getLogger("pyqldb").setLevel(logging.CRITICAL)  # its warnings of sessions the lost region broke
    with _endpoint(args, env) as url, _pointed_at(url):
        steps = [{"state": "start the local endpoint", "seconds": round(time.monotonic() - started, 3)}]
        view = _View(env, args)
        drill_id = args.drill_id or new_drill_id()
        drill = FailoverDrill(settings, url, on_progress=view.update, drill_id=drill_id, steps=steps)
        view.progress = drill.progress
        if not args.json:
            s = settings
            env.stdout.write(
                f"drill {drill.drill_id}: {s.strategy.value} ({s.mode.value}), {s.primary_region} -> "
                f"{s.dr_region}; a backup every {s.rpo_seconds} s, settle delay {s.settle} s (sized to --rpo: "
                f"QLDB's 60 s default would add a minute to every recovery point's age); the primary region is lost "
                f"after {s.fail_after_seconds} s\n"
            )
            env.stdout.flush()
        try:
            with view:
                report = drill.run()
        except BaseException as exc:
            drill.progress.error = str(exc) or type(exc).__name__
            view.final(None)
            raise
        view.final(report)
    if args.json:
        env.stdout.write(json.dumps(report, indent=2, default=str) + "\n")
    else:
        env.stdout.write(summary(report) + "\n")
    return ExitStatus.OK if report["status"] == "OK" else ExitStatus.FAILED


@contextlib.contextmanager
def _endpoint(args: argparse.Namespace, env: Environment) -> Iterator[str]:
    """The endpoint's URL: the one given, the one serving --data-dir, or one started here
    (in a temporary directory unless --data-dir), stopped at the end."""
    if args.endpoint_url:
        _check_endpoint(args.endpoint_url)
        yield args.endpoint_url
        return
    data_dir = (args.data_dir or Path(tempfile.mkdtemp(prefix="qldb-dr-drill-"))).absolute()
    serving = local.running(data_dir)
    if serving is not None:
        url = f"http://127.0.0.1:{serving['port']}"
        _check_endpoint(url)
        yield url
        return
    environment = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
    if not args.json:
        env.stdout.write(f"starting a local endpoint in {data_dir} …\n")
        env.stdout.flush()
    record = local.spawn(data_dir, environment=environment)
    try:
        yield f"http://127.0.0.1:{record['port']}"
    finally:
        local.stop(data_dir)
        if args.data_dir is None and not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)


def _check_endpoint(url: str) -> None:
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/_qldb-dr/health", timeout=10) as response:
            health = json.loads(response.read())
    except (OSError, ValueError) as exc:
        raise QldbDrError(
            f"{url} is not a running qldb-dr local endpoint ({exc})",
            hint="start one with `qldb-dr local up`, or leave out --endpoint-url and the drill starts its own",
        ) from exc
    if health.get("status") != "ready":
        raise QldbDrError(f"the endpoint at {url} is still starting", hint="try again in a few seconds")


@contextlib.contextmanager
def _pointed_at(url: str) -> Iterator[None]:
    """Every client the drill makes (boto3's, pyqldb's) reaches the endpoint; as it was after."""
    names = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
    saved = {n: os.environ.get(n) for n in (*names, *[n for n in os.environ if n.startswith("AWS_ENDPOINT_URL_")])}
    for name in saved:
        if name.startswith("AWS_ENDPOINT_URL_"):
            del os.environ[name]
    os.environ["AWS_ENDPOINT_URL"] = url
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class _View:
    """The drill's progress: live on a terminal (rich), its event lines otherwise, nothing with
    --json; and the status file the console reads."""

    def __init__(self, env: Environment, args: argparse.Namespace) -> None:
        self.env, self.json, self.status_file = env, args.json, args.status_file
        self.progress: Progress | None = None
        self.live: Live | None = None
        self._printed = 0
        self._written = 0.0
        if env.interactive and not args.json and getattr(env.stdout, "isatty", lambda: False)():
            self.live = Live(console=output.console(env.stdout), refresh_per_second=4, transient=True)

    def __enter__(self) -> _View:
        if self.live is not None:
            self.live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.live is not None:
            self.live.__exit__(*exc)

    def update(self, progress: Progress) -> None:
        now = time.monotonic()
        if self.status_file is not None and now - self._written > 0.5:
            self._written = now
            write_status(self.status_file, progress)
        if self.json:
            return
        if self.live is not None:
            self.live.update(_panel(progress.to_json()))
            return
        for line in progress.events[self._printed :]:
            self.env.stdout.write(f"  {line}\n")
        self._printed = len(progress.events)
        self.env.stdout.flush()

    def final(self, report: dict[str, Any] | None) -> None:
        if self.progress is not None:
            if self.status_file is not None:
                write_status(self.status_file, self.progress, report)
            if self.live is None and not self.json:
                self.update(self.progress)


def _panel(p: dict[str, Any]) -> Group:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    restore = p["restore"]
    counts = restore["mapCounts"]
    rate = restore["revisionsPerSecond"]
    grid.add_row("phase", Text(p["phase"], style="bold red" if p["lossAt"] else "bold green"))
    grid.add_row(
        "elapsed",
        f"{p['elapsedSeconds']:.0f} s"
        + (f" (loss at {p['lossDueAt'][11:19]})" if p["lossDueAt"] and not p["lossAt"] else ""),
    )
    grid.add_row("application", f"{p['acknowledgedWrites']:,} transactions acknowledged, {p['failedWrites']} failed")
    b = p["backups"]
    grid.add_row("backups", f"{b['started']} started, {b['succeeded']} succeeded, {b['failed']} failed")
    grid.add_row("recovery points", f"primary {p['recoveryPoints']['primary']}, DR {p['recoveryPoints']['dr']}")
    if restore["restoreId"]:
        grid.add_row("restore", f"{restore['restoreId']} — {restore['state'] or 'starting'}")
        if counts:
            grid.add_row(
                "map batches",
                f"{counts.get('succeeded', 0)}/{counts.get('total', 0)} done, "
                f"{counts.get('failed', 0)} failed, {counts.get('running', 0)} running",
            )
        grid.add_row(
            "revisions",
            f"{restore['revisionsApplied']:,} of {restore['revisionsPlanned'] or 0:,}"
            + (f" at {rate:,.0f}/s" if rate else "")
            + (f", ETA {restore['etaSeconds']} s" if restore["etaSeconds"] is not None else ""),
        )
    return Group(grid, Text("\n".join(p["events"][-6:]), style="dim"))


def summary(report: dict[str, Any]) -> str:
    """The report, for a person."""
    rpo, rto = report["rpo"], report["rto"]
    lines = [
        f"drill {report['drillId']}: {report['status']} ({report['strategy']}, {report['mode']}; "
        f"{report['sourceLedger']} in {report['sourceRegion']} -> {report['targetLedger']} in "
        f"{report['targetRegion']})"
    ]
    if "seconds" in rpo:
        settings = report["settings"]
        lines.append(
            f"  RPO achieved: {rpo['seconds']:.1f} s — {rpo['lostTransactions']:,} of "
            f"{rpo['acknowledgedTransactions']:,} acknowledged transactions lost (budget {rpo['budgetSeconds']:.0f} s: "
            f"the backup interval {settings['rpoSeconds']} s + settle {settings['settleSeconds']} s + 10 s)"
        )
        lines.append(
            f"    the restored recovery point's window ended {rpo['windowEnd']}; the region was lost at {rpo['lossAt']}"
        )
    if rto["seconds"] is not None:
        lines.append(
            f"  RTO: {rto['seconds']:.1f} s from the loss to a verified restore (the restore's own "
            f"duration: {rto['restoreSeconds']:.1f} s, {_executions(len(report['restore']['executions']))})"
        )
    else:
        lines.append("  RTO: none — the restore did not verify")
    if report.get("replay"):
        replay = report["replay"]
        lines.append(
            f"  revisions restored: {report['revisions']:,} read from the DR vault, "
            f"{replay.get('applied', 0):,} applied ({replay.get('inserted', 0):,} inserts, "
            f"{replay.get('updated', 0):,} updates, {replay.get('deleted', 0):,} deletes)"
        )
    table = output.table("CHECK", "STATUS", "DETAIL")
    for check in report["checks"]:
        table.add_row(check["name"], check["status"], check["summary"])
        for finding in check["findings"][:5]:
            table.add_row("", "", f"  {finding['message']}")
    steps = " · ".join(f"{s['state']} {s['seconds']:.1f} s" for s in report["steps"] if s.get("seconds") is not None)
    return "\n".join(lines) + "\n" + _render(table) + f"\n  steps: {steps}\n  report: {report['reportUrl']}"


def _executions(count: int) -> str:
    return "1 execution" if count == 1 else f"{count} executions (retried)"


def _render(table: Table) -> str:
    import io

    buffer = io.StringIO()
    output.console(buffer).print(table)
    return "\n".join("  " + line.rstrip() for line in buffer.getvalue().rstrip("\n").splitlines())

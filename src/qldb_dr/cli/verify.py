"""`qldb-dr verify SOURCE`: verify the exports of a ledger from the files alone."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.console import Console

from qldb_dr.catalog import verify_vault
from qldb_dr.checks import Status
from qldb_dr.cli import output
from qldb_dr.cli.environment import Environment, ExitStatus
from qldb_dr.journal.verify import Report
from qldb_dr.store import open_store

_STYLE = {Status.OK: "green", Status.WARNING: "yellow", Status.FAILURE: "bold red"}
_FINDINGS_SHOWN = 5


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "verify",
        help="verify QLDB journal exports: manifests, every hash, the chain, continuity, digest proofs",
        description="Verify every export of one ledger in SOURCE, offline. Exit status: 0 nothing "
        "failed, 1 a check failed, 2 usage error or unreadable SOURCE.",
    )
    parser.add_argument("source", metavar="SOURCE", help="a directory, or s3://bucket/prefix")
    parser.add_argument("--json", action="store_true", help="print the report as JSON (see README)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, env: Environment) -> int:
    store = open_store(args.source)
    console = Console(file=env.stderr, stderr=True, highlight=False)
    if env.interactive and not args.json:
        with console.status("reading exports…") as status:
            report = verify_vault(store, lambda where, blocks: status.update(f"verified {where}"))
    else:
        report = verify_vault(store)
    if args.json:
        env.stdout.write(json.dumps(report.to_json(), indent=2) + "\n")
    else:
        render(report, env)
    return ExitStatus.FAILED if report.status is Status.FAILURE else ExitStatus.OK


def render(report: Report, env: Environment) -> None:
    # On a terminal rich fits the table to the screen; into a file or a pipe nothing wraps,
    # so each finding stays on one greppable line.
    out = output.console(env.stdout)
    blocks = report.counts.get("blocks", 0)
    out.print(
        f"[bold]{report.source}[/]  ledger [bold]{report.ledger_name or '?'}[/], "
        f"{len(report.exports)} exports, {blocks:,} blocks, {report.counts.get('revisions', 0):,} revisions"
    )
    table = output.table("CHECK", "STATUS")
    table.add_column("DETAIL")
    for check in report.checks:
        first = check.first()
        detail = check.summary
        if first is not None:
            detail = f"{first.describe()}"
            more = check.failures + check.warnings - 1
            if more > 0:
                detail += f" (+{more} more)"
        table.add_row(check.name, f"[{_STYLE[check.status]}]{check.status.name}[/]", detail)
    out.print(table)
    for check in report.checks:
        if check.status is Status.OK or len(check.findings) < 2:
            continue
        out.print(f"\n[bold]{check.name}[/]:")
        for finding in check.findings[:_FINDINGS_SHOWN]:
            out.print(f"  {finding.status.name}: {finding.describe()}")
    failed = [c.name for c in report.checks if c.status is Status.FAILURE]
    warned = [c.name for c in report.checks if c.status is Status.WARNING]
    if failed:
        out.print(
            f"\n[bold red]FAILED[/]: {', '.join(failed)} — do not restore from this source "
            "until the failures are explained"
        )
    elif warned:
        out.print(f"\n[yellow]VERIFIED WITH WARNINGS[/]: {', '.join(warned)}")
    else:
        out.print(f"\n[green]VERIFIED[/]: all {len(report.checks)} checks OK")

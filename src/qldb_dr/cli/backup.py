"""`qldb-dr backup run|list`: back a ledger up now, and list its recovery points."""

from __future__ import annotations

import argparse
import json
import secrets
from datetime import UTC, datetime
from typing import Any

from qldb_dr.aws import client as aws_client
from qldb_dr.catalog import Catalog, RecoveryPoint, Vault
from qldb_dr.cli import output
from qldb_dr.cli.environment import Environment, ExitStatus
from qldb_dr.cli.strategies import register_schedule
from qldb_dr.errors import QldbDrError
from qldb_dr.workflows.deployment import BACKUP, workflow
from qldb_dr.workflows.watch import Watcher, describe


def register(commands: Any) -> None:
    backup = commands.add_parser("backup", help="verified journal backups of a ledger")
    verbs = backup.add_subparsers(dest="verb", metavar="VERB", required=True)
    run = verbs.add_parser(
        "run",
        help="back the ledger up now: export, verify, record a recovery point",
        description="Start the Backup workflow for one ledger and follow it to the end. Exit status: 0 "
        "when a recovery point was recorded (or nothing was due), 1 when the backup failed.",
    )
    _common(run)
    run.add_argument("--settle-seconds", type=int, default=None, help="end the window this long before now")
    run.set_defaults(run=run_backup)
    listing = verbs.add_parser("list", help="the ledger's recovery points in the vault")
    _common(listing)
    listing.add_argument("--json", action="store_true", help="print the recovery points as JSON")
    listing.set_defaults(run=run_list)
    register_schedule(verbs)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ledger", required=True, help="the ledger's name")
    parser.add_argument("--region", default=None, help="the ledger's region (default: AWS_DEFAULT_REGION)")
    parser.add_argument(
        "--vault",
        default=None,
        metavar="s3://BUCKET[/PREFIX]",
        help="the vault (default: the one the Backup workflow is deployed with)",
    )


def _vault(args: argparse.Namespace) -> Vault:
    if args.vault:
        if not args.vault.startswith("s3://"):
            raise QldbDrError(f"--vault {args.vault}: give an s3://bucket[/prefix] URL")
        return Vault.open(args.vault, args.region)
    deployed = workflow(BACKUP, args.region)
    if not deployed.vault_bucket:
        raise QldbDrError(f"the {BACKUP} workflow in {deployed.region} does not name its vault", hint="pass --vault")
    return Vault.open(f"s3://{deployed.vault_bucket}", args.region)


def run_backup(args: argparse.Namespace, env: Environment) -> int:
    deployed = workflow(BACKUP, args.region)
    request: dict[str, Any] = {"ledgerName": args.ledger}
    if args.vault:
        request["vault"] = _vault(args).url
    if args.settle_seconds is not None:
        if args.settle_seconds < 0:
            raise QldbDrError(
                f"--settle-seconds must be 0 or more, not {args.settle_seconds}",
                hint="it ends the window that long before now, so that QLDB has committed what the window holds",
            )
        request["settleSeconds"] = args.settle_seconds
    name = f"{args.ledger}-{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
    sfn = aws_client("stepfunctions", deployed.region)
    execution = sfn.start_execution(stateMachineArn=deployed.arn, name=name, input=json.dumps(request))["executionArn"]
    env.stdout.write(f"backup of {args.ledger} in {deployed.region}: {execution}\n")
    final = None
    for step in Watcher(sfn, execution).follow():
        env.stdout.write(describe(step) + "\n")
        env.stdout.flush()
        final = step
    assert final is not None
    if final.name != "SUCCEEDED":
        return ExitStatus.FAILED
    output = json.loads(final.output or "{}")
    point = (output.get("recorded") or {}).get("recoveryPoint")
    if point is None:
        env.stdout.write("nothing to back up: the window since the last recovery point is still settling\n")
    else:
        blocks = (
            "no new blocks" if point["firstBlock"] is None else f"blocks {point['firstBlock']}-{point['lastBlock']}"
        )
        env.stdout.write(f"recovery point {point['recoveryPointId']}: {blocks}, {point['revisions']:,} revisions\n")
    return ExitStatus.OK


def run_list(args: argparse.Namespace, env: Environment) -> int:
    vault = _vault(args)
    points = Catalog(vault).recovery_points(args.ledger)
    now = datetime.now(UTC)
    if args.json:
        env.stdout.write(
            json.dumps(
                [{**p.to_json(), "ageSeconds": int((now - p.window_end).total_seconds())} for p in points], indent=2
            )
            + "\n"
        )
        return ExitStatus.OK
    if not points:
        env.stdout.write(f"no recovery points of {args.ledger} in {vault.url}\n")
        return ExitStatus.OK
    table = output.table("RECOVERY POINT", "WINDOW (UTC)", "BLOCKS", "REVISIONS", "SIZE", "VERIFIED", "AGE")
    for point in points:
        table.add_row(
            point.recovery_point_id,
            _window(point),
            _blocks(point),
            f"{point.revisions:,}",
            _size(point.size),
            point.verification.get("status", "?"),
            _age(now - point.window_end),
        )
    output.console(env.stdout).print(table)
    return ExitStatus.OK


def _window(point: RecoveryPoint) -> str:
    start, end = point.window_start.astimezone(UTC), point.window_end.astimezone(UTC)
    return f"{start:%Y-%m-%d %H:%M:%S} → {end:%Y-%m-%d %H:%M:%S}"


def _blocks(point: RecoveryPoint) -> str:
    if point.first_block is None or point.last_block is None:
        return "(none)"
    return f"{point.first_block.sequence_no:,}-{point.last_block.sequence_no:,}"


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"


def _age(delta: Any) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 172800:
        return f"{seconds // 3600}h {seconds % 3600 // 60}m"
    return f"{seconds // 86400}d"

"""`qldb-dr backup schedule` and `qldb-dr standby`: the strategies built from the two workflows.

* Backup & Restore: backups on a schedule (`backup schedule`), `restore start` on disaster.
* Warm Standby: `standby --target-ledger T` — every recovery point arriving in the DR vault
  is replayed into T as it lands (an EventBridge rule on the DR vault's events).
* Intermediate: a schedule of incremental restores (the CDK app's preload schedule, or
  `restore start --incremental` from cron), and one more at failover for the tail.

Each creates exactly the schedule or rule the CDK app deploys for a configured ledger
(`workflows.manifest`).
"""

from __future__ import annotations

import argparse
from typing import Any

from qldb_dr.aws import client as aws_client
from qldb_dr.catalog import Vault
from qldb_dr.cli.environment import Environment, ExitStatus
from qldb_dr.errors import QldbDrError
from qldb_dr.restore.settings import check_ledger_name
from qldb_dr.workflows.deployment import BACKUP, RESTORE, workflow
from qldb_dr.workflows.manifest import backup_schedule
from qldb_dr.workflows.triggers import put_schedule, put_standby, schedule_state, start_role_arn


def register_schedule(verbs: Any) -> None:
    schedule = verbs.add_parser("schedule", help="back the ledger up every N minutes (its RPO)")
    schedule.add_argument("--ledger", required=True)
    schedule.add_argument("--every", type=int, metavar="MINUTES", help="the RPO interval in minutes")
    schedule.add_argument("--disable", action="store_true", help="stop the scheduled backups")
    schedule.add_argument("--region", default=None)
    schedule.set_defaults(run=run_schedule)


def run_schedule(args: argparse.Namespace, env: Environment) -> int:
    """The manifest's backup schedule (EventBridge Scheduler), as the CDK app deploys it."""
    deployed = workflow(BACKUP, args.region)
    scheduler = aws_client("scheduler", deployed.region)
    if args.disable:
        found = schedule_state(scheduler, backup_schedule(args.ledger, 1).name)
        if found is None:
            raise QldbDrError(f"{args.ledger} has no backup schedule in {deployed.region}")
        minutes = _minutes(found["ScheduleExpression"])
        schedule = backup_schedule(args.ledger, minutes)
        put_schedule(scheduler, schedule, deployed.arn, found["Target"]["RoleArn"], enabled=False)
        env.stdout.write(f"scheduled backups of {args.ledger} stopped (schedule {schedule.name} disabled)\n")
        return ExitStatus.OK
    if not args.every or args.every < 1:
        raise QldbDrError("give --every MINUTES (1 or more), or --disable")
    schedule = backup_schedule(args.ledger, args.every)
    put_schedule(scheduler, schedule, deployed.arn, start_role_arn(deployed.region))
    unit = "minute" if args.every == 1 else "minutes"
    env.stdout.write(
        f"{args.ledger} is backed up every {args.every} {unit} in {deployed.region} (schedule {schedule.name})\n"
    )
    return ExitStatus.OK


def _minutes(expression: str) -> int:
    amount, unit = expression.removeprefix("rate(").removesuffix(")").split()
    return int(amount) * {"minute": 1, "hour": 60, "day": 1440}[unit.removesuffix("s")]


def register_standby(commands: Any) -> None:
    standby = commands.add_parser(
        "standby",
        help="keep a warm standby of a ledger in the DR region, caught up as recovery points land",
        description="Create (or --disable) the EventBridge rule that replays every recovery point of LEDGER "
        "arriving in the DR vault into the standby, as the CDK app does for a ledger whose strategy is "
        "warm-standby.",
    )
    standby.add_argument("--ledger", required=True, help="the source ledger")
    standby.add_argument("--target-ledger", required=True, help="the standby ledger in the DR region")
    standby.add_argument("--mode", choices=["latest", "history"], default="latest")
    standby.add_argument("--disable", action="store_true", help="stop replaying into the standby")
    standby.add_argument("--region", default=None, help="the DR region (default: AWS_DEFAULT_REGION)")
    standby.add_argument("--vault", default=None, metavar="s3://BUCKET[/PREFIX]", help="the DR vault")
    standby.set_defaults(run=run_standby)


def run_standby(args: argparse.Namespace, env: Environment) -> int:
    deployed = workflow(RESTORE, args.region)
    if not args.vault and not deployed.vault_bucket:
        raise QldbDrError("no vault named", hint="pass --vault s3://bucket")
    vault = Vault.open(args.vault or f"s3://{deployed.vault_bucket}", deployed.region)
    if vault.bucket is None:
        raise QldbDrError(f"{args.vault} is a directory: a standby follows the DR vault's S3 events")
    check_ledger_name(args.ledger, "source ledger")
    check_ledger_name(args.target_ledger, "target ledger")
    rule = put_standby(
        deployed, vault.bucket, vault.prefix, args.ledger, args.target_ledger, args.mode, enabled=not args.disable
    )
    if args.disable:
        env.stdout.write(
            f"standby of {args.ledger} retired: recovery points are no longer replayed (rule {rule.name})\n"
        )
    else:
        env.stdout.write(
            f"warm standby: every recovery point of {args.ledger} landing in {vault.url} is replayed "
            f"into {args.target_ledger} ({args.mode}) in {deployed.region} (rule {rule.name})\n"
        )
    return ExitStatus.OK

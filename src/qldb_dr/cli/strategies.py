"""`qldb-dr backup schedule` and `qldb-dr standby`: the strategies built from the two workflows.

* Backup & Restore: backups on a schedule (`backup schedule`), `restore start` on disaster.
* Warm Standby: `standby --target-ledger T` — every recovery point arriving in the DR vault
  is replayed into T as it lands.
* Intermediate: a schedule of incremental restores (`restore start --incremental` from cron,
  or a second EventBridge schedule), and one more at failover for the tail.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from qldb_dr.aws import client as aws_client
from qldb_dr.catalog import Vault
from qldb_dr.cli.environment import Environment, ExitStatus
from qldb_dr.errors import QldbDrError
from qldb_dr.restore.standby import enable
from qldb_dr.workflows.deployment import BACKUP, RESTORE, workflow

ROLE = "qldb-dr-workflows"  # the role EventBridge assumes to start executions (the CDK app creates it)


def register_schedule(verbs: Any) -> None:
    schedule = verbs.add_parser("schedule", help="back the ledger up every N minutes (its RPO)")
    schedule.add_argument("--ledger", required=True)
    schedule.add_argument("--every", type=int, metavar="MINUTES", help="the RPO interval in minutes")
    schedule.add_argument("--disable", action="store_true", help="stop the scheduled backups")
    schedule.add_argument("--region", default=None)
    schedule.set_defaults(run=run_schedule)


def rule_name(ledger: str) -> str:
    return f"qldb-dr-backup-{ledger}"


def run_schedule(args: argparse.Namespace, env: Environment) -> int:
    deployed = workflow(BACKUP, args.region)
    events = aws_client("events", deployed.region)
    name = rule_name(args.ledger)
    if args.disable:
        events.disable_rule(Name=name)
        env.stdout.write(f"scheduled backups of {args.ledger} stopped (rule {name} disabled)\n")
        return ExitStatus.OK
    if not args.every or args.every < 1:
        raise QldbDrError("give --every MINUTES (1 or more), or --disable")
    account = aws_client("sts", deployed.region).get_caller_identity()["Account"]
    unit = "minute" if args.every == 1 else "minutes"
    events.put_rule(
        Name=name,
        ScheduleExpression=f"rate({args.every} {unit})",
        State="ENABLED",
        Description=f"qldb-dr: back up {args.ledger} every {args.every} {unit}",
    )
    events.put_targets(
        Rule=name,
        Targets=[
            {
                "Id": "backup",
                "Arn": deployed.arn,
                "RoleArn": f"arn:aws:iam::{account}:role/{ROLE}",
                "Input": json.dumps({"ledgerName": args.ledger}),
            }
        ],
    )
    env.stdout.write(f"{args.ledger} is backed up every {args.every} {unit} in {deployed.region} (rule {name})\n")
    return ExitStatus.OK


def register_standby(commands: Any) -> None:
    standby = commands.add_parser(
        "standby",
        help="keep a warm standby of a ledger in the DR region, caught up as recovery points land",
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
    key = enable(vault, args.ledger, args.target_ledger, args.mode, enabled=not args.disable)
    if args.disable:
        env.stdout.write(f"standby of {args.ledger} retired: recovery points are no longer replayed ({key})\n")
    else:
        env.stdout.write(
            f"warm standby: every recovery point of {args.ledger} landing in {vault.url} is replayed "
            f"into {args.target_ledger} ({args.mode}) in {deployed.region} ({key})\n"
        )
    return ExitStatus.OK

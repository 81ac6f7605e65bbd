"""`qldb-dr executions watch ARN`: follow a Step Functions execution to its end."""

from __future__ import annotations

import argparse
import json
from typing import Any

import boto3

from qldb_dr.cli.environment import Environment, ExitStatus
from qldb_dr.workflows.watch import Watcher, describe


def register(commands: Any) -> None:
    executions = commands.add_parser("executions", help="Step Functions executions of the DR workflows")
    verbs = executions.add_subparsers(dest="verb", metavar="VERB", required=True)
    watch = verbs.add_parser(
        "watch",
        help="print each state as it is entered and left, and Map runs' item counts, until the end",
        description="Follow an execution (on AWS or the local endpoint). Exit status 0 when it "
        "SUCCEEDED, 1 when it failed, timed out or was aborted.",
    )
    watch.add_argument("execution_arn", metavar="ARN")
    watch.add_argument("--interval", type=float, default=0.5, help="seconds between polls (default 0.5)")
    watch.add_argument("--json", action="store_true", help="one JSON object per line")
    watch.set_defaults(run=run_watch)


def run_watch(args: argparse.Namespace, env: Environment) -> int:
    region = args.execution_arn.split(":")[3] if args.execution_arn.count(":") >= 6 else None
    client = boto3.client("stepfunctions", region_name=region)
    final = "FAILED"
    for step in Watcher(client, args.execution_arn, interval=args.interval).follow():
        if args.json:
            env.stdout.write(
                json.dumps(
                    {
                        "kind": step.kind,
                        "name": step.name,
                        "at": step.at.isoformat() if step.at else None,
                        "detail": step.detail or None,
                        "counts": step.counts or None,
                        "output": step.output,
                    }
                )
                + "\n"
            )
        else:
            env.stdout.write(describe(step) + "\n")
        env.stdout.flush()
        if step.kind == "finished":
            final = step.name
    return ExitStatus.OK if final == "SUCCEEDED" else ExitStatus.FAILED

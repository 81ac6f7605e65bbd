"""`qldb-dr restore start|status|retry|report`: rebuild a ledger from the vault, and follow it."""

from __future__ import annotations

import argparse
import json
import secrets
from datetime import UTC, datetime
from typing import Any

from qldb_dr.aws import client as aws_client
from qldb_dr.catalog import Catalog, Vault
from qldb_dr.cli.main import Environment, ExitStatus
from qldb_dr.errors import ObjectNotFoundError, QldbDrError
from qldb_dr.restore.model import RestoreRequest
from qldb_dr.restore.plan import select
from qldb_dr.restore.workflow import SUPERSEDED
from qldb_dr.store.s3 import S3Store
from qldb_dr.workflows.deployment import RESTORE, workflow
from qldb_dr.workflows.watch import Watcher, describe

# Replay throughput assumed by --dry-run when the vault holds no earlier restore report to learn from.
DEFAULT_REVISIONS_PER_SECOND = 500


def register(commands: Any) -> None:
    restore = commands.add_parser("restore", help="restore a ledger from the vault into a new ledger")
    verbs = restore.add_subparsers(dest="verb", metavar="VERB", required=True)
    start = verbs.add_parser(
        "start",
        help="start a restore and follow it to the end",
        description="Restore a ledger's data from the vault of REGION (the DR region) into a target ledger there. "
        "Exit status: 0 when the target was verified equal to the journal (or, SUPERSEDED, a later restore of the "
        "same target wrote past this one's block before it compared: that one verifies), 1 otherwise.",
    )
    start.add_argument("--source-ledger", required=True)
    point = start.add_mutually_exclusive_group()
    point.add_argument("--recovery-point", metavar="ID", help="restore up to this recovery point")
    point.add_argument("--at", metavar="TIME", help="restore the state at this time (ISO 8601, UTC)")
    point.add_argument("--block", type=int, metavar="N", help="restore up to this block sequence number")
    start.add_argument("--target-ledger", required=True)
    start.add_argument(
        "--mode",
        choices=["latest", "history"],
        default="latest",
        help="latest: each document's final state; history: every revision, in order",
    )
    start.add_argument("--incremental", action="store_true", help="apply only what the target does not hold yet")
    start.add_argument("--max-concurrency", type=int, default=8, help="replay workers at once (default 8)")
    start.add_argument("--partitions", type=int, default=16, help="document partitions (default 16)")
    start.add_argument("--dry-run", action="store_true", help="print the plan, restore nothing")
    start.add_argument("--no-wait", action="store_true", help="start it and return")
    _common(start)
    start.set_defaults(run=run_start)
    for name, helptext, runner in (
        ("status", "a restore's state and progress", run_status),
        ("retry", "run again only what did not succeed", run_retry),
        ("report", "a finished restore's report", run_report),
    ):
        verb = verbs.add_parser(name, help=helptext)
        verb.add_argument("restore_id", metavar="RESTORE_ID")
        verb.add_argument("--json", action="store_true")
        _common(verb)
        verb.set_defaults(run=runner)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--region", default=None, help="where the restore runs (default: AWS_DEFAULT_REGION)")
    parser.add_argument(
        "--vault",
        default=None,
        metavar="s3://BUCKET[/PREFIX]",
        help="the vault (default: the one the Restore workflow is deployed with)",
    )


def _vault(args: argparse.Namespace, deployed_bucket: str | None) -> Vault:
    if args.vault:
        bucket, _, prefix = args.vault.removeprefix("s3://").partition("/")
    elif deployed_bucket:
        bucket, prefix = deployed_bucket, ""
    else:
        raise QldbDrError("no vault named", hint="pass --vault s3://bucket")
    return Vault(S3Store(bucket, "", aws_client("s3", args.region)), prefix)


def _request(args: argparse.Namespace, region: str) -> dict[str, Any]:
    request = {
        "sourceLedger": args.source_ledger,
        "targetLedger": args.target_ledger,
        "targetRegion": region,
        "mode": args.mode,
        "recoveryPointId": args.recovery_point,
        "at": args.at,
        "block": args.block,
        "incremental": args.incremental,
        "maxConcurrency": args.max_concurrency,
        "partitions": args.partitions,
    }
    RestoreRequest.parse(request, region)  # bad input fails here, before anything starts
    return {k: v for k, v in request.items() if v is not None}


def run_start(args: argparse.Namespace, env: Environment) -> int:
    deployed = workflow(RESTORE, args.region)
    vault = _vault(args, deployed.vault_bucket)
    request = _request(args, deployed.region)
    if args.vault:
        bucket, _, prefix = args.vault.removeprefix("s3://").partition("/")
        request.update(vaultBucket=bucket, vaultPrefix=prefix)
    if args.dry_run:
        return _dry_run(args, env, vault, deployed.region)
    restore_id = f"{args.target_ledger}-{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
    return _start(env, deployed, restore_id, request, wait=not args.no_wait, vault=vault)


def _start(env: Environment, deployed: Any, name: str, request: dict[str, Any], *, wait: bool, vault: Vault) -> int:
    sfn = aws_client("stepfunctions", deployed.region)
    execution = sfn.start_execution(stateMachineArn=deployed.arn, name=name, input=json.dumps(request))["executionArn"]
    env.stdout.write(f"restore {name}: {request['sourceLedger']} -> {request['targetLedger']} in {deployed.region}\n")
    if not wait:
        env.stdout.write(f"follow it with: qldb-dr restore status {name}\n")
        return ExitStatus.OK
    final = None
    for step in Watcher(sfn, execution).follow():
        env.stdout.write(describe(step) + "\n")
        env.stdout.flush()
        final = step
    report = _report(vault, request["sourceLedger"], request.get("restoreId", name))
    if report is not None:
        env.stdout.write(_summary(report) + "\n")
    return ExitStatus.OK if final is not None and final.name == "SUCCEEDED" else ExitStatus.FAILED


def _dry_run(args: argparse.Namespace, env: Environment, vault: Vault, region: str) -> int:
    request = RestoreRequest.parse(_request(args, region), region)
    points = Catalog(vault).recovery_points(request.source_ledger)
    chosen, cut = select(points, request)
    revisions = sum(p.revisions for p in chosen)
    rate = _measured_rate(vault, request.source_ledger)
    basis = "measured by earlier restores" if rate != DEFAULT_REVISIONS_PER_SECOND else "assumed: no earlier restore"
    lines = [
        f"plan: restore {request.source_ledger} into {request.target.ledger} ({request.mode.value}) in {region}",
        f"recovery points: {len(chosen)} ({chosen[0].recovery_point_id} … {chosen[-1].recovery_point_id})"
        if chosen
        else "recovery points: none",
        f"blocks: up to {cut if cut is not None else 'the block at ' + str(request.at)}",
        f"revisions: {revisions:,} in {request.partitions} partitions, {request.max_concurrency} at a time",
        f"estimated duration: {revisions / rate / 60:.1f} min at {rate:,.0f} revisions/s ({basis})",
    ]
    env.stdout.write("\n".join(lines) + "\n")
    return ExitStatus.OK


def _measured_rate(vault: Vault, source: str) -> float:
    rates = []
    for key in vault.store.list(f"{vault.prefix}{source}/restores/"):
        if key.endswith("/report.json"):
            report = json.loads(vault.store.read(key))
            if report.get("durationSeconds") and report.get("revisions"):
                rates.append(report["revisions"] / report["durationSeconds"])
    return max(rates[-5:]) if rates else DEFAULT_REVISIONS_PER_SECOND


def _execution(region: str | None, restore_id: str) -> tuple[Any, Any, dict[str, Any]]:
    deployed = workflow(RESTORE, region)
    sfn = aws_client("stepfunctions", deployed.region)
    arn = deployed.arn.replace(":stateMachine:", ":execution:") + ":" + restore_id
    try:
        description = sfn.describe_execution(executionArn=arn)
    except sfn.exceptions.ExecutionDoesNotExist as exc:
        raise QldbDrError(f"no restore {restore_id} in {deployed.region}") from exc
    return deployed, sfn, description


def _report(vault: Vault, source: str, restore_id: str) -> dict[str, Any] | None:
    try:
        report: dict[str, Any] = json.loads(
            vault.store.read(f"{vault.prefix}{source}/restores/{restore_id}/report.json")
        )
    except ObjectNotFoundError:
        return None
    return report


def _summary(report: dict[str, Any]) -> str:
    replay = report.get("replay", {})
    lines = [
        f"restore {report['restoreId']}: {report['status']}",
        f"  {report['sourceLedger']} -> {report['targetLedger']} ({report['mode']}), "
        f"up to block {report['restoredToBlock']}, {len(report['recoveryPoints'])} recovery points",
        f"  {report['revisions']:,} revisions read, {replay.get('applied', 0):,} applied "
        f"({replay.get('inserted', 0):,} inserts, {replay.get('updated', 0):,} updates, "
        f"{replay.get('deleted', 0):,} deletes), {replay.get('skipped', 0):,} already applied, "
        f"{replay.get('unchanged', 0):,} unchanged",
        f"  redacted at the source: {replay.get('placeholders', 0):,} revisions restored as empty placeholders, "
        f"{replay.get('redactions', 0):,} redactions applied",
        f"  duration (RTO): {report['durationSeconds']:.1f} s",
    ]
    verification = report.get("verification", {})
    if report["status"] == SUPERSEDED:
        lines.append(
            f"  superseded: a later restore had applied up to block {verification.get('supersededAtBlock')} when this "
            "one compared; that restore verifies the target"
        )
    for check in verification.get("checks", []):
        lines.append(f"  {check['name']:<10} {check['status']:<8} {check['summary']}")
        lines += [
            f"      {f['message']} (expected {f['expected']}, found {f['found']})" for f in check["findings"][:10]
        ]
    return "\n".join(lines)


def run_status(args: argparse.Namespace, env: Environment) -> int:
    deployed, _sfn, description = _execution(args.region, args.restore_id)
    request = json.loads(description["input"])
    vault = _vault(args, deployed.vault_bucket)
    base = f"{vault.prefix}{request.get('sourceLedger', '')}/restores/{args.restore_id}/"
    try:
        plan = json.loads(vault.store.read(base + "plan.json"))
    except ObjectNotFoundError:
        plan = {}
    done = [json.loads(vault.store.read(k)) for k in vault.store.list(base + "replayed/")]
    total = int(plan.get("partitions", request.get("partitions", 0)) or 0)
    applied = sum(int(d.get("applied", 0)) for d in done)
    started = description["startDate"]
    elapsed = max((datetime.now(UTC) - started).total_seconds(), 0.001)
    rate = applied / elapsed
    remaining = max(int(plan.get("revisions", 0)) - applied, 0)
    status = {
        "restoreId": args.restore_id,
        "state": description["status"],
        "partitionsDone": len(done),
        "partitionsTotal": total,
        "revisionsApplied": applied,
        "revisionsPlanned": plan.get("revisions"),
        "revisionsPerSecond": round(rate, 1),
        "etaSeconds": None if description["status"] != "RUNNING" or rate == 0 else round(remaining / rate),
    }
    if args.json:
        env.stdout.write(json.dumps(status) + "\n")
    else:
        eta = "" if status["etaSeconds"] is None else f", ETA {status['etaSeconds']} s"
        env.stdout.write(
            f"restore {args.restore_id}: {status['state']}, partitions {len(done)}/{total} done, "
            f"{applied:,} revisions applied at {rate:,.0f}/s{eta}\n"
        )
    return ExitStatus.OK


def run_retry(args: argparse.Namespace, env: Environment) -> int:
    deployed, _sfn, description = _execution(args.region, args.restore_id)
    if description["status"] == "RUNNING":
        raise QldbDrError(f"restore {args.restore_id} is still running", hint="wait for it, or stop it first")
    request = {**json.loads(description["input"]), "resume": True, "restoreId": args.restore_id}
    name = f"{args.restore_id}-retry-{secrets.token_hex(2)}"
    return _start(env, deployed, name, request, wait=True, vault=_vault(args, deployed.vault_bucket))


def run_report(args: argparse.Namespace, env: Environment) -> int:
    deployed, _, description = _execution(args.region, args.restore_id)
    request = json.loads(description["input"])
    report = _report(_vault(args, deployed.vault_bucket), request.get("sourceLedger", ""), args.restore_id)
    if report is None:
        raise QldbDrError(f"restore {args.restore_id} has no report yet (state {description['status']})")
    env.stdout.write((json.dumps(report, indent=2) if args.json else _summary(report)) + "\n")
    return ExitStatus.OK if report["status"] in ("OK", SUPERSEDED) else ExitStatus.FAILED

"""`qldb-dr restore start|status|retry|report`: rebuild a ledger from the vault, and follow it."""

from __future__ import annotations

import argparse
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from qldb_dr.aws import client as aws_client
from qldb_dr.catalog import Vault
from qldb_dr.cli import output
from qldb_dr.cli.environment import Environment, ExitStatus
from qldb_dr.encoding import iso
from qldb_dr.errors import QldbDrError
from qldb_dr.restore import runs
from qldb_dr.restore.settings import DEFAULT_MAX_CONCURRENCY, DEFAULT_PARTITIONS, Settings
from qldb_dr.restore.steps import SUPERSEDED
from qldb_dr.workflows.deployment import RESTORE, workflow
from qldb_dr.workflows.watch import Watcher, describe


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
    start.add_argument(
        "--max-concurrency",
        type=int,
        help=f"Lambdas at once in each Distributed Map (default {DEFAULT_MAX_CONCURRENCY})",
    )
    start.add_argument("--partitions", type=int, help=f"document partitions (default {DEFAULT_PARTITIONS})")
    start.add_argument("--dry-run", action="store_true", help="print the plan, restore nothing")
    start.add_argument("--no-wait", action="store_true", help="start it and return")
    _common(start)
    start.set_defaults(run=run_start)
    listing = verbs.add_parser(
        "list",
        help="the restores run in REGION: operators', scheduled and warm-standby ones",
        description="Every restore the Restore workflow of REGION ran or runs, newest first: id, source and "
        "target ledger, mode, recovery points, state, start, duration and verification.",
    )
    listing.add_argument("--source-ledger", default=None)
    listing.add_argument("--target-ledger", default=None)
    listing.add_argument("--json", action="store_true")
    _common(listing)
    listing.set_defaults(run=run_list)
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
    if not args.vault and not deployed_bucket:
        raise QldbDrError("no vault named", hint="pass --vault s3://bucket")
    vault = Vault.open(args.vault or f"s3://{deployed_bucket}", args.region)
    if vault.bucket is None:
        raise QldbDrError(
            f"{args.vault} is a directory: the Restore workflow reads its vault from S3 (its Distributed Maps do)",
            hint="give the vault's s3:// URL, or check a directory copy with `qldb-dr verify DIR`",
        )
    return vault


def _request(args: argparse.Namespace, region: str, vault: Vault) -> dict[str, Any]:
    """The execution's input: the flags given (the workflow resolves the rest)."""
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
    if args.vault:
        request["vault"] = vault.url
    request = {k: v for k, v in request.items() if v is not None}
    Settings.resolve({"vault": vault.url, **request}, {}, region)  # bad input fails here, before anything starts
    return request


def run_start(args: argparse.Namespace, env: Environment) -> int:
    deployed = workflow(RESTORE, args.region)
    vault = _vault(args, deployed.vault_bucket)
    next(iter(vault.store.list(vault.prefix)), None)  # a vault that is not there fails here, before anything starts
    request = _request(args, deployed.region, vault)
    if args.dry_run:
        return _dry_run(args, env, vault, deployed.region)
    restore_id = runs.new_restore_id(args.target_ledger)
    return _start(env, deployed, restore_id, request, wait=not args.no_wait, vault=vault)


def _start(env: Environment, deployed: Any, name: str, request: dict[str, Any], *, wait: bool, vault: Vault) -> int:
    sfn = aws_client("stepfunctions", deployed.region)
    execution = runs.start(sfn, deployed.arn, name, request)
    source = _source(request, vault)  # a standby's restore names only the recovery point that started it
    target = request.get("targetLedger") or "its standby"
    env.stdout.write(f"restore {name}: {source} -> {target} in {deployed.region}\n")
    if not wait:
        env.stdout.write(f"follow it with: qldb-dr restore status {name}\n")
        return ExitStatus.OK
    final = None
    for step in Watcher(sfn, execution).follow():
        env.stdout.write(describe(step) + "\n")
        env.stdout.flush()
        final = step
    report = _report(vault, source, request.get("restoreId", name))
    if report is not None:
        env.stdout.write(_summary(report) + "\n")
    return ExitStatus.OK if final is not None and final.name == "SUCCEEDED" else ExitStatus.FAILED


def _dry_run(args: argparse.Namespace, env: Environment, vault: Vault, region: str) -> int:
    """The plan the restore would make — the vault verified, the blocks up to the cut read —
    with nothing written anywhere."""
    settings = Settings.resolve({**_request(args, region, vault), "vault": vault.url}, {}, region)
    planned = runs.dry_run(settings, vault)
    points = planned["recoveryPoints"]
    span = f"{points[0]} … {points[-1]}" if len(points) > 1 else " ".join(points)
    basis = (
        "measured by earlier restores"
        if planned["rateMeasured"]
        else f"assumed: no earlier restore of {runs.RATE_SAMPLE_REVISIONS:,}+ revisions"
    )
    lines = [
        f"plan: restore {settings.source_ledger} into {settings.target_ledger} ({settings.mode.value}) in {region}",
        f"recovery points: {len(points)} ({span})" if points else "recovery points: none new",
        f"blocks: {planned['watermark'] + 1} to {planned['cut']} ({planned['blocks']:,} blocks), verified in the vault"
        if planned["blocks"]
        else f"blocks: none (the target holds the source up to block {planned['watermark']})",
        f"tables: {', '.join(planned['tables']) or '(none)'}",
        f"revisions: {planned['revisions']:,} in {settings.partitions} partitions, "
        f"{settings.max_concurrency} at a time",
        f"estimated duration: {planned['estimatedSeconds'] / 60:.1f} min at {planned['revisionsPerSecond']:,.0f} "
        f"revisions/s ({basis})",
    ]
    env.stdout.write("\n".join(lines) + "\n")
    return ExitStatus.OK


def _execution(region: str | None, restore_id: str) -> tuple[Any, Any, dict[str, Any]]:
    """The restore's execution: in `region`, or — none given — in the default region, else in
    whichever region ran it (a restore runs in the DR region, not where the operator's shell
    points)."""
    found = _describe(region, restore_id)
    if found is None and region is None:
        others = [r for r in _regions() if r != aws_client("stepfunctions").meta.region_name]
        with ThreadPoolExecutor(max_workers=8) as pool:
            found = next((f for f in pool.map(lambda r: _describe(r, restore_id, quiet=True), others) if f), None)
    if found is None:
        where = region or "any region"
        raise QldbDrError(
            f"no restore {restore_id} in {where}", hint="list them with `qldb-dr restore list --region R`"
        )
    return found


def _describe(region: str | None, restore_id: str, *, quiet: bool = False) -> tuple[Any, Any, dict[str, Any]] | None:
    try:
        deployed = workflow(RESTORE, region)
        sfn = aws_client("stepfunctions", deployed.region)
        arn = deployed.arn.replace(":stateMachine:", ":execution:") + ":" + restore_id
        return deployed, sfn, sfn.describe_execution(executionArn=arn)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ExecutionDoesNotExist" or quiet:
            return None
        raise
    except (QldbDrError, BotoCoreError):
        if quiet:
            return None
        raise


def _regions() -> list[str]:
    """The regions Step Functions is in (botocore's own list: no call)."""
    return list(boto3.session.Session().get_available_regions("stepfunctions"))


def _source(execution_input: dict[str, Any], vault: Vault) -> str | None:
    return runs.source_of(execution_input, vault)


def _read(vault: Vault, source: str | None, restore_id: str, name: str) -> dict[str, Any] | None:
    return runs.read(vault, source, restore_id, name)


def _report(vault: Vault, source: str | None, restore_id: str) -> dict[str, Any] | None:
    return runs.report(vault, source, restore_id)


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
    lines += [f"  note: {note}" for note in report.get("schemaNotes", [])]
    for check in verification.get("checks", []):
        lines.append(f"  {check['name']:<10} {check['status']:<8} {check['summary']}")
        lines += [
            f"      {f['message']} (expected {f['expected']}, found {f['found']})" for f in check["findings"][:10]
        ]
    return "\n".join(lines)


def run_status(args: argparse.Namespace, env: Environment) -> int:
    deployed, _sfn, description = _execution(args.region, args.restore_id)
    execution_input = json.loads(description["input"])
    vault = _vault(args, deployed.vault_bucket)
    status = runs.progress(vault, execution_input, args.restore_id, description)
    planned = status.pop("planned")
    if args.json:
        env.stdout.write(json.dumps(status) + "\n")
        return ExitStatus.OK
    restore_id = status["restoreId"]
    if not planned:
        reason = _failure(description) if description["status"] != "RUNNING" else "planning"
        env.stdout.write(f"restore {restore_id}: {description['status']}, no plan in the vault ({reason})\n")
        return ExitStatus.OK
    eta = "" if status["etaSeconds"] is None else f", ETA {status['etaSeconds']} s"
    result = "" if status["result"] is None else f" ({status['result']})"
    env.stdout.write(
        f"restore {restore_id}: {description['status']}{result}, {status['sourceLedger']} -> {status['targetLedger']}, "
        f"partitions {status['partitionsDone']}/{status['partitionsTotal']} done, {status['revisionsApplied']:,} of "
        f"{int(status['revisionsPlanned'] or 0):,} revisions applied at {status['revisionsPerSecond']:,.0f}/s{eta}\n"
    )
    return ExitStatus.OK


def _failure(description: dict[str, Any]) -> str:
    error, cause = description.get("error"), description.get("cause")
    if not error:
        return "nothing to restore" if description["status"] == "SUCCEEDED" else description["status"].lower()
    return f"{error}: {cause}" if cause else str(error)


def run_list(args: argparse.Namespace, env: Environment) -> int:
    deployed = workflow(RESTORE, args.region)
    vault = _vault(args, deployed.vault_bucket)
    sfn = aws_client("stepfunctions", deployed.region)
    rows: dict[str, dict[str, Any]] = {}
    executions = [
        e
        for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=deployed.arn)
        for e in page["executions"]
    ]
    for execution in sorted(executions, key=lambda e: e["startDate"]):
        description = sfn.describe_execution(executionArn=execution["executionArn"])
        execution_input = json.loads(description.get("input") or "{}")
        source = _source(execution_input, vault)
        restore_id = str(execution_input.get("restoreId") or execution["name"])
        plan = _read(vault, source, restore_id, "plan.json")
        if plan is None and execution["status"] == "SUCCEEDED":
            continue  # a recovery point of a ledger with no standby: nothing was restored
        request = (plan or {}).get("request") or execution_input
        if args.source_ledger and source != args.source_ledger:
            continue
        if args.target_ledger and request.get("targetLedger") != args.target_ledger:
            continue
        report = _report(vault, source, restore_id)
        row = rows.setdefault(
            restore_id, {"restoreId": restore_id, "executions": 0, "startedAt": execution["startDate"]}
        )
        row.update(
            sourceLedger=source,
            targetLedger=request.get("targetLedger"),
            mode=request.get("mode", "latest"),
            standby="catalogKey" in execution_input or bool(row.get("standby")),
            recoveryPoints=len((plan or {}).get("recoveryPoints", [])),
            toBlock=(plan or {}).get("cut"),
            state=execution["status"],
            executions=row["executions"] + 1,
            durationSeconds=None if report is None else report["durationSeconds"],
            verification=None if report is None else report["status"],
        )
    listed = sorted(rows.values(), key=lambda r: r["startedAt"], reverse=True)
    if args.json:
        env.stdout.write(
            json.dumps(listed, default=lambda v: iso(v) if isinstance(v, datetime) else str(v), indent=2) + "\n"
        )
        return ExitStatus.OK
    if not listed:
        env.stdout.write(f"no restores in {deployed.region}\n")
        return ExitStatus.OK
    table = output.table(
        "RESTORE", "SOURCE", "TARGET", "MODE", "POINTS", "TO BLOCK", "STATE", "STARTED (UTC)", "DURATION", "VERIFIED"
    )
    for row in listed:
        table.add_row(
            row["restoreId"] + (" (standby)" if row["standby"] else ""),
            str(row["sourceLedger"] or "?"),
            str(row["targetLedger"] or "?"),
            str(row["mode"]),
            str(row["recoveryPoints"]),
            "" if row["toBlock"] is None else f"{row['toBlock']:,}",
            row["state"] + (f" ({row['executions']} runs)" if row["executions"] > 1 else ""),
            f"{row['startedAt'].astimezone(UTC):%Y-%m-%d %H:%M:%S}",
            "" if row["durationSeconds"] is None else f"{row['durationSeconds']:.1f} s",
            row["verification"] or "",
        )
    output.console(env.stdout).print(table)
    return ExitStatus.OK


def run_retry(args: argparse.Namespace, env: Environment) -> int:
    deployed, _sfn, description = _execution(args.region, args.restore_id)
    if description["status"] == "RUNNING":
        raise QldbDrError(f"restore {args.restore_id} is still running", hint="wait for it, or stop it first")
    name, request = runs.retry_request(json.loads(description["input"]), args.restore_id)
    return _start(env, deployed, name, request, wait=True, vault=_vault(args, deployed.vault_bucket))


def run_report(args: argparse.Namespace, env: Environment) -> int:
    deployed, _, description = _execution(args.region, args.restore_id)
    execution_input = json.loads(description["input"])
    vault = _vault(args, deployed.vault_bucket)
    restore_id = str(execution_input.get("restoreId") or args.restore_id)
    report = _report(vault, _source(execution_input, vault), restore_id)
    if report is None:
        if description["status"] == "RUNNING":
            raise QldbDrError(
                f"restore {restore_id} is still running", hint=f"follow it: qldb-dr restore status {restore_id}"
            )
        raise QldbDrError(
            f"restore {restore_id} wrote no report: it ended {description['status']} before its report "
            f"({_failure(description)})",
            hint=f"run it again from where it stopped: qldb-dr restore retry {restore_id}",
        )
    env.stdout.write((json.dumps(report, indent=2) if args.json else _summary(report)) + "\n")
    return ExitStatus.OK if report["status"] in ("OK", SUPERSEDED) else ExitStatus.FAILED

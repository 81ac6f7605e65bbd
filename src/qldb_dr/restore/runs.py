"""Restores seen from outside the workflow: start one, retry one, follow one, and read what it
wrote in the vault (its plan, its progress, its report) — the same calls for the CLI, the
drill and the console, on AWS and locally (plain `stepfunctions` and S3 calls)."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from typing import Any

from qldb_dr.catalog import Vault
from qldb_dr.errors import ObjectNotFoundError
from qldb_dr.restore import gate
from qldb_dr.restore import plan as planning
from qldb_dr.restore import target as targets
from qldb_dr.restore.partition import read_object
from qldb_dr.restore.settings import Settings
from qldb_dr.restore.standby import ledger_of

# Replay throughput assumed by a dry run when the vault holds no report of an earlier restore
# big enough to learn from (a small one's rate is mostly its fixed cost: planning, a new ledger).
DEFAULT_REVISIONS_PER_SECOND = 500
RATE_SAMPLE_REVISIONS = 1_000


def new_restore_id(target_ledger: str, now: datetime | None = None) -> str:
    """`<target>-<UTC time>-<random>`: the execution's name, which is the restore's id."""
    return f"{target_ledger}-{(now or datetime.now(UTC)):%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"


def start(sfn: Any, state_machine_arn: str, name: str, request: dict[str, Any]) -> str:
    """Start an execution of the Restore workflow; its ARN."""
    arn: str = sfn.start_execution(stateMachineArn=state_machine_arn, name=name, input=json.dumps(request))[
        "executionArn"
    ]
    return arn


def retry_request(execution_input: dict[str, Any], restore_id: str) -> tuple[str, dict[str, Any]]:
    """The name and input of the execution that retries `restore_id`: its own input, resumed —
    Plan Restore reads its plan back and only the partitions that did not finish run."""
    return f"{restore_id}-retry-{secrets.token_hex(2)}", {**execution_input, "resume": True, "restoreId": restore_id}


def restore_id_of(execution_name: str, execution_input: dict[str, Any]) -> str:
    """The restore an execution runs: its name, or the restore a retry continues."""
    return str(execution_input.get("restoreId") or execution_name)


def source_of(execution_input: dict[str, Any], vault: Vault) -> str | None:
    """The source ledger of a restore, from its execution's input: named by the operator, or
    the ledger of the recovery point whose arrival started a standby's restore."""
    if execution_input.get("sourceLedger"):
        return str(execution_input["sourceLedger"])
    key = execution_input.get("catalogKey")
    return ledger_of(vault.prefix, str(key)) if key else None


def read(vault: Vault, source: str | None, restore_id: str, name: str) -> dict[str, Any] | None:
    """`plan.json` or `report.json` of a restore, if the vault has it."""
    if source is None:
        return None
    try:
        value: dict[str, Any] = json.loads(vault.store.read(vault.restore(source, restore_id) + name))
    except ObjectNotFoundError:
        return None
    return value


def report(vault: Vault, source: str | None, restore_id: str) -> dict[str, Any] | None:
    return read(vault, source, restore_id, "report.json")


def progress(
    vault: Vault, execution_input: dict[str, Any], execution_name: str, description: dict[str, Any]
) -> dict[str, Any]:
    """A restore's state and progress from its execution and its files in the vault: partitions
    done of total, revisions applied, revisions/s and ETA (a finished one: its measured rate)."""
    restore_id = restore_id_of(execution_name, execution_input)
    source = source_of(execution_input, vault)
    plan = read(vault, source, restore_id, "plan.json") or {}
    finished = report(vault, source, restore_id)
    replayed = vault.restore(source, restore_id) + "replayed/" if source else None
    done = [json.loads(vault.store.read(k)) for k in vault.store.list(replayed)] if replayed else []
    total = int(plan.get("partitions", 0) or 0)
    applied = sum(int(d.get("applied", 0)) for d in done)
    running = description["status"] == "RUNNING"
    if finished is not None and not running:  # finished: its measured duration, not time since it started
        elapsed = float(finished["durationSeconds"])
    else:
        end = description.get("stopDate") or datetime.now(UTC)
        elapsed = (end - description["startDate"]).total_seconds()
    rate = applied / max(elapsed, 0.001)
    remaining = max(int(plan.get("revisions", 0)) - applied, 0)
    return {
        "restoreId": restore_id,
        "execution": execution_name,
        "sourceLedger": source,
        "targetLedger": plan.get("request", {}).get("targetLedger") or execution_input.get("targetLedger"),
        "state": description["status"],
        "result": None if finished is None else finished["status"],
        "planned": bool(plan),
        "partitionsDone": len(done),
        "partitionsTotal": total,
        "revisionsApplied": applied,
        "revisionsPlanned": plan.get("revisions"),
        "revisionsPerSecond": round(rate, 1),
        "elapsedSeconds": round(elapsed, 3),
        "etaSeconds": round(remaining / rate) if running and rate > 0 else None,
    }


def dry_run(settings: Settings, vault: Vault) -> dict[str, Any]:
    """The plan a restore would make — the vault verified, the blocks up to the cut read, each
    object once, as Partition and the gate after it would — and its estimated duration, with
    nothing written anywhere."""
    current = targets.state(settings.target) if settings.incremental else None
    watermark = current.watermark if current else -1
    planned = planning.plan("dry-run", settings, vault, watermark, datetime.now(UTC))
    outcomes: dict[str, dict[str, Any] | None] = {
        str(item["key"]): read_object(vault, item, settings.partitions, watermark)[0] for item in planned.objects
    }
    verified = gate.check(planned.to_json(), planned.objects, outcomes)
    gate.prove(vault, settings.source_ledger, planned.later, verified.unproven)
    rate = measured_rate(vault, settings.source_ledger)
    return {
        "sourceLedger": settings.source_ledger,
        "targetLedger": settings.target_ledger,
        "mode": settings.mode.value,
        "region": settings.region,
        "recoveryPoints": [p.recovery_point_id for p in planned.points],
        "watermark": planned.watermark,
        "cut": verified.cut,
        "blocks": verified.blocks,
        "tables": list(verified.schema.to_json()["tables"]),
        "revisions": verified.revisions,
        "partitions": settings.partitions,
        "maxConcurrency": settings.max_concurrency,
        "revisionsPerSecond": rate,
        "rateMeasured": rate != DEFAULT_REVISIONS_PER_SECOND,
        "estimatedSeconds": round(verified.revisions / rate, 1),
    }


def measured_rate(vault: Vault, source: str) -> float:
    """The replay rate of the source's recent restores big enough to say (else the default)."""
    rates = []
    for key in vault.store.list(vault.restores(source)):
        if key.endswith("/report.json"):
            found = json.loads(vault.store.read(key))
            if found.get("durationSeconds") and found.get("revisions", 0) >= RATE_SAMPLE_REVISIONS:
                rates.append(found["revisions"] / found["durationSeconds"])
    return max(rates[-5:]) if rates else DEFAULT_REVISIONS_PER_SECOND


def failed_items(vault: Vault, source: str | None, restore_id: str) -> list[dict[str, Any]]:
    """The failed items of a restore's Distributed Map runs, from their result files (AWS's
    ResultWriter layout: `<prefix>/<mapRunId>/manifest.json` naming FAILED_<n>.json): which
    Map, which item (a partition, or an export object), its error and cause — newest run first."""
    if source is None:
        return []
    failed: list[dict[str, Any]] = []
    base = vault.restore(source, restore_id) + "results/"
    manifests = [k for k in vault.store.list(base) if k.endswith("/manifest.json")]
    for key in manifests:
        manifest = json.loads(vault.store.read(key))
        for entry in (manifest.get("ResultFiles") or {}).get("FAILED", []):
            for record in json.loads(vault.store.read(entry["Key"])):
                item = json.loads(record.get("Input") or "{}").get("item", {})
                failed.append(
                    {
                        "map": key[len(base) :].split("/", 1)[0],
                        "mapRunArn": manifest.get("MapRunArn"),
                        "item": item,
                        "status": record.get("Status"),
                        "error": record.get("Error"),
                        "cause": _message(record.get("Cause")),
                        "stoppedAt": record.get("StopDate"),
                    }
                )
    return sorted(failed, key=lambda f: str(f.get("stoppedAt")), reverse=True)


def _message(cause: Any) -> Any:
    """A Lambda task's cause is its error payload: its message is what a person reads."""
    try:
        payload = json.loads(cause) if isinstance(cause, str) else None
    except ValueError:
        return cause
    return payload.get("errorMessage", cause) if isinstance(payload, dict) else cause

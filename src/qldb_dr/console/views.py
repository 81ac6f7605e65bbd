"""What the console's pages show, read through boto3 only — Step Functions (ListExecutions,
DescribeExecution, GetExecutionHistory, ListMapRuns, DescribeMapRun, DescribeStateMachine)
and S3 (the vaults' catalogs, restores' plans and reports, drills' reports) — so it reads AWS
exactly as it reads the local endpoint.

Catalog objects and finished restores' reports are written once: they are cached by key.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from qldb_dr.catalog import RecoveryPoint, Vault
from qldb_dr.console.graph import layout
from qldb_dr.encoding import iso
from qldb_dr.errors import QldbDrError
from qldb_dr.restore import runs
from qldb_dr.workflows.deployment import BACKUP, RESTORE, Workflow, workflow
from qldb_dr.workflows.watch import history

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
PAYLOAD_LIMIT = 20_000  # characters of a state's input or output shown
# A lost region answers nothing: one quick attempt, not botocore's backoff on every poll.
QUICK = Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=3, read_timeout=20)


class Unreachable(Exception):
    """A region did not answer (lost, or no credentials for it)."""


def _json_default(value: Any) -> Any:
    return iso(value) if isinstance(value, datetime) else str(value)


def jsonable(value: dict[str, Any]) -> dict[str, Any]:
    """Times as qldb-dr writes them, and nothing JSON cannot say."""
    result: dict[str, Any] = json.loads(json.dumps(value, default=_json_default))
    return result


class Reader:
    """The console's view of two regions: the primary (backups) and the DR one (restores)."""

    def __init__(self, primary: str, dr: str) -> None:
        self.primary, self.dr = primary, dr
        self._clients: dict[tuple[str, str], Any] = {}
        self._workflows: dict[tuple[str, str], tuple[float, Workflow | None, str | None]] = {}
        self._objects: dict[str, Any] = {}  # key -> parsed JSON of objects written once
        self._lock = threading.Lock()

    # -- clients and deployments ------------------------------------------------------------------

    def client(self, service: str, region: str) -> Any:
        with self._lock:
            if (service, region) not in self._clients:
                make: Any = boto3.client  # the stubs know no qldb
                self._clients[(service, region)] = make(service, region_name=region, config=QUICK)
            return self._clients[(service, region)]

    def workflow(self, name: str, region: str) -> Workflow:
        """The deployed workflow (looked up once a minute); Unreachable if the region is not."""
        now = time.monotonic()
        cached = self._workflows.get((name, region))
        if cached is None or now - cached[0] > 60 or cached[1] is None:
            try:
                found: Workflow | None = workflow(name, region, self.client("stepfunctions", region))
                cached = (now, found, None)
            except QldbDrError as exc:
                cached = (now, None, str(exc))
            self._workflows[(name, region)] = cached
        if cached[1] is None:
            raise Unreachable(cached[2] or f"no {name} in {region}")
        return cached[1]

    def vault(self, region: str) -> Vault:
        deployed = self.workflow(BACKUP if region == self.primary else RESTORE, region)
        if not deployed.vault_bucket:
            raise Unreachable(f"the {deployed.name} workflow in {region} names no vault")
        return Vault.open(f"s3://{deployed.vault_bucket}", region, client=self.client("s3", region))

    def _call(self, region: str, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise Unreachable(f"{region}: {exc}") from exc

    # -- the overview ----------------------------------------------------------------------------

    def overview(self) -> dict[str, Any]:
        regions = []
        for role, region in (("primary", self.primary), ("dr", self.dr)):
            entry: dict[str, Any] = {"role": role, "region": region, "reachable": True, "error": None}
            try:
                deployed = self.workflow(BACKUP if role == "primary" else RESTORE, region)
                self._call(
                    region, self.client("stepfunctions", region).describe_state_machine, stateMachineArn=deployed.arn
                )
                entry["vault"] = deployed.vault_bucket
            except Unreachable as exc:
                entry.update(reachable=False, error=str(exc))
            regions.append(entry)
        return {"regions": regions, "now": iso(datetime.now(UTC))}

    def executions(self, name: str, region: str, limit: int = 25) -> list[dict[str, Any]]:
        deployed = self.workflow(name, region)
        sfn = self.client("stepfunctions", region)
        listed = self._call(region, sfn.list_executions, stateMachineArn=deployed.arn, maxResults=limit)
        rows = sorted(listed["executions"], key=lambda e: e["startDate"], reverse=True)
        return [
            {
                "arn": e["executionArn"],
                "name": e["name"],
                "workflow": name,
                "region": region,
                "status": e["status"],
                "startedAt": iso(e["startDate"]),
                "stoppedAt": iso(e["stopDate"]) if e.get("stopDate") else None,
            }
            for e in rows[:limit]
        ]

    # -- one execution -----------------------------------------------------------------------------

    def execution(self, arn: str) -> dict[str, Any]:
        region = arn.split(":")[3]
        sfn = self.client("stepfunctions", region)
        description = self._call(region, sfn.describe_execution, executionArn=arn)
        machine = self._call(region, sfn.describe_state_machine, stateMachineArn=description["stateMachineArn"])
        definition = json.loads(machine["definition"])
        events = self._call(region, history, sfn, arn)
        states = state_statuses(events, description["status"])
        maps = self._map_runs(sfn, region, arn, events)
        for run in maps:  # a Map's inner states are coloured by its run's items
            for inner in _inner_states(definition, run["state"]):
                states[f"{run['state']}/{inner}"] = {"status": _map_status(run), "counts": run["counts"]}
        execution_input = json.loads(description.get("input") or "{}")
        result: dict[str, Any] = {
            "arn": arn,
            "name": description["name"],
            "workflow": machine["name"],
            "region": region,
            "status": description["status"],
            "startedAt": iso(description["startDate"]),
            "stoppedAt": iso(description["stopDate"]) if description.get("stopDate") else None,
            "error": description.get("error"),
            "cause": description.get("cause"),
            "input": _clip(description.get("input")),
            "output": _clip(description.get("output")),
            "graph": layout(definition),
            "states": states,
            "mapRuns": maps,
            "restore": None,
        }
        if machine["name"] == RESTORE:
            result["restore"] = self._restore(region, description, execution_input)
        return jsonable(result)

    def _map_runs(self, sfn: Any, region: str, arn: str, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        state_of: dict[str, str] = {}
        current = None
        for event in events:  # a Map Run belongs to the Map state entered just before it started
            if event["type"] == "MapStateEntered":
                current = event["stateEnteredEventDetails"]["name"]
            elif event["type"] == "MapRunStarted" and current:
                state_of[event["mapRunStartedEventDetails"]["mapRunArn"]] = current
        try:
            listed = sfn.list_map_runs(executionArn=arn).get("mapRuns", [])
        except (ClientError, BotoCoreError):
            return []
        found = []
        for run in listed:
            described = self._call(region, sfn.describe_map_run, mapRunArn=run["mapRunArn"])
            counts = {k: int(v) for k, v in described.get("itemCounts", {}).items()}
            started = sum(counts.get(k, 0) for k in ("succeeded", "failed", "running", "timedOut", "aborted"))
            counts["total"] = max(counts.get("total", 0), started + counts.get("pending", 0))
            found.append(
                {
                    "arn": run["mapRunArn"],
                    "state": state_of.get(run["mapRunArn"], "Map"),
                    "status": described.get("status"),
                    "counts": counts,
                    "maxConcurrency": described.get("maxConcurrency"),
                    "startedAt": iso(described["startDate"]) if described.get("startDate") else None,
                    "stoppedAt": iso(described["stopDate"]) if described.get("stopDate") else None,
                }
            )
        return found

    def _restore(self, region: str, description: dict[str, Any], execution_input: dict[str, Any]) -> dict[str, Any]:
        try:
            vault = self.vault(region)
        except Unreachable as exc:
            return {"error": str(exc)}
        restore_id = runs.restore_id_of(description["name"], execution_input)
        source = runs.source_of(execution_input, vault)
        progress = runs.progress(vault, execution_input, description["name"], description)
        return {
            "restoreId": restore_id,
            "progress": progress,
            "report": runs.report(vault, source, restore_id),
            "failedItems": runs.failed_items(vault, source, restore_id),
            "retries": [e["name"] for e in self._retries(region, restore_id)],
            "retryable": description["status"] in TERMINAL - {"SUCCEEDED"} and source is not None,
        }

    def _retries(self, region: str, restore_id: str) -> list[dict[str, Any]]:
        sfn = self.client("stepfunctions", region)
        deployed = self.workflow(RESTORE, region)
        listed = self._call(region, sfn.list_executions, stateMachineArn=deployed.arn, maxResults=100)
        return [e for e in listed["executions"] if e["name"].startswith(f"{restore_id}-retry-")]

    # -- the vaults ------------------------------------------------------------------------------

    def recovery_points(self) -> dict[str, Any]:
        """Each ledger's recovery points in the DR vault, and whether each is in the primary
        vault too (replicated) — the primary's catalog when it answers."""
        dr_vault = self.vault(self.dr)
        ledgers = self._ledgers(dr_vault, self.dr)
        primary_vault: Vault | None = None
        primary_ledgers: set[str] = set()
        try:
            primary_vault = self.vault(self.primary)
            primary_ledgers = set(self._ledgers(primary_vault, self.primary))
        except Unreachable:
            primary_vault = None
        result = []
        for ledger in sorted(set(ledgers) | primary_ledgers):
            dr_points = {p.recovery_point_id: p for p in self._points(dr_vault, ledger, self.dr)}
            primary_points: dict[str, RecoveryPoint] | None = None
            if primary_vault is not None:
                try:
                    primary_points = {p.recovery_point_id: p for p in self._points(primary_vault, ledger, self.primary)}
                except Unreachable:
                    primary_points = None
            every = {**(primary_points or {}), **dr_points}
            rows = []
            for point in sorted(every.values(), key=lambda p: p.window_start):
                arrived = point.recovery_point_id in dr_points
                replication = "in the DR vault" if arrived else "not in the DR vault yet"
                rows.append(
                    {
                        "recoveryPointId": point.recovery_point_id,
                        "windowStart": iso(point.window_start),
                        "windowEnd": iso(point.window_end),
                        "firstBlock": None if point.first_block is None else point.first_block.sequence_no,
                        "lastBlock": None if point.last_block is None else point.last_block.sequence_no,
                        "blocks": point.blocks,
                        "revisions": point.revisions,
                        "verification": point.verification.get("status"),
                        "replication": replication,
                        "inPrimary": None if primary_points is None else point.recovery_point_id in primary_points,
                    }
                )
            result.append({"ledger": ledger, "points": rows, "primaryReachable": primary_points is not None})
        return {"ledgers": result}

    def _ledgers(self, vault: Vault, region: str) -> list[str]:
        """The ledgers of a vault: its top-level folders (one listing, not the whole vault)."""
        s3 = self.client("s3", region)
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=vault.bucket, Prefix=vault.prefix, Delimiter="/")
        folders = self._call(region, lambda: [p["Prefix"] for page in pages for p in page.get("CommonPrefixes", [])])
        return [f[len(vault.prefix) :].rstrip("/") for f in folders]

    def _points(self, vault: Vault, ledger: str, region: str) -> list[RecoveryPoint]:
        points = []
        keys = self._call(region, lambda: [k for k in vault.store.list(vault.catalog(ledger)) if k.endswith(".json")])
        for key in keys:
            cache = f"{vault.url}{key}"
            if cache not in self._objects:
                self._objects[cache] = RecoveryPoint.from_json(json.loads(vault.store.read(key)), key)
            points.append(self._objects[cache])
        return points

    def restores(self, limit: int = 20) -> list[dict[str, Any]]:
        """The DR region's restores, newest first: source, target, state, verification, RTO."""
        vault = self.vault(self.dr)
        sfn = self.client("stepfunctions", self.dr)
        rows: dict[str, dict[str, Any]] = {}
        for execution in reversed(self.executions(RESTORE, self.dr, limit=100)):
            key = f"input:{execution['arn']}"
            if key not in self._objects:
                described = self._call(self.dr, sfn.describe_execution, executionArn=execution["arn"])
                self._objects[key] = json.loads(described.get("input") or "{}")
            execution_input = self._objects[key]
            restore_id = runs.restore_id_of(execution["name"], execution_input)
            source = runs.source_of(execution_input, vault)
            report = self._report(vault, source, restore_id, execution["status"])
            if report is None and execution["status"] == "SUCCEEDED":
                continue  # a recovery point of a ledger with no standby: nothing was restored
            row = rows.setdefault(restore_id, {"restoreId": restore_id, "executions": []})
            row["executions"].append(execution["arn"])
            row.update(
                sourceLedger=source,
                targetLedger=execution_input.get("targetLedger") or (report or {}).get("targetLedger"),
                standby="catalogKey" in execution_input,
                state=execution["status"],
                startedAt=row.get("startedAt", execution["startedAt"]),
                latest=execution["arn"],
                result=None if report is None else report["status"],
                durationSeconds=None if report is None else report["durationSeconds"],
                revisions=None if report is None else report["revisions"],
                restoredToBlock=None if report is None else report["restoredToBlock"],
            )
        return sorted(rows.values(), key=lambda r: r["startedAt"], reverse=True)[:limit]

    def _report(self, vault: Vault, source: str | None, restore_id: str, state: str) -> dict[str, Any] | None:
        key = f"report:{restore_id}:{state}"
        if key in self._objects:
            cached: dict[str, Any] | None = self._objects[key]
            return cached
        report = runs.report(vault, source, restore_id)
        if state in TERMINAL:  # a later retry is another execution, with its own key
            self._objects[key] = report
        return report

    def drill_reports(self) -> list[dict[str, Any]]:
        """The drills recorded in the DR vault (their reports), newest first."""
        vault = self.vault(self.dr)
        found = []
        for ledger in self._ledgers(vault, self.dr):
            for key in vault.store.list(vault.drills(ledger)):
                cache = f"{vault.url}{key}"
                if cache not in self._objects:
                    self._objects[cache] = json.loads(vault.store.read(key))
                found.append({**self._objects[cache], "reportKey": key})
        return sorted(found, key=lambda r: str(r.get("startedAt")), reverse=True)


def state_statuses(events: list[dict[str, Any]], execution_status: str) -> dict[str, dict[str, Any]]:
    """Each state's status from the execution's history: running, succeeded, failed, or caught
    (it failed and a Catch moved on), with its input, output, error and retries."""
    states: dict[str, dict[str, Any]] = {}
    current: str | None = None
    for event in events:
        kind = event["type"]
        if kind.endswith("StateEntered"):
            details = event["stateEnteredEventDetails"]
            current = details["name"]
            states[current] = {
                "status": "running",
                "enteredAt": iso(event["timestamp"]),
                "input": _clip(details.get("input")),
                "retries": 0,
                "error": None,
                "runs": states.get(current, {}).get("runs", 0) + 1,
            }
        elif kind.endswith("StateExited"):
            details = event["stateExitedEventDetails"]
            entry = states.setdefault(details["name"], {"retries": 0, "error": None})
            entry["status"] = "caught" if entry.get("error") else "succeeded"
            entry["exitedAt"] = iso(event["timestamp"])
            entry["output"] = _clip(details.get("output"))
        elif current and kind in ("TaskScheduled", "LambdaFunctionScheduled") and states[current].get("error"):
            states[current]["retries"] += 1  # a Retry: it is running again
            states[current]["status"], states[current]["lastError"] = "running", states[current]["error"]
            states[current]["error"] = None
        elif current and kind.endswith(("Failed", "TimedOut", "Aborted")) and not kind.startswith("Execution"):
            failure: dict[str, Any] = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
            if failure.get("error") or not states[current].get("error"):
                states[current]["error"] = " — ".join(str(failure[k]) for k in ("error", "cause") if failure.get(k))
                states[current]["status"] = "failed"
    if execution_status in TERMINAL - {"SUCCEEDED"}:
        for entry in states.values():  # what was still running ended with the execution
            if entry["status"] == "running":
                entry["status"] = "failed"
    for name, entry in states.items():
        if entry["status"] == "running" and name.endswith("Failed") and execution_status != "RUNNING":
            entry["status"] = "failed"
    return states


def _inner_states(definition: dict[str, Any], map_state: str) -> list[str]:
    state = definition.get("States", {}).get(map_state, {})
    processor = state.get("ItemProcessor") or state.get("Iterator") or {}
    return list(processor.get("States", {}))


def _map_status(run: dict[str, Any]) -> str:
    counts = run["counts"]
    if counts.get("failed") or counts.get("timedOut") or counts.get("aborted"):
        return "failed"
    if run.get("status") == "RUNNING" or counts.get("running") or counts.get("pending"):
        return "running"
    return "succeeded"


def _clip(text: str | None) -> str | None:
    if text is None or len(text) <= PAYLOAD_LIMIT:
        return text
    return text[:PAYLOAD_LIMIT] + f"\n… ({len(text) - PAYLOAD_LIMIT:,} more characters)"

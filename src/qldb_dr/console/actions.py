"""What the console's buttons do: plan a restore (the dry run, nothing written), start it, retry
a failed one (only its unfinished batches run), and start a drill (on the local endpoint: a
`qldb-dr drill` process whose progress the console reads from its status file)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from qldb_dr.console.views import Reader, Unreachable
from qldb_dr.drill.core import new_drill_id
from qldb_dr.drill.failover import DrillSettings
from qldb_dr.errors import InvalidInputError, QldbDrError
from qldb_dr.restore import runs
from qldb_dr.restore.model import Mode
from qldb_dr.restore.settings import Settings
from qldb_dr.workflows.config import Strategy
from qldb_dr.workflows.deployment import RESTORE

RESTORE_FIELDS = (
    "sourceLedger",
    "targetLedger",
    "mode",
    "recoveryPointId",
    "at",
    "maxConcurrency",
    "partitions",
    "incremental",
)


class Actions:
    def __init__(self, reader: Reader, endpoint_url: str | None, state_dir: Path) -> None:
        self.reader = reader
        self.endpoint_url = endpoint_url  # the local endpoint's, or None on AWS (no drills)
        self.state_dir = state_dir
        self._drills: dict[str, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()

    # -- restores ----------------------------------------------------------------------------------

    def _restore_request(self, body: dict[str, Any]) -> tuple[dict[str, Any], Settings]:
        region = self.reader.dr
        vault = self.reader.vault(region)
        request: dict[str, Any] = {k: body.get(k) for k in RESTORE_FIELDS}
        request = {k: v for k, v in request.items() if v not in (None, "")}
        request["targetRegion"] = region
        for name in ("maxConcurrency", "partitions"):
            if name in request:
                request[name] = _whole(request[name], name)
        request["incremental"] = bool(request.get("incremental"))
        return request, Settings.resolve({"vault": vault.url, **request}, {}, region)  # bad input fails here

    def plan_restore(self, body: dict[str, Any]) -> dict[str, Any]:
        request, settings = self._restore_request(body)
        return {"request": request, "plan": runs.dry_run(settings, settings.open_vault())}

    def start_restore(self, body: dict[str, Any]) -> dict[str, Any]:
        request, settings = self._restore_request(body)
        deployed = self.reader.workflow(RESTORE, self.reader.dr)
        restore_id = runs.new_restore_id(settings.target_ledger)
        sfn = self.reader.client("stepfunctions", self.reader.dr)
        return {"restoreId": restore_id, "executionArn": runs.start(sfn, deployed.arn, restore_id, request)}

    def retry(self, body: dict[str, Any]) -> dict[str, Any]:
        """Retry failed batches: a new execution continuing the restore of `execution`."""
        arn = str(body.get("execution") or "")
        region = arn.split(":")[3] if arn.count(":") >= 6 else self.reader.dr
        sfn = self.reader.client("stepfunctions", region)
        try:
            description = sfn.describe_execution(executionArn=arn)
        except Exception as exc:
            raise InvalidInputError(f"no execution {arn!r}: {exc}") from exc
        if description["status"] == "RUNNING":
            raise InvalidInputError(f"{description['name']} is still running: wait for it to end before retrying")
        execution_input = json.loads(description["input"])
        restore_id = runs.restore_id_of(description["name"], execution_input)
        name, request = runs.retry_request(execution_input, restore_id)
        deployed = self.reader.workflow(RESTORE, region)
        return {"restoreId": restore_id, "executionArn": runs.start(sfn, deployed.arn, name, request)}

    # -- drills ------------------------------------------------------------------------------------

    def start_drill(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.endpoint_url is None:
            raise InvalidInputError(
                "a drill loses a region of the local endpoint: start the console beside `qldb-dr local up`",
                hint="on AWS, a scheduled drill runs from the CDK app's schedule",
            )
        settings = DrillSettings(
            rpo_seconds=_whole(body.get("rpo", 30), "rpo"),
            fail_after_seconds=_whole(body.get("failAfter", 75), "failAfter"),
            rate=float(body.get("rate") or 20),
            strategy=Strategy(body.get("strategy") or Strategy.BACKUP_RESTORE.value),
            mode=Mode(body.get("mode") or Mode.LATEST.value),
            inject_replay_failure=bool(body.get("injectReplayFailure")),
            retry=str(body.get("retry") or "auto"),
            primary_region=self.reader.primary,
            dr_region=self.reader.dr,
        ).validate()
        drill_id = new_drill_id()
        status = self.state_dir / f"drill-{drill_id}.json"
        log = self.state_dir / f"drill-{drill_id}.log"
        command = [
            sys.executable, "-m", "qldb_dr.cli.main", "drill", "--json",
            "--endpoint-url", self.endpoint_url, "--status-file", str(status), "--drill-id", drill_id,
            "--rpo", str(settings.rpo_seconds), "--fail-after", str(settings.fail_after_seconds),
            "--rate", str(settings.rate), "--strategy", settings.strategy.value, "--mode", settings.mode.value,
            "--retry", settings.retry,
        ]  # fmt: skip
        command += ["--inject-replay-failure"] if settings.inject_replay_failure else []
        with log.open("wb") as out:
            process = subprocess.Popen(command, stdout=out, stderr=out, stdin=subprocess.DEVNULL)
        with self._lock:
            self._drills[drill_id] = process
        return {"drillId": drill_id}

    def drill(self, drill_id: str) -> dict[str, Any]:
        """A drill this console started: its progress, its report once done, how it ended."""
        status_file = self.state_dir / f"drill-{drill_id}.json"
        process = self._drills.get(drill_id)
        if process is None and not status_file.exists():
            return self._recorded(drill_id)
        try:
            status: dict[str, Any] = json.loads(status_file.read_text())
        except (OSError, ValueError):
            status = {"drillId": drill_id, "phase": "starting", "events": [], "report": None}
        exit_code = None if process is None else process.poll()
        status["running"] = exit_code is None and process is not None
        status["exitCode"] = exit_code
        if exit_code not in (None, 0, 1) or (exit_code is not None and not status.get("report")):
            log = self.state_dir / f"drill-{drill_id}.log"
            status["error"] = status.get("error") or _tail(log)
        return status

    def _recorded(self, drill_id: str) -> dict[str, Any]:
        """A drill known only by its report in the DR vault, shown as a finished one."""
        report = next((r for r in self.reader.drill_reports() if r.get("drillId") == drill_id), None)
        if report is None:
            raise InvalidInputError(f"no drill {drill_id}: not started by this console, and no report in the DR vault")
        application = report.get("application") or {}
        return {
            "drillId": drill_id,
            "phase": "done",
            "status": report.get("status"),
            "sourceLedger": report.get("sourceLedger"),
            "targetLedger": report.get("targetLedger"),
            "primaryRegion": report.get("sourceRegion"),
            "drRegion": report.get("targetRegion"),
            "lossAt": report.get("lossAt"),
            "acknowledgedWrites": application.get("acknowledged"),
            "failedWrites": application.get("failedWrites"),
            "recoveryPoints": report.get("recoveryPoints"),
            "backups": {
                "started": len(report.get("backups") or []),
                "succeeded": sum(1 for b in report.get("backups") or [] if b.get("status") == "SUCCEEDED"),
            },
            "restore": report.get("restore") or {},
            "events": report.get("timeline") or [],
            "report": report,
            "running": False,
        }

    def drills(self) -> list[dict[str, Any]]:
        """The drills this console started (newest first), and those recorded in the DR vault."""
        started = [self.drill(d) for d in sorted(self._drills, reverse=True)]
        seen = {d.get("drillId") for d in started}
        try:
            recorded = [r for r in self.reader.drill_reports() if r.get("drillId") not in seen]
        except (Unreachable, QldbDrError):
            recorded = []
        return [_brief(d.get("report") or d, running=d.get("running", False)) for d in started] + [
            _brief(r, running=False) for r in recorded
        ]


def _brief(drill: dict[str, Any], *, running: bool) -> dict[str, Any]:
    rpo = drill.get("rpo") or {}
    rto = drill.get("rto") or {}
    return {
        "drillId": drill.get("drillId"),
        "kind": drill.get("kind", "failover"),
        "sourceLedger": drill.get("sourceLedger"),
        "strategy": drill.get("strategy"),
        "mode": drill.get("mode"),
        "status": drill.get("status") or ("RUNNING" if running else None),
        "phase": drill.get("phase"),
        "running": running,
        "startedAt": drill.get("startedAt"),
        "rpoSeconds": rpo.get("seconds"),
        "lostTransactions": rpo.get("lostTransactions"),
        "rtoSeconds": rto.get("seconds"),
    }


def _whole(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{name} must be a whole number, not {value!r}") from exc


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return ""

"""The failover drill on the local endpoint, step by step:

1. create the source ledger in the primary region; the application (a vehicle registry)
   writes to it continuously; a backup runs every RPO interval (its settle delay sized to
   the RPO), each recovery point replicating to the DR vault;
   (warm standby: the standby is declared first, and each recovery point landing in the DR
   vault is replayed into it; intermediate: the first recovery point to land is restored
   ahead of the loss);
2. at `fail_after` the primary region is lost: the endpoint refuses every request signed
   for it — its ledger, its vault, its workflows — from then on; the drill proves it;
3. the latest recovery point that reached the DR vault is restored in the DR region with
   the Restore workflow (the standby or the preloaded target caught up incrementally),
   retried once after a failure (an injected one is cleared first);
4. the drill holds the result to what the application was told: the restore verified, the
   acknowledged writes missing from it exactly those after its window, the target equal to
   the application's own state after its last restored transaction; RPO and RTO measured;
5. the report goes into the DR vault; the region comes back, the drill's ledgers are deleted.
"""

from __future__ import annotations

import contextlib
import json
import random
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from pyqldb.config.retry_config import RetryConfig
from pyqldb.driver.qldb_driver import QldbDriver

from qldb_dr.aws import client as aws_client
from qldb_dr.catalog import Catalog, RecoveryPoint, Vault
from qldb_dr.checks import Check, Status, worst
from qldb_dr.drill import application, core
from qldb_dr.drill.accounting import account, rpo_check
from qldb_dr.drill.progress import Phase, Progress
from qldb_dr.encoding import iso
from qldb_dr.errors import InvalidInputError, QldbDrError
from qldb_dr.restore import expected, faults, runs
from qldb_dr.restore import target as targets
from qldb_dr.restore.model import Mode, Target
from qldb_dr.workflows.config import Strategy
from qldb_dr.workflows.deployment import BACKUP, RESTORE, Workflow, workflow
from qldb_dr.workflows.triggers import put_standby
from qldb_dr.workflows.watch import Step

POLL_SECONDS = 0.5
BACKUP_POLL_SECONDS = 1  # the backups' DescribeJournalS3Export interval (QLDB's default: 15 s)
LOSS_TIMEOUT_SECONDS = 30  # how long the writer may take to notice the loss


def default_settle(rpo_seconds: int) -> int:
    """The settle delay a drill sizes to its RPO: a sixth of it, 1 to 60 s. Each recovery
    point's window ends this long before its backup starts, so it adds to every point's age;
    QLDB's 60 s default would dominate a short RPO."""
    return max(1, min(60, round(rpo_seconds / 6)))


@dataclass(frozen=True)
class DrillSettings:
    rpo_seconds: int = 30
    fail_after_seconds: int = 75
    settle_seconds: int | None = None  # None: default_settle(rpo_seconds)
    rate: float = 20.0  # application transactions per second
    strategy: Strategy = Strategy.BACKUP_RESTORE
    mode: Mode = Mode.LATEST
    inject_replay_failure: bool = False
    retry: str = "auto"  # auto: the drill retries a failed restore; manual: it waits for someone to
    partitions: int = 16
    max_concurrency: int = 8
    seed: int | None = None
    primary_region: str = "us-east-1"
    dr_region: str = "us-west-2"
    keep: bool = False  # keep the drill's ledgers

    @property
    def settle(self) -> int:
        return default_settle(self.rpo_seconds) if self.settle_seconds is None else self.settle_seconds

    @property
    def rpo_budget(self) -> float:
        return self.rpo_seconds + self.settle + 10.0

    def validate(self) -> DrillSettings:
        if self.rpo_seconds <= 0:
            raise InvalidInputError(f"--rpo must be a positive number of seconds, not {self.rpo_seconds}")
        if self.fail_after_seconds < self.rpo_seconds:
            raise InvalidInputError(
                f"--fail-after {self.fail_after_seconds} is shorter than one backup interval (--rpo "
                f"{self.rpo_seconds}): no recovery point could reach the DR vault before the loss"
            )
        if not 0 <= self.settle < self.rpo_seconds:
            raise InvalidInputError(
                f"--settle-seconds {self.settle} must be 0 or more and shorter than --rpo {self.rpo_seconds}"
            )
        if not 0 < self.rate <= 200:
            raise InvalidInputError(f"--rate must be more than 0 and at most 200 transactions/s, not {self.rate}")
        if self.retry not in ("auto", "manual"):
            raise InvalidInputError(f"--retry must be auto or manual, not {self.retry!r}")
        if self.primary_region == self.dr_region:
            raise InvalidInputError(f"the primary and DR regions must differ (both {self.primary_region})")
        return self


@dataclass
class FailoverDrill:
    settings: DrillSettings
    endpoint_url: str
    on_progress: Callable[[Progress], None] = lambda progress: None
    drill_id: str = field(default_factory=core.new_drill_id)
    steps: list[dict[str, Any]] = field(default_factory=list)  # what came before (starting the endpoint)

    def __post_init__(self) -> None:
        short = self.drill_id[9:15] + self.drill_id[-4:]  # HHMMSS + random
        self.source = f"drill-{short}"
        self.target = f"drill-{short}-dr"
        self.random = random.Random(self.settings.seed)
        self.progress = Progress(
            self.drill_id, self.source, self.target, self.settings.primary_region, self.settings.dr_region
        )
        self.checks: list[Check] = []
        self.injected: int | None = None  # the partition whose replay the drill made fail
        self.backups: list[dict[str, Any]] = []
        self._phase_started = time.monotonic()

    # -- the drill --------------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        s = self.settings
        self.backup = workflow(BACKUP, s.primary_region)
        self.restore = workflow(RESTORE, s.dr_region)
        self.primary_vault = _vault(self.backup)
        self.dr_vault = _vault(self.restore)
        self.sfn_primary = aws_client("stepfunctions", s.primary_region)
        self.sfn_dr = aws_client("stepfunctions", s.dr_region)
        app: application.Application | None = None
        try:
            app = self._start_application()
            self._run_until_loss(app)
            self._lose(app)
            run, point = self._recover()
            report = self._conclude(app, run, point)
        finally:
            self._heal()
            if app is not None:
                app.driver.close()
        self._clean_up()
        self._phase(Phase.DONE, f"drill {report['status']}")
        return report

    def _phase(self, phase: Phase, text: str) -> None:
        now = time.monotonic()
        if self.progress.phase is not Phase.DONE:
            self.steps.append({"state": self.progress.phase.value, "seconds": round(now - self._phase_started, 3)})
        self._phase_started = now
        self.progress.phase = phase
        self.progress.event(text)
        self.on_progress(self.progress)

    def _start_application(self) -> application.Application:
        s = self.settings
        qldb = aws_client("qldb", s.primary_region)
        qldb.create_ledger(Name=self.source, PermissionsMode="STANDARD", DeletionProtection=False)
        deadline = time.monotonic() + 60
        while qldb.describe_ledger(Name=self.source)["State"] != "ACTIVE":
            if time.monotonic() > deadline:
                raise QldbDrError(f"the source ledger {self.source} did not become ACTIVE within 60 s")
            time.sleep(0.1)
        driver = QldbDriver(self.source, region_name=s.primary_region, retry_config=RetryConfig(retry_limit=2))
        app = application.Application(driver, self.random)
        app.setup()
        if s.strategy is Strategy.WARM_STANDBY:
            if self.dr_vault.bucket is None:
                raise QldbDrError(f"the DR vault {self.dr_vault.url} is a directory: a standby follows S3 events")
            put_standby(
                self.restore, self.dr_vault.bucket, self.dr_vault.prefix, self.source, self.target, s.mode.value
            )
        self._phase(
            Phase.RUNNING,
            f"source ledger {self.source} in {s.primary_region}: the application writes ~{s.rate:g} transactions/s; "
            f"a backup every {s.rpo_seconds} s (settle {s.settle} s); the primary region is lost in "
            f"{s.fail_after_seconds} s",
        )
        return app

    def _run_until_loss(self, app: application.Application) -> None:
        s = self.settings
        stop = self._stop = threading.Event()
        self._writer = threading.Thread(target=app.run, args=(s.rate, stop), name="drill-application", daemon=True)
        self._writer.start()
        began = time.monotonic()
        self.progress.loss_due_at = datetime.now(UTC) + timedelta(seconds=s.fail_after_seconds)
        next_backup = began + s.rpo_seconds
        self._preload: core.RestoreRun | None = None
        while (now := time.monotonic()) < began + s.fail_after_seconds:
            if now >= next_backup:
                self._start_backup()
                next_backup += s.rpo_seconds
            self._observe(app)
            time.sleep(min(POLL_SECONDS, max(0.0, began + s.fail_after_seconds - time.monotonic())))

    def _start_backup(self) -> None:
        s = self.settings
        request = {"ledgerName": self.source, "settleSeconds": s.settle, "pollSeconds": BACKUP_POLL_SECONDS}
        name = f"{self.source}-{datetime.now(UTC):%Y%m%dT%H%M%S}"
        try:
            arn = self.sfn_primary.start_execution(
                stateMachineArn=self.backup.arn, name=name, input=json.dumps(request)
            )["executionArn"]
        except (ClientError, BotoCoreError) as exc:
            self.progress.event(f"a backup could not start: {exc}")
            return
        self.progress.backups[arn] = "RUNNING"
        self.backups.append({"execution": arn, "startedAt": iso(datetime.now(UTC)), "status": "RUNNING"})

    def _observe(self, app: application.Application) -> None:
        """Refresh what the drill shows: writes, backups, recovery points in both vaults."""
        p = self.progress
        p.acknowledged, p.failed_writes = app.acknowledged, app.failures
        for backup in self.backups:
            if backup["status"] == "RUNNING":
                try:
                    described = self.sfn_primary.describe_execution(executionArn=backup["execution"])
                except (ClientError, BotoCoreError):
                    continue
                backup["status"] = p.backups[backup["execution"]] = described["status"]
                if described["status"] != "RUNNING":
                    backup["stoppedAt"] = iso(described.get("stopDate") or datetime.now(UTC))
                    recorded = json.loads(described.get("output") or "{}").get("recorded") or {}
                    point = recorded.get("recoveryPoint") or {}
                    backup["recoveryPointId"] = point.get("recoveryPointId")
                    p.event(f"backup {described['status'].lower()}: recovery point {point.get('recoveryPointId')}")
        p.primary_points = len(Catalog(self.primary_vault).recovery_points(self.source))
        dr = Catalog(self.dr_vault).recovery_points(self.source)
        if len(dr) > p.dr_points:
            p.event(
                f"recovery point {dr[-1].recovery_point_id} reached the DR vault (window ends {iso(dr[-1].window_end)})"
            )
        p.dr_points = len(dr)
        p.last_dr_window_end = dr[-1].window_end if dr else None
        if self.settings.strategy is Strategy.INTERMEDIATE and dr and self._preload is None:
            self._preload = self._start(self._request(dr[-1], incremental=False))
            p.event(f"intermediate: restoring recovery point {dr[-1].recovery_point_id} ahead into {self.target}")
        self.on_progress(p)

    def _lose(self, app: application.Application) -> None:
        s = self.settings
        loss_at = datetime.now(UTC)
        _outage(self.endpoint_url, "POST", s.primary_region)
        self._stop.set()
        self.progress.loss_at = self.loss_at = loss_at
        self._phase(Phase.LOST, f"the primary region {s.primary_region} is lost: its ledger and vault are unreachable")
        self._writer.join(timeout=LOSS_TIMEOUT_SECONDS)
        self.progress.acknowledged, self.progress.failed_writes = app.acknowledged, app.failures
        self.checks.append(self._probe_primary())

    def _probe_primary(self) -> Check:
        """The loss is real: the restore side's own clients are refused by the primary region."""
        check = Check("primary-lost", "after the loss the primary region's ledger and vault refuse every request")
        once = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=5)
        region = self.settings.primary_region
        probes: list[tuple[str, Callable[[], Any]]] = [
            (
                f"QLDB DescribeLedger {self.source}",
                lambda: _client("qldb", region, once).describe_ledger(Name=self.source),
            ),
            (
                f"S3 HeadBucket {self.primary_vault.bucket}",
                lambda: _client("s3", region, once).head_bucket(Bucket=self.primary_vault.bucket),
            ),
        ]
        for what, probe in probes:
            try:
                probe()
            except (ClientError, BotoCoreError):
                check.passed()
            else:
                check.fail(f"{what} in {region} answered after the loss", expected="refused", found="answered")
        check.summary = f"{check.checked} of {len(probes)} probes of {region} refused"
        return check

    def _recover(self) -> tuple[core.RestoreRun | None, RecoveryPoint | None]:
        s = self.settings
        points = Catalog(self.dr_vault).recovery_points(self.source)
        if not points:
            self.progress.event("no recovery point reached the DR vault before the loss: nothing to restore")
            return None, None
        latest = points[-1]
        if s.strategy is Strategy.WARM_STANDBY:
            self._wait_for_standby(latest)
        elif self._preload is not None:
            core.follow(self.sfn_dr, self.dr_vault, self._preload)
            self.progress.event(f"the preloaded restore ended {self._preload.status}")
        incremental = s.strategy is not Strategy.BACKUP_RESTORE and targets.exists(Target(self.target, s.dr_region))
        restore_id = runs.new_restore_id(self.target)
        lam = aws_client("lambda", s.dr_region)
        if s.inject_replay_failure and incremental and latest.last_block is not None:
            held = targets.state(Target(self.target, s.dr_region))
            if held is not None and held.watermark >= latest.last_block.sequence_no:
                self.progress.event(
                    f"the standby already holds recovery point {latest.recovery_point_id}: the final restore has "
                    "nothing to replay, so the injected failure cannot happen"
                )
        if s.inject_replay_failure:
            partition = self.injected = self.random.randrange(s.partitions)
            faults.set_replay_fault(lam, faults.replay_fault(restore_id, partition))
            self.progress.event(f"injected: partition {partition} of restore {restore_id} will fail to replay")
        self._phase(
            Phase.RESTORING,
            f"restoring recovery point {latest.recovery_point_id} (window ends {iso(latest.window_end)}) into "
            f"{self.target} in {s.dr_region}" + (" (incremental)" if incremental else ""),
        )
        try:
            run = self._start(self._request(latest, incremental=incremental), restore_id)
            self._follow(run)
            if run.status != "SUCCEEDED" or not run.verified:
                if s.inject_replay_failure:
                    faults.set_replay_fault(lam, None)
                    self.progress.event("the injected fault is cleared")
                self._retry(run)
        finally:
            if s.inject_replay_failure:
                faults.set_replay_fault(lam, None)
        self.restored_at = run.ended_at or datetime.now(UTC)
        return run, latest

    def _retry(self, run: core.RestoreRun) -> None:
        if self.settings.retry == "auto":
            self.progress.event(f"restore {run.status.lower()}: retrying it (only what did not finish runs)")
            core.retry(self.sfn_dr, self.restore, run)
        else:
            self._phase(
                Phase.WAITING_FOR_RETRY,
                f"restore {run.status.lower()}: retry it in the console, or `qldb-dr restore retry {run.restore_id}`",
            )
            if not core.retried_elsewhere(self.sfn_dr, self.restore, run):
                self.progress.event("no one retried the restore in time")
                return
            self._phase(Phase.RESTORING, "the restore is being retried")
        self.progress.restore_executions = list(run.executions)
        self._follow(run)

    def _start(self, request: dict[str, Any], restore_id: str | None = None) -> core.RestoreRun:
        return core.start_restore(self.sfn_dr, self.restore, self.dr_vault, self.source, request, restore_id)

    def _request(self, point: RecoveryPoint, *, incremental: bool) -> dict[str, Any]:
        s = self.settings
        return {
            "sourceLedger": self.source,
            "targetLedger": self.target,
            "targetRegion": s.dr_region,
            "mode": s.mode.value,
            "recoveryPointId": point.recovery_point_id,
            "incremental": incremental,
            "partitions": s.partitions,
            "maxConcurrency": s.max_concurrency,
        }

    def _follow(self, run: core.RestoreRun) -> None:
        p = self.progress
        p.restore_id, p.restore_executions = run.restore_id, list(run.executions)
        last = [0.0]

        def on_step(step: Step) -> None:
            if step.kind == "entered":
                p.restore_state = step.name
            elif step.kind == "map":
                p.map_counts = dict(step.counts)
            elif step.kind == "failed" and step.detail:
                p.event(f"✗ {step.name}: {step.detail}")
            if time.monotonic() - last[0] > 1.0:  # the vault's counts, once a second
                last[0] = time.monotonic()
                self._restore_progress(run)
            self.on_progress(p)

        core.follow(self.sfn_dr, self.dr_vault, run, on_step, interval=POLL_SECONDS)
        self._restore_progress(run)
        p.event(
            f"restore execution {len(run.executions)} ended {run.status}"
            + (f", report {run.report['status']}" if run.report else "")
        )
        if run.status != "SUCCEEDED":
            for item in runs.failed_items(self.dr_vault, self.source, run.restore_id)[:5]:
                p.event(f"  failed {item['map']} item {json.dumps(item['item'])}: {item['error']}: {item['cause']}")
        self.on_progress(p)

    def _restore_progress(self, run: core.RestoreRun) -> None:
        try:
            description = self.sfn_dr.describe_execution(executionArn=run.executions[-1])
            status = runs.progress(self.dr_vault, json.loads(description["input"]), run.restore_id, description)
        except (ClientError, BotoCoreError, QldbDrError):
            return
        p = self.progress
        p.revisions_applied, p.revisions_planned = status["revisionsApplied"], status["revisionsPlanned"]
        p.revisions_per_second, p.eta_seconds = status["revisionsPerSecond"], status["etaSeconds"]

    def _wait_for_standby(self, latest: RecoveryPoint) -> None:
        """Let the standby's restores in flight (started by the recovery points' arrival) end."""
        self.progress.event("warm standby: waiting for the standby's restores in flight")
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            running = [
                e
                for page in self.sfn_dr.get_paginator("list_executions").paginate(
                    stateMachineArn=self.restore.arn, statusFilter="RUNNING"
                )
                for e in page["executions"]
                if self.source in self.sfn_dr.describe_execution(executionArn=e["executionArn"]).get("input", "")
            ]
            if not running:
                return
            time.sleep(POLL_SECONDS)

    # -- the verdict ------------------------------------------------------------------------------

    def _conclude(
        self, app: application.Application, run: core.RestoreRun | None, point: RecoveryPoint | None
    ) -> dict[str, Any]:
        s = self.settings
        self._phase(Phase.CHECKING, "checking the restore against what the application was told")
        restore = (
            core.restore_check(run)
            if run is not None
            else Check("restore", "the Restore workflow verified the target equal to the journal")
        )
        if run is None:
            restore.fail("no recovery point reached the DR vault before the primary region was lost")
            restore.summary = "nothing restored"
        self.checks.insert(0, restore)
        if run is not None and self.injected is not None:
            failed = runs.failed_items(self.dr_vault, self.source, run.restore_id)
            self.checks.insert(1, core.fault_check(self.injected, failed, run))
        accounting = None
        if run is not None and run.report is not None and point is not None:
            cut = int(run.report["restoredToBlock"])
            restored_ids = {b.transaction_id for b in expected.journal(self.dr_vault, self.source, cut)}
            accounting, lost = account(app.log, restored_ids, point.window_end, self.loss_at)
            self.checks += [lost, rpo_check(accounting, s.rpo_budget)]
            self.checks.append(self._application_check(app, len(accounting.restored)))
        status = "FAILURE" if worst(self.checks) is Status.FAILURE else "OK"
        finished = datetime.now(UTC)
        rto = None if run is None or not run.verified else (self.restored_at - self.loss_at).total_seconds()
        report: dict[str, Any] = {
            "formatVersion": core.FORMAT_VERSION,
            "kind": "failover",
            "drillId": self.drill_id,
            "status": status,
            "sourceLedger": self.source,
            "sourceRegion": s.primary_region,
            "targetLedger": self.target,
            "targetRegion": s.dr_region,
            "strategy": s.strategy.value,
            "mode": s.mode.value,
            "settings": {
                "rpoSeconds": s.rpo_seconds,
                "settleSeconds": s.settle,
                "failAfterSeconds": s.fail_after_seconds,
                "rate": s.rate,
                "injectReplayFailure": s.inject_replay_failure,
                "retry": s.retry,
                "partitions": s.partitions,
                "maxConcurrency": s.max_concurrency,
            },
            "startedAt": iso(self.progress.started_at),
            "lossAt": iso(self.loss_at),
            "finishedAt": iso(finished),
            "rpo": {
                **(accounting.to_json() if accounting else {}),
                "budgetSeconds": s.rpo_budget,
                "recoveryPoint": None if point is None else core.point_json(point, self.loss_at),
            },
            "rto": {
                "seconds": None if rto is None else round(rto, 3),
                "restoreSeconds": None if run is None or run.report is None else run.report["durationSeconds"],
            },
            "revisions": None if run is None or run.report is None else run.report["revisions"],
            "replay": None if run is None or run.report is None else run.report.get("replay"),
            "application": {
                "acknowledged": app.acknowledged,
                "failedWrites": app.failures,
                "lastError": app.last_error or None,
            },
            "recoveryPoints": {"primary": self.progress.primary_points, "dr": self.progress.dr_points},
            "backups": self.backups,
            "restore": None if run is None else run.to_json(),
            "checks": [c.to_json() for c in self.checks],
            "timeline": list(self.progress.events),
            "steps": self.steps
            + ([] if run is None else [{**step, "restore": True} for step in core.steps_of(self.sfn_dr, run)]),
        }
        report["reportKey"] = core.write_report(self.dr_vault, self.source, report)
        report["reportUrl"] = self.dr_vault.store.url + report["reportKey"]
        self.progress.status, self.progress.report_key = status, report["reportKey"]
        return report

    def _application_check(self, app: application.Application, restored: int) -> Check:
        """The target, read back through pyqldb by the application's keys, is exactly what the
        application had written after its last restored transaction (qldb-dr's journal model
        plays no part: this is the application's view)."""
        check = Check("application", "the target holds the application's state after its last restored transaction")
        driver = QldbDriver(self.target, region_name=self.settings.dr_region, retry_config=RetryConfig(retry_limit=4))
        try:
            found = application.read_tables(driver)
        finally:
            driver.close()
        want = application.state(app.log, restored)
        for line in application.differences(want, found):
            check.fail(line)
        documents = sum(len(v) for v in want.values())
        check.passed(documents)
        check.summary = (
            f"{documents:,} documents in {len(want)} tables, as after transaction {restored - 1}"
            if not check.failures
            else f"{check.failures} documents differ from the application's state"
        )
        return check

    def _heal(self) -> None:
        with contextlib.suppress(OSError):  # the endpoint is gone: nothing to bring back
            _outage(self.endpoint_url, "DELETE", self.settings.primary_region)

    def _clean_up(self) -> None:
        if self.settings.keep:
            return
        for target in (Target(self.target, self.settings.dr_region), Target(self.source, self.settings.primary_region)):
            try:
                core.delete_ledger(target)
            except QldbDrError as exc:
                self.progress.event(f"not deleted: {exc}")


def _vault(deployed: Workflow) -> Vault:
    if not deployed.vault_bucket:
        raise QldbDrError(f"the {deployed.name} workflow in {deployed.region} does not name its vault")
    return Vault.open(f"s3://{deployed.vault_bucket}", deployed.region)


def _client(service: str, region: str, config: Config) -> Any:
    make: Any = boto3.client  # the stubs know no qldb
    return make(service, region_name=region, config=config)


def _outage(endpoint_url: str, method: str, region: str) -> None:
    """Lose (POST) or bring back (DELETE) a region of the local endpoint."""
    url = f"{endpoint_url.rstrip('/')}/_qldb-dr/outage"
    if method == "POST":
        request = urllib.request.Request(url, data=json.dumps({"region": region}).encode(), method="POST")
    else:
        request = urllib.request.Request(f"{url}?region={region}", method="DELETE")
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()

"""What qldb-dr deploys, in one place: every function (handler, memory, timeout, environment,
what it may touch), every state machine (its ASL file and which function fills each
`${Placeholder}`), every schedule and rule, and the names and tags the CLI finds them by.

Two deployers read it and nothing else: the CDK app (`infra/`) on AWS and `qldb-dr local up`
(`local/deploy.py`); `tests/infra/test_parity.py` fails if either deploys something the
other does not. Both workflows run in both regions: the backup in the primary region (and in
the DR region for the ledgers restored there, so that they can be failed back), the restore in
the DR region (and in the primary region, for a point-in-time restore in place).
"""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from qldb_dr.errors import QldbDrError
from qldb_dr.workflows.config import DeploymentConfig, Strategy
from qldb_dr.workflows.deployment import BACKUP, DRILL, RESTORE, VAULT_TAG

# Everything qldb-dr deploys carries this tag (cost allocation, and finding it again).
TAGS = {"qldb-dr:component": "qldb-dr"}
# Custom CloudWatch metrics the steps emit (embedded metric format: a log line, no API call).
METRICS_NAMESPACE = "QldbDr"
RECOVERY_POINT_METRIC = "RecoveryPointRecorded"  # 1 per recovery point; dimension Ledger
RESTORE_FAILED_METRIC = "RestoreFailed"  # 1 per restore whose report is not OK; dimension SourceLedger
RESTORE_VERIFIED_METRIC = "RestoreVerified"  # 1 per restore verified OK; dimension SourceLedger
DRILL_FAILED_METRIC = "DrillFailed"  # 1 per drill whose restore did not verify; dimension Ledger
DRILL_VERIFIED_METRIC = "DrillVerified"  # 1 per drill verified; dimension Ledger
DRILL_RPO_METRIC = "DrillRpoSeconds"  # the latest recovery point's age when a drill began
DRILL_RTO_METRIC = "DrillRtoSeconds"  # a drill's restore, start to verified
RUNTIME = "python3.14"
SERVICE = "qldb-dr"


class Region(enum.StrEnum):
    PRIMARY = "primary"
    DR = "dr"


class Setting(enum.StrEnum):
    """An environment variable whose value the deployer knows (per region), by its name."""

    VAULT_BUCKET = "QLDB_DR_VAULT_BUCKET"
    VAULT_PREFIX = "QLDB_DR_VAULT_PREFIX"
    EXPORT_ROLE = "QLDB_DR_EXPORT_ROLE_ARN"
    VAULT_KEY = "QLDB_DR_KMS_KEY_ARN"
    SETTLE_SECONDS = "QLDB_DR_SETTLE_SECONDS"
    RESTORE_STATE_MACHINE = "QLDB_DR_RESTORE_STATE_MACHINE_ARN"


class Access(enum.StrEnum):
    """What a function may touch; the CDK app turns each into IAM statements scoped to the
    vault, its key, the configured ledgers and the restore targets."""

    VAULT_READ = "read the vault (list, get, versions, tags)"
    PROOF_WRITE = "write digests and proofs beside the exports"
    CATALOG_WRITE = "write recovery points into the catalog"
    JOURNAL_TAG = "tag the exported objects"
    RESTORE_WRITE = "write restores' plans, partitions and reports"
    SOURCE_DESCRIBE = "describe the protected ledgers and their exports"
    SOURCE_EXPORT = "export the protected ledgers' journals (passing the export role)"
    SOURCE_DIGEST = "read the protected ledgers' digests and block proofs"
    TARGET_CREATE = "create and describe restore targets"
    TARGET_WRITE = "create tables and indexes, write and redact documents in restore targets"
    TARGET_READ = "read restore targets (documents, history)"
    RESTORE_START = "start and follow restores (this region's restore workflow and its executions)"
    DRILL_WRITE = "write drills' reports"
    SCRATCH_DELETE = "delete drills' scratch ledgers"


# Every step reads the vault's location from its environment.
_VAULT = (Setting.VAULT_BUCKET, Setting.VAULT_PREFIX)
# Static variables every function gets (powertools' logger and metrics).
STATIC_ENVIRONMENT = {
    "POWERTOOLS_SERVICE_NAME": SERVICE,
    "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
    "POWERTOOLS_LOG_LEVEL": "INFO",
}
# The dimensions powertools adds to every metric of a function with that environment.
METRIC_DIMENSIONS = {"service": SERVICE}


@dataclass(frozen=True, slots=True)
class Function:
    placeholder: str  # the ASL `${Placeholder}` its ARN fills
    handler: str
    memory_mb: int
    timeout_seconds: int
    settings: tuple[Setting, ...]
    access: frozenset[Access]

    @property
    def name(self) -> str:
        """PlanExportWindowFunction -> qldb-dr-plan-export-window."""
        words = re.findall(r"[A-Z][a-z]*", self.placeholder.removesuffix("Function"))
        return "qldb-dr-" + "-".join(w.lower() for w in words)


def _function(placeholder: str, handler: str, memory: int, timeout: int, *access: Access, **extra: Any) -> Function:
    settings = _VAULT + tuple(extra.get("settings", ()))
    return Function(placeholder, f"tasks.{handler}.handler", memory, timeout, settings, frozenset(access))


A = Access
# Memory: 1,769 MB is one whole vCPU on Lambda — the steps that hash or replay a whole object
# get it; the small calls get the least that starts quickly. Timeouts are Lambda's 15 minutes
# for the steps whose work grows with the journal (each is one object or one partition).
FUNCTIONS: tuple[Function, ...] = (
    _function(
        "PlanExportWindowFunction",
        "plan_export_window",
        256,
        120,
        A.VAULT_READ,
        A.SOURCE_DESCRIBE,
        settings=(Setting.EXPORT_ROLE, Setting.VAULT_KEY, Setting.SETTLE_SECONDS),
    ),
    _function("StartExportFunction", "start_export", 256, 120, A.SOURCE_DESCRIBE, A.SOURCE_EXPORT),
    _function("DescribeExportFunction", "describe_export", 256, 120, A.SOURCE_DESCRIBE),
    _function(
        "VerifyExportFunction", "verify_export", 1769, 900, A.VAULT_READ, A.PROOF_WRITE, A.SOURCE_DIGEST
    ),
    _function("RecordRecoveryPointFunction", "record_recovery_point", 512, 300, A.VAULT_READ, A.CATALOG_WRITE,
              A.JOURNAL_TAG),
    _function("PlanRestoreFunction", "plan_restore", 1769, 900, A.VAULT_READ, A.RESTORE_WRITE, A.TARGET_READ),
    _function("PrepareTargetFunction", "prepare_target", 512, 900, A.VAULT_READ, A.RESTORE_WRITE, A.TARGET_CREATE,
              A.TARGET_WRITE, A.TARGET_READ),
    _function("PartitionExportFunction", "partition_export", 1769, 900, A.VAULT_READ, A.RESTORE_WRITE),
    _function("CheckJournalFunction", "check_journal", 512, 900, A.VAULT_READ, A.RESTORE_WRITE),
    _function("ReplayPartitionFunction", "replay_partition", 1769, 900, A.VAULT_READ, A.RESTORE_WRITE,
              A.TARGET_WRITE, A.TARGET_READ),
    _function("VerifyRestoreFunction", "verify_restore", 1769, 900, A.VAULT_READ, A.RESTORE_WRITE, A.TARGET_READ),
    _function("WriteReportFunction", "write_report", 512, 300, A.VAULT_READ, A.RESTORE_WRITE),
    _function("BeginDrillFunction", "begin_drill", 256, 120, A.VAULT_READ, A.RESTORE_START,
              settings=(Setting.RESTORE_STATE_MACHINE,)),
    _function("CheckDrillFunction", "check_drill", 256, 60, A.RESTORE_START),
    _function("FinishDrillFunction", "finish_drill", 512, 300, A.VAULT_READ, A.RESTORE_START, A.DRILL_WRITE,
              A.SCRATCH_DELETE),
)  # fmt: skip


def function(placeholder: str) -> Function:
    for candidate in FUNCTIONS:
        if candidate.placeholder == placeholder:
            return candidate
    raise KeyError(placeholder)


def statemachines_dir() -> Path:
    """statemachines/ beside the package's source (a checkout or an editable install)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "statemachines").is_dir():
            return parent / "statemachines"
    raise QldbDrError(
        f"no statemachines/ folder above {here}",
        hint="run qldb-dr from a checkout of the project (statemachines/ is beside src/)",
    )


@dataclass(frozen=True, slots=True)
class StateMachine:
    name: str
    asl: str  # its file in statemachines/

    @property
    def path(self) -> Path:
        return statemachines_dir() / self.asl

    def text(self) -> str:
        try:
            return self.path.read_text()
        except OSError as exc:
            raise QldbDrError(f"{self.path}: cannot read the workflow ({exc.strerror})") from exc

    def placeholders(self) -> tuple[str, ...]:
        return tuple(sorted(set(re.findall(r"\$\{(\w+)\}", self.text()))))

    def functions(self) -> tuple[Function, ...]:
        found = []
        for placeholder in self.placeholders():
            try:
                found.append(function(placeholder))
            except KeyError:
                raise QldbDrError(f"{self.asl} uses a placeholder no function fills: ${{{placeholder}}}") from None
        return tuple(found)

    def definition(self, arns: dict[str, str]) -> str:
        """The ASL with every placeholder replaced by its function's ARN."""
        self.functions()  # refuses an unknown placeholder
        return re.sub(r"\$\{(\w+)\}", lambda m: arns[m.group(1)], self.text())

    def arn(self, region: str, account: str) -> str:
        return f"arn:aws:states:{region}:{account}:stateMachine:{self.name}"


STATE_MACHINES = (
    StateMachine(BACKUP, "backup.asl.json"),
    StateMachine(RESTORE, "restore.asl.json"),
    StateMachine(DRILL, "drill.asl.json"),
)


def state_machine(name: str) -> StateMachine:
    return next(m for m in STATE_MACHINES if m.name == name)


def vault_bucket(account: str, region: str) -> str:
    """A region's vault bucket: the same name on AWS and locally, so each side can name the other's."""
    return f"qldb-dr-vault-{account}-{region}"


def start_role(region: str) -> str:
    """The role EventBridge rules and Scheduler schedules assume to start the workflows."""
    return f"qldb-dr-start-{region}"


def export_role(region: str) -> str:
    """The role QLDB assumes to write a region's exports into its vault."""
    return f"qldb-dr-export-{region}"


@dataclass(frozen=True, slots=True)
class Schedule:
    """An EventBridge Scheduler schedule starting a workflow with a fixed input."""

    name: str
    region: Region
    state_machine: str
    expression: str
    input: dict[str, Any]
    description: str

    def input_json(self) -> str:
        return json.dumps(self.input, sort_keys=True)


@dataclass(frozen=True, slots=True)
class Rule:
    """An EventBridge rule on the vault's events starting a workflow with a transformed input."""

    name: str
    region: Region
    state_machine: str
    pattern: dict[str, Any]
    input_paths: dict[str, str]
    input_template: str
    description: str


def rate(minutes: int) -> str:
    if minutes % (24 * 60) == 0:
        days = minutes // (24 * 60)
        return f"rate({days} {'day' if days == 1 else 'days'})"
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"rate({hours} {'hour' if hours == 1 else 'hours'})"
    return f"rate({minutes} {'minute' if minutes == 1 else 'minutes'})"


def backup_schedule(ledger: str, minutes: int) -> Schedule:
    return Schedule(
        name=f"qldb-dr-backup-{ledger}",
        region=Region.PRIMARY,
        state_machine=BACKUP,
        expression=rate(minutes),
        input={"ledgerName": ledger},
        description=f"qldb-dr: back up {ledger} every {minutes} min (its RPO)",
    )


def preload_schedule(ledger: str, target: str, mode: str, minutes: int) -> Schedule:
    return Schedule(
        name=f"qldb-dr-preload-{ledger}",
        region=Region.DR,
        state_machine=RESTORE,
        expression=rate(minutes),
        input={"sourceLedger": ledger, "targetLedger": target, "mode": mode, "incremental": True},
        description=f"qldb-dr (intermediate): catch {target} up with {ledger}'s recovery points every {minutes} min",
    )


def drill_schedule(ledger: str, mode: str, minutes: int) -> Schedule:
    return Schedule(
        name=f"qldb-dr-drill-{ledger}",
        region=Region.DR,
        state_machine=DRILL,
        expression=rate(minutes),
        input={"sourceLedger": ledger, "mode": mode},
        description=f"qldb-dr: drill {ledger} every {minutes} min (restore into a scratch ledger, verify, delete)",
    )


def standby_rule(bucket: str, prefix: str, ledger: str, target: str, mode: str) -> Rule:
    """Every recovery point of `ledger` arriving in the DR vault starts its standby's restore."""
    standby = json.dumps({"sourceLedger": ledger, "targetLedger": target, "mode": mode}, sort_keys=True)
    return Rule(
        name=f"qldb-dr-standby-{ledger}",
        region=Region.DR,
        state_machine=RESTORE,
        pattern={
            "source": ["aws.s3"],
            "detail-type": ["Object Created"],
            # this ledger's recovery points only (`<prefix><ledger>/catalog/<window>.json`)
            "detail": {
                "bucket": {"name": [bucket]},
                "object": {"key": [{"wildcard": f"{prefix}{ledger}/catalog/*.json"}]},
            },
        },
        input_paths={"key": "$.detail.object.key"},
        input_template=f'{{"catalogKey": <key>, "standby": {standby}}}',
        description=f"qldb-dr (warm standby): replay each recovery point of {ledger} into {target}",
    )


@dataclass(frozen=True, slots=True)
class Manifest:
    """What one deployment holds, given its configuration."""

    config: DeploymentConfig
    functions: tuple[Function, ...] = FUNCTIONS
    state_machines: tuple[StateMachine, ...] = STATE_MACHINES
    schedules: tuple[Schedule, ...] = field(default=())

    def rules(self, dr_bucket: str) -> tuple[Rule, ...]:
        return tuple(
            standby_rule(dr_bucket, self.config.vault_prefix, ledger.name, ledger.target, ledger.mode)
            for ledger in self.config.ledgers
            if ledger.strategy is Strategy.WARM_STANDBY
        )

    def environment(self, fn: Function, values: dict[Setting, str]) -> dict[str, str]:
        """A function's environment variables, given the deployer's values of the settings."""
        return {**STATIC_ENVIRONMENT, **{s.value: values[s] for s in fn.settings if values.get(s)}}

    def in_region(self, region: Region) -> tuple[Schedule, ...]:
        return tuple(s for s in self.schedules if s.region is region)


@cache
def _checked() -> bool:
    for machine in STATE_MACHINES:
        machine.functions()
    return True


def manifest(config: DeploymentConfig) -> Manifest:
    _checked()
    schedules: list[Schedule] = []
    for ledger in config.ledgers:
        schedules.append(backup_schedule(ledger.name, ledger.rpo_minutes))
        if ledger.strategy is Strategy.INTERMEDIATE:
            schedules.append(preload_schedule(ledger.name, ledger.target, ledger.mode, ledger.preload_minutes))
        if ledger.drill_minutes is not None:
            schedules.append(drill_schedule(ledger.name, ledger.mode, ledger.drill_minutes))
    return Manifest(config, schedules=tuple(schedules))


__all__ = ["TAGS", "VAULT_TAG", "Access", "Function", "Manifest", "Rule", "Schedule", "StateMachine", "manifest"]

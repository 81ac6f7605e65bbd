"""The target ledger: created if absent, refused if it holds someone else's data, given the
source's tables and indexes and qldb-dr's own tables (see model.py), and its watermark."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from pyqldb.config.retry_config import RetryConfig
from pyqldb.driver.qldb_driver import QldbDriver
from pyqldb.util.retry import Retry

from qldb_dr.aws import client as aws_client
from qldb_dr.aws.session import Driver as SessionDriver
from qldb_dr.errors import ServiceError, TargetNotEmptyError
from qldb_dr.restore.model import BATCH_TABLE, PARTITION_TABLE, PROJECT_TABLES, RESTORE_TABLE, Mode, Target

ACTIVE_WAIT_SECONDS = 600  # how long Prepare Target waits for a new ledger to become ACTIVE


def driver(target: Target, retries: int = 10) -> QldbDriver:
    """pyqldb against the target; endpoint and credentials from the standard AWS settings."""
    plain = RetryConfig(retry_limit=retries)
    config = RetryConfig(retry_limit=retries, custom_backoff=lambda attempt, error, _: _backoff(plain, attempt, error))
    return QldbDriver(target.ledger, region_name=target.region, retry_config=config)


def session_driver(target: Target, retries: int = 10) -> SessionDriver:
    """Replay's and Verify Restore's driver: the QLDB Session API with qldb-dr's own Ion codec
    and hash (qldb_dr.aws.session), which costs a statement, and a value read back, a fraction
    of pyqldb's CPU (its pure-Python Ion parsed Verify Restore's reads at ~2 ms a document)."""
    return SessionDriver(target.ledger, target.region, retries=retries)


def _backoff(config: RetryConfig, attempt: int, error: Exception) -> float:
    """pyqldb retries every failure to start a session — a ledger that does not exist too, for
    10 backoffs of up to 5 s: no pause for that one, so the task fails at once (and says why)
    instead of after a minute of waiting for a ledger that is gone."""
    if "does not exist" in str(error) or "ResourceNotFound" in str(error):
        return 0
    return float(Retry.calculate_backoff(config, attempt, error, None))


@dataclass(frozen=True, slots=True)
class TargetState:
    source_ledger: str
    mode: Mode
    partitions: int
    watermark: int  # last source block applied (-1: none)


def _of(record: Any) -> TargetState:
    """A restore record (`qldbdr_restore`) as read or written."""
    return TargetState(
        str(record["sourceLedger"]), Mode(str(record["mode"])), int(record["partitions"]), int(record["watermark"])
    )


def _rows(drv: QldbDriver, statement: str, *params: Any) -> list[Any]:
    return list(drv.execute_lambda(lambda t: list(t.execute_statement(statement, *params))))


def exists(target: Target) -> bool:
    """The ledger is there (a ledger being deleted is not)."""
    try:
        described = aws_client("qldb", target.region).describe_ledger(Name=target.ledger)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return False
        raise ServiceError(f"QLDB DescribeLedger {target.ledger}: {exc}") from exc
    return described.get("State") not in ("DELETING", "DELETED")


def state(target: Target) -> TargetState | None:
    """The target's restore record, or None when the ledger does not exist, is empty, or is
    being prepared (qldb-dr's tables are there, the record not yet)."""
    if not exists(target):
        return None
    with driver(target) as drv:
        tables = {
            r["name"] for r in _rows(drv, "SELECT name FROM information_schema.user_tables WHERE status = 'ACTIVE'")
        }
        if RESTORE_TABLE not in tables:
            if tables:
                raise TargetNotEmptyError(
                    f"target ledger {target.ledger} in {target.region} holds tables ({', '.join(sorted(tables))}) and "
                    "is not a qldb-dr restore; nothing was written",
                    hint="restore into a new ledger name",
                )
            return None
        records = _rows(drv, f"SELECT * FROM {RESTORE_TABLE}")
        if not records:  # another restore is preparing it (or stopped doing so): prepare() claims it
            return None
        (record,) = records
        return _of(record)


def create(target: Target) -> None:
    qldb = aws_client("qldb", target.region)
    try:
        qldb.create_ledger(Name=target.ledger, PermissionsMode="STANDARD", DeletionProtection=True)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceAlreadyExistsException":
            raise ServiceError(f"QLDB CreateLedger {target.ledger}: {exc}") from exc
    deadline = time.monotonic() + ACTIVE_WAIT_SECONDS
    pause = 0.1
    while qldb.describe_ledger(Name=target.ledger)["State"] != "ACTIVE":
        if time.monotonic() > deadline:
            raise ServiceError(f"ledger {target.ledger} did not become ACTIVE in {ACTIVE_WAIT_SECONDS} s")
        time.sleep(pause)
        pause = min(pause * 2, 5.0)


def prepare(target: Target, source: str, mode: Mode, partitions: int, tables: list[dict[str, Any]]) -> TargetState:
    """Create the ledger if absent, qldb-dr's tables, and the source's tables as of the restored
    block; refuse a target that restores another source, or in another mode.

    `tables` is every table the source has had (name, active, ids, indexes: the plan's
    `schema.sources`). Each source table the target holds is one target table, recorded in the
    restore record (`tables`: target table id -> source table ids), so that an incremental
    restore follows what the source did since: a dropped table is dropped on the target, an
    undropped one undropped (with its documents), one dropped and created again under the same
    name is a new, empty table."""
    current = state(target)
    if current is not None and (current.source_ledger != source or current.mode is not mode):
        raise TargetNotEmptyError(
            f"target ledger {target.ledger} is a {current.mode.value} restore of {current.source_ledger}, "
            f"not a {mode.value} restore of {source}; nothing was written",
            hint="restore into a new ledger name",
        )
    if not exists(target):
        create(target)
    with driver(target) as drv:
        present = _tables(drv)
        for table, fields in [(RESTORE_TABLE, []), (PARTITION_TABLE, ["partition"]), (BATCH_TABLE, ["partition"])]:
            if table not in present:
                _ddl(drv, f'CREATE TABLE "{table}"', lambda t=table: t in _tables(drv))
            for field in fields:
                _index(drv, table, field)
        record = _claim(
            drv,
            {
                "sourceLedger": source,
                "mode": mode.value,
                "partitions": partitions,
                "watermark": -1,
                "projectTables": list(PROJECT_TABLES),
                "tables": [],
            },
        )
        claimed = _of(record)
        if claimed.source_ledger == source and claimed.mode is mode and claimed.partitions == partitions:
            _follow(drv, record.get("tables") or [], tables)
    if claimed.source_ledger != source or claimed.mode is not mode:
        raise TargetNotEmptyError(
            f"target ledger {target.ledger} became a {claimed.mode.value} restore of {claimed.source_ledger} while "
            f"this {mode.value} restore of {source} prepared it; nothing was written",
            hint="restore into a new ledger name",
        )
    if claimed.partitions != partitions:
        raise TargetNotEmptyError(
            f"target ledger {target.ledger} was prepared by another restore of {source} with {claimed.partitions} "
            f"partitions while this one planned {partitions}; nothing was written",
            hint="start this restore again: it will plan with the target's partitions",
        )
    return claimed


def _follow(drv: QldbDriver, recorded: list[Any], sources: list[dict[str, Any]]) -> None:
    """Make the target's user tables the source's active ones (see `prepare`)."""
    every = {str(r["tableId"]): r for r in _rows(drv, "SELECT * FROM information_schema.user_tables")}
    owners = {str(e["targetTableId"]): set(e["sourceTableIds"]) for e in recorded if str(e["targetTableId"]) in every}
    active_sources = [s for s in sources if s["active"]]
    inactive_ids = {i for s in sources if not s["active"] for i in s["ids"]}
    wanted: dict[str, str | None] = {}  # source table name -> its target table id (None: to create)
    for table in active_sources:
        ids = set(table["ids"])
        match = next((t for t, owned in owners.items() if owned & ids), None)
        if match is None:  # the active target table of that name, if no other source table owns it
            named = next((t for t, r in every.items() if r["name"] == table["name"] and r["status"] == "ACTIVE"), None)
            if named is not None and not owners.get(named, set()) & inactive_ids:
                match = named
        wanted[table["name"]] = match
    keep = {t for t in wanted.values() if t is not None}
    for table_id, row in every.items():
        if row["status"] == "ACTIVE" and row["name"] not in PROJECT_TABLES and table_id not in keep:
            _drop(drv, str(row["name"]), table_id)
    for name, match in list(wanted.items()):
        if match is None:
            _ddl(drv, f'CREATE TABLE "{name}"', lambda n=name: n in _tables(drv))
            wanted[name] = str(_tables(drv)[name]["tableId"])
        elif every[match]["status"] != "ACTIVE":
            _ddl(drv, f'UNDROP TABLE "{match}"', lambda i=match: _status(drv, i) == "ACTIVE")
    for table in active_sources:
        for field in table["indexes"]:
            _index(drv, table["name"], field)
        owners.setdefault(str(wanted[table["name"]]), set()).update(table["ids"])
    entries = [{"targetTableId": t, "sourceTableIds": sorted(ids)} for t, ids in sorted(owners.items())]
    drv.execute_lambda(lambda t: t.execute_statement(f"UPDATE {RESTORE_TABLE} AS r SET r.tables = ?", entries))


def _drop(drv: QldbDriver, name: str, table_id: str) -> None:
    """DROP TABLE names a table, and another restore preparing the target at once may have
    given the name to a new table since this one read the target's tables: drop it only while
    the name is still `table_id`'s — checked in the same transaction, so that a table dropped
    or created in between makes it conflict (OCC), and its retry checks again."""

    def drop(t: Any) -> None:
        active = "SELECT tableId FROM information_schema.user_tables WHERE name = ? AND status = 'ACTIVE'"
        if [str(r["tableId"]) for r in t.execute_statement(active, name)] == [table_id]:
            t.execute_statement(f'DROP TABLE "{name}"')

    try:
        drv.execute_lambda(drop)
    except ClientError as exc:
        raise ServiceError(f"DROP TABLE {name}: {exc}") from exc


def _status(drv: QldbDriver, table_id: str) -> str | None:
    rows = _rows(drv, "SELECT status FROM information_schema.user_tables WHERE tableId = ?", table_id)
    return str(rows[0]["status"]) if rows else None


def _tables(drv: QldbDriver) -> dict[str, Any]:
    """The target's active tables by name, each with its indexes."""
    return {r["name"]: r for r in _rows(drv, "SELECT * FROM information_schema.user_tables WHERE status = 'ACTIVE'")}


def _indexed(table: Any) -> set[str]:
    return {i["expr"].strip("[]") for i in (table or {}).get("indexes", [])}


def _index(drv: QldbDriver, table: str, field: str) -> None:
    if field not in _indexed(_tables(drv).get(table)):
        _ddl(drv, f'CREATE INDEX ON "{table}" ({field})', lambda: field in _indexed(_tables(drv).get(table)))


def _ddl(drv: QldbDriver, statement: str, done: Any) -> None:
    """Run a DDL statement. Two restores preparing one target at once (a warm standby's
    recovery points arriving together) race to run the same statement: the loser's is
    refused, and what it wanted is there all the same (`done()`)."""
    try:
        drv.execute_lambda(lambda t: t.execute_statement(statement))
    except ClientError as exc:
        if not done():
            raise ServiceError(f"{statement}: {exc}") from exc


def _claim(drv: QldbDriver, record: dict[str, Any]) -> Any:
    """The target's restore record: the one already there, or `record` inserted — in one
    transaction, so of two restores preparing a new target at once exactly one inserts (the
    other's read of the empty table conflicts, and its retry reads the winner's record)."""

    def claim(t: Any) -> Any:
        existing = list(t.execute_statement(f"SELECT * FROM {RESTORE_TABLE}"))
        if existing:
            return existing[0]
        t.execute_statement(f"INSERT INTO {RESTORE_TABLE} ?", record)
        return record

    return drv.execute_lambda(claim)


def applied_beyond(target: Target, block: int) -> int | None:
    """The furthest source block any partition of the target has applied, when it lies beyond
    `block`: a later restore is writing, or has written, this target."""
    with driver(target) as drv:
        top = max((int(r["s"]) for r in _rows(drv, f"SELECT p.s FROM {PARTITION_TABLE} AS p")), default=-1)
    return top if top > block else None


def advance(target: Target, watermark: int, restore_id: str) -> None:
    """Record that every block up to `watermark` is applied (never moves back)."""
    with driver(target) as drv:
        drv.execute_lambda(
            lambda t: t.execute_statement(
                f"UPDATE {RESTORE_TABLE} AS r SET r.watermark = ?, r.lastRestoreId = ? WHERE r.watermark < ?",
                watermark,
                restore_id,
                watermark,
            )
        )

"""The differential harness: a source ledger written from a generated workload and backed up a
window at a time; restores run step by step as the workflow runs them; the target read back
independently through pyqldb and compared with the model (`qldb_dr.restore.expected`)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pyqldb.driver.qldb_driver import QldbDriver

from qldb_dr.backup import Settings
from qldb_dr.catalog import RecoveryPoint, Vault
from qldb_dr.ion import ion_hash
from qldb_dr.restore import expected as model
from qldb_dr.restore import steps
from qldb_dr.restore.model import PROJECT_TABLES
from qldb_dr.restore.settings import Settings as RestoreSettings
from tests.backup.conftest import ROLE
from tests.backup.test_backup_steps import _backup
from tests.differential.workload import Runner, Workload
from tests.local.conftest import Running

SOURCE_REGION, TARGET_REGION = "us-east-1", "us-west-2"


@dataclass
class Source:
    """A generated ledger, backed up once per window."""

    running: Running
    ledger: str
    bucket: str
    driver: QldbDriver
    runner: Runner
    points: list[RecoveryPoint] = field(default_factory=list)

    @property
    def vault(self) -> Vault:
        return Vault.open(f"s3://{self.bucket}", client=self.running.client("s3", SOURCE_REGION))

    def settings(self) -> Settings:
        return Settings.resolve(
            {"ledgerName": self.ledger, "vaultBucket": self.bucket, "exportRoleArn": ROLE, "settleSeconds": 0},
            {},
            SOURCE_REGION,
        )

    def backup(self) -> RecoveryPoint:
        point = _backup(self.running, self.settings())
        self.points.append(point)
        return point

    def blocks(self) -> list[Any]:
        return list(model.journal(self.vault, self.ledger))

    def expected(self, cut: int) -> model.ExpectedTarget:
        return model.from_vault(self.vault, self.ledger, cut)

    @property
    def last_block(self) -> int:
        filled = [p for p in self.points if p.last_block is not None]
        return filled[-1].last_block.sequence_no if filled else -1  # type: ignore[union-attr]


def build(running: Running, workload: Workload, name: str) -> Source:
    """Write the workload into a new ledger, a recovery point after every window."""
    running.create_ledger(name)
    bucket = f"vault-{name.lower()}"
    running.client("s3").create_bucket(Bucket=bucket)
    source = Source(running, name, bucket, running.driver(name, retries=8), Runner(running.driver(name, retries=8)))
    source.runner.setup(workload)
    for window in workload.windows:
        source.runner.window(window)
        source.backup()
    return source


# -- restores, step by step ----------------------------------------------------------------------


def plan(
    source: Source, request: dict[str, Any], restore_id: str, vault: str | None = None
) -> tuple[dict[str, Any], steps.RestoreState]:
    """Plan Restore, Partition, Check Journal and Prepare Target, as the workflow runs them, from the source's
    vault or another (`vault`: the bucket of a DR vault the recovery points arrive in)."""
    full = {"sourceLedger": source.ledger, "targetRegion": TARGET_REGION, "vault": f"s3://{vault or source.bucket}/"}
    settings = RestoreSettings.resolve({**full, **request}, {}, SOURCE_REGION)
    planned = steps.plan_restore(settings, restore_id)
    state = steps.RestoreState.from_json(planned["restore"])
    for item in json.loads(state.open_vault().store.read(planned["objects"])):
        steps.partition_item(state, item)
    planned = steps.check_journal(planned)
    state = steps.RestoreState.from_json(planned["restore"])
    if not planned["resumed"]:
        steps.prepare_target(state, planned["schema"])
    return planned, state


def replay(planned: dict[str, Any], state: steps.RestoreState) -> None:
    for item in json.loads(state.open_vault().store.read(planned["partitions"])):
        steps.replay_item(state, item["partition"])


def finish(state: steps.RestoreState) -> dict[str, Any]:
    """Verify Restore and Write Report; the verification."""
    verification = steps.verify_restore(state)
    steps.write_report(state, verification)
    return verification


def restore(
    source: Source, request: dict[str, Any], restore_id: str, vault: str | None = None
) -> tuple[steps.RestoreState, dict[str, Any]]:
    planned, state = plan(source, request, restore_id, vault)
    replay(planned, state)
    return state, finish(state)


# -- the target, read back independently ---------------------------------------------------------


def _rows(driver: QldbDriver, statement: str, *params: Any) -> list[Any]:
    return list(driver.execute_lambda(lambda t: list(t.execute_statement(statement, *params))))


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass
class Comparison:
    differences: list[str]

    @property
    def equal(self) -> bool:
        return not self.differences


def compare(target: QldbDriver, want: model.ExpectedTarget, mode: str) -> Comparison:
    """The target against the model, without qldb-dr's id map: per table, the multiset of
    documents (latest) or of version chains (history), each value by its Ion hash."""
    differences: list[str] = []
    tables = {
        r["name"]: r for r in _rows(target, "SELECT * FROM information_schema.user_tables WHERE status = 'ACTIVE'")
    }
    user_tables = set(tables) - set(PROJECT_TABLES)
    if user_tables != set(want.tables):
        differences.append(f"tables: expected {sorted(want.tables)}, found {sorted(user_tables)}")
    for name, table in want.tables.items():
        indexed = {i["expr"].strip("[]") for i in tables.get(name, {}).get("indexes", [])}
        if not table.indexes_dropped and not set(table.indexes) <= indexed:
            differences.append(f"table {name}: indexes {table.indexes} expected, found {sorted(indexed)}")
    if mode == "latest":
        for name, documents in want.live().items():
            found = Counter(
                ion_hash(d) for d in _rows(target, f"SELECT VALUE x FROM {_quoted(name)} AS x") if name in user_tables
            )
            wanted = Counter(ion_hash(d) for d in documents.values())
            if found != wanted:
                differences.append(
                    f"table {name}: {sum((wanted - found).values())} expected documents missing, "
                    f"{sum((found - wanted).values())} unexpected (of {sum(wanted.values())})"
                )
    else:
        for name, chains in want.chains().items():
            rows = _rows(target, f"SELECT * FROM history({_quoted(name)}) AS h") if name in user_tables else []
            by_doc: dict[str, list[tuple[int, str, bytes | None]]] = {}
            for row in rows:
                kind = "user" if "data" in row else "redacted" if "dataHash" in row else "deleted"
                digest = ion_hash(row["data"]) if kind == "user" else None
                by_doc.setdefault(str(row["metadata"]["id"]), []).append(
                    (int(row["metadata"]["version"]), kind, digest)
                )
            found = Counter(tuple(sorted(chain)) for chain in by_doc.values())
            wanted = Counter(tuple(chain) for chain in chains.values())
            if found != wanted:
                differences.append(
                    f"table {name}: {sum((wanted - found).values())} expected version chains missing, "
                    f"{sum((found - wanted).values())} unexpected (of {sum(wanted.values())})"
                )
    return Comparison(differences)


def agree(target: QldbDriver, want: model.ExpectedTarget, mode: str, verification: dict[str, Any]) -> Comparison:
    """The target equals the model, and Verify Restore says so: OK (or WARNING when a document
    could only be restored as a placeholder) exactly when the comparison finds no difference."""
    comparison = compare(target, want, mode)
    status = verification["status"]
    verdict_ok = status in ("OK", "WARNING")
    assert verdict_ok == comparison.equal, (
        f"Verify Restore said {status} but the independent comparison found "
        f"{comparison.differences or 'no difference'}; verification: {json.dumps(verification)[:2000]}"
    )
    if comparison.equal:
        assert (status == "WARNING") == bool(want.placeholders()), (status, want.placeholders())
    return comparison


def arrive(source: Source, point: RecoveryPoint, bucket: str) -> None:
    """A recovery point reaches another vault, as replication brings it: the export's objects,
    then its catalog object (whose arrival starts a standby's restore)."""
    s3 = source.running.client("s3", SOURCE_REGION)
    for key in [*source.vault.store.list(point.export_head), point.key(source.vault)]:
        s3.copy_object(Bucket=bucket, Key=key, CopySource={"Bucket": source.bucket, "Key": key})


def history_gap(source: Source, cuts: list[int], final: int) -> bool:
    """Whether a history-mode target restored incrementally at `cuts`, then at `final`, must
    lack versions: a document whose table was dropped at one of the cuts has versions in the
    blocks that restore brought (so it skipped them), and the table is active again at `final`
    (undropped). The restore then refuses (HistoryGapError) or its verification fails."""
    final_docs = source.expected(final).documents
    previous = -1
    for cut in cuts:
        present = source.expected(cut).documents
        for doc_id, doc in final_docs.items():
            skipped = doc_id not in present and any(previous < v.block <= cut for v in doc.versions)
            if skipped:
                return True
        previous = cut
    return False

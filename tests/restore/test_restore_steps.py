"""The restore steps against the local endpoint: exact targets in both modes, points in time,
idempotent replays, and every refusal."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from amazon.ion.equivalence import ion_equals
from botocore.exceptions import ClientError
from pyqldb.driver.qldb_driver import QldbDriver

from qldb_dr.aws.session import Driver
from qldb_dr.backup import Settings
from qldb_dr.errors import (
    NoRecoveryPointsError,
    OutOfRangeError,
    ReplicationPendingError,
    StatementRefusedError,
    TargetNotEmptyError,
    VaultVerificationError,
)
from qldb_dr.ion import dump_binary, load_binary
from qldb_dr.restore import steps
from qldb_dr.restore import target as targets
from qldb_dr.restore.model import Target
from qldb_dr.restore.partition import partition_prefix
from qldb_dr.restore.replay import Replayer, batches, read_partition, work
from tests.backup.conftest import write
from tests.local.conftest import Running
from tests.restore.conftest import backup, partitioned, plan, restore, rows


def _target(running: Running, name: str) -> QldbDriver:
    return running.driver(name, region="us-west-2")


def _state(driver: QldbDriver, table: str) -> list[bytes]:
    """A table's documents as Ion bytes, sorted: equal lists mean equal contents, types included."""
    return sorted(dump_binary([r]) for r in rows(driver, f"SELECT VALUE x FROM {table} AS x"))


def test_latest_restore_reproduces_every_table_exactly(source: tuple[Running, QldbDriver, Settings]) -> None:
    running, driver, settings = source
    backup(running, settings)
    result = restore(
        running, {"sourceLedger": "orders", "targetLedger": "orders-dr", "targetRegion": "us-west-2"}, "r1"
    )
    assert result["verification"]["status"] == "OK", result["verification"]
    assert result["summary"]["status"] == "OK"
    target = _target(running, "orders-dr")
    for table in ("Vehicle", "Typed"):
        assert _state(target, table) == _state(driver, table), table
    tables = {
        r["name"] for r in rows(target, "SELECT name FROM information_schema.user_tables WHERE status = 'ACTIVE'")
    }
    assert "Gone" not in tables and {"Vehicle", "Typed", "qldbdr_restore", "qldbdr_partition", "qldbdr_batch"} <= tables
    (vehicle,) = rows(target, "SELECT * FROM information_schema.user_tables WHERE name = 'Vehicle'")
    assert [i["expr"] for i in vehicle["indexes"]] == ["[VIN]"]
    typed = rows(target, "SELECT VALUE t FROM Typed AS t WHERE t.name = 'every type'")[0]
    assert "qldb" not in json.dumps(list(typed.keys()))  # user documents carry no bookkeeping fields


def test_history_restore_reproduces_every_version(source: tuple[Running, QldbDriver, Settings]) -> None:
    running, driver, settings = source
    backup(running, settings)
    result = restore(
        running,
        {"sourceLedger": "orders", "targetLedger": "orders-hist", "targetRegion": "us-west-2", "mode": "history"},
        "r2",
    )
    assert result["verification"]["status"] == "OK", result["verification"]
    assert {c["name"] for c in result["verification"]["checks"]} == {"tables", "documents", "content", "versions"}
    target = _target(running, "orders-hist")
    for table in ("Vehicle", "Typed"):
        statement = f"SELECT h.metadata.version AS v, h.data FROM history({table}) AS h"
        source_history, target_history = rows(driver, statement), rows(target, statement)
        assert sorted(dump_binary([r]) for r in source_history) == sorted(dump_binary([r]) for r in target_history)


def test_point_in_time_by_block_restores_that_state(source: tuple[Running, QldbDriver, Settings]) -> None:
    running, driver, settings = source
    point = backup(running, settings)
    assert point.last_block is not None
    middle = point.last_block.sequence_no // 2
    result = restore(
        running,
        {"sourceLedger": "orders", "targetLedger": "orders-mid", "targetRegion": "us-west-2", "block": middle},
        "r3",
    )
    assert result["verification"]["status"] == "OK" and result["state"].cut == middle
    count = rows(_target(running, "orders-mid"), "SELECT COUNT(*) AS c FROM Vehicle")[0]["c"]
    assert 0 < count < rows(driver, "SELECT COUNT(*) AS c FROM Vehicle")[0]["c"]


def test_replaying_a_partition_again_changes_nothing(source: tuple[Running, QldbDriver, Settings]) -> None:
    running, _, settings = source
    backup(running, settings)
    result = restore(
        running, {"sourceLedger": "orders", "targetLedger": "orders-again", "targetRegion": "us-west-2"}, "r4"
    )
    state = result["state"]
    target = _target(running, "orders-again")
    before = _state(target, "Vehicle")
    blocks_before = rows(target, "SELECT COUNT(*) AS c FROM qldbdr_batch")[0]["c"]
    for partition in range(state.partitions):
        again = steps.replay_item(state, partition)
        assert again["applied"] == 0
    assert _state(target, "Vehicle") == before
    assert rows(target, "SELECT COUNT(*) AS c FROM qldbdr_batch")[0]["c"] == blocks_before


def test_incremental_restore_applies_only_new_recovery_points(source: tuple[Running, QldbDriver, Settings]) -> None:
    running, driver, settings = source
    backup(running, settings)
    restore(running, {"sourceLedger": "orders", "targetLedger": "standby", "targetRegion": "us-west-2"}, "s1")
    write(driver, 8, start=900)
    driver.execute_lambda(lambda t: t.execute_statement("UPDATE Typed AS t SET t.n = 43 WHERE t.name = 'every type'"))
    second = backup(running, settings)
    result = restore(
        running,
        {"sourceLedger": "orders", "targetLedger": "standby", "targetRegion": "us-west-2", "incremental": True},
        "s2",
    )
    assert result["verification"]["status"] == "OK", result["verification"]
    assert result["state"].watermark >= 0 and result["state"].cut == second.last_block.sequence_no  # type: ignore[union-attr]
    for table in ("Vehicle", "Typed"):
        assert _state(_target(running, "standby"), table) == _state(driver, table)


def test_tampered_vault_refused_before_any_write(source: tuple[Running, QldbDriver, Settings]) -> None:
    running, _, settings = source
    point = backup(running, settings)
    s3 = running.client("s3")
    key = point.objects[0]
    body = s3.get_object(Bucket="vault-primary", Key=key)["Body"].read()
    s3.put_object(Bucket="vault-primary", Key=key, Body=body.replace(b"owner 3", b"owner 9", 1))
    with pytest.raises(VaultVerificationError) as error:
        restore(running, {"sourceLedger": "orders", "targetLedger": "never", "targetRegion": "us-west-2"}, "r5")
    assert "block" in str(error.value) and "nothing was written" in str(error.value)
    assert running.client("qldb", "us-west-2").list_ledgers()["Ledgers"] == []


def test_restore_into_unrelated_ledger_refused(source: tuple[Running, QldbDriver, Settings]) -> None:
    running, _, settings = source
    backup(running, settings)
    running.create_ledger("busy", region="us-west-2")
    _target(running, "busy").execute_lambda(lambda t: t.execute_statement("CREATE TABLE Mine"))
    with pytest.raises(TargetNotEmptyError) as error:
        restore(running, {"sourceLedger": "orders", "targetLedger": "busy", "targetRegion": "us-west-2"}, "r6")
    assert "Mine" in str(error.value)


def test_unknown_ledger_recovery_point_and_time_give_clear_errors(source: tuple[Running, QldbDriver, Settings]) -> None:
    running, _, settings = source
    point = backup(running, settings)
    base = {"targetLedger": "x", "targetRegion": "us-west-2"}
    with pytest.raises(NoRecoveryPointsError):
        restore(running, {**base, "sourceLedger": "nobody"}, "e1")
    with pytest.raises(OutOfRangeError) as error:
        restore(running, {**base, "sourceLedger": "orders", "recoveryPointId": "A" * 22}, "e2")
    assert "not in this vault" in str(error.value)
    with pytest.raises(OutOfRangeError) as error:
        restore(running, {**base, "sourceLedger": "orders", "at": "2001-01-01T00:00:00Z"}, "e3")
    assert "outside the vault's range" in str(error.value)
    with pytest.raises(OutOfRangeError):
        restore(running, {**base, "sourceLedger": "orders", "block": point.last_block.sequence_no + 10}, "e4")  # type: ignore[union-attr]
    assert Target("x", "us-west-2")


def test_values_equal_in_ion_not_just_bytes(source: tuple[Running, QldbDriver, Settings]) -> None:
    running, driver, settings = source
    backup(running, settings)
    restore(running, {"sourceLedger": "orders", "targetLedger": "typed", "targetRegion": "us-west-2"}, "r7")
    (original,) = rows(driver, "SELECT VALUE t FROM Typed AS t WHERE t.name = 'every type'")
    (copy,) = rows(_target(running, "typed"), "SELECT VALUE t FROM Typed AS t WHERE t.name = 'every type'")
    assert ion_equals(original, copy)


def test_two_workers_racing_on_every_partition_apply_each_revision_once(
    source: tuple[Running, QldbDriver, Settings],
) -> None:
    """A retried Lambda can overlap the attempt it retries: both replay the same partition at
    once. OCC and the watermark let exactly one of them apply each revision, and a worker
    that finds revisions applied by the other maps their documents before it goes on."""
    running, driver, settings = source
    write(driver, 240, start=5000)  # many transactions per partition, every document in several
    backup(running, settings)
    request = {
        "sourceLedger": "orders",
        "targetLedger": "orders-race",
        "targetRegion": "us-west-2",
        "mode": "history",
        "partitions": 1,
    }
    _, state = partitioned(request, "race")
    outcomes: list[dict[str, Any]] = []
    racers = [
        threading.Thread(target=lambda p=p: outcomes.append(steps.replay_item(state, p)))
        for p in range(state.partitions)
        for _ in range(3)
    ]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()
    assert len(outcomes) == len(racers)
    target = _target(running, "orders-race")
    batches = rows(target, "SELECT b.entries FROM qldbdr_batch AS b")
    applied = [(str(e["s"]), int(e["v"])) for r in batches for e in r["entries"]]
    assert len(applied) == len(set(applied)) > 0, "a revision was applied twice"
    assert sum(o["applied"] for o in outcomes) == len(applied)
    verification = steps.verify_restore(state)
    assert verification["status"] == "OK", verification
    for table in ("Vehicle", "Typed"):
        assert _state(target, table) == _state(driver, table)


class _Gated:
    """A driver whose second transaction waits for `open`: the worker has loaded its id map,
    then another worker applies something before this one goes on."""

    def __init__(self, driver: Driver, gate: threading.Event) -> None:
        self.driver, self.gate, self.calls = driver, gate, 0

    def execute_lambda(self, query: Any) -> Any:
        self.calls += 1
        if self.calls == 2:
            assert self.gate.wait(timeout=60)
        return self.driver.execute_lambda(query)


def test_worker_overtaken_after_loading_its_map_maps_the_other_workers_documents(
    source: tuple[Running, QldbDriver, Settings],
) -> None:
    """Worker B loads the partition's id map; worker A then applies the first batch (inserting
    its documents); B finds that batch done and goes on with the next — whose updates are to
    documents A inserted. B must update those, not insert them again."""
    running, driver, settings = source
    write(driver, 120, start=5000)
    backup(running, settings)
    for mode in ("latest", "history"):
        request = {
            "sourceLedger": "orders",
            "targetLedger": f"orders-overtaken-{mode}",
            "targetRegion": "us-west-2",
            "partitions": 1,
            "mode": mode,
        }
        planned, state = partitioned(request, f"overtaken-{mode}")
        vault = state.open_vault()
        tables = set(planned["schema"]["tableIds"])
        revisions = read_partition(vault.store, partition_prefix(vault, "orders", state.restore_id, 0))
        first = next(batches(work(revisions, state.mode, tables)))
        gate = threading.Event()
        gated = _Gated(targets.session_driver(state.target), gate)
        b = Replayer(gated, 0, state.mode, state.restore_id)  # type: ignore[arg-type]
        overtaken = threading.Thread(target=b.replay, args=(revisions, tables))
        overtaken.start()
        while gated.calls < 2:  # B has loaded its map and waits to start its first transaction
            time.sleep(0.01)
        a = Replayer(targets.session_driver(state.target), 0, state.mode, state.restore_id)
        a.replay(first, tables)
        gate.set()
        overtaken.join(timeout=120)
        verification = steps.verify_restore(state)
        assert verification["status"] == "OK", verification
        for table in ("Vehicle", "Typed"):
            assert _state(_target(running, state.target.ledger), table) == _state(driver, table)


def test_target_another_restore_is_preparing_is_joined_not_refused(
    source: tuple[Running, QldbDriver, Settings],
) -> None:
    """Two restores prepare one new target at once (a standby's recovery points arriving
    together): one finds qldb-dr's tables there but the restore record not written yet."""
    running, driver, settings = source
    backup(running, settings)
    running.create_ledger("orders-joined", region="us-west-2")
    _target(running, "orders-joined").execute_lambda(lambda t: t.execute_statement("CREATE TABLE qldbdr_restore"))
    result = restore(
        running, {"sourceLedger": "orders", "targetLedger": "orders-joined", "targetRegion": "us-west-2"}, "joined"
    )
    assert result["verification"]["status"] == "OK", result["verification"]
    assert _state(_target(running, "orders-joined"), "Vehicle") == _state(driver, "Vehicle")


def test_restore_overtaken_by_a_later_restore_before_verifying_is_superseded_not_failed(
    source: tuple[Running, QldbDriver, Settings],
) -> None:
    """A warm standby's restore of one recovery point replays, then the restore of the next
    one replays past it before the first compares: the first reports SUPERSEDED, the second
    verifies OK, and the watermark ends at the second's block."""
    running, driver, settings = source
    backup(running, settings)
    write(driver, 12, start=7000)
    second = backup(running, settings)
    target = {"targetLedger": "orders-superseded", "targetRegion": "us-west-2"}
    assert second.first_block is not None and second.last_block is not None
    first_request = {"sourceLedger": "orders", **target, "block": second.first_block.sequence_no - 1}
    planned, first = partitioned(first_request, "first")
    for item in json.loads(first.open_vault().store.read(planned["partitions"])):
        steps.replay_item(first, item["partition"])
    later = restore(running, {"sourceLedger": "orders", **target}, "later")
    assert later["verification"]["status"] == "OK" and later["summary"]["status"] == "OK"
    verification = steps.verify_restore(first)
    assert verification["status"] == "SUPERSEDED"
    assert verification["supersededAtBlock"] == second.last_block.sequence_no
    assert steps.write_report(first, verification)["status"] == "SUPERSEDED"
    record = rows(_target(running, "orders-superseded"), "SELECT r.watermark FROM qldbdr_restore AS r")
    assert record[0]["watermark"] == second.last_block.sequence_no
    assert _state(_target(running, "orders-superseded"), "Vehicle") == _state(driver, "Vehicle")


def test_incremental_restore_of_points_that_leave_a_table_untouched_verifies_ok(
    source: tuple[Running, QldbDriver, Settings],
) -> None:
    """The new recovery point changes Vehicle only: Typed must still be expected on the target
    (the schema is the source's at the block, not what the new recovery points touch)."""
    running, driver, settings = source
    backup(running, settings)
    request = {"sourceLedger": "orders", "targetLedger": "standby-u", "targetRegion": "us-west-2"}
    restore(running, request, "u1")
    write(driver, 3, start=700)
    backup(running, settings)
    result = restore(running, {**request, "incremental": True}, "u2")
    assert result["verification"]["status"] == "OK", result["verification"]
    for table in ("Vehicle", "Typed"):
        assert _state(_target(running, "standby-u"), table) == _state(driver, table)


def test_history_restore_replays_a_no_op_update_as_a_version(source: tuple[Running, QldbDriver, Settings]) -> None:
    """`UPDATE … SET Mileage = <its value>` writes a new revision in QLDB: the target gets it too."""
    running, driver, settings = source
    driver.execute_lambda(
        lambda t: t.execute_statement("UPDATE Vehicle AS v SET v.Mileage = v.Mileage WHERE v.VIN = 'V00001'")
    )
    driver.execute_lambda(lambda t: t.execute_statement("UPDATE Typed AS t SET t.n = 42 WHERE t.name = 'every type'"))
    backup(running, settings)
    result = restore(
        running,
        {"sourceLedger": "orders", "targetLedger": "noop", "targetRegion": "us-west-2", "mode": "history"},
        "n1",
    )
    assert result["verification"]["status"] == "OK", result["verification"]
    statement = "SELECT h.metadata.version AS v, h.data FROM history(Vehicle) AS h WHERE h.data.VIN = 'V00001'"
    source_versions = sorted(r["v"] for r in rows(driver, statement))
    assert source_versions == [0, 1] and sorted(r["v"] for r in rows(_target(running, "noop"), statement)) == [0, 1]


def test_recovery_point_whose_export_has_not_arrived_waits_for_replication(
    source: tuple[Running, QldbDriver, Settings],
) -> None:
    """Replication keeps no order: the catalog object can reach the DR vault before the export
    it describes. Plan Restore then says what is missing, as a retryable error, and the same
    restore succeeds once the objects are there."""
    running, _, settings = source
    point = backup(running, settings)
    s3 = running.client("s3")
    s3.create_bucket(Bucket="vault-early")

    def arrive(key: str) -> None:
        s3.copy_object(Bucket="vault-early", Key=key, CopySource={"Bucket": "vault-primary", "Key": key})

    catalog = next(
        k for k in (o["Key"] for o in s3.list_objects_v2(Bucket="vault-primary")["Contents"]) if "/catalog/" in k
    )
    arrive(catalog)
    request = {"sourceLedger": "orders", "targetLedger": "early", "targetRegion": "us-west-2"}
    with pytest.raises(ReplicationPendingError) as error:
        plan(request, "e1", "s3://vault-early/")
    assert f"recovery point {point.recovery_point_id} has not fully reached this vault" in str(error.value)
    assert running.client("qldb", "us-west-2").list_ledgers()["Ledgers"] == []
    for key in [o["Key"] for o in s3.list_objects_v2(Bucket="vault-primary")["Contents"]]:
        if key != catalog:
            arrive(key)
    planned, _ = partitioned(request, "e2", "s3://vault-early/")
    assert planned["revisions"] > 0


def test_history_increment_redacting_next_to_a_table_dropped_since_verifies_ok(
    source: tuple[Running, QldbDriver, Settings],
) -> None:
    """Found by `make fuzz`: the target holds a table the source dropped since (inactive on the
    target too, and listed before the redacted document's table) when the increment brings a
    redaction; applying it must not read the dropped table's history()."""
    running, driver, settings = source
    for statement in ("CREATE TABLE Later", "CREATE TABLE Kept"):
        driver.execute_lambda(lambda t, s=statement: t.execute_statement(s))
    driver.execute_lambda(lambda t: t.execute_statement("INSERT INTO Later ?", {"x": 1}))
    driver.execute_lambda(lambda t: t.execute_statement("INSERT INTO Kept ?", {"k": 1}))
    backup(running, settings)
    request = {"sourceLedger": "orders", "targetLedger": "hist-drop", "targetRegion": "us-west-2", "mode": "history"}
    assert restore(running, request, "hd1")["verification"]["status"] == "OK"
    driver.execute_lambda(lambda t: t.execute_statement("DROP TABLE Later"))
    driver.execute_lambda(lambda t: t.execute_statement("UPDATE Kept AS k SET k.k = 2"))
    (first,) = rows(
        driver, "SELECT h.blockAddress, h.metadata.id AS id FROM history(Kept) AS h WHERE h.metadata.version = 0"
    )
    (table,) = rows(driver, "SELECT tableId FROM information_schema.user_tables WHERE name = 'Kept'")
    driver.execute_lambda(
        lambda t: t.execute_statement(
            "EXEC redact_revision ?, ?, ?", first["blockAddress"], table["tableId"], first["id"]
        )
    )
    backup(running, settings)
    result = restore(running, {**request, "incremental": True}, "hd2")
    assert result["verification"]["status"] == "OK", result["verification"]
    (redacted,) = rows(
        _target(running, "hist-drop"), "SELECT h.dataHash FROM history(Kept) AS h WHERE h.metadata.version = 0"
    )
    assert redacted["dataHash"] is not None


def test_revision_redacted_in_the_settle_gap_is_restored_redacted_only_once_its_redaction_is_in_the_vault(
    source: tuple[Running, QldbDriver, Settings],
) -> None:
    """A redaction committed after a window's end but before its export read the journal: the
    export shows the revision redacted, its redactionInfo lands in the next recovery point. Until
    that one is in the vault nothing proves the redaction, and a restore refuses to treat the
    revision as redacted; once it is, the restore treats it so."""
    from datetime import UTC, datetime

    from qldb_dr.backup import plan_window, record, start_export, verify_export
    from tests.backup.conftest import wait_exports

    running, driver, settings = source
    backup(running, settings)
    for price in (1, 2):
        driver.execute_lambda(
            lambda t, p=price: t.execute_statement("UPDATE Vehicle AS v SET v.Mileage = ? WHERE v.VIN = 'V00001'", p)
        )
    time.sleep(0.002)
    window = plan_window(settings, now=datetime.now(UTC))
    assert window is not None
    time.sleep(0.002)
    (v1,) = rows(
        driver,
        "SELECT h.blockAddress, h.metadata.id AS id FROM history(Vehicle) AS h "
        "WHERE h.data.VIN = 'V00001' AND h.metadata.version = 1",
    )
    (table,) = rows(driver, "SELECT tableId FROM information_schema.user_tables WHERE name = 'Vehicle'")
    driver.execute_lambda(
        lambda t: t.execute_statement("EXEC redact_revision ?, ?, ?", v1["blockAddress"], table["tableId"], v1["id"])
    )
    export_id = start_export(settings, window)
    wait_exports(running)
    verified = verify_export(settings, window, export_id)
    assert any(c["name"] == "redactions" and c["status"] == "WARNING" for c in verified.checks), verified.checks
    second = record(settings, window, verified, now=datetime.now(UTC), execution=None)
    request = {
        "sourceLedger": "orders",
        "targetLedger": "settle-gap",
        "targetRegion": "us-west-2",
        "mode": "history",
        "recoveryPointId": second.recovery_point_id,
    }
    with pytest.raises(VaultVerificationError) as error:
        restore(running, request, "gap1")
    assert "is shown redacted, but no redaction in the vault proves it" in str(error.value)
    assert running.client("qldb", "us-west-2").list_ledgers()["Ledgers"] == []
    backup(running, settings)  # the next recovery point holds the redaction
    result = restore(running, request, "gap2")
    assert result["verification"]["status"] == "OK", result["verification"]


class _Refusing:
    """The target's qldb-session client, answering an UPDATE that sets `value` as QLDB answers
    a statement it refuses."""

    def __init__(self, client: Any, value: int) -> None:
        self.client, self.value = client, value

    def send_command(self, **request: Any) -> Any:
        execute = request.get("ExecuteStatement", {})
        sent = [load_binary(bytes(p["IonBinary"])) for p in execute.get("Parameters", [])]
        if execute.get("Statement", "").startswith("UPDATE Vehicle") and self.value in sent:
            error = {"Code": "BadRequestException", "Message": "Semantic Error: at line 1 (injected)"}
            raise ClientError({"Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}}, "SendCommand")
        return self.client.send_command(**request)


def test_statement_the_target_refuses_fails_naming_the_source_document(
    source: tuple[Running, QldbDriver, Settings],
) -> None:
    """A statement QLDB refuses fails the partition with StatementRefusedError naming the
    partition, the source document and version, and the statement — nothing swallowed."""
    running, driver, settings = source
    rows(driver, "INSERT INTO Vehicle ?", {"VIN": "R1", "Mileage": 1})
    rows(driver, "UPDATE Vehicle AS v SET v.Mileage = 424242 WHERE v.VIN = 'R1'")
    (source_id,) = rows(driver, "SELECT VALUE id FROM Vehicle AS v BY id WHERE v.VIN = 'R1'")
    backup(running, settings)
    request = {"sourceLedger": "orders", "targetLedger": "orders-refused", "targetRegion": "us-west-2"}
    planned, state = partitioned({**request, "mode": "history", "partitions": 1}, "refused")
    vault = state.open_vault()
    revisions = read_partition(vault.store, partition_prefix(vault, "orders", state.restore_id, 0))
    client = _Refusing(running.client("qldb-session", "us-west-2"), 424242)
    replayer = Replayer(Driver(state.target.ledger, client=client), 0, state.mode, state.restore_id)
    with pytest.raises(StatementRefusedError) as refused:
        replayer.replay(revisions, set(planned["schema"]["tableIds"]))
    message = str(refused.value)
    assert f"partition 0, source document {source_id} version 1 of table Vehicle: " in message
    assert "(UPDATE Vehicle AS x BY xid SET x.Mileage = ? WHERE xid = ?)" in message
    assert "BadRequestException: Semantic Error: at line 1 (injected)" in message

"""The vault is read once: Plan Restore reads no data object, Partition reads each one once
(verifying it as it splits it), and the gate after Partition refuses the restore — before the
target exists — unless every object verified and joins the next."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from pyqldb.driver.qldb_driver import QldbDriver

import qldb_dr.aws
from qldb_dr.backup import Settings
from qldb_dr.errors import VaultVerificationError
from qldb_dr.restore import partition, steps
from qldb_dr.restore import target as targets
from tests.backup.conftest import write
from tests.local.conftest import Running
from tests.restore.conftest import backup, partitioned, plan, restore, rows

REQUEST = {"sourceLedger": "orders", "targetLedger": "once", "targetRegion": "us-west-2"}


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """Every S3 GetObject any qldb-dr client makes, by key."""
    counted: Counter[str] = Counter()

    def client(service: str, region_name: str | None = None, **options: Any) -> Any:
        made = boto3.client(service, region_name=region_name, **options)
        if service == "s3":
            made.meta.events.register(
                "provide-client-params.s3.GetObject", lambda params, **_: counted.update([params["Key"]])
            )
        return made

    monkeypatch.setattr(qldb_dr.aws, "_client", client)
    yield counted


def _two_points(running: Running, driver: QldbDriver, settings: Settings) -> list[str]:
    first = backup(running, settings)
    write(driver, 12, start=100)
    second = backup(running, settings)
    return [*first.objects, *second.objects]


def _partition_all(planned: dict[str, Any]) -> steps.RestoreState:
    state = steps.RestoreState.from_json(planned["restore"])
    for item in json.loads(state.open_vault().store.read(planned["objects"])):
        steps.partition_item(state, item)
    return state


def test_plan_reads_no_data_object_and_partition_reads_each_once(
    source: tuple[Running, QldbDriver, Settings], reads: Counter[str]
) -> None:
    running, driver, settings = source
    data = _two_points(running, driver, settings)
    reads.clear()  # the backups read them to verify them
    planned = plan(REQUEST, "once1")
    assert reads and not [k for k in reads if k in data], f"Plan Restore read data objects: {reads}"
    assert planned["schema"] is None and planned["revisions"] == 0  # learnt as the journal is read
    reads.clear()
    _partition_all(planned)
    assert {k: reads[k] for k in data} == dict.fromkeys(data, 1), reads
    reads.clear()
    checked = steps.check_journal(planned)
    assert not [k for k in reads if k in data], reads  # the gate reads findings, not objects
    assert checked["revisions"] > 0 and "Vehicle" in checked["schema"]["tables"]
    assert checked["verified"]["objects"] == len(data)


def _marker(state: steps.RestoreState, planned: dict[str, Any], index: int) -> tuple[str, dict[str, Any]]:
    vault = state.open_vault()
    item = json.loads(vault.store.read(planned["objects"]))[index]
    key = f"{state.base(vault)}partitioned/{int(item['first']):012d}.json"
    return key, json.loads(vault.store.read(key))


def test_gate_refuses_an_object_whose_findings_are_missing_failed_or_do_not_join(
    source: tuple[Running, QldbDriver, Settings],
) -> None:
    running, driver, settings = source
    data = _two_points(running, driver, settings)
    assert len(data) >= 2
    planned = plan(REQUEST, "gate1")
    state = _partition_all(planned)
    s3 = running.client("s3")
    key, outcome = _marker(state, planned, 1)
    cases = {
        "missing": None,
        "failed": {
            **outcome,
            "findings": {
                **outcome["findings"],
                "verified": False,
                "checks": [
                    {
                        "name": "block-hashes",
                        "checked": 0,
                        "failures": 1,
                        "warnings": 0,
                        "findings": [
                            {
                                "status": "FAILURE",
                                "message": "blockHash is not dot(entriesHash, previousBlockHash)",
                                "exportId": None,
                                "blockAddress": {"strandId": "s", "sequenceNo": outcome["findings"]["first"]},
                                "location": outcome["key"],
                                "expected": "x",
                                "found": "y",
                            }
                        ],
                    }
                ],
            },
        },
        # a forged "verified" whose first block does not chain to the object before it
        "unjoined": {**outcome, "findings": {**outcome["findings"], "firstPreviousHash": "AAAA"}},
    }
    expected = {
        "missing": "Partition wrote no findings for this object",
        "failed": f"block {outcome['findings']['first']} in {outcome['key']}: blockHash is not",
        "unjoined": "previousBlockHash is not the blockHash of the last block of",
    }
    for case, forged in cases.items():
        if forged is None:
            s3.delete_object(Bucket="vault-primary", Key=key)
        else:
            s3.put_object(Bucket="vault-primary", Key=key, Body=json.dumps(forged).encode())
        with pytest.raises(VaultVerificationError) as error:
            steps.check_journal(planned)
        assert expected[case] in str(error.value) and "nothing was written" in str(error.value), (case, error.value)
    assert running.client("qldb", "us-west-2").list_ledgers()["Ledgers"] == []
    # Partition reads again an object whose findings failed (never one it verified): the gate passes
    s3.put_object(Bucket="vault-primary", Key=key, Body=json.dumps(cases["failed"]).encode())
    _partition_all(planned)
    assert steps.check_journal(planned)["verified"]["objects"] == len(data)


def test_tampered_object_mid_journal_stops_before_the_target_exists_naming_the_block(
    source: tuple[Running, QldbDriver, Settings],
) -> None:
    running, driver, settings = source
    data = _two_points(running, driver, settings)
    s3 = running.client("s3")
    middle = data[0]  # the first recovery point's: the second one follows it
    body = s3.get_object(Bucket="vault-primary", Key=middle)["Body"].read()
    forged = body.replace(b"owner 3", b"owner 9", 1)
    assert forged != body
    s3.put_object(Bucket="vault-primary", Key=middle, Body=forged)
    with pytest.raises(VaultVerificationError) as error:
        restore(running, {**REQUEST, "targetLedger": "never"}, "mid1")
    message = str(error.value)
    assert "block " in message and middle.rsplit("/", 1)[-1] in message and "nothing was written" in message
    assert running.client("qldb", "us-west-2").list_ledgers()["Ledgers"] == []
    # the tampered object's findings name it; it wrote no partition files
    vault = steps.RestoreState.from_json(plan(REQUEST, "mid2")["restore"]).open_vault()
    base = vault.restore("orders", "mid1")
    findings = [json.loads(vault.store.read(k)) for k in vault.store.list(base + "partitioned/")]
    failed = [f for f in findings if not f["findings"]["verified"]]
    assert [f["key"] for f in failed] == [middle] and failed[0]["partitions"] == []


def test_tampered_object_read_again_for_an_undropped_table_stops_the_restore_naming_the_block(
    source: tuple[Running, QldbDriver, Settings],
) -> None:
    """An incremental latest restore reads again, from the recovery points the target holds,
    the revisions of a table dropped at its watermark and undropped since: those objects are
    verified and gated like the new ones, so a tampered one stops the restore before anything
    is written — the target's watermark unmoved, no revision of it read again."""
    running, driver, settings = source
    (created,) = rows(driver, "CREATE TABLE Archive")
    driver.execute_lambda(lambda t: t.execute_statement("INSERT INTO Archive ?", {"note": "archived 1"}))
    driver.execute_lambda(lambda t: t.execute_statement("DROP TABLE Archive"))
    first = backup(running, settings)
    request = {**REQUEST, "targetLedger": "standby", "incremental": True}
    held = restore(running, request, "held1")["state"]  # Archive is dropped at the target's block
    driver.execute_lambda(lambda t: t.execute_statement(f'UNDROP TABLE "{created["tableId"]}"'))
    backup(running, settings)
    s3 = running.client("s3")
    bodies = {k: s3.get_object(Bucket="vault-primary", Key=k)["Body"].read() for k in first.objects}
    holding = next(k for k, body in bodies.items() if b"archived 1" in body)
    s3.put_object(Bucket="vault-primary", Key=holding, Body=bodies[holding].replace(b"archived 1", b"archived 7"))
    with pytest.raises(VaultVerificationError) as error:
        restore(running, request, "again1")
    message = str(error.value)
    assert "block " in message and holding.rsplit("/", 1)[-1] in message and "nothing was written" in message
    target = targets.state(held.target)
    assert target is not None and target.watermark == held.cut
    vault = held.open_vault()
    written = list(vault.store.list(vault.restore("orders", "again1") + "partitions/"))
    assert not [k for k in written if k.endswith(".catch-up.ion")], written


@pytest.mark.parametrize("mode", ["latest", "history"])
def test_verify_restore_reads_no_data_object_it_takes_partitions_summaries(
    source: tuple[Running, QldbDriver, Settings], reads: Counter[str], mode: str
) -> None:
    running, driver, settings = source
    data = _two_points(running, driver, settings)
    request = {**REQUEST, "targetLedger": f"summaries-{mode}", "mode": mode}
    planned, state = partitioned(request, f"summaries-{mode}")
    for item in json.loads(state.open_vault().store.read(planned["partitions"])):
        steps.replay_item(state, item["partition"])
    reads.clear()
    verification = steps.verify_restore(state)
    assert verification["status"] == "OK" and verification["expectedFrom"] == "summaries", verification
    assert not [k for k in reads if k in data], f"Verify Restore read the journal again: {reads}"
    # A restore resumed across an upgrade has no summaries: the journal is read, and the verdict is the same.
    vault = state.open_vault()
    for key in vault.store.list(partition.summaries_prefix(vault, state.source_ledger, state.restore_id)):
        running.client("s3").delete_object(Bucket="vault-primary", Key=key)
    again = steps.verify_restore(state)
    assert again["expectedFrom"] == "journal" and again["status"] == "OK"
    assert [c["summary"] for c in again["checks"]] == [c["summary"] for c in verification["checks"]]

"""History replay looks ahead: its transactions are filled with later revisions of other
documents, and what it applied ahead of the mark survives a crash, an overtaking worker and a
retry without a version applied twice."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pyqldb.driver.qldb_driver import QldbDriver

from qldb_dr.aws.session import Driver
from qldb_dr.backup import Settings
from qldb_dr.errors import ServiceError
from qldb_dr.ion import dump_binary
from qldb_dr.restore import steps
from qldb_dr.restore import target as targets
from qldb_dr.restore.model import USER_DOCUMENTS_PER_TRANSACTION, Mode, Target
from qldb_dr.restore.partition import partition_prefix
from qldb_dr.restore.replay import Mapped, Replayer, read_partition
from tests.backup.conftest import ROLE
from tests.local.conftest import Running, aws  # noqa: F401
from tests.restore.conftest import backup, partitioned, rows

DOCUMENTS = 45
VERSIONS = 4  # an insert, then three updates of each document in consecutive transactions


@pytest.fixture
def bursts(aws: Running) -> Iterator[tuple[Running, QldbDriver, Settings]]:  # noqa: F811
    """A journal where each document is updated several times in a row before the next one is
    touched: in source order a document repeats at once, so a transaction that stopped at the
    first repeated document would hold one revision."""
    aws.create_ledger("bursts")
    driver = aws.driver("bursts")
    driver.execute_lambda(lambda t: t.execute_statement("CREATE TABLE Account"))
    for n in range(DOCUMENTS):
        driver.execute_lambda(lambda t, n=n: t.execute_statement("INSERT INTO Account ?", {"n": n, "balance": 0}))
        for version in range(1, VERSIONS):
            driver.execute_lambda(
                lambda t, n=n, version=version: t.execute_statement(
                    "UPDATE Account AS a SET a.balance = ? WHERE a.n = ?", version * 10 + n, n
                )
            )
        if n % 9 == 8:  # now and then a field goes away, and a document is deleted
            driver.execute_lambda(
                lambda t, n=n: t.execute_statement("UPDATE Account AS a REMOVE a.balance WHERE a.n = ?", n)
            )
            driver.execute_lambda(lambda t, n=n: t.execute_statement("DELETE FROM Account AS a WHERE a.n = ?", n - 1))
    aws.client("s3").create_bucket(Bucket="vault-primary")
    settings = Settings.resolve(
        {"ledgerName": "bursts", "vaultBucket": "vault-primary", "exportRoleArn": ROLE, "settleSeconds": 0},
        {},
        "us-east-1",
    )
    backup(aws, settings)
    yield aws, driver, settings


def _request(target: str) -> dict[str, Any]:
    return {
        "sourceLedger": "bursts",
        "targetLedger": target,
        "targetRegion": "us-west-2",
        "mode": "history",
        "partitions": 1,
    }


def _history(driver: Any) -> list[tuple[int, int, bytes]]:
    """Every revision of the table, by (document's first data, version): the same on source and target."""
    found = rows(driver, "SELECT h.metadata.id AS id, h.metadata.version AS v, h.data FROM history(Account) AS h")
    first = {str(r["id"]): r["data"]["n"] for r in found if int(r["v"]) == 0}
    return sorted(
        (int(first[str(r["id"])]), int(r["v"]), dump_binary([r["data"]]) if "data" in r else b"") for r in found
    )


def _target(running: Running, name: str) -> QldbDriver:
    return running.driver(name, region="us-west-2")


def _applied(running: Running, name: str) -> list[tuple[str, int]]:
    batches = rows(_target(running, name), "SELECT b.entries FROM qldbdr_batch AS b")
    return [(str(e["s"]), int(e["v"])) for r in batches for e in r["entries"] if "v" in e]


def test_history_transactions_are_filled_when_documents_repeat_at_once(
    bursts: tuple[Running, QldbDriver, Settings],
) -> None:
    running, source, _ = bursts
    planned, state = partitioned(_request("bursts-filled"), "filled")
    outcome = steps.replay_item(state, 0)
    revisions = int(planned["revisions"])
    # Without looking ahead each transaction would end at the next version of its document:
    # about one transaction per update. Filled, they hold up to 38 documents each.
    assert outcome["transactions"] <= 3 * -(-revisions // USER_DOCUMENTS_PER_TRANSACTION), outcome
    assert outcome["skipped"] == 0
    verification = steps.verify_restore(state)
    assert verification["status"] == "OK", verification
    assert _history(_target(running, "bursts-filled")) == _history(source)
    applied = _applied(running, "bursts-filled")
    assert len(applied) == len(set(applied)) == outcome["applied"]


class _CrashAfter:
    """A driver whose transactions fail, as a killed Lambda's would, once `commits` have committed."""

    def __init__(self, driver: Driver, commits: int) -> None:
        self.driver, self.commits = driver, commits

    def execute_lambda(self, work: Any) -> Any:
        if self.commits == 0:
            raise ServiceError("the execution environment was killed")
        self.commits -= 1
        return self.driver.execute_lambda(work)


@pytest.mark.parametrize("commits", [2, 3, 5])
def test_replay_crashed_after_applying_ahead_of_its_mark_is_finished_by_a_retry_without_a_version_twice(
    bursts: tuple[Running, QldbDriver, Settings], commits: int
) -> None:
    """The revisions a transaction applies ahead of the mark are recorded, flagged, in its batch
    record; a retry loads them with the map and passes over them. Applied again, each would be
    an extra version of its document (or the retry would fail: a version cannot follow itself)."""
    running, source, _ = bursts
    name = f"bursts-crash-{commits}"
    planned, state = partitioned(_request(name), f"crash{commits}")
    vault = state.open_vault()
    revisions = read_partition(vault.store, partition_prefix(vault, "bursts", state.restore_id, 0))
    tables = set(planned["schema"]["tableIds"])
    crashing = _CrashAfter(targets.session_driver(state.target), commits + 1)  # the load, then the commits
    with pytest.raises(ServiceError):
        Replayer(crashing, 0, Mode.HISTORY, state.restore_id).replay(revisions, tables)  # type: ignore[arg-type]
    before = _applied(running, name)
    flagged = rows(_target(running, name), "SELECT b.entries FROM qldbdr_batch AS b")
    assert any(e.get("a") for r in flagged for e in r["entries"]), "nothing was applied ahead of the mark"
    retried = steps.replay_item(state, 0)
    applied = _applied(running, name)
    assert len(applied) == len(set(applied)), "a revision was applied twice"
    assert len(applied) == len(before) + retried["applied"]
    verification = steps.verify_restore(state)
    assert verification["status"] == "OK", verification
    assert _history(_target(running, name)) == _history(source)


def test_an_update_is_diffed_only_against_the_version_the_target_holds(
    bursts: tuple[Running, QldbDriver, Settings],
) -> None:
    """The data a worker remembers of a document is of the version it applied; if the target
    holds another (another worker moved it on), the update reads the target's instead. Diffed
    against the older data, a field the newer version added would not be removed."""
    running, _, _ = bursts
    running.create_ledger("diffed", region="us-west-2")
    target = _target(running, "diffed")
    target.execute_lambda(lambda t: t.execute_statement("CREATE TABLE Account"))
    (row,) = rows(target, "INSERT INTO Account ?", {"n": 1, "balance": 5})
    target_id = str(row["documentId"])
    # another worker applied version 1, which added a field
    target.execute_lambda(
        lambda t: t.execute_statement("UPDATE Account AS a BY x SET a.extra = 'v1' WHERE x = ?", target_id)
    )
    with targets.session_driver(Target("diffed", "us-west-2")) as driver:
        replayer = Replayer(driver, 0, Mode.HISTORY, "diffed")
        replayer.previous_data["s1"] = (0, {"n": 1, "balance": 5})  # what this worker applied: version 0
        mapped = Mapped(target_id, 1)  # the map, reloaded: the target holds version 1
        driver.execute_lambda(
            lambda t: replayer._update(t, "Account", mapped, {"n": 1, "balance": 7}, "s1")  # version 2
        )
    (data,) = rows(target, "SELECT VALUE a FROM Account AS a")
    assert dict(data.items()) == {"n": 1, "balance": 7}

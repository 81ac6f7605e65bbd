"""QLDB Session through pyqldb and boto3 only: statements, types, views, digests, limits, errors."""

from __future__ import annotations

import base64
import contextlib
from typing import Any

import pytest
from amazon.ion import simpleion
from amazon.ion.equivalence import ion_equals
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from pyqldb.driver.qldb_driver import QldbDriver

from qldb_dr.ion import dump_binary
from qldb_dr.journal.hashing import commit_digest, statement_hash
from tests.local.conftest import Running, serve_in_process
from tests.strategies import ion_structs


def rows(driver: QldbDriver, statement: str, *params: Any) -> list[Any]:
    return driver.execute_lambda(lambda t: list(t.execute_statement(statement, *params)))


def _code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def test_statement_forms_through_pyqldb(driver: QldbDriver) -> None:
    rows(driver, "CREATE TABLE Vehicle")
    rows(driver, "CREATE INDEX ON Vehicle (VIN)")
    (inserted,) = rows(driver, "INSERT INTO Vehicle ?", {"VIN": "A1", "Owner": {"Name": "Ann"}, "Miles": 10})
    assert len(inserted["documentId"]) == 22
    assert len(rows(driver, "INSERT INTO Vehicle << {'VIN': 'B2', 'Miles': 5}, {'VIN': 'C3', 'Miles': 7} >>")) == 2
    rows(driver, "INSERT INTO Vehicle VALUE {'VIN': 'D4', 'Miles': 1}")
    assert rows(driver, "SELECT v.Owner.Name AS n FROM Vehicle AS v WHERE v.VIN = ?", "A1") == [{"n": "Ann"}]
    assert rows(driver, "SELECT COUNT(*) AS c FROM Vehicle") == [{"c": 4}]
    rows(driver, "UPDATE Vehicle AS v SET v.Miles = v.Miles + 1 WHERE v.Miles < 8")
    assert sorted(r["Miles"] for r in rows(driver, "SELECT Miles FROM Vehicle")) == [2, 6, 8, 10]
    rows(driver, "FROM Vehicle AS v WHERE v.VIN = 'A1' INSERT INTO v.Owner VALUE 'Bob' AT 'Co'")
    assert rows(driver, "SELECT VALUE v.Owner FROM Vehicle AS v WHERE v.VIN = 'A1'") == [{"Name": "Ann", "Co": "Bob"}]
    assert len(rows(driver, "DELETE FROM Vehicle AS v WHERE v.Miles > 7")) == 2
    assert sorted(r["VIN"] for r in rows(driver, "SELECT VIN FROM Vehicle")) == ["B2", "D4"]
    (table,) = rows(driver, "SELECT * FROM information_schema.user_tables")
    assert table["name"] == "Vehicle" and table["indexes"][0]["expr"] == "[VIN]"
    assert list(driver.list_tables()) == ["Vehicle"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=ion_structs())
def test_any_ion_document_round_trips_exactly(driver: QldbDriver, document: Any) -> None:
    with contextlib.suppress(ClientError):  # created by an earlier example
        rows(driver, "CREATE TABLE Things")
    # pyqldb hashes parameters with ionhash, which needs simpleion's typed values all the way down
    (inserted,) = rows(driver, "INSERT INTO Things ?", simpleion.loads(simpleion.dumps(document)))
    (back,) = rows(driver, "SELECT VALUE t FROM Things AS t BY id WHERE id = ?", inserted["documentId"])
    assert ion_equals(back, document)
    assert dump_binary([back]) == dump_binary([document])  # symbols stay symbols, precision stays


def test_history_and_committed_view_show_every_version(driver: QldbDriver) -> None:
    rows(driver, "CREATE TABLE Account")
    (doc,) = rows(driver, "INSERT INTO Account ?", {"id": 1, "balance": 0})
    for amount in (10, 25):
        rows(driver, "UPDATE Account AS a BY aid SET a.balance = ? WHERE aid = ?", amount, doc["documentId"])
    rows(driver, "DELETE FROM Account AS a BY aid WHERE aid = ?", doc["documentId"])
    history = rows(driver, "SELECT h.metadata.version AS v, h.data.balance AS b FROM history(Account) AS h")
    assert history == [{"v": 0, "b": 0}, {"v": 1, "b": 10}, {"v": 2, "b": 25}, {"v": 3}]
    (doc2,) = rows(driver, "INSERT INTO Account ?", {"id": 2})
    (committed,) = rows(driver, "SELECT * FROM _ql_committed_Account")
    assert committed["metadata"]["id"] == doc2["documentId"] and committed["metadata"]["version"] == 0
    assert set(committed) == {"blockAddress", "hash", "data", "metadata"}


def test_paged_results_all_arrive(driver: QldbDriver) -> None:
    rows(driver, "CREATE TABLE Many")
    for start in range(0, 450, 40):
        docs = [{"n": i} for i in range(start, min(start + 40, 450))]
        rows(driver, "INSERT INTO Many ?", docs)
    assert sorted(r["n"] for r in rows(driver, "SELECT n FROM Many")) == list(range(450))


# -- the raw Session API: digests and errors -----------------------------------------------------


def _session(local: Running, ledger: str) -> tuple[Any, str]:
    client = local.client("qldb-session")
    token = client.send_command(StartSession={"LedgerName": ledger})["StartSession"]["SessionToken"]
    return client, token


def _execute(client: Any, token: str, tx: str, statement: str, *params: Any) -> list[Any]:
    holders = [{"IonBinary": dump_binary([p])} for p in params]
    result = client.send_command(
        SessionToken=token, ExecuteStatement={"TransactionId": tx, "Statement": statement, "Parameters": holders}
    )
    return [simpleion.loads(v["IonBinary"]) for v in result["ExecuteStatement"]["FirstPage"]["Values"]]


def _start(client: Any, token: str) -> str:
    return str(client.send_command(SessionToken=token, StartTransaction={})["StartTransaction"]["TransactionId"])


def test_commit_digest_verified_and_echoed(local: Running, ledger: str) -> None:
    client, token = _session(local, ledger)
    tx = _start(client, token)
    _execute(client, token, tx, "CREATE TABLE T")
    _execute(client, token, tx, "INSERT INTO T ?", {"a": 1})
    digest = commit_digest(tx, [statement_hash("CREATE TABLE T"), statement_hash("INSERT INTO T ?", [{"a": 1}])])
    result = client.send_command(SessionToken=token, CommitTransaction={"TransactionId": tx, "CommitDigest": digest})
    assert result["CommitTransaction"]["CommitDigest"] == digest


def test_wrong_commit_digest_rejected_nothing_committed(local: Running, ledger: str) -> None:
    client, token = _session(local, ledger)
    tx = _start(client, token)
    _execute(client, token, tx, "CREATE TABLE T")
    with pytest.raises(ClientError) as error:
        client.send_command(SessionToken=token, CommitTransaction={"TransactionId": tx, "CommitDigest": b"\x00" * 32})
    assert _code(error) == "BadRequestException" and "commit digest" in str(error.value)
    assert list(local.driver(ledger).list_tables()) == []


def test_occ_conflict_second_writer_fails_nothing_applied(local: Running, ledger: str) -> None:
    driver = local.driver(ledger)
    rows(driver, "CREATE TABLE C")
    (doc,) = rows(driver, "INSERT INTO C ?", {"n": 0})
    first, token1 = _session(local, ledger)
    second, token2 = _session(local, ledger)
    tx1, tx2 = _start(first, token1), _start(second, token2)
    statement = "UPDATE C AS c BY cid SET c.n = c.n + 1 WHERE cid = ?"
    for client, token, tx in ((first, token1, tx1), (second, token2, tx2)):
        _execute(client, token, tx, statement, doc["documentId"])

    def commit(client: Any, token: str, tx: str) -> Any:
        digest = commit_digest(tx, [statement_hash(statement, [doc["documentId"]])])
        return client.send_command(SessionToken=token, CommitTransaction={"TransactionId": tx, "CommitDigest": digest})

    commit(first, token1, tx1)
    with pytest.raises(ClientError) as error:
        commit(second, token2, tx2)
    assert _code(error) == "OccConflictException"
    assert rows(driver, "SELECT VALUE n FROM C") == [1]


@pytest.mark.parametrize(
    ("statement", "params", "message"),
    [
        ("SELEC * FROM T", [], "SELEC"),
        ("SELECT * FROM Nowhere", [], "Nowhere"),
        ("SELECT * FROM T WHERE a = ?", [], "parameter"),
        ("SELECT * FROM T GROUP BY a", [], "GROUP BY"),
        ("INSERT INTO T ?", [5], "struct"),
    ],
)
def test_bad_statement_bad_request_with_message(
    local: Running, ledger: str, statement: str, params: list[Any], message: str
) -> None:
    rows(local.driver(ledger), "CREATE TABLE T")
    client, token = _session(local, ledger)
    tx = _start(client, token)
    with pytest.raises(ClientError) as error:
        _execute(client, token, tx, statement, *params)
    assert _code(error) == "BadRequestException"
    assert message in str(error.value)


def test_bad_parameter_ion_bad_request(local: Running, ledger: str) -> None:
    client, token = _session(local, ledger)
    tx = _start(client, token)
    with pytest.raises(ClientError) as error:
        client.send_command(
            SessionToken=token,
            ExecuteStatement={
                "TransactionId": tx,
                "Statement": "SELECT ? FROM T",
                "Parameters": [{"IonBinary": b"\xe0\x01\x00\xea\x88ab"}],
            },
        )
    assert _code(error) == "BadRequestException" and "parameter 1" in str(error.value)


def test_unknown_session_token_invalid_session(local: Running, ledger: str) -> None:
    client = local.client("qldb-session")
    with pytest.raises(ClientError) as error:
        client.send_command(SessionToken="nope", StartTransaction={})
    assert _code(error) == "InvalidSessionException"


def test_start_session_unknown_ledger_bad_request(local: Running) -> None:
    with pytest.raises(ClientError) as error:
        local.client("qldb-session").send_command(StartSession={"LedgerName": "missing"})
    assert _code(error) == "BadRequestException" and "missing" in str(error.value)


def test_more_than_40_documents_in_a_transaction_refused(driver: QldbDriver) -> None:
    rows(driver, "CREATE TABLE Big")
    with pytest.raises(ClientError) as error:
        rows(driver, "INSERT INTO Big ?", [{"n": i} for i in range(41)])
    assert "40 documents" in str(error.value)
    assert rows(driver, "SELECT COUNT(*) AS c FROM Big") == [{"c": 0}]


def test_document_over_128_kb_refused(driver: QldbDriver) -> None:
    rows(driver, "CREATE TABLE Big")
    with pytest.raises(ClientError) as error:
        rows(driver, "INSERT INTO Big ?", {"blob": b"x" * 100_000, "more": b"y" * 40_000})
    assert "128 KB" in str(error.value)


def test_table_and_index_quotas(driver: QldbDriver) -> None:
    for i in range(20):
        rows(driver, f"CREATE TABLE T{i}")
    with pytest.raises(ClientError) as error:
        rows(driver, "CREATE TABLE T20")
    assert "20 active tables" in str(error.value)
    for field in "abcde":
        rows(driver, f"CREATE INDEX ON T0 ({field})")
    with pytest.raises(ClientError) as error:
        rows(driver, "CREATE INDEX ON T0 (f)")
    assert "5 indexes" in str(error.value)


# -- expiry, on a clock the test moves ------------------------------------------------------------


@pytest.fixture
def clocked(tmp_path: Any) -> Any:
    now = [1000.0]
    running = serve_in_process(tmp_path, clock=lambda: now[0])
    running.create_ledger("L")
    yield running, now
    running.stop()


def test_transaction_older_than_30s_expires_session_discarded(clocked: Any) -> None:
    running, now = clocked
    client, token = _session(running, "L")
    tx = _start(client, token)
    now[0] += 31
    with pytest.raises(ClientError) as error:
        _execute(client, token, tx, "SELECT * FROM information_schema.user_tables")
    assert _code(error) == "InvalidSessionException" and f"Transaction {tx} has expired" in str(error.value)
    with pytest.raises(ClientError) as error:
        _start(client, token)
    assert _code(error) == "InvalidSessionException"


def test_idle_session_expires_after_60s(clocked: Any) -> None:
    running, now = clocked
    client, token = _session(running, "L")
    now[0] += 61
    with pytest.raises(ClientError) as error:
        _start(client, token)
    assert "idle" in str(error.value)


def test_session_expires_after_15_minutes_even_when_busy(clocked: Any) -> None:
    running, now = clocked
    client, token = _session(running, "L")
    for _ in range(18):  # 18 x 50 s = 900 s of activity, never idle for 60 s
        now[0] += 50
        assert _start(client, token)
        client.send_command(SessionToken=token, AbortTransaction={})
    now[0] += 30
    with pytest.raises(ClientError) as error:
        _start(client, token)
    assert "has expired" in str(error.value)


def test_pyqldb_recovers_from_expired_session(clocked: Any) -> None:
    running, now = clocked
    driver = running.driver("L")
    rows(driver, "CREATE TABLE T")
    now[0] += 3600  # every pooled session is now dead; the driver must start new ones
    rows(driver, "INSERT INTO T ?", {"a": 1})
    assert rows(driver, "SELECT VALUE a FROM T") == [1]


def test_values_are_base64_ion_binary(local: Running, ledger: str) -> None:
    client, token = _session(local, ledger)
    tx = _start(client, token)
    result = client.send_command(
        SessionToken=token,
        ExecuteStatement={"TransactionId": tx, "Statement": "SELECT * FROM information_schema.user_tables"},
    )
    page = result["ExecuteStatement"]
    assert page["FirstPage"]["Values"] == [] and "ProcessingTimeMilliseconds" in page["TimingInformation"]
    assert set(page["ConsumedIOs"]) == {"ReadIOs", "WriteIOs"}
    assert base64  # parameters/values travel as base64 in JSON; boto3 decodes them to bytes


def test_redaction_keeps_hash_replaces_data_journal_still_verifies(local: Running, ledger: str) -> None:
    from tests.local.test_durability import _journal_ok

    driver = local.driver(ledger)
    rows(driver, "CREATE TABLE Person")
    (doc,) = rows(driver, "INSERT INTO Person ?", {"name": "Ann", "ssn": "123-45-6789"})
    rows(driver, "UPDATE Person AS p BY pid SET p.ssn = 'redacted' WHERE pid = ?", doc["documentId"])
    (first,) = rows(
        driver,
        "SELECT h.blockAddress, h.hash, h.metadata.version AS v FROM history(Person) AS h WHERE h.metadata.version = 0",
    )
    table_id = rows(driver, "SELECT VALUE tableId FROM information_schema.user_tables WHERE name = 'Person'")[0]
    (result,) = rows(driver, "EXEC redact_revision ?, ?, ?", first["blockAddress"], table_id, doc["documentId"])
    assert result["version"] == 0 and result["documentId"] == doc["documentId"]
    (after,) = rows(driver, "SELECT * FROM history(Person) AS h WHERE h.metadata.version = 0")
    assert "data" not in after and len(after["dataHash"]) == 32 and after["hash"] == first["hash"]
    _journal_ok(local, ledger)  # the old block keeps its hash; a new block carries redactionInfo
    with pytest.raises(ClientError) as error:  # the current revision cannot be redacted
        (current,) = rows(driver, "SELECT h.blockAddress FROM history(Person) AS h WHERE h.metadata.version = 1")
        rows(driver, "EXEC redact_revision ?, ?, ?", current["blockAddress"], table_id, doc["documentId"])
    assert "current revision" in str(error.value)


def test_commit_queued_too_long_capacity_exceeded_then_pyqldb_retries(local: Running, ledger: str) -> None:
    import threading

    driver = local.driver(ledger, retries=50)
    rows(driver, "CREATE TABLE Q")
    assert local.endpoint is not None
    engine = local.endpoint.registry.ledger("us-east-1", ledger)
    engine.commit_wait = 0.01
    engine._lock.acquire()  # another commit holds the ledger
    writer = threading.Thread(target=lambda: rows(driver, "INSERT INTO Q ?", {"a": 1}))
    writer.start()
    assert engine.capacity_exceeded.wait(timeout=30)  # turned away with 503 CapacityExceededException
    engine._lock.release()
    writer.join(timeout=60)
    assert rows(driver, "SELECT VALUE a FROM Q") == [1]


def test_consumed_read_ios_count_documents_read_once_over_every_page(driver: QldbDriver) -> None:
    """A driver sums ConsumedIOs.ReadIOs over a result's pages: the total is the documents read
    to produce it (a scan reads the table, an indexed lookup what it finds), each once."""
    driver.execute_lambda(lambda t: t.execute_statement("CREATE TABLE Reads"))
    driver.execute_lambda(lambda t: t.execute_statement("CREATE INDEX ON Reads (k)"))
    for start in range(0, 450, 40):
        batch = [{"k": i, "even": i % 2 == 0} for i in range(start, min(start + 40, 450))]
        driver.execute_lambda(lambda t, b=batch: t.execute_statement("INSERT INTO Reads ?", b))

    def read_ios(statement: str, *params: Any) -> tuple[int, int]:
        def run(t: Any) -> tuple[int, int]:
            cursor = t.execute_statement(statement, *params)
            rows = sum(1 for _ in cursor)
            return rows, int((cursor.get_consumed_ios() or {}).get("ReadIOs", 0))

        return driver.execute_lambda(run)  # type: ignore[no-any-return]

    assert read_ios("SELECT * FROM Reads") == (450, 450)  # three pages, the table read once
    assert read_ios("SELECT * FROM Reads AS r WHERE r.even = true") == (225, 450)
    assert read_ios("SELECT COUNT(*) AS n FROM Reads") == (1, 450)
    assert read_ios("SELECT * FROM Reads AS r WHERE r.k = ?", 7) == (1, 1)


def test_occ_conflict_of_a_statement_closes_its_transaction_and_the_retry_goes_on(
    local: Running, ledger: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """QLDB ends a transaction that fails on OCC, and pyqldb retries on the same session
    without aborting: a statement's conflict (a document deleted under it) must close the
    transaction, or the retry's StartTransaction is refused ('still open')."""
    from qldb_dr.local.ledger.errors import OccConflict
    from qldb_dr.local.ledger.transaction import Transaction

    rows(local.driver(ledger), "CREATE TABLE C")
    execute, raised = Transaction.execute, []

    def once(self: Transaction, statement: str, parameters: Any) -> list[Any]:
        if statement.startswith("INSERT") and not raised:
            raised.append(statement)
            raise OccConflict("document x was deleted by another transaction while this one used it")
        return execute(self, statement, parameters)

    monkeypatch.setattr(Transaction, "execute", once)
    driver = QldbDriver(ledger, endpoint_url=local.url, region_name="us-east-1", max_concurrent_transactions=1)
    driver.execute_lambda(lambda t: t.execute_statement("INSERT INTO C ?", {"n": 1}))
    assert raised and rows(driver, "SELECT VALUE n FROM C") == [1]

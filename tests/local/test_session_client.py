"""qldb_dr.aws.session, the replay's QLDB Session client: pyqldb's protocol and digests, the
local ledger's checks, pyqldb's retries, and errors that say which statement."""

from __future__ import annotations

import contextlib
import string
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyqldb.driver.qldb_driver import QldbDriver

from qldb_dr.aws.session import Driver, Transaction, backoff_ms, retryable
from qldb_dr.errors import ServiceError, StatementRefusedError
from qldb_dr.ion import dump_binary, load_binary
from qldb_dr.ion.typed import typed
from tests.local.conftest import Running, serve_in_process
from tests.local.test_session import rows
from tests.strategies import ion_structs, ion_values


class Recording:
    """A qldb-session client that answers as QLDB does and records every SendCommand:
    `results` gives a statement's result pages, and a commit echoes the digest it was sent."""

    def __init__(self, transaction_id: str = "5Iv7XxbxAJR0yaGEhgYwYD", results: dict[str, Any] | None = None) -> None:
        self.transaction_id = transaction_id
        self.results: dict[str, list[list[Any]]] = results or {}
        self.requests: list[dict[str, Any]] = []
        self.failures: list[ClientError] = []  # raised, in turn, by the next ExecuteStatements

    def send_command(self, **request: Any) -> dict[str, Any]:
        self.requests.append(request)
        (command,) = [k for k in request if k != "SessionToken"]
        body = request[command]
        if command == "StartSession":
            return {"StartSession": {"SessionToken": "token"}, "ResponseMetadata": {"HTTPHeaders": {}}}
        if command == "StartTransaction":
            return {"StartTransaction": {"TransactionId": self.transaction_id}}
        if command == "ExecuteStatement":
            if self.failures:
                raise self.failures.pop(0)
            return {"ExecuteStatement": {"FirstPage": self._page(body["Statement"], 0)}}
        if command == "FetchPage":
            statement, _, number = body["NextPageToken"].rpartition("#")
            return {"FetchPage": {"Page": self._page(statement, int(number))}}
        if command == "CommitTransaction":
            return {"CommitTransaction": {"TransactionId": body["TransactionId"], "CommitDigest": body["CommitDigest"]}}
        return {command: {}}

    def _page(self, statement: str, number: int) -> dict[str, Any]:
        pages = self.results.get(statement, [[]])
        page: dict[str, Any] = {"Values": [{"IonBinary": dump_binary([v])} for v in pages[number]]}
        if number + 1 < len(pages):
            page["NextPageToken"] = f"{statement}#{number + 1}"
        return page

    def sent(self) -> list[tuple[Any, ...]]:
        """The protocol as sent, parameters decoded (encoders may lay out symbol tables apart)."""
        out: list[tuple[Any, ...]] = []
        for request in self.requests:
            (command,) = [k for k in request if k != "SessionToken"]
            body = request[command]
            if command == "ExecuteStatement":
                params = [dump_binary([load_binary(bytes(p["IonBinary"]))]) for p in body["Parameters"]]
                out.append((command, body["TransactionId"], body["Statement"], params))
            elif command == "CommitTransaction":
                out.append((command, body["TransactionId"], bytes(body["CommitDigest"])))
            else:
                out.append((command,))
        return out


def _pyqldb(client: Recording) -> QldbDriver:
    """pyqldb's own driver, talking to `client` (its boto3 client swapped for the recording one)."""
    driver = QldbDriver("orders", region_name="us-east-1")
    driver._client = client
    return driver


def _error(code: str, message: str = "", status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}, "SendCommand"
    )


transaction_ids = st.text(string.ascii_letters + string.digits, min_size=22, max_size=22)
statement_texts = st.sampled_from(
    ["SELECT * FROM T WHERE x = ?", "INSERT INTO T ?", "UPDATE T AS t BY id SET t.a = ?, t.b = ? WHERE id = ?", "é ?"]
) | st.text(min_size=1, max_size=30)


@settings(max_examples=60, deadline=None)
@given(
    transaction_id=transaction_ids,
    statements=st.lists(st.tuples(statement_texts, st.lists(ion_values(max_leaves=8), max_size=3)), max_size=4),
)
def test_requests_and_commit_digest_are_pyqldbs(transaction_id: str, statements: list[tuple[str, list[Any]]]) -> None:
    """The same transaction through pyqldb and through this client sends the same commands,
    statements and parameter values — and the same CommitDigest, which pyqldb computes with
    its own code (and checks against the one QLDB echoes)."""

    def work(txn: Any, convert: Any = lambda v: v) -> None:
        for statement, parameters in statements:
            list(txn.execute_statement(statement, *map(convert, parameters)))

    ours, theirs = Recording(transaction_id), Recording(transaction_id)
    Driver("orders", client=ours).execute_lambda(work)
    # pyqldb's ionhash needs typed values all the way down (qldb_dr.ion.typed); this client does not
    _pyqldb(theirs).execute_lambda(lambda txn: work(txn, typed))
    assert ours.sent() == theirs.sent()
    assert ours.sent()[-1][0] == "CommitTransaction"


def test_results_are_every_page_decoded() -> None:
    pages = [[{"n": i} for i in range(200)], [{"n": 200}], [{"n": 201}]]
    client = Recording(results={"SELECT * FROM T": pages})
    got = Driver("orders", client=client).execute_lambda(lambda t: t.execute_statement("SELECT * FROM T"))
    assert got == [{"n": i} for i in range(202)]
    assert [r for r in client.sent() if r[0] == "FetchPage"] == [("FetchPage",), ("FetchPage",)]


def test_commit_digest_echoed_wrong_fails_naming_the_transaction() -> None:
    class Lying(Recording):
        def send_command(self, **request: Any) -> dict[str, Any]:
            answer = super().send_command(**request)
            if "CommitTransaction" in answer:
                answer["CommitTransaction"]["CommitDigest"] = b"\x00" * 32
            return answer

    with pytest.raises(StatementRefusedError, match="commit digest for transaction 5Iv7XxbxAJR0yaGEhgYwYD"):
        Driver("orders", client=Lying()).execute_lambda(lambda t: t.execute_statement("INSERT INTO T ?", {"a": 1}))


def test_retryable_errors_are_pyqldbs() -> None:
    assert retryable(_error("OccConflictException"))
    assert retryable(_error("CapacityExceededException", status=503))
    assert retryable(_error("InternalFailure", status=500))
    assert retryable(_error("InvalidSessionException", "Session abc has expired"))
    assert not retryable(_error("InvalidSessionException", "Transaction abc has expired"))
    assert not retryable(_error("BadRequestException", "Syntax error"))
    assert not retryable(_error("LimitExceededException"))
    assert all(5 <= backoff_ms(1) <= 20 for _ in range(50)) and backoff_ms(40) <= 5000


def test_occ_conflict_and_capacity_run_the_transaction_again_after_a_backoff() -> None:
    client = Recording()
    client.failures = [_error("OccConflictException"), _error("CapacityExceededException", status=503)]
    driver = Driver("orders", client=client)
    pauses: list[float] = []
    driver.sleep = pauses.append
    attempts: list[Transaction] = []

    def work(txn: Transaction) -> str:
        attempts.append(txn)
        txn.execute_statement("INSERT INTO T ?", {"a": 1})
        return "done"

    assert driver.execute_lambda(work) == "done"
    assert len(attempts) == 3 and len(pauses) == 2
    commands = [r[0] for r in client.sent()]
    # after an OCC conflict QLDB has ended the transaction: no abort; after the 503, one
    assert commands.count("AbortTransaction") == 1 and commands.count("CommitTransaction") == 1
    assert commands.count("StartSession") == 1  # both retries on the same session


def test_retries_exhausted_is_a_service_error_naming_the_statement() -> None:
    client = Recording()
    client.failures = [_error("OccConflictException")] * 4
    driver = Driver("orders", client=client, retries=3)
    driver.sleep = lambda _: None
    with pytest.raises(ServiceError, match=r"statement 1 of transaction \w+ \(DELETE FROM T\).*after 3 retries"):
        driver.execute_lambda(lambda t: t.execute_statement("DELETE FROM T"))


def test_function_error_aborts_and_propagates_unchanged() -> None:
    client = Recording()

    def work(txn: Transaction) -> None:
        txn.execute_statement("SELECT * FROM T")
        raise KeyError("mine")

    with pytest.raises(KeyError, match="mine"):
        Driver("orders", client=client).execute_lambda(work)
    assert [r[0] for r in client.sent()][-1] == "AbortTransaction"


# -- against the local ledger ---------------------------------------------------------------------


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=ion_structs())
def test_any_ion_document_written_and_read_back_exactly(local: Running, ledger: str, document: Any) -> None:
    """Written with this client's parameters (the ledger checks their hashes in the commit
    digest), read back through it and through pyqldb: the same bytes."""
    ours = Driver(ledger, client=local.client("qldb-session"))
    with contextlib.suppress(StatementRefusedError):  # created by an earlier example
        ours.execute_lambda(lambda t: t.execute_statement("CREATE TABLE Things"))
    (inserted,) = ours.execute_lambda(lambda t: t.execute_statement("INSERT INTO Things ?", document))
    select = "SELECT VALUE t FROM Things AS t BY id WHERE id = ?"
    (back,) = ours.execute_lambda(lambda t: t.execute_statement(select, inserted["documentId"]))
    (theirs,) = rows(local.driver(ledger), select, inserted["documentId"])
    assert dump_binary([back]) == dump_binary([document]) == dump_binary([theirs])


def test_local_ledger_refuses_a_wrong_digest_naming_the_commit(local: Running, ledger: str) -> None:
    ours = Driver(ledger, client=local.client("qldb-session"))
    ours.execute_lambda(lambda t: t.execute_statement("CREATE TABLE T"))

    def tamper(txn: Transaction) -> None:
        txn.execute_statement("INSERT INTO T ?", {"a": 1})
        txn._digest = b"\x01" * 32  # as if a parameter had been hashed wrong

    with pytest.raises(StatementRefusedError, match=r"commit of transaction \w+ \(1 statements\): BadRequest.*digest"):
        ours.execute_lambda(tamper)
    assert ours.execute_lambda(lambda t: t.execute_statement("SELECT * FROM T")) == []


def test_occ_conflict_with_another_writer_is_retried_to_success(
    local: Running, ledger: str, driver: QldbDriver
) -> None:
    rows(driver, "CREATE TABLE T")
    rows(driver, "INSERT INTO T ?", {"k": 1, "n": 0})
    ours = Driver(ledger, client=local.client("qldb-session"))
    attempts = []

    def increment(txn: Transaction) -> None:
        (row,) = txn.execute_statement("SELECT t.n FROM T AS t WHERE t.k = 1")
        attempts.append(row["n"])
        if len(attempts) == 1:  # another writer commits in between: this one conflicts
            rows(driver, "UPDATE T AS t SET t.n = 10 WHERE t.k = 1")
        txn.execute_statement("UPDATE T AS t SET t.n = ? WHERE t.k = 1", row["n"] + 1)

    ours.execute_lambda(increment)
    assert attempts == [0, 10]
    assert rows(driver, "SELECT VALUE t.n FROM T AS t") == [11]


def test_stale_pooled_session_is_replaced_at_once(local: Running, ledger: str) -> None:
    client = local.client("qldb-session")
    ours = Driver(ledger, client=client)
    ours.execute_lambda(lambda t: t.execute_statement("CREATE TABLE T"))
    (pooled,) = ours._idle
    client.send_command(SessionToken=pooled.token, EndSession={})  # QLDB ended it (expiry, deploy, …)
    ours.sleep = lambda _: pytest.fail("a stale session is replaced without a pause")
    assert ours.execute_lambda(lambda t: t.execute_statement("SELECT * FROM T")) == []
    assert ours._idle and ours._idle[0].token != pooled.token


def test_bad_statement_is_refused_naming_it(local: Running, ledger: str) -> None:
    ours = Driver(ledger, client=local.client("qldb-session"))
    with pytest.raises(StatementRefusedError, match=r"statement 1 of transaction \w+ \(SELEC \* FROM T\): BadRequest"):
        ours.execute_lambda(lambda t: t.execute_statement("SELEC * FROM T"))


def test_missing_ledger_fails_at_once_naming_it(local: Running) -> None:
    ours = Driver("nowhere", client=local.client("qldb-session"))
    ours.sleep = lambda _: pytest.fail("a refused StartSession is not retried")
    with pytest.raises(ServiceError, match="StartSession on nowhere"):
        ours.execute_lambda(lambda t: t.execute_statement("SELECT * FROM T"))


def test_transaction_expired_is_not_retried(tmp_path: Any) -> None:
    now = [0.0]
    running = serve_in_process(tmp_path / "data", clock=lambda: now[0])
    try:
        running.create_ledger("orders")
        ours = Driver("orders", client=running.client("qldb-session"))
        ours.execute_lambda(lambda t: t.execute_statement("CREATE TABLE T"))
        calls = []

        def slow(txn: Transaction) -> None:
            calls.append(1)
            now[0] += 31  # past QLDB's 30 s
            txn.execute_statement("SELECT * FROM T")

        with pytest.raises(ServiceError, match="has expired"):
            ours.execute_lambda(slow)
        assert calls == [1]
    finally:
        running.stop()

"""A QLDB Session API client (`qldb-session` SendCommand) whose Ion is the project's own.

Why not pyqldb for the replay: pyqldb encodes every statement parameter with amazon.ion's
pure-Python writer (`simpleion.dumps`), hashes it with ionhash (an event per scalar), and
hashes the statement text through an Ion text round trip — 2-3 ms of CPU per statement, which
bounds a history-mode restore (one statement per revision). This client speaks the same
protocol with `qldb_dr.ion` (binary codec and hash, held equal to simpleion and ionhash by
tests/unit) and `qldb_dr.journal.hashing` (the digest algebra the local ledger checks with).

The protocol, as pyqldb 3.x speaks it (communication/session_client.py, session/qldb_session.py,
driver/qldb_driver.py), one SendCommand each:

1. StartSession(LedgerName) -> SessionToken; a session is reused for later transactions.
2. StartTransaction -> TransactionId.
3. ExecuteStatement(TransactionId, Statement, Parameters=[{IonBinary}]) -> FirstPage (Values,
   NextPageToken); FetchPage(TransactionId, NextPageToken) until no token.
4. CommitTransaction(TransactionId, CommitDigest) -> CommitDigest, which must equal ours.
   CommitDigest = fold(dot, statement hashes, H(TransactionId)), each statement's hash
   fold(dot, [H(p1) … H(pk)], H(statement text)) (FORMAT.md B.7, B.8).
5. On a failure: AbortTransaction — except after an OCC conflict (QLDB has ended the
   transaction) or an InvalidSessionException (the session is gone: it is not reused).
6. EndSession when the driver closes.

Retries are pyqldb's: OCC conflicts, HTTP 500/503 (QLDB's CapacityExceededException is a 503),
connection faults and InvalidSessionException (but not an expired transaction) run the whole
transaction function again, up to `retries` times with pyqldb's backoff (exponential, equal
jitter, 10 ms base, 5 s cap); an InvalidSessionException on the first attempt (a pooled
session gone stale) is retried at once on a new session. One deliberate difference: pyqldb
retries every failure to start a session, a ledger that does not exist too; here a refused
StartSession fails at once, saying why.

What cannot be retried raises a qldb-dr error naming the command, the statement and the
transaction: StatementRefusedError when QLDB refused what was sent (BadRequestException, or a
commit digest that is not ours), ServiceError otherwise — a retryable failure that outlasts the
retries, an expired transaction, a limit (the workflow may retry the task: the replay is
idempotent). An exception raised by the transaction function aborts the transaction and
propagates unchanged.
"""

from __future__ import annotations

import contextlib
import random
import re
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from qldb_dr.aws import client as aws_client
from qldb_dr.errors import ServiceError, StatementRefusedError
from qldb_dr.ion import dump_binary, ion_hash, load_binary, load_text
from qldb_dr.journal.hashing import dot, statement_hash

T = TypeVar("T")

BASE_BACKOFF_MS = 10  # pyqldb's RetryConfig defaults
MAX_BACKOFF_MS = 5000
_CONNECTION_ERRORS = (ReadTimeoutError, EndpointConnectionError, ConnectionClosedError, ConnectTimeoutError)
_EXPIRED = re.compile(r"Transaction .* has expired")
_SHOWN = 300  # characters of a statement an error message shows


def session_client(region: str | None = None) -> Any:
    """boto3's qldb-session client with botocore's own retries off, as pyqldb makes it: a
    retry must run the whole transaction again, never resend one command of it. Nor does
    botocore check each request against the API model: this module builds them, QLDB checks
    them all the same, and the check walks every parameter of every statement."""
    return aws_client("qldb-session", region, config=Config(retries={"max_attempts": 0}, parameter_validation=False))


def backoff_ms(attempt: int) -> float:
    """pyqldb's backoff (util/retry.py): exponential with equal jitter."""
    seed = min(BASE_BACKOFF_MS * (1 << min(attempt, 62)), MAX_BACKOFF_MS)
    return seed / 2 + random.randint(0, int(seed / 2))


def _code(error: BaseException) -> str:
    return str(error.response.get("Error", {}).get("Code", "")) if isinstance(error, ClientError) else ""


def _expired(error: BaseException) -> bool:
    message = error.response.get("Error", {}).get("Message", "") if isinstance(error, ClientError) else ""
    return _code(error) == "InvalidSessionException" and bool(_EXPIRED.search(str(message)))


def retryable(error: BaseException) -> bool:
    """pyqldb's `is_retriable_exception`."""
    if isinstance(error, _CONNECTION_ERRORS):
        return True
    if not isinstance(error, ClientError):
        return False
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    code = _code(error)
    return (
        status in (500, 503)
        or code in ("NoHttpResponseException", "SocketTimeoutException", "OccConflictException")
        or (code == "InvalidSessionException" and not _expired(error))
    )


class _Failed(Exception):
    """A command of the protocol failed: the SDK error and what was being done."""

    def __init__(self, error: Exception, doing: str) -> None:
        super().__init__(doing)
        self.error = error
        self.doing = doing


class Transaction:
    """One open transaction: runs statements, keeps the commit digest."""

    def __init__(self, session: _Session, transaction_id: str) -> None:
        self._session = session
        self.id = transaction_id
        self._digest = ion_hash(transaction_id)
        self.statements = 0

    def execute_statement(self, statement: str, *parameters: Any) -> list[Any]:
        """The statement's result, every page of it (QLDB pages 200 values)."""
        self.statements += 1
        self._digest = dot(self._digest, statement_hash(statement, parameters))
        doing = f"statement {self.statements} of transaction {self.id} ({_shown(statement)})"
        result = self._session.send(
            "ExecuteStatement",
            {
                "TransactionId": self.id,
                "Statement": statement,
                "Parameters": [{"IonBinary": dump_binary([p])} for p in parameters],
            },
            doing,
        )["FirstPage"]
        values = [_value(v, doing) for v in result.get("Values", [])]
        while result.get("NextPageToken"):
            fetch = {"TransactionId": self.id, "NextPageToken": result["NextPageToken"]}
            result = self._session.send("FetchPage", fetch, doing)["Page"]
            values += [_value(v, doing) for v in result.get("Values", [])]
        return values

    @property
    def digest(self) -> bytes:
        """The CommitDigest of the statements run so far."""
        return self._digest

    def _commit(self) -> None:
        doing = f"commit of transaction {self.id} ({self.statements} statements)"
        body = {"TransactionId": self.id, "CommitDigest": self._digest}
        echoed = self._session.send("CommitTransaction", body, doing)
        if bytes(echoed.get("CommitDigest", b"")) != self._digest:
            raise StatementRefusedError(
                f"{self._session.ledger}: QLDB's commit digest for transaction {self.id} is not the one of the "
                f"{self.statements} statements sent; the transaction's outcome is unknown",
                hint="run the restore step again: the replay is idempotent",
            )


class _Session:
    def __init__(self, client: Any, ledger: str) -> None:
        self.client = client
        self.ledger = ledger
        self.alive = True
        try:
            started = client.send_command(StartSession={"LedgerName": ledger})
        except ClientError as exc:
            if retryable(exc):
                raise _Failed(exc, "StartSession") from exc
            raise ServiceError(f"QLDB StartSession on {ledger}: {_describe(exc)}") from exc
        except _CONNECTION_ERRORS as exc:
            raise _Failed(exc, "StartSession") from exc
        self.token: str = started["StartSession"]["SessionToken"]

    def send(self, command: str, body: dict[str, Any], doing: str) -> Any:
        try:
            return self.client.send_command(SessionToken=self.token, **{command: body})[command]
        except (ClientError, *_CONNECTION_ERRORS) as exc:
            raise _Failed(exc, doing) from exc

    def run(self, work: Callable[[Transaction], T]) -> T:
        """One attempt: start a transaction, run `work` in it, commit (qldb_session.py)."""
        transaction: Transaction | None = None
        try:
            started = self.send("StartTransaction", {}, "StartTransaction")
            transaction = Transaction(self, started["TransactionId"])
            result = work(transaction)
            transaction._commit()
            return result
        except Exception as exc:
            error = exc.error if isinstance(exc, _Failed) else exc
            if _code(error) == "InvalidSessionException" and not _expired(error):
                self.alive = False
            elif _code(error) != "OccConflictException":
                self._abort()
            raise

    def _abort(self) -> None:
        try:
            self.client.send_command(SessionToken=self.token, AbortTransaction={})
        except (ClientError, BotoCoreError):
            self.alive = False  # as pyqldb: a session that cannot abort is not reused

    def end(self) -> None:
        # The session expires on its own; closing must not fail a finished restore.
        with contextlib.suppress(ClientError, BotoCoreError):
            self.client.send_command(SessionToken=self.token, EndSession={})


class Driver:
    """Transactions against one ledger, on a pool of sessions (thread-safe), as pyqldb's
    QldbDriver.execute_lambda runs them."""

    def __init__(self, ledger: str, region: str | None = None, *, retries: int = 10, client: Any = None) -> None:
        self.ledger = ledger
        self.retries = retries
        self.client = client if client is not None else session_client(region)
        self._idle: list[_Session] = []
        self._lock = threading.Lock()
        self.sleep: Callable[[float], None] = time.sleep

    def __enter__(self) -> Driver:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for session in idle:
            session.end()

    def execute_lambda(self, work: Callable[[Transaction], T]) -> T:
        """`work` in a transaction, committed; run again on a retryable failure, so it must
        have no effect outside the transaction until it returns."""
        attempt = 0
        fresh = False
        while True:
            attempt += 1
            session: _Session | None = None
            try:
                session = self._session(fresh)
                return session.run(work)
            except _Failed as failed:
                if not retryable(failed.error):
                    refused = _code(failed.error) == "BadRequestException"
                    error = StatementRefusedError if refused else ServiceError
                    raise error(f"{self.ledger}: {failed.doing}: {_describe(failed.error)}") from failed.error
                if attempt == 1 and (session is None or _code(failed.error) == "InvalidSessionException"):
                    continue  # a pooled session gone stale (or none to be had): once, at once, on a new one
                if attempt > self.retries:
                    raise ServiceError(
                        f"{self.ledger}: {failed.doing}: {_describe(failed.error)} (still failing after "
                        f"{self.retries} retries)"
                    ) from failed.error
                self.sleep(backoff_ms(attempt) / 1000)
            finally:
                fresh = session is None or not self._release(session)

    def _session(self, fresh: bool) -> _Session:
        if not fresh:
            with self._lock:
                if self._idle:
                    return self._idle.pop()
        return _Session(self.client, self.ledger)

    def _release(self, session: _Session) -> bool:
        if not session.alive:
            return False
        with self._lock:
            self._idle.append(session)
        return True


def _value(holder: dict[str, Any], doing: str) -> Any:
    if "IonBinary" in holder:
        return load_binary(bytes(holder["IonBinary"]))
    if "IonText" in holder:
        return load_text(holder["IonText"])
    raise ServiceError(f"{doing}: a result value has neither IonBinary nor IonText")


def _shown(statement: str) -> str:
    return statement if len(statement) <= _SHOWN else statement[:_SHOWN] + "…"


def _describe(error: Exception) -> str:
    if isinstance(error, ClientError):
        detail = error.response.get("Error", {})
        return f"{detail.get('Code', 'error')}: {detail.get('Message', '')}".rstrip(": ")
    return f"{type(error).__name__}: {error}"


__all__: Sequence[str] = ["Driver", "Transaction", "backoff_ms", "retryable", "session_client"]

"""QLDB Session API (`qldb-session` SendCommand, JSON 1.0) over the local ledger engine.

Limits and failures behave as QLDB's do, with QLDB's messages where pyqldb reads them:
a transaction expires 30 s after it starts ("Transaction <id> has expired"), a session
after 15 min, an idle session (no open transaction) after 60 s; at most 3,000 sessions
with an open transaction per ledger; results come in pages of at most 200 values.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from amazon.ion import simpleion

from qldb_dr.ion import dump_binary, load_binary
from qldb_dr.ion.decoder import IonDecodeError
from qldb_dr.journal.reader import ION_TEXT_ERRORS
from qldb_dr.local.ledger.engine import Ledger
from qldb_dr.local.ledger.errors import (
    BadRequest,
    InvalidSession,
    OccConflict,
    ResourceNotFound,
    ResourcePreconditionNotMet,
    SessionLimit,
)
from qldb_dr.local.ledger.registry import Registry
from qldb_dr.local.ledger.transaction import Transaction

PAGE_VALUES = 200
PARAMETER_BINARY_BYTES = 128 * 1024
PARAMETER_TEXT_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    transaction_seconds: float = 30.0
    session_seconds: float = 15 * 60.0
    idle_seconds: float = 60.0
    active_sessions: int = 3000


@dataclass
class _Session:
    token: str
    ledger: Ledger
    started: float
    last_used: float
    transaction: Transaction | None = None
    pages: dict[str, list[Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class SessionService:
    def __init__(
        self, registry: Registry, *, limits: Limits | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.registry = registry
        self.limits = limits or Limits()
        self.clock = clock
        self._sessions: dict[str, _Session] = {}
        self._lock = threading.Lock()

    def handle(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        """One SendCommand: exactly one of its commands, the result keyed by the command name."""
        started = time.perf_counter()
        commands = [k for k in request if k != "SessionToken"]
        if len(commands) != 1:
            raise BadRequest("SendCommand takes exactly one command")
        command = commands[0]
        body = request[command] or {}
        if command == "StartSession":
            result = self._start_session(body, region)
        else:
            session = self._session(request.get("SessionToken"))
            with session.lock:
                result = self._run(session, command, body)
                session.last_used = self.clock()
        result["TimingInformation"] = {"ProcessingTimeMilliseconds": int((time.perf_counter() - started) * 1000)}
        return {command: result}

    # -- sessions ------------------------------------------------------------------------------

    def _start_session(self, body: dict[str, Any], region: str) -> dict[str, Any]:
        name = body.get("LedgerName")
        if not name:
            raise BadRequest("StartSession needs LedgerName")
        try:
            ledger = self.registry.ledger(region, name)
        except (ResourceNotFound, ResourcePreconditionNotMet) as exc:
            raise BadRequest(exc.message) from exc
        now = self.clock()
        token = base64.b64encode(secrets.token_bytes(48)).decode()
        with self._lock:
            self._expire(now)
            self._sessions[token] = _Session(token, ledger, now, now)
        return {"SessionToken": token}

    def _expire(self, now: float) -> None:
        for token, session in list(self._sessions.items()):
            if self._why_expired(session, now):
                self._sessions.pop(token, None)

    def _why_expired(self, session: _Session, now: float) -> str | None:
        if now - session.started > self.limits.session_seconds:
            return f"Session {session.token[:12]} has expired"
        if session.transaction is None and now - session.last_used > self.limits.idle_seconds:
            return f"Exceeded the session idle time limit: Session {session.token[:12]}"
        return None

    def _session(self, token: str | None) -> _Session:
        with self._lock:
            session = self._sessions.get(token or "")
            if session is None:
                raise InvalidSession("Invalid session: no active session with this token")
            why = self._why_expired(session, self.clock())
            if why is not None:
                self._sessions.pop(session.token, None)
                raise InvalidSession(why)
        return session

    def _drop(self, session: _Session) -> None:
        with self._lock:
            self._sessions.pop(session.token, None)

    # -- commands -------------------------------------------------------------------------------

    def _run(self, session: _Session, command: str, body: dict[str, Any]) -> dict[str, Any]:
        if command == "StartTransaction":
            return self._start_transaction(session)
        if command == "EndSession":
            self._drop(session)
            return {}
        if command == "AbortTransaction":
            session.transaction = None
            session.pages.clear()
            return {}
        if command not in ("ExecuteStatement", "FetchPage", "CommitTransaction"):
            raise BadRequest(f"Unknown command {command}")
        txn = self._transaction(session, body.get("TransactionId"))
        if command == "ExecuteStatement":
            return self._execute(session, txn, body)
        if command == "FetchPage":
            return self._fetch(session, body)
        return self._commit(session, txn, body)

    def _start_transaction(self, session: _Session) -> dict[str, Any]:
        if session.transaction is not None:
            raise BadRequest(f"Transaction {session.transaction.id} is still open on this session")
        with self._lock:
            open_transactions = sum(
                1 for s in self._sessions.values() if s.transaction is not None and s.ledger is session.ledger
            )
        if open_transactions >= self.limits.active_sessions:
            raise SessionLimit(f"Ledger {session.ledger.name} has {self.limits.active_sessions} active sessions")
        session.transaction = session.ledger.begin()
        session.transaction.started = self.clock()
        return {"TransactionId": session.transaction.id}

    def _transaction(self, session: _Session, transaction_id: str | None) -> Transaction:
        txn = session.transaction
        if txn is None or txn.id != transaction_id:
            raise InvalidSession(f"Transaction {transaction_id} is not open on this session")
        if self.clock() - txn.started > self.limits.transaction_seconds:
            self._drop(session)  # QLDB discards the session with the expired transaction
            raise InvalidSession(f"Transaction {txn.id} has expired")
        return txn

    def _execute(self, session: _Session, txn: Transaction, body: dict[str, Any]) -> dict[str, Any]:
        statement = body.get("Statement")
        if not isinstance(statement, str) or not statement.strip():
            raise BadRequest("ExecuteStatement needs a Statement")
        parameters = [_parameter(p, i) for i, p in enumerate(body.get("Parameters") or [], start=1)]
        writes_before, reads_before = len(txn.pending), txn.reads
        try:
            values = txn.execute(statement, parameters)
        except OccConflict:
            session.transaction = None  # QLDB ends a transaction that fails on OCC; the driver retries
            session.pages.clear()
            raise
        # What producing the result read — documents, not result rows: all of it here, as the
        # engine evaluates a statement whole; the later pages' FetchPage reads nothing more.
        consumed = {"ReadIOs": txn.reads - reads_before, "WriteIOs": max(len(txn.pending) - writes_before, 0)}
        return {"FirstPage": self._page(session, values), "ConsumedIOs": consumed}

    def _fetch(self, session: _Session, body: dict[str, Any]) -> dict[str, Any]:
        values = session.pages.pop(body.get("NextPageToken") or "", None)
        if values is None:
            raise BadRequest("NextPageToken is not a page of this transaction")
        return {"Page": self._page(session, values), "ConsumedIOs": {"ReadIOs": 0, "WriteIOs": 0}}

    def _page(self, session: _Session, values: list[Any]) -> dict[str, Any]:
        page: dict[str, Any] = {
            "Values": [{"IonBinary": base64.b64encode(dump_binary([v])).decode()} for v in values[:PAGE_VALUES]]
        }
        if len(values) > PAGE_VALUES:
            token = secrets.token_urlsafe(24)
            session.pages[token] = values[PAGE_VALUES:]
            page["NextPageToken"] = token
        return page

    def _commit(self, session: _Session, txn: Transaction, body: dict[str, Any]) -> dict[str, Any]:
        try:
            digest = base64.b64decode(body.get("CommitDigest") or "", validate=True)
        except (binascii.Error, ValueError) as exc:
            raise BadRequest("CommitDigest is not base64") from exc
        session.transaction = None
        session.pages.clear()
        echoed = session.ledger.commit(txn, digest)
        return {
            "TransactionId": txn.id,
            "CommitDigest": base64.b64encode(echoed).decode(),
            "ConsumedIOs": {"ReadIOs": 0, "WriteIOs": len(txn.pending)},
        }


def _parameter(holder: Any, number: int) -> Any:
    """A statement parameter from its ValueHolder: IonBinary (base64) or IonText."""
    if not isinstance(holder, dict):
        raise BadRequest(f"parameter {number} must be a ValueHolder")
    try:
        if "IonBinary" in holder:
            data = base64.b64decode(holder["IonBinary"], validate=True)
            if len(data) > PARAMETER_BINARY_BYTES:
                raise BadRequest(f"parameter {number} is {len(data):,} bytes; QLDB's limit is 128 KB")
            return load_binary(data)
        if "IonText" in holder:
            text = holder["IonText"]
            if len(text.encode()) > PARAMETER_TEXT_BYTES:
                raise BadRequest(f"parameter {number} is over 1 MB of Ion text, QLDB's limit")
            return simpleion.loads(text)
    except (binascii.Error, IonDecodeError, *ION_TEXT_ERRORS) as exc:
        raise BadRequest(f"parameter {number} is not valid Ion: {exc}") from exc
    raise BadRequest(f"parameter {number} has neither IonBinary nor IonText")

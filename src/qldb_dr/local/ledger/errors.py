"""Errors of the local ledger, each carrying the QLDB exception name and HTTP status a real
QLDB endpoint answers with, so botocore raises the same classes and pyqldb retries the same way."""

from __future__ import annotations


class LedgerError(Exception):
    """Base: `code` is the QLDB exception name, `status` the HTTP status code."""

    code = "BadRequestException"
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(LedgerError):
    """The statement or request is invalid; retrying cannot help."""


class OccConflict(LedgerError):
    """Something this transaction read or wrote changed after it started; pyqldb retries."""

    code = "OccConflictException"


class InvalidSession(LedgerError):
    """The session or transaction is unknown, ended or expired; pyqldb retries on a new session
    unless the message says the transaction expired."""

    code = "InvalidSessionException"


class SessionLimit(LedgerError):
    """Too many active sessions on the ledger (QLDB's 3,000)."""

    code = "LimitExceededException"


class CapacityExceeded(LedgerError):
    """The ledger is overloaded (the local ledger raises it when a commit waits too long); retryable."""

    code = "CapacityExceededException"
    status = 503


class RateExceeded(LedgerError):
    """Requests arrive faster than the ledger accepts; retryable after a pause."""

    code = "RateExceededException"


# -- control plane (qldb, REST JSON) -------------------------------------------------------------


class ResourceNotFound(LedgerError):
    code = "ResourceNotFoundException"
    status = 404


class ResourceAlreadyExists(LedgerError):
    code = "ResourceAlreadyExistsException"
    status = 409


class ResourceInUse(LedgerError):
    code = "ResourceInUseException"
    status = 409


class ResourcePreconditionNotMet(LedgerError):
    code = "ResourcePreconditionNotMetException"
    status = 412


class InvalidParameter(LedgerError):
    code = "InvalidParameterException"


class LimitExceeded(LedgerError):
    code = "LimitExceededException"

"""The exception catalogue: every error qldb-dr raises on purpose.

Class names are contract: Step Functions `Retry` and `Catch` match on them, the CLI maps
them to messages and exit codes. Each docstring says when it is raised and whether
retrying can help. Adapters translate SDK errors into these with `raise … from exc`.
"""

from __future__ import annotations


class QldbDrError(Exception):
    """Base class. `hint` tells the operator what to do next."""

    hint: str = ""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        if hint:
            self.hint = hint


# -- storage --------------------------------------------------------------------------------


class ObjectNotFoundError(QldbDrError):
    """A key does not exist in the store. Not retryable."""

    def __init__(self, location: str) -> None:
        super().__init__(f"{location}: no such object")
        self.location = location


class StoreAccessError(QldbDrError):
    """The store refused or failed a request (permissions, network, throttling). Retryable."""


class ServiceError(QldbDrError):
    """An AWS service (Step Functions, QLDB, …) refused or failed a request. Retryable."""


class SourceNotFoundError(QldbDrError):
    """A SOURCE (directory or s3://bucket/prefix) does not exist or holds no exports. Not retryable."""


# -- journal content ----------------------------------------------------------------------------


class JournalFormatError(QldbDrError):
    """An export object or manifest is not what QLDB writes (bad Ion, truncated, missing
    field). Not retryable: the bytes themselves are wrong."""

    def __init__(self, location: str, detail: str, *, hint: str = "") -> None:
        super().__init__(f"{location}: {detail}", hint=hint)
        self.location = location
        self.detail = detail


# -- workflow tasks -------------------------------------------------------------------------------


class InvalidInputError(QldbDrError):
    """A task was started with input it cannot use (missing or malformed fields). Not retryable."""


class ExportVerificationError(QldbDrError):
    """An export failed verification: a hash, the chain, continuity or its proof. Not
    retryable: the bytes in the vault are not the ledger's journal."""

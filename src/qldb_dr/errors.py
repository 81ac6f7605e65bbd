"""The exception catalogue: every error qldb-dr raises on purpose.

Class names are contract: Step Functions `Retry` and `Catch` match on them, the CLI maps
them to messages and exit codes. Each docstring says when it is raised and whether
retrying can help; `retry` says it to the workflows — the policy every ASL `Retry` block
naming the error follows (None: not retryable; tests/unit/test_contracts.py holds the ASL
to it). Adapters translate SDK errors into these with `raise … from exc`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How the workflows retry an error: ASL's Retry fields."""

    interval_seconds: int
    max_attempts: int
    backoff_rate: float = 2.0
    max_delay_seconds: int | None = None
    jitter: bool = True

    def to_asl(self, errors: list[str]) -> dict[str, object]:
        block: dict[str, object] = {
            "ErrorEquals": errors,
            "IntervalSeconds": self.interval_seconds,
            "BackoffRate": self.backoff_rate,
            "MaxAttempts": self.max_attempts,
        }
        if self.max_delay_seconds is not None:
            block["MaxDelaySeconds"] = self.max_delay_seconds
        if self.jitter:
            block["JitterStrategy"] = "FULL"
        return block


# A call that failed for a moment (throttling, a network fault, a service hiccup).
TRANSIENT = RetryPolicy(interval_seconds=2, max_attempts=6)
# Something still on its way (replication, another restore's writes): minutes, not seconds.
ARRIVING = RetryPolicy(interval_seconds=5, max_attempts=8, max_delay_seconds=600)
# Lambda's own transient failures, retried like ours.
LAMBDA_TRANSIENT = (
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
)


class QldbDrError(Exception):
    """Base class. `hint` tells the operator what to do next; `retry`, whether and how the
    workflows retry it."""

    hint: str = ""
    retry: RetryPolicy | None = None

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


class ObjectExistsError(QldbDrError):
    """A conditional create found the key already taken. Not retryable: someone wrote first."""

    def __init__(self, location: str) -> None:
        super().__init__(f"{location}: already exists")
        self.location = location


class StoreAccessError(QldbDrError):
    """The store refused or failed a request (permissions, network, throttling). Retryable."""

    retry = TRANSIENT


class ServiceError(QldbDrError):
    """An AWS service (Step Functions, QLDB, …) refused or failed a request. Retryable."""

    retry = TRANSIENT


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


class TamperedObjectError(JournalFormatError):
    """An object of a recovery point no longer has the SHA-256 the catalog pinned for it.
    Not trusted; not retryable. `data` holds the bytes found, for diagnosis only."""

    data: bytes | None = None


# -- workflow tasks -------------------------------------------------------------------------------


class InvalidInputError(QldbDrError):
    """A task was started with input it cannot use (missing or malformed fields). Not retryable."""


class ExportVerificationError(QldbDrError):
    """An export failed verification: a hash, the chain, continuity or its proof. Not
    retryable: the bytes in the vault are not the ledger's journal."""


class LedgerNotFoundError(QldbDrError):
    """The ledger does not exist in the region asked. Not retryable."""


class ExportLimitExceededError(QldbDrError):
    """QLDB refused an export: two are already running on the ledger. Retryable with backoff."""

    retry = RetryPolicy(interval_seconds=30, max_attempts=8, max_delay_seconds=900)


class ExportCancelledError(QldbDrError):
    """QLDB cancelled the export (it could not write to the bucket). Not retryable as is."""


class BackupInProgressError(QldbDrError):
    """Another backup of the same ledger is exporting the same window. Not retryable: that one
    records the recovery point."""


class ContinuityError(QldbDrError):
    """An export does not start right after the previous recovery point (a gap or an overlap).
    Not retryable: nothing is recorded, the window must be looked at."""


class RecoveryPointConflictError(QldbDrError):
    """Another backup recorded a recovery point for this window first. Not retryable."""


class CatalogError(QldbDrError):
    """A catalog object is unreadable or contradicts the vault. Not retryable."""


# -- restore ----------------------------------------------------------------------------------------


class NoRecoveryPointsError(QldbDrError):
    """The vault holds no recovery point of the ledger asked for. Not retryable."""


class OutOfRangeError(QldbDrError):
    """The recovery point, time or block asked for is not in the vault's range. Not retryable."""


class PredecessorMissingError(QldbDrError):
    """A recovery point (or a revision) cannot be applied before its predecessor, which has not
    arrived yet (replication in flight). Retryable: wait, then run again."""

    retry = ARRIVING


class ReplicationPendingError(QldbDrError):
    """A recovery point is in the vault's catalog but some object of its export is not (S3
    replication carries objects in no particular order). Retryable: wait, then run again; if
    the object never arrives, the vault lost it."""

    retry = ARRIVING


class VaultVerificationError(QldbDrError):
    """The vault failed verification at restore time (tampering or corruption); nothing was
    written to the target. Not retryable from this vault."""


class TargetNotEmptyError(QldbDrError):
    """The target ledger holds data that is not a previous restore of the same source.
    Not retryable: choose another target."""


class RestoreIncompleteError(QldbDrError):
    """A restore ended without a verified target: a partition failed, or the target does not
    equal the journal (the workflow's `Restore Failed` state). Not retryable as is: `restore
    retry` runs what did not finish."""


class DrillFailedError(QldbDrError):
    """A drill's restore did not verify (or did not finish): the recovery it rehearsed would
    not have worked. Its report, in the vault under `<ledger>/drills/`, says which check. Not
    retryable: the next drill runs on its schedule; fix the cause and start one to confirm."""


class NotDeployedError(QldbDrError):
    """A workflow asked for is not deployed in the region. Not retryable."""

    hint = "start the local endpoint (`qldb-dr local up`) or deploy the CDK app (infra/), then retry"


class ReplayStateError(QldbDrError):
    """The target's bookkeeping for a partition contradicts itself (a watermark that neither
    matches what was read nor has moved). Not retryable: a defect to report, with the target."""


class UnreplayableDocumentError(QldbDrError):
    """A document cannot be written back through PartiQL as it was (a top-level annotation or
    repeated top-level field names). Not retryable; reported by document id."""


class HistoryGapError(QldbDrError):
    """A history-mode restore cannot give a document the versions it lacks on the target: they
    were written before the target's watermark while their table was dropped at the block an
    earlier restore stopped at (and undropped since). Not retryable: restore into a new target."""


class StatementRefusedError(QldbDrError):
    """QLDB refused a statement or the commit of a replay transaction (a BadRequest, a
    mismatched commit digest): the message names the statement, its transaction and the source
    document. Not retryable: what was sent is wrong, not the moment."""


class InjectedFaultError(QldbDrError):
    """A failure injected on purpose by a drill or a test (`qldb_dr.restore.faults`), never by
    default. Not retryable: it stands for a batch that keeps failing, which `restore retry`
    (or the console's Retry failed batches) runs again once the fault is cleared."""

"""ExportJournalToS3 for the local ledger: asynchronous jobs writing QLDB's exact layout.

A job runs on its own thread: started manifest, the blocks committed in
[InclusiveStartTime, ExclusiveEndTime) in objects of at most `BLOCKS_PER_OBJECT` blocks,
then the completed manifest — last, so a completed manifest means every object is in
place. If S3 refuses any write the job ends CANCELLED and no completed manifest exists.
Job records live in the ledger's own file; a job still IN_PROGRESS when the endpoint
stopped is run again from the start when it restarts (every write is idempotent). Records
expire 7 days after the export was created, as QLDB's do.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from qldb_dr.errors import QldbDrError
from qldb_dr.journal.builder import millis, new_id
from qldb_dr.journal.models import OutputFormat, StartedManifest
from qldb_dr.journal.writer import ExportPlan, write_export_values
from qldb_dr.local.ledger.engine import Ledger
from qldb_dr.local.ledger.errors import InvalidParameter, LimitExceeded, ResourceNotFound
from qldb_dr.store.s3 import S3Store

log = logging.getLogger(__name__)

ACTIVE_EXPORTS = 2  # QLDB: at most two exports in progress per ledger
RETENTION_SECONDS = 7 * 24 * 3600
BLOCKS_PER_OBJECT = 1000

S3ClientFactory = Callable[[str], Any]  # region -> boto3 S3 client


@dataclass(frozen=True, slots=True)
class ExportJob:
    export_id: str
    ledger_name: str
    region: str
    created_ms: int
    status: str
    start_ms: int
    end_ms: int
    bucket: str
    prefix: str
    encryption: str
    kms_key_arn: str | None
    role_arn: str
    output_format: str

    def describe(self) -> dict[str, Any]:
        configuration: dict[str, Any] = {
            "Bucket": self.bucket,
            "Prefix": self.prefix,
            "EncryptionConfiguration": {"ObjectEncryptionType": self.encryption},
        }
        if self.kms_key_arn:
            configuration["EncryptionConfiguration"]["KmsKeyArn"] = self.kms_key_arn
        return {
            "LedgerName": self.ledger_name,
            "ExportId": self.export_id,
            "ExportCreationTime": self.created_ms / 1000,
            "Status": self.status,
            "InclusiveStartTime": self.start_ms / 1000,
            "ExclusiveEndTime": self.end_ms / 1000,
            "S3ExportConfiguration": configuration,
            "RoleArn": self.role_arn,
            "OutputFormat": self.output_format,
        }


class Exports:
    """The export jobs of one endpoint."""

    def __init__(self, s3_client: S3ClientFactory, clock: Callable[[], float] = time.time) -> None:
        self.s3_client = s3_client
        self.clock = clock
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    # -- records, kept in the ledger's file --------------------------------------------------------

    @staticmethod
    def _save(ledger: Ledger, job: ExportJob) -> None:
        ledger.put_export(job.export_id, job.created_ms, job.status, json.dumps(asdict(job)))

    def _live(self, job: ExportJob) -> bool:
        return self.clock() * 1000 - job.created_ms < RETENTION_SECONDS * 1000

    def jobs(self, ledger: Ledger) -> list[ExportJob]:
        """Unexpired jobs, oldest first."""
        jobs = [ExportJob(**json.loads(config)) for config in ledger.export_records()]
        return [j for j in jobs if self._live(j)]

    def describe(self, ledger: Ledger, export_id: str) -> ExportJob:
        for job in self.jobs(ledger):
            if job.export_id == export_id:
                return job
        raise ResourceNotFound(f"Export {export_id} of ledger {ledger.name} does not exist or has expired")

    # -- starting and running ------------------------------------------------------------------

    def start(self, ledger: Ledger, region: str, request: dict[str, Any]) -> str:
        config = request.get("S3ExportConfiguration") or {}
        encryption = (config.get("EncryptionConfiguration") or {}).get("ObjectEncryptionType")
        kms_key = (config.get("EncryptionConfiguration") or {}).get("KmsKeyArn")
        fmt = request.get("OutputFormat") or OutputFormat.ION_TEXT.value
        if encryption not in ("SSE_KMS", "SSE_S3", "NO_ENCRYPTION"):
            raise InvalidParameter("ObjectEncryptionType must be SSE_KMS, SSE_S3 or NO_ENCRYPTION")
        if encryption == "SSE_KMS" and not kms_key:
            raise InvalidParameter("KmsKeyArn is required with SSE_KMS")
        if fmt not in {f.value for f in OutputFormat}:
            raise InvalidParameter("OutputFormat must be ION_BINARY, ION_TEXT or JSON")
        if not str(request.get("RoleArn", "")).startswith("arn:"):
            raise InvalidParameter("RoleArn must be the ARN of a role QLDB can assume")
        if not config.get("Bucket"):
            raise InvalidParameter("S3ExportConfiguration.Bucket is required")
        now_ms = int(self.clock() * 1000)
        start_ms = int(float(request["InclusiveStartTime"]) * 1000)
        end_ms = int(float(request["ExclusiveEndTime"]) * 1000)
        if end_ms > now_ms:
            raise InvalidParameter("ExclusiveEndTime must not be in the future")
        start_ms = max(start_ms, int(ledger.created.timestamp() * 1000))  # QLDB clamps to creation
        if start_ms >= end_ms:
            raise InvalidParameter("InclusiveStartTime must be earlier than ExclusiveEndTime")
        with self._lock:
            running = [j for j in self.jobs(ledger) if j.status == "IN_PROGRESS"]
            if len(running) >= ACTIVE_EXPORTS:
                raise LimitExceeded(f"Ledger {ledger.name} already has {ACTIVE_EXPORTS} exports in progress")
            job = ExportJob(
                export_id=new_id(),
                ledger_name=ledger.name,
                region=region,
                created_ms=now_ms,
                status="IN_PROGRESS",
                start_ms=start_ms,
                end_ms=end_ms,
                bucket=config["Bucket"],
                prefix=config.get("Prefix", ""),
                encryption=encryption,
                kms_key_arn=kms_key,
                role_arn=request["RoleArn"],
                output_format=fmt,
            )
            self._save(ledger, job)
        self._spawn(ledger, job)
        return job.export_id

    def resume(self, ledger: Ledger) -> None:
        """Run again the jobs a stopped endpoint left IN_PROGRESS."""
        for job in self.jobs(ledger):
            if job.status == "IN_PROGRESS":
                self._spawn(ledger, job)

    def _spawn(self, ledger: Ledger, job: ExportJob) -> None:
        thread = threading.Thread(target=self._run, args=(ledger, job), name=f"export-{job.export_id}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def wait(self, timeout: float | None = None) -> None:
        """Wait for every job started so far (tests, orderly shutdown)."""
        for thread in list(self._threads):
            thread.join(timeout)

    def _run(self, ledger: Ledger, job: ExportJob) -> None:
        put_args = {
            "SSE_S3": {"ServerSideEncryption": "AES256"},
            "SSE_KMS": {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": job.kms_key_arn or ""},
        }.get(job.encryption, {})
        store = S3Store(job.bucket, job.prefix, self.s3_client(job.region), put_args=put_args)
        manifest = StartedManifest(
            ledger_name=job.ledger_name,
            export_id=job.export_id,
            inclusive_start_time=millis(datetime.fromtimestamp(job.start_ms / 1000, UTC)),
            exclusive_end_time=millis(datetime.fromtimestamp(job.end_ms / 1000, UTC)),
            bucket=job.bucket,
            prefix=job.prefix,
            object_encryption_type=job.encryption,
            output_format=job.output_format,
        )
        plan = ExportPlan(manifest, ledger.strand_id, OutputFormat(job.output_format), BLOCKS_PER_OBJECT)
        try:
            write_export_values(store, plan, ledger.blocks_between(job.start_ms, job.end_ms))
            status = "COMPLETED"
        except QldbDrError as exc:
            log.warning("export %s of %s cancelled: %s", job.export_id, job.ledger_name, exc)
            status = "CANCELLED"
        except Exception:
            log.exception("export %s of %s failed", job.export_id, job.ledger_name)
            status = "CANCELLED"
        with self._lock:
            self._save(ledger, ExportJob(**{**asdict(job), "status": status}))

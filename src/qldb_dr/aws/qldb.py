"""The QLDB control plane, as the DR workflows use it; SDK errors become qldb-dr's errors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from amazon.ion import simpleion
from botocore.exceptions import BotoCoreError, ClientError

from qldb_dr.aws import client as aws_client
from qldb_dr.errors import ExportLimitExceededError, LedgerNotFoundError, ServiceError
from qldb_dr.journal.models import BlockAddress


@dataclass(frozen=True, slots=True)
class Digest:
    digest: bytes
    tip: BlockAddress


def _address_text(address: BlockAddress) -> dict[str, str]:
    text: str = simpleion.dumps(address.to_ion(), binary=False, omit_version_marker=True)
    return {"IonText": text}


def _address(holder: dict[str, str]) -> BlockAddress:
    return BlockAddress.from_ion(simpleion.loads(holder["IonText"]))


class Qldb:
    """One region's QLDB control plane."""

    def __init__(self, region: str | None = None, client: Any = None) -> None:
        self.client = client if client is not None else aws_client("qldb", region)
        self.region: str = self.client.meta.region_name

    def _call(self, operation: str, ledger: str, **kwargs: Any) -> Any:
        try:
            return getattr(self.client, operation)(**kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            message = exc.response.get("Error", {}).get("Message", "")
            if code == "ResourceNotFoundException":
                raise LedgerNotFoundError(f"{self.region}: {message or f'ledger {ledger} not found'}") from exc
            if code == "LimitExceededException":
                raise ExportLimitExceededError(f"ledger {ledger}: {message}") from exc
            raise ServiceError(f"QLDB {operation} on {ledger}: {code} {message}".rstrip()) from exc
        except BotoCoreError as exc:
            raise ServiceError(f"QLDB {operation} on {ledger}: {exc}") from exc

    def created(self, ledger: str) -> datetime:
        created: datetime = self._call("describe_ledger", ledger, Name=ledger)["CreationDateTime"]
        return created

    def export(
        self,
        ledger: str,
        *,
        start: datetime,
        end: datetime,
        bucket: str,
        prefix: str,
        role_arn: str,
        output_format: str,
        kms_key_arn: str | None = None,
    ) -> str:
        encryption: dict[str, str] = {"ObjectEncryptionType": "SSE_KMS" if kms_key_arn else "SSE_S3"}
        if kms_key_arn:
            encryption["KmsKeyArn"] = kms_key_arn
        export_id: str = self._call(
            "export_journal_to_s3",
            ledger,
            Name=ledger,
            InclusiveStartTime=start,
            ExclusiveEndTime=end,
            RoleArn=role_arn,
            OutputFormat=output_format,
            S3ExportConfiguration={"Bucket": bucket, "Prefix": prefix, "EncryptionConfiguration": encryption},
        )["ExportId"]
        return export_id

    def export_description(self, ledger: str, export_id: str) -> dict[str, Any]:
        description: dict[str, Any] = self._call("describe_journal_s3_export", ledger, Name=ledger, ExportId=export_id)[
            "ExportDescription"
        ]
        return description

    def exports(self, ledger: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        token = None
        while True:
            page = self._call(
                "list_journal_s3_exports_for_ledger", ledger, Name=ledger, **({"NextToken": token} if token else {})
            )
            found += page.get("JournalS3Exports", [])
            token = page.get("NextToken")
            if not token:
                return found

    def digest(self, ledger: str) -> Digest:
        response = self._call("get_digest", ledger, Name=ledger)
        return Digest(bytes(response["Digest"]), _address(response["DigestTipAddress"]))

    def block_proof(self, ledger: str, block: BlockAddress, tip: BlockAddress) -> tuple[Any, list[bytes]]:
        """The block (as Ion) and the proof that folds its hash into the digest at `tip`."""
        response = self._call(
            "get_block", ledger, Name=ledger, BlockAddress=_address_text(block), DigestTipAddress=_address_text(tip)
        )
        proof = [bytes(h) for h in simpleion.loads(response["Proof"]["IonText"])]
        return simpleion.loads(response["Block"]["IonText"]), proof

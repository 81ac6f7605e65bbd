"""A backup's settings: resolved once by its first step (Plan Export Window) and carried in
the execution's state, so every later step reads the same ones."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qldb_dr import fields
from qldb_dr.aws.qldb import Qldb
from qldb_dr.catalog import Vault, vault_url
from qldb_dr.errors import InvalidInputError
from qldb_dr.journal.models import OutputFormat

DEFAULT_SETTLE_SECONDS = 60  # window ends this long before now: commits in flight land first
DEFAULT_POLL_SECONDS = 15  # between DescribeJournalS3Export calls
DEFAULT_OUTPUT_FORMAT = OutputFormat.ION_BINARY.value  # smallest, fastest to verify

# Function environment variables read when an input field is absent.
ENVIRONMENT = {
    "exportRoleArn": "QLDB_DR_EXPORT_ROLE_ARN",
    "kmsKeyArn": "QLDB_DR_KMS_KEY_ARN",
    "outputFormat": "QLDB_DR_OUTPUT_FORMAT",
    "settleSeconds": "QLDB_DR_SETTLE_SECONDS",
    "pollSeconds": "QLDB_DR_POLL_SECONDS",
}


@dataclass(frozen=True, slots=True)
class Settings:
    """Input field (the CLI's flags are input fields) > function environment variable > default."""

    ledger_name: str
    region: str
    vault: str  # s3://bucket/prefix/, or a directory (tests; exports themselves go to S3)
    export_role_arn: str
    kms_key_arn: str | None
    output_format: str
    settle_seconds: int
    poll_seconds: int

    @classmethod
    def resolve(cls, event: Any, environment: Any, region: str) -> Settings:
        if not isinstance(event, dict) or not event.get("ledgerName"):
            raise InvalidInputError(f"a backup needs {{ledgerName}}, got {event!r:.200}")

        def value(field: str, default: str | None = None) -> str | None:
            given = event.get(field)
            if given is not None:
                return str(given)
            return environment.get(ENVIRONMENT[field]) or default

        vault, role = vault_url(event, environment), value("exportRoleArn")
        if not vault or not role:
            raise InvalidInputError(
                "a backup needs a vault bucket and an export role: vaultBucket / exportRoleArn in the input, or "
                "QLDB_DR_VAULT_BUCKET / QLDB_DR_EXPORT_ROLE_ARN in the function's environment"
            )
        output_format = value("outputFormat", DEFAULT_OUTPUT_FORMAT) or DEFAULT_OUTPUT_FORMAT
        if output_format not in {f.value for f in OutputFormat}:
            raise InvalidInputError(f"outputFormat must be ION_BINARY, ION_TEXT or JSON, not {output_format}")
        try:
            settle = int(value("settleSeconds", str(DEFAULT_SETTLE_SECONDS)) or DEFAULT_SETTLE_SECONDS)
            poll = int(value("pollSeconds", str(DEFAULT_POLL_SECONDS)) or DEFAULT_POLL_SECONDS)
        except ValueError as exc:
            raise InvalidInputError(f"settleSeconds and pollSeconds must be whole seconds ({exc})") from exc
        return cls(
            ledger_name=str(event["ledgerName"]),
            region=str(event.get("region") or region),
            vault=str(vault),
            export_role_arn=role,
            kms_key_arn=value("kmsKeyArn"),
            output_format=output_format,
            settle_seconds=settle,
            poll_seconds=max(poll, 1),
        )

    def to_json(self) -> dict[str, Any]:
        return fields.to_json(self)

    @classmethod
    def from_json(cls, value: Any) -> Settings:
        return fields.from_json(cls, value, "backup settings in the state")

    def open_vault(self) -> Vault:
        return Vault.open(self.vault, self.region)

    def qldb(self) -> Qldb:
        return Qldb(self.region)

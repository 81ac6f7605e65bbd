"""Both workflows' settings name their vault the same way: the input's `vault` URL, else its
`vaultBucket`/`vaultPrefix`, each field the input lacks from the function's environment."""

from __future__ import annotations

import pytest

from qldb_dr.backup.settings import Settings as BackupSettings
from qldb_dr.errors import InvalidInputError
from qldb_dr.restore.settings import Settings as RestoreSettings

ENV = {"QLDB_DR_VAULT_BUCKET": "env-bucket", "QLDB_DR_VAULT_PREFIX": "env/", "QLDB_DR_EXPORT_ROLE_ARN": "arn:role"}


def _both(given: dict[str, str], env: dict[str, str]) -> set[str]:
    backup = BackupSettings.resolve({"ledgerName": "orders", **given}, env, "us-east-1")
    restore = RestoreSettings.resolve({"sourceLedger": "orders", "targetLedger": "t", **given}, env, "us-east-1")
    return {backup.vault, restore.vault}


@pytest.mark.parametrize(
    ("given", "env", "vault"),
    [
        ({"vault": "s3://named/team-a/"}, ENV, "s3://named/team-a/"),
        ({"vault": "/copies/vault"}, {}, "/copies/vault"),
        ({"vaultBucket": "b", "vaultPrefix": "p/"}, ENV, "s3://b/p/"),
        ({"vaultBucket": "b"}, ENV, "s3://b/env/"),
        ({}, ENV, "s3://env-bucket/env/"),
        ({"vaultPrefix": ""}, ENV, "s3://env-bucket/"),
    ],
)
def test_backup_and_restore_resolve_the_same_vault(given: dict[str, str], env: dict[str, str], vault: str) -> None:
    env = {**env, "QLDB_DR_EXPORT_ROLE_ARN": "arn:role"}
    assert _both(given, env) == {vault}


def test_no_vault_named_anywhere_is_refused_by_both() -> None:
    with pytest.raises(InvalidInputError, match="vault bucket"):
        BackupSettings.resolve({"ledgerName": "orders"}, {"QLDB_DR_EXPORT_ROLE_ARN": "arn:role"}, "us-east-1")
    with pytest.raises(InvalidInputError, match="needs the vault"):
        RestoreSettings.resolve({"sourceLedger": "orders", "targetLedger": "t"}, {}, "us-east-1")

"""The QLDB control plane through boto3's `qldb` client: ledgers, protection, tags, errors."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.local.conftest import Running


def _code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def test_create_ledger_describe_list_round_trip(local: Running) -> None:
    qldb = local.client("qldb")
    created = qldb.create_ledger(Name="ledger-1", PermissionsMode="STANDARD", Tags={"team": "dr"})
    assert created["State"] in ("CREATING", "ACTIVE")
    assert created["Arn"] == "arn:aws:qldb:us-east-1:123456789012:ledger/ledger-1"
    assert created["DeletionProtection"] is True  # QLDB's default
    described = qldb.describe_ledger(Name="ledger-1")
    assert described["State"] == "ACTIVE" and described["PermissionsMode"] == "STANDARD"
    assert described["EncryptionDescription"]["EncryptionStatus"] == "ENABLED"
    assert [entry["Name"] for entry in qldb.list_ledgers()["Ledgers"]] == ["ledger-1"]
    assert qldb.list_tags_for_resource(ResourceArn=created["Arn"])["Tags"] == {"team": "dr"}


def test_new_ledger_is_creating_first_then_active(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.local.conftest import serve_in_process

    now = [0.0]
    running = serve_in_process(tmp_path)
    running.endpoint.registry.creating_seconds = 5  # type: ignore[union-attr]
    running.endpoint.registry.clock = lambda: now[0]  # type: ignore[union-attr]
    try:
        qldb = running.client("qldb")
        assert qldb.create_ledger(Name="slow", PermissionsMode="STANDARD")["State"] == "CREATING"
        session = running.client("qldb-session")
        with pytest.raises(ClientError):
            session.send_command(StartSession={"LedgerName": "slow"})
        now[0] = 6.0
        assert qldb.describe_ledger(Name="slow")["State"] == "ACTIVE"
        assert "SessionToken" in session.send_command(StartSession={"LedgerName": "slow"})["StartSession"]
    finally:
        running.stop()


def test_regions_have_separate_ledgers(local: Running) -> None:
    local.create_ledger("east", region="us-east-1")
    local.create_ledger("west", region="us-west-2")
    assert [entry["Name"] for entry in local.client("qldb", "us-east-1").list_ledgers()["Ledgers"]] == ["east"]
    assert [entry["Name"] for entry in local.client("qldb", "us-west-2").list_ledgers()["Ledgers"]] == ["west"]


def test_delete_protected_ledger_refused_until_unprotected(local: Running) -> None:
    qldb = local.client("qldb")
    qldb.create_ledger(Name="keep", PermissionsMode="STANDARD")
    with pytest.raises(ClientError) as error:
        qldb.delete_ledger(Name="keep")
    assert _code(error) == "ResourcePreconditionNotMetException"
    assert qldb.update_ledger(Name="keep", DeletionProtection=False)["DeletionProtection"] is False
    qldb.delete_ledger(Name="keep")
    with pytest.raises(qldb.exceptions.ResourceNotFoundException):
        qldb.describe_ledger(Name="keep")


def test_duplicate_and_invalid_names_rejected(local: Running) -> None:
    qldb = local.client("qldb")
    qldb.create_ledger(Name="dup", PermissionsMode="ALLOW_ALL")
    with pytest.raises(qldb.exceptions.ResourceAlreadyExistsException):
        qldb.create_ledger(Name="dup", PermissionsMode="ALLOW_ALL")
    with pytest.raises(qldb.exceptions.InvalidParameterException):
        qldb.create_ledger(Name="bad--name", PermissionsMode="ALLOW_ALL")


def test_list_ledgers_paginates(local: Running) -> None:
    qldb = local.client("qldb")
    for i in range(5):
        qldb.create_ledger(Name=f"l{i}", PermissionsMode="STANDARD")
    first = qldb.list_ledgers(MaxResults=2)
    assert len(first["Ledgers"]) == 2 and "NextToken" in first
    names, token = [], None
    while True:
        page = qldb.list_ledgers(MaxResults=2, **({"NextToken": token} if token else {}))
        names += [ledger["Name"] for ledger in page["Ledgers"]]
        token = page.get("NextToken")
        if not token:
            break
    assert names == [f"l{i}" for i in range(5)]


def test_tag_and_untag_resource(local: Running) -> None:
    qldb = local.client("qldb")
    arn = qldb.create_ledger(Name="tagged", PermissionsMode="STANDARD")["Arn"]
    qldb.tag_resource(ResourceArn=arn, Tags={"a": "1", "b": "2"})
    qldb.untag_resource(ResourceArn=arn, TagKeys=["a"])
    assert qldb.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"b": "2"}


def test_permissions_mode_update(local: Running) -> None:
    qldb = local.client("qldb")
    qldb.create_ledger(Name="perm", PermissionsMode="ALLOW_ALL")
    assert qldb.update_ledger_permissions_mode(Name="perm", PermissionsMode="STANDARD")["PermissionsMode"] == "STANDARD"


def test_kinesis_streaming_answers_not_supported(local: Running, ledger: str) -> None:
    qldb = local.client("qldb")
    with pytest.raises(qldb.exceptions.InvalidParameterException) as error:
        qldb.list_journal_kinesis_streams_for_ledger(LedgerName=ledger)
    assert "not supported" in str(error.value)

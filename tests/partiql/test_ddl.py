"""CREATE/DROP/UNDROP TABLE, CREATE/DROP INDEX and EXEC redact_revision."""

from __future__ import annotations

import pytest
from amazon.ion import simpleion

from qldb_dr.partiql import PartiqlError
from tests.partiql.memory import MemoryAccess


def test_create_table_returns_table_id(access: MemoryAccess) -> None:
    (result,) = access.run("CREATE TABLE Vehicle")
    info = access.table("Vehicle")
    assert info is not None and result == {"tableId": info.table_id}
    assert len(info.table_id) == 22 and info.status == "ACTIVE" and info.tags == {}


def test_create_table_with_aws_tags_passes_tags(access: MemoryAccess) -> None:
    access.run("CREATE TABLE Vehicle WITH (aws_tags = `{'environment': 'production', team: \"dr\"}`)")
    info = access.table("Vehicle")
    assert info is not None and info.tags == {"environment": "production", "team": "dr"}


def test_create_table_tags_from_parameter(access: MemoryAccess) -> None:
    access.run("CREATE TABLE Vehicle WITH (aws_tags = ?)", {"k": "v"})
    assert access.table("Vehicle").tags == {"k": "v"}  # type: ignore[union-attr]


def test_create_table_non_string_tag_error(access: MemoryAccess) -> None:
    with pytest.raises(PartiqlError, match="aws_tags must be a struct of strings"):
        access.run("CREATE TABLE Vehicle WITH (aws_tags = `{k: 1}`)")
    assert access.tables() == []


def test_create_table_existing_name_error(access: MemoryAccess) -> None:
    access.run("CREATE TABLE Vehicle")
    with pytest.raises(PartiqlError, match="table Vehicle already exists"):
        access.run("CREATE TABLE Vehicle")


def test_create_table_name_of_dropped_table_allowed(access: MemoryAccess) -> None:
    (first,) = access.run("CREATE TABLE Vehicle")
    access.run("DROP TABLE Vehicle")
    (second,) = access.run("CREATE TABLE Vehicle")
    assert first != second
    assert [t.status for t in access.tables()] == ["INACTIVE", "ACTIVE"]


@pytest.mark.parametrize("name", ['"1abc"', '"has space"', '"_ql_committed_x"', '"' + "a" * 129 + '"'])
def test_create_table_invalid_name_error(access: MemoryAccess, name: str) -> None:
    with pytest.raises(PartiqlError, match="invalid table name"):
        access.run(f"CREATE TABLE {name}")


def test_create_table_quoted_name_case_kept(access: MemoryAccess) -> None:
    access.run('CREATE TABLE "camelCase"')
    assert access.table("camelCase") is not None


def test_drop_table_inactive_and_returns_id(access: MemoryAccess) -> None:
    (created,) = access.run("CREATE TABLE Vehicle")
    assert access.run("DROP TABLE Vehicle") == [created]
    assert access.table_by_id(created["tableId"]).status == "INACTIVE"  # type: ignore[union-attr]


def test_drop_table_unknown_error(access: MemoryAccess) -> None:
    with pytest.raises(PartiqlError, match="unknown table Vehicle"):
        access.run("DROP TABLE Vehicle")


def test_undrop_table_by_quoted_id_reactivates(access: MemoryAccess) -> None:
    (created,) = access.run("CREATE TABLE Vehicle")
    access.run("INSERT INTO Vehicle ?", {"a": 1})
    access.run("DROP TABLE Vehicle")
    assert access.run(f'UNDROP TABLE "{created["tableId"]}"') == [created]
    assert access.run("SELECT VALUE a FROM Vehicle") == [1]


def test_undrop_table_active_table_error(access: MemoryAccess) -> None:
    (created,) = access.run("CREATE TABLE Vehicle")
    with pytest.raises(PartiqlError, match="is not dropped"):
        access.run(f'UNDROP TABLE "{created["tableId"]}"')


def test_undrop_table_name_taken_error(access: MemoryAccess) -> None:
    (created,) = access.run("CREATE TABLE Vehicle")
    access.run("DROP TABLE Vehicle")
    access.run("CREATE TABLE Vehicle")
    with pytest.raises(PartiqlError, match="an active table is already named Vehicle"):
        access.run(f'UNDROP TABLE "{created["tableId"]}"')


def test_undrop_table_unknown_id_error(access: MemoryAccess) -> None:
    with pytest.raises(PartiqlError, match="unknown table id nope"):
        access.run('UNDROP TABLE "nope"')


def test_create_index_returns_table_id_and_adds_index(access: MemoryAccess) -> None:
    (created,) = access.run("CREATE TABLE Vehicle")
    assert access.run("CREATE INDEX ON Vehicle (VIN)") == [created]
    (index,) = access.table("Vehicle").indexes  # type: ignore[union-attr]
    assert index.field == "VIN" and index.status == "ONLINE"


def test_create_index_quoted_field(access: MemoryAccess) -> None:
    access.run("CREATE TABLE Vehicle")
    access.run('CREATE INDEX ON Vehicle ("Gov Id")')
    assert [i.field for i in access.table("Vehicle").indexes] == ["Gov Id"]  # type: ignore[union-attr]


def test_create_index_twice_on_field_error(access: MemoryAccess) -> None:
    access.run("CREATE TABLE Vehicle")
    access.run("CREATE INDEX ON Vehicle (VIN)")
    with pytest.raises(PartiqlError, match="already has an index on VIN"):
        access.run("CREATE INDEX ON Vehicle (VIN)")


def test_create_index_unknown_table_error(access: MemoryAccess) -> None:
    with pytest.raises(PartiqlError, match="unknown table Vehicle"):
        access.run("CREATE INDEX ON Vehicle (VIN)")


def test_drop_index_with_purge_removes_it(access: MemoryAccess) -> None:
    (created,) = access.run("CREATE TABLE Vehicle")
    access.run("CREATE INDEX ON Vehicle (VIN)")
    (index,) = access.table("Vehicle").indexes  # type: ignore[union-attr]
    assert access.run(f'DROP INDEX "{index.index_id}" ON Vehicle WITH (purge = true)') == [created]
    assert access.table("Vehicle").indexes == ()  # type: ignore[union-attr]


def test_drop_index_unknown_index_error(access: MemoryAccess) -> None:
    access.run("CREATE TABLE Vehicle")
    with pytest.raises(PartiqlError, match="has no index nope"):
        access.run('DROP INDEX "nope" ON Vehicle WITH (purge = true)')


def test_exec_redact_revision_delegates_to_access(access: MemoryAccess) -> None:
    (table,) = access.run("CREATE TABLE Vehicle")
    (doc,) = access.run("INSERT INTO Vehicle ?", {"secret": 1})
    access.commit()
    access.run("UPDATE Vehicle AS v SET v.secret = 2")
    access.commit()
    address = simpleion.loads('{strandId: "strand0000000000000000", sequenceNo: 1}')
    result = access.run("EXEC redact_revision ?, ?, ?", address, table["tableId"], doc["documentId"])
    assert result == [
        {"blockAddress": address, "tableId": table["tableId"], "documentId": doc["documentId"], "version": 0}
    ]
    assert access.redactions == [(address, table["tableId"], doc["documentId"])]
    first = access.run("SELECT * FROM history(Vehicle) AS h WHERE h.metadata.version = 0")
    assert [set(r) for r in first] == [{"blockAddress", "hash", "dataHash", "metadata"}]


def test_exec_redact_revision_literal_arguments(access: MemoryAccess) -> None:
    (table,) = access.run("CREATE TABLE Vehicle")
    (doc,) = access.run("INSERT INTO Vehicle ?", {"secret": 1})
    access.commit()
    statement = "EXEC redact_revision `{strandId: \"strand0000000000000000\", sequenceNo: 1}`, '{t}', '{d}'"
    access.run(statement.replace("{t}", table["tableId"]).replace("{d}", doc["documentId"]))
    assert len(access.redactions) == 1


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("x", "t", "d"), "block address must be"),
        (({"strandId": "s", "sequenceNo": "1"}, "t", "d"), "block address must be"),
        (({"strandId": "s", "sequenceNo": 1}, 5, "d"), "must be strings"),
    ],
)
def test_exec_redact_revision_bad_arguments_error(
    access: MemoryAccess, arguments: tuple[object, ...], message: str
) -> None:
    with pytest.raises(PartiqlError, match=message):
        access.run("EXEC redact_revision ?, ?, ?", *arguments)
    assert access.redactions == []


def test_exec_redact_revision_wrong_argument_count_error(access: MemoryAccess) -> None:
    with pytest.raises(PartiqlError, match="takes 3 arguments"):
        access.run("EXEC redact_revision ?, ?", {"strandId": "s", "sequenceNo": 1}, "t")


def test_exec_unknown_procedure_error(access: MemoryAccess) -> None:
    with pytest.raises(PartiqlError, match="unknown stored procedure drop_everything"):
        access.run("EXEC drop_everything")

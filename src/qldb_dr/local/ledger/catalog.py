"""The ledger's catalog: its tables and their indexes, and the key a document has in an index."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qldb_dr.partiql import TableInfo, index_key
from qldb_dr.partiql.access import ACTIVE


@dataclass(frozen=True, slots=True)
class Catalog:
    """Tables and indexes, in creation order; replaced (never mutated) when DDL commits."""

    tables: tuple[TableInfo, ...] = ()

    def by_id(self, table_id: str) -> TableInfo | None:
        return next((t for t in self.tables if t.table_id == table_id), None)

    def active(self, name: str) -> TableInfo | None:
        return next((t for t in self.tables if t.name == name and t.status == ACTIVE), None)

    def replace(self, table: TableInfo) -> Catalog:
        others = [t for t in self.tables if t.table_id != table.table_id]
        if len(others) == len(self.tables):
            return Catalog((*self.tables, table))
        return Catalog(tuple(table if t.table_id == table.table_id else t for t in self.tables))


def field_key(data: Any, field_name: str) -> str | None:
    getter = getattr(data, "get", None)
    if getter is None:
        return None
    value = getter(field_name)
    return None if value is None else index_key(value)

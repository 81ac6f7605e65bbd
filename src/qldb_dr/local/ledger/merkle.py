"""The ledger's Merkle tree over its block hashes (the RFC 6962 shape QLDB uses), stored as
subtree nodes in the `merkle` table: appended to with each block, read for digests and
proofs (docs/export-format.md) in O(log n) lookups.
"""

from __future__ import annotations

import sqlite3

from qldb_dr.journal.hashing import dot


def append_leaf(db: sqlite3.Connection, seq: int, leaf: bytes) -> None:
    """Store the leaf and every subtree it completes (the nodes that digests and proofs
    are made of, so neither ever needs a scan of the journal)."""
    level, position, node = 0, seq, leaf
    db.execute("INSERT INTO merkle (level, position, hash) VALUES (0, ?, ?)", (seq, leaf))
    while position % 2 == 1:
        (left,) = db.execute(
            "SELECT hash FROM merkle WHERE level = ? AND position = ?", (level, position - 1)
        ).fetchone()
        node = dot(left, node)
        level, position = level + 1, position // 2
        db.execute("INSERT INTO merkle (level, position, hash) VALUES (?, ?, ?)", (level, position, node))


def _node(db: sqlite3.Connection, level: int, position: int) -> bytes:
    row = db.execute("SELECT hash FROM merkle WHERE level = ? AND position = ?", (level, position)).fetchone()
    if row is None:
        raise LookupError(f"no Merkle node at level {level}, position {position}")
    return bytes(row[0])


def range_root(db: sqlite3.Connection, lo: int, hi: int) -> bytes:
    """Root of the tree over block hashes lo..hi-1 (the RFC 6962 shape QLDB uses)."""
    size = hi - lo
    if size & (size - 1) == 0 and lo % size == 0:
        return _node(db, size.bit_length() - 1, lo // size)
    split = 1 << ((size - 1).bit_length() - 1)
    return dot(range_root(db, lo, lo + split), range_root(db, lo + split, hi))


def range_path(db: sqlite3.Connection, leaf: int, lo: int, hi: int) -> list[bytes]:
    """Hashes that fold leaf `leaf`'s hash into the root of the tree over lo..hi-1."""
    size = hi - lo
    if size == 1:
        return []
    split = 1 << ((size - 1).bit_length() - 1)
    if leaf < lo + split:
        return [*range_path(db, leaf, lo, lo + split), range_root(db, lo + split, hi)]
    return [*range_path(db, leaf, lo + split, hi), range_root(db, lo, lo + split)]

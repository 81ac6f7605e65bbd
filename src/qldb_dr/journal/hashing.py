"""QLDB's hash algebra (docs/export-format.md): dot, Merkle roots and proofs, and every journal hash.

The local ledger computes hashes with these functions and the verifier checks them with
the same ones, so the two can never disagree about an algorithm.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from hashlib import sha256
from typing import Any

from qldb_dr.ion import ion_hash

HASH_SIZE = 32
EMPTY = b""

# dot() orders its inputs by comparing SIGNED bytes, LAST byte first (docs/export-format.md).
# Reversing the bytes and flipping each sign bit turns that into plain `bytes` ordering.
_FLIP_SIGN = bytes(b ^ 0x80 for b in range(256))


def sort_key(h: bytes) -> bytes:
    """A key whose ordinary ordering is QLDB's hash comparison."""
    return h[::-1].translate(_FLIP_SIGN)


def dot(a: bytes, b: bytes) -> bytes:
    """The ⊙ join: SHA-256 of the two hashes in QLDB's order; the empty hash is the identity."""
    if not a:
        return b
    if not b:
        return a
    if sort_key(a) < sort_key(b):
        return sha256(a + b).digest()
    return sha256(b + a).digest()


def fold(hashes: Iterable[bytes], start: bytes) -> bytes:
    """Left fold with dot: dot(…dot(dot(start, h1), h2)…, hn)."""
    acc = start
    for h in hashes:
        acc = dot(acc, h)
    return acc


def merkle_root(hashes: Sequence[bytes]) -> bytes:
    """Root of QLDB's Merkle tree: pairwise dot, an odd last node moves up unchanged."""
    level = list(hashes)
    if not level:
        return EMPTY
    while len(level) > 1:
        paired = [dot(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def merkle_path(hashes: Sequence[bytes], index: int) -> list[bytes]:
    """Siblings of leaf `index`, bottom up: fold(path, leaf) == merkle_root(hashes)."""
    if not 0 <= index < len(hashes):
        raise IndexError(f"leaf {index} is outside a tree of {len(hashes)} leaves")
    path: list[bytes] = []
    level = list(hashes)
    while len(level) > 1:
        sibling = index ^ 1
        if sibling < len(level):
            path.append(level[sibling])
        paired = [dot(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
        index //= 2
    return path


def revision_hash(
    metadata: Any,
    data: Any = None,
    data_hash: bytes | None = None,
    *,
    metadata_ion_hash: bytes | None = None,
    data_ion_hash: bytes | None = None,
) -> bytes:
    """dot(H(metadata), H(data)) — or the stored dataHash of a redacted revision.

    A deleted revision (no data, no dataHash) hashes as H(metadata): the local ledger
    writes it so; for real QLDB exports this rule is unconfirmed (docs/export-format.md).
    ``metadata_ion_hash`` and ``data_ion_hash``, when given, are H(metadata) and H(data)
    already computed from the bytes the values were read from (`Revision`).
    """
    if data_hash is None:
        data_hash = EMPTY if data is None else data_ion_hash if data_ion_hash is not None else ion_hash(data)
    return dot(metadata_ion_hash if metadata_ion_hash is not None else ion_hash(metadata), data_hash)


def block_hash(entries_hash: bytes, previous_block_hash: bytes) -> bytes:
    return dot(entries_hash, previous_block_hash)


def statement_hash(statement: str, parameters: Iterable[Any] = ()) -> bytes:
    """statementDigest: H(statement text as an Ion string) folded with H(each parameter)."""
    return fold((ion_hash(p) for p in parameters), ion_hash(statement))


def commit_digest(transaction_id: str, statement_hashes: Iterable[bytes]) -> bytes:
    """CommitDigest of a transaction: H(transactionId) folded with each statement hash."""
    return fold(statement_hashes, ion_hash(transaction_id))

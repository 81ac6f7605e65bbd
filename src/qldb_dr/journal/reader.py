"""Read export data objects (ION_BINARY, ION_TEXT, JSON Lines) and manifests into models.

Every error is a `JournalFormatError` naming the object, the block (by position and,
when known, sequence number) and what is wrong.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from amazon.ion import simpleion
from amazon.ion.core import Timestamp
from amazon.ion.exceptions import IonException

from qldb_dr.errors import JournalFormatError
from qldb_dr.ion import iter_binary, iter_text
from qldb_dr.ion.binary import iter_binary_located
from qldb_dr.ion.binhash import Hasher, list_items, struct_fields
from qldb_dr.ion.decoder import IonDecodeError
from qldb_dr.journal.models import (
    Block,
    BlockAddress,
    CompletedManifest,
    DocumentEntry,
    OutputFormat,
    Revision,
    StartedManifest,
    Statement,
    TransactionInfo,
)

ION_VERSION_MARKER = b"\xe0\x01\x00\xea"
# What amazon.ion's text reader raises on malformed input.
ION_TEXT_ERRORS = (IonException, ValueError, TypeError, LookupError)


class _Malformed(Exception):
    """Internal: a field is missing or has the wrong type; becomes a JournalFormatError."""


def detect_format(data: bytes, key: str) -> OutputFormat:
    """ION_BINARY by its version marker, JSON by extension or a JSON first line, else ION_TEXT."""
    if data.startswith(ION_VERSION_MARKER):
        return OutputFormat.ION_BINARY
    if key.endswith(".json"):
        return OutputFormat.JSON
    first_line = data.lstrip()[:65536].split(b"\n", 1)[0]
    try:
        json.loads(first_line)
    except ValueError:
        return OutputFormat.ION_TEXT
    return OutputFormat.JSON


def read_blocks(
    data: bytes, key: str, output_format: OutputFormat | None = None, *, hashes: bool = False
) -> Iterator[Block]:
    """The blocks of one export data object, in stored order. ``hashes``: ION_BINARY blocks also
    carry the Ion hashes of their transactionInfo and revisions, computed from the bytes (for
    the verifier; a reader that does not verify does not pay for them)."""
    fmt = output_format or detect_format(data, key)
    if fmt is OutputFormat.ION_BINARY and hashes:
        yield from _binary_blocks(bytes(data), key)
        return
    if fmt is OutputFormat.ION_BINARY:
        for position, value in enumerate(_iter_ion(iter_binary, data, key)):
            yield block_from_ion(value, key, position)
        return
    values = _iter_json_lines(data, key) if fmt is OutputFormat.JSON else _iter_ion(iter_text, data, key)
    for position, value in enumerate(values):
        yield block_from_ion(value, key, position, json_origin=fmt is OutputFormat.JSON)


def _binary_blocks(data: bytes, key: str) -> Iterator[Block]:
    """ION_BINARY blocks, with the hashes of their transactionInfo and revisions taken from
    the bytes each was decoded from (qldb_dr.ion.binhash): no value serialised to hash it."""
    names: list[str | None] | None = None
    hasher = Hasher(())
    for position, (value, start, _, table) in enumerate(_iter_ion(iter_binary_located, data, key)):
        if table is not names:
            names, hasher = table, Hasher(table)
        yield block_from_ion(value, key, position, hashes=_hashes(data, start, table, hasher))


_Hashes = tuple[bytes | None, list[tuple[bytes | None, bytes | None]] | None]


def _hashes(data: bytes, start: int, names: list[str | None], hasher: Hasher) -> _Hashes:
    """(H(transactionInfo), [(H(metadata), H(data)) per revision]) of the block struct at
    ``start``, each None where the value is absent or not located unambiguously (a repeated
    field, an annotated or null container): the verifier then hashes the decoded value."""
    try:
        fields = struct_fields(data, start)
        if fields is None:
            return None, None
        found = _once(fields, names, ("transactionInfo", "revisions"))
        info = found.get("transactionInfo")
        info_hash = None if info is None else hasher.hash_at(data, *info)
        span = found.get("revisions")
        items = None if span is None else list_items(data, span[0])
        if items is None:
            return info_hash, None
        revisions: list[tuple[bytes | None, bytes | None]] = []
        for _, item, _ in items:
            members = struct_fields(data, item)
            parts = {} if members is None else _once(members, names, ("metadata", "data"))
            metadata, content = parts.get("metadata"), parts.get("data")
            revisions.append(
                (
                    None if metadata is None else hasher.hash_at(data, *metadata),
                    None if content is None else hasher.hash_at(data, *content),
                )
            )
        return info_hash, revisions
    except (IonDecodeError, IndexError, ValueError):
        return None, None  # not expected for bytes the decoder read; the values are hashed instead


def _once(
    fields: Iterator[tuple[int, int, int]], names: list[str | None], wanted: tuple[str, ...]
) -> dict[str, tuple[int, int]]:
    """The span of each wanted field that occurs exactly once."""
    found: dict[str, tuple[int, int]] = {}
    repeated = set()
    for sid, start, end in fields:
        name = names[sid]
        if name in wanted:
            if name in found:
                repeated.add(name)
            found[name] = (start, end)
    for name in repeated:
        del found[name]
    return found


def _iter_ion(reader: Any, data: bytes, key: str) -> Iterator[Any]:
    try:
        yield from reader(data)
    except IonDecodeError as exc:
        raise JournalFormatError(key, f"malformed Ion binary: {exc}", hint=_RECOPY) from exc
    except ION_TEXT_ERRORS as exc:
        raise JournalFormatError(key, f"malformed Ion text: {exc}", hint=_RECOPY) from exc


_RECOPY = "the object is damaged or was never written completely; restore it from the replica vault"


def _iter_json_lines(data: bytes, key: str) -> Iterator[Any]:
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield _from_json(json.loads(line, parse_float=Decimal))
        except ValueError as exc:
            raise JournalFormatError(key, f"line {number}: not JSON ({exc})", hint=_RECOPY) from exc
        except _Malformed as exc:
            raise JournalFormatError(key, f"line {number}: {exc}", hint=_RECOPY) from exc


# -- JSON exports: put back the Ion types of the fields QLDB itself writes ----------------------------


def _b64(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        raise _Malformed(f"not base64: {value[:40]!r}") from exc


def parse_timestamp(value: Any) -> Any:
    """An ISO-8601 string (JSON exports, manifests) as an Ion timestamp of the same precision."""
    if not isinstance(value, str):
        return value
    try:
        parsed = simpleion.loads(value)
    except ION_TEXT_ERRORS as exc:
        raise _Malformed(f"not a timestamp: {value!r}") from exc
    if not isinstance(parsed, Timestamp):
        raise _Malformed(f"not a timestamp: {value!r}")
    return parsed


def _from_json(block: Any) -> Any:
    """Convert a JSON-exported block's own fields back to Ion types; user data stays JSON."""
    if not isinstance(block, dict):
        raise _Malformed("a block must be a JSON object")
    for name in ("blockHash", "entriesHash", "previousBlockHash"):
        if name in block:
            block[name] = _b64(block[name])
    if isinstance(block.get("entriesHashList"), list):
        block["entriesHashList"] = [_b64(h) for h in block["entriesHashList"]]
    if "blockTimestamp" in block:
        block["blockTimestamp"] = parse_timestamp(block["blockTimestamp"])
    info = block.get("transactionInfo")
    if isinstance(info, dict):
        for statement in info.get("statements") or []:
            if isinstance(statement, dict):
                statement["startTime"] = parse_timestamp(statement.get("startTime"))
                statement["statementDigest"] = _b64(statement.get("statementDigest"))
    for revision in block.get("revisions") or []:
        if not isinstance(revision, dict):
            continue
        for name in ("hash", "dataHash"):
            if name in revision:
                revision[name] = _b64(revision[name])
        metadata = revision.get("metadata")
        if isinstance(metadata, dict) and "txTime" in metadata:
            metadata["txTime"] = parse_timestamp(metadata["txTime"])
    return block


# -- Ion value -> models -----------------------------------------------------------------------


def block_from_ion(
    value: Any, key: str, position: int, *, json_origin: bool = False, hashes: _Hashes = (None, None)
) -> Block:
    """A block model from the Ion struct QLDB writes (export object, GetBlock, BLOCK_SUMMARY).

    ``hashes``: H(transactionInfo) and each revision's (H(metadata), H(data)) computed from
    the bytes ``value`` was decoded from, kept on the models (see `_hashes`)."""
    sequence = None
    try:
        if not _is_struct(value):
            raise _Malformed(f"expected a block struct, found {_type_name(value)}")
        address = address_from_ion(_field(value, "blockAddress"))
        sequence = address.sequence_no
        revisions = value.get("revisions")
        if revisions is None and value.get("revisionSummaries") is not None:
            # A stream BLOCK_SUMMARY lists {hash, documentId} only: hash-only revisions.
            revisions = [{"hash": _field(s, "hash")} for s in _list(value, "revisionSummaries")]
        info_hash, revision_hashes = hashes
        return Block(
            address=address,
            transaction_id=_text(value, "transactionId"),
            timestamp=_timestamp(value, "blockTimestamp"),
            block_hash=_hash(value, "blockHash"),
            entries_hash=_hash(value, "entriesHash"),
            previous_block_hash=_hash(value, "previousBlockHash", allow_empty=sequence == 0),
            entries_hash_list=tuple(_hash_item(h, "entriesHashList") for h in _list(value, "entriesHashList")),
            transaction_info=_transaction_info(value.get("transactionInfo"), info_hash),
            redaction_info=value.get("redactionInfo"),
            revisions=None if revisions is None else _revisions(_as_list(revisions, "revisions"), revision_hashes),
        )
    except _Malformed as exc:
        where = f"block #{position + 1}" + ("" if sequence is None else f" (sequence {sequence})")
        raise JournalFormatError(key, f"{where}: {exc}", hint=_RECOPY) from exc


def address_from_ion(value: Any) -> BlockAddress:
    if isinstance(value, str):  # GetBlock/GetDigest return addresses as Ion text
        try:
            value = simpleion.loads(value)
        except ION_TEXT_ERRORS as exc:
            raise _Malformed(f"block address is not Ion: {value!r}") from exc
    if not _is_struct(value):
        raise _Malformed(f"blockAddress must be a struct, found {_type_name(value)}")
    strand = _text(value, "strandId")
    sequence = value.get("sequenceNo")
    if not isinstance(sequence, int) or isinstance(sequence, bool):
        raise _Malformed(f"blockAddress.sequenceNo must be an int, found {_type_name(sequence)}")
    if sequence < 0:
        raise _Malformed(f"blockAddress.sequenceNo must not be negative, found {sequence}")
    return BlockAddress(strand, int(sequence))


def revision_from_ion(value: Any, location: str) -> Revision:
    """A revision as GetRevision or a stream REVISION_DETAILS record holds it."""
    try:
        return _revision(value)
    except _Malformed as exc:
        raise JournalFormatError(location, f"revision: {exc}") from exc


def _revisions(values: list[Any], hashes: list[tuple[bytes | None, bytes | None]] | None) -> tuple[Revision, ...]:
    if hashes is None or len(hashes) != len(values):
        return tuple(_revision(r) for r in values)
    return tuple(_revision(r, *h) for r, h in zip(values, hashes, strict=True))


def _revision(value: Any, metadata_hash: bytes | None = None, data_hash: bytes | None = None) -> Revision:
    if not _is_struct(value):
        raise _Malformed(f"a revision must be a struct, found {_type_name(value)}")
    address = value.get("blockAddress")
    metadata = value.get("metadata")
    if metadata is not None:
        if not _is_struct(metadata):
            raise _Malformed("revision metadata must be a struct")
        _text(metadata, "id")
        version = metadata.get("version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise _Malformed(f"revision metadata.version must be an int, found {_type_name(version)}")
    stored = value.get("dataHash")
    return Revision(
        hash=_hash(value, "hash"),
        address=None if address is None else address_from_ion(address),
        data=value.get("data"),
        data_hash=None if stored is None else _hash_item(stored, "dataHash"),
        metadata=metadata,
        metadata_ion_hash=metadata_hash,
        data_ion_hash=data_hash,
    )


def _transaction_info(value: Any, ion_hash: bytes | None = None) -> TransactionInfo | None:
    if value is None:
        return None
    if not _is_struct(value):
        raise _Malformed("transactionInfo must be a struct")
    statements = tuple(
        Statement(
            statement=_text(s, "statement"),
            start_time=_timestamp(s, "startTime"),
            digest=_hash(s, "statementDigest"),
        )
        for s in _as_list(value.get("statements") or [], "transactionInfo.statements")
    )
    documents = {}
    raw_documents = value.get("documents")
    if raw_documents is not None:
        if not _is_struct(raw_documents):
            raise _Malformed("transactionInfo.documents must be a struct")
        for document_id, entry in raw_documents.items():
            if not _is_struct(entry):
                raise _Malformed(f"transactionInfo.documents.{document_id} must be a struct")
            documents[str(document_id)] = DocumentEntry(
                table_name=_text(entry, "tableName"),
                table_id=_text(entry, "tableId"),
                statements=tuple(int(i) for i in entry.get("statements") or ()),
            )
    return TransactionInfo(statements=statements, documents=documents, ion=value, ion_hash=ion_hash)


# -- field access with clear errors -------------------------------------------------------------


def _is_struct(value: Any) -> bool:
    return isinstance(value, dict) or (hasattr(value, "iteritems") and hasattr(value, "get"))


def _type_name(value: Any) -> str:
    ion_type = getattr(value, "ion_type", None)
    if ion_type is not None:
        return str(ion_type.name).lower()
    return {type(None): "null", dict: "struct", list: "list", str: "string", bytes: "blob"}.get(
        type(value), type(value).__name__
    )


def _field(value: Any, name: str) -> Any:
    field = value.get(name)
    if field is None:
        raise _Malformed(f"missing field {name}")
    return field


def _text(value: Any, name: str) -> str:
    field = _field(value, name)
    if not isinstance(field, str):
        raise _Malformed(f"{name} must be a string, found {_type_name(field)}")
    return str(field)


def _timestamp(value: Any, name: str) -> Any:
    field = _field(value, name)
    if isinstance(field, str):
        field = parse_timestamp(field)
    if not hasattr(field, "year"):
        raise _Malformed(f"{name} must be a timestamp, found {_type_name(field)}")
    return field


def _hash_item(field: Any, name: str, allow_empty: bool = False) -> bytes:
    if not isinstance(field, bytes | bytearray):
        raise _Malformed(f"{name} must be a blob, found {_type_name(field)}")
    if len(field) != 32 and not (allow_empty and len(field) == 0):
        raise _Malformed(f"{name} must be 32 bytes, found {len(field)}")
    return bytes(field)


def _hash(value: Any, name: str, allow_empty: bool = False) -> bytes:
    return _hash_item(_field(value, name), name, allow_empty)


def _list(value: Any, name: str) -> list[Any]:
    return _as_list(_field(value, name), name)


def _as_list(field: Any, name: str) -> list[Any]:
    if not isinstance(field, list):
        raise _Malformed(f"{name} must be a list, found {_type_name(field)}")
    return field


# -- manifests ----------------------------------------------------------------------------------


def _load_manifest(data: bytes, key: str) -> Any:
    try:
        value = simpleion.loads(data)  # Ion text reads both Ion and JSON manifests
    except ION_TEXT_ERRORS as exc:
        raise JournalFormatError(key, f"manifest is not Ion or JSON: {exc}", hint=_RECOPY) from exc
    if not _is_struct(value):
        raise JournalFormatError(key, "manifest must be a single struct", hint=_RECOPY)
    return value


def read_completed_manifest(data: bytes, key: str) -> CompletedManifest:
    value = _load_manifest(data, key)
    keys = value.get("keys")
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise JournalFormatError(key, "completed manifest needs `keys`, a list of object keys", hint=_RECOPY)
    return CompletedManifest(keys=tuple(str(k) for k in keys))


def read_started_manifest(data: bytes, key: str) -> StartedManifest:
    value = _load_manifest(data, key)
    try:
        output_format = value.get("outputFormat")
        return StartedManifest(
            ledger_name=_text(value, "ledgerName"),
            export_id=_text(value, "exportId"),
            inclusive_start_time=_timestamp(value, "inclusiveStartTime"),
            exclusive_end_time=_timestamp(value, "exclusiveEndTime"),
            bucket=_text(value, "bucket"),
            prefix=str(value.get("prefix") or ""),
            object_encryption_type=str(value.get("objectEncryptionType") or ""),
            output_format=None if output_format is None else str(output_format),
        )
    except _Malformed as exc:
        raise JournalFormatError(key, f"started manifest: {exc}", hint=_RECOPY) from exc

"""Write blocks and manifests in QLDB's export layout (docs/export-format.md), in all three formats.

Used by the local ledger's ExportJournalToS3 and by the sample and benchmark generators.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from amazon.ion import simpleion
from amazon.ion.core import IonType

from qldb_dr.ion import dump_binary, dump_text
from qldb_dr.journal.models import Block, OutputFormat, Revision, StartedManifest
from qldb_dr.store import Store


def revision_to_ion(revision: Revision) -> dict[str, Any]:
    if revision.metadata is None:
        return {"hash": revision.hash}
    value: dict[str, Any] = {}
    if revision.address is not None:
        value["blockAddress"] = revision.address.to_ion()
    value["hash"] = revision.hash
    if revision.data is not None:
        value["data"] = revision.data
    elif revision.data_hash is not None:
        value["dataHash"] = revision.data_hash
    value["metadata"] = revision.metadata
    return value


def block_to_ion(block: Block) -> dict[str, Any]:
    """The block struct, fields in QLDB's order, user values exactly as held."""
    value: dict[str, Any] = {
        "blockAddress": block.address.to_ion(),
        "transactionId": block.transaction_id,
        "blockTimestamp": block.timestamp,
        "blockHash": block.block_hash,
        "entriesHash": block.entries_hash,
        "previousBlockHash": block.previous_block_hash,
        "entriesHashList": list(block.entries_hash_list),
    }
    if block.transaction_info is not None:
        value["transactionInfo"] = block.transaction_info.ion
    if block.redaction_info is not None:
        value["redactionInfo"] = block.redaction_info
    if block.revisions is not None:
        value["revisions"] = [revision_to_ion(r) for r in block.revisions]
    return value


# -- JSON down-conversion (Ion → JSON as QLDB's JSON exports do it) --------------------------------


def _timestamp_text(value: datetime) -> str:
    text: str = simpleion.dumps(value, binary=False, omit_version_marker=True)
    return text


def to_json(value: Any) -> str:
    """Ion → JSON text: blobs base64, timestamps and symbols as strings, decimals as numbers
    with their digits, annotations dropped, typed nulls as null, sexps as arrays."""
    return "".join(_json_parts(value))


def _json_parts(value: Any) -> Iterable[str]:
    ion_type = getattr(value, "ion_type", None)
    if value is None or type(value).__name__ == "IonPyNull":
        yield "null"
    elif isinstance(value, bool) or ion_type is IonType.BOOL:
        yield "true" if value else "false"
    elif isinstance(value, dict) or ion_type is IonType.STRUCT:
        items = value.iteritems() if hasattr(value, "iteritems") else value.items()
        yield "{"
        for i, (name, field) in enumerate(items):
            if i:
                yield ","
            yield json.dumps(str(getattr(name, "text", name)))
            yield ":"
            yield from _json_parts(field)
        yield "}"
    elif isinstance(value, list | tuple):
        yield "["
        for i, item in enumerate(value):
            if i:
                yield ","
            yield from _json_parts(item)
        yield "]"
    elif ion_type is IonType.CLOB:
        yield json.dumps(bytes(value).decode("latin-1"))
    elif isinstance(value, bytes | bytearray):
        yield json.dumps(base64.b64encode(bytes(value)).decode("ascii"))
    elif isinstance(value, datetime):
        yield json.dumps(_timestamp_text(value))
    elif isinstance(value, Decimal):
        yield str(value)  # keeps every digit and the exponent, e.g. 90.25, 1.50, 1E+3
    elif isinstance(value, float):
        yield repr(value) if math.isfinite(value) else "null"
    elif isinstance(value, int):
        yield str(int(value))
    elif ion_type is IonType.SYMBOL:
        yield json.dumps(value.text)
    elif isinstance(value, str):
        yield json.dumps(str(value))
    else:
        raise TypeError(f"not an Ion value: {type(value).__name__}")


# -- data objects and manifests ---------------------------------------------------------------------


def encode_blocks(blocks: Sequence[Block], output_format: OutputFormat) -> bytes:
    return encode_block_values([block_to_ion(b) for b in blocks], output_format)


def encode_block_values(values: Sequence[Any], output_format: OutputFormat) -> bytes:
    """Block structs (as `block_to_ion` makes them, or as a ledger stores them) in a format."""
    if output_format is OutputFormat.ION_BINARY:
        return dump_binary(values)
    if output_format is OutputFormat.ION_TEXT:
        return dump_text(values)
    return "".join(to_json(v) + "\n" for v in values).encode("utf-8")


def _encode_manifest(value: dict[str, Any], output_format: OutputFormat) -> bytes:
    if output_format is OutputFormat.JSON:
        return (to_json(value) + "\n").encode("utf-8")
    return dump_text([value])


def encode_started_manifest(manifest: StartedManifest, output_format: OutputFormat) -> bytes:
    value: dict[str, Any] = {
        "ledgerName": manifest.ledger_name,
        "exportId": manifest.export_id,
        "inclusiveStartTime": manifest.inclusive_start_time,
        "exclusiveEndTime": manifest.exclusive_end_time,
        "bucket": manifest.bucket,
        "prefix": manifest.prefix,
        "objectEncryptionType": manifest.object_encryption_type,
    }
    if manifest.output_format is not None:
        value["outputFormat"] = manifest.output_format
    return _encode_manifest(value, output_format)


def encode_completed_manifest(keys: Sequence[str], output_format: OutputFormat) -> bytes:
    return _encode_manifest({"keys": list(keys)}, output_format)


def started_manifest_key(prefix: str, export_id: str) -> str:
    return f"{prefix}{export_id}.started.manifest"


def completed_manifest_key(prefix: str, export_id: str, strand_id: str) -> str:
    return f"{prefix}{export_id}.{strand_id}.completed.manifest"


def data_object_key(prefix: str, export_id: str, strand_id: str, first: int, last: int, fmt: OutputFormat) -> str:
    return f"{prefix}{export_id}/{strand_id}.{first}-{last}.{fmt.extension}"


@dataclass(frozen=True, slots=True)
class ExportPlan:
    """What one export writes: the started manifest, then blocks split into objects."""

    manifest: StartedManifest
    strand_id: str
    output_format: OutputFormat
    blocks_per_object: int = 1000


def write_export(store: Store, plan: ExportPlan, blocks: Iterable[Block]) -> list[str]:
    """Write a whole export of block models; see `write_export_values`."""
    return write_export_values(store, plan, (block_to_ion(b) for b in blocks))


def write_export_values(store: Store, plan: ExportPlan, blocks: Iterable[Any]) -> list[str]:
    """Write a whole export in QLDB's order: started manifest, data objects, completed
    manifest last — so a completed manifest always means every object is in place.
    `blocks` are block structs in sequence order; returns the data object keys."""
    manifest = plan.manifest
    prefix, export_id, fmt = manifest.prefix, manifest.export_id, plan.output_format
    store.write(started_manifest_key(prefix, export_id), encode_started_manifest(manifest, fmt))
    keys: list[str] = []
    batch: list[Any] = []

    def flush() -> None:
        first, last = (int(b["blockAddress"]["sequenceNo"]) for b in (batch[0], batch[-1]))
        key = data_object_key(prefix, export_id, plan.strand_id, first, last, fmt)
        store.write(key, encode_block_values(batch, fmt))
        keys.append(key)
        batch.clear()

    for block in blocks:
        batch.append(block)
        if len(batch) >= plan.blocks_per_object:
            flush()
    if batch:
        flush()
    store.write(completed_manifest_key(prefix, export_id, plan.strand_id), encode_completed_manifest(keys, fmt))
    return keys

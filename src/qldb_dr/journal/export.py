"""Find the exports in a store and open them: manifests, object locations, stored proofs.

An export is identified by its *head*: the key prefix shared by its manifests,
``<prefix><exportId>``. QLDB writes ``<head>.started.manifest`` and
``<head>.<strandId>.completed.manifest``; qldb-dr adds ``<head>.proof.json`` (the ledger
digest and the proof of the export's last block, so the export stays verifiable after
the ledger is gone).
"""

from __future__ import annotations

import binascii
import contextlib
import json
from dataclasses import dataclass

from qldb_dr.encoding import b64, unb64
from qldb_dr.errors import JournalFormatError, ObjectNotFoundError
from qldb_dr.journal.models import BlockAddress, CompletedManifest, StartedManifest
from qldb_dr.journal.reader import read_completed_manifest, read_started_manifest
from qldb_dr.store import Store

STARTED_SUFFIX = ".started.manifest"
COMPLETED_SUFFIX = ".completed.manifest"
PROOF_SUFFIX = ".proof.json"
EXPORT_ID_LENGTH = 22  # QLDB export ids are 22-character base62


@dataclass(frozen=True, slots=True)
class Proof:
    """A ledger digest and the proof that ties one block of the export to it."""

    ledger_name: str
    digest: bytes
    digest_tip: BlockAddress
    block_address: BlockAddress
    hashes: tuple[bytes, ...]

    def to_json(self) -> bytes:
        value = {
            "formatVersion": 1,
            "ledgerName": self.ledger_name,
            "digest": b64(self.digest),
            "digestTipAddress": self.digest_tip.to_ion(),
            "blockAddress": self.block_address.to_ion(),
            "proof": [b64(h) for h in self.hashes],
        }
        return (json.dumps(value, indent=2) + "\n").encode()

    @classmethod
    def from_json(cls, data: bytes, location: str) -> Proof:
        try:
            value = json.loads(data)
            return cls(
                ledger_name=str(value["ledgerName"]),
                digest=unb64(value["digest"]),
                digest_tip=BlockAddress.from_ion(value["digestTipAddress"]),
                block_address=BlockAddress.from_ion(value["blockAddress"]),
                hashes=tuple(unb64(h) for h in value["proof"]),
            )
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise JournalFormatError(location, f"not a qldb-dr proof file ({exc})") from exc


@dataclass(frozen=True, slots=True)
class ExportRef:
    """The manifests found in a store for one export (either may be missing)."""

    head: str
    started_key: str | None
    completed_key: str | None
    strand_id: str | None

    @property
    def proof_key(self) -> str:
        return self.head + PROOF_SUFFIX


def discover(store: Store) -> list[ExportRef]:
    """Every export in the store, by head, in key order."""
    started: dict[str, str] = {}
    completed: dict[str, tuple[str | None, str | None]] = {}
    for key in store.list():
        if key.endswith(STARTED_SUFFIX):
            started[key[: -len(STARTED_SUFFIX)]] = key
        elif key.endswith(COMPLETED_SUFFIX):
            head, _, strand = key[: -len(COMPLETED_SUFFIX)].rpartition(".")
            if head:
                completed[head] = (key, strand)
    refs = []
    for export_head in sorted(started.keys() | completed.keys()):
        completed_key, strand_id = completed.get(export_head, (None, None))
        refs.append(ExportRef(export_head, started.get(export_head), completed_key, strand_id))
    return refs


@dataclass(frozen=True, slots=True)
class Export:
    """An opened export: its manifests and where its objects are in the store."""

    ref: ExportRef
    started: StartedManifest | None
    completed: CompletedManifest | None
    proof: Proof | None

    @property
    def export_id(self) -> str:
        if self.started is not None:
            return self.started.export_id
        return self.ref.head.rsplit("/", 1)[-1][-EXPORT_ID_LENGTH:]

    def store_key(self, manifest_key: str) -> str:
        """Where a key listed in the completed manifest is in this store.

        Manifest keys are bucket keys under the export's prefix. A store that holds a
        copy of the export somewhere else (a local directory synced from the bucket, a
        different prefix) keeps the layout below the prefix, so the key is re-rooted
        at the directory where the manifests were found.
        """
        if self.started is None:
            return manifest_key
        prefix, head = self.started.prefix, self.ref.head
        if not manifest_key.startswith(prefix) or not head.endswith(self.started.export_id):
            return manifest_key
        base = head[: len(head) - len(self.started.export_id)]
        return base + manifest_key[len(prefix) :]


def open_export(store: Store, ref: ExportRef) -> Export:
    """Read an export's manifests and proof; raises JournalFormatError on a bad manifest."""
    started = None
    if ref.started_key is not None:
        started = read_started_manifest(store.read(ref.started_key), ref.started_key)
    completed = None
    if ref.completed_key is not None:
        completed = read_completed_manifest(store.read(ref.completed_key), ref.completed_key)
    proof = None
    with contextlib.suppress(ObjectNotFoundError):
        proof = Proof.from_json(store.read(ref.proof_key), ref.proof_key)
    return Export(ref, started, completed, proof)

"""An adversary's catalogue: forgeries of a vault, each a function over a directory copy of one
ledger's folder (`journal/…`, `catalog/…`), as synced from the vault.

Each mutation picks what it changes with `rng` and returns a `Forgery`: what it did, the text
the verify report must contain to name where (a block or a key), and the verdicts it must get
from `qldb-dr verify` of the ledger's folder (the vault, with its catalog) and of its
`journal/` folder alone (the exports, no catalog). Where a verdict is not FAILURE, the case is
a documented limit (README, "What verify proves").
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qldb_dr.ion import dump_binary, ion_hash, iter_binary, load_text
from qldb_dr.journal.hashing import block_hash, merkle_root, revision_hash

FAILURE, WARNING, NONE = "FAILURE", "WARNING", "none"


@dataclass(frozen=True)
class Forgery:
    what: str
    named: tuple[str, ...]  # the report names one of these: a block ("block 12"), a file, an export
    vault: str = FAILURE  # verify <ledger folder>/
    journal: str | None = FAILURE  # verify <ledger folder>/journal/ (None: the journal is not touched)

    def names(self, report: str) -> bool:
        return any(name in report for name in self.named)


def _forgery(what: str, *named: str, vault: str = FAILURE, journal: str | None = FAILURE) -> Forgery:
    return Forgery(what, named, vault, journal)


Mutation = Callable[[Path, random.Random], Forgery]
MUTATIONS: dict[str, Mutation] = {}


def mutation(function: Mutation) -> Mutation:
    MUTATIONS[function.__name__] = function
    return function


# -- the vault's files ---------------------------------------------------------------------------


def _data_objects(root: Path) -> list[Path]:
    return sorted(p for p in (root / "journal").glob("*/*.ion"))


def _exports(root: Path) -> list[str]:
    """Export ids, in block order (the order of their data objects' first block)."""
    firsts = {}
    for path in _data_objects(root):
        firsts[path.parent.name] = min(
            firsts.get(path.parent.name, 1 << 62), int(path.stem.split(".")[1].split("-")[0])
        )
    return sorted(firsts, key=lambda e: firsts[e])


def _catalog(root: Path) -> list[Path]:
    return sorted(
        (root / "catalog").glob("*.json"), key=lambda p: json.loads(p.read_text())["window"]["exclusiveEndTime"]
    )


def _blocks(path: Path) -> list[Any]:
    return list(iter_binary(path.read_bytes()))


def _write_blocks(path: Path, blocks: list[Any]) -> None:
    path.write_bytes(dump_binary(blocks))


def _seq(block: Any) -> int:
    return int(block["blockAddress"]["sequenceNo"])


def _pick_object(root: Path, rng: random.Random, *, min_blocks: int = 1) -> tuple[Path, list[Any]]:
    candidates = [(p, b) for p in _data_objects(root) if len(b := _blocks(p)) >= min_blocks]
    assert candidates, "the vault has no object with enough blocks"
    return rng.choice(candidates)


def _with(
    root: Path, test: Callable[[list[Any]], Any], exports: list[str] | None = None
) -> list[tuple[Path, list[Any]]]:
    """(object, its blocks) for every data object whose blocks pass `test` (in `exports`)."""
    found = []
    for path in _data_objects(root):
        if exports is not None and path.parent.name not in exports:
            continue
        blocks = _blocks(path)
        if test(blocks):
            found.append((path, blocks))
    assert found, "no data object in the vault fits this forgery"
    return found


def _user_revisions(blocks: list[Any]) -> list[tuple[int, int]]:
    """(block index, revision index) of every revision with data."""
    return [
        (b, r)
        for b, block in enumerate(blocks)
        for r, revision in enumerate(block.get("revisions") or [])
        if "metadata" in revision and "data" in revision
    ]


def _rehash(blocks: list[Any], start: int) -> None:
    """Make blocks[start:] consistent again after an edit: revision hashes, the revisions'
    Merkle root among the entries, entriesHash, blockHash, and the chain to the object's end."""
    for i in range(start, len(blocks)):
        block = blocks[i]
        revisions = block.get("revisions") or []
        old_root = merkle_root([bytes(r["hash"]) for r in revisions]) if revisions else None
        for revision in revisions:
            if "metadata" in revision:
                revision["hash"] = revision_hash(revision["metadata"], revision.get("data"), revision.get("dataHash"))
        if revisions:
            new_root = merkle_root([bytes(r["hash"]) for r in revisions])
            block["entriesHashList"] = [new_root if bytes(h) == old_root else h for h in block["entriesHashList"]]
        if i > start:
            block["previousBlockHash"] = blocks[i - 1]["blockHash"]
        block["entriesHash"] = merkle_root([bytes(h) for h in block["entriesHashList"]])
        block["blockHash"] = block_hash(bytes(block["entriesHash"]), bytes(block["previousBlockHash"]))


def _manifest(root: Path, suffix: str, rng: random.Random, export: str | None = None) -> Path:
    paths = sorted((root / "journal").glob(f"{export or '*'}{suffix}"))
    return rng.choice(paths)


def _edit_text_ion(path: Path, edit: Callable[[Any], None]) -> None:
    value = load_text(path.read_bytes())
    edit(value)
    from qldb_dr.ion import dump_text

    path.write_bytes(dump_text([value]))


# -- data objects --------------------------------------------------------------------------------


@mutation
def byte_flip(root: Path, rng: random.Random) -> Forgery:
    path, _ = _pick_object(root, rng)
    data = bytearray(path.read_bytes())
    at = rng.randrange(4, len(data))
    data[at] ^= 1 << rng.randrange(8)
    path.write_bytes(bytes(data))
    return _forgery(f"a bit of {path.name} flipped at byte {at}", path.name)


@mutation
def truncation(root: Path, rng: random.Random) -> Forgery:
    path, _ = _pick_object(root, rng)
    data = path.read_bytes()
    path.write_bytes(data[: rng.randrange(4, len(data))])
    return _forgery(f"{path.name} truncated", path.name)


@mutation
def object_deleted(root: Path, rng: random.Random) -> Forgery:
    path, _ = _pick_object(root, rng)
    path.unlink()
    return _forgery(f"{path.name} deleted", path.name)


@mutation
def objects_swapped(root: Path, rng: random.Random) -> Forgery:
    a, b = rng.sample(_data_objects(root), 2)
    data_a, data_b = a.read_bytes(), b.read_bytes()
    a.write_bytes(data_b)
    b.write_bytes(data_a)
    return _forgery(f"{a.name} and {b.name} swapped", a.name, b.name)


@mutation
def blocks_reordered(root: Path, rng: random.Random) -> Forgery:
    path, blocks = _pick_object(root, rng, min_blocks=2)
    i = rng.randrange(len(blocks) - 1)
    blocks[i], blocks[i + 1] = blocks[i + 1], blocks[i]
    _write_blocks(path, blocks)
    return _forgery(f"blocks {_seq(blocks[i + 1])} and {_seq(blocks[i])} of {path.name} swapped", path.name)


@mutation
def block_dropped(root: Path, rng: random.Random) -> Forgery:
    path, blocks = _pick_object(root, rng, min_blocks=2)
    gone = blocks.pop(rng.randrange(len(blocks)))
    _write_blocks(path, blocks)
    return _forgery(f"block {_seq(gone)} removed from {path.name}", path.name)


@mutation
def block_duplicated(root: Path, rng: random.Random) -> Forgery:
    path, blocks = _pick_object(root, rng)
    i = rng.randrange(len(blocks))
    blocks.insert(i, blocks[i])
    _write_blocks(path, blocks)
    return _forgery(f"block {_seq(blocks[i])} duplicated in {path.name}", path.name)


def _edit_data(blocks: list[Any], rng: random.Random) -> tuple[int, Any]:
    b, r = rng.choice(_user_revisions(blocks))
    data = blocks[b]["revisions"][r]["data"]
    data["forged"] = rng.randrange(10**6)
    return b, blocks[b]


@mutation
def value_edited(root: Path, rng: random.Random) -> Forgery:
    path, blocks = rng.choice(_with(root, _user_revisions))
    _, block = _edit_data(blocks, rng)
    _write_blocks(path, blocks)
    return _forgery(f"a document in block {_seq(block)} edited", f"block {_seq(block)}")


@mutation
def value_edited_rehashed_and_rechained(root: Path, rng: random.Random) -> Forgery:
    """The hardest forgery inside one object: the revision, the block and every block after it
    in the object re-hashed and re-chained — only the join to what follows, or the digest,
    can tell."""
    path, blocks = rng.choice(_with(root, _user_revisions))
    index, _ = _edit_data(blocks, rng)
    _rehash(blocks, index)
    _write_blocks(path, blocks)
    last = _seq(blocks[-1])
    return _forgery(
        f"a document in block {_seq(blocks[index])} edited, re-hashed and re-chained to block {last}", f"{last}"
    )


@mutation
def fake_redaction(root: Path, rng: random.Random) -> Forgery:
    """A revision's data replaced by its Ion hash: QLDB's revision hash is the same for a
    redacted and a whole revision, so only the missing redaction tells. The journal alone
    proves it missing where the exports reach the digest the revision's export was anchored
    to (the redaction would have committed before that digest); where they do not — the
    newest export, its digest taken after blocks no export holds yet — it warns, naming the
    revision (the catalog's pins catch it in the vault)."""
    path, blocks = rng.choice(_with(root, _user_revisions))
    b, r = rng.choice(_user_revisions(blocks))
    revision = blocks[b]["revisions"][r]
    revision["dataHash"] = ion_hash(revision.pop("data"))
    _write_blocks(path, blocks)
    proof = json.loads((root / "journal" / f"{path.parent.name}.proof.json").read_text())
    tip = proof["digestTipAddress"]["sequenceNo"]
    last = max(_seq(x) for p in _data_objects(root) for x in _blocks(p))
    metadata = revision["metadata"]
    redacted_later = any(
        (str(e["documentId"]), int(e["version"])) == (str(metadata["id"]), int(metadata["version"]))
        for p in _data_objects(root)
        for x in _blocks(p)
        for e in (x.get("redactionInfo") or {}).get("revisions", [])
    )
    # Harmless to the journal alone: a revision a later block really redacted, exported before
    # it was, shown redacted now — that is the ledger's own state (the catalog's pins catch it).
    journal = NONE if redacted_later else FAILURE if tip <= last else WARNING
    return _forgery(
        f"document {metadata['id']} in block {_seq(blocks[b])} shown redacted",
        f"block {_seq(blocks[b])}",
        path.name,
        journal=journal,
    )


@mutation
def transaction_id_edited(root: Path, rng: random.Random) -> Forgery:
    path, blocks = rng.choice(_with(root, _user_revisions))
    i = rng.choice(sorted({b for b, _ in _user_revisions(blocks)}))
    blocks[i]["transactionId"] = "A" * 22
    _write_blocks(path, blocks)
    return _forgery(f"transactionId of block {_seq(blocks[i])} changed", f"block {_seq(blocks[i])}")


@mutation
def block_timestamp_backdated(root: Path, rng: random.Random) -> Forgery:
    path, blocks = rng.choice(_with(root, _user_revisions))
    i = rng.choice(sorted({b for b, _ in _user_revisions(blocks)}))
    from datetime import timedelta

    blocks[i]["blockTimestamp"] = blocks[i]["blockTimestamp"] - timedelta(hours=1)
    _write_blocks(path, blocks)
    return _forgery(f"blockTimestamp of block {_seq(blocks[i])} set an hour earlier", f"block {_seq(blocks[i])}")


@mutation
def block_timestamp_postdated(root: Path, rng: random.Random) -> Forgery:
    """Later than its transaction's own times by over a minute: past the export's window it
    fails; inside it — the field is outside every hash — it warns, naming the block."""
    path, blocks = rng.choice(_with(root, _user_revisions))
    i = rng.choice(sorted({b for b, _ in _user_revisions(blocks)}))
    from datetime import timedelta

    later = blocks[i]["blockTimestamp"] + timedelta(seconds=rng.choice([90, 3600]))
    blocks[i]["blockTimestamp"] = later
    _write_blocks(path, blocks)
    started = load_text((root / "journal" / f"{path.parent.name}.started.manifest").read_bytes())
    journal = WARNING if later < started["exclusiveEndTime"] else FAILURE
    return _forgery(
        f"blockTimestamp of block {_seq(blocks[i])} set later", f"block {_seq(blocks[i])}", path.name, journal=journal
    )


@mutation
def revision_emptied_to_its_hash(root: Path, rng: random.Random) -> Forgery:
    """A user revision reduced to `{hash}`, as a system revision looks: the Merkle root holds,
    but the transaction's hashed list of documents still names it."""
    path, blocks = rng.choice(_with(root, _user_revisions))
    b, r = rng.choice(_user_revisions(blocks))
    revision = blocks[b]["revisions"][r]
    blocks[b]["revisions"][r] = {"hash": revision["hash"]}
    _write_blocks(path, blocks)
    return _forgery(f"a revision of block {_seq(blocks[b])} reduced to its hash", f"block {_seq(blocks[b])}")


@mutation
def statement_edited(root: Path, rng: random.Random) -> Forgery:
    path, blocks = rng.choice(_with(root, lambda bs: any("transactionInfo" in x for x in bs)))
    i = rng.choice([i for i, b in enumerate(blocks) if "transactionInfo" in b])
    statement = blocks[i]["transactionInfo"]["statements"][0]
    statement["statement"] = statement["statement"] + " "
    _write_blocks(path, blocks)
    return _forgery(f"a statement of block {_seq(blocks[i])} edited", f"block {_seq(blocks[i])}")


@mutation
def version_edited(root: Path, rng: random.Random) -> Forgery:
    path, blocks = rng.choice(_with(root, _user_revisions))
    b, r = rng.choice(_user_revisions(blocks))
    metadata = blocks[b]["revisions"][r]["metadata"]
    metadata["version"] = int(metadata["version"]) + 1
    _write_blocks(path, blocks)
    return _forgery(f"a revision's version in block {_seq(blocks[b])} changed", f"block {_seq(blocks[b])}")


@mutation
def revision_removed(root: Path, rng: random.Random) -> Forgery:
    path, blocks = rng.choice(_with(root, _user_revisions))
    b, r = rng.choice(_user_revisions(blocks))
    del blocks[b]["revisions"][r]
    _write_blocks(path, blocks)
    return _forgery(f"a revision removed from block {_seq(blocks[b])}", f"block {_seq(blocks[b])}")


@mutation
def redaction_info_removed(root: Path, rng: random.Random) -> Forgery:
    path, blocks = rng.choice(_with(root, lambda bs: any("redactionInfo" in x for x in bs)))
    i = next(i for i, b in enumerate(blocks) if "redactionInfo" in b)
    del blocks[i]["redactionInfo"]
    _write_blocks(path, blocks)
    # A redaction completes asynchronously in QLDB: the journal alone can only say it has not
    # completed in the blocks read.
    return _forgery(
        f"the redactionInfo of block {_seq(blocks[i])} removed", path.name, f"block {_seq(blocks[i])}", journal=WARNING
    )


# -- manifests and proofs ------------------------------------------------------------------------


def _export_with_blocks(root: Path, rng: random.Random) -> str:
    return rng.choice(sorted({p.parent.name for p in _data_objects(root)}))


@mutation
def completed_manifest_emptied(root: Path, rng: random.Random) -> Forgery:
    export = _export_with_blocks(root, rng)
    path = _manifest(root, ".*.completed.manifest", rng, export)
    _edit_text_ion(path, lambda v: v.__setitem__("keys", []))
    # The earliest export emptied looks, to the journal alone, like a folder whose older
    # exports were pruned (it warns that earlier blocks are not in it); the catalog knows.
    first = export == _exports(root)[0] if _exports(root) else True
    return _forgery(
        f"the completed manifest of {export} lists no object", export, journal=WARNING if first else FAILURE
    )


@mutation
def completed_manifest_deleted(root: Path, rng: random.Random) -> Forgery:
    """Without it an export looks in progress: the journal alone can only warn."""
    export = _export_with_blocks(root, rng)
    path = _manifest(root, ".*.completed.manifest", rng, export)
    path.unlink()
    # To the journal alone an export without it is in progress: between two others it leaves a
    # gap (FAILURE); the first or the newest leave none, only the warning.
    exports = _exports(root)
    inner = exports.index(export) not in (0, len(exports) - 1)
    return _forgery(f"the completed manifest of {export} deleted", export, journal=FAILURE if inner else WARNING)


@mutation
def started_manifest_window_narrowed(root: Path, rng: random.Random) -> Forgery:
    export = _export_with_blocks(root, rng)
    path = _manifest(root, ".started.manifest", rng, export)

    def narrow(value: Any) -> None:
        value["exclusiveEndTime"] = value["inclusiveStartTime"]

    _edit_text_ion(path, narrow)
    return _forgery(f"the window of {export} narrowed to nothing", export)


@mutation
def started_manifest_ledger_renamed(root: Path, rng: random.Random) -> Forgery:
    export = _export_with_blocks(root, rng)
    path = _manifest(root, ".started.manifest", rng, export)
    _edit_text_ion(path, lambda v: v.__setitem__("ledgerName", "another-ledger"))
    return _forgery(f"the started manifest of {export} names another ledger", export)


def _edit_proof(root: Path, rng: random.Random, edit: Callable[[dict[str, Any]], None]) -> str:
    path = rng.choice(sorted((root / "journal").glob("*.proof.json")))
    value = json.loads(path.read_text())
    edit(value)
    path.write_text(json.dumps(value))
    return path.name


def _flip_b64(text: str) -> str:
    raw = bytearray(base64.b64decode(text))
    raw[0] ^= 1
    return base64.b64encode(bytes(raw)).decode()


@mutation
def proof_digest_edited(root: Path, rng: random.Random) -> Forgery:
    name = _edit_proof(root, rng, lambda v: v.__setitem__("digest", _flip_b64(v["digest"])))
    return _forgery(f"the digest in {name} changed", name)


@mutation
def proof_hash_edited(root: Path, rng: random.Random) -> Forgery:
    def edit(value: dict[str, Any]) -> None:
        if value["proof"]:
            value["proof"][0] = _flip_b64(value["proof"][0])
        else:
            value["proof"] = [base64.b64encode(b"\x01" * 32).decode()]

    name = _edit_proof(root, rng, edit)
    return _forgery(f"a proof hash in {name} changed", name)


@mutation
def proof_block_moved(root: Path, rng: random.Random) -> Forgery:
    name = _edit_proof(
        root, rng, lambda v: v["blockAddress"].__setitem__("sequenceNo", v["blockAddress"]["sequenceNo"] + 1)
    )
    return _forgery(f"the proven block in {name} changed", name)


@mutation
def proof_deleted(root: Path, rng: random.Random) -> Forgery:
    """The journal alone can only say the export is no longer anchored (a WARNING)."""
    filled = {p.parent.name for p in _data_objects(root)}  # a quiet window's proof anchors nothing new
    path = rng.choice(sorted(p for p in (root / "journal").glob("*.proof.json") if p.name.split(".")[0] in filled))
    path.unlink()
    return _forgery(f"{path.name} deleted", path.name.removesuffix(".proof.json"), journal=WARNING)


# -- the catalog ---------------------------------------------------------------------------------


def _edit_catalog(
    root: Path, rng: random.Random, edit: Callable[[dict[str, Any]], None], *, filled: bool = False
) -> Path:
    paths = [p for p in _catalog(root) if not filled or json.loads(p.read_text())["lastBlock"] is not None]
    path = rng.choice(paths)
    value = json.loads(path.read_text())
    edit(value)
    path.write_text(json.dumps(value, indent=2))
    return path


@mutation
def catalog_output_format_edited(root: Path, rng: random.Random) -> Forgery:
    path = _edit_catalog(root, rng, lambda v: v.__setitem__("outputFormat", "JSON"), filled=True)
    return _forgery(f"outputFormat in {path.name} changed", path.name, journal=None)


@mutation
def catalog_last_hash_edited(root: Path, rng: random.Random) -> Forgery:
    path = _edit_catalog(
        root, rng, lambda v: v.__setitem__("lastBlockHash", _flip_b64(v["lastBlockHash"])), filled=True
    )
    return _forgery(f"lastBlockHash in {path.name} changed", path.name, journal=None)


@mutation
def catalog_pin_edited(root: Path, rng: random.Random) -> Forgery:
    def edit(value: dict[str, Any]) -> None:
        key = sorted(value["pins"])[0]
        value["pins"][key]["sha256"] = "0" * 64

    path = _edit_catalog(root, rng, edit, filled=True)
    return _forgery(f"a pinned SHA-256 in {path.name} changed", "SHA-256", journal=None)


@mutation
def catalog_entry_deleted(root: Path, rng: random.Random) -> Forgery:
    """A recovery point's catalog object gone (not the newest: that looks like one backup fewer)."""
    path = rng.choice(_catalog(root)[:-1])
    path.unlink()
    return _forgery(f"{path.name} deleted", "do not chain", "not in the vault", journal=None)


@mutation
def recovery_point_deleted_whole(root: Path, rng: random.Random) -> Forgery:
    """Catalog object, manifests, data, proof: all of a recovery point between two others."""
    candidates = [p for p in _catalog(root)[1:-1] if json.loads(p.read_text())["lastBlock"] is not None]
    path = rng.choice(candidates)
    export = json.loads(path.read_text())["recoveryPointId"]
    path.unlink()
    for gone in (root / "journal").glob(f"{export}*"):
        if gone.is_dir():
            for child in gone.iterdir():
                child.unlink()
            gone.rmdir()
        else:
            gone.unlink()
    return _forgery(f"recovery point {export} deleted whole", "gap", "do not chain")


@mutation
def export_deleted_catalog_kept(root: Path, rng: random.Random) -> Forgery:
    path = _edit_catalog(root, rng, lambda v: None, filled=True)
    export = json.loads(path.read_text())["recoveryPointId"]
    for gone in sorted((root / "journal").glob(f"{export}*"), reverse=True):
        if gone.is_dir():
            for child in gone.iterdir():
                child.unlink()
            gone.rmdir()
        else:
            gone.unlink()
    newest = path == _catalog(root)[-1] or all(
        json.loads(p.read_text())["lastBlock"] is None for p in _catalog(root)[_catalog(root).index(path) + 1 :]
    )
    # Without the catalog, the newest export gone whole leaves nothing to notice, and the first
    # looks like older exports pruned (a warning that earlier blocks are not there).
    first = not any(json.loads(p.read_text())["lastBlock"] for p in _catalog(root)[: _catalog(root).index(path)])
    journal = NONE if newest else WARNING if first else FAILURE
    return _forgery(f"the export of {path.name} deleted", "missing", "in no export", "earlier blocks", journal=journal)


@mutation
def catalog_entry_deleted_and_export_forged(root: Path, rng: random.Random) -> Forgery:
    """The recovery point's record gone, and a value forged in its export: verified anyway."""
    path = rng.choice([p for p in _catalog(root) if json.loads(p.read_text())["lastBlock"] is not None])
    export = json.loads(path.read_text())["recoveryPointId"]
    path.unlink()
    target, blocks = rng.choice(_with(root, _user_revisions, [export]))
    _, block = _edit_data(blocks, rng)
    _write_blocks(target, blocks)
    return _forgery(f"{path.name} deleted and a document in block {_seq(block)} forged", f"block {_seq(block)}")

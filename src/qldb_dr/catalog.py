"""Recovery points: the vault's own record of every verified export.

A recovery point is one JSON object in the vault, next to the exports it describes:

    <vault prefix><ledger>/journal/<exportId>...                 the export (QLDB's layout) + proof
    <vault prefix><ledger>/catalog/<windowStart>.json             its recovery point

so replication carries both to the DR region and Object Lock protects both; a restore
needs nothing from the failed region. A recovery point's key is its window's start —
which is the previous recovery point's end — and it is written once, with a conditional
create: two backups that planned the same window cannot both record one.
"""

from __future__ import annotations

import binascii
import dataclasses
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from qldb_dr.checks import Check
from qldb_dr.encoding import b64, iso, parse_iso, unb64
from qldb_dr.errors import CatalogError, ObjectExistsError, QldbDrError, RecoveryPointConflictError, SourceNotFoundError
from qldb_dr.journal.export import discover, open_export
from qldb_dr.journal.models import BlockAddress
from qldb_dr.journal.verify import ExportSummary, Report, verify_source
from qldb_dr.store import Store
from qldb_dr.store.pinned import Pin, PinnedStore, pinned

FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class Vault:
    """Where ledgers' backups live: a bucket (or a directory) and an optional key prefix.

    `Vault.open(url)` is the one way code gets a vault. The store is rooted at the bucket (its
    keys are bucket keys) or at the directory; the prefix is the vault's, and the only one."""

    store: Store
    prefix: str = ""

    @classmethod
    def open(cls, url: str, region: str | None = None, *, client: Any = None) -> Vault:
        """`s3://bucket[/prefix]` (client: an S3 client, else one for `region` from the usual
        AWS settings), or a directory path or `file://` URL."""
        if url.startswith("s3://"):
            from qldb_dr.aws import client as aws_client
            from qldb_dr.store.s3 import S3Store, parse_s3_url

            bucket, prefix = parse_s3_url(url)
            return cls(S3Store(bucket, "", client if client is not None else aws_client("s3", region)), prefix)
        from qldb_dr.store.local import LocalStore

        path = url.removeprefix("file://")
        if not path:
            raise SourceNotFoundError("empty vault location", hint="give s3://bucket[/prefix] or a directory")
        return cls(LocalStore(path), "")

    @property
    def url(self) -> str:
        return self.store.url + self.prefix

    @property
    def bucket(self) -> str | None:
        """The S3 bucket, for what must name it apart (a Distributed Map's item reader)."""
        return getattr(self.store, "bucket", None)

    def journal(self, ledger: str) -> str:
        return f"{self.prefix}{ledger}/journal/"

    def catalog(self, ledger: str) -> str:
        return f"{self.prefix}{ledger}/catalog/"

    def restores(self, ledger: str) -> str:
        return f"{self.prefix}{ledger}/restores/"

    def restore(self, ledger: str, restore_id: str) -> str:
        """Where restore `restore_id` of `ledger` keeps its plan, manifests, partitions, report."""
        return f"{self.restores(ledger)}{restore_id}/"

    def drills(self, ledger: str) -> str:
        """Where the drills of `ledger` keep their reports (`<drillId>.json`)."""
        return f"{self.prefix}{ledger}/drills/"


# The function environment variables that name the vault where a workflow's input does not.
VAULT_ENVIRONMENT = {"vaultBucket": "QLDB_DR_VAULT_BUCKET", "vaultPrefix": "QLDB_DR_VAULT_PREFIX"}


def vault_url(given: Any, environment: Any) -> str | None:
    """The vault a workflow's input names: `vault` (a URL), else `vaultBucket` and `vaultPrefix`,
    each taken from the function's environment when the input lacks it; None when nothing does."""
    if given.get("vault"):
        return str(given["vault"])

    def value(field: str) -> str | None:
        found = given.get(field)
        return str(found) if found is not None else environment.get(VAULT_ENVIRONMENT[field])

    bucket = value("vaultBucket")
    return f"s3://{bucket}/{value('vaultPrefix') or ''}" if bucket else None


@dataclass(frozen=True, slots=True)
class TableCounts:
    revisions: int = 0
    documents: int = 0


@dataclass(frozen=True, slots=True)
class RecoveryPoint:
    recovery_point_id: str  # the export id: unique, and what an operator names
    ledger_name: str
    region: str
    export_prefix: str
    output_format: str
    window_start: datetime
    window_end: datetime
    first_block: BlockAddress | None
    last_block: BlockAddress | None
    first_previous_hash: bytes | None
    last_block_hash: bytes | None
    previous: str | None  # the recovery point this one continues
    digest: bytes
    digest_tip: BlockAddress
    blocks: int
    revisions: int
    tables: dict[str, TableCounts]
    objects: tuple[str, ...]
    size: int
    verification: dict[str, Any]
    created: datetime
    execution: str | None = None
    strand_id: str | None = field(default=None)
    # every object of the export (manifests, data, proof): the S3 version and SHA-256 verified
    pins: dict[str, Pin] = field(default_factory=dict)

    @property
    def export_id(self) -> str:
        return self.recovery_point_id

    @property
    def export_head(self) -> str:
        return self.export_prefix + self.recovery_point_id

    @property
    def empty(self) -> bool:
        return self.blocks == 0

    def key(self, vault: Vault) -> str:
        return f"{vault.catalog(self.ledger_name)}{_compact(self.window_start)}.json"

    def to_json(self) -> dict[str, Any]:
        return {
            "formatVersion": FORMAT_VERSION,
            "recoveryPointId": self.recovery_point_id,
            "ledgerName": self.ledger_name,
            "region": self.region,
            "strandId": self.strand_id,
            "exportPrefix": self.export_prefix,
            "outputFormat": self.output_format,
            "window": {"inclusiveStartTime": iso(self.window_start), "exclusiveEndTime": iso(self.window_end)},
            "firstBlock": _address(self.first_block),
            "lastBlock": _address(self.last_block),
            "firstPreviousBlockHash": b64(self.first_previous_hash),
            "lastBlockHash": b64(self.last_block_hash),
            "previousRecoveryPointId": self.previous,
            "digest": {"digest": b64(self.digest), "digestTipAddress": _address(self.digest_tip)},
            "counts": {
                "blocks": self.blocks,
                "revisions": self.revisions,
                "tables": {
                    name: {"revisions": c.revisions, "documents": c.documents}
                    for name, c in sorted(self.tables.items())
                },
            },
            "objects": list(self.objects),
            "bytes": self.size,
            "verification": self.verification,
            "createdAt": iso(self.created),
            "backupExecutionArn": self.execution,
            "pins": {key: pin.to_json() for key, pin in sorted(self.pins.items())},
        }

    @classmethod
    def from_json(cls, value: Any, location: str) -> RecoveryPoint:
        try:
            if value.get("formatVersion") != FORMAT_VERSION:
                raise CatalogError(
                    f"{location}: catalog format version {value.get('formatVersion')} is not {FORMAT_VERSION}",
                    hint="upgrade qldb-dr",
                )
            counts = value["counts"]
            return cls(
                recovery_point_id=str(value["recoveryPointId"]),
                ledger_name=str(value["ledgerName"]),
                region=str(value["region"]),
                strand_id=value.get("strandId"),
                export_prefix=str(value["exportPrefix"]),
                output_format=str(value["outputFormat"]),
                window_start=parse_iso(value["window"]["inclusiveStartTime"]),
                window_end=parse_iso(value["window"]["exclusiveEndTime"]),
                first_block=_parse_address(value["firstBlock"]),
                last_block=_parse_address(value["lastBlock"]),
                first_previous_hash=unb64(value["firstPreviousBlockHash"]),
                last_block_hash=unb64(value["lastBlockHash"]),
                previous=value.get("previousRecoveryPointId"),
                digest=unb64(value["digest"]["digest"]),
                digest_tip=_parse_address(value["digest"]["digestTipAddress"]) or BlockAddress("", -1),
                blocks=int(counts["blocks"]),
                revisions=int(counts["revisions"]),
                tables={k: TableCounts(int(v["revisions"]), int(v["documents"])) for k, v in counts["tables"].items()},
                objects=tuple(str(k) for k in value["objects"]),
                size=int(value["bytes"]),
                verification=dict(value["verification"]),
                created=parse_iso(value["createdAt"]),
                execution=value.get("backupExecutionArn"),
                pins={str(k): Pin.from_json(v) for k, v in (value.get("pins") or {}).items()},
            )
        except CatalogError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, binascii.Error) as exc:
            raise CatalogError(f"{location}: not a qldb-dr recovery point ({type(exc).__name__}: {exc})") from exc


def data_keys(store: Store, point: RecoveryPoint) -> list[str]:
    """Where the data objects of a recovery point's export are in `store`, in journal order
    (the keys its completed manifest lists, re-rooted where the vault keeps them)."""
    ref = next(r for r in discover(store.scoped(point.export_head)) if r.head == point.export_head)
    export = open_export(store, ref)
    if export.completed is None:
        raise CatalogError(f"recovery point {point.recovery_point_id}: its export has no completed manifest")
    return [export.store_key(key) for key in export.completed.keys]


def pinned_store(store: Store, points: list[RecoveryPoint], *, watch: bool = True) -> PinnedStore:
    """`store`, reading the recovery points' objects at the versions they pinned; `watch`:
    also list their versions, to report any newer one written over them (`overwritten`)."""
    pins = {key: pin for point in points for key, pin in point.pins.items()}
    return pinned(store, pins, [p.export_head for p in points if p.pins] if watch else [])


class Catalog:
    """The recovery points of a vault.

    A recovery point is written once (a conditional create), so its catalog object has one
    version: the original is what is read. A later version over it is tampering, never read,
    and named in `overwritten` (key -> the newest version id)."""

    def __init__(self, vault: Vault) -> None:
        self.vault = vault
        self.overwritten: dict[str, str] = {}

    def recovery_points(self, ledger: str) -> list[RecoveryPoint]:
        """Every recovery point of the ledger, oldest window first."""
        points, errors = _read_points(self.vault.store, self.vault.catalog(ledger), self.overwritten)
        if errors:
            raise errors[0]
        return points

    def latest(self, ledger: str) -> RecoveryPoint | None:
        points = self.recovery_points(ledger)
        return points[-1] if points else None

    def find(self, ledger: str, recovery_point_id: str) -> RecoveryPoint | None:
        return next((p for p in self.recovery_points(ledger) if p.recovery_point_id == recovery_point_id), None)

    def ledgers(self) -> list[str]:
        """Ledgers with at least one recovery point in the vault."""
        names = set()
        for key in self.vault.store.list(self.vault.prefix):
            parts = key[len(self.vault.prefix) :].split("/")
            if len(parts) >= 3 and parts[1] == "catalog" and parts[2].endswith(".json"):
                names.add(parts[0])
        return sorted(names)

    def record(self, point: RecoveryPoint) -> str:
        """Write the recovery point once; RecoveryPointConflictError if its window is taken."""
        key = point.key(self.vault)
        previous = self.latest(point.ledger_name)
        if previous is not None and previous.recovery_point_id != point.previous:
            raise RecoveryPointConflictError(
                f"ledger {point.ledger_name}: recovery point {previous.recovery_point_id} was recorded after this "
                f"backup planned its window (it continues {point.previous}); nothing recorded"
            )
        try:
            self.vault.store.create(key, (json.dumps(point.to_json(), indent=2) + "\n").encode())
        except ObjectExistsError as exc:
            raise RecoveryPointConflictError(f"{key}: another backup recorded this window first") from exc
        return key


def _load(data: bytes, location: str) -> Any:
    try:
        return json.loads(data)
    except ValueError as exc:
        raise CatalogError(f"{location}: not JSON ({exc})") from exc


def _compact(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%S") + f"{moment.microsecond // 1000:03d}Z"


def _address(address: BlockAddress | None) -> dict[str, Any] | None:
    return None if address is None else address.to_ion()


def _parse_address(value: Any) -> BlockAddress | None:
    return None if value is None else BlockAddress.from_ion(value)


def _read_points(
    store: Store, prefix: str, overwritten: dict[str, str]
) -> tuple[list[RecoveryPoint], list[CatalogError]]:
    """Every readable recovery point under `prefix` (each catalog object at its first version),
    oldest window first, and the errors of the unreadable ones; later versions go to
    `overwritten`."""
    points, errors = [], []
    for key, ids in sorted(store.versions(prefix).items()):
        if not _is_catalog_key(key[len(store.prefix) :]):
            continue
        where = store.describe(key)
        if len(ids) > 1:
            overwritten[key] = ids[-1]
        try:
            data, _ = store.fetch(key, ids[0] if ids else None)
            points.append(_rooted(RecoveryPoint.from_json(_load(data, where), where), key))
        except CatalogError as exc:
            errors.append(exc)
    return sorted(points, key=lambda p: (p.ledger_name, p.window_end, p.recovery_point_id)), errors


def _rooted(point: RecoveryPoint, catalog_key: str) -> RecoveryPoint:
    """The recovery point with its keys where this store keeps them. A recovery point records
    bucket keys (`<prefix><ledger>/journal/…`); a copy of the ledger's folder elsewhere — a
    directory synced from the vault, another prefix — holds the same layout below the folder,
    which is where its catalog object was found."""
    bucket_root = point.export_prefix.removesuffix("journal/")
    store_root = catalog_key[: catalog_key.rindex("catalog/")]
    if bucket_root == store_root or not point.export_prefix.endswith("journal/"):
        return point

    def moved(key: str) -> str:
        return store_root + key[len(bucket_root) :] if key.startswith(bucket_root) else key

    return dataclasses.replace(
        point,
        export_prefix=moved(point.export_prefix),
        objects=tuple(moved(k) for k in point.objects),
        pins={moved(k): pin for k, pin in point.pins.items()},
    )


def _is_catalog_key(key: str) -> bool:
    """`<ledger>/catalog/<window>.json`, or `catalog/<window>.json` in a ledger's own folder."""
    parts = key.split("/")
    return len(parts) >= 2 and parts[-2] == "catalog" and parts[-1].endswith(".json")


def _scan(store: Store, overwritten: dict[str, str]) -> tuple[list[RecoveryPoint], list[CatalogError]]:
    """Every readable recovery point in the store (a vault, or one ledger's folder of it)."""
    return _read_points(store, "", overwritten)


def verify_vault(store: Store, progress: Any = None) -> Report:
    """Verify a vault — or one ledger's folder of it, in S3 or synced to a directory: every
    check of `verify_source` over every export, each recovery point's objects read at the
    versions it pinned, and two more checks: `catalog` (each recovery point matches its
    export and its proof in every field they determine, and the points chain window to window)
    and `pins` (no newer version over a pinned object or a catalog object). An export no
    recovery point names (an interrupted or superseded backup) is verified all the same, and
    named. Without a catalog, `verify_source`."""
    overwritten: dict[str, str] = {}
    points, errors = _scan(store, overwritten)
    if not points and not errors:
        return verify_source(store, progress)
    ledgers = sorted({p.ledger_name for p in points})
    if len(ledgers) > 1:
        raise QldbDrError(
            f"{store.url} holds recovery points of several ledgers ({', '.join(ledgers)})",
            hint=f"verify one ledger at a time, e.g. {store.url.rstrip('/')}/{ledgers[0]}/",
        )
    reading = pinned_store(store, points)
    heads = {p.export_head for p in points}
    report = verify_source(reading, progress, heads=heads)
    check = Check("catalog", "recovery points match their exports and proofs, and chain window to window")
    for error in errors:
        check.fail(str(error))
    others = [ref.head for ref in discover(store) if ref.head not in heads]
    for head in others:
        check.warn(
            "export is not a recovery point (an interrupted or superseded backup); verified alone", location=head
        )
    if others:
        _merge(report, verify_source(store, progress, heads=set(others)))
    summaries = {s.location: s for s in report.exports}
    previous: RecoveryPoint | None = None
    for point in points:
        _check_point(reading, check, point, summaries.get(point.export_head), previous)
        previous = point
    check.summary = f"{check.checked} of {len(points)} recovery points match their exports and chain"
    report.checks.append(check)
    report.checks.append(_pins(reading, points, overwritten))
    return report


def _merge(report: Report, extra: Report) -> None:
    """The findings of exports verified apart (not recovery points) in the report's checks;
    continuity is not theirs to judge (an abandoned export may overlap the one that replaced it)."""
    for found in extra.checks:
        if found.name == "continuity":
            continue
        into = report.check(found.name)
        into.checked += found.checked
        into.failures += found.failures
        into.warnings += found.warnings
        into.findings = (into.findings + found.findings)[: max(len(into.findings), 20)]
    report.exports += extra.exports


def _pins(store: PinnedStore, points: list[RecoveryPoint], overwritten: dict[str, str]) -> Check:
    check = Check("pins", "every object is read at the version its recovery point pinned; none was written over")
    newer = "a newer version was written over a locked object: it is never read"
    for key, version in sorted(overwritten.items()):
        check.fail(f"catalog object: {newer}", location=store.describe(key), found=version)
    for point in points:
        where = {"export_id": point.recovery_point_id}
        if not point.pins:
            check.warn("the recovery point pins no object versions (recorded by an older qldb-dr)", **where)
            continue
        over = [k for k in point.pins if k in store.overwritten]
        for key in over:
            check.fail(
                newer,
                location=store.describe(key),
                expected=point.pins[key].version,
                found=store.overwritten[key],
                **where,
            )
        if not over:
            check.passed()
    check.summary = f"{check.checked} of {len(points)} recovery points read at their pinned versions"
    return check


def _check_point(
    store: Store, check: Check, point: RecoveryPoint, summary: ExportSummary | None, previous: RecoveryPoint | None
) -> None:
    """The recovery point against the export and proof it names: every field they determine."""
    where = {"export_id": point.recovery_point_id, "location": point.key(Vault(store, ""))}
    failures = check.failures
    if previous is None and point.previous is not None:
        check.fail(f"the first recovery point continues {point.previous}, which is not in the vault", **where)
    if previous is not None and (
        point.previous != previous.recovery_point_id or point.window_start != previous.window_end
    ):
        check.fail(
            "recovery points do not chain: a recovery point is missing or out of place",
            expected=f"previous {previous.recovery_point_id}, window from {iso(previous.window_end)}",
            found=f"previous {point.previous}, window from {iso(point.window_start)}",
            **where,
        )
    if summary is None:
        check.fail(f"recovery point {point.recovery_point_id}: its export is missing from the vault", **where)
        return
    ref = next((r for r in discover(store.scoped(point.export_head)) if r.head == point.export_head), None)
    export = None if ref is None else open_export(store, ref)
    if export is not None and export.completed is None:
        check.fail(f"recovery point {point.recovery_point_id}: its export has no completed manifest", **where)
        return
    started = export.started if export is not None else None
    proof = export.proof if export is not None else None
    recorded: list[tuple[str, Any, Any]] = [
        ("export id", point.recovery_point_id, summary.export_id),
        (
            "blocks",
            (point.blocks, _span(point.first_block, point.last_block)),
            (summary.blocks, _span(summary.first, summary.last)),
        ),
        ("last block hash", b64(point.last_block_hash), b64(summary.last_hash)),
        ("first block's previous hash", b64(point.first_previous_hash), b64(summary.first_previous_hash)),
        ("revisions", point.revisions, summary.revisions),
        ("tables", _tables(point.tables), _tables(_counts(summary))),
        ("strand", point.strand_id, None if summary.first is None else summary.first.strand_id),
        ("data objects", list(point.objects), [] if export is None else data_keys(store, point)),
        ("digest", b64(point.digest) or None, None if proof is None else b64(proof.digest)),
        (
            "digest tip",
            _address(point.digest_tip) if point.digest else None,
            None if proof is None else _address(proof.digest_tip),
        ),
    ]
    if summary.output_format is not None:
        recorded.append(("output format", point.output_format, summary.output_format))
    if started is not None:
        recorded += [
            ("ledger", point.ledger_name, started.ledger_name),
            (
                "window",
                (iso(point.window_start), iso(point.window_end)),
                (iso(started.inclusive_start_time), iso(started.exclusive_end_time)),
            ),
        ]
    for name, catalog_value, export_value in recorded:
        if catalog_value != export_value:
            check.fail(
                f"recovery point {point.recovery_point_id}: the catalog and the export disagree on the {name}",
                expected=f"{export_value} (the export)",
                found=f"{catalog_value} (the catalog)",
                **where,
            )
    if check.failures == failures:
        check.passed()


def _counts(summary: ExportSummary) -> dict[str, TableCounts]:
    return {
        name: TableCounts(n, len(summary.table_documents.get(name, ()))) for name, n in summary.table_revisions.items()
    }


def _tables(tables: dict[str, TableCounts]) -> list[tuple[str, int, int]]:
    return sorted((name, c.revisions, c.documents) for name, c in tables.items())


def _span(first: BlockAddress | None, last: BlockAddress | None) -> str:
    return "(none)" if first is None or last is None else f"{first.sequence_no}-{last.sequence_no}"

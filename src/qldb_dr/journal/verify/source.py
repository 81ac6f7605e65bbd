"""`verify_source`: open every export of a store, check that their manifests name one ledger,
read and check each export, run the checks across exports and summarise them in a `Report`."""

from __future__ import annotations

from collections.abc import Collection

from qldb_dr.checks import Status
from qldb_dr.errors import JournalFormatError, SourceNotFoundError
from qldb_dr.journal.export import Export, discover, open_export
from qldb_dr.journal.verify.exports import Progress, _Verifier
from qldb_dr.journal.verify.report import ExportSummary, Report
from qldb_dr.store import Store


def verify_source(store: Store, progress: Progress | None = None, heads: Collection[str] | None = None) -> Report:
    """Verify every export in the store (or only those whose head is in `heads`).
    Raises SourceNotFoundError when there is none."""
    refs = [r for r in discover(store) if heads is None or r.head in heads]
    if not refs:
        raise SourceNotFoundError(
            f"{store.url}: no QLDB exports here (no *.started.manifest or *.completed.manifest)",
            hint="point at the directory or s3:// prefix that holds the exports' manifests",
        )
    verifier = _Verifier(store, progress)
    manifest = verifier.checks["manifest"]
    exports: list[Export] = []
    for ref in refs:
        try:
            exports.append(open_export(store, ref))
        except JournalFormatError as exc:
            manifest.fail(exc.detail, location=exc.location)
    ledger_names = sorted({e.started.ledger_name for e in exports if e.started is not None})
    ledger_name = ledger_names[0] if len(ledger_names) == 1 else None
    if len(ledger_names) > 1:
        counts = {n: sum(1 for e in exports if e.started and e.started.ledger_name == n) for n in ledger_names}
        majority = max(ledger_names, key=lambda n: counts[n])
        ledger_name = majority
        for e in exports:
            if e.started is not None and e.started.ledger_name != majority:
                manifest.fail(
                    "manifest of another ledger",
                    export_id=e.export_id,
                    location=e.ref.started_key or e.ref.head,
                    expected=majority,
                    found=e.started.ledger_name,
                )
    summaries = [verifier.export(e) for e in exports]
    verifier.continuity(summaries)
    verifier.proofs(exports, summaries, ledger_name)
    unproven = verifier.redaction_matches(exports, summaries)
    _summarise(verifier, summaries)
    return Report(
        store.url,
        ledger_name,
        summaries,
        list(verifier.checks.values()),
        verifier.counts,
        unproven,
        set(verifier.redactions),
    )


def _summarise(verifier: _Verifier, summaries: list[ExportSummary]) -> None:
    c, n = verifier.checks, verifier.counts
    complete = [s for s in summaries if s.first is not None]
    firsts = [s.first.sequence_no for s in complete if s.first]
    lasts = [s.last.sequence_no for s in complete if s.last]
    span = f", blocks {min(firsts)}-{max(lasts)}" if firsts else ""
    c["manifest"].summary = f"{len(summaries)} exports, {sum(s.objects for s in summaries)} objects{span}"
    c["block-hashes"].summary = f"{c['block-hashes'].checked:,} of {n['blocks']:,} blocks verified"
    recomputable = n["revisions"] - n["systemRevisions"]
    c["revision-hashes"].summary = (
        f"{c['revision-hashes'].checked:,} of {recomputable:,} revisions verified "
        f"({n['deletedRevisions']:,} deletes, {n['redactedRevisions']:,} redacted); "
        f"{n['systemRevisions']:,} system revisions covered by the Merkle root only"
    )
    c["chain"].summary = f"{c['chain'].checked:,} of {n['blocks']:,} blocks linked"
    c["block-fields"].summary = f"{c['block-fields'].checked:,} of {n['blocks']:,} blocks agree with their revisions"
    c[
        "redactions"
    ].summary = (
        f"{c['redactions'].checked:,} of {n['redactedRevisions']:,} redacted revisions matched to their redaction"
    )
    joins = max(len(complete) - 1, 0)
    c["continuity"].summary = f"{c['continuity'].checked} of {joins} joins between exports verified"
    anchored = c["digest-proof"].checked
    read = sum(1 for s in summaries if s.complete)
    c["digest-proof"].summary = f"{anchored} of {read} exports anchored to a ledger digest"
    for check in c.values():
        if check.status is Status.OK and not check.checked:
            check.summary += " (nothing to check)"

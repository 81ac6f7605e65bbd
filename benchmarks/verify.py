"""Benchmark: journal verification throughput (revisions verified per second, one core).

    python -m benchmarks.verify [--documents 20000] [--versions 5] [--baseline-revisions 10000]

Generates (once, cached under benchmarks/.data/) an ION_BINARY export of the synthetic
vehicle-registration workload — by default 20,000 documents x 5 versions = 100,000 user
revisions plus deletes — then measures in the same run:

* qldb-dr:  `verify_source` over the whole export (all six checks, one process);
* baseline: the straightforward approach — `amazon.ion.simpleion` parses each data
  object, `ionhash` hashes metadata, data and transactionInfo of every block, and the
  block/entries/chain hashes are recomputed with the same dot and Merkle rules. It is
  run on the first objects until --baseline-revisions revisions (it is slow), and its
  rate is per revision like ours.

Prints both rates and the ratio. Times are wall clock on a noisy 2-core machine:
compare the ratio, not the seconds.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from amazon.ion import simpleion  # noqa: E402

from qldb_dr import ion  # noqa: E402
from qldb_dr.journal.export import discover, open_export  # noqa: E402
from qldb_dr.journal.hashing import dot, merkle_root  # noqa: E402
from qldb_dr.journal.models import OutputFormat  # noqa: E402
from qldb_dr.journal.synthetic import Workload, generate_journal, write_vault  # noqa: E402
from qldb_dr.journal.verify import verify_source  # noqa: E402
from qldb_dr.store.local import LocalStore  # noqa: E402

DATA = ROOT / "benchmarks" / ".data"


def build(documents: int, versions: int) -> tuple[LocalStore, int]:
    target = DATA / f"verify-{documents}x{versions}"
    marker = target / "READY"
    if not marker.exists():
        shutil.rmtree(target, ignore_errors=True)
        started = time.perf_counter()
        blocks = generate_journal(Workload(documents=documents, versions=versions, per_transaction=10, read_every=50))
        write_vault(
            LocalStore(target),
            blocks,
            ledger_name="bench",
            exports=1,
            output_format=OutputFormat.ION_BINARY,
            blocks_per_object=1000,
        )
        revisions = sum(len(b.revisions or ()) for b in blocks)
        marker.write_text(str(revisions))
        print(f"generated {len(blocks):,} blocks, {revisions:,} revisions in {time.perf_counter() - started:.1f}s")
    return LocalStore(target), int(marker.read_text())


def baseline(store: LocalStore, limit: int) -> tuple[int, float]:
    """simpleion + ionhash, revision by revision; returns (revisions, seconds)."""
    import ionhash  # noqa: F401  (patches ion_hash() onto simpleion's values)

    export = open_export(store, discover(store)[0])
    assert export.completed is not None
    revisions = 0
    started = time.perf_counter()
    previous = None
    for key in export.completed.keys:
        for block in simpleion.loads(store.read(export.store_key(key)), single_value=False):
            entries = list(block["entriesHashList"])
            assert merkle_root(entries) == block["entriesHash"]
            assert dot(block["entriesHash"], block["previousBlockHash"]) == block["blockHash"]
            if previous is not None:
                assert block["previousBlockHash"] == previous
            previous = block["blockHash"]
            assert block["transactionInfo"].ion_hash("SHA256") in entries
            hashes = []
            for revision in block.get("revisions") or ():
                hashes.append(revision["hash"])
                if "metadata" not in revision:
                    continue
                data = revision.get("data")
                data_hash = data.ion_hash("SHA256") if data is not None else revision.get("dataHash", b"")
                assert dot(revision["metadata"].ion_hash("SHA256"), data_hash) == revision["hash"]
                revisions += 1
            if hashes:
                assert merkle_root(hashes) in entries
        if revisions >= limit:
            break
    return revisions, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--documents", type=int, default=20_000)
    parser.add_argument("--versions", type=int, default=5)
    parser.add_argument("--baseline-revisions", type=int, default=10_000)
    args = parser.parse_args()
    store, total = build(args.documents, args.versions)

    started = time.perf_counter()
    report = verify_source(store)
    ours_seconds = time.perf_counter() - started
    assert report.status.name == "OK", [c.to_json() for c in report.checks if c.status.name != "OK"]
    verified = report.check("revision-hashes").checked
    ours = verified / ours_seconds

    base_revisions, base_seconds = baseline(store, args.baseline_revisions)
    base = base_revisions / base_seconds

    print(f"export: {report.counts['blocks']:,} blocks, {total:,} revisions (ION_BINARY)")
    print(f"qldb-dr verify : {verified:>9,} revisions in {ours_seconds:7.2f}s = {ours:9,.0f} revisions/s")
    print(
        f"baseline       : {base_revisions:>9,} revisions in {base_seconds:7.2f}s = {base:9,.0f} revisions/s"
        "  (simpleion + ionhash)"
    )
    print(f"ratio          : {ours / base:.1f}x the baseline")
    print(f"Ion modules    : {'compiled (mypyc)' if ion.COMPILED else 'Python'} (QLDB_DR_ION=pure: Python)")


if __name__ == "__main__":
    main()

"""The expected target holds the state at the cut, not the journal: a superseded version's data
is let go (its hash kept for history), and a latest restore's model keeps only each document's
last version — with the same live state, version numbers and chains either way. Built from the
summaries Partition writes of each object, it is the model built from the journal's blocks."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qldb_dr.ion import ion_hash
from qldb_dr.journal.models import Block
from qldb_dr.journal.synthetic import Workload, generate_journal
from qldb_dr.restore import expected

workloads = st.builds(
    Workload,
    documents=st.integers(1, 40),
    versions=st.integers(1, 5),
    delete_every=st.integers(1, 9),
    per_transaction=st.integers(1, 6),
    seed=st.integers(0, 2**16),
)


@settings(max_examples=25, deadline=None)
@given(workloads, st.data())
def test_latest_model_keeps_last_versions_and_the_same_state(workload: Workload, data: st.DataObject) -> None:
    blocks = generate_journal(workload)
    cut = data.draw(st.integers(0, blocks[-1].sequence_no), label="cut")
    full = expected.build(blocks, cut)
    latest = expected.build(blocks, cut, versions=False)
    assert latest.live() == full.live()
    assert {d: doc.last for d, doc in latest.documents.items()} == {d: doc.last for d, doc in full.documents.items()}
    assert [d.source_id for d in latest.placeholders()] == [d.source_id for d in full.placeholders()]
    assert all(len(doc.versions) == 1 for doc in latest.documents.values())
    for doc in full.documents.values():
        assert all(v.data is None for v in doc.versions[:-1]), "a superseded version kept its data"
        assert all(v.digest() is not None for v in doc.versions if v.kind != expected.DELETED)


def test_history_chains_hash_what_the_journal_held() -> None:
    blocks = generate_journal(Workload(documents=12, versions=4, delete_every=5))
    full = expected.build(blocks, blocks[-1].sequence_no)
    by_version = {
        (r.document_id, int(r.version or 0)): ion_hash(r.data)
        for b in blocks
        for r in b.revisions or ()
        if r.metadata is not None and r.data is not None
    }
    chains = {d: c for per_table in full.chains().values() for d, c in per_table.items()}
    users = [(d, v, h) for d, chain in chains.items() for v, k, h in chain if k == expected.USER]
    assert users and all(by_version[(d, v)] == h for d, v, h in users if (d, v) in by_version)
    latest = expected.build(blocks, blocks[-1].sequence_no, versions=False)
    with pytest.raises(ValueError, match="last version"):  # chains a latest model does not hold
        latest.chains()


def _model(target: expected.ExpectedTarget) -> object:
    tables = {n: (t.active, t.indexes, t.indexes_dropped, sorted(t.ids)) for n, t in target.tables.items()}
    documents = {
        d: (doc.table.name, [(v.version, v.kind, v.digest(), v.block) for v in doc.versions])
        for d, doc in target.documents.items()
    }
    return tables, documents, target.notes, target.latest()


def _summaries(objects: list[list[Block]], cut: int, versions: bool) -> list[bytes]:
    written = []
    for blocks in objects:
        summary = expected.Summary(versions)
        for block in blocks:
            if block.sequence_no <= cut:
                summary.add(block)
        written.append(summary.to_ion())
    return written


@settings(max_examples=30, deadline=None)
@given(workloads, st.data())
def test_model_from_summaries_is_the_model_from_blocks(workload: Workload, data: st.DataObject) -> None:
    blocks = generate_journal(workload)
    last = blocks[-1].sequence_no
    cut = data.draw(st.integers(0, last), label="cut")
    versions = data.draw(st.booleans(), label="versions")
    bounds = sorted(data.draw(st.sets(st.integers(1, len(blocks) - 1), max_size=6), label="object bounds"))
    edges = [0, *bounds, len(blocks)]
    objects = [blocks[a:b] for a, b in itertools.pairwise(edges)]
    found = expected.from_summaries(_summaries(objects, cut, versions), cut, 0, versions=versions)
    assert found is not None
    want = expected.build(blocks, cut, versions=versions)
    assert _model(found) == _model(want)
    if versions:
        assert found.chains() == want.chains()


def test_summaries_with_a_gap_or_short_of_the_cut_give_no_model() -> None:
    blocks = generate_journal(Workload(documents=20, versions=3))
    last = blocks[-1].sequence_no
    objects = [blocks[:10], blocks[10:20], blocks[20:]]
    written = _summaries(objects, last, versions=False)
    assert expected.from_summaries(written, last, 0, versions=False) is not None
    assert expected.from_summaries([written[0], written[2]], last, 0, versions=False) is None, "a missing object"
    assert expected.from_summaries(written[:2], last, 0, versions=False) is None, "short of the cut"
    assert expected.from_summaries(written[1:], last, 0, versions=False) is None, "not from the first block"


def test_a_model_from_summaries_refuses_live_data_it_does_not_hold() -> None:
    """Summaries carry each version's hash, not its data: live() must say so, not return None
    where a document's data should be (it did)."""
    blocks = generate_journal(Workload(documents=6, versions=2))
    last = blocks[-1].sequence_no
    found = expected.from_summaries(_summaries([blocks], last, False), last, 0, versions=False)
    assert found is not None and found.latest() == expected.build(blocks, last, versions=False).latest()
    with pytest.raises(ValueError, match=r"latest\(\)"):  # data a model built from summaries does not hold
        found.live()

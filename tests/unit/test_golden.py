"""Real QLDB-produced data (../shared/qldb/golden, read in place) verifies; the known bad samples do not."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from amazon.ion import simpleion

from qldb_dr.checks import Status
from qldb_dr.journal.hashing import commit_digest, fold, revision_hash, statement_hash
from qldb_dr.journal.models import Block, Revision, RevisionKind
from qldb_dr.journal.reader import address_from_ion, block_from_ion, revision_from_ion
from qldb_dr.journal.verify import verify_blocks

pytestmark = pytest.mark.golden


def _json(golden: Path, name: str) -> Any:
    return json.loads((golden / name).read_text())


def _records(golden: Path, name: str) -> list[Any]:
    return list(simpleion.loads((golden / name).read_text(), single_value=False))


def _assert_all_ok(blocks: list[Block]) -> None:
    for check in verify_blocks(blocks):
        assert check.status is Status.OK, [f.describe() for f in check.findings]
        assert check.checked > 0 or check.name == "revision-hashes"


# -- AWS CLI examples: block 100, its revision, both proofs, the digest -----------------------------


def test_golden_getblock_block_all_hashes_verify(golden: Path) -> None:
    response = _json(golden, "awscli_get_block_example.json")
    block = block_from_ion(simpleion.loads(response["Block"]["IonText"]), "get-block", 0)
    _assert_all_ok([block])
    assert block.revisions is not None and block.revisions[0].kind is RevisionKind.USER
    statement = block.transaction_info.statements[0] if block.transaction_info else None
    assert statement is not None and statement_hash(statement.statement) == statement.digest


def test_golden_getblock_proof_folds_to_getdigest(golden: Path) -> None:
    response = _json(golden, "awscli_get_block_example.json")
    digest = _json(golden, "awscli_get_digest_example.json")
    block = block_from_ion(simpleion.loads(response["Block"]["IonText"]), "get-block", 0)
    proof = list(simpleion.loads(response["Proof"]["IonText"]))
    assert fold(proof, block.block_hash) == base64.b64decode(digest["Digest"])
    assert address_from_ion(digest["DigestTipAddress"]["IonText"]).sequence_no == 123


def test_golden_getrevision_proof_folds_to_getdigest(golden: Path) -> None:
    response = _json(golden, "awscli_get_revision_example.json")
    digest = _json(golden, "awscli_get_digest_example.json")
    revision = revision_from_ion(simpleion.loads(response["Revision"]["IonText"]), "get-revision")
    assert revision_hash(revision.metadata, revision.data) == revision.hash
    proof = list(simpleion.loads(response["Proof"]["IonText"]))
    assert fold(proof, revision.hash) == base64.b64decode(digest["Digest"])


def test_golden_getrevision_proof_other_leaf_does_not_fold(golden: Path) -> None:
    response = _json(golden, "awscli_get_revision_example.json")
    digest = _json(golden, "awscli_get_digest_example.json")
    proof = list(simpleion.loads(response["Proof"]["IonText"]))
    other = revision_hash({"id": "x", "version": 0}, {"a": 1})
    assert fold(proof, other) != base64.b64decode(digest["Digest"])


# -- Kinesis stream records: BLOCK_SUMMARY blocks, REVISION_DETAILS revisions --------------------------


def _stream(golden: Path) -> tuple[list[Block], list[Revision]]:
    blocks, revisions = [], []
    for record in _records(golden, "decoded_stream_records.ion"):
        if record["recordType"] == "BLOCK_SUMMARY":
            blocks.append(block_from_ion(record["payload"], "stream", len(blocks)))
        elif record["recordType"] == "REVISION_DETAILS":
            revisions.append(revision_from_ion(record["payload"]["revision"], "stream"))
    return blocks, revisions


def test_golden_stream_block_summaries_verify(golden: Path) -> None:
    blocks, _ = _stream(golden)
    assert len(blocks) == 4
    for block in blocks:  # four blocks of three ledgers: verified one by one, not chained
        _assert_all_ok([block])


def test_golden_stream_revisions_verify_and_belong_to_their_block(golden: Path) -> None:
    blocks, revisions = _stream(golden)
    assert len(revisions) == 5
    summaries = {r.hash for b in blocks for r in b.revisions or ()}
    for revision in revisions:
        assert revision_hash(revision.metadata, revision.data) == revision.hash
        assert revision.hash in summaries


def _parameters(statement: str, revisions: list[Revision]) -> list[Any]:
    """The parameters the demo applications sent, rebuilt from what they wrote."""
    first = next(r for r in revisions if r.version == 0)
    data = first.data
    if statement.startswith("SELECT"):
        return [data["Email"]]
    if statement == "INSERT INTO BicycleLicence ?":  # a JS array: one list parameter
        return [[{k: v for k, v in data.items() if k not in ("GUID", "LicenceId")}]]
    if statement == "INSERT INTO attestations ?":  # a single struct parameter
        return [data]
    if statement.startswith("UPDATE"):
        where = statement.rsplit("b.", 1)[1].split(" ", 1)[0]
        return [data["GUID"], data["LicenceId"], data[where]]
    raise AssertionError(statement)


def test_golden_parameterised_statement_digests_recompute(golden: Path) -> None:
    blocks, revisions = _stream(golden)
    checked = 0
    for block in blocks:
        mine = [r for r in revisions if r.address == block.address]
        assert block.transaction_info is not None
        for statement in block.transaction_info.statements:
            if "?" not in statement.statement:
                continue
            params = _parameters(statement.statement, mine)
            assert statement_hash(statement.statement, params) == statement.digest, statement.statement
            checked += 1
    assert checked == 10


def test_golden_commit_digests_match_derived_values(golden: Path) -> None:
    blocks, _ = _stream(golden)
    by_tx = {b.transaction_id: b for b in blocks}
    derived = _json(golden, "derived_commit_digests.json")["commit_digests_computed_from_blocks"]
    assert len(derived) == 4
    for entry in derived:
        info = by_tx[entry["transactionId"]].transaction_info
        assert info is not None
        digest = commit_digest(entry["transactionId"], [s.digest for s in info.statements])
        assert base64.b64encode(digest).decode() == entry["commitDigest_b64"]


def test_golden_dmv_fixture_restored_verifies_published_does_not(golden: Path) -> None:
    (summary,) = _records(golden, "streams_dmv_fixture_BLOCK_SUMMARY.ion")
    block = block_from_ion(summary["payload"], "dmv", 0)
    _assert_all_ok([block])
    (restored,) = _records(golden, "streams_dmv_fixture_REVISION_DETAILS_restored.ion")
    (published,) = _records(golden, "streams_dmv_fixture_REVISION_DETAILS_as_published.ion")
    good = revision_from_ion(restored["payload"]["revision"], "restored")
    bad = revision_from_ion(published["payload"]["revision"], "published")
    assert revision_hash(good.metadata, good.data) == good.hash
    assert revision_hash(bad.metadata, bad.data) != bad.hash


# -- receipts and revisions from applications ----------------------------------------------------------


def test_golden_receipts_fold_to_digest_except_edited_sample(golden: Path) -> None:
    results = []
    for entry in _json(golden, "receipts_revisionhash_proof_digest.json"):
        receipt = entry["receipt"]
        proof = list(simpleion.loads(receipt["Proof"]["IonText"]))
        leaf = base64.b64decode(receipt["RevisionHash"])
        digest = base64.b64decode(receipt["LedgerDigest"]["Digest"])
        results.append((entry["source"]["repo"], fold(proof, leaf) == digest))
    assert sum(ok for _, ok in results) == 6
    assert [repo for repo, ok in results if not ok] == ["aws-samples/amazon-qldb-kvs-nodejs"]


def test_golden_revisions_with_data_verify_except_edited_samples(golden: Path) -> None:
    outcomes = []
    for entry in _json(golden, "revisions_with_data.json"):
        value = simpleion.loads(entry["ion"])
        verifies = revision_hash(value["metadata"], value["data"]) == value["hash"]
        outcomes.append((verifies, "NOT verify" in entry.get("note", "")))
    assert sum(ok for ok, _ in outcomes) == 6
    assert all(ok != expected_bad for ok, expected_bad in outcomes)


def test_golden_kvs_revision_response_revision_verifies(golden: Path) -> None:
    response = _json(golden, "kvs_nodejs_sampleRevisionResponse.json")
    revision = revision_from_ion(simpleion.loads(response["Revision"]["IonText"]), "kvs")
    assert revision_hash(revision.metadata, revision.data) == revision.hash

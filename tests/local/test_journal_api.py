"""GetDigest, GetBlock and GetRevision: every block verifies, every proof folds to the digest."""

from __future__ import annotations

import base64
import random
from typing import Any

import pytest
from amazon.ion import simpleion

from qldb_dr.checks import Status
from qldb_dr.journal.hashing import fold
from qldb_dr.journal.reader import block_from_ion, revision_from_ion
from qldb_dr.journal.verify import verify_blocks
from tests.local.conftest import Running


def _address(sequence: int, strand: str) -> dict[str, str]:
    return {"IonText": simpleion.dumps({"strandId": strand, "sequenceNo": sequence}, binary=False)}


@pytest.fixture
def busy(local: Running, ledger: str) -> tuple[Running, str, list[str]]:
    driver = local.driver(ledger)
    driver.execute_lambda(lambda t: t.execute_statement("CREATE TABLE Item"))
    ids: list[str] = []
    for i in range(60):
        (doc,) = driver.execute_lambda(
            lambda t, i=i: list(
                t.execute_statement("INSERT INTO Item ?", [{"n": i, "k": k} for k in range(1 + i % 3)])
            )[:1]
        )
        ids.append(doc["documentId"])
        if i % 4 == 0:
            driver.execute_lambda(
                lambda t, d=doc["documentId"]: t.execute_statement(
                    "UPDATE Item AS x BY xid SET x.n = x.n + 100 WHERE xid = ?", d
                )
            )
        if i % 10 == 9:
            driver.execute_lambda(lambda t: list(t.execute_statement("SELECT * FROM Item WHERE n = 3")))
    return local, ledger, ids


def _digest(qldb: Any, ledger: str) -> tuple[bytes, Any]:
    response = qldb.get_digest(Name=ledger)
    return response["Digest"], simpleion.loads(response["DigestTipAddress"]["IonText"])


def test_journal_read_back_block_by_block_verifies(busy: tuple[Running, str, list[str]]) -> None:
    local, ledger, _ = busy
    qldb = local.client("qldb")
    _, tip = _digest(qldb, ledger)
    blocks = [
        block_from_ion(
            simpleion.loads(
                qldb.get_block(Name=ledger, BlockAddress=_address(seq, tip["strandId"]))["Block"]["IonText"]
            ),
            "GetBlock",
            seq,
        )
        for seq in range(tip["sequenceNo"] + 1)
    ]
    assert len(blocks) > 80
    for check in verify_blocks(blocks):
        assert check.status is Status.OK, [f.describe() for f in check.findings]
        assert check.checked > 0


def test_block_proofs_fold_to_digest(busy: tuple[Running, str, list[str]]) -> None:
    local, ledger, _ = busy
    qldb = local.client("qldb")
    digest, tip = _digest(qldb, ledger)
    strand = tip["strandId"]
    for seq in random.Random(7).sample(range(tip["sequenceNo"] + 1), 25):
        response = qldb.get_block(
            Name=ledger, BlockAddress=_address(seq, strand), DigestTipAddress=_address(tip["sequenceNo"], strand)
        )
        block = block_from_ion(simpleion.loads(response["Block"]["IonText"]), "GetBlock", 0)
        proof = list(simpleion.loads(response["Proof"]["IonText"]))
        assert fold(proof, block.block_hash) == digest


def test_revision_proofs_fold_and_do_not_verify_another(busy: tuple[Running, str, list[str]]) -> None:
    local, ledger, _ = busy
    qldb = local.client("qldb")
    digest, tip = _digest(qldb, ledger)
    driver = local.driver(ledger)
    committed = driver.execute_lambda(
        lambda t: list(t.execute_statement("SELECT c.blockAddress, c.metadata.id AS id FROM _ql_committed_Item AS c"))
    )
    hashes = []
    for row in random.Random(3).sample(committed, 15):
        response = qldb.get_revision(
            Name=ledger,
            BlockAddress={"IonText": simpleion.dumps(row["blockAddress"], binary=False)},
            DocumentId=row["id"],
            DigestTipAddress=_address(tip["sequenceNo"], tip["strandId"]),
        )
        revision = revision_from_ion(simpleion.loads(response["Revision"]["IonText"]), "GetRevision")
        proof = list(simpleion.loads(response["Proof"]["IonText"]))
        assert fold(proof, revision.hash) == digest
        hashes.append((revision.hash, proof))
    (_, first_proof), (second_hash, _) = hashes[0], hashes[1]
    assert fold(first_proof, second_hash) != digest


def test_digest_stable_as_tip_moves_for_old_tips(busy: tuple[Running, str, list[str]]) -> None:
    local, ledger, _ = busy
    qldb = local.client("qldb")
    digest, tip = _digest(qldb, ledger)
    local.driver(ledger).execute_lambda(lambda t: t.execute_statement("INSERT INTO Item ?", {"n": -1}))
    later, later_tip = _digest(qldb, ledger)
    assert later_tip["sequenceNo"] == tip["sequenceNo"] + 1 and later != digest
    response = qldb.get_block(
        Name=ledger,
        BlockAddress=_address(3, tip["strandId"]),
        DigestTipAddress=_address(tip["sequenceNo"], tip["strandId"]),
    )
    block = block_from_ion(simpleion.loads(response["Block"]["IonText"]), "GetBlock", 0)
    assert fold(list(simpleion.loads(response["Proof"]["IonText"])), block.block_hash) == digest


def test_tip_beyond_ledger_and_foreign_document_rejected(busy: tuple[Running, str, list[str]]) -> None:
    local, ledger, _ = busy
    qldb = local.client("qldb")
    _, tip = _digest(qldb, ledger)
    with pytest.raises(qldb.exceptions.InvalidParameterException):
        qldb.get_block(
            Name=ledger,
            BlockAddress=_address(1, tip["strandId"]),
            DigestTipAddress=_address(tip["sequenceNo"] + 5, tip["strandId"]),
        )
    with pytest.raises(qldb.exceptions.InvalidParameterException):
        qldb.get_block(Name=ledger, BlockAddress={"IonText": "{strandId: 5}"})
    with pytest.raises(qldb.exceptions.InvalidParameterException):
        qldb.get_revision(Name=ledger, BlockAddress=_address(2, tip["strandId"]), DocumentId="A" * 22)
    with pytest.raises(qldb.exceptions.ResourceNotFoundException):
        qldb.get_digest(Name="no-such-ledger")


def test_digest_base64_in_json_bytes_in_boto3(busy: tuple[Running, str, list[str]]) -> None:
    local, ledger, _ = busy
    digest, _ = _digest(local.client("qldb"), ledger)
    assert isinstance(digest, bytes) and len(digest) == 32 and base64.b64encode(digest)

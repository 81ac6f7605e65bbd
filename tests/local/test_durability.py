"""Durability: a restart keeps everything; kill -9 under write load loses no acknowledged commit."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Any

from amazon.ion import simpleion
from pyqldb.driver.qldb_driver import QldbDriver

from qldb_dr.checks import Status
from qldb_dr.journal.reader import block_from_ion
from qldb_dr.journal.verify import verify_blocks
from tests.local.conftest import Running, serve_in_process, serve_process


def _journal_ok(running: Running, ledger: str) -> tuple[bytes, int]:
    qldb = running.client("qldb")
    response = qldb.get_digest(Name=ledger)
    tip = simpleion.loads(response["DigestTipAddress"]["IonText"])
    blocks = []
    for seq in range(tip["sequenceNo"] + 1):
        address = {"IonText": simpleion.dumps({"strandId": tip["strandId"], "sequenceNo": seq}, binary=False)}
        blocks.append(
            block_from_ion(
                simpleion.loads(qldb.get_block(Name=ledger, BlockAddress=address)["Block"]["IonText"]), "GetBlock", seq
            )
        )
    for check in verify_blocks(blocks):
        assert check.status is Status.OK, [f.describe() for f in check.findings]
    return response["Digest"], tip["sequenceNo"]


def test_restart_same_data_dir_same_documents_and_last_block(tmp_path: Path) -> None:
    first = serve_in_process(tmp_path)
    first.create_ledger("keep")
    driver = first.driver("keep")
    driver.execute_lambda(lambda t: t.execute_statement("CREATE TABLE T"))
    driver.execute_lambda(lambda t: t.execute_statement("INSERT INTO T ?", [{"n": i} for i in range(10)]))
    before = _journal_ok(first, "keep")
    first.stop()
    second = serve_in_process(tmp_path)
    try:
        assert _journal_ok(second, "keep") == before
        rows = second.driver("keep").execute_lambda(
            lambda t: sorted(r["n"] for r in t.execute_statement("SELECT n FROM T"))
        )
        assert rows == list(range(10))
        assert second.client("qldb").describe_ledger(Name="keep")["State"] == "ACTIVE"
    finally:
        second.stop()


ROUNDS = int(os.environ.get("QLDB_DR_FUZZ_EXAMPLES", "0")) or 3


def _load_then_kill(tmp_path: Path, round_: int) -> set[int]:
    """Four writers inserting as fast as they can; SIGKILL once 60 commits are acknowledged.
    Returns the values whose commit was acknowledged."""
    running = serve_process(tmp_path)
    acknowledged: list[int] = []
    lock = threading.Lock()
    enough = threading.Event()
    try:
        if round_ == 0:
            running.create_ledger("crash")
            setup = QldbDriver("crash", endpoint_url=running.url, region_name="us-east-1")
            setup.execute_lambda(lambda t: t.execute_statement("CREATE TABLE W"))
            setup.close()

        def writer(n: int) -> None:
            driver = QldbDriver("crash", endpoint_url=running.url, region_name="us-east-1")
            i = 0
            try:
                while True:
                    value = round_ * 100_000_000 + n * 1_000_000 + i
                    driver.execute_lambda(lambda t, v=value: t.execute_statement("INSERT INTO W ?", {"v": v}))
                    with lock:
                        acknowledged.append(value)
                        if len(acknowledged) >= 60:
                            enough.set()
                    i += 1
            except Exception:  # the server died under us: expected
                return

        threads = [threading.Thread(target=writer, args=(n,), daemon=True) for n in range(4)]
        for thread in threads:
            thread.start()
        assert enough.wait(timeout=120), "the write load never got going"
        assert running.process is not None
        os.kill(running.process.pid, signal.SIGKILL)
        running.process.wait(timeout=10)
        for thread in threads:
            thread.join(timeout=60)
        with lock:
            return set(acknowledged)
    finally:
        running.stop()


def test_kill_9_during_concurrent_writes_repeatedly_keeps_every_acknowledged_commit(tmp_path: Path) -> None:
    """SIGKILL under four concurrent writers, again and again on the same data directory: every
    acknowledged commit is there after each restart, at most one in-flight commit per writer
    besides, and the journal verifies block by block."""
    promised: set[int] = set()
    for round_ in range(ROUNDS):
        promised |= _load_then_kill(tmp_path, round_)
    restarted = serve_process(tmp_path)
    try:
        _journal_ok(restarted, "crash")
        driver = QldbDriver("crash", endpoint_url=restarted.url, region_name="us-east-1")
        stored: Any = driver.execute_lambda(lambda t: {r["v"] for r in t.execute_statement("SELECT v FROM W")})
        driver.close()
        assert promised <= stored, f"{len(promised - stored)} acknowledged commits lost"
        assert len(stored) - len(promised) <= 4 * ROUNDS  # at most one in-flight commit per writer per kill
        print(f"{ROUNDS} kills: {len(promised)} acknowledged commits, all present; {len(stored) - len(promised)} more")
    finally:
        restarted.stop()


def test_sigterm_stops_endpoint_cleanly(tmp_path: Path) -> None:
    running = serve_process(tmp_path)
    assert running.process is not None
    running.process.send_signal(signal.SIGTERM)
    out, err = running.process.communicate(timeout=20)
    assert running.process.returncode == 0, err
    assert "stopped" in out and "Traceback" not in err

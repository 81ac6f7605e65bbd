"""Faults during a restore, through the real workflow on the local endpoint: a replay task that
fails at a random batch, the target ledger deleted mid-restore, the endpoint killed with
SIGKILL mid-restore and started again. Each time `restore retry` — or a fresh `restore start`
where that is what a user would do — ends with the target exactly the source: not one
revision lost, not one duplicated."""

from __future__ import annotations

import io
import itertools
import os
import random
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyqldb.driver.qldb_driver import QldbDriver

from qldb_dr.cli.main import Environment, main
from qldb_dr.ion import ion_hash
from qldb_dr.local.aws.executor import set_time_scale, time_scale
from qldb_dr.local.deploy import Deployment, deploy
from qldb_dr.restore.replay import Replayer
from tests.backup.conftest import write
from tests.local.conftest import Running, serve_process
from tests.restore.conftest import populate

SEEDS = range(int(os.environ.get("QLDB_DR_FUZZ_EXAMPLES", "0")) or 2)
TABLES = ("Vehicle", "Typed")


def run(*argv: str) -> tuple[int, str, str]:
    env = Environment(stdout=io.StringIO(), stderr=io.StringIO())
    code = main(list(argv), env)
    return code, env.stdout.getvalue(), env.stderr.getvalue()  # type: ignore[attr-defined]


def contents(driver: QldbDriver) -> dict[str, Counter[bytes]]:
    """Each table's documents as a multiset of Ion hashes: a lost or doubled one shows."""
    return {
        t: Counter(
            ion_hash(d)
            for d in driver.execute_lambda(lambda x, t=t: list(x.execute_statement(f"SELECT VALUE d FROM {t} AS d")))
        )
        for t in TABLES
    }


def _wait_dr_catalog(running: Running, deployment: Deployment, count: int) -> None:
    s3 = running.client("s3", deployment.dr_region)
    deadline = time.monotonic() + 60
    while True:
        keys = s3.list_objects_v2(Bucket=deployment.buckets[deployment.dr_region], Prefix="orders/catalog/").get(
            "Contents", []
        )
        if len(keys) >= count:
            return
        assert time.monotonic() < deadline, "the recovery point never reached the DR vault"
        time.sleep(0.05)


@pytest.fixture
def deployed(aws: Running) -> Iterator[tuple[Running, QldbDriver, Deployment]]:
    before = time_scale()
    set_time_scale(0.01)
    try:
        aws.create_ledger("orders")
        driver = aws.driver("orders")
        populate(driver)
        deployment = deploy(aws.url)
        code, out, err = run("backup", "run", "--ledger", "orders", "--settle-seconds", "0")
        assert code == 0, out + err
        _wait_dr_catalog(aws, deployment, 1)
        yield aws, driver, deployment
    finally:
        set_time_scale(before)


START = ("restore", "start", "--source-ledger", "orders", "--region", "us-west-2", "--partitions", "4")


class _Injected(Exception):
    """A failure injected into one replay transaction."""


@pytest.mark.lambda_inline  # patches or reads the handler in this process
@pytest.mark.parametrize("seed", SEEDS)
def test_replay_failing_at_a_random_batch_then_retry_gives_the_source_exactly(
    deployed: tuple[Running, QldbDriver, Deployment], monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    running, driver, _ = deployed
    fail_at = random.Random(seed).randrange(4)  # every one of the 4 partitions writes at least once
    calls = itertools.count()
    original = Replayer._transaction

    def flaky(self: Replayer, *args: Any) -> None:
        if next(calls) == fail_at:
            raise _Injected(f"transaction {fail_at}")
        original(self, *args)

    monkeypatch.setattr(Replayer, "_transaction", flaky)
    code, out, _ = run(*START, "--target-ledger", f"flaky-{seed}")
    monkeypatch.setattr(Replayer, "_transaction", original)
    assert code == 1 and "✗ Replay" in out, out
    restore_id = out.split()[1].rstrip(":")
    code, out, err = run("restore", "retry", restore_id)  # no --region: found where it ran
    assert code == 0, out + err
    assert contents(running.driver(f"flaky-{seed}", region="us-west-2")) == contents(driver)


@pytest.mark.lambda_inline  # patches or reads the handler in this process
def test_target_deleted_mid_restore_then_retry_and_a_fresh_start_give_the_source_exactly(
    deployed: tuple[Running, QldbDriver, Deployment], monkeypatch: pytest.MonkeyPatch
) -> None:
    running, driver, _ = deployed
    qldb = running.client("qldb", "us-west-2")
    calls = itertools.count()
    original = Replayer._transaction

    def deleting(self: Replayer, *args: Any) -> None:
        if next(calls) == 3:  # the target vanishes under the restore, between two batches
            qldb.update_ledger(Name="vanishing", DeletionProtection=False)
            qldb.delete_ledger(Name="vanishing")
        original(self, *args)

    monkeypatch.setattr(Replayer, "_transaction", deleting)
    code, out, _ = run(*START, "--target-ledger", "vanishing")
    monkeypatch.setattr(Replayer, "_transaction", original)
    print(out)
    assert code == 1, out
    restore_id = out.split()[1].rstrip(":")
    code, out, err = run("restore", "retry", restore_id, "--region", "us-west-2")
    assert code == 0, out + err
    assert contents(running.driver("vanishing", region="us-west-2")) == contents(driver)
    code, out, err = run(*START, "--target-ledger", "vanishing")  # and again, into the same target
    assert code == 0, out + err
    assert contents(running.driver("vanishing", region="us-west-2")) == contents(driver)


def test_endpoint_killed_mid_restore_then_a_fresh_start_gives_the_source_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ledgers survive a SIGKILL (SQLite); the endpoint's S3 and Step Functions do not — so
    after the restart the user backs up again and starts the restore again, into the same
    target, half written: the version guard applies only what is missing."""
    data = tmp_path / "endpoint"
    monkeypatch.setenv("QLDB_DR_LOCAL_TIME_SCALE", "0.01")  # the endpoints' Wait states and retries
    first = serve_process(data)
    env = {"AWS_ENDPOINT_URL": first.url}
    try:
        with pytest.MonkeyPatch.context() as patch:
            for name, value in env.items():
                patch.setenv(name, value)
            first.create_ledger("orders")
            source = first.driver("orders")
            populate(source)
            write(source, 120, start=5000)
            code, out, err = run("backup", "run", "--ledger", "orders", "--settle-seconds", "0")
            assert code == 0, out + err
            # Read before the restore starts, so that nothing stands between its first write
            # seen and the kill (read after it, the restore could finish in between).
            expected = contents(source)
            code, out, err = run(*START, "--target-ledger", "crashed", "--no-wait", "--max-concurrency", "1")
            assert code == 0, out + err
            target = first.driver("crashed", region="us-west-2")
            deadline = time.monotonic() + 60
            while True:  # until the replay has written part of the target
                try:
                    written = target.execute_lambda(
                        lambda t: list(t.execute_statement("SELECT COUNT(*) AS n FROM Vehicle"))
                    )[0]["n"]
                except Exception:
                    written = 0
                if written > 0:
                    break
                assert time.monotonic() < deadline, "the restore never started writing"
                time.sleep(0.02)
            assert first.process is not None
            os.kill(first.process.pid, signal.SIGKILL)
            first.process.wait(timeout=10)
            first.drivers.clear()  # their sessions died with the endpoint
    finally:
        first.stop()
    second = serve_process(data)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("AWS_ENDPOINT_URL", second.url)
            partial = contents(second.driver("crashed", region="us-west-2"))
            assert sum(partial["Vehicle"].values()) < sum(expected["Vehicle"].values())  # killed half way
            code, out, err = run("backup", "run", "--ledger", "orders", "--settle-seconds", "0")
            assert code == 0, out + err
            code, out, err = run(*START, "--target-ledger", "crashed")
            assert code == 0, out + err
            assert contents(second.driver("crashed", region="us-west-2")) == expected
    finally:
        second.stop()

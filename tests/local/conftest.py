"""The local endpoint for tests: in-process (fast) or as a real `qldb-dr local up` process."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from pyqldb.config.retry_config import RetryConfig
from pyqldb.driver.qldb_driver import QldbDriver

from qldb_dr.local.aws import environments, lambdas
from qldb_dr.local.aws.moto_app import moto_app
from qldb_dr.local.ledger.registry import Registry
from qldb_dr.local.server.app import Endpoint
from qldb_dr.local.server.serve import start
from qldb_dr.local.server.session import Limits


@dataclass
class Running:
    """An endpoint serving on 127.0.0.1:port over data_dir."""

    port: int
    data_dir: Path
    endpoint: Endpoint | None = field(default=None, repr=False)
    server: Any = field(default=None, repr=False)
    process: subprocess.Popen[str] | None = field(default=None, repr=False)
    drivers: list[QldbDriver] = field(default_factory=list, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, service: str, region: str = "us-east-1") -> Any:
        return boto3.client(service, region_name=region, endpoint_url=self.url)

    def driver(self, ledger: str, retries: int = 4, region: str = "us-east-1") -> QldbDriver:
        driver = QldbDriver(
            ledger, region_name=region, endpoint_url=self.url, retry_config=RetryConfig(retry_limit=retries)
        )
        self.drivers.append(driver)
        return driver

    def create_ledger(self, name: str, region: str = "us-east-1") -> str:
        """Create a ledger and wait until it is ACTIVE (as a QLDB client must)."""
        qldb = self.client("qldb", region)
        qldb.create_ledger(Name=name, PermissionsMode="STANDARD", DeletionProtection=False)
        deadline = time.monotonic() + 30
        while qldb.describe_ledger(Name=name)["State"] != "ACTIVE":
            assert time.monotonic() < deadline, f"ledger {name} never became ACTIVE"
            time.sleep(0.05)
        return name

    def stop(self) -> None:
        for driver in self.drivers:
            driver.close()
        self.drivers.clear()
        if self.server is not None:
            self.server.shutdown()
            assert self.endpoint is not None
            self.endpoint.close()
            self.server = None
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def serve_in_process(
    data_dir: Path, port: int = 0, limits: Limits | None = None, clock: Any = time.monotonic, s3_client: Any = None
) -> Running:
    registry = Registry(data_dir, creating_seconds=0, max_ledgers=100)
    endpoint = Endpoint(data_dir, limits=limits, registry=registry, s3_client=s3_client)
    endpoint.sessions.clock = clock
    server = start(endpoint, port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return Running(server.port, data_dir, endpoint=endpoint, server=server)


def serve_with_aws(data_dir: Path) -> Running:
    """The whole local endpoint in this process: the ledger plus moto's AWS services, whose
    state is reset first (moto keeps it per process)."""
    running = serve_in_process(data_dir)
    assert running.endpoint is not None
    running.endpoint.fallback = moto_app(running.port)
    requests.post(f"{running.url}/moto-api/reset", timeout=10)
    running.endpoint.exports.s3_client = lambda region: boto3.client("s3", region_name=region, endpoint_url=running.url)
    return running


def serve_process(data_dir: Path) -> Running:
    """`qldb-dr local up --port 0` as a child process; the port is read from its banner."""
    process = subprocess.Popen(
        [sys.executable, "-m", "qldb_dr.cli.main", "local", "up", "--port", "0", "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        if match:
            return Running(int(match.group(1)), data_dir, process=process)
        if process.poll() is not None:
            break
    process.kill()
    raise RuntimeError(f"qldb-dr local up did not start: {process.stderr.read() if process.stderr else ''}")


@pytest.fixture
def local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Running]:
    """An in-process endpoint over a fresh data directory; AWS_ENDPOINT_URL points at it."""
    running = serve_in_process(tmp_path / "data")
    monkeypatch.setenv("AWS_ENDPOINT_URL", running.url)
    yield running
    running.stop()


@pytest.fixture
def aws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[Running]:
    """The whole local endpoint (ledger + S3, Step Functions, Lambda, …) in this process; its
    Lambda handlers in worker processes, as `qldb-dr local up` runs them — or, for a test
    marked `lambda_inline` (it patches a handler's code here, or reads what it recorded), in
    this process."""
    running = serve_with_aws(tmp_path / "data")
    lambdas.set_mode("inline" if request.node.get_closest_marker("lambda_inline") else "process")
    monkeypatch.setenv("AWS_ENDPOINT_URL", running.url)
    try:
        yield running
    finally:
        running.stop()
        environments.shutdown()  # no execution environment outlives its endpoint
        lambdas.set_mode("process")


@pytest.fixture
def ledger(local: Running) -> str:
    return local.create_ledger("orders")


@pytest.fixture
def driver(local: Running, ledger: str) -> QldbDriver:
    return local.driver(ledger)


@pytest.fixture(scope="session", autouse=True)
def _python_path() -> None:
    """Child processes import the package from this checkout."""
    src = str(Path(__file__).resolve().parents[2] / "src")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p)

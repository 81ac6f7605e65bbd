"""The console in this process over a real `qldb-dr local up` process, and headless Chromium
(Debian's, driven by Playwright: never a browser download)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qldb_dr.console.actions import Actions
from qldb_dr.console.server import Console, Server
from qldb_dr.console.views import Reader
from tests.local.conftest import Running, serve_process

CHROMIUM = Path("/usr/bin/chromium")
# What works in a container with no display and no network but loopback.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = os.environ.get("QLDB_DR_SCREENSHOTS")  # `make screenshots`: where the PNGs go


@pytest.fixture
def endpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Running]:
    monkeypatch.delenv("QLDB_DR_LOCAL_TIME_SCALE", raising=False)  # a drill runs in real time
    running = serve_process(tmp_path / "endpoint")
    monkeypatch.setenv("AWS_ENDPOINT_URL", running.url)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def console(endpoint: Running, tmp_path: Path) -> Iterator[Server]:
    reader = Reader("us-east-1", "us-west-2")
    state = tmp_path / "console"
    state.mkdir()
    server = Server(Console(reader, Actions(reader, endpoint.url, state), endpoint.url)).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def browser() -> Iterator[Any]:
    """A page of headless Chromium. Not skipped when Chromium is missing: `make check` installs it."""
    assert CHROMIUM.exists(), (
        f"{CHROMIUM} is missing: run `make chromium` (as root: apt-get install -y chromium chromium-driver)"
    )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_FLAGS[1:],
            viewport={"width": 1440, "height": 1000},
        )
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.errors = errors  # type: ignore[attr-defined]
        try:
            yield page
        finally:
            context.close()
        assert not errors, f"the page raised: {errors}"


def screenshot(page: Any, name: str) -> None:
    """A PNG of the page for the README (only under `make screenshots`)."""
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)

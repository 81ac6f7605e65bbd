"""The console as a person uses it, in headless Chromium: start a drill with an injected replay
failure, watch its restore fail, open the failed Map item, press Retry failed batches, see the
graph reach Restored and the drill verify; then plan a restore (the dry run shown first),
start it and watch it verify. `make screenshots` runs this with QLDB_DR_SCREENSHOTS set."""

from __future__ import annotations

import re
from typing import Any

import pytest

from qldb_dr.console.server import Server
from tests.console.conftest import screenshot

pytestmark = pytest.mark.slow

DRILL_SECONDS = 240_000  # milliseconds a short drill may take here, other work sharing the CPU


def test_console_drill_with_injected_failure_retried_in_the_browser_then_a_planned_restore_verifies(
    console: Server, browser: Any
) -> None:
    page = browser
    page.goto(console.url)
    page.get_by_text("Primary us-east-1: reachable").wait_for()
    page.get_by_role("button", name="Start drill").click()
    dialog = page.locator("#drill-dialog")
    dialog.get_by_label("RPO — backup interval (s)").fill("4")
    dialog.get_by_label("Lose the primary region after (s)").fill("10")
    dialog.get_by_label("After a failed restore").select_option("manual")
    dialog.get_by_label("Inject a replay failure").check()
    dialog.get_by_role("button", name="Start drill").click()
    page.wait_for_url(re.compile(r"#/drill/"))

    # The primary region is lost; the restore in the DR region fails at the injected batch.
    page.get_by_text("Primary us-east-1: UNREACHABLE").wait_for(timeout=DRILL_SECONDS)
    failed_items = page.locator("section[aria-labelledby=failed-items]")
    failed_items.wait_for(timeout=DRILL_SECONDS)
    assert "InjectedFaultError" in failed_items.inner_text()
    replay = page.locator('[data-state="Replay/Replay Partition"]')
    assert "failed" in (replay.get_attribute("class") or "")
    replay.click()
    details = page.get_by_label("State details")
    details.get_by_text("Replay Partition").first.wait_for()
    assert "1 failed" in details.inner_text()
    screenshot(page, "drill-failed-batch")

    page.get_by_role("button", name="Retry failed batches").click()
    page.locator('.node.succeeded[data-state="Restored"]').wait_for(timeout=DRILL_SECONDS)
    page.get_by_text("Drill OK", exact=True).wait_for(timeout=DRILL_SECONDS)
    checks = page.locator("table", has_text="lost-writes").inner_text()
    for name in ("restore", "lost-writes", "application", "primary-lost"):
        assert re.search(rf"{name}\s+OK", checks), checks
    assert "RPO achieved" in page.inner_text("main")
    screenshot(page, "drill")

    # The region is back; the overview lists the drill and its restore.
    page.goto(console.url + "#/")
    page.get_by_text("Primary us-east-1: reachable").wait_for(timeout=30_000)
    page.get_by_role("link", name=re.compile(r"^\d{8}T\d{6}-")).first.wait_for()
    screenshot(page, "overview")

    # Start restore: the plan and its estimate come first; then the restore verifies.
    page.get_by_role("button", name="Start restore").click()
    dialog = page.locator("#restore-dialog")
    dialog.get_by_label("Source ledger").select_option(index=0)
    dialog.get_by_role("button", name="Plan").click()
    plan = dialog.locator("#restore-plan")
    plan.get_by_text("Estimate").wait_for(timeout=60_000)
    assert "verified in the vault" in plan.inner_text()
    start = dialog.get_by_role("button", name="Start restore")
    assert start.is_enabled()
    screenshot(page, "restore-plan")
    start.click()
    page.wait_for_url(re.compile(r"#/execution/"))
    page.locator('.node.succeeded[data-state="Restored"]').wait_for(timeout=120_000)
    page.locator(".fact.good", has_text="OK").wait_for(timeout=30_000)
    screenshot(page, "restore")

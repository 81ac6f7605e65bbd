"""Each state machine's Comment shows an execution input to paste into the Step Functions
console's Start execution box: it must be an input the workflow accepts, and the defaults it
states must be the code's."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from qldb_dr.backup import settings as backup
from qldb_dr.restore import settings as restore
from tests.conftest import REPO

ENVIRONMENT = {"QLDB_DR_VAULT_BUCKET": "vault", "QLDB_DR_EXPORT_ROLE_ARN": "arn:aws:iam::111111111111:role/export"}


def _comment(name: str) -> str:
    comment: str = json.loads((REPO / "statemachines" / f"{name}.asl.json").read_text())["Comment"]
    return comment


def _example(name: str) -> dict[str, Any]:
    found = re.search(r"Execution input \(paste into Start execution\): (\{.*?\})\.", _comment(name))
    assert found, f"{name}.asl.json's Comment shows no execution input"
    value: dict[str, Any] = json.loads(found[1])
    return value


def test_restore_comment_example_is_an_input_the_restore_accepts() -> None:
    settings = restore.Settings.resolve(_example("restore"), ENVIRONMENT, "us-west-2")
    assert settings.source_ledger == "orders" and settings.at is not None
    comment = _comment("restore")
    assert f'"maxConcurrency" (default {restore.DEFAULT_MAX_CONCURRENCY})' in comment
    assert f'"partitions" (default {restore.DEFAULT_PARTITIONS})' in comment


def test_backup_comment_example_is_an_input_the_backup_accepts() -> None:
    settings = backup.Settings.resolve(_example("backup"), ENVIRONMENT, "us-east-1")
    assert settings.ledger_name == "orders"
    default = backup.Settings.resolve({"ledgerName": "x"}, ENVIRONMENT, "us-east-1").settle_seconds
    assert f'"settleSeconds" (default {default}' in _comment("backup")


def test_drill_comment_example_is_what_its_schedule_starts_it_with() -> None:
    from qldb_dr.workflows.manifest import drill_schedule

    assert _example("drill") == drill_schedule("orders", "latest", 60).input


@pytest.mark.parametrize("name", ["backup", "restore", "drill"])
def test_comment_names_no_file_outside_the_repository(name: str) -> None:
    for path in re.findall(r"[\w./-]+\.md", _comment(name)):
        assert (REPO / path).is_file(), f"{name}'s Comment names {path}, which the repository lacks"

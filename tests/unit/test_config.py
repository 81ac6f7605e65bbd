"""The deployment configuration (the CDK app's context, `local up --config`): defaults stated
once, every mistake refused with where it is and what is wrong."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from qldb_dr.errors import InvalidInputError
from qldb_dr.workflows.config import DEFAULT_RPO_MINUTES, DeploymentConfig, Strategy

REPO = Path(__file__).resolve().parents[2]


def test_config_absent_is_the_defaults() -> None:
    config = DeploymentConfig.from_json(None)
    assert config == DeploymentConfig()
    assert config.ledgers == () and config.rpo_minutes == DEFAULT_RPO_MINUTES


def test_config_top_level_rpo_is_each_ledgers_unless_it_says() -> None:
    config = DeploymentConfig.from_json({"rpoMinutes": 7, "ledgers": ["a", {"name": "b", "rpoMinutes": 3}]})
    assert [(ledger.name, ledger.rpo_minutes) for ledger in config.ledgers] == [("a", 7), ("b", 3)]


def test_config_of_the_cdk_app_reads_from_cdk_json_itself() -> None:
    config = DeploymentConfig.from_file(REPO / "infra" / "cdk.json")
    assert {ledger.strategy for ledger in config.ledgers} == set(Strategy)


def test_config_given_on_the_command_line_as_a_json_string_is_read() -> None:
    assert DeploymentConfig.from_json('{"ledgers": ["orders"]}').ledgers[0].name == "orders"


def test_config_targets_are_each_sources_pattern_and_its_standby() -> None:
    config = DeploymentConfig.from_json({"ledgers": [{"name": "orders", "strategy": "warm-standby"}]})
    assert config.targets() == ("orders-*", "orders-standby", "orders-drill-*")
    assert config.scratch() == ("orders-drill-*",)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([], "is not an object"),
        ({"ledger": []}, "unknown key ledger"),
        ({"rpoMinutes": 0}, "rpoMinutes 0 is not a whole number from 1"),
        ({"rpoMinutes": True}, "rpoMinutes True"),
        ({"primaryRegion": "mars"}, "primaryRegion 'mars' is not valid"),
        ({"primaryRegion": "us-west-2"}, "primaryRegion and drRegion are both us-west-2"),
        ({"drAccount": "12"}, "drAccount '12' is not valid"),
        ({"vaultPrefix": "/x/"}, "vaultPrefix '/x/' must be empty or end with '/'"),
        ({"ledgers": ["a", "a"]}, "a ledger is named twice"),
        ({"ledgers": [{"name": "a", "strategy": "hot"}]}, "ledgers[0] (a): strategy 'hot' is not one of"),
        ({"ledgers": [{"name": "a", "mode": "all"}]}, "mode 'all' is not one of latest, history"),
        ({"ledgers": [{"name": "a", "targetLedger": "a"}]}, "targetLedger is the ledger itself"),
        ({"ledgers": [{"name": "a", "drillMinutes": 5}]}, "drillMinutes 5 is not a whole number from 60"),
        ({"ledgers": [{}]}, "ledgers[0]: name is required"),
        ({"alarmEmails": "me@example.com"}, "alarmEmails is not a list of strings"),
    ],
)
def test_config_with_a_mistake_is_refused_saying_where_and_what(value: Any, message: str) -> None:
    with pytest.raises(InvalidInputError, match=None) as raised:
        DeploymentConfig.from_json(value, "cdk.json")
    assert message in str(raised.value) and str(raised.value).startswith("cdk.json")


def test_config_file_that_is_not_json_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "dr.json"
    path.write_text("{ledgers: }")
    with pytest.raises(InvalidInputError, match=rf"{path}: not JSON"):
        DeploymentConfig.from_file(path)
    with pytest.raises(InvalidInputError, match="cannot read the configuration"):
        DeploymentConfig.from_file(tmp_path / "absent.json")


def test_config_round_trips_the_documented_example() -> None:
    import qldb_dr.workflows.config as module

    doc = module.__doc__ or ""
    example = json.loads(doc[doc.index("{") : doc.rindex("}") + 1])
    config = DeploymentConfig.from_json(example)
    assert [ledger.strategy for ledger in config.ledgers] == [
        Strategy.WARM_STANDBY,
        Strategy.INTERMEDIATE,
        Strategy.BACKUP_RESTORE,
    ]

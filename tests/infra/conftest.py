"""The CDK app synthesized offline (no AWS credentials, no Docker, bundling skipped — the
packaging test builds the functions' asset itself), with cdk.json's context and a
configuration that uses every strategy."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
# The CDK CLI the README deploys with (npm: aws-cdk; its 2.1xxx releases all deploy aws-cdk-lib 2).
CDK_CLI = "aws-cdk@2"
INFRA = REPO / "infra"
sys.path.insert(0, str(INFRA))
# jsii warns on every start that this machine's Node is past its end of life (the variable takes
# the major versions to silence); the app still runs.
_NODE_MAJOR = "20,21,22"
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", _NODE_MAJOR)
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")

CONFIG: dict[str, Any] = {
    "primaryRegion": "eu-west-1",
    "drRegion": "eu-central-1",
    "rpoMinutes": 15,
    "retentionDays": 40,
    "coldAfterDays": 45,
    "replicationAlarmSeconds": 600,
    "alarmEmails": ["oncall@example.com"],
    "ledgers": [
        {"name": "orders", "strategy": "warm-standby", "targetLedger": "orders-standby", "rpoMinutes": 5},
        {"name": "payments", "strategy": "intermediate", "targetLedger": "payments-dr", "preloadMinutes": 360,
         "mode": "history"},
        {"name": "audit", "strategy": "backup-restore", "rpoMinutes": 60, "drillMinutes": 10080},
    ],
}  # fmt: skip


def context(config: dict[str, Any]) -> dict[str, Any]:
    """cdk.json's context (its feature flags) with `config` as the qldb-dr key, bundling skipped."""
    base = json.loads((INFRA / "cdk.json").read_text())["context"]
    return {**base, "qldb-dr": config, "aws:cdk:bundling-stacks": []}


@dataclass
class Synthesized:
    primary: dict[str, Any]  # the templates, as CloudFormation reads them
    dr: dict[str, Any]
    directory: Path  # the cloud assembly
    stacks: tuple[Any, Any]

    def template(self, region: str) -> dict[str, Any]:
        return self.primary if region == "primary" else self.dr


def synthesize(config: dict[str, Any], out: Path, account: str | None = None) -> Synthesized:
    import aws_cdk as cdk

    from qldb_dr_infra.app import build

    if account is not None:
        config = {**config, "account": account}
    app = cdk.App(context=context(config), outdir=str(out))
    primary, dr = build(app)
    assembly = app.synth()
    read = lambda stack: json.loads((Path(assembly.directory) / stack.template_file).read_text())  # noqa: E731
    return Synthesized(read(primary), read(dr), Path(assembly.directory), (primary, dr))


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(CONFIG, tmp_path_factory.mktemp("cdk.out"), account="111111111111")


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def one(template: dict[str, Any], kind: str, where: Any = None) -> dict[str, Any]:
    found = [v for v in resources(template, kind).values() if where is None or where(v)]
    assert len(found) == 1, f"{len(found)} {kind} resources match"
    return found[0]

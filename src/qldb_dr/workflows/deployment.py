"""Find what is deployed in a region — the same on AWS (the CDK app) and locally (`local up`).

Workflows are state machines with fixed names; each carries the vault bucket of its region
in the tag `qldb-dr:vault-bucket`, so the CLI needs nothing but a region.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from qldb_dr.aws import client as aws_client
from qldb_dr.errors import NotDeployedError, ServiceError

BACKUP = "qldb-dr-backup"
RESTORE = "qldb-dr-restore"
DRILL = "qldb-dr-drill"
VAULT_TAG = "qldb-dr:vault-bucket"


def scratch_prefix(ledger: str) -> str:
    """What every scratch ledger of a drill of `ledger` is named with (then the drill's own id):
    QLDB names have 32 characters at most, so the source's name is cut to 13."""
    return f"{ledger[:13].rstrip('-')}-drill-"


@dataclass(frozen=True, slots=True)
class Workflow:
    name: str
    arn: str
    region: str
    vault_bucket: str | None


def workflow(name: str, region: str | None, client: Any = None) -> Workflow:
    sfn = client if client is not None else aws_client("stepfunctions", region)
    try:
        for page in sfn.get_paginator("list_state_machines").paginate():
            for machine in page["stateMachines"]:
                if machine["name"] == name:
                    tags = sfn.list_tags_for_resource(resourceArn=machine["stateMachineArn"]).get("tags", [])
                    vault = next((t["value"] for t in tags if t["key"] == VAULT_TAG), None)
                    return Workflow(name, machine["stateMachineArn"], sfn.meta.region_name, vault)
    except (ClientError, BotoCoreError) as exc:
        raise ServiceError(f"cannot list Step Functions state machines in {sfn.meta.region_name}: {exc}") from exc
    raise NotDeployedError(f"no {name} state machine in {sfn.meta.region_name}")

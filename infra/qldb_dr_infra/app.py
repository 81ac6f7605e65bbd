"""Build the app: the configuration from the `qldb-dr` context, both stacks, cdk-nag."""

from __future__ import annotations

import os

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from qldb_dr.workflows.config import DeploymentConfig
from qldb_dr.workflows.manifest import manifest

from .nag import suppress
from .stacks import RegionStack, stacks

CONTEXT_KEY = "qldb-dr"


def build(app: cdk.App) -> tuple[RegionStack, RegionStack]:
    config = DeploymentConfig.from_json(app.node.try_get_context(CONTEXT_KEY), f"the {CONTEXT_KEY} context")
    built = stacks(app, manifest(config), os.environ.get("CDK_DEFAULT_ACCOUNT"))
    for stack in built:
        suppress(stack)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    return built

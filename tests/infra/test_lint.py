"""cfn-lint finds nothing in either template, and cdk-nag's AwsSolutions pack finds nothing
unacknowledged — and fails the synth when something new is."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.infra.conftest import CONFIG, Synthesized, context


@pytest.mark.parametrize("stack", ["qldb-dr-primary", "qldb-dr-dr"])
def test_cfn_lint_finds_nothing_in_the_template(synthesized: Synthesized, stack: str) -> None:
    template = synthesized.directory / f"{stack}.template.json"
    done = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), "--format", "parseable", str(template)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def test_cdk_nag_fails_the_synth_on_an_unacknowledged_wildcard(tmp_path: Path) -> None:
    import aws_cdk as cdk
    from aws_cdk import aws_iam as iam
    from qldb_dr_infra.app import build

    app = cdk.App(context=context(CONFIG), outdir=str(tmp_path))
    primary, _ = build(app)
    role = iam.Role(primary, "Careless", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    role.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=["arn:aws:s3:::somewhere/*"]))
    with pytest.raises(RuntimeError, match=r"AwsSolutions-IAM5\[Resource::arn:aws:s3:::somewhere/\*\]"):
        app.synth()


def test_every_acknowledged_nag_finding_names_its_rule_and_carries_a_reason(tmp_path: Path) -> None:
    import aws_cdk as cdk
    from qldb_dr_infra.nag import suppress
    from qldb_dr_infra.stacks import stacks

    from qldb_dr.workflows.config import DeploymentConfig
    from qldb_dr.workflows.manifest import manifest

    app = cdk.App(context=context(CONFIG), outdir=str(tmp_path))
    for stack in stacks(app, manifest(DeploymentConfig.from_json(CONFIG, "test")), None):
        found = suppress(stack)
        assert found, f"{stack.stack_name}: nothing acknowledged"
        for rule, reason in found:
            assert rule.startswith("AwsSolutions-") and len(reason) >= 30, (rule, reason)

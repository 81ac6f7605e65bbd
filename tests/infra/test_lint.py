"""cfn-lint finds nothing in either template, and cdk-nag's AwsSolutions pack finds nothing
unacknowledged — and fails the synth when something new is."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.infra.conftest import CDK_CLI, CONFIG, Synthesized, context


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

    from qldb_dr.workflows.config import DeploymentConfig
    from qldb_dr.workflows.manifest import manifest
    from qldb_dr_infra.nag import suppress
    from qldb_dr_infra.stacks import stacks

    app = cdk.App(context=context(CONFIG), outdir=str(tmp_path))
    for stack in stacks(app, manifest(DeploymentConfig.from_json(CONFIG, "test")), None):
        found = suppress(stack)
        assert found, f"{stack.stack_name}: nothing acknowledged"
        for rule, reason in found:
            assert rule.startswith("AwsSolutions-") and len(reason) >= 30, (rule, reason)


def test_the_cdk_cli_synthesizes_the_app_as_the_readme_deploys_it(tmp_path: Path) -> None:
    """`npx aws-cdk@2 synth` in infra/, with the project's venv first on PATH (as the README
    says): the CLI runs app.py, bundles the functions' asset locally (no Docker) and writes both
    stacks."""
    import os
    import shutil

    npx = shutil.which("npx")
    assert npx, "Node's npx is needed to run the CDK CLI (the machine's Node 20 provides it)"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(
        [npx, "--yes", CDK_CLI, "synth", "--quiet", "--output", str(tmp_path / "cdk.out")],
        cwd=Path(__file__).resolve().parents[2] / "infra",
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    for stack in ("qldb-dr-primary", "qldb-dr-dr"):
        assert (tmp_path / "cdk.out" / f"{stack}.template.json").is_file()
    assets = [p for p in (tmp_path / "cdk.out").glob("asset.*") if (p / "tasks").is_dir()]
    assert assets and (assets[0] / "qldb_dr").is_dir() and (assets[0] / "pyqldb").is_dir()

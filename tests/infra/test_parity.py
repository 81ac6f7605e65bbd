"""One definition everywhere: what `qldb-dr local up` deploys from the manifest is what the CDK
app synthesizes from it — the same functions (handler, memory, timeout, environment), the same
state machine definitions wired to the same functions, the same schedules and rules — region by
region. A function, state, schedule or rule only one of them deploys fails here."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from qldb_dr.local.deploy import Deployment, deploy
from qldb_dr.workflows.config import DeploymentConfig
from tests.infra.conftest import CONFIG, Synthesized, resources, synthesize
from tests.local.conftest import Running, aws  # noqa: F401

pytestmark = pytest.mark.slow

ACCOUNT = "123456789012"  # the local endpoint's


def _name_of(template: dict[str, Any], node: Any) -> Any:
    """A Ref or GetAtt …Arn of a function, state machine or bucket: the name it was given."""
    if isinstance(node, dict) and len(node) == 1:
        [(kind, value)] = node.items()
        logical = value if kind == "Ref" else value[0] if kind == "Fn::GetAtt" else None
        if logical is not None:
            properties = template["Resources"][logical]["Properties"]
            for key in ("FunctionName", "StateMachineName", "BucketName", "RoleName"):
                if key in properties:
                    return properties[key]
    return node


def _resolve(template: dict[str, Any], node: Any) -> Any:
    node = _name_of(template, node)
    if isinstance(node, dict):
        return {k: _resolve(template, v) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(template, v) for v in node]
    return node


def _arn_name(arn: str) -> str:
    return arn.rsplit(":", 1)[-1]


class Local:
    def __init__(self, running: Running) -> None:
        self.running = running

    def client(self, service: str, region: str) -> Any:
        return self.running.client(service, region)


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(CONFIG, tmp_path_factory.mktemp("cdk.out"), account=ACCOUNT)


@pytest.fixture
def local(aws: Running) -> tuple[Local, Deployment]:  # noqa: F811
    return Local(aws), deploy(aws.url, DeploymentConfig.from_json(CONFIG, "the test configuration"))


def _regions(templates: Synthesized) -> list[tuple[str, dict[str, Any]]]:
    return [(CONFIG["primaryRegion"], templates.primary), (CONFIG["drRegion"], templates.dr)]


def test_each_region_has_the_same_functions_locally_and_in_the_cdk_app(
    templates: Synthesized, local: tuple[Local, Deployment]
) -> None:
    endpoint, _ = local
    for region, template in _regions(templates):
        synthesized = {
            p["FunctionName"]: (p["Handler"], p["MemorySize"], p["Timeout"], sorted(p["Environment"]["Variables"]))
            for p in (r["Properties"] for r in resources(template, "AWS::Lambda::Function").values())
        }
        deployed = {
            f["FunctionName"]: (f["Handler"], f["MemorySize"], f["Timeout"], sorted(f["Environment"]["Variables"]))
            for f in endpoint.client("lambda", region).list_functions()["Functions"]
        }
        assert deployed == synthesized, region


def test_each_state_machine_is_the_same_definition_wired_to_the_same_functions(
    templates: Synthesized, local: tuple[Local, Deployment]
) -> None:
    endpoint, _ = local
    for region, template in _regions(templates):
        sfn = endpoint.client("stepfunctions", region)
        deployed = {
            m["name"]: json.loads(sfn.describe_state_machine(stateMachineArn=m["stateMachineArn"])["definition"])
            for m in sfn.list_state_machines()["stateMachines"]
        }
        synthesized = {}
        for resource in resources(template, "AWS::StepFunctions::StateMachine").values():
            properties = resource["Properties"]
            names = {k: _name_of(template, v) for k, v in properties["DefinitionSubstitutions"].items()}
            arns = {k: f"arn:aws:lambda:{region}:{ACCOUNT}:function:{v}" for k, v in names.items()}
            definition = re.sub(r"\$\{(\w+)\}", lambda m, arns=arns: arns[m.group(1)], properties["DefinitionString"])
            synthesized[properties["StateMachineName"]] = json.loads(definition)
        assert deployed.keys() == synthesized.keys(), region
        for name, definition in synthesized.items():
            assert deployed[name] == definition, f"{name} in {region}"


def test_the_same_schedules_start_the_same_workflows_with_the_same_input(
    templates: Synthesized, local: tuple[Local, Deployment]
) -> None:
    endpoint, _ = local
    for region, template in _regions(templates):
        synthesized = {
            p["Name"]: (p["ScheduleExpression"], p["State"], json.loads(p["Target"]["Input"]),
                        _name_of(template, p["Target"]["Arn"]))
            for p in (r["Properties"] for r in resources(template, "AWS::Scheduler::Schedule").values())
        }  # fmt: skip
        scheduler = endpoint.client("scheduler", region)
        deployed = {}
        for listed in scheduler.list_schedules()["Schedules"]:
            s = scheduler.get_schedule(Name=listed["Name"])
            deployed[s["Name"]] = (s["ScheduleExpression"], s["State"], json.loads(s["Target"]["Input"]),
                                   _arn_name(s["Target"]["Arn"]))  # fmt: skip
        assert deployed == synthesized, region
        assert synthesized or region == CONFIG["drRegion"]


def test_the_same_rules_match_the_same_events_and_start_the_same_restores(
    templates: Synthesized, local: tuple[Local, Deployment]
) -> None:
    endpoint, deployment = local
    region, template = CONFIG["drRegion"], templates.dr
    synthesized = {}
    for resource in resources(template, "AWS::Events::Rule").values():
        p = _resolve(template, resource["Properties"])
        [target] = p["Targets"]
        synthesized[p["Name"]] = (p["EventPattern"], target["Arn"], target["InputTransformer"])
    events = endpoint.client("events", region)
    deployed = {}
    for rule in events.list_rules(NamePrefix="qldb-dr")["Rules"]:
        [target] = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
        deployed[rule["Name"]] = (
            json.loads(rule["EventPattern"]),
            _arn_name(target["Arn"]),
            target["InputTransformer"],
        )
    assert synthesized, "the configuration has a warm standby: the DR stack must have its rule"
    assert deployed == synthesized
    assert {pattern["detail"]["bucket"]["name"][0] for pattern, _, _ in deployed.values()} == {
        deployment.buckets[region]
    }
    assert not resources(templates.primary, "AWS::Events::Rule")


def test_both_vaults_are_named_alike(templates: Synthesized, local: tuple[Local, Deployment]) -> None:
    _, deployment = local
    for region, template in _regions(templates):
        names = {r["Properties"].get("BucketName") for r in resources(template, "AWS::S3::Bucket").values()}
        assert deployment.buckets[region] in names, region


def test_parity_holds_for_a_configuration_without_a_standby(tmp_path: Path, aws: Running) -> None:  # noqa: F811
    config = {**CONFIG, "ledgers": [{"name": "audit", "strategy": "backup-restore"}]}
    templates = synthesize(config, tmp_path / "cdk.out", account=ACCOUNT)
    deploy(aws.url, DeploymentConfig.from_json(config, "test"))
    assert not resources(templates.dr, "AWS::Events::Rule")
    assert not aws.client("events", CONFIG["drRegion"]).list_rules(NamePrefix="qldb-dr")["Rules"]
    assert not resources(templates.dr, "AWS::Scheduler::Schedule")
    assert not aws.client("scheduler", CONFIG["drRegion"]).list_schedules()["Schedules"]

"""The cdk-nag (AwsSolutions) findings qldb-dr accepts, each acknowledged with its reason.

cdk-nag runs at synth (`app.py`) and fails it on any finding not acknowledged here, so a new
wildcard or a new kind of resource cannot slip in unexplained: wildcard resources in IAM
policies (AwsSolutions-IAM5) are acknowledged only when they match one of `_WILDCARDS`' shapes,
each with why no narrower ARN exists; anything else stays a failure to fix or to justify here.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aws_cdk import Acknowledgment, CfnResource, Stack, Validations
from aws_cdk import aws_iam as iam
from constructs import IConstruct

_ACCOUNT = r"(<AWS::AccountId>|\d{12})"
_VAULT = "the vault's objects are keyed by ledger, export, recovery point and restore, named at run time"
# (pattern over the flattened resource, reason); first match wins.
_WILDCARDS: tuple[tuple[str, str], ...] = (
    (
        r"^\*$",
        "AWS requires Resource '*' for these actions: X-Ray trace segments and telemetry, and CloudWatch "
        "Logs' log delivery management used by Step Functions logging (their APIs take no resource ARN)",
    ),
    (r"^<VaultBucket[0-9A-F]+\.Arn>/\*$", f"read access to the vault: {_VAULT}"),
    (
        r"^<VaultBucket[0-9A-F]+\.Arn>/[^*]*\*/(journal|catalog|restores|drills)/\*(\.proof\.json)?$",
        f"writes only under one kind of key of any ledger's folder in the vault: {_VAULT}",
    ),
    (
        r"^<VaultBucket[0-9A-F]+\.Arn>/[^*]*[A-Za-z0-9-]+(-\*)?/journal/\*$",
        "QLDB writes an export's objects under the ledger's journal prefix, with keys it chooses",
    ),
    (
        r"^arn:aws:s3:::qldb-dr-vault-" + _ACCOUNT + r"-[a-z0-9-]+/\*$",
        "replicas are written under the same keys as the primary vault's objects",
    ),
    (
        r"^arn:aws:qldb:[a-z0-9-]+:"
        + _ACCOUNT
        + r":ledger/[A-Za-z0-9-]+-\*(/table/\*|/information_schema/user_tables)?$",
        "restore targets are named when a restore starts: they are limited to the configured name patterns "
        "(restoreTargets, by default each source's '<name>-*'), and drills' scratch ledgers to '<name>-drill-*'",
    ),
    (
        r"^arn:aws:qldb:[a-z0-9-]+:" + _ACCOUNT + r":ledger/[A-Za-z0-9-]+/table/\*$",
        "a restore creates the source's tables in the target; their ids are the target's, unknown before",
    ),
    (
        r"^arn:aws:states:[a-z0-9-]+:" + _ACCOUNT + r":execution:qldb-dr-(backup|restore|drill)[:/]\*$",
        "executions are named at run time: a Distributed Map runs its items as child executions of this "
        "state machine, and a restore's execution is named by its restore id (which a drill chooses)",
    ),
    (
        r"^arn:aws:kms:[a-z0-9-]+:" + _ACCOUNT + r":key/\*$",
        "the DR vault's key is in another region (or account) and known by its alias only: the statement is "
        "limited to it by the condition kms:ResourceAliases = alias/qldb-dr-vault",
    ),
)


def flatten(node: Any) -> str:
    """A resolved CloudFormation value as cdk-nag names it in a finding (its flattenCfnReference)."""
    if node is None:
        return ""
    if isinstance(node, str):
        return node.replace("${", "<").replace("}", ">")
    if isinstance(node, dict) and "Fn::Join" in node:
        delimiter, items = node["Fn::Join"]
        return str(delimiter).join(flatten(item) for item in items)
    if isinstance(node, dict) and "Fn::Sub" in node:
        return flatten(node["Fn::Sub"])
    if isinstance(node, dict) and "Fn::GetAtt" in node:
        resource, attribute = node["Fn::GetAtt"]
        return f"<{flatten(resource)}.{flatten(attribute)}>"
    if isinstance(node, dict) and "Ref" in node:
        return f"<{flatten(node['Ref'])}>"
    return json.dumps(node, separators=(",", ":"))


def reason_for(resource: str) -> str | None:
    for pattern, reason in _WILDCARDS:
        if re.match(pattern, resource):
            return reason
    return None


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _acknowledge_wildcards(stack: Stack, policy: iam.CfnPolicy) -> list[tuple[str, str]]:
    done: list[tuple[str, str]] = []
    document = stack.resolve(policy.policy_document)
    for statement in _listed(document.get("Statement", [])):
        for resource in _listed(statement.get("Resource", [])):
            flat = flatten(resource)
            reason = reason_for(flat) if "*" in flat else None
            if reason is not None:
                done.append(_acknowledge(policy, f"AwsSolutions-IAM5[Resource::{flat}]", reason))
    return done


def _acknowledge(construct: IConstruct, rule: str, reason: str) -> tuple[str, str]:
    Validations.of(construct).acknowledge(Acknowledgment(id=rule, reason=reason))
    return rule, reason


def suppress(stack: Stack) -> list[tuple[str, str]]:
    """Acknowledge what is justified in `stack` (run once it is complete); return (rule, reason) of each."""
    done: list[tuple[str, str]] = []
    for construct in stack.node.find_all():
        if isinstance(construct, iam.CfnPolicy):
            done.extend(_acknowledge_wildcards(stack, construct))
        if isinstance(construct, CfnResource) and construct.cfn_resource_type == "AWS::S3::Bucket":
            path = construct.node.path
            if path.endswith("/AccessLogs/Resource"):
                done.append(
                    _acknowledge(
                        construct,
                        "AwsSolutions-S1",
                        "this is the vault's server access log bucket: logging it into itself would loop",
                    )
                )
    return done

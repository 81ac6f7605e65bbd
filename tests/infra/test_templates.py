"""The synthesized templates hold what the vault, the workflows and the alarms promise —
asserted on properties, never on logical ids."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from qldb_dr.workflows import manifest
from qldb_dr.workflows.deployment import VAULT_TAG
from tests.infra.conftest import CONFIG, Synthesized, one, resources, synthesize

ACCOUNT = "111111111111"
REGIONS = {"primary": CONFIG["primaryRegion"], "dr": CONFIG["drRegion"]}
STACKS = ["primary", "dr"]


def _vault(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    [(logical, bucket)] = [
        (k, v)
        for k, v in resources(template, "AWS::S3::Bucket").items()
        if "qldb-dr-vault-" in json.dumps(v["Properties"].get("BucketName", ""))
    ]
    return logical, bucket["Properties"]


def _ref(value: Any) -> str:
    """The logical id a Ref or GetAtt names."""
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"])
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return str(value["Fn::GetAtt"][0])
    raise AssertionError(f"not a reference: {value!r}")


def _statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        found += policy["Properties"]["PolicyDocument"]["Statement"]
    for role in resources(template, "AWS::IAM::Role").values():
        for inline in role["Properties"].get("Policies", []):
            found += inline["PolicyDocument"]["Statement"]
    return found


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _policy_of(template: dict[str, Any], role_logical: str) -> list[dict[str, Any]]:
    statements = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        if role_logical in [_ref(r) for r in policy["Properties"].get("Roles", [])]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _actions(statements: list[dict[str, Any]]) -> set[str]:
    return {a for s in statements if s.get("Effect", "Allow") == "Allow" for a in _listed(s["Action"])}


@pytest.mark.parametrize("stack", STACKS)
def test_vault_locks_every_version_in_compliance_mode_for_the_retention(synthesized: Synthesized, stack: str) -> None:
    _, vault = _vault(synthesized.template(stack))
    assert vault["BucketName"] == f"qldb-dr-vault-{ACCOUNT}-{REGIONS[stack]}"
    assert vault["VersioningConfiguration"] == {"Status": "Enabled"}
    assert vault["ObjectLockEnabled"] is True
    assert vault["ObjectLockConfiguration"] == {
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": CONFIG["retentionDays"]}},
    }


@pytest.mark.parametrize("stack", STACKS)
def test_vault_is_encrypted_with_its_own_rotated_customer_key(synthesized: Synthesized, stack: str) -> None:
    template = synthesized.template(stack)
    _, vault = _vault(template)
    [rule] = vault["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms" and rule["BucketKeyEnabled"] is True
    key = _ref(rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"])
    assert template["Resources"][key]["Type"] == "AWS::KMS::Key"
    assert template["Resources"][key]["Properties"]["EnableKeyRotation"] is True
    alias = one(template, "AWS::KMS::Alias", lambda a: a["Properties"]["AliasName"] == "alias/qldb-dr-vault")
    assert _ref(alias["Properties"]["TargetKeyId"]) == key


@pytest.mark.parametrize("stack", STACKS)
def test_vault_blocks_public_access_and_refuses_plain_http_and_deletes(synthesized: Synthesized, stack: str) -> None:
    template = synthesized.template(stack)
    logical, vault = _vault(template)
    assert vault["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    policy = one(template, "AWS::S3::BucketPolicy", lambda p: _ref(p["Properties"]["Bucket"]) == logical)
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert any(
        s["Effect"] == "Deny" and s["Action"] == "s3:*" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in statements
    )
    deny = next(s for s in statements if s["Effect"] == "Deny" and "s3:DeleteObjectVersion" in _listed(s["Action"]))
    assert {"s3:DeleteObject", "s3:DeleteObjectVersion"} <= set(deny["Action"]) and deny["Principal"] == {"AWS": "*"}
    assert "Condition" not in deny  # for everyone, the account's administrators included


@pytest.mark.parametrize("stack", STACKS)
def test_vault_moves_only_data_objects_to_instant_retrieval_after_the_configured_days(
    synthesized: Synthesized, stack: str
) -> None:
    _, vault = _vault(synthesized.template(stack))
    [rule] = vault["LifecycleConfiguration"]["Rules"]
    assert rule["Transitions"] == [{"StorageClass": "GLACIER_IR", "TransitionInDays": CONFIG["coldAfterDays"]}]
    assert int(rule["ObjectSizeGreaterThan"]) == 128 * 1024
    assert "ExpirationInDays" not in rule and "NoncurrentVersionExpiration" not in rule  # a restore needs every export


@pytest.mark.parametrize("stack", STACKS)
def test_vault_logs_its_accesses(synthesized: Synthesized, stack: str) -> None:
    template = synthesized.template(stack)
    _, vault = _vault(template)
    target = template["Resources"][_ref(vault["LoggingConfiguration"]["DestinationBucketName"])]
    assert target["Type"] == "AWS::S3::Bucket"
    assert target["Properties"]["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is True


def test_only_the_dr_vault_sends_its_events_to_eventbridge(synthesized: Synthesized) -> None:
    _, dr = _vault(synthesized.dr)
    _, primary = _vault(synthesized.primary)
    assert dr["NotificationConfiguration"] == {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}
    assert "NotificationConfiguration" not in primary
    assert not resources(synthesized.dr, "Custom::S3BucketNotifications")  # no custom-resource Lambda for it


def test_primary_vault_replicates_objects_tags_and_retention_to_the_dr_vault(synthesized: Synthesized) -> None:
    template = synthesized.primary
    _, vault = _vault(template)
    replication = vault["ReplicationConfiguration"]
    [rule] = replication["Rules"]
    assert rule["Status"] == "Enabled" and rule["Filter"] == {"Prefix": ""}
    assert rule["DeleteMarkerReplication"] == {"Status": "Disabled"}
    assert rule["SourceSelectionCriteria"] == {"SseKmsEncryptedObjects": {"Status": "Enabled"}}
    destination = rule["Destination"]
    assert destination["Bucket"] == f"arn:aws:s3:::qldb-dr-vault-{ACCOUNT}-{REGIONS['dr']}"
    assert destination["EncryptionConfiguration"] == {
        "ReplicaKmsKeyID": f"arn:aws:kms:{REGIONS['dr']}:{ACCOUNT}:alias/qldb-dr-vault"
    }
    assert destination["Metrics"]["Status"] == "Enabled"
    assert "ReplicationTime" not in destination and "AccessControlTranslation" not in destination
    role = _ref(replication["Role"])
    actions = _actions(_policy_of(template, role))
    # the object, its tags and its Object Lock retention and legal hold; never a delete
    assert {"s3:GetObjectVersionForReplication", "s3:GetObjectVersionTagging", "s3:GetObjectRetention"} <= actions
    assert {"s3:GetObjectLegalHold", "s3:ReplicateObject", "s3:ReplicateTags", "kms:Encrypt"} <= actions
    assert "s3:ReplicateDelete" not in actions
    trust = template["Resources"][role]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "s3.amazonaws.com"}]


def test_cross_account_replication_overrides_the_owner_and_the_dr_account_lets_it_in(tmp_path: Path) -> None:
    config = {**CONFIG, "drAccount": "222222222222", "replicationTimeControl": True}
    synthesized = synthesize(config, tmp_path, account=ACCOUNT)
    _, vault = _vault(synthesized.primary)
    destination = vault["ReplicationConfiguration"]["Rules"][0]["Destination"]
    assert destination["Account"] == "222222222222"
    assert destination["AccessControlTranslation"] == {"Owner": "Destination"}
    assert destination["Bucket"] == f"arn:aws:s3:::qldb-dr-vault-222222222222-{REGIONS['dr']}"
    assert destination["ReplicationTime"] == {"Status": "Enabled", "Time": {"Minutes": 15}}
    assert "s3:ObjectOwnerOverrideToBucketOwner" in _actions(
        _policy_of(synthesized.primary, _ref(vault["ReplicationConfiguration"]["Role"]))
    )
    role = f"arn:aws:iam::{ACCOUNT}:role/qldb-dr-replication-{REGIONS['primary']}"
    dr_logical, dr_vault = _vault(synthesized.dr)
    assert dr_vault["BucketName"] == f"qldb-dr-vault-222222222222-{REGIONS['dr']}"
    policy = one(synthesized.dr, "AWS::S3::BucketPolicy", lambda p: _ref(p["Properties"]["Bucket"]) == dr_logical)
    granted = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s.get("Principal") == {"AWS": role}]
    assert {"s3:ReplicateObject", "s3:ReplicateTags"} <= {a for s in granted for a in _listed(s["Action"])}
    key = one(synthesized.dr, "AWS::KMS::Key", lambda k: "vault" in k["Properties"].get("Description", ""))
    assert any(
        s.get("Principal") == {"AWS": role} and "kms:Encrypt" in s["Action"]
        for s in key["Properties"]["KeyPolicy"]["Statement"]
    )


@pytest.mark.parametrize("stack", STACKS)
def test_export_role_trusts_qldb_writes_only_under_journal_prefixes_and_uses_only_the_vault_key(
    synthesized: Synthesized, stack: str
) -> None:
    template = synthesized.template(stack)
    logical, role = next(
        (k, v)
        for k, v in resources(template, "AWS::IAM::Role").items()
        if v["Properties"].get("RoleName") == f"qldb-dr-export-{REGIONS[stack]}"
    )
    [trust] = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "qldb.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}
    statements = _policy_of(template, logical)
    writes = next(s for s in statements if "s3:PutObject" in _listed(s["Action"]))
    paths = [json.dumps(r) for r in _listed(writes["Resource"])]
    assert paths and all(p.endswith('/journal/*"]]}') for p in paths), paths
    keys = [s for s in statements if any(a.startswith("kms:") for a in _listed(s["Action"]))]
    assert keys and all(_ref(r) == _ref(_vault_key(template)) for s in keys for r in _listed(s["Resource"]))
    ledgers = [ledger["name"] for ledger in CONFIG["ledgers"]]
    if stack == "primary":
        assert sorted(p.split("/")[-3] for p in (json.loads(p)["Fn::Join"][1][-1] for p in paths)) == sorted(ledgers)


def _vault_key(template: dict[str, Any]) -> Any:
    _, vault = _vault(template)
    return vault["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"][
        "KMSMasterKeyID"
    ]


def _tasks(states: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for state in states.values():
        if state["Type"] == "Task":
            found.append(state)
        if state["Type"] == "Map":
            found += _tasks(state["ItemProcessor"]["States"])
    return found


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("machine", manifest.STATE_MACHINES, ids=lambda m: m.name)
def test_every_task_resolves_to_a_function_of_the_same_stack_running_its_handler(
    synthesized: Synthesized, stack: str, machine: manifest.StateMachine
) -> None:
    template = synthesized.template(stack)
    resource = one(
        template, "AWS::StepFunctions::StateMachine", lambda m: m["Properties"]["StateMachineName"] == machine.name
    )
    definition = json.loads(resource["Properties"]["DefinitionString"])
    assert definition == json.loads(machine.text())  # the ASL file, as it is
    substitutions = resource["Properties"]["DefinitionSubstitutions"]
    lambda_tasks = [t for t in _tasks(definition["States"]) if t["Resource"] == "arn:aws:states:::lambda:invoke"]
    assert lambda_tasks
    for task in lambda_tasks:
        placeholder = re.fullmatch(r"\$\{(\w+)\}", task["Parameters"]["FunctionName"])
        assert placeholder, task
        function = template["Resources"][_ref(substitutions[placeholder[1]])]
        assert function["Type"] == "AWS::Lambda::Function"
        assert function["Properties"]["Handler"] == manifest.function(placeholder[1]).handler
    assert set(substitutions) == set(machine.placeholders())


@pytest.mark.parametrize("stack", STACKS)
def test_state_machines_log_everything_trace_and_carry_the_tags_the_cli_finds(
    synthesized: Synthesized, stack: str
) -> None:
    template = synthesized.template(stack)
    vault, _ = _vault(template)
    machines = resources(template, "AWS::StepFunctions::StateMachine").values()
    assert sorted(m["Properties"]["StateMachineName"] for m in machines) == [
        "qldb-dr-backup",
        "qldb-dr-drill",
        "qldb-dr-restore",
    ]
    for machine in machines:
        properties = machine["Properties"]
        assert properties["LoggingConfiguration"]["Level"] == "ALL"
        assert properties["LoggingConfiguration"]["IncludeExecutionData"] is True
        assert properties["TracingConfiguration"] == {"Enabled": True}
        tags = {t["Key"]: t["Value"] for t in properties["Tags"]}
        assert _ref(tags[VAULT_TAG]) == vault


@pytest.mark.parametrize("stack", STACKS)
def test_functions_are_the_manifests(synthesized: Synthesized, stack: str) -> None:
    template = synthesized.template(stack)
    functions = {
        f["Properties"]["FunctionName"]: f["Properties"] for f in resources(template, "AWS::Lambda::Function").values()
    }
    assert set(functions) == {fn.name for fn in manifest.FUNCTIONS}
    for fn in manifest.FUNCTIONS:
        deployed = functions[fn.name]
        assert deployed["Handler"] == fn.handler and deployed["Runtime"] == manifest.RUNTIME
        assert (deployed["MemorySize"], deployed["Timeout"]) == (fn.memory_mb, fn.timeout_seconds)
        assert deployed["TracingConfig"] == {"Mode": "Active"}
        variables = deployed["Environment"]["Variables"]
        assert {k: v for k, v in variables.items() if k in manifest.STATIC_ENVIRONMENT} == manifest.STATIC_ENVIRONMENT
        assert set(variables) - set(manifest.STATIC_ENVIRONMENT) <= {s.value for s in fn.settings}


def test_each_ledger_is_backed_up_on_a_schedule_at_its_rpo(synthesized: Synthesized) -> None:
    backup = _ref_of_machine(synthesized.primary, "qldb-dr-backup")
    schedules = {
        s["Properties"]["Name"]: s["Properties"]
        for s in resources(synthesized.primary, "AWS::Scheduler::Schedule").values()
    }
    for ledger in CONFIG["ledgers"]:
        schedule = schedules[f"qldb-dr-backup-{ledger['name']}"]
        minutes = ledger.get("rpoMinutes", CONFIG["rpoMinutes"])
        assert schedule["ScheduleExpression"] == manifest.rate(minutes)
        assert _ref(schedule["Target"]["Arn"]) == backup
        assert json.loads(schedule["Target"]["Input"]) == {"ledgerName": ledger["name"]}
    assert manifest.rate(5) == "rate(5 minutes)" and manifest.rate(60) == "rate(1 hour)"
    assert not [
        s for s in resources(synthesized.dr, "AWS::Scheduler::Schedule").values() if "backup" in s["Properties"]["Name"]
    ]


def _ref_of_machine(template: dict[str, Any], name: str) -> str:
    [(logical, _)] = [
        (k, v)
        for k, v in resources(template, "AWS::StepFunctions::StateMachine").items()
        if v["Properties"]["StateMachineName"] == name
    ]
    return logical


def test_intermediate_ledgers_are_preloaded_by_a_scheduled_incremental_restore(synthesized: Synthesized) -> None:
    restore = _ref_of_machine(synthesized.dr, "qldb-dr-restore")
    [schedule] = [
        s["Properties"]
        for s in resources(synthesized.dr, "AWS::Scheduler::Schedule").values()
        if s["Properties"]["Name"].startswith("qldb-dr-preload-")
    ]
    assert schedule["Name"] == "qldb-dr-preload-payments" and schedule["ScheduleExpression"] == "rate(6 hours)"
    assert _ref(schedule["Target"]["Arn"]) == restore
    assert json.loads(schedule["Target"]["Input"]) == {
        "sourceLedger": "payments",
        "targetLedger": "payments-dr",
        "mode": "history",
        "incremental": True,
    }


def test_warm_standby_ledgers_restore_each_recovery_point_as_it_lands_in_the_dr_vault(
    synthesized: Synthesized,
) -> None:
    vault, _ = _vault(synthesized.dr)
    [rule] = [r["Properties"] for r in resources(synthesized.dr, "AWS::Events::Rule").values()]
    assert rule["Name"] == "qldb-dr-standby-orders"
    pattern = rule["EventPattern"]
    assert pattern["detail-type"] == ["Object Created"] and _ref(pattern["detail"]["bucket"]["name"][0]) == vault
    assert pattern["detail"]["object"]["key"] == [{"wildcard": "orders/catalog/*.json"}]
    [target] = rule["Targets"]
    assert _ref(target["Arn"]) == _ref_of_machine(synthesized.dr, "qldb-dr-restore")
    template = target["InputTransformer"]["InputTemplate"]
    filled = json.loads(template.replace("<key>", '"orders/catalog/x.json"'))
    assert filled == {
        "catalogKey": "orders/catalog/x.json",
        "standby": {"sourceLedger": "orders", "targetLedger": "orders-standby", "mode": "latest"},
    }
    assert target["InputTransformer"]["InputPathsMap"] == {"key": "$.detail.object.key"}


def test_schedules_and_rules_start_workflows_with_a_role_that_may_start_only_them(synthesized: Synthesized) -> None:
    for template in (synthesized.primary, synthesized.dr):
        roles = {
            _ref(s["Properties"]["Target"]["RoleArn"]) for s in resources(template, "AWS::Scheduler::Schedule").values()
        } | {
            _ref(t["RoleArn"])
            for r in resources(template, "AWS::Events::Rule").values()
            for t in r["Properties"]["Targets"]
        }
        [role] = roles
        statements = _policy_of(template, role)
        assert _actions(statements) == {"states:StartExecution"}
        machines = {_ref_of_machine(template, m.name) for m in manifest.STATE_MACHINES}
        assert {_ref(r) for s in statements for r in _listed(s["Resource"])} == machines


def _alarms(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [a["Properties"] for a in resources(template, "AWS::CloudWatch::Alarm").values()]


@pytest.mark.parametrize("stack", STACKS)
def test_a_failed_or_timed_out_execution_of_either_workflow_alarms(synthesized: Synthesized, stack: str) -> None:
    template = synthesized.template(stack)
    for machine in manifest.STATE_MACHINES:
        arn = _ref_of_machine(template, machine.name)
        for metric in ("ExecutionsFailed", "ExecutionsTimedOut"):
            [alarm] = [
                a for a in _alarms(template) if a["MetricName"] == metric and _ref(a["Dimensions"][0]["Value"]) == arn
            ]
            assert alarm["Namespace"] == "AWS/States" and alarm["Threshold"] == 1
            assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_stale_backups_alarm_when_no_recovery_point_lands_within_twice_the_rpo(synthesized: Synthesized) -> None:
    for ledger in CONFIG["ledgers"]:
        [alarm] = [
            a
            for a in _alarms(synthesized.primary)
            if a["MetricName"] == manifest.RECOVERY_POINT_METRIC
            and {"Name": "Ledger", "Value": ledger["name"]} in a["Dimensions"]
        ]
        minutes = ledger.get("rpoMinutes", CONFIG["rpoMinutes"])
        assert alarm["Namespace"] == manifest.METRICS_NAMESPACE
        assert alarm["Period"] * alarm["EvaluationPeriods"] == 2 * minutes * 60
        assert alarm["TreatMissingData"] == "breaching"  # a backup that stopped emits nothing
        assert alarm["ComparisonOperator"] == "LessThanThreshold" and alarm["Threshold"] == 1
        # the dimensions the Record Recovery Point step emits the metric with
        assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {
            "Ledger": ledger["name"],
            **manifest.METRIC_DIMENSIONS,
        }


@pytest.mark.parametrize("stack", STACKS)
def test_a_restore_that_does_not_verify_alarms(synthesized: Synthesized, stack: str) -> None:
    alarms = [a for a in _alarms(synthesized.template(stack)) if a["MetricName"] == manifest.RESTORE_FAILED_METRIC]
    assert sorted({d["Value"] for a in alarms for d in a["Dimensions"] if d["Name"] == "SourceLedger"}) == sorted(
        ledger["name"] for ledger in CONFIG["ledgers"]
    )
    assert all(a["TreatMissingData"] == "notBreaching" and a["Threshold"] == 1 for a in alarms)


def test_late_or_failed_replication_alarms(synthesized: Synthesized) -> None:
    alarms = {a["MetricName"]: a for a in _alarms(synthesized.primary) if a["Namespace"] == "AWS/S3"}
    latency = alarms["ReplicationLatency"]
    assert latency["Threshold"] == CONFIG["replicationAlarmSeconds"] and latency["Statistic"] == "Maximum"
    dimensions = {d["Name"]: d["Value"] for d in latency["Dimensions"]}
    assert dimensions["DestinationBucket"] == f"qldb-dr-vault-{ACCOUNT}-{REGIONS['dr']}"
    assert dimensions["RuleId"] == _vault(synthesized.primary)[1]["ReplicationConfiguration"]["Rules"][0]["Id"]
    assert "OperationsFailedReplication" in alarms


@pytest.mark.parametrize("stack", STACKS)
def test_alarms_notify_an_encrypted_tls_only_topic(synthesized: Synthesized, stack: str) -> None:
    template = synthesized.template(stack)
    topic_logical, topic = next(iter(resources(template, "AWS::SNS::Topic").items()))
    assert template["Resources"][_ref(topic["Properties"]["KmsMasterKeyId"])]["Type"] == "AWS::KMS::Key"
    alarms = _alarms(template)
    assert alarms and all([_ref(a) for a in alarm["AlarmActions"]] == [topic_logical] for alarm in alarms)
    policy = one(template, "AWS::SNS::TopicPolicy")
    assert any(
        s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    )
    [subscription] = [s["Properties"] for s in resources(template, "AWS::SNS::Subscription").values()]
    assert subscription["Protocol"] == "email" and subscription["Endpoint"] == "oncall@example.com"


# Actions AWS defines on no resource: they take Resource "*".
RESOURCELESS = {
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
}


@pytest.mark.parametrize("stack", STACKS)
def test_iam_statements_name_their_actions_and_scope_their_resources(synthesized: Synthesized, stack: str) -> None:
    for statement in _statements(synthesized.template(stack)):
        if statement.get("Effect", "Allow") != "Allow":
            continue
        actions = _listed(statement["Action"])
        assert all("*" not in a for a in actions), statement
        for resource in _listed(statement["Resource"]):
            if resource == "*":
                assert set(actions) <= RESOURCELESS, statement


@pytest.mark.parametrize("stack", STACKS)
def test_functions_reach_qldb_only_for_the_configured_ledgers_and_restore_targets(
    synthesized: Synthesized, stack: str
) -> None:
    allowed = (
        {f"ledger/{ledger['name']}" for ledger in CONFIG["ledgers"]}
        | {f"ledger/{ledger['name']}-*" for ledger in CONFIG["ledgers"]}
        | {f"ledger/{ledger['targetLedger']}" for ledger in CONFIG["ledgers"] if "targetLedger" in ledger}
        | {f"ledger/{ledger['name']}-drill-*" for ledger in CONFIG["ledgers"]}
    )
    allowed |= {"ledger/audit-standby"}  # audit's default target name
    region = REGIONS[stack]
    seen = set()
    for statement in _statements(synthesized.template(stack)):
        if not any(a.startswith("qldb:") for a in _listed(statement["Action"])):
            continue
        for resource in _listed(statement["Resource"]):
            text = resource if isinstance(resource, str) else "".join(str(p) for p in resource["Fn::Join"][1])
            assert re.search(rf"arn:aws:qldb:{region}:", text) or f":{region}:" in text, text
            ledger = re.search(r"ledger/[A-Za-z0-9*-]+", text)
            assert ledger and ledger[0] in allowed, text
            seen.add(ledger[0])
    assert seen


def test_a_ledger_with_drills_is_drilled_on_a_schedule_in_the_dr_region(synthesized: Synthesized) -> None:
    drill = _ref_of_machine(synthesized.dr, "qldb-dr-drill")
    schedules = [s["Properties"] for s in resources(synthesized.dr, "AWS::Scheduler::Schedule").values()]
    [schedule] = [s for s in schedules if s["Name"].startswith("qldb-dr-drill-")]
    assert schedule["Name"] == "qldb-dr-drill-audit" and schedule["ScheduleExpression"] == "rate(7 days)"
    assert _ref(schedule["Target"]["Arn"]) == drill
    assert json.loads(schedule["Target"]["Input"]) == {"sourceLedger": "audit", "mode": "latest"}
    primary = [s["Properties"]["Name"] for s in resources(synthesized.primary, "AWS::Scheduler::Schedule").values()]
    assert not [name for name in primary if name.startswith("qldb-dr-drill-")]


def test_a_drill_that_does_not_verify_alarms_in_the_dr_region(synthesized: Synthesized) -> None:
    [alarm] = [a for a in _alarms(synthesized.dr) if a["MetricName"] == manifest.DRILL_FAILED_METRIC]
    assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {"Ledger": "audit", **manifest.METRIC_DIMENSIONS}
    assert alarm["Threshold"] == 1 and alarm["TreatMissingData"] == "notBreaching"
    assert not [a for a in _alarms(synthesized.primary) if a["MetricName"] == manifest.DRILL_FAILED_METRIC]


@pytest.mark.parametrize("stack", STACKS)
def test_only_drills_delete_ledgers_and_only_their_scratch_ledgers(synthesized: Synthesized, stack: str) -> None:
    template = synthesized.template(stack)
    deleting = [s for s in _statements(template) if "qldb:DeleteLedger" in _listed(s["Action"])]
    assert deleting, "the drill's Finish step deletes its scratch ledger"
    for statement in deleting:
        for resource in _listed(statement["Resource"]):
            text = resource if isinstance(resource, str) else "".join(str(p) for p in resource["Fn::Join"][1])
            assert re.search(r":ledger/(orders|payments|audit)-drill-\*$", text), text
    starting = [s for s in _statements(template) if "states:StartExecution" in _listed(s["Action"])]
    for statement in starting:
        for resource in _listed(statement["Resource"]):
            text = json.dumps(resource)
            assert "stateMachine:qldb-dr-" in text or "Ref" in text, text

"""What starts the workflows without an operator: the manifest's schedules (EventBridge
Scheduler: a backup per ledger at its RPO, an intermediate ledger's preload) and rules (a warm
standby's, on the DR vault's S3 events), and the one role both assume, which may start exactly
this region's two state machines."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from qldb_dr.workflows.manifest import Rule, Schedule, start_role


class Triggers(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        state_machines: dict[str, sfn.StateMachine],
        schedules: tuple[Schedule, ...],
        rules: tuple[Rule, ...],
    ) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        self.role = iam.Role(
            self,
            "StartRole",
            role_name=start_role(stack.region),
            description="EventBridge rules and Scheduler schedules start the qldb-dr workflows with this role",
            assumed_by=iam.CompositePrincipal(
                iam.ServicePrincipal(
                    "events.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": stack.account}}
                ),
                iam.ServicePrincipal(
                    "scheduler.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": stack.account}}
                ),
            ),
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["states:StartExecution"], resources=[m.state_machine_arn for m in state_machines.values()]
            )
        )
        for schedule in schedules:
            scheduler.CfnSchedule(
                self,
                schedule.name,
                name=schedule.name,
                description=schedule.description,
                schedule_expression=schedule.expression,
                flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
                state="ENABLED",
                target=scheduler.CfnSchedule.TargetProperty(
                    arn=state_machines[schedule.state_machine].state_machine_arn,
                    role_arn=self.role.role_arn,
                    input=schedule.input_json(),
                    retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                        maximum_event_age_in_seconds=3600, maximum_retry_attempts=10
                    ),
                ),
            )
        for rule in rules:
            events.CfnRule(
                self,
                rule.name,
                name=rule.name,
                description=rule.description,
                event_pattern=rule.pattern,
                state="ENABLED",
                targets=[
                    events.CfnRule.TargetProperty(
                        id=rule.state_machine,
                        arn=state_machines[rule.state_machine].state_machine_arn,
                        role_arn=self.role.role_arn,
                        input_transformer=events.CfnRule.InputTransformerProperty(
                            input_paths_map=rule.input_paths, input_template=rule.input_template
                        ),
                    )
                ],
            )

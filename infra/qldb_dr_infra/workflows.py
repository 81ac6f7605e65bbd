"""A region's task functions and both state machines, from the manifest: each function with its
handler, memory, timeout, environment and a role of its own holding exactly its `Access`; each
state machine from its ASL file with every `${Placeholder}` substituted by its function's ARN,
logged (ALL, with execution data) and traced, named and tagged as the CLI looks for them."""

from __future__ import annotations

from aws_cdk import CfnResource, Duration, RemovalPolicy, Stack, Tags
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from qldb_dr.workflows.deployment import VAULT_TAG
from qldb_dr.workflows.manifest import Manifest, Setting, StateMachine

from .access import Scope, statements
from .packaging import code

RUNTIME = lambda_.Runtime.PYTHON_3_14
LOG_RETENTION = logs.RetentionDays.ONE_YEAR


def _after_policy_only(resource: object, role: iam.Role) -> None:
    """CDK makes a function or state machine depend on its role and on the role's policy; the
    role is referenced already (GetAtt), which cfn-lint flags as redundant (W3005): keep the
    policy, so that the resource is created only once it may do its work."""
    assert isinstance(resource, CfnResource)
    policy = role.node.find_child("DefaultPolicy").node.default_child
    assert isinstance(policy, CfnResource)
    stack = Stack.of(resource)
    resource.add_override("DependsOn", [stack.resolve(stack.get_logical_id(policy))])


class Workflows(Construct):
    def __init__(
        self, scope: Construct, id: str, *, manifest: Manifest, access: Scope, values: dict[Setting, str]
    ) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        asset = code()
        self.functions: dict[str, lambda_.Function] = {}
        for fn in manifest.functions:
            log_group = logs.LogGroup(
                self,
                f"{fn.placeholder}Logs",
                log_group_name=f"/aws/lambda/{fn.name}",
                retention=LOG_RETENTION,
                removal_policy=RemovalPolicy.RETAIN,
            )
            role = iam.Role(
                self,
                f"{fn.placeholder}Role",
                description=f"qldb-dr {fn.name}: {'; '.join(sorted(a.value for a in fn.access))}",
                assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            )
            # Its own log group only (not AWSLambdaBasicExecutionRole's every group of the account).
            role.add_to_policy(
                iam.PolicyStatement(
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[log_group.log_group_arn],  # the group's ARN ends in `:*`: its streams
                )
            )
            for statement in statements(fn.access, access):
                role.add_to_policy(statement)
            self.functions[fn.placeholder] = lambda_.Function(
                self,
                fn.placeholder,
                function_name=fn.name,
                description=f"qldb-dr step: {fn.handler}",
                runtime=RUNTIME,
                architecture=lambda_.Architecture.X86_64,
                handler=fn.handler,
                code=asset,
                memory_size=fn.memory_mb,
                timeout=Duration.seconds(fn.timeout_seconds),
                environment=manifest.environment(fn, values),
                role=role,
                log_group=log_group,
                tracing=lambda_.Tracing.ACTIVE,
            )
            _after_policy_only(self.functions[fn.placeholder].node.default_child, role)
        self.state_machines: dict[str, sfn.StateMachine] = {}
        for machine in manifest.state_machines:
            self.state_machines[machine.name] = self._state_machine(machine, stack, access, values)

    def _state_machine(
        self, machine: StateMachine, stack: Stack, access: Scope, values: dict[Setting, str]
    ) -> sfn.StateMachine:
        functions = [self.functions[fn.placeholder] for fn in machine.functions()]
        log_group = logs.LogGroup(
            self,
            f"{machine.name}-logs",
            log_group_name=f"/aws/vendedlogs/states/{machine.name}",
            retention=LOG_RETENTION,
            removal_policy=RemovalPolicy.RETAIN,
        )
        role = iam.Role(
            self,
            f"{machine.name}-role",
            description=f"Step Functions runs {machine.name} with this role",
            assumed_by=iam.ServicePrincipal(
                "states.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": stack.account}}
            ),
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"],
                resources=[f.function_arn for f in functions],  # the ASL invokes each unqualified
            )
        )
        own = machine.arn(stack.region, stack.account)
        executions = f"arn:aws:states:{stack.region}:{stack.account}:execution:{machine.name}"
        # A Distributed Map runs its items as child executions of this state machine, reads its
        # items from the vault (ItemReader) and writes its results there (ResultWriter).
        role.add_to_policy(iam.PolicyStatement(actions=["states:StartExecution"], resources=[own]))
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["states:DescribeExecution", "states:StopExecution", "states:RedriveExecution"],
                resources=[f"{executions}:*", f"{executions}/*"],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
                resources=access.objects("*/restores/*"),
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[access.key_arn])
        )
        state_machine = sfn.StateMachine(
            self,
            machine.name,
            state_machine_name=machine.name,
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_string(machine.text()),  # inline: readable, and cfn-lint checks it
            definition_substitutions={
                fn.placeholder: self.functions[fn.placeholder].function_arn for fn in machine.functions()
            },
            role=role,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
            tracing_enabled=True,
        )
        _after_policy_only(state_machine.node.default_child, role)
        Tags.of(state_machine).add(VAULT_TAG, values[Setting.VAULT_BUCKET])
        return state_machine

"""The two stacks: one per region, built alike — a vault, both workflows and their functions,
what starts them, alarms — and differing in their role: the primary replicates its vault to the
DR region and backs the configured ledgers up at their RPOs; the DR stack's vault receives the
replicas and sends their events to EventBridge, where the warm standbys' rules and the
intermediate ledgers' preload schedules start restores."""

from __future__ import annotations

from aws_cdk import CfnOutput, Environment, Stack, Tags
from constructs import Construct

from qldb_dr.workflows.config import DeploymentConfig
from qldb_dr.workflows.deployment import RESTORE
from qldb_dr.workflows.manifest import TAGS, Manifest, Region, Setting, state_machine

from .access import Scope
from .alarms import Alarms
from .replication import RULE_ID, Replication, allow_from_primary, dr_bucket_name
from .triggers import Triggers
from .vault import Vault
from .workflows import Workflows


class RegionStack(Stack):
    def __init__(self, scope: Construct, id: str, *, manifest: Manifest, role: Region, env: Environment) -> None:
        super().__init__(
            scope,
            id,
            env=env,
            description=f"qldb-dr {role.value} region: vault, backup and restore workflows, alarms",
        )
        config = manifest.config
        self.role = role
        self.vault = Vault(self, "Vault", config=config, events=role is Region.DR)
        # The ledgers this region backs up: the configured ones in the primary; in the DR region
        # the ledgers restored there, so that after a failover they can be backed up (and failed back).
        sources = tuple(ledger.name for ledger in config.ledgers) if role is Region.PRIMARY else config.targets()
        if sources:
            self.vault.allow_exports(sources)
        access = Scope(
            region=self.region,
            account=self.account,
            bucket_arn=self.vault.bucket.bucket_arn,
            key_arn=self.vault.key.key_arn,
            prefix=config.vault_prefix,
            sources=sources,
            targets=config.targets(),
            scratch=config.scratch(),
            export_role_arn=self.vault.export_role.role_arn,
        )
        values = {
            Setting.VAULT_BUCKET: self.vault.bucket.bucket_name,
            Setting.VAULT_PREFIX: config.vault_prefix,
            Setting.EXPORT_ROLE: self.vault.export_role.role_arn,
            Setting.VAULT_KEY: self.vault.key.key_arn,
            Setting.SETTLE_SECONDS: str(config.settle_seconds),
            Setting.RESTORE_STATE_MACHINE: state_machine(RESTORE).arn(self.region, self.account),
        }
        self.workflows = Workflows(self, "Workflows", manifest=manifest, access=access, values=values)
        rules = manifest.rules(self.vault.bucket.bucket_name) if role is Region.DR else ()
        self.triggers = Triggers(
            self,
            "Triggers",
            state_machines=self.workflows.state_machines,
            schedules=manifest.in_region(role),
            rules=rules,
        )
        self.alarms = Alarms(self, "Alarms", config=config)
        for name, machine in self.workflows.state_machines.items():
            self.alarms.workflow(machine, name)
        for ledger in config.ledgers:
            self.alarms.restore(ledger)
            if role is Region.PRIMARY:
                self.alarms.staleness(ledger)
            elif ledger.drill_minutes is not None:
                self.alarms.drill(ledger)
        if role is Region.PRIMARY:
            replication = Replication(
                self, "Replication", config=config, bucket=self.vault.bucket, key_arn=self.vault.key.key_arn
            )
            self.alarms.replication(
                self.vault.bucket.bucket_name, dr_bucket_name(config, self), RULE_ID, config.replication_alarm_seconds
            )
            CfnOutput(self, "ReplicatesTo", value=replication.destination)
        else:
            allow_from_primary(config, self, self.vault.bucket, self.vault.key)
        for key, value in TAGS.items():
            Tags.of(self).add(key, value)
        CfnOutput(self, "VaultBucket", value=self.vault.bucket.bucket_name)
        CfnOutput(self, "AlarmTopic", value=self.alarms.topic.topic_arn)
        for name, machine in self.workflows.state_machines.items():
            CfnOutput(self, f"{name}-arn", value=machine.state_machine_arn)


def stacks(scope: Construct, manifest: Manifest, default_account: str | None) -> tuple[RegionStack, RegionStack]:
    """Both stacks; the DR one deploys first (the primary's replication needs its bucket)."""
    config: DeploymentConfig = manifest.config
    account = config.account or default_account
    dr = RegionStack(
        scope,
        "qldb-dr-dr",
        manifest=manifest,
        role=Region.DR,
        env=Environment(account=config.dr_account or account, region=config.dr_region),
    )
    primary = RegionStack(
        scope,
        "qldb-dr-primary",
        manifest=manifest,
        role=Region.PRIMARY,
        env=Environment(account=account, region=config.primary_region),
    )
    primary.add_stack_dependency(dr, "the primary vault replicates into the DR vault")
    return primary, dr

"""What each function may touch (`manifest.Access`) as IAM statements, scoped to one region's
vault, its key, the ledgers it protects and the ledgers restores may write — never a `*` action,
never a resource outside them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from aws_cdk import aws_iam as iam

from qldb_dr.workflows.deployment import RESTORE
from qldb_dr.workflows.manifest import Access, state_machine

# QLDB's PartiQL actions in the STANDARD permissions mode (restore targets are created in it),
# on a ledger's tables and its information_schema.
_TARGET_WRITE = (
    "qldb:PartiQLCreateTable",
    "qldb:PartiQLCreateIndex",
    "qldb:PartiQLDropTable",
    "qldb:PartiQLDropIndex",
    "qldb:PartiQLUndropTable",
    "qldb:PartiQLInsert",
    "qldb:PartiQLUpdate",
    "qldb:PartiQLDelete",
    "qldb:PartiQLRedact",
)
_TARGET_READ = ("qldb:PartiQLSelect", "qldb:PartiQLHistoryFunction")


@dataclass(frozen=True)
class Scope:
    """One region's resources the statements are scoped to."""

    region: str
    account: str
    bucket_arn: str
    key_arn: str
    prefix: str
    sources: tuple[str, ...]  # ledger names (or patterns) this region backs up
    targets: tuple[str, ...]  # ledger name patterns restores here may create and write
    scratch: tuple[str, ...]  # ledger name patterns of drills' scratch ledgers, which drills delete
    export_role_arn: str

    def objects(self, *paths: str) -> list[str]:
        return [f"{self.bucket_arn}/{self.prefix}{path}" for path in paths]

    def ledgers(self, names: Iterable[str]) -> list[str]:
        return [f"arn:aws:qldb:{self.region}:{self.account}:ledger/{name}" for name in names]

    def tables(self, names: Iterable[str]) -> list[str]:
        arns = []
        for ledger in self.ledgers(names):
            arns += [f"{ledger}/table/*", f"{ledger}/information_schema/user_tables"]
        return arns


def _key(scope: Scope, *actions: str) -> iam.PolicyStatement:
    return iam.PolicyStatement(actions=list(actions), resources=[scope.key_arn])


def statements(access: frozenset[Access], scope: Scope) -> list[iam.PolicyStatement]:
    found: list[iam.PolicyStatement] = []
    writes = {Access.PROOF_WRITE, Access.CATALOG_WRITE, Access.RESTORE_WRITE, Access.DRILL_WRITE} & access
    if Access.VAULT_READ in access:
        found += [
            iam.PolicyStatement(actions=["s3:ListBucket", "s3:ListBucketVersions"], resources=[scope.bucket_arn]),
            iam.PolicyStatement(
                actions=["s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTagging", "s3:GetObjectVersionTagging"],
                resources=scope.objects("*"),
            ),
            _key(scope, "kms:Decrypt"),
        ]
    paths = {
        Access.PROOF_WRITE: "*/journal/*.proof.json",
        Access.CATALOG_WRITE: "*/catalog/*",
        Access.RESTORE_WRITE: "*/restores/*",
        Access.DRILL_WRITE: "*/drills/*",
    }
    if writes:
        found += [
            iam.PolicyStatement(actions=["s3:PutObject"], resources=scope.objects(*(paths[a] for a in sorted(writes)))),
            _key(scope, "kms:GenerateDataKey"),
        ]
    if Access.JOURNAL_TAG in access:
        found.append(
            iam.PolicyStatement(
                actions=["s3:PutObjectTagging", "s3:PutObjectVersionTagging"], resources=scope.objects("*/journal/*")
            )
        )
    sources = scope.ledgers(scope.sources)  # none without configured ledgers: no statement then
    if Access.SOURCE_DESCRIBE in access and sources:
        found.append(
            iam.PolicyStatement(
                actions=["qldb:DescribeLedger", "qldb:DescribeJournalS3Export", "qldb:ListJournalS3ExportsForLedger"],
                resources=sources,
            )
        )
    if Access.SOURCE_EXPORT in access and sources:
        found += [
            iam.PolicyStatement(actions=["qldb:ExportJournalToS3"], resources=sources),
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[scope.export_role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "qldb.amazonaws.com"}},
            ),
        ]
    if Access.SOURCE_DIGEST in access and sources:
        found.append(iam.PolicyStatement(actions=["qldb:GetDigest", "qldb:GetBlock"], resources=sources))
    targets = scope.ledgers(scope.targets)
    if Access.TARGET_CREATE in access and targets:
        found.append(
            iam.PolicyStatement(
                actions=["qldb:CreateLedger", "qldb:DescribeLedger", "qldb:TagResource"], resources=targets
            )
        )
    table_actions = (_TARGET_WRITE if Access.TARGET_WRITE in access else ()) + (
        _TARGET_READ if access & {Access.TARGET_WRITE, Access.TARGET_READ} else ()
    )
    if table_actions and targets:
        found += [
            iam.PolicyStatement(actions=["qldb:SendCommand", "qldb:DescribeLedger"], resources=targets),
            iam.PolicyStatement(actions=list(table_actions), resources=scope.tables(scope.targets)),
        ]
    if Access.RESTORE_START in access:
        restore = state_machine(RESTORE)
        found += [
            iam.PolicyStatement(
                actions=["states:StartExecution"], resources=[restore.arn(scope.region, scope.account)]
            ),
            iam.PolicyStatement(
                actions=["states:DescribeExecution", "states:GetExecutionHistory"],
                resources=[f"arn:aws:states:{scope.region}:{scope.account}:execution:{restore.name}:*"],
            ),
        ]
    if Access.SCRATCH_DELETE in access and scope.scratch:
        # A drill's scratch ledger only (created with deletion protection off, but UpdateLedger
        # turns it off should a restore have set it).
        found.append(
            iam.PolicyStatement(
                actions=["qldb:DescribeLedger", "qldb:UpdateLedger", "qldb:DeleteLedger"],
                resources=scope.ledgers(scope.scratch),
            )
        )
    return found

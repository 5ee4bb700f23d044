"""The example organisation: one Stage per account, holding that account's stacks in every Region.

Stage and stack names derive from the account alias and Region (``Workload`` /
``Workload-Keys-eu-west-1``). Stacks of one account reference each other directly (CDK
cross-Region references within the account); across accounts they use names derived from the
configuration (the central audit bucket), never CloudFormation exports.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from constructs import Construct

from constructs_lib._validation import require
from kmskit.aws_tags import MAX_TAGS_PER_RESOURCE
from kmskit.snapshots.model import MAX_COPY_TAGS, MAX_TOOLKIT_TAGS
from stacks.audit_stack import AuditStack
from stacks.config import ROLES, WAVE_NAMES, Account, Environment, Organisation
from stacks.data_stack import DataStack
from stacks.key_stack import KeyStack
from stacks.pipeline_stack import PipelineArtifactsStack, PipelineStack, pipeline_suffix
from stacks.replication_stack import SnapshotReceiverStack, SnapshotSourceStack


class AccountStage(cdk.Stage):
    """Every stack of one account: keys and data in each Region, the audit trail in the home
    Region."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        organisation: Organisation,
        account: Account,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        self.account_config = account
        tags = organisation.tags_of(account)
        self.key_stacks: dict[str, KeyStack] = {}
        self.data_stacks: dict[str, DataStack] = {}
        for region in organisation.ordered_regions:
            environment = Environment(account, region)
            home_keys = self.key_stacks.get(organisation.home_region)
            keys = KeyStack(
                self,
                f"Keys-{region}",
                organisation=organisation,
                environment=environment,
                global_primary=home_keys.global_key if home_keys is not None else None,  # type: ignore[arg-type]
                env=_env(account, region),
                description=f"KMS keys of {account.alias} in {region}",
                tags=tags or None,
            )
            self.key_stacks[region] = keys
            if account.role == "workload":
                self.data_stacks[region] = DataStack(
                    self,
                    f"Data-{region}",
                    data_key=keys.data_key,
                    env=_env(account, region),
                    description=f"Encrypted buckets of {account.alias} in {region}",
                    tags=tags or None,
                )
        self.replication_stacks: dict[str, SnapshotSourceStack | SnapshotReceiverStack] = {}
        replication = organisation.replication
        if account.role == "workload" and replication.destinations:
            snapshot_keys = {
                region: stack.snapshot_key
                for region, stack in self.key_stacks.items()
                if stack.snapshot_key is not None
            }
            for region in replication_regions(organisation, account):
                self.replication_stacks[region] = SnapshotSourceStack(
                    self,
                    f"Replication-{region}",
                    organisation=organisation,
                    region=region,
                    snapshot_keys=snapshot_keys,
                    # Copies are made at run time, outside CloudFormation: the stack tags
                    # do not reach them, so the replicator puts the same tags on each.
                    copy_tags=tags or None,
                    env=_env(account, region),
                    description=f"Snapshot replication from {account.alias} in {region}",
                    tags=tags or None,
                )
        if account.role == "backup":
            for region in replication_regions(organisation, account):
                self.replication_stacks[region] = SnapshotReceiverStack(
                    self,
                    f"Receiver-{region}",
                    organisation=organisation,
                    backup_key=self.key_stacks[region].data_key,
                    copy_tags=tags or None,
                    env=_env(account, region),
                    description=f"Snapshot receiver of {account.alias} in {region}",
                    tags=tags or None,
                )
        self.audit_stack = AuditStack(
            self,
            "Audit",
            organisation=organisation,
            account=account,
            env=_env(account, organisation.home_region),
            description=f"CloudTrail audit trail of {account.alias}",
            tags=tags or None,
        )
        tag_resources(self, tags)

    @property
    def stack_count(self) -> int:
        return len(self.key_stacks) + len(self.data_stacks) + len(self.replication_stacks) + 1


def replication_regions(organisation: Organisation, account: Account) -> list[str]:
    """The Regions where ``account``'s stage gets a snapshot replication stack: a replicator in
    each Region of a workload account with somewhere to copy to (a Region whose only destination
    is itself, a same-account destination, has nothing to copy), a receiver in each destination
    Region of a backup account."""
    replication = organisation.replication
    if account.role == "workload" and replication.destinations:
        return [r for r in organisation.ordered_regions if replication.destinations_from(r)]
    if account.role == "backup":
        return sorted({d.region for d in replication.destinations if d.account == account})
    return []


def planned_stack_count(organisation: Organisation, account: Account) -> int:
    """How many stacks :class:`AccountStage` makes for ``account``, known before it is built: keys
    in each Region, data in each Region of a workload account, the replication stacks, and the
    audit stack."""
    regions = len(organisation.ordered_regions)
    data = regions if account.role == "workload" else 0
    return regions + data + len(replication_regions(organisation, account)) + 1


def require_stages_fit_in_waves(organisation: Organisation) -> None:
    """Refuse, naming ``regions``, an organisation with an account whose stage would hold more
    stacks than one pipeline wave deploys (two actions per stack, MAX_ACTIONS_PER_WAVE): with
    every Region replicated, a workload account holds three stacks per Region and its audit
    stack, so at most 8 Regions."""
    for account in organisation.accounts:
        stacks = planned_stack_count(organisation, account)
        require(
            2 * stacks <= MAX_ACTIONS_PER_WAVE,
            "kmskit:organisation.regions",
            f"has {len(organisation.regions)} Regions, which put {stacks} stacks in the stage of "
            f"account '{account.alias}' ({account.role}); one pipeline wave deploys at most "
            f"{MAX_ACTIONS_PER_WAVE // 2} stacks of one account (CodePipeline's "
            f"{MAX_ACTIONS_PER_WAVE} actions per stage): use fewer Regions",
            list(organisation.regions),
        )


def require_tags_fit_on_snapshot_copies(organisation: Organisation) -> None:
    """Refuse, naming the account's ``tags``, an account with snapshot replication stacks whose
    tags (the organisation's and its own) would not fit on its snapshot copies: they get them as
    ``copy_tags`` beside up to MAX_TOOLKIT_TAGS of the toolkit's own (otherwise the construct
    refuses them at synth, naming ``copy_tags``, not the configuration field)."""
    for account in organisation.accounts:
        tags = organisation.tags_of(account)
        require(
            not replication_regions(organisation, account) or len(tags) <= MAX_COPY_TAGS,
            f"kmskit:organisation.accounts.{account.alias}.tags",
            f"must leave account '{account.alias}' at most {MAX_COPY_TAGS} tags with the "
            f"organisation's {len(organisation.tags)}, not {len(tags)}: its snapshot replication "
            f"puts them on every copy, which also carries up to {MAX_TOOLKIT_TAGS} of the "
            f"toolkit's own tags (AWS allows {MAX_TAGS_PER_RESOURCE} per snapshot)",
            sorted(dict(account.tags)),
        )


def _env(account: Account, region: str) -> cdk.Environment:
    return cdk.Environment(account=account.id, region=region)


def tag_resources(scope: Construct, tags: dict[str, str]) -> None:
    """Put ``tags`` on every taggable resource under ``scope``, in its template's ``Tags``.

    The stacks are given the same tags as stack tags (``Stack(tags=...)``), which ``cdk deploy``
    and CDK Pipelines (a template configuration beside each template) pass to CloudFormation; but
    CloudFormation propagates stack tags to some resource types only, and not always on the
    request that creates the resource, where a tag-enforcing SCP looks for them
    (``aws:RequestTag``). A tag in a resource's own ``Tags`` is on its create request wherever
    the service takes tags at creation. ``cdk.Tags.of`` adds one aspect per tag, which runs in
    aws-cdk-lib's Node process at synth (no Python call per construct); with no tags, none is
    added. Aspects do not cross Stage boundaries, so ``scope`` is each account's Stage and each
    of the pipeline account's top-level stacks. With ``@aws-cdk/core:explicitStackTags`` (in
    cdk.json), these aspects leave the stack tags alone.
    """
    for key, value in tags.items():
        cdk.Tags.of(scope).add(key, value)


WAVES = tuple((WAVE_NAMES[role], role) for role in ROLES)
# CodePipeline quotas, none adjustable: actions per pipeline stage (a wave is one stage), stages
# per pipeline and actions per pipeline.
MAX_ACTIONS_PER_WAVE = 50
MAX_PIPELINE_STAGES = 50
MAX_PIPELINE_ACTIONS = 500
# Source, Build, UpdatePipeline and Assets come before the waves, one action each; HandOff comes
# after them in every pipeline of a chain but the last (reserved in each).
FIXED_PIPELINE_STAGES = 5

Wave = tuple[str, list[AccountStage]]


def stage_actions(stage: AccountStage) -> int:
    """CodePipeline actions that deploy ``stage``: prepare and execute a change set per stack."""
    return 2 * stage.stack_count


def plan_waves(stages_by_role: list[tuple[str, list[AccountStage]]]) -> list[Wave]:
    """Split each role's stages into waves of at most MAX_ACTIONS_PER_WAVE actions (two per
    stack: prepare and execute the change set), keeping the role order."""
    waves: list[Wave] = []
    for name, stages in stages_by_role:
        batches: list[list[AccountStage]] = []
        actions = MAX_ACTIONS_PER_WAVE
        for stage in stages:
            needed = stage_actions(stage)
            require(
                needed <= MAX_ACTIONS_PER_WAVE,
                "kmskit:organisation",
                f"puts {stage.stack_count} stacks in account stage {stage.stage_name}, more than "
                f"one pipeline wave can deploy ({MAX_ACTIONS_PER_WAVE // 2})",
                stage.stack_count,
            )
            if actions + needed > MAX_ACTIONS_PER_WAVE:
                batches.append([])
                actions = 0
            batches[-1].append(stage)
            actions += needed
        for index, batch in enumerate(batches, start=1):
            waves.append((name if len(batches) == 1 else f"{name}-{index}", batch))
    return waves


def wave_actions(wave: Wave) -> int:
    return sum(stage_actions(stage) for stage in wave[1])


def plan_pipelines(waves: list[Wave]) -> list[list[Wave]]:
    """Split ``waves``, in order, across as few pipelines as CodePipeline's quotas allow: at most
    MAX_PIPELINE_ACTIONS actions and MAX_PIPELINE_STAGES stages in each, its own Source, Build,
    UpdatePipeline, Assets and HandOff stages included. One wave always fits
    (MAX_ACTIONS_PER_WAVE)."""
    pipelines: list[list[Wave]] = []
    actions = stages = 0
    for wave in waves:
        needed = wave_actions(wave)
        full = actions + needed > MAX_PIPELINE_ACTIONS or stages >= MAX_PIPELINE_STAGES
        if not pipelines or full:
            pipelines.append([])
            actions = stages = FIXED_PIPELINE_STAGES
        pipelines[-1].append(wave)
        actions += needed
        stages += 1
    return pipelines


def add_organisation(app: cdk.App, organisation: Organisation) -> list[PipelineStack]:
    """One :class:`AccountStage` per account, and the pipeline that deploys them wave by wave:
    security, then workloads, then backup. An organisation of more than about 240 stacks needs
    more than one pipeline (CodePipeline's 500 actions): they form a chain, each started by the
    success of the one before (``Pipeline``, ``Pipeline2``, ...). In a partition without
    CodePipeline (``organisation.pipeline`` None: the China Regions) the stages only, and no
    pipeline (an empty list)."""
    require_stages_fit_in_waves(organisation)
    require_tags_fit_on_snapshot_copies(organisation)
    stages_by_role = [
        (
            wave_name,
            [
                AccountStage(
                    app,
                    account.stage_id,
                    organisation=organisation,
                    account=account,
                    env=_env(account, organisation.home_region),
                )
                for account in organisation.accounts_with_role(role)
            ],
        )
        for wave_name, role in WAVES
    ]
    if organisation.pipeline is None:
        return []
    waves = plan_waves([(name, stages) for name, stages in stages_by_role if stages])
    pipeline_account = organisation.pipeline.account
    # The pipeline's stacks are the pipeline account's: its tags, as its stage's stacks have.
    pipeline_tags = organisation.tags_of(pipeline_account)
    artifact_stacks = [
        PipelineArtifactsStack(
            app,
            f"PipelineArtifacts-{region}",
            organisation=organisation,
            env=_env(pipeline_account, region),
            description=f"Pipeline artifacts in {region}",
            tags=pipeline_tags or None,
        )
        for region in organisation.ordered_regions
        if region != organisation.pipeline.region
    ]
    chain: list[PipelineStack] = []
    planned = plan_pipelines(waves)
    for number, pipeline_waves in enumerate(planned, start=1):
        names = ", ".join(name for name, _ in pipeline_waves)
        chain.append(
            PipelineStack(
                app,
                f"Pipeline{pipeline_suffix(number)}",
                organisation=organisation,
                waves=pipeline_waves,
                artifact_stacks=artifact_stacks,
                number=number,
                after=chain[-1] if chain else None,
                env=_env(pipeline_account, organisation.pipeline.region),
                description=(
                    "CDK Pipelines: deploys the organisation wave by wave"
                    if len(planned) == 1
                    else f"CDK Pipelines, {number} of {len(planned)}: deploys {names}"
                ),
                tags=pipeline_tags or None,
            )
        )
    for stack in [*artifact_stacks, *chain]:
        tag_resources(stack, pipeline_tags)
    return chain

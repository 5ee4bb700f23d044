"""The delivery pipeline: CDK Pipelines deploying the organisation wave by wave.

Waves: the security account first (central audit bucket, keys), then the workload accounts, then
the backup account. The pipeline lives in the pipeline account (default: the security account)
in the home Region; every target account is bootstrapped with ``--trust`` for it (docs/deploy.md).
Artifacts are encrypted with customer managed keys in every Region the stages deploy to.

An organisation too large for one pipeline (CodePipeline allows 500 actions, two per stack) is
deployed by a chain of pipelines (``Pipeline``, ``Pipeline2``, ...): each after the first starts
when the one before it succeeds, so the waves still run in order, and deploys the revision that
one deployed (handed off through its artifact bucket), not whatever the branch holds by then.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as codepipeline_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk import pipelines
from constructs import Construct, IConstruct

from constructs_lib import (
    AlarmTopic,
    CustomerManagedKey,
    EncryptedBucket,
    KeyServicePrincipal,
    ManagedPolicyRole,
    acknowledge,
)
from constructs_lib.jsii_channel import COMPILE_CACHE_ENVIRONMENT_VARIABLE, COMPILE_CACHE_OFF
from stacks.config import Organisation

# `make synth` installs requirements.lock with pip's --require-hashes (Makefile): every Python
# distribution the synth step runs, with the synth role, is the one the lock names, file by hash.
SYNTH_COMMANDS = ("make synth",)
# The synth step runs once per build in a fresh CodeBuild container: a jsii kernel compile cache
# would cost about 1.4 s to write and never be read (README, Set-up details).
SYNTH_ENVIRONMENT = {COMPILE_CACHE_ENVIRONMENT_VARIABLE: COMPILE_CACHE_OFF}
# Every CodeBuild project of the pipeline (synth, self-mutation, assets) runs on this image with
# these runtimes pinned. CDK Pipelines' default image (standard:7.0) leaves Node at the image's
# default, Node 18 (end of life since April 2025) on its older builds, for the CDK CLI that the
# self-mutation and asset steps install; standard:8.0 offers Node 22 and 24. Python is the
# version CI tests (the synth step's `make synth` builds its virtualenv with it), the lowest
# pyproject.toml's requires-python admits; `make pythons` tests the newer ones before a release.
BUILD_IMAGE = codebuild.LinuxBuildImage.STANDARD_8_0
BUILD_RUNTIME_VERSIONS = {"nodejs": "24", "python": "3.11"}
# The CLIs the self-mutation and asset steps install with npm, pinned: they run with the deploy
# roles of every account, so not whatever npm serves that minute (CDK Pipelines' default,
# aws-cdk@2 and cdk-assets@latest). The CDK CLI is the one package.json pins for `make synth`.
AWS_CDK_CLI_VERSION = json.loads((Path(__file__).parents[1] / "package.json").read_text("utf-8"))[
    "devDependencies"
]["aws-cdk"]
CDK_ASSETS_CLI_VERSION = "4.7.3"
# cfn-lint rules ignored on the CodePipeline resource only (and listed in docs/compliance.md):
CFN_LINT_IGNORED = (
    # CDK Pipelines builds each CloudFormation action's RoleArn as
    # Fn::Join ["", ["arn:", Ref AWS::Partition, ":iam::<account>:role/cdk-..."]]; E3703 wants
    # Fn::Sub for the same value. The ARN is valid; the rule's other check (TemplatePath names an
    # input artifact) is covered by the pipeline tests.
    "E3703",
    # CDK adds DependsOn on the pipeline role next to the GetAtt of its ARN; W3005 calls the
    # DependsOn redundant (a known false positive on CDK output).
    "W3005",
)
# Where a pipeline of a chain leaves the revision it deployed for the next one (its own artifact
# bucket, which is versioned: the next pipeline's S3 source reads the newest version).
HAND_OFF_STAGE = "HandOff"
HAND_OFF_OBJECT_KEY = "hand-off/source.zip"

NO_INLINE_POLICY_RULES = (
    "NIST.800.53.R5-IAMNoInlinePolicy",
    "HIPAA.Security-IAMNoInlinePolicy",
    "PCI.DSS.321-IAMNoInlinePolicy",
)
SOURCE_REPO_URL_RULES = (
    "HIPAA.Security-CodeBuildProjectSourceRepoUrl",
    "PCI.DSS.321-CodeBuildProjectSourceRepoUrl",
)
# aws-cdk-lib's bucket grants (read/write on the artifact buckets) use these action groups.
ARTIFACT_ACTION_WILDCARDS = (
    "AwsSolutions-IAM5[Action::s3:Abort*]",
    "AwsSolutions-IAM5[Action::s3:GetBucket*]",
    "AwsSolutions-IAM5[Action::s3:GetObject*]",
    "AwsSolutions-IAM5[Action::s3:List*]",
    "AwsSolutions-IAM5[Action::s3:DeleteObject*]",
)
GENERATED_ROLE_WILDCARDS = ("AwsSolutions-IAM5[Resource::*]",)
# aws-cdk-lib's asset-publishing role may start, stop and read every CodeBuild build of the
# account (Resource "*"), as if it were the CodePipeline action role. It is only the service role
# of the asset project, which runs cdk-assets from npm; the pipeline role starts that project
# (use_pipeline_role_for_actions). Unchecked, it could start the self-mutation project with a
# buildspec override and deploy as the cdk-* deploy role: these are denied.
ASSET_ROLE_DENIED_ACTIONS = (
    "codebuild:BatchGetBuilds",
    "codebuild:StartBuild",
    "codebuild:StopBuild",
)
REASON_GENERATED_ROLE = (
    "CDK Pipelines creates this CodeBuild role (self-mutation or asset publishing) itself and "
    "takes no role to replace it, so its grants land in the role's inline default policy."
)
REASON_GENERATED_ROLE_WILDCARDS = (
    "CDK Pipelines writes this policy: self-mutation assumes the cdk-* bootstrap roles "
    "(by their aws-cdk:bootstrap-role tag), reads the pipeline's artifact bucket, and describes "
    "stacks and lists buckets on * (read-only, as cdk deploy does); asset publishing's shared "
    "role may write CodeBuild logs and reports of any /aws/codebuild/* log group and report "
    "group of the account (CDK Pipelines makes the asset projects after the role), and its "
    "codebuild build actions are denied (NoOtherBuilds)."
)
REASON_ARTIFACT_WILDCARDS = (
    "aws-cdk-lib's bucket grants give the pipeline and its synth project read/write on the "
    "pipeline's own artifact buckets with S3 action groups (s3:GetObject*, s3:List*, ...); the "
    "resources are those buckets and their objects only."
)
REASON_CODEBUILD_LOGS = (
    "CodeBuild names its log streams and report groups at run time, so the synth project's "
    "policy names its own log group and report-group prefix, not each stream."
)
REASON_TRIGGER_DEAD_LETTERS = (
    "this queue is the dead-letter queue of the rule that starts the next pipeline of the chain; "
    "a start EventBridge could not deliver waits here, and raises an alarm, until an operator "
    "starts that pipeline by hand, so it has no dead-letter queue or redrive policy of its own"
)
REASON_PIPELINE_SOURCE = (
    "This CodeBuild project's source type is CODEPIPELINE: its input comes from the pipeline's "
    "source action (CodeConnections, or in a later pipeline of a chain the S3 object the "
    "pipeline before it handed off), so there is no repository URL that could hold credentials."
)


def pipeline_suffix(number: int) -> str:
    """How the ``number``-th pipeline of a chain tells its names apart: nothing for the first."""
    return "" if number == 1 else str(number)


def artifact_bucket_name(organisation: Organisation, region: str, number: int = 1) -> str:
    """The artifact bucket in ``region``: other Regions' buckets serve every pipeline of the
    chain, the pipeline Region has one per pipeline (``number``)."""
    pipeline = f"pipeline{pipeline_suffix(number)}"
    return f"{organisation.name}-{pipeline}-{organisation.require_pipeline().account.id}-{region}"


def artifact_store(
    stack: cdk.Stack, organisation: Organisation, number: int = 1
) -> tuple[CustomerManagedKey, EncryptedBucket]:
    """The artifact key and bucket of pipeline ``number`` in ``stack``'s Region (named by
    Region, so other Regions' stacks can find the bucket by name)."""
    key = CustomerManagedKey(
        stack,
        "ArtifactKey",
        alias=f"alias/{organisation.name}/pipeline{pipeline_suffix(number)}-artifacts",
        description=f"CDK Pipelines artifacts in {stack.region}",
    )
    bucket = EncryptedBucket(
        stack,
        "Artifacts",
        encryption_key=key,
        bucket_name=artifact_bucket_name(organisation, stack.region, number),
    )
    return key, bucket


class PipelineArtifactsStack(cdk.Stack):
    """Pipeline artifacts in one Region that stages deploy to, other than the pipeline's own.

    Attributes:
        key: the :class:`CustomerManagedKey` of the artifacts.
        bucket: the :class:`EncryptedBucket`.
    """

    def __init__(
        self, scope: Construct, id: str, *, organisation: Organisation, **kwargs: Any
    ) -> None:
        super().__init__(scope, id, **kwargs)
        self.key, self.bucket = artifact_store(self, organisation)
        # The pipeline reads this bucket by name (see PipelineStack), so CDK cannot add the
        # deploy roles' read access to its policy: CloudFormation actions in this Region run as
        # the cdk-*-deploy-role of each target account and read the artifacts. (CDK still adds
        # their decrypt access to the key's policy, through the key construct.) Every account is
        # bootstrapped with the qualifier this stack's synthesizer uses (cdk.json context
        # `@aws-cdk/core:bootstrapQualifier`, default hnb659fds).
        qualifier = self.synthesizer.bootstrap_qualifier
        if qualifier is None:
            # A DefaultStackSynthesizer given explicitly (App(default_stack_synthesizer=...) or
            # Stack(synthesizer=...)) reaches Python unbound (see constructs_lib.key_policy):
            # its qualifier reads as None, and the default's roles would be trusted instead of
            # the ones the stacks deploy with (AccessDenied on the artifacts at deploy time).
            raise RuntimeError(
                f"{self.node.path}: the bootstrap qualifier of this stack's synthesizer "
                f"({type(self.synthesizer).__name__}) cannot be read, so the artifact bucket "
                "cannot name the deploy roles; set it through the cdk.json context "
                "'@aws-cdk/core:bootstrapQualifier' rather than a synthesizer given to the App "
                "or the stack"
            )
        deploy_roles = [
            f"arn:{self.partition}:iam::{account.id}:role/"
            f"cdk-{qualifier}-deploy-role-{account.id}-{self.region}"
            for account in organisation.accounts
        ]
        self.bucket.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="DeployRolesReadArtifacts",
                principals=[iam.AccountPrincipal(account.id) for account in organisation.accounts],
                actions=["s3:GetObject", "s3:GetObjectVersion", "s3:GetBucketLocation"],
                resources=[self.bucket.bucket.bucket_arn, self.bucket.bucket.arn_for_objects("*")],
                conditions={"ArnEquals": {"aws:PrincipalArn": deploy_roles}},
            )
        )


class PipelineStack(cdk.Stack):
    """A CDK Pipelines ``CodePipeline`` deploying ``waves`` in order.

    Args:
        waves: ``(wave name, stages)`` in deployment order.
        artifact_stacks: the :class:`PipelineArtifactsStack` of every other Region.
        number: the pipeline's place in a chain of pipelines (names of the second and later
            pipelines and of their own artifact bucket and key end in it). Default: 1.
        after: the pipeline before this one in the chain. This pipeline then starts when that
            one succeeds, instead of on a push to the branch, and deploys the revision that one
            deployed (see :meth:`hand_off`). Default: none (the first pipeline).

    Attributes:
        pipeline: the ``pipelines.CodePipeline``; ``waves``: the ``pipelines.Wave`` objects;
        trigger: the EventBridge rule that starts this pipeline after ``after`` (None for the
        first pipeline, as are the next three); ``trigger_role``: the role it starts it with;
        ``trigger_dead_letters``: the queue of starts it could not deliver;
        ``trigger_failed_alarm``: the alarm on that queue, notifying ``alarm_topic``;
        ``hand_off_stage``: the last stage, which hands the deployed revision to the next pipeline
        (None unless one follows).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        organisation: Organisation,
        waves: Sequence[tuple[str, Sequence[cdk.Stage]]],
        artifact_stacks: Sequence[PipelineArtifactsStack],
        number: int = 1,
        after: PipelineStack | None = None,
        **kwargs: Any,
    ) -> None:
        # The pipeline's template grows with every stack it deploys (two actions each, up to
        # CodePipeline's 500): written without indentation, a full pipeline is about 0.33 MB.
        super().__init__(
            scope, id, cross_region_references=True, suppress_template_indentation=True, **kwargs
        )
        config = organisation.require_pipeline()
        self.key, self.artifacts = artifact_store(self, organisation, number)
        self.role = ManagedPolicyRole(
            self, "PipelineRole", assumed_by=iam.ServicePrincipal("codepipeline.amazonaws.com")
        )
        self.synth_role = ManagedPolicyRole(
            self, "SynthRole", assumed_by=iam.ServicePrincipal("codebuild.amazonaws.com")
        )
        # Other Regions' buckets are read by literal name (a cross-Region reference would put a
        # Fn::GetStackOutput into the pipeline role's policy); their keys stay references.
        self._replication_buckets = [
            s3.Bucket.from_bucket_attributes(
                self,
                f"Artifacts-{stack.region}",
                bucket_name=artifact_bucket_name(organisation, stack.region),
                region=stack.region,
                encryption_key=stack.key.key,
            )
            for stack in artifact_stacks
        ]
        if after is None:
            self._allow_connection(config.connection_arn)
        source = (
            pipelines.CodePipelineSource.connection(
                config.repository, config.branch, connection_arn=config.connection_arn
            )
            if after is None
            # A later pipeline of a chain starts when the one before it succeeds (no trigger of
            # its own) and takes the revision that one deployed, not the branch as it is by then.
            else pipelines.CodePipelineSource.s3(
                *after.hand_off(),
                action_name=HAND_OFF_STAGE,
                trigger=codepipeline_actions.S3Trigger.NONE,
            )
        )
        self.pipeline_name = f"{organisation.name}-kms-toolkit{pipeline_suffix(number)}"
        self.pipeline = pipelines.CodePipeline(
            self,
            "Pipeline",
            pipeline_name=self.pipeline_name,
            pipeline_type=codepipeline.PipelineType.V2,
            # The pipeline's own Region is in this map too: CDK takes one or the other.
            cross_region_replication_buckets={
                config.region: self.artifacts.bucket,
                **{bucket.env.region: bucket for bucket in self._replication_buckets},
            },
            role=self.role,
            use_pipeline_role_for_actions=True,
            publish_assets_in_parallel=False,
            cli_version=AWS_CDK_CLI_VERSION,
            cdk_assets_cli_version=CDK_ASSETS_CLI_VERSION,
            code_build_defaults=pipelines.CodeBuildOptions(
                build_environment=codebuild.BuildEnvironment(build_image=BUILD_IMAGE),
                partial_build_spec=codebuild.BuildSpec.from_object(
                    {"phases": {"install": {"runtime-versions": BUILD_RUNTIME_VERSIONS}}}
                ),
            ),
            synth=pipelines.CodeBuildStep(
                "Synth",
                input=source,
                commands=list(SYNTH_COMMANDS),
                env=SYNTH_ENVIRONMENT,
                primary_output_directory="cdk.out",
                role=self.synth_role,
            ),
        )
        self.waves: list[pipelines.Wave] = []
        for name, stages in waves:
            wave = self.pipeline.add_wave(name)
            for stage in stages:
                wave.add_stage(stage)
            self.waves.append(wave)
        # Build now, so the constructs CDK Pipelines generates exist to be acknowledged.
        self.pipeline.build_pipeline()
        if after is not None:
            self._self_mutate_exclusively()
        self.hand_off_stage: codepipeline.IStage | None = None
        self.trigger: events.Rule | None = None
        self.trigger_role: ManagedPolicyRole | None = None
        self.trigger_dead_letters: sqs.Queue | None = None
        self.trigger_failed_alarm: cloudwatch.Alarm | None = None
        self.alarm_topic: AlarmTopic | None = None
        if after is not None:
            self._start_after(after)
        self._acknowledge_generated_findings()
        cfn_pipeline = self.pipeline.pipeline.node.default_child
        assert isinstance(cfn_pipeline, cdk.CfnResource)
        cfn_pipeline.add_metadata("cfn-lint", {"config": {"ignore_checks": list(CFN_LINT_IGNORED)}})

    def _allow_connection(self, connection_arn: str) -> None:
        """Let the pipeline role use the source connection under the ARN's own service prefix.

        IAM matches an action's service prefix to the resource's ("When specifying a resource in
        the IAM policy, the service prefix needs to match that of the resource", AWS
        CodeConnections rename notes). aws-cdk-lib's source action grants
        ``codestar-connections:UseConnection`` only, which does not cover the
        ``arn:...:codeconnections:...`` ARNs the console has created since July 2024.
        """
        service = connection_arn.split(":")[2]
        if service != "codestar-connections":
            self.role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=[f"{service}:UseConnection"], resources=[connection_arn]
                )
            )

    def hand_off(self) -> tuple[s3.IBucket, str]:
        """Make this pipeline's last stage copy the revision it deployed (its source artifact)
        to ``HAND_OFF_OBJECT_KEY`` in its artifact bucket, for the next pipeline of a chain to
        deploy: the bucket and the object key. The stage is added once."""
        if self.hand_off_stage is None:
            (source_action,) = self.pipeline.pipeline.stages[0].actions
            (revision,) = list(source_action.action_properties.outputs or [])
            self.hand_off_stage = self.pipeline.pipeline.add_stage(
                stage_name=HAND_OFF_STAGE,
                actions=[
                    codepipeline_actions.S3DeployAction(
                        action_name="NextPipelineSource",
                        bucket=self.artifacts.bucket,
                        input=revision,
                        extract=False,
                        object_key=HAND_OFF_OBJECT_KEY,
                        # The bucket refuses an SSE-KMS upload that names no key.
                        encryption_key=self.key.key,
                    )
                ],
            )
        return self.artifacts.bucket, HAND_OFF_OBJECT_KEY

    def _start_after(self, after: PipelineStack) -> None:
        """Start this pipeline when ``after``'s pipeline succeeds, that is when its last stage,
        the hand-off, succeeds (both in this account and Region), so a chain of pipelines deploys
        its waves in order."""
        self.trigger_role = ManagedPolicyRole(
            self, "TriggerRole", assumed_by=iam.ServicePrincipal("events.amazonaws.com")
        )
        # A start that EventBridge gives up on (after its retries, for 24 hours) would leave the
        # rest of the chain undeployed without a trace: it lands here and raises an alarm.
        self.key.add_service_principal(
            KeyServicePrincipal.publisher(service="events.amazonaws.com", destination="sqs")
        )
        self.trigger_dead_letters = sqs.Queue(
            self,
            "TriggerDeadLetters",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.key.key,
            enforce_ssl=True,
            retention_period=cdk.Duration.days(14),
        )
        acknowledge(
            self.trigger_dead_letters,
            ("AwsSolutions-SQS3", "Serverless-SQSRedrivePolicy"),
            REASON_TRIGGER_DEAD_LETTERS,
        )
        self.alarm_topic = AlarmTopic(self, "Alarms", encryption_key=self.key)
        self.trigger_failed_alarm = cloudwatch.Alarm(
            self,
            "TriggerFailedAlarm",
            alarm_description=(
                f"{self.pipeline_name} was not started after {after.pipeline_name} succeeded: "
                "start it by hand, then delete the message (docs/deploy.md)."
            ),
            metric=self.trigger_dead_letters.metric_approximate_number_of_messages_visible(
                period=cdk.Duration.minutes(5), statistic="Maximum"
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.alarm_topic.notify(self.trigger_failed_alarm)
        # On the success of the hand-off, the last stage of ``after``, not of ``after`` as a whole:
        # once a chain shrinks, a pipeline no longer synthesized stays deployed (CDK deletes no
        # stack), and on a plain SUCCEEDED it would deploy the stale hand-off, an older revision,
        # over what the shorter chain has just deployed.
        self.trigger = events.Rule(
            self,
            "StartAfterPrevious",
            description=(
                f"Starts {self.pipeline_name} when {after.pipeline_name} has handed off the "
                "revision it deployed"
            ),
            event_pattern=events.EventPattern(
                source=["aws.codepipeline"],
                detail_type=["CodePipeline Stage Execution State Change"],
                detail={
                    "pipeline": [after.pipeline_name],
                    "stage": [HAND_OFF_STAGE],
                    "state": ["SUCCEEDED"],
                },
            ),
            targets=[
                targets.CodePipeline(
                    self.pipeline.pipeline,
                    event_role=self.trigger_role,
                    dead_letter_queue=self.trigger_dead_letters,
                )
            ],
        )
        # aws-cdk-lib's CodePipeline target (unlike its Lambda or SQS targets) does not let the
        # rule send to its dead-letter queue: without this, EventBridge could not deliver there.
        self.trigger_dead_letters.add_to_resource_policy(
            iam.PolicyStatement(
                sid="RuleDeadLetters",
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["sqs:SendMessage"],
                resources=[self.trigger_dead_letters.queue_arn],
                conditions={"ArnEquals": {"aws:SourceArn": self.trigger.rule_arn}},
            )
        )

    def _self_mutate_exclusively(self) -> None:
        """Let a later pipeline of a chain update only its own stack.

        CDK Pipelines' self-mutation runs ``cdk deploy <stack>``, which deploys the stacks it
        depends on first. A later pipeline depends on the first one and on the artifact stacks
        (their buckets and keys), and runs on an older commit than the first one may already
        have deployed: without ``--exclusively`` it would put those stacks back as they were at
        its commit. The first pipeline deploys them (it depends on the artifact stacks only)."""
        project = self.pipeline.self_mutation_project.node.default_child
        assert isinstance(project, codebuild.CfnProject)
        source = self.resolve(project.source)
        build_spec = json.loads(source["buildSpec"])
        commands: list[str] = build_spec["phases"]["build"]["commands"]
        deploy = f"cdk -a . deploy {self.stack_name} "
        matching = [index for index, command in enumerate(commands) if command.startswith(deploy)]
        if len(matching) != 1:  # CDK Pipelines changed it: fail rather than deploy dependencies
            raise RuntimeError(
                f"{self.node.path}: no self-mutation command 'cdk -a . deploy "
                f"{self.stack_name}' to add --exclusively to in {commands}"
            )
        commands[matching[0]] = deploy + "--exclusively " + commands[matching[0]][len(deploy) :]
        project.add_property_override("Source.BuildSpec", json.dumps(build_spec, indent=2))

    def _acknowledge_generated_findings(self) -> None:
        """Findings on what CDK Pipelines generates and offers no option to change."""
        self_mutation = self.pipeline.node.find_child("UpdatePipeline").node.find_child(
            "SelfMutation"
        )
        # No Assets stage in a pipeline whose stacks have no asset (a chain's security wave).
        assets = self.pipeline.node.try_find_child("Assets")
        synth_project = (
            self.pipeline.pipeline.node.find_child("Build")
            .node.find_child("Synth")
            .node.find_child("CdkBuildProject")
        )
        artifacts = f"<{self._logical_id(self.artifacts.bucket)}.Arn>"
        artifact_rules = [*ARTIFACT_ACTION_WILDCARDS, f"AwsSolutions-IAM5[Resource::{artifacts}/*]"]
        # On the roles, so each acknowledgment covers every one of their grants policies (a
        # large organisation splits the pipeline role's grants across several).
        for role in (self.role, self.synth_role):
            acknowledge(role, artifact_rules, REASON_ARTIFACT_WILDCARDS)
        for bucket in self._replication_buckets:
            acknowledge(
                self.role,
                f"AwsSolutions-IAM5[Resource::arn:{self.partition}:s3:::{bucket.bucket_name}/*]",
                REASON_ARTIFACT_WILDCARDS,
            )
        acknowledge(
            self.synth_role, self._codebuild_log_rules(synth_project), REASON_CODEBUILD_LOGS
        )
        generated_roles: list[tuple[IConstruct, IConstruct | None]] = [
            (self_mutation.node.find_child("Role"), self_mutation)
        ]
        if assets is not None:
            file_role = assets.node.find_child("FileRole")
            # On the role's policy itself: the role's own add_to_principal_policy drops any
            # statement with the actions of one it adds (to avoid duplicates), a deny included.
            file_policy = cast(iam.Policy, file_role.node.find_child("DefaultPolicy"))
            file_policy.add_statements(
                iam.PolicyStatement(
                    sid="NoOtherBuilds",
                    effect=iam.Effect.DENY,
                    actions=list(ASSET_ROLE_DENIED_ACTIONS),
                    resources=["*"],
                )
            )
            generated_roles.append((file_role, None))
        for generated_role, project in generated_roles:
            # On the role, so the acknowledgment also covers the OverflowPolicyN that CDK splits
            # off at synth once the default policy grows past the IAM size limit.
            acknowledge(generated_role, NO_INLINE_POLICY_RULES, REASON_GENERATED_ROLE)
            rules = [*artifact_rules[1:4], artifact_rules[-1], *GENERATED_ROLE_WILDCARDS]
            rules += (
                self._codebuild_log_rules(project)
                if project is not None
                else [
                    f"AwsSolutions-IAM5[Resource::arn:{self.partition}:logs:{self.region}:"
                    f"{self.account}:log-group:/aws/codebuild/*]",
                    f"AwsSolutions-IAM5[Resource::arn:{self.partition}:codebuild:{self.region}:"
                    f"{self.account}:report-group/*]",
                ]
            )
            if project is not None:
                rules.append(f"AwsSolutions-IAM5[Resource::arn:*:iam::{self.account}:role/*]")
            acknowledge(generated_role, rules, REASON_GENERATED_ROLE_WILDCARDS)
        projects = [synth_project, self_mutation]
        if assets is not None:
            projects.append(assets.node.find_child("FileAsset"))
        for project in projects:
            acknowledge(project, SOURCE_REPO_URL_RULES, REASON_PIPELINE_SOURCE)

    def _logical_id(self, construct: IConstruct) -> str:
        child = construct.node.default_child
        assert isinstance(child, cdk.CfnElement)
        return str(self.resolve(child.logical_id))

    def _codebuild_log_rules(self, project: IConstruct) -> list[str]:
        name = f"<{self._logical_id(project)}>"
        return [
            f"AwsSolutions-IAM5[Resource::arn:{self.partition}:logs:{self.region}:"
            f"{self.account}:log-group:/aws/codebuild/{name}:*]",
            f"AwsSolutions-IAM5[Resource::arn:{self.partition}:codebuild:{self.region}:"
            f"{self.account}:report-group/{name}-*]",
        ]

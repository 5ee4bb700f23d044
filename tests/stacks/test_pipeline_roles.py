"""What the roles of the delivery pipeline may do beyond what CDK Pipelines gives them by default
(tests/_support/apps/small_org.py: one pipeline; pipeline_chain.py: two)."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from typing import Any

import pytest

from tests._support.synth import SynthResult

Synth = Callable[[str], SynthResult]
BUILD_ACTIONS = ("codebuild:StartBuild", "codebuild:StopBuild", "codebuild:BatchGetBuilds")


def statements_of(template: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    """Every statement of every policy (inline or managed) attached to ``role_id``."""
    return [
        statement
        for resource in template["Resources"].values()
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
        and {"Ref": role_id} in resource["Properties"].get("Roles", [])
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
    ]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def allowed_on_any_resource(statements: list[dict[str, Any]], action: str) -> bool:
    """Whether ``action`` on any resource of the account is allowed, and not denied."""

    def matches(statement: dict[str, Any]) -> bool:
        return "*" in as_list(statement["Resource"]) and any(
            fnmatch.fnmatchcase(action, pattern) for pattern in as_list(statement["Action"])
        )

    effects = {statement["Effect"] for statement in statements if matches(statement)}
    return effects == {"Allow"}


@pytest.mark.parametrize("app_name", ["small_org", "pipeline_chain"])
def test_the_asset_project_may_not_start_or_read_other_builds(
    synthesized: Synth, app_name: str
) -> None:
    # It runs cdk-assets from npm: with codebuild:StartBuild on "*" it could start the
    # self-mutation project with a buildspec override and deploy with its cdk-* roles.
    template = synthesized(app_name).template("Pipeline")
    (project,) = [
        r
        for r in template["Resources"].values()
        if r["Type"] == "AWS::CodeBuild::Project"
        and r["Properties"]["Description"].endswith("/Assets/FileAssets")
    ]
    role_id = project["Properties"]["ServiceRole"]["Fn::GetAtt"][0]
    statements = statements_of(template, role_id)
    assert statements, role_id
    for action in BUILD_ACTIONS:
        assert not allowed_on_any_resource(statements, action), action


def test_the_pipeline_role_starts_every_build_of_its_own_projects_only(
    synthesized: Synth,
) -> None:
    # No action has a role of its own (use_pipeline_role_for_actions), so the asset role's
    # build permissions were never needed: the pipeline role starts the builds.
    template = synthesized("small_org").template("Pipeline")
    ((_, pipeline),) = [
        (i, r)
        for i, r in template["Resources"].items()
        if r["Type"] == "AWS::CodePipeline::Pipeline"
    ]
    builds = [
        action
        for stage in pipeline["Properties"]["Stages"]
        for action in stage["Actions"]
        if action["ActionTypeId"]["Provider"] == "CodeBuild"
    ]
    assert [action["Name"] for action in builds] == ["Synth", "SelfMutate", "FileAssets"]
    assert all("RoleArn" not in action for action in builds)
    role_id = pipeline["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    projects = sorted(
        i for i, r in template["Resources"].items() if r["Type"] == "AWS::CodeBuild::Project"
    )
    (start,) = [
        st
        for st in statements_of(template, role_id)
        if "codebuild:StartBuild" in as_list(st["Action"])
    ]
    assert start["Effect"] == "Allow"
    assert sorted(r["Fn::GetAtt"][0] for r in start["Resource"]) == projects


def test_artifact_buckets_trust_the_deploy_roles_of_the_configured_bootstrap_qualifier() -> None:
    # An organisation bootstrapped with `cdk bootstrap --qualifier` sets CDK's own context key;
    # every stack's synthesizer and the artifact buckets' policy must name the same roles.
    import aws_cdk as cdk  # noqa: PLC0415
    from aws_cdk.assertions import Template  # noqa: PLC0415

    from stacks.config import ORGANISATION_CONTEXT_KEY, cdk_json_context, load_organisation  # noqa: PLC0415
    from stacks.pipeline_stack import PipelineArtifactsStack  # noqa: PLC0415

    context = cdk_json_context()
    organisation = load_organisation(context[ORGANISATION_CONTEXT_KEY])
    app = cdk.App(context={**context, "@aws-cdk/core:bootstrapQualifier": "org1qual"})
    stack = PipelineArtifactsStack(
        app,
        "PipelineArtifacts-eu-central-1",
        organisation=organisation,
        env=cdk.Environment(account=organisation.pipeline.account.id, region="eu-central-1"),
    )
    policies = Template.from_stack(stack).find_resources("AWS::S3::BucketPolicy").values()
    (statement,) = [
        s
        for policy in policies
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Sid") == "DeployRolesReadArtifacts"
    ]
    assert statement["Condition"]["ArnEquals"]["aws:PrincipalArn"] == [
        f"arn:aws:iam::{a.id}:role/cdk-org1qual-deploy-role-{a.id}-eu-central-1"
        for a in organisation.accounts
    ]


def test_artifact_buckets_refuse_a_qualifier_they_cannot_read() -> None:
    # A DefaultStackSynthesizer given to the App reaches Python unbound: its qualifier read as
    # None, and the bucket trusted cdk-hnb659fds-deploy-role-* while every stack deployed with
    # cdk-org1qual-deploy-role-* (AccessDenied on the artifacts at deploy time).
    import aws_cdk as cdk  # noqa: PLC0415

    from stacks.config import ORGANISATION_CONTEXT_KEY, cdk_json_context, load_organisation  # noqa: PLC0415
    from stacks.pipeline_stack import PipelineArtifactsStack  # noqa: PLC0415

    context = cdk_json_context()
    organisation = load_organisation(context[ORGANISATION_CONTEXT_KEY])
    app = cdk.App(
        context=context,
        default_stack_synthesizer=cdk.DefaultStackSynthesizer(qualifier="org1qual"),
    )
    with pytest.raises(RuntimeError) as raised:
        PipelineArtifactsStack(
            app,
            "PipelineArtifacts-eu-central-1",
            organisation=organisation,
            env=cdk.Environment(account=organisation.pipeline.account.id, region="eu-central-1"),
        )
    assert str(raised.value) == (
        "PipelineArtifacts-eu-central-1: the bootstrap qualifier of this stack's synthesizer "
        "(DefaultStackSynthesizer) cannot be read, so the artifact bucket cannot name the deploy "
        "roles; set it through the cdk.json context '@aws-cdk/core:bootstrapQualifier' rather "
        "than a synthesizer given to the App or the stack"
    )


def test_the_pipeline_role_may_use_a_codeconnections_connection(synthesized: Synth) -> None:
    # IAM matches an action's service prefix to the resource's (AWS CodeConnections rename
    # notes): codestar-connections:UseConnection, all aws-cdk-lib grants, does not cover the
    # arn:aws:codeconnections:... ARN the console creates, and the Source action would fail.
    template = synthesized("small_org").template("Pipeline")
    ((_, pipeline),) = [
        (i, r)
        for i, r in template["Resources"].items()
        if r["Type"] == "AWS::CodePipeline::Pipeline"
    ]
    (source,) = pipeline["Properties"]["Stages"][0]["Actions"]
    connection = source["Configuration"]["ConnectionArn"]
    assert connection.split(":")[2] == "codeconnections"
    role_id = pipeline["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    assert "RoleArn" not in source  # the pipeline role itself runs the source action
    assert any(
        statement["Effect"] == "Allow"
        and "codeconnections:UseConnection" in as_list(statement["Action"])
        and connection in as_list(statement["Resource"])
        for statement in statements_of(template, role_id)
    )

"""The example organisation exactly as `make synth` builds it (cdk.json context)."""

from __future__ import annotations

import copy
import json
import re
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from stacks.pipeline_stack import CDK_ASSETS_CLI_VERSION
from tests._support.cfn_lint import cfn_lint_problems
from tests._support.deploy_changes import stateful_changes
from tests._support.snapshots import normalized
from tests._support.synth import SynthResult, replication_config, synthesize

Synth = Callable[[str], SynthResult]
ROOT = Path(__file__).resolve().parents[2]
REGIONS = ("eu-west-1", "eu-central-1")
EXPECTED_STACKS = sorted(
    [
        *(
            f"{account}-Keys-{region}"
            for account in ("Security", "Workload", "Backup")
            for region in REGIONS
        ),
        *(f"{account}-Audit" for account in ("Security", "Workload", "Backup")),
        *(f"Workload-Data-{region}" for region in REGIONS),
        *(f"Workload-Replication-{region}" for region in REGIONS),
        "Backup-Receiver-eu-west-1",
        "Pipeline",
        "PipelineArtifacts-eu-central-1",
    ]
)


@pytest.fixture(scope="module")
def example(synthesized: Synth) -> SynthResult:
    return synthesized("example_org")


def resources(template: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [r for r in template["Resources"].values() if r["Type"] == resource_type]


def test_stack_names_derive_from_account_and_region(example: SynthResult) -> None:
    assert sorted(example.templates) == EXPECTED_STACKS


@pytest.mark.parametrize("stack_name", EXPECTED_STACKS)
def test_stack_snapshot(example: SynthResult, snapshot_json, stack_name: str) -> None:  # type: ignore[no-untyped-def]
    assert normalized(example.template(stack_name)) == snapshot_json


def templates_not_read_from_an_input_artifact(template: dict[str, Any]) -> tuple[int, list[str]]:
    """How many actions of the template's pipeline name a ``TemplatePath``, and those whose path
    does not start with one of the action's input artifacts (``<artifact>::<file>``)."""
    (pipeline,) = resources(template, "AWS::CodePipeline::Pipeline")
    count, wrong = 0, []
    for stage in pipeline["Properties"]["Stages"]:
        for action in stage["Actions"]:
            path = action.get("Configuration", {}).get("TemplatePath")
            if path is None:
                continue
            count += 1
            inputs = sorted(artifact["Name"] for artifact in action.get("InputArtifacts", []))
            if not any(path.startswith(f"{name}::") for name in inputs):
                wrong.append(f"{stage['Name']}/{action['Name']}: {path} (inputs {inputs})")
    return count, wrong


@pytest.mark.parametrize(
    ("app_name", "stack_name"),
    [
        ("example_org", "Pipeline"),
        ("pipeline_chain", "Pipeline"),
        ("pipeline_chain", "Pipeline2"),
    ],
)
def test_every_cloudformation_action_reads_its_template_from_an_input_artifact(
    synthesized: Synth, app_name: str, stack_name: str
) -> None:
    # The second check of cfn-lint's E3703, which the pipeline's cfn-lint ignore also turns off
    # (CFN_LINT_IGNORED in stacks/pipeline_stack.py; docs/compliance.md points here).
    count, wrong = templates_not_read_from_an_input_artifact(
        synthesized(app_name).template(stack_name)
    )
    assert count > 0
    assert wrong == []


def test_the_input_artifact_check_finds_a_template_of_another_artifact() -> None:
    action = {
        "Name": "Deploy",
        "Configuration": {"TemplatePath": "Other_Output::stack.template.json"},
        "InputArtifacts": [{"Name": "Synth_Output"}],
    }
    pipeline = {"Properties": {"Stages": [{"Name": "Wave", "Actions": [action]}]}}
    template = {"Resources": {"P": {"Type": "AWS::CodePipeline::Pipeline", **pipeline}}}
    assert templates_not_read_from_an_input_artifact(template) == (
        1,
        ["Wave/Deploy: Other_Output::stack.template.json (inputs ['Synth_Output'])"],
    )


def test_pipeline_deploys_security_then_workloads_then_backup(example: SynthResult) -> None:
    # A wave of one account stage is named after that stage by CDK Pipelines.
    (pipeline,) = resources(example.template("Pipeline"), "AWS::CodePipeline::Pipeline")
    stages = [stage["Name"] for stage in pipeline["Properties"]["Stages"]]
    assert stages == [
        "Source",
        "Build",
        "UpdatePipeline",
        "Assets",
        "Security",
        "Workload",
        "Backup",
    ]
    deployed = {
        stage["Name"]: {
            action["Configuration"]["StackName"]
            for action in stage["Actions"]
            if action["ActionTypeId"]["Provider"] == "CloudFormation"
        }
        for stage in pipeline["Properties"]["Stages"][4:]
    }
    assert deployed == {
        "Security": {"Security-Keys-eu-west-1", "Security-Keys-eu-central-1", "Security-Audit"},
        "Workload": {
            *(
                f"Workload-{kind}-{region}"
                for kind in ("Keys", "Data", "Replication")
                for region in REGIONS
            ),
            "Workload-Audit",
        },
        "Backup": {
            "Backup-Keys-eu-west-1",
            "Backup-Keys-eu-central-1",
            "Backup-Receiver-eu-west-1",
            "Backup-Audit",
        },
    }


def test_pipeline_synth_step_runs_make_synth_without_a_kernel_compile_cache(
    example: SynthResult,
) -> None:
    # A fresh CodeBuild container synthesizes once: the cache would be written, never read.
    (project,) = [
        p
        for p in resources(example.template("Pipeline"), "AWS::CodeBuild::Project")
        if "make synth" in json.dumps(p["Properties"]["Source"])
    ]
    build_spec = json.loads(project["Properties"]["Source"]["BuildSpec"])
    assert build_spec["phases"]["build"]["commands"] == ["make synth"]
    variables = project["Properties"]["Environment"]["EnvironmentVariables"]
    assert {"Name": "KMS_TOOLKIT_NODE_COMPILE_CACHE", "Type": "PLAINTEXT", "Value": "off"} in (
        variables
    )


def test_every_pipeline_build_runs_on_a_supported_node_and_the_tested_python(
    example: SynthResult,
) -> None:
    # The lowest Python pyproject.toml admits, which CI tests (`make test` builds .venv with
    # python3: 3.11 on this project's machines).
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    lowest = re.fullmatch(r">=(3\.\d+)", requires["requires-python"])
    assert lowest, requires["requires-python"]
    tested = lowest.group(1)
    # Synth, self-mutation (which installs the CDK CLI with npm) and asset publishing, whose
    # build spec CDK Pipelines writes to a file of the assembly.
    projects = resources(example.template("Pipeline"), "AWS::CodeBuild::Project")
    assert len(projects) == 3
    for project in projects:
        assert project["Properties"]["Environment"]["Image"] == "aws/codebuild/standard:8.0"
        build_spec = project["Properties"]["Source"]["BuildSpec"]
        if build_spec.startswith("buildspec-"):
            build_spec = (example.outdir / build_spec).read_text()
        runtimes = json.loads(build_spec)["phases"]["install"]["runtime-versions"]
        assert runtimes == {"nodejs": "24", "python": tested}
    # CI (`make test`, in .venv) runs on that Python; `make pythons` runs this test on newer ones
    # too, and the pipeline stays on CI's (the template does not depend on who synthesized it).
    if Path(sys.prefix).resolve() == (ROOT / ".venv").resolve():
        assert f"{sys.version_info[0]}.{sys.version_info[1]}" == tested


def test_the_self_mutation_and_asset_steps_install_pinned_clis(example: SynthResult) -> None:
    # They run with the deploy roles of every account: not aws-cdk@2 / cdk-assets@latest.
    package = json.loads((Path(__file__).parents[2] / "package.json").read_text("utf-8"))
    installs = []
    for project in resources(example.template("Pipeline"), "AWS::CodeBuild::Project"):
        build_spec = project["Properties"]["Source"]["BuildSpec"]
        if build_spec.startswith("buildspec-"):
            build_spec = (example.outdir / build_spec).read_text()
        installs += json.loads(build_spec)["phases"]["install"].get("commands", [])
    assert sorted(installs) == [
        f"npm install -g aws-cdk@{package['devDependencies']['aws-cdk']}",
        f"npm install -g cdk-assets@{CDK_ASSETS_CLI_VERSION}",
    ]
    assert re.fullmatch(r"\d+\.\d+\.\d+", CDK_ASSETS_CLI_VERSION)


def test_pipeline_artifacts_are_encrypted_with_cmks_in_every_region(example: SynthResult) -> None:
    (pipeline,) = resources(example.template("Pipeline"), "AWS::CodePipeline::Pipeline")
    stores = {s["Region"]: s["ArtifactStore"] for s in pipeline["Properties"]["ArtifactStores"]}
    assert set(stores) == set(REGIONS)
    assert stores["eu-central-1"]["Location"] == "example-pipeline-111111111111-eu-central-1"
    for store in stores.values():
        assert store["EncryptionKey"]["Type"] == "KMS"


def test_multi_region_replica_reads_the_primary_arn_across_regions(example: SynthResult) -> None:
    (primary,) = [
        r
        for r in resources(example.template("Workload-Keys-eu-west-1"), "AWS::KMS::Key")
        if r["Properties"].get("MultiRegion")
    ]
    assert primary["Properties"]["MultiRegion"] is True
    (replica,) = resources(example.template("Workload-Keys-eu-central-1"), "AWS::KMS::ReplicaKey")
    assert replica["Properties"]["PrimaryKeyArn"]["Fn::GetStackOutput"]["StackName"] == (
        "Workload-Keys-eu-west-1"
    )


def test_every_trail_delivers_to_the_central_audit_bucket(example: SynthResult) -> None:
    bucket_name = "example-audit-111111111111-eu-west-1"
    central = resources(example.template("Security-Audit"), "AWS::S3::Bucket")
    assert bucket_name in [b["Properties"].get("BucketName") for b in central]
    for account in ("Workload", "Backup"):
        (trail,) = resources(example.template(f"{account}-Audit"), "AWS::CloudTrail::Trail")
        assert trail["Properties"]["S3BucketName"] == bucket_name
    for account in ("Security", "Workload", "Backup"):
        (trail,) = resources(example.template(f"{account}-Audit"), "AWS::CloudTrail::Trail")
        assert trail["Properties"]["TrailName"] == f"example-{account.lower()}"
        assert trail["Properties"]["IsMultiRegionTrail"] is True


def test_workload_snapshot_key_lets_the_backup_account_in_through_ec2_and_rds(
    example: SynthResult,
) -> None:
    keys = resources(example.template("Workload-Keys-eu-west-1"), "AWS::KMS::Key")
    (snapshot_key,) = [
        k for k in keys if "shared with the backup" in k["Properties"]["Description"]
    ]
    statements = snapshot_key["Properties"]["KeyPolicy"]["Statement"]
    external = [
        s for s in statements if s["Principal"] == {"AWS": "arn:aws:iam::333333333333:root"}
    ]
    granted = {action for s in external for action in s["Action"]}
    assert {"kms:Decrypt", "kms:ReEncryptFrom", "kms:CreateGrant", "kms:ListGrants"} <= granted
    assert "kms:*" not in granted
    for statement in external:
        assert statement["Condition"]["StringEquals"]["kms:ViaService"] == [
            "ec2.eu-west-1.amazonaws.com",
            "rds.eu-west-1.amazonaws.com",
        ]


def test_replicators_copy_to_the_other_region_and_share_with_backup(example: SynthResult) -> None:
    home = replication_config(example.template("Workload-Replication-eu-west-1"))
    assert home["destinations"] == [
        {"region": "eu-central-1", "kms_key_arn": "Workload-Keys-eu-central-1"},
        {
            "region": "eu-west-1",
            "kms_key_arn": "Workload-Keys-eu-west-1",
            "account": "333333333333",
        },
    ]
    other = replication_config(example.template("Workload-Replication-eu-central-1"))
    # The destination eu-central-1 is the replicator's own Region there: only the backup copy.
    assert other["destinations"] == [
        {"region": "eu-west-1", "kms_key_arn": "Workload-Keys-eu-west-1", "account": "333333333333"}
    ]
    assert home["selection_tag"] == ["backup", "replicate"]
    assert home["retention_days"] == 14


def test_every_key_stack_has_the_kms_quota_alarm(example: SynthResult) -> None:
    for name in EXPECTED_STACKS:
        if "-Keys-" in name:
            alarms = resources(example.template(name), "AWS::CloudWatch::Alarm")
            assert any(
                "SERVICE_QUOTA" in json.dumps(alarm["Properties"].get("Metrics", []))
                for alarm in alarms
            ), name


def pipeline_deploys(template: dict[str, Any]) -> dict[str, set[str]]:
    """The stacks each wave of the pipeline in ``template`` deploys."""
    (pipeline,) = resources(template, "AWS::CodePipeline::Pipeline")
    return {
        stage["Name"]: {
            action["Configuration"]["StackName"]
            for action in stage["Actions"]
            if action["ActionTypeId"]["Provider"] == "CloudFormation"
        }
        for stage in pipeline["Properties"]["Stages"][4:]
    }


def example_changed(
    tmp_path_factory: pytest.TempPathFactory, name: str, change: Callable[[dict[str, Any]], None]
) -> SynthResult:
    """The example organisation synthesized with ``change`` applied to its configuration."""
    from stacks.app_builder import build_app  # noqa: PLC0415
    from stacks.config import ORGANISATION_CONTEXT_KEY, cdk_json_context  # noqa: PLC0415

    context = cdk_json_context()
    organisation = copy.deepcopy(context[ORGANISATION_CONTEXT_KEY])
    change(organisation)
    context[ORGANISATION_CONTEXT_KEY] = organisation
    outdir = tmp_path_factory.mktemp(f"cdk-{name}")
    return synthesize(name, build_app(context=context, outdir=outdir))


@pytest.fixture(scope="module")
def copies_within_the_account(tmp_path_factory: pytest.TempPathFactory) -> SynthResult:
    """The example organisation copying snapshots only to eu-central-1 of the same account (the
    shape stacks/config.py and docs/deploy.md describe), with no backup-account destination."""

    def copy_within_the_account(organisation: dict[str, Any]) -> None:
        organisation["replication"]["destinations"] = [{"region": "eu-central-1"}]

    return example_changed(tmp_path_factory, "same_account_copies", copy_within_the_account)


def test_copies_to_another_region_of_the_same_account_only(
    copies_within_the_account: SynthResult,
) -> None:
    result = copies_within_the_account
    # eu-central-1 is the only destination: its own replicator would have nothing to copy.
    assert [n for n in sorted(result.templates) if "-Replication-" in n or "-Receiver-" in n] == [
        "Workload-Replication-eu-west-1"
    ]
    home = replication_config(result.template("Workload-Replication-eu-west-1"))
    assert home["destinations"] == [
        {"region": "eu-central-1", "kms_key_arn": "Workload-Keys-eu-central-1"}
    ]
    assert pipeline_deploys(result.template("Pipeline"))["Workload"] == {
        "Workload-Audit",
        *(f"Workload-{kind}-{region}" for kind in ("Keys", "Data") for region in REGIONS),
        "Workload-Replication-eu-west-1",
    }


@pytest.fixture(scope="module")
def grown(tmp_path_factory: pytest.TempPathFactory) -> SynthResult:
    """The example organisation with a second workload account and a third Region."""

    def grow(organisation: dict[str, Any]) -> None:
        organisation["regions"].append("eu-north-1")
        organisation["accounts"]["workload2"] = {"id": "444444444444", "role": "workload"}

    return example_changed(tmp_path_factory, "grown", grow)


def test_adding_an_account_and_a_region_replaces_and_removes_nothing(
    example: SynthResult, grown: SynthResult
) -> None:
    """docs/deploy.md, "Adding an account or a Region": the next pipeline run only adds."""
    assert set(example.templates) < set(grown.templates)
    assert stateful_changes(example, grown) == []
    assert {"Workload2-Keys-eu-north-1", "Workload-Keys-eu-north-1"} < set(grown.templates)


def _tune(organisation: dict[str, Any]) -> None:
    organisation["audit"]["log_retention_days"] = 731
    organisation["replication"].update(
        retention_days=30,
        selection_tag={"key": "dr", "value": "yes"},
        resource_types=["EBS"],
    )
    organisation["replication"]["destinations"].append(
        {"account": "backup", "region": "eu-central-1"}
    )
    organisation["regions"].reverse()
    organisation["accounts"] = dict(reversed(organisation["accounts"].items()))


def test_tuning_the_organisation_replaces_and_removes_nothing(
    example: SynthResult, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """docs/deploy.md, "Changing a deployed organisation": retention periods, the selection tag,
    fewer resource types, another snapshot destination, the order of regions and accounts."""
    tuned = example_changed(tmp_path_factory, "tuned", _tune)
    assert set(tuned.templates) == {*example.templates, "Backup-Receiver-eu-central-1"}
    assert stateful_changes(example, tuned) == []


def _rename_workload(organisation: dict[str, Any]) -> None:
    accounts = organisation["accounts"]
    organisation["accounts"] = {
        ("team-a" if alias == "workload" else alias): spec for alias, spec in accounts.items()
    }


def _move_home(organisation: dict[str, Any]) -> None:
    organisation["home_region"] = "eu-central-1"


def _rename_organisation(organisation: dict[str, Any]) -> None:
    organisation["name"] = "acme"


def _move_pipeline(organisation: dict[str, Any]) -> None:
    organisation["pipeline"]["region"] = "eu-central-1"


# docs/deploy.md, "Changing a deployed organisation": what each change of an identity field does
# to the example organisation (a sample of the lines stateful_changes reports for it).
IDENTITY_CHANGES = {
    "account alias": (
        _rename_workload,
        [
            "Workload-Keys-eu-west-1: left deployed (no longer in the App)",
            "TeamA-Keys-eu-west-1/DataKeyAliasF989EB84: AWS::KMS::Alias 'alias/example/data' "
            "is held by Workload-Keys-eu-west-1/DataKeyAliasF989EB84",
            "TeamA-Replication-eu-west-1/ReplicatorBusF002901C: AWS::Events::EventBus "
            "'kmskit-snapshot-replicator' is held by Workload-Replication-eu-west-1/"
            "ReplicatorBusF002901C",
        ],
    ),
    "home_region": (
        _move_home,
        [
            "Workload-Audit: moved from aws://222222222222/eu-west-1 to "
            "aws://222222222222/eu-central-1",
            "Workload-Keys-eu-west-1/GlobalKey3B1A3598: removed (AWS::KMS::Key)",
            "Workload-Keys-eu-central-1/GlobalKeyDFFCA1BD: removed (AWS::KMS::ReplicaKey)",
            "Workload-Keys-eu-central-1/GlobalKeyAliasABBE9547: AWS::KMS::Alias "
            "'alias/example/global' is held by Workload-Keys-eu-central-1/GlobalKeyAliasC3C7CCC0",
        ],
    ),
    "name": (
        _rename_organisation,
        [
            "Workload-Keys-eu-west-1/DataKeyAliasF989EB84.AliasName: replaced",
            "Security-Audit/CentralBucketStorageBucketA1F5BF12.BucketName: replaced",
            "Workload-Audit/Trail76E5F934.TrailName: replaced",
            "Workload-Audit/TrailLogGroup4CBE3AF5.LogGroupName: replaced",
            "Pipeline/ArtifactsBucket88671897.BucketName: replaced",
        ],
    ),
    "pipeline.region": (
        _move_pipeline,
        [
            "Pipeline: moved from aws://111111111111/eu-west-1 to aws://111111111111/eu-central-1",
            "PipelineArtifacts-eu-west-1/ArtifactsBucket88671897: AWS::S3::Bucket "
            "'example-pipeline-111111111111-eu-west-1' is held by Pipeline/ArtifactsBucket88671897",
            "Pipeline/ArtifactsBucket88671897: AWS::S3::Bucket "
            "'example-pipeline-111111111111-eu-central-1' is held by "
            "PipelineArtifacts-eu-central-1/ArtifactsBucket88671897",
        ],
    ),
}


@pytest.mark.parametrize("field", IDENTITY_CHANGES)
def test_changing_an_identity_field_replaces_or_collides(
    example: SynthResult, tmp_path_factory: pytest.TempPathFactory, field: str
) -> None:
    """docs/deploy.md lists these fields as fixed once deployed: each change moves stacks,
    replaces named resources or creates names that the deployed stacks still hold."""
    change, expected = IDENTITY_CHANGES[field]
    changed = example_changed(tmp_path_factory, field.replace(".", "-").replace(" ", "-"), change)
    changes = stateful_changes(example, changed)
    assert [line for line in expected if line not in changes] == []
    # No key is replaced in place (KeySpec, MultiRegion, ...): CloudFormation would refuse.
    keys = [
        f"{stack}/{logical_id}."
        for stack, template in example.templates.items()
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] in ("AWS::KMS::Key", "AWS::KMS::ReplicaKey")
    ]
    assert [c for c in changes if c.startswith(tuple(keys))] == []


@pytest.fixture(scope="module")
def sovereign(tmp_path_factory: pytest.TempPathFactory) -> SynthResult:
    """The example organisation in the AWS European Sovereign Cloud's one Region."""

    def move(organisation: dict[str, Any]) -> None:
        organisation.update(home_region="eusc-de-east-1", regions=["eusc-de-east-1"])
        organisation["replication"]["destinations"] = [
            {"account": "backup", "region": "eusc-de-east-1"}
        ]
        organisation["pipeline"]["region"] = "eusc-de-east-1"
        del organisation["pipeline"]["connection_arn"]
        organisation["key_inventory"]["caller_trusted_principal_arns"] = [
            "arn:aws-eusc:iam::111111111111:root"
        ]

    return example_changed(tmp_path_factory, "sovereign", move)


def test_the_organisation_synthesizes_in_the_european_sovereign_cloud(
    sovereign: SynthResult,
) -> None:
    assert sovereign.validation_findings() == []
    assert "Backup-Receiver-eusc-de-east-1" in sovereign.templates
    text = json.dumps(sovereign.templates)
    # Every literal ARN in the aws-eusc partition (the others use AWS::Partition).
    assert set(re.findall(r"arn:(aws[a-z-]*):", text)) == {"aws-eusc"}


@pytest.fixture(scope="module")
def china(tmp_path_factory: pytest.TempPathFactory) -> SynthResult:
    """The example organisation in the China Regions, without its pipeline section: CodePipeline
    is not available there (docs/deploy.md, "Without the pipeline")."""

    def move(organisation: dict[str, Any]) -> None:
        organisation.update(home_region="cn-north-1", regions=["cn-north-1", "cn-northwest-1"])
        organisation["replication"]["destinations"] = [
            {"region": "cn-northwest-1"},
            {"account": "backup", "region": "cn-north-1"},
        ]
        del organisation["pipeline"]
        organisation["key_inventory"]["caller_trusted_principal_arns"] = [
            "arn:aws-cn:iam::111111111111:root"
        ]

    return example_changed(tmp_path_factory, "china", move)


def test_the_organisation_synthesizes_in_the_china_regions_without_a_pipeline(
    china: SynthResult,
) -> None:
    # A pipeline there synthesized cleanly and could never be deployed.
    assert china.validation_findings() == []
    assert {"Security-Audit", "Backup-Receiver-cn-north-1"} <= set(china.templates)
    assert [name for name in china.templates if name.startswith("Pipeline")] == []
    text = json.dumps(china.templates)
    assert "AWS::CodePipeline::Pipeline" not in text
    assert "AWS::CodeBuild::Project" not in text
    assert set(re.findall(r"arn:(aws[a-z-]*):", text)) == {"aws-cn"}
    assert cfn_lint_problems(china.template_paths()) == []


@pytest.fixture(scope="module")
def zurich_only(tmp_path_factory: pytest.TempPathFactory) -> SynthResult:
    """The example organisation in Zurich alone (data residency), where CodeConnections, the
    pipeline's source, does not run: its pipeline turned off (docs/deploy.md, "Without the
    pipeline")."""

    def move(organisation: dict[str, Any]) -> None:
        organisation.update(home_region="eu-central-2", regions=["eu-central-2"])
        organisation["replication"]["destinations"] = [
            {"account": "backup", "region": "eu-central-2"}
        ]
        organisation["pipeline"] = {"enabled": False}

    return example_changed(tmp_path_factory, "zurich_only", move)


def test_the_organisation_synthesizes_in_one_region_without_codeconnections_with_its_pipeline_off(
    zurich_only: SynthResult,
) -> None:
    # Refused before: pipeline.region defaulted to home_region, which has no CodeConnections,
    # and the only way out added a Region to every account.
    from stacks.architecture import render, summarize  # noqa: PLC0415

    assert zurich_only.validation_findings() == []
    assert {"Security-Audit", "Workload-Keys-eu-central-2", "Backup-Receiver-eu-central-2"} <= set(
        zurich_only.templates
    )
    assert {zurich_only.environments[name].split("/")[-1] for name in zurich_only.templates} == {
        "eu-central-2"
    }
    assert [name for name in zurich_only.templates if name.startswith("Pipeline")] == []
    text = json.dumps(zurich_only.templates)
    assert "AWS::CodePipeline::Pipeline" not in text
    assert "AWS::CodeBuild::Project" not in text
    assert cfn_lint_problems(zurich_only.template_paths()) == []
    # docs/architecture.md's generator draws it: the stages, and no pipeline deploying them.
    architecture = render(summarize(zurich_only.outdir), {}, set())
    assert "Security_Audit" in architecture
    assert "|deploys|" not in architecture


@pytest.fixture(scope="module")
def opted_in(tmp_path_factory: pytest.TempPathFactory) -> SynthResult:
    """The example organisation in three opt-in Regions (docs/deploy.md, "Opt-in Regions"): home
    and audit bucket in ap-east-1, snapshot copies to me-south-1 and to the backup account in
    ap-east-1, and the pipeline in eu-south-1 (CodeConnections, its source, serves neither
    ap-east-1 nor me-south-1)."""

    def move(organisation: dict[str, Any]) -> None:
        organisation.update(
            home_region="ap-east-1", regions=["ap-east-1", "me-south-1", "eu-south-1"]
        )
        organisation["replication"]["destinations"] = [
            {"region": "me-south-1"},
            {"account": "backup", "region": "ap-east-1"},
        ]
        organisation["pipeline"]["region"] = "eu-south-1"

    return example_changed(tmp_path_factory, "opted_in", move)


def service_principals(node: Any) -> set[str]:
    """Every ``Principal.Service`` value in ``node`` (a template or part of one), as JSON text
    for one that is not a plain string (``Fn::Join`` with the Region)."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Principal" and isinstance(value, dict) and "Service" in value:
                services = value["Service"]
                for service in services if isinstance(services, list) else [services]:
                    found.add(service if isinstance(service, str) else json.dumps(service))
            found |= service_principals(value)
    elif isinstance(node, list):
        for item in node:
            found |= service_principals(item)
    return found


def test_the_organisation_synthesizes_in_opt_in_regions_with_global_service_principals(
    opted_in: SynthResult,
) -> None:
    assert opted_in.validation_findings() == []
    assert {"Backup-Receiver-ap-east-1", "Workload-Replication-me-south-1"} <= set(
        opted_in.templates
    )
    principals = service_principals(opted_in.templates)
    # No service is named by an opt-in Region's own principal (svc.<region>.amazonaws.com), but
    # CloudWatch Logs in key policies, in the form AWS documents for every Region.
    regional = {
        p for p in principals if re.search(r"\.(ap-east-1|me-south-1|eu-south-1)\.amazonaws", p)
    }
    assert regional <= {
        "logs.ap-east-1.amazonaws.com",
        "logs.me-south-1.amazonaws.com",
        "logs.eu-south-1.amazonaws.com",
    }
    assert "cloudtrail.amazonaws.com" in principals
    assert "events.amazonaws.com" in principals

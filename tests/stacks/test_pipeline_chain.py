"""An organisation too large for one pipeline is delivered by a chain of pipelines, each started
by the success of the one before (tests/_support/apps/pipeline_chain.py: the small organisation
with CodePipeline's action quota lowered so that it needs two)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stacks.config import PIPELINE_STAGE_NAMES
from tests._support.synth import SynthResult

Synth = Callable[[str], SynthResult]
# The stages of a pipeline that are not waves, which no account's stage ID may take.
FIXED_STAGES = set(PIPELINE_STAGE_NAMES)


def only(template: dict[str, Any], resource_type: str) -> tuple[str, dict[str, Any]]:
    (found,) = [(i, r) for i, r in template["Resources"].items() if r["Type"] == resource_type]
    return found


def pipeline_stages(template: dict[str, Any]) -> list[dict[str, Any]]:
    _, pipeline = only(template, "AWS::CodePipeline::Pipeline")
    stages: list[dict[str, Any]] = pipeline["Properties"]["Stages"]
    return stages


def deployed_waves(template: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """``(stage name, action names)`` of each wave of the template's pipeline, in order."""
    return [
        (stage["Name"], [action["Name"] for action in stage["Actions"]])
        for stage in pipeline_stages(template)
        if stage["Name"] not in FIXED_STAGES
    ]


def test_the_chain_deploys_what_one_pipeline_would_in_the_same_order(synthesized: Synth) -> None:
    chain = synthesized("pipeline_chain")
    assert sorted(name for name in chain.templates if name.startswith("Pipeline")) == [
        "Pipeline",
        "Pipeline2",
    ]
    one_pipeline = deployed_waves(synthesized("small_org").template("Pipeline"))
    first, second = (deployed_waves(chain.template(n)) for n in ("Pipeline", "Pipeline2"))
    assert first + second == one_pipeline
    # The Backup wave: CDK Pipelines names a wave of one stage after that stage (account).
    assert [name for name, _ in second] == ["Vault"]


def test_only_the_first_pipeline_starts_on_a_push(synthesized: Synth) -> None:
    chain = synthesized("pipeline_chain")
    (first,) = pipeline_stages(chain.template("Pipeline"))[0]["Actions"]
    (second,) = pipeline_stages(chain.template("Pipeline2"))[0]["Actions"]
    assert first["ActionTypeId"]["Provider"] == "CodeStarSourceConnection"
    assert first["Configuration"].get("DetectChanges", True) is True
    # No polling and no S3 event: only the rule started by the first pipeline's success.
    assert second["ActionTypeId"]["Provider"] == "S3"
    assert second["Configuration"]["PollForSourceChanges"] is False
    rules = [
        r["Properties"]["EventPattern"]["source"]
        for r in chain.template("Pipeline2")["Resources"].values()
        if r["Type"] == "AWS::Events::Rule"
    ]
    assert rules == [["aws.codepipeline"]]


def test_the_second_pipeline_deploys_the_revision_the_first_deployed(synthesized: Synth) -> None:
    chain = synthesized("pipeline_chain")
    template, second = chain.template("Pipeline"), chain.template("Pipeline2")
    first_stages = pipeline_stages(template)
    # The first pipeline's last stage, after every wave it deploys, copies its source artifact
    # (the commit it deployed) to a fixed key in its own artifact bucket, encrypted with its key.
    hand_off = first_stages[-1]
    assert hand_off["Name"] == "HandOff"
    (copy,) = hand_off["Actions"]
    (source,) = first_stages[0]["Actions"]
    assert copy["ActionTypeId"] == {
        "Category": "Deploy",
        "Owner": "AWS",
        "Provider": "S3",
        "Version": "1",
    }
    assert copy["InputArtifacts"] == source["OutputArtifacts"]
    (bucket_id,) = [
        i
        for i, r in template["Resources"].items()
        if r["Type"] == "AWS::S3::Bucket"
        and r["Properties"].get("BucketName") == "chain-pipeline-111111111111-eu-west-1"
    ]
    key_id, _ = only(template, "AWS::KMS::Key")
    assert copy["Configuration"] == {
        "BucketName": {"Ref": bucket_id},
        "Extract": "false",
        "ObjectKey": "hand-off/source.zip",
        "KMSEncryptionKeyARN": {"Fn::GetAtt": [key_id, "Arn"]},
    }
    assert template["Resources"][bucket_id]["Properties"]["VersioningConfiguration"] == {
        "Status": "Enabled"
    }
    # The second pipeline's source is that object: the newest version when it starts.
    (handed_off,) = pipeline_stages(second)[0]["Actions"]
    assert handed_off["Configuration"]["S3ObjectKey"] == "hand-off/source.zip"
    bucket_output = handed_off["Configuration"]["S3Bucket"]["Fn::GetStackOutput"]
    assert bucket_output["StackName"] == "Pipeline"
    assert template["Outputs"][bucket_output["OutputName"]]["Value"] == {"Ref": bucket_id}

    # Its role reads that object (not the rest of the bucket) and decrypts with that key.
    def first_pipeline_output(value: dict[str, Any]) -> dict[str, Any]:
        (name,) = [n for n, output in template["Outputs"].items() if output["Value"] == value]
        return {
            "Fn::GetStackOutput": {
                "StackName": "Pipeline",
                "Region": "eu-west-1",
                "OutputName": name,
            }
        }

    bucket_arn = first_pipeline_output({"Fn::GetAtt": [bucket_id, "Arn"]})
    statements = [
        statement
        for resource in second["Resources"].values()
        if resource["Type"] == "AWS::IAM::ManagedPolicy"
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
    ]
    mentions_bucket = json.dumps(bucket_arn)
    on_first_bucket = [st for st in statements if mentions_bucket in json.dumps(st["Resource"])]
    assert on_first_bucket == [
        {
            "Action": ["s3:GetBucket*", "s3:GetObject*", "s3:List*"],
            "Effect": "Allow",
            "Resource": [
                bucket_arn,
                {"Fn::Join": ["", [bucket_arn, "/hand-off/source.zip"]]},
            ],
        }
    ]
    assert {
        "Action": ["kms:Decrypt", "kms:DescribeKey"],
        "Effect": "Allow",
        "Resource": first_pipeline_output({"Fn::GetAtt": [key_id, "Arn"]}),
    } in statements
    # The last pipeline of the chain hands nothing off.
    assert "HandOff" not in [stage["Name"] for stage in pipeline_stages(second)]


def test_the_second_pipeline_starts_when_the_first_succeeds(synthesized: Synth) -> None:
    template = synthesized("pipeline_chain").template("Pipeline2")
    pipeline_id, pipeline = only(template, "AWS::CodePipeline::Pipeline")
    assert pipeline["Properties"]["Name"] == "chain-kms-toolkit2"
    _, rule = only(template, "AWS::Events::Rule")
    assert rule["Properties"]["EventPattern"] == {
        "source": ["aws.codepipeline"],
        "detail-type": ["CodePipeline Stage Execution State Change"],
        "detail": {"pipeline": ["chain-kms-toolkit"], "stage": ["HandOff"], "state": ["SUCCEEDED"]},
    }
    (target,) = rule["Properties"]["Targets"]
    assert {"Ref": pipeline_id} in target["Arn"]["Fn::Join"][1]
    # The rule's role may start this pipeline and nothing else.
    role_id = target["RoleArn"]["Fn::GetAtt"][0]
    (policy,) = [
        r
        for r in template["Resources"].values()
        if r["Type"] == "AWS::IAM::ManagedPolicy" and r["Properties"]["Roles"] == [{"Ref": role_id}]
    ]
    assert policy["Properties"]["PolicyDocument"]["Statement"] == [
        {
            "Action": "codepipeline:StartPipelineExecution",
            "Effect": "Allow",
            "Resource": target["Arn"],
        }
    ]


def test_a_pipeline_that_no_longer_hands_off_starts_no_later_pipeline(synthesized: Synth) -> None:
    # A chain that shrinks leaves its last pipelines deployed (CDK deletes no stack): started on
    # the previous pipeline's plain SUCCEEDED, such a pipeline would deploy the stale hand-off,
    # an older revision, over what the shorter chain has just deployed. Started by the success
    # of the previous pipeline's hand-off stage, it waits for a hand-off that no longer comes.
    chain = synthesized("pipeline_chain")
    _, rule = only(chain.template("Pipeline2"), "AWS::Events::Rule")
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["detail-type"] == ["CodePipeline Stage Execution State Change"]
    assert pattern["detail"]["state"] == ["SUCCEEDED"]
    (stage,) = pattern["detail"]["stage"]
    # The stage it waits for is the previous pipeline's last, its hand-off; the last pipeline of
    # a chain has none.
    assert [s["Name"] for s in pipeline_stages(chain.template("Pipeline"))][-1] == stage
    assert stage not in [s["Name"] for s in pipeline_stages(chain.template("Pipeline2"))]
    # Nor may a wave of the last pipeline take its name (an account's stage ID: stacks/config.py).
    assert stage in PIPELINE_STAGE_NAMES


def test_a_start_that_cannot_be_delivered_lands_in_an_alarmed_dead_letter_queue(
    synthesized: Synth,
) -> None:
    template = synthesized("pipeline_chain").template("Pipeline2")
    rule_id, rule = only(template, "AWS::Events::Rule")
    (target,) = rule["Properties"]["Targets"]
    queue_id = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
    assert template["Resources"][queue_id]["Properties"]["KmsMasterKeyId"]
    # aws-cdk-lib's CodePipeline target adds no queue policy: without this statement,
    # EventBridge could not deliver to the queue.
    _, queue_policy = only(template, "AWS::SQS::QueuePolicy")
    assert {
        "Sid": "RuleDeadLetters",
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": {"Fn::GetAtt": [queue_id, "Arn"]},
        "Condition": {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]}}},
    } in queue_policy["Properties"]["PolicyDocument"]["Statement"]
    _, alarm = only(template, "AWS::CloudWatch::Alarm")
    assert alarm["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["Properties"]["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}
    ]
    topic_id, _ = only(template, "AWS::SNS::Topic")
    assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}]
    assert alarm["Properties"]["OKActions"] == [{"Ref": topic_id}]


def test_each_pipeline_has_its_own_artifact_bucket_and_key(synthesized: Synth) -> None:
    chain = synthesized("pipeline_chain")
    names = {}
    for stack in ("Pipeline", "Pipeline2"):
        template = chain.template(stack)
        _, alias = only(template, "AWS::KMS::Alias")
        buckets = [
            r["Properties"].get("BucketName")
            for r in template["Resources"].values()
            if r["Type"] == "AWS::S3::Bucket"
        ]
        names[stack] = (alias["Properties"]["AliasName"], [b for b in buckets if b])
    assert names == {
        "Pipeline": ("alias/chain/pipeline-artifacts", ["chain-pipeline-111111111111-eu-west-1"]),
        "Pipeline2": (
            "alias/chain/pipeline2-artifacts",
            ["chain-pipeline2-111111111111-eu-west-1"],
        ),
    }


def self_mutation_commands(template: dict[str, Any]) -> list[str]:
    (spec,) = [
        json.loads(r["Properties"]["Source"]["BuildSpec"])
        for logical_id, r in template["Resources"].items()
        if r["Type"] == "AWS::CodeBuild::Project" and "SelfMutation" in logical_id
    ]
    phases = spec["phases"]
    commands: list[str] = phases["install"]["commands"] + phases["build"]["commands"]
    return commands


def test_a_later_pipeline_updates_only_its_own_stack(synthesized: Synth) -> None:
    # Pipeline2 depends on Pipeline and the artifact stacks, and runs on an older commit than
    # Pipeline may have deployed by then: a plain `cdk deploy Pipeline2` would deploy those
    # stacks too, back as they were at its commit.
    chain = synthesized("pipeline_chain")
    manifest = json.loads((chain.outdir / "manifest.json").read_text("utf-8"))
    assert "Pipeline" in manifest["artifacts"]["Pipeline2"]["dependencies"]
    second = self_mutation_commands(chain.template("Pipeline2"))
    assert "cdk -a . deploy Pipeline2 --exclusively --require-approval=never --verbose" in second
    # The first pipeline still deploys the artifact stacks it depends on with itself.
    first = self_mutation_commands(chain.template("Pipeline"))
    assert "cdk -a . deploy Pipeline --require-approval=never --verbose" in first


def test_the_pipeline_installs_the_cdk_cli_package_json_pins(synthesized: Synth) -> None:
    package = json.loads((Path(__file__).parents[2] / "package.json").read_text("utf-8"))
    pinned = package["devDependencies"]["aws-cdk"]
    chain = synthesized("pipeline_chain")
    for name in ("Pipeline", "Pipeline2"):
        assert f"npm install -g aws-cdk@{pinned}" in self_mutation_commands(chain.template(name))

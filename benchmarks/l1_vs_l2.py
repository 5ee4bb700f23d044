"""Typed L1 resources against the L2 constructs the toolkit uses, piece by piece, through jsii.

    python -O benchmarks/l1_vs_l2.py [--stacks 30] [--rounds 3]

Issue #7's marginal cost per stack is mostly the kernel's work and jsii's marshalling while the
constructs are built. Rewriting the constructs as typed L1 resources (``CfnAlarm``,
``CfnFunction``, ...) from plain data was the candidate fix. This measures what it would save:
each piece of the snapshot replicator (alarms with their SNS actions, two functions with role,
log group and code asset, managed policies, event rules to a queue) is built once as the L2 the
toolkit uses and once as typed L1s writing the same properties, in ``--stacks`` stacks of one App
on the direct channel, as app.py runs. A first unmeasured pass of each loads the modules the
piece needs into the kernel, so the measured passes compare steady-state costs. It prints the
median milliseconds per stack of each and the ratio typed L1 / L2, with an empty stack as the
baseline.

Raw ``CfnResource`` objects from JSON (``benchmarks/synth.py --template-floor``) are cheaper
still, but cdk-nag's rules look for typed L1 classes and skip them, so they are not an option
for the toolkit's resources.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from constructs_lib.jsii_channel import use_direct_channel  # noqa: E402

if __name__ == "__main__":
    use_direct_channel()  # before aws_cdk starts jsii's kernel, as app.py does

import aws_cdk as cdk  # noqa: E402
from aws_cdk import aws_cloudwatch as cloudwatch  # noqa: E402
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions  # noqa: E402
from aws_cdk import aws_events as events  # noqa: E402
from aws_cdk import aws_events_targets as targets  # noqa: E402
from aws_cdk import aws_iam as iam  # noqa: E402
from aws_cdk import aws_lambda as lambda_  # noqa: E402
from aws_cdk import aws_logs as logs  # noqa: E402
from aws_cdk import aws_s3_assets as s3_assets  # noqa: E402
from aws_cdk import aws_sns as sns  # noqa: E402
from aws_cdk import aws_sqs as sqs  # noqa: E402

Build = Callable[[cdk.Stack], None]
CODE = str(ROOT / "lambda_src")
SOURCE = ["aws.ec2"]
DETAIL_TYPE = ["EBS Snapshot Notification"]
DETAIL = {"event": ["copySnapshot"]}
PATTERN = {"source": SOURCE, "detail-type": DETAIL_TYPE, "detail": DETAIL}
STATEMENTS = [
    {
        "Sid": f"Statement{index}",
        "Effect": "Allow",
        "Action": ["s3:GetObject", "s3:PutObject"],
        "Resource": [f"arn:aws:s3:::bucket{index}/*"],
    }
    for index in range(8)
]
LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def alarms_l2(stack: cdk.Stack) -> None:
    topic = sns.Topic(stack, "Topic")
    action = cloudwatch_actions.SnsAction(topic)
    for index in range(3):
        alarm = cloudwatch.Alarm(
            stack,
            f"Alarm{index}",
            metric=cloudwatch.Metric(
                namespace="kmskit/Snapshots",
                metric_name="CopyFailed",
                dimensions_map={"Replicator": "r"},
                period=cdk.Duration.minutes(5),
                statistic="Sum",
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description="a copy failed",
        )
        alarm.add_alarm_action(action)
        alarm.add_ok_action(action)


def alarms_l1(stack: cdk.Stack) -> None:
    topic_arn = sns.CfnTopic(stack, "Topic").ref
    for index in range(3):
        cloudwatch.CfnAlarm(
            stack,
            f"Alarm{index}",
            namespace="kmskit/Snapshots",
            metric_name="CopyFailed",
            dimensions=[cloudwatch.CfnAlarm.DimensionProperty(name="Replicator", value="r")],
            period=300,
            statistic="Sum",
            threshold=1,
            evaluation_periods=1,
            comparison_operator="GreaterThanOrEqualToThreshold",
            treat_missing_data="notBreaching",
            alarm_description="a copy failed",
            alarm_actions=[topic_arn],
            ok_actions=[topic_arn],
        )


def functions_l2(stack: cdk.Stack) -> None:
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    log_group = logs.LogGroup(stack, "Logs", retention=logs.RetentionDays.ONE_YEAR)
    code = lambda_.Code.from_asset(CODE)
    for index in range(2):
        lambda_.Function(
            stack,
            f"Function{index}",
            runtime=lambda_.Runtime.PYTHON_3_12,
            handler="snapshot_replicator.handler.handler",
            code=code,
            role=role.without_policy_updates(),
            timeout=cdk.Duration.minutes(5),
            memory_size=256,
            reserved_concurrent_executions=3,
            log_group=log_group,
            tracing=lambda_.Tracing.ACTIVE,
            environment={"KMSKIT_SNAPSHOT_CONFIG": "{}"},
        )


def functions_l1(stack: cdk.Stack) -> None:
    role = iam.CfnRole(stack, "Role", assume_role_policy_document=LAMBDA_TRUST)
    log_group = logs.CfnLogGroup(stack, "Logs", retention_in_days=365)
    asset = s3_assets.Asset(stack, "Code", path=CODE)
    for index in range(2):
        lambda_.CfnFunction(
            stack,
            f"Function{index}",
            runtime="python3.12",
            handler="snapshot_replicator.handler.handler",
            code=lambda_.CfnFunction.CodeProperty(
                s3_bucket=asset.s3_bucket_name, s3_key=asset.s3_object_key
            ),
            role=role.attr_arn,
            timeout=300,
            memory_size=256,
            reserved_concurrent_executions=3,
            logging_config=lambda_.CfnFunction.LoggingConfigProperty(log_group=log_group.ref),
            tracing_config=lambda_.CfnFunction.TracingConfigProperty(mode="Active"),
            environment=lambda_.CfnFunction.EnvironmentProperty(
                variables={"KMSKIT_SNAPSHOT_CONFIG": "{}"}
            ),
        )


def policies_l2(stack: cdk.Stack) -> None:
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    for index in range(3):
        iam.ManagedPolicy(
            stack,
            f"Policy{index}",
            roles=[role],
            document=iam.PolicyDocument.from_json(
                {"Version": "2012-10-17", "Statement": STATEMENTS}
            ),
        )


def policies_l1(stack: cdk.Stack) -> None:
    role = iam.CfnRole(stack, "Role", assume_role_policy_document=LAMBDA_TRUST)
    for index in range(3):
        iam.CfnManagedPolicy(
            stack,
            f"Policy{index}",
            roles=[role.ref],
            policy_document={"Version": "2012-10-17", "Statement": STATEMENTS},
        )


def rules_l2(stack: cdk.Stack) -> None:
    queue = sqs.Queue(stack, "Queue")
    for index in range(4):
        events.Rule(
            stack,
            f"Rule{index}",
            event_pattern=events.EventPattern(
                source=SOURCE, detail_type=DETAIL_TYPE, detail=DETAIL
            ),
            targets=[targets.SqsQueue(queue)],
        )


def rules_l1(stack: cdk.Stack) -> None:
    queue = sqs.CfnQueue(stack, "Queue")
    sqs.CfnQueuePolicy(
        stack,
        "QueuePolicy",
        queues=[queue.ref],
        policy_document={
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue.attr_arn,
                }
            ],
        },
    )
    for index in range(4):
        events.CfnRule(
            stack,
            f"Rule{index}",
            event_pattern=PATTERN,
            targets=[events.CfnRule.TargetProperty(id="Target0", arn=queue.attr_arn)],
            state="ENABLED",
        )


PIECES: dict[str, tuple[Build, Build]] = {
    "3 alarms + SNS actions": (alarms_l2, alarms_l1),
    "2 functions + role, logs": (functions_l2, functions_l1),
    "3 managed policies": (policies_l2, policies_l1),
    "4 rules -> queue": (rules_l2, rules_l1),
}


def ms_per_stack(app: cdk.App, name: str, build: Build, stacks: int) -> float:
    start = time.perf_counter()
    for index in range(stacks):
        build(cdk.Stack(app, f"{name}{index}"))
    return (time.perf_counter() - start) * 1000 / stacks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stacks", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    app = cdk.App()  # never synthesized: construction only
    samples: dict[str, list[float]] = {}
    builds: dict[str, Build] = {"empty": lambda stack: None}
    for piece, (with_l2, with_l1) in PIECES.items():
        builds[f"{piece} L2"], builds[f"{piece} L1"] = with_l2, with_l1
    names = {label: f"S{number}" for number, label in enumerate(builds)}
    for label, build in builds.items():
        ms_per_stack(app, f"{names[label]}W", build, 2)  # loads the piece's modules
    for round_number in range(args.rounds):
        for label, build in builds.items():
            name = f"{names[label]}R{round_number}N"
            samples.setdefault(label, []).append(ms_per_stack(app, name, build, args.stacks))
    median = {label: statistics.median(values) for label, values in samples.items()}
    print(f"construction, median of {args.rounds} rounds of {args.stacks} stacks (ms per stack)")
    print(f"{'empty stack':<28}{median['empty']:>8.1f}")
    for piece in PIECES:
        l2 = median[f"{piece} L2"] - median["empty"]
        l1 = median[f"{piece} L1"] - median["empty"]
        print(f"{piece:<28} L2 {l2:6.1f}  typed L1 {l1:6.1f}  L1 / L2 {l1 / l2:.2f}x")


if __name__ == "__main__":
    main()

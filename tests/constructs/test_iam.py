"""ManagedPolicyRole: CDK grants land in a customer managed policy, not an inline one."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Match, Template

from constructs_lib import ManagedPolicyRole


def test_grants_go_to_one_managed_policy_attached_to_the_role() -> None:
    stack = cdk.Stack(
        cdk.App(), "S", env=cdk.Environment(account="111111111111", region="eu-west-1")
    )
    role = ManagedPolicyRole(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    queue = sqs.Queue(stack, "Queue")
    queue.grant_send_messages(role)
    role.add_to_policy(iam.PolicyStatement(actions=["sqs:ListQueues"], resources=["*"]))

    template = Template.from_stack(stack)
    template.resource_count_is("AWS::IAM::Policy", 0)
    template.resource_count_is("AWS::IAM::ManagedPolicy", 1)
    template.has_resource_properties(
        "AWS::IAM::ManagedPolicy",
        {
            "Roles": [{"Ref": Match.string_like_regexp("^Role")}],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like({"Action": Match.array_with(["sqs:SendMessage"])}),
                        Match.object_like({"Action": "sqs:ListQueues", "Resource": "*"}),
                    ]
                )
            },
        },
    )
    assert role.grants_policy is not None

"""ManagedPolicyRole: CDK grants land in customer managed policies, not an inline one, split
across several when they outgrow IAM's size quota."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Annotations, Match, Template

from constructs_lib import ConstructPropError, ManagedPolicyRole
from constructs_lib.iam import split_statements
from tests._support.deploy_quotas import POLICY_QUOTAS, deployed, deployed_size

MANAGED_POLICY_QUOTA = POLICY_QUOTAS["AWS::IAM::ManagedPolicy"][1]


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


MINIMIZE: Mapping[str, Any] = {"@aws-cdk/aws-iam:minimizePolicies": True}


def _stack(context: Mapping[str, Any] | None = None) -> cdk.Stack:
    return cdk.Stack(
        cdk.App(context=dict(context) if context is not None else None),
        "S",
        env=cdk.Environment(account="111111111111", region="eu-west-1"),
    )


def _deploy_role_arn(stack: cdk.Stack, index: int) -> str:
    # The partition is a deploy-time value, as in the ARNs CDK Pipelines grants.
    return f"arn:{stack.partition}:iam::{200000000000 + index}:role/cdk-deploy-role-{index}"


def _grants_policies(stack: cdk.Stack) -> Mapping[str, Mapping[str, Any]]:
    return Template.from_stack(stack).find_resources("AWS::IAM::ManagedPolicy")


def test_grants_past_the_iam_size_quota_split_across_policies_attached_to_the_role() -> None:
    stack = _stack(MINIMIZE)
    role = ManagedPolicyRole(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    arns = [_deploy_role_arn(stack, index) for index in range(100)]
    for arn in arns:
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["sts:AssumeRole"], resources=[arn])
        )

    policies = _grants_policies(stack)
    assert len(policies) == 3 == len(role.grants_policies)
    granted: list[str] = []
    for policy in policies.values():
        properties = policy["Properties"]
        assert properties["Roles"] == [stack.resolve(role.role_name)]
        document = stack.resolve(properties["PolicyDocument"])
        assert deployed_size(document) <= MANAGED_POLICY_QUOTA
        (statement,) = document["Statement"]
        granted.extend(deployed(statement["Resource"]))
    assert sorted(granted) == sorted(deployed(stack.resolve(arn)) for arn in arns)


def test_small_grants_still_make_one_policy_with_minimize_policies() -> None:
    stack = _stack(MINIMIZE)
    role = ManagedPolicyRole(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    for index in range(10):
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["sts:AssumeRole"], resources=[_deploy_role_arn(stack, index)]
            )
        )
    assert len(_grants_policies(stack)) == 1
    assert role.grants_policy is role.grants_policies[0]


def test_without_minimize_policies_each_statement_counts_in_full() -> None:
    # CDK renders every statement on its own then, so the same grants need more room.
    policy_counts: list[int] = []
    for context in (MINIMIZE, None):
        stack = _stack(context)
        role = ManagedPolicyRole(
            stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com")
        )
        for index in range(60):
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["s3:GetObject", "s3:PutObject"],
                    resources=[_deploy_role_arn(stack, index)],
                )
            )
        for policy in _grants_policies(stack).values():
            document = stack.resolve(policy["Properties"]["PolicyDocument"])
            assert deployed_size(document) <= MANAGED_POLICY_QUOTA
        policy_counts.append(len(role.grants_policies))
    assert policy_counts == [2, 3]


def test_more_than_ten_policies_warn_and_more_than_twenty_are_refused() -> None:
    stack = _stack()
    role = ManagedPolicyRole(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))

    def grant_batch(batch: int) -> None:
        # 19 deploy-time ARNs of 153 estimated characters: two such statements fill a policy.
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["sts:AssumeRole"],
                resources=[_deploy_role_arn(stack, batch * 19 + index) for index in range(19)],
            )
        )

    for batch in range(20):
        grant_batch(batch)
    assert len(role.grants_policies) == 10  # the default quota: no warning yet
    Annotations.from_stack(stack).has_no_warning("/S/Role", Match.any_value())
    for batch in range(20, 22):
        grant_batch(batch)
    assert len(role.grants_policies) == 11
    Annotations.from_stack(stack).has_warning(
        "/S/Role",
        Match.string_like_regexp("more than 10 attached managed policies.*quota increase"),
    )
    for batch in range(22, 40):
        grant_batch(batch)
    assert len(role.grants_policies) == 20
    grant_batch(40)  # placed when the policies are read, or at synth
    with pytest.raises(ConstructPropError) as raised:
        role.grants_policies  # noqa: B018
    assert str(raised.value) == (
        "'S/Role grants' must keep the role within IAM's maximum of 20 attached managed policies "
        "per role (0 given with managed_policies or add_managed_policy, 21 holding its grants, "
        "of 6000 characters each; split the grants or policies across roles). "
        "Received: '21 attached managed policies'"
    )


ARN0 = "arn:aws:iam::aws:policy/Policy0"


def _aws_managed(stack: cdk.Stack, count: int, first: int = 0) -> list[iam.IManagedPolicy]:
    return [
        iam.ManagedPolicy.from_managed_policy_arn(
            stack, f"P{index}", f"arn:aws:iam::aws:policy/Policy{index}"
        )
        for index in range(first, first + count)
    ]


def _role_with_given_policies(count: int) -> tuple[cdk.Stack, ManagedPolicyRole]:
    stack = _stack()
    role = ManagedPolicyRole(
        stack,
        "Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        managed_policies=_aws_managed(stack, count),
    )
    role.add_to_principal_policy(iam.PolicyStatement(actions=["sqs:ListQueues"], resources=["*"]))
    return stack, role


def test_managed_policies_given_count_towards_the_warning_and_the_refusal() -> None:
    # IAM counts every managed policy attached to the role, not only the grants policies.
    stack, role = _role_with_given_policies(9)
    role.add_managed_policy(iam.ManagedPolicy.from_managed_policy_arn(stack, "P0Again", ARN0))
    assert len(role.grants_policies) == 1  # 10 attached: the default quota, no warning
    Annotations.from_stack(stack).has_no_warning("/S/Role", Match.any_value())

    stack, role = _role_with_given_policies(9)
    (tenth,) = _aws_managed(stack, 1, first=9)
    role.add_managed_policy(tenth)
    role.add_managed_policy(tenth)  # attached once
    for index in range(10):  # 38 deploy-time ARNs: one such statement fills a policy
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["sts:AssumeRole"],
                resources=[_deploy_role_arn(stack, index * 40 + n) for n in range(38)],
            )
        )
    assert len(role.grants_policies) == 10  # 20 attached: IAM's maximum
    with pytest.raises(ConstructPropError) as raised:
        role.add_managed_policy(iam.ManagedPolicy.from_aws_managed_policy_name("ReadOnlyAccess"))
    assert str(raised.value) == (
        "'S/Role add_managed_policy' must keep the role within IAM's maximum of 20 attached "
        "managed policies per role (11 given with managed_policies or add_managed_policy, 10 "
        "holding its grants, of 6000 characters each; split the grants or policies across "
        "roles). Received: '21 attached managed policies'"
    )
    Annotations.from_stack(stack).has_warning(
        "/S/Role",
        "S/Role needs more than 10 attached managed policies (11: 10 given with managed_policies "
        "or add_managed_policy, 1 holding its grants): request an IAM quota increase (managed "
        "policies per role) first [ack: kmskit:managedPolicyRoleQuota]",
    )
    (role_json,) = Template.from_stack(stack).find_resources("AWS::IAM::Role").values()
    assert len(role_json["Properties"]["ManagedPolicyArns"]) == 10  # the refused one is not in
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["sts:AssumeRole"],
            resources=[_deploy_role_arn(stack, 1000 + n) for n in range(38)],
        )
    )
    with pytest.raises(ConstructPropError, match=r"^'S/Role grants' must keep the role within"):
        role.grants_policies  # noqa: B018


def test_more_than_twenty_managed_policies_given_are_refused() -> None:
    with pytest.raises(ConstructPropError) as raised:
        ManagedPolicyRole(
            _stack(),
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            managed_policies=_aws_managed(cdk.Stack(), 21),
        )
    assert str(raised.value).startswith(
        "'S/Role managed_policies' must keep the role within IAM's maximum of 20 attached "
        "managed policies per role (21 given with managed_policies or add_managed_policy, 0 "
    )


def test_a_policy_given_twice_is_counted_once() -> None:
    """iam.Role renders a policy given twice in managed_policies once: 21 copies of one policy
    were refused as 21 attached managed policies."""
    stack = _stack()
    (policy,) = _aws_managed(stack, 1)
    role = ManagedPolicyRole(
        stack,
        "Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        managed_policies=[policy] * 21,
    )
    (role_json,) = Template.from_stack(stack).find_resources("AWS::IAM::Role").values()
    assert len(role_json["Properties"]["ManagedPolicyArns"]) == 1
    Annotations.from_stack(stack).has_no_warning("/S/Role", Match.any_value())
    assert role.grants_policies == []


def _policy_attaching_itself(stack: cdk.Stack, index: int, role: iam.IRole) -> iam.ManagedPolicy:
    policy = iam.ManagedPolicy(
        stack,
        f"Own{index}",
        statements=[
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[f"arn:aws:s3:::b{index}/*"])
        ],
    )
    if index % 2:
        policy.attach_to_role(role)
    else:
        iam.ManagedPolicy(
            stack,
            f"Own{index}Also",
            roles=[role],
            statements=[
                iam.PolicyStatement(actions=["s3:ListBucket"], resources=[f"arn:aws:s3:::b{index}"])
            ],
        )
    return policy


def test_policies_attaching_themselves_count_at_synth() -> None:
    """ManagedPolicy(roles=[role]) and policy.attach_to_role(role) tell the role nothing: 10
    given and 11 attached from the policy side synthesized 21 attached policies, no message,
    and the deploy failed."""
    stack, role = _role_with_given_policies(9)  # 9 given and 1 grants policy
    for index in range(3):  # 2 ManagedPolicy(roles=...), 1 attach_to_role
        _policy_attaching_itself(stack, index, role)
    Annotations.from_stack(stack).has_warning(
        "/S/Role",
        "S/Role needs more than 10 attached managed policies (13: 9 given with managed_policies "
        "or add_managed_policy, 1 holding its grants, 3 attaching it themselves "
        "(ManagedPolicy(roles=...), attach_to_role)): request an IAM quota increase (managed "
        "policies per role) first [ack: kmskit:managedPolicyRoleQuota]",
    )

    stack, role = _role_with_given_policies(9)
    for index in range(11):
        _policy_attaching_itself(stack, index, role)
    with pytest.raises(RuntimeError) as raised:
        cdk.App.of(stack).synth()  # type: ignore[union-attr]
    assert (
        "'S/Role managed policies' must keep the role within IAM's maximum of 20 attached "
        "managed policies per role (9 given with managed_policies or add_managed_policy, 1 "
        "holding its grants, 11 attaching it themselves (ManagedPolicy(roles=...), "
        "attach_to_role), of 6000 characters each; split the grants or policies across roles). "
        "Received: '21 attached managed policies'"
    ) in str(raised.value)


def _statement(sid: str, resources: list[str]) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": "s3:GetObject", "Resource": resources}


def _policy_size(statements: list[dict[str, Any]]) -> int:
    return deployed_size({"Version": "2012-10-17", "Statement": statements})


def test_split_statements_leaves_statements_that_fit_in_one_policy_alone() -> None:
    statements = [_statement("Read", ["arn:aws:s3:::a/*"]), _statement("List", ["arn:aws:s3:::b"])]
    assert split_statements(statements) == [statements]


def test_split_statements_cuts_an_oversized_statement_by_its_resources() -> None:
    resources = [f"arn:aws:s3:::bucket-{index:04d}/objects/*" for index in range(250)]
    before = _statement("Before", ["arn:aws:s3:::first/*"])
    groups = split_statements([before, _statement("ReadAll", resources)])

    assert len(groups) == 2  # 250 x 39 characters: about 9,800
    assert groups[0][0] == before
    pieces = sorted(
        (s for group in groups for s in group if s["Sid"].startswith("ReadAll")),
        key=lambda s: str(s["Sid"]),
    )
    assert [s["Sid"] for s in pieces] == ["ReadAll", "ReadAll2"]
    assert [r for s in pieces for r in s["Resource"]] == resources  # each once, in order
    assert all(s["Action"] == "s3:GetObject" for s in pieces)
    assert all(_policy_size(group) <= MANAGED_POLICY_QUOTA for group in groups)


def test_split_statements_counts_the_sids_that_iam_counts() -> None:
    # Many small named statements (as the replication functions have): CDK's estimate leaves the
    # Sid out, which put a 6,247-character policy into one where IAM takes 6,144.
    statements = [
        _statement(f"ReadTheObjectsOfBucketNumber{index:03d}", [f"arn:aws:s3:::b-{index:03d}/*"])
        for index in range(60)
    ]
    assert _policy_size(statements) > MANAGED_POLICY_QUOTA  # about 7,100 in one policy
    groups = split_statements(statements)
    assert len(groups) == 2
    assert [s for group in groups for s in group] == statements
    assert all(_policy_size(group) <= MANAGED_POLICY_QUOTA for group in groups)


def test_split_statements_counts_each_statements_braces_and_condition_key() -> None:
    # Named statements with conditions, as the replication functions have: CDK's estimate
    # leaves out each statement's braces and its "Condition" key, which put a 6,160-character
    # policy into one where IAM takes 6,144.
    statements = [
        {
            **_statement(f"Read{index:02d}", [f"arn:aws:s3:::b-{index:02d}/*"]),
            "Condition": {"StringEquals": {"aws:ResourceAccount": "111111111111"}},
        }
        for index in range(39)
    ]
    assert _policy_size(statements) > MANAGED_POLICY_QUOTA  # about 6,300 in one policy
    groups = split_statements(statements)
    assert len(groups) == 2
    assert [s for group in groups for s in group] == statements
    assert all(_policy_size(group) <= MANAGED_POLICY_QUOTA for group in groups)


def test_split_statements_packs_later_statements_into_earlier_policies_with_room() -> None:
    large = [f"arn:aws:s3:::bucket-{index:04d}/*" for index in range(170)]  # about 5,000
    small = _statement("Small", ["arn:aws:s3:::small/*"])
    groups = split_statements([_statement("LargeA", large), _statement("LargeB", large), small])
    assert [[s["Sid"] for s in group] for group in groups] == [["LargeA", "Small"], ["LargeB"]]

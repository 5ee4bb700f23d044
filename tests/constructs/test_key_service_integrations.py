"""Key policy statements for AWS services acting for the account: Route 53 DNSSEC signing
(``KeyServicePrincipal.route53_dnssec``) and EC2 Auto Scaling's service-linked role
(``KeyServicePrincipal.autoscaling_service_linked_role``).

The statements are read from the synthesized ``service_keys_showcase`` (held to the gates in
tests/test_gates.py); the expected actions and conditions are written out on purpose. The
refusals build a throwaway App and never synthesize.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Template

from constructs_lib import ConstructPropError, CustomerManagedKey, KeyPolicy, KeyServicePrincipal
from stacks.config import cdk_json_context
from tests._support.apps.service_keys_showcase import ADMIN_ARN, STACK
from tests._support.synth import SynthResult
from tests.constructs.test_key_policy import SYMMETRIC_USER

Synth = Callable[[str], SynthResult]
ACCOUNT = "111111111111"
DNSSEC = {"Service": "dnssec-route53.amazonaws.com"}
FOR_AWS_RESOURCE = {"Bool": {"kms:GrantIsForAWSResource": "true"}}
SLR = (
    f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/autoscaling.amazonaws.com/"
    "AWSServiceRoleForAutoScaling"
)


def key_policy(synthesized: Synth, path: str) -> list[dict[str, Any]]:
    template = synthesized("service_keys_showcase").template(STACK)
    (key,) = [
        r
        for r in template["Resources"].values()
        if r["Type"] == "AWS::KMS::Key"
        and r["Properties"]["Description"].startswith(f"{STACK}/{path} ")
    ]
    statements: list[dict[str, Any]] = key["Properties"]["KeyPolicy"]["Statement"]
    return statements


def zone_ref(synthesized: Synth) -> dict[str, str]:
    template = synthesized("service_keys_showcase").template(STACK)
    (zone,) = [
        n for n, r in template["Resources"].items() if r["Type"] == "AWS::Route53::HostedZone"
    ]
    return {"Ref": zone}


def allow(sid: str, principal: Any, action: Any, condition: Any = None) -> dict[str, Any]:
    statement = {"Sid": sid, "Effect": "Allow", "Principal": principal, "Action": action}
    statement["Resource"] = "*"
    if condition is not None:
        statement["Condition"] = condition
    return statement


def dnssec_statements(source_arn: Any) -> list[dict[str, Any]]:
    return [
        allow(
            "AllowRoute53DnssecService",
            DNSSEC,
            ["kms:DescribeKey", "kms:GetPublicKey", "kms:Sign"],
            {
                "StringEquals": {"aws:SourceAccount": ACCOUNT},
                "ArnLike": {"aws:SourceArn": source_arn},
            },
        ),
        allow("AllowRoute53DnssecToCreateGrant", DNSSEC, "kms:CreateGrant", FOR_AWS_RESOURCE),
    ]


def new_stack(region: str = "us-east-1", account: str = ACCOUNT) -> cdk.Stack:
    """A stack of an App with this project's cdk.json context (partition literals among its
    feature flags: a stack of a known Region writes its partition out)."""
    app = cdk.App(context=cdk_json_context())
    return cdk.Stack(app, "S", env=cdk.Environment(account=account, region=region))


def synthesized_policy(stack: cdk.Stack) -> list[dict[str, Any]]:
    """The policy of the one key in ``stack``, as synthesized (the partition of a stack in a
    known Region is written out then, not by ``Stack.resolve``)."""
    (key,) = Template.from_stack(stack).find_resources("AWS::KMS::Key").values()
    statements: list[dict[str, Any]] = key["Properties"]["KeyPolicy"]["Statement"]
    return statements


def signing_key(stack: cdk.Stack, **kwargs: Any) -> CustomerManagedKey:
    props: dict[str, Any] = {
        "key_spec": kms.KeySpec.ECC_NIST_P256,
        "key_usage": kms.KeyUsage.SIGN_VERIFY,
        **kwargs,
    }
    return CustomerManagedKey(stack, "K", **props)


# -- Route 53 DNSSEC -----------------------------------------------------------------------------


def test_dnssec_statements_limit_route53_to_one_zone_of_the_account(synthesized: Synth) -> None:
    zone_arn = {"Fn::Join": ["", ["arn:aws:route53:::hostedzone/", zone_ref(synthesized)]]}
    statements = key_policy(synthesized, "Dnssec/Key")
    assert statements[1:] == dnssec_statements(zone_arn)
    assert statements[0]["Sid"] == "EnableIAMUserPermissions"  # the key's default policy


def test_dnssec_statements_for_a_zone_known_at_synth(synthesized: Synth) -> None:
    statements = key_policy(synthesized, "ExistingSigner")
    assert [s["Sid"] for s in statements] == [
        "KeyDeployment",
        "KeyAdministration",
        "AllowRoute53DnssecService",
        "AllowRoute53DnssecToCreateGrant",
    ]
    assert statements[2:] == dnssec_statements("arn:aws:route53:::hostedzone/Z0123456789ABCDEFGHIJ")


def test_dnssec_statements_without_zones_allow_any_zone_of_the_account(synthesized: Synth) -> None:
    statements = key_policy(synthesized, "AnyZoneSigner")
    assert statements[2:] == dnssec_statements("arn:aws:route53:::hostedzone/*")


def test_several_zones_share_one_statement_and_a_second_principal_gets_numbered_sids() -> None:
    stack = new_stack()
    key = signing_key(
        stack,
        policy=KeyPolicy.custom(
            admins=[ADMIN_ARN],
            service_principals=[
                KeyServicePrincipal.route53_dnssec(hosted_zone_ids=["ZAAAA1", "ZBBBB2"])
            ],
        ),
    )
    key.add_service_principal(
        KeyServicePrincipal.route53_dnssec(hosted_zone_ids=["ZAAAA1", "ZBBBB2"])
    )
    key.add_service_principal(KeyServicePrincipal.route53_dnssec(hosted_zone_ids=["ZCCCC3"]))
    statements = synthesized_policy(stack)
    assert [s["Sid"] for s in statements] == [
        "KeyDeployment",
        "KeyAdministration",
        "AllowRoute53DnssecService",
        "AllowRoute53DnssecToCreateGrant",
        "AllowRoute53DnssecService2",
        "AllowRoute53DnssecToCreateGrant2",
    ]
    assert statements[2]["Condition"]["ArnLike"]["aws:SourceArn"] == [
        "arn:aws:route53:::hostedzone/ZAAAA1",
        "arn:aws:route53:::hostedzone/ZBBBB2",
    ]
    assert statements[4]["Condition"]["ArnLike"]["aws:SourceArn"] == (
        "arn:aws:route53:::hostedzone/ZCCCC3"
    )


def test_dnssec_source_arn_follows_the_partition() -> None:
    # Route 53 signs in us-east-1 only, so the partition is checked on an env-agnostic stack,
    # where it and the Region are tokens.
    stack = cdk.Stack(cdk.App(), "S")
    key = CustomerManagedKey(stack, "K", key_spec="ECC_NIST_P256", key_usage="SIGN_VERIFY")
    key.add_service_principal(KeyServicePrincipal.route53_dnssec(hosted_zone_ids=["ZAAAA1"]))
    condition = stack.resolve(key.policy_document)["Statement"][1]["Condition"]
    assert condition == {
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
        "ArnLike": {
            "aws:SourceArn": {
                "Fn::Join": [
                    "",
                    ["arn:", {"Ref": "AWS::Partition"}, ":route53:::hostedzone/ZAAAA1"],
                ]
            }
        },
    }


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda stack: CustomerManagedKey(
                stack,
                "K",
                key_spec=kms.KeySpec.RSA_2048,
                key_usage=kms.KeyUsage.SIGN_VERIFY,
                policy=KeyPolicy.custom(
                    admins=[ADMIN_ARN], service_principals=[KeyServicePrincipal.route53_dnssec()]
                ),
            ),
            "'key_spec' must be ECC_NIST_P256 for DNSSEC. Received: 'RSA_2048'",
        ),
        (
            lambda stack: signing_key(
                stack, key_usage=kms.KeyUsage.KEY_AGREEMENT
            ).add_service_principal(KeyServicePrincipal.route53_dnssec()),
            "'key_usage' must be SIGN_VERIFY for DNSSEC. Received: 'KEY_AGREEMENT'",
        ),
        (
            lambda stack: CustomerManagedKey(stack, "K").add_service_principal(
                KeyServicePrincipal.route53_dnssec()
            ),
            "'key_spec' must be ECC_NIST_P256 for DNSSEC. Received: 'SYMMETRIC_DEFAULT'",
        ),
    ],
    ids=["rsa-key", "key-agreement-usage", "symmetric-key"],
)
def test_dnssec_refuses_a_key_route53_cannot_sign_with(
    make: Callable[[cdk.Stack], object], message: str
) -> None:
    with pytest.raises(ConstructPropError) as refused:
        make(new_stack())
    assert str(refused.value) == message


def test_dnssec_refuses_a_key_outside_us_east_1() -> None:
    with pytest.raises(ConstructPropError) as refused:
        signing_key(new_stack("eu-west-1")).add_service_principal(
            KeyServicePrincipal.route53_dnssec()
        )
    assert str(refused.value) == (
        "'region' must be us-east-1 for DNSSEC: Route 53 signs only with keys in US East "
        "(N. Virginia); put the key's stack there. Received: 'eu-west-1'"
    )


def test_dnssec_takes_a_key_of_an_env_agnostic_stack() -> None:
    stack = cdk.Stack(cdk.App(), "S")
    key = signing_key(stack)
    key.add_service_principal(KeyServicePrincipal.route53_dnssec())
    sids = [s["Sid"] for s in stack.resolve(key.policy_document)["Statement"]]
    assert sids[-2:] == ["AllowRoute53DnssecService", "AllowRoute53DnssecToCreateGrant"]


@pytest.mark.parametrize(
    ("zones", "message"),
    [
        (
            ["example.com"],
            "'hosted_zone_ids' must hold Route 53 hosted zone IDs: 'Z' and 1-31 upper-case "
            "letters and digits, such as 'Z0123456789ABCDEFGHIJ' (not the zone's name or ARN). "
            "Received: 'example.com'",
        ),
        (
            ["z0123456789abcdefghij"],
            "'hosted_zone_ids' must hold Route 53 hosted zone IDs: 'Z' and 1-31 upper-case "
            "letters and digits, such as 'Z0123456789ABCDEFGHIJ' (not the zone's name or ARN). "
            "Received: 'z0123456789abcdefghij'",
        ),
        (
            ["/hostedzone/Z0123456789"],
            "'hosted_zone_ids' must hold Route 53 hosted zone IDs: 'Z' and 1-31 upper-case "
            "letters and digits, such as 'Z0123456789ABCDEFGHIJ' (not the zone's name or ARN). "
            "Received: '/hostedzone/Z0123456789'",
        ),
        (
            ["Z" + "A" * 32],
            "'hosted_zone_ids' must hold Route 53 hosted zone IDs: 'Z' and 1-31 upper-case "
            "letters and digits, such as 'Z0123456789ABCDEFGHIJ' (not the zone's name or ARN). "
            f"Received: {'Z' + 'A' * 32!r}",
        ),
        (
            ["Z"],
            "'hosted_zone_ids' must hold Route 53 hosted zone IDs: 'Z' and 1-31 upper-case "
            "letters and digits, such as 'Z0123456789ABCDEFGHIJ' (not the zone's name or ARN). "
            "Received: 'Z'",
        ),
        (
            ["Zabc123"],
            "'hosted_zone_ids' must hold Route 53 hosted zone IDs: 'Z' and 1-31 upper-case "
            "letters and digits, such as 'Z0123456789ABCDEFGHIJ' (not the zone's name or ARN). "
            "Received: 'Zabc123'",
        ),
        (
            ["A0123456789"],
            "'hosted_zone_ids' must hold Route 53 hosted zone IDs: 'Z' and 1-31 upper-case "
            "letters and digits, such as 'Z0123456789ABCDEFGHIJ' (not the zone's name or ARN). "
            "Received: 'A0123456789'",
        ),
        (
            [1234],
            "'hosted_zone_ids' must hold Route 53 hosted zone IDs: 'Z' and 1-31 upper-case "
            "letters and digits, such as 'Z0123456789ABCDEFGHIJ' (not the zone's name or ARN). "
            "Received: 1234",
        ),
        (
            "Z0123456789",
            "'hosted_zone_ids' must be a list or tuple of hosted zone IDs. Received: 'Z0123456789'",
        ),
        (
            ["ZAAAA1", "ZAAAA1"],
            "'hosted_zone_ids' must name each hosted zone once. Received: ['ZAAAA1', 'ZAAAA1']",
        ),
    ],
    ids=[
        "zone-name",
        "lower-case",
        "hostedzone-prefix",
        "too-long",
        "z-alone",
        "lower-case-after-z",
        "no-z",
        "a-number",
        "a-string",
        "repeated",
    ],
)
def test_dnssec_refuses_what_is_no_hosted_zone_id(zones: Any, message: str) -> None:
    with pytest.raises(ConstructPropError) as refused:
        KeyServicePrincipal.route53_dnssec(hosted_zone_ids=zones)
    assert str(refused.value) == message


# -- Auto Scaling's service-linked role ----------------------------------------------------------


def autoscaling_statements(role_arn: str, suffix: str = "") -> list[dict[str, Any]]:
    return [
        allow(f"AllowAutoScalingServiceLinkedRoleUse{suffix}", {"AWS": role_arn}, SYMMETRIC_USER),
        allow(
            f"AllowAutoScalingServiceLinkedRoleGrants{suffix}",
            {"AWS": role_arn},
            "kms:CreateGrant",
            FOR_AWS_RESOURCE,
        ),
    ]


def test_autoscaling_role_uses_the_key_and_creates_grants_for_aws_resources(
    synthesized: Synth,
) -> None:
    statements = key_policy(synthesized, "Ebs")
    assert [s["Sid"] for s in statements][:2] == ["KeyDeployment", "KeyAdministration"]
    assert statements[2:] == autoscaling_statements(SLR)


def test_autoscaling_role_with_a_custom_suffix_on_a_default_policy_key(synthesized: Synth) -> None:
    statements = key_policy(synthesized, "EbsWeb")
    assert statements[0]["Sid"] == "EnableIAMUserPermissions"
    assert statements[1:] == autoscaling_statements(SLR + "_web")


def test_autoscaling_role_arn_follows_the_partition_and_account() -> None:
    stack = new_stack("cn-north-1", "222222222222")
    key = CustomerManagedKey(stack, "K")
    key.add_service_principal(KeyServicePrincipal.autoscaling_service_linked_role())
    statements = synthesized_policy(stack)
    assert statements[1:] == autoscaling_statements(
        "arn:aws-cn:iam::222222222222:role/aws-service-role/autoscaling.amazonaws.com/"
        "AWSServiceRoleForAutoScaling"
    )


def test_two_autoscaling_roles_get_numbered_sids_and_a_repeat_adds_nothing() -> None:
    stack = new_stack()
    key = CustomerManagedKey(stack, "K")
    for suffix in (None, "web", None, "web"):
        key.add_service_principal(
            KeyServicePrincipal.autoscaling_service_linked_role(suffix=suffix)
        )
    statements = synthesized_policy(stack)
    assert statements[1:] == [
        *autoscaling_statements(SLR),
        *autoscaling_statements(SLR + "_web", "2"),
    ]


def test_autoscaling_role_refuses_a_key_ebs_cannot_encrypt_with() -> None:
    with pytest.raises(ConstructPropError) as refused:
        signing_key(new_stack()).add_service_principal(
            KeyServicePrincipal.autoscaling_service_linked_role()
        )
    assert str(refused.value) == (
        "'key_spec' must be SYMMETRIC_DEFAULT for Auto Scaling's encrypted EBS volumes (EBS does "
        "not support asymmetric or HMAC keys). Received: 'ECC_NIST_P256'"
    )


@pytest.mark.parametrize(
    "suffix",
    ["", "a" * 36, "web/app", "web app", True, "wéb"],
    ids=["empty", "too-long", "slash", "space", "not-a-string", "non-ascii"],
)
def test_autoscaling_role_refuses_a_suffix_iam_would_refuse(suffix: Any) -> None:
    with pytest.raises(ConstructPropError) as refused:
        KeyServicePrincipal.autoscaling_service_linked_role(suffix=suffix)
    assert str(refused.value) == (
        "'suffix' must be 1-35 letters, digits and '_+=,.@-' (IAM role names are at most 64 "
        "characters: AWSServiceRoleForAutoScaling_<suffix>), or None for the default role. "
        f"Received: {suffix!r}"
    )


def test_the_longest_suffix_makes_a_64_character_role_name() -> None:
    stack = new_stack()
    key = CustomerManagedKey(stack, "K")
    key.add_service_principal(KeyServicePrincipal.autoscaling_service_linked_role(suffix="a" * 35))
    principal = synthesized_policy(stack)[1]["Principal"]["AWS"]
    assert len(principal.rsplit("/", 1)[1]) == 64

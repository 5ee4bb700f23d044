"""DnssecSigningKey: the signing key, the key-signing key, DNSSEC after it, and the alarms.

The wiring is read from the synthesized ``service_keys_showcase`` (held to the gates in
tests/test_gates.py); the refusals build a throwaway App and never synthesize.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_route53 as route53
from aws_cdk.assertions import Template

from constructs_lib import (
    AlarmTopic,
    ConstructPropError,
    CustomerManagedKey,
    DnssecSigningKey,
    KeyPolicy,
    KeyServicePrincipal,
)
from constructs_lib.dnssec import KSK_NAME
from tests._support.apps.service_keys_showcase import IMPORTED_ZONE_ID, STACK
from tests._support.synth import SynthResult

Synth = Callable[[str], SynthResult]
ACCOUNT = "111111111111"


def resources(synthesized: Synth, resource_type: str) -> dict[str, dict[str, Any]]:
    template = synthesized("service_keys_showcase").template(STACK)
    return {n: r for n, r in template["Resources"].items() if r["Type"] == resource_type}


def only(found: dict[str, dict[str, Any]], prefix: str) -> tuple[str, dict[str, Any]]:
    (match,) = [(n, r) for n, r in found.items() if n.startswith(prefix)]
    return match


def test_the_made_key_signs_the_zone_and_dnssec_waits_for_the_ksk(synthesized: Synth) -> None:
    (zone,) = resources(synthesized, "AWS::Route53::HostedZone")
    key_id, key = only(resources(synthesized, "AWS::KMS::Key"), "DnssecKey")
    assert key["Properties"]["KeySpec"] == "ECC_NIST_P256"
    assert key["Properties"]["KeyUsage"] == "SIGN_VERIFY"
    assert key["Properties"]["EnableKeyRotation"] is False
    assert key["DeletionPolicy"] == "Retain"
    ksk_id, ksk = only(resources(synthesized, "AWS::Route53::KeySigningKey"), "DnssecKeySigningKey")
    assert ksk["Properties"] == {
        "HostedZoneId": {"Ref": zone},
        "KeyManagementServiceArn": {"Fn::GetAtt": [key_id, "Arn"]},
        "Name": "ServiceKeysShowcaseDnssec3BB3D066",
        "Status": "ACTIVE",
    }
    _, dnssec = only(resources(synthesized, "AWS::Route53::DNSSEC"), "Dnssec")
    assert dnssec["Properties"] == {"HostedZoneId": {"Ref": zone}}
    assert dnssec["DependsOn"] == [ksk_id]
    _, alias = only(resources(synthesized, "AWS::KMS::Alias"), "DnssecKeyAlias")
    assert alias["Properties"] == {
        "AliasName": "alias/dnssec",
        "TargetKeyId": {"Fn::GetAtt": [key_id, "Arn"]},
    }


def test_an_existing_key_signs_a_zone_imported_by_id(synthesized: Synth) -> None:
    key_id, _ = only(resources(synthesized, "AWS::KMS::Key"), "ExistingSigner")
    ksk_id, ksk = only(
        resources(synthesized, "AWS::Route53::KeySigningKey"), "ImportedZoneDnssecKeySigningKey"
    )
    assert ksk["Properties"] == {
        "HostedZoneId": IMPORTED_ZONE_ID,
        "KeyManagementServiceArn": {"Fn::GetAtt": [key_id, "Arn"]},
        "Name": "ksk_2026",
        "Status": "ACTIVE",
    }
    _, dnssec = only(resources(synthesized, "AWS::Route53::DNSSEC"), "ImportedZoneDnssec")
    assert dnssec == {
        "Type": "AWS::Route53::DNSSEC",
        "Properties": {"HostedZoneId": IMPORTED_ZONE_ID},
        "DependsOn": [ksk_id],
    }


def test_both_dnssec_metrics_alarm_to_the_topic_and_only_where_one_is_given(
    synthesized: Synth,
) -> None:
    (zone,) = resources(synthesized, "AWS::Route53::HostedZone")
    (topic,) = resources(synthesized, "AWS::SNS::Topic")
    alarms = resources(synthesized, "AWS::CloudWatch::Alarm")
    assert sorted(a["Properties"]["MetricName"] for a in alarms.values()) == [
        "DNSSECInternalFailure",
        "DNSSECKeySigningKeysNeedingAction",
    ]
    for alarm in alarms.values():
        properties = dict(alarm["Properties"])
        properties.pop("AlarmDescription")
        assert properties == {
            "MetricName": properties["MetricName"],
            "Namespace": "AWS/Route53",
            "Dimensions": [{"Name": "HostedZoneId", "Value": {"Ref": zone}}],
            "Statistic": "Maximum",
            "Period": 300,
            "EvaluationPeriods": 1,
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": "ignore",
            "AlarmActions": [{"Ref": topic}],
            "OKActions": [{"Ref": topic}],
        }


# -- attributes and refusals ---------------------------------------------------------------------


def new_stack(region: str | None = "us-east-1") -> cdk.Stack:
    env = cdk.Environment(account=ACCOUNT, region=region) if region else None
    return cdk.Stack(cdk.App(), "S", env=env)


def beside(stack: cdk.Stack, id: str, region: str | None = "us-east-1") -> cdk.Stack:
    """Another stack of ``stack``'s App (in ``region`` of the same account; None: env-agnostic)."""
    app = stack.node.scope
    assert isinstance(app, cdk.App)
    env = cdk.Environment(account=ACCOUNT, region=region) if region else None
    return cdk.Stack(app, id, env=env)


def zone(stack: cdk.Stack) -> route53.PublicHostedZone:
    return route53.PublicHostedZone(stack, "Zone", zone_name="example.com")


def signer(stack: cdk.Stack, **kwargs: Any) -> CustomerManagedKey:
    props: dict[str, Any] = {"key_spec": "ECC_NIST_P256", "key_usage": "SIGN_VERIFY", **kwargs}
    return CustomerManagedKey(stack, "Signer", **props)


def test_every_resource_is_a_public_attribute() -> None:
    stack = new_stack()
    topic = AlarmTopic(stack, "Alarms", encryption_key=CustomerManagedKey(stack, "AlarmKey"))
    made = DnssecSigningKey(stack, "Dnssec", hosted_zone=zone(stack), alarm_topic=topic)
    assert isinstance(made.key, CustomerManagedKey)
    assert (made.key.key_spec, made.key.key_usage) == ("ECC_NIST_P256", "SIGN_VERIFY")
    assert isinstance(made.key_signing_key, route53.CfnKeySigningKey)
    assert isinstance(made.dnssec, route53.CfnDNSSEC)
    assert sorted(made.alarms) == ["DNSSECInternalFailure", "DNSSECKeySigningKeysNeedingAction"]
    given = signer(stack)
    other = route53.HostedZone.from_hosted_zone_id(stack, "Other", "ZOTHER1")
    with_given = DnssecSigningKey(stack, "Given", hosted_zone=other, key=given.key)
    assert with_given.key is given  # the construct, given its .key
    assert with_given.alarms == {}


def test_an_env_agnostic_stack_is_taken_unchecked() -> None:
    stack = new_stack(region=None)
    made = DnssecSigningKey(stack, "Dnssec", hosted_zone=zone(stack))
    assert made.key.region == stack.region


def refused(make: Callable[[cdk.Stack], object], region: str = "us-east-1") -> str:
    with pytest.raises(ConstructPropError) as error:
        make(new_stack(region))
    return str(error.value)


def test_refuses_a_stack_outside_us_east_1() -> None:
    assert refused(lambda s: DnssecSigningKey(s, "D", hosted_zone=zone(s)), "eu-west-1") == (
        "'region' must be us-east-1 for DNSSEC: Route 53 signs only with keys in US East "
        "(N. Virginia), and publishes the DNSSEC metrics there; put this construct's stack "
        "there. Received: 'eu-west-1'"
    )


def test_refuses_a_key_together_with_props_of_the_key_it_would_make() -> None:
    assert refused(
        lambda s: DnssecSigningKey(s, "D", hosted_zone=zone(s), key=signer(s), key_alias="alias/x")
    ) == (
        "'key_alias' is for the key this construct makes; it must not be given together with "
        "key. Received: 'alias/x'"
    )
    message = refused(
        lambda s: DnssecSigningKey(
            s, "D", hosted_zone=zone(s), key=signer(s), key_policy=KeyPolicy.default()
        )
    )
    assert message.startswith("'key_policy' is for the key this construct makes; it must not ")


def test_refuses_an_existing_key_route53_cannot_sign_with() -> None:
    assert refused(
        lambda s: DnssecSigningKey(
            s,
            "D",
            hosted_zone=zone(s),
            key=signer(s, key_spec=kms.KeySpec.RSA_2048),
        )
    ) == (
        "'key' must be an ECC_NIST_P256 SIGN_VERIFY key for DNSSEC (Route 53 signs with no "
        "other; this key has key_spec RSA_2048, key_usage SIGN_VERIFY). Received: 'S/Signer'"
    )
    assert refused(
        lambda s: DnssecSigningKey(
            s, "D", hosted_zone=zone(s), key=signer(s, key_usage="KEY_AGREEMENT")
        )
    ) == (
        "'key' must be an ECC_NIST_P256 SIGN_VERIFY key for DNSSEC (Route 53 signs with no "
        "other; this key has key_spec ECC_NIST_P256, key_usage KEY_AGREEMENT). "
        "Received: 'S/Signer'"
    )


def test_refuses_an_existing_key_of_another_region() -> None:
    def make(stack: cdk.Stack) -> None:
        elsewhere = beside(stack, "W", "eu-west-1")
        DnssecSigningKey(stack, "D", hosted_zone=zone(stack), key=signer(elsewhere))

    assert refused(make) == (
        "'key' must be a key in us-east-1 for DNSSEC (this key is in eu-west-1). "
        "Received: 'W/Signer'"
    )


def test_refuses_an_existing_key_of_another_account() -> None:
    # Route 53 signs for the zone's account; the key policy's aws:SourceAccount is the key's.
    def make(stack: cdk.Stack) -> None:
        app = stack.node.scope
        assert isinstance(app, cdk.App)
        keys = cdk.Stack(
            app, "Keys", env=cdk.Environment(account="222222222222", region="us-east-1")
        )
        imported = route53.HostedZone.from_hosted_zone_id(stack, "Z", IMPORTED_ZONE_ID)
        DnssecSigningKey(stack, "D", hosted_zone=imported, key=signer(keys))

    assert refused(make) == (
        f"'key' must be in this construct's account ({ACCOUNT}; this key: 222222222222): "
        "Route 53 signs the zone for this account, and the key policy lets it in for the key's "
        "own account only (aws:SourceAccount). Received: 'Keys/Signer'"
    )


def test_refuses_a_key_it_cannot_add_statements_to() -> None:
    assert refused(
        lambda s: DnssecSigningKey(
            s,
            "D",
            hosted_zone=zone(s),
            key=kms.Key.from_key_arn(
                s,
                "K",
                "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            ),
        )
    ) == (
        "'key' must be a CustomerManagedKey or ReplicaKey, or its .key (the DNSSEC statements "
        "go in its key policy). Received: 'S/K'"
    )


@pytest.mark.parametrize(
    "name",
    ["ab", "a" * 129, "ksk-2026", "ksk 2026", "kšk"],
    ids=["too-short", "too-long", "hyphen", "space", "non-ascii"],
)
def test_refuses_a_key_signing_key_name_cloudformation_refuses(name: str) -> None:
    assert refused(
        lambda s: DnssecSigningKey(s, "D", hosted_zone=zone(s), key_signing_key_name=name)
    ) == (
        "'key_signing_key_name' must be 3-128 letters, digits and '_' (CloudFormation's rule "
        f"for a key-signing key's Name). Received: {name!r}"
    )


def test_refuses_a_private_zone_and_what_is_no_zone() -> None:
    def private(stack: cdk.Stack) -> None:
        from aws_cdk import aws_ec2 as ec2  # noqa: PLC0415

        vpc = ec2.Vpc(stack, "Vpc")
        hidden = route53.PrivateHostedZone(stack, "Private", zone_name="internal", vpc=vpc)
        DnssecSigningKey(stack, "D", hosted_zone=hidden)

    def imported(stack: cdk.Stack) -> None:
        hidden = route53.PrivateHostedZone.from_private_hosted_zone_id(stack, "Private", "ZPRIV1")
        DnssecSigningKey(stack, "D", hosted_zone=hidden)

    def with_vpcs(stack: cdk.Stack) -> None:
        from aws_cdk import aws_ec2 as ec2  # noqa: PLC0415

        vpc = ec2.Vpc(stack, "Vpc")
        hidden = route53.HostedZone(stack, "Private", zone_name="internal", vpcs=[vpc])
        DnssecSigningKey(stack, "D", hosted_zone=hidden)

    for make in (private, imported, with_vpcs):
        assert refused(make) == (
            "'hosted_zone' must be a public hosted zone: Route 53 signs no private hosted zone "
            "with DNSSEC. Received: 'S/Private'"
        )
    message = refused(lambda s: DnssecSigningKey(s, "D", hosted_zone="Z0123456789"))  # type: ignore[arg-type]
    assert message.startswith("'hosted_zone' must be an aws_route53.IHostedZone")
    assert message.endswith("Received: 'Z0123456789'")


def test_a_zone_given_a_vpc_after_the_signer_fails_the_synth() -> None:
    from aws_cdk import aws_ec2 as ec2  # noqa: PLC0415

    stack = new_stack()
    made = route53.HostedZone(stack, "Zone", zone_name="example.com")
    DnssecSigningKey(stack, "D", hosted_zone=made)
    made.add_vpc(ec2.Vpc(stack, "Vpc"))
    app = stack.node.scope
    assert isinstance(app, cdk.App)
    with pytest.raises(RuntimeError) as error:
        app.synth()
    assert (
        "[S/D] 'hosted_zone' must be a public hosted zone: Route 53 signs no private hosted zone "
        "with DNSSEC. Received: 'S/Zone'"
    ) in str(error.value)


def test_refuses_a_zone_imported_with_no_zone_id() -> None:
    assert refused(
        lambda s: DnssecSigningKey(
            s,
            "D",
            hosted_zone=route53.HostedZone.from_hosted_zone_id(s, "Z", "example.com"),
        )
    ) == (
        "'hosted_zone' must hold Route 53 hosted zone IDs: 'Z' and 1-31 upper-case letters and "
        "digits, such as 'Z0123456789ABCDEFGHIJ' (not the zone's name or ARN). "
        "Received: 'example.com'"
    )


def test_refuses_an_alarm_topic_that_is_none_or_in_another_region() -> None:
    assert (
        refused(
            lambda s: DnssecSigningKey(s, "D", hosted_zone=zone(s), alarm_topic="arn:aws:sns:x")  # type: ignore[arg-type]
        )
        == "'alarm_topic' must be an AlarmTopic. Received: 'arn:aws:sns:x'"
    )

    def elsewhere(stack: cdk.Stack) -> None:
        other = beside(stack, "W", "eu-west-1")
        topic = AlarmTopic(other, "T", encryption_key=CustomerManagedKey(other, "K"))
        DnssecSigningKey(stack, "D", hosted_zone=zone(stack), alarm_topic=topic)

    assert refused(elsewhere) == (
        "'alarm_topic' must be an AlarmTopic in the Region of its alarms (us-east-1): "
        "CloudWatch alarm actions publish only to a topic of their own Region. "
        "Received: 'W/T in eu-west-1'"
    )


def test_refuses_an_alarm_topic_cloudwatch_may_not_publish_to() -> None:
    # Was accepted: both alarms notified a topic that lets EventBridge publish only, and every
    # DNSSEC notification was dropped.
    def events_only(stack: cdk.Stack) -> None:
        topic = AlarmTopic(
            stack,
            "T",
            encryption_key=CustomerManagedKey(stack, "K"),
            publishers=["events.amazonaws.com"],
        )
        DnssecSigningKey(stack, "D", hosted_zone=zone(stack), alarm_topic=topic)

    assert refused(events_only) == (
        "'alarm_topic' must be an AlarmTopic that CloudWatch alarms may publish to, with "
        "'cloudwatch.amazonaws.com' in its publishers (this topic's publishers: "
        "['events.amazonaws.com']): without it neither its topic policy nor its key's policy "
        "lets CloudWatch publish, and every alarm notification would be dropped. Add it to the "
        "topic's publishers, or give another topic. Received: 'S/T'"
    )


def test_refuses_a_key_policy_or_alias_of_the_wrong_form_by_its_own_prop() -> None:
    assert refused(
        lambda s: DnssecSigningKey(s, "D", hosted_zone=zone(s), key_policy="default")  # type: ignore[arg-type]
    ) == ("'key_policy' must be KeyPolicy.default() or KeyPolicy.custom(...). Received: 'default'")
    assert refused(lambda s: DnssecSigningKey(s, "D", hosted_zone=zone(s), key_alias="dnssec")) == (
        "'key_alias' must start with 'alias/'. Received: 'dnssec'"
    )


def test_an_existing_key_of_an_env_agnostic_stack_is_taken_unchecked() -> None:
    stack = new_stack()
    key = signer(beside(stack, "Agnostic", region=None))
    made = DnssecSigningKey(
        stack,
        "D",
        hosted_zone=route53.HostedZone.from_hosted_zone_id(stack, "Z", "ZAAAA1"),
        key=key,
    )
    assert made.key is key


def test_the_default_key_signing_key_name_is_one_cloudformation_takes() -> None:
    # A path longer than 128 characters, with '-' and '.' (dropped) and '_' (kept).
    stack = cdk.Stack(
        cdk.App(), "Dns-Stack", env=cdk.Environment(account=ACCOUNT, region="us-east-1")
    )
    made = DnssecSigningKey(stack, "Sign.zone_" + "x" * 120, hosted_zone=zone(stack))
    name = stack.resolve(made.key_signing_key.name)
    assert len(name) == 128
    assert name.startswith("DnsStackSignzone_xxxx")
    assert KSK_NAME.match(name)
    short = DnssecSigningKey(
        stack,
        "Dnssec_1",
        hosted_zone=route53.HostedZone.from_hosted_zone_id(stack, "Other", "ZOTHER1"),
    )
    assert stack.resolve(short.key_signing_key.name).startswith("DnsStackDnssec_1")


def test_refuses_a_key_of_another_stack_when_the_zone_is_made_here() -> None:
    def make(stack: cdk.Stack) -> None:
        keys = beside(stack, "Keys")
        DnssecSigningKey(stack, "D", hosted_zone=zone(stack), key=signer(keys))

    assert refused(make) == (
        "'key' must be in the stack of hosted_zone (S) when that zone is made there: its key "
        "policy names the zone and the key-signing key names the key, so each stack would "
        "depend on the other. Make the key in that stack, or this construct in a stack of its "
        "own, or import the zone with HostedZone.from_hosted_zone_id. Received: 'Keys/Signer'"
    )


def test_a_key_of_another_stack_signs_a_zone_of_a_third_one_or_one_imported_by_id() -> None:
    app = cdk.App()
    env = cdk.Environment(account=ACCOUNT, region="us-east-1")
    key = signer(cdk.Stack(app, "Keys", env=env))
    zones = cdk.Stack(app, "Zones", env=env)
    signing = cdk.Stack(app, "Signing", env=env)
    DnssecSigningKey(signing, "Made", hosted_zone=zone(zones), key=key)
    imported = route53.HostedZone.from_hosted_zone_id(signing, "Zone", "ZAAAA1")
    DnssecSigningKey(signing, "Imported", hosted_zone=imported, key=key)
    app.synth()  # no dependency cycle


def test_refuses_a_second_signer_of_one_zone() -> None:
    def make(stack: cdk.Stack) -> None:
        imported = route53.HostedZone.from_hosted_zone_id(stack, "Zone", IMPORTED_ZONE_ID)
        DnssecSigningKey(stack, "First", hosted_zone=imported)
        DnssecSigningKey(stack, "Second", hosted_zone=imported)

    assert refused(make) == (
        "'hosted_zone' is signed by one DnssecSigningKey only: S/First already turns DNSSEC on "
        f"for it within account {ACCOUNT} in us-east-1 (sign this zone there; a second "
        "key-signing key, to rotate keys, is an aws_route53.CfnKeySigningKey beside that one: "
        f"docs/keys.md). Received: {IMPORTED_ZONE_ID!r}"
    )
    # A zone made in the App (its ID a token) is held per stack.
    stack = new_stack()
    made = zone(stack)
    DnssecSigningKey(stack, "First", hosted_zone=made)
    with pytest.raises(
        ConstructPropError, match="S/First already turns DNSSEC on for it within the stack"
    ):
        DnssecSigningKey(stack, "Second", hosted_zone=made)


def test_a_second_ksk_for_a_rotation_goes_beside_the_construct() -> None:
    # docs/keys.md, "Rotating the KSK": steps 1 and 3 as written there.
    stack = new_stack()
    signing = DnssecSigningKey(
        stack,
        "Dnssec",
        hosted_zone=route53.HostedZone.from_hosted_zone_id(stack, "Zone", IMPORTED_ZONE_ID),
        key_signing_key_name="ksk_2026",
    )
    next_key = CustomerManagedKey(
        stack,
        "DnssecKey2027",
        key_spec=kms.KeySpec.ECC_NIST_P256,
        key_usage=kms.KeyUsage.SIGN_VERIFY,
    )
    next_key.add_service_principal(
        KeyServicePrincipal.route53_dnssec(hosted_zone_ids=[signing.hosted_zone_id])
    )
    route53.CfnKeySigningKey(
        stack,
        "KeySigningKey2027",
        hosted_zone_id=signing.hosted_zone_id,
        key_management_service_arn=next_key.key_arn,
        name="ksk_2027",
        status="ACTIVE",
    )
    signing.key_signing_key.status = "INACTIVE"
    template = Template.from_stack(stack).to_json()["Resources"]
    ksks = {
        r["Properties"]["Name"]: r["Properties"]
        for r in template.values()
        if r["Type"] == "AWS::Route53::KeySigningKey"
    }
    keys = {n for n, r in template.items() if r["Type"] == "AWS::KMS::Key"}
    (old_key,) = [n for n in keys if n.startswith("DnssecKey") and "2027" not in n]
    (new_key,) = [n for n in keys if n.startswith("DnssecKey2027")]
    assert ksks == {
        "ksk_2026": {
            "HostedZoneId": IMPORTED_ZONE_ID,
            "KeyManagementServiceArn": {"Fn::GetAtt": [old_key, "Arn"]},
            "Name": "ksk_2026",
            "Status": "INACTIVE",
        },
        "ksk_2027": {
            "HostedZoneId": IMPORTED_ZONE_ID,
            "KeyManagementServiceArn": {"Fn::GetAtt": [new_key, "Arn"]},
            "Name": "ksk_2027",
            "Status": "ACTIVE",
        },
    }
    for key in (old_key, new_key):
        statements = template[key]["Properties"]["KeyPolicy"]["Statement"]
        (signs,) = [s for s in statements if s.get("Sid") == "AllowRoute53DnssecService"]
        assert signs["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}
        assert stack.resolve(signs["Condition"]["ArnLike"]["aws:SourceArn"]) == {
            "Fn::Join": [
                "",
                ["arn:", {"Ref": "AWS::Partition"}, f":route53:::hostedzone/{IMPORTED_ZONE_ID}"],
            ]
        }


def test_a_refused_signer_holds_no_zone() -> None:
    # Only a DnssecSigningKey that exists signs the zone: one refused after the zone's check
    # (its key, the key's alias) must not leave the zone taken for the next.
    stack = new_stack()
    imported = route53.HostedZone.from_hosted_zone_id(stack, "Imported", IMPORTED_ZONE_ID)
    wrong_key = CustomerManagedKey(stack, "Rsa", key_spec="RSA_2048", key_usage="SIGN_VERIFY")
    with pytest.raises(ConstructPropError, match="'key' must be an ECC_NIST_P256 SIGN_VERIFY"):
        DnssecSigningKey(stack, "WrongKey", hosted_zone=imported, key=wrong_key)
    CustomerManagedKey(stack, "Taken", alias="alias/dnssec")
    with pytest.raises(ConstructPropError, match="'alias' must be unique"):
        DnssecSigningKey(stack, "TakenAlias", hosted_zone=imported, key_alias="alias/dnssec")
    signing = DnssecSigningKey(stack, "Signs", hosted_zone=imported, key=signer(stack))
    assert signing.hosted_zone_id == IMPORTED_ZONE_ID
    # A zone made in the App (held per stack) likewise.
    made = zone(stack)
    other = beside(stack, "Keys")
    with pytest.raises(ConstructPropError, match="'key' must be in the stack of hosted_zone"):
        DnssecSigningKey(stack, "OtherStack", hosted_zone=made, key=signer(other))
    DnssecSigningKey(stack, "SignsMade", hosted_zone=made)

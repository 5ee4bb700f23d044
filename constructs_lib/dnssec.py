"""Route 53 DNSSEC signing with a customer managed key: the key, the key-signing key, DNSSEC.

Route 53 signs a public hosted zone with a key-signing key (KSK) whose private half is an
``ECC_NIST_P256`` / ``SIGN_VERIFY`` KMS key in ``us-east-1`` (Route 53 developer guide, "Working
with customer managed keys for DNSSEC"). :class:`DnssecSigningKey` makes (or takes) that key,
adds the key policy statements Route 53 needs (:meth:`KeyServicePrincipal.route53_dnssec`),
creates the ``AWS::Route53::KeySigningKey`` (``ACTIVE``) and then the ``AWS::Route53::DNSSEC``
that turns signing on, and can alarm on the two metrics Route 53 publishes when signing is in
trouble. The DS record the parent zone needs is known only once the KSK exists (docs/keys.md).
"""

from __future__ import annotations

import re
from typing import Any

import jsii
from aws_cdk import Names
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_kms as kms
from aws_cdk import aws_route53 as route53
from constructs import Construct, IValidation

from constructs_lib import _durations as durations
from constructs_lib import _names as names
from constructs_lib._validation import ConstructPropError, is_token, require, shown
from constructs_lib.alarm_topic import AlarmTopic, require_alarm_topic, require_topic_in_region
from constructs_lib.key_policy import (
    DNSSEC_KEY_SPEC,
    DNSSEC_KEY_USAGE,
    DNSSEC_REGION,
    KeyPolicy,
    KeyServicePrincipal,
    StackFacts,
    check_hosted_zone_id,
    stack_facts,
    stack_of,
)
from constructs_lib.keys import (
    CustomerManagedKey,
    ReplicaKey,
    check_alias,
    key_construct,
    require_key_environment,
)

# CloudFormation's pattern for AWS::Route53::KeySigningKey Name (its resource schema).
KSK_NAME = re.compile(r"^[a-zA-Z0-9_]{3,128}\Z")
KSK_STATUS = "ACTIVE"
METRIC_NAMESPACE = "AWS/Route53"
DNSSEC_METRICS = ("DNSSECInternalFailure", "DNSSECKeySigningKeysNeedingAction")
"""The metrics Route 53 recommends alarming on ("Working with key-signing keys (KSKs)"): a
value of 1 or more means the zone's signing needs action before resolvers stop trusting it."""
ALARM_PERIOD_MINUTES = 5
# Route 53 publishes each DNSSEC metric about once per 4 hours per zone (0 when all is well, per
# its "Monitoring hosted zones using Amazon CloudWatch"): between two data points an alarm keeps
# its state. Treated as not breaching, a 1 would turn the alarm back to OK (and notify OK) one
# period later while the zone still needs action.
ALARM_MISSING_DATA = cloudwatch.TreatMissingData.IGNORE


class DnssecSigningKey(Construct):
    """DNSSEC signing for one public hosted zone, with a customer managed key.

    Give ``key`` (an existing key) or let the construct make one (``key_alias`` and
    ``key_policy`` are for that key), not both. Either way the key gets
    :meth:`KeyServicePrincipal.route53_dnssec` statements limited to this zone, and must be an
    ``ECC_NIST_P256`` / ``SIGN_VERIFY`` key in ``us-east-1`` and in this construct's account;
    this construct's stack must be in ``us-east-1`` too (where the key-signing key's key and the
    DNSSEC metrics are). A stack whose Region or account is a token is not checked: Route 53
    refuses a key of another Region, or one whose policy does not let it in, at deploy. The
    construct makes one key-signing key and does not rotate it (docs/keys.md, "Rotating the
    KSK").

    Args:
        hosted_zone: the public hosted zone to sign (``aws_route53.IHostedZone``: a
            ``HostedZone``, or one imported by ID). A private zone is refused (a
            ``PrivateHostedZone``, one imported with ``from_private_hosted_zone_id``, a
            ``HostedZone`` given VPCs; VPCs added later fail the synth): Route 53 signs public
            zones only.
        key: the signing key: a :class:`CustomerManagedKey` or :class:`ReplicaKey`, or its
            ``.key``, in this construct's account (Route 53 signs for this account, and the key
            policy lets it in for the key's account only). Default: a new ``ECC_NIST_P256`` /
            ``SIGN_VERIFY`` key (not rotated: KMS rotates no asymmetric key;
            ``RemovalPolicy.RETAIN``).
        key_alias: alias of the key this construct makes. Default: none.
        key_policy: policy of the key this construct makes. Default: ``KeyPolicy.default()``.
        key_signing_key_name: 3-128 letters, digits and ``_``, unique in the zone. Default:
            derived from the construct path.
        alarm_topic: an :class:`AlarmTopic` in ``us-east-1`` that the ``DNSSECInternalFailure``
            and ``DNSSECKeySigningKeysNeedingAction`` alarms notify (on ALARM and OK). Default:
            none, and no alarms.

    Attributes:
        key: the :class:`CustomerManagedKey` or :class:`ReplicaKey` that signs.
        key_signing_key: the ``aws_route53.CfnKeySigningKey`` (status ``ACTIVE``).
        dnssec: the ``aws_route53.CfnDNSSEC``, created after the key-signing key.
        hosted_zone_id: the zone's ID (a token for a zone made in the App).
        alarms: metric name -> ``aws_cloudwatch.Alarm``; empty without ``alarm_topic``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        hosted_zone: route53.IHostedZone,
        key: CustomerManagedKey | ReplicaKey | kms.IKey | None = None,
        key_alias: str | None = None,
        key_policy: KeyPolicy | None = None,
        key_signing_key_name: str | None = None,
        alarm_topic: AlarmTopic | None = None,
    ) -> None:
        super().__init__(scope, id)
        zone_id = _hosted_zone_id(hosted_zone)
        require(
            key is None or (key_alias is None and key_policy is None),
            "key_alias" if key_alias is not None else "key_policy",
            "is for the key this construct makes; it must not be given together with key",
            key_alias if key_alias is not None else key_policy,
        )
        require(
            key_policy is None or isinstance(key_policy, KeyPolicy),
            "key_policy",
            "must be KeyPolicy.default() or KeyPolicy.custom(...)",
            key_policy,
        )
        if key_alias is not None:
            check_alias(key_alias, "key_alias")
        require(
            key_signing_key_name is None
            or (
                isinstance(key_signing_key_name, str)
                and (is_token(key_signing_key_name) or bool(KSK_NAME.match(key_signing_key_name)))
            ),
            "key_signing_key_name",
            "must be 3-128 letters, digits and '_' (CloudFormation's rule for a key-signing "
            "key's Name)",
            key_signing_key_name,
        )
        if alarm_topic is not None:
            require_alarm_topic("alarm_topic", alarm_topic)
        stack = stack_of(self)
        facts = stack_facts(stack)
        region = facts.region
        require(
            is_token(region) or region == DNSSEC_REGION,
            "region",
            f"must be {DNSSEC_REGION} for DNSSEC: Route 53 signs only with keys in US East "
            "(N. Virginia), and publishes the DNSSEC metrics there; put this construct's stack "
            "there",
            region,
        )
        if alarm_topic is not None:
            require_topic_in_region("alarm_topic", alarm_topic, region)

        # One AWS::Route53::DNSSEC per zone: a second fails at deploy ("already exists").
        other, where = names.reserve(stack, facts, "DNSSEC of hosted zone", zone_id, self)
        require(
            other is None,
            "hosted_zone",
            f"is signed by one DnssecSigningKey only: {other} already turns DNSSEC on for it "
            f"within {where} (sign this zone there; a second key-signing key, to rotate keys, "
            "is an aws_route53.CfnKeySigningKey beside that one: docs/keys.md)",
            zone_id,
        )
        self.hosted_zone_id = zone_id
        self.node.add_validation(_PublicZoneValidation(hosted_zone))
        try:
            self.key: CustomerManagedKey | ReplicaKey = (
                self._existing_key(key, facts)
                if key is not None
                else CustomerManagedKey(
                    self,
                    "Key",
                    alias=key_alias,
                    key_spec=kms.KeySpec.ECC_NIST_P256,
                    key_usage=kms.KeyUsage.SIGN_VERIFY,
                    policy=key_policy,
                )
            )
            _refuse_a_dependency_cycle(self, hosted_zone, zone_id, self.key)
            self.key.add_service_principal(
                KeyServicePrincipal.route53_dnssec(hosted_zone_ids=[zone_id])
            )
        except ConstructPropError:
            # A signer refused for its key signs nothing: the zone stays free for the next.
            names.release(stack, facts, "DNSSEC of hosted zone", zone_id, self)
            raise

        self.key_signing_key = route53.CfnKeySigningKey(
            self,
            "KeySigningKey",
            hosted_zone_id=zone_id,
            key_management_service_arn=self.key.key_arn,
            name=key_signing_key_name
            or Names.unique_resource_name(self, max_length=128, allowed_special_characters="_"),
            status=KSK_STATUS,
        )
        self.dnssec = route53.CfnDNSSEC(self, "Dnssec", hosted_zone_id=zone_id)
        # Signing needs an active KSK: CloudFormation must create the KSK first (and, on delete,
        # turn signing off before it removes the KSK).
        self.dnssec.node.add_dependency(self.key_signing_key)

        self.alarms: dict[str, cloudwatch.Alarm] = {}
        if alarm_topic is not None:
            for metric_name in DNSSEC_METRICS:
                alarm = cloudwatch.Metric(
                    namespace=METRIC_NAMESPACE,
                    metric_name=metric_name,
                    dimensions_map={"HostedZoneId": zone_id},
                    statistic="Maximum",
                    period=durations.minutes(ALARM_PERIOD_MINUTES),
                ).create_alarm(
                    self,
                    f"{metric_name}Alarm",
                    alarm_description=(
                        f"Route 53 DNSSEC {metric_name} is 1 or more for hosted zone {zone_id}: "
                        "check `aws route53 get-dnssec` (the KSK's key may be disabled, pending "
                        "deletion or its key policy changed) before validating resolvers stop "
                        "resolving the zone"
                    ),
                    threshold=1,
                    comparison_operator=(
                        cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
                    ),
                    evaluation_periods=1,
                    treat_missing_data=ALARM_MISSING_DATA,
                )
                alarm_topic.notify(alarm)
                self.alarms[metric_name] = alarm

    @staticmethod
    def _existing_key(key: Any, here: StackFacts) -> CustomerManagedKey | ReplicaKey:
        owner = key_construct("key", key, "the DNSSEC statements go in its key policy")
        if owner.key_spec != DNSSEC_KEY_SPEC or owner.key_usage != DNSSEC_KEY_USAGE:
            # Worded only now: a construct's path is a jsii round trip.
            raise ConstructPropError(
                "key",
                f"must be an {DNSSEC_KEY_SPEC} {DNSSEC_KEY_USAGE} key for DNSSEC (Route 53 signs "
                f"with no other; this key has key_spec {owner.key_spec}, key_usage "
                f"{owner.key_usage})",
                owner.node.path,
            )
        if not is_token(owner.region) and owner.region != DNSSEC_REGION:
            raise ConstructPropError(
                "key",
                f"must be a key in {DNSSEC_REGION} for DNSSEC (this key is in {owner.region})",
                owner.node.path,
            )
        require_key_environment(
            "key",
            here,
            owner,
            must_be="in",
            why=": Route 53 signs the zone for this account, and the key policy lets it in for "
            "the key's own account only (aws:SourceAccount)",
        )
        return owner


PRIVATE_ZONE = "must be a public hosted zone: Route 53 signs no private hosted zone with DNSSEC"


def _is_private_zone(hosted_zone: Any) -> bool:
    """Whether ``hosted_zone`` is private: a class declaring ``IPrivateHostedZone``
    (``PrivateHostedZone``), a zone jsii's kernel hands to Python as a proxy declaring it
    (``PrivateHostedZone.from_private_hosted_zone_id``: no ``PrivateHostedZone`` instance), or a
    ``HostedZone`` associated with a VPC (``vpcs=[...]`` or ``add_vpc``) so far."""
    interface: Any = route53.IPrivateHostedZone  # @jsii.interface sets its __jsii_type__
    if interface in getattr(type(hosted_zone), "__jsii_ifaces__", ()):
        return True
    reference = getattr(hosted_zone, "__jsii_ref__", None)
    if interface.__jsii_type__ in (getattr(reference, "interfaces", None) or ()):
        return True
    if not isinstance(hosted_zone, route53.HostedZone):
        return False
    zone = hosted_zone.node.default_child
    return isinstance(zone, route53.CfnHostedZone) and bool(stack_of(zone).resolve(zone.vpcs))


@jsii.implements(IValidation)
class _PublicZoneValidation:
    """At synth: the zone signed is still public (``add_vpc`` after this construct was made)."""

    def __init__(self, hosted_zone: route53.IHostedZone) -> None:
        self._hosted_zone = hosted_zone

    def validate(self) -> list[str]:
        if not _is_private_zone(self._hosted_zone):
            return []
        return [str(ConstructPropError("hosted_zone", PRIVATE_ZONE, self._hosted_zone.node.path))]


def _hosted_zone_id(hosted_zone: Any) -> str:
    """The zone's ID, refusing what is no public hosted zone."""
    if _is_private_zone(hosted_zone):
        raise ConstructPropError("hosted_zone", PRIVATE_ZONE, hosted_zone.node.path)
    zone_id = getattr(hosted_zone, "hosted_zone_id", None)
    if zone_id is None:
        raise ConstructPropError(
            "hosted_zone",
            "must be an aws_route53.IHostedZone (a HostedZone, or HostedZone.from_hosted_zone_id"
            "(...)); a zone ID goes through HostedZone.from_hosted_zone_id",
            shown(hosted_zone),
        )
    return check_hosted_zone_id("hosted_zone", zone_id)


def _refuse_a_dependency_cycle(
    signing: Construct, hosted_zone: Any, zone_id: str, key: CustomerManagedKey | ReplicaKey
) -> None:
    """Refuse a key of another stack when the zone is made in this construct's stack: the key
    policy would name the zone (key's stack -> this one) and the key-signing key the key (this
    one -> the key's stack), a cycle CDK reports only at synth, naming neither prop."""
    if not is_token(zone_id):
        return
    here, key_stack = stack_of(signing), stack_of(key)
    if key_stack is here or stack_of(hosted_zone) is not here:
        return
    raise ConstructPropError(
        "key",
        f"must be in the stack of hosted_zone ({here.node.path}) when that zone is made there: "
        "its key policy names the zone and the key-signing key names the key, so each stack "
        "would depend on the other. Make the key in that stack, or this construct in a stack "
        "of its own, or import the zone with HostedZone.from_hosted_zone_id",
        key.node.path,
    )

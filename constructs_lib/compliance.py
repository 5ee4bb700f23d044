"""cdk-nag v3 gates and acknowledgments.

cdk-nag v3 packs are CDK validation plugins: an error-level finding makes ``app.synth()`` raise
``ValidationFailed``. Register the packs once on the App with :func:`add_compliance_checks`.

A finding this toolkit cannot meet is acknowledged on the one construct it concerns, with a
specific reason, through :func:`acknowledge` (:func:`acknowledge_all` for several reasons on one
construct). Every acknowledgment also appears in ``docs/compliance.md``; a test reads the
synthesized metadata and fails on any that is missing.
"""

from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import Acknowledgment, App, Validations
from cdk_nag import (
    AwsSolutionsChecks,
    HIPAASecurityChecks,
    NIST80053R5Checks,
    PCIDSS321Checks,
    ServerlessChecks,
)
from constructs import IConstruct

from constructs_lib._validation import require

NAG_PACKS = (
    AwsSolutionsChecks,
    NIST80053R5Checks,
    HIPAASecurityChecks,
    PCIDSS321Checks,
    ServerlessChecks,
)
"""The five packs every app built with the toolkit is held to."""

MIN_REASON_LENGTH = 40
# Reasons that say nothing about the construct they excuse.
_VAGUE_REASONS = {"n/a", "not needed", "false positive", "suppressed", "ok", "by design"}


def add_compliance_checks(app: App) -> None:
    """Run all five cdk-nag packs when ``app`` synthesizes. Call once per App."""
    Validations.of(app).add_plugins(*(pack() for pack in NAG_PACKS))


def acknowledge(construct: IConstruct, rule_ids: str | Iterable[str], reason: str) -> None:
    """Acknowledge cdk-nag findings on one construct.

    ``rule_ids`` is one rule as the report names it (``AwsSolutions-IAM5[Resource::*]``,
    ``NIST.800.53.R5-IAMNoInlinePolicy``), or several that share ``reason`` (recorded in one
    call). ``reason`` must say why this construct cannot comply: at least 40 characters.
    (This toolkit's own acknowledgments also appear, with the same text, next to each rule in
    its ``docs/compliance.md``, which its tests check; nothing here reads that file.)
    """
    acknowledge_all(construct, [(rule_ids, reason)])


def acknowledge_all(
    construct: IConstruct, findings: Iterable[tuple[str | Iterable[str], str]]
) -> None:
    """Acknowledge several groups of findings on one construct, each ``(rule_ids, reason)`` pair
    checked as :func:`acknowledge` checks it, all recorded in one call to the CDK."""
    # Plain values only: a construct may reach Python as a jsii interface proxy (``function.role``
    # is an ``IRole``) whose class has no ``node`` attribute, and reading one is a round trip.
    require(
        construct is not None and not isinstance(construct, str | bytes | int | float | Iterable),
        "construct",
        "must be a construct (the one the findings are on)",
        construct,
    )
    require(
        isinstance(findings, Iterable) and not isinstance(findings, str),
        "findings",
        "must be a list of (rule_ids, reason) pairs",
        findings,
    )
    acknowledgments: list[Acknowledgment] = []
    for finding in findings:
        require(
            isinstance(finding, tuple | list) and len(finding) == 2,
            "findings",
            "must hold (rule_ids, reason) pairs",
            finding,
        )
        rule_ids, reason = finding
        if isinstance(rule_ids, str):
            rules: list[object] = [rule_ids]
        else:
            rules = list(rule_ids) if isinstance(rule_ids, Iterable) else []
        require(
            bool(rules) and all(isinstance(rule, str) and rule.strip() for rule in rules),
            "rule_ids",
            "must name one or more cdk-nag rules",
            rule_ids,
        )
        text = " ".join(reason.split()) if isinstance(reason, str) else ""
        require(
            len(text) >= MIN_REASON_LENGTH and text.lower() not in _VAGUE_REASONS,
            "reason",
            f"must explain in at least {MIN_REASON_LENGTH} characters why the finding is accepted",
            reason,
        )
        acknowledgments.extend(Acknowledgment(id=str(rule), reason=text) for rule in rules)
    require(bool(acknowledgments), "findings", "must hold at least one (rule_ids, reason)", [])
    Validations.of(construct).acknowledge(*acknowledgments)

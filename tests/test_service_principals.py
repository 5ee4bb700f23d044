"""No AWS service, and no one at all, is let into a key or resource policy without a condition
that ties the permission to this toolkit's own resources (the confused deputy).

A key, bucket, queue, topic or bus policy that allows a service principal lets that service act
for *any* customer who points it at the resource: another account's trail could write into the
audit bucket, another account's alarm could publish to the alarm topic. AWS's guides add
``aws:SourceArn`` / ``aws:SourceAccount`` (or, in key policies, an encryption context naming the
resource) to every such statement. This gate holds every App under test (tests/_support/apps/)
to that: each ``Allow`` to a service principal carries a condition that limits its source (one
rule, :func:`kmskit.policy_conditions.limits_source`, which the key constructs apply at
construct time too: one of its ``SOURCE_KEYS`` with an operator that requires the key and a
value that names the source), and an ``Allow`` to every principal (``"*"``) carries a condition
that limits the caller (the constructs' and the inventory's rule,
:func:`kmskit.policy_conditions.caller_limits`). :data:`EXEMPT` (shared with ``kmskit key
inventory``) lists the exceptions with their reasons; docs/compliance.md lists the same. Role
trust policies are out of scope: several
services refuse these keys there (CloudTrail's role for CloudWatch Logs, for one).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from kmskit.policy_conditions import (
    SOURCE_EXEMPTIONS,
    SourceExemption,
    caller_limits,
    services_named,
    unlimited_services,
)
from tests._support.apps import app_names
from tests._support.compliance_doc import COMPLIANCE_DOC, table_rows
from tests._support.iam_policies import as_list, is_everyone, policy_documents
from tests._support.synth import SynthResult

Synth = Callable[[str], SynthResult]

# The exceptions, shared with kmskit key inventory (SERVICE_UNLIMITED): each by service, Sid
# and the only actions it may allow.
EXEMPT: tuple[SourceExemption, ...] = SOURCE_EXEMPTIONS


def where(exemption: SourceExemption) -> str:
    """Where an exemption applies, as docs/compliance.md lists it: ``<logical id>/<Sid>``."""
    return f"*/{exemption.sid}"


@dataclass(frozen=True)
class Unguarded:
    """An ``Allow`` statement of a key or resource policy that fails the gate."""

    stack: str
    logical_id: str
    sid: str
    principal: str
    why: str

    def __str__(self) -> str:
        return f"{self.stack}/{self.logical_id}/{self.sid}: {self.principal}: {self.why}"


def unguarded(
    templates: Mapping[str, Mapping[str, Any]], exempt: tuple[SourceExemption, ...] = EXEMPT
) -> Iterator[Unguarded]:
    """Every ``Allow`` of a key or resource policy in ``templates`` that lets a service, or
    everyone, in without a condition tying it to the toolkit's resources, and not ``exempt``."""
    for stack, template in templates.items():
        for document in policy_documents(template):
            if document.kind not in ("key", "resource"):
                continue
            for statement in as_list(document.document.get("Statement", [])):
                if statement.get("Effect") != "Allow" or "Principal" not in statement:
                    continue
                principal = statement["Principal"]
                sid = str(statement.get("Sid", ""))
                condition = statement.get("Condition")
                if is_everyone(principal) and caller_limits(condition) is None:
                    yield Unguarded(stack, document.logical_id, sid, "*", "no caller condition")
                for service in unlimited_services(statement, exempt):
                    yield Unguarded(stack, document.logical_id, sid, service, "no source condition")


@pytest.mark.parametrize("app_name", app_names())
def test_no_service_or_everyone_is_let_in_without_a_condition(
    synthesized: Synth, app_name: str
) -> None:
    found = [str(item) for item in unguarded(synthesized(app_name).templates)]
    assert found == [], "add aws:SourceArn/aws:SourceAccount, or an EXEMPT entry saying why"


def test_the_gate_reads_service_statements_in_every_kind_of_policy(synthesized: Synth) -> None:
    # The gate is only as good as what it reads: it must meet service principals in key,
    # bucket, queue and topic policies of the Apps under test.
    kinds = set()
    for name in app_names():
        for template in synthesized(name).templates.values():
            for document in policy_documents(template):
                statements = as_list(document.document.get("Statement", []))
                if any(services_named(statement.get("Principal")) for statement in statements):
                    kinds.add(document.resource_type)
    assert {
        "AWS::KMS::Key",
        "AWS::S3::BucketPolicy",
        "AWS::SQS::QueuePolicy",
        "AWS::SNS::TopicPolicy",
    } <= kinds


def test_every_exemption_is_still_needed(synthesized: Synth) -> None:
    found = [item for name in app_names() for item in unguarded(synthesized(name).templates, ())]
    assert [
        e
        for e in EXEMPT
        if not any(
            item.principal == e.service and fnmatch.fnmatchcase(item.sid, e.sid) for item in found
        )
    ] == []


def test_every_exemption_is_documented() -> None:
    documented = {
        (service.strip("`"), where.strip("`"), " ".join(reason.split()))
        for service, where, reason in table_rows("Service principals", 3)
    }
    assert documented == {(e.service, where(e), e.reason) for e in EXEMPT}, (
        f"the table in {COMPLIANCE_DOC.name} and EXEMPT differ"
    )


# The gate on hand-made statements: each way a statement can fail it.


def key_policy(*statements: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        "Stack": {
            "Resources": {
                "Key": {
                    "Type": "AWS::KMS::Key",
                    "Properties": {"KeyPolicy": {"Statement": list(statements)}},
                }
            }
        }
    }


def allow(principal: Any, condition: dict[str, Any] | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Sid": "Test",
        "Effect": "Allow",
        "Principal": principal,
        "Action": "kms:Decrypt",
        "Resource": "*",
    }
    if condition is not None:
        statement["Condition"] = condition
    return statement


SOURCE_ARN = {"StringEquals": {"aws:SourceArn": "arn:aws:cloudtrail:eu-west-1:1:trail/t"}}


def findings(*statements: dict[str, Any]) -> list[tuple[str, str]]:
    return [(item.principal, item.why) for item in unguarded(key_policy(*statements))]


def test_a_service_without_a_condition_is_named() -> None:
    assert findings(allow({"Service": "cloudtrail.amazonaws.com"})) == [
        ("cloudtrail.amazonaws.com", "no source condition")
    ]


def test_a_service_with_its_source_arn_passes() -> None:
    assert findings(allow({"Service": "cloudtrail.amazonaws.com"}, SOURCE_ARN)) == []


def test_an_encryption_context_naming_the_resource_counts_as_a_source() -> None:
    context = {
        "ArnLike": {"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:*:111111111111:log-group:g"}
    }
    assert findings(allow({"Service": "logs.eu-west-1.amazonaws.com"}, context)) == []


@pytest.mark.parametrize(
    "condition",
    [
        {"StringEqualsIfExists": {"aws:SourceArn": "arn:aws:cloudtrail:eu-west-1:1:trail/t"}},
        {"StringLike": {"aws:SourceArn": "*"}},
        {"Null": {"aws:SourceAccount": "false"}},
        {"Bool": {"kms:GrantIsForAWSResource": "true"}},
        {"ForAllValues:StringEquals": {"aws:SourceAccount": ["111111111111"]}},
        {"StringNotEquals": {"aws:SourceAccount": "222222222222"}},
    ],
    ids=["if-exists", "star", "null", "other-key", "for-all-values", "negation"],
)
def test_a_condition_that_binds_nothing_does_not_count(condition: dict[str, Any]) -> None:
    assert findings(allow({"Service": "cloudtrail.amazonaws.com"}, condition)) == [
        ("cloudtrail.amazonaws.com", "no source condition")
    ]


def test_each_service_of_a_statement_is_held_to_it() -> None:
    principal = {"Service": ["cloudtrail.amazonaws.com", "config.amazonaws.com"]}
    assert [p for p, _ in findings(allow(principal))] == [
        "cloudtrail.amazonaws.com",
        "config.amazonaws.com",
    ]


@pytest.mark.parametrize("principal", ["*", {"AWS": "*"}, {"AWS": ["*"]}])
def test_everyone_without_a_caller_condition_is_named(principal: Any) -> None:
    assert findings(allow(principal)) == [("*", "no caller condition")]
    # A source that names no caller (a bucket's ARN has no account) does not limit "*".
    bucket = {"StringEquals": {"aws:SourceArn": "arn:aws:s3:::audit-logs"}}
    assert findings(allow(principal, bucket)) == [("*", "no caller condition")]


@pytest.mark.parametrize(
    "condition",
    [
        {"StringLike": {"aws:PrincipalAccount": "?*"}},
        {"StringLike": {"aws:PrincipalOrgID": "o-*"}},
        {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/Admin"}},
        {"StringEqualsIfExists": {"aws:PrincipalOrgID": "o-abcdefghij"}},
    ],
    ids=["account-pattern", "org-pattern", "arn-any-account", "if-exists"],
)
def test_everyone_under_a_caller_condition_that_matches_anyone_is_named(
    condition: dict[str, Any],
) -> None:
    # The gate reads "*" with the constructs' and the inventory's rule (caller_limits).
    assert findings(allow("*", condition)) == [("*", "no caller condition")]


def test_everyone_limited_to_the_organization_passes() -> None:
    condition = {"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}}
    assert findings(allow("*", condition)) == []


def test_deny_statements_and_accounts_are_not_its_business() -> None:
    deny = {**allow("*"), "Effect": "Deny"}
    account = allow({"AWS": "arn:aws:iam::111111111111:root"})
    assert findings(deny, account) == []


def test_an_exemption_applies_only_where_it_stands() -> None:
    grant = {
        **allow({"Service": "dnssec-route53.amazonaws.com"}),
        "Action": "kms:CreateGrant",
        "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
    }
    assert findings({**grant, "Sid": "AllowRoute53DnssecToCreateGrant"}) == []
    unguarded_grant = [("dnssec-route53.amazonaws.com", "no source condition")]
    assert findings({**grant, "Sid": "Other"}) == unguarded_grant
    # The Sid alone does not exempt a statement that allows more than AWS documents.
    signing = {**grant, "Action": ["kms:CreateGrant", "kms:Sign"]}
    assert findings({**signing, "Sid": "AllowRoute53DnssecToCreateGrant"}) == unguarded_grant
    assert findings({**grant, "Sid": "AllowRoute53DnssecToCreateGrant", "Action": "kms:*"}) == (
        unguarded_grant
    )

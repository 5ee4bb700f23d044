"""Organisation-wide tags (``tags``, ``accounts.<alias>.tags``): refused with the field and the
value when AWS would refuse them.

The example organisation (cdk.json) has tags, the workload account overriding one and adding
one.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from stacks.config import MAX_TAGS_PER_RESOURCE, load_organisation
from tests.stacks.test_config import DEFAULT, changed, refusal, with_changes


def with_tag(key: str, value: Any, where: str = "organisation") -> dict[str, Any]:
    """The example organisation with one more tag ``key``: ``value``, the organisation's or
    (``where="workload"``) the workload account's."""
    config = copy.deepcopy(DEFAULT)
    tags = config["tags"] if where == "organisation" else config["accounts"][where]["tags"]
    tags[key] = value
    return config


# ---------------------------------------------------------------------------- configuration
def test_the_example_organisation_tags_every_account_and_overrides_in_one() -> None:
    organisation = load_organisation(DEFAULT)
    security, workload, backup = organisation.accounts
    organisation_wide = {"Owner": "platform-team", "CostCenter": "cc-1234"}
    assert organisation.tags_of(security) == organisation_wide
    assert organisation.tags_of(backup) == organisation_wide
    assert organisation.tags_of(workload) == {
        "Owner": "workload-team",
        "CostCenter": "cc-1234",
        "Environment": "production",
    }


def test_tags_left_out_are_none() -> None:
    organisation = load_organisation(with_changes(("tags", ...), ("accounts.workload.tags", ...)))
    assert [organisation.tags_of(a) for a in organisation.accounts] == [{}, {}, {}]


TAG_CHARACTERS = "letters, digits, spaces and _ . : / = + @ -"
RESERVED = (
    "must not have a tag key starting with 'aws:' (reserved by AWS, in any case) or 'kmskit:' "
    "(the toolkit's own tags)"
)
CASE_REASON = (
    "AWS compares tag keys with case for most services, but IAM (the roles) and some others "
    "without it, and refuse two such keys on one resource"
)
NOT_A_STRING = (
    "must be a tag value written out as a JSON string, in quotes (not a number, true/false, "
    "null or a CDK token)"
)
FIFTY = {f"Tag{i:02d}": "x" for i in range(MAX_TAGS_PER_RESOURCE)}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            changed("tags", ["Owner", "platform-team"]),
            "'kmskit:organisation.tags' must be an object mapping tag keys to tag values. "
            "Received: ['Owner', 'platform-team']",
        ),
        (
            changed("accounts.workload.tags", "Environment=production"),
            "'kmskit:organisation.accounts.workload.tags' must be an object mapping tag keys to "
            "tag values. Received: 'Environment=production'",
        ),
        (
            with_tag("aws:createdBy", "me"),
            f"'kmskit:organisation.tags' {RESERVED}. Received: 'aws:createdBy'",
        ),
        (
            with_tag("AWS:createdBy", "me"),
            f"'kmskit:organisation.tags' {RESERVED}. Received: 'AWS:createdBy'",
        ),
        (
            with_tag("kmskit:replicator", where="workload", value="mine"),
            f"'kmskit:organisation.accounts.workload.tags' {RESERVED}. "
            "Received: 'kmskit:replicator'",
        ),
        (
            with_tag("Cost#Center", "cc-1"),
            f"'kmskit:organisation.tags' must have tag keys of 1-128 {TAG_CHARACTERS}. "
            "Received: 'Cost#Center'",
        ),
        (
            with_tag("", "empty"),
            f"'kmskit:organisation.tags' must have tag keys of 1-128 {TAG_CHARACTERS}. "
            "Received: ''",
        ),
        (
            with_tag("k" * 129, "long"),
            f"'kmskit:organisation.tags' must have tag keys of 1-128 {TAG_CHARACTERS}. "
            f"Received: '{'k' * 129}'",
        ),
        (
            with_tag("${Token[TOKEN.12]}", "x"),
            "'kmskit:organisation.tags' must not have a CDK token as a tag key (tags are "
            "written out literally). Received: '${Token[TOKEN.12]}'",
        ),
        (
            with_tag("-1.8881545897087626e+289", "x"),
            "'kmskit:organisation.tags' must not hold '-1.<10 to 16 digits>e+289', which "
            "aws-cdk-lib takes for a number token and fails to resolve at synth. "
            "Received: '-1.8881545897087626e+289'",
        ),
        (
            with_tag("CostCenter", 1234),
            f"'kmskit:organisation.tags.CostCenter' {NOT_A_STRING}. Received: 1234",
        ),
        (
            with_tag("CostCenter", True),
            f"'kmskit:organisation.tags.CostCenter' {NOT_A_STRING}. Received: True",
        ),
        (
            with_tag("Environment", where="workload", value=None),
            f"'kmskit:organisation.accounts.workload.tags.Environment' {NOT_A_STRING}. "
            "Received: None",
        ),
        (
            with_tag("CostCenter", "${Token[TOKEN.12]}"),
            f"'kmskit:organisation.tags.CostCenter' {NOT_A_STRING}. "
            "Received: '${Token[TOKEN.12]}'",
        ),
        (
            with_tag("CostCenter", "cc-1.8881545897087626e+289"),
            "'kmskit:organisation.tags.CostCenter' must not hold '-1.<10 to 16 digits>e+289', "
            "which aws-cdk-lib takes for a number token and fails to resolve at synth. "
            "Received: 'cc-1.8881545897087626e+289'",
        ),
        (
            with_tag("CostCenter", ""),
            f"'kmskit:organisation.tags.CostCenter' must be a tag value of 1-256 {TAG_CHARACTERS}. "
            "Received: ''",
        ),
        (
            with_tag("CostCenter", "v" * 257),
            f"'kmskit:organisation.tags.CostCenter' must be a tag value of 1-256 {TAG_CHARACTERS}. "
            f"Received: '{'v' * 257}'",
        ),
        (
            with_tag("CostCenter", "cc-1234\n"),
            f"'kmskit:organisation.tags.CostCenter' must be a tag value of 1-256 {TAG_CHARACTERS}. "
            "Received: 'cc-1234\\n'",
        ),
        (
            with_tag("COSTCENTER", "cc-9"),
            "'kmskit:organisation.tags' must not have the tag key 'COSTCENTER' beside "
            f"'CostCenter', which differs only in case: {CASE_REASON}. Received: 'COSTCENTER'",
        ),
        (
            with_tag("owner", "someone"),
            "'kmskit:organisation.tags' must not have the tag key 'owner' beside 'Owner', which "
            f"differs only in case: {CASE_REASON}. Received: 'owner'",
        ),
        (
            changed("accounts.workload.tags", {"OWNER": "workload-team"}),
            "'kmskit:organisation.accounts.workload.tags' must not have the tag key 'OWNER', "
            "which differs only in case from the organisation's 'Owner' (to override its value, "
            f"write 'Owner'): {CASE_REASON}. Received: 'OWNER'",
        ),
        (
            changed("tags", {**FIFTY, "Tag50": "x"}),
            f"'kmskit:organisation.tags' must have at most {MAX_TAGS_PER_RESOURCE} tags (AWS's "
            "limit of user-defined tags per resource), not 51. Received: ['Tag00', 'Tag01',",
        ),
    ],
)
def test_bad_tags_are_refused_naming_the_field_and_value(config: Any, message: str) -> None:
    assert refusal(config).startswith(message)


def test_an_account_over_the_limit_only_with_the_organisation_s_tags_is_refused() -> None:
    config = with_changes(
        ("tags", dict(list(FIFTY.items())[:49])),
        ("accounts.workload.tags", {"Tag00": "y", "Environment": "production", "Team": "a"}),
    )
    assert refusal(config) == (
        "'kmskit:organisation.accounts.workload.tags' must leave account 'workload' at most "
        "50 tags with the organisation's 49 (AWS's limit of user-defined tags per resource, and "
        "every resource of the account gets both), not 51. Received: ['Environment', 'Tag00', "
        "'Team']"
    )


def test_tags_up_to_what_aws_allows_are_taken() -> None:
    # 50 in all, an override counted once; keys of 128 and values of 256 characters; letters
    # of any script, as AWS allows.
    tags = {**dict(list(FIFTY.items())[:48]), "k" * 128: "v" * 256}
    organisation = load_organisation(
        with_changes(
            ("tags", tags),
            ("accounts.workload.tags", {"Tag00": "override", "Équipe": "données"}),
        )
    )
    workload = organisation.account("workload")
    assert len(organisation.tags_of(workload)) == MAX_TAGS_PER_RESOURCE
    assert organisation.tags_of(workload)["Tag00"] == "override"
    assert organisation.tags_of(organisation.account("backup")) == tags

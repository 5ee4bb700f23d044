"""The organisation configuration: every bad value is refused with the field and the value."""

from __future__ import annotations

import copy
import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest

from constructs_lib import ConstructPropError
from stacks.config import (
    CONNECTION_REGIONS,
    DEPLOYED_CONTEXT_KEY,
    MAX_REPOSITORY_PARTS,
    ORGANISATION_CONTEXT_KEY,
    ORGANISATION_FILE_CONTEXT_KEY,
    PIPELINE_OFF,
    cdk_json_context,
    load_organisation,
    organisation_from_context,
)
from stacks.organisation import (
    FIXED_PIPELINE_STAGES,
    MAX_ACTIONS_PER_WAVE,
    MAX_PIPELINE_ACTIONS,
    MAX_PIPELINE_STAGES,
    AccountStage,
    add_organisation,
    plan_pipelines,
    plan_waves,
    planned_stack_count,
    require_stages_fit_in_waves,
)
from tests._support.markdown import fenced_blocks
from tests._support.regions import OPT_IN

DEFAULT = cdk_json_context()[ORGANISATION_CONTEXT_KEY]


def changed(path: str, value: Any) -> dict[str, Any]:
    """The default organisation with ``path`` (dots; list indexes as numbers) set to ``value``;
    ``value=...`` deletes it."""
    return with_changes((path, value))


def with_changes(*changes: tuple[str, Any]) -> dict[str, Any]:
    """The default organisation with each ``(path, value)`` of ``changes`` applied in turn."""
    config = copy.deepcopy(DEFAULT)
    for path, value in changes:
        *parents, last = path.split(".")
        node: Any = config
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        key: Any = int(last) if last.isdigit() else last
        if value is ...:
            del node[key]
        else:
            node[key] = value
    return cast(dict[str, Any], config)


def renamed(old: str, new: str, base: Any = DEFAULT) -> dict[str, Any]:
    """The default organisation (or ``base``) with account ``old`` renamed ``new`` everywhere."""
    config = copy.deepcopy(base)
    config["accounts"] = {(new if a == old else a): s for a, s in config["accounts"].items()}
    for destination in config["replication"]["destinations"]:
        if destination.get("account") == old:
            destination["account"] = new
    if config["pipeline"].get("account") == old:
        config["pipeline"]["account"] = new
    return cast(dict[str, Any], config)


def with_accounts(**accounts: tuple[str, str]) -> dict[str, Any]:
    """The default organisation with further accounts ``alias=(id, role)``."""
    config = copy.deepcopy(DEFAULT)
    for alias, (account_id, role) in accounts.items():
        config["accounts"][alias.replace("_", "-")] = {"id": account_id, "role": role}
    return cast(dict[str, Any], config)


# The example organisation moved to the China Regions, where it has no pipeline (CodePipeline is
# not available there).
CHINA: tuple[tuple[str, Any], ...] = (
    ("home_region", "cn-north-1"),
    ("regions", ["cn-north-1", "cn-northwest-1"]),
    (
        "replication.destinations",
        [{"region": "cn-northwest-1"}, {"account": "backup", "region": "cn-north-1"}],
    ),
    ("pipeline", ...),
    ("key_inventory.caller_trusted_principal_arns", ["arn:aws-cn:iam::111111111111:root"]),
)
# The example organisation moved to the AWS GovCloud (US) Regions (its connection ARN left in
# "aws").
GOVCLOUD: tuple[tuple[str, Any], ...] = (
    ("home_region", "us-gov-west-1"),
    ("regions", ["us-gov-west-1", "us-gov-east-1"]),
    (
        "replication.destinations",
        [{"region": "us-gov-east-1"}, {"account": "backup", "region": "us-gov-west-1"}],
    ),
    ("pipeline.region", "us-gov-west-1"),
    ("key_inventory.caller_trusted_principal_arns", ["arn:aws-us-gov:iam::111111111111:root"]),
)


def test_default_organisation_is_the_example_of_the_foundation_issue() -> None:
    organisation = load_organisation(DEFAULT)
    assert [a.role for a in organisation.accounts] == ["security", "workload", "backup"]
    assert organisation.regions == ("eu-west-1", "eu-central-1")
    assert len(organisation.environments()) == 6
    assert organisation.environments()[0].name == "security-eu-west-1"
    assert [
        (d.region, d.account.alias if d.account else None)
        for d in organisation.replication.destinations
    ] == [
        ("eu-central-1", None),
        ("eu-west-1", "backup"),
    ]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            changed("accounts.workload.id", "12"),
            "'kmskit:organisation.accounts.workload.id' must be a 12-digit AWS account ID. "
            "Received: '12'",
        ),
        (
            changed("regions", ["eu-west-1", "eu-westt-1"]),
            "'kmskit:organisation.regions[1]' must be an AWS Region name such as 'eu-west-1'. "
            "Received: 'eu-westt-1'",
        ),
        (
            changed("regions", ["eu-west-1", "eu-west-1"]),
            "'kmskit:organisation.regions[1]' must not repeat a Region (each account x Region is "
            "one environment). Received: 'eu-west-1'",
        ),
        (
            changed("accounts.backup.id", "222222222222"),
            "'kmskit:organisation.accounts.backup.id' must not repeat the ID of account "
            "'workload'. Received: '222222222222'",
        ),
        (
            changed("replication.destinations.1.account", "archive"),
            "'kmskit:organisation.replication.destinations[1].account' must name an account alias "
            "of this organisation ['backup', 'security', 'workload']. Received: 'archive'",
        ),
        (
            changed("pipeline.account", "tooling"),
            "'kmskit:organisation.pipeline.account' must name an account alias of this "
            "organisation",
        ),
        (
            changed("replication.destinations.0.region", "us-east-1"),
            "'kmskit:organisation.replication.destinations[0].region' must be one of regions "
            "['eu-west-1', 'eu-central-1']: a destination Region needs the key of the "
            "organisation's KeyStack there. Received: 'us-east-1'",
        ),
        (
            changed(
                "replication.destinations", [{"region": "eu-central-1"}, {"region": "eu-central-1"}]
            ),
            "'kmskit:organisation.replication.destinations[1]' must not repeat a destination",
        ),
        (
            changed("replication.destinations.1.account", "workload"),
            "'kmskit:organisation.replication.destinations[1].account' must name an account with "
            "role 'backup'. Received: 'workload'",
        ),
        (
            changed("replication.destinations.0.kms_key_arn", "arn:aws:kms:eu-central-1:1:key/x"),
            "'kmskit:organisation.replication.destinations[0]' may only have the keys "
            "['region', 'account']. Received: 'kms_key_arn'",
        ),
        (
            changed("replication.resource_types", ["EBS", "EFS"]),
            "'kmskit:organisation.replication.resource_types' must be a non-empty list of "
            "('EBS', 'RDS', 'AURORA'). Received: ['EBS', 'EFS']",
        ),
        (
            changed("replication.retention_days", 0),
            "'kmskit:organisation.replication.retention_days' must be 2-3650 days. Received: 0",
        ),
        # The replicator keeps copies longer than its one-day sweep window.
        (
            changed("replication.retention_days", 1),
            "'kmskit:organisation.replication.retention_days' must be 2-3650 days. Received: 1",
        ),
        # The backup account's receivers keep copies as long: a week is too short for them.
        (
            changed("replication.retention_days", 7),
            "'kmskit:organisation.replication.retention_days' must be at least 14 days: a source "
            "reaches the receiver up to the replicator's sweep_window",
        ),
        (
            changed("replication.selection_tag.key", "aws:backup"),
            "'kmskit:organisation.replication.selection_tag.key' must not start with 'aws:' "
            "(reserved by AWS) or 'kmskit:' (the replicator's own tags). Received: 'aws:backup'",
        ),
        (
            changed("replication.selection_tag.value", "v" * 257),
            "'kmskit:organisation.replication.selection_tag.value' must be a tag string of at "
            "most 256 characters",
        ),
        (
            changed("replication.selection_tag.valeu", "replicate"),
            "'kmskit:organisation.replication.selection_tag' may only have the keys ['key', "
            "'value']. Received: 'valeu'",
        ),
        (
            changed("replication.selection_tag.key", "KMSKIT:copy"),
            "'kmskit:organisation.replication.selection_tag.key' must not start with 'aws:' "
            "(reserved by AWS) or 'kmskit:' (the replicator's own tags). Received: 'KMSKIT:copy'",
        ),
        (
            changed("audit.log_retention_days", 100),
            "'kmskit:organisation.audit.log_retention_days' must be a CloudWatch Logs retention "
            "period",
        ),
        (
            changed("accounts.security.role", "workload"),
            "'kmskit:organisation.accounts' must have exactly one account with role 'security'",
        ),
        (
            with_accounts(audit=("444444444444", "security")),
            "'kmskit:organisation.accounts' must have exactly one account with role 'security' "
            "(it holds the central audit bucket, and the pipeline unless pipeline.account names "
            "another account). Received: ['audit', 'security']",
        ),
        (
            changed("accounts.backup.role", "archive"),
            "'kmskit:organisation.accounts.backup.role' must be one of ('security', 'workload', "
            "'backup'). Received: 'archive'",
        ),
        (
            changed("home_region", "eu-north-1"),
            "'kmskit:organisation.home_region' must be one of regions",
        ),
        (
            changed("name", "Example Org"),
            "'kmskit:organisation.name' must be 1-20 lowercase letters",
        ),
        (
            changed("regions", []),
            "'kmskit:organisation.regions' must be a non-empty list of Regions",
        ),
        (
            changed("accounts", ...),
            "'kmskit:organisation.accounts' must map account aliases to {id, role}",
        ),
        (
            changed("pipeline.connection_arn", "github"),
            "'kmskit:organisation.pipeline.connection_arn' must be",
        ),
        (
            changed("pipeline.repository", "kms-toolkit"),
            "'kmskit:organisation.pipeline.repository' must be",
        ),
        (changed("colour", "blue"), "'kmskit:organisation' may only have the keys"),
        # Regions CDK does not know (it cannot tell their partition): a raw jsii error at synth,
        # or a template for a Region that does not exist.
        (
            changed("regions", ["eu-west-1", "eu-north-9"]),
            "'kmskit:organisation.regions[1]' must be an AWS Region that aws-cdk-lib knows (a "
            "newer aws-cdk-lib may know a new one). Received: 'eu-north-9'",
        ),
        (
            changed("regions", ["eu-west-1", "${Token[AWS.Region.2]}"]),
            "'kmskit:organisation.regions[1]' must be an AWS Region name. "
            "Received: '${Token[AWS.Region.2]}'",
        ),
        # A JSON number: it would drop an ID's leading zeros, and "must be a 12-digit AWS
        # account ID. Received: 222222222222" did not say what was wrong.
        (
            changed("accounts.workload.id", 222222222222),
            "'kmskit:organisation.accounts.workload.id' must be a 12-digit AWS account ID as a "
            "JSON string, in quotes (a number loses an ID's leading zeros). Received: 222222222222",
        ),
        (
            changed("accounts.backup.id", "${Token[AWS.AccountId.1]}"),
            "'kmskit:organisation.accounts.backup.id' must be a 12-digit AWS account ID. "
            "Received: '${Token[AWS.AccountId.1]}'",
        ),
        # "$" matched before a final newline, which went into the pipeline's template.
        (
            changed("pipeline.repository", "example/kms-toolkit\n"),
            "'kmskit:organisation.pipeline.repository' must be",
        ),
        (changed("name", "example\n"), "'kmskit:organisation.name' must be 1-20 lowercase"),
        # Names and aliases make trail names (<name>-<alias>): no '--', no trailing '-'.
        (
            changed("name", "example-"),
            "'kmskit:organisation.name' must be 1-20 lowercase letters and digits, starting with "
            "a letter, with single '-' between them. Received: 'example-'",
        ),
        (
            changed("name", "xn--example"),
            "'kmskit:organisation.name' must be 1-20 lowercase letters and digits, starting with "
            "a letter, with single '-' between them. Received: 'xn--example'",
        ),
        (
            changed("name", "aws"),
            "'kmskit:organisation.name' must not be 'aws': key aliases start 'alias/<name>/', "
            "and 'alias/aws/' is reserved for AWS managed keys. Received: 'aws'",
        ),
        (
            changed("name", "sthree-org"),
            "'kmskit:organisation.name' must not start with 'sthree-', which S3 reserves: the "
            "name starts the names of the audit and pipeline buckets. Received: 'sthree-org'",
        ),
        (
            changed("name", "amzn-s3-demo-org"),
            "'kmskit:organisation.name' must not start with 'amzn-s3-demo-', which S3 reserves",
        ),
        (
            renamed("workload", "a--b"),
            "'kmskit:organisation.accounts' must use aliases of at most 30 lowercase letters and "
            "digits, starting with a letter, with single '-' between them. Received: 'a--b'",
        ),
        (
            renamed("workload", "work-"),
            "'kmskit:organisation.accounts' must use aliases of at most 30 lowercase letters and "
            "digits, starting with a letter, with single '-' between them. Received: 'work-'",
        ),
        # Stage IDs (alias parts, each capitalised) are App-level construct IDs.
        (
            renamed("security", "pipeline"),
            "'kmskit:organisation.accounts.pipeline' must not have an alias whose stage ID "
            "'Pipeline' is taken by the pipeline's stacks (Pipeline, Pipeline2, Pipeline3, ..., "
            "PipelineArtifacts-<region>). Received: 'pipeline'",
        ),
        (
            renamed("workload", "pipeline2"),
            "'kmskit:organisation.accounts.pipeline2' must not have an alias whose stage ID "
            "'Pipeline2' is taken by the pipeline's stacks",
        ),
        (
            renamed("backup", "pipeline-artifacts"),
            "'kmskit:organisation.accounts.pipeline-artifacts' must not have an alias whose "
            "stage ID 'PipelineArtifacts' is taken by the pipeline's stacks",
        ),
        # A wave of one account is a CodePipeline stage named after its stage ID: the last
        # pipeline of a chain with a wave named HandOff would start a leftover later pipeline.
        (
            renamed("backup", "hand-off"),
            "'kmskit:organisation.accounts.hand-off' must not have an alias whose stage ID "
            "'HandOff' is the name of one of the pipeline's own stages ['Source', 'Build', "
            "'UpdatePipeline', 'Assets', 'HandOff']: a wave of one account is a pipeline stage "
            "named after it. Received: 'hand-off'",
        ),
        (
            renamed("security", "source"),
            "'kmskit:organisation.accounts.source' must not have an alias whose stage ID "
            "'Source' is the name of one of the pipeline's own stages",
        ),
        # The only workload account named after the backup wave: two pipeline nodes 'Backup'.
        (
            renamed("workload", "backup", base=renamed("backup", "vault")),
            "'kmskit:organisation.accounts.backup' must not have an alias whose stage ID "
            "'Backup' is the name of another role's pipeline wave ['Backup', 'Security', "
            "'Workloads']: a wave of one account is a pipeline stage named after it. "
            "Received: 'backup'",
        ),
        (
            renamed("workload", "update-pipeline"),
            "'kmskit:organisation.accounts.update-pipeline' must not have an alias whose stage "
            "ID 'UpdatePipeline' is the name of one of the pipeline's own stages",
        ),
        (
            with_accounts(
                team1app=("444444444444", "workload"), team1_app=("555555555555", "workload")
            ),
            "'kmskit:organisation.accounts.team1-app' must not have the same stage ID "
            "'Team1App' (the alias's '-'-separated parts, each capitalised) as account "
            "'team1app'. Received: 'team1-app'",
        ),
        (
            with_accounts(work_load=("444444444444", "workload")),
            "'kmskit:organisation.accounts.work-load' must not have the same stage ID 'WorkLoad' "
            "(the alias's '-'-separated parts, each capitalised) as account 'workload'. "
            "Received: 'work-load'",
        ),
        (
            changed("replication.resource_types", ["EBS", "EBS"]),
            "'kmskit:organisation.replication.resource_types' must not repeat a resource type. "
            "Received: ['EBS', 'EBS']",
        ),
        (
            changed("accounts.workload", ...),
            "'kmskit:organisation.replication.destinations[1]' needs an account with role "
            "'workload' in accounts: the backup account receives the workload accounts' "
            "snapshots. Received: {'account': 'backup', 'region': 'eu-west-1'}",
        ),
        (
            with_changes(
                ("regions", ["eu-west-1"]),
                ("replication.destinations", [{"region": "eu-west-1"}]),
            ),
            "'kmskit:organisation.replication.destinations[0]' must name a backup 'account' when "
            "regions has only one Region: a destination without one copies from the same "
            "account's other Regions. Received: {'region': 'eu-west-1'}",
        ),
        (
            changed("audit.log_retention_days", True),
            "'kmskit:organisation.audit.log_retention_days' must be a CloudWatch Logs retention "
            "period",
        ),
        (
            changed("regions", ["eu-west-1", "cn-north-1"]),
            "'kmskit:organisation.regions[1]' must be in the partition of regions[0] ('aws'): "
            "multi-Region keys and cross-Region stack references stay within one partition. "
            "Received: 'cn-north-1'",
        ),
        (
            changed("regions", ["us-gov-west-1", "us-east-1"]),
            "'kmskit:organisation.regions[1]' must be in the partition of regions[0] "
            "('aws-us-gov')",
        ),
        (
            with_changes(*GOVCLOUD),
            "'kmskit:organisation.pipeline.connection_arn' must be in the partition of the "
            "organisation's Regions ('aws-us-gov'). Received: 'arn:aws:codeconnections:eu-west-1:",
        ),
        # CodePipeline is not available in the China Regions: a pipeline there never deployed.
        (
            with_changes(*CHINA, ("pipeline", {"region": "cn-north-1"})),
            "'kmskit:organisation.pipeline' must be left out (or be {\"enabled\": false}) in "
            "partition 'aws-cn' (the Regions ['cn-north-1', 'cn-northwest-1']): CodePipeline "
            "is not available in the Beijing and Ningxia Regions (Getting Started with Amazon "
            "Web Services in China, 'Amazon CodeBuild'). The app builds no pipeline there: "
            "deploy each account's stage directly (docs/deploy.md, 'Without the pipeline'). "
            "Received: {'region': 'cn-north-1'}",
        ),
        (
            changed("pipeline.repository", "../.."),
            "'kmskit:organisation.pipeline.repository' must be '<owner>/<repository>', neither "
            "of them '.' or '..' (no Git host has such an owner or repository). Received: '../..'",
        ),
        (
            changed("pipeline.repository", "example-org/."),
            "'kmskit:organisation.pipeline.repository' must be '<owner>/<repository>', neither "
            "of them '.' or '..' (no Git host has such an owner or repository). "
            "Received: 'example-org/.'",
        ),
        (
            changed("pipeline.repository", "example-org/kms-toolkit.git"),
            "'kmskit:organisation.pipeline.repository' must name the repository without '.git' "
            "('example-org/kms-toolkit'): the pipeline's source takes the repository's name, not "
            "its clone URL (GitHub removes the suffix from a new repository's name). "
            "Received: 'example-org/kms-toolkit.git'",
        ),
        # The suffix in capitals was accepted; a name that is only the suffix got the invalid
        # suggestion 'o/'.
        (
            changed("pipeline.repository", "example-org/kms-toolkit.GIT"),
            "without '.git' ('example-org/kms-toolkit'): the pipeline's source takes",
        ),
        (
            changed("pipeline.repository", "example-org/.git"),
            "'kmskit:organisation.pipeline.repository' must name the repository without '.git': "
            "the pipeline's source takes the repository's name",
        ),
        # \d and \w matched digits and letters of any script; the branch had no rule at all.
        (
            changed(
                "pipeline.connection_arn",
                "arn:aws:codeconnections:eu-west-1:\u0661\u0661\u0661\u0661\u0661\u0661"
                "\u0661\u0661\u0661\u0661\u0661\u0661:connection/abc",
            ),
            "'kmskit:organisation.pipeline.connection_arn' must be a CodeConnections "
            "connection ARN",
        ),
        (
            changed(
                "pipeline.connection_arn", "arn:aws:codeconnections:xx:111111111111:connection/a"
            ),
            "'kmskit:organisation.pipeline.connection_arn' must name a Region that aws-cdk-lib "
            "knows ('xx' is none)",
        ),
        (
            changed("pipeline.repository", "own\u00e9r/repo"),
            "'kmskit:organisation.pipeline.repository' must be '<owner>/<repository>'",
        ),
        *(
            (
                changed("pipeline.branch", branch),
                f"'kmskit:organisation.pipeline.branch' must be a git branch name (printable "
                f"ASCII without spaces or ~^:?*[\\, no '..', '@{{' or '//', not a ref such as "
                f"'refs/heads/main' or 'HEAD'). Received: {branch!r}",
            )
            for branch in (
                "main\n",
                "feature x",
                "a..b",
                "refs/heads/main",
                "",
                "-main",
                "main/",
                "main.lock",
                "a/.hidden",
                "fix:1",
                "br\u00e4nch",
                "a@{1}",
                "HEAD",  # git check-ref-format --branch refuses it
            )
        ),
        ("not an object", "'kmskit:organisation' must be an object. Received: 'not an object'"),
    ],
)
def test_bad_configuration_names_the_field_and_value(config: Any, message: str) -> None:
    with pytest.raises(ConstructPropError) as error:
        load_organisation(config)
    assert message in str(error.value)


def test_a_selection_tag_value_may_be_as_long_as_aws_allows() -> None:
    # Tag values go to 256 characters (keys to 128); SnapshotReplicator takes the same.
    organisation = load_organisation(changed("replication.selection_tag.value", "v" * 256))
    assert organisation.replication.selection_tag == ("backup", "v" * 256)


def test_a_selection_tag_value_may_be_empty_as_aws_allows() -> None:
    # EC2 and RDS accept an empty tag value, and so does SnapshotReplicator's selection_tag.
    organisation = load_organisation(changed("replication.selection_tag.value", ""))
    assert organisation.replication.selection_tag == ("backup", "")


def test_log_retention_true_is_not_one_day() -> None:
    # True == 1 in Python: without its own check, `true` would have meant ONE_DAY.
    with pytest.raises(ConstructPropError) as error:
        load_organisation(changed("audit.log_retention_days", True))
    assert str(error.value).endswith("Received: True")


def refusal(config: Any) -> str:
    """The whole message with which ``config`` is refused."""
    with pytest.raises(ConstructPropError) as error:
        load_organisation(config)
    return str(error.value)


# null is refused in every optional key, sections and fields alike: "replication": null and
# "pipeline": null were the defaults while "audit": null was refused.
@pytest.mark.parametrize(
    "path",
    [
        "name",
        "home_region",
        "tags",
        "accounts.workload.tags",
        "audit",
        "audit.log_retention_days",
        "replication",
        "replication.resource_types",
        "replication.selection_tag",
        "replication.retention_days",
        "replication.destinations",
        "pipeline.enabled",
        "pipeline.account",
        "pipeline.region",
        "pipeline.provider",
        "pipeline.repository",
        "pipeline.branch",
        "pipeline.connection_arn",
    ],
)
def test_null_is_refused_in_an_optional_key_naming_it(path: str) -> None:
    assert refusal(changed(path, None)) == (
        f"'kmskit:organisation.{path}' must not be null: leave the key out to take its "
        "default. Received: None"
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        # "pipeline": null or false was refused without a word of how to have no pipeline.
        (
            None,
            "'kmskit:organisation.pipeline' must not be null: leave the key out for the "
            f"pipeline, or give {PIPELINE_OFF} for none. Received: None",
        ),
        (
            False,
            f"'kmskit:organisation.pipeline' must be an object ({PIPELINE_OFF} for no "
            "pipeline). Received: False",
        ),
    ],
)
def test_a_pipeline_that_is_no_object_is_refused_naming_how_to_turn_it_off(
    value: Any, message: str
) -> None:
    assert refusal(changed("pipeline", value)) == message


def test_a_null_destination_account_is_refused_not_read_as_the_same_account() -> None:
    assert refusal(changed("replication.destinations.1.account", None)) == (
        "'kmskit:organisation.replication.destinations[1].account' must not be null: leave the "
        "key out for a destination in the same account. Received: None"
    )


def test_optional_sections_left_out_take_their_defaults() -> None:
    config = with_changes(("audit", ...), ("replication", ...), ("pipeline", ...))
    organisation = load_organisation(config)
    assert organisation.log_retention_days == 365
    assert organisation.replication.destinations == ()
    assert organisation.pipeline.account.alias == "security"


# JSON has one number type: a generator's 365.0 is 365, while 365.5 is no retention period.
@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("audit.log_retention_days", 365.0, 365),
        ("replication.retention_days", 14.0, 14),
    ],
)
def test_whole_numbers_written_as_floats_are_taken(path: str, value: float, expected: int) -> None:
    organisation = load_organisation(changed(path, value))
    days = (
        organisation.log_retention_days
        if path.startswith("audit")
        else organisation.replication.retention_days
    )
    assert days == expected
    assert type(days) is int


# audit.object_lock: S3 Object Lock on the central audit bucket, checked as EncryptedBucket checks
# BucketObjectLock (S3's limits), each error naming the field.
LOCK = "kmskit:organisation.audit.object_lock"


def locked(**lock: Any) -> dict[str, Any]:
    return changed("audit.object_lock", lock)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            locked(days=365),
            f"'{LOCK}.mode' must be one of ['GOVERNANCE', 'COMPLIANCE'] (GOVERNANCE: whoever is "
            "allowed s3:BypassGovernanceRetention may still delete a log file; COMPLIANCE: "
            "nobody, for the whole retention, and it cannot be undone). Received: None",
        ),
        (locked(mode="governance", days=365), f"'{LOCK}.mode' must be one of"),
        (
            locked(mode="GOVERNANCE"),
            f"'{LOCK}.days' or '{LOCK}.years' must be given, and neither was. Received: None",
        ),
        (
            locked(mode="GOVERNANCE", days=365, years=1),
            f"'{LOCK}.days' or '{LOCK}.years' must be given, not both. Received: 365",
        ),
        (locked(mode="GOVERNANCE", days=0), f"'{LOCK}.days' must be 1-36500 days. Received: 0"),
        (
            locked(mode="COMPLIANCE", days=36_501),
            f"'{LOCK}.days' must be 1-36500 days. Received: 36501",
        ),
        (
            locked(mode="COMPLIANCE", years=101),
            f"'{LOCK}.years' must be 1-100 years. Received: 101",
        ),
        (
            locked(mode="COMPLIANCE", years=0.5),
            f"'{LOCK}.years' must be 1-100 years. Received: 0.5",
        ),
        (
            locked(mode="COMPLIANCE", years=True),
            f"'{LOCK}.years' must be 1-100 years. Received: True",
        ),
        (
            locked(mode="COMPLIANCE", days="365"),
            f"'{LOCK}.days' must be 1-36500 days. Received: '365'",
        ),
        (
            locked(mode="GOVERNANCE", days=None),
            f"'{LOCK}.days' must not be null: give days or years, and leave the other out. "
            "Received: None",
        ),
        (
            locked(mode="GOVERNANCE", day=365),
            f"'{LOCK}' may only have the keys ['mode', 'days', 'years']. Received: 'day'",
        ),
        (
            changed("audit.object_lock", None),
            f"'{LOCK}' must not be null: leave the key out for no Object Lock. Received: None",
        ),
        (
            changed("audit.object_lock", "GOVERNANCE"),
            f"'{LOCK}' must be an object. Received: 'GOVERNANCE'",
        ),
    ],
)
def test_a_bad_object_lock_names_the_field_and_value(config: Any, message: str) -> None:
    assert refusal(config).startswith(message)


@pytest.mark.parametrize(
    ("lock", "expected"),
    [
        ({"mode": "GOVERNANCE", "days": 365}, ("GOVERNANCE", 365, None)),
        ({"mode": "COMPLIANCE", "years": 7}, ("COMPLIANCE", None, 7)),
        # A whole number written as a float, as audit.log_retention_days takes it.
        ({"mode": "COMPLIANCE", "years": 7.0}, ("COMPLIANCE", None, 7)),
        ({"mode": "GOVERNANCE", "days": 36_500}, ("GOVERNANCE", 36_500, None)),
    ],
)
def test_an_object_lock_is_read(lock: dict[str, Any], expected: tuple[Any, ...]) -> None:
    organisation = load_organisation(changed("audit.object_lock", lock))
    assert organisation.audit_object_lock is not None
    read = organisation.audit_object_lock
    assert (read.mode, read.days, read.years) == expected
    assert all(type(n) is int for n in (read.days, read.years) if n is not None)


def test_no_object_lock_without_the_key() -> None:
    # cdk.json leaves it out: a lock in an example people deploy to try is not undone easily.
    assert "object_lock" not in DEFAULT.get("audit", {})
    assert load_organisation(DEFAULT).audit_object_lock is None


LOG_RETENTION_PERIODS = (
    "[1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, "
    "2922, 3288, 3653]"
)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        *(
            (
                changed("audit.log_retention_days", value),
                "'kmskit:organisation.audit.log_retention_days' must be a CloudWatch Logs "
                "retention period in whole days (365.0 is taken as 365), one of "
                f"{LOG_RETENTION_PERIODS}. Received: {value!r}",
            )
            for value in (365.5, 100.0, 100, True, "365", float("nan"), float("inf"))
        ),
        *(
            (
                changed("replication.retention_days", value),
                f"'kmskit:organisation.replication.retention_days' must be 2-3650 days. "
                f"Received: {value!r}",
            )
            for value in (14.5, 1.0, 3651.0, False, "14")
        ),
    ],
)
def test_retention_that_is_no_whole_number_in_range_is_refused(config: Any, message: str) -> None:
    assert refusal(config) == message


CONNECTION = "arn:aws:{service}:{region}:{account}:connection/0a1b2c3d-0000-4000-8000-00000000abcd"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        # A codestar-connections connection cannot be shared (AWS RAM shares codeconnections ones).
        (
            changed(
                "pipeline.connection_arn",
                CONNECTION.format(
                    service="codestar-connections", region="eu-west-1", account="999999999999"
                ),
            ),
            "'kmskit:organisation.pipeline.connection_arn' must be a connection of the pipeline "
            "account 'security' (111111111111): a codestar-connections connection cannot be "
            "shared with another account (a codeconnections connection can, through AWS RAM). "
            "Received: 'arn:aws:codestar-connections:eu-west-1:999999999999:connection/"
            "0a1b2c3d-0000-4000-8000-00000000abcd'",
        ),
        # The pipeline moved to the workload account, its connection left in the security account.
        (
            with_changes(
                ("pipeline.account", "workload"),
                (
                    "pipeline.connection_arn",
                    CONNECTION.format(
                        service="codestar-connections", region="eu-west-1", account="111111111111"
                    ),
                ),
            ),
            "'kmskit:organisation.pipeline.connection_arn' must be a connection of the pipeline "
            "account 'workload' (222222222222): a codestar-connections connection cannot be "
            "shared with another account (a codeconnections connection can, through AWS RAM). "
            "Received: 'arn:aws:codestar-connections:eu-west-1:111111111111:connection/"
            "0a1b2c3d-0000-4000-8000-00000000abcd'",
        ),
        (
            changed(
                "pipeline.connection_arn",
                "arn:aws:codecommit:eu-west-1:111111111111:connection/abc",
            ),
            "'kmskit:organisation.pipeline.connection_arn' must be a CodeConnections connection "
            "ARN, arn:<partition>:codeconnections:<region>:<account>:connection/<id> (or "
            "codestar-connections). Received: "
            "'arn:aws:codecommit:eu-west-1:111111111111:connection/abc'",
        ),
        (
            changed(
                "pipeline.connection_arn",
                "arn:aws:codeconnections:eu-west-1:111111111111:host/abc",
            ),
            "'kmskit:organisation.pipeline.connection_arn' must be a CodeConnections connection "
            "ARN, arn:<partition>:codeconnections:<region>:<account>:connection/<id> (or "
            "codestar-connections). Received: "
            "'arn:aws:codeconnections:eu-west-1:111111111111:host/abc'",
        ),
        (
            changed(
                "pipeline.connection_arn",
                CONNECTION.format(
                    service="codeconnections", region="cn-north-1", account="111111111111"
                ),
            ),
            "'kmskit:organisation.pipeline.connection_arn' must name a Region of its partition "
            "('cn-north-1' is in 'aws-cn'). Received: 'arn:aws:codeconnections:cn-north-1:"
            "111111111111:connection/0a1b2c3d-0000-4000-8000-00000000abcd'",
        ),
    ],
)
def test_a_connection_the_pipeline_cannot_use_is_refused(config: Any, message: str) -> None:
    assert refusal(config) == message


@pytest.mark.parametrize(
    ("service", "region", "account"),
    [
        # Shared with the pipeline account through AWS RAM.
        ("codeconnections", "eu-west-1", "999999999999"),
        # Connections are global: created in one Region, they serve a pipeline in any other.
        ("codeconnections", "us-east-1", "111111111111"),
        ("codestar-connections", "eu-central-1", "111111111111"),
    ],
)
def test_a_connection_the_pipeline_can_use_is_accepted(
    service: str, region: str, account: str
) -> None:
    arn = CONNECTION.format(service=service, region=region, account=account)
    organisation = load_organisation(changed("pipeline.connection_arn", arn))
    assert organisation.pipeline.connection_arn == arn


def test_the_default_connection_is_in_the_pipeline_account() -> None:
    config = with_changes(("pipeline.account", "workload"), ("pipeline.connection_arn", ...))
    assert load_organisation(config).pipeline.connection_arn == (
        "arn:aws:codeconnections:eu-west-1:222222222222:connection/"
        "00000000-0000-0000-0000-000000000000"
    )


# Only Pipeline and Pipeline2, Pipeline3, ... are pipeline stacks: the first has no number.
@pytest.mark.parametrize("alias", ["pipeline0", "pipeline1", "pipeline02", "pipelines"])
def test_aliases_no_pipeline_stack_takes_are_accepted(alias: str) -> None:
    organisation = load_organisation(renamed("workload", alias))
    assert organisation.account(alias).stage_id == alias.title()


@pytest.mark.parametrize("alias", ["pipeline2", "pipeline10", "pipeline-12"])
def test_aliases_of_later_pipelines_of_a_chain_are_refused(alias: str) -> None:
    stage = alias.replace("-", "").title()
    assert refusal(renamed("workload", alias)) == (
        f"'kmskit:organisation.accounts.{alias}' must not have an alias whose stage ID "
        f"'{stage}' is taken by the pipeline's stacks (Pipeline, Pipeline2, Pipeline3, ..., "
        f"PipelineArtifacts-<region>). Received: '{alias}'"
    )


def test_stage_ids_are_compared_with_the_pipeline_stage_names_as_aws_cdk_lib_does() -> None:
    # aws-cdk-lib's Pipeline refuses a duplicate stage name with '===', and the chain's start
    # rule matches "HandOff" exactly: 'Handoff' is another stage. Whether CodePipeline tells
    # stage names apart by case is not in its API reference; this records what is accepted.
    organisation = load_organisation(renamed("backup", "handoff"))
    assert organisation.account("handoff").stage_id == "Handoff"
    assert "'HandOff' is the name of one of the pipeline's own stages" in refusal(
        renamed("backup", "hand-off")
    )


def test_an_organisation_in_the_china_partition_has_no_pipeline() -> None:
    organisation = load_organisation(with_changes(*CHINA))
    assert organisation.regions == ("cn-north-1", "cn-northwest-1")
    assert organisation.pipeline is None
    with pytest.raises(ConstructPropError) as error:
        organisation.require_pipeline()
    assert str(error.value) == (
        "'kmskit:organisation.pipeline' must be there for the pipeline's stacks, and the app "
        "builds none in partition 'aws-cn': CodePipeline is not available in the Beijing and "
        "Ningxia Regions (Getting Started with Amazon Web Services in China, 'Amazon "
        "CodeBuild'). Received: None"
    )


def test_an_organisation_in_the_china_partition_builds_its_stages_and_no_pipeline() -> None:
    import aws_cdk as cdk  # noqa: PLC0415

    app = cdk.App()
    assert add_organisation(app, load_organisation(with_changes(*CHINA))) == []
    assert [child.node.id for child in app.node.children] == ["Security", "Workload", "Backup"]


# Organisations for data residency in one Region without CodeConnections (Zurich, Tel Aviv):
# the pipeline defaulted to home_region and was refused, and adding a Region for it puts every
# account's stacks there.
def in_one_region(region: str) -> tuple[tuple[str, Any], ...]:
    return (
        ("home_region", region),
        ("regions", [region]),
        ("replication.destinations", [{"account": "backup", "region": region}]),
    )


PIPELINE_TURNED_OFF = ("pipeline", {"enabled": False})


@pytest.mark.parametrize(
    "changes",
    [
        (*in_one_region("eu-central-2"), PIPELINE_TURNED_OFF),
        (*in_one_region("il-central-1"), PIPELINE_TURNED_OFF),
        (PIPELINE_TURNED_OFF,),
        (*(c for c in GOVCLOUD if c[0] != "pipeline.region"), PIPELINE_TURNED_OFF),
        (*CHINA, PIPELINE_TURNED_OFF),
    ],
    ids=["zurich", "tel-aviv", "example", "govcloud", "china"],
)
def test_the_pipeline_can_be_turned_off_in_every_partition(
    changes: tuple[tuple[str, Any], ...],
) -> None:
    organisation = load_organisation(with_changes(*changes))
    assert organisation.pipeline is None
    if organisation.home_region.startswith("cn-"):
        return  # require_pipeline gives the partition's reason (above)
    with pytest.raises(ConstructPropError) as error:
        organisation.require_pipeline()
    assert str(error.value) == (
        "'kmskit:organisation.pipeline' must be there for the pipeline's stacks, and the app "
        "builds none (pipeline.enabled is false). Received: None"
    )


def test_a_pipeline_turned_off_builds_the_stages_and_no_pipeline() -> None:
    import aws_cdk as cdk  # noqa: PLC0415

    app = cdk.App()
    organisation = load_organisation(
        with_changes(*in_one_region("eu-central-2"), PIPELINE_TURNED_OFF)
    )
    assert add_organisation(app, organisation) == []
    assert [child.node.id for child in app.node.children] == ["Security", "Workload", "Backup"]


def test_a_pipeline_turned_on_explicitly_is_the_default_one() -> None:
    assert load_organisation(changed("pipeline.enabled", True)) == load_organisation(DEFAULT)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            changed("pipeline", {"enabled": False, "region": "eu-west-1", "branch": "main"}),
            "'kmskit:organisation.pipeline' must have no key but 'enabled' when "
            "pipeline.enabled is false, as the app then builds no pipeline: leave out "
            "pipeline.region, pipeline.branch. Received: {'enabled': False, 'region': "
            "'eu-west-1', 'branch': 'main'}",
        ),
        (
            changed("pipeline.enabled", "false"),
            "'kmskit:organisation.pipeline.enabled' must be true (the app builds the pipeline: "
            "the default) or false (it builds none, and each account's stage is deployed "
            "directly: docs/deploy.md, 'Without the pipeline'). Received: 'false'",
        ),
        (
            changed("pipeline.enabled", 0),
            "'kmskit:organisation.pipeline.enabled' must be true (the app builds the pipeline: "
            "the default) or false",
        ),
        # In the China Regions the pipeline may be turned off, not on.
        (
            with_changes(*CHINA, ("pipeline", {"enabled": True})),
            "'kmskit:organisation.pipeline' must be left out (or be {\"enabled\": false}) in "
            "partition 'aws-cn'",
        ),
    ],
    ids=["other-keys", "string", "number", "china-on"],
)
def test_a_bad_pipeline_switch_is_refused(config: dict[str, Any], message: str) -> None:
    assert refusal(config).startswith(message)


def test_an_organisation_in_govcloud_keeps_its_pipeline_with_a_connection_arn_there() -> None:
    # CodePipeline and CodeBuild are available in the AWS GovCloud (US) Regions.
    config = with_changes(*GOVCLOUD, ("pipeline.connection_arn", ...))
    organisation = load_organisation(config)
    assert organisation.pipeline is not None
    assert organisation.pipeline.connection_arn.startswith(
        "arn:aws-us-gov:codeconnections:us-gov-west-1:111111111111:connection/"
    )


@pytest.mark.parametrize(
    "repository",
    ["example-org/.github", "example.org/kms_toolkit-2", "-legacy/repo", "o/.gitignore-tools"],
)
def test_repository_names_git_hosts_allow_are_accepted(repository: str) -> None:
    # '.github' is a repository name GitHub gives a meaning to; older GitHub accounts start
    # with '-'.
    organisation = load_organisation(changed("pipeline.repository", repository))
    assert organisation.pipeline is not None
    assert organisation.pipeline.repository == repository


CONNECTION_REGION_LIST = (
    "['ap-northeast-1', 'ap-northeast-2', 'ap-south-1', 'ap-southeast-1', 'ap-southeast-2', "
    "'ca-central-1', 'eu-central-1', 'eu-north-1', 'eu-south-1', 'eu-west-1', 'eu-west-2', "
    "'eu-west-3', 'sa-east-1', 'us-east-1', 'us-east-2', 'us-west-1', 'us-west-2']"
)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        # A pipeline in a commercial Region without CodeConnections synthesized cleanly; its
        # source action could never run.
        (
            (
                ("regions", ["eu-west-1", "eu-central-1", "ap-east-1"]),
                ("pipeline.region", "ap-east-1"),
            ),
            "'kmskit:organisation.pipeline.region' must be a Region where the pipeline's source "
            "action (CodeStarSourceConnection, of AWS CodeConnections) runs, one of "
            f"{CONNECTION_REGION_LIST} (CodePipeline User Guide, 'CodeStarSourceConnection ... "
            "actions', and CloudFormation's registry in each Region). The pipeline deploys to "
            "every Region of regions from its own, and pipeline.region defaults to home_region: "
            "choose one of regions that is: ['eu-west-1', 'eu-central-1'], or turn the pipeline "
            f"off with {PIPELINE_OFF} and deploy each account's stage directly (docs/deploy.md, "
            "'Without the pipeline'). Received: 'ap-east-1'",
        ),
        # The default pipeline.region is home_region.
        (
            (
                ("regions", ["mx-central-1", "ca-west-1"]),
                ("home_region", "mx-central-1"),
                ("replication.destinations", [{"region": "ca-west-1"}]),
                ("pipeline.region", ...),
            ),
            "'kmskit:organisation.pipeline.region' must be a Region where the pipeline's source "
            "action (CodeStarSourceConnection, of AWS CodeConnections) runs, one of "
            f"{CONNECTION_REGION_LIST} (CodePipeline User Guide, 'CodeStarSourceConnection ... "
            "actions', and CloudFormation's registry in each Region). The pipeline deploys to "
            "every Region of regions from its own, and pipeline.region defaults to home_region: "
            "none of regions is: add one to regions (every account then gets its stacks there), "
            f"or turn the pipeline off with {PIPELINE_OFF} and deploy each account's stage "
            "directly (docs/deploy.md, 'Without the pipeline'). Received: 'mx-central-1'",
        ),
    ],
)
def test_a_pipeline_region_without_codeconnections_is_refused(
    changes: tuple[tuple[str, Any], ...], message: str
) -> None:
    assert refusal(with_changes(*changes)) == message


# The commercial Regions where the CodePipeline User Guide says the CodeStarSourceConnection
# action "is not available" (its action reference, 2023-2025).
NO_CONNECTIONS = (
    "ap-east-1", "ap-south-2", "ap-southeast-3", "ap-southeast-4", "ap-northeast-3", "af-south-1",
    "me-south-1", "me-central-1", "eu-south-2", "eu-central-2", "il-central-1",
)  # fmt: skip


@pytest.mark.parametrize("region", NO_CONNECTIONS)
def test_a_pipeline_in_a_region_aws_names_without_codeconnections_is_refused(region: str) -> None:
    config = with_changes(
        ("regions", ["eu-west-1", "eu-central-1", region]), ("pipeline.region", region)
    )
    assert refusal(config).startswith(
        "'kmskit:organisation.pipeline.region' must be a Region where the pipeline's source "
        "action (CodeStarSourceConnection, of AWS CodeConnections) runs"
    )


@pytest.mark.parametrize("region", sorted(CONNECTION_REGIONS["aws"]))
def test_a_pipeline_in_a_region_with_codeconnections_is_accepted(region: str) -> None:
    regions = ["eu-west-1", "eu-central-1"]
    config = with_changes(
        ("regions", regions if region in regions else [*regions, region]),
        ("pipeline.region", region),
    )
    organisation = load_organisation(config)
    assert organisation.pipeline is not None
    assert organisation.pipeline.region == region


def test_the_pipeline_regions_are_those_whose_cloudformation_registry_has_codeconnections() -> None:
    """CONNECTION_REGIONS["aws"] is every commercial Region whose CloudFormation registry (as
    cfn-lint carries it, one file per Region) has AWS::CodeConnections::Connection: a cfn-lint
    upgrade that brings connections to a Region fails here until the Region is added."""
    import cfnlint  # noqa: PLC0415

    from kmskit.aws_names import partition  # noqa: PLC0415

    providers = Path(cfnlint.__file__).parent / "data" / "schemas" / "providers"
    with_connections = set()
    for path in providers.glob("*-*-*.json"):
        if partition(path.stem) == "aws" and "AWS::CodeConnections::Connection" in json.loads(
            path.read_text(encoding="utf-8")
        ):
            with_connections.add(path.stem)
    assert with_connections == CONNECTION_REGIONS["aws"]
    assert not set(NO_CONNECTIONS) & CONNECTION_REGIONS["aws"]


def test_botocore_has_codestar_connections_endpoints_where_docs_deploy_md_says() -> None:
    """docs/deploy.md and the comment at NO_PIPELINE_PARTITIONS quote botocore's endpoint data:
    codestar-connections in the Regions of CONNECTION_REGIONS["aws"] and both GovCloud (US)
    Regions, none in aws-eusc (whose CloudFormation registry has the connection type). A botocore
    that changes this fails here until both say what it has."""
    import boto3  # noqa: PLC0415

    session = boto3.session.Session()

    def regions(partition_name: str) -> set[str]:
        return set(session.get_available_regions("codestar-connections", partition_name))

    assert regions("aws") == CONNECTION_REGIONS["aws"]
    assert regions("aws-us-gov") == {"us-gov-east-1", "us-gov-west-1"}
    assert regions("aws-eusc") == set()


GITLAB_FORM = (
    "'kmskit:organisation.pipeline.repository' must be '<group>/<repository>' or "
    "'<group>/<subgroup>/.../<repository>'"
)


@pytest.mark.parametrize("provider", ["GitLab", "GitLabSelfManaged"])
@pytest.mark.parametrize(
    "repository",
    ["group/subgroup/kms-toolkit", "g/s1/s2/s3/kms_toolkit.2", "/".join(["g"] * 23), "-old/.x/r"],
)
def test_gitlab_repositories_in_subgroups_are_accepted(provider: str, repository: str) -> None:
    # GitLab nests groups; CDK Pipelines' connection source takes 2 to 23 parts.
    organisation = load_organisation(
        with_changes(("pipeline.provider", provider), ("pipeline.repository", repository))
    )
    assert organisation.pipeline is not None
    assert (organisation.pipeline.provider, organisation.pipeline.repository) == (
        provider,
        repository,
    )


def test_the_provider_defaults_to_github() -> None:
    assert load_organisation(DEFAULT).pipeline.provider == "GitHub"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        # A subgroup path was refused as no '<owner>/<repository>', without saying that GitLab's
        # are accepted, or how.
        (
            (("pipeline.repository", "group/subgroup/kms-toolkit"),),
            "'kmskit:organisation.pipeline.repository' must be '<owner>/<repository>' for a "
            "GitHub connection (pipeline.provider 'GitHub'): only GitLab nests groups "
            "('<group>/<subgroup>/.../<repository>'), accepted with pipeline.provider "
            "['GitLab', 'GitLabSelfManaged']. Received: 'group/subgroup/kms-toolkit'",
        ),
        (
            (("pipeline.provider", "Bitbucket"), ("pipeline.repository", "ws/project/repo")),
            "'kmskit:organisation.pipeline.repository' must be '<owner>/<repository>' for a "
            "Bitbucket connection (pipeline.provider 'Bitbucket'): only GitLab nests groups",
        ),
        (
            (("pipeline.provider", "Gitlab"),),
            "'kmskit:organisation.pipeline.provider' must be the provider type of the "
            "connection, one of ['GitHub', 'GitHubEnterpriseServer', 'Bitbucket', 'GitLab', "
            "'GitLabSelfManaged']. Received: 'Gitlab'",
        ),
        (
            (("pipeline.provider", ["GitLab"]),),
            "'kmskit:organisation.pipeline.provider' must be the provider type of the "
            "connection, one of",
        ),
        # CDK Pipelines refuses more than 23 parts, with a raw jsii error at synth.
        (
            (("pipeline.provider", "GitLab"), ("pipeline.repository", "/".join(["g"] * 24))),
            f"{GITLAB_FORM} (at most 23 parts, as CDK Pipelines' connection source takes), each "
            "part of ASCII letters, digits, '_', '.' and '-'. Received: "
            f"'{'/'.join(['g'] * 24)}'",
        ),
        (
            (("pipeline.provider", "GitLab"), ("pipeline.repository", "group//repo")),
            f"{GITLAB_FORM} (at most 23 parts,",
        ),
        (
            (("pipeline.provider", "GitLab"), ("pipeline.repository", "group")),
            f"{GITLAB_FORM} (at most 23 parts,",
        ),
        (
            (("pipeline.provider", "GitLabSelfManaged"), ("pipeline.repository", "g/../repo")),
            f"{GITLAB_FORM}, none of its parts '.' or '..' (no Git host has such an owner, group "
            "or repository). Received: 'g/../repo'",
        ),
        (
            (("pipeline.provider", "GitLab"), ("pipeline.repository", "group/sub/repo.git")),
            "'kmskit:organisation.pipeline.repository' must name the repository without '.git' "
            "('group/sub/repo'): the pipeline's source takes",
        ),
    ],
)
def test_a_repository_the_providers_source_cannot_take_is_refused(
    changes: tuple[tuple[str, Any], ...], message: str
) -> None:
    assert refusal(with_changes(*changes)).startswith(message)


def test_a_gitlab_subgroup_repository_is_the_pipelines_source(tmp_path: Path) -> None:
    # The small organisation (one Region) with its source in a GitLab subgroup: the path goes
    # whole into the source action, and the action name stays within CodePipeline's characters.
    from stacks.app_builder import build_app  # noqa: PLC0415
    from tests._support.apps.small_org import SMALL_ORGANISATION  # noqa: PLC0415

    context = cdk_json_context()
    context[ORGANISATION_CONTEXT_KEY] = {
        **SMALL_ORGANISATION,
        "pipeline": {"provider": "GitLab", "repository": "platform/security/kms-toolkit"},
    }
    build_app(context=context, outdir=tmp_path).synth()
    template = json.loads((tmp_path / "Pipeline.template.json").read_text(encoding="utf-8"))
    (pipeline,) = [
        r for r in template["Resources"].values() if r["Type"] == "AWS::CodePipeline::Pipeline"
    ]
    (source,) = [s for s in pipeline["Properties"]["Stages"] if s["Name"] == "Source"]
    (action,) = source["Actions"]
    assert action["Configuration"]["FullRepositoryId"] == "platform/security/kms-toolkit"
    assert action["Name"] == "platform_security_kms-toolkit"


def test_the_longest_gitlab_path_accepted_is_the_longest_cdk_pipelines_takes() -> None:
    from aws_cdk import pipelines  # noqa: PLC0415

    arn = DEFAULT["pipeline"]["connection_arn"]
    longest = "/".join(["g"] * MAX_REPOSITORY_PARTS)
    pipelines.CodePipelineSource.connection(longest, "main", connection_arn=arn)
    with pytest.raises(RuntimeError, match="CodeStar repository name should be"):
        pipelines.CodePipelineSource.connection(f"{longest}/g", "main", connection_arn=arn)


# The example organisation in the AWS European Sovereign Cloud: one Region, so snapshots go to
# the backup account only.
SOVEREIGN: tuple[tuple[str, Any], ...] = (
    ("home_region", "eusc-de-east-1"),
    ("regions", ["eusc-de-east-1"]),
    ("replication.destinations", [{"account": "backup", "region": "eusc-de-east-1"}]),
    ("pipeline.region", "eusc-de-east-1"),
    ("key_inventory.caller_trusted_principal_arns", ["arn:aws-eusc:iam::111111111111:root"]),
)


def test_an_organisation_in_the_european_sovereign_cloud_is_in_the_aws_eusc_partition() -> None:
    config = with_changes(*SOVEREIGN)
    del config["pipeline"]["connection_arn"]
    organisation = load_organisation(config)
    assert organisation.regions == ("eusc-de-east-1",)
    assert organisation.pipeline.connection_arn.startswith(
        "arn:aws-eusc:codeconnections:eusc-de-east-1:111111111111:connection/"
    )
    with pytest.raises(ConstructPropError) as error:
        load_organisation(changed("regions", ["eu-central-1", "eusc-de-east-1"]))
    assert "'kmskit:organisation.regions[1]' must be in the partition of regions[0] ('aws')" in str(
        error.value
    )
    assert str(error.value).endswith("Received: 'eusc-de-east-1'")


def test_stage_ids_capitalise_each_part_of_the_alias() -> None:
    organisation = load_organisation(with_accounts(team_one=("444444444444", "workload")))
    assert [a.stage_id for a in organisation.accounts] == [
        "Security",
        "Workload",
        "Backup",
        "TeamOne",
    ]


def test_a_replicator_copies_to_every_destination_but_its_own_region_in_the_account() -> None:
    replication = load_organisation(DEFAULT).replication
    assert [(d.region, d.account) for d in replication.destinations_from("eu-west-1")] == [
        ("eu-central-1", None),
        ("eu-west-1", replication.destinations[1].account),
    ]
    assert replication.destinations_from("eu-central-1") == replication.destinations[1:]
    only_same_account = load_organisation(
        changed("replication.destinations", [{"region": "eu-central-1"}])
    ).replication
    assert only_same_account.destinations_from("eu-central-1") == ()


def test_configuration_can_live_in_a_file_named_by_cdk_json(tmp_path: Path) -> None:
    (tmp_path / "org.json").write_text(json.dumps(changed("name", "fromfile")))
    organisation = organisation_from_context(
        {ORGANISATION_FILE_CONTEXT_KEY: "org.json"}, root=tmp_path
    )
    assert organisation.name == "fromfile"
    with pytest.raises(
        ConstructPropError, match="'kmskit:organisation-file' must name a readable JSON"
    ):
        organisation_from_context({ORGANISATION_FILE_CONTEXT_KEY: "missing.json"}, root=tmp_path)


OUTSIDE_THE_ROOT = (
    "'kmskit:organisation-file' must name a file inside the project's root (the directory of "
    "cdk.json), not one that '..' or a symbolic link leads out of it: the pipeline's synth reads "
    "the file from a checkout of the repository. Received: "
)


@pytest.mark.parametrize(
    ("file_name", "message"),
    [
        (
            "{outside}",
            "'kmskit:organisation-file' must be a path from the project's root (the directory "
            "of cdk.json), not an absolute path: the pipeline's synth reads the file from a "
            "checkout of the repository. Received: '{outside}'",
        ),
        (
            "{root}/org.json",
            "'kmskit:organisation-file' must be a path from the project's root (the directory "
            "of cdk.json), not an absolute path: the pipeline's synth reads the file from a "
            "checkout of the repository. Received: '{root}/org.json'",
        ),
        (
            "C:/project/org.json",
            "'kmskit:organisation-file' must be a path from the project's root (the directory "
            "of cdk.json), not an absolute path: the pipeline's synth reads the file from a "
            "checkout of the repository. Received: 'C:/project/org.json'",
        ),
        ("../org.json", OUTSIDE_THE_ROOT + "'../org.json'"),
        ("config/../../org.json", OUTSIDE_THE_ROOT + "'config/../../org.json'"),
        ("link.json", OUTSIDE_THE_ROOT + "'link.json'"),
    ],
    ids=["absolute", "absolute-inside", "windows-drive", "parent", "nested-parent", "link"],
)
def test_a_configuration_file_outside_the_project_s_root_is_refused(
    tmp_path: Path, file_name: str, message: str
) -> None:
    # Synth worked where the file was, then the pipeline's synth, in a checkout of the
    # repository, found no such file.
    root = tmp_path / "project"
    (root / "config").mkdir(parents=True)
    outside = tmp_path / "org.json"
    outside.write_text(json.dumps(changed("name", "outside")))
    (root / "org.json").write_text(json.dumps(changed("name", "inside")))
    (root / "link.json").symlink_to(outside)
    names = {"outside": str(outside), "root": str(root)}
    with pytest.raises(ConstructPropError) as error:
        organisation_from_context(
            {ORGANISATION_FILE_CONTEXT_KEY: file_name.format(**names)}, root=root
        )
    assert str(error.value) == message.format(**names)
    inside = organisation_from_context(
        {ORGANISATION_FILE_CONTEXT_KEY: "config/../org.json"}, root=root
    )
    assert inside.name == "inside"


def test_a_link_with_an_absolute_target_inside_the_root_is_refused(tmp_path: Path) -> None:
    # conf -> /home/me/proj/real: inside the root where it was made, so a local synth worked;
    # the pipeline's checkout is in another directory, where the target is not.
    root = tmp_path / "project"
    (root / "real").mkdir(parents=True)
    (root / "real" / "org.json").write_text(json.dumps(changed("name", "real")))
    (root / "conf").symlink_to(root / "real")
    (root / "relative").symlink_to("real")
    (root / "real" / "link.json").symlink_to(root / "real" / "org.json")
    for file_name, link, target in (
        ("conf/org.json", "conf", root / "real"),
        ("real/link.json", "real/link.json", root / "real" / "org.json"),
    ):
        with pytest.raises(ConstructPropError) as error:
            organisation_from_context({ORGANISATION_FILE_CONTEXT_KEY: file_name}, root=root)
        assert str(error.value) == (
            "'kmskit:organisation-file' must not lead through a symbolic link with an absolute "
            f"target ('{link}' -> '{target}'): the pipeline's synth reads the file from a "
            "checkout of the repository in another directory, where that target is not (make "
            f"the link relative). Received: '{file_name}'"
        )
    # A relative link is in the checkout as it is here.
    organisation = organisation_from_context(
        {ORGANISATION_FILE_CONTEXT_KEY: "relative/org.json"}, root=root
    )
    assert organisation.name == "real"


def test_a_file_name_with_a_backslash_is_refused_on_every_platform(tmp_path: Path) -> None:
    # Written on Windows, "config\\org.json" works there, and CI on Linux finds no such file.
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "org.json").write_text(json.dumps(changed("name", "fromfile")))
    with pytest.raises(ConstructPropError) as error:
        organisation_from_context(
            {ORGANISATION_FILE_CONTEXT_KEY: "config\\org.json"}, root=tmp_path
        )
    assert str(error.value) == (
        "'kmskit:organisation-file' must separate folders with '/' (a '\\' works on Windows "
        "only: on Linux and macOS it is part of a file name). Received: 'config\\\\org.json'"
    )
    organisation = organisation_from_context(
        {ORGANISATION_FILE_CONTEXT_KEY: "config/org.json"}, root=tmp_path
    )
    assert organisation.name == "fromfile"


# Python's json reads NaN and Infinity in a configuration file. A Region field of NaN was sent to
# aws-cdk-lib's token check, which jsii cannot encode: the jsii kernel exited (a raw
# JSONDecodeError, then BrokenPipeError on every later CDK call of the process).
@pytest.mark.parametrize(
    ("path", "field", "value", "shown"),
    [
        ("home_region", "home_region", "NaN", "nan"),
        ("pipeline.region", "pipeline.region", "Infinity", "inf"),
        (
            "replication.destinations.0.region",
            "replication.destinations[0].region",
            "-Infinity",
            "-inf",
        ),
    ],
)
def test_nan_or_infinity_in_a_region_field_is_refused_naming_it(
    tmp_path: Path, path: str, field: str, value: str, shown: str
) -> None:
    marker = "__not_json__"
    (tmp_path / "org.json").write_text(
        json.dumps(changed(path, marker)).replace(f'"{marker}"', value)
    )
    with pytest.raises(ConstructPropError) as error:
        organisation_from_context({ORGANISATION_FILE_CONTEXT_KEY: "org.json"}, root=tmp_path)
    assert str(error.value) == (
        f"'kmskit:organisation.{field}' must be an AWS Region name such as 'eu-west-1'. "
        f"Received: {shown}"
    )
    assert load_organisation(DEFAULT).home_region == "eu-west-1"  # jsii still answers


# An ISO partition's key and bucket policies name accounts as arn:aws-iso-b:iam::<id>:root,
# which cfn-lint refuses (its schemas know aws, aws-cn and aws-us-gov): such an organisation
# loaded and synthesized, and failed the cfn-lint gate on every stack with a key.
@pytest.mark.parametrize(
    ("region", "name"),
    [
        ("us-iso-east-1", "aws-iso"),
        ("us-isob-east-1", "aws-iso-b"),
        ("us-isof-south-1", "aws-iso-f"),
        ("eu-isoe-west-1", "aws-iso-e"),
    ],
)
def test_a_region_of_an_iso_partition_is_refused_naming_it(region: str, name: str) -> None:
    assert refusal(
        with_changes(
            ("home_region", ...),
            ("regions", [region]),
            ("replication", ...),
            ("pipeline", ...),
        )
    ) == (
        f"'kmskit:organisation.regions[0]' must be in one of the partitions ['aws', 'aws-cn', "
        f"'aws-us-gov', 'aws-eusc'], not '{name}': cfn-lint, which checks every synthesized "
        "template, refuses the account ARNs of an ISO partition in key and bucket policies. "
        f"Received: '{region}'"
    )


# A string holding aws-cdk-lib's encoding of a number token passed the tag and branch patterns,
# and synth failed: "RuntimeError: UnrecognizedTokenKey: Unrecognized token key: -1.88...e+289".
@pytest.mark.parametrize(
    ("path", "field", "value"),
    [
        (
            "replication.selection_tag.key",
            "replication.selection_tag.key",
            "-1.8881545897087626e+289",
        ),
        (
            "replication.selection_tag.value",
            "replication.selection_tag.value",
            "x-1.1234567890e+289",
        ),
        ("pipeline.branch", "pipeline.branch", "fix-1.8881545897087626e+289"),
    ],
)
def test_a_value_aws_cdk_lib_takes_for_a_number_token_is_refused(
    path: str, field: str, value: str
) -> None:
    assert refusal(changed(path, value)) == (
        f"'kmskit:organisation.{field}' must not hold '-1.<10 to 16 digits>e+289', which "
        f"aws-cdk-lib takes for a number token and fails to resolve at synth. Received: {value!r}"
    )


def test_a_number_not_shaped_as_a_number_token_is_taken() -> None:
    # 17 digits, or 9, are no token (aws-cdk-lib's pattern takes 10 to 16).
    organisation = load_organisation(
        with_changes(
            ("replication.selection_tag.value", "-1.12345678901234567e+289"),
            ("pipeline.branch", "v-1.123456789e+289"),
        )
    )
    assert organisation.pipeline.branch == "v-1.123456789e+289"


def test_a_configuration_file_takes_precedence_over_the_inline_value(tmp_path: Path) -> None:
    # docs/deploy.md, "Configure": cdk.json keeps its inline example when it names a file.
    (tmp_path / "org.json").write_text(json.dumps(changed("name", "fromfile")))
    organisation = organisation_from_context(
        {ORGANISATION_CONTEXT_KEY: DEFAULT, ORGANISATION_FILE_CONTEXT_KEY: "org.json"},
        root=tmp_path,
    )
    assert organisation.name == "fromfile"


def test_a_key_twice_in_cdk_json_is_refused_as_in_a_configuration_file(tmp_path: Path) -> None:
    # The inline organisation is the default: json (and the CDK CLI) kept the last of two
    # accounts pasted under one alias, and the first vanished without a word.
    text = json.dumps({"context": {ORGANISATION_CONTEXT_KEY: DEFAULT}})
    account = '"workload": {"id": "444444444444", "role": "workload"}, '
    (tmp_path / "cdk.json").write_text(text.replace('"accounts": {', '"accounts": {' + account))
    with pytest.raises(ConstructPropError) as error:
        cdk_json_context(tmp_path / "cdk.json")
    assert str(error.value) == (
        "'cdk.json' must be readable JSON in UTF-8 with a 'context' object and no key twice in "
        "one object. Received: \"the key 'workload' appears twice in one object\""
    )


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        # A traceback before: UnicodeDecodeError, RecursionError.
        (b'{"name": "caf\xe9"}', "can't decode byte 0xe9"),
        (b"[" * 100_000 + b"]" * 100_000, "maximum recursion depth"),
        # json keeps the last of two equal keys: an account copied from the docs vanished.
        (
            b'{"accounts": {"workload": {"id": "444444444444"}, "workload": {"id": "1"}}}',
            "the key 'workload' appears twice in one object",
        ),
    ],
)
def test_a_configuration_file_that_is_no_clean_json_is_refused_naming_it(
    tmp_path: Path, content: bytes, problem: str
) -> None:
    (tmp_path / "org.json").write_bytes(content)
    with pytest.raises(ConstructPropError) as error:
        organisation_from_context({ORGANISATION_FILE_CONTEXT_KEY: "org.json"}, root=tmp_path)
    assert str(error.value).startswith(
        "'kmskit:organisation-file' must name a readable JSON file in UTF-8 ("
    )
    assert problem in str(error.value)


@dataclass
class FakeStage:
    stage_name: str
    stack_count: int


def fake(stage_name: str, stack_count: int) -> AccountStage:
    """A stand-in for an :class:`AccountStage`: the planners read only these two attributes."""
    return cast(AccountStage, FakeStage(stage_name, stack_count))


def test_waves_are_split_to_stay_within_codepipeline_action_quota() -> None:
    workloads = [fake(f"W{i}", 7) for i in range(8)]  # 14 actions each: 3 per wave
    waves = plan_waves(
        [
            ("Security", [fake("S", 3)]),
            ("Workloads", workloads),
            ("Backup", [fake("B", 4)]),
        ]
    )
    assert [name for name, _ in waves] == [
        "Security",
        "Workloads-1",
        "Workloads-2",
        "Workloads-3",
        "Backup",
    ]
    assert [len(stages) for _, stages in waves] == [1, 3, 3, 2, 1]
    for _, stages in waves:
        assert sum(2 * s.stack_count for s in stages) <= MAX_ACTIONS_PER_WAVE


def pipeline_actions(pipeline: list[tuple[str, list[AccountStage]]]) -> int:
    return FIXED_PIPELINE_STAGES + sum(2 * s.stack_count for _, stages in pipeline for s in stages)


def test_waves_past_codepipeline_action_quota_go_to_further_pipelines_in_order() -> None:
    # 150 environments' worth: 73 workload accounts of 7 stacks, 1,036 deploy actions with the
    # security (3 stacks) and backup (4) stages.
    workloads = [fake(f"W{i}", 7) for i in range(73)]
    waves = plan_waves(
        [
            ("Security", [fake("S", 3)]),
            ("Workloads", workloads),
            ("Backup", [fake("B", 4)]),
        ]
    )
    pipelines = plan_pipelines(waves)
    assert len(pipelines) == 3
    assert [wave for pipeline in pipelines for wave in pipeline] == waves
    assert pipelines[0][0][0] == "Security"
    assert pipelines[-1][-1][0] == "Backup"
    for pipeline in pipelines:
        assert pipeline_actions(pipeline) <= MAX_PIPELINE_ACTIONS
    # Each pipeline but the last is full: a further wave would not have fitted.
    for pipeline, following in itertools.pairwise(pipelines):
        next_wave = 2 * sum(s.stack_count for s in following[0][1])
        assert pipeline_actions(pipeline) + next_wave > MAX_PIPELINE_ACTIONS


def test_a_pipeline_holds_at_most_codepipeline_stage_quota() -> None:
    waves = [(f"W{i}", [fake(f"W{i}", 1)]) for i in range(60)]  # 2 actions each
    pipelines = plan_pipelines(waves)
    first = MAX_PIPELINE_STAGES - FIXED_PIPELINE_STAGES
    assert [len(p) for p in pipelines] == [first, len(waves) - first]


def test_a_small_organisation_needs_one_pipeline() -> None:
    waves = [("Security", [fake("S", 3)]), ("Workloads", [fake("W", 7)])]
    assert plan_pipelines(waves) == [waves]


def test_account_stages_are_planned_as_the_fake_stages_above() -> None:
    # The planners read stage_name and stack_count, as the fake stages above offer them.
    import aws_cdk as cdk  # noqa: PLC0415

    organisation = load_organisation(DEFAULT)
    app = cdk.App()
    stage = AccountStage(
        app,
        organisation.security_account.stage_id,
        organisation=organisation,
        account=organisation.security_account,
    )
    assert stage.stage_name == "Security"
    assert stage.stack_count == 3  # keys in two Regions, the audit trail
    assert plan_pipelines(plan_waves([("Security", [stage])])) == [[("Security", [stage])]]


NINE_REGIONS = [
    "eu-west-1",
    "eu-central-1",
    "eu-west-2",
    "eu-west-3",
    "eu-north-1",
    "eu-south-1",
    "us-east-1",
    "us-east-2",
    "us-west-2",
]


def test_more_regions_than_a_wave_deploys_are_refused_naming_regions_before_any_stage() -> None:
    import aws_cdk as cdk  # noqa: PLC0415

    organisation = load_organisation(changed("regions", NINE_REGIONS))
    app = cdk.App()
    with pytest.raises(ConstructPropError) as raised:
        add_organisation(app, organisation)
    message = str(raised.value)
    assert "'kmskit:organisation.regions' has 9 Regions" in message
    assert "28 stacks in the stage of account 'workload' (workload)" in message
    assert "at most 25 stacks" in message
    assert f"Received: {NINE_REGIONS}" in message
    assert app.node.children == []  # refused before any stage was built


def test_eight_regions_fit_in_a_wave() -> None:
    organisation = load_organisation(changed("regions", NINE_REGIONS[:8]))
    require_stages_fit_in_waves(organisation)
    counts = [planned_stack_count(organisation, a) for a in organisation.accounts]
    assert max(counts) == 25  # the workload account: 3 stacks per Region and its audit stack


@pytest.mark.parametrize("same_account_only", [False, True])
def test_planned_stack_counts_are_the_stacks_each_stage_builds(same_account_only: bool) -> None:
    import aws_cdk as cdk  # noqa: PLC0415

    config = DEFAULT
    if same_account_only:  # eu-central-1 copies only to itself: no replicator there
        config = changed("replication.destinations", [{"region": "eu-west-1"}])
    organisation = load_organisation(config)
    app = cdk.App()
    for account in organisation.accounts:
        stage = AccountStage(app, account.stage_id, organisation=organisation, account=account)
        assert stage.stack_count == planned_stack_count(organisation, account), account.alias


@pytest.mark.parametrize("branch", ["main", "release/2026.12", "feature/KMS-7_audit", "v1.2-rc"])
def test_ordinary_branch_names_are_accepted(branch: str) -> None:
    assert load_organisation(changed("pipeline.branch", branch)).pipeline.branch == branch


# docs/deploy.md, "Changing a deployed organisation": what the operator records once deployed.
DEPLOYED = {
    "name": "example",
    "home_region": "eu-west-1",
    "accounts": {"security": "111111111111", "workload": "222222222222", "backup": "333333333333"},
    "pipeline": {"account": "security", "region": "eu-west-1"},
}
BECAUSE = "; docs/deploy.md, 'Changing a deployed organisation', says what such a change needs"


def deployed_context(config: dict[str, Any], deployed: Any = DEPLOYED) -> dict[str, Any]:
    return {ORGANISATION_CONTEXT_KEY: config, DEPLOYED_CONTEXT_KEY: deployed}


def test_the_documented_record_is_the_default_organisation_s() -> None:
    """The record docs/deploy.md tells an operator to add is the one these tests hold the
    default organisation to (and it accepts that organisation)."""
    deploy_md = Path(__file__).parents[2] / "docs" / "deploy.md"
    (record,) = [
        json.loads("{" + "\n".join(block.lines) + "}")
        for block in fenced_blocks(deploy_md, {"json"})
        if DEPLOYED_CONTEXT_KEY in "\n".join(block.lines)
    ]
    assert record == {DEPLOYED_CONTEXT_KEY: DEPLOYED}
    assert organisation_from_context(deployed_context(DEFAULT, record[DEPLOYED_CONTEXT_KEY]))


@pytest.mark.parametrize(
    "config",
    [
        DEFAULT,
        # Adding an account and a Region, removing one, and every other field stay free.
        with_changes(
            ("regions", ["eu-west-1", "eu-central-1", "eu-north-1"]),
            ("audit.log_retention_days", 731),
            ("replication.resource_types", ["EBS"]),
        ),
        with_accounts(workload_two=("444444444444", "workload")),
        with_changes(
            ("accounts.backup", ...),
            ("replication.destinations", [{"region": "eu-central-1"}]),
        ),
    ],
    ids=["unchanged", "grown-and-tuned", "account-added", "account-removed"],
)
def test_what_is_deployed_may_grow_and_be_tuned(config: dict[str, Any]) -> None:
    assert organisation_from_context(deployed_context(config)).name == "example"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            changed("name", "acme"),
            "'kmskit:organisation.name' must stay 'example' once deployed (kmskit:deployed.name "
            "records it): every key alias, the central audit bucket, the trails, their log groups "
            f"and the pipeline are named after it and would be replaced{BECAUSE}. "
            "Received: 'acme'",
        ),
        (
            changed("home_region", "eu-central-1"),
            "'kmskit:organisation.home_region' must stay 'eu-west-1' once deployed "
            "(kmskit:deployed.home_region records it): the multi-Region keys' primaries and "
            "every audit stack are there: a new home makes new multi-Region keys and moves the "
            f"trails and the central audit bucket{BECAUSE}. Received: 'eu-central-1'",
        ),
        (
            renamed("workload", "team-a"),
            "'kmskit:organisation.accounts' must keep the alias 'workload' of deployed account "
            "222222222222 (kmskit:deployed.accounts records it): its stacks are named after it: "
            "stacks under a new alias are new stacks that make new keys, and their key aliases "
            "and event buses meet those of the stacks deployed under the old one ('already "
            f"exists'){BECAUSE}. Received: 'team-a'",
        ),
        (
            changed("accounts.backup.id", "555555555555"),
            "'kmskit:organisation.accounts.backup.id' must stay '333333333333' once deployed "
            "(kmskit:deployed.accounts.backup records it): its stacks would be new stacks in "
            f"another account, with new keys{BECAUSE}. Received: '555555555555'",
        ),
        (
            changed("pipeline.region", "eu-central-1"),
            "'kmskit:organisation.pipeline.region' must stay 'eu-west-1' once deployed "
            "(kmskit:deployed.pipeline.region records it): the pipeline and its artifact stacks "
            "would be new stacks, whose bucket and key alias names the deployed ones still hold"
            f"{BECAUSE}. Received: 'eu-central-1'",
        ),
        (
            changed("pipeline.account", "workload"),
            "'kmskit:organisation.pipeline.account' must stay 'security' once deployed "
            "(kmskit:deployed.pipeline.account records it): the pipeline and its artifact stacks "
            "would be new stacks, whose bucket and key alias names the deployed ones still hold"
            f"{BECAUSE}. Received: 'workload'",
        ),
    ],
    ids=["name", "home_region", "alias", "id", "pipeline.region", "pipeline.account"],
)
def test_a_change_of_what_is_deployed_is_refused_by_field(
    config: dict[str, Any], message: str
) -> None:
    load_organisation(config)  # a valid organisation: only the record refuses it
    with pytest.raises(ConstructPropError) as error:
        organisation_from_context(deployed_context(config))
    assert str(error.value) == message


@pytest.mark.parametrize(
    ("deployed", "message"),
    [
        (["example"], "'kmskit:deployed' must be an object. Received: ['example']"),
        (
            {"regions": ["eu-west-1"]},
            "'kmskit:deployed' may only have the keys ['name', 'home_region', 'accounts', "
            "'pipeline']. Received: 'regions'",
        ),
        (
            {"accounts": ["security"]},
            "'kmskit:deployed.accounts' must map each deployed account alias to its ID (a "
            "string). Received: ['security']",
        ),
        # The record's own values are checked before they are compared with the organisation:
        # "'...accounts.workload.id' must stay '2222' once deployed" blamed the organisation.
        (
            {"accounts": {"security": 111111111111}},
            "'kmskit:deployed.accounts.security' must be a 12-digit AWS account ID as a JSON "
            "string, in quotes (a number loses an ID's leading zeros). Received: 111111111111",
        ),
        (
            {"accounts": {"workload": "2222"}},
            "'kmskit:deployed.accounts.workload' must be a 12-digit AWS account ID. "
            "Received: '2222'",
        ),
        (
            {"accounts": {"Workload": "222222222222"}},
            "'kmskit:deployed.accounts' must be an account alias (at most 30 lowercase letters "
            "and digits, starting with a letter, with single '-' between them). "
            "Received: 'Workload'",
        ),
        (
            {"accounts": {"workload": "222222222222", "team-a": "222222222222"}},
            "'kmskit:deployed.accounts.team-a' must not repeat the ID of deployed account "
            "'workload'. Received: '222222222222'",
        ),
        (
            {"home_region": 5},
            "'kmskit:deployed.home_region' must be an AWS Region name such as 'eu-west-1'. "
            "Received: 5",
        ),
        (
            {"home_region": "eu-north-9"},
            "'kmskit:deployed.home_region' must be an AWS Region that aws-cdk-lib knows (a newer "
            "aws-cdk-lib may know a new one). Received: 'eu-north-9'",
        ),
        (
            {"name": "Example"},
            "'kmskit:deployed.name' must be 1-20 lowercase letters and digits, starting with a "
            "letter, with single '-' between them. Received: 'Example'",
        ),
        (
            {"pipeline": {"account": 1}},
            "'kmskit:deployed.pipeline.account' must be an account alias (at most 30 lowercase "
            "letters and digits, starting with a letter, with single '-' between them). "
            "Received: 1",
        ),
        (
            {"pipeline": {"region": "EU-WEST-1"}},
            "'kmskit:deployed.pipeline.region' must be an AWS Region name such as 'eu-west-1'. "
            "Received: 'EU-WEST-1'",
        ),
        (
            {"pipeline": {"branch": "main"}},
            "'kmskit:deployed.pipeline' may only have the keys ['account', 'region']. "
            "Received: 'branch'",
        ),
    ],
)
def test_a_malformed_deployed_record_is_refused(deployed: Any, message: str) -> None:
    with pytest.raises(ConstructPropError) as error:
        organisation_from_context(deployed_context(DEFAULT, deployed))
    assert str(error.value) == message


def test_an_organisation_without_a_pipeline_records_none() -> None:
    china = with_changes(*CHINA)
    record = {"name": "example", "home_region": "cn-north-1"}
    assert organisation_from_context(deployed_context(china, record)).pipeline is None
    with pytest.raises(ConstructPropError) as error:
        organisation_from_context(deployed_context(china, {"pipeline": {"region": "cn-north-1"}}))
    assert str(error.value) == (
        "'kmskit:deployed.pipeline' must be left out: the app builds no pipeline in partition "
        "'aws-cn': CodePipeline is not available in the Beijing and Ningxia Regions (Getting "
        "Started with Amazon Web Services in China, 'Amazon CodeBuild'). "
        "Received: {'region': 'cn-north-1'}"
    )


def test_a_pipeline_turned_off_records_none() -> None:
    config = changed("pipeline", {"enabled": False})
    record = {"name": "example", "home_region": "eu-west-1"}
    assert organisation_from_context(deployed_context(config, record)).pipeline is None
    with pytest.raises(ConstructPropError) as error:
        organisation_from_context(deployed_context(config))
    assert str(error.value) == (
        "'kmskit:deployed.pipeline' must be left out: the app builds no pipeline "
        "(pipeline.enabled is false). The deployed Pipeline and PipelineArtifacts-<region> "
        "stacks keep running on every push, and every account keeps trusting the pipeline "
        "account: delete those stacks first, then run 'npx cdk bootstrap "
        "aws://<account>/<region> --untrust <pipeline account>' for every account and Region "
        "(docs/deploy.md, 'Turning the pipeline off'). "
        "Received: {'account': 'security', 'region': 'eu-west-1'}"
    )


# An organisation deployed with its pipeline in a Region without CodeConnections (accepted
# before the check), with kmskit:deployed recording it.
DEPLOYED_IN_HONG_KONG = {"pipeline": {"account": "security", "region": "ap-east-1"}}
WITH_HONG_KONG = ("regions", ["eu-west-1", "eu-central-1", "ap-east-1"])


def test_a_refused_pipeline_region_names_the_deployed_record() -> None:
    # The refusal's advice, another Region, met a second refusal: "must stay ... once deployed".
    config = with_changes(WITH_HONG_KONG, ("pipeline.region", "ap-east-1"))
    with pytest.raises(ConstructPropError) as error:
        organisation_from_context(deployed_context(config, DEPLOYED_IN_HONG_KONG))
    assert str(error.value).endswith(
        'or turn the pipeline off with "pipeline": {"enabled": false} and deploy each '
        "account's stage directly (docs/deploy.md, 'Without the pipeline'). "
        "kmskit:deployed.pipeline.region records 'ap-east-1': a pipeline in another Region is a "
        "new Pipeline stack with new PipelineArtifacts-<region> stacks, so change that record "
        "in the same commit, having moved the pipeline as docs/deploy.md, 'Changing a deployed "
        "organisation', says (to turn the pipeline off instead, remove pipeline from that "
        "record). Received: 'ap-east-1'"
    )
    # Without a record, nothing is said of one.
    assert "kmskit:deployed" not in refusal(config)


def test_a_deployed_pipeline_region_without_codeconnections_says_it_cannot_stay() -> None:
    config = with_changes(WITH_HONG_KONG, ("pipeline.region", "eu-west-1"))
    with pytest.raises(ConstructPropError) as error:
        organisation_from_context(deployed_context(config, DEPLOYED_IN_HONG_KONG))
    assert str(error.value) == (
        "'kmskit:organisation.pipeline.region' must stay 'ap-east-1' once deployed "
        "(kmskit:deployed.pipeline.region records it): the pipeline and its artifact stacks "
        "would be new stacks, whose bucket and key alias names the deployed ones still hold"
        f"{BECAUSE}. 'ap-east-1' has no CodeConnections, the pipeline's source, so the pipeline "
        "cannot stay there: having moved it as that section says, change "
        "kmskit:deployed.pipeline.region to 'eu-west-1' in the same commit (or turn the "
        f"pipeline off with {PIPELINE_OFF} and remove pipeline from the record). "
        "Received: 'eu-west-1'"
    )
    # Moved, with the record changed in the same commit, or turned off with the record's
    # pipeline removed: accepted.
    moved = {"pipeline": {"account": "security", "region": "eu-west-1"}}
    assert organisation_from_context(deployed_context(config, moved)).pipeline is not None
    turned_off = changed("pipeline", {"enabled": False})
    assert organisation_from_context(deployed_context(turned_off, {})).pipeline is None


def test_the_app_reads_the_deployed_record_from_its_context(tmp_path: Path) -> None:
    from stacks.app_builder import build_app  # noqa: PLC0415

    context = cdk_json_context()
    context[DEPLOYED_CONTEXT_KEY] = {**DEPLOYED, "name": "acme"}
    with pytest.raises(ConstructPropError, match=r"^'kmskit:organisation.name' must stay 'acme'"):
        build_app(context=context, outdir=tmp_path)


@pytest.mark.parametrize("region", OPT_IN)
def test_opt_in_regions_are_accepted_as_home_and_destination(region: str) -> None:
    # Regions that AWS disables until an account enables them are Regions like any other for the
    # configuration: synth cannot see whether each account has enabled one (docs/deploy.md,
    # "Opt-in Regions", says to enable it before bootstrapping).
    organisation = load_organisation(
        with_changes(
            ("regions", ["eu-west-1", "eu-central-1", region]),
            ("home_region", region),
            ("replication.destinations", [{"account": "backup", "region": region}]),
        )
    )
    assert organisation.home_region == region
    assert organisation.ordered_regions == (region, "eu-west-1", "eu-central-1")
    assert [d.region for d in organisation.replication.destinations] == [region]


def test_a_short_retention_is_taken_without_a_backup_account_destination() -> None:
    # Only a receiver needs two weeks; same-account replicas may be kept for a week.
    organisation = load_organisation(
        with_changes(
            ("replication.retention_days", 7),
            ("replication.destinations", [{"region": "eu-central-1"}]),
        )
    )
    assert organisation.replication.retention_days == 7

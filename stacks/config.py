"""The organisation the example app deploys, from one configuration.

The configuration is the ``kmskit:organisation`` value of cdk.json context, or a JSON file that
cdk.json names with ``kmskit:organisation-file``. :func:`load_organisation` validates it and names
the field and value of any error, for example::

    'kmskit:organisation.accounts.workload.id' must be a 12-digit AWS account ID.
    Received: '12'

Shape (every field but ``accounts`` and ``regions`` has a default, which a key left out takes;
``null`` is refused in every key, sections included: leave the key out)::

    {
      "name": "example",                      # prefix of aliases, bucket and trail names
      "home_region": "eu-west-1",             # multi-Region primaries, audit bucket, pipeline
      "regions": ["eu-west-1", "eu-central-1"],
      "tags": {"CostCenter": "cc-1234"},      # on every stack and taggable resource (default {})
      "accounts": {
        "security": {"id": "111111111111", "role": "security"},
        "workload": {"id": "222222222222", "role": "workload",
                     "tags": {"Environment": "prod"}},    # this account's, over the above
        "backup":   {"id": "333333333333", "role": "backup"}
      },
      "audit": {
        "log_retention_days": 365,
        "object_lock": {"mode": "GOVERNANCE", "days": 365}  # optional: no Object Lock without it
      },
      "replication": {
        "resource_types": ["EBS", "RDS", "AURORA"],
        "selection_tag": {"key": "backup", "value": "replicate"},
        "retention_days": 14,
        "destinations": [
          {"region": "eu-central-1"},                      # same account, from its other Regions
          {"account": "backup", "region": "eu-west-1"}      # the backup account
        ]
      },
      "pipeline": {
        "enabled": true,                      # false: no pipeline, and no other key here
        "account": "security", "region": "eu-west-1",
        "provider": "GitHub",                 # the connection's Git host: GitLab and
                                              # GitLabSelfManaged take group/subgroup/repo too
        "repository": "example-org/kms-toolkit", "branch": "main",
        "connection_arn": "arn:aws:codeconnections:eu-west-1:111111111111:connection/..."
      },
      "key_inventory": {                      # optional: no inventory role without it
        "account": "security",                # the account that runs kmskit key inventory
        "caller_role_name": "platform-inventory",  # the role there that runs it
        "caller_role_path": "/platform/",     # its IAM path (default "/": none)
        "caller_trusted_principal_arns": [    # optional: who may assume that role, which the
          "arn:aws:iam::111111111111:root"    # account's Audit stack then deploys (default:
        ],                                    # none, the role is yours to create)
        "inventory_role_path": "/platform/",  # the inventory roles' IAM path (default "/")
        "organization_id": "o-a1b2c3d4e5"     # optional, needs caller_trusted_principal_arns:
      }                                       # the caller may read every account of this AWS
    }                                         # Organization (default: the accounts above only)

Snapshot copies are encrypted with the snapshot key of the KeyStack in the destination Region, so
every destination Region must be one of ``regions``. A same-account destination is copied to from
the workload accounts' other Regions (a Region whose only destination is itself has no
replicator). Every Region is in one partition. In the China Regions, where CodePipeline is not
available (NO_PIPELINE_PARTITIONS), ``pipeline`` must be left out (or be ``{"enabled": false}``)
and the app builds no pipeline: its stages are deployed directly. In every partition,
``"pipeline": {"enabled": false}`` builds no pipeline in the same way. ``pipeline.region`` is a
Region where CodeConnections, the pipeline's source, runs (CONNECTION_REGIONS).
``kmskit:organisation-file`` names a file inside the project's root, which the pipeline's synth
finds in its checkout. docs/deploy.md, "Configure", lists the rules that span fields.

Once deployed, ``kmskit:deployed`` in cdk.json context may record the fields whose change would
move or replace stacks, keys and names (``name``, ``home_region``, ``accounts`` as alias to ID,
``pipeline.account`` and ``pipeline.region``); :func:`check_deployed` checks the record's values,
then refuses a change of them, naming the field and value (docs/deploy.md, "Changing a deployed
organisation").
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from constructs_lib._validation import (
    OBJECT_LOCK_MODES,
    RECEIVER_MIN_RETENTION_DAYS,
    RECEIVER_RETENTION_REQUIREMENT,
    REPLICATION_RETENTION_DAYS,
    RESERVED_BUCKET_PREFIXES,
    ConstructPropError,
    check_account_id,
    check_no_number_token,
    check_object_lock_period,
    check_organization_id,
    check_range,
    check_region,
    is_token,
    require,
)
from kmskit.aws_names import partition
from kmskit.aws_tags import (
    MAX_TAGS_PER_RESOURCE,
    tag_key_problem,
    valid_tag_value,
)
from kmskit.inventory_role import (
    PRINCIPAL_ARN_RULE,
    ROLE_NAME_PATTERN,
    ROLE_NAME_RULE,
    ROLE_PATH_RULE,
    principal_arn,
    role_arn,
    valid_role_path,
)

ORGANISATION_CONTEXT_KEY = "kmskit:organisation"
ORGANISATION_FILE_CONTEXT_KEY = "kmskit:organisation-file"
# What is deployed, recorded by the operator after the first deploy (docs/deploy.md, "Changing a
# deployed organisation"): the fields whose change moves or replaces stacks, keys and names.
DEPLOYED_CONTEXT_KEY = "kmskit:deployed"
ROLES = ("security", "workload", "backup")
# Each role's accounts deploy in a pipeline wave of this name (stacks.organisation.WAVES), in the
# order of ROLES.
WAVE_NAMES = {"security": "Security", "workload": "Workloads", "backup": "Backup"}
RESOURCE_TYPES = ("EBS", "RDS", "AURORA")
PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The partitions an organisation may be in. cfn-lint, which checks every synthesized template,
# knows the account ARNs of aws, aws-cn and aws-us-gov only: in an ISO partition (aws-iso,
# aws-iso-b, aws-iso-e, aws-iso-f) it refuses every key and bucket policy naming an account
# (arn:aws-iso-b:iam::<account>:root), so such an organisation could never pass the gates.
# aws-eusc fails cfn-lint in the same way; it stays accepted, as docs/deploy.md documents it
# (tests/stacks/test_example_app.py holds it to the cdk-nag packs only).
PARTITIONS = ("aws", "aws-cn", "aws-us-gov", "aws-eusc")
# The partitions where the pipeline cannot run, and why: there the app builds no pipeline, and
# each account's stage is deployed directly (docs/deploy.md, "Without the pipeline"); in any
# other partition ``"pipeline": {"enabled": false}`` does the same. In the AWS GovCloud (US)
# Regions CodePipeline and CodeBuild are available (AWS GovCloud (US) User Guide, "AWS CodeBuild
# in AWS GovCloud (US)"), so they keep the pipeline. aws-eusc keeps it too, unverified: no AWS
# page we found lists the European Sovereign Cloud's services; its CloudFormation registry
# (eusc-de-east-1, as cfn-lint 1.58 carries it) has AWS::CodePipeline::Pipeline,
# AWS::CodeBuild::Project and AWS::CodeConnections::Connection, while botocore 1.44 has
# CodePipeline and CodeBuild endpoints there but no codestar-connections endpoint in aws-eusc (it
# has them in the 17 commercial Regions of CONNECTION_REGIONS and both GovCloud (US) Regions)
# (docs/deploy.md, "Configure").
NO_PIPELINE_PARTITIONS = {
    "aws-cn": "CodePipeline is not available in the Beijing and Ningxia Regions (Getting Started "
    "with Amazon Web Services in China, 'Amazon CodeBuild')",
}

# The Regions of each partition where the pipeline's source, a CodeStarSourceConnection action of
# AWS CodeConnections, runs; a partition not listed is not checked. In "aws": the CodePipeline
# User Guide ("CodeStarSourceConnection for Bitbucket Cloud, GitHub, GitHub Enterprise Server,
# GitLab.com, and GitLab self-managed actions") says the action "is not available in" Hong Kong,
# Hyderabad, Jakarta, Melbourne, Osaka, Cape Town, Bahrain, UAE, Spain, Zurich and Tel Aviv; the
# CloudFormation registry of each Region (AWS::CodeConnections::Connection, as cfn-lint 1.58
# carries it) and botocore 1.44's endpoints for codestar-connections both give these 17 Regions,
# which also leave out the Regions opened since that note (ap-east-2, ap-southeast-5 to -7,
# ca-west-1, mx-central-1). AWS General Reference, "CodeConnections endpoints and quotas", lists
# the endpoints (our stored copy is cut off after the first ten, all here).
# tests/stacks/test_config.py holds the list to cfn-lint's registry schemas: a cfn-lint whose
# registry brings connections to another Region fails it until the Region is added here. Not
# checked: aws-us-gov (the same note names AWS GovCloud (US-West), whose registry has
# AWS::CodeConnections::Connection) and aws-eusc (its registry has it; no AWS page we found says
# either way), which docs/deploy.md describes.
CONNECTION_REGIONS: dict[str, frozenset[str]] = {
    "aws": frozenset(
        {
            "ap-northeast-1", "ap-northeast-2", "ap-south-1", "ap-southeast-1", "ap-southeast-2",
            "ca-central-1", "eu-central-1", "eu-north-1", "eu-south-1", "eu-west-1", "eu-west-2",
            "eu-west-3", "sa-east-1", "us-east-1", "us-east-2", "us-west-1", "us-west-2",
        }
    ),
}  # fmt: skip

# Lowercase words of letters and digits joined by single hyphens: the name and the aliases make
# trail names (``<name>-<alias>``), which CloudTrail refuses with two adjacent or a trailing '-'.
NAME_PATTERN = re.compile(r"^(?=.{1,20}\Z)[a-z][a-z0-9]*(-[a-z0-9]+)*\Z")
ALIAS_PATTERN = re.compile(r"^(?=.{1,30}\Z)[a-z][a-z0-9]*(-[a-z0-9]+)*\Z")
ALIAS_RULE = (
    "at most 30 lowercase letters and digits, starting with a letter, with single '-' between them"
)
# The name starts the names of S3 buckets (``<name>-audit-...``, ``<name>-pipeline-...``), which
# S3 refuses with RESERVED_BUCKET_PREFIXES, and KMS aliases (``alias/<name>/...``), where
# ``alias/aws/`` is reserved for AWS managed keys.
RESERVED_NAMES = ("aws",)
# Top-level construct IDs of the pipeline's stacks (Pipeline, Pipeline2, Pipeline3, ...,
# PipelineArtifacts-<region>), which an account's stage ID must not take. The first pipeline has
# no number (stacks.pipeline_stack.pipeline_suffix) and the others' numbers no leading zero, so
# Pipeline0, Pipeline1 and Pipeline02 are no pipeline's: their stages' cloud assemblies and stack
# names (Pipeline1-Keys-<region>) meet none of the pipeline's.
PIPELINE_STACK_IDS = re.compile(r"^pipeline([2-9]|[1-9][0-9]+|artifacts)?\Z", re.IGNORECASE)
# The pipeline's own CodePipeline stages: CDK Pipelines' Source, Build, UpdatePipeline and Assets,
# and HandOff (stacks.pipeline_stack.HAND_OFF_STAGE) in a chain. A wave of one account stage is a
# CodePipeline stage named after its stage ID, so an account may not take one of these: CDK
# refuses the duplicate stage (or finds a dependency cycle), and in the last pipeline of a chain a
# wave named HandOff would start a pipeline left over from a longer chain, which starts on the
# success of the previous pipeline's HandOff stage, with its stale hand-off. Compared exactly, as
# aws-cdk-lib compares stage names (Pipeline.addStage, '==='), and as the chain's EventBridge rule
# matches "HandOff": a stage ID 'Handoff' is accepted. Whether CodePipeline itself tells stage
# names apart by case is not stated in its API reference (StageName: [A-Za-z0-9.@\-_]+).
PIPELINE_STAGE_NAMES = ("Source", "Build", "UpdatePipeline", "Assets", "HandOff")
# Tags are checked by AWS's rules (kmskit.aws_tags: character set and lengths, reserved prefixes,
# keys differing only in case, MAX_TAGS_PER_RESOURCE); a value may be empty, as AWS allows.
# The toolkit's constructs and stacks set no tags of their own (tests/stacks/test_tags.py holds
# every template to it), so all MAX_TAGS_PER_RESOURCE are the configuration's: the organisation's
# and one account's together.
# ASCII classes, not \d and \w, which match digits and letters of any script. Groups: partition,
# service, Region, account. A connection is a global resource: the Region in its ARN is where it
# was created, and it serves a pipeline in any Region ("Global resources in AWS CodeConnections",
# Developer Tools console user guide), so the Region is not compared with the pipeline's.
CONNECTION_ARN_PATTERN = re.compile(
    r"^arn:(aws[a-z-]*):(codeconnections|codestar-connections):([a-z0-9-]+):([0-9]{12}):"
    r"connection/[A-Za-z0-9-]{1,64}\Z"
)
CONNECTION_ARN_FORM = (
    "arn:<partition>:codeconnections:<region>:<account>:connection/<id> (or codestar-connections)"
)
# '<owner>/<repository>', each of ASCII letters, digits, '_', '.' and '-': what GitHub allows in
# a repository name ("Repository limits", GitHub Docs), a superset of its user and organization
# names. _parse_pipeline also refuses '.' and '..' as either part and a repository ending in
# '.git'. A part may start with '.' ('.github' is a repository name GitHub gives a meaning to) or
# with '-' (GitHub refuses it in new user names, but older accounts have one).
REPOSITORY_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+\Z")
# The providers of a CodeConnections connection (ProviderType, AWS CodeConnections API Reference,
# "CreateConnection") whose repositories the pipeline's source names: AzureDevOps, the sixth, is
# left out, as we found no page saying which form its repositories take there. A connection ARN
# does not say its provider, so pipeline.provider does (default GitHub, the example's).
REPOSITORY_PROVIDERS = (
    "GitHub",
    "GitHubEnterpriseServer",
    "Bitbucket",
    "GitLab",
    "GitLabSelfManaged",
)
# GitLab nests groups ("group/subgroup/project", GitLab Docs, "Subgroups": up to 20 levels), and
# CDK Pipelines' connection source takes such a path: aws-cdk-lib 2.275's
# CodePipelineSource.connection accepts '<owner>/<repo>' or '<owner>/<group1>/.../<repo>', 2 to 23
# parts, none empty (pipelines/lib/codepipeline/codepipeline-source.ts, isValidRepoString), and
# passes it whole as FullRepositoryId. GitHub, GitHub Enterprise Server and Bitbucket name a
# repository '<owner>/<repository>' (a Bitbucket workspace is its owner).
NESTED_REPOSITORY_PROVIDERS = ("GitLab", "GitLabSelfManaged")
MAX_REPOSITORY_PARTS = 23
NESTED_REPOSITORY_PATTERN = re.compile(
    rf"^[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+){{1,{MAX_REPOSITORY_PARTS - 1}}}\Z"
)
# A git branch name (git check-ref-format): printable ASCII without space, ~ ^ : ? * [ \, no
# "..", "@{" or "//", no part starting with "." or ending with ".lock", not starting with "/" or
# "-", not ending with "/" or ".", not "HEAD" (git check-ref-format --branch refuses it, and
# git branch will not make it). The pipeline's source takes a name, not a ref ("refs/heads/").
BRANCH_PATTERN = re.compile(
    r"^(?!refs/|[/-]|HEAD\Z)(?!.*(?:\.\.|@\{|//|/\.|\.lock/|\.lock\Z))(?!\.)[!-~]{1,255}(?<![/.])\Z"
)
BRANCH_FORBIDDEN = re.compile(r"[~^:?*\[\\]")
# CloudWatch Logs retention periods (days -> aws_logs.RetentionDays member name).
LOG_RETENTION_DAYS: dict[int, str] = {
    1: "ONE_DAY", 3: "THREE_DAYS", 5: "FIVE_DAYS", 7: "ONE_WEEK", 14: "TWO_WEEKS",
    30: "ONE_MONTH", 60: "TWO_MONTHS", 90: "THREE_MONTHS", 120: "FOUR_MONTHS",
    150: "FIVE_MONTHS", 180: "SIX_MONTHS", 365: "ONE_YEAR", 400: "THIRTEEN_MONTHS",
    545: "EIGHTEEN_MONTHS", 731: "TWO_YEARS", 1096: "THREE_YEARS", 1827: "FIVE_YEARS",
    2192: "SIX_YEARS", 2557: "SEVEN_YEARS", 2922: "EIGHT_YEARS", 3288: "NINE_YEARS",
    3653: "TEN_YEARS",
}  # fmt: skip


def stage_id(alias: str) -> str:
    """The construct ID of an account's Stage, and the start of its stack names: the alias's
    '-'-separated parts, each capitalised (``team-one`` -> ``TeamOne``)."""
    return "".join(part.title() for part in alias.split("-"))


Tags = tuple[tuple[str, str], ...]
"""Tags as ``(key, value)`` pairs in the configuration's order (hashable, unlike a dict)."""


@dataclass(frozen=True)
class Account:
    alias: str
    id: str
    role: str
    tags: Tags = ()
    """This account's own tags (``accounts.<alias>.tags``), without the organisation's. Default:
    none."""

    @property
    def stage_id(self) -> str:
        return stage_id(self.alias)


@dataclass(frozen=True)
class Environment:
    """One account in one Region."""

    account: Account
    region: str

    @property
    def name(self) -> str:
        """``<account alias>-<region>``: the root of stack names and IDs."""
        return f"{self.account.alias}-{self.region}"


@dataclass(frozen=True)
class Destination:
    """Where workload snapshots are copied: another Region of the same account, or another
    account (``account`` set)."""

    region: str
    account: Account | None = None


@dataclass(frozen=True)
class ReplicationConfig:
    resource_types: tuple[str, ...]
    selection_tag: tuple[str, str]
    retention_days: int
    destinations: tuple[Destination, ...]

    def destinations_from(self, region: str) -> tuple[Destination, ...]:
        """Where a workload account's replicator in ``region`` copies to: every backup-account
        destination, and every same-account destination in another Region (none: that Region
        has no replicator)."""
        return tuple(d for d in self.destinations if d.account is not None or d.region != region)


@dataclass(frozen=True)
class PipelineConfig:
    account: Account
    region: str
    repository: str
    branch: str
    connection_arn: str
    provider: str = "GitHub"
    """The Git host of the connection (``pipeline.provider``, one of REPOSITORY_PROVIDERS), which
    decides the form of ``repository``. Default: ``GitHub``."""


@dataclass(frozen=True)
class KeyInventoryConfig:
    """Who runs ``kmskit key inventory --account/--accounts-from-organization``: the role
    ``caller_role_name`` (with the IAM path ``caller_role_path``) of ``account``, which each
    account's inventory role (``KmskitKeyInventory``, with the IAM path
    ``inventory_role_path``) trusts."""

    account: Account
    caller_role_name: str
    caller_trusted_principal_arns: tuple[str, ...] = ()
    """Who may assume the caller role, which ``account``'s Audit stack then deploys
    (``key_inventory.caller_trusted_principal_arns``). Default: none, no caller role deployed
    (the user has one)."""
    caller_role_path: str = "/"
    """The caller role's IAM path (``key_inventory.caller_role_path``), deployed or not: the
    inventory roles trust its ARN, path included. Default: ``/``, no path."""
    inventory_role_path: str = "/"
    """The IAM path of every account's inventory role (``key_inventory.inventory_role_path``);
    ``--role-name`` takes it without its first ``/``, then the name
    (:func:`kmskit.inventory_role.cli_role_name`). Default: ``/``, no path."""
    organization_id: str | None = None
    """The AWS Organization whose every account the deployed caller role may read
    (``key_inventory.organization_id``: ``--accounts-from-organization``). Default: None, the
    organisation's accounts only, by their exact inventory role ARNs."""

    def caller_role_arn(self, partition_name: str) -> str:
        """The caller role's ARN, its path included, in the partition ``partition_name``
        (``aws``, ``aws-cn``, ...)."""
        return role_arn(
            partition_name, self.account.id, self.caller_role_name, self.caller_role_path
        )


@dataclass(frozen=True)
class ObjectLockConfig:
    """S3 Object Lock on the central audit bucket (``audit.object_lock``): ``mode``
    (``GOVERNANCE`` or ``COMPLIANCE``) and a retention of ``days`` or ``years``, one of them."""

    mode: str
    days: int | None = None
    years: int | None = None


@dataclass(frozen=True)
class Organisation:
    name: str
    home_region: str
    regions: tuple[str, ...]
    accounts: tuple[Account, ...]
    log_retention_days: int
    replication: ReplicationConfig
    pipeline: PipelineConfig | None
    """The pipeline that deploys the stages (``pipeline``). None in a partition of
    NO_PIPELINE_PARTITIONS (the China Regions) and with ``pipeline.enabled`` false (default
    true): the app then builds no pipeline."""
    tags: Tags = ()
    """The organisation-wide tags (``tags``). Default: none."""
    key_inventory: KeyInventoryConfig | None = None
    """Who runs the key inventory across accounts (``key_inventory``); each account then gets
    its inventory role. Default: None, no inventory role."""
    audit_object_lock: ObjectLockConfig | None = None
    """S3 Object Lock on the central audit bucket (``audit.object_lock``). Default: None, no
    Object Lock."""

    def tags_of(self, account: Account) -> dict[str, str]:
        """The tags of every stack deployed into ``account`` and of every taggable resource in
        them: the organisation's, then the account's own, which add to them or override a value
        (the configuration refuses a key that differs from another only in case)."""
        return {**dict(self.tags), **dict(account.tags)}

    def environments(self) -> list[Environment]:
        """Every account in every Region, home Region first."""
        return [Environment(a, r) for a in self.accounts for r in self.ordered_regions]

    @property
    def ordered_regions(self) -> tuple[str, ...]:
        return (self.home_region, *(r for r in self.regions if r != self.home_region))

    def accounts_with_role(self, role: str) -> list[Account]:
        return [a for a in self.accounts if a.role == role]

    @property
    def security_account(self) -> Account:
        return self.accounts_with_role("security")[0]

    def account(self, alias: str) -> Account:
        for account in self.accounts:
            if account.alias == alias:
                return account
        raise KeyError(alias)

    def require_pipeline(self) -> PipelineConfig:
        """:attr:`pipeline`, for what only a pipeline has (its stacks); an organisation without
        one is refused, naming ``pipeline`` and why it has none."""
        require(
            self.pipeline is not None,
            _field("pipeline"),
            "must be there for the pipeline's stacks, and the app builds none "
            f"{self.why_no_pipeline}",
            None,
        )
        assert self.pipeline is not None
        return self.pipeline

    @property
    def why_no_pipeline(self) -> str:
        """Why the app builds no pipeline, for messages: the partition's reason
        (NO_PIPELINE_PARTITIONS), or else ``pipeline.enabled`` false."""
        partition_name = partition(self.home_region)
        reason = NO_PIPELINE_PARTITIONS.get(partition_name)
        if reason is not None:
            return f"in partition '{partition_name}': {reason}"
        return "(pipeline.enabled is false)"


def _field(path: str) -> str:
    return f"{ORGANISATION_CONTEXT_KEY}.{path}" if path else ORGANISATION_CONTEXT_KEY


def _literal_account_id(prop: str, value: Any) -> str:
    """A 12-digit account ID written out (a string shaped like a CDK token is none), at the
    field ``prop`` (its whole name)."""
    # A JSON number is no ID: it would lose an ID's leading zeros, and "must be a 12-digit AWS
    # account ID. Received: 222222222222" would not say what is wrong.
    require(
        not isinstance(value, int | float),
        prop,
        "must be a 12-digit AWS account ID as a JSON string, in quotes (a number loses an ID's "
        "leading zeros)",
        value,
    )
    require(not is_token(value), prop, "must be a 12-digit AWS account ID", value)
    return check_account_id(prop, value)


@functools.cache
def _known_regions() -> frozenset[str]:
    # aws-cdk-lib's Region facts (one jsii call): CDK cannot tell the partition of another
    # Region, and synth failed with a raw error, or succeeded for a Region that does not exist.
    from aws_cdk.region_info import Fact  # noqa: PLC0415 - starts jsii: only when needed

    return frozenset(Fact.regions)


def _known_region(path: str, value: Any) -> str:
    """A Region that aws-cdk-lib knows (a string shaped like a CDK token is none), at
    ``kmskit:organisation.<path>``."""
    return _known_region_at(_field(path), value)


def _known_region_at(prop: str, value: Any) -> str:
    """:func:`_known_region` at the field ``prop`` (its whole name)."""
    require(not is_token(value), prop, "must be an AWS Region name", value)
    region = check_region(prop, value)
    require(
        region in _known_regions(),
        prop,
        "must be an AWS Region that aws-cdk-lib knows (a newer aws-cdk-lib may know a new one)",
        region,
    )
    return region


def _object(value: Any, path: str) -> Mapping[str, Any]:
    require(isinstance(value, Mapping), _field(path), "must be an object", value)
    return value  # type: ignore[no-any-return]


def _optional(
    raw: Mapping[str, Any],
    key: str,
    path: str,
    default: Any,
    requirement: str = "must not be null: leave the key out to take its default",
) -> Any:
    """``raw[key]``, or ``default`` when the key is left out. ``null`` is refused: it would be
    the default in some places and "none" in others."""
    value = raw.get(key, default)
    require(value is not None, _field(path), requirement, value)
    return value


def _whole_number(value: Any) -> Any:
    """A whole JSON number as an int: ``365.0`` (JSON has one number type, and generators write
    it so) is 365. Anything else, ``365.5`` and ``true`` included, is returned unchanged."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _only_keys(value: Mapping[str, Any], path: str, allowed: Sequence[str]) -> None:
    for key in value:
        require(key in allowed, _field(path), f"may only have the keys {list(allowed)}", key)


def _account_ref(accounts: Mapping[str, Account], value: Any, path: str) -> Account:
    require(
        isinstance(value, str) and value in accounts,
        _field(path),
        f"must name an account alias of this organisation {sorted(accounts)}",
        value,
    )
    return accounts[value]


def _parse_accounts(raw: Any) -> dict[str, Account]:
    require(
        isinstance(raw, Mapping) and len(raw) > 0,
        _field("accounts"),
        "must map account aliases to {id, role}",
        raw,
    )
    accounts: dict[str, Account] = {}
    seen_ids: dict[str, str] = {}
    seen_stages: dict[str, str] = {}
    for alias, raw_spec in raw.items():
        require(
            isinstance(alias, str) and bool(ALIAS_PATTERN.match(alias)),
            _field("accounts"),
            f"must use aliases of {ALIAS_RULE}",
            alias,
        )
        stage = stage_id(alias)
        require(
            not PIPELINE_STACK_IDS.match(stage),
            _field(f"accounts.{alias}"),
            f"must not have an alias whose stage ID '{stage}' is taken by the pipeline's stacks "
            "(Pipeline, Pipeline2, Pipeline3, ..., PipelineArtifacts-<region>)",
            alias,
        )
        require(
            stage not in PIPELINE_STAGE_NAMES,
            _field(f"accounts.{alias}"),
            f"must not have an alias whose stage ID '{stage}' is the name of one of the "
            f"pipeline's own stages {list(PIPELINE_STAGE_NAMES)}: a wave of one account is a "
            "pipeline stage named after it",
            alias,
        )
        # Compared without case: each stage's cloud assembly is a directory named after its ID.
        require(
            stage.lower() not in seen_stages,
            _field(f"accounts.{alias}"),
            f"must not have the same stage ID '{stage}' (the alias's '-'-separated parts, each "
            f"capitalised) as account '{seen_stages.get(stage.lower())}'",
            alias,
        )
        seen_stages[stage.lower()] = alias
        spec = _object(raw_spec, f"accounts.{alias}")
        _only_keys(spec, f"accounts.{alias}", ("id", "role", "tags"))
        account_id = _literal_account_id(_field(f"accounts.{alias}.id"), spec.get("id"))
        require(
            account_id not in seen_ids,
            _field(f"accounts.{alias}.id"),
            f"must not repeat the ID of account '{seen_ids.get(account_id)}'",
            account_id,
        )
        seen_ids[account_id] = alias
        role = spec.get("role")
        require(role in ROLES, _field(f"accounts.{alias}.role"), f"must be one of {ROLES}", role)
        tags = _parse_tags(
            _optional(spec, "tags", f"accounts.{alias}.tags", {}), f"accounts.{alias}.tags"
        )
        accounts[alias] = Account(alias=alias, id=account_id, role=str(role), tags=tags)
    roles = [a.role for a in accounts.values()]
    require(
        roles.count("security") == 1,
        _field("accounts"),
        "must have exactly one account with role 'security' (it holds the central audit "
        "bucket, and the pipeline unless pipeline.account names another account)",
        sorted(a.alias for a in accounts.values() if a.role == "security"),
    )
    # A wave of one account is a pipeline stage named after the account's stage ID, so a stage ID
    # that is another role's wave name gives the pipeline two nodes of one name.
    waves = {role: WAVE_NAMES[role] for role in roles}
    for account in accounts.values():
        require(
            account.stage_id not in [name for role, name in waves.items() if role != account.role],
            _field(f"accounts.{account.alias}"),
            f"must not have an alias whose stage ID '{account.stage_id}' is the name of another "
            f"role's pipeline wave {sorted(waves.values())}: a wave of one account is a "
            "pipeline stage named after it",
            account.alias,
        )
    return accounts


# Why tag keys that differ only in case are refused (docs/deploy.md, "Tags").
_TAG_CASE_REASON = (
    "AWS compares tag keys with case for most services, but IAM (the roles) and some others "
    "without it, and refuse two such keys on one resource"
)


def _parse_tags(raw: Any, path: str) -> Tags:
    """A ``tags`` object (the organisation's, or an account's): tag keys to tag values, each a
    literal string AWS accepts, no key reserved or given twice with another case, at most
    MAX_TAGS_PER_RESOURCE."""
    require(
        isinstance(raw, Mapping),
        _field(path),
        "must be an object mapping tag keys to tag values",
        raw,
    )
    assert isinstance(raw, Mapping)
    seen: dict[str, str] = {}  # lowercase key -> key as written
    for key, value in raw.items():
        # Tags are literal: a token would reach the stack tags (the cloud assembly, CDK
        # Pipelines' template configuration) unresolved, where CloudFormation takes it as text.
        require(
            not (isinstance(key, str) and is_token(key)),
            _field(path),
            "must not have a CDK token as a tag key (tags are written out literally)",
            key,
        )
        problem = tag_key_problem(key, seen)
        require(
            problem != "pattern",
            _field(path),
            "must have tag keys of 1-128 letters, digits, spaces and _ . : / = + @ -",
            key,
        )
        assert isinstance(key, str)
        check_no_number_token(_field(path), key)
        require(
            problem != "reserved",
            _field(path),
            "must not have a tag key starting with 'aws:' (reserved by AWS, in any case) or "
            "'kmskit:' (the toolkit's own tags)",
            key,
        )
        require(
            problem != "case",
            _field(path),
            f"must not have the tag key {key!r} beside {seen.get(key.lower())!r}, which differs "
            f"only in case: {_TAG_CASE_REASON}",
            key,
        )
        seen[key.lower()] = key
        require(
            isinstance(value, str) and not is_token(value),
            _field(f"{path}.{key}"),
            "must be a tag value written out as a JSON string, in quotes (not a number, "
            "true/false, null or a CDK token)",
            value,
        )
        require(
            valid_tag_value(value),
            _field(f"{path}.{key}"),
            "must be a tag value of at most 256 letters, digits, spaces and _ . : / = + @ -",
            value,
        )
        check_no_number_token(_field(f"{path}.{key}"), value)
    require(
        len(raw) <= MAX_TAGS_PER_RESOURCE,
        _field(path),
        f"must have at most {MAX_TAGS_PER_RESOURCE} tags (AWS's limit of user-defined tags per "
        f"resource), not {len(raw)}",
        sorted(raw),
    )
    return tuple((str(k), str(v)) for k, v in raw.items())


def _check_account_tags(organisation_tags: Tags, account: Account) -> None:
    """An account's tags with the organisation's: overriding a key takes its exact spelling, and
    together they stay within MAX_TAGS_PER_RESOURCE (every resource of the account gets both)."""
    path = f"accounts.{account.alias}.tags"
    spelled = {key.lower(): key for key, _ in organisation_tags}
    for key, _ in account.tags:
        other = spelled.get(key.lower(), key)
        require(
            other == key,
            _field(path),
            f"must not have the tag key {key!r}, which differs only in case from the "
            f"organisation's {other!r} (to override its value, write {other!r}): "
            f"{_TAG_CASE_REASON}",
            key,
        )
    merged = {**dict(organisation_tags), **dict(account.tags)}
    require(
        len(merged) <= MAX_TAGS_PER_RESOURCE,
        _field(path),
        f"must leave account '{account.alias}' at most {MAX_TAGS_PER_RESOURCE} tags with the "
        f"organisation's {len(organisation_tags)} (AWS's limit of user-defined tags per resource, "
        f"and every resource of the account gets both), not {len(merged)}",
        sorted(dict(account.tags)),
    )


def _parse_regions(raw: Mapping[str, Any]) -> tuple[tuple[str, ...], str]:
    regions = raw.get("regions")
    require(
        isinstance(regions, list) and len(regions) > 0,
        _field("regions"),
        "must be a non-empty list of Regions",
        regions,
    )
    assert isinstance(regions, list)
    for index, region in enumerate(regions):
        _known_region(f"regions[{index}]", region)
        require(
            partition(region) in PARTITIONS,
            _field(f"regions[{index}]"),
            f"must be in one of the partitions {list(PARTITIONS)}, not '{partition(region)}': "
            "cfn-lint, which checks every synthesized template, refuses the account ARNs of "
            "an ISO partition in key and bucket policies",
            region,
        )
        require(
            region not in regions[:index],
            _field(f"regions[{index}]"),
            "must not repeat a Region (each account x Region is one environment)",
            region,
        )
        require(
            partition(region) == partition(regions[0]),
            _field(f"regions[{index}]"),
            f"must be in the partition of regions[0] ('{partition(regions[0])}'): multi-Region "
            "keys and cross-Region stack references stay within one partition",
            region,
        )
    home = _optional(raw, "home_region", "home_region", regions[0])
    _known_region("home_region", home)
    require(home in regions, _field("home_region"), f"must be one of regions {regions}", home)
    return tuple(regions), str(home)


def _parse_replication(
    raw: Any, accounts: dict[str, Account], regions: tuple[str, ...]
) -> ReplicationConfig:
    raw = _object(raw, "replication")
    _only_keys(
        raw, "replication", ("resource_types", "selection_tag", "retention_days", "destinations")
    )
    types = _optional(raw, "resource_types", "replication.resource_types", list(RESOURCE_TYPES))
    require(
        isinstance(types, list) and len(types) > 0 and all(t in RESOURCE_TYPES for t in types),
        _field("replication.resource_types"),
        f"must be a non-empty list of {RESOURCE_TYPES}",
        types,
    )
    require(
        len(set(types)) == len(types),
        _field("replication.resource_types"),
        "must not repeat a resource type",
        types,
    )
    tag = _object(
        _optional(
            raw,
            "selection_tag",
            "replication.selection_tag",
            {"key": "backup", "value": "replicate"},
        ),
        "replication.selection_tag",
    )
    _only_keys(tag, "replication.selection_tag", ("key", "value"))
    for part, valid, length in (
        ("key", lambda key: tag_key_problem(key, {}) != "pattern", "1-128"),
        ("value", valid_tag_value, "at most 256"),
    ):
        require(
            valid(tag.get(part)),
            _field(f"replication.selection_tag.{part}"),
            f"must be a tag string of {length} characters",
            tag.get(part),
        )
        check_no_number_token(_field(f"replication.selection_tag.{part}"), tag[part])
    require(
        tag_key_problem(tag["key"], {}) != "reserved",
        _field("replication.selection_tag.key"),
        "must not start with 'aws:' (reserved by AWS) or 'kmskit:' (the replicator's own tags)",
        tag["key"],
    )
    # A whole number, as audit.log_retention_days (14.0 is 14); the error names the value as
    # written.
    raw_retention = _optional(raw, "retention_days", "replication.retention_days", 14)
    retention = check_range(
        _field("replication.retention_days"),
        _whole_number(raw_retention),
        *REPLICATION_RETENTION_DAYS,
        "days",
        as_written=raw_retention,
    )
    destinations_raw = _optional(raw, "destinations", "replication.destinations", [])
    require(
        isinstance(destinations_raw, list),
        _field("replication.destinations"),
        "must be a list",
        destinations_raw,
    )
    destinations: list[Destination] = []
    for index, raw_item in enumerate(destinations_raw):
        path = f"replication.destinations[{index}]"
        item = _object(raw_item, path)
        _only_keys(item, path, ("region", "account"))
        region = _known_region(f"{path}.region", item.get("region"))
        account = (
            _account_ref(
                accounts,
                _optional(
                    item,
                    "account",
                    f"{path}.account",
                    None,
                    "must not be null: leave the key out for a destination in the same account",
                ),
                f"{path}.account",
            )
            if "account" in item
            else None
        )
        require(
            region in regions,
            _field(f"{path}.region"),
            f"must be one of regions {list(regions)}: a destination Region needs the key of "
            "the organisation's KeyStack there",
            region,
        )
        require(
            account is not None or len(regions) > 1,
            _field(path),
            "must name a backup 'account' when regions has only one Region: a destination "
            "without one copies from the same account's other Regions",
            dict(item),
        )
        require(
            account is None or any(a.role == "workload" for a in accounts.values()),
            _field(path),
            "needs an account with role 'workload' in accounts: the backup account receives the "
            "workload accounts' snapshots",
            dict(item),
        )
        destination = Destination(region=region, account=account)
        require(
            all((d.region, d.account) != (region, account) for d in destinations),
            _field(path),
            "must not repeat a destination (same account and Region)",
            dict(item),
        )
        if account is not None:
            require(
                account.role == "backup",
                _field(f"{path}.account"),
                "must name an account with role 'backup'",
                account.alias,
            )
        destinations.append(destination)
    # The backup account's receivers keep received copies as long as the replicators keep theirs.
    require(
        retention >= RECEIVER_MIN_RETENTION_DAYS or all(d.account is None for d in destinations),
        _field("replication.retention_days"),
        f"{RECEIVER_RETENTION_REQUIREMENT} (the backup account's receivers keep received copies "
        "this long)",
        raw_retention,
    )
    return ReplicationConfig(
        resource_types=tuple(types),
        selection_tag=(str(tag["key"]), str(tag["value"])),
        retention_days=int(retention),
        destinations=tuple(destinations),
    )


DEFAULT_CONNECTION_ARN = (
    "arn:{partition}:codeconnections:{region}:{account}:connection/"
    "00000000-0000-0000-0000-000000000000"
)


# How a configuration turns the pipeline off, as the messages that suggest it write it.
PIPELINE_OFF = '"pipeline": {"enabled": false}'


def _pipeline_enabled(raw: Mapping[str, Any]) -> bool:
    """``pipeline.enabled`` of the ``pipeline`` section ``raw`` (default true). With false the
    app builds no pipeline, so the section may hold no other key: each one given is named."""
    enabled = _optional(raw, "enabled", "pipeline.enabled", True)
    require(
        isinstance(enabled, bool),
        _field("pipeline.enabled"),
        "must be true (the app builds the pipeline: the default) or false (it builds none, and "
        "each account's stage is deployed directly: docs/deploy.md, 'Without the pipeline')",
        enabled,
    )
    others = [f"pipeline.{key}" for key in raw if key != "enabled"]
    require(
        enabled or not others,
        _field("pipeline"),
        f"must have no key but 'enabled' when pipeline.enabled is false, as the app then builds "
        f"no pipeline: leave out {', '.join(others)}",
        dict(raw),
    )
    return bool(enabled)


def _lacks_connections(region: str) -> bool:
    """Whether CodeConnections, the pipeline's source, is known not to run in ``region``: a
    Region of a partition that CONNECTION_REGIONS lists, outside its Regions."""
    connection_regions = CONNECTION_REGIONS.get(partition(region))
    return connection_regions is not None and region not in connection_regions


def _parse_pipeline(
    raw: Mapping[str, Any],
    accounts: dict[str, Account],
    security: Account,
    home: str,
    regions: tuple[str, ...],
    *,
    recorded_region: Any = None,
) -> PipelineConfig:
    """The ``pipeline`` section ``raw`` (an object whose ``enabled`` is true).
    ``recorded_region`` is what ``kmskit:deployed`` records as ``pipeline.region`` (default
    None: nothing), which a refused ``pipeline.region`` names."""
    _only_keys(
        raw,
        "pipeline",
        ("enabled", "account", "region", "provider", "repository", "branch", "connection_arn"),
    )
    account = _account_ref(
        accounts, _optional(raw, "account", "pipeline.account", security.alias), "pipeline.account"
    )
    region = _known_region("pipeline.region", _optional(raw, "region", "pipeline.region", home))
    require(
        region in regions,
        _field("pipeline.region"),
        f"must be one of regions {list(regions)}",
        region,
    )
    if _lacks_connections(region):
        connection_regions = CONNECTION_REGIONS[partition(region)]
        candidates = [r for r in regions if r in connection_regions]
        advice = (
            f"choose one of regions that is: {candidates}"
            if candidates
            else "none of regions is: add one to regions (every account then gets its stacks there)"
        )
        deployed = (
            ""
            if recorded_region is None
            else f". {_deployed_field('pipeline.region')} records {recorded_region!r}: a pipeline "
            "in another Region is a new Pipeline stack with new PipelineArtifacts-<region> "
            "stacks, so change that record in the same commit, having moved the pipeline as "
            "docs/deploy.md, 'Changing a deployed organisation', says (to turn the pipeline off "
            "instead, remove pipeline from that record)"
        )
        raise ConstructPropError(
            _field("pipeline.region"),
            "must be a Region where the pipeline's source action (CodeStarSourceConnection, of "
            f"AWS CodeConnections) runs, one of {sorted(connection_regions)} (CodePipeline User "
            "Guide, 'CodeStarSourceConnection ... actions', and CloudFormation's registry in "
            "each Region). The pipeline deploys to every Region of regions from its own, and "
            f"pipeline.region defaults to home_region: {advice}, or turn the pipeline off with "
            f"{PIPELINE_OFF} and deploy each account's stage directly (docs/deploy.md, 'Without "
            f"the pipeline'){deployed}",
            region,
        )
    provider = _optional(raw, "provider", "pipeline.provider", "GitHub")
    require(
        provider in REPOSITORY_PROVIDERS,
        _field("pipeline.provider"),
        f"must be the provider type of the connection, one of {list(REPOSITORY_PROVIDERS)}",
        provider,
    )
    repository = _optional(raw, "repository", "pipeline.repository", "example-org/kms-toolkit")
    _check_repository(repository, provider)
    branch = _optional(raw, "branch", "pipeline.branch", "main")
    require(
        isinstance(branch, str)
        and bool(BRANCH_PATTERN.match(branch))
        and not BRANCH_FORBIDDEN.search(branch),
        _field("pipeline.branch"),
        "must be a git branch name (printable ASCII without spaces or ~^:?*[\\, no '..', "
        "'@{' or '//', not a ref such as 'refs/heads/main' or 'HEAD')",
        branch,
    )
    check_no_number_token(_field("pipeline.branch"), branch)
    connection = _optional(
        raw,
        "connection_arn",
        "pipeline.connection_arn",
        DEFAULT_CONNECTION_ARN.format(
            partition=partition(region), region=region, account=account.id
        ),
    )
    match = CONNECTION_ARN_PATTERN.match(connection) if isinstance(connection, str) else None
    require(
        match is not None,
        _field("pipeline.connection_arn"),
        f"must be a CodeConnections connection ARN, {CONNECTION_ARN_FORM}",
        connection,
    )
    assert match is not None
    arn_partition, service, connection_region, connection_account = match.groups()
    require(
        arn_partition == partition(region),
        _field("pipeline.connection_arn"),
        f"must be in the partition of the organisation's Regions ('{partition(region)}')",
        connection,
    )
    require(
        connection_region in _known_regions(),
        _field("pipeline.connection_arn"),
        f"must name a Region that aws-cdk-lib knows ('{connection_region}' is none)",
        connection,
    )
    require(
        partition(connection_region) == arn_partition,
        _field("pipeline.connection_arn"),
        f"must name a Region of its partition ('{connection_region}' is in "
        f"'{partition(connection_region)}')",
        connection,
    )
    # Connections are owned by the account that creates them. A codeconnections connection can be
    # shared with the pipeline account through AWS RAM, a codestar-connections one cannot
    # ("Share connections with AWS accounts", Developer Tools console user guide).
    require(
        service == "codeconnections" or connection_account == account.id,
        _field("pipeline.connection_arn"),
        f"must be a connection of the pipeline account '{account.alias}' ({account.id}): a "
        "codestar-connections connection cannot be shared with another account (a "
        "codeconnections connection can, through AWS RAM)",
        connection,
    )
    return PipelineConfig(
        account=account,
        region=region,
        repository=repository,
        branch=branch,
        connection_arn=connection,
        provider=provider,
    )


def _check_repository(repository: Any, provider: str) -> None:
    """``pipeline.repository`` in the form the pipeline's source takes for ``provider``:
    '<owner>/<repository>', or for GitLab also '<group>/<subgroup>/.../<repository>'."""
    nested = provider in NESTED_REPOSITORY_PROVIDERS
    if nested:
        form = "'<group>/<repository>' or '<group>/<subgroup>/.../<repository>'"
        require(
            isinstance(repository, str) and bool(NESTED_REPOSITORY_PATTERN.match(repository)),
            _field("pipeline.repository"),
            f"must be {form} (at most {MAX_REPOSITORY_PARTS} parts, as CDK Pipelines' "
            "connection source takes), each part of ASCII letters, digits, '_', '.' and '-'",
            repository,
        )
    else:
        form = "'<owner>/<repository>'"
        # A GitLab subgroup path given for another provider, or with pipeline.provider left out.
        require(
            not (
                isinstance(repository, str)
                and NESTED_REPOSITORY_PATTERN.match(repository)
                and not REPOSITORY_PATTERN.match(repository)
            ),
            _field("pipeline.repository"),
            f"must be {form} for a {provider} connection (pipeline.provider '{provider}'): only "
            "GitLab nests groups ('<group>/<subgroup>/.../<repository>'), accepted with "
            f"pipeline.provider {list(NESTED_REPOSITORY_PROVIDERS)}",
            repository,
        )
        require(
            isinstance(repository, str) and bool(REPOSITORY_PATTERN.match(repository)),
            _field("pipeline.repository"),
            f"must be {form}",
            repository,
        )
    assert isinstance(repository, str)
    parts = "none of its parts" if nested else "neither of them"
    require(
        not {".", ".."} & set(repository.split("/")),
        _field("pipeline.repository"),
        f"must be {form}, {parts} '.' or '..' (no Git host has such an owner"
        f"{', group' if nested else ''} or repository)",
        repository,
    )
    # Git hosts compare the suffix case-insensitively ('x.GIT' is a clone URL too); a name that
    # is only the suffix ('o/.git') leaves nothing to suggest.
    stripped = repository[:-4]
    suggestion = f" ('{stripped}')" if not stripped.endswith("/") else ""
    require(
        not repository.lower().endswith(".git"),
        _field("pipeline.repository"),
        f"must name the repository without '.git'{suggestion}: the pipeline's source takes the "
        "repository's name, not its clone URL (GitHub removes the suffix from a new "
        "repository's name)",
        repository,
    )


def _parse_key_inventory(
    raw: Any, accounts: dict[str, Account], partition_name: str
) -> KeyInventoryConfig:
    raw = _object(raw, "key_inventory")
    _only_keys(
        raw,
        "key_inventory",
        (
            "account",
            "caller_role_name",
            "caller_role_path",
            "caller_trusted_principal_arns",
            "inventory_role_path",
            "organization_id",
        ),
    )
    account = _account_ref(
        accounts,
        _optional(
            raw,
            "account",
            "key_inventory.account",
            None,
            "must name the account that runs kmskit key inventory, an account alias",
        ),
        "key_inventory.account",
    )
    caller = _optional(
        raw,
        "caller_role_name",
        "key_inventory.caller_role_name",
        None,
        "must be the name of the role that runs kmskit key inventory in that account",
    )
    require(
        isinstance(caller, str) and bool(ROLE_NAME_PATTERN.match(caller)),
        _field("key_inventory.caller_role_name"),
        ROLE_NAME_RULE,
        caller,
    )
    check_no_number_token(_field("key_inventory.caller_role_name"), caller)
    trusted = _parse_trusted_principals(raw, partition_name)
    organization_id = None
    if "organization_id" in raw:
        organization_id = _optional(
            raw,
            "organization_id",
            "key_inventory.organization_id",
            None,
            "must not be null: leave the key out for no organization mode",
        )
        check_organization_id(_field("key_inventory.organization_id"), organization_id)
        # Organization mode is the deployed caller role's policy: without that role it would
        # silently do nothing.
        require(
            bool(trusted),
            _field("key_inventory.organization_id"),
            "needs key_inventory.caller_trusted_principal_arns: organization mode is a policy of "
            "the caller role, which this app deploys only with them (where the caller role is "
            "yours, give it organization mode yourself, docs/keys.md)",
            organization_id,
        )
    return KeyInventoryConfig(
        account=account,
        caller_role_name=caller,
        caller_trusted_principal_arns=trusted,
        caller_role_path=_parse_role_path(raw, "caller_role_path"),
        inventory_role_path=_parse_role_path(raw, "inventory_role_path"),
        organization_id=organization_id,
    )


def _parse_role_path(raw: Mapping[str, Any], key: str) -> str:
    """``key_inventory.<key>``, an IAM path (default ``/``)."""
    path = f"key_inventory.{key}"
    value = _optional(raw, key, path, "/")
    require(valid_role_path(value), _field(path), ROLE_PATH_RULE, value)
    check_no_number_token(_field(path), value)
    return str(value)


def _parse_trusted_principals(raw: Mapping[str, Any], partition_name: str) -> tuple[str, ...]:
    path = "key_inventory.caller_trusted_principal_arns"
    if "caller_trusted_principal_arns" not in raw:
        return ()
    principals = _optional(
        raw,
        "caller_trusted_principal_arns",
        path,
        [],
        "must not be null: leave the key out to deploy no caller role",
    )
    require(
        isinstance(principals, list) and len(principals) > 0,
        _field(path),
        "must be a non-empty list of the IAM role ARNs and account roots that may assume the "
        "caller role (leave the key out to deploy no caller role)",
        principals,
    )
    for index, principal in enumerate(principals):
        parsed = principal_arn(principal)
        require(
            parsed is not None,
            _field(f"{path}[{index}]"),
            f"{PRINCIPAL_ARN_RULE} (no wildcard)",
            principal,
        )
        assert parsed is not None
        require(
            parsed.partition == partition_name,
            _field(f"{path}[{index}]"),
            f"must be in the partition of the organisation's Regions ('{partition_name}')",
            principal,
        )
        require(
            principal not in principals[:index],
            _field(f"{path}[{index}]"),
            "must not repeat a principal",
            principal,
        )
    return tuple(principals)


def _parse_object_lock(raw: Any) -> ObjectLockConfig:
    """``audit.object_lock``: S3 Object Lock's mode and retention, checked as EncryptedBucket
    checks them (S3's limits), naming this field."""
    path = "audit.object_lock"
    raw = _object(raw, path)
    _only_keys(raw, path, ("mode", "days", "years"))
    mode = raw.get("mode")
    require(
        mode in OBJECT_LOCK_MODES,
        _field(f"{path}.mode"),
        f"must be one of {list(OBJECT_LOCK_MODES)} (GOVERNANCE: whoever is allowed "
        "s3:BypassGovernanceRetention may still delete a log file; COMPLIANCE: nobody, for the "
        "whole retention, and it cannot be undone)",
        mode,
    )
    # Each given, not null; a whole number as audit.log_retention_days (365.0 is 365).
    days, years = (
        _optional(
            raw,
            key,
            f"{path}.{key}",
            0,
            "must not be null: give days or years, and leave the other out",
        )
        if key in raw
        else None
        for key in ("days", "years")
    )
    checked_days, checked_years = check_object_lock_period(
        _field(path), _whole_number(days), _whole_number(years), as_written=(days, years)
    )
    return ObjectLockConfig(mode=str(mode), days=checked_days, years=checked_years)


def _check_name(prop: str, name: Any) -> str:
    """The organisation's ``name`` (at ``prop``): NAME_PATTERN, not reserved by KMS or S3."""
    require(
        isinstance(name, str) and bool(NAME_PATTERN.match(name)),
        prop,
        "must be 1-20 lowercase letters and digits, starting with a letter, with single '-' "
        "between them",
        name,
    )
    require(
        name not in RESERVED_NAMES,
        prop,
        "must not be 'aws': key aliases start 'alias/<name>/', and 'alias/aws/' is reserved for "
        "AWS managed keys",
        name,
    )
    for prefix in RESERVED_BUCKET_PREFIXES:
        require(
            not str(name).startswith(prefix),
            prop,
            f"must not start with '{prefix}', which S3 reserves: the name starts the names of "
            "the audit and pipeline buckets",
            name,
        )
    return str(name)


def load_organisation(raw: Any, recorded_pipeline_region: Any = None) -> Organisation:
    """Parse and validate the ``kmskit:organisation`` context value. ``recorded_pipeline_region``
    is what ``kmskit:deployed`` records as ``pipeline.region`` (default None: nothing recorded),
    which a refused ``pipeline.region`` names; :func:`check_deployed` checks the record."""
    raw = _object(raw, "")
    _only_keys(
        raw,
        "",
        (
            "name",
            "home_region",
            "regions",
            "tags",
            "accounts",
            "audit",
            "replication",
            "pipeline",
            "key_inventory",
        ),
    )
    name = _check_name(_field("name"), _optional(raw, "name", "name", "example"))
    regions, home = _parse_regions(raw)
    tags = _parse_tags(_optional(raw, "tags", "tags", {}), "tags")
    accounts = _parse_accounts(raw.get("accounts"))
    for account in accounts.values():
        _check_account_tags(tags, account)
    audit = _object(_optional(raw, "audit", "audit", {}), "audit")
    _only_keys(audit, "audit", ("log_retention_days", "object_lock"))
    raw_retention = _optional(audit, "log_retention_days", "audit.log_retention_days", 365)
    retention = _whole_number(raw_retention)  # 365.0 is 365; True is no 1
    require(
        isinstance(retention, int)
        and not isinstance(retention, bool)
        and retention in LOG_RETENTION_DAYS,
        _field("audit.log_retention_days"),
        "must be a CloudWatch Logs retention period in whole days (365.0 is taken as 365), one "
        f"of {sorted(LOG_RETENTION_DAYS)}",
        raw_retention,
    )
    security = next(a for a in accounts.values() if a.role == "security")
    raw_pipeline = _optional(
        raw,
        "pipeline",
        "pipeline",
        {},
        f"must not be null: leave the key out for the pipeline, or give {PIPELINE_OFF} for none",
    )
    require(
        isinstance(raw_pipeline, Mapping),
        _field("pipeline"),
        f"must be an object ({PIPELINE_OFF} for no pipeline)",
        raw_pipeline,
    )
    pipeline_enabled = _pipeline_enabled(raw_pipeline)
    no_pipeline = NO_PIPELINE_PARTITIONS.get(partition(home))
    require(
        no_pipeline is None or "pipeline" not in raw or not pipeline_enabled,
        _field("pipeline"),
        'must be left out (or be {"enabled": false}) in partition '
        f"'{partition(home)}' (the Regions {list(regions)}): {no_pipeline}. The app builds no "
        "pipeline there: deploy each account's stage directly (docs/deploy.md, 'Without the "
        "pipeline')",
        raw.get("pipeline"),
    )
    return Organisation(
        name=name,
        home_region=home,
        regions=regions,
        accounts=tuple(accounts.values()),
        log_retention_days=int(retention),
        replication=_parse_replication(
            _optional(raw, "replication", "replication", {}), accounts, regions
        ),
        pipeline=(
            _parse_pipeline(
                raw_pipeline,
                accounts,
                security,
                home,
                regions,
                recorded_region=recorded_pipeline_region,
            )
            if no_pipeline is None and pipeline_enabled
            else None
        ),
        tags=tags,
        key_inventory=(
            _parse_key_inventory(
                _optional(
                    raw,
                    "key_inventory",
                    "key_inventory",
                    None,
                    "must not be null: leave the key out for no key inventory role",
                ),
                accounts,
                partition(home),
            )
            if "key_inventory" in raw
            else None
        ),
        audit_object_lock=(
            _parse_object_lock(
                _optional(
                    audit,
                    "object_lock",
                    "audit.object_lock",
                    None,
                    "must not be null: leave the key out for no Object Lock",
                )
            )
            if "object_lock" in audit
            else None
        ),
    )


def organisation_from_context(
    context: Mapping[str, Any], root: Path = PROJECT_ROOT
) -> Organisation:
    """The organisation named by App context: inline, or in ``kmskit:organisation-file`` (a
    relative path from ``root`` to a file inside it, folders separated by ``/`` on every
    platform); held to
    ``kmskit:deployed`` when the context records it (:func:`check_deployed`)."""
    file_name = context.get(ORGANISATION_FILE_CONTEXT_KEY)
    if file_name is not None:
        # Refused everywhere, so that a cdk.json written on Windows fails there, not in CI.
        require(
            "\\" not in str(file_name),
            ORGANISATION_FILE_CONTEXT_KEY,
            "must separate folders with '/' (a '\\' works on Windows only: on Linux and macOS "
            "it is part of a file name)",
            file_name,
        )
        # The pipeline's synth reads the file from a checkout of the repository: one outside the
        # project's root (absolute, or led out of it by '..' or a link) is not there.
        require(
            not PurePosixPath(str(file_name)).is_absolute()
            and not PureWindowsPath(str(file_name)).drive,
            ORGANISATION_FILE_CONTEXT_KEY,
            "must be a path from the project's root (the directory of cdk.json), not an absolute "
            "path: the pipeline's synth reads the file from a checkout of the repository",
            file_name,
        )
        path = root / str(file_name)
        try:
            inside = path.resolve().is_relative_to(root.resolve())
        except (OSError, ValueError, RuntimeError):  # a NUL, a loop of links: refused below
            inside = True
        require(
            inside,
            ORGANISATION_FILE_CONTEXT_KEY,
            "must name a file inside the project's root (the directory of cdk.json), not one that "
            "'..' or a symbolic link leads out of it: the pipeline's synth reads the file from a "
            "checkout of the repository",
            file_name,
        )
        absolute = _absolute_link(root, str(file_name))
        require(
            absolute is None,
            ORGANISATION_FILE_CONTEXT_KEY,
            "must not lead through a symbolic link with an absolute target "
            f"({absolute}): the pipeline's synth reads the file from a checkout of the "
            "repository in another directory, where that target is not (make the link relative)",
            file_name,
        )
        try:
            raw = json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=_no_repeated_keys)
        except (OSError, ValueError, RecursionError) as error:  # ValueError: JSON, UTF-8, NUL
            raise ConstructPropError(
                ORGANISATION_FILE_CONTEXT_KEY,
                f"must name a readable JSON file in UTF-8 ({error})",
                file_name,
            ) from error
    else:
        raw = context.get(ORGANISATION_CONTEXT_KEY)
    deployed = context.get(DEPLOYED_CONTEXT_KEY)
    # The record as written, for the advice of a refused pipeline.region; checked below.
    recorded_pipeline = deployed.get("pipeline") if isinstance(deployed, Mapping) else None
    organisation = load_organisation(
        raw,
        recorded_pipeline.get("region") if isinstance(recorded_pipeline, Mapping) else None,
    )
    if deployed is not None:
        check_deployed(organisation, deployed)
    return organisation


def _absolute_link(root: Path, file_name: str) -> str | None:
    """The first symbolic link on the way from ``root`` to ``file_name`` whose target is an
    absolute path, as ``'<link> -> <target>'`` (the link from ``root``); None when there is
    none, or when a part cannot be read (a NUL: the file's reading says so)."""
    current = PurePosixPath()
    for part in PurePosixPath(file_name).parts:
        current /= part
        try:
            target = os.readlink(root / current) if (root / current).is_symlink() else None
        except (OSError, ValueError):
            return None
        if target is not None and os.path.isabs(target):
            return f"'{current}' -> '{target}'"
    return None


# Why each recorded field is fixed (docs/deploy.md, "Changing a deployed organisation").
_FIXED_BECAUSE = {
    "name": "every key alias, the central audit bucket, the trails, their log groups and the "
    "pipeline are named after it and would be replaced",
    "home_region": "the multi-Region keys' primaries and every audit stack are there: a new "
    "home makes new multi-Region keys and moves the trails and the central audit bucket",
    "id": "its stacks would be new stacks in another account, with new keys",
    "alias": "its stacks are named after it: stacks under a new alias are new stacks that make "
    "new keys, and their key aliases and event buses meet those of the stacks deployed under "
    "the old one ('already exists')",
    "pipeline": "the pipeline and its artifact stacks would be new stacks, whose bucket and "
    "key alias names the deployed ones still hold",
}


def _deployed_field(path: str) -> str:
    return f"{DEPLOYED_CONTEXT_KEY}.{path}" if path else DEPLOYED_CONTEXT_KEY


def _check_deployed_alias(path: str, value: Any) -> None:
    require(
        isinstance(value, str) and bool(ALIAS_PATTERN.match(value)),
        _deployed_field(path),
        f"must be an account alias ({ALIAS_RULE})",
        value,
    )


def _check_deployed_record(
    organisation: Organisation, raw: Any
) -> tuple[Mapping[str, str], Mapping[str, Any]]:
    """The ``kmskit:deployed`` record's own values, checked as the configuration's (a name, a
    known Region, aliases and 12-digit IDs written as strings), naming
    ``kmskit:deployed.<field>``, before they are compared with the organisation: a mistyped record
    must not read as a changed organisation. Returns the recorded accounts (alias to ID) and
    pipeline (``{}`` when left out)."""
    where = _deployed_field
    require(isinstance(raw, Mapping), where(""), "must be an object", raw)
    for key in raw:
        require(
            key in ("name", "home_region", "accounts", "pipeline"),
            where(""),
            "may only have the keys ['name', 'home_region', 'accounts', 'pipeline']",
            key,
        )
    if "name" in raw:
        _check_name(where("name"), raw["name"])
    if "home_region" in raw:
        _known_region_at(where("home_region"), raw["home_region"])
    recorded = raw.get("accounts", {})
    require(
        isinstance(recorded, Mapping),
        where("accounts"),
        "must map each deployed account alias to its ID (a string)",
        recorded,
    )
    seen: dict[str, str] = {}  # ID -> alias
    for alias, value in recorded.items():
        _check_deployed_alias("accounts", alias)
        account_id = _literal_account_id(where(f"accounts.{alias}"), value)
        require(
            account_id not in seen,
            where(f"accounts.{alias}"),
            f"must not repeat the ID of deployed account '{seen.get(account_id)}'",
            account_id,
        )
        seen[account_id] = alias
    pipeline = raw.get("pipeline", {})
    require(isinstance(pipeline, Mapping), where("pipeline"), "must be an object", pipeline)
    for key in pipeline:
        require(
            key in ("account", "region"),
            where("pipeline"),
            "may only have the keys ['account', 'region']",
            key,
        )
    if "account" in pipeline:
        _check_deployed_alias("pipeline.account", pipeline["account"])
    if "region" in pipeline:
        _known_region_at(where("pipeline.region"), pipeline["region"])
    require(
        organisation.pipeline is not None or not pipeline,
        where("pipeline"),
        f"must be left out: the app builds no pipeline {organisation.why_no_pipeline}"
        + (
            ""
            if partition(organisation.home_region) in NO_PIPELINE_PARTITIONS
            else ". The deployed Pipeline and PipelineArtifacts-<region> stacks keep running on "
            "every push, and every account keeps trusting the pipeline account: delete those "
            "stacks first, then run 'npx cdk bootstrap aws://<account>/<region> --untrust "
            "<pipeline account>' for every account and Region (docs/deploy.md, 'Turning the "
            "pipeline off')"
        ),
        pipeline,
    )
    return recorded, pipeline


def check_deployed(organisation: Organisation, raw: Any) -> None:
    """Refuse, naming the field and value, a change of what ``kmskit:deployed`` records as
    deployed: ``name``, ``home_region``, each account's alias and ID (``accounts``: alias to
    ID), ``pipeline.account`` and ``pipeline.region``. Adding and removing accounts and
    Regions, and every other field, stay free. Every key of the record is optional; its values
    are checked first (:func:`_check_deployed_record`)."""
    where = _deployed_field

    def fixed(
        path: str, record: str, recorded: Any, value: Any, why: str, *, note: str = ""
    ) -> None:
        require(
            value == recorded,
            _field(path),
            f"must stay {recorded!r} once deployed ({where(record)} records it): "
            f"{_FIXED_BECAUSE[why]}; docs/deploy.md, 'Changing a deployed organisation', says "
            f"what such a change needs{note}",
            value,
        )

    recorded, pipeline = _check_deployed_record(organisation, raw)
    if "name" in raw:
        fixed("name", "name", raw["name"], organisation.name, "name")
    if "home_region" in raw:
        fixed(
            "home_region",
            "home_region",
            raw["home_region"],
            organisation.home_region,
            "home_region",
        )
    aliases = {account_id: alias for alias, account_id in recorded.items()}
    for account in organisation.accounts:
        if account.alias in recorded:
            fixed(
                f"accounts.{account.alias}.id",
                f"accounts.{account.alias}",
                recorded[account.alias],
                account.id,
                "id",
            )
        elif account.id in aliases:
            require(
                False,
                _field("accounts"),
                f"must keep the alias {aliases[account.id]!r} of deployed account {account.id} "
                f"({where('accounts')} records it): {_FIXED_BECAUSE['alias']}; docs/deploy.md, "
                "'Changing a deployed organisation', says what such a change needs",
                account.alias,
            )
    if organisation.pipeline is None:
        return
    if "account" in pipeline:
        fixed(
            "pipeline.account",
            "pipeline.account",
            pipeline["account"],
            organisation.pipeline.account.alias,
            "pipeline",
        )
    if "region" in pipeline:
        fixed(
            "pipeline.region",
            "pipeline.region",
            pipeline["region"],
            organisation.pipeline.region,
            "pipeline",
            # A recorded Region without CodeConnections is refused as pipeline.region itself.
            note=(
                f". {pipeline['region']!r} has no CodeConnections, the pipeline's source, so the "
                "pipeline cannot stay there: having moved it as that section says, change "
                f"{where('pipeline.region')} to {organisation.pipeline.region!r} in the same "
                f"commit (or turn the pipeline off with {PIPELINE_OFF} and remove pipeline from "
                "the record)"
                if _lacks_connections(pipeline["region"])
                else ""
            ),
        )


def _no_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json's object hook: a key given twice is an error (json keeps the last one silently,
    and an account copied from the docs would vanish)."""
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"the key {key!r} appears twice in one object")
        seen[key] = value
    return seen


def cdk_json_context(path: Path = PROJECT_ROOT / "cdk.json") -> dict[str, Any]:
    """The ``context`` block of cdk.json: feature flags and the organisation. A key given twice
    in one object is refused, as in a ``kmskit:organisation-file`` (the CDK CLI and json keep the
    last one silently: an account pasted twice under one alias would vanish)."""
    try:
        context: dict[str, Any] = json.loads(
            path.read_text(encoding="utf-8"), object_pairs_hook=_no_repeated_keys
        )["context"]
    except (OSError, KeyError, TypeError, ValueError) as error:  # ValueError: JSON, UTF-8, twice
        raise ConstructPropError(
            "cdk.json",
            "must be readable JSON in UTF-8 with a 'context' object and no key twice in one object",
            str(error),
        ) from error
    return context

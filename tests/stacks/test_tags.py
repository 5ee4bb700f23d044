"""Organisation-wide tags (``tags``, ``accounts.<alias>.tags``): refused with the field and the
value when AWS would refuse them, and put on every stack and every taggable resource of the
organisation, in the template (on each resource's create request) and as stack tags (``cdk
deploy`` and CDK Pipelines' template configurations).

The example organisation (cdk.json) has tags, the workload account overriding one and adding
one; the template tests read its session-wide synth (``synthesized("example_org")``).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from constructs_lib import ConstructPropError
from stacks.config import MAX_TAGS_PER_RESOURCE, Organisation, load_organisation
from stacks.organisation import add_organisation, require_tags_fit_on_snapshot_copies
from tests._support.apps.pipeline_chain import CHAIN_ORGANISATION
from tests._support.synth import SynthResult
from tests.stacks.test_config import DEFAULT, changed, refusal, with_changes

Synth = Callable[[str], SynthResult]
DEPLOY_MD = Path(__file__).parents[2] / "docs" / "deploy.md"

# The resource types of the organisation that CloudFormation cannot tag: their registry schema
# has no tag property (docs/deploy.md, "Tags", lists them).
# The apps under test that have tags, with their organisations: the example (cdk.json: the
# workload account overrides a tag and adds one) and the chain of pipelines (the pipeline account
# overrides one; its Pipeline2 has the chain's own rule, queue and alarm).
TAGGED_APPS: dict[str, Any] = {"example_org": DEFAULT, "pipeline_chain": CHAIN_ORGANISATION}
UNTAGGABLE = {
    "AWS::Events::EventBusPolicy",
    "AWS::IAM::ManagedPolicy",
    "AWS::IAM::Policy",
    "AWS::KMS::Alias",
    "AWS::Lambda::Permission",
    "AWS::Logs::MetricFilter",
    "AWS::S3::BucketPolicy",
    "AWS::SNS::TopicPolicy",
    "AWS::SQS::QueuePolicy",
}


@cache
def tagging(resource_type: str, region: str) -> dict[str, Any]:
    """The ``tagging`` section of ``resource_type``'s CloudFormation registry schema (cfn-lint's
    copy), ``{}`` when it has none."""
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER  # noqa: PLC0415

    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(region, resource_type).schema
    section: dict[str, Any] = schema.get("tagging", {})
    if not section and "Tags" in schema.get("properties", {}):
        section = {"taggable": True, "tagProperty": "/properties/Tags"}
    return section


def tag_property(resource_type: str, region: str) -> str | None:
    """The property holding ``resource_type``'s tags, None for a type that cannot be tagged."""
    section = tagging(resource_type, region)
    if not section.get("taggable", False) or "tagProperty" not in section:
        return None
    return str(section["tagProperty"]).rsplit("/", 1)[-1]


def as_dict(tags: Any) -> dict[str, str]:
    """A template's tags, a list of ``{Key, Value}`` or a map, as a dict."""
    if isinstance(tags, dict):
        return dict(tags)
    return {tag["Key"]: tag["Value"] for tag in tags or []}


def with_tag(key: str, value: Any, where: str = "organisation") -> dict[str, Any]:
    """The example organisation with one more tag ``key``: ``value``, the organisation's or
    (``where="workload"``) the workload account's."""
    config = copy.deepcopy(DEFAULT)
    tags = config["tags"] if where == "organisation" else config["accounts"][where]["tags"]
    tags[key] = value
    return config


def expected_tags(app: str) -> dict[str, dict[str, str]]:
    """Each account's tags by account ID in the organisation of ``app``: every stack in an
    account gets them."""
    organisation: Organisation = load_organisation(TAGGED_APPS[app])
    return {account.id: organisation.tags_of(account) for account in organisation.accounts}


def stack_account(result: SynthResult, stack_name: str) -> str:
    return result.environments[stack_name].removeprefix("aws://").split("/")[0]


def stack_region(result: SynthResult, stack_name: str) -> str:
    return result.environments[stack_name].rsplit("/", 1)[-1]


def stack_tags(result: SynthResult) -> dict[str, dict[str, str] | None]:
    """The stack tags of every stack in the cloud assembly's manifests, by stack name."""
    found: dict[str, dict[str, str] | None] = {}
    for manifest_path in result.outdir.rglob("manifest.json"):
        manifest = json.loads(manifest_path.read_text())
        for artifact_id, artifact in manifest.get("artifacts", {}).items():
            if artifact.get("type") == "aws:cloudformation:stack":
                properties = artifact.get("properties", {})
                found[properties.get("stackName", artifact_id)] = properties.get("tags")
    return found


def deploy_actions(template: dict[str, Any]) -> list[dict[str, Any]]:
    """The configuration of every CloudFormation action of the pipelines in ``template``."""
    return [
        action["Configuration"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::CodePipeline::Pipeline"
        for stage in resource["Properties"]["Stages"]
        for action in stage["Actions"]
        if action["ActionTypeId"]["Provider"] == "CloudFormation"
    ]


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
            with_tag("CostCenter", "v" * 257),
            f"'kmskit:organisation.tags.CostCenter' must be a tag value of at most 256 "
            f"{TAG_CHARACTERS}. "
            f"Received: '{'v' * 257}'",
        ),
        (
            with_tag("CostCenter", "cc-1234\n"),
            f"'kmskit:organisation.tags.CostCenter' must be a tag value of at most 256 "
            f"{TAG_CHARACTERS}. "
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


def test_an_empty_tag_value_is_taken_as_aws_allows() -> None:
    # EC2 and RDS (and the other services the stacks tag) accept an empty value: the tag's key
    # is what it says (a marker such as "Backup": ""). It goes on the stacks and on the
    # replicators' copies (copy_tags) as it is.
    organisation = load_organisation(
        with_changes(("tags.Marker", ""), ("accounts.workload.tags", {"Environment": ""}))
    )
    workload = organisation.account("workload")
    assert organisation.tags_of(workload)["Marker"] == ""
    assert organisation.tags_of(workload)["Environment"] == ""


# ---------------------------------------------------------------------------- templates
@pytest.mark.parametrize("app", sorted(TAGGED_APPS))
def test_every_taggable_resource_of_every_stack_carries_its_account_s_tags(
    synthesized: Synth, app: str
) -> None:
    example = synthesized(app)
    expected = expected_tags(app)
    wrong: list[str] = []
    untagged_types: set[str] = set()
    for stack_name, template in example.templates.items():
        tags = expected[stack_account(example, stack_name)]
        region = stack_region(example, stack_name)
        for logical_id, resource in template["Resources"].items():
            kind = resource["Type"]
            prop = tag_property(kind, region)
            if prop is None:
                untagged_types.add(kind)
                continue
            found = as_dict(resource.get("Properties", {}).get(prop))
            if found != tags:
                wrong.append(f"{stack_name} {logical_id} ({kind}): {found}")
    assert wrong == []
    # A new type that cannot be tagged shows here, to be named in docs/deploy.md.
    assert untagged_types <= UNTAGGABLE
    if app == "example_org":
        assert untagged_types == UNTAGGABLE


def test_every_tagged_type_takes_its_tags_on_the_create_request(synthesized: Synth) -> None:
    """What a tag-enforcing SCP needs (``aws:RequestTag`` on the create call): CloudFormation
    passes each of these types' template tags when it creates the resource."""
    example = synthesized("example_org")
    not_on_create = sorted(
        {
            resource["Type"]
            for stack_name, template in example.templates.items()
            for resource in template["Resources"].values()
            if tag_property(resource["Type"], stack_region(example, stack_name)) is not None
            and tagging(resource["Type"], stack_region(example, stack_name)).get(
                "tagOnCreate", True
            )
            is not True
        }
    )
    assert not_on_create == []


def test_the_types_that_cannot_be_tagged_are_documented() -> None:
    text = DEPLOY_MD.read_text(encoding="utf-8")
    assert [kind for kind in sorted(UNTAGGABLE) if f"`{kind}`" not in text] == []


@pytest.mark.parametrize("app", sorted(TAGGED_APPS))
def test_every_stack_has_its_account_s_tags_as_stack_tags(synthesized: Synth, app: str) -> None:
    example = synthesized(app)
    expected = expected_tags(app)
    found = stack_tags(example)
    assert found == {name: expected[stack_account(example, name)] for name in example.templates}


@pytest.mark.parametrize("app", sorted(TAGGED_APPS))
def test_cdk_pipelines_deploys_every_stack_with_its_stack_tags(
    synthesized: Synth, app: str
) -> None:
    """Each change set a pipeline creates takes a template configuration holding the stack's
    tags (CloudFormation then tags the stack, as ``cdk deploy`` does)."""
    example = synthesized(app)
    expected = expected_tags(app)
    configured: dict[str, dict[str, Any]] = {}
    pipelines = [name for name in example.templates if name.startswith("Pipeline")]
    actions = [a for name in pipelines for a in deploy_actions(example.template(name))]
    for action in actions:
        if action["ActionMode"] != "CHANGE_SET_REPLACE":
            continue
        artifact, path = action["TemplateConfiguration"].split("::", 1)
        assert artifact == "Synth_Output"
        configured[action["StackName"]] = json.loads((example.outdir / path).read_text())
    stage_stacks = [name for name in example.templates if not name.startswith("Pipeline")]
    assert configured == {
        name: {"Tags": expected[stack_account(example, name)]} for name in stage_stacks
    }


def test_without_tags_nothing_is_tagged(synthesized: Synth) -> None:
    """The small organisation has no tags: no resource, stack or pipeline action gets any (the
    toolkit sets no tags of its own, so all of AWS's 50 are the configuration's)."""
    small = synthesized("small_org")
    tagged = [
        f"{stack_name} {logical_id}"
        for stack_name, template in small.templates.items()
        for logical_id, resource in template["Resources"].items()
        if (prop := tag_property(resource["Type"], stack_region(small, stack_name)))
        and resource.get("Properties", {}).get(prop)
    ]
    assert tagged == []
    assert set(stack_tags(small).values()) == {None}
    configured = deploy_actions(small.template("Pipeline"))
    assert [action for action in configured if "TemplateConfiguration" in action] == []


def _snapshot_configs(template: dict[str, Any]) -> list[dict[str, Any]]:
    """The KMSKIT_SNAPSHOT_CONFIG of each snapshot function of ``template``, deploy-time parts
    (inside its strings) as ``<token>``."""
    configs = []
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        value = resource["Properties"].get("Environment", {}).get("Variables", {})
        value = value.get("KMSKIT_SNAPSHOT_CONFIG")
        if value is None:
            continue
        if not isinstance(value, str):
            value = "".join(p if isinstance(p, str) else "<token>" for p in value["Fn::Join"][1])
        configs.append(json.loads(value))
    return configs


def test_snapshot_copies_get_their_account_s_tags(synthesized: Synth) -> None:
    """Copies are made at run time, out of CloudFormation's reach: each replicator and receiver
    is given its account's tags to put on them (docs/deploy.md, "Tags", "Snapshot copies")."""
    example = synthesized("example_org")
    expected = expected_tags("example_org")
    checked = 0
    for stack_name, template in example.templates.items():
        for config in _snapshot_configs(template):
            assert config["copy_tags"] == expected[stack_account(example, stack_name)], stack_name
            checked += 1
    # Copier and sweeper of the workload account's two replicators and the backup's receiver.
    assert checked == 6


def _copy_room_refusal(config: dict[str, Any]) -> str | None:
    try:
        require_tags_fit_on_snapshot_copies(load_organisation(config))
    except ConstructPropError as error:
        return str(error)
    return None


def test_accounts_with_snapshot_replication_keep_room_for_the_toolkit_s_copy_tags() -> None:
    # The security account replicates nothing: all 50 are its own. The workload account (a
    # replicator) and the backup account (a receiver) put their tags on copies: 39.
    forty_eight = dict(list(FIFTY.items())[:48])  # 50 with the organisation's Owner, CostCenter
    assert _copy_room_refusal(with_changes(("accounts.security.tags", forty_eight))) is None
    thirty_nine = dict(list(FIFTY.items())[:37])  # with the organisation's Owner, CostCenter
    assert _copy_room_refusal(with_changes(("accounts.backup.tags", thirty_nine))) is None
    forty = dict(list(FIFTY.items())[:38])
    assert _copy_room_refusal(with_changes(("accounts.backup.tags", forty))) == (
        "'kmskit:organisation.accounts.backup.tags' must leave account 'backup' at most 39 tags "
        "with the organisation's 2, not 40: its snapshot replication puts them on every copy, "
        "which also carries up to 11 of the toolkit's own tags (AWS allows 50 per snapshot). "
        f"Received: {sorted(forty)}"
    )
    refused = _copy_room_refusal(with_changes(("accounts.workload.tags", forty)))
    assert refused is not None
    assert refused.startswith("'kmskit:organisation.accounts.workload.tags' must leave account")


def test_the_app_refuses_an_account_whose_tags_do_not_fit_on_its_copies() -> None:
    """Before any stack is built: the construct's own refusal would name copy_tags, which the
    configuration does not have."""
    config = with_changes(("accounts.backup.tags", dict(list(FIFTY.items())[:38])))
    with pytest.raises(ConstructPropError) as error:
        add_organisation(cdk.App(), load_organisation(config))
    assert error.value.prop == "kmskit:organisation.accounts.backup.tags"

"""What CloudFormation would do to the stateful resources of a deployed App when the next deploy
brings another App: the two cloud assemblies compared, stack by stack and logical ID by logical
ID, as CloudFormation compares a stack's templates.

A stack is its name in its environment (account and Region): the same name elsewhere is another
stack. CDK Pipelines never deletes a stack, so a stack that is no longer in the App stays
deployed, holding whatever names it holds. Within a stack, a resource whose logical ID goes (or
whose type changes) is deleted (or retained, per its ``DeletionPolicy``), and one whose name or
key shape changes is replaced; a new logical ID is a new resource, created before anything is
deleted, so a fixed name that a resource of the previous App still holds fails ("already
exists")."""

from __future__ import annotations

from typing import Any

from tests._support.synth import SynthResult

# What holds data, or a name other things refer to: a replaced key loses every ciphertext made
# under it, a replaced bucket, queue or log group what it held.
DATA_TYPES = (
    "AWS::KMS::Key",
    "AWS::KMS::ReplicaKey",
    "AWS::KMS::Alias",
    "AWS::S3::Bucket",
    "AWS::CloudTrail::Trail",
    "AWS::Logs::LogGroup",
    "AWS::SQS::Queue",
    "AWS::SNS::Topic",
    "AWS::Events::EventBus",
    "AWS::DynamoDB::Table",
    "AWS::SSM::Parameter",
)
# What a configuration change must not replace or remove unnoticed: the above, and the roles and
# functions that key policies and event rules name.
STATEFUL_TYPES = (*DATA_TYPES, "AWS::IAM::Role", "AWS::Lambda::Function")
# Per type of STATEFUL_TYPES, what CloudFormation cannot change in place: the type's registry
# schema's createOnlyProperties (a new value replaces the resource; test_upgrade_manifest.py
# checks these against cfn-lint's copy of the schemas). AWS::KMS::Key's schema has none, but a
# new KeySpec, KeyUsage, MultiRegion or Origin fails the update "regardless of the value of the
# UpdateReplacePolicy attribute" (the schema's descriptions): listed so that a change shows too.
CREATE_ONLY_PROPERTIES: dict[str, tuple[str, ...]] = {
    "AWS::KMS::Key": ("KeySpec", "KeyUsage", "MultiRegion", "Origin"),
    "AWS::KMS::ReplicaKey": ("PrimaryKeyArn",),
    "AWS::KMS::Alias": ("AliasName",),
    "AWS::S3::Bucket": ("BucketName", "BucketNamePrefix", "BucketNamespace"),
    "AWS::CloudTrail::Trail": ("TrailName",),
    "AWS::Logs::LogGroup": ("LogGroupName",),
    "AWS::SQS::Queue": ("FifoQueue", "QueueName"),
    "AWS::SNS::Topic": ("FifoTopic", "TopicName"),
    "AWS::Events::EventBus": ("Name",),
    "AWS::DynamoDB::Table": ("ImportSourceSpecification", "TableName"),
    "AWS::SSM::Parameter": ("Name",),
    "AWS::IAM::Role": ("Path", "RoleName"),
    "AWS::Lambda::Function": ("FunctionName", "PackageType", "TenancyConfig"),
}
# The property that holds a resource's fixed name, where the toolkit can set one.
NAME_PROPERTIES = {
    "AWS::KMS::Alias": "AliasName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::CloudTrail::Trail": "TrailName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::Events::EventBus": "Name",
    "AWS::IAM::Role": "RoleName",
    "AWS::Lambda::Function": "FunctionName",
}
# Where a name must be unique: S3 bucket names everywhere, IAM names in an account, the others in
# an account and Region.
NAME_SCOPES = {"AWS::S3::Bucket": "global", "AWS::IAM::Role": "account"}


def fixed_name(resource: dict[str, Any]) -> str | None:
    """The literal name the template gives ``resource``, or None (generated or computed)."""
    prop = NAME_PROPERTIES.get(resource["Type"])
    value = resource.get("Properties", {}).get(prop) if prop else None
    return value if isinstance(value, str) else None


def _name_key(environment: str, resource: dict[str, Any]) -> tuple[str, str, str] | None:
    name = fixed_name(resource)
    if name is None:
        return None
    scope = NAME_SCOPES.get(resource["Type"], "region")
    where = {"global": "", "account": environment.split("/")[2], "region": environment}[scope]
    return (resource["Type"], where, name)


def stateful_changes(before: SynthResult, after: SynthResult) -> list[str]:
    """Every stateful resource of ``before`` that deploying ``after`` over it removes, replaces
    or moves, every stack it leaves behind, and every new resource whose fixed name a resource
    of ``before`` still holds, one line each."""
    changes: list[str] = []
    held = {}
    for stack, template in before.templates.items():
        for logical_id, resource in template["Resources"].items():
            key = _name_key(before.environments[stack], resource)
            if key is not None:
                held[key] = f"{stack}/{logical_id}"
    for stack, template in before.templates.items():
        where = before.environments[stack]
        if stack not in after.templates:
            changes.append(f"{stack}: left deployed (no longer in the App)")
            continue
        if after.environments[stack] != where:
            changes.append(f"{stack}: moved from {where} to {after.environments[stack]}")
            continue
        resources = after.templates[stack]["Resources"]
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] not in STATEFUL_TYPES:
                continue
            new = resources.get(logical_id)
            if new is None or new["Type"] != resource["Type"]:
                changes.append(f"{stack}/{logical_id}: removed ({resource['Type']})")
                continue
            changes += [
                f"{stack}/{logical_id}.{name}: replaced"
                for name in CREATE_ONLY_PROPERTIES[resource["Type"]]
                if resource["Properties"].get(name) != new["Properties"].get(name)
            ]
    for stack, template in after.templates.items():
        where = after.environments[stack]
        same_stack = before.environments.get(stack) == where
        for logical_id, resource in template["Resources"].items():
            key = _name_key(where, resource)
            if key is None:
                continue
            old = before.templates[stack]["Resources"].get(logical_id) if same_stack else None
            if old is not None and _name_key(where, old) == key:
                continue  # the same resource, kept
            holder = held.get(key)
            if holder is not None:
                changes.append(
                    f"{stack}/{logical_id}: {resource['Type']} '{key[2]}' is held by {holder}"
                )
    return changes

"""Every IAM policy document of a synthesized App, made concrete and checked by parliament
against AWS's IAM definitions (actions, condition keys, resource types and ARN shapes)."""

from __future__ import annotations

import fnmatch
import importlib
import importlib.resources
import json
import re
import sys
import types
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from tests._support.synth import SynthResult

# Where each resource type keeps its policy documents, and what the document is: "identity"
# (a role's or a policy's), "trust" (who may assume a role: no Resource), "key" (a key policy:
# Resource "*" is the key itself) or "resource" (a bucket, queue, topic or bus policy).
POLICY_PROPERTIES: dict[str, tuple[tuple[str, str], ...]] = {
    "AWS::IAM::Role": (("AssumeRolePolicyDocument", "trust"), ("Policies", "identity")),
    "AWS::IAM::Policy": (("PolicyDocument", "identity"),),
    "AWS::IAM::ManagedPolicy": (("PolicyDocument", "identity"),),
    "AWS::IAM::User": (("Policies", "identity"),),
    "AWS::IAM::Group": (("Policies", "identity"),),
    "AWS::KMS::Key": (("KeyPolicy", "key"),),
    "AWS::KMS::ReplicaKey": (("KeyPolicy", "key"),),
    "AWS::S3::BucketPolicy": (("PolicyDocument", "resource"),),
    "AWS::SQS::QueuePolicy": (("PolicyDocument", "resource"),),
    "AWS::SNS::TopicPolicy": (("PolicyDocument", "resource"),),
    "AWS::SNS::TopicInlinePolicy": (("PolicyDocument", "resource"),),
    # One statement (Statement) or a whole document (Policy).
    "AWS::Events::EventBusPolicy": (("Statement", "resource"), ("Policy", "resource")),
}


def as_list(value: Any) -> list[Any]:
    """A policy element that may be one value or a list of them, as a list."""
    return value if isinstance(value, list) else [value]


def is_everyone(principal: Any) -> bool:
    """True for a Principal of ``"*"`` or ``{"AWS": "*"}`` (anyone, in any account)."""
    if principal == "*":
        return True
    return isinstance(principal, Mapping) and "*" in as_list(principal.get("AWS", []))


@dataclass(frozen=True)
class PolicyDocument:
    """One policy document of a template, as synthesized (CloudFormation intrinsics in it)."""

    logical_id: str
    resource_type: str
    location: str
    """The property holding it: ``KeyPolicy``, ``Policies[0]`` (the ``PolicyDocument`` of a
    role's first inline policy), ``AssumeRolePolicyDocument``..."""
    kind: str
    document: Mapping[str, Any]


def policy_documents(template: Mapping[str, Any]) -> Iterator[PolicyDocument]:
    """Every policy document of ``template``, by :data:`POLICY_PROPERTIES`."""
    for logical_id, resource in template.get("Resources", {}).items():
        properties = resource.get("Properties", {})
        for prop, kind in POLICY_PROPERTIES.get(resource["Type"], ()):
            value = properties.get(prop)
            if value is None:
                continue
            if prop == "Policies":
                for index, policy in enumerate(value):
                    yield PolicyDocument(
                        logical_id,
                        resource["Type"],
                        f"Policies[{index}]",
                        kind,
                        policy["PolicyDocument"],
                    )
                continue
            if prop == "Statement":
                # EventBridge's StatementId stands as the Sid; parliament would refuse its
                # hyphens (IAM's Sid grammar) and read no further.
                statement = {key: item for key, item in value.items() if key != "Sid"}
                value = {"Version": "2012-10-17", "Statement": [statement]}
            yield PolicyDocument(logical_id, resource["Type"], prop, kind, value)


def resources_with_unread_statements(template: Mapping[str, Any]) -> list[str]:
    """Logical IDs of resources whose properties hold a ``Statement`` that
    :func:`policy_documents` does not read: a policy of a new kind, which
    :data:`POLICY_PROPERTIES` must learn."""
    read = {document.logical_id for document in policy_documents(template)}
    return sorted(
        logical_id
        for logical_id, resource in template.get("Resources", {}).items()
        if logical_id not in read and '"Statement"' in json.dumps(resource.get("Properties", {}))
    )


# --------------------------------------------------------------------------------------------
# CloudFormation intrinsics -> concrete values of the shape the service would see.


@dataclass(frozen=True)
class _Shape:
    """How a resource type's Ref and Fn::GetAtt read, as templates over ``{partition}``,
    ``{region}``, ``{account}``, ``{name}`` (``name_property`` or a made-up one), ``{path}`` and
    ``{id}`` / ``{id12}`` (made up, stable)."""

    name_property: str | None
    ref: str
    attributes: Mapping[str, str]


# Each resource type a policy of the Apps under test refers to; the resolver refuses another.
_SHAPES: dict[str, _Shape] = {
    "AWS::S3::Bucket": _Shape("BucketName", "{name}", {"Arn": "arn:{partition}:s3:::{name}"}),
    "AWS::KMS::Key": _Shape(
        None, "{id}", {"Arn": "arn:{partition}:kms:{region}:{account}:key/{id}"}
    ),
    "AWS::KMS::ReplicaKey": _Shape(
        None, "{id}", {"Arn": "arn:{partition}:kms:{region}:{account}:key/{id}"}
    ),
    "AWS::SQS::Queue": _Shape(
        "QueueName",
        "https://sqs.{region}.amazonaws.com/{account}/{name}",
        {"Arn": "arn:{partition}:sqs:{region}:{account}:{name}"},
    ),
    "AWS::SNS::Topic": _Shape("TopicName", "arn:{partition}:sns:{region}:{account}:{name}", {}),
    # A role's ARN carries its path.
    "AWS::IAM::Role": _Shape(
        "RoleName", "{name}", {"Arn": "arn:{partition}:iam::{account}:role{path}{name}"}
    ),
    "AWS::Events::EventBus": _Shape(
        "Name", "{name}", {"Arn": "arn:{partition}:events:{region}:{account}:event-bus/{name}"}
    ),
    "AWS::Events::Rule": _Shape(
        "Name", "{name}", {"Arn": "arn:{partition}:events:{region}:{account}:rule/{name}"}
    ),
    "AWS::Logs::LogGroup": _Shape(
        "LogGroupName",
        "{name}",
        {"Arn": "arn:{partition}:logs:{region}:{account}:log-group:{name}:*"},
    ),
    "AWS::CodeBuild::Project": _Shape(
        "Name", "{name}", {"Arn": "arn:{partition}:codebuild:{region}:{account}:project/{name}"}
    ),
    "AWS::CodePipeline::Pipeline": _Shape("Name", "{name}", {}),
    "AWS::Route53::HostedZone": _Shape(None, "Z{id12}", {}),
}

_PSEUDO_PARAMETERS = {"AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}
_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


class Resolver:
    """Replaces the intrinsics of one stack's template by concrete values: pseudo parameters by
    the stack's account and Region, ``Ref`` and ``Fn::GetAtt`` by a name or ARN of the
    referenced resource's type, ``Fn::GetStackOutput`` by the other stack's output.

    Raises ``KeyError`` on what it cannot resolve faithfully (a resource type or attribute it
    does not know, another intrinsic): a made-up value would hide the finding it changes."""

    def __init__(self, result: SynthResult, stack: str) -> None:
        self.result = result
        self.stack = stack
        self.template = result.template(stack)
        _, _, account_region = result.environments[stack].partition("aws://")
        self.account, _, self.region = account_region.partition("/")

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(item) for item in value if item != {"Ref": "AWS::NoValue"}]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((name, argument),) = value.items()
            if name == "Ref":
                return self.ref(argument)
            if name == "Fn::GetAtt":
                logical_id, attribute = argument
                return self.attribute(logical_id, attribute)
            if name == "Fn::Join":
                separator, parts = argument
                return separator.join(str(self.resolve(part)) for part in parts)
            if name == "Fn::Sub":
                return self.sub(argument)
            if name == "Fn::Select":
                index, items = argument
                return self.resolve(items)[int(self.resolve(index))]
            if name == "Fn::Split":
                separator, text = argument
                return str(self.resolve(text)).split(separator)
            if name == "Fn::GetStackOutput":
                return self.stack_output(argument)
            if name.startswith("Fn::"):
                raise KeyError(f"{self.stack}: cannot resolve {name} in {value}")
        return {key: self.resolve(item) for key, item in value.items()}

    def ref(self, name: str) -> str:
        pseudo = {
            **_PSEUDO_PARAMETERS,
            "AWS::AccountId": self.account,
            "AWS::Region": self.region,
            "AWS::StackName": self.stack,
        }
        if name in pseudo:
            return pseudo[name]
        return self._format(name, self._shape(name).ref)

    def attribute(self, logical_id: str, attribute: str) -> str:
        shape = self._shape(logical_id)
        if attribute not in shape.attributes:
            raise KeyError(f"{self.stack}: no stand-in for {logical_id}.{attribute}")
        return self._format(logical_id, shape.attributes[attribute])

    def sub(self, argument: str | list[Any]) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument

        def replace(match: re.Match[str]) -> str:
            variable = match.group(1)
            if variable in variables:
                return str(self.resolve(variables[variable]))
            if "." in variable and not variable.startswith("AWS::"):
                logical_id, attribute = variable.split(".", 1)
                return self.attribute(logical_id, attribute)
            return self.ref(variable)

        return _SUB_VARIABLE.sub(replace, text)

    def stack_output(self, argument: Mapping[str, str]) -> Any:
        stack = argument["StackName"]
        output = self.result.template(stack)["Outputs"][argument["OutputName"]]["Value"]
        return Resolver(self.result, stack).resolve(output)

    def _shape(self, logical_id: str) -> _Shape:
        resource_type = self.template["Resources"][logical_id]["Type"]
        if resource_type not in _SHAPES:
            raise KeyError(f"{self.stack}: no stand-in for a {resource_type} ({logical_id})")
        return _SHAPES[resource_type]

    def _format(self, logical_id: str, pattern: str) -> str:
        resource = self.template["Resources"][logical_id]
        shape = self._shape(logical_id)
        given = resource.get("Properties", {}).get(shape.name_property or "")
        # A stable made-up ID per resource, as the service would assign one.
        stable = uuid.uuid5(uuid.NAMESPACE_URL, f"{self.stack}/{logical_id}")
        name = self.resolve(given) if given is not None else f"{self.stack}-{logical_id}"
        return pattern.format(
            partition="aws",
            region=self.region,
            account=self.account,
            name=name,
            path=resource.get("Properties", {}).get("Path", "/"),
            id=str(stable),
            id12=stable.hex[:12].upper(),
        )


def concrete_document(document: PolicyDocument, resolver: Resolver) -> dict[str, Any]:
    """``document`` as parliament reads it: intrinsics resolved; a trust policy's statements
    given the role as their Resource, a key policy's Resource "*" read as the key's ARN."""
    concrete: dict[str, Any] = resolver.resolve(dict(document.document))
    statements = concrete["Statement"]
    if isinstance(statements, dict):
        statements = [statements]
    # IAM compares a number given as JSON (s3:TlsVersion 1.2) as it does its text; parliament
    # takes only text.
    concrete["Statement"] = statements = [
        {**statement, "Condition": _numbers_as_text(statement["Condition"])}
        if "Condition" in statement
        else statement
        for statement in statements
    ]
    if document.kind == "trust":
        role_arn = resolver.attribute(document.logical_id, "Arn")
        concrete["Statement"] = [{**statement, "Resource": role_arn} for statement in statements]
    elif document.kind == "key":
        # "*" is this key, and for CreateAlias, UpdateAlias and DeleteAlias the key's half of
        # an action that also takes an alias (the alias's half is an IAM policy's).
        key = [
            resolver.attribute(document.logical_id, "Arn"),
            f"arn:aws:kms:{resolver.region}:{resolver.account}:alias/*",
        ]
        concrete["Statement"] = [
            {**statement, "Resource": key} if statement.get("Resource") == "*" else statement
            for statement in statements
        ]
    return concrete


def _numbers_as_text(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _numbers_as_text(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_numbers_as_text(item) for item in value]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


# --------------------------------------------------------------------------------------------
# parliament


def _parliament() -> types.ModuleType:
    """parliament, imported once. 1.6.4 reads its data files through ``pkg_resources``, which
    setuptools 81 and later no longer ship: it gets a stand-in for that one call."""
    if "parliament" not in sys.modules:
        stand_in = types.ModuleType("pkg_resources")
        stand_in.resource_filename = lambda package, name: str(  # type: ignore[attr-defined]
            importlib.resources.files(package) / name
        )
        had = sys.modules.get("pkg_resources")
        sys.modules["pkg_resources"] = stand_in
        try:
            importlib.import_module("parliament")
        finally:
            if had is None:
                del sys.modules["pkg_resources"]
            else:
                sys.modules["pkg_resources"] = had
    return sys.modules["parliament"]


@dataclass(frozen=True, order=True)
class Finding:
    """One parliament finding about one action, condition key or value of a statement."""

    stack: str
    logical_id: str
    location: str
    sid: str
    issue: str
    subject: str
    """What the finding is about: an action as the statement writes it (``kms:Describe*``),
    ``<action> <condition key>`` or the condition key or operator of a type mismatch."""
    detail: str

    def __str__(self) -> str:
        return (
            f"{self.issue} {self.subject} in {self.stack}/{self.logical_id} {self.location}"
            f" (Sid {self.sid or '-'}): {self.detail}"
        )


_UNKNOWN_CONDITION = re.compile(r"Unknown condition (\S+) for action (\S+)")
_SUBJECT = {
    "MISMATCHED_TYPE": re.compile(r"Type mismatch: (\S+) requires"),
    "MISMATCHED_TYPE_BUT_USABLE": re.compile(r"Type mismatch: (\S+) requires"),
    "UNKNOWN_ACTION": re.compile(r"Unknown action (\S+)"),
    "UNKNOWN_PREFIX": re.compile(r"Unknown prefix (\S+)"),
    "INVALID_SID": re.compile(r"(.+)"),
}


def _as_written(statement: Mapping[str, Any], actions: set[str]) -> list[str]:
    """The actions of ``statement``, as it writes them, that a finding about ``actions`` (as
    parliament expands them) concerns: each one named without a wildcard, and each wildcard
    all of whose actions are among them. IAM ignores the actions of a wildcard that do not
    apply: ``s3:List*`` on a bucket is about s3:ListBucket, not s3:ListAllMyBuckets."""
    parliament = _parliament()
    lowered = {action.lower() for action in actions}
    written = statement.get("Action", statement.get("NotAction", []))
    written = [written] if isinstance(written, str) else written
    concerned = []
    for pattern in written:
        if "*" in pattern or "?" in pattern:
            covered = {
                f"{a['service']}:{a['action']}".lower()
                for a in parliament.expand_action(pattern, raise_exceptions=False)
            }
            if covered and covered <= lowered:
                concerned.append(pattern)
        elif pattern.lower() in lowered:
            concerned.append(pattern)
    return concerned


def _global_key_type(key: str) -> str | None:
    """parliament's type of a global condition key (``aws:SourceArn``), None for another."""
    _parliament()
    type_: str | None = sys.modules["parliament.statement"].get_global_key_type(key)
    return type_


def _statement_findings(
    statement: Mapping[str, Any], findings: list[Any]
) -> set[tuple[str, str, str]]:
    """``(issue, subject, detail)`` of parliament's ``findings`` on one statement."""
    result: set[tuple[str, str, str]] = set()
    mismatched: dict[str, str] = {}
    lacking: dict[str, set[str]] = {}
    starred: set[str] = set()
    for finding in findings:
        if finding.issue == "RESOURCE_MISMATCH":
            mismatched.update((m["action"], m["required_format"]) for m in finding.detail)
        elif finding.issue == "RESOURCE_STAR":
            starred.update(finding.detail)
        elif finding.issue == "UNKNOWN_CONDITION_FOR_ACTION":
            key, action = _UNKNOWN_CONDITION.fullmatch(finding.detail).groups()  # type: ignore[union-attr]
            lacking.setdefault(key, set()).add(action)
        else:
            pattern = _SUBJECT.get(finding.issue)
            text = str(finding.detail or finding.location.get("string"))
            match = pattern.match(text) if pattern else None
            subject = match.group(1) if match else ""
            operator = statement.get("Condition", {}).get(subject)
            if operator is not None:  # an operator of the wrong type: for which service keys
                keys = [k for k in operator if _global_key_type(k) is None]
                subject = " ".join([subject, *sorted(keys)])
            result.add((finding.issue, subject, str(finding.detail)))
    for pattern in _as_written(statement, set(mismatched)):
        needs = sorted(
            {f for a, f in mismatched.items() if fnmatch.fnmatchcase(a.lower(), pattern.lower())}
        )
        result.add(
            (
                "RESOURCE_MISMATCH",
                pattern,
                f"no resource of the statement fits; needs {' or '.join(needs)}",
            )
        )
    for pattern in _as_written(statement, starred):
        result.add(("RESOURCE_STAR", pattern, "Resource * for an action that takes a resource"))
    for key, actions in lacking.items():
        for pattern in _as_written(statement, actions):
            result.add(
                (
                    "UNKNOWN_CONDITION_FOR_ACTION",
                    f"{pattern} {key}",
                    "the action has no such condition key",
                )
            )
    return result


def document_findings(
    document: PolicyDocument, concrete: Mapping[str, Any], stack: str
) -> list[Finding]:
    """parliament's findings on one concrete document."""
    policy = _parliament().analyze_policy_string(json.dumps(concrete), ignore_private_auditors=True)
    # parliament keeps each statement's findings with it, in the document's order (none when
    # the document itself is malformed); the rest (an escalation across statements) is the
    # whole document's.
    located: list[tuple[Mapping[str, Any], list[Any]]] = [({}, policy._findings)]
    located.extend(
        (statement, analysed.findings)
        for statement, analysed in zip(concrete["Statement"], policy.statements, strict=False)
    )
    return sorted(
        Finding(stack, document.logical_id, document.location, statement.get("Sid", ""), *found)
        for statement, findings in located
        for found in _statement_findings(statement, findings)
    )


def parliament_findings(result: SynthResult) -> list[Finding]:
    """Every parliament finding on every policy document of every stack of ``result``."""
    findings: list[Finding] = []
    for stack, template in result.templates.items():
        resolver = Resolver(result, stack)
        for document in policy_documents(template):
            findings.extend(
                document_findings(document, concrete_document(document, resolver), stack)
            )
    return sorted(findings)
